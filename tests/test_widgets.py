"""The notebook widgets, driven without a browser: set a slider through its trait, check
the image that the widget would send against a direct decode of the same code."""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vae_edu import widgets as W
from vae_edu.evaluate import manifold_grid
from vae_edu.models import CVAE, VAE, Autoencoder, ConvCVAE, interpolate_attributes
from vae_edu.tooling.cli import main as cli_main
from vae_edu.viz import image_grid
from vae_edu.widgets import (
    AttributeProgression,
    ConditionalSliders,
    LatentSliders,
    ManifoldExplorer,
    latent_code,
    to_png,
)
from vae_edu.widgets.rendering import draw_box, palette_png

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MARKER = np.array(W.MARKER_COLOR, dtype=np.uint8)


# ----------------------------------------------------------------------------- helpers


def seeded(build, seed: int = 0):
    torch.manual_seed(seed)
    return build()


@pytest.fixture
def vae():
    return seeded(lambda: VAE(784, 32, 4))


@pytest.fixture
def vae2():
    return seeded(lambda: VAE(784, 32, 2))


@pytest.fixture
def cvae():
    return seeded(lambda: CVAE(10, 3, 32))


@pytest.fixture
def conv_cvae():
    return seeded(lambda: ConvCVAE(10, 3, channels=(4, 8)))


def png_pixels(png) -> np.ndarray:
    """Decode PNG bytes (or the memoryview a widgets.Image holds) with Pillow."""
    picture = Image.open(io.BytesIO(bytes(png)))
    return np.asarray(picture.convert("RGB") if picture.mode == "P" else picture)


def as_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def shown(widget_image: widgets.Image, scale: int) -> np.ndarray:
    """The picture in a widgets.Image, shrunk back by ``scale`` (checking the blocks)."""
    big = png_pixels(widget_image.value)
    small = big[::scale, ::scale]
    np.testing.assert_array_equal(np.repeat(np.repeat(small, scale, 0), scale, 1), big)
    return small


def decoded(model, z, y=None) -> np.ndarray:
    """What model.decode_images gives for one code, as a (H, W) array."""
    z = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1)
    out = model.decode_images(z) if y is None else model.decode_images(z, y)
    return out[0, 0].numpy()


# ----------------------------------------------------------------------------- to_png


def test_to_png_is_the_image_enlarged_with_nearest_neighbour():
    image = torch.rand(28, 28, generator=torch.Generator().manual_seed(0))
    pixels = png_pixels(to_png(image, scale=6))
    assert pixels.shape == (168, 168)
    expected = np.repeat(np.repeat(as_uint8(image.numpy()), 6, 0), 6, 1)
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize(
    "shape, mode_shape",
    [((1, 5, 7), (10, 14)), ((5, 7), (10, 14)), ((3, 5, 7), (10, 14, 3)), ((5, 7, 3), (10, 14, 3))],
)
def test_to_png_takes_grey_and_colour_layouts(shape, mode_shape):
    a = np.random.default_rng(0).random(shape).astype(np.float32)
    pixels = png_pixels(to_png(a, scale=2))
    assert pixels.shape == mode_shape
    rgb_last = a.transpose(1, 2, 0) if shape[0] in (1, 3) else a
    np.testing.assert_array_equal(pixels[::2, ::2], as_uint8(rgb_last).squeeze())


def test_to_png_clips_floats_and_keeps_uint8():
    a = np.array([[-0.5, 0.0], [0.5, 2.0]], dtype=np.float64)
    np.testing.assert_array_equal(png_pixels(to_png(a, 1)), [[0, 0], [128, 255]])
    u = np.array([[7, 200]], dtype=np.uint8)
    np.testing.assert_array_equal(png_pixels(to_png(u, 1)), u)
    assert png_pixels(to_png(torch.ones(2, 2, dtype=torch.float16), 1)).tolist() == [[255] * 2] * 2


@pytest.mark.parametrize(
    "image, scale, match",
    [
        (np.zeros((2, 1, 28, 28), np.float32), 6, r"one image.*images\[0\]"),
        (np.zeros((28, 28), np.int64), 6, "divide 0-255 pixels by 255"),
        (np.full((28, 28), np.nan, np.float32), 6, "NaN"),
        (np.zeros((28, 28), np.float32), 0, "scale must be a positive int"),
        (np.zeros((4, 28, 28), np.float32), 6, r"shape \(4, 28, 28\)"),
    ],
)
def test_to_png_errors_are_clear(image, scale, match):
    with pytest.raises(ValueError, match=match):
        to_png(image, scale)


