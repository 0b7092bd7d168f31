"""The losses of diverse colorization (Deshpande et al., CVPR 2017).

Colour fields are ``(B, C, H, W)`` float tensors (for Lab, ``C = 2``: the a and b
channels). Every loss here is **summed** over channels and pixels and **averaged** over
the batch, so it returns a 0-d tensor ready for ``.backward()``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..losses import check_same_shape

__all__ = ["gradient_loss"]


def _check_field(t: Tensor, name: str, where: str) -> None:
    """Raise one clear error unless ``t`` is a floating ``(B, C, H, W)`` tensor."""
    if not torch.is_tensor(t):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(
            f"{where}: {name} must be a floating-point tensor, got dtype {t.dtype}; "
            f"convert it with {name}.float()"
        )
    if t.dim() != 4:
        raise ValueError(
            f"{where}: {name} must be a colour field of shape (B, C, H, W), got shape "
            f"{tuple(t.shape)}"
        )


def image_gradients(field: Tensor) -> tuple[Tensor, Tensor]:
    """Forward finite differences of a ``(B, C, H, W)`` field.

    Returns:
        ``(dx, dy)``: ``dx[..., i, j] = field[..., i, j + 1] - field[..., i, j]`` with shape
        ``(B, C, H, W - 1)`` (horizontal), and ``dy[..., i, j] = field[..., i + 1, j] -
        field[..., i, j]`` with shape ``(B, C, H - 1, W)`` (vertical).
    """
    _check_field(field, "field", "image_gradients")
    dx = field[..., :, 1:] - field[..., :, :-1]
    dy = field[..., 1:, :] - field[..., :-1, :]
    return dx, dy


def gradient_loss(pred: Tensor, target: Tensor) -> Tensor:
    """``L_grad``: ask the prediction for the same image gradients as the ground truth.

    ``L_grad = mean_b sum_{c,i,j} [(dx pred - dx target)^2 + (dy pred - dy target)^2]``
    with the forward differences of :func:`image_gradients` (horizontal and vertical).
    It penalises blotchy colour edges that a per-pixel L2 loss does not see.

    Args:
        pred: predicted colour field, ``(B, C, H, W)`` floats (e.g. ab in Lab units).
        target: ground-truth colour field, the same shape.

    Returns:
        0-d tensor: summed over channels and pixels, averaged over the batch, in squared
        units of the field.

    Raises:
        ValueError: if the shapes differ or are not ``(B, C, H, W)``.
        TypeError: for non-float tensors.
    """
    _check_field(pred, "pred", "gradient_loss")
    _check_field(target, "target", "gradient_loss")
    check_same_shape(pred, target, ("pred", "target"), where="gradient_loss")
    pdx, pdy = image_gradients(pred)
    tdx, tdy = image_gradients(target)
    per_sample = (pdx - tdx).pow(2).flatten(1).sum(1) + (pdy - tdy).pow(2).flatten(1).sum(1)
    return per_sample.mean()
