"""The losses of diverse colorization (Deshpande et al., CVPR 2017).

Colour fields are ``(B, C, H, W)`` float tensors (for Lab, ``C = 2``: the a and b
channels, scaled as in :mod:`vae_edu.colorization.lab`). Every loss here is **summed**
over channels and pixels and **averaged** over the batch, so it returns a 0-d tensor
ready for ``.backward()``.

The decoder loss of the colour-field VAE is

    ``L_dec = L_hist + lambda_mah * L_mah + lambda_grad * L_grad``

* :func:`histogram_loss` ``L_hist``: L2 with a weight per pixel that is large for rare
  colours and small for common ones (the inverse of the colour histogram,
  :class:`ColorHistogram`), so that the grey-brown average colour is not the cheapest
  answer;
* :func:`mahalanobis_loss` ``L_mah``: the error measured in the principal components of
  the colour fields (:class:`ColorPCA`), each divided by its variance, plus the residual;
* :func:`gradient_loss` ``L_grad``: the same horizontal and vertical differences as the
  ground truth.

The mixture density network is trained with :func:`mdn_nll`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..losses import LOG_2PI, check_same_shape
from ..validation import float_tensor, positive_float, positive_int, unit_interval

__all__ = [
    "ColorHistogram",
    "ColorPCA",
    "DecoderLoss",
    "gradient_loss",
    "histogram_loss",
    "image_gradients",
    "l2_loss",
    "mahalanobis_loss",
    "mdn_nearest_nll",
    "mdn_nll",
]


def _check_field(t: Tensor, name: str, where: str) -> None:
    """Raise one clear error unless ``t`` is a floating ``(B, C, H, W)`` tensor."""
    float_tensor(t, f"{where}: {name}", fix=f"convert it with {name}.float()")
    if t.dim() != 4:
        raise ValueError(
            f"{where}: {name} must be a colour field of shape (B, C, H, W), got shape "
            f"{tuple(t.shape)}"
        )


def image_gradients(field: Tensor) -> tuple[Tensor, Tensor]:
    """Forward finite differences of a ``(B, C, H, W)`` field.

    Returns:
        ``(dx, dy)``: ``dx[..., i, j] = field[..., i, j + 1] - field[..., i, j]`` with shape
        ``(B, C, H, W - 1)`` (horizontal), and ``dy[..., i, j] = field[..., i + 1, j] -
        field[..., i, j]`` with shape ``(B, C, H - 1, W)`` (vertical).
    """
    _check_field(field, "field", "image_gradients")
    dx = field[..., :, 1:] - field[..., :, :-1]
    dy = field[..., 1:, :] - field[..., :-1, :]
    return dx, dy


def gradient_loss(pred: Tensor, target: Tensor) -> Tensor:
    """``L_grad``: ask the prediction for the same image gradients as the ground truth.

    ``L_grad = mean_b sum_{c,i,j} [(dx pred - dx target)^2 + (dy pred - dy target)^2]``
    with the forward differences of :func:`image_gradients` (horizontal and vertical).
    It penalises blotchy colour edges that a per-pixel L2 loss does not see.

    Args:
        pred: predicted colour field, ``(B, C, H, W)`` floats (e.g. ab in Lab units).
        target: ground-truth colour field, the same shape.

    Returns:
        0-d tensor: summed over channels and pixels, averaged over the batch, in squared
        units of the field.

    Raises:
        ValueError: if the shapes differ or are not ``(B, C, H, W)``.
        TypeError: for non-float tensors.
    """
    _check_field(pred, "pred", "gradient_loss")
    _check_field(target, "target", "gradient_loss")
    check_same_shape(pred, target, ("pred", "target"), where="gradient_loss")
    pdx, pdy = image_gradients(pred)
    tdx, tdy = image_gradients(target)
    per_sample = (pdx - tdx).pow(2).flatten(1).sum(1) + (pdy - tdy).pow(2).flatten(1).sum(1)
    return per_sample.mean()


def l2_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Plain squared error ``mean_b sum_{c,i,j} (pred - target)^2``, a 0-d tensor.

    Args:
        pred, target: ``(B, C, H, W)`` colour fields of the same shape.
    """
    _check_field(pred, "pred", "l2_loss")
    _check_field(target, "target", "l2_loss")
    check_same_shape(pred, target, ("pred", "target"), where="l2_loss")
    return (pred - target).pow(2).flatten(1).sum(1).mean()


