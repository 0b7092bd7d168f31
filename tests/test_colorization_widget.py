"""The colourization explorer, driven without a browser; the lecture's figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vae_edu.colorization import (  # noqa: E402
    MDN,
    ColorCVAE,
    ColorFieldVAE,
    ColorHistogram,
    DecoderLoss,
    DiverseColorizer,
    L2Colorizer,
    hued_mnist,
)
from vae_edu.colorization.plots import (  # noqa: E402
    hue_rgb,
    scatter_hue_codes,
    show_ab_prior,
    show_samples,
)
from vae_edu.colorization.widget import ColorizationExplorer  # noqa: E402
from vae_edu.data import MNISTSplit  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    images = torch.rand(6, 1, 28, 28)
    fields = hued_mnist(MNISTSplit(images, torch.zeros(6, dtype=torch.long)))
    loss = DecoderLoss({"l2": 1.0})
    vae = ColorFieldVAE((28, 28), 2, loss)
    mdn = MDN((28, 28), 2, components=4)
    models = {"VAE + MDN": DiverseColorizer(vae, mdn).eval(),
              "CVAE": ColorCVAE((28, 28), 2).eval(), "L2": L2Colorizer((28, 28)).eval()}
    return fields, models


def test_moving_the_image_slider_redraws_the_strip(setup):
    fields, models = setup
    w = ColorizationExplorer(fields, models, k=4, scale=2)
    before, detail = w.strip.value, w.detail.value
    assert before[:8] == b"\x89PNG\r\n\x1a\n"
    w.image.value = 3
    assert w.strip.value != before and w.detail.value != detail
    strip = w.render_strip()
    # grey | truth | 4 outputs, 28 pixels each, 2-pixel gaps
    assert strip.shape == (28, 6 * 28 + 5 * 2, 3)
    # the second tile is the true colour image of image 3
    truth = fields.rgb()[3].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(strip[:, 30:58], truth, atol=1e-6)


def test_stepping_through_components_shows_their_weights(setup):
    fields, models = setup
    w = ColorizationExplorer(fields, models, k=4, scale=2)
    _, weights = w.current()
    assert "component 1 of 4" in w.caption.value and f"{weights[0]:.2f}" in w.caption.value
    first = w.detail.value
    w.output.value = 2
    assert w.detail.value != first
    assert "component 3 of 4" in w.describe_output()
    assert f"{weights[2]:.2f}" in w.describe_output()
    outputs, _ = w.current()
    np.testing.assert_allclose(w.render_detail(), w._rgb(outputs[2:3])[0])


def test_switching_models_shows_samples_of_a_cvae(setup):
    fields, models = setup
    w = ColorizationExplorer(fields, models, k=4, scale=2)
    before = w.strip.value
    w.model.value = "CVAE"
    assert w.strip.value != before
    assert w.describe_output() == "CVAE: sample 1 of 4"
    again = w.current()[0].clone()
    w.image.value = 1
    w.image.value = 0
    assert torch.equal(w.current()[0], again)  # the same samples for the same image
    w.model.value = "L2"
    outputs, weights = w.current()
    assert weights is None and torch.equal(outputs[0], outputs[3])  # one answer, repeated
    assert "ColorizationExplorer: 6 images" in repr(w)


def test_explorer_rejects_bad_models(setup):
    fields, _ = setup
    with pytest.raises(TypeError, match="neither components"):
        ColorizationExplorer(fields, {"x": object()})
    with pytest.raises(ValueError, match="non-empty dict"):
        ColorizationExplorer(fields, {})


def test_show_samples_draws_one_row_per_image(setup):
    fields, models = setup
    samples = models["CVAE"].sample(fields.grey[:3], 5)
    fig = show_samples(fields.grey[:3], samples, fields.color[:3], title="CVAE")
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (3 * 30 + 2, 7 * 30 + 2, 3)  # grey, truth, 5 samples
    with pytest.raises(ValueError, match=r"\(B, K, 2, H, W\)"):
        show_samples(fields.grey[:3], samples[:2])


def test_hue_codes_and_prior_figures(setup):
    fields, _ = setup
    codes = torch.randn(6, 2)
    fig = scatter_hue_codes(codes, fields.hue, fields.hues, means=torch.zeros(4, 2),
                            weights=torch.full((4,), 0.25), names=["r", "y", "g", "b"])
    assert len(fig.axes[0].collections) == 5  # one scatter per hue and the means
    # each hue has its own marker shape, not only its own colour
    paths = [c.get_paths()[0].vertices.round(3).tobytes() for c in fig.axes[0].collections[:4]]
    assert len(set(paths)) == 4
    rgb = hue_rgb(fields.hues)
    assert rgb.shape == (4, 3) and (rgb >= 0).all() and (rgb <= 1).all()
    hist = ColorHistogram().fit(fields.color)
    fig = show_ab_prior(hist)
    assert len(fig.axes) == 5  # three panels and two colour bars


def test_the_ab_plane_is_drawn_with_a_across_and_b_upwards(setup):
    fields, _ = setup
    fig = show_ab_prior(ColorHistogram().fit(fields.color))
    ax = fig.axes[0]
    image = ax.images[0]
    chart = image.get_array()  # (n_b, n_a, 3), row 0 at the bottom
    assert image.origin == "lower" and ax.get_xlabel().startswith("a")
    n = chart.shape[0]
    red, green = chart[n // 2, -1], chart[n // 2, 0]  # +a right, -a left, b = 0
    yellow, blue = chart[-1, n // 2], chart[0, n // 2]  # +b top, -b bottom, a = 0
    assert red[0] > red[1] and green[1] > green[0]
    assert yellow[:2].min() > yellow[2] and blue[2] > blue[:2].max()


def test_show_samples_writes_every_rows_mixture_weights(setup):
    fields, models = setup
    samples = models["CVAE"].sample(fields.grey[:3], 4)
    pi = torch.softmax(torch.randn(3, 4), dim=1)
    fig = show_samples(fields.grey[:3], samples, weights=pi)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert [f"{p:.2f}" for p in pi.flatten().tolist()] == [t for t in texts if t[:2] == "0."]
    with pytest.raises(ValueError, match=r"weights \(B, K\)"):
        show_samples(fields.grey[:3], samples, weights=pi[:1])