# ----------------------------------------------------------------------------- LatentSliders


def test_latent_sliders_show_the_decoded_starting_point(vae):
    w = LatentSliders(vae)
    assert len(w.sliders) == vae.latent_dim
    assert torch.equal(w.z, torch.zeros(4))
    np.testing.assert_allclose(w.render(), decoded(vae, torch.zeros(4)), atol=1e-6)
    np.testing.assert_array_equal(shown(w.image, 6), as_uint8(decoded(vae, torch.zeros(4))))


def test_moving_a_slider_redraws_the_image_for_that_code(vae):
    w = LatentSliders(vae)
    before = bytes(w.image.value)
    w.sliders[2].value = 1.5  # what dragging the slider does
    z = torch.tensor([0.0, 0.0, 1.5, 0.0])
    assert torch.equal(w.z, z)
    assert bytes(w.image.value) != before
    np.testing.assert_allclose(w.render(), decoded(vae, z), atol=1e-6)
    np.testing.assert_array_equal(shown(w.image, 6), as_uint8(decoded(vae, z)))
    assert bytes(w.image.value) == to_png(decoded(vae, z), 6)


def test_set_latent_moves_the_slider_and_widens_its_range(vae):
    w = LatentSliders(vae, span=3.0)
    w.set_latent(1, 4.25)
    assert w.sliders[1].value == 4.25 and w.sliders[1].max >= 4.25
    assert w.z[1] == 4.25
    np.testing.assert_allclose(w.render(), decoded(vae, [0, 4.25, 0, 0]), atol=1e-6)


def test_reset_goes_back_to_an_encoded_image_in_one_redraw(vae):
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    mu, _ = vae.encode(x)
    z0 = latent_code(vae, x[0])
    torch.testing.assert_close(z0, mu[0].detach())
    w = LatentSliders(vae, z0)
    start_png = bytes(w.image.value)
    assert [s.value for s in w.sliders] == pytest.approx(z0.tolist())
    w.sliders[0].value = -2.0
    w.sliders[3].value = 2.0
    assert bytes(w.image.value) != start_png
    redraws = []
    w.update = lambda: (redraws.append(1), LatentSliders.update(w))
    w.reset_button.click()
    assert len(redraws) == 1
    assert torch.equal(w.z, z0)
    assert [s.value for s in w.sliders] == pytest.approx(z0.tolist())
    assert bytes(w.image.value) == start_png


def test_set_start_and_set_z(vae):
    w = LatentSliders(vae)
    w.set_z([0.5, -0.5, 1.0, -1.0])
    np.testing.assert_allclose(w.render(), decoded(vae, [0.5, -0.5, 1.0, -1.0]), atol=1e-6)
    w.set_start(torch.ones(1, 4))
    assert torch.equal(w.z0, torch.ones(4)) and torch.equal(w.z, torch.ones(4))
    np.testing.assert_allclose(w.render(), decoded(vae, torch.ones(4)), atol=1e-6)


def test_sliders_for_some_dims_only(vae):
    w = LatentSliders(vae, torch.full((4,), 0.25), dims=[3, 1])
    assert [s.description for s in w.sliders] == ["z[3]", "z[1]"]
    w.sliders[0].value = -1.0
    w.set_latent(0, 2.0)  # a dimension without a slider
    z = torch.tensor([2.0, 0.25, 0.25, -1.0])
    assert torch.equal(w.z, z)
    np.testing.assert_allclose(w.render(), decoded(vae, z), atol=1e-6)


@pytest.mark.parametrize("training", [True, False])
def test_the_model_keeps_its_mode_and_gets_no_gradients(vae, training):
    vae.train(training)
    w = LatentSliders(vae)
    w.sliders[0].value = 1.0
    w.reset()
    assert vae.training is training
    assert all(p.grad is None for p in vae.parameters())


def test_a_plain_autoencoder_works_too():
    ae = seeded(lambda: Autoencoder((784, 16, 3)))
    w = LatentSliders(ae)
    w.sliders[1].value = 2.0
    expected = torch.sigmoid(ae.decode(torch.tensor([[0.0, 2.0, 0.0]]))).reshape(28, 28)
    np.testing.assert_allclose(w.render(), expected.detach().numpy(), atol=1e-6)


