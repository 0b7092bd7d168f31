"""Loss functions and penalties used throughout the course.

Every function here is a small, pure function on tensors, written to be read.

Conventions (the same in every function unless its docstring says otherwise):

* All log-likelihoods, negative log-likelihoods (NLL) and KL divergences are in **nats**
  (natural logarithms).
* Per-sample quantities are **summed** over all non-batch dimensions (pixels, latent
  dimensions, ...) and returned with shape ``(B,)``. Callers average over the batch with
  ``.mean()``. Nothing is divided by the number of pixels or latent dimensions, so the
  reconstruction term and the KL term of the ELBO are on the same scale.
* Decoders output **logits** (unnormalised log-odds), not probabilities.
* ``logvar`` always means ``log(sigma**2)``: the log of the *variance*, not the standard
  deviation ``sigma`` and not ``log(sigma)``. The standard deviation is
  ``exp(0.5 * logvar)``.

Shape letters: ``B`` batch size, ``D`` data dimension (e.g. 784 pixels), ``Z`` latent
dimension, ``H`` hidden units, ``K`` number of importance samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import float_tensor, positive_float, unit_interval, unit_values

__all__ = [
    "LOG_2PI",
    "bernoulli_nll",
    "bernoulli_nll_floor",
    "check_same_shape",
    "contractive_penalty_autograd",
    "contractive_penalty_sigmoid",
    "encoder_jacobian",
    "gaussian_nll",
    "gaussian_nll_from_mse",
    "iwae_bound",
    "kl_normal",
    "kl_std_normal",
    "l1_activity_penalty",
    "log_normal",
    "log_std_normal",
    "mean_activation",
    "reparameterize",
    "sparse_kl_penalty",
    "weight_decay_penalty",
]

#: log(2π), the constant in the Gaussian log density.
LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _shape_str(shape: torch.Size | tuple[int, ...]) -> str:
    """Format a shape as a plain tuple, e.g. ``(128, 784)``."""
    return str(tuple(shape))


def _sum_per_sample(t: Tensor) -> Tensor:
    """Sum a ``(B, ...)`` tensor over every dimension except the first -> ``(B,)``."""
    if t.dim() == 0:
        raise ValueError("expected a tensor with a batch dimension, got a 0-d (scalar) tensor")
    return t.reshape(t.shape[0], -1).sum(dim=1)


def _reshape_hint(a: Tensor, b: Tensor, name_a: str, name_b: str) -> str:
    """Suggest a fix for two tensors that should have the same shape but do not."""
    if a.dim() == 0 or b.dim() == 0:
        return "both must have a batch dimension"
    if a.shape[0] != b.shape[0]:
        return (
            f"the batch sizes differ ({a.shape[0]} vs {b.shape[0]}); are they from the same batch?"
        )
    per_a, per_b = a[0].numel(), b[0].numel()
    if per_a != per_b:
        return (
            f"the number of values per sample differs ({per_a} vs {per_b}); "
            "check the output size of the last layer"
        )
    if a.dim() == 2 and b.dim() > 2:
        return (
            f"reshape {name_b} with {name_b}.flatten(1) or make the decoder output the image shape"
        )
    if b.dim() == 2 and a.dim() > 2:
        return f"flatten {name_a} with {name_a}.flatten(1) or reshape {name_b} to the image shape"
    return f"reshape {name_b} with {name_b}.reshape({name_a}.shape)"


def check_same_shape(
    a: Tensor,
    b: Tensor,
    names: tuple[str, str] = ("a", "b"),
    where: str | None = None,
) -> None:
    """Raise a ``ValueError`` unless ``a`` and ``b`` have exactly the same shape.

    No broadcasting is allowed on purpose: broadcasting ``(B, D)`` against ``(B, 1, H, W)``
    or ``(B,)`` against ``(B, 1)`` silently produces a huge, wrong loss.

    Args:
        a, b: the two tensors.
        names: how to call ``a`` and ``b`` in the message, e.g. ``("logits", "x")``.
        where: optional function name that prefixes the message, e.g. ``"bernoulli_nll"``.

    Raises:
        ValueError: with one message that names both shapes and suggests a fix, e.g.
            ``bernoulli_nll: logits have shape (128, 784) but x has shape (128, 1, 28, 28);
            reshape x with x.flatten(1) or make the decoder output the image shape``.
    """
    if a.shape == b.shape:
        return
    name_a, name_b = names
    prefix = f"{where}: " if where else ""
    verb_a = "have" if name_a.endswith("s") else "has"  # "logits have", "mu has"
    raise ValueError(
        f"{prefix}{name_a} {verb_a} shape {_shape_str(a.shape)} but {name_b} has shape "
        f"{_shape_str(b.shape)}; {_reshape_hint(a, b, name_a, name_b)}"
    )


# ---------------------------------------------------------------------------
# Reconstruction terms: -log p(x | z)
# ---------------------------------------------------------------------------


def bernoulli_nll(logits: Tensor, x: Tensor, *, validate: bool = True) -> Tensor:
    """Negative log-likelihood ``-log p(x | z)`` of a Bernoulli decoder, in nats.

    ``p(x | z) = prod_i Bernoulli(x_i | sigmoid(logits_i))``, so
    ``-log p(x | z) = sum_i BCE(logits_i, x_i)``. That is a log-likelihood only for
    binary ``x``. ``x`` may hold grey levels in [0, 1], as in the classic PyTorch VAE
    example; the same formula is then a **cross-entropy reconstruction loss**, not the
    log-likelihood of any distribution over grey-level images: it cannot fall below
    :func:`bernoulli_nll_floor` (about 45.5 nats on an MNIST test image), which a
    perfect reconstruction ``sigmoid(logits) = x`` reaches. Compare models on grey
    levels by the nats above that floor.

    Args:
        logits: decoder output, shape ``(B, ...)``, unnormalised log-odds (NOT
            probabilities; no sigmoid at the end of the decoder).
        x: data, floats in [0, 1], the same shape as ``logits``.
        validate: check shapes, dtype and the value range (one min/max pass over ``x``).
            Set to ``False`` inside ``torch.func`` transforms or ``torch.compile``.

    Returns:
        ``(B,)`` per-sample NLL, summed over all non-batch dimensions (pixels).

    Raises:
        ValueError: if the shapes differ or ``x`` has values outside [0, 1].
        TypeError: if ``x`` (or ``logits``) is not a floating-point tensor.
    """
    if validate:
        float_tensor(logits, "bernoulli_nll: logits", fix="convert it with logits.float()")
        float_tensor(x, "bernoulli_nll: x", fix="convert it with x.float()")
        check_same_shape(logits, x, ("logits", "x"), where="bernoulli_nll")
        unit_values(x, "bernoulli_nll: x")
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")  # (B, ...)
    return _sum_per_sample(bce)


def bernoulli_nll_floor(x: Tensor) -> Tensor:
    """The smallest value :func:`bernoulli_nll` can take on ``x``: its entropy term, nats.

    ``min over logits of bernoulli_nll(logits, x) = sum_i H(x_i)`` with the binary
    entropy ``H(p) = -p log p - (1 - p) log(1 - p)``, reached at ``sigmoid(logits) = x``.
    It is 0 for binary images and about 45.5 nats on an MNIST test image on average
    (almost all of the ink is grey, not exactly 1): the part of the cross-entropy no
    model can remove.  The rest, ``bernoulli_nll - bernoulli_nll_floor``, is
    ``sum_i KL(Bern(x_i) || Bern(sigmoid(logits_i))) >= 0``.

    Args:
        x: data, floats in [0, 1], shape ``(B, ...)``.

    Returns:
        ``(B,)``, summed over all non-batch dimensions (pixels).
    """
    float_tensor(x, "bernoulli_nll_floor: x", fix="convert it with x.float()")
    unit_values(x, "bernoulli_nll_floor: x")
    return _sum_per_sample(-(torch.xlogy(x, x) + torch.xlogy(1 - x, 1 - x)))


def gaussian_nll(
    mean: Tensor,
    x: Tensor,
    logvar: float | Tensor = 0.0,
    *,
    validate: bool = True,
) -> Tensor:
    """Negative log-likelihood ``-log N(x | mean, exp(logvar))`` of a Gaussian decoder.

    Per value: ``0.5 * (log(2π) + logvar + (x - mean)**2 / exp(logvar))``, summed over all
    non-batch dimensions. The ``0.5 * log(2π)`` constant is included, so the result is a
    true NLL in nats (it can be negative when the variance is small).

    Args:
        mean: decoder output, shape ``(B, ...)``.
        x: data, the same shape as ``mean``.
        logvar: log variance ``log(sigma**2)`` of the decoder: a float, a scalar tensor,
            or a tensor broadcastable to ``x.shape`` (e.g. one value per pixel, or a
            per-sample, per-pixel tensor predicted by the decoder). Default ``0.0``
            (``sigma = 1``).
        validate: check shapes and dtypes. Set to ``False`` inside ``torch.func``
            transforms or ``torch.compile``.

    Returns:
        ``(B,)`` per-sample NLL in nats.

    Raises:
        ValueError: if ``mean`` and ``x`` differ in shape or ``logvar`` does not broadcast
            to ``x.shape``.
        TypeError: if ``x`` or ``mean`` is not a floating-point tensor.
    """
    if validate:
        float_tensor(mean, "gaussian_nll: mean", fix="convert it with mean.float()")
        float_tensor(x, "gaussian_nll: x", fix="convert it with x.float()")
        check_same_shape(mean, x, ("mean", "x"), where="gaussian_nll")
    logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)
    if validate:
        try:
            ok = torch.broadcast_shapes(logvar.shape, x.shape) == x.shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"gaussian_nll: logvar has shape {_shape_str(logvar.shape)}, which does not "
                f"broadcast to x's shape {_shape_str(x.shape)}; use a float, a scalar, or a "
                "tensor with the shape of x (or of one sample of x)"
            )
    nll = 0.5 * (LOG_2PI + logvar + (x - mean) ** 2 * torch.exp(-logvar))  # (B, ...)
    return _sum_per_sample(nll)


def gaussian_nll_from_mse(
    mse_sum: Tensor | float,
    num_pixels: int,
    sigma: float | Tensor,
) -> Tensor:
    """Turn a per-sample sum of squared errors into a Gaussian NLL with fixed ``sigma``.

    A Gaussian decoder ``N(x | mean, sigma**2 I)`` over ``num_pixels`` values has

        ``-log p(x | z) = mse_sum / (2 sigma**2) + num_pixels * (log(sigma) + 0.5 log(2π))``

    with ``mse_sum = sum_i (x_i - mean_i)**2``. So "MSE loss" *is* a Gaussian NLL up to a
    scale ``1 / (2 sigma**2)`` and an additive constant; ``sigma`` sets how much the
    reconstruction term weighs against the KL term.

    Args:
        mse_sum: per-sample SUM (not mean) of squared errors, shape ``(B,)`` (or a float).
        num_pixels: number of values per sample (e.g. 784 for MNIST).
        sigma: the decoder's standard deviation ``sigma > 0`` (NOT a variance, NOT a log),
            a float or a tensor broadcastable to ``mse_sum``.

    Returns:
        Tensor with the shape of ``mse_sum`` (``(B,)``), NLL in nats.
    """
    mse_sum = torch.as_tensor(mse_sum)
    if not mse_sum.is_floating_point():
        mse_sum = mse_sum.float()
    if not torch.is_tensor(sigma):
        positive_float(sigma, "gaussian_nll_from_mse: sigma")
    sigma = torch.as_tensor(sigma, dtype=mse_sum.dtype, device=mse_sum.device)
    return mse_sum / (2.0 * sigma**2) + num_pixels * (torch.log(sigma) + 0.5 * LOG_2PI)


# ---------------------------------------------------------------------------
# KL divergences between diagonal Gaussians (closed form)
# ---------------------------------------------------------------------------


def kl_std_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """``KL( N(mu, diag(exp(logvar))) || N(0, I) )`` in closed form, in nats.

    ``KL = -0.5 * sum_j (1 + logvar_j - mu_j**2 - exp(logvar_j))``. This is the KL term of
    the VAE loss when the prior is a standard normal.

    Args:
        mu: encoder means, shape ``(B, Z)`` (or ``(B, ...)``).
        logvar: encoder log variances ``log(sigma**2)``, the same shape as ``mu``.

    Returns:
        ``(B,)`` per-sample KL, summed over the latent dimensions (not averaged).
    """
    check_same_shape(mu, logvar, ("mu", "logvar"), where="kl_std_normal")
    kl = -0.5 * (1.0 + logvar - mu**2 - torch.exp(logvar))  # (B, Z)
    return _sum_per_sample(kl)


def kl_normal(
    mu_q: Tensor,
    logvar_q: Tensor,
    mu_p: Tensor | float,
    logvar_p: Tensor | float,
) -> Tensor:
    """``KL( N(mu_q, diag(exp(logvar_q))) || N(mu_p, diag(exp(logvar_p))) )``, in nats.

    Per dimension:
    ``0.5 * (logvar_p - logvar_q + (exp(logvar_q) + (mu_q - mu_p)**2) / exp(logvar_p) - 1)``,
    summed over the latent dimensions. With ``mu_p = 0`` and ``logvar_p = 0`` this equals
    :func:`kl_std_normal`.

    Args:
        mu_q, logvar_q: parameters of q, shape ``(B, Z)``.
        mu_p, logvar_p: parameters of p; floats, or tensors broadcastable to ``(B, Z)``
            (e.g. a learned prior of shape ``(Z,)``).

    Returns:
        ``(B,)`` per-sample KL.
    """
    check_same_shape(mu_q, logvar_q, ("mu_q", "logvar_q"), where="kl_normal")
    mu_p = torch.as_tensor(mu_p, dtype=mu_q.dtype, device=mu_q.device)
    logvar_p = torch.as_tensor(logvar_p, dtype=mu_q.dtype, device=mu_q.device)
    kl = 0.5 * (
        logvar_p
        - logvar_q
        + (torch.exp(logvar_q) + (mu_q - mu_p) ** 2) * torch.exp(-logvar_p)
        - 1.0
    )
    return _sum_per_sample(kl)


# ---------------------------------------------------------------------------
# Log densities, sampling, importance weighting
# ---------------------------------------------------------------------------


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor | float) -> Tensor:
    """Log density ``log N(z | mu, diag(exp(logvar)))``, summed over the LAST dimension.

    Summing over the last dimension only (not all non-batch dimensions) lets this work on
    stacks of samples: ``z`` of shape ``(K, B, Z)`` with ``mu``/``logvar`` of shape
    ``(B, Z)`` gives ``(K, B)``.

    Args:
        z: points, shape ``(..., Z)``.
        mu: means, broadcastable to ``z``.
        logvar: log variances ``log(sigma**2)``, broadcastable to ``z``.

    Returns:
        Tensor of shape ``z.shape[:-1]`` (after broadcasting), in nats.
    """
    logvar = torch.as_tensor(logvar, dtype=z.dtype, device=z.device)
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(dim=-1)


def log_std_normal(z: Tensor) -> Tensor:
    """Log density of the standard normal ``log N(z | 0, I)``, summed over the LAST dim.

    Args:
        z: points, shape ``(..., Z)``.

    Returns:
        Tensor of shape ``z.shape[:-1]``, in nats.
    """
    return -0.5 * (LOG_2PI + z**2).sum(dim=-1)


def reparameterize(
    mu: Tensor,
    logvar: Tensor,
    *,
    n_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sample ``z ~ N(mu, diag(exp(logvar)))`` with the reparameterisation trick.

    ``z = mu + exp(0.5 * logvar) * eps`` with ``eps ~ N(0, I)``. The randomness is in
    ``eps`` only, so gradients flow to ``mu`` and ``logvar``.

    Args:
        mu: means, shape ``(B, Z)`` (any shape works).
        logvar: log variances ``log(sigma**2)``, the same shape as ``mu``.
        n_samples: ``None`` for one sample of shape ``mu.shape``; an int ``K >= 1`` for
            ``K`` independent samples stacked as ``(K, *mu.shape)`` (for IWAE).
        generator: optional ``torch.Generator`` to make the draw reproducible.

    Returns:
        ``z`` of shape ``mu.shape`` or ``(K, *mu.shape)``.
    """
    check_same_shape(mu, logvar, ("mu", "logvar"), where="reparameterize")
    if n_samples is None:
        shape = mu.shape
    elif isinstance(n_samples, int) and not isinstance(n_samples, bool) and n_samples >= 1:
        shape = (n_samples, *mu.shape)
    else:
        raise ValueError(
            f"reparameterize: n_samples must be None or an int >= 1, got {n_samples!r}"
        )
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    std = torch.exp(0.5 * logvar)
    return mu + std * eps


