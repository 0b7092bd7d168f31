"""The plots of the course notebooks.

Every function takes torch tensors (on any device, with or without gradients) or numpy
arrays, draws into ``ax`` when you pass one (otherwise it makes its own figure), and
returns the matplotlib ``Figure``.  Assign the result in a notebook cell, so that Jupyter
shows the figure once (a bare expression would be shown a second time as the cell's
value; a trailing ``;`` hides it in Jupyter but not under nbval)::

    fig = show_images(mnist.train.images[:40], title="the first 40 training images")
    fig = compare_rows({"input": x, "reconstruction": model.reconstruct(x)})
    fig = scatter_codes(codes, labels, title="2-D codes")

Images are floats in [0, 1] (white digit on black, as in MNIST), in any of these shapes:
``(N, 1, H, W)``, ``(N, H, W)`` or ``(N, 784)`` (read as 28 x 28) for grey images, and
``(N, 3, H, W)`` or ``(N, H, W, 3)`` for colour ones.  Values outside [0, 1] are shown
clipped, with a warning (logits? apply ``torch.sigmoid`` first).

Digits 0-9 always get the same colours, :data:`DIGIT_COLORS`, in every plot.
Every figure made here carries a short description of what it shows (its alt text, for
screen readers, JupyterLab and the course website); a figure a notebook builds itself
gets one with :func:`describe`.  Shown in a Jupyter kernel, the stored ``image/png``
output then has it in its metadata, ``{"image/png": {"alt": "..."}}``.
Bad input (a wrong shape, NaN or inf values) raises one ``ValueError`` that says what
was expected and what came.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .validation import nonnegative_int, positive_int

__all__ = [
    "DIGIT_COLORS",
    "bar_compare",
    "compare_rows",
    "describe",
    "description",
    "histogram",
    "image_grid",
    "plot_history",
    "scatter_codes",
    "show_filters",
    "show_images",
]

#: The colour of digit ``d`` is ``DIGIT_COLORS[d]`` (RGBA): matplotlib's 'petroff10', ten
#: colours chosen to stay distinguishable under the common colour-vision deficiencies
#: (Petroff, "Accessible color sequences for data visualization", 2024), not 'tab10',
#: whose red/green and orange/brown pairs merge for a deuteranope.
DIGIT_COLORS: tuple[tuple[float, float, float, float], ...] = tuple(
    tuple(float(c) for c in matplotlib.colors.to_rgba(color))
    for color in matplotlib.color_sequences["petroff10"]
)

#: The value of the gaps between tiles in :func:`image_grid`: white.
PAD_VALUE = 1.0

_TILE_INCHES = 0.6  # the size of one image in a figure made here
_IMAGE_SHAPES = "(N, 1, H, W), (N, H, W), (N, 784), (N, 3, H, W) or (N, H, W, 3)"


# ----------------------------------------------------------------------------- helpers
# tile_images, figure_and_axes and draw_image (no checks of their own) are shared with the
# plots of vae_edu.colorization.plots.


def _to_numpy(x, name: str) -> np.ndarray:
    """A tensor (any device, any float dtype, with or without grad) or array -> numpy."""
    if hasattr(x, "detach"):  # a torch tensor; torch is not imported just for this
        x = x.detach().cpu()
        if x.is_floating_point() and x.element_size() < 4:
            x = x.float()  # bfloat16 has no numpy twin, float16 a slow one
        x = x.numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name}: expected a tensor or numpy array, got {type(x).__name__}"
        ) from err


def _check_finite(a: np.ndarray, name: str) -> None:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        bad = int((~np.isfinite(a)).sum())
        raise ValueError(
            f"{name}: expected finite values, got {bad} NaN or inf of {a.size}; "
            "did the training diverge?"
        )


def _as_images(images, name: str = "images") -> np.ndarray:
    """Images in any accepted shape -> ``(N, H, W)`` (grey) or ``(N, H, W, 3)`` (colour)."""
    a = _to_numpy(images, name)
    if a.dtype == bool:
        a = a.astype(np.float32)
    if a.dtype.kind not in "f":
        hint = "; divide by 255 first" if a.dtype.kind in "iu" else ""
        raise ValueError(f"{name}: expected float images in [0, 1], got dtype {a.dtype}{hint}")
    shape = a.shape
    if a.ndim == 2 and shape[1] == 784:
        a = a.reshape(-1, 28, 28)
    elif a.ndim == 3 and shape[-1] != 3:
        pass  # (N, H, W), grey
    elif a.ndim == 4 and shape[1] == 1:
        a = a[:, 0]
    elif a.ndim == 4 and shape[1] == 3:
        a = a.transpose(0, 2, 3, 1)
    elif a.ndim == 4 and shape[-1] in (1, 3):
        a = a[..., 0] if shape[-1] == 1 else a
    else:
        hint = "; for one image pass image[None]" if a.ndim in (2, 3) else ""
        raise ValueError(f"{name}: expected images of shape {_IMAGE_SHAPES}, got {shape}{hint}")
    if len(a) == 0:
        raise ValueError(f"{name}: expected at least one image, got shape {shape}")
    _check_finite(a, name)
    return a


def _warn_outside_unit(a: np.ndarray, name: str) -> None:
    low, high = float(a.min()), float(a.max())
    if low < -0.01 or high > 1.01:
        warnings.warn(
            f"{name}: values from {low:.3g} to {high:.3g} are shown clipped to [0, 1]; "
            "for logits apply torch.sigmoid, for 0-255 pixels divide by 255",
            stacklevel=3,
        )


def tile_images(a: np.ndarray, ncol: int, padding: int, pad_value: float) -> np.ndarray:
    """``(N, H, W[, 3])`` -> one image of ``ncol`` columns, laid out as
    ``torchvision.utils.make_grid`` does (tests/test_viz.py compares them); the gaps and
    the empty cells get ``pad_value``.  Written with numpy because importing torchvision
    costs about 3 s of CPU, a fifth of a warm lecture run."""
    a = np.asarray(a)
    a = a.astype(np.result_type(a.dtype, np.float32), copy=False)
    n, h, w = a.shape[:3]
    rows = -(-max(n, 1) // ncol)
    shape = (rows * (h + padding) + padding, ncol * (w + padding) + padding, *a.shape[3:])
    grid = np.full(shape, pad_value, dtype=a.dtype)
    for k in range(n):
        y, x = (k // ncol) * (h + padding) + padding, (k % ncol) * (w + padding) + padding
        grid[y : y + h, x : x + w] = a[k]
    return grid


def figure_and_axes(ax, figsize) -> tuple[Figure, plt.Axes]:
    """``ax`` and its figure, or a new figure with one axes."""
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return _root_figure(ax), ax


def _root_figure(ax) -> Figure:
    fig = ax.figure
    return getattr(fig, "figure", None) or fig  # an axes in a SubFigure: the whole figure


def draw_image(ax, grid: np.ndarray, cmap: str = "gray") -> None:
    """Show one image (grey with ``cmap`` from 0 = black to 1 = white, or RGB), no ticks."""
    if grid.ndim == 3:
        grid = np.clip(grid, 0.0, 1.0)
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


# ----------------------------------------------------------------------------- alt text

_ALT_ATTR = "_vae_edu_alt"


def describe(fig, text: str):
    """Store a short description of what ``fig`` shows (its alt text) and return ``fig``.

    Shown in a Jupyter kernel (at the end of a cell or with ``display(fig)``), the figure's
    ``image/png`` output carries it in its metadata, ``{"image/png": {"alt": text}}``,
    which JupyterLab, the course website and screen readers read.  Say what the figure
    shows, not what it proves: ``"2-D codes of 5000 test images, one colour per digit"``.

    Raises:
        ValueError: ``fig`` is not a matplotlib Figure, or ``text`` is not a non-empty string.
    """
    if not isinstance(fig, Figure):
        raise ValueError(
            f"describe: expected a matplotlib Figure, got {type(fig).__name__}; "
            "for an Axes pass ax.figure"
        )
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"describe: expected a non-empty description string, got {text!r}")
    setattr(_root_figure(fig), _ALT_ATTR, " ".join(text.split()))
    install_alt_formatter()
    return fig


def description(fig) -> str | None:
    """The description :func:`describe` stored on ``fig``, or ``None``."""
    return getattr(_root_figure(fig), _ALT_ATTR, None) if isinstance(fig, Figure) else None


def default_description(fig: Figure, ax, text: str) -> Figure:
    """A library plot's own description when it made the figure (``ax is None``); drawn
    into an ``ax`` of the notebook's figure, the notebook describes the whole figure."""
    if ax is None:
        describe(fig, text)
    return fig


