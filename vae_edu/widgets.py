"""Interactive widgets of lectures 06-08: latent sliders, a 2-D manifold explorer, a digit
picker for conditional VAEs and the attribute-progression slider.

* :class:`LatentSliders`: one slider per latent dimension of a VAE, a reset button;
* :class:`ManifoldExplorer`: a 2-d latent space: sliders z1, z2 move a marker over the
  decoded manifold (or the scatter of the codes), the decoded digit beside it;
* :class:`ConditionalSliders`: a CVAE's digit picker and latent sliders, p(x | z, y);
* :class:`AttributeProgression`: a slider alpha for y_alpha = (1 - alpha) y_min +
  alpha y_max with z fixed (Attribute2Image), and the strip of the progression;
* :func:`latent_code` (the starting point: mu of one encoded image), :func:`to_png`.

Core ipywidgets only (JupyterLab, Notebook and Colab show them).  Each widget is a small
class that holds the model, builds ``.widget`` (the ipywidgets container) and has plain
methods that its callbacks call, so a test or a cell can drive it without a browser::

    w = LatentSliders(model, z0=latent_code(model, x))
    w                       # as the last line of a cell: shows the widget
    w.set_latent(3, 1.5)    # the same as dragging slider z[3] to 1.5
    w.render()              # the image shown now: a (28, 28) array in [0, 1]

Setting a slider's value from code (``w.sliders[3].value = 1.5``) runs the same callback
as dragging it.  Images are decoded without gradients and in eval mode, on whatever device
the model is on, and the model's train/eval mode is put back; they reach the browser as
PNG bytes in a ``widgets.Image`` (:func:`to_png`), enlarged without smoothing so that the
28 x 28 pixels stay visible.  One update takes one to a few milliseconds on a CPU for
the models of the course, the manifold explorer's 420 x 420 map a few more
(``vae-edu bench widgets`` measures it).

A widget needs a live kernel: a notebook opened without one (or a static page) shows a
placeholder instead, so show a static figure of the same images next to it where the
picture matters (``viz.show_images(w.render()[None])``).
"""

from __future__ import annotations

import contextlib
import math
import struct
import zlib
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from .evaluate import manifold_grid
from .models.cvae import interpolate_attributes
from .train import evaluation_mode, model_device
from .viz import image_grid, scatter_codes

__all__ = [
    "AttributeProgression",
    "ConditionalSliders",
    "LatentSliders",
    "ManifoldExplorer",
    "latent_code",
    "to_png",
]

#: The colour of the marker drawn on a manifold, a scatter or a strip (RGB, 0-255).
MARKER_COLOR = (230, 30, 30)

#: Index of the marker's colour in the palette of a map (see :class:`ManifoldExplorer`).
_MARKER_INDEX = 255


# ----------------------------------------------------------------------------- images


def _image_uint8(image, name: str = "to_png") -> np.ndarray:
    """One image -> ``(H, W)`` (grey) or ``(H, W, 3)`` (colour) uint8 array."""
    if torch.is_tensor(image):
        image = image.detach().cpu()
        if image.is_floating_point() and image.element_size() < 4:
            image = image.float()
        image = image.numpy()
    a = np.asarray(image)
    shape = a.shape
    if a.ndim == 3 and shape[0] in (1, 3):
        a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 3)) or a.size == 0:
        hint = "; for a batch pass one image, e.g. images[0]" if a.ndim == 4 else ""
        raise ValueError(
            f"{name}: expected one image of shape (H, W), (1, H, W), (3, H, W) or (H, W, 3), "
            f"got shape {shape}{hint}"
        )
    if a.dtype == np.uint8:
        return a
    if a.dtype == bool:
        a = a.astype(np.float32)
    if a.dtype.kind != "f":
        raise ValueError(
            f"{name}: expected floats in [0, 1] (or uint8), got dtype {a.dtype}; "
            "divide 0-255 pixels by 255"
        )
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: the image has NaN or inf values; did the training diverge?")
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_png(image, scale: int = 6) -> bytes:
    """PNG bytes of one image, for ``widgets.Image(value=..., format="png")``.

    Args:
        image: a tensor or array ``(H, W)``, ``(1, H, W)``, ``(3, H, W)`` or ``(H, W, 3)``;
            floats in [0, 1] (values outside are clipped) or uint8 in 0..255.
        scale: each pixel becomes a ``scale x scale`` block (nearest neighbour, no
            smoothing); 6 shows a 28 x 28 digit as 168 x 168 pixels.

    Raises:
        ValueError: another shape, an integer dtype other than uint8, NaN or inf values.
    """
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool) or scale < 1:
        raise ValueError(f"to_png: scale must be a positive int, got {scale!r}")
    return _encode_png(_upscale(_image_uint8(image), int(scale)))