def iwae_bound(log_weights: Tensor) -> Tensor:
    """Importance-weighted bound ``log (1/K) sum_k exp(log_weights[k])`` (log-mean-exp).

    With ``log_weights[k] = log p(x, z_k) - log q(z_k | x)`` and ``z_k ~ q(z | x)`` this is
    the IWAE lower bound on ``log p(x)``. It uses ``logsumexp``, so it is stable even when
    the log weights are around -1e4 (where ``exp`` underflows to 0). By Jensen's inequality
    it is >= the mean of the log weights (the ELBO estimate); with ``K = 1`` it equals the
    single log weight.

    Args:
        log_weights: shape ``(K, B)``, K importance samples for each of B data points.

    Returns:
        ``(B,)`` bound per data point, in nats (a lower bound on ``log p(x)``; its
        negation is a loss).
    """
    if log_weights.dim() < 1 or log_weights.shape[0] < 1:
        raise ValueError(
            f"iwae_bound: expected log_weights of shape (K, B) with K >= 1, "
            f"got {_shape_str(log_weights.shape)}"
        )
    k = log_weights.shape[0]
    return torch.logsumexp(log_weights, dim=0) - math.log(k)


# ---------------------------------------------------------------------------
# Regularisers for (non-variational) autoencoders
# ---------------------------------------------------------------------------


