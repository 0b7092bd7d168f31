"""Questions on conditioning a VAE on a label: the input, a tiny CVAE, attribute paths.

Shapes: ``B`` batch, ``D`` inputs, ``C`` classes, ``Z`` latent dimensions, ``A`` steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...models.cvae import interpolate_attributes
from .base import Call, ModuleCase, Question, randint, randn

__all__ = ["ConditionInputQuestion", "InterpolateLabelsQuestion", "TinyCVAEQuestion"]


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


class TinyCVAEQuestion(Question):
    """``TinyCVAE(input_dim, num_classes, latent_dim)`` with one ``Linear(D + C, 2Z)``
    encoder (first Z outputs mu, last Z logvar) and one ``Linear(Z + C, D)`` decoder;
    ``encode(x, labels) -> (mu, logvar)`` on ``[x, one_hot]``, ``decode(z, labels) ->
    logits`` on ``[z, one_hot]``."""

    id = answer = "TinyCVAE"
    kind = "class"
    what = "output"

    def cases(self, gen):
        out = []
        for _ in range(2):
            d, c, z = randint(gen, 10, 14), randint(gen, 3, 5), randint(gen, 2, 3)
            b = randint(gen, 3, 6)
            params = [randn(gen, 2 * z, d + c, scale=0.5), randn(gen, 2 * z),
                      randn(gen, d, z + c, scale=0.5), randn(gen, d)]
            x, labels = torch.rand(b, d, generator=gen), _labels(gen, b, c)
            latent = randn(gen, b, z)
            calls = [
                Call((x, labels), label="model.encode(x, labels)", method="encode"),
                Call((latent, labels), label="model.decode(z, labels)", method="decode"),
            ]
            init = {"input_dim": d, "num_classes": c, "latent_dim": z}
            out.append(ModuleCase(init=init, params=params, calls=calls))
        return out

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


class InterpolateLabelsQuestion(Question):
    """``interpolate_labels(y_min, y_max, alphas) -> (A, y_dim)``: rows
    ``(1 - alpha) * y_min + alpha * y_max``. Reference:
    :func:`vae_edu.models.interpolate_attributes`."""

    id = answer = "interpolate_labels"
    what = "attribute path"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            c, a = randint(gen, 3, 6), randint(gen, 4, 7)
            alphas = torch.cat([torch.tensor([0.0, 1.0]), torch.rand(a - 2, generator=gen)])
            calls.append(Call((torch.rand(c, generator=gen), torch.rand(c, generator=gen), alphas),
                              label="interpolate_labels(y_min, y_max, alphas)"))
        return calls

    def reference(self, call, case=None):
        return interpolate_attributes(*call.args)

    def mistakes(self, call, case=None):
        y_min, y_max, alphas = call.args
        return [("alpha = 0 must give y_min and alpha = 1 must give y_max",
                 interpolate_attributes(y_max, y_min, alphas))]
