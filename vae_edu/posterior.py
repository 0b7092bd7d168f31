"""Posteriors of a trained VAE: per-image optimised q (the amortisation gap), the aggregate
posterior q(z) = E_x q(z|x), and the bounds on log p(x) of a set of images.

* :func:`elbo_of` — the ELBO of any diagonal Gaussian ``q = N(mu, diag(exp(logvar)))`` for
  each image: ``E_q log p(x|z)`` by Monte Carlo, ``KL(q || N(0, I))`` in closed form.
* :func:`optimise_posterior` — maximise that ELBO over ``(mu, logvar)`` of each image
  separately with Adam, the decoder fixed: the best Gaussian posterior the family allows,
  without an encoder.  ``ELBO(optimised) - ELBO(encoder)`` is the **amortisation gap** of
  Cremer, Li & Duvenaud (ICML 2018), "Inference suboptimality in variational autoencoders".
* :func:`amortisation_gap` — both ELBOs on the same images, with the same samples.
* :func:`iwae_of` — ``IWAE_k`` with any diagonal Gaussian as the proposal (e.g. the
  optimised q*, a better proposal than the encoder's q for estimating ``log p(x)``).
* :func:`aggregate_posterior_sample` and :func:`aggregate_posterior_log_density` — the
  mixture ``q(z) = (1/N) sum_n q(z | x_n)`` over a data set: samples and exact density.
* :func:`bound_estimates` — per image, the ELBO and IWAE_k for several k from one call.

All values are in nats per image.  Shape letters: ``B`` images, ``Z`` latents, ``S``
samples of z per image, ``N`` images of a data set, ``M`` points of z.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .data import MNISTSplit
from .estimators import log_likelihood_at
from .evaluate import iwae_nll
from .losses import kl_std_normal, log_normal
from .models.condition import is_conditional
from .train import evaluation_mode, model_device
from .validation import positive_float, positive_int

__all__ = [
    "aggregate_posterior_log_density",
    "aggregate_posterior_sample",
    "amortisation_gap",
    "bound_estimates",
    "elbo_of",
    "iwae_of",
    "optimise_posterior",
]


def _check(model, where: str) -> None:
    if not (hasattr(model, "encode") and hasattr(model, "decode")):
        raise TypeError(f"{where}: expected a VAE of vae_edu.models, got {type(model).__name__}")
    if is_conditional(model):
        raise TypeError(f"{where}: {type(model).__name__} is conditional; pass an "
                        "unconditional VAE")


def _check_q(model, x: Tensor, mu: Tensor, logvar: Tensor, where: str) -> None:
    want = (len(x), model.latent_dim)
    if tuple(mu.shape) != want or tuple(logvar.shape) != want:
        raise ValueError(
            f"{where}: mu and logvar must both have shape {want} (one Gaussian per image), "
            f"got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )


def _expected_log_lik(model, x, mu, logvar, eps: Tensor) -> Tensor:
    """Monte Carlo ``E_q log p(x|z)`` with the given ``eps (S, B, Z)``: ``(B,)``."""
    z = mu + torch.exp(0.5 * logvar) * eps
    return log_likelihood_at(model, x, z).mean(dim=0)


def elbo_of(
    model,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    n_samples: int = 1000,
    chunk: int = 100,
    seed: int = 0,
) -> Tensor:
    """``ELBO(x; q) = E_q log p(x|z) - KL(q || N(0, I))`` per image for a given Gaussian q.

    Args:
        model: an unconditional VAE (its decoder gives ``log p(x|z)``).
        x: ``(B, ...)`` images; ``mu``, ``logvar``: ``(B, Z)``, q of each image.
        n_samples: ``S`` samples of z per image for the expectation (its Monte Carlo error
            is ``sd(log p(x|z)) / sqrt(S)``).
        chunk: samples per forward pass.
        seed: the draws of eps; the same seed gives the same eps for any (mu, logvar)
            of the same shape (common random numbers, for low-noise differences).

    Returns:
        ``(B,)`` in nats, on the CPU, float64.
    """
    _check(model, "elbo_of")
    _check_q(model, x, mu, logvar, "elbo_of")
    n_samples = positive_int(n_samples, "elbo_of: n_samples")
    chunk = positive_int(chunk, "elbo_of: chunk")
    device = model_device(model) or x.device
    x, mu, logvar = x.to(device), mu.detach().to(device), logvar.detach().to(device)
    g = torch.Generator(device=device).manual_seed(int(seed))
    total = torch.zeros(len(x), dtype=torch.float64)
    with evaluation_mode(model):
        for start in range(0, n_samples, chunk):
            s = min(chunk, n_samples - start)
            eps = torch.randn((s, *mu.shape), generator=g, dtype=mu.dtype, device=device)
            total += _expected_log_lik(model, x, mu, logvar, eps).double().cpu() * s
        kl = kl_std_normal(mu, logvar).double().cpu()
    return total / n_samples - kl



def iwae_of(
    model,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    *,
    k: int = 1000,
    chunk: int = 100,
    seed: int = 0,
) -> Tensor:
    """``IWAE_k`` per image with the proposal ``q = N(mu, diag(exp(logvar)))``.

    ``log (1/k) sum_i w_i`` with ``w_i = p(x|z_i) p(z_i) / q(z_i)`` and ``z_i ~ q``: a
    lower bound on ``log p(x)`` in expectation for *any* proposal q (Burda et al. 2016
    use the encoder's). How tight it is at a given k depends on how much the weights vary
    (for large k the gap is about ``chi^2(p(z|x) || q) / 2k``), not on q's ELBO: a q with
    a higher ELBO can still give a looser bound. With the exact posterior every weight
    equals ``p(x)``.

    Args:
        model: an unconditional VAE (decoder and ``N(0, I)`` prior).
        x: ``(B, ...)`` images; ``mu``, ``logvar``: ``(B, Z)``, the proposal of each image.
        k: importance samples per image; chunk: samples per forward pass.
        seed: the draws of eps (the same seed gives the same eps for any proposal of the
            same shape, as in :func:`elbo_of`).

    Returns:
        ``(B,)`` in nats, on the CPU, float64.
    """
    _check(model, "iwae_of")
    _check_q(model, x, mu, logvar, "iwae_of")
    k = positive_int(k, "iwae_of: k")
    chunk = positive_int(chunk, "iwae_of: chunk")
    device = model_device(model) or x.device
    x, mu, logvar = x.to(device), mu.detach().to(device), logvar.detach().to(device)
    g = torch.Generator(device=device).manual_seed(int(seed))
    log_sum = None  # running log sum_i w_i, (B,)
    with evaluation_mode(model), torch.no_grad():
        for start in range(0, k, chunk):
            s = min(chunk, k - start)
            eps = torch.randn((s, *mu.shape), generator=g, dtype=mu.dtype, device=device)
            z = mu + torch.exp(0.5 * logvar) * eps  # (s, B, Z)
            log_w = (log_likelihood_at(model, x, z) + model.log_prior(z)
                     - log_normal(z, mu, logvar)).double().cpu()
            part = torch.logsumexp(log_w, dim=0)
            log_sum = part if log_sum is None else torch.logaddexp(log_sum, part)
    return log_sum - math.log(k)


@torch.enable_grad()
def optimise_posterior(
    model,
    x: Tensor,
    *,
    steps: int = 500,
    lr: float = 0.01,
    n_samples: int = 8,
    init: tuple[Tensor, Tensor] | None = None,
    seed: int = 0,
) -> dict:
    """Fit one Gaussian ``q_n = N(mu_n, diag(exp(logvar_n)))`` to each image by maximising
    its ELBO with Adam, the decoder fixed (no encoder: "non-amortised" inference).

    Each step estimates ``sum_n ELBO(x_n; q_n)`` with ``n_samples`` reparameterised samples
    per image (KL in closed form) and takes one Adam step on every ``(mu_n, logvar_n)``;
    the images do not interact (Adam scales each coordinate separately).  The learning
    rate falls linearly from ``lr`` to 0 over the steps, so the last iterates stop
    jittering around the optimum.

    Args:
        model: an unconditional VAE; its parameters are not changed and get no gradient.
        x: ``(B, ...)`` images.
        steps: Adam steps.
        lr: the first learning rate (per coordinate of mu and logvar; logvar is
            ``log sigma**2``).
        n_samples: samples of z per image and step.
        init: ``(mu, logvar)`` to start from, ``(B, Z)`` each; default ``model.encode(x)``
            (so the ELBO starts at the encoder's).
        seed: the draws of eps.

    Returns:
        ``{"mu", "logvar": (B, Z), "trace": (steps,)}`` on the CPU: the optimised q of each
        image and, per step, the batch mean of the (noisy) ELBO estimate before the step.
    """
    _check(model, "optimise_posterior")
    steps = positive_int(steps, "optimise_posterior: steps")
    lr = positive_float(lr, "optimise_posterior: lr")
    n_samples = positive_int(n_samples, "optimise_posterior: n_samples")
    device = model_device(model) or x.device
    x = x.to(device)
    was_training = model.training
    model.eval()
    try:
        if init is None:
            with torch.no_grad():
                init = model.encode(x)
        mu0, logvar0 = init
        _check_q(model, x, mu0, logvar0, "optimise_posterior")
        mu = mu0.detach().to(device).clone().requires_grad_(True)
        logvar = logvar0.detach().to(device).clone().requires_grad_(True)
        opt = torch.optim.Adam([mu, logvar], lr=lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0 - t / steps)
        g = torch.Generator(device=device).manual_seed(int(seed))
        trace = torch.empty(steps, dtype=torch.float64)
        for t in range(steps):
            eps = torch.randn((n_samples, *mu.shape), generator=g, dtype=mu.dtype,
                              device=device)
            elbo = _expected_log_lik(model, x, mu, logvar, eps) - kl_std_normal(mu, logvar)
            grads = torch.autograd.grad(-elbo.sum(), [mu, logvar])
            mu.grad, logvar.grad = grads
            opt.step()
            schedule.step()
            trace[t] = elbo.detach().mean().double().cpu()
    finally:
        model.train(was_training)
    return {"mu": mu.detach().cpu(), "logvar": logvar.detach().cpu(), "trace": trace}


def amortisation_gap(
    model,
    x: Tensor,
    *,
    steps: int = 500,
    lr: float = 0.01,
    n_samples: int = 8,
    n_eval: int = 1000,
    seed: int = 0,
) -> dict:
    """The encoder's ELBO and the per-image optimised ELBO of the same images.

    Both are evaluated by :func:`elbo_of` with the same ``n_eval`` samples of eps (common
    random numbers), so their difference, the amortisation gap, is measured with far
    less noise than either ELBO.

    Returns:
        ``{"encoder": (B,), "optimised": (B,), "mu", "logvar": (B, Z), "trace": (steps,)}``:
        ELBOs in nats per image (float64, CPU) and :func:`optimise_posterior`'s result.
    """
    _check(model, "amortisation_gap")
    device = model_device(model) or x.device
    x = x.to(device)
    with evaluation_mode(model):
        mu_enc, logvar_enc = model.encode(x)
    best = optimise_posterior(model, x, steps=steps, lr=lr, n_samples=n_samples,
                              init=(mu_enc, logvar_enc), seed=seed)
    encoder = elbo_of(model, x, mu_enc, logvar_enc, n_samples=n_eval, seed=seed + 1)
    optimised = elbo_of(model, x, best["mu"].to(device), best["logvar"].to(device),
                        n_samples=n_eval, seed=seed + 1)
    return {"encoder": encoder, "optimised": optimised, **best}


# ----------------------------------------------------------------------------- q(z)


def _q_params(model, data, batch_size: int = 500) -> tuple[Tensor, Tensor]:
    """``(mu, logvar)`` of q(z|x) for every image of ``data``: two ``(N, Z)`` tensors."""
    _check(model, "aggregate posterior")
    if isinstance(data, MNISTSplit):
        images = data.images
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        images = data[0]
    elif torch.is_tensor(data):
        images = data
    else:
        raise TypeError("aggregate posterior: expected an MNISTSplit, a tensor of images or "
                        f"a pair (images, labels), got {type(data).__name__}")
    if len(images) == 0:
        raise ValueError("aggregate posterior: the data is empty")
    device = model_device(model) or images.device
    mus, logvars = [], []
    with evaluation_mode(model):
        for start in range(0, len(images), batch_size):
            mu, logvar = model.encode(images[start : start + batch_size].to(device))
            mus.append(mu.float().cpu())
            logvars.append(logvar.float().cpu())
    return torch.cat(mus), torch.cat(logvars)


def aggregate_posterior_sample(model, data, *, n_per_image: int = 1, seed: int = 0) -> Tensor:
    """Samples of the aggregate posterior ``q(z) = (1/N) sum_n q(z | x_n)``.

    Draws ``n_per_image`` codes ``z ~ q(z | x_n)`` for every image of ``data`` (an
    MNISTSplit, images, or (images, labels)): ``(n_per_image * N, Z)`` on the CPU, image by
    image within each of the ``n_per_image`` rounds.  If the VAE matched its prior
    perfectly, these would be samples of ``N(0, I)``.
    """
    n_per_image = positive_int(n_per_image, "aggregate_posterior_sample: n_per_image")
    mu, logvar = _q_params(model, data)
    g = torch.Generator().manual_seed(int(seed))
    eps = torch.randn((n_per_image, *mu.shape), generator=g)
    return (mu + torch.exp(0.5 * logvar) * eps).reshape(-1, mu.shape[1])


def aggregate_posterior_log_density(model, data, z: Tensor, *, chunk: int = 1000) -> Tensor:
    """Exact ``log q(z) = log (1/N) sum_n N(z | mu_n, diag(exp(logvar_n)))``, in nats.

    Args:
        model, data: the VAE and the ``N`` images whose posteriors make the mixture.
        z: ``(M, Z)`` points.
        chunk: points per pass (memory: ``chunk * N * Z`` floats).

    Returns:
        ``(M,)`` on the CPU (float64).  Compare with ``log_std_normal(z)``, the prior.
    """
    chunk = positive_int(chunk, "aggregate_posterior_log_density: chunk")
    mu, logvar = _q_params(model, data)
    mu, logvar = mu.double(), logvar.double()
    z = torch.as_tensor(z).double().cpu()
    if z.dim() != 2 or z.shape[1] != mu.shape[1]:
        raise ValueError(f"aggregate_posterior_log_density: expected z of shape (M, "
                         f"{mu.shape[1]}), got {tuple(z.shape)}")
    out = []
    for start in range(0, len(z), chunk):
        part = z[start : start + chunk, None, :]  # (m, 1, Z) against (N, Z)
        out.append(torch.logsumexp(log_normal(part, mu, logvar), dim=1) - math.log(len(mu)))
    return torch.cat(out)


# ----------------------------------------------------------------------------- bounds


def bound_estimates(
    model,
    x: Tensor,
    ks: Sequence[int] = (1, 10, 100, 1000),
    *,
    n_repeat: int = 100,
    seed: int = 0,
) -> dict:
    """Per image: the ELBO (one sample and ``n_repeat`` samples) and ``IWAE_k`` for each k.

    Everything is computed with separate draws (seeded from ``seed``), as a reader who
    calls :func:`vae_edu.evaluate.negative_elbo` and then :func:`~vae_edu.evaluate.iwae_nll`
    would get:

    * ``"elbo_1"``: ``log p(x|z) - KL(q || p(z))`` with one z (KL in closed form);
    * ``"elbo_mean"``: the same with ``E_q log p(x|z)`` averaged over ``n_repeat`` samples;
    * ``"iwae"``: ``{k: IWAE_k (B,)}``; ``IWAE_1`` is one log weight
      ``log p(x|z) + log p(z) - log q(z|x)`` (the KL by one sample, not in closed form);
    * ``"log_weight_mean"``: the mean of ``n_repeat`` log weights, another estimate of the
      ELBO (the average of ``n_repeat`` independent ``IWAE_1``).

    Returns:
        the dict above, every value ``(B,)`` float64 on the CPU, in nats (bounds on
        ``log p(x)``, not their negation).
    """
    _check(model, "bound_estimates")
    ks = [positive_int(k, "bound_estimates: ks") for k in ks]
    n_repeat = positive_int(n_repeat, "bound_estimates: n_repeat")
    device = model_device(model) or x.device
    x = x.to(device)
    g = torch.Generator(device=device).manual_seed(int(seed))
    with evaluation_mode(model):
        mu, logvar = model.encode(x)
        kl = kl_std_normal(mu, logvar)
        eps = torch.randn((1, *mu.shape), generator=g, dtype=mu.dtype, device=device)
        elbo_1 = _expected_log_lik(model, x, mu, logvar, eps) - kl
        eps = torch.randn((n_repeat, *mu.shape), generator=g, dtype=mu.dtype, device=device)
        elbo_mean = _expected_log_lik(model, x, mu, logvar, eps) - kl
        log_weights = model.log_weights(x, k=n_repeat, generator=g)  # (n_repeat, B)
        iwae = {k: -iwae_nll(model, x, k=k, generator=g).double().cpu() for k in ks}
    return {
        "elbo_1": elbo_1.double().cpu(), "elbo_mean": elbo_mean.double().cpu(),
        "log_weight_mean": log_weights.mean(0).double().cpu(), "iwae": iwae,
    }
