"""The deterministic autoencoders of the course, from the plain MLP to the stacked one.

Every model takes images ``x: (B, 1, 28, 28)`` (or rows ``(B, 784)``) with values in
[0, 1] and has

* ``encode(x) -> (B, code_dim)``: the code (the hidden representation);
* ``decode(code) -> (B, 784)``: LOGITS of the pixels (no sigmoid at the end);
* ``reconstruct(x) -> (B, 1, 28, 28)``: pixel probabilities ``sigmoid(decode(encode(x)))``,
  without gradients, for plots;
* ``loss(batch) -> {"loss": ..., "recon": ..., <penalty>: ...}`` for
  :func:`vae_edu.train.fit`: ``batch`` is ``x`` or a tuple ``(x, labels)``; every entry is
  a scalar, per image averaged over the batch.  ``"recon"`` is the Bernoulli NLL
  (binary cross-entropy summed over the 784 pixels) in nats; ``"loss"`` is what is
  minimised: ``recon + weight * penalty``.

The models: :class:`Autoencoder` (and :func:`deep_autoencoder`),
:class:`DenoisingAutoencoder`, :class:`SparseAutoencoder`,
:class:`ContractiveAutoencoder`, :class:`StackedAutoencoder` (with
:class:`StackedClassifier` for fine-tuning on a few labels).
"""

from .base import (
    ACTIVATIONS,
    Autoencoder,
    AutoencoderBase,
    AutoencoderLayer,
    DenoisingAutoencoder,
    deep_autoencoder,
)
from .regularised import ContractiveAutoencoder, SparseAutoencoder
from .stacked import StackedAutoencoder, StackedClassifier, accuracy

__all__ = [
    "ACTIVATIONS",
    "Autoencoder",
    "AutoencoderBase",
    "AutoencoderLayer",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "StackedClassifier",
    "accuracy",
    "deep_autoencoder",
]
