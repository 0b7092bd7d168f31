"""Checks of scalar arguments shared by the library: one message per mistake, naming the
argument and what it must be.

Each function returns the value in its plain Python type, so that a caller can write
``self.span = positive_float(span, "LatentSliders: span")``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["finite_float", "positive_float", "positive_int"]


def finite_float(value, name: str) -> float:
    """``value`` as a float; TypeError for a non-number (or a bool), ValueError for NaN/inf."""
    try:
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


def positive_int(value, name: str) -> int:
    """``value`` as an int >= 1; a bool, a float or a smaller int is a ValueError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)
