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

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from itertools import pairwise
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..corruption import CORRUPTIONS
from ..data import MNISTSplit
from ..device import pick_device
from ..losses import (
    bernoulli_nll,
    check_same_shape,
    contractive_penalty_sigmoid,
    l1_activity_penalty,
    sparse_kl_penalty,
)
from ..train import History, evaluation_mode, fit, model_device
from ..validation import image_batch, nonnegative_float, unit_interval

__all__ = [
    "ACTIVATIONS",
    "Autoencoder",
    "AutoencoderLayer",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "SparseAutoencoder",
    "StackedAutoencoder",
    "StackedClassifier",
    "accuracy",
    "deep_autoencoder",
]

#: The hidden-layer nonlinearities an :class:`Autoencoder` can use, by name.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


# ----------------------------------------------------------------------------- helpers


def _images(batch) -> Tensor:
    """The images of a batch: ``batch`` itself, or its first item if it is a tuple/list."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _as_rows(x: Tensor, input_dim: int, who: str) -> Tensor:
    """``(B, 1, 28, 28)`` images or ``(B, 784)`` rows -> ``(B, input_dim)`` rows.

    Raises a ``ValueError`` naming the expected and the actual shape otherwise.
    """
    return image_batch(x, input_dim, who).flatten(1)


def _check_sizes(sizes: Sequence[int], who: str) -> tuple[int, ...]:
    """``sizes`` as a tuple of at least two positive ints (input size first)."""
    sizes = tuple(sizes)
    if len(sizes) < 2 or not all(isinstance(s, int) and s > 0 for s in sizes):
        raise ValueError(
            f"{who}: sizes must be two or more positive ints, the input size first, "
            f"e.g. (784, 256, 32); got {sizes!r}"
        )
    return sizes


def _mlp(sizes: Sequence[int], activation: str, *, last_activation: bool) -> nn.Sequential:
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


class _AutoencoderBase(nn.Module):
    """What all autoencoders here share: input checks, ``forward``, ``reconstruct``, recon.

    A subclass sets ``self.input_dim`` and ``self.encoder`` / ``self.decoder`` (or
    overrides ``encode(x) -> (B, code_dim)`` and ``decode(code) -> logits (B, input_dim)``);
    ``loss`` is then the reconstruction NLL, extended by subclasses with a penalty.
    """

    input_dim: int = 784

    def _rows(self, x: Tensor) -> Tensor:
        """Images ``(B, 1, 28, 28)`` or rows ``(B, 784)`` -> rows ``(B, 784)``."""
        return _as_rows(x, self.input_dim, type(self).__name__)

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, input_dim) -> code (B, code_dim)."""
        return self.encoder(self._rows(x))

    def decode(self, code: Tensor) -> Tensor:
        """code: (B, code_dim) -> logits (B, input_dim); sigmoid gives pixel probabilities."""
        return self.decoder(code)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction NLL in nats per image, averaged over the batch."""
        x = self._rows(_images(batch))
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


class Autoencoder(_AutoencoderBase):
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
        self.sizes = _check_sizes(sizes, type(self).__name__)
        self.input_dim, self.code_dim = self.sizes[0], self.sizes[-1]
        self.encoder = _mlp(self.sizes, activation, last_activation=False)  # linear code
        self.decoder = _mlp(self.sizes[::-1], activation, last_activation=False)  # logits


def deep_autoencoder(code_dim: int = 2, activation: str = "relu") -> Autoencoder:
    """The deep autoencoder of Hinton & Salakhutdinov (2006): 784-1000-500-250-code_dim.

    ``code_dim=2`` gives their 2-D codes of MNIST (compare with 2-D PCA), ``code_dim=30``
    their 30-D codes.  They used logistic hidden units and RBM pretraining; with ReLU and
    Adam the network trains well from a random start.
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
        x = self._rows(_images(batch))
        logits = self(self.corrupt(x))  # the encoder sees the corrupted copy...
        recon = self._recon(logits, x)  # ...and is scored against the clean image
        return {"loss": recon, "recon": recon}


# ----------------------------------------------------------------------------- sparse


