"""The colorization-loss question: ``L_grad`` of Deshpande et al. (CVPR 2017).

Shapes: colour fields ``(B, C, H, W)``; ``H != W`` in every test so that a transposed
difference shows.
"""

from __future__ import annotations

from .base import Call, Question, randint, randn

__all__ = ["GradientLossQuestion"]


def _diffs(t):
    """Horizontal ``(B, C, H, W-1)`` and vertical ``(B, C, H-1, W)`` forward differences."""
    return t[..., :, 1:] - t[..., :, :-1], t[..., 1:, :] - t[..., :-1, :]


class GradientLossQuestion(Question):
    """``gradient_loss(pred, target) -> ()``: squared differences of the horizontal and
    vertical finite differences of pred and target, summed over channels and pixels,
    averaged over the batch. Reference: :func:`vae_edu.colorization.gradient_loss`."""

    id = answer = "gradient_loss"
    what = "loss"

    def cases(self, gen):
        calls = []
        for _ in range(3):
            b, c = randint(gen, 2, 3), 2
            h = randint(gen, 4, 6)
            w = h + randint(gen, 1, 3)
            calls.append(Call((randn(gen, b, c, h, w), randn(gen, b, c, h, w)),
                              label="gradient_loss(pred, target)"))
        return calls

    def reference(self, call, case=None):
        from ...colorization import gradient_loss

        return gradient_loss(*call.args)

    def mistakes(self, call, case=None):
        pred, target = call.args
        (pdx, pdy), (tdx, tdy) = _diffs(pred), _diffs(target)
        sx, sy = (pdx - tdx) ** 2, (pdy - tdy) ** 2
        per = sx.flatten(1).sum(1) + sy.flatten(1).sum(1)
        return [
            ("you only compared the horizontal differences; add the vertical ones "
             "(along H, dim=2)", sx.flatten(1).sum(1).mean()),
            ("you only compared the vertical differences; add the horizontal ones "
             "(along W, dim=3)", sy.flatten(1).sum(1).mean()),
            ("sum over channels and pixels instead of averaging", sx.mean() + sy.mean()),
            ("square the differences (you took absolute values)",
             ((pdx - tdx).abs().flatten(1).sum(1) + (pdy - tdy).abs().flatten(1).sum(1)).mean()),
            ("average over the batch instead of summing", per.sum()),
            ("compare the gradients of pred WITH those of target: (dx pred - dx target)^2",
             (pdx.pow(2).flatten(1).sum(1) + pdy.pow(2).flatten(1).sum(1)).mean()),
        ]
