"""Problem set 04 (lecture 06, the network view): a general Gaussian KL, a Gaussian decoder
with a learned sigma and its optimal sigma^2, and a VAE trained to a held-out band.

Conventions as in :mod:`vae_edu.losses`: ``logvar = log sigma^2``; per-sample values
summed over pixels or latent dimensions; nats.
"""

from __future__ import annotations

import math

import torch

from ...losses import LOG_2PI, bernoulli_nll, kl_normal, kl_std_normal
from ..harness import decode
from ..hints import register
from .base import Call, randint, randn
from .simple import FunctionQuestion
from .train import TrainCases, TrainQuestion, reparam, secret_images, secret_noise

__all__ = ["GaussianNLLQuestion", "KLNormalQuestion", "OptimalSigmaQuestion", "TrainVAEQuestion"]


def _kl_calls(gen):
    calls = []
    for i in range(4):
        b, z = randint(gen, 3, 6), randint(gen, 2, 5)
        mu_q, lv_q = randn(gen, b, z), randn(gen, b, z, scale=1.2)
        if i == 3:  # a prior with one mean and variance per latent, broadcast over the batch
            mu_p, lv_p = randn(gen, z), randn(gen, z, scale=0.8)
        else:
            mu_p, lv_p = randn(gen, b, z), randn(gen, b, z, scale=1.2)
        calls.append(Call((mu_q, lv_q, mu_p, lv_p),
                          label="kl_normal(mu_q, logvar_q, mu_p, logvar_p)"))
    return calls


def _kl(mq, lq, mp, lp):
    return 0.5 * (lp - lq + (lq.exp() + (mq - mp) ** 2) / lp.exp() - 1)


KLNormalQuestion = FunctionQuestion(
    "kl_normal", "KL", _kl_calls, kl_normal,
    mistakes=(
        ("you computed KL(p || q): the first distribution, q, is the one the expectation is "
         "taken under", lambda mq, lq, mp, lp: _kl(mp, lp, mq, lq).sum(-1)),
        ("your KL is off by a factor 2: the Gaussian KL has a 1/2 in front",
         lambda mq, lq, mp, lp: (2 * _kl(mq, lq, mp, lp)).sum(-1)),
        ("logvar is log sigma^2: the variance is exp(logvar), not exp(logvar)^2",
         lambda mq, lq, mp, lp: _kl(mq, 2 * lq, mp, 2 * lp).sum(-1) / 1.0),
        ("the squared mean difference is divided by the PRIOR variance sigma_p^2",
         lambda mq, lq, mp, lp: (0.5 * (lp - lq + lq.exp() / lp.exp() + (mq - mp) ** 2 - 1)
                                 ).sum(-1)),
        ("sum over the latent dimensions instead of averaging",
         lambda mq, lq, mp, lp: _kl(mq, lq, mp, lp).mean(-1)),
        ("the constant is -1 per latent dimension, inside the 1/2",
         lambda mq, lq, mp, lp: (_kl(mq, lq, mp, lp) + 0.5).sum(-1)),
    ),
    twins=("vae_edu.losses:kl_normal", "torch.distributions.kl:kl_divergence"),
)
register(
    "kl_normal",
    "Write KL(q || p) = E_q[log q(z) - log p(z)] for ONE latent dimension first, with "
    "q = N(m_q, s_q^2) and p = N(m_p, s_p^2); lecture 06, 'The loss', states the case "
    "p = N(0, 1).",
    "E_q[(z - m_p)^2] = s_q^2 + (m_q - m_p)^2. The log-ratio of the normalisers gives "
    "log(s_p / s_q) = (logvar_p - logvar_q) / 2.",
    "Per dimension: 0.5 * (logvar_p - logvar_q + (s_q^2 + (m_q - m_p)^2) / s_p^2 - 1); sum "
    "over the last dimension. Broadcasting handles a prior of shape (Z,).",
)


def _nll_calls(gen):
    calls = []
    for _ in range(3):
        b, d = randint(gen, 3, 6), randint(gen, 10, 25)
        x, x_hat = torch.rand(b, d, generator=gen), torch.rand(b, d, generator=gen)
        calls.append(Call((x_hat, x, randn(gen, scale=1.5)),
                          label="gaussian_nll_learned(x_hat, x, log_sigma2)"))
    return calls


def _nll(x_hat, x, ls2):
    return 0.5 * (LOG_2PI + ls2 + (x - x_hat) ** 2 / ls2.exp())


