"""The notebook plots: what each draws, shapes and values, and the errors on bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from vae_edu.train import History  # noqa: E402
from vae_edu.viz import (  # noqa: E402
    DIGIT_COLORS,
    PAD_VALUE,
    bar_compare,
    compare_rows,
    description,
    histogram,
    image_grid,
    plot_history,
    scatter_codes,
    show_filters,
    show_images,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def images(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random grey images ``(n, 1, 28, 28)`` in [0, 1]."""
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- image_grid


@pytest.mark.parametrize(
    ("n", "nrow", "padding", "shape"),
    [
        (5, 3, 2, (2 * 30 + 2, 3 * 30 + 2)),
        (5, 5, 0, (28, 140)),
        (4, 10, 1, (30, 4 * 29 + 1)),  # fewer images than nrow: one row of 4
        (1, 10, 2, (32, 32)),
    ],
)
def test_image_grid_shape_arithmetic(n, nrow, padding, shape):
    assert image_grid(images(n), nrow=nrow, padding=padding).shape == shape


def test_image_grid_preserves_values_and_pads_white():
    x = images(5)
    grid = image_grid(x, nrow=3, padding=2)
    for i in range(5):
        top, left = 2 + (i // 3) * 30, 2 + (i % 3) * 30
        np.testing.assert_array_equal(grid[top : top + 28, left : left + 28], x[i, 0].numpy())
    assert (grid[:2] == PAD_VALUE).all() and (grid[:, 30:32] == PAD_VALUE).all()
    assert (grid[32:60, 62:90] == PAD_VALUE).all()  # the empty sixth cell


def test_image_grid_accepts_every_layout_and_input_kind():
    x = images(3)
    expected = image_grid(x.numpy())
    for same in (x.clone().requires_grad_(), x.flatten(1), x[:, 0], x.numpy().reshape(3, 784)):
        np.testing.assert_array_equal(image_grid(same), expected)
    colour = torch.rand(3, 3, 8, 6)
    channels_first = image_grid(colour, nrow=2)
    assert channels_first.shape == (2 * 10 + 2, 2 * 8 + 2, 3)
    np.testing.assert_array_equal(image_grid(colour.permute(0, 2, 3, 1).numpy(), 2), channels_first)
    assert image_grid(x.double()).dtype == np.float64
    np.testing.assert_allclose(image_grid(x.bfloat16()), expected, atol=1e-2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_tensors_on_the_gpu():
    x = images(3).cuda().requires_grad_()
    np.testing.assert_array_equal(image_grid(x), image_grid(x.detach().cpu()))
    assert isinstance(scatter_codes(torch.zeros(3, 2).cuda(), torch.arange(3).cuda()), Figure)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (torch.rand(28, 28), r"got \(28, 28\); for one image pass image\[None\]"),
        (torch.rand(4, 10), r"expected images of shape .*got \(4, 10\)"),
        (torch.rand(4, 2, 28, 28), r"got \(4, 2, 28, 28\)"),
        (torch.rand(0, 1, 28, 28), "at least one image"),
        (torch.full((2, 784), float("nan")), "expected finite values, got 1568 NaN"),
        (np.zeros((2, 28, 28), dtype=np.uint8), "got dtype uint8; divide by 255"),
    ],
)
def test_image_grid_rejects_bad_images(bad, match):
    with pytest.raises(ValueError, match=match):
        image_grid(bad)


def test_image_grid_rejects_bad_layout():
    with pytest.raises(ValueError, match="nrow must be a positive int, got 0"):
        image_grid(images(2), nrow=0)
    with pytest.raises(ValueError, match="padding must be a non-negative int, got -1"):
        image_grid(images(2), padding=-1)


# ----------------------------------------------------------------------------- show_images


def test_show_images_draws_one_grey_image_without_ticks():
    x = images(12)
    fig = show_images(x.clone().requires_grad_(), nrow=4, title="twelve")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    (shown,) = ax.images
    np.testing.assert_array_equal(shown.get_array(), image_grid(x, nrow=4))
    assert shown.get_cmap().name == "gray" and shown.get_clim() == (0.0, 1.0)
    assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert ax.get_title() == "twelve"