def l1_activity_penalty(h: Tensor) -> Tensor:
    """L1 sparsity penalty on hidden activations: ``mean_b sum_j |h_bj|``.

    Summed over the units, averaged over the batch.

    Args:
        h: hidden activations, shape ``(B, H)`` (or ``(B, ...)``).

    Returns:
        Scalar tensor.
    """
    return _sum_per_sample(h.abs()).mean()


def mean_activation(h: Tensor) -> Tensor:
    """Average activation of each hidden unit over the BATCH: ``rho_hat_j = mean_b h_bj``.

    Args:
        h: activations, shape ``(B, H)``.

    Returns:
        ``(H,)``: one value per unit (the mean over dimension 0, the batch).
    """
    return h.mean(dim=0)


def sparse_kl_penalty(h: Tensor, rho: float, eps: float = 1e-6) -> Tensor:
    """KL sparsity penalty of a sparse autoencoder, in nats.

    ``sum_j KL(rho || rho_hat_j) = sum_j [rho log(rho / rho_hat_j)
    + (1 - rho) log((1 - rho) / (1 - rho_hat_j))]``, where ``rho_hat_j`` is the average
    activation of unit ``j`` over the batch (:func:`mean_activation`). It is zero exactly
    when every unit is active a fraction ``rho`` of the time on average.

    Args:
        h: sigmoid activations in (0, 1), shape ``(B, H)``.
        rho: target average activation, a float in (0, 1), e.g. 0.05.
        eps: ``rho_hat`` is clamped to ``[eps, 1 - eps]`` so the logs stay finite (the
            gradient is zero for a unit that is clamped).

    Returns:
        Scalar tensor (summed over units; ``rho_hat`` already averages over the batch).

    Raises:
        ValueError: if ``rho`` is not in (0, 1), or ``h`` has values outside [0, 1]
            (e.g. ReLU activations; this penalty needs sigmoid units).
    """
    rho = unit_interval(rho, "sparse_kl_penalty: rho", open_low=True, open_high=True)
    float_tensor(h, "sparse_kl_penalty: h", fix="convert it with h.float()")
    hint = "this penalty needs sigmoid units, not e.g. ReLU"
    unit_values(h, "sparse_kl_penalty: h", what="activations", hint=hint)
    rho_hat = mean_activation(h).clamp(eps, 1.0 - eps)  # (H,)
    kl = rho * torch.log(rho / rho_hat) + (1.0 - rho) * torch.log((1.0 - rho) / (1.0 - rho_hat))
    return kl.sum()


