"""Problem set 06 (lecture 09): L_hist's weights, L_mah through the colour-field PCA, a
numerically stable MDN NLL, and a mixture density network trained on an ambiguous toy
and measured on fresh samples of it."""

from __future__ import annotations

import math

import torch

from ...colorization.losses import mdn_nll
from ..hints import register
from .base import Call, randint, randn
from .simple import FunctionQuestion
from .train import TrainCases, TrainQuestion

__all__ = ["HistogramWeightsQuestion", "MahalanobisQuestion", "StableMDNQuestion",
           "TrainMDNQuestion"]


def _hist_calls(gen):
    """Raw ab fields ``(N, 2, H, W)``: a peaked colour distribution, some pixels outside
    ``[-limit, limit]`` (they fall in the border bins), every value at least 5 % of a bin
    away from a bin edge, so that float32 and float64 binning agree."""
    calls = []
    for _ in range(4):
        n_img, h, w = randint(gen, 3, 5), randint(gen, 3, 5), randint(gen, 4, 6)
        bins = randint(gen, 4, 8)
        limit = (0.6, 0.8, 1.0)[randint(gen, 0, 2)]
        width = 2 * limit / bins  # of one bin
        shape = (n_img, 2, h, w)
        # bin numbers from -2 to bins + 1, most of them low along a and high along b
        u = torch.rand(shape, generator=gen) ** 2
        u[:, 1] = 1 - u[:, 1]
        index = (u * (bins + 4)).floor() - 2
        offset = 0.05 + 0.9 * torch.rand(shape, generator=gen)
        color = ((index + offset) * width - limit).float()
        mix = round(float(torch.rand((), generator=gen)) * 0.9 + 0.05, 3)
        calls.append(Call((color, bins, limit, mix),
                          label=f"histogram_weights(color, {bins}, {limit}, {mix})"))
    return calls


def hist_weights(color, bins, limit, mix, normalise="prior", order="ab", clip=True,
                 rounding="floor"):
    """The reference (keyword defaults) and known mistakes of ``histogram_weights``."""
    scaled = (color.double() + limit) * (bins / (2 * limit))
    i = scaled.round() if rounding == "round" else scaled.floor()
    if clip:
        i = i.clamp(0, bins - 1)
    else:
        i = i.masked_fill((i < 0) | (i > bins - 1), -1)
    a, b = i[:, 0].long(), i[:, 1].long()
    q = a * bins + b if order == "ab" else b * bins + a
    q = q.flatten()
    q = q[(a.flatten() >= 0) & (b.flatten() >= 0)]
    counts = torch.bincount(q, minlength=bins * bins).double()
    prior = counts / counts.sum()
    w = 1.0 / ((1 - mix) * prior + mix / prior.numel())
    if normalise == "prior":
        return w / (prior * w).sum()
    if normalise == "mean":
        return w / w.mean()
    if normalise == "one":
        w = 1.0 / ((1 - mix) * prior + mix)
        return w / (prior * w).sum()
    return w


HistogramWeightsQuestion = FunctionQuestion(
    "histogram_weights", "weights", _hist_calls, hist_weights,
    mistakes=(
        ("the bin of a pixel is q = i_a * bins + i_b (a along the rows of the ab grid); you "
         "swapped a and b", lambda *a: hist_weights(*a, order="ba")),
        ("colours outside [-limit, limit] fall in the BORDER bins (clamp i to 0 .. bins - 1); "
         "do not drop them", lambda *a: hist_weights(*a, clip=False)),
        ("bin i covers [-limit + i * size, -limit + (i + 1) * size): take the floor of "
         "(value + limit) / size, do not round it", lambda *a: hist_weights(*a, rounding="round")),
        ("normalise so that a TRAINING PIXEL weighs 1 on average: sum_q p(q) w(q) = 1, not "
         "the plain mean over bins", lambda *a: hist_weights(*a, normalise="mean")),
        ("normalise the weights: sum_q p(q) w(q) = 1", lambda *a: hist_weights(*a, normalise=None)),
        ("mix the prior with the UNIFORM distribution 1/Q, not with 1",
         lambda *a: hist_weights(*a, normalise="one")),
    ),
    twins=("vae_edu.colorization.losses:ColorHistogram.fit",
           "vae_edu.colorization.losses:ColorHistogram.bin_index"),
)
register("histogram_weights",
         "Lecture 09, 'L_hist: rare colours count more', uses ColorHistogram for the binning "
         "and prints only the weights from its prior; here you bin the raw ab pixels "
         "yourself, then weight as the lecture does.",
         "Bin side size = 2 limit / bins; per axis i = floor((value + limit) / size), clamped "
         "to 0 .. bins - 1; the bin of a pixel is i_a * bins + i_b; torch.bincount with "
         "minlength = bins**2 counts them, and p = counts / number of pixels.",
         "w = 1 / ((1 - mix) p + mix / Q), then divide by sum_q p(q) w(q) (Q = bins**2).")


