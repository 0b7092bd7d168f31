"""The plain autoencoders and what every autoencoder of the course shares.

:class:`AutoencoderBase` (``encode``, ``decode``, ``reconstruct``, ``loss``),
:class:`Autoencoder` (an MLP of any sizes) and :func:`deep_autoencoder` (Hinton &
Salakhutdinov's 784-1000-500-250-2), :class:`DenoisingAutoencoder`, and
:class:`AutoencoderLayer` (one layer, the building block of the stacked autoencoder);
the helpers the other families use (:func:`batch_images`, :func:`as_rows`,
:func:`check_sizes`, :func:`mlp`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

from ...corruption import CORRUPTIONS
from ...losses import (
    bernoulli_nll,
    check_same_shape,
)
from ...validation import image_batch

#: The hidden-layer nonlinearities an :class:`Autoencoder` can use, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


# ----------------------------------------------------------------------------- helpers


def batch_images(batch) -> Tensor:
    """The images of a batch: ``batch`` itself, or its first item if it is a tuple/list."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def as_rows(x: Tensor, input_dim: int, who: str) -> Tensor:
    """``(B, 1, 28, 28)`` images or ``(B, 784)`` rows -> ``(B, input_dim)`` rows.

    Raises a ``ValueError`` naming the expected and the actual shape otherwise.
    """
    return image_batch(x, input_dim, who).flatten(1)


def check_sizes(sizes: Sequence[int], who: str) -> tuple[int, ...]:
    """``sizes`` as a tuple of at least two positive ints (input size first)."""
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(
            f"{who}: sizes must be two or more positive ints, the input size first, "
            f"e.g. (784, 256, 32); got {sizes!r}"
        )
    return sizes


def mlp(sizes: Sequence[int], activation: str, *, last_activation: bool) -> nn.Sequential:
    """Linear layers through ``sizes`` with ``activation`` between them.

    ``last_activation=False`` leaves the last ``Linear`` without one (a linear code
    layer, or a decoder that outputs logits).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}"
        )
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(pairwise(sizes)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2 or last_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class AutoencoderBase(nn.Module):
    """What all autoencoders here share: input checks, ``forward``, ``reconstruct``, recon.

    A subclass sets ``self.input_dim`` and ``self.encoder`` / ``self.decoder`` (or
    overrides ``encode(x) -> (B, code_dim)`` and ``decode(code) -> logits (B, input_dim)``);
    ``loss`` is then the reconstruction NLL, extended by subclasses with a penalty.
    """

    input_dim: int = 784

    def _rows(self, x: Tensor) -> Tensor:
        """Images ``(B, 1, 28, 28)`` or rows ``(B, 784)`` -> rows ``(B, 784)``."""
        return as_rows(x, self.input_dim, type(self).__name__)

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, input_dim) -> code (B, code_dim)."""
        return self.encoder(self._rows(x))

    def decode(self, code: Tensor) -> Tensor:
        """code: (B, code_dim) -> logits (B, input_dim); sigmoid gives pixel probabilities."""
        return self.decoder(code)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction NLL in nats per image, averaged over the batch."""
        x = self._rows(batch_images(batch))
        recon = self._recon(self(x), x)
        return {"loss": recon, "recon": recon}

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, 784) -> logits (B, 784)."""
        return self.decode(self.encode(x))

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """Pixel probabilities of the reconstruction: (B, 1, 28, 28) (or (B, input_dim))."""
        probs = torch.sigmoid(self(x))
        return probs.view(-1, 1, 28, 28) if self.input_dim == 784 else probs

    def _recon(self, logits: Tensor, target: Tensor) -> Tensor:
        """Bernoulli NLL of ``target`` (B, D) under ``logits`` (B, D): nats per image."""
        check_same_shape(logits, target, ("logits", "x"), where=f"{type(self).__name__}.loss")
        # The [0, 1] range check costs a device sync per batch on a GPU: check on the CPU.
        return bernoulli_nll(logits, target, validate=target.device.type == "cpu").mean()


# ----------------------------------------------------------------------------- plain


