"""Questions on the VAE: reparameterisation, a free-bits KL, the ELBO of partly observed
images, importance log weights and the normalised IWAE weights.

Conventions as in :mod:`vae_edu.losses`: ``logvar = log sigma^2``; per-sample values are
summed over pixels or latent dimensions; nats.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...losses import (
    bernoulli_nll,
    kl_std_normal,
    log_normal,
    log_std_normal,
    reparameterize,
)
from .base import Call, Question, randint, randn, uniform

__all__ = [
    "IWAEWeightsQuestion",
    "KLFreeBitsQuestion",
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


def kl_per_dim(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)) of every latent dimension, unsummed: like mu."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def free_bits_kl(per_dim, free_bits):
    """sum_j max(free_bits, mean over the batch of per_dim[:, j]), a 0-d tensor."""
    return per_dim.mean(0).clamp(min=free_bits).sum()


class KLFreeBitsQuestion(Question):
    """``kl_free_bits(mu, logvar, free_bits) -> ()``: the KL term of the free-bits objective
    of Kingma et al. (2016, "Improved variational inference with inverse autoregressive
    flow", Appendix C), with one latent dimension per group:
    ``sum_j max(free_bits, (1/B) sum_b KL(q(z_j | x_b) || N(0, 1)))``, in nats.

    The floor applies per dimension to the BATCH-averaged KL; below it a dimension's KL
    costs nothing (gradient 0), so the encoder may use those nats freely. With
    ``free_bits = 0`` it is the batch mean of the usual KL.
    """

    id = answer = "kl_free_bits"
    what = "free-bits KL"
    twins = ("vae_edu.losses:kl_std_normal", "vae_edu.losses:kl_normal",
             "torch.distributions.kl:kl_divergence")

    def cases(self, gen):
        calls = []
        for i in range(4):
            b, z = randint(gen, 4, 8), randint(gen, 4, 7)
            # some dimensions close to the prior (KL far below the floor), some far from it
            scale = torch.where(torch.rand(z, generator=gen) < 0.5, 0.15, 1.0)
            mu, logvar = randn(gen, b, z) * scale, randn(gen, b, z, scale=1.2) * scale
            lam = 0.0 if i == 3 else round(uniform(gen, 0.25, 1.0), 3)
            calls.append(Call((mu, logvar, lam), label=f"kl_free_bits(mu, logvar, {lam:g})"))
        return calls

    def reference(self, call, case=None):
        mu, logvar, lam = call.args
        return free_bits_kl(kl_per_dim(mu, logvar), lam)

    def mistakes(self, call, case=None):
        mu, lv, lam = call.args
        per_dim = kl_per_dim(mu, lv)
        total = per_dim.sum(1).mean()
        return [
            ("your KL is off by a factor 2: did you drop the 1/2 in front of the sum?",
             free_bits_kl(2 * per_dim, lam)),
            ("did you use log sigma where log sigma^2 was meant? logvar already IS "
             "log sigma^2, and sigma^2 = exp(logvar)",
             free_bits_kl(kl_per_dim(mu, 2 * lv), lam)),
            ("the floor applies to the BATCH average of each dimension's KL: you took "
             "max(free_bits, KL) image by image, then averaged",
             per_dim.clamp(min=lam).sum(1).mean()),
            ("no floor per dimension: replace each latent dimension's batch-averaged KL by "
             "free_bits when it is smaller, then sum (a floor on the total, or none, is not "
             "the free-bits objective)", total),
            ("the floor is per latent DIMENSION, not on the total: clamp each dimension's "
             "batch-averaged KL at free_bits, then sum", total.clamp(min=lam)),
            ("the floor is per latent DIMENSION, not on the total: clamp each dimension's "
             "batch-averaged KL at free_bits, then sum",
             total.clamp(min=lam * per_dim.shape[1])),
        ]


class NegativeELBOQuestion(Question):
    """``negative_elbo(logits, x, mu, logvar, mask=None) -> ()``: the negative ELBO of
    partly observed images, ``-E_q[log p(x_o | z)] + KL(q(z | x) || N(0, I))`` averaged
    over the batch, in nats. ``mask: (B, D)``, 1 for an observed pixel and 0 for a missing
    one (``None``: all observed). The decoder factorises over pixels, so a missing pixel
    integrates out of p(x | z): its term leaves the sum, and nothing is renormalised.
    """

    id = answer = "negative_elbo"
    what = "negative ELBO"
    twins = ("vae_edu.losses:kl_std_normal", "vae_edu.losses:bernoulli_nll",
             "vae_edu.evaluate:negative_elbo")

    def cases(self, gen):
        calls = []
        for i in range(4):
            b, d, z = randint(gen, 3, 6), randint(gen, 10, 20), randint(gen, 2, 4)
            mu, logvar = _gaussian_params(gen, b, z)
            logits, x = randn(gen, b, d, scale=2.0), torch.rand(b, d, generator=gen)
            if i == 0:
                calls.append(Call((logits, x, mu, logvar),
                                  label="negative_elbo(logits, x, mu, logvar)"))
                continue
            keep = uniform(gen, 0.3, 0.8)
            mask = (torch.rand(b, d, generator=gen) < keep).float()
            mask[0] = 1.0  # one fully observed image
            calls.append(Call((logits, x, mu, logvar), {"mask": mask},
                              label="negative_elbo(logits, x, mu, logvar, mask=mask)"))
        return calls

    @staticmethod
    def _parts(call):
        logits, x, mu, logvar = call.args
        mask = call.kwargs.get("mask")
        mask = torch.ones_like(x) if mask is None else mask
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return logits, x, mask, bce, kl_std_normal(mu, logvar)

    def reference(self, call, case=None):
        _, _, mask, bce, kl = self._parts(call)
        return ((bce * mask).sum(1) + kl).mean()

    def mistakes(self, call, case=None):
        logits, x, mask, bce, kl = self._parts(call)
        recon = (bce * mask).sum(1)
        zeroed = F.binary_cross_entropy_with_logits(logits * mask, x * mask,
                                                    reduction="none").sum(1)
        observed = mask.sum(1).clamp(min=1)
        return [
            ("the missing pixels (mask 0) are not data: leave their terms out of the "
             "reconstruction NLL", (bce.sum(1) + kl).mean()),
            ("zeroing logits and x at the missing pixels does not remove them: a logit 0 "
             "against a target 0 still costs log 2 nats; multiply the per-pixel NLL by the "
             "mask instead", (zeroed + kl).mean()),
            ("sum the NLL over the observed pixels; do not divide by their number (that is "
             "not a log-likelihood of the observed pixels, and it reweights the KL)",
             (recon / observed + kl).mean()),
            ("you left out the KL term: the negative ELBO is recon + KL", recon.mean()),
            ("the KL is ADDED to the reconstruction loss, not subtracted", (recon - kl).mean()),
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


class IWAEWeightsQuestion(Question):
    """``iwae_weights(log_weights) -> (weights (K, B), ess (B,))``: the normalised importance
    weights ``w~_k = w_k / sum_j w_j`` (computed from the LOG weights, stably) and Kish's
    effective sample size ``1 / sum_k w~_k^2`` of each data point.

    The normalised weights are what the gradient of the IWAE bound puts on each sample
    (Burda et al. 2016, Section 3: ``grad L_K = E[sum_k w~_k grad log w_k]``); the ESS,
    between 1 and K, says how many of the K samples effectively count.
    """

    id = answer = "iwae_weights"
    what = "normalised weights and ESS"
    twins = ("vae_edu.losses:iwae_bound",)

    def cases(self, gen):
        calls = []
        for centre, spread in ((-20.0, 1.0), (-1500.0, 4.0), (-60.0, 0.3), (-300.0, 12.0)):
            k, b = randint(gen, 5, 9), randint(gen, 2, 4)
            # float64: in float32, w - logsumexp(w) near -1500 is off by ~1e-4 (one ulp of
            # 1500), and subtracting the max instead would be judged against other round-off
            w = (centre + randn(gen, k, b, scale=spread)).double()
            calls.append(Call((w,), label=f"iwae_weights(log_weights around {centre:g})"))
        return calls

    @staticmethod
    def _ess(weights):
        return 1.0 / weights.square().sum(0)

    def reference(self, call, case=None):
        (w,) = call.args
        weights = torch.softmax(w, dim=0)
        return weights, self._ess(weights)

    def mistakes(self, call, case=None):
        (w,) = call.args
        weights = torch.softmax(w, dim=0)
        naive = torch.exp(w) / torch.exp(w).sum(0)
        over_batch = torch.softmax(w, dim=1)
        return [
            ("exp(w) underflows to 0 for log weights around -1500, so exp(w) / sum exp(w) is "
             "0 / 0: subtract the largest log weight first (or use torch.softmax(w, dim=0))",
             (naive, self._ess(naive))),
            ("normalise over the K samples of each data point (dim 0), not over the batch",
             (over_batch, self._ess(over_batch))),
            ("the ESS is 1 / sum_k w~_k^2 (Kish), not sum_k w~_k^2",
             (weights, weights.square().sum(0))),
            ("the ESS is 1 / sum_k w~_k^2 with the NORMALISED weights (they sum to 1); "
             "1 / sum_k w~_k is always 1", (weights, 1.0 / weights.sum(0))),
            ("the ESS counts samples (between 1 and K): 1 / sum_k w~_k^2, not divided by K",
             (weights, self._ess(weights) / w.shape[0])),
        ]
