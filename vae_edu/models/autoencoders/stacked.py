r"""The stacked autoencoder: greedy layer-wise pretraining of :class:`AutoencoderLayer`\ s,
fine-tuning, and :class:`StackedClassifier` with :func:`accuracy` for few-label
classification (lecture 05)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...data import MNISTSplit
from ...device import pick_device
from ...train import History, evaluation_mode, fit, model_device
from .base import AutoencoderBase, AutoencoderLayer, as_rows, check_sizes

# ----------------------------------------------------------------------------- stacked


class StackedAutoencoder(AutoencoderBase):
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
        self.sizes = check_sizes(sizes, type(self).__name__)
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
        return self.head(self.encoder(as_rows(x, self.input_dim, type(self).__name__)))

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
