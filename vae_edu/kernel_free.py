"""Sliders that work without a kernel: a precomputed set of images stored in the notebook.

A widget (``vae_edu.widgets``) needs a running kernel: read as a static page (the course
website, GitHub's preview, JupyterLab without a kernel) it shows nothing.  The objects
made here store their images in the cell's output instead, as ONE output with two
representations:

- ``text/html``: the frames tiled into one PNG (base64), an ``<input type=range>`` per
  axis, a label, and a few lines of inline JavaScript that show the chosen frame, cut out
  of the tiled PNG, on a ``<canvas>`` (no kernel, no server, no network).  Without
  JavaScript (an untrusted notebook in JupyterLab, whose HTML is sanitised) the HTML
  shows the tiled PNG itself;
- ``image/png``: the same tiled PNG, the fallback of front ends that show no HTML; its
  metadata carries the alt text, ``{"image/png": {"alt": ...}}``.

Each frame is stored once (one PNG of the tiles is smaller than N PNGs of one tile), so
a 20 x 20 grid of 28 x 28 digits costs about 0.2 MB.  ::

    from vae_edu.kernel_free import image_slider, image_slider_2d
    image_slider(frames, [f"alpha = {a:.2f}" for a in alphas], title="...", alt="...")
    image_slider_2d(grid, z1_values, z2_values, row_name="z2", col_name="z1", title=..., alt=...)

Images are floats in [0, 1] of shape ``(C, H, W)`` with ``C = 1`` (grey) or ``3`` (RGB).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .validation import nonnegative_int, positive_int

__all__ = [
    "MAX_BYTES",
    "ImageSlider",
    "attribute_slider",
    "conditional_slider",
    "image_slider",
    "image_slider_2d",
    "kernel_free_view",
    "manifold_slider",
    "progression_slider",
    "tile",
    "traversal_slider",
]

#: The largest tiled PNG a slider stores (bytes): its text/html and image/png outputs hold
#: it once each, base64 (x 4/3), so one slider adds at most about 2 x 1.33 x this to the
#: notebook and 1.33 x this to a web page.  Pass ``max_bytes`` to change it.
MAX_BYTES = 1_500_000

_PAD = 1.0  # the gaps between tiles: white, as vae_edu.viz


def _images(x, name: str, ndim: int) -> Tensor:
    """A tensor or array of images, checked: floats in [0, 1], C = 1 or 3, finite."""
    if not torch.is_tensor(x):
        try:
            x = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"{name}: expected a tensor or numpy array, got {type(x).__name__}"
            ) from err
    x = x.detach().cpu()
    shapes = {4: "(N, C, H, W)", 5: "(R, K, C, H, W)"}
    if x.dim() != ndim or x.shape[-3] not in (1, 3) or 0 in x.shape:
        raise ValueError(
            f"{name}: expected images of shape {shapes[ndim]} with C = 1 or 3 and no empty "
            f"axis, got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        hint = "; divide 0-255 pixels by 255" if x.dtype == torch.uint8 else ""
        raise ValueError(f"{name}: expected float images in [0, 1], got dtype {x.dtype}{hint}")
    x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: the images have NaN or inf values; did the training diverge?")
    low, high = float(x.min()), float(x.max())
    if low < -1e-3 or high > 1 + 1e-3:
        raise ValueError(
            f"{name}: expected values in [0, 1], got {low:.3g} to {high:.3g}; for logits "
            "apply torch.sigmoid (or model.decode returns probabilities already?)"
        )
    return x.clamp(0.0, 1.0)


def tile(images, nrow: int, padding: int = 1) -> Tensor:
    """Tile ``images (N, C, H, W)`` in [0, 1] into one image ``(C, H', W')``.

    ``nrow`` images per row (as ``torchvision.utils.make_grid``), ``ceil(N / nrow)``
    rows, ``padding`` white pixels between the tiles and around the border:
    ``H' = rows * (H + padding) + padding``, ``W' = nrow * (W + padding) + padding``
    (a last row with fewer images is filled with white).
    """
    x = _images(images, "tile", 4)
    nrow = positive_int(nrow, "tile: nrow")
    padding = nonnegative_int(padding, "tile: padding")
    n, c, h, w = x.shape
    rows = math.ceil(n / nrow)
    out = torch.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), _PAD)
    for k in range(n):
        y0, x0 = (k // nrow) * (h + padding) + padding, (k % nrow) * (w + padding) + padding
        out[:, y0 : y0 + h, x0 : x0 + w] = x[k]
    return out


def _png(image: Tensor) -> bytes:
    """``(C, H, W)`` floats in [0, 1] -> PNG bytes (grey "L" for C = 1, else "RGB")."""
    a = (image.numpy() * 255.0 + 0.5).astype(np.uint8)
    a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(a)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _text(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
    return " ".join(value.split())


def _labels(values, n: int, name: str) -> list[str]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray | Tensor):
        raise ValueError(f"{name}: expected a list of {n} labels, got {type(values).__name__}")
    labels = [v if isinstance(v, str) else f"{float(v):.3g}" for v in list(values)]
    if len(labels) != n:
        raise ValueError(f"{name}: expected {n} labels (one per image), got {len(labels)}")
    return labels


_SCRIPT = """(function () {
  var root = document.getElementById(%(id)s), spec = %(spec)s;
  var sheet = root.querySelector("img.vae-edu-tiles");
  var view = document.createElement("canvas");
  view.width = spec.w * spec.scale; view.height = spec.h * spec.scale;
  view.setAttribute("role", "img");
  view.className = "vae-edu-frame";
  var ctx = view.getContext("2d"), caption = root.querySelector(".vae-edu-caption");
  var inputs = [], box = root.querySelector(".vae-edu-controls");
  spec.axes.forEach(function (axis, a) {
    var label = document.createElement("label"), input = document.createElement("input");
    input.type = "range"; input.min = 0; input.max = axis.values.length - 1; input.step = 1;
    input.value = axis.start; input.setAttribute("aria-label", axis.name);
    label.appendChild(document.createTextNode(axis.name + " "));
    label.appendChild(input); box.appendChild(label); inputs.push(input);
    input.addEventListener("input", draw);
  });
  function draw() {
    var i = inputs.map(function (input) { return parseInt(input.value, 10); });
    var r = spec.axes.length === 2 ? i[0] : Math.floor(i[0] / spec.ncol);
    var k = spec.axes.length === 2 ? i[1] : i[0] %% spec.ncol;
    var text = spec.axes.map(function (axis, a) { return axis.values[i[a]]; }).join(", ");
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, view.width, view.height);
    ctx.drawImage(sheet, spec.pad + k * (spec.w + spec.pad), spec.pad + r * (spec.h + spec.pad),
                  spec.w, spec.h, 0, 0, view.width, view.height);
    caption.textContent = text;
    view.setAttribute("aria-label", spec.alt + " (" + text + ")");
    root.setAttribute("data-frame", i.join(","));
  }
  function start() { sheet.style.display = "none"; root.insertBefore(view, box); draw(); }
  if (sheet.complete && sheet.naturalWidth) { start(); }
  else { sheet.addEventListener("load", start); }
})();"""


class ImageSlider:
    """A kernel-free slider over precomputed images; displays as one output with
    ``text/html`` and ``image/png`` (see the module's docstring).  Made by
    :func:`image_slider` and :func:`image_slider_2d`.

    Attributes:
        png: the tiled PNG (bytes), which both representations show.
        frames: how many images it holds.
        nbytes: the size of its outputs in a notebook (both representations, base64).
    """

    def __init__(self, sheet: Tensor, tile_hw, ncol: int, axes, *, title, alt, scale, max_bytes):
        self.title, self.alt = title, alt
        self.png = _png(sheet)
        if len(self.png) > max_bytes:
            raise ValueError(
                f"image_slider: the tiled images take {len(self.png) / 1e6:.2f} MB as PNG, "
                f"over the {max_bytes / 1e6:.2f} MB limit (max_bytes); use fewer or smaller "
                "frames (a coarser grid)"
            )
        self.frames = math.prod(len(axis["values"]) for axis in axes)
        h, w = tile_hw
        b64 = base64.b64encode(self.png).decode("ascii")
        uid = "vae-edu-slider-" + hashlib.sha1(self.png + title.encode()).hexdigest()[:12]
        spec = {"w": w, "h": h, "pad": 1, "ncol": ncol, "scale": scale, "alt": alt, "axes": axes}
        script = _SCRIPT % {"id": json.dumps(uid), "spec": json.dumps(spec)}
        self.html = (
            f'<div class="vae-edu-slider" id="{uid}">'
            f'<div class="vae-edu-title"><b>{html.escape(title)}</b></div>'
            f'<img class="vae-edu-tiles" src="data:image/png;base64,{b64}" '
            f'alt="{html.escape(alt)} (all {self.frames} images tiled)" '
            f'style="image-rendering: pixelated; max-width: 100%">'
            f'<div class="vae-edu-controls"></div>'
            f'<div class="vae-edu-caption"></div>'
            f"<script>{script}</script></div>"
        )
        self._b64 = b64
        self.nbytes = len(self.html.encode()) + len(b64)

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = {
            "text/html": self.html,
            "image/png": self._b64,
            "text/plain": f"<kernel-free slider '{self.title}': {self.frames} images>",
        }
        return data, {"image/png": {"alt": self.alt}}

    def __repr__(self) -> str:
        return f"<kernel-free slider '{self.title}': {self.frames} images, {self.nbytes} bytes>"


def _scale(scale) -> int:
    scale = positive_int(scale, "image_slider: scale")
    if scale > 16:
        raise ValueError(f"image_slider: expected a scale from 1 to 16, got {scale}")
    return scale


def image_slider(
    frames,
    labels,
    *,
    title: str,
    alt: str,
    scale: int = 3,
    nrow: int | None = None,
    name: str = "frame",
    max_bytes: int = MAX_BYTES,
) -> ImageSlider:
    """One slider over ``frames (N, C, H, W)`` in [0, 1] (C = 1 or 3), labelled ``labels``.

    Args:
        frames: the precomputed images, e.g. decodings along one latent direction.
        labels: ``N`` strings (numbers are written with 3 significant digits), the text
            shown under the frame, e.g. ``"z_3 = -1.50"``.
        title: shown above the slider.
        alt: what the images show, for screen readers (the frame's label is appended).
        scale: each pixel is shown as a ``scale x scale`` block (1 to 16).
        nrow: images per row of the tiled fallback (default ``min(N, 10)``); a traversal
            of D dimensions x S steps reads best with ``nrow=S``.
        name: the slider's label.
        max_bytes: refuse a tiled PNG larger than this (see :data:`MAX_BYTES`).

    Raises:
        ValueError: a wrong shape, dtype, values outside [0, 1], NaN, a label count that
            differs from N, an empty title or alt, or a PNG over ``max_bytes``.
    """
    x = _images(frames, "image_slider: frames", 4)
    labels = _labels(labels, len(x), "image_slider: labels")
    title, alt = _text(title, "image_slider: title"), _text(alt, "image_slider: alt")
    ncol = min(len(x), 10) if nrow is None else positive_int(nrow, "image_slider: nrow")
    axes = [{"name": _text(name, "image_slider: name"), "values": labels, "start": 0}]
    return ImageSlider(
        tile(x, ncol),
        x.shape[-2:],
        ncol,
        axes,
        title=title,
        alt=alt,
        scale=_scale(scale),
        max_bytes=positive_int(max_bytes, "image_slider: max_bytes"),
    )


def image_slider_2d(
    grid,
    row_values,
    col_values,
    *,
    row_name: str,
    col_name: str,
    title: str,
    alt: str,
    scale: int = 3,
    max_bytes: int = MAX_BYTES,
) -> ImageSlider:
    """Two sliders over ``grid (R, K, C, H, W)``: ``grid[r, k]`` is shown for row value
    ``row_values[r]`` and column value ``col_values[k]``, e.g. decodings over a 2-D
    latent grid (rows: z_2, columns: z_1).  Both sliders start in the middle.

    Args:
        row_values, col_values: ``R`` and ``K`` labels (numbers or strings).
        row_name, col_name: the sliders' labels, e.g. ``"z2"`` and ``"z1"``.
        title, alt, scale, max_bytes: as :func:`image_slider`.

    The fallback PNG is the grid itself: ``R`` rows of ``K`` images.
    """
    x = _images(grid, "image_slider_2d: grid", 5)
    r, k = x.shape[:2]
    rows = _labels(row_values, r, "image_slider_2d: row_values")
    cols = _labels(col_values, k, "image_slider_2d: col_values")
    title, alt = _text(title, "image_slider_2d: title"), _text(alt, "image_slider_2d: alt")
    axes = [
        {"name": _text(row_name, "image_slider_2d: row_name"), "values": rows, "start": r // 2},
        {"name": _text(col_name, "image_slider_2d: col_name"), "values": cols, "start": k // 2},
    ]
    return ImageSlider(
        tile(x.reshape(r * k, *x.shape[2:]), k),
        x.shape[-2:],
        k,
        axes,
        title=title,
        alt=alt,
        scale=_scale(scale),
        max_bytes=positive_int(max_bytes, "image_slider_2d: max_bytes"),
    )


# ----------------------------------------------------------------------------- widgets
# The precomputed twin of each latent explorer of vae_edu.widgets: what its sliders can
# show, decoded on a grid, as one kernel-free slider (lectures 06 and 08).


def _values(span: float, steps: int, name: str) -> Tensor:
    steps = positive_int(steps, f"{name}: steps")
    if steps < 2:
        raise ValueError(f"{name}: steps must be at least 2, got {steps}")
    return torch.linspace(-span, span, steps)


def _model_name(widget) -> str:
    return type(widget.model).__name__


def _one_latent_at_a_time(z0: Tensor, dims, values: Tensor) -> Tensor:
    """``(D, S, Z)`` codes: row r is ``z0`` with latent ``dims[r]`` set to each of ``values``."""
    z = z0.repeat(len(dims), len(values), 1)
    for r, d in enumerate(dims):
        z[r, :, d] = values
    return z


def traversal_slider(widget, *, steps: int = 13, scale: int = 3) -> ImageSlider:
    """``LatentSliders``: each latent of ``widget.dims`` moved alone over
    ``linspace(-span, span, steps)``, the others at the starting code ``z0``: two sliders,
    the latent and its value (``len(dims) x steps`` decoded images)."""
    from .widgets.base import decode_codes

    values = _values(widget.span, steps, "traversal_slider")
    z0, dims = widget.z0, widget.dims
    z = _one_latent_at_a_time(z0, dims, values)  # (D, S, Z)
    images = decode_codes(widget.model, z.reshape(-1, len(z0)), widget._condition())
    grid = images.reshape(len(dims), len(values), *images.shape[1:])
    return image_slider_2d(
        grid,
        [f"z[{d}]" for d in dims],
        [f"{v:+.2f}" for v in values.tolist()],
        row_name="latent",
        col_name="value",
        title=f"{len(dims)} latents x {len(values)} values, decoded without a kernel",
        alt=f"the {_model_name(widget)}'s decoded image as one latent moves from "
        f"-{widget.span:g} to {widget.span:g}, the others at the starting code",
        scale=scale,
    )


def manifold_slider(widget, *, n: int = 25, scale: int = 3) -> ImageSlider:
    """``ManifoldExplorer``: the 2-D latent plane decoded on an ``n x n`` grid over
    ``[-span, span]^2`` (:func:`vae_edu.evaluate.manifold_grid`), sliders z2 and z1; the
    fallback PNG is the manifold itself (z2 from +span at the top)."""
    from .evaluate import manifold_grid

    n = positive_int(n, "manifold_slider: n")
    if n < 2:
        raise ValueError(f"manifold_slider: n must be at least 2, got {n}")
    images = manifold_grid(widget.model, n=n, span=widget.span, y=widget.y).detach().cpu()
    values = torch.linspace(-widget.span, widget.span, n).tolist()
    return image_slider_2d(
        images.reshape(n, n, *images.shape[1:]),
        [f"{v:+.2f}" for v in reversed(values)],
        [f"{v:+.2f}" for v in values],
        row_name="z₂",
        col_name="z₁",
        title=f"the 2-D latent plane on a {n} x {n} grid, decoded without a kernel",
        alt=f"digits decoded by the {_model_name(widget)} over a {n} x {n} grid of its "
        f"2-D latent space, z1 and z2 from -{widget.span:g} to {widget.span:g}",
        scale=scale,
    )


def conditional_slider(widget, *, steps: int = 9, scale: int = 3) -> ImageSlider:
    """``ConditionalSliders``: for every label y (one slider), each latent of
    ``widget.dims`` moved alone over ``linspace(-span, span, steps)`` from ``z0`` (the
    other slider: latent and value), decoded by ``p(x | z, y)``."""
    from .widgets.base import decode_codes

    values = _values(widget.span, steps, "conditional_slider")
    z0, dims = widget.z0, widget.dims
    z = _one_latent_at_a_time(z0, dims, values)
    z = z.reshape(-1, len(z0))  # (D * S, Z)
    labels = range(widget.y_dim)
    images = torch.stack(
        [decode_codes(widget.model, z, torch.full((len(z),), y, dtype=torch.long)) for y in labels]
    )  # (Y, D * S, C, H, W)
    cols = [f"z[{d}] = {v:+.2f}" for d in dims for v in values.tolist()]
    return image_slider_2d(
        images,
        [str(y) for y in labels],
        cols,
        row_name="y",
        col_name="latent = value",
        title=f"every label y x {len(dims)} latents x {len(values)} values, without a kernel",
        alt=f"the {_model_name(widget)}'s decoded image for each label y, one latent moved "
        "at a time from the starting code",
        scale=scale,
    )


def attribute_slider(widget, *, steps: int = 11, scale: int = 3) -> ImageSlider:
    """``AttributeSliders``: each attribute's alpha moved alone over ``linspace(0, 1,
    steps)``, the others at their starting alphas, the digit and z fixed."""
    from .widgets.base import decode_codes

    steps = positive_int(steps, "attribute_slider: steps")
    if steps < 2:
        raise ValueError(f"attribute_slider: steps must be at least 2, got {steps}")
    alphas = torch.linspace(0.0, 1.0, steps)
    start, n_attr = widget.alphas, len(widget.names)
    a = start.repeat(n_attr, steps, 1)  # (A, S, A)
    for j in range(n_attr):
        a[j, :, j] = alphas
    a = a.reshape(-1, n_attr)
    u = (1 - a) * widget.y_min + a * widget.y_max
    one_hot = torch.nn.functional.one_hot(torch.tensor(widget.digit), widget.n_classes)
    y = torch.cat([one_hot.float().expand(len(u), -1), u], dim=1)
    z = widget.z.expand(len(y), -1)
    if callable(getattr(widget.model, "latent_from_noise", None)):
        with torch.no_grad():
            z = widget.model.latent_from_noise(z, y).detach().cpu()
    images = decode_codes(widget.model, z, y)
    return image_slider_2d(
        images.reshape(n_attr, steps, *images.shape[1:]),
        list(widget.names),
        [f"{v:.2f}" for v in alphas.tolist()],
        row_name="attribute",
        col_name="α",
        title=f"digit {widget.digit}: {n_attr} attributes x {steps} alphas, without a kernel",
        alt=f"the digit {widget.digit} decoded with one attribute moved from its 5th to its "
        "95th percentile (alpha 0 to 1), the others and z fixed",
        scale=scale,
    )


def progression_slider(widget, *, steps: int = 21, n_z: int = 6, scale: int = 3) -> ImageSlider:
    """``AttributeProgression``: ``y_alpha = (1 - alpha) y_min + alpha y_max`` over
    ``linspace(0, 1, steps)`` for the widget's z and ``n_z - 1`` more draws z ~ N(0, I)
    (seed 0), the "new z" button's role: sliders z and alpha."""
    from .models import interpolate_attributes
    from .widgets.base import decode_codes

    steps = positive_int(steps, "progression_slider: steps")
    n_z = positive_int(n_z, "progression_slider: n_z")
    alphas = torch.linspace(0.0, 1.0, steps)
    g = torch.Generator().manual_seed(0)
    zs = torch.cat([widget.z[None], torch.randn(n_z - 1, widget.latent_dim, generator=g)])
    y = interpolate_attributes(widget.y_min, widget.y_max, alphas)  # (S, y_dim)
    images = torch.stack([decode_codes(widget.model, z.expand(steps, -1), y) for z in zs])
    return image_slider_2d(
        images,
        ["the widget's z"] + [f"z ~ N(0, I) #{k}" for k in range(1, n_z)],
        [f"{v:.2f}" for v in alphas.tolist()],
        row_name="z",
        col_name="α",
        title=f"y_α = (1 - α) {widget._min_text} + α {widget._max_text} for {n_z} codes z",
        alt=f"images decoded as the condition moves from {widget._min_text} to "
        f"{widget._max_text} (alpha 0 to 1), for {n_z} fixed codes z",
        scale=scale,
    )


def kernel_free_view(widget, **options) -> ImageSlider:
    """The kernel-free twin of a latent explorer of :mod:`vae_edu.widgets`:
    :func:`traversal_slider` (``LatentSliders``), :func:`conditional_slider`
    (``ConditionalSliders``), :func:`manifold_slider` (``ManifoldExplorer``),
    :func:`attribute_slider` (``AttributeSliders``), :func:`progression_slider`
    (``AttributeProgression``); ``options`` go to that function (steps, n, scale...)."""
    from . import widgets as w

    for cls, make in (
        (w.ConditionalSliders, conditional_slider),  # before its base class LatentSliders
        (w.LatentSliders, traversal_slider),
        (w.ManifoldExplorer, manifold_slider),
        (w.AttributeSliders, attribute_slider),
        (w.AttributeProgression, progression_slider),
    ):
        if isinstance(widget, cls):
            return make(widget, **options)
    raise ValueError(
        f"kernel_free_view: expected a widget of vae_edu.widgets (LatentSliders, "
        f"ConditionalSliders, ManifoldExplorer, AttributeSliders, AttributeProgression), got "
        f"{type(widget).__name__}"
    )