def _title_part(title) -> str:
    return f" titled '{title}'" if title else ""


def install_alt_formatter() -> bool:
    """Make the running IPython shell put a figure's description into the metadata of its
    ``image/png`` output; returns False outside IPython.  Idempotent.

    The shell's PNG formatter is replaced by a subclass that adds ``{"alt": ...}`` to
    whatever the registered printer returns, so matplotlib_inline re-registering its
    printer for ``Figure`` (``%matplotlib inline``, ``%config InlineBackend...``) keeps
    the alt text.
    """
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython
    from IPython.core.formatters import PNGFormatter

    shell = get_ipython()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return False
    old = formatters["image/png"]
    if isinstance(old, _AltPNGFormatter):
        return True
    if not isinstance(old, PNGFormatter):  # someone else's formatter: leave it alone
        return False
    new = _alt_png_formatter_class()(parent=old.parent)
    new.type_printers = old.type_printers  # the same dicts: later for_type() calls land here
    new.deferred_printers = old.deferred_printers
    new.singleton_printers = old.singleton_printers
    new.enabled = old.enabled
    formatters["image/png"] = new
    return True


class _AltPNGFormatter:  # marker base, so isinstance works before IPython is imported
    pass


_ALT_CLASS = None


def _alt_png_formatter_class():
    global _ALT_CLASS
    if _ALT_CLASS is None:
        from IPython.core.formatters import PNGFormatter

        class AltPNGFormatter(PNGFormatter, _AltPNGFormatter):
            def __call__(self, obj):
                r = super().__call__(obj)
                alt = description(obj) if isinstance(obj, Figure) else None
                if r is None or not alt:
                    return r
                if isinstance(r, tuple) and len(r) == 2:
                    data, md = r
                    return data, {**(md or {}), "alt": alt}
                return r, {"alt": alt}

        _ALT_CLASS = AltPNGFormatter
    return _ALT_CLASS