def weight_decay_penalty(weights: nn.Module | Tensor | Iterable[Tensor]) -> Tensor:
    """Weight decay as a term of the objective: ``0.5 * sum_W ||W||_F**2``.

    Ng's sparse-autoencoder notes add ``(lambda / 2) * sum_W ||W||**2`` over the weight
    MATRICES (not the biases) to the loss, so ``lambda * weight_decay_penalty(model)`` is
    that term; its gradient is ``lambda * W`` for every matrix ``W`` and 0 for every bias,
    exactly what ``torch.optim.SGD(..., weight_decay=lambda)`` adds to the gradient of
    those parameters (with Adam, the term is Adam's ``weight_decay``, not AdamW's
    decoupled decay).

    Args:
        weights: an ``nn.Module``, whose parameters with two or more dimensions count
            (``nn.Linear`` and convolution weights; biases and other vectors do not); or
            one tensor, or an iterable of tensors, which all count.

    Returns:
        Scalar tensor (unitless; it carries the units of ``lambda`` once multiplied).

    Raises:
        ValueError: a module without weight matrices, or no tensors at all.
        TypeError: something that is not a floating-point tensor.
    """
    if isinstance(weights, nn.Module):
        tensors = [p for p in weights.parameters() if p.dim() >= 2]
        if not tensors:
            raise ValueError(
                f"weight_decay_penalty: {type(weights).__name__} has no weight matrices "
                "(no parameter with two or more dimensions)"
            )
    else:
        tensors = [weights] if torch.is_tensor(weights) else list(weights)
        if not tensors:
            raise ValueError(
                "weight_decay_penalty: expected a module or one or more weight tensors, got none"
            )
    for i, w in enumerate(tensors):
        float_tensor(w, f"weight_decay_penalty: weight {i}", fix="pass the float weights")
    return 0.5 * sum((w**2).sum() for w in tensors)