GaussianNLLQuestion = FunctionQuestion(
    "gaussian_nll_learned", "NLL", _nll_calls,
    lambda x_hat, x, ls2: _nll(x_hat, x, ls2).sum(1),
    mistakes=(
        ("the normalising constant is missing: a density needs 0.5 * (log 2 pi + log sigma^2) "
         "per pixel; without log sigma^2 a learned sigma runs off to infinity",
         lambda x_hat, x, ls2: (0.5 * (x - x_hat) ** 2 / ls2.exp()).sum(1)),
        ("you left out 0.5 * log(2 pi) per pixel: fine for training, but then it is not an NLL "
         "in nats", lambda x_hat, x, ls2: (0.5 * (ls2 + (x - x_hat) ** 2 / ls2.exp())).sum(1)),
        ("log_sigma2 is log sigma^2: divide the squared error by sigma^2 = exp(log_sigma2), "
         "not by sigma", lambda x_hat, x, ls2: (0.5 * (LOG_2PI + ls2 + (x - x_hat) ** 2
                                                       / (0.5 * ls2).exp())).sum(1)),
        ("sum over the pixels instead of averaging",
         lambda x_hat, x, ls2: _nll(x_hat, x, ls2).mean(1)),
        ("your NLL is off by a factor 2: there is a 1/2 in front of every term",
         lambda x_hat, x, ls2: (2 * _nll(x_hat, x, ls2)).sum(1)),
    ),
    twins=("vae_edu.losses:gaussian_nll", "vae_edu.losses:gaussian_nll_from_mse",
           "torch.nn.functional:gaussian_nll_loss"),
)
register(
    "gaussian_nll_learned",
    "A Gaussian decoder N(x | x_hat, sigma^2 I) with ONE learned sigma shared by every pixel: "
    "write -log N(x_i | x_hat_i, sigma^2) for one pixel, then sum over the D pixels of each "
    "image (lecture 06, '\"Can be represented by MSE\": the Gaussian decoder').",
    "Per pixel: 0.5 * log(2 pi) + 0.5 * log sigma^2 + (x_i - x_hat_i)^2 / (2 sigma^2). Keep "
    "the log sigma^2 term: it is what stops a learned sigma from growing without bound.",
    "0.5 * (log(2 pi) + log_sigma2 + (x - x_hat)**2 * exp(-log_sigma2)), summed over dim 1: "
    "one value per image.",
)


def _opt_calls(gen):
    calls = []
    for _ in range(3):
        b, d = randint(gen, 4, 8), randint(gen, 10, 30)
        x = torch.rand(b, d, generator=gen)
        calls.append(Call((x + randn(gen, b, d, scale=float(randint(gen, 1, 5)) / 10), x),
                          label="optimal_log_sigma2(x_hat, x)"))
    return calls


OptimalSigmaQuestion = FunctionQuestion(
    "optimal_log_sigma2", "log sigma^2", _opt_calls,
    lambda x_hat, x: torch.log(((x - x_hat) ** 2).mean()),
    mistakes=(
        ("that is log sigma, the log of the STANDARD DEVIATION; the question asks for "
         "log sigma^2", lambda x_hat, x: 0.5 * torch.log(((x - x_hat) ** 2).mean())),
        ("the optimum averages the squared error over ALL B x D values (one sigma for every "
         "pixel), not sums it", lambda x_hat, x: torch.log(((x - x_hat) ** 2).sum())),
        ("return the log of the variance, not the variance itself",
         lambda x_hat, x: ((x - x_hat) ** 2).mean()),
        ("average over the images AND the pixels: you summed over the pixels first",
         lambda x_hat, x: torch.log(((x - x_hat) ** 2).sum(1).mean())),
    ),
)
register(
    "optimal_log_sigma2",
    "Fix x_hat. The total NLL over all B x D pixels, as a function of s = sigma^2, is "
    "0.5 * sum_i [log s + e_i / s] + const with e_i = (x_i - x_hat_i)^2. Set its derivative "
    "in s to zero (your derivation above).",
    "d/ds: 0.5 * sum_i [1/s - e_i / s^2] = 0 gives s* = mean_i e_i: the mean squared error "
    "over every value, images and pixels alike.",
    "torch.log of the mean of (x - x_hat)**2 over all values, a 0-d tensor.",
)


# --------------------------------------------------------------------------- train


LATENT = 16
#: held-out test images per measure: the SD of a -ELBO over draws of 500 is ~1.3 nats
HELD_OUT = 500


def train_conv_vae(profile: str, seed: int, experiment: str = "ps_conv_vae"):
    """The reference of ``train_conv_vae``: ``vae_edu.models.ConvVAE(16, (32, 64))``."""
    from ...models import ConvVAE

    return train_mlp_vae(profile, seed, experiment=experiment,
                         model=ConvVAE(latent_dim=LATENT, channels=(32, 64)), flat=False)


