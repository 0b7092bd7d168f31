"""sRGB <-> Lab in torch against scikit-image's reference implementation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import skimage.color
import skimage.data
import torch

from vae_edu.colorization.lab import (
    AB_SCALE,
    lab_to_rgb,
    merge_grey_color,
    rgb_to_lab,
    split_grey_color,
)

# float64: the same formulas as skimage up to rounding; float32: single-precision rounding
LAB_ATOL = {torch.float64: 1e-8, torch.float32: 1e-3}  # Lab units (L in 0..100)
RGB_ATOL = {torch.float64: 1e-10, torch.float32: 1e-5}  # RGB in 0..1


def _chw(a: np.ndarray, dtype) -> torch.Tensor:
    return torch.from_numpy(a).to(dtype).permute(2, 0, 1)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).double().numpy()


def _random_rgb() -> np.ndarray:
    rgb = np.random.default_rng(0).random((32, 32, 3))
    # black, white, near-black (the linear part of f) and the six primaries/secondaries
    rgb[0, :9] = [[0, 0, 0], [1, 1, 1], [0.002, 0.001, 0.003], [1, 0, 0], [0, 1, 0],
                  [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]]
    return rgb


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_rgb_to_lab_matches_skimage(dtype):
    rgb = _random_rgb()
    ours = _hwc(rgb_to_lab(_chw(rgb, dtype)))
    np.testing.assert_allclose(ours, skimage.color.rgb2lab(rgb), atol=LAB_ATOL[dtype], rtol=0)


def test_rgb_to_lab_matches_skimage_on_a_photograph():
    rgb = skimage.data.astronaut()[::4, ::4] / 255.0
    ours = _hwc(rgb_to_lab(_chw(rgb, torch.float64)))
    np.testing.assert_allclose(ours, skimage.color.rgb2lab(rgb), atol=1e-8, rtol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lab_to_rgb_matches_skimage_also_out_of_gamut(dtype):
    rng = np.random.default_rng(1)
    lab = np.stack([rng.uniform(0, 100, (32, 32)), rng.uniform(-110, 110, (32, 32)),
                    rng.uniform(-110, 110, (32, 32))], axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the out-of-gamut colours
        reference = skimage.color.lab2rgb(lab)
    ours = _hwc(lab_to_rgb(_chw(lab, dtype)))
    np.testing.assert_allclose(ours, reference, atol=RGB_ATOL[dtype], rtol=0)


def test_round_trip_and_batches():
    rgb = torch.rand(2, 5, 3, 8, 8, dtype=torch.float64)  # any leading dimensions
    lab = rgb_to_lab(rgb)
    assert lab.shape == rgb.shape
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=1e-10, rtol=0)
    # every image of the batch converts as it would alone
    torch.testing.assert_close(lab[1, 3], rgb_to_lab(rgb[1, 3]))


def test_grey_has_no_colour():
    grey = torch.linspace(0, 1, 11, dtype=torch.float64).view(1, 1, 11).expand(3, 1, 11)
    lab = rgb_to_lab(grey.clone())
    # a = b = 0 for R = G = B, up to the rounding of the sRGB matrix (as in skimage)
    assert lab[1:].abs().max() < 0.01
    assert lab[0, 0, 0] == pytest.approx(0.0) and lab[0, 0, -1] == pytest.approx(100.0)


def test_split_and_merge_are_inverse():
    rgb = torch.rand(4, 3, 6, 6, dtype=torch.float64)
    grey, color = split_grey_color(rgb)
    assert grey.shape == (4, 1, 6, 6) and color.shape == (4, 2, 6, 6)
    assert 0 <= grey.min() and grey.max() <= 1
    torch.testing.assert_close(color * AB_SCALE, rgb_to_lab(rgb)[:, 1:])
    torch.testing.assert_close(merge_grey_color(grey, color), rgb, atol=1e-10, rtol=0)
    # one grey image, several colour fields
    assert merge_grey_color(grey[0], color).shape == (4, 3, 6, 6)


def test_bad_input_gives_one_clear_error():
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, H, W\)"):
        rgb_to_lab(torch.rand(8, 8, 3))
    with pytest.raises(TypeError, match="255"):
        rgb_to_lab(torch.zeros(3, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError, match="merge_grey_color"):
        merge_grey_color(torch.rand(1, 1, 4, 4), torch.rand(1, 3, 4, 4))