def _mah_calls(gen):
    calls = []
    for _ in range(3):
        b, h, w = randint(gen, 2, 4), randint(gen, 2, 3), randint(gen, 2, 3)
        d = 2 * h * w
        k = randint(gen, 1, d - 1)
        comps = torch.linalg.qr(randn(gen, d, d))[0][:, :k]
        variances = torch.sort(torch.rand(k, generator=gen) * 2 + 0.5, descending=True).values
        resid = float(torch.rand((), generator=gen)) * 0.1 + 0.01
        calls.append(Call((randn(gen, b, 2, h, w), randn(gen, b, 2, h, w), comps, variances,
                           round(resid, 4)),
                          label="mahalanobis_pca(pred, target, components, variances, "
                          "residual_variance)"))
    return calls


def mahalanobis(pred, target, comps, variances, resid, residual=True, std=False):
    d = (target - pred).flatten(1)
    coords = d @ comps
    along = (coords**2 / (variances.sqrt() if std else variances)).sum(1)
    if not residual:
        return along.mean()
    across = ((d - coords @ comps.T) ** 2).sum(1) / resid
    return (along + across).mean()


MahalanobisQuestion = FunctionQuestion(
    "mahalanobis_pca", "L_mah", _mah_calls, mahalanobis,
    mistakes=(
        ("the residual outside the top-k components counts too: add ||d - U U^T d||^2 / "
         "residual_variance", lambda *a: mahalanobis(*a, residual=False)),
        ("divide each squared coordinate by the component's VARIANCE, not its standard "
         "deviation", lambda *a: mahalanobis(*a, std=True)),
    ),
    twins=("vae_edu.colorization.losses:mahalanobis_loss",),
)
register("mahalanobis_pca",
         "Lecture 09, L_mah: measure the error d = target - pred in the coordinates of the "
         "colour-field PCA, each scaled by its variance.",
         "coords = d @ U (B, k); the residual r = d - coords @ U^T lies outside the top-k "
         "subspace and has its own variance.",
         "sum_i coords_i^2 / variances_i + ||r||^2 / residual_variance, averaged over the batch.")


def _mdn_calls(gen):
    calls = []
    for far in (0.0, 0.0, 50.0):
        b, m, z = randint(gen, 3, 6), randint(gen, 2, 5), randint(gen, 2, 8)
        sigma = round(float(torch.rand((), generator=gen)) * 0.2 + 0.05, 3)
        target = randn(gen, b, z) + far  # far: codes many sigmas from every component
        calls.append(Call((randn(gen, b, m, scale=2.0), randn(gen, b, m, z), target, sigma),
                          label=f"mdn_nll_stable(logits, means, z, {sigma})"
                          + (" with z far from every mean" if far else "")))
    return calls


def _mdn_naive(logits, means, z, sigma):
    dim = z.shape[1]
    sq = (z.unsqueeze(1) - means).pow(2).sum(-1)
    dens = torch.exp(-0.5 * sq / sigma**2) / (2 * math.pi * sigma**2) ** (dim / 2)
    return -torch.log((torch.softmax(logits, 1) * dens).sum(1)).mean()


def _mdn_no_const(logits, means, z, sigma):
    sq = (z.unsqueeze(1) - means).pow(2).sum(-1)
    return -torch.logsumexp(torch.log_softmax(logits, 1) - 0.5 * sq / sigma**2, 1).mean()


StableMDNQuestion = FunctionQuestion(
    "mdn_nll_stable", "NLL", _mdn_calls, mdn_nll,
    mistakes=(
        ("far-away codes give exp(-huge) = 0 and log 0 = -inf: stay in log space, "
         "torch.logsumexp over the components of log_softmax(logits) + log N(z | mu_i, "
         "sigma^2 I)", _mdn_naive),
        ("keep the normalising constant of each Gaussian: -Z (log sigma + 0.5 log 2 pi)",
         _mdn_no_const),
    ),
    twins=("vae_edu.colorization.losses:mdn_nll",),
)
register("mdn_nll_stable",
         "Lecture 09's MDN: -log sum_i pi_i N(z | mu_i, sigma^2 I) per example, averaged.",
         "Write log pi_i + log N(z | mu_i, sigma^2 I) for every component first: log_softmax "
         "for the weights, the Gaussian log density in closed form.",
         "torch.logsumexp of those M terms (dim=1), negated, averaged over the batch: it "
         "stays finite when every exp would underflow.")

MDN_SIGMA, MDN_COMPONENTS, MDN_HELD_OUT = 0.1, 4, 1000