# ----------------------------------------------------------------------------- L_hist


class ColorHistogram(nn.Module):
    """The colour prior p(q) over a grid of ab bins, and the weights ``w(q)`` of L_hist.

    The ab plane ``[-limit, limit]^2`` is cut into square bins of side ``bin_size``
    (``Q = n * n`` bins, ``n = ceil(2 limit / bin_size)``; colours outside fall in the
    border bins). :meth:`fit` counts the pixels of the training colour fields per bin:
    ``p(q)``. The weight of a bin is the inverse of the prior mixed with a uniform
    distribution (as in Zhang et al., Colorful Image Colorization, 2016),

        ``w(q) ∝ 1 / ((1 - mix) * p(q) + mix / Q)``,

    normalised so that the average weight of a training pixel is 1:
    ``sum_q p(q) w(q) = 1``. A common colour gets a weight below 1, a rare one above.
    ``mix = 1`` gives every pixel the weight 1 (plain L2).

    Args:
        bin_size: side of a bin, in colour-field units (0.1 = 10 Lab units).
        limit: half the width of the ab square covered by the bins.
        mix: weight of the uniform distribution, in [0, 1].
    """

    def __init__(self, bin_size: float = 0.1, limit: float = 1.1, mix: float = 0.5):
        super().__init__()
        positive_float(bin_size, "ColorHistogram: bin_size")
        positive_float(limit, "ColorHistogram: limit")
        unit_interval(mix, "ColorHistogram: mix")
        self.bin_size, self.limit, self.mix = float(bin_size), float(limit), float(mix)
        self.bins_per_axis = math.ceil(2 * limit / bin_size - 1e-9)
        q = self.bins_per_axis**2
        self.register_buffer("prior", torch.full((q,), 1.0 / q))
        self.register_buffer("bin_weights", torch.ones(q))

    @property
    def num_bins(self) -> int:
        return self.bins_per_axis**2

    def bin_index(self, color: Tensor) -> Tensor:
        """``(B, 2, H, W)`` colour fields -> ``(B, H, W)`` int64 bin of every pixel.

        Bin ``q = i_a * n + i_b`` with ``i = floor((value + limit) / bin_size)`` clipped
        to ``0 .. n - 1`` along each axis.
        """
        _check_field(color, "color", "ColorHistogram")
        if color.shape[1] != 2:
            raise ValueError(
                f"ColorHistogram: expected ab colour fields (B, 2, H, W), got "
                f"{tuple(color.shape)}"
            )
        i = torch.floor((color + self.limit) / self.bin_size).long()
        i = i.clamp(0, self.bins_per_axis - 1)
        return i[:, 0] * self.bins_per_axis + i[:, 1]

    @torch.no_grad()
    def fit(self, color: Tensor, batch_size: int = 4096) -> ColorHistogram:
        """Count the pixels of ``color`` ``(N, 2, H, W)`` per bin: sets ``prior`` and
        ``bin_weights``. Returns ``self``."""
        counts = torch.zeros(self.num_bins, dtype=torch.float64, device=self.prior.device)
        for start in range(0, len(color), batch_size):
            index = self.bin_index(color[start : start + batch_size]).flatten()
            counts += torch.bincount(index.to(counts.device), minlength=self.num_bins)
        if counts.sum() == 0:
            raise ValueError("ColorHistogram.fit: no pixels to count")
        prior = counts / counts.sum()
        weights = 1.0 / ((1.0 - self.mix) * prior + self.mix / self.num_bins)
        weights = weights / (prior * weights).sum()  # a training pixel weighs 1 on average
        self.prior.copy_(prior)
        self.bin_weights.copy_(weights)
        return self

    def pixel_weights(self, color: Tensor) -> Tensor:
        """The weight of every pixel of ``color`` ``(B, 2, H, W)`` -> ``(B, 1, H, W)``."""
        return self.bin_weights[self.bin_index(color)].unsqueeze(1)

    def prior_image(self) -> Tensor:
        """``prior`` as an ``(n, n)`` image: rows are a bins, columns b bins."""
        return self.prior.view(self.bins_per_axis, self.bins_per_axis)

    def extra_repr(self) -> str:
        return f"bin_size={self.bin_size}, limit={self.limit}, mix={self.mix}, bins={self.num_bins}"


