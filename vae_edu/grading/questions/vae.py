"""Questions on the VAE: reparameterisation, the closed-form KL, the ELBO, IWAE.

Conventions as in :mod:`vae_edu.losses`: ``logvar = log sigma^2``; per-sample values are
summed over pixels or latent dimensions; nats.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...losses import (
    bernoulli_nll,
    iwae_bound,
    kl_std_normal,
    log_normal,
    log_std_normal,
    reparameterize,
)
from .base import Call, Question, randint, randn

__all__ = [
    "IWAEQuestion",
    "KLQuestion",
    "LogWeightsQuestion",
    "NegativeELBOQuestion",
    "ReparameterizeQuestion",
]


def _gaussian_params(gen, b: int, z: int):
    return randn(gen, b, z), randn(gen, b, z, scale=1.5)  # mu, logvar (sigma from ~0.1 to ~10)


class ReparameterizeQuestion(Question):
    """``reparameterize(mu, logvar, eps) -> (B, Z)``: ``mu + exp(0.5 * logvar) * eps``.

    Reference: :func:`vae_edu.losses.reparameterize` with a generator that draws the same
    ``eps``.
    """

    id = answer = "reparameterize"
    what = "z"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, z = randint(gen, 3, 6), randint(gen, 2, 5)
            mu, logvar = _gaussian_params(gen, b, z)
            seed = randint(gen, 0, 2**31)
            eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(seed))
            calls.append(Call((mu, logvar, eps), {"seed": seed},
                              label="reparameterize(mu, logvar, eps)"))
        return calls

    def spec(self, cases):
        spec = super().spec(cases)
        for call in spec["calls"]:
            call.pop("kwargs", None)  # the seed is the grader's, not an argument
        return spec

    def reference(self, call, case=None):
        mu, logvar, _ = call.args
        gen = torch.Generator().manual_seed(call.kwargs["seed"])
        return reparameterize(mu, logvar, generator=gen)

    def mistakes(self, call, case=None):
        mu, logvar, eps = call.args
        return [
            ("you used the variance exp(logvar) = sigma^2 where the standard deviation "
             "sigma = exp(0.5 * logvar) was meant", mu + torch.exp(logvar) * eps),
            ("logvar is log sigma^2, not sigma: sigma = exp(0.5 * logvar)", mu + logvar * eps),
            ("you forgot to scale eps by sigma = exp(0.5 * logvar)", mu + eps),
            ("sigma = exp(0.5 * logvar), not exp(2 * logvar)", mu + torch.exp(2 * logvar) * eps),
        ]


class KLQuestion(Question):
    """``kl_std_normal(mu, logvar) -> (B,)``: ``KL(N(mu, sigma^2) || N(0, I))`` summed over
    the latent dimensions."""

    id = answer = "kl_std_normal"
    what = "KL"

    def cases(self, gen):
        calls = []
        for _ in range(4):
            b, z = randint(gen, 3, 7), randint(gen, 2, 6)
            calls.append(Call(_gaussian_params(gen, b, z), label="kl_std_normal(mu, logvar)"))
        return calls

    def reference(self, call, case=None):
        return kl_std_normal(*call.args)

    def mistakes(self, call, case=None):
        mu, lv = call.args
        return [
            ("your KL is off by a factor 2: did you drop the 1/2 in front of the sum?",
             -(1 + lv - mu**2 - lv.exp()).sum(1)),
            ("did you use log sigma where log sigma^2 was meant? logvar already IS "
             "log sigma^2, and sigma^2 = exp(logvar)",
             -0.5 * (1 + 2 * lv - mu**2 - torch.exp(2 * lv)).sum(1)),
            ("sigma^2 = exp(logvar), not exp(0.5 * logvar) (that is sigma)",
             -0.5 * (1 + lv - mu**2 - torch.exp(0.5 * lv)).sum(1)),
            ("sum over the latent dimensions instead of averaging",
             -0.5 * (1 + lv - mu**2 - lv.exp()).mean(1)),
            ("the formula has mu squared: -1/2 sum(1 + logvar - mu^2 - exp(logvar))",
             -0.5 * (1 + lv - mu - lv.exp()).sum(1)),
        ]


class NegativeELBOQuestion(Question):
    """``negative_elbo(logits, x, mu, logvar) -> ()``: mean over the batch of the Bernoulli
    NLL (summed over pixels) plus the KL (summed over latent dimensions), in nats."""

    id = answer = "negative_elbo"
    what = "negative ELBO"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, d, z = randint(gen, 3, 6), randint(gen, 10, 20), randint(gen, 2, 4)
            mu, logvar = _gaussian_params(gen, b, z)
            calls.append(Call((randn(gen, b, d, scale=2.0), torch.rand(b, d, generator=gen),
                               mu, logvar), label="negative_elbo(logits, x, mu, logvar)"))
        return calls

    def reference(self, call, case=None):
        logits, x, mu, logvar = call.args
        return (bernoulli_nll(logits, x) + kl_std_normal(mu, logvar)).mean()

    def mistakes(self, call, case=None):
        logits, x, mu, logvar = call.args
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        recon, kl = bce.sum(1), kl_std_normal(mu, logvar)
        return [
            ("you left out the KL term: the negative ELBO is recon + KL", recon.mean()),
            ("you left out the reconstruction term: the negative ELBO is recon + KL",
             kl.mean()),
            ("the KL is ADDED to the reconstruction loss, not subtracted", (recon - kl).mean()),
            ("sum the binary cross-entropy over the pixels instead of averaging",
             (bce.mean(1) + kl).mean()),
            ("average over the batch instead of summing", (recon + kl).sum()),
        ]


class LogWeightsQuestion(Question):
    """``log_weights(x, logits, z, mu, logvar) -> (K, B)``: importance log weights
    ``log p(x|z_k) + log p(z_k) - log q(z_k|x)`` for a Bernoulli decoder, N(0, I) prior
    and ``q = N(mu, exp(logvar))``.

    ``x: (B, D)``, ``logits: (K, B, D)`` (decoded from ``z``), ``z: (K, B, Z)``,
    ``mu, logvar: (B, Z)``.
    """

    id = answer = "log_weights"
    what = "log-weight tensor"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, k = randint(gen, 2, 4), randint(gen, 5, 8)
            d, z_dim = randint(gen, 8, 12), randint(gen, 2, 3)
            x = torch.bernoulli(torch.full((b, d), 0.5), generator=gen)
            mu, logvar = randn(gen, b, z_dim), randn(gen, b, z_dim, scale=0.5)
            z = mu + torch.exp(0.5 * logvar) * randn(gen, k, b, z_dim)
            calls.append(Call((x, randn(gen, k, b, d, scale=2.0), z, mu, logvar),
                              label="log_weights(x, logits, z, mu, logvar)"))
        return calls

    @staticmethod
    def _log_px(x, logits):
        k, b, d = logits.shape
        nll = bernoulli_nll(logits.reshape(k * b, d), x.expand(k, b, d).reshape(k * b, d))
        return -nll.view(k, b)

    def reference(self, call, case=None):
        x, logits, z, mu, logvar = call.args
        return self._log_px(x, logits) + log_std_normal(z) - log_normal(z, mu, logvar)

    def mistakes(self, call, case=None):
        x, logits, z, mu, logvar = call.args
        log_px, log_pz, log_q = self._log_px(x, logits), log_std_normal(z), log_normal(
            z, mu, logvar)
        return [
            ("SUBTRACT log q(z|x): the weight is p(x, z) / q(z|x)", log_px + log_pz + log_q),
            ("you left out the prior term log p(z)", log_px - log_q),
            ("you left out log q(z|x)", log_px + log_pz),
            ("log p(x|z) is MINUS the binary cross-entropy", -log_px + log_pz - log_q),
            ("in log q(z|x) the variance is exp(logvar): logvar is log sigma^2, not log sigma",
             log_px + log_pz - log_normal(z, mu, 2 * logvar)),
        ]


class IWAEQuestion(Question):
    """``iwae_log_px(log_weights) -> (B,)``: ``log (1/K) sum_k exp(w_k)``, computed stably
    (log weights around -1500 must work)."""

    id = answer = "iwae_log_px"
    what = "estimate"

    def cases(self, gen):
        calls = []
        for centre in (-20.0, -1500.0, -60.0):
            k, b = randint(gen, 5, 9), randint(gen, 2, 4)
            w = centre + randn(gen, k, b, scale=4.0)
            calls.append(Call((w,), label=f"iwae_log_px(log_weights around {centre:g})"))
        return calls

    def reference(self, call, case=None):
        return iwae_bound(*call.args)

    def mistakes(self, call, case=None):
        (w,) = call.args
        k = w.shape[0]
        return [
            ("your estimate is log K too high: the AVERAGE of the K weights is "
             "logsumexp(w, dim=0) - log K", torch.logsumexp(w, dim=0)),
            ("that is the average log weight (the ELBO estimate); the IWAE estimate is the log "
             "of the average weight: logsumexp(w, dim=0) - log K", w.mean(0)),
            ("exp(w) underflows to 0 for log weights around -1000, so log(mean(exp(w))) gives "
             "-inf: use torch.logsumexp(w, dim=0) - log K", torch.log(torch.exp(w).mean(0))),
            ("subtract log K, do not divide by K", torch.logsumexp(w, dim=0) / k),
            ("subtract log K (the natural log), not K", torch.logsumexp(w, dim=0) - k),
            ("use log K, not log10 K", torch.logsumexp(w, dim=0) - math.log10(k)),
        ]
