"""Kernel-free sliders (vae_edu.kernel_free): the stored outputs hold every frame, the
fallback PNG has the tiled size, bad input gives one clear error, the size is bounded."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from vae_edu.kernel_free import image_slider, image_slider_2d, tile


def digits(*shape, seed=0):
    """Blocky 'digit-like' images (compress like MNIST, unlike uniform noise)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(*shape[:-2], shape[-2] // 4, shape[-1] // 4, generator=g) > 0.6).float()
    return x.repeat_interleave(4, -2).repeat_interleave(4, -1)


def png_of(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))))


def test_tile_layout_matches_make_grid_arithmetic():
    x = torch.rand(5, 1, 8, 6)
    t = tile(x, nrow=3, padding=1)
    assert t.shape == (1, 2 * 9 + 1, 3 * 7 + 1)
    assert torch.equal(t[:, 1:9, 1:7], x[0])
    assert torch.equal(t[:, 10:18, 8:14], x[4])  # row 1, column 1
    assert (t[:, 10:18, 15:21] == 1.0).all()  # the missing sixth image: white
    assert tile(torch.rand(2, 3, 4, 4), nrow=2, padding=0).shape == (3, 4, 8)


def test_image_slider_stores_all_frames_once_with_its_labels_and_alt():
    frames = digits(12, 1, 28, 28)
    labels = [f"z_1 = {v:.1f}" for v in np.linspace(-3, 3, 12)]
    s = image_slider(frames, labels, title="a traversal", alt="a digit changing", nrow=4)
    data, md = s._repr_mimebundle_()
    assert md == {"image/png": {"alt": "a digit changing"}}
    fallback = png_of(data["image/png"])
    assert fallback.shape == (3 * 29 + 1, 4 * 29 + 1)  # the tiled size
    # the HTML holds the same tiled PNG (every frame), a range input built by JS, the labels
    html = data["text/html"]
    (src,) = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert np.array_equal(png_of(src), fallback)
    r, k = 2, 3  # frame 11 is at row 2, column 3 of the sheet
    assert np.array_equal(
        fallback[1 + r * 29 : 1 + r * 29 + 28, 1 + k * 29 : 29 + k * 29],
        (frames[11, 0].numpy() * 255).astype(np.uint8),
    )
    for label in labels:
        assert label in html
    assert '"ncol": 4' in html and 'input.type = "range"' in html
    assert "http" not in html  # nothing remote
    assert s.frames == 12


def test_image_slider_2d_fallback_is_the_grid_and_sliders_start_in_the_middle():
    grid = digits(5, 7, 1, 28, 28)
    s = image_slider_2d(
        grid,
        np.linspace(-2, 2, 5),
        np.linspace(-2, 2, 7),
        row_name="z2",
        col_name="z1",
        title="manifold",
        alt="digits over a 2-D latent grid",
    )
    data, _ = s._repr_mimebundle_()
    assert png_of(data["image/png"]).shape == (5 * 29 + 1, 7 * 29 + 1)
    assert '"start": 2' in data["text/html"] and '"start": 3' in data["text/html"]
    assert s.frames == 35


def test_colour_frames_give_an_rgb_png():
    s = image_slider(torch.rand(3, 3, 8, 8), ["a", "b", "c"], title="t", alt="a")
    assert png_of(s._repr_mimebundle_()[0]["image/png"]).shape == (10, 3 * 9 + 1, 3)


