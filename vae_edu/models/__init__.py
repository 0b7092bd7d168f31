"""The models of the course, one module per family.

Every model takes images ``x: (B, 1, 28, 28)`` in [0, 1] (or a batch tuple ``(x, y)``)
and defines ``loss(batch) -> {"loss": ..., <named parts>}``: per-image values averaged
over the batch, in nats where they are log-likelihoods, ready for
:func:`vae_edu.train.fit`.

* ``autoencoders``: plain, deep (Hinton & Salakhutdinov) and denoising (``base``),
  sparse and contractive (``regularised``), and stacked autoencoders (``stacked``);
* ``vae``: the MLP VAE (Bernoulli or Gaussian decoder, beta) and ``BaseVAE``, the
  interface all VAEs share (encode, decode, log_likelihood, log_weights, sample);
* ``conv_vae``: the convolutional VAE, and a fully convolutional one (latent feature map);
* ``cvae``: conditional VAEs, p(x|z,y) and q(z|x,y), MLP and convolutional;
* ``condition``: what a model that takes a condition y provides, :func:`is_conditional`
  and :func:`prepare_condition` (the one check of a y for any model);
* ``linear_gaussian``: a linear-Gaussian VAE whose log p(x) and posterior are exact.
"""

from .autoencoders import (
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedClassifier,
    deep_autoencoder,
)
from .condition import is_conditional, prepare_condition
from .conv_vae import ConvVAE, FullyConvVAE
from .cvae import CVAE, ConditionalVAE, ConvCVAE, interpolate_attributes
from .linear_gaussian import LinearGaussianVAE
from .vae import VAE, BaseVAE

__all__ = [
    "VAE",
    "BaseVAE",
    "ConvVAE",
    "FullyConvVAE",
    "CVAE",
    "ConvCVAE",
    "ConditionalVAE",
    "interpolate_attributes",
    "is_conditional",
    "prepare_condition",
    "LinearGaussianVAE",
    "Autoencoder",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "StackedClassifier",
    "deep_autoencoder",
]
