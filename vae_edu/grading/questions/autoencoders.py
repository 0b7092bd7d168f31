"""Questions on deterministic autoencoders: a tied-weight model, an emphasised denoising loss,
a corruption, the gradient of the sparsity penalty, a two-layer contractive penalty and the
optimal denoiser of a 2-D Gaussian mixture (the denoising autoencoder as a score estimator).

Shapes: ``B`` batch, ``D`` inputs, ``H1`` hidden units, ``H`` code units. Inputs are
small (a dozen pixels) so that the hidden-test cells stay small; the answers must work
for any size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...corruption import salt_and_pepper
from ..hints import register
from ..judging import Verdict, describe_error, mismatch
from .base import Call, ClassQuestion, ModuleCase, Question, randint, randn, uniform

__all__ = [
    "AutoencoderQuestion",
    "ContractivePenaltyQuestion",
    "OptimalDenoiserQuestion",
    "ReconstructionLossQuestion",
    "SaltAndPepperQuestion",
    "SparseKLQuestion",
]


class AutoencoderQuestion(ClassQuestion):
    """``TiedAutoencoder(input_dim, hidden_dim, code_dim)``: a two-layer autoencoder whose
    decoder reuses the encoder's weight matrices, transposed.

    Parameters: ``W1: (H1, D)``, ``b1: (H1,)``, ``W2: (H, H1)``, ``b2: (H,)`` and the
    decoder's own biases ``c2: (H1,)``, ``c1: (D,)``; no decoder weight. ``encode(x) =
    relu(x W1^T + b1) W2^T + b2`` (a linear code) and ``forward(x) = relu(code W2 + c2) W1
    + c1`` (logits). Parameters are set by shape, so ``b1`` and ``c2`` (both ``(H1,)``) get
    the same values: an answer that also ties the hidden biases is not told apart. The
    library has no tied autoencoder, so there is no twin to flag; an answer built on
    :class:`vae_edu.models.Autoencoder` has decoder weights of its own and fails the
    parameter shapes.
    """

    id = answer = "TiedAutoencoder"

    def model_case(self, gen):
        d, h1, h = randint(gen, 9, 14), randint(gen, 5, 8), randint(gen, 2, 4)
        b = randint(gen, 3, 6)
        shapes = [(h1, d), (h1,), (h, h1), (h,), (d,)]
        params = [randn(gen, *s, scale=0.6) for s in shapes]
        x = torch.rand(b, d, generator=gen)
        return ModuleCase(init={"input_dim": d, "hidden_dim": h1, "code_dim": h},
                          params=params,
                          calls=[Call((x,), label="model.encode(x)", method="encode"),
                                 Call((x,), label="model(x)", method="__call__")])

    @staticmethod
    def _parts(case: ModuleCase):
        w1, b1, w2, b2, c1 = (p.double() for p in case.params)
        return w1, b1, w2, b2, b1, c1  # the decoder's hidden bias has b1's shape and values

    def _forward(self, case, x, *, out_sigmoid=False, code_act=None, dec_relu=True,
                 enc_relu=True):
        w1, b1, w2, b2, c2, c1 = self._parts(case)
        x = x.double()
        hidden = x @ w1.T + b1
        code = (torch.relu(hidden) if enc_relu else hidden) @ w2.T + b2
        if code_act is not None:
            code = code_act(code)
        back = code @ w2 + c2
        logits = (torch.relu(back) if dec_relu else back) @ w1 + c1
        out = torch.sigmoid(logits) if out_sigmoid else logits
        return code.float(), out.float()

    def reference(self, call, case=None):
        code, logits = self._forward(case, *call.args)
        return code if call.method == "encode" else logits

    def mistakes(self, call, case=None):
        (x,) = call.args
        variants = [
            ("forward should return logits: drop the sigmoid at the end (the loss applies "
             "it)", self._forward(case, x, out_sigmoid=True)),
            ("the code layer is linear: no ReLU after the encoder's last layer",
             self._forward(case, x, code_act=torch.relu)),
            ("the decoder mirrors the encoder: a ReLU after its first layer, relu(code W2 + "
             "c2), before the second", self._forward(case, x, dec_relu=False)),
            ("put a ReLU between the two layers of the encoder (and of the decoder)",
             self._forward(case, x, enc_relu=False, dec_relu=False)),
        ]
        return [(hint, c if call.method == "encode" else o) for hint, (c, o) in variants]

    def precheck(self, payload, n_units):
        verdict, results = super().precheck(payload, n_units)
        if verdict is not None and verdict.status == "error" and \
                "unexpected parameter shape" in verdict.message:
            return Verdict("wrong", (
                "tied weights: the decoder has no weight matrix of its own; it reuses the "
                "encoder's W2 and W1, transposed (e.g. code @ W2, or F.linear(code, W2.T, "
                "c2)), and keeps only its biases. " + verdict.message)), results
        return verdict, results


def _bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")


class ReconstructionLossQuestion(Question):
    """``emphasised_loss(logits, x, corrupted, alpha, beta) -> ()``: the reconstruction loss
    of an *emphasised* denoising autoencoder (Vincent et al. 2010): per image, the binary
    cross-entropy of each pixel weighted by ``alpha`` where the pixel was corrupted and by
    ``beta`` elsewhere, SUMMED over the pixels, then averaged over the batch.

    ``corrupted`` is a bool ``(B, D)`` mask. With ``alpha = beta = 1`` it is the plain
    Bernoulli NLL of lecture 01 (:func:`vae_edu.losses.bernoulli_nll`, the twin).
    """

    id = answer = "emphasised_loss"
    what = "loss"
    twins = ("vae_edu.losses:bernoulli_nll",)

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, d = randint(gen, 3, 7), randint(gen, 10, 30)
            logits, x = randn(gen, b, d, scale=3.0), torch.rand(b, d, generator=gen)
            corrupted = torch.rand(b, d, generator=gen) < 0.3
            alpha, beta = round(uniform(gen, 1.5, 4.0), 2), round(uniform(gen, 0.2, 0.9), 2)
            calls.append(Call((logits, x, corrupted, alpha, beta),
                              label=f"emphasised_loss(logits, x, corrupted, {alpha}, {beta})"))
        return calls

    @staticmethod
    def _weights(corrupted, alpha, beta):
        return torch.where(corrupted, alpha, beta).to(torch.float64)

    def reference(self, call, case=None):
        logits, x, corrupted, alpha, beta = call.args
        w = self._weights(corrupted, alpha, beta)
        return (w * _bce(logits.double(), x.double())).sum(1).mean().float()

    def mistakes(self, call, case=None):
        logits, x, corrupted, alpha, beta = call.args
        bce = _bce(logits.double(), x.double())
        w = self._weights(corrupted, alpha, beta)
        swapped = self._weights(corrupted, beta, alpha)
        p = torch.sigmoid(logits.double())
        return [
            ("the weights are swapped: alpha goes on the CORRUPTED pixels (corrupted == True), "
             "beta on the others", (swapped * bce).sum(1).mean().float()),
            ("you left the weights out: multiply each pixel's cross-entropy by alpha "
             "(corrupted) or beta (kept) before summing", bce.sum(1).mean().float()),
            ("do not divide by the sum of the weights: the loss is a weighted SUM over the "
             "pixels (with alpha = beta = 1 it must be the plain summed BCE)",
             ((w * bce).sum(1) / w.sum(1)).mean().float()),
            ("you averaged over the pixels: SUM the weighted cross-entropy over the pixels, "
             "then average over the batch", (w * bce).mean().float()),
            ("you applied a sigmoid before a loss that takes logits: "
             "binary_cross_entropy_with_logits wants the raw logits",
             (w * _bce(p, x.double())).sum(1).mean().float()),
        ]


class SaltAndPepperQuestion(Question):
    """``salt_and_pepper(x, fraction, generator=None)``: each pixel draws ``u ~ U(0, 1)``
    from ``generator``; ``u < fraction / 2`` -> 0, ``fraction / 2 <= u < fraction`` -> 1.

    Random, so judged by properties rather than by values: pixels keep their value or
    become 0 or 1, the shares of 0s and 1s are near ``fraction / 2`` (within 5 standard
    deviations), the same generator seed gives the same noise, another seed other noise,
    ``fraction = 0`` changes nothing and ``fraction = 1`` changes every pixel. The
    reference (:func:`vae_edu.corruption.salt_and_pepper`) passes the same judge, and is
    the twin: an answer that calls it gets the ``twin`` verdict.
    """

    id = answer = "salt_and_pepper"
    what = "noisy image"
    twins = ("vae_edu.corruption:salt_and_pepper",)

    def cases(self, gen):
        x = 0.05 + 0.9 * torch.rand(40, 50, generator=gen)  # no pixel is 0 or 1
        fraction = round(uniform(gen, 0.2, 0.6), 3)
        s1, s2, s3, s4 = (randint(gen, 0, 2**31) for _ in range(4))
        label = "salt_and_pepper(x, {}, generator=...)"
        return [
            Call((x, fraction), {"generator": torch.Generator().manual_seed(s1)},
                 label.format(fraction)),
            Call((x, fraction), {"generator": torch.Generator().manual_seed(s1)},
                 label.format(fraction)),
            Call((x, fraction), {"generator": torch.Generator().manual_seed(s2 + 1)},
                 label.format(fraction)),
            Call((x, 0.0), {"generator": torch.Generator().manual_seed(s3)}, label.format(0.0)),
            Call((x, 1.0), {"generator": torch.Generator().manual_seed(s4)}, label.format(1.0)),
        ]

    def spec(self, cases):
        spec = super().spec(cases)
        for c, call in zip(cases, spec["calls"], strict=True):  # encode generators by seed
            call["kwargs"] = {"generator": {"__generator__": c.kwargs["generator"].initial_seed()}}
        return spec

    def reference(self, call, case=None):
        x, fraction = call.args
        gen = torch.Generator().manual_seed(call.kwargs["generator"].initial_seed())
        return salt_and_pepper(x, fraction, generator=gen)

    def judge(self, cases, expected, payload):
        verdict, results = self.precheck(payload, len(cases))
        if verdict is not None:
            return verdict
        for r in results:
            if "error" in r:
                return describe_error(r["error"])
        got = [r["output"] for r in results]
        for g, e in zip(got, expected, strict=True):
            problem = mismatch(g, e, "the noisy image")
            if problem:
                return Verdict("wrong", problem)
        got = [g.double() for g in got]
        x = cases[0].args[0].double()
        fraction = cases[0].args[1]
        kept = [(g - x).abs() < 1e-6 for g in got]
        zero, one = [g.abs() < 1e-6 for g in got], [(g - 1).abs() < 1e-6 for g in got]
        for k, z, o, g in zip(kept, zero, one, got, strict=True):
            other = ~(k | z | o)
            if other.any():
                i = int(other.reshape(-1).nonzero()[0])
                value, was = float(g.reshape(-1)[i]), float(x.reshape(-1)[i])
                return Verdict("wrong", (
                    "each pixel must keep its value or become 0 (pepper) or 1 (salt); "
                    f"{int(other.sum())} pixels got other values (e.g. {value:.3g} where x was "
                    f"{was:.3g}): did you add noise instead?"))
        if not bool(kept[3].all()):
            return Verdict("wrong", "with fraction=0 no pixel should change")
        if bool(kept[4].any()):
            return Verdict("wrong", "with fraction=1 every pixel should become 0 or 1")
        n = x.numel()
        share0, share1 = float(zero[0].sum()) / n, float(one[0].sum()) / n
        half = fraction / 2
        tol = 5 * (half * (1 - half) / n) ** 0.5
        if abs(share0 - half) > tol or abs(share1 - half) > tol:
            return Verdict("wrong", self._share_hint(share0, share1, fraction, tol))
        if not torch.equal(got[0], got[1]):
            return Verdict("wrong", (
                "two calls with generators of the same seed gave different noise: draw your "
                "random numbers from the generator, e.g. torch.rand(x.shape, generator=generator)"))
        if torch.equal(got[0], got[2]):
            return Verdict("wrong", "generators with different seeds gave the same noise")
        twin = self.twin_verdict(results)
        if twin is not None:
            return twin
        return Verdict("passed", f"passed ({len(cases)} test cases)")

    @staticmethod
    def _share_hint(share0: float, share1: float, fraction: float, tol: float) -> str:
        if share1 < tol and abs(share0 - fraction) < 2 * tol:
            return ("only pepper: about `fraction` of the pixels became 0 and none became 1; "
                    "half of the corrupted pixels should become 1 (salt)")
        if share0 < tol and abs(share1 - fraction) < 2 * tol:
            return ("only salt: about `fraction` of the pixels became 1 and none became 0; "
                    "half of the corrupted pixels should become 0 (pepper)")
        if abs(share0 + share1 - 2 * fraction) < 2 * tol:
            return ("about 2 x fraction of the pixels changed: draw ONE uniform number u per "
                    "pixel; u < fraction/2 -> 0, fraction/2 <= u < fraction -> 1")
        if abs(share0 + share1 - (1 - fraction)) < 2 * tol:
            return ("about (1 - fraction) of the pixels changed instead of `fraction`: "
                    "is a comparison reversed?")
        return (f"{share0:.1%} of the pixels became 0 and {share1:.1%} became 1; expected "
                f"about {fraction / 2:.1%} each (fraction = {fraction})")


class SparseKLQuestion(Question):
    """``sparse_kl_grad(h, rho) -> (B, H)``: the gradient of ``sum_j KL(rho || rho_hat_j)``
    (``rho_hat_j`` the mean of unit j over the BATCH) with respect to every activation
    ``h_bj``, by hand: ``(1/B) (-rho / rho_hat_j + (1 - rho) / (1 - rho_hat_j))``.

    Twins: the library's penalty (differentiated with autograd) and autograd itself.
    """

    id = answer = "sparse_kl_grad"
    what = "gradient"
    twins = ("vae_edu.losses:sparse_kl_penalty", "torch.autograd:grad",
             "torch.autograd:backward")

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, h = randint(gen, 5, 9), randint(gen, 10, 15)
            acts = torch.sigmoid(randn(gen, b, h, scale=2.0)).clamp(0.01, 0.99)
            rho = round(uniform(gen, 0.02, 0.2), 3)
            calls.append(Call((acts, rho), label=f"sparse_kl_grad(h, {rho})"))
        return calls

    @staticmethod
    def _per_unit(h, rho):
        q = h.double().mean(dim=0)
        return -rho / q + (1 - rho) / (1 - q)

    def reference(self, call, case=None):
        h, rho = call.args
        b = h.shape[0]
        return (self._per_unit(h, rho) / b).expand(h.shape).float()

    def mistakes(self, call, case=None):
        h, rho = call.args
        b = h.shape[0]
        g = self._per_unit(h, rho).expand(h.shape)
        q = h.double().mean(dim=0)
        reverse = (torch.log(q / rho) - torch.log((1 - q) / (1 - rho))).expand(h.shape)
        return [
            ("you returned the gradient with respect to rho_hat_j on every row: each h_bj "
             "enters rho_hat_j = mean_b h_bj with weight 1/B, so divide by the batch size",
             g.float()),
            ("the sign is flipped: the KL grows as rho_hat_j falls below rho, so its gradient "
             "there is NEGATIVE", (-g / b).float()),
            ("d/d rho_hat of rho log(rho / rho_hat) is only half of it: the second term "
             "(1 - rho) log((1 - rho) / (1 - rho_hat)) contributes (1 - rho) / (1 - rho_hat)",
             (-rho / q / b).expand(h.shape).float()),
            ("that is the gradient of KL(rho_hat || rho), the arguments swapped: the penalty "
             "is KL(rho || rho_hat), rho first", (reverse / b).float()),
        ]


def _two_layer(x, w1, b1, w2, b2, *, inner_slope=True):
    x, w1, b1, w2, b2 = (t.double() for t in (x, w1, b1, w2, b2))
    h1 = torch.sigmoid(x @ w1.T + b1)
    h2 = torch.sigmoid(h1 @ w2.T + b2)
    s1, s2 = h1 * (1 - h1), h2 * (1 - h2)
    inner = s1[:, :, None] * w1 if inner_slope else w1.expand(x.shape[0], *w1.shape)
    jac = (s2[:, :, None] * w2) @ inner  # (B, H2, D)
    return jac, h1, h2, s1, s2


class ContractivePenaltyQuestion(Question):
    """``two_layer_contractive(x, W1, b1, W2, b2) -> ()``: ``mean_b ||J_b||_F^2`` for the
    encoder ``h1 = sigmoid(x W1^T + b1)``, ``h2 = sigmoid(h1 W2^T + b2)`` (``W1: (H1, D)``,
    ``W2: (H2, H1)``), by the chain rule: ``J = diag(s2) W2 diag(s1) W1`` with ``s = h (1 -
    h)``. Twins: the library's autograd penalty and torch's Jacobian functions.
    """

    id = answer = "two_layer_contractive"
    what = "penalty"
    twins = ("vae_edu.losses:contractive_penalty_autograd",
             "vae_edu.losses:contractive_penalty_sigmoid",
             "torch.func:jacrev", "torch.func:jacfwd",
             "torch.autograd.functional:jacobian", "torch.autograd:grad")

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, d = randint(gen, 3, 6), randint(gen, 8, 12)
            h1, h2 = randint(gen, 5, 7), randint(gen, 2, 4)
            args = (torch.rand(b, d, generator=gen), randn(gen, h1, d, scale=0.8),
                    randn(gen, h1, scale=0.5), randn(gen, h2, h1, scale=0.8),
                    randn(gen, h2, scale=0.5))
            calls.append(Call(args, label="two_layer_contractive(x, W1, b1, W2, b2)"))
        return calls

    def reference(self, call, case=None):
        jac = _two_layer(*call.args)[0]
        return (jac**2).sum(dim=(1, 2)).mean().float()

    def mistakes(self, call, case=None):
        jac, h1, h2, s1, s2 = _two_layer(*call.args)
        _, w1, _, w2, _ = (t.double() for t in call.args)
        pen1 = (s1**2 * (w1**2).sum(1)).sum(1)
        pen2 = (s2**2 * (w2**2).sum(1)).sum(1)
        no_inner = _two_layer(*call.args, inner_slope=False)[0]
        return [
            ("the layers' penalties do not add up: the Jacobian of the composition is the "
             "PRODUCT J2 J1 (chain rule); form it, then take its squared Frobenius norm",
             (pen1 + pen2).mean().float()),
            ("||J2 J1||_F <= ||J2||_F ||J1||_F is only a bound: form the product matrix "
             "J2 J1 first, then its squared norm", (pen1 * pen2).mean().float()),
            ("the first layer's sigmoid has a slope too: J = diag(s2) W2 diag(s1) W1 with "
             "s = h (1 - h) for each layer", (no_inner**2).sum(dim=(1, 2)).mean().float()),
            ("average over the batch instead of summing",
             (jac**2).sum(dim=(1, 2)).sum().float()),
        ]


def _denoiser(x, means, s, sigma, *, resp_var=None, shrink=None, hard=False):
    x, means = x.double(), means.double()
    v = s**2 + sigma**2
    sq = ((x[:, None, :] - means[None, :, :]) ** 2).sum(-1)  # (N, K)
    if hard:
        resp = F.one_hot(sq.argmin(1), means.shape[0]).double()
    else:
        resp = torch.softmax(-sq / (2 * (v if resp_var is None else resp_var)), dim=1)
    factor = s**2 / v if shrink is None else shrink
    inside = means[None, :, :] + factor * (x[:, None, :] - means[None, :, :])  # (N, K, 2)
    return (resp[:, :, None] * inside).sum(1).float()


class OptimalDenoiserQuestion(Question):
    """``optimal_denoiser(x_noisy, means, s, sigma) -> (N, 2)``: ``E[x | x~]`` for data
    ``p(x) = (1/K) sum_k N(x; mu_k, s^2 I)`` in 2-D corrupted as ``x~ = x + sigma eps``:
    ``sum_k gamma_k(x~) [mu_k + s^2 / (s^2 + sigma^2) (x~ - mu_k)]`` with ``gamma_k`` the
    responsibilities under the NOISY density ``N(mu_k, (s^2 + sigma^2) I)``. It is the
    minimiser of the denoising squared error, and by Tweedie's formula equals
    ``x~ + sigma^2 grad log p_sigma(x~)``. The library has no such function (no twin).
    """

    id = answer = "optimal_denoiser"
    what = "denoised point"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            k, n = randint(gen, 2, 4), randint(gen, 5, 9)
            means = randn(gen, k, 2, scale=2.0)
            s = round(uniform(gen, 0.3, 0.8), 2)
            sigma = round(uniform(gen, 0.3, 1.0), 2)
            x = means[torch.randint(0, k, (n,), generator=gen)] + randn(gen, n, 2, scale=1.2)
            calls.append(Call((x, means, s, sigma),
                              label=f"optimal_denoiser(x_noisy, means, {s}, {sigma})"))
        return calls

    def reference(self, call, case=None):
        return _denoiser(*call.args)

    def mistakes(self, call, case=None):
        x, means, s, sigma = call.args
        return [
            ("the responsibilities must use the density of the NOISY point: x~ given "
             "component k is N(mu_k, (s^2 + sigma^2) I), not N(mu_k, s^2 I)",
             _denoiser(*call.args, resp_var=s**2)),
            ("within component k the best guess is not mu_k itself: E[x | x~, k] = mu_k + "
             "s^2 / (s^2 + sigma^2) (x~ - mu_k), the Gaussian posterior mean",
             _denoiser(*call.args, shrink=0.0)),
            ("the shrinkage factor is inverted: E[x | x~, k] moves from mu_k towards x~ by "
             "s^2 / (s^2 + sigma^2) (all the way when sigma -> 0), not sigma^2 / (s^2 + "
             "sigma^2)", _denoiser(*call.args, shrink=sigma**2 / (s**2 + sigma**2))),
            ("a hard assignment to the nearest centre is not the posterior mean: weight "
             "every component by its responsibility gamma_k(x~) (a softmax)",
             _denoiser(*call.args, hard=True)),
        ]


register("optimal_denoiser",
         "Lecture 02 trains a denoising autoencoder with the squared error; the minimiser of "
         "E||r(x~) - x||^2 is the posterior mean E[x | x~]. Condition on the component k "
         "first, then average over k.",
         "Given k, x ~ N(mu_k, s^2 I) and x~ = x + sigma eps, so x~ ~ N(mu_k, (s^2 + sigma^2) "
         "I) and E[x | x~, k] = mu_k + s^2 / (s^2 + sigma^2) (x~ - mu_k).",
         "gamma = softmax over k of -||x~ - mu_k||^2 / (2 (s^2 + sigma^2)) (equal weights and "
         "variances), then sum_k gamma_k E[x | x~, k]; broadcast x[:, None, :] against "
         "means[None].")