def test_show_images_draws_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert show_images(images(3).numpy(), ax=axes[1]) is fig
    assert len(axes[0].images) == 0 and len(axes[1].images) == 1


def test_show_images_warns_about_logits():
    with pytest.warns(UserWarning, match="torch.sigmoid"):
        show_images(torch.randn(2, 784) * 5)


# ----------------------------------------------------------------------------- compare_rows


def test_compare_rows_one_labelled_axes_per_row():
    x = images(12)
    rows = {"clean": x, "noisy": x.flatten(1).numpy(), "denoised": x[:3].requires_grad_()}
    fig = compare_rows(rows, n=10, title="denoising")
    assert [ax.get_ylabel() for ax in fig.axes] == ["clean", "noisy", "denoised"]
    widths = {ax.images[0].get_array().shape for ax in fig.axes}
    assert widths == {(32, 10 * 30 + 2)}  # n cells in every row, even the short one
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), image_grid(x[:10]))
    assert fig.get_suptitle() == "denoising"


def test_compare_rows_rejects_an_empty_dict_and_bad_rows():
    with pytest.raises(ValueError, match="non-empty dict"):
        compare_rows({})
    with pytest.raises(ValueError, match=r"compare_rows\['noisy'\]: expected finite values"):
        compare_rows({"clean": images(2), "noisy": torch.full((2, 784), float("inf"))})


# ----------------------------------------------------------------------------- scatter_codes


def test_scatter_codes_one_collection_per_digit_in_its_colour():
    labels = torch.arange(100) % 10
    codes = torch.randn(100, 2, requires_grad=True)
    fig = scatter_codes(codes, labels, title="codes")
    ax = fig.axes[0]
    collections = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(collections) == 10
    for digit, coll in enumerate(collections):
        np.testing.assert_allclose(coll.get_offsets(), codes.detach()[labels == digit].numpy())
        np.testing.assert_allclose(coll.get_facecolor()[0, :3], DIGIT_COLORS[digit][:3])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [str(d) for d in range(10)]
    assert ax.get_title() == "codes"


def test_scatter_codes_keeps_digit_colours_for_a_subset():
    labels = np.array([7, 3, 7, 7])
    fig = scatter_codes(np.zeros((4, 2)), labels, legend=False)
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [1, 3]
    assert to_rgba(ax.collections[1].get_facecolor()[0], 1.0) == to_rgba(DIGIT_COLORS[7], 1.0)
    assert ax.get_legend() is None


def test_scatter_codes_without_labels_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert scatter_codes(np.random.rand(30, 2), None, ax=axes[0], equal_aspect=True) is fig
    assert len(axes[0].collections) == 1 and len(axes[0].collections[0].get_offsets()) == 30


@pytest.mark.parametrize(
    ("codes", "labels", "match"),
    [
        (np.zeros((5, 32)), np.zeros(5, dtype=int), r"\(N, 2\), got \(5, 32\); .*PCA.*TSNE"),
        (np.zeros((5, 2)), np.zeros(4, dtype=int), r"labels of shape \(5,\) .* got \(4,\)"),
        (np.zeros((2, 2)), np.array([3, 10]), "digit labels in 0..9"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), "integer digit labels"),
        (np.full((2, 2), np.nan), np.array([0, 1]), "finite values"),
    ],
)
def test_scatter_codes_rejects_bad_input(codes, labels, match):
    with pytest.raises(ValueError, match=match):
        scatter_codes(codes, labels)


# ----------------------------------------------------------------------------- plot_history


def history() -> History:
    train = [{"loss": 3.0, "recon": 2.0, "kl": 1.0}, {"loss": 2.0, "recon": 1.5, "kl": 0.5}]
    test = [{"loss": 3.5, "recon": 2.5, "kl": 1.0}, {"loss": 2.5, "recon": 2.0, "kl": 0.5}]
    return History(train, test, [1.0, 1.0])


