"""Measuring trained models: the ELBO, the IWAE bound, reconstruction error, codes, images.

Data may be given as an :class:`~vae_edu.data.MNISTSplit`, a tensor of images
``(N, 1, 28, 28)`` in [0, 1], or a pair ``(images, labels)``.  Conditional models
(:func:`vae_edu.models.is_conditional`) use the labels; other models ignore them.

All log-likelihoods are in nats per image (summed over the 784 pixels).  Every function
runs without gradients and with the model in eval mode, and puts the mode back.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .data import MNISTSplit
from .models.condition import is_conditional
from .train import evaluation_mode, model_device
from .validation import positive_int

__all__ = [
    "code_accuracy",
    "encode_split",
    "iwae_nll",
    "iwae_nll_images",
    "iwae_nll_split",
    "latent_traversal",
    "manifold_grid",
    "negative_elbo",
    "pca_reconstruction_sq_error",
    "reconstruction_sq_error",
    "sample_grid",
]

#: iwae_nll's default chunk keeps about this many decoder outputs (floats) per chunk.
CHUNK_FLOATS = 2**24


# ----------------------------------------------------------------------------- helpers


def _batches(model, data, batch_size: int) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield ``(x, y)`` batches on the model's device; y is None unless the model is
    conditional."""
    if isinstance(data, MNISTSplit):
        images, labels = data.images, data.labels
    elif torch.is_tensor(data):
        images, labels = data, None
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        images, labels = data
    else:
        raise TypeError(
            "expected an MNISTSplit, a tensor of images or a pair (images, labels), "
            f"got {type(data).__name__}"
        )
    batch_size = positive_int(batch_size, "batch_size")
    if len(images) == 0:
        raise ValueError("the data is empty")
    conditional = is_conditional(model)
    if conditional and labels is None:
        raise TypeError(
            f"{type(model).__name__} is conditional: pass an MNISTSplit or (images, labels), "
            "not images alone"
        )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    device = model_device(model) or images.device
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        y = labels[start : start + batch_size].to(device) if conditional else None
        yield x, y


def _numpy(a) -> np.ndarray:
    if torch.is_tensor(a):
        return a.detach().cpu().numpy()
    return np.asarray(a)


# ----------------------------------------------------------------------------- ELBO, IWAE


