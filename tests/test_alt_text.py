"""Alt text on figures: vae_edu.viz.describe, the library plots' default descriptions,
and (in a real kernel) the description reaching the stored image/png output's metadata."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from nbformat import v4  # noqa: E402

from vae_edu.train import History  # noqa: E402
from vae_edu.viz import (  # noqa: E402
    bar_compare,
    compare_rows,
    describe,
    description,
    histogram,
    plot_history,
    scatter_codes,
    show_filters,
    show_images,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_describe_stores_the_text_and_returns_the_figure():
    fig, _ = plt.subplots()
    assert description(fig) is None
    assert describe(fig, "  a line\n over time ") is fig
    assert description(fig) == "a line over time"


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_describe_refuses_an_empty_or_non_string_text(bad):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="non-empty description"):
        describe(fig, bad)


def test_describe_refuses_an_axes_with_a_hint():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="ax.figure"):
        describe(ax, "x")


def _history():
    h = History()
    for e in range(3):
        h.train.append({"loss": 3.0 - e})
        h.test.append({"loss": 3.2 - e})
    return h


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: show_images(torch.rand(12, 1, 28, 28), nrow=5, title="t"), ["12 images", "'t'"]),
        (
            lambda: compare_rows({"truth": torch.rand(4, 784), "L2": torch.rand(4, 784)}),
            ["truth, L2"],
        ),
        (lambda: show_filters(torch.randn(16, 784), n=8), ["8 learned filters"]),
        (
            lambda: scatter_codes(torch.randn(50, 2), torch.randint(0, 10, (50,))),
            ["50 2-D codes", "per digit"],
        ),
        (lambda: plot_history(_history()), ["loss over 3 epochs"]),
        (lambda: histogram(torch.randn(100), xlabel="activation"), ["of activation", "100"]),
        (lambda: bar_compare({"a": 0.5, "b": 0.25}), ["a 0.5, b 0.25"]),
    ],
)
def test_every_library_plot_describes_its_own_figure(make, words):
    text = description(make())
    assert text
    for word in words:
        assert word in text


def test_a_plot_drawn_into_the_notebooks_axes_leaves_the_description_to_the_notebook():
    fig, (a, b) = plt.subplots(1, 2)
    show_images(torch.rand(4, 1, 28, 28), ax=a)
    histogram(torch.randn(10), ax=b)
    assert description(fig) is None  # the notebook must describe its two-panel figure
    describe(fig, "four digits and a histogram")
    histogram(torch.randn(10), ax=b)
    assert description(fig) == "four digits and a histogram"


def test_a_real_kernel_stores_the_alt_in_the_image_outputs_metadata(tmp_path):
    """End to end through ipykernel + matplotlib_inline, including the case the inline
    backend re-registers its PNG printer after vae_edu.viz is imported (%matplotlib inline,
    %config InlineBackend) and display(fig) next to the end-of-cell flush."""
    from vae_edu.tooling.notebooks import execute_notebook

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "py"}
    nb.cells = [
        v4.new_code_cell("import torch\nfrom vae_edu.viz import describe, show_images"),
        v4.new_code_cell("%matplotlib inline\n%config InlineBackend.figure_formats = ['png']"),
        v4.new_code_cell("fig = show_images(torch.rand(6, 1, 28, 28), nrow=3)"),
        v4.new_code_cell(
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([1, 2])\n"
            "fig = describe(fig, 'a rising line')"
        ),
        v4.new_code_cell(
            "from IPython.display import display\nfig, ax = plt.subplots()\n"
            "display(describe(fig, 'shown twice'))"
        ),
        v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([2, 1])"),
    ]
    path = tmp_path / "alt.ipynb"
    nbformat.write(nb, path)
    execute_notebook(path, timeout=120)
    cells = nbformat.read(path, as_version=4).cells

    def alts(cell):
        return [
            o.get("metadata", {}).get("image/png", {}).get("alt")
            for o in cell.outputs
            if "image/png" in o.get("data", {})
        ]

    assert alts(cells[2]) == ["a grid of 6 images, 2 row(s) of up to 3"]
    assert alts(cells[3]) == ["a rising line"]
    assert alts(cells[4]) == ["shown twice", "shown twice"]
    assert alts(cells[5]) == [None]  # undescribed: no alt, so the lecture test catches it


def test_the_colorization_plots_describe_their_figures():
    from vae_edu.colorization.plots import scatter_hue_codes, show_samples

    fig = show_samples(torch.rand(2, 1, 8, 8), torch.rand(2, 3, 2, 8, 8) - 0.5)
    assert description(fig) == "2 rows of images, left to right: grey, 3 colourizations"
    fig = scatter_hue_codes(torch.randn(20, 2), torch.randint(0, 2, (20,)), torch.zeros(2, 2))
    assert "20 2-D codes" in description(fig)


# ----------------------------------------------------------------------------- lectures
# Every figure a lecture stores carries its description; lectures whose stored run
# predates the mechanism are listed in helpers_alt.NOT_YET_DESCRIBED (a set that can only
# shrink: the test fails when a listed lecture has all its alts).

import base64  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from helpers_alt import NOT_YET_DESCRIBED  # noqa: E402
from PIL import Image  # noqa: E402

LECTURES = sorted((Path(__file__).resolve().parents[1] / "lectures").glob("[0-9][0-9]_*.ipynb"))


def _image_outputs(path: Path):
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                yield cell.get("id"), output


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_figure_of_a_lecture_has_alt_text(path):
    images = list(_image_outputs(path))
    missing = [cid for cid, out in images
               if not str(out.get("metadata", {}).get("image/png", {}).get("alt", "")).strip()]
    if path.name[:2] in NOT_YET_DESCRIBED:
        assert missing or not images, (
            f"{path.name}: every figure has its alt text now; remove {path.name[:2]!r} from "
            "tests/helpers_alt.py NOT_YET_DESCRIBED")
    else:
        assert not missing, (
            f"{path.name}: image outputs without alt text in cells {missing}; describe the "
            "figure (vae_edu.viz.describe) and re-execute the lecture")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_stored_figures_have_an_opaque_background_for_dark_themes(path):
    """A transparent figure shows black axes on JupyterLab's dark background."""
    for cid, out in _image_outputs(path):
        png = out["data"]["image/png"]
        image = Image.open(io.BytesIO(base64.b64decode("".join(png)))).convert("RGBA")
        w, h = image.size
        corners = [image.getpixel(xy)[3] for xy in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]
        assert min(corners) == 255, f"{path.name}, cell {cid}: transparent figure background"