def test_the_html_ids_are_deterministic_so_stored_outputs_are_reproducible():
    x = digits(3, 1, 28, 28)
    a = image_slider(x, ["1", "2", "3"], title="t", alt="a").html
    assert a == image_slider(x, ["1", "2", "3"], title="t", alt="a").html


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: image_slider(torch.rand(3, 28, 28), ["a"] * 3, title="t", alt="a"),
            r"\(N, C, H, W\)",
        ),
        (lambda: image_slider(torch.rand(3, 2, 8, 8), ["a"] * 3, title="t", alt="a"), "C = 1 or 3"),
        (
            lambda: image_slider(torch.rand(3, 1, 8, 8), ["a"] * 2, title="t", alt="a"),
            "expected 3 labels",
        ),
        (
            lambda: image_slider(torch.rand(3, 1, 8, 8) * 5, ["a"] * 3, title="t", alt="a"),
            "sigmoid",
        ),
        (
            lambda: image_slider(
                torch.full((3, 1, 8, 8), float("nan")), ["a"] * 3, title="t", alt="a"
            ),
            "NaN",
        ),
        (
            lambda: image_slider(
                torch.zeros(3, 1, 8, 8, dtype=torch.uint8), ["a"] * 3, title="t", alt="a"
            ),
            "divide 0-255",
        ),
        (lambda: image_slider(torch.rand(3, 1, 8, 8), ["a"] * 3, title="t", alt=" "), "alt"),
        (lambda: image_slider(torch.rand(3, 1, 8, 8), "abc", title="t", alt="a"), "labels"),
        (
            lambda: image_slider(torch.rand(3, 1, 8, 8), ["a"] * 3, title="t", alt="a", scale=0),
            "scale",
        ),
        (
            lambda: image_slider_2d(
                torch.rand(2, 3, 1, 8, 8),
                [1, 2],
                [1, 2],
                row_name="r",
                col_name="c",
                title="t",
                alt="a",
            ),
            "expected 3 labels",
        ),
        (lambda: tile(torch.rand(2, 1, 4, 4), nrow=0), "nrow"),
    ],
)
def test_bad_input_gives_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_output_size_is_bounded():
    noise = torch.rand(400, 1, 28, 28)  # incompressible: ~0.3 MB of PNG
    with pytest.raises(ValueError, match="MB limit"):
        image_slider(noise, [str(i) for i in range(400)], title="t", alt="a", max_bytes=100_000)
    s = image_slider(noise, [str(i) for i in range(400)], title="t", alt="a")
    assert s.nbytes < 3_000_000


# ----------------------------------------------------------------------------- widget twins
# Each precomputed view must show exactly what its live widget shows at the same setting.


def _seeded(build):
    torch.manual_seed(0)
    return build().eval()


def _sheet_tile(slider, r, k, h=28, w=28):
    """Tile (r, k) of a 2-D slider's tiled PNG, as uint8."""
    sheet = png_of(slider._repr_mimebundle_()[0]["image/png"])
    return sheet[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + k * (w + 1) : 1 + k * (w + 1) + w]


def _u8(image):
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def test_the_widget_twins_match_their_live_widgets():
    from vae_edu.kernel_free import kernel_free_view
    from vae_edu.models import CVAE, VAE
    from vae_edu.widgets import (
        AttributeProgression,
        AttributeSliders,
        ConditionalSliders,
        LatentSliders,
        ManifoldExplorer,
    )

    vae = _seeded(lambda: VAE(784, 32, 4))
    live = LatentSliders(vae, torch.tensor([0.5, -0.2, 0.1, 0.0]))
    view = kernel_free_view(live, steps=5)  # values -3, -1.5, 0, 1.5, 3
    live.set_latent(2, 1.5)
    assert np.abs(_sheet_tile(view, 2, 3).astype(int) - _u8(live.render())).max() <= 1
    assert view.frames == 4 * 5

    vae2 = _seeded(lambda: VAE(784, 32, 2))
    live = ManifoldExplorer(vae2)
    view = kernel_free_view(live, n=5)  # row 0: z2 = +3, column 4: z1 = +3
    live.set_z([3.0, 3.0])
    assert np.abs(_sheet_tile(view, 0, 4).astype(int) - _u8(live.render())).max() <= 1

    cvae = _seeded(lambda: CVAE(10, 2, 32))
    live = ConditionalSliders(cvae, y=3)
    view = kernel_free_view(live, steps=3)  # columns z[0] = -3, 0, 3, z[1] = -3, 0, 3
    live.set_label(7)
    live.set_latent(1, -3.0)
    assert np.abs(_sheet_tile(view, 7, 3).astype(int) - _u8(live.render())).max() <= 1
    assert view.frames == 10 * 6

    live = AttributeProgression(cvae, 3, 8)
    view = kernel_free_view(live, steps=5, n_z=2)
    live.set_alpha(0.75)
    assert np.abs(_sheet_tile(view, 0, 3).astype(int) - _u8(live.render())).max() <= 1

    acvae = _seeded(lambda: CVAE(12, 2, 32, prior="learned"))
    live = AttributeSliders(
        acvae,
        3,
        torch.tensor([-1.0, 0.0]),
        torch.tensor([1.0, 2.0]),
        ["thickness", "slant"],
        z=torch.tensor([0.3, -0.3]),
        alpha=0.5,
    )
    view = kernel_free_view(live, steps=5)
    live.set_alpha("slant", 0.25)
    assert np.abs(_sheet_tile(view, 1, 1).astype(int) - _u8(live.render())).max() <= 1

    with pytest.raises(ValueError, match="expected a widget"):
        kernel_free_view(vae)
