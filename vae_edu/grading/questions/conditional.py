"""Questions on conditioning a VAE on a label: the input, a tiny CVAE, a spherical path
between two codes.

Shapes: ``B`` batch, ``D`` inputs, ``C`` classes, ``Z`` latent dimensions, ``A`` steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.cvae import interpolate_attributes
from .base import Call, ClassQuestion, ModuleCase, Question, randint, randn
from .simple import FunctionQuestion

__all__ = ["ConditionInputQuestion", "SlerpQuestion", "TinyCVAEQuestion"]


def _labels(gen, b: int, c: int) -> torch.Tensor:
    return torch.randint(0, c, (b,), generator=gen)


class ConditionInputQuestion(Question):
    """``condition_on_label(x, labels, num_classes) -> (B, D + C)``: ``[x, one_hot(labels)]``
    concatenated along dimension 1, as floats."""

    id = answer = "condition_on_label"
    what = "conditioned input"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, d, c = randint(gen, 3, 6), randint(gen, 6, 12), randint(gen, 3, 5)
            x = torch.rand(b, d, generator=gen)
            calls.append(Call((x, _labels(gen, b, c), c),
                              label=f"condition_on_label(x, labels, {c})"))
        return calls

    def reference(self, call, case=None):
        x, labels, c = call.args
        return torch.cat([x, F.one_hot(labels, c).to(x.dtype)], dim=1)

    def mistakes(self, call, case=None):
        x, labels, c = call.args
        return [("put x first and the one-hot label after it: torch.cat([x, y], dim=1)",
                 torch.cat([F.one_hot(labels, c).to(x.dtype), x], dim=1))]


class TinyCVAEQuestion(ClassQuestion):
    """``TinyCVAE(input_dim, num_classes, latent_dim)`` with one ``Linear(D + C, 2Z)``
    encoder (first Z outputs mu, last Z logvar) and one ``Linear(Z + C, D)`` decoder;
    ``encode(x, labels) -> (mu, logvar)`` on ``[x, one_hot]``, ``decode(z, labels) ->
    logits`` on ``[z, one_hot]``."""

    id = answer = "TinyCVAE"

    def model_case(self, gen):
        d, c, z = randint(gen, 10, 14), randint(gen, 3, 5), randint(gen, 2, 3)
        b = randint(gen, 3, 6)
        params = [randn(gen, 2 * z, d + c, scale=0.5), randn(gen, 2 * z),
                  randn(gen, d, z + c, scale=0.5), randn(gen, d)]
        x, labels = torch.rand(b, d, generator=gen), _labels(gen, b, c)
        latent = randn(gen, b, z)
        return ModuleCase(init={"input_dim": d, "num_classes": c, "latent_dim": z},
                          params=params,
                          calls=[Call((x, labels), label="model.encode(x, labels)",
                                      method="encode"),
                                 Call((latent, labels), label="model.decode(z, labels)",
                                      method="decode")])

    @staticmethod
    def _run(call, case, *, y_first=False, swap=False, sigmoid=False):
        w_enc, b_enc, w_dec, b_dec = case.params
        first, labels = call.args
        y = F.one_hot(labels, case.init["num_classes"]).to(first.dtype)
        inp = torch.cat([y, first] if y_first else [first, y], dim=1)
        if call.method == "encode":
            mu, logvar = F.linear(inp, w_enc, b_enc).chunk(2, dim=1)
            return (logvar, mu) if swap else (mu, logvar)
        logits = F.linear(inp, w_dec, b_dec)
        return torch.sigmoid(logits) if sigmoid else logits

    def reference(self, call, case=None):
        return self._run(call, case)

    def mistakes(self, call, case=None):
        return [
            ("concatenate in the order [x, one_hot(labels)] (and [z, one_hot(labels)])",
             self._run(call, case, y_first=True)),
            ("the first latent_dim outputs of the encoder are mu, the last latent_dim are "
             "logvar (.chunk(2, dim=1))", self._run(call, case, swap=True)),
            ("decode returns logits: no sigmoid at the end", self._run(call, case, sigmoid=True)),
        ]


def slerp(z0, z1, alphas, *, swap=False, unit=False, fallback=True):
    """Spherical interpolation (Shoemake 1985) from ``z0`` to ``z1``: ``(A, Z)``.

    ``theta`` is the angle between the two codes; the weights are ``sin((1 - a) theta) /
    sin theta`` and ``sin(a theta) / sin theta``; for (nearly) parallel codes,
    ``|sin theta| < 1e-6``, the linear path. The endpoints are not normalised.
    """
    if swap:
        z0, z1 = z1, z0
    if unit:
        z0, z1 = z0 / z0.norm(), z1 / z1.norm()
    a = alphas.reshape(-1, 1).to(z0.dtype)
    cos = (torch.dot(z0, z1) / (z0.norm() * z1.norm())).clamp(-1.0, 1.0)
    theta = torch.arccos(cos)
    if fallback and torch.sin(theta).abs() < 1e-6:
        return (1 - a) * z0 + a * z1
    return (torch.sin((1 - a) * theta) * z0 + torch.sin(a * theta) * z1) / torch.sin(theta)


def _slerp_calls(gen):
    calls = []
    for i in range(4):
        z, a = randint(gen, 3, 8), randint(gen, 4, 7)
        alphas = torch.cat([torch.tensor([0.0, 1.0]), torch.rand(a - 2, generator=gen)])
        z0 = randn(gen, z)
        z1 = randn(gen, z, scale=1.5)
        if i == 3:  # parallel codes, in float64 so that cos theta rounds to 1
            z0, z1, alphas = z0.double(), 2.0 * z0.double(), alphas.double()
        calls.append(Call((z0, z1, alphas), label="slerp(z0, z1, alphas)"
                          + (" (parallel codes)" if i == 3 else "")))
    return calls


#: ``slerp(z0, z1, alphas) -> (A, Z)``: spherical interpolation between two latent codes,
#: the path White (2016, "Sampling generative networks") recommends for a Gaussian prior:
#: in Z dimensions a code drawn from N(0, I) has norm close to sqrt(Z), and the linear
#: midpoint of two such codes (norm about sqrt(Z / 2)) is atypical under the prior.
#: Parallel codes (``|sin theta| < 1e-6``) fall back to the linear path.
SlerpQuestion = FunctionQuestion(
    "slerp", "path", _slerp_calls, slerp,
    mistakes=(
        ("that is the straight line (1 - a) z0 + a z1, lecture 08's attribute path; "
         "slerp follows the arc: weights sin((1 - a) theta) / sin theta and "
         "sin(a theta) / sin theta", interpolate_attributes),
        ("alpha = 0 must give z0 and alpha = 1 must give z1",
         lambda *a: slerp(*a, swap=True)),
        ("do not normalise z0 and z1: only the ANGLE uses unit vectors; the path starts "
         "at z0 and ends at z1 themselves", lambda *a: slerp(*a, unit=True)),
        ("for parallel codes theta = 0 and sin theta = 0, so the arc formula is 0 / 0: "
         "return the straight line when |sin theta| < 1e-6",
         lambda *a: slerp(*a, fallback=False)),
    ),
)