def histogram_loss(pred: Tensor, target: Tensor, histogram: ColorHistogram) -> Tensor:
    """``L_hist = mean_b sum_{i,j} w(target_ij) * ||pred_ij - target_ij||^2``.

    The squared ab error of every pixel, weighted by the weight of the bin of its TRUE
    colour (:meth:`ColorHistogram.pixel_weights`).

    Args:
        pred, target: ``(B, 2, H, W)`` colour fields.
        histogram: a fitted :class:`ColorHistogram`.

    Returns:
        0-d tensor.
    """
    _check_field(pred, "pred", "histogram_loss")
    check_same_shape(pred, target, ("pred", "target"), where="histogram_loss")
    weights = histogram.pixel_weights(target)  # (B, 1, H, W)
    return (weights * (pred - target).pow(2)).flatten(1).sum(1).mean()


# ----------------------------------------------------------------------------- L_mah


class ColorPCA(nn.Module):
    """Principal components of colour fields, for the Mahalanobis loss.

    :meth:`fit` flattens ``N`` training fields into ``D``-vectors and keeps their mean,
    the top ``k`` eigenvectors ``components`` ``(D, k)`` of their covariance with
    eigenvalues ``variances`` ``(k,)``, and ``residual_variance``: the average of the
    other ``D - k`` eigenvalues (the variance left per dimension, as in probabilistic
    PCA). Together they define the covariance

        ``Sigma = U diag(variances) U^T + residual_variance * (I - U U^T)``.

    Args:
        k: number of principal components kept.
    """

    def __init__(self, k: int = 20):
        super().__init__()
        self.k = positive_int(k, "ColorPCA: k")
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("components", torch.zeros(0, k))
        self.register_buffer("variances", torch.ones(k))
        self.register_buffer("residual_variance", torch.ones(()))

    @property
    def fitted(self) -> bool:
        return self.mean.numel() > 0

    @torch.no_grad()
    def fit(self, color: Tensor) -> ColorPCA:
        """Fit to colour fields ``(N, C, H, W)`` (N >= 2). Returns ``self``."""
        _check_field(color, "color", "ColorPCA.fit")
        x = color.flatten(1).double()  # (N, D)
        n, d = x.shape
        if n < 2 or d <= self.k:
            raise ValueError(
                f"ColorPCA.fit: needs at least 2 fields of more than k = {self.k} values, "
                f"got {n} of {d}"
            )
        mean = x.mean(0)
        centred = x - mean
        # eigenvectors of the covariance = right singular vectors of the centred data;
        # only the top k are needed: a randomised SVD (Halko et al.) finds them in a
        # fraction of the time of a full one, with a fixed seed that leaves torch's
        # global random numbers alone
        gpus = [x.device.index or 0] if x.device.type == "cuda" else []
        with torch.random.fork_rng(devices=gpus):
            torch.manual_seed(0)
            _, s, v = torch.svd_lowrank(centred, q=min(self.k + 10, n, d), niter=6)
        eigenvalues = s**2 / (n - 1)
        total = centred.pow(2).sum() / (n - 1)  # trace of the covariance
        top = eigenvalues[: self.k]
        residual = (total - top.sum()).clamp_min(0.0) / (d - self.k)
        floor = 1e-6 * eigenvalues[0]  # keep every variance positive
        self.mean = mean.to(color.dtype)
        self.components = v[:, : self.k].contiguous().to(color.dtype)
        self.variances = top.clamp_min(floor).to(color.dtype)
        self.residual_variance = residual.clamp_min(floor).to(color.dtype)
        return self

    def covariance(self) -> Tensor:
        """The ``(D, D)`` covariance ``Sigma`` the Mahalanobis loss uses (for checks)."""
        u = self.components
        eye = torch.eye(len(u), dtype=u.dtype, device=u.device)
        return u @ torch.diag(self.variances) @ u.T + self.residual_variance * (eye - u @ u.T)

    def project(self, color: Tensor) -> Tensor:
        """Coordinates of ``(B, C, H, W)`` fields along the components -> ``(B, k)``."""
        return (color.flatten(1) - self.mean) @ self.components

    def extra_repr(self) -> str:
        return f"k={self.k}, fitted={self.fitted}"


