"""The shared argument checks of vae_edu.validation: each accepts the good values (and
returns them in a plain type) and rejects the bad ones with the right exception and a
message that names the argument, what it must be and what it got."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from vae_edu.validation import (
    finite_float,
    float_tensor,
    image_batch,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    unit_interval,
    unit_values,
)

# ----------------------------------------------------------------------------- numbers


def test_finite_float():
    assert finite_float(2, "a") == 2.0 and type(finite_float(2, "a")) is float
    assert finite_float(np.float32(-1.5), "a") == -1.5
    assert finite_float(torch.tensor(0.25), "a") == 0.25
    for text in ("x", "0.5", b"1"):
        with pytest.raises(TypeError, match="f: a must be a number, got (str|bytes)"):
            finite_float(text, "f: a")
    with pytest.raises(TypeError, match="a must be a number, got NoneType"):
        finite_float(None, "a")
    for bad in (math.nan, math.inf, -math.inf, True):
        with pytest.raises(ValueError, match=r"a must be a finite number, got "):
            finite_float(bad, "a")


@pytest.mark.parametrize(
    ("check", "good", "bad", "message"),
    [
        (positive_float, [1e-9, 3, 2.5], [0, 0.0, -1.0], r"s must be > 0, got "),
        (nonnegative_float, [0, 0.0, 4.0], [-1e-9, -2], r"s must be >= 0, got "),
    ],
)
def test_positive_and_nonnegative_float(check, good, bad, message):
    for value in good:
        assert check(value, "s") == float(value) and type(check(value, "s")) is float
    for value in bad:
        with pytest.raises(ValueError, match=message + repr(value)):
            check(value, "s")
    with pytest.raises(ValueError, match="finite"):
        check(math.nan, "s")
    with pytest.raises(ValueError, match="finite"):
        check(math.inf, "s")
    with pytest.raises(TypeError, match="s must be a number, got str"):
        check("1", "s")


@pytest.mark.parametrize(
    ("kwargs", "interval", "good", "bad"),
    [
        ({}, "[0, 1]", [0, 0.5, 1], [-0.1, 1.5]),
        ({"open_low": True}, "(0, 1]", [1e-9, 1.0], [0.0, 1.1]),
        ({"open_high": True}, "[0, 1)", [0.0, 0.999], [1.0, -0.1]),
        ({"open_low": True, "open_high": True}, "(0, 1)", [0.05, 0.5], [0.0, 1.0, 2.0]),
    ],
)
def test_unit_interval(kwargs, interval, good, bad):
    for value in good:
        assert unit_interval(value, "p", **kwargs) == float(value)
    for value in bad:
        message = re.escape(f"p must be in {interval}, got {value!r}")
        with pytest.raises(ValueError, match=f"^{message}$"):
            unit_interval(value, "p", **kwargs)
    with pytest.raises(ValueError, match="finite"):
        unit_interval(math.nan, "p", **kwargs)
    with pytest.raises(TypeError, match="number"):
        unit_interval([0.5], "p", **kwargs)


def test_positive_and_nonnegative_int():
    assert positive_int(3, "n") == 3 and type(positive_int(np.int64(3), "n")) is int
    assert nonnegative_int(0, "n") == 0 and type(nonnegative_int(np.int32(2), "n")) is int
    for bad in (0, -1, 2.0, True, "3", None):
        with pytest.raises(ValueError, match=rf"^n must be a positive int, got {bad!r}$"):
            positive_int(bad, "n")
    for bad in (-1, 0.0, False, "0"):
        with pytest.raises(ValueError, match=rf"^n must be a non-negative int, got {bad!r}$"):
            nonnegative_int(bad, "n")


# ----------------------------------------------------------------------------- tensors


def test_float_tensor():
    t = torch.zeros(2, 3)
    assert float_tensor(t, "f: x") is t
    assert float_tensor(t.half(), "f: x") is not None
    with pytest.raises(TypeError, match=r"^f: x must be a torch.Tensor, got ndarray$"):
        float_tensor(np.zeros(3), "f: x")
    uint8 = r"^f: x must be a floating-point tensor, got dtype torch.uint8$"
    with pytest.raises(TypeError, match=uint8):
        float_tensor(t.to(torch.uint8), "f: x")
    with pytest.raises(
        TypeError, match=r"^f: x must be images in \[0, 1\], got dtype torch.int64; use x\.float"
    ):
        float_tensor(t.long(), "f: x", what="images in [0, 1]", fix="use x.float()")


def test_image_batch():
    for x in (torch.zeros(5, 1, 28, 28), torch.zeros(5, 784), torch.zeros(0, 784)):
        assert image_batch(x, 784, "M") is x
    assert image_batch(torch.zeros(2, 10, dtype=torch.uint8), 10, "M") is not None
    with pytest.raises(TypeError, match="^M expects a tensor of images, got list$"):
        image_batch([[0.0] * 784], 784, "M")
    with pytest.raises(
        ValueError,
        match=r"^M expects a batch of images of 784 pixels, shape \(B, 1, 28, 28\) or \(B, 784\), "
        r"got a batch of shape \(5, 28, 27\)$",
    ):
        image_batch(torch.zeros(5, 28, 27), 784, "M")
    with pytest.raises(ValueError, match=r"got a tensor of shape \(784,\); add a batch dimension"):
        image_batch(torch.zeros(784), 784, "M")
    with pytest.raises(ValueError, match=r"of 10 pixels, shape \(B, 10\), got a batch of shape"):
        image_batch(torch.zeros(3, 12), 10, "M")
    with pytest.raises(TypeError, match=r"^M expects float images in \[0, 1\], got dtype .*uint8"):
        image_batch(torch.zeros(2, 784, dtype=torch.uint8), 784, "M", floats=True)
    # the dtype is checked before the shape
    with pytest.raises(TypeError, match="float images"):
        image_batch(torch.zeros(2, 3, dtype=torch.uint8), 784, "M", floats=True)


def test_unit_values():
    x = torch.rand(4, 784)
    assert unit_values(x, "f: x") is x
    assert unit_values(torch.tensor([0.0, 1.0]), "f: x") is not None
    assert unit_values(torch.zeros(0), "f: x") is not None
    with pytest.raises(
        ValueError, match=r"^f: x must be floats in \[0, 1\], got values in \[0, 255\]; divide by"
    ):
        unit_values(torch.tensor([0.0, 255.0]), "f: x")
    with pytest.raises(ValueError, match=r"got values in \[-1, 1\]; do not standardise"):
        unit_values(torch.tensor([-1.0, 1.0]), "f: x")
    with pytest.raises(ValueError, match=r"got values in \[0, 300\]; rescale the data"):
        unit_values(torch.tensor([0.0, 300.0]), "f: x")
    with pytest.raises(ValueError, match="NaN"):
        unit_values(torch.tensor([0.5, math.nan]), "f: x")
    with pytest.raises(
        ValueError, match=r"^g: h must be activations in \[0, 1\], got values in \[0, 2\]; sigmoid$"
    ):
        unit_values(torch.tensor([0.0, 2.0]), "g: h", what="activations", hint="sigmoid")
