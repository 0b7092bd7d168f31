"""Questions on deterministic autoencoders: the model, its loss, a corruption, two penalties.

Shapes: ``B`` batch, ``D`` inputs, ``H1`` hidden units, ``H`` code units. Inputs are
small (a dozen pixels) so that the hidden-test cells stay small; the answers must work
for any size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...corruption import salt_and_pepper
from ...losses import bernoulli_nll, contractive_penalty_sigmoid, sparse_kl_penalty
from ...models.autoencoders import Autoencoder
from ..judging import Verdict, describe_error, mismatch
from .base import Call, ModuleCase, Question, params_by_shape, randint, randn, uniform

__all__ = [
    "AutoencoderQuestion",
    "ContractivePenaltyQuestion",
    "ReconstructionLossQuestion",
    "SaltAndPepperQuestion",
    "SparseKLQuestion",
]


class AutoencoderQuestion(Question):
    """``Autoencoder(input_dim, hidden_dim, code_dim)``: D -> H1 (ReLU) -> H (linear code)
    -> H1 (ReLU) -> D logits; methods ``encode(x) -> (B, H)`` and ``forward(x) -> (B, D)``.

    Reference: :class:`vae_edu.models.Autoencoder` with sizes ``(D, H1, H)`` and ReLU.
    Parameters are set by shape; both hidden biases have shape ``(H1,)`` and get the
    same values, so the order in which the student creates the layers does not matter.
    """

    id = answer = "Autoencoder"
    kind = "class"
    what = "output"

    def cases(self, gen):
        out = []
        for _ in range(2):
            d, h1, h = randint(gen, 9, 14), randint(gen, 5, 8), randint(gen, 2, 4)
            b = randint(gen, 3, 6)
            shapes = [(h1, d), (h1,), (h, h1), (h,), (h1, h), (d, h1), (d,)]
            params = [randn(gen, *s, scale=0.6) for s in shapes]
            x = torch.rand(b, d, generator=gen)
            calls = [
                Call((x,), label="model.encode(x)", method="encode"),
                Call((x,), label="model(x)", method="__call__"),
            ]
            init = {"input_dim": d, "hidden_dim": h1, "code_dim": h}
            out.append(ModuleCase(init=init, params=params, calls=calls))
        return out

    def _library_model(self, case: ModuleCase) -> Autoencoder:
        i = case.init
        model = Autoencoder((i["input_dim"], i["hidden_dim"], i["code_dim"]), activation="relu")
        return params_by_shape(model, case.params)

    def reference(self, call, case=None):
        model = self._library_model(case)
        with torch.no_grad():
            return model.encode(*call.args) if call.method == "encode" else model(*call.args)

    def mistakes(self, call, case=None):
        model = self._library_model(case)
        enc, dec = model.encoder, model.decoder
        (x,) = call.args
        with torch.no_grad():
            code = enc(x)
            hidden_linear = enc[2](enc[0](x))  # no ReLU between the encoder layers
            variants = [
                ("forward should return logits: drop the sigmoid at the end (the loss applies "
                 "it)", code, torch.sigmoid(dec(code))),
                ("the code layer is linear: no ReLU after the encoder's last Linear",
                 F.relu(code), dec(F.relu(code))),
                ("the code layer is linear: no sigmoid after the encoder's last Linear",
                 torch.sigmoid(code), dec(torch.sigmoid(code))),
                ("put a ReLU between the two Linear layers of the encoder (and of the decoder)",
                 hidden_linear, dec[2](dec[0](hidden_linear))),
            ]
        return [(hint, c if call.method == "encode" else o) for hint, c, o in variants]


class ReconstructionLossQuestion(Question):
    """``reconstruction_loss(logits, x) -> ()``: Bernoulli NLL (binary cross-entropy on
    logits) summed over pixels, averaged over the batch, in nats."""

    id = answer = "reconstruction_loss"
    what = "loss"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, d = randint(gen, 3, 7), randint(gen, 10, 30)
            calls.append(Call((randn(gen, b, d, scale=3.0), torch.rand(b, d, generator=gen)),
                              label="reconstruction_loss(logits, x)"))
        return calls

    def reference(self, call, case=None):
        logits, x = call.args
        return bernoulli_nll(logits, x).mean()

    def mistakes(self, call, case=None):
        logits, x = call.args
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        p = torch.sigmoid(logits)
        return [
            ("you averaged over the pixels: SUM the binary cross-entropy over the pixels, "
             "then average over the batch", bce.mean()),
            ("you summed over the batch: sum over the pixels, then AVERAGE over the batch",
             bce.sum()),
            ("you applied a sigmoid before a loss that takes logits: "
             "binary_cross_entropy_with_logits wants the raw logits",
             F.binary_cross_entropy_with_logits(p, x, reduction="none").sum(1).mean()),
            ("that is a squared error; the Bernoulli NLL is the binary cross-entropy",
             ((p - x) ** 2).sum(1).mean()),
        ]


class SaltAndPepperQuestion(Question):
    """``salt_and_pepper(x, fraction, generator=None)``: each pixel draws ``u ~ U(0, 1)``
    from ``generator``; ``u < fraction / 2`` -> 0, ``fraction / 2 <= u < fraction`` -> 1.

    Random, so judged by properties rather than by values: pixels keep their value or
    become 0 or 1, the shares of 0s and 1s are near ``fraction / 2`` (within 5 standard
    deviations), the same generator seed gives the same noise, another seed other noise,
    ``fraction = 0`` changes nothing and ``fraction = 1`` changes every pixel. The
    reference (:func:`vae_edu.corruption.salt_and_pepper`) passes the same judge.
    """

    id = answer = "salt_and_pepper"
    what = "noisy image"

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
    """``sparse_kl_penalty(h, rho) -> ()``: ``sum_j KL(rho || rho_hat_j)`` with
    ``rho_hat_j`` the mean activation of unit j over the BATCH, in nats."""

    id = answer = "sparse_kl_penalty"
    what = "penalty"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, h = randint(gen, 5, 9), randint(gen, 10, 15)
            acts = torch.sigmoid(randn(gen, b, h, scale=2.0)).clamp(0.01, 0.99)
            rho = round(uniform(gen, 0.02, 0.2), 3)
            calls.append(Call((acts, rho), label=f"sparse_kl_penalty(h, {rho})"))
        return calls

    def reference(self, call, case=None):
        return sparse_kl_penalty(*call.args)

    def mistakes(self, call, case=None):
        h, rho = call.args

        def kl(rho_hat, both=True):
            first = rho * torch.log(rho / rho_hat)
            return first + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat)) if both else first

        rho_hat = h.mean(dim=0)
        rev = rho_hat * torch.log(rho_hat / rho) + (1 - rho_hat) * torch.log(
            (1 - rho_hat) / (1 - rho))
        return [
            ("rho_hat_j is the mean activation of unit j over the BATCH (dim=0), not over the "
             "units (dim=1)", kl(h.mean(dim=1)).sum()),
            ("the Bernoulli KL has two terms: add (1 - rho) * log((1 - rho) / (1 - rho_hat))",
             kl(rho_hat, both=False).sum()),
            ("sum the KL over the hidden units instead of averaging", kl(rho_hat).mean()),
            ("the arguments are swapped: the penalty is KL(rho || rho_hat), rho first",
             rev.sum()),
        ]


class ContractivePenaltyQuestion(Question):
    """``contractive_penalty(h, W) -> ()``: ``mean_b sum_j (h_bj (1 - h_bj))^2 sum_i W_ji^2``
    for a sigmoid layer ``h = sigmoid(x W^T + b)``, ``W: (H, D)``."""

    id = answer = "contractive_penalty"
    what = "penalty"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, h, d = randint(gen, 3, 6), randint(gen, 4, 7), randint(gen, 8, 12)
            acts = torch.sigmoid(randn(gen, b, h, scale=1.5))
            calls.append(Call((acts, randn(gen, h, d, scale=0.5)),
                              label="contractive_penalty(h, W)"))
        return calls

    def reference(self, call, case=None):
        return contractive_penalty_sigmoid(*call.args)

    def mistakes(self, call, case=None):
        h, w = call.args
        slope = h * (1 - h)
        rows = (w**2).sum(dim=1)
        return [
            ("square the sigmoid's slope: the penalty has (h(1 - h))^2",
             (slope * rows).sum(1).mean()),
            ("use the SQUARED row norms of W, sum_i W_ji^2 (no square root)",
             (slope**2 * rows.sqrt()).sum(1).mean()),
            ("the sigmoid's slope is h(1 - h), not h", (h**2 * rows).sum(1).mean()),
            ("average over the batch instead of summing", (slope**2 * rows).sum()),
        ]