def contractive_penalty_sigmoid(h: Tensor, weight: Tensor) -> Tensor:
    """Squared Frobenius norm of the encoder Jacobian, closed form for a sigmoid layer.

    For ``h = sigmoid(x W^T + b)`` (an ``nn.Linear(D, H)`` followed by a sigmoid) the
    Jacobian is ``dh_j / dx_i = h_j (1 - h_j) W_ji``, so

        ``||J(x)||_F**2 = sum_j (h_j (1 - h_j))**2 * sum_i W_ji**2``,

    i.e. the SQUARED sigmoid slope times the SQUARED row norms of ``W``.

    Args:
        h: the layer's sigmoid activations, shape ``(B, H)``.
        weight: the ``nn.Linear`` weight ``W``, shape ``(H, D)``.

    Returns:
        Scalar tensor: the penalty averaged over the batch.
    """
    if h.dim() != 2 or weight.dim() != 2 or h.shape[1] != weight.shape[0]:
        raise ValueError(
            f"contractive_penalty_sigmoid: expected h of shape (B, H) and weight of shape "
            f"(H, D) (as in nn.Linear), got h {_shape_str(h.shape)} and weight "
            f"{_shape_str(weight.shape)}"
        )
    slope_sq = (h * (1.0 - h)) ** 2  # (B, H)
    row_norms_sq = (weight**2).sum(dim=1)  # (H,)
    return (slope_sq * row_norms_sq).sum(dim=1).mean()


