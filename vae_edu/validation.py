"""Checks of arguments shared by the library: one message per mistake, naming the argument,
what it must be and what it got.

Numbers: :func:`finite_float`, :func:`positive_float`, :func:`nonnegative_float`,
:func:`unit_interval` (a share or probability in [0, 1], either end open or closed),
:func:`positive_int` and :func:`nonnegative_int`.  Each returns the value in its plain
Python type, so that a caller can write
``self.span = positive_float(span, "LatentSliders: span")``.  A value that is not a
number at all is a ``TypeError``, a number outside the range a ``ValueError``.

Tensors: :func:`float_tensor` (a floating-point ``torch.Tensor``), :func:`image_batch`
(a batch of images of a given number of pixels, ``(B, 1, 28, 28)`` or ``(B, 784)`` for
MNIST) and :func:`unit_values` (every value in [0, 1]).  Each returns the tensor
unchanged.

``name`` is how the message calls the argument; prefix it with the function or class
that checks it, e.g. ``"sparse_kl_penalty: rho"``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "finite_float",
    "float_tensor",
    "image_batch",
    "nonnegative_float",
    "nonnegative_int",
    "positive_float",
    "positive_int",
    "unit_interval",
    "unit_values",
]


# ----------------------------------------------------------------------------- numbers


def finite_float(value, name: str) -> float:
    """``value`` as a float; TypeError for a non-number (a string too, even ``"0.5"``),
    ValueError for NaN, inf or a bool."""
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError("a string is not a number")
        v = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from err
    if isinstance(value, bool) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def positive_float(value, name: str) -> float:
    """``value`` as a float > 0 (see :func:`finite_float`)."""
    v = finite_float(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def nonnegative_float(value, name: str) -> float:
    """``value`` as a float >= 0 (see :func:`finite_float`), e.g. the weight of a penalty."""
    v = finite_float(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return v


def unit_interval(value, name: str, *, open_low: bool = False, open_high: bool = False) -> float:
    """``value`` as a float in [0, 1], a share or a probability (see :func:`finite_float`).

    ``open_low`` excludes 0 and ``open_high`` excludes 1: ``unit_interval(rho, name,
    open_low=True, open_high=True)`` is a probability in (0, 1).
    """
    v = finite_float(value, name)
    if (v <= 0 if open_low else v < 0) or (v >= 1 if open_high else v > 1):
        interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1; a bool, a float or a smaller int is a ValueError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def nonnegative_int(value, name: str) -> int:
    """``value`` as an int >= 0; a bool, a float or a negative int is a ValueError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- tensors


def float_tensor(
    t, name: str, *, what: str = "a floating-point tensor", fix: str | None = None
) -> Tensor:
    """``t`` itself if it is a floating-point ``torch.Tensor``, else a TypeError.

    Args:
        t: the argument.
        name: e.g. ``"bernoulli_nll: x"``.
        what: what the message says it must be, e.g. ``"a floating-point tensor in
            [0, 1]"``.
        fix: what the message for another dtype suggests, e.g. ``"convert it with
            x.float() / 255"``.
    """
    if not torch.is_tensor(t):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be {what}, got dtype {t.dtype}" + (f"; {fix}" if fix else ""))
    return t


def image_batch(x, pixels: int, name: str, *, floats: bool = False) -> Tensor:
    """``x`` itself if it is a batch of images of ``pixels`` values each, ``(B, ...)``.

    For MNIST (``pixels = 784``) that is ``(B, 1, 28, 28)`` or ``(B, 784)``; one image
    without its batch dimension is refused (the message says how to add it).

    Args:
        x: the images.
        pixels: the number of values of one image.
        name: who checks, e.g. ``"VAE"``: the message reads ``"VAE expects ..."``.
        floats: also require floating-point images (a TypeError for uint8 pixels).

    Raises:
        TypeError: ``x`` is not a tensor (or, with ``floats``, not a float tensor).
        ValueError: ``x`` has another shape.
    """
    if not torch.is_tensor(x):
        raise TypeError(f"{name} expects a tensor of images, got {type(x).__name__}")
    if floats and not x.is_floating_point():
        raise TypeError(
            f"{name} expects float images in [0, 1], got dtype {x.dtype}; "
            "convert with x.float() / 255"
        )
    if x.dim() < 2 or x.shape[1:].numel() != pixels:
        shapes = "(B, 1, 28, 28) or (B, 784)" if pixels == 784 else f"(B, {pixels})"
        one = "; add a batch dimension with x.unsqueeze(0) for one image"
        one = one if x.numel() == pixels else ""
        got = "a batch" if x.dim() >= 2 else "a tensor"
        raise ValueError(
            f"{name} expects a batch of images of {pixels} pixels, shape {shapes}, got {got} "
            f"of shape {tuple(x.shape)}{one}"
        )
    return x


def _unit_hint(lo: float, hi: float) -> str:
    """What to do about data with values in ``[lo, hi]`` that should lie in [0, 1]."""
    if math.isnan(lo) or math.isnan(hi):
        return "it has NaN values"
    if lo >= 0.0 and hi <= 255.0:
        return "divide by 255"
    if lo < 0.0:
        return (
            "do not standardise the inputs (e.g. with transforms.Normalize) for a Bernoulli "
            "decoder"
        )
    return "rescale the data to [0, 1]"


def unit_values(x: Tensor, name: str, *, what: str = "floats", hint: str | None = None) -> Tensor:
    """``x`` itself if all its values lie in [0, 1] (NaN does not), else a ValueError.

    One min/max pass over ``x`` (on a GPU: one device sync).

    Args:
        x: a tensor (an empty one passes).
        name: e.g. ``"bernoulli_nll: x"``.
        what: what the values must be, e.g. ``"activations"``: ``"... must be activations
            in [0, 1], got values in [lo, hi]; <hint>"``.
        hint: what to do instead; by default one for data (divide 0-255 pixels by 255,
            do not standardise, NaN).
    """
    if x.numel() == 0:
        return x
    lo, hi = (v.item() for v in torch.aminmax(x.detach()))
    if lo >= 0.0 and hi <= 1.0:  # also False for NaN, which is what we want
        return x
    raise ValueError(
        f"{name} must be {what} in [0, 1], got values in [{lo:g}, {hi:g}]; "
        f"{_unit_hint(lo, hi) if hint is None else hint}"
    )
