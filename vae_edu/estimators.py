"""Two unbiased estimators of the same gradient: score function (REINFORCE) vs reparameterised.

The objective is the expected reconstruction term of the ELBO of each image,

    ``f(mu, logvar) = E_{z ~ N(mu, diag(exp(logvar)))} [ log p(x | z) ]``   (nats),

and its gradient with respect to the encoder's outputs ``mu`` and ``logvar`` (the KL term
of the ELBO has a closed form and needs no estimator).  With ``eps ~ N(0, I)``,
``sigma = exp(logvar / 2)`` and ``z = mu + sigma * eps``, one sample gives

* **reparameterised** (pathwise; Kingma & Welling 2014, Rezende et al. 2014):
  ``d/dmu = grad_z log p(x|z)``, ``d/dlogvar = grad_z log p(x|z) * eps * sigma / 2``;
* **score function** (REINFORCE; Williams 1992): ``log p(x|z) * grad log q(z)``, i.e.
  ``d/dmu = log p(x|z) * eps / sigma``, ``d/dlogvar = log p(x|z) * (eps**2 - 1) / 2``;
* **score function with a baseline**: the same with ``log p(x|z) - b``, where ``b`` is the
  mean of ``log p(x|z)`` over *other*, independent samples of z (so it does not depend on
  the sample it multiplies and the estimator stays unbiased, since ``E_q[grad log q] = 0``).

All three have the same mean, the exact gradient; they differ in variance.
:func:`estimator_statistics` measures the mean and the variance of ONE sample of each, from
many samples.  Shape letters: ``B`` images, ``Z`` latents, ``N`` samples of z.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .models.condition import is_conditional
from .train import model_device
from .validation import positive_int

__all__ = [
    "ESTIMATORS",
    "estimator_statistics",
    "gradient_samples",
    "log_likelihood_at",
    "standard_error",
]

#: The estimators :func:`gradient_samples` knows.
ESTIMATORS = ("reparameterised", "score", "score_baseline")


def _check_model(model, where: str) -> None:
    if not (hasattr(model, "encode") and hasattr(model, "decode")
            and hasattr(model, "log_likelihood")):
        raise TypeError(
            f"{where}: expected a VAE of vae_edu.models (with encode, decode and "
            f"log_likelihood), got {type(model).__name__}"
        )
    if is_conditional(model):
        raise TypeError(
            f"{where}: {type(model).__name__} is conditional; these estimators take an "
            "unconditional VAE"
        )


def log_likelihood_at(model, x: Tensor, z: Tensor) -> Tensor:
    """``log p(x | z)`` of each image at each of its samples: z ``(N, B, Z)`` -> ``(N, B)``.

    ``x``: ``(B, ...)`` images (or data points) in the model's input format.
    """
    if z.dim() != 3 or z.shape[1] != len(x) or z.shape[2] != model.latent_dim:
        raise ValueError(
            f"log_likelihood_at: expected z of shape (N, {len(x)}, {model.latent_dim}) for "
            f"{len(x)} images, got {tuple(z.shape)}"
        )
    decoded = model.decode(z.reshape(-1, z.shape[-1]))
    return model.log_likelihood(x, decoded.reshape(*z.shape[:2], *decoded.shape[1:]))


def _generator(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


@torch.enable_grad()
def gradient_samples(
    model,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    n_samples: int,
    *,
    estimator: str,
    generator: torch.Generator | None = None,
    baseline: Tensor | None = None,
) -> Tensor:
    """``n_samples`` independent one-sample estimates of ``d f / d(mu, logvar)`` per image.

    Args:
        model: an unconditional VAE of :mod:`vae_edu.models` (its decoder defines
            ``log p(x|z)``; its parameters are not changed and get no gradient).
        x: ``(B, ...)`` images.
        mu, logvar: ``(B, Z)``, the Gaussian ``q(z|x)`` whose parameters the gradient is
            taken with respect to (e.g. ``model.encode(x)``, detached).
        n_samples: ``N``, samples of z per image.
        estimator: one of :data:`ESTIMATORS`.
        generator: for the draws of eps (on the device of ``mu``).
        baseline: ``(B,)`` nats, for ``"score_baseline"`` only: a value independent of
            these samples (e.g. the mean of ``log p(x|z)`` over other samples).

    Returns:
        ``(N, B, 2Z)``: per sample and image, the ``Z`` derivatives with respect to ``mu``
        followed by the ``Z`` with respect to ``logvar``, in nats per unit.
    """
    _check_model(model, "gradient_samples")
    if estimator not in ESTIMATORS:
        raise ValueError(f"gradient_samples: estimator must be one of {ESTIMATORS}, "
                         f"got {estimator!r}")
    n_samples = positive_int(n_samples, "gradient_samples: n_samples")
    if mu.shape != logvar.shape or mu.dim() != 2 or mu.shape != (len(x), model.latent_dim):
        raise ValueError(
            f"gradient_samples: mu and logvar must both have shape ({len(x)}, "
            f"{model.latent_dim}), got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    if (estimator == "score_baseline") != (baseline is not None):
        raise ValueError("gradient_samples: pass baseline=(B,) values with "
                         "estimator='score_baseline', and only with it")
    mu, logvar = mu.detach(), logvar.detach()
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype,
                      device=mu.device)
    if estimator == "reparameterised":
        z = (mu + std * eps).requires_grad_(True)
        f = log_likelihood_at(model, x, z)  # (N, B)
        (grad_z,) = torch.autograd.grad(f.sum(), z)  # samples are independent: per-sample
        return torch.cat([grad_z, grad_z * eps * std / 2], dim=-1).detach()
    with torch.no_grad():
        f = log_likelihood_at(model, x, mu + std * eps)  # (N, B)
        if baseline is not None:
            f = f - baseline.to(f)
        f = f.unsqueeze(-1)
        return torch.cat([f * eps / std, f * (eps**2 - 1) / 2], dim=-1)


def estimator_statistics(
    model,
    x: Tensor,
    mu: Tensor | None = None,
    logvar: Tensor | None = None,
    *,
    n_samples: int = 10_000,
    n_baseline: int = 1000,
    chunk: int = 1000,
    seed: int = 0,
) -> dict:
    """Mean and variance of a one-sample estimate of ``d f / d(mu, logvar)``, per estimator.

    Args:
        model, x: as in :func:`gradient_samples`.
        mu, logvar: ``(B, Z)``; default: ``model.encode(x)``.
        n_samples: ``N``, samples per image and estimator (their mean's standard error is
            ``sqrt(var / N)``).
        n_baseline: samples, independent of the others, whose mean of ``log p(x|z)`` is
            the baseline of ``"score_baseline"``.
        chunk: samples per forward pass (memory: about ``chunk * B`` decoder outputs).
        seed: seeds every draw; each estimator draws its own samples.

    Returns:
        ``{"mu", "logvar": (B, Z), "baseline": (B,), "baseline_sd": (B,), "n_samples": N,``
        (``baseline_sd``: the standard deviation of ``log p(x|z)`` over the baseline's
        samples, how much the estimated function changes with z) and for each name of
        :data:`ESTIMATORS` ``{"mean": (B, 2Z), "var": (B, 2Z)}``}``: the mean over the N
        samples and the (unbiased) variance of one sample, float64 on the CPU. Columns:
        the Z derivatives with respect to mu, then the Z with respect to logvar.
    """
    _check_model(model, "estimator_statistics")
    n_samples = positive_int(n_samples, "estimator_statistics: n_samples")
    if n_samples < 2:
        raise ValueError("estimator_statistics: n_samples must be >= 2 to measure a variance")
    n_baseline = positive_int(n_baseline, "estimator_statistics: n_baseline")
    chunk = positive_int(chunk, "estimator_statistics: chunk")
    device = model_device(model) or x.device
    x = x.to(device)
    was_training = model.training
    model.eval()
    try:
        if mu is None or logvar is None:
            with torch.no_grad():
                mu, logvar = model.encode(x)
        mu, logvar = mu.detach().to(device), logvar.detach().to(device)
        g = _generator(device, seed)
        with torch.no_grad():
            eps = torch.randn((n_baseline, *mu.shape), generator=g, dtype=mu.dtype,
                              device=device)
            log_lik = log_likelihood_at(model, x, mu + torch.exp(0.5 * logvar) * eps)
            baseline = log_lik.mean(0)
        out = {"mu": mu.cpu().double(), "logvar": logvar.cpu().double(),
               "baseline": baseline.cpu().double(),
               "baseline_sd": log_lik.std(0).cpu().double(), "n_samples": n_samples}
        for i, name in enumerate(ESTIMATORS):
            g = _generator(device, seed + 1 + i)
            total = torch.zeros(len(x), 2 * model.latent_dim, dtype=torch.float64)
            squares = torch.zeros_like(total)
            for start in range(0, n_samples, chunk):
                grads = gradient_samples(
                    model, x, mu, logvar, min(chunk, n_samples - start), estimator=name,
                    generator=g, baseline=baseline if name == "score_baseline" else None,
                ).double().cpu()
                total += grads.sum(0)
                squares += (grads**2).sum(0)
            mean = total / n_samples
            var = (squares - n_samples * mean**2) / (n_samples - 1)
            out[name] = {"mean": mean, "var": var.clamp_min(0.0)}
    finally:
        model.train(was_training)
    return out


def standard_error(stats: dict, name: str) -> Tensor:
    """Standard error of the mean of ``stats[name]``: ``sqrt(var / N)``, ``(B, 2Z)``."""
    return (stats[name]["var"] / stats["n_samples"]).sqrt()