def test_the_object_shows_as_its_widget_with_a_stable_text(vae, vae2, cvae):
    made = [
        LatentSliders(vae),
        LatentSliders(vae, dims=[0, 2], span=2),
        ConditionalSliders(cvae, 4),
        AttributeProgression(cvae, 3, 8),
        ManifoldExplorer(vae2, n=4),
        ManifoldExplorer(vae2, torch.zeros(5, 2)),
    ]
    texts = []
    for w in made:
        bundle = w._repr_mimebundle_()
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert view["model_id"] == w.widget.model_id
        assert bundle["text/plain"] == repr(w) and "run the cell in a kernel" in repr(w)
        texts.append(repr(w).split(" (a live widget")[0])
    assert texts == [
        "LatentSliders over a VAE (latent size 4): sliders z[0]..z[3] in [-3, 3]",
        "LatentSliders over a VAE (latent size 4): sliders z[0], z[2] in [-2, 2]",
        "ConditionalSliders over a CVAE (latent size 3): a picker of y in 0..9, sliders "
        "z[0]..z[2] in [-3, 3]",
        "AttributeProgression over a CVAE: y_alpha = (1 - alpha) y(3) + alpha y(8), alpha in "
        "[0, 1], a strip of 9",
        "ManifoldExplorer of a VAE: sliders z1, z2 in [-3, 3] over the 4 x 4 manifold",
        "ManifoldExplorer of a VAE: sliders z1, z2 in [-3, 3] over a scatter of the codes",
    ]
    for w in made:
        w.close()


