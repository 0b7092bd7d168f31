"""Diverse image colorization (lecture 09): P(colour field | grey image).

Deshpande et al., "Learning Diverse Image Colorization", CVPR 2017.
"""

from .losses import gradient_loss, image_gradients

__all__ = ["gradient_loss", "image_gradients"]
