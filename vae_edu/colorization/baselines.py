"""Reference colourizers of the hued-MNIST ambiguity set, which put best-of-k on a scale.

On that set the ink intensity ``t`` is the grey level itself (``grey = t * lightness /
100``, :func:`~vae_edu.colorization.data.hued_mnist`), and every digit's colour field is
``t * h`` for one of ``K`` hues ``h``. :class:`InkTints` paints the ink in fixed tints,
whatever the digit: given the ``K`` true hues it is an oracle (best-of-``K`` error exactly
0); given tints that are not the true hues, it shows what best-of-k rewards with no
understanding of the image at all.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .data import INK_LIGHTNESS
from .lab import L_SCALE

__all__ = ["InkTints", "evenly_spaced_tints"]


class InkTints:
    """Colour the ink of a digit in each of ``M`` fixed tints: ``t * c_m``.

    Args:
        tints: ``(M, 2)`` ab colours in field units (Lab / ``AB_SCALE``, as ``fields.hues``).
        lightness: L of a fully inked pixel (that of :func:`hued_mnist`).

    ``sample(grey, k)`` returns ``(B, k, 2, H, W)``: the tints in turn, ``c_1, ..., c_M,
    c_1, ...``; the generator is accepted and not used (nothing is random).
    """

    def __init__(self, tints: Tensor, *, lightness: float = INK_LIGHTNESS):
        if not torch.is_tensor(tints) or tints.dim() != 2 or tints.shape[1] != 2:
            shape = tuple(tints.shape) if torch.is_tensor(tints) else type(tints).__name__
            raise ValueError(f"InkTints: tints must be (M, 2) ab colours, got {shape}")
        self.tints = tints
        self.lightness = lightness

    def sample(self, grey: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
        """``grey``: ``(B, 1, H, W)`` -> ``(B, k, 2, H, W)``."""
        t = grey * (L_SCALE / self.lightness)                      # (B, 1, H, W) ink in [0, 1]
        order = torch.arange(k, device=self.tints.device) % len(self.tints)
        tints = self.tints[order].to(grey.device, grey.dtype)      # (k, 2)
        return t.unsqueeze(1) * tints[None, :, :, None, None]


def evenly_spaced_tints(m: int, chroma: float, *, start_degrees: float = 0.0) -> Tensor:
    """``(m, 2)`` ab colours of one chroma at hue angles ``start + 360 j / m`` degrees."""
    if m < 1 or chroma < 0:
        raise ValueError(f"evenly_spaced_tints: m >= 1 and chroma >= 0, got {m} and {chroma}")
    angles = torch.deg2rad(start_degrees + 360.0 * torch.arange(m, dtype=torch.float64) / m)
    return (chroma * torch.stack([angles.cos(), angles.sin()], dim=1)).float()