def test_plot_history_one_line_per_split_and_part():
    h = history()
    fig = plot_history(h, parts=("loss", "kl"), title="ELBO")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"train loss", "test loss", "train kl", "test kl"}
    for label, line in lines.items():
        split, part = label.split()
        assert list(line.get_xdata()) == [1, 2]
        assert list(line.get_ydata()) == h.series(part, split)
    assert lines["train kl"].get_color() == lines["test kl"].get_color()
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "ELBO"


def test_plot_history_compares_models_on_one_axes_in_new_colours():
    fig, ax = plt.subplots()
    plot_history(history(), parts="recon", ax=ax, label="plain")
    plot_history(history(), parts="recon", ax=ax, label="sparse")
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == [
        "plain train recon", "plain test recon", "sparse train recon", "sparse test recon"
    ]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert lines[2].get_color() == lines[3].get_color()
    plt.close(fig)


def test_plot_history_train_only_and_a_dict():
    h = History([{"loss": 1.0}], [], [1.0])
    assert [ln.get_label() for ln in plot_history(h).axes[0].get_lines()] == ["train loss"]
    fig = plot_history(history().to_dict(), parts="recon")
    assert [ln.get_label() for ln in fig.axes[0].get_lines()] == ["train recon", "test recon"]


def test_plot_history_draws_validation_dotted_and_stars_the_kept_epoch():
    h = history()
    h.validation = [{"loss": 3.2, "recon": 2.2, "kl": 1.0}, {"loss": 3.3, "recon": 2.3, "kl": 1.0}]
    h.best_epoch = 1
    fig = plot_history(h)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert set(lines) == {"train loss", "validation loss", "test loss", "kept: epoch 1"}
    assert lines["validation loss"].get_linestyle() == ":"
    assert list(lines["kept: epoch 1"].get_xdata()) == [1]
    assert list(lines["kept: epoch 1"].get_ydata()) == [3.2]
    assert lines["kept: epoch 1"].get_color() == lines["validation loss"].get_color()
    assert "validation dotted" in description(fig) and "kept epoch 1" in description(fig)
    plt.close(fig)


def test_plot_history_rejects_unknown_parts_and_empty_histories():
    with pytest.raises(KeyError, match=r"'elbo'.*\['loss', 'recon', 'kl'\]"):
        plot_history(history(), parts=("loss", "elbo"))
    with pytest.raises(ValueError, match="at least one epoch"):
        plot_history(History())


# ----------------------------------------------------------------------------- histogram


def test_histogram_counts_every_value():
    values = torch.randn(4, 50, requires_grad=True)
    fig = histogram(values, bins=10, title="activations", xlabel="a")
    ax = fig.axes[0]
    assert len(ax.patches) == 10 and sum(p.get_height() for p in ax.patches) == 200
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("activations", "a", "count")


def test_histogram_rejects_nan_and_empty():
    with pytest.raises(ValueError, match="got 1 NaN or inf of 3"):
        histogram(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="at least one value"):
        histogram(np.array([]))


# ----------------------------------------------------------------------------- show_filters


def test_show_filters_scales_each_filter_to_its_own_range():
    layer = torch.nn.Linear(784, 20)
    with torch.no_grad():
        layer.weight[1] *= 100  # a loud filter must not wash out the others
        layer.weight[3] = 0.25  # a constant one is grey
    fig = show_filters(layer.weight, n=16, nrow=4, title="filters")
    grid = fig.axes[0].images[0].get_array()
    assert grid.shape == (4 * 30 + 2, 4 * 30 + 2)
    for i in range(16):
        top, left = 2 + (i // 4) * 30, 2 + (i % 4) * 30
        tile = np.asarray(grid[top : top + 28, left : left + 28])
        if i == 3:
            assert (tile == 0.5).all()
        else:
            assert tile.min() == 0.0 and tile.max() == pytest.approx(1.0)


def test_show_filters_rejects_a_decoder_weight():
    with pytest.raises(ValueError, match=r"\(H, 784\), got \(784, 20\); .*weight.T"):
        show_filters(torch.nn.Linear(20, 784).weight)


# ----------------------------------------------------------------------------- bar_compare


def test_bar_compare_labels_bars_and_values():
    fig = bar_compare({"pretrained": 0.9734, "scratch": torch.tensor(0.91)}, ylabel="accuracy")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.9734, 0.91])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["pretrained", "scratch"]
    assert {"0.973", "0.91"} <= {t.get_text() for t in ax.texts}
    assert ax.get_ylabel() == "accuracy"