def contractive_penalty_autograd(encoder: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """Squared Frobenius norm of the encoder Jacobian, exact, for ANY encoder.

    For each sample ``x_b`` the Jacobian ``J_b = d encoder(x_b) / d x_b`` of shape
    ``(H, D)`` is computed with ``torch.func.jacrev``, vectorised over the batch with
    ``torch.func.vmap``; the penalty is ``mean_b ||J_b||_F**2``. The result is
    differentiable with respect to the encoder's parameters, so it can be added to the
    training loss. For a single sigmoid layer it equals
    :func:`contractive_penalty_sigmoid`.

    Args:
        encoder: module or function mapping ``(B, D)`` to ``(B, H)`` and returning ONE
            tensor (for a VAE encoder returning ``(mu, logvar)``, wrap it, e.g.
            ``lambda x: enc(x)[0]``). Each sample is passed as a batch of one. Layers
            that mix samples (BatchNorm in training mode) or draw random numbers
            (Dropout in training mode) do not work under ``vmap``: use ``eval()``.
        x: inputs, shape ``(B, D)`` (any ``(B, ...)`` shape works).

    Returns:
        Scalar tensor: the penalty averaged over the batch.
    """

    jac = encoder_jacobian(encoder, x)  # (B, H, *x.shape[1:])
    return _sum_per_sample(jac**2).mean()


def encoder_jacobian(encoder: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """The Jacobian ``d encoder(x_b) / d x_b`` of each sample, exact, with autograd.

    ``torch.func.jacrev`` vectorised over the batch with ``torch.func.vmap``; each sample
    is passed to ``encoder`` as a batch of one (see :func:`contractive_penalty_autograd`
    for the layers that cannot be used this way).

    Args:
        encoder: module or function mapping ``(B, D)`` to ``(B, H)``, returning one tensor.
        x: inputs, shape ``(B, D)``.

    Returns:
        ``(B, H, D)``: entry ``[b, j, i]`` is ``d h_j / d x_i`` at sample ``b``.
    """

    def encode_one(x_one: Tensor) -> Tensor:
        return encoder(x_one.unsqueeze(0)).squeeze(0)  # (D,) -> (H,)

    return torch.func.vmap(torch.func.jacrev(encode_one))(x)