# ----------------------------------------------------------------------------- images


def image_grid(images, nrow: int = 10, padding: int = 2, *, pad_value: float = PAD_VALUE):
    """Tile images into one picture, like ``torchvision.utils.make_grid``.

    Args:
        images: ``N`` images, ``(N, 1, H, W)``, ``(N, H, W)``, ``(N, 784)`` (28 x 28),
            ``(N, 3, H, W)`` or ``(N, H, W, 3)``.
        nrow: images per row (the grid has ``ceil(N / nrow)`` rows).
        padding: pixels of gap between the tiles and around the border.
        pad_value: the value of the gaps and of empty cells: 1.0 (white) by default,
            so the tiles of black-background MNIST digits stand apart.

    Returns:
        A numpy array ``(R * (H + padding) + padding, C * (W + padding) + padding)`` for
        grey images, with a trailing ``3`` for colour ones, where ``C = min(nrow, N)``
        and ``R = ceil(N / C)``.  Values are copied unchanged (not clipped).
    """
    nrow = positive_int(nrow, "nrow")
    padding = nonnegative_int(padding, "padding")
    a = _as_images(images)
    return tile_images(a, min(nrow, len(a)), padding, pad_value)


def show_images(
    images, nrow: int = 10, title: str | None = None, ax=None, figsize=None, padding: int = 2
) -> Figure:
    """Show images in a grid (see :func:`image_grid` for the shapes): grey from 0 (black)
    to 1 (white), no ticks.  ``padding=0`` shows e.g. a latent manifold seamlessly."""
    ax_in = ax
    a = _as_images(images)
    _warn_outside_unit(a, "show_images")
    grid = image_grid(a, nrow=nrow, padding=padding)
    if figsize is None:
        ncol, nrows = min(nrow, len(a)), math.ceil(len(a) / min(nrow, len(a)))
        height = max(1.0, nrows * _TILE_INCHES) + 0.3 * bool(title)
        figsize = (max(2.0, ncol * _TILE_INCHES), height)
    fig, ax = figure_and_axes(ax, figsize)
    draw_image(ax, grid)
    if title:
        ax.set_title(title)
    rows = math.ceil(len(a) / min(nrow, len(a)))
    return default_description(
        fig,
        ax_in,
        f"a grid of {len(a)} images, {rows} row(s) of up to {min(nrow, len(a))}"
        f"{_title_part(title)}",
    )


