"""vae_edu.morpho: the measured attributes against images drawn with known thickness,
slant, width and height."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from vae_edu.morpho import (
    ATTRIBUTES,
    AttributeScaler,
    format_table,
    measure,
    moments_slant,
    skeleton_distances,
)

T, S, W, H = range(4)


def bar(width: int, length: int = 20) -> np.ndarray:
    """A horizontal bar ``width`` rows thick and ``length`` columns long."""
    im = np.zeros((28, 28))
    im[10 : 10 + width, 4 : 4 + length] = 1.0
    return im


def parallelogram(width: int, height: int, shear: float) -> np.ndarray:
    """An upright rectangle ``width`` x ``height`` whose rows are shifted by
    ``shear * (height above the middle)``: top to the right for shear > 0."""
    im = np.zeros((28, 28))
    top = (28 - height) // 2
    mid = top + (height - 1) / 2
    for r in range(top, top + height):
        c = 14 - width / 2 + shear * (mid - r)  # left edge (continuous)
        lo = int(round(c))
        im[r, lo : lo + width] = 1.0
    return im


def test_thickness_of_bars_is_their_width_within_half_a_pixel_and_grows():
    widths = range(1, 7)
    got = measure(np.stack([bar(w) for w in widths]))[:, T]
    for w, t in zip(widths, got.tolist(), strict=True):
        assert abs(t - w) <= 0.65, (w, t)
    assert got[4] > got[0] + 3  # 5 px much thicker than 1 px


def test_thickness_of_a_ring_and_a_slanted_stroke():
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 13.5, xx - 13.5)
    rings = np.stack([((r > 8 - w / 2) & (r <= 8 + w / 2)).astype(float) for w in (2, 4)])
    strokes = np.stack([parallelogram(w, 20, 0.4) for w in (2, 4)])
    for images in (rings, strokes):
        t = measure(images)[:, T]
        assert abs(t[0] - 2) <= 0.8 and abs(t[1] - 4) <= 0.8, t


def test_height_and_width_of_rectangles_are_exact():
    images = np.stack([parallelogram(w, h, 0.0) for w, h in ((4, 20), (10, 12), (16, 7))])
    a = measure(images)
    assert a[:, H].tolist() == [20.0, 12.0, 7.0]
    assert a[:, W].tolist() == pytest.approx([4.0, 10.0, 16.0], abs=1e-4)
    assert a[:, S].abs().max() < 1e-4  # upright


@pytest.mark.parametrize("degrees", [-25.0, -10.0, 10.0, 20.0, 30.0])
def test_slant_of_a_sheared_rectangle_is_the_shear_angle(degrees):
    s = math.tan(math.radians(degrees))
    a = measure(parallelogram(5, 20, s)[None])[0]
    assert a[S].item() == pytest.approx(degrees, abs=1.5)
    # deslanted, the width is the rectangle's again (rows rounded to pixels: about 1 px)
    assert abs(a[W].item() - 5) <= 1.1
    assert a[H].item() == 20


def test_shearing_an_image_adds_its_shear_to_tan_slant():
    """A known image sheared by a known angle with scipy: tan(slant) moves by the shear
    (exact for the continuous moments; the resampling costs a little)."""
    yy, xx = np.mgrid[:28, :28]
    blob = ((np.hypot((yy - 14) / 8, (xx - 12) / 4) < 1) & (xx + yy > 20)).astype(float)
    base = moments_slant(blob[None])[0][0]
    for shear in (-0.3, 0.2, 0.5):
        # output (row, col) reads input (row, col - shear * (14 - row)): top moves right
        matrix = np.array([[1.0, 0.0], [shear, 1.0]])
        offset = np.array([0.0, -shear * 14.0])
        sheared = ndimage.affine_transform(blob, matrix, offset=offset, order=1)
        s = moments_slant(sheared[None])[0][0]
        assert s - base == pytest.approx(shear, abs=0.03)


def test_mosaic_matches_one_image_at_a_time():
    rng = np.random.default_rng(0)
    images = (ndimage.gaussian_filter(rng.random((7, 28, 28)), (0, 2, 2)) > 0.5)
    skel, dist = skeleton_distances(images)
    from skimage.morphology import skeletonize

    for i in range(7):
        assert (skel[i] == skeletonize(images[i])).all()
        alone = ndimage.distance_transform_edt(np.pad(images[i], 1))[1:-1, 1:-1]
        assert np.allclose(dist[i], alone)


def test_chunks_do_not_change_the_result_and_tensors_work():
    images = torch.from_numpy(np.stack([bar(w) for w in range(1, 6)] * 3)).float()[:, None]
    assert torch.equal(measure(images), measure(images, chunk=4))
    assert measure(images).shape == (15, len(ATTRIBUTES))


def test_empty_image_gives_nan_not_an_error():
    a = measure(np.zeros((1, 28, 28)))
    assert torch.isnan(a[0, [T, W, H]]).all() and a[0, S] == 0


def test_bad_input_is_one_clear_error():
    with pytest.raises(TypeError, match="float images"):
        measure(torch.zeros(2, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="batch dimension"):
        measure(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="divide by 255"):
        measure(np.full((1, 28, 28), 255.0))
    with pytest.raises(ValueError, match="NaN"):
        measure(np.full((1, 28, 28), np.nan))
    with pytest.raises(ValueError, match="no images"):
        measure(np.zeros((0, 28, 28)))
    with pytest.raises(ValueError, match="threshold"):
        measure(np.zeros((1, 28, 28)), threshold=1.0)
    with pytest.raises(TypeError, match="tensor or array"):
        measure([[0.0]])


def test_scaler_round_trip_and_table():
    a = torch.tensor([[1.0, 10.0], [3.0, 30.0], [float("nan"), 0.0], [2.0, 20.0]])
    scaler = AttributeScaler(a)
    u = scaler.transform(a[[0, 1, 3]])
    assert torch.allclose(u.mean(0), torch.zeros(2), atol=1e-6)
    assert torch.allclose(u.std(0), torch.ones(2), atol=1e-6)
    assert torch.allclose(scaler.inverse(u), a[[0, 1, 3]], atol=1e-5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        scaler.transform(torch.zeros(3))
    with pytest.raises(ValueError, match="shape \\(N, A\\)"):
        AttributeScaler(torch.zeros(5))
    table = format_table({"a": torch.tensor([[2.0, 1.0, 3.0, 4.0]])})
    assert "thickness (px)" in table.splitlines()[0] and "2.0" in table.splitlines()[1]