def train_mlp_vae(profile: str, seed: int, loss=None, experiment: str = "ps_vae", model=None,
                  flat: bool = True):
    """The reference of the VAE questions: ``vae_edu.models.VAE`` (784-256-16) trained on
    the shipped subset's training split with the budget ``experiment`` of ``profile``;
    ``loss(model, x) -> ()`` defaults to the negative ELBO."""
    from ...models import VAE
    from ...profiles import budget
    from ...seeding import seed_everything
    from ...train import fit
    from .train import subset_train

    b = budget(experiment, profile=profile)
    seed_everything(seed)
    model = model if model is not None else VAE(784, 256, LATENT)
    data = subset_train(b.train_size)

    def negative_elbo(m, batch):
        x = batch[0] if isinstance(batch, tuple | list) else batch
        mu, logvar = m.encode(x.flatten(1) if flat else x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        nll = bernoulli_nll(m.decode(z).flatten(1), x.flatten(1))
        return (nll + kl_std_normal(mu, logvar)).mean()

    fit(model, data, epochs=b.epochs, loss_fn=loss or negative_elbo, seed=seed,
        batch_size=b.batch_size, progress=False, verbose=False, device="cpu")
    return model.eval()


class TrainVAEQuestion(TrainQuestion):
    """``vae``: the student's VAE (``encode(x) -> (mu, logvar)`` with ``Z = 16``,
    ``decode(z) -> logits (B, 784)``) trained with their ``negative_elbo``; scored by its
    negative ELBO on held-out test images, estimated with one ``z`` per image drawn by the
    grader from the model's own ``q(z|x)``."""

    id = "train_vae"
    answer = "vae"
    reference_model = "`VAE(784, 256, 16)`"
    metric = "held-out negative ELBO"
    unit = "nats/image"
    direction = "below"
    seconds = {"smoke": 60.0, "default": 240.0, "full": 3600.0}
    experiment = "ps_vae"
    held_out = f"{HELD_OUT} test images"

    flat = True

    def cases(self, gen):
        x, _, ref = secret_images(gen, HELD_OUT, flat=self.flat)
        eps, noise = secret_noise(gen, HELD_OUT, LATENT)
        return TrainCases([Call((ref,), label="vae.encode(x)", method="encode"),
                           Call((reparam(0, noise),), label="vae.decode(z)", method="decode")],
                          {"x": x, "eps": eps})

    def measure(self, cases, outputs):
        mu, logvar = outputs[0]["output"]
        return elbo_from_outputs(cases.held["x"], cases.held["eps"], mu, logvar,
                                 outputs[1]["output"], outputs[1].get("made"))

    def train_reference(self, profile, seed):
        return train_mlp_vae(profile, seed, experiment=self.experiment)

    def untrained(self):
        """The reference architecture at its initialisation (seed 0)."""
        return untrained_vae()

    def baselines(self, profile):
        shape = (784,) if self.flat else (1, 28, 28)
        return {"untrained": self.untrained(),
                "mean image": self.mean_image_baseline(profile, LATENT, shape)}

    def advice(self):
        return ("train longer within the budget, check negative_elbo above (nats per image, "
                "summed over pixels), and keep decode returning logits")


def untrained_vae():
    """``vae_edu.models.VAE(784, 256, 16)`` at its initialisation with seed 0: the
    untrained baseline of the MLP VAE questions."""
    from ...models import VAE
    from ...seeding import seed_everything

    seed_everything(0)
    return VAE(784, 256, LATENT).eval()


def elbo_from_outputs(x, eps, mu, logvar, logits, made) -> float:
    """``mean_b [BCE(logits_b, x_b) summed + KL(q_b || N(0, I))]`` from recorded outputs,
    after checking that the decoder was called on the grader's ``z = mu + sigma * eps``."""
    for name, t, shape in (("mu", mu, (x.shape[0], LATENT)), ("logvar", logvar,
                                                              (x.shape[0], LATENT))):
        if not torch.is_tensor(t) or tuple(t.shape) != shape:
            raise ValueError(f"encode should return {name} of shape {shape}, got "
                             f"{tuple(t.shape) if torch.is_tensor(t) else type(t).__name__}")
    if isinstance(made, dict):
        made = decode(made)
    mu, logvar = mu.double(), logvar.double()
    z = mu + torch.exp(0.5 * logvar) * eps.double()
    if made is not None and not torch.allclose(made.double(), z, rtol=1e-3, atol=1e-4):
        raise ValueError("the decoder was not called on the codes drawn from q(z|x)")
    if not torch.is_tensor(logits) or logits.numel() != x.numel():
        raise ValueError(f"decode should return logits with {x[0].numel()} values per image")
    x = x.reshape(len(x), -1).double()
    logits = logits.double().reshape(x.shape)
    value = (bernoulli_nll(logits, x) + kl_std_normal(mu, logvar)).mean()
    value = float(value)
    return value if math.isfinite(value) else math.inf