def compare_rows(
    rows: Mapping[str, object], n: int = 10, title: str | None = None, figsize=None
) -> Figure:
    """One row of images per entry, labelled on the left by its key.

    Args:
        rows: e.g. ``{"clean": x, "noisy": x_noisy, "denoised": x_hat}``, each a batch of
            images in any shape :func:`image_grid` takes (they may differ per row).
        n: how many images of each row to show (the first ``n``); a row with fewer
            images leaves its last cells white.

    Returns:
        A figure with ``len(rows)`` axes, top to bottom in the order of ``rows``.
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError(
            "compare_rows: expected a non-empty dict {label: images}, "
            f"got {type(rows).__name__}{' (empty)' if isinstance(rows, Mapping) else ''}"
        )
    n = positive_int(n, "n")
    grids = {}
    for label, images in rows.items():
        a = _as_images(images, f"compare_rows[{label!r}]")[:n]
        _warn_outside_unit(a, f"compare_rows[{label!r}]")
        grids[label] = tile_images(a, n, 2, PAD_VALUE)
    if figsize is None:
        figsize = (n * _TILE_INCHES + 1.5, len(rows) * (_TILE_INCHES + 0.1) + 0.4 * bool(title))
    fig, axes = plt.subplots(len(rows), 1, figsize=figsize, squeeze=False, layout="constrained")
    for ax, (label, grid) in zip(axes[:, 0], grids.items(), strict=True):
        draw_image(ax, grid)
        ax.set_ylabel(str(label), rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    names = ", ".join(str(label) for label in rows)
    text = f"{len(rows)} rows of up to {n} images, top to bottom: {names}{_title_part(title)}"
    return describe(fig, text)


def show_filters(weight, n: int = 64, nrow: int = 8, title: str | None = None, ax=None) -> Figure:
    """Show the first ``n`` rows of a weight matrix ``(H, 784)`` as 28 x 28 images.

    ``weight`` is e.g. ``encoder_layer.weight`` of an ``nn.Linear(784, H)``: row ``h`` holds
    what hidden unit ``h`` responds to.  Each filter is scaled to its OWN min/max, so
    its smallest weight is black and its largest white (a constant filter is grey);
    compare patterns, not brightness, between filters.
    """
    w = _to_numpy(weight, "show_filters")
    if w.ndim != 2 or w.shape[1] != 784:
        hint = "; for a decoder's nn.Linear(H, 784) pass weight.T" if w.shape[:1] == (784,) else ""
        raise ValueError(f"show_filters: expected a weight of shape (H, 784), got {w.shape}{hint}")
    n = positive_int(n, "n")
    _check_finite(w, "show_filters")
    w = w[:n].astype(np.float32)
    low, high = w.min(axis=1, keepdims=True), w.max(axis=1, keepdims=True)
    span = high - low
    scaled = np.where(span > 0, (w - low) / np.where(span > 0, span, 1.0), 0.5)
    fig = show_images(scaled, nrow=nrow, title=title, ax=ax)
    text = (
        f"the first {len(w)} learned filters (weight rows) as 28 x 28 images, each "
        f"scaled to its own range{_title_part(title)}"
    )
    return default_description(fig, ax, text)


# ----------------------------------------------------------------------------- codes


def scatter_codes(
    codes,
    labels=None,
    ax=None,
    title: str | None = None,
    s: float = 4,
    alpha: float = 0.6,
    legend: bool = True,
    equal_aspect: bool = False,
) -> Figure:
    """Scatter 2-D codes ``(N, 2)``, coloured by their digit labels ``(N,)`` in 0..9.

    One scatter (``PathCollection``) per digit present, in the colour
    ``DIGIT_COLORS[digit]``, so the same digit has the same colour in every plot.
    ``labels=None`` draws all points in one grey scatter.  Codes of more than two
    dimensions must be reduced first (PCA or t-SNE).
    """
    z = _to_numpy(codes, "scatter_codes: codes")
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(
            f"scatter_codes: expected 2-D codes of shape (N, 2), got {z.shape}; reduce them "
            "first, e.g. sklearn.decomposition.PCA(2).fit_transform(codes) or "
            "sklearn.manifold.TSNE(2).fit_transform(codes)"
        )
    _check_finite(z, "scatter_codes: codes")
    ax_in = ax
    fig, ax = figure_and_axes(ax, (5, 5))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=s, alpha=alpha, color="0.4")
    else:
        y = _to_numpy(labels, "scatter_codes: labels")
        if y.shape != (len(z),):
            raise ValueError(
                f"scatter_codes: expected labels of shape ({len(z)},) for codes {z.shape}, "
                f"got {y.shape}"
            )
        if y.size and (y.dtype.kind not in "iu" or y.min() < 0 or y.max() > 9):
            raise ValueError(
                f"scatter_codes: expected integer digit labels in 0..9, got dtype {y.dtype} "
                f"with values {y.min()}..{y.max()}"
            )
        for digit in np.unique(y):
            mine = y == digit
            ax.scatter(
                z[mine, 0],
                z[mine, 1],
                s=s,
                alpha=alpha,
                color=DIGIT_COLORS[digit],
                label=str(digit),
            )
        if legend:
            shown = ax.legend(title="digit", markerscale=6 / max(s, 1) ** 0.5, fontsize="small")
            for handle in shown.legend_handles:
                handle.set_alpha(1.0)
    if equal_aspect:
        ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    what = "one colour per digit" if labels is not None else "in grey"
    return default_description(
        fig,
        ax_in,
        f"scatter plot of {len(z)} 2-D codes (z1 across, z2 up), {what}{_title_part(title)}",
    )


# ----------------------------------------------------------------------------- numbers


def plot_history(
    history,
    parts: Sequence[str] | str = ("loss",),
    ax=None,
    title: str | None = None,
    label: str | None = None,
) -> Figure:
    """Curves of loss parts over the epochs of a :class:`vae_edu.train.History`.

    One line per (split, part), labelled e.g. "train loss" and "test kl": the same colour
    for one part, solid for train, dotted for validation and dashed for test.  When the
    model kept its best validation epoch (``history.best_epoch``), a star marks that epoch
    on each validation curve.  The x axis is the epoch, from 1.
    To compare models on one ``ax``, call it once per model with ``label="plain"`` etc.:
    the labels get that prefix and each call continues with colours not used on ``ax``.

    Raises:
        KeyError: a part the history does not have (the message lists the ones it has).
    """
    if isinstance(parts, str):
        parts = (parts,)
    if isinstance(history, Mapping):  # History.to_dict()
        splits = {split: history.get(split, []) for split in ("train", "validation", "test")}
        best = history.get("best_epoch")
    else:
        splits = {"train": history.train, "validation": history.validation,
                  "test": history.test}
        best = history.best_epoch
    if not any(splits.values()):
        raise ValueError("plot_history: expected a history with at least one epoch, got none")
    available = list(dict.fromkeys(k for rows in splits.values() for row in rows for k in row))
    for part in parts:
        if part not in available:
            raise KeyError(f"no loss part {part!r} in the history; the parts are {available}")
    ax_in = ax
    fig, ax = figure_and_axes(ax, (6, 4))
    offset = len({line.get_color() for line in ax.get_lines()})  # colours already on ax
    prefix = f"{label} " if label else ""
    for i, part in enumerate(parts):
        for split, style in (("train", "-"), ("validation", ":"), ("test", "--")):
            rows = splits[split]
            if rows:
                epochs = np.arange(1, len(rows) + 1)
                values = [row.get(part, np.nan) for row in rows]
                ax.plot(
                    epochs,
                    values,
                    style,
                    marker="o",
                    markersize=3,
                    color=f"C{offset + i}",
                    label=f"{prefix}{split} {part}",
                )
                if split == "validation" and best is not None and 1 <= best <= len(rows):
                    ax.plot([best], [values[best - 1]], "*", markersize=11,
                            color=f"C{offset + i}",  # one legend entry for all parts
                            label=f"{prefix}kept: epoch {best}" if i == 0 else "_nolegend_")
    ax.set_xlabel("epoch")
    ax.set_ylabel(parts[0] if len(parts) == 1 else "value")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    if title:
        ax.set_title(title)
    n_epochs = max(len(rows) for rows in splits.values())
    styles = ("train solid, validation dotted, test dashed" if splits["validation"]
              else "train solid, test dashed")  # as before validation splits existed
    kept = f", a star at the kept epoch {best}" if best is not None and splits["validation"] else ""
    return default_description(
        fig,
        ax_in,
        f"line plot of {', '.join(parts)} over {n_epochs} epochs, {styles}{kept}"
        f"{_title_part(title)}",
    )


def histogram(
    values, bins: int = 50, ax=None, title: str | None = None, xlabel: str | None = None
) -> Figure:
    """A histogram of ``values`` (any shape; all entries count), y axis = count."""
    v = _to_numpy(values, "histogram").ravel()
    if v.size == 0:
        raise ValueError("histogram: expected at least one value, got none")
    _check_finite(v, "histogram")
    ax_in = ax
    fig, ax = figure_and_axes(ax, (5, 3.5))
    ax.hist(v, bins=bins, color="C0")
    ax.set_ylabel("count")
    if xlabel:
        ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    of = f" of {xlabel}" if xlabel else ""
    return default_description(
        fig, ax_in, f"histogram{of} over {v.size} values, {bins} bins{_title_part(title)}"
    )


def bar_compare(
    values: Mapping[str, float],
    ax=None,
    title: str | None = None,
    ylabel: str | None = None,
    fmt: str = "{:.3g}",
) -> Figure:
    """One labelled bar per entry of ``values`` (e.g. ``{"pretrained": 0.97, "scratch":
    0.91}``), with its value written on the bar (``fmt``, e.g. ``"{:.1%}"``)."""
    if not isinstance(values, Mapping) or not values:
        raise ValueError(
            f"bar_compare: expected a non-empty dict {{label: number}}, got {values!r}"
        )
    try:
        heights = [float(v) for v in values.values()]
    except (TypeError, ValueError) as err:
        raise ValueError(f"bar_compare: expected numbers as values, got {values!r}") from err
    _check_finite(np.asarray(heights), "bar_compare")
    ax_in = ax
    fig, ax = figure_and_axes(ax, (max(3.0, 1.2 * len(values) + 1), 3.5))
    labels = [str(k) for k in values]
    bars = ax.bar(labels, heights, color=[f"C{i % 10}" for i in range(len(labels))])
    ax.bar_label(bars, labels=[fmt.format(h) for h in heights], padding=2)
    ax.margins(y=0.15)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    bars_text = ", ".join(f"{k} {fmt.format(h)}" for k, h in zip(labels, heights, strict=True))
    return default_description(fig, ax_in, f"bar chart: {bars_text}{_title_part(title)}")


install_alt_formatter()  # in a kernel, from the first import of the plots