def negative_elbo(
    model,
    data,
    *,
    n_samples: int = 1,
    batch_size: int = 500,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """The negative ELBO, averaged over ``data``, with z SAMPLED from q(z|x).

    ``recon = -log p(x|z)`` averaged over ``n_samples`` draws of z per image,
    ``kl = KL(q(z|x) || p(z))`` in closed form, ``loss = recon + kl``: always beta = 1,
    whatever ``model.beta`` is (a beta-VAE's training loss is not the ELBO).

    Args:
        model: a :class:`~vae_edu.models.vae.BaseVAE`.
        data: MNISTSplit, images, or (images, labels) (a CVAE uses the labels).
        n_samples: draws of z per image (more draws, less Monte Carlo noise).
        batch_size: images per forward pass.
        generator: optional ``torch.Generator`` on the model's device, for repeatable draws.

    Returns:
        ``{"loss", "recon", "kl"}`` in nats per image.
    """
    sums, count = torch.zeros(2, dtype=torch.float64), 0
    with evaluation_mode(model):
        for x, y in _batches(model, data, batch_size):
            recon, kl = model.elbo_terms(x, y, n_samples=n_samples, generator=generator)
            sums += torch.stack([recon.sum(), kl.sum()]).double().cpu()
            count += len(x)
    recon, kl = (sums / count).tolist()
    return {"loss": recon + kl, "recon": recon, "kl": kl}


def iwae_nll(
    model,
    x: Tensor,
    y=None,
    *,
    k: int = 5000,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``-IWAE_k``: an estimate (an upper bound in expectation) of ``-log p(x)`` per image.

    ``IWAE_k = log (1/k) sum_i w_i`` with ``log w_i = log p(x, z_i) - log q(z_i|x)`` and
    ``z_i ~ q(z|x)`` (Burda et al. 2016); ``k = 5000`` is the usual test-set estimate.
    The k samples are drawn in chunks and combined with a running logsumexp, so memory
    is about ``chunk * B * 784`` floats, whatever ``k`` is.

    Args:
        model: a :class:`~vae_edu.models.vae.BaseVAE`.
        x: images ``(B, 1, 28, 28)`` in [0, 1]; y: labels for a conditional model.
        k: number of importance samples per image.
        chunk: samples per chunk; default: as many as keep one chunk's decoder output
            below ``CHUNK_FLOATS`` (16M) floats.
        generator: optional ``torch.Generator`` for repeatable draws.

    Returns:
        ``(B,)`` in nats.
    """
    k = positive_int(k, "iwae_nll: k")
    device = model_device(model) or x.device
    x = x.to(device)
    if chunk is None:
        chunk = max(1, CHUNK_FLOATS // max(1, x.numel()))
    chunk = positive_int(chunk, "iwae_nll: chunk")
    log_sum = None  # log sum_i w_i over the chunks so far, (B,)
    with evaluation_mode(model):
        for start in range(0, k, chunk):
            lw = model.log_weights(x, y, k=min(chunk, k - start), generator=generator)  # (m, B)
            part = torch.logsumexp(lw, dim=0)
            log_sum = part if log_sum is None else torch.logaddexp(log_sum, part)
    return -(log_sum - math.log(k))


def iwae_nll_images(
    model,
    data,
    k: int = 5000,
    batch_size: int = 100,
    *,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """:func:`iwae_nll` of every image of ``data`` (MNISTSplit, images, or (images,
    labels)), ``batch_size`` images at a time: ``(N,)`` float64 on the CPU, in nats.  The
    per-image values give the standard error of a mean over images, and of a paired
    difference of two models on the same images."""
    parts = [iwae_nll(model, x, y, k=k, chunk=chunk, generator=generator).double().cpu()
             for x, y in _batches(model, data, batch_size)]
    return torch.cat(parts)


def iwae_nll_split(
    model,
    data,
    k: int = 5000,
    batch_size: int = 100,
    *,
    chunk: int | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """Mean of :func:`iwae_nll` over ``data`` (MNISTSplit, images, or (images, labels)):
    the mean of :func:`iwae_nll_images`, with the same draws."""
    nll = iwae_nll_images(model, data, k, batch_size, chunk=chunk, generator=generator)
    return nll.sum().item() / len(nll)


# ----------------------------------------------------------------------------- reconstruction


def reconstruction_sq_error(
    model_or_fn: nn.Module | Callable[[Tensor], Tensor],
    data,
    *,
    batch_size: int = 500,
) -> float:
    """Squared reconstruction error per image: ``mean_n sum_pixels (x - x_hat)**2``.

    Summed over the 784 pixels of each image, averaged over the images (the measure of
    Hinton & Salakhutdinov 2006, who report 3.00 for a 30-d deep autoencoder against
    13.87 for 30-d PCA on the MNIST test set).

    Args:
        model_or_fn: a model with ``reconstruct(x[, y])`` (e.g. a VAE: the decoded mean
            of z = mu), or a function ``x -> x_hat`` returning PROBABILITIES in [0, 1]
            (wrap a decoder that outputs logits in ``torch.sigmoid``).
        data: MNISTSplit, images, or (images, labels).

    Raises:
        ValueError: if the reconstruction has another number of pixels, or values
            outside [0, 1] (logits, most likely).
    """
    has_method = hasattr(model_or_fn, "reconstruct")
    total, count = 0.0, 0
    with evaluation_mode(model_or_fn):
        for x, y in _batches(model_or_fn, data, batch_size):
            if not has_method:
                x_hat = model_or_fn(x)
            elif y is None:
                x_hat = model_or_fn.reconstruct(x)
            else:
                x_hat = model_or_fn.reconstruct(x, y)
            if not torch.is_tensor(x_hat) or x_hat.numel() != x.numel():
                shape = tuple(x_hat.shape) if torch.is_tensor(x_hat) else type(x_hat).__name__
                raise ValueError(
                    f"reconstruction_sq_error: the reconstruction of a batch of shape "
                    f"{tuple(x.shape)} has shape {shape}; expected the same number of pixels"
                )
            lo, hi = x_hat.min().item(), x_hat.max().item()
            if lo < 0 or hi > 1:
                raise ValueError(
                    f"reconstruction_sq_error: reconstructions must be probabilities in [0, 1], "
                    f"got values in [{lo:g}, {hi:g}]; apply torch.sigmoid to logits"
                )
            err = (x_hat.reshape(len(x), -1) - x.reshape(len(x), -1)) ** 2  # (B, 784)
            total += err.sum(dim=1).double().sum().item()
            count += len(x)
    return total / count


def pca_reconstruction_sq_error(train_flat, test_flat, n_components: int) -> float:
    """The same measure as :func:`reconstruction_sq_error` for PCA fitted on the train set.

    Args:
        train_flat, test_flat: ``(N, 784)`` arrays or tensors (e.g. ``split.flat()``).
        n_components: number of principal components kept.

    Returns:
        ``mean_n sum_pixels (x - x_hat)**2`` over the test images.
    """
    from sklearn.decomposition import PCA

    train, test = _numpy(train_flat), _numpy(test_flat)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise ValueError(
            "pca_reconstruction_sq_error: expected flat (N, D) train and test arrays with "
            f"the same D, got {train.shape} and {test.shape}; use split.flat()"
        )
    pca = PCA(n_components=n_components, random_state=0).fit(train)
    x_hat = pca.inverse_transform(pca.transform(test))
    return float(((test.astype(np.float64) - x_hat) ** 2).sum(axis=1).mean())


# ----------------------------------------------------------------------------- codes


def encode_split(model, data, batch_size: int = 500) -> Tensor:
    """Codes of every image: ``(N, latent)`` on the CPU.

    Calls ``model.encode(x)`` (``model.encode(x, y)`` for a conditional model) and keeps
    the first element when it returns a tuple: mu for a VAE, the code for an autoencoder.
    """
    codes = []
    with evaluation_mode(model):
        for x, y in _batches(model, data, batch_size):
            out = model.encode(x, y) if y is not None else model.encode(x)
            code = out[0] if isinstance(out, (tuple, list)) else out
            codes.append(code.flatten(1).float().cpu())
    return torch.cat(codes)


def code_accuracy(
    train_codes,
    train_labels,
    test_codes,
    test_labels,
    method: str = "knn",
    k: int = 5,
) -> float:
    """Test accuracy (in [0, 1]) of a classifier trained on codes.

    ``method="knn"``: k-nearest neighbours (Euclidean) on the raw codes;
    ``method="logreg"``: logistic regression on standardised codes.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if method == "knn":
        clf = KNeighborsClassifier(n_neighbors=k)
    elif method == "logreg":
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        raise ValueError(f"code_accuracy: method must be 'knn' or 'logreg', got {method!r}")
    clf.fit(_numpy(train_codes), _numpy(train_labels))
    return float(clf.score(_numpy(test_codes), _numpy(test_labels)))


# ----------------------------------------------------------------------------- images


def sample_grid(model, n: int, y=None, *, generator: torch.Generator | None = None) -> Tensor:
    """``n`` samples ``(n, 1, 28, 28)`` (mean images, z ~ N(0, I)).

    A conditional model without ``y`` gets the labels 0, 1, 2, ... in turn.
    """
    if is_conditional(model) and y is None:
        y = torch.arange(n) % model.y_dim
    with evaluation_mode(model):
        return model.sample(n, y, generator=generator)


def latent_traversal(model, z0: Tensor, dim: int, values: Sequence[float] | Tensor, y=None):
    """Decode ``z0`` with coordinate ``dim`` set to each of ``values`` in turn.

    Args:
        z0: the starting code ``(Z,)`` (or ``(1, Z)``), e.g. mu of one image.
        dim: which latent coordinate to change.
        values: ``V`` values for that coordinate, e.g. ``torch.linspace(-3, 3, 9)``.
        y: the condition of a conditional model (one label or vector).

    Returns:
        ``(V, 1, 28, 28)`` mean images.
    """
    z0 = torch.as_tensor(z0, dtype=torch.float32).reshape(-1)
    if len(z0) != model.latent_dim:
        raise ValueError(f"latent_traversal: z0 must have {model.latent_dim} values, got {len(z0)}")
    if not 0 <= dim < model.latent_dim:
        raise ValueError(f"latent_traversal: dim must be in 0..{model.latent_dim - 1}, got {dim}")
    values = torch.as_tensor(values, dtype=z0.dtype).reshape(-1)
    z = z0.repeat(len(values), 1)  # (V, Z)
    z[:, dim] = values
    with evaluation_mode(model):
        return model.decode_images(z, y)


def manifold_grid(model, n: int = 15, span: float = 3.0, y=None) -> Tensor:
    """Decode a regular n x n grid of a 2-d latent space: ``(n * n, 1, 28, 28)``.

    The grid is LINEAR: both coordinates run over ``linspace(-span, span, n)`` (not
    Gaussian quantiles).  Row-major, like a plot: row ``i`` has ``z_2`` from ``+span``
    (top) down to ``-span`` (bottom), column ``j`` has ``z_1`` from ``-span`` (left) to
    ``+span``, so ``torchvision.utils.make_grid(images, nrow=n)`` shows the plane.
    """
    if model.latent_dim != 2:
        raise ValueError(
            f"manifold_grid needs a model with a 2-d latent space, got latent_dim "
            f"{model.latent_dim}; use latent_traversal for larger ones"
        )
    coords = torch.linspace(-span, span, n)
    z1 = coords.repeat(n)  # columns: left to right
    z2 = coords.flip(0).repeat_interleave(n)  # rows: top to bottom
    z = torch.stack([z1, z2], dim=1)  # (n * n, 2)
    with evaluation_mode(model):
        return model.decode_images(z, y)
