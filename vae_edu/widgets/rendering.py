"""What the widgets show: images as uint8 arrays and PNG bytes, enlarged without smoothing,
and the marker drawn on a map or a strip.

PNG encoding is Pillow's, at its fastest compression level (``vae-edu bench widgets``
measures a whole update, encoding included).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ..validation import positive_int

__all__ = [
    "MARKER_COLOR",
    "MARKER_INDEX",
    "as_uint8_image",
    "draw_box",
    "grey_to_rgb",
    "palette_png",
    "picture",
    "to_png",
    "upscale",
]

#: The colour of the marker drawn on a manifold, a scatter or a strip (RGB, 0-255).
MARKER_COLOR = (230, 30, 30)

#: Index of the marker's colour in the palette of a map (see ``ManifoldExplorer``).
MARKER_INDEX = 255

#: zlib level of the PNGs: the fastest; these images (a black background, blocks of equal
#: pixels) compress well without effort.
PNG_COMPRESS_LEVEL = 1


def as_uint8_image(image, name: str = "to_png") -> np.ndarray:
    """One image -> ``(H, W)`` (grey) or ``(H, W, 3)`` (colour) uint8 array.

    ``image``: a tensor or array ``(H, W)``, ``(1, H, W)``, ``(3, H, W)`` or ``(H, W, 3)``;
    floats in [0, 1] (values outside are clipped) or uint8 in 0..255.
    """
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


def upscale(a: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel -> a ``scale x scale`` block (nearest neighbour)."""
    if scale == 1:
        return a
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


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
    scale = positive_int(scale, "to_png: scale")
    a = np.ascontiguousarray(upscale(as_uint8_image(image), scale))
    return _png(Image.fromarray(a))


def palette_png(indices: np.ndarray, palette: np.ndarray) -> bytes:
    """PNG bytes of a palette image: ``indices (H, W)`` uint8 into ``palette (256, 3)``."""
    height, width = indices.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(indices).tobytes())
    image.putpalette(np.asarray(palette, dtype=np.uint8).tobytes())
    return _png(image)


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """(H, W) floats in [0, 1] -> (H, W, 3) uint8."""
    return np.repeat(as_uint8_image(grey)[..., None], 3, axis=2)


def draw_box(
    image: np.ndarray, row: float, col: float, half: float, value, thickness: int = 2
) -> tuple[int, int]:
    """Draw (in place) the outline of a square centred at pixel (row, col), clipped, with
    ``value`` (an RGB colour, or a palette index); returns the rows ``[r0, r1)`` drawn on."""
    thickness = positive_int(thickness, "draw_box: thickness")
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


def picture(image: Tensor) -> np.ndarray:
    """One decoded image ``(C, H, W)`` -> ``(H, W)`` (grey) or ``(H, W, C)``, numpy."""
    a = image.numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