class TrainMDNQuestion(TrainQuestion):
    """``mdn``: a mixture density network for ``vae_edu.toys.two_branch_colours``:
    ``mdn(g)`` with ``g: (B, 1)`` returns ``(logits (B, M), means (B, M, 2))``, any M; the
    grader draws fresh (g, z) pairs from the toy and computes the NLL of z under the
    mixture with sigma = 0.1 itself."""

    id = "train_mdn"
    answer = "mdn"
    reference_model = "a 1-64-64-12 tanh MLP with M = 4"
    experiment = "ps_mdn"
    train_items = "samples of the toy"
    held_out = f"{MDN_HELD_OUT} fresh (g, z) pairs of the toy"
    metric = "held-out mixture NLL"
    unit = "nats/example"
    direction = "below"
    resolution = 0.01
    # the baselines (one Gaussian: ~20 nats) are off any useful scale with sigma = 0.1: the
    # margin is 0.1 nats/example (sound architectures measured -1.808..-1.821, Bayes ~-1.82)
    gap_fraction = 0.0
    min_margin = 0.1
    seconds = {"smoke": 30.0, "default": 120.0, "full": 600.0}

    def cases(self, gen):
        from ...toys import two_branch_colours

        g, z = two_branch_colours(MDN_HELD_OUT, generator=gen)
        return TrainCases([Call((g,), label="mdn(g)", method="__call__")], {"z": z})

    def measure(self, cases, outputs):
        out = outputs[0]["output"]
        z = cases.held["z"]
        if not (isinstance(out, tuple | list) and len(out) == 2):
            raise ValueError("mdn(g) should return (logits, means)")
        logits, means = out
        if (not torch.is_tensor(logits) or not torch.is_tensor(means) or logits.dim() != 2
                or tuple(means.shape) != (len(z), logits.shape[1], 2)):
            raise ValueError(f"expected logits ({len(z)}, M) and means ({len(z)}, M, 2)")
        value = float(mdn_nll(logits.double(), means.double(), z.double(), MDN_SIGMA))
        return value if math.isfinite(value) else math.inf

    def train_reference(self, profile, seed):
        return train_mdn(profile, seed)

    def baselines(self, profile):
        from ...profiles import budget
        from ...seeding import seed_everything
        from ...toys import two_branch_colours

        seed_everything(0)
        n = budget("ps_mdn", profile=profile).train_size
        _, z = two_branch_colours(n, generator=torch.Generator().manual_seed(0))
        return {"untrained": make_mdn().eval(), "one Gaussian, ignores g": _Marginal(z.mean(0))}

    def advice(self):
        return ("train with your mdn_nll_stable (sigma = 0.1) for the budget's epochs; "
                "with one component, or a regression, z falls between the branches")


class _Marginal(torch.nn.Module):
    """A baseline MDN with one component at the mean training code, whatever g."""

    def __init__(self, mean: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.reshape(1, 1, 2))

    def forward(self, g):
        return torch.zeros(len(g), 1), self.mean.expand(len(g), 1, 2).clone()


def make_mdn(components: int = MDN_COMPONENTS, hidden: int = 64):
    """The reference MDN: 1 -> 64 -> 64 -> M logits and M 2-D means."""
    from torch import nn

    class MixtureDensity(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                      nn.Tanh(), nn.Linear(hidden, components * 3))

        def forward(self, g):
            out = self.body(g)
            return out[:, :components], out[:, components:].reshape(-1, components, 2)

    return MixtureDensity()


def train_mdn(profile: str, seed: int):
    """The reference of ``train_mdn``: :func:`make_mdn` trained with Adam on the toy."""
    from ...profiles import budget
    from ...seeding import seed_everything
    from ...toys import two_branch_colours

    b = budget("ps_mdn", profile=profile)
    seed_everything(seed)
    g, z = two_branch_colours(b.train_size, generator=torch.Generator().manual_seed(seed))
    model = make_mdn()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(seed)
    for _ in range(b.epochs):
        perm = torch.randperm(len(g), generator=order)
        for start in range(0, len(g), b.batch_size):
            idx = perm[start:start + b.batch_size]
            logits, means = model(g[idx])
            loss = mdn_nll(logits, means, z[idx], MDN_SIGMA)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


register("train_mdn",
         "Lecture 09's MDN maps the grey image to a mixture over codes; here the 'grey image' "
         "is g (B, 1) and the code z (B, 2): an MLP with M * 3 outputs per g.",
         "Split the outputs into M logits and M 2-D means; train with Adam on your "
         "mdn_nll_stable with sigma = 0.1, a few thousand steps under default.",
         "Two tanh hidden layers of 64 and M = 4, lr 3e-3, b.epochs passes over b.train_size "
         "samples reach the band.")