def mahalanobis_loss(pred: Tensor, target: Tensor, pca: ColorPCA) -> Tensor:
    """``L_mah``: the squared Mahalanobis distance of the error under ``pca``'s covariance.

    With ``d = target - pred`` flattened to ``D`` values, ``U`` the top-k components and
    ``s_i`` their variances,

        ``L_mah = sum_{i=1..k} (U_i^T d)^2 / s_i + ||d - U U^T d||^2 / residual_variance``

    which equals ``d^T Sigma^{-1} d`` for :meth:`ColorPCA.covariance`. An error along a
    direction in which colour fields vary a lot (the first components: the overall tint)
    costs little; an error in the residual (details that hardly vary) costs a lot.

    Args:
        pred, target: ``(B, C, H, W)`` colour fields of the size ``pca`` was fitted on.
        pca: a fitted :class:`ColorPCA`.

    Returns:
        0-d tensor: the distance averaged over the batch (dimensionless).
    """
    _check_field(pred, "pred", "mahalanobis_loss")
    check_same_shape(pred, target, ("pred", "target"), where="mahalanobis_loss")
    if not pca.fitted:
        raise ValueError("mahalanobis_loss: the ColorPCA is not fitted; call pca.fit(color)")
    d = (target - pred).flatten(1)  # (B, D)
    if d.shape[1] != len(pca.components):
        raise ValueError(
            f"mahalanobis_loss: the fields have {d.shape[1]} values but the PCA was fitted "
            f"on fields of {len(pca.components)}"
        )
    # in (at least) float32 even under mixed precision: the residual is a small difference
    # of large numbers, divided by a small variance
    with torch.autocast(d.device.type, enabled=False):
        dtype = torch.promote_types(d.dtype, torch.float32)
        d, u = d.to(dtype), pca.components.to(dtype)
        coords = d @ u  # (B, k)
        residual = d - coords @ u.T  # (B, D)
        along = (coords.pow(2) / pca.variances.to(dtype)).sum(1)  # (B,)
        across = residual.pow(2).sum(1) / pca.residual_variance.to(dtype)  # (B,)
    return (along + across).mean()


# ----------------------------------------------------------------------------- L_dec


class DecoderLoss(nn.Module):
    """``L_dec``: a weighted sum of the losses above, with the statistics they need.

    Args:
        weights: loss name -> weight, from ``"l2"`` (:func:`l2_loss`), ``"hist"``
            (:func:`histogram_loss`), ``"mah"`` (:func:`mahalanobis_loss`) and
            ``"grad"`` (:func:`gradient_loss`). Deshpande et al.'s loss is
            ``{"hist": 1, "mah": lambda_mah, "grad": lambda_grad}``.
        histogram: a fitted :class:`ColorHistogram` (needed for ``"hist"``).
        pca: a fitted :class:`ColorPCA` (needed for ``"mah"``).

    Calling it returns a dict ``{"dec": L_dec, <name>: unweighted part, ...}`` of 0-d
    tensors.
    """

    NAMES = ("l2", "hist", "mah", "grad")

    def __init__(
        self,
        weights: dict[str, float],
        *,
        histogram: ColorHistogram | None = None,
        pca: ColorPCA | None = None,
    ):
        super().__init__()
        unknown = set(weights) - set(self.NAMES)
        if not weights or unknown:
            raise ValueError(
                f"DecoderLoss: weights must name some of {', '.join(self.NAMES)}, got "
                f"{sorted(weights)}"
            )
        if "hist" in weights and histogram is None:
            raise ValueError(
                "DecoderLoss: the 'hist' term needs histogram=ColorHistogram().fit(...)"
            )
        if "mah" in weights and (pca is None or not pca.fitted):
            raise ValueError("DecoderLoss: the 'mah' term needs pca=ColorPCA(k).fit(...)")
        self.weights = dict(weights)
        self.histogram = histogram
        self.pca = pca

    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        parts = {}
        for name in self.weights:
            if name == "l2":
                parts[name] = l2_loss(pred, target)
            elif name == "hist":
                parts[name] = histogram_loss(pred, target, self.histogram)
            elif name == "mah":
                parts[name] = mahalanobis_loss(pred, target, self.pca)
            else:
                parts[name] = gradient_loss(pred, target)
        total = sum(self.weights[name] * value for name, value in parts.items())
        return {"dec": total, **parts}

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={w:g}" for name, w in self.weights.items())