def _upscale(a: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel -> a ``scale x scale`` block (nearest neighbour)."""
    if scale == 1:
        return a
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _encode_png(a: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """A PNG file of a uint8 image: ``(H, W)`` grey, ``(H, W, 3)`` RGB, or ``(H, W)``
    indices into ``palette`` ``(P, 3)`` (P <= 256).

    Written here with zlib (no row filters, the fastest compression): two to three times
    faster than Pillow's PNG encoder, which tries filters on every row; these images
    (a black background, blocks of equal pixels) compress well without them.
    """
    color_type = 3 if palette is not None else (0 if a.ndim == 2 else 2)
    idat = zlib.compress(_png_rows(a).tobytes(), 1)
    return _png_file(a.shape[1], a.shape[0], color_type, idat, palette)


def _png_rows(a: np.ndarray) -> np.ndarray:
    """The scanlines of a PNG: each row of pixels after a filter byte 0 (none)."""
    rows = np.zeros((a.shape[0], 1 + a[0].size), dtype=np.uint8)
    rows[:, 1:] = a.reshape(a.shape[0], -1)
    return rows


def _png_file(width: int, height: int, color_type: int, idat: bytes, palette=None) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)  # 8 bits
    chunks = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", header)]
    if palette is not None:
        chunks.append(_png_chunk(b"PLTE", np.asarray(palette, dtype=np.uint8).tobytes()))
    chunks.append(_png_chunk(b"IDAT", idat))
    chunks.append(_png_chunk(b"IEND", b""))
    return b"".join(chunks)


class _MarkedPNG:
    """PNG files of a fixed palette image ``(H, W)`` with a small marker drawn on it.

    The compressed data is cut into bands of ``BAND`` rows, each compressed on its own (a
    full flush between bands, so that no back-reference crosses one): for a new position
    of the marker only the bands it covers are compressed again, the others come from a
    cache of the background.  About 1 ms for a 420 x 420 map instead of 5 to 15 ms.
    """

    BAND = 16

    def __init__(self, background: np.ndarray, palette: np.ndarray):
        self.height, self.width = background.shape
        self.palette = palette
        rows = _png_rows(background)
        self._bands = [
            self._deflate(rows[r : r + self.BAND]) for r in range(0, len(rows), self.BAND)
        ]

    @staticmethod
    def _deflate(rows: np.ndarray) -> bytes:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)  # raw deflate, no zlib header
        return compressor.compress(rows.tobytes()) + compressor.flush(zlib.Z_FULL_FLUSH)

    def encode(self, image: np.ndarray, changed: tuple[int, int]) -> bytes:
        """The PNG of ``image``: the background, changed in rows ``[r0, r1)`` only."""
        rows = _png_rows(image)
        bands = list(self._bands)
        r0, r1 = changed
        for b in range(max(r0, 0) // self.BAND, min(math.ceil(r1 / self.BAND), len(bands))):
            bands[b] = self._deflate(rows[b * self.BAND : (b + 1) * self.BAND])
        # zlib stream: header (deflate, 32K window, fastest), the bands, an empty final
        # block, and the Adler-32 checksum of all the rows
        stream = b"".join(
            [b"\x78\x01", *bands, b"\x03\x00", struct.pack(">I", zlib.adler32(rows.tobytes()))]
        )
        return _png_file(self.width, self.height, 3, stream, self.palette)


def _rgb(grey: np.ndarray) -> np.ndarray:
    """(H, W) floats in [0, 1] -> (H, W, 3) uint8."""
    return np.repeat(_image_uint8(grey)[..., None], 3, axis=2)


def _draw_box(
    image: np.ndarray, row: float, col: float, half: float, value, thickness: int = 2
) -> tuple[int, int]:
    """Draw (in place) the outline of a square centred at pixel (row, col), clipped, with
    ``value`` (an RGB colour, or a palette index); returns the rows ``[r0, r1)`` drawn on."""
    h, w = image.shape[:2]
    top, bottom = round(row - half), round(row + half)
    left, right = round(col - half), round(col + half)

    def fill(r0: int, r1: int, c0: int, c1: int) -> None:
        r0, r1, c0, c1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
        if r0 < r1 and c0 < c1:
            image[r0:r1, c0:c1] = value

    fill(top, top + thickness, left, right)  # top edge
    fill(bottom - thickness, bottom, left, right)  # bottom edge
    fill(top, bottom, left, left + thickness)  # left edge
    fill(top, bottom, right - thickness, right)  # right edge
    return max(top, 0), min(max(bottom, 0), h)


# ----------------------------------------------------------------------------- checks


def _is_conditional(model) -> bool:
    return bool(getattr(model, "conditional", False))


def _latent_size(model, who: str) -> int:
    """Z of a VAE (``latent_dim``) or of a plain autoencoder (``code_dim``)."""
    if callable(getattr(model, "decode_images", None)) and hasattr(model, "latent_dim"):
        return int(model.latent_dim)
    if callable(getattr(model, "decode", None)) and hasattr(model, "code_dim"):
        return int(model.code_dim)  # a plain autoencoder: decode(code) -> logits
    raise TypeError(
        f"{who} needs a model of vae_edu.models with a decoder: a VAE (latent_dim and "
        f"decode_images) or an autoencoder (code_dim and decode), got {type(model).__name__}"
    )


def _float(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from err
    if isinstance(value, bool) or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return v


def _positive(value, name: str) -> float:
    v = _float(value, name)
    if v <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _positive_int(value, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _as_latent(z, size: int, name: str) -> Tensor:
    """None (zeros) or ``size`` numbers -> a float32 CPU tensor ``(size,)``."""
    if z is None:
        return torch.zeros(size)
    if torch.is_tensor(z):
        t = z.detach().float().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(z, dtype=np.float32))
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be {size} numbers, got {type(z).__name__}") from err
    if t.numel() != size or (t.dim() > 1 and t.shape[0] != 1):
        raise ValueError(
            f"{name} must have {size} values (the model's latent size), shape ({size},) or "
            f"(1, {size}), got shape {tuple(t.shape)}"
        )
    t = t.reshape(size).clone()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has NaN or inf values")
    return t


def _check_label(y, y_dim: int, name: str) -> int:
    if torch.is_tensor(y) and y.numel() == 1 and not y.is_floating_point():
        y = y.item()
    if isinstance(y, bool) or not isinstance(y, (int, np.integer)):
        raise TypeError(f"{name} must be an int label in 0..{y_dim - 1}, got {y!r}")
    if not 0 <= y < y_dim:
        raise ValueError(f"{name} must be a label in 0..{y_dim - 1} (the model's classes), got {y}")
    return int(y)


def _require_conditional(model, who: str, conditional: bool, instead: str) -> None:
    if _is_conditional(model) != conditional:
        kind = "a conditional" if _is_conditional(model) else "an unconditional"
        raise TypeError(
            f"{who} needs {'a conditional' if conditional else 'an unconditional'} model, "
            f"got {kind} {type(model).__name__}; use {instead}"
        )


# ----------------------------------------------------------------------------- decoding


def _decode(model, z: Tensor, y=None) -> Tensor:
    """Mean images ``(N, C, H, W)`` on the CPU for codes ``z (N, Z)``, in eval mode."""
    with evaluation_mode(model):
        if callable(getattr(model, "decode_images", None)):
            images = model.decode_images(z, y) if _is_conditional(model) else model.decode_images(z)
        else:  # a plain autoencoder: logits (N, 784)
            device = model_device(model, torch.device("cpu"))
            images = torch.sigmoid(model.decode(z.to(device))).reshape(len(z), -1)
            if images.shape[1] != 784:
                raise ValueError(
                    f"{type(model).__name__} decodes {images.shape[1]} values, not a 28 x 28 image"
                )
            images = images.reshape(len(z), 1, 28, 28)
    return images.detach().float().cpu()


def _picture(image: Tensor) -> np.ndarray:
    """One decoded image ``(C, H, W)`` -> ``(H, W)`` (grey) or ``(H, W, C)``, numpy."""
    a = image.numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def latent_code(model, image, y=None) -> Tensor:
    """The code of one image: mu of q(z|x) for a VAE (``q(z|x,y)`` for a CVAE, with its
    label ``y``), the code for a plain autoencoder; a float CPU tensor ``(Z,)``.

    ``image``: ``(28, 28)``, ``(1, 28, 28)``, ``(784,)`` or a batch of one.  The usual
    starting point of :class:`LatentSliders`: ``LatentSliders(model, latent_code(model,
    test.images[0]))``.
    """
    x = torch.as_tensor(image)
    if not x.is_floating_point():
        raise TypeError(f"latent_code: expected a float image in [0, 1], got dtype {x.dtype}")
    if x.dim() == 4 or (x.dim() == 2 and x.shape[1] == 784) or (x.dim() == 3 and len(x) > 1):
        if len(x) != 1:
            raise ValueError(
                f"latent_code: expected one image, got a batch of {len(x)}; pass images[i]"
            )
    else:
        x = x.unsqueeze(0)
    x = x.to(model_device(model, x.device))
    with evaluation_mode(model):
        if _is_conditional(model):
            if y is None:
                raise TypeError(
                    f"latent_code: {type(model).__name__} is conditional; pass the label y"
                )
            out = model.encode(x, model.as_condition(y, 1))
        elif y is not None:
            raise TypeError(f"latent_code: {type(model).__name__} is unconditional; drop y")
        else:
            out = model.encode(x)
    code = out[0] if isinstance(out, (tuple, list)) else out
    return code.reshape(-1).detach().float().cpu()


# ----------------------------------------------------------------------------- widgets


class _ModelWidget:
    """What the widgets share: showing ``.widget`` when the object ends a cell.

    The display data is the widget's, with a short text of its own as ``text/plain``:
    what a notebook shows without a kernel, and what nbval compares (it skips the
    widget view, whose model id is random), so that it stays the same from run to run.
    """

    widget: widgets.Widget

    def _describe(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._describe()

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        bundle["text/plain"] = self._describe()
        return bundle

    def close(self) -> None:
        """Close the widget and all its parts (they stop updating and disappear)."""

        def close_all(w):
            for child in getattr(w, "children", ()):
                close_all(child)
            w.close()

        close_all(self.widget)


def _slider(
    value: float, span: float, step: float, description: str, **layout
) -> widgets.FloatSlider:
    return widgets.FloatSlider(
        value=value,
        min=min(-span, value),
        max=max(span, value),
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".2f",
        layout=widgets.Layout(**layout),
    )


class LatentSliders(_ModelWidget):
    """One slider per latent dimension of an unconditional VAE, and the decoded image.

    Moving slider ``z[i]`` changes coordinate ``i`` of the code and shows the mean image of
    ``p(x|z)``; "reset" goes back to the starting point ``z0``.

    Args:
        model: a VAE of :mod:`vae_edu.models` (any ``BaseVAE``; a plain autoencoder works
            too, through its ``decode``).  For a CVAE use :class:`ConditionalSliders`.
        z0: the starting code, ``(Z,)`` (e.g. :func:`latent_code` of a test image);
            zeros (the prior's mean) by default.
        dims: the dimensions that get a slider (default: all); the others keep ``z0``.
        span: each slider runs over ``[-span, span]``, widened to include ``z0``.
        step: the slider's step.
        scale: the image is shown enlarged ``scale`` times.
        columns: sliders per column (default: 10).

    Attributes:
        widget: the ipywidgets container; sliders (one ``FloatSlider`` per entry of
            ``dims``); image (the ``widgets.Image``); reset_button.
    """

    _conditional = False
    _instead = "ConditionalSliders(model, y=...)"

    def __init__(
        self,
        model,
        z0=None,
        *,
        dims: Sequence[int] | None = None,
        span: float = 3.0,
        step: float = 0.05,
        scale: int = 6,
        columns: int = 10,
    ):
        who = type(self).__name__
        self.model = model
        self.latent_dim = _latent_size(model, who)
        _require_conditional(model, who, self._conditional, self._instead)
        self._start = _as_latent(z0, self.latent_dim, f"{who}: z0")
        self._z = self._start.clone()
        self.span = _positive(span, f"{who}: span")
        self.step = _positive(step, f"{who}: step")
        self.scale = _positive_int(scale, f"{who}: scale")
        columns = _positive_int(columns, f"{who}: columns")
        self.dims = self._check_dims(dims)
        self._holding = False

        self.sliders = []
        for i in self.dims:
            slider = _slider(float(self._z[i]), self.span, self.step, f"z[{i}]", width="280px")
            slider.observe(self._slider_callback(i), names="value")
            self.sliders.append(slider)
        self._slider_of = dict(zip(self.dims, self.sliders, strict=True))
        self.image = widgets.Image(format="png")
        self.reset_button = widgets.Button(
            description="reset", icon="undo", tooltip="back to the starting point z0"
        )
        self.reset_button.on_click(lambda _: self.reset())
        slider_columns = [
            widgets.VBox(self.sliders[k : k + columns])
            for k in range(0, len(self.sliders), columns)
        ]
        self.widget = widgets.HBox(
            [widgets.VBox([self.image, self.reset_button]), widgets.HBox(slider_columns)]
        )
        self.update()

    def _describe(self) -> str:
        dims = self.dims
        if dims == list(range(self.latent_dim)):
            which = f"z[0]..z[{self.latent_dim - 1}]" if self.latent_dim > 1 else "z[0]"
        else:
            which = ", ".join(f"z[{i}]" for i in dims)
        return (
            f"{type(self).__name__} over a {type(self.model).__name__} "
            f"(latent size {self.latent_dim}): sliders {which} in [-{self.span:g}, "
            f"{self.span:g}] (a live widget: run the cell in a kernel)"
        )

    # ------------------------------------------------------------------ state

    def _check_dims(self, dims) -> list[int]:
        who, size = type(self).__name__, self.latent_dim
        if dims is None:
            return list(range(size))
        dims = list(dims)
        for i in dims:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < size:
                raise ValueError(f"{who}: dims must be ints in 0..{size - 1}, got {dims}")
        if len(set(dims)) != len(dims) or not dims:
            raise ValueError(f"{who}: dims must be distinct and not empty, got {dims}")
        return [int(i) for i in dims]

    def _index(self, i) -> int:
        size = self.latent_dim
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < size:
            raise IndexError(
                f"{type(self).__name__}: latent index must be an int in 0..{size - 1}, got {i!r}"
            )
        return int(i)

    @property
    def z(self) -> Tensor:
        """The code shown now, ``(Z,)`` (a copy)."""
        return self._z.clone()

    @property
    def z0(self) -> Tensor:
        """The starting point that "reset" goes back to, ``(Z,)`` (a copy)."""
        return self._start.clone()

    @contextlib.contextmanager
    def _one_update(self):
        """Change several sliders and update the image once, at the end."""
        holding, self._holding = self._holding, True
        try:
            yield
        finally:
            self._holding = holding
        if not holding:
            self.update()

    def _slider_callback(self, i: int) -> Callable[[dict], None]:
        def on_change(change: dict) -> None:
            self._z[i] = float(change["new"])
            if not self._holding:
                self.update()

        return on_change

    def _set(self, i: int, value: float) -> None:
        slider = self._slider_of.get(i)
        if slider is None:
            self._z[i] = value
            if not self._holding:
                self.update()
            return
        slider.min, slider.max = min(slider.min, value), max(slider.max, value)
        if slider.value == value:
            self._z[i] = value
        else:
            slider.value = value  # runs the callback, as dragging it does

    def set_latent(self, i: int, value: float) -> None:
        """Set coordinate ``i`` of the code (its slider moves, the image is redrawn)."""
        self._set(self._index(i), _float(value, f"{type(self).__name__}: value"))

    def set_z(self, z) -> None:
        """Set the whole code ``(Z,)`` at once (one redraw)."""
        z = _as_latent(z, self.latent_dim, f"{type(self).__name__}: z")
        with self._one_update():
            for i, value in enumerate(z.tolist()):
                self._set(i, value)

    def set_start(self, z0) -> None:
        """A new starting point (``None``: zeros), and go there."""
        self._start = _as_latent(z0, self.latent_dim, f"{type(self).__name__}: z0")
        self.reset()

    def reset(self) -> None:
        """Back to the starting point ``z0``."""
        self.set_z(self._start)

    # ------------------------------------------------------------------ drawing

    def _condition(self):
        return None

    def render(self) -> np.ndarray:
        """The image for the current code: ``(H, W)`` in [0, 1] for grey images (what
        ``model.decode_images(z)`` gives), ``(H, W, 3)`` for colour ones."""
        return _picture(_decode(self.model, self._z[None], self._condition())[0])

    def update(self) -> None:
        """Decode the current code and show it (the callbacks call this)."""
        self.image.value = to_png(self.render(), self.scale)


class ConditionalSliders(LatentSliders):
    """A digit picker and latent sliders for a conditional VAE: decodes ``p(x | z, y)``.

    The same code ``z`` with another label ``y`` keeps the style (slant, thickness) and
    changes the digit.

    Args:
        model: a conditional VAE (``CVAE`` or ``ConvCVAE``).
        y: the starting label, an int in ``0..y_dim-1``.
        z0, dims, span, step, scale, columns: as in :class:`LatentSliders`.

    Attributes:
        picker: the ``ToggleButtons`` of the labels (a ``Dropdown`` beyond 10 classes);
        and those of :class:`LatentSliders`.
    """

    _conditional = True
    _instead = "LatentSliders(model)"

    def __init__(
        self,
        model,
        y: int = 0,
        z0=None,
        *,
        dims: Sequence[int] | None = None,
        span: float = 3.0,
        step: float = 0.05,
        scale: int = 6,
        columns: int = 10,
    ):
        who = type(self).__name__
        _latent_size(model, who)
        _require_conditional(model, who, True, self._instead)
        self.y_dim = int(model.y_dim)
        self._label = _check_label(y, self.y_dim, f"{who}: y")
        options = [(str(d), d) for d in range(self.y_dim)]
        if self.y_dim <= 10:
            self.picker = widgets.ToggleButtons(
                options=options,
                value=self._label,
                description="y",
                style={"button_width": "2.4em"},
            )
        else:
            self.picker = widgets.Dropdown(options=options, value=self._label, description="y")
        self.picker.observe(self._on_label, names="value")
        super().__init__(model, z0, dims=dims, span=span, step=step, scale=scale, columns=columns)
        self.widget = widgets.VBox([self.picker, self.widget])

    def _describe(self) -> str:
        picker = f": a picker of y in 0..{self.y_dim - 1}, sliders"
        return super()._describe().replace(": sliders", picker, 1)

    @property
    def label(self) -> int:
        """The label ``y`` shown now."""
        return self._label

    def _on_label(self, change: dict) -> None:
        self._label = int(change["new"])
        if not self._holding:
            self.update()

    def set_label(self, y: int) -> None:
        """Decode the same code with label ``y`` (the picker moves too)."""
        y = _check_label(y, self.y_dim, f"{type(self).__name__}: y")
        if self.picker.value != y:
            self.picker.value = y  # runs the callback

    def _condition(self):
        return self._label


class AttributeProgression(_ModelWidget):
    """Attribute2Image-style progression: one slider ``alpha`` in [0, 1] decodes
    ``p(x | z, y_alpha)`` with ``y_alpha = (1 - alpha) * y_min + alpha * y_max`` and z fixed.

    Below the image, the strip of ``strip`` images at evenly spaced alphas, with a marker
    under the current one.

    Args:
        model: a conditional VAE.
        y_min, y_max: the two ends: int labels (one-hot vectors) or float vectors
            ``(y_dim,)``.
        z: the fixed code ``(Z,)``; zeros (the prior's mean) by default.
        alpha: the starting value of the slider.
        strip: how many images the strip has (0: no strip).
        scale, strip_scale: enlargement of the image and of the strip.
        seed: seed of the "new z" button's draws z ~ N(0, I).

    Attributes:
        widget; slider (the alpha ``FloatSlider``); image; strip_image; caption;
        new_z_button.
    """

    def __init__(
        self,
        model,
        y_min=0,
        y_max=1,
        z=None,
        *,
        alpha: float = 0.0,
        strip: int = 9,
        scale: int = 6,
        strip_scale: int = 2,
        seed: int = 0,
    ):
        who = type(self).__name__
        self.model = model
        self.latent_dim = _latent_size(model, who)
        _require_conditional(model, who, True, "LatentSliders(model)")
        self.y_dim = int(model.y_dim)
        self.y_min, self._min_text = self._attribute(y_min, "y_min")
        self.y_max, self._max_text = self._attribute(y_max, "y_max")
        self._z = _as_latent(z, self.latent_dim, f"{who}: z")
        alpha = self._check_alpha(alpha)
        if isinstance(strip, bool) or not isinstance(strip, (int, np.integer)) or strip < 0:
            raise ValueError(f"{who}: strip must be an int >= 0, got {strip!r}")
        self.strip = int(strip)
        self.scale = _positive_int(scale, f"{who}: scale")
        self.strip_scale = _positive_int(strip_scale, f"{who}: strip_scale")
        self._generator = torch.Generator().manual_seed(int(seed))

        self.slider = widgets.FloatSlider(
            value=alpha,
            min=0.0,
            max=1.0,
            step=0.01,
            description="α",
            continuous_update=True,
            readout_format=".2f",
            layout=widgets.Layout(width="320px"),
        )
        self.slider.observe(lambda change: self.update(), names="value")
        self.image = widgets.Image(format="png")
        self.strip_image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.new_z_button = widgets.Button(
            description="new z", icon="random", tooltip="draw another z ~ N(0, I)"
        )
        self.new_z_button.on_click(lambda _: self.resample_z())
        controls = widgets.VBox([self.slider, self.caption, self.new_z_button])
        parts = [widgets.HBox([self.image, controls])]
        if self.strip:
            parts.append(self.strip_image)
        self.widget = widgets.VBox(parts)
        self._strip_rgb = None
        self._redraw_strip()

    def _describe(self) -> str:
        return (
            f"{type(self).__name__} over a {type(self.model).__name__}: y_alpha = (1 - alpha) "
            f"{self._min_text} + alpha {self._max_text}, alpha in [0, 1]"
            + (f", a strip of {self.strip}" if self.strip else "")
            + " (a live widget: run the cell in a kernel)"
        )

    # ------------------------------------------------------------------ state

    def _attribute(self, y, name: str) -> tuple[Tensor, str]:
        """A label or vector -> ``((y_dim,) float CPU tensor, text for the caption)``."""
        who = f"{type(self).__name__}: {name}"
        if isinstance(y, (int, np.integer)) and not isinstance(y, bool):
            label = _check_label(y, self.y_dim, who)
            one_hot = torch.nn.functional.one_hot(torch.tensor(label), self.y_dim)
            return one_hot.float(), f"y({label})"
        t = torch.as_tensor(y).detach().cpu()
        if not t.is_floating_point() or t.shape != (self.y_dim,):
            raise ValueError(
                f"{who} must be an int label in 0..{self.y_dim - 1} or a float vector of shape "
                f"({self.y_dim},), got {t.dtype} of shape {tuple(t.shape)}"
            )
        if not torch.isfinite(t).all():
            raise ValueError(f"{who} has NaN or inf values")
        return t.float().clone(), name

    def _check_alpha(self, alpha) -> float:
        a = _float(alpha, f"{type(self).__name__}: alpha")
        if not 0.0 <= a <= 1.0:
            raise ValueError(f"{type(self).__name__}: alpha must be in [0, 1], got {alpha!r}")
        return a

    @property
    def alpha(self) -> float:
        return float(self.slider.value)

    @property
    def z(self) -> Tensor:
        """The fixed code, ``(Z,)`` (a copy)."""
        return self._z.clone()

    @property
    def y(self) -> Tensor:
        """``y_alpha`` for the current alpha, ``(y_dim,)``."""
        return interpolate_attributes(self.y_min, self.y_max, [self.alpha])[0]

    def set_alpha(self, alpha: float) -> None:
        """Move the slider to ``alpha`` (redraws the image)."""
        self.slider.value = self._check_alpha(alpha)

    def set_z(self, z) -> None:
        """Another fixed code ``(Z,)``: redraws the image and the strip."""
        self._z = _as_latent(z, self.latent_dim, f"{type(self).__name__}: z")
        self._redraw_strip()

    def resample_z(self) -> None:
        """Draw a new code z ~ N(0, I) (what "new z" does)."""
        self.set_z(torch.randn(self.latent_dim, generator=self._generator))

    def set_attributes(self, y_min, y_max) -> None:
        """New ends of the progression (labels or vectors): redraws the image and strip."""
        self.y_min, self._min_text = self._attribute(y_min, "y_min")
        self.y_max, self._max_text = self._attribute(y_max, "y_max")
        self._redraw_strip()

    # ------------------------------------------------------------------ drawing

    def _decode(self, alphas) -> Tensor:
        y = interpolate_attributes(self.y_min, self.y_max, alphas)  # (A, y_dim)
        return _decode(self.model, self._z.expand(len(y), -1), y)

    def render(self) -> np.ndarray:
        """The image for the current alpha: ``(H, W)`` in [0, 1]."""
        return _picture(self._decode([self.alpha])[0])

    def strip_alphas(self) -> Tensor:
        """The alphas of the strip, ``linspace(0, 1, strip)``."""
        return torch.linspace(0.0, 1.0, self.strip)

    def render_strip(self) -> np.ndarray:
        """The strip without the marker: the images at :meth:`strip_alphas` in one row,
        2 white pixels apart (:func:`vae_edu.viz.image_grid`)."""
        if not self.strip:
            raise ValueError(f"{type(self).__name__} was made with strip=0")
        images = self._decode(self.strip_alphas())
        return image_grid(images, nrow=self.strip, padding=2)

    def _redraw_strip(self) -> None:
        if self.strip:
            grid = self.render_strip()
            below = np.ones((5, grid.shape[1]), dtype=grid.dtype)  # room for the marker
            self._strip_rgb = _rgb(np.concatenate([grid, below]))
        self.update()

    def update(self) -> None:
        """Decode the current alpha and show it (the slider's callback)."""
        a = self.alpha
        self.image.value = to_png(self.render(), self.scale)
        self.caption.value = (
            f"y<sub>α</sub> = {1 - a:.2f} · {self._min_text} + {a:.2f} · {self._max_text}"
        )
        if self.strip:
            rgb = self._strip_rgb.copy()
            w = self.model.image_shape[-1] if hasattr(self.model, "image_shape") else 28
            col = 2 + w / 2 + a * (self.strip - 1) * (w + 2)
            rgb[-4:, max(round(col) - 3, 0) : round(col) + 3] = MARKER_COLOR  # under alpha
            self.strip_image.value = to_png(rgb, self.strip_scale)


class ManifoldExplorer(_ModelWidget):
    """For a model with a 2-D latent space: two sliders ``z1``, ``z2`` move a marker over
    the decoded manifold (or over the scatter of the test codes) and show the image
    decoded at that point beside it.

    Args:
        model: a VAE with ``latent_dim == 2`` (a conditional one with its label ``y``).
        codes, labels: optional 2-D codes ``(N, 2)`` (e.g. :func:`vae_edu.evaluate.
            encode_split` of the test set) and their digits: the background is then their
            scatter instead of the manifold.
        y: the label of a conditional model (the manifold is drawn for it).
        z0: the starting point ``(z1, z2)``, inside ``[-span, span]``.
        n: the manifold has ``n x n`` decoded images, at ``linspace(-span, span, n)``
            (:func:`vae_edu.evaluate.manifold_grid`).
        span: the sliders and the map cover ``[-span, span]`` in both coordinates.
        step: the sliders' step.
        scale: enlargement of the decoded image; map_scale: of the map.

    Attributes:
        widget; z1_slider, z2_slider (vertical); map_image; image; reset_button.
    """

    def __init__(
        self,
        model,
        codes=None,
        labels=None,
        *,
        y=None,
        z0=(0.0, 0.0),
        n: int = 15,
        span: float = 3.0,
        step: float = 0.05,
        scale: int = 6,
        map_scale: int = 1,
    ):
        who = type(self).__name__
        self.model = model
        size = _latent_size(model, who)
        if size != 2:
            raise ValueError(
                f"{who} needs a model with a 2-d latent space, got latent size {size}; "
                "use LatentSliders for larger ones"
            )
        if _is_conditional(model):
            if y is None:
                raise TypeError(f"{who}: {type(model).__name__} is conditional; pass its label y")
            y = _check_label(y, int(model.y_dim), f"{who}: y")
        elif y is not None:
            raise TypeError(f"{who}: {type(model).__name__} is unconditional; drop y")
        self.y = y
        self.n = _positive_int(n, f"{who}: n")
        if self.n < 2:
            raise ValueError(f"{who}: n must be at least 2, got {n}")
        self.span = _positive(span, f"{who}: span")
        self.scale = _positive_int(scale, f"{who}: scale")
        self.map_scale = _positive_int(map_scale, f"{who}: map_scale")
        self._start = self._check_point(z0, "z0")
        self._z = self._start.clone()
        self._holding = False
        if codes is None:
            if labels is not None:
                raise ValueError(f"{who}: labels need codes (pass codes=..., labels=...)")
            self.background = "manifold"
            self._map, self._palette, self._to_pixel, self._half = self._manifold_map()
        else:
            self.background = "scatter"
            self._map, self._palette, self._to_pixel, self._half = self._scatter_map(codes, labels)
        height, width = self._map.shape
        self._map_png = _MarkedPNG(self._map, self._palette)

        step = _positive(step, f"{who}: step")
        self.z1_slider = _slider(float(self._z[0]), self.span, step, "z₁", width=f"{width + 100}px")
        self.z2_slider = widgets.FloatSlider(
            value=float(self._z[1]),
            min=-self.span,
            max=self.span,
            step=step,
            description="z₂",
            orientation="vertical",
            continuous_update=True,
            readout_format=".2f",
            layout=widgets.Layout(height=f"{height}px"),
        )
        for i, slider in enumerate((self.z1_slider, self.z2_slider)):
            slider.observe(self._slider_callback(i), names="value")
        self.sliders = [self.z1_slider, self.z2_slider]
        self.map_image = widgets.Image(format="png")
        self.image = widgets.Image(format="png")
        self.reset_button = widgets.Button(description="reset", icon="undo")
        self.reset_button.on_click(lambda _: self.reset())
        self.widget = widgets.HBox(
            [
                widgets.VBox([widgets.HBox([self.z2_slider, self.map_image]), self.z1_slider]),
                widgets.VBox([self.image, self.reset_button]),
            ]
        )
        self.update()

    # ------------------------------------------------------------------ maps

    # A map is kept as palette indices (H, W) and a palette (256, 3) whose last colour is
    # the marker's: drawing the marker is then a few slice assignments, and the PNG has
    # one byte per pixel (three times less to compress than RGB).

    def _manifold_map(self):
        """The decoded grid (palette indices, palette), pixel coordinates of a code, and
        the marker's half size (half a tile: the marker frames the tile it is on)."""
        images = manifold_grid(self.model, n=self.n, span=self.span, y=self.y)  # (n*n, 1, h, w)
        if images.shape[1] != 1:
            raise ValueError(f"{type(self).__name__} draws grey images only")
        grid = _image_uint8(image_grid(images, nrow=self.n, padding=0))  # (n*h, n*w)
        s = self.map_scale
        indices = _upscale(np.minimum(grid, _MARKER_INDEX - 1), s)  # greys 0..254
        palette = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        palette[_MARKER_INDEX] = MARKER_COLOR
        h, w = images.shape[-2:]
        n, span = self.n, self.span

        def to_pixel(z1: float, z2: float) -> tuple[float, float]:
            col = w / 2 + (z1 + span) / (2 * span) * (n - 1) * w
            row = h / 2 + (span - z2) / (2 * span) * (n - 1) * h
            return row * s, col * s

        return indices, palette, to_pixel, w / 2 * s

    def _scatter_map(self, codes, labels):
        """The scatter of the codes (matplotlib, drawn once, reduced to 255 colours), and
        the same as :meth:`_manifold_map`."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from PIL import Image  # a dependency of matplotlib

        inches = 4.2 * self.map_scale
        fig = Figure(figsize=(inches, inches), dpi=100, layout="constrained")
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        scatter_codes(codes, labels, ax=ax, s=3, legend=labels is not None)
        ax.set_xlim(-self.span, self.span)
        ax.set_ylim(-self.span, self.span)
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        quantized = Image.fromarray(np.ascontiguousarray(rgb)).quantize(colors=_MARKER_INDEX)
        indices = np.asarray(quantized, dtype=np.uint8).copy()  # 0..254
        palette = np.zeros((256, 3), dtype=np.uint8)
        colours = np.asarray(quantized.getpalette(), dtype=np.uint8).reshape(-1, 3)
        palette[: min(len(colours), _MARKER_INDEX)] = colours[:_MARKER_INDEX]
        palette[_MARKER_INDEX] = MARKER_COLOR
        height = indices.shape[0]
        transform = ax.transData.frozen()

        def to_pixel(z1: float, z2: float) -> tuple[float, float]:
            x, y = transform.transform((z1, z2))
            return height - y, x

        return indices, palette, to_pixel, 7.0 * self.map_scale

    def _describe(self) -> str:
        over = (
            f"the {self.n} x {self.n} manifold"
            if self.background == "manifold"
            else ("a scatter of the codes")
        )
        label = f" with y = {self.y}" if self.y is not None else ""
        return (
            f"{type(self).__name__} of a {type(self.model).__name__}{label}: sliders z1, z2 in "
            f"[-{self.span:g}, {self.span:g}] over {over} (a live widget: run the cell in a "
            "kernel)"
        )

    # ------------------------------------------------------------------ state

    def _check_point(self, z, name: str) -> Tensor:
        who = type(self).__name__
        t = _as_latent(z, 2, f"{who}: {name}")
        if t.abs().max() > self.span:
            raise ValueError(
                f"{who}: {name} = {t.tolist()} lies outside the map [-{self.span:g}, "
                f"{self.span:g}]^2; pass a larger span"
            )
        return t

    @property
    def z(self) -> Tensor:
        """The point shown now, ``(2,)`` (a copy)."""
        return self._z.clone()

    def _slider_callback(self, i: int) -> Callable[[dict], None]:
        def on_change(change: dict) -> None:
            self._z[i] = float(change["new"])
            if not self._holding:
                self.update()

        return on_change

    def set_latent(self, i: int, value: float) -> None:
        """Set ``z1`` (``i = 0``) or ``z2`` (``i = 1``) (the slider moves)."""
        if isinstance(i, bool) or i not in (0, 1):
            raise IndexError(f"{type(self).__name__}: latent index must be 0 or 1, got {i!r}")
        point = self._z.clone()
        point[i] = _float(value, f"{type(self).__name__}: value")
        self.set_z(point)

    def set_z(self, z) -> None:
        """Move to the point ``(z1, z2)`` (one redraw)."""
        z = self._check_point(z, "z")
        self._holding = True
        try:
            for slider, value in zip(self.sliders, z.tolist(), strict=True):
                slider.value = value
        finally:
            self._holding = False
        self._z = z
        self.update()

    def reset(self) -> None:
        """Back to ``z0``."""
        self.set_z(self._start)

    # ------------------------------------------------------------------ drawing

    def render(self) -> np.ndarray:
        """The image decoded at the current point: ``(H, W)`` in [0, 1]."""
        return _picture(_decode(self.model, self._z[None], self.y)[0])

    def marker_position(self) -> tuple[float, float]:
        """The marker's centre on the map, ``(row, column)`` in pixels."""
        return self._to_pixel(float(self._z[0]), float(self._z[1]))

    def _map_indices(self) -> tuple[np.ndarray, tuple[int, int]]:
        """The map with the marker (palette indices), and the rows the marker is on."""
        row, col = self.marker_position()
        indices = self._map.copy()
        return indices, _draw_box(indices, row, col, self._half, _MARKER_INDEX)

    def render_map(self) -> np.ndarray:
        """The map (manifold or scatter) with the marker at the current point:
        ``(H, W, 3)`` uint8, what the map image shows."""
        return self._palette[self._map_indices()[0]]

    def update(self) -> None:
        """Redraw the marker and the decoded image (the sliders' callback)."""
        self.map_image.value = self._map_png.encode(*self._map_indices())
        self.image.value = to_png(self.render(), self.scale)