def test_latent_sliders_errors_are_clear(vae, cvae):
    with pytest.raises(ValueError, match=r"z0 must have 4 values.*got shape \(5,\)"):
        LatentSliders(vae, torch.zeros(5))
    with pytest.raises(TypeError, match=r"unconditional model.*ConditionalSliders"):
        LatentSliders(cvae)
    with pytest.raises(TypeError, match="needs a model of vae_edu.models"):
        LatentSliders(torch.nn.Linear(2, 784))
    with pytest.raises(ValueError, match=r"dims must be ints in 0..3"):
        LatentSliders(vae, dims=[4])
    with pytest.raises(ValueError, match="span must be > 0"):
        LatentSliders(vae, span=0)
    w = LatentSliders(vae)
    with pytest.raises(IndexError, match=r"latent index must be an int in 0..3, got 4"):
        w.set_latent(4, 1.0)
    with pytest.raises(ValueError, match="finite"):
        w.set_latent(0, float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        w.set_z([0, 0, float("inf"), 0])


# ----------------------------------------------------------------------------- conditional


@pytest.mark.parametrize("model_name", ["cvae", "conv_cvae"])
def test_digit_picker_decodes_p_x_given_z_and_y(model_name, request):
    model = request.getfixturevalue(model_name)
    w = ConditionalSliders(model, y=3)
    assert isinstance(w.picker, widgets.ToggleButtons) and w.picker.value == 3
    np.testing.assert_allclose(w.render(), decoded(model, torch.zeros(3), 3), atol=1e-6)
    before = bytes(w.image.value)
    w.picker.value = 7  # a click on "7"
    assert w.label == 7
    assert bytes(w.image.value) != before
    np.testing.assert_allclose(w.render(), decoded(model, torch.zeros(3), 7), atol=1e-6)
    w.sliders[1].value = -1.25
    z = torch.tensor([0.0, -1.25, 0.0])
    np.testing.assert_allclose(w.render(), decoded(model, z, 7), atol=1e-6)
    np.testing.assert_array_equal(shown(w.image, 6), as_uint8(decoded(model, z, 7)))
    w.set_label(2)
    assert w.picker.value == 2
    np.testing.assert_allclose(w.render(), decoded(model, z, 2), atol=1e-6)
    w.reset()
    assert w.label == 2 and torch.equal(w.z, torch.zeros(3))


def test_conditional_start_from_an_encoded_image(cvae):
    x = torch.rand(28, 28, generator=torch.Generator().manual_seed(2))
    z0 = latent_code(cvae, x, y=5)
    torch.testing.assert_close(z0, cvae.encode(x[None, None], torch.tensor([5]))[0][0].detach())
    w = ConditionalSliders(cvae, 5, z0)
    np.testing.assert_allclose(w.render(), decoded(cvae, z0, 5), atol=1e-6)


def test_conditional_sliders_errors_are_clear(vae, cvae):
    with pytest.raises(TypeError, match=r"needs a conditional model.*LatentSliders"):
        ConditionalSliders(vae)
    with pytest.raises(ValueError, match=r"y must be a label in 0..9.*got 10"):
        ConditionalSliders(cvae, y=10)
    with pytest.raises(TypeError, match=r"y must be an int label"):
        ConditionalSliders(cvae, y=True)
    with pytest.raises(ValueError, match="z0 must have 3 values"):
        ConditionalSliders(cvae, 1, torch.zeros(4))
    w = ConditionalSliders(cvae, 1)
    with pytest.raises(ValueError, match=r"0..9"):
        w.set_label(-1)
    with pytest.raises(TypeError, match=r"latent_code: CVAE is conditional: pass y, int labels"):
        latent_code(cvae, torch.zeros(28, 28))
    with pytest.raises(ValueError, match="one image"):
        latent_code(cvae, torch.zeros(2, 1, 28, 28), y=1)
    with pytest.raises(ValueError, match="one image"):
        latent_code(cvae, torch.zeros(3, 28, 28), y=1)
    for shape in [(28, 28), (1, 28, 28), (784,), (1, 784), (1, 1, 28, 28)]:
        assert latent_code(cvae, torch.zeros(shape), y=1).shape == (3,)


def test_many_classes_get_a_dropdown():
    model = seeded(lambda: CVAE(12, 2, 16))
    w = ConditionalSliders(model, y=11)
    assert isinstance(w.picker, widgets.Dropdown)
    np.testing.assert_allclose(w.render(), decoded(model, torch.zeros(2), 11), atol=1e-6)


# ----------------------------------------------------------------------------- progression


def test_alpha_slider_decodes_the_mixed_attribute(conv_cvae):
    z = torch.tensor([0.5, -1.0, 0.25])
    w = AttributeProgression(conv_cvae, 3, 8, z)
    y3, y8 = F.one_hot(torch.tensor(3), 10).float(), F.one_hot(torch.tensor(8), 10).float()
    np.testing.assert_allclose(w.render(), decoded(conv_cvae, z, 3), atol=1e-6)  # alpha 0
    before, strip_before = bytes(w.image.value), bytes(w.strip_image.value)
    w.slider.value = 0.25
    y = 0.75 * y3 + 0.25 * y8
    torch.testing.assert_close(w.y, y)
    torch.testing.assert_close(interpolate_attributes(y3, y8, [0.25])[0], y)
    np.testing.assert_allclose(w.render(), decoded(conv_cvae, z, y[None]), atol=1e-6)
    assert bytes(w.image.value) != before
    np.testing.assert_array_equal(shown(w.image, 6), as_uint8(decoded(conv_cvae, z, y[None])))
    assert bytes(w.strip_image.value) != strip_before  # the marker moved
    assert "0.75 · y(3) + 0.25 · y(8)" in w.caption.value
    w.set_alpha(1.0)
    np.testing.assert_allclose(w.render(), decoded(conv_cvae, z, 8), atol=1e-6)


def test_the_strip_is_the_progression_with_a_marker_under_alpha(conv_cvae):
    w = AttributeProgression(conv_cvae, 3, 8, alpha=0.5, strip=5, strip_scale=1)
    ys = interpolate_attributes(
        F.one_hot(torch.tensor(3), 10), F.one_hot(torch.tensor(8), 10), torch.linspace(0, 1, 5)
    )
    expected = image_grid(conv_cvae.decode_images(torch.zeros(5, 3), ys), nrow=5, padding=2)
    np.testing.assert_allclose(w.render_strip(), expected, atol=1e-6)
    pixels = png_pixels(w.strip_image.value)
    assert pixels.shape == (expected.shape[0] + 5, expected.shape[1], 3)
    np.testing.assert_array_equal(pixels[: expected.shape[0], :, 0], as_uint8(expected))
    red_columns = np.flatnonzero((pixels[-2] == MARKER).all(axis=1))
    middle = 2 + 14 + 2 * 30  # the centre of the third of five tiles (alpha 0.5)
    assert red_columns.min() <= middle <= red_columns.max()


def test_new_z_redraws_image_and_strip(conv_cvae):
    w = AttributeProgression(conv_cvae, 1, 7, alpha=0.4, seed=3)
    image, strip = bytes(w.image.value), bytes(w.strip_image.value)
    w.new_z_button.click()
    expected_z = torch.randn(3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(w.z, expected_z)
    assert bytes(w.image.value) != image and bytes(w.strip_image.value) != strip
    np.testing.assert_allclose(w.render(), decoded(conv_cvae, expected_z, w.y[None]), atol=1e-6)


def test_progression_between_attribute_vectors(cvae):
    y_min, y_max = torch.zeros(10), torch.full((10,), 0.1)
    w = AttributeProgression(cvae, y_min, y_max, strip=0, alpha=0.5)
    assert w.strip_image not in w.widget.children
    np.testing.assert_allclose(
        w.render(), decoded(cvae, torch.zeros(3), torch.full((1, 10), 0.05)), atol=1e-6
    )
    w.set_attributes(2, 4)
    np.testing.assert_allclose(
        w.render(),
        decoded(cvae, torch.zeros(3), 0.5 * F.one_hot(torch.tensor([2, 4]), 10).sum(0)),
        atol=1e-6,
    )


def test_progression_keeps_the_mode_and_errors_are_clear(vae, conv_cvae):
    conv_cvae.train()
    w = AttributeProgression(conv_cvae, 0, 9)
    w.set_alpha(0.3)
    assert conv_cvae.training
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\], got 1.5"):
        w.set_alpha(1.5)
    with pytest.raises(TypeError, match=r"needs a conditional model.*LatentSliders"):
        AttributeProgression(vae, 0, 1)
    with pytest.raises(ValueError, match=r"y_max must be a label in 0..9.*got 10"):
        AttributeProgression(conv_cvae, 0, 10)
    with pytest.raises(ValueError, match=r"y_min must be an int label in 0..9 or a float vector"):
        AttributeProgression(conv_cvae, torch.zeros(3), 1)
    with pytest.raises(ValueError, match="z must have 3 values"):
        AttributeProgression(conv_cvae, 0, 1, torch.zeros(16))


# ----------------------------------------------------------------------------- manifold


def marker_box(rgb: np.ndarray) -> tuple[float, float]:
    """Centre (row, col) of the marker's red pixels."""
    rows, cols = np.nonzero((rgb == MARKER).all(axis=2))
    assert len(rows), "no marker drawn"
    return (rows.min() + rows.max() + 1) / 2, (cols.min() + cols.max() + 1) / 2


def test_manifold_explorer_moves_the_marker_and_decodes_the_point(vae2):
    w = ManifoldExplorer(vae2, n=5, span=2.0)
    grid = image_grid(manifold_grid(vae2, n=5, span=2.0), nrow=5, padding=0)
    assert w.background == "manifold"
    assert marker_box(png_pixels(w.map_image.value)) == pytest.approx((70, 70), abs=1)
    map_before, digit_before = bytes(w.map_image.value), bytes(w.image.value)
    w.z1_slider.value = 1.0  # one tile to the right (the tiles are 1.0 apart)
    w.z2_slider.value = 2.0  # the top row
    assert torch.equal(w.z, torch.tensor([1.0, 2.0]))
    np.testing.assert_allclose(w.render(), decoded(vae2, [1.0, 2.0]), atol=1e-6)
    np.testing.assert_array_equal(shown(w.image, 6), as_uint8(decoded(vae2, [1.0, 2.0])))
    assert bytes(w.image.value) != digit_before and bytes(w.map_image.value) != map_before
    pixels = png_pixels(w.map_image.value)
    np.testing.assert_array_equal(pixels, w.render_map())
    assert marker_box(pixels) == pytest.approx((14, 98), abs=1)  # tile (row 0, column 3)
    # away from the marker the map is the manifold grid (grey 255 is drawn as 254)
    away = np.ones(grid.shape, bool)
    away[:30, 80:] = False
    expected = np.minimum(as_uint8(grid), 254)
    np.testing.assert_array_equal(pixels[..., 0][away], expected[away])
    # the decoded digit is the tile framed by the marker
    np.testing.assert_allclose(w.render(), grid[0:28, 84:112], atol=1e-6)


@pytest.mark.parametrize("row, col", [(50.0, 60.0), (0.0, 0.0), (99.0, 140.0), (47.5, 3.0)])
def test_the_map_png_is_the_palette_image_with_the_marker_exactly(row, col):
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, size=(100, 140), dtype=np.uint8)
    palette = rng.integers(0, 256, size=(256, 3), dtype=np.uint8)
    marked = background.copy()
    rows = draw_box(marked, row, col, 9.0, 255)
    changed = (marked != background).any(axis=1).nonzero()[0]
    assert changed.min() >= rows[0] and changed.max() < rows[1]
    assert (marked == 255).any()
    np.testing.assert_array_equal(png_pixels(palette_png(marked, palette)), palette[marked])
    np.testing.assert_array_equal(png_pixels(palette_png(background, palette)), palette[background])