class SparseAutoencoder(_AutoencoderBase):
    """An autoencoder with sigmoid hidden units that are pushed to be mostly off.

    ``loss = recon + weight * sparsity`` where, with ``h`` the code activations (B, H):

    * ``penalty="kl"``: ``sum_j KL(rho || rho_hat_j)`` with ``rho_hat_j`` the mean
      activation of unit ``j`` over the batch (Ng's lecture notes); zero when every unit
      is on a fraction ``rho`` of the time;
    * ``penalty="l1"``: ``mean_b sum_j |h_bj|`` (``rho`` is not used).

    Loss parts: ``{"loss", "recon", "sparsity"}`` (the sparsity unweighted, in nats for
    ``"kl"``).

    Args:
        sizes: layer widths, input first; every hidden layer (the code included) is
            sigmoid, the decoder mirrors the encoder and outputs logits.
        penalty: ``"kl"`` or ``"l1"``.
        rho: target mean activation for ``"kl"``, in (0, 1).
        weight: multiplies the penalty; ``None`` takes :attr:`DEFAULT_WEIGHT` of the penalty.
    """

    DEFAULT_WEIGHT = {"kl": 3.0, "l1": 0.5}

    def __init__(
        self,
        sizes: Sequence[int] = (784, 200),
        penalty: str = "kl",
        rho: float = 0.05,
        weight: float | None = None,
    ):
        super().__init__()
        if penalty not in self.DEFAULT_WEIGHT:
            raise ValueError(f"penalty must be 'kl' or 'l1', got {penalty!r}")
        if penalty == "kl":
            what = f"{type(self).__name__}: rho, the target mean activation,"
            unit_interval(rho, what, open_low=True, open_high=True)
        self.sizes = _check_sizes(sizes, type(self).__name__)
        self.input_dim, self.code_dim = self.sizes[0], self.sizes[-1]
        self.penalty, self.rho = penalty, rho
        self.weight = self.DEFAULT_WEIGHT[penalty] if weight is None else weight
        self.encoder = _mlp(self.sizes, "sigmoid", last_activation=True)  # codes in (0, 1)
        self.decoder = _mlp(self.sizes[::-1], "sigmoid", last_activation=False)  # logits

    @torch.no_grad()
    def hidden(self, x: Tensor) -> Tensor:
        """The code activations (B, H), without gradients: histogram them."""
        return self.encode(x)

    def sparsity(self, h: Tensor) -> Tensor:
        """The (unweighted) penalty of activations ``h`` (B, H): a scalar."""
        if self.penalty == "kl":
            return sparse_kl_penalty(h, self.rho)  # rho_hat = mean over the batch
        return l1_activity_penalty(h)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction NLL plus ``weight`` times the sparsity penalty, per image."""
        x = self._rows(_images(batch))
        h = self.encode(x)
        recon = self._recon(self.decode(h), x)
        sparsity = self.sparsity(h)
        return {"loss": recon + self.weight * sparsity, "recon": recon, "sparsity": sparsity}


# ----------------------------------------------------------------------------- contractive


class ContractiveAutoencoder(_AutoencoderBase):
    """Contractive autoencoder (Rifai et al., 2011): a small encoder Jacobian is rewarded.

    Shapes, with ``D = input_dim`` pixels and ``H = hidden`` units:

    * input ``x``: images ``(B, 1, 28, 28)`` or rows ``(B, D)``, values in [0, 1];
    * encoder ``h = sigmoid(W x + b)``: ``self.encoder = Sequential(Linear(D, H),
      Sigmoid())``, ``W = encoder[0].weight`` of shape ``(H, D)``, ``b`` of shape ``(H,)``;
      ``encode(x)`` is ``h`` of shape ``(B, H)``;
    * decoder: logits ``decode(h) = h W_dec^T + c`` of shape ``(B, D)``, with
      ``W_dec = decoder.weight`` of shape ``(D, H)`` and ``c = decoder.bias`` of shape
      ``(D,)``.

    ``tied=False`` (the default): the decoder is ``Linear(H, D)`` with a weight of its own
    (parameters ``encoder.0.weight``, ``encoder.0.bias``, ``decoder.weight``,
    ``decoder.bias``).  ``tied=True``: the decoder reuses the encoder's weight,
    ``W_dec = W^T`` as in Rifai et al.'s CAE; ``decoder.weight`` is then a transposed VIEW
    of ``W`` (same storage, so the gradients of both uses add up in ``W.grad``) and the
    decoder's only parameter is ``decoder.bias`` (parameters ``encoder.0.weight``,
    ``encoder.0.bias``, ``decoder.bias``).  Tying closes a loophole of the untied model:
    it can lower the penalty by shrinking ``W`` alone, its decoder keeping a large weight
    that amplifies the smaller code changes; tied, one matrix has to do both jobs.

    The penalty is the squared Frobenius norm of the Jacobian ``dh/dx`` ``(H, D)``, which
    for one sigmoid layer is ``sum_j (h_j (1 - h_j))**2 * sum_i W_ji**2``; it depends on
    the encoder only, tied or not.  ``loss = recon + lam * contractive``.
    Loss parts: ``{"loss", "recon", "contractive"}``.

    Args:
        hidden: number of hidden units H.
        lam: weight of the penalty (lambda); ``0`` gives a plain sigmoid autoencoder.
        input_dim: number of pixels D.
        tied: share the encoder's weight with the decoder (``W_dec = W^T``).
    """

    class TiedDecoder(nn.Module):
        """``h (B, H) -> logits h W + c (B, D)``: the weight is the encoder's ``W (H, D)``.

        ``weight`` is ``W.T`` (shape ``(D, H)``, a view, like ``Linear(H, D).weight``), not
        a parameter of this module: only ``bias`` ``(D,)`` is.  It is initialised as
        ``Linear(H, D)`` initialises its bias.
        """

        def __init__(self, source: nn.Linear):
            super().__init__()
            self._source = (source,)  # a tuple: not a submodule, so W is stored once
            hidden, input_dim = source.out_features, source.in_features
            bound = 1.0 / hidden**0.5
            self.bias = nn.Parameter(torch.empty(input_dim).uniform_(-bound, bound))

        def extra_repr(self) -> str:
            source = self._source[0]
            return (f"in_features={source.out_features}, out_features={source.in_features}, "
                    "weight=encoder's weight transposed")

        @property
        def weight(self) -> Tensor:
            """The encoder's weight transposed: ``(D, H)``, sharing its storage."""
            return self._source[0].weight.t()

        def forward(self, code: Tensor) -> Tensor:
            """code (B, H) -> logits (B, D)."""
            return F.linear(code, self.weight, self.bias)

    def __init__(
        self, hidden: int = 200, lam: float = 1.0, input_dim: int = 784, tied: bool = False
    ):
        super().__init__()
        nonnegative_float(lam, f"{type(self).__name__}: lam, the weight of the penalty,")
        if not isinstance(tied, bool):
            raise TypeError(f"{type(self).__name__}: tied must be True or False, got {tied!r}")
        self.input_dim, self.code_dim, self.lam, self.tied = input_dim, hidden, lam, tied
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.Sigmoid())
        if tied:
            self.decoder = self.TiedDecoder(self.encoder[0])
        else:
            self.decoder = nn.Linear(hidden, input_dim)

    @torch.no_grad()
    def jacobian_norm(self, x: Tensor) -> Tensor:
        """Per-image squared Frobenius norm ``||dh/dx||_F**2`` of the encoder: shape (B,)."""
        h = self.encode(x)  # (B, H)
        row_norms_sq = (self.encoder[0].weight ** 2).sum(dim=1)  # (H,)
        return ((h * (1 - h)) ** 2 * row_norms_sq).sum(dim=1)

    def loss(self, batch) -> dict[str, Tensor]:
        """Reconstruction cross-entropy plus ``lam`` times the mean ``||J||_F**2``, per image.

        ``recon`` is the binary cross-entropy in nats (a Bernoulli NLL only on binary
        images; on grey levels it is at least :func:`~vae_edu.losses.bernoulli_nll_floor`).
        """
        x = self._rows(_images(batch))
        h = self.encode(x)
        recon = self._recon(self.decode(h), x)
        # the Jacobian is the encoder's: W alone, whether or not the decoder shares it
        contractive = contractive_penalty_sigmoid(h, self.encoder[0].weight)
        return {"loss": recon + self.lam * contractive, "recon": recon, "contractive": contractive}