def test_bar_compare_rejects_bad_values():
    with pytest.raises(ValueError, match="non-empty dict"):
        bar_compare({})
    with pytest.raises(ValueError, match="finite values"):
        bar_compare({"a": float("nan")})


# Machado, Oliveira & Fernandes (2009), severity 1: linear-RGB matrices that simulate
# protanopia, deuteranopia and tritanopia
_CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}


def _closest_pair_delta_e(colours, matrix) -> float:
    """Smallest CIELAB distance between two of the colours as the simulated viewer sees them."""
    from skimage.color import rgb2lab

    rgb = np.array([c[:3] for c in colours])
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(linear @ np.array(matrix).T, 0, 1)
    srgb = np.where(seen <= 0.0031308, 12.92 * seen, 1.055 * seen ** (1 / 2.4) - 0.055)
    lab = rgb2lab(srgb[None])[0]
    distance = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    return float(distance[~np.eye(len(colours), dtype=bool)].min())


def test_digit_colours_stay_apart_for_colour_blind_viewers():
    assert len(DIGIT_COLORS) == 10 and len(set(DIGIT_COLORS)) == 10
    tab10 = [matplotlib.colormaps["tab10"](d) for d in range(10)]
    for name, matrix in _CVD.items():
        ours, theirs = _closest_pair_delta_e(DIGIT_COLORS, matrix), _closest_pair_delta_e(
            tab10, matrix)
        # measured: petroff10 keeps every pair >= 17 apart, tab10 drops to 4.6 (protanopia)
        assert ours > 15, (name, ours)
        assert name == "tritanopia" or theirs < 10, (name, theirs)  # the check can fail


@pytest.mark.parametrize("n, ncol, colour", [(1, 1, False), (1, 4, False), (5, 3, False),
                                             (6, 3, True), (7, 10, True), (12, 4, False)])
def test_tile_images_lays_out_tiles_as_torchvision_make_grid(n, ncol, colour):
    # the library tiles with numpy (torchvision's import costs seconds); the layout, the
    # gaps and the empty cells are make_grid's
    from torchvision.utils import make_grid

    from vae_edu.viz import tile_images

    g = torch.Generator().manual_seed(n)
    t = torch.rand(n, 3 if colour else 1, 5, 4, generator=g)  # (N, C, H, W)
    a = (t.permute(0, 2, 3, 1) if colour else t[:, 0]).numpy()  # (N, H, W[, 3])
    padded = torch.cat([t, t.new_full((max(0, ncol - n), *t.shape[1:]), 0.5)])
    if len(padded) == 1:  # make_grid returns a single image without its border
        ref = torch.nn.functional.pad(padded[0], (2,) * 4, value=0.5)
    else:
        ref = make_grid(padded, nrow=ncol, padding=2, pad_value=0.5)
    ref = (ref.permute(1, 2, 0) if colour else ref[0]).numpy()
    out = tile_images(a, ncol, 2, 0.5)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)


def test_the_lecture_imports_do_not_load_torchvision():
    # importing torchvision costs about 3 s of CPU (torch._dynamo via torchvision.models),
    # a fifth of a warm lecture run; only the lazy download paths need it
    import subprocess
    import sys

    code = ("import sys; import vae_edu.data, vae_edu.evaluate, vae_edu.models, vae_edu.train, "
            "vae_edu.viz, vae_edu.widgets, vae_edu.model_cache; "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