class Autoencoder(AutoencoderBase):
    """An MLP autoencoder: encoder through ``sizes``, decoder through ``sizes`` reversed.

    ``Autoencoder((784, 256, 32))`` is 784 -> 256 -> 32 -> 256 -> 784.  The code layer is
    LINEAR (no activation after the encoder's last ``Linear``), as in Hinton &
    Salakhutdinov (2006); the decoder outputs logits.  Loss parts: ``{"loss", "recon"}``.

    Args:
        sizes: layer widths, input first, code size last.
        activation: nonlinearity of the hidden layers, a key of :data:`ACTIVATIONS`.
    """

    def __init__(self, sizes: Sequence[int] = (784, 256, 32), activation: str = "relu"):
        super().__init__()
        self.sizes = check_sizes(sizes, type(self).__name__)
        self.input_dim, self.code_dim = self.sizes[0], self.sizes[-1]
        self.encoder = mlp(self.sizes, activation, last_activation=False)  # linear code
        self.decoder = mlp(self.sizes[::-1], activation, last_activation=False)  # logits


def deep_autoencoder(code_dim: int = 2, activation: str = "relu") -> Autoencoder:
    """The deep autoencoder of Hinton & Salakhutdinov (2006): 784-1000-500-250-code_dim.

    ``code_dim=2`` gives their 2-D codes of MNIST (compare with 2-D PCA), ``code_dim=30``
    their 30-D codes.  They used logistic hidden units and RBM pretraining; with ReLU and
    Adam the network trains from a random start, but after lecture 01's budget (5 passes)
    its 2-D codes separate the digits less cleanly than their pretrained network's Fig. 3B.
    """
    return Autoencoder((784, 1000, 500, 250, code_dim), activation=activation)


# ----------------------------------------------------------------------------- denoising


class DenoisingAutoencoder(Autoencoder):
    """An :class:`Autoencoder` that reconstructs CLEAN images from corrupted ones.

    Vincent et al. (2008): the loss encodes a corrupted copy ``x_tilde = corrupt(x)`` and
    compares the reconstruction with the clean ``x``.  The corruption is drawn afresh in
    every call of ``loss`` (also in :func:`~vae_edu.train.evaluate`, which then reports the
    denoising loss); ``reconstruct(x)`` does not corrupt.  Loss parts: ``{"loss", "recon"}``.

    Args:
        sizes, activation: as for :class:`Autoencoder`.
        corruption: ``"gaussian"``, ``"masking"`` or ``"salt_and_pepper"`` (see
            :mod:`vae_edu.corruption`), or a function ``x -> x_tilde``.
        **corruption_kwargs: passed to the corruption, e.g. ``std=0.5`` or
            ``fraction=0.3``.
    """

    def __init__(
        self,
        sizes: Sequence[int] = (784, 256, 32),
        activation: str = "relu",
        corruption: str | Callable[..., Tensor] = "gaussian",
        **corruption_kwargs,
    ):
        super().__init__(sizes, activation)
        if isinstance(corruption, str):
            if corruption not in CORRUPTIONS:
                raise ValueError(
                    f"unknown corruption {corruption!r}; choose one of "
                    f"{', '.join(CORRUPTIONS)}, or pass a function x -> x_tilde"
                )
            self.corruption_fn = CORRUPTIONS[corruption]
            # a bad fraction or std fails here rather than in the first training step
            # (with a throwaway generator, so that the global random state is untouched)
            trial = {**corruption_kwargs, "generator": torch.Generator()}
            self.corruption_fn(torch.zeros(1, 1), **trial)
        elif callable(corruption):
            self.corruption_fn = corruption
        else:
            raise TypeError(f"corruption must be a name or a function, got {corruption!r}")
        self.corruption_kwargs = dict(corruption_kwargs)

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """A corrupted copy of ``x`` (same shape); ``x`` itself is not modified."""
        kwargs = dict(self.corruption_kwargs)
        if generator is not None:
            kwargs["generator"] = generator
        return self.corruption_fn(x, **kwargs)

    def loss(self, batch) -> dict[str, Tensor]:
        """NLL of the CLEAN images given the corrupted ones, nats per image."""
        x = self._rows(batch_images(batch))
        logits = self(self.corrupt(x))  # the encoder sees the corrupted copy...
        recon = self._recon(logits, x)  # ...and is scored against the clean image
        return {"loss": recon, "recon": recon}


# ----------------------------------------------------------------------------- one layer


class AutoencoderLayer(AutoencoderBase):
    """One layer of a :class:`StackedAutoencoder`: ``d_in -> sigmoid code d_out -> d_in``.

    Its inputs are pixels or the sigmoid codes of the layer below, both in [0, 1], so the
    Bernoulli NLL (binary cross-entropy) is its reconstruction loss.
    """

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.input_dim, self.code_dim = d_in, d_out
        self.encoder = nn.Sequential(nn.Linear(d_in, d_out), nn.Sigmoid())
        self.decoder = nn.Linear(d_out, d_in)  # logits of the input