def test_manifold_explorer_over_a_scatter_of_codes(vae2):
    codes = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(300) % 10
    w = ManifoldExplorer(vae2, codes, labels)
    assert w.background == "scatter"
    first = marker_box(png_pixels(w.map_image.value))
    assert first == pytest.approx(w.marker_position(), abs=1.5)
    w.set_latent(0, 1.5)
    w.set_latent(1, -1.0)
    second = marker_box(png_pixels(w.map_image.value))
    assert second == pytest.approx(w.marker_position(), abs=1.5)
    assert second[1] > first[1] and second[0] > first[0]  # right and down
    np.testing.assert_allclose(w.render(), decoded(vae2, [1.5, -1.0]), atol=1e-6)
    w.reset()
    assert torch.equal(w.z, torch.zeros(2))


def test_manifold_explorer_for_a_conditional_model():
    model = seeded(lambda: CVAE(10, 2, 16))
    w = ManifoldExplorer(model, y=4, n=3)
    w.z2_slider.value = -0.5
    np.testing.assert_allclose(w.render(), decoded(model, [0.0, -0.5], 4), atol=1e-6)


def test_manifold_explorer_keeps_the_mode_and_errors_are_clear(vae, vae2, cvae):
    vae2.train()
    w = ManifoldExplorer(vae2, n=3)
    w.set_z([0.5, 0.5])
    assert vae2.training
    with pytest.raises(ValueError, match=r"2-d latent space, got latent size 4.*LatentSliders"):
        ManifoldExplorer(vae)
    with pytest.raises(ValueError, match=r"outside the map \[-3, 3\]\^2"):
        ManifoldExplorer(vae2, z0=(3.5, 0))
    with pytest.raises(ValueError, match="outside the map"):
        w.set_latent(0, -4.0)
    with pytest.raises(ValueError, match="labels need codes"):
        ManifoldExplorer(vae2, labels=torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="conditional; pass its label y"):
        ManifoldExplorer(seeded(lambda: CVAE(10, 2, 16)))
    with pytest.raises(TypeError, match="unconditional; drop y"):
        ManifoldExplorer(vae2, y=1)