# ----------------------------------------------------------------------------- stacked


class AutoencoderLayer(_AutoencoderBase):
    """One layer of a :class:`StackedAutoencoder`: ``d_in -> sigmoid code d_out -> d_in``.

    Its inputs are pixels or the sigmoid codes of the layer below, both in [0, 1], so the
    Bernoulli NLL (binary cross-entropy) is its reconstruction loss.
    """

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.input_dim, self.code_dim = d_in, d_out
        self.encoder = nn.Sequential(nn.Linear(d_in, d_out), nn.Sigmoid())
        self.decoder = nn.Linear(d_out, d_in)  # logits of the input


class StackedAutoencoder(_AutoencoderBase):
    """A stack of one-hidden-layer autoencoders, trained greedily layer by layer.

    ``StackedAutoencoder((784, 500, 200, 50))`` holds three :class:`AutoencoderLayer`:
    784-500, 500-200 and 200-50, all with sigmoid codes.  :meth:`pretrain` trains them one
    at a time (Bengio et al., 2007); ``encode`` runs the whole stack, ``decode`` unrolls it
    back to pixel logits, and ``loss`` is the reconstruction NLL of the unrolled deep
    autoencoder (to fine-tune it end to end with ``fit``).  :meth:`classifier` puts a
    linear softmax layer on top of (a copy of) the encoder.
    """

    def __init__(self, sizes: Sequence[int] = (784, 500, 200, 50)):
        super().__init__()
        self.sizes = _check_sizes(sizes, type(self).__name__)
        self.input_dim, self.code_dim = self.sizes[0], self.sizes[-1]
        self.layers = nn.ModuleList(AutoencoderLayer(a, b) for a, b in pairwise(self.sizes))

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, 784) -> top code (B, sizes[-1]) in (0, 1)."""
        h = self._rows(x)
        for layer in self.layers:
            h = layer.encoder(h)
        return h

    def decode(self, code: Tensor) -> Tensor:
        """Top code (B, sizes[-1]) -> pixel logits (B, 784), through every decoder."""
        for layer in reversed(self.layers[1:]):
            code = torch.sigmoid(layer.decoder(code))  # the code of the layer below
        return self.layers[0].decoder(code)

    def pretrain(
        self,
        train: MNISTSplit | Tensor,
        epochs_per_layer: int = 1,
        test: MNISTSplit | Tensor | None = None,
        **fit_kwargs,
    ) -> list[History]:
        """Greedy layer-wise pretraining; returns one :class:`History` per layer.

        Layer ``k`` is trained alone with :func:`~vae_edu.train.fit`, as an autoencoder of
        the codes that the (already trained, now fixed) layers ``0..k-1`` give for the
        training images.  The codes are computed once per layer without gradients.

        Args:
            train: the training images (an ``MNISTSplit`` or a tensor ``(N, 1, 28, 28)``).
            epochs_per_layer: epochs of ``fit`` for each layer.
            test: optional test images; each layer's history then has test losses.
            **fit_kwargs: passed to ``fit`` (``lr``, ``batch_size``, ``seed``,
                ``device``, ``progress``, ``verbose``, ...).  A ``checkpoint`` path
                ``run.pt`` becomes one file per layer: ``run-layer0.pt``, ...; so does a
                ``cache`` name: ``"05-stack"`` caches ``"05-stack/layer0"``, ...
        """
        device = pick_device(fit_kwargs.get("device"))
        checkpoint = fit_kwargs.pop("checkpoint", None)
        cache = fit_kwargs.pop("cache", None)
        self.to(device)

        def pixels(split):
            images = split.images if isinstance(split, MNISTSplit) else split
            return self._rows(images.to(device))

        inputs = pixels(train)
        test_inputs = pixels(test) if test is not None else None
        histories = []
        for k, layer in enumerate(self.layers):
            if checkpoint is not None:
                path = Path(checkpoint)
                fit_kwargs["checkpoint"] = path.with_name(f"{path.stem}-layer{k}{path.suffix}")
            if cache is not None:
                fit_kwargs["cache"] = f"{cache}/layer{k}"
            histories.append(fit(layer, inputs, test_inputs, epochs=epochs_per_layer, **fit_kwargs))
            if k < len(self.layers) - 1:
                with torch.no_grad():  # the inputs of the next layer: fixed codes
                    inputs = layer.encoder(inputs)
                    if test_inputs is not None:
                        test_inputs = layer.encoder(test_inputs)
        return histories

    def classifier(self, num_classes: int = 10) -> StackedClassifier:
        """A classifier: a COPY of this encoder plus a new linear softmax layer.

        Fine-tuning the classifier with ``fit(clf, labelled_split, ...)`` changes the copy
        only, so several classifiers can start from the same pretrained stack.
        """
        encoder = nn.Sequential(*(copy.deepcopy(layer.encoder) for layer in self.layers))
        clf = StackedClassifier(encoder, self.code_dim, num_classes, input_dim=self.input_dim)
        return clf.to(next(self.parameters()).device)


class StackedClassifier(nn.Module):
    """An encoder ``(B, 784) -> (B, code_dim)`` followed by a linear layer to class logits.

    ``loss((x, labels))`` is the cross-entropy in nats, averaged over the batch; its
    parts are ``{"loss", "accuracy"}`` (accuracy as a fraction in [0, 1]).
    """

    def __init__(self, encoder: nn.Module, code_dim: int, num_classes: int = 10, input_dim=784):
        super().__init__()
        self.input_dim = input_dim
        self.encoder = encoder
        self.head = nn.Linear(code_dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 1, 28, 28) or (B, 784) -> class logits (B, num_classes)."""
        return self.head(self.encoder(_as_rows(x, self.input_dim, type(self).__name__)))

    def loss(self, batch) -> dict[str, Tensor]:
        """Cross-entropy of the labels ``batch[1]`` and the accuracy on this batch."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError(
                "StackedClassifier.loss needs a batch (x, labels), e.g. from an MNISTSplit; "
                "got images without labels"
            )
        x, labels = batch[0], batch[1]
        logits = self(x)
        cross_entropy = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return {"loss": cross_entropy, "accuracy": accuracy}

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        """The predicted class of each image: (B,) int64."""
        return self(x).argmax(dim=1)


def accuracy(model: nn.Module, split: MNISTSplit, batch_size: int = 1000) -> float:
    """Fraction of the images of ``split`` that ``model.predict`` classifies correctly."""
    device = model_device(model)
    correct = 0
    with evaluation_mode(model):
        for x, labels in split.batches(batch_size, shuffle=False):
            correct += (model.predict(x.to(device)) == labels.to(device)).sum().item()
    return correct / len(split)
