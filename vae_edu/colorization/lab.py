"""sRGB <-> CIE Lab in torch (on any device), and the grey/colour split of colorization.

Lab separates an image into its lightness ``L`` (0 = black, 100 = white) and two colour
channels ``a`` (green -> red) and ``b`` (blue -> yellow), roughly in [-110, 110]. A
colorization model sees ``L`` (the grey image ``G``) and predicts ``ab`` (the colour
field ``C``). The formulas are the CIE ones for sRGB with the D65 white point, as in
``skimage.color.rgb2lab`` / ``lab2rgb``.

Images are channel-first tensors ``(..., 3, H, W)``: RGB floats in [0, 1], Lab in Lab
units. Models work on scaled values (:data:`AB_SCALE`): ``grey = L / 100`` in [0, 1] and
``color = ab / AB_SCALE``, roughly in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..validation import float_tensor

__all__ = [
    "AB_SCALE",
    "L_SCALE",
    "lab_to_rgb",
    "merge_grey_color",
    "rgb_to_lab",
    "split_grey_color",
]

#: ``color = ab / AB_SCALE``: the colour field in units of 100 Lab units.
AB_SCALE = 100.0
#: ``grey = L / L_SCALE``: lightness in [0, 1].
L_SCALE = 100.0

# linear sRGB -> XYZ (D65), the matrix of the sRGB standard (IEC 61966-2-1)
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# the XYZ of the D65 white point (2 degree observer): X, Y, Z of RGB = (1, 1, 1)
_WHITE_D65 = (0.95047, 1.0, 1.08883)
# f(t) = t^(1/3) above _EPSILON, the line _KAPPA t + 16/116 below it: the rounded CIE
# constants ((6/29)^3 and (29/6)^2 / 3) that skimage uses too
_EPSILON = 0.008856
_KAPPA = 7.787


def _check_channels(image: Tensor, name: str, where: str) -> None:
    fix = "divide 0-255 pixels by 255" if name == "rgb" else None
    float_tensor(image, f"{where}: {name}", fix=fix)
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(
            f"{where}: {name} must have shape (..., 3, H, W) (channels first), got "
            f"{tuple(image.shape)}; for (H, W, 3) arrays use .permute(2, 0, 1)"
        )


def _matrix(rows, like: Tensor) -> Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply(matrix: Tensor, image: Tensor) -> Tensor:
    """Multiply the 3-vector of every pixel of ``(..., 3, H, W)`` by ``matrix`` (3, 3)."""
    return torch.einsum("ij,...jhw->...ihw", matrix, image)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] -> CIE Lab (D65), like ``skimage.color.rgb2lab`` but channel-first.

    Three steps per pixel: undo the sRGB gamma (linear light), a 3 x 3 matrix to XYZ,
    then ``L = 116 f(Y / Yn) - 16``, ``a = 500 (f(X / Xn) - f(Y / Yn))``,
    ``b = 200 (f(Y / Yn) - f(Z / Zn))`` with ``f(t) = t^(1/3)`` (a line near 0).

    Args:
        rgb: ``(..., 3, H, W)`` floats in [0, 1] (values outside are not clipped).

    Returns:
        ``(..., 3, H, W)``: L in [0, 100], a and b roughly in [-110, 110].
    """
    _check_channels(rgb, "rgb", "rgb_to_lab")
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _apply(_matrix(_XYZ_FROM_RGB, rgb), linear)
    xyz = xyz / _matrix(_WHITE_D65, rgb).view(3, 1, 1)
    f = torch.where(xyz > _EPSILON, xyz.clamp_min(_EPSILON) ** (1.0 / 3.0),
                    _KAPPA * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    lab = torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=-3)
    return lab


def lab_to_rgb(lab: Tensor, *, clip: bool = True) -> Tensor:
    """CIE Lab (D65) -> sRGB, like ``skimage.color.lab2rgb`` but channel-first.

    The inverse of :func:`rgb_to_lab`. A Lab colour outside the sRGB gamut (e.g. a
    strongly saturated colour at low lightness) maps outside [0, 1]; ``clip=True``
    clips it, as skimage does.

    Args:
        lab: ``(..., 3, H, W)`` in Lab units.
        clip: clip the result to [0, 1].

    Returns:
        ``(..., 3, H, W)`` RGB floats.
    """
    _check_channels(lab, "lab", "lab_to_rgb")
    big_l, a, b = lab.unbind(dim=-3)
    fy = (big_l + 16.0) / 116.0
    # f(Z / Zn) < 0 has no colour: clamped to 0, as skimage does (out of gamut anyway)
    f = torch.stack([fy + a / 500.0, fy, (fy - b / 200.0).clamp_min(0.0)], dim=-3)
    xyz = torch.where(f > 0.2068966, f**3, (f - 16.0 / 116.0) / _KAPPA)
    xyz = xyz * _matrix(_WHITE_D65, lab).view(3, 1, 1)
    linear = _apply(torch.linalg.inv(_matrix(_XYZ_FROM_RGB, lab)), xyz)
    rgb = torch.where(
        linear > 0.0031308, 1.055 * linear.clamp_min(0.0031308) ** (1.0 / 2.4) - 0.055,
        12.92 * linear,
    )
    return rgb.clamp(0.0, 1.0) if clip else rgb


def split_grey_color(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """RGB images -> ``(grey, color)``, the input and the target of colorization.

    Args:
        rgb: ``(N, 3, H, W)`` floats in [0, 1].

    Returns:
        ``grey``: ``(N, 1, H, W)`` = L / 100 in [0, 1]; ``color``: ``(N, 2, H, W)`` =
        ab / :data:`AB_SCALE`.
    """
    lab = rgb_to_lab(rgb)
    return lab[..., :1, :, :] / L_SCALE, lab[..., 1:, :, :] / AB_SCALE


def merge_grey_color(grey: Tensor, color: Tensor) -> Tensor:
    """``(grey (..., 1, H, W), color (..., 2, H, W))`` -> RGB ``(..., 3, H, W)`` in [0, 1].

    The inverse of :func:`split_grey_color` (out-of-gamut colours clipped). ``grey``
    broadcasts against ``color``, so one grey image can be merged with a stack of
    colour fields ``(K, 2, H, W)``.
    """
    if grey.shape[-3] != 1 or color.shape[-3] != 2 or grey.shape[-2:] != color.shape[-2:]:
        raise ValueError(
            "merge_grey_color: expected grey (..., 1, H, W) and color (..., 2, H, W) of the "
            f"same H, W, got {tuple(grey.shape)} and {tuple(color.shape)}"
        )
    grey = grey.expand(*color.shape[:-3], 1, *color.shape[-2:])
    lab = torch.cat([grey * L_SCALE, color * AB_SCALE], dim=-3)
    return lab_to_rgb(lab)