# ----------------------------------------------------------------------------- benchmark


def test_bench_widgets_prints_ms_per_update(capsys):
    assert cli_main(["bench", "widgets", "--updates", "2", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "ms per update" in line]
    assert len(lines) == 6
    assert any(line.startswith("LatentSliders, VAE 784-400-20: ") for line in lines)


# ----------------------------------------------------------------------------- devices


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_widgets_decode_on_the_models_device(vae2, conv_cvae):
    """A model on the GPU: the widgets decode there and show what the CPU copy decodes."""
    vae_gpu, cvae_gpu = VAE(784, 32, 2).cuda(), ConvCVAE(10, 3, channels=(4, 8)).cuda()
    vae_gpu.load_state_dict(vae2.state_dict())
    cvae_gpu.load_state_dict(conv_cvae.state_dict())
    m = ManifoldExplorer(vae_gpu, n=3)
    m.z1_slider.value = 0.75
    np.testing.assert_allclose(m.render(), decoded(vae2, [0.75, 0.0]), atol=1e-4)
    s = ConditionalSliders(cvae_gpu, 6)
    s.sliders[0].value = 1.0
    np.testing.assert_allclose(s.render(), decoded(conv_cvae, [1.0, 0, 0], 6), atol=1e-4)
    a = AttributeProgression(cvae_gpu, 0, 5, alpha=0.5)
    np.testing.assert_allclose(a.render(), decoded(conv_cvae, [0, 0, 0], a.y[None]), atol=1e-4)
    z = latent_code(cvae_gpu, torch.rand(1, 1, 28, 28), y=2)
    assert z.device.type == "cpu" and z.shape == (3,)
    assert next(vae_gpu.parameters()).is_cuda and next(cvae_gpu.parameters()).is_cuda
