"""The colorization-loss question: ``L_grad`` of Deshpande et al. (CVPR 2017) with a
validity mask, the step beyond lecture 09 (which prints the unmasked loss).

Shapes: colour fields ``(B, C, H, W)``, masks ``(B, 1, H, W)`` of 0/1 floats; ``H != W``
in every test so that a transposed difference shows, and every mask has valid and
invalid pixels side by side so that masking the fields (instead of the differences)
shows.
"""

from __future__ import annotations

import torch

from .base import Call, Question, randint, randn

__all__ = ["GradientLossQuestion", "masked_gradient_loss"]


def _diffs(t):
    """Horizontal ``(B, C, H, W-1)`` and vertical ``(B, C, H-1, W)`` forward differences."""
    return t[..., :, 1:] - t[..., :, :-1], t[..., 1:, :] - t[..., :-1, :]


def masked_gradient_loss(pred, target, mask, pairs="both", normalise=False):
    """The reference (``pairs="both"``, ``normalise=False``) and two known mistakes.

    A horizontal pair ``(i, j), (i, j + 1)`` counts when both of its pixels are valid
    (``mask = 1``), a vertical pair ``(i, j), (i + 1, j)`` likewise; the squared
    differences of the valid pairs are summed over channels and pixels, then averaged
    over the batch. ``pairs="right"`` weights a pair by its second pixel only;
    ``normalise=True`` divides each image's sum by its number of valid pairs.
    """
    dx, dy = _diffs(pred - target)  # differences are linear: d pred - d target = d(pred - target)
    if pairs == "both":
        mx, my = mask[..., :, 1:] * mask[..., :, :-1], mask[..., 1:, :] * mask[..., :-1, :]
    else:
        mx, my = mask[..., :, 1:], mask[..., 1:, :]
    per = (dx.square() * mx).flatten(1).sum(1) + (dy.square() * my).flatten(1).sum(1)
    if normalise:
        per = per / (mx.flatten(1).sum(1) + my.flatten(1).sum(1)).clamp(min=1)
    return per.mean()


class GradientLossQuestion(Question):
    """``gradient_loss(pred, target, mask) -> ()``: L_grad over the valid pixel pairs.

    ``mask (B, 1, H, W)``: 1 where a pixel's colour is known (inside the image, a trusted
    ground truth), 0 elsewhere. A finite difference counts only when both of its pixels
    are valid; squared, summed over channels and valid pairs, averaged over the batch.
    """

    id = answer = "gradient_loss"
    what = "loss"
    twins = ("vae_edu.colorization.losses:gradient_loss",
             "vae_edu.colorization.losses:image_gradients")

    def cases(self, gen):
        calls = []
        for _ in range(4):
            b, c = randint(gen, 2, 3), 2
            h = randint(gen, 4, 6)
            w = h + randint(gen, 1, 3)
            mask = (torch.rand(b, 1, h, w, generator=gen) < 0.7).float()
            mask[:, :, 0, 0], mask[:, :, 0, 1] = 1.0, 0.0  # valid next to invalid, always
            calls.append(Call((randn(gen, b, c, h, w), randn(gen, b, c, h, w), mask),
                              label="gradient_loss(pred, target, mask)"))
        return calls

    def reference(self, call, case=None):
        return masked_gradient_loss(*call.args)

    def mistakes(self, call, case=None):
        from ...colorization.losses import gradient_loss

        pred, target, mask = call.args
        return [
            ("you multiplied the colour fields by the mask before differencing: where the "
             "mask switches from 1 to 0 that creates an edge that is not in either field. "
             "Difference first, then keep a pair only when BOTH of its pixels are valid",
             gradient_loss(pred * mask, target * mask)),
            ("a pair counts only when BOTH of its pixels are valid: weight dx by "
             "mask[..., :, 1:] * mask[..., :, :-1] (and dy likewise), not by one of them",
             masked_gradient_loss(pred, target, mask, pairs="right")),
            ("that is lecture 09's L_grad over every pair: leave out the pairs that touch an "
             "invalid pixel (mask = 0)", gradient_loss(pred, target)),
            ("sum over channels and valid pairs; average over the batch only (you divided "
             "by the number of valid pairs)",
             masked_gradient_loss(pred, target, mask, normalise=True)),
            ("compare the gradients of pred WITH those of target: (dx pred - dx target)^2, "
             "on the valid pairs",
             masked_gradient_loss(pred, torch.zeros_like(target), mask)),
        ]