# ----------------------------------------------------------------------------- the MDN


def mdn_nll(logits: Tensor, means: Tensor, z: Tensor, sigma: float) -> Tensor:
    """``L_mdn = -log sum_{i=1..M} pi_i N(z | mu_i, sigma^2 I)``, averaged over the batch.

    The negative log-likelihood of ``z`` under a mixture of ``M`` isotropic Gaussians
    with weights ``pi = softmax(logits)``, means ``mu_i`` and one fixed standard
    deviation ``sigma``; computed with ``logsumexp``, in nats.

    Args:
        logits: ``(B, M)`` unnormalised log mixture weights.
        means: ``(B, M, Z)`` component means.
        z: ``(B, Z)`` the targets (the colour-field VAE's codes of the true colours).
        sigma: the fixed standard deviation of every component (a float > 0).

    Returns:
        0-d tensor.
    """
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ValueError(f"mdn_nll: sigma must be a float > 0, got {sigma!r}")
    if logits.dim() != 2 or means.dim() != 3 or z.dim() != 2:
        raise ValueError(
            "mdn_nll: expected logits (B, M), means (B, M, Z) and z (B, Z), got "
            f"{tuple(logits.shape)}, {tuple(means.shape)} and {tuple(z.shape)}"
        )
    if means.shape[:2] != logits.shape or (means.shape[0], means.shape[2]) != z.shape:
        raise ValueError(
            f"mdn_nll: shapes do not fit: logits {tuple(logits.shape)} (B, M), means "
            f"{tuple(means.shape)} (B, M, Z), z {tuple(z.shape)} (B, Z)"
        )
    dim = z.shape[1]
    dtype = torch.promote_types(torch.promote_types(logits.dtype, means.dtype), torch.float32)
    logits, means, z = logits.to(dtype), means.to(dtype), z.to(dtype)  # no half precision
    sq = (z.unsqueeze(1) - means).pow(2).sum(-1)  # (B, M)
    log_normal = -0.5 * sq / sigma**2 - dim * (math.log(sigma) + 0.5 * LOG_2PI)
    log_mix = torch.log_softmax(logits, dim=1) + log_normal  # (B, M)
    return -torch.logsumexp(log_mix, dim=1).mean()


def mdn_nearest_nll(logits: Tensor, means: Tensor, z: Tensor, sigma: float) -> Tensor:
    """The nearest-component approximation of :func:`mdn_nll`, averaged over the batch.

    ``-log pi_{i*} - log N(z | mu_{i*}, sigma^2 I)`` with ``i* = argmin_i ||z - mu_i||``,
    the component whose mean is closest to the target (chosen without a gradient). Only
    that component's mean is pulled towards ``z``; the logits all get a gradient, through
    the softmax, that raises ``pi_{i*}``. It is an upper bound of the mixture NLL
    (``-log sum_i pi_i N_i <= -log pi_{i*} N_{i*}``), and the training used, as we read
    it, in the code of Deshpande et al. (2017).

    Args and Returns: as :func:`mdn_nll` (nats).
    """
    with torch.no_grad():
        mdn_nll(logits, means, z, sigma)  # the same checks of shapes and sigma (cheap)
    dim = z.shape[1]
    dtype = torch.promote_types(torch.promote_types(logits.dtype, means.dtype), torch.float32)
    logits, means, z = logits.to(dtype), means.to(dtype), z.to(dtype)
    sq = (z.unsqueeze(1) - means).pow(2).sum(-1)  # (B, M)
    nearest = sq.detach().argmin(dim=1, keepdim=True)  # (B, 1)
    log_normal = -0.5 * sq.gather(1, nearest) / sigma**2 - dim * (
        math.log(sigma) + 0.5 * LOG_2PI)
    log_pi = torch.log_softmax(logits, dim=1).gather(1, nearest)
    return -(log_pi + log_normal).mean()
