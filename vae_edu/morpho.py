"""Morphometrics of handwritten digits: continuous attributes measured from each image.

In the spirit of Morpho-MNIST (Castro, Tan, Kainz, Konukoglu & Glocker, "Morpho-MNIST:
Quantitative Assessment and Diagnostics for Representation Learning", JMLR 20(178), 2019),
every image is measured by itself, offline, with no labels and no model:

* ``thickness`` (pixels): twice the mean Euclidean distance transform of the binarised
  digit over its skeleton, i.e. the mean stroke width, less half a pixel (see below);
* ``slant`` (degrees): ``atan(mu11 / mu02)`` from the central second-order moments of the
  grey image with ``x`` to the right and ``y`` upwards; positive when the top of the
  digit leans to the right ("/"), the horizontal shear ``x ~ x0 + s (y - y0)`` that best
  describes the ink;
* ``width`` (pixels): the horizontal extent of the binarised digit after deslanting
  (each ink pixel moved by ``-s (y - y0)``), ``max x' - min x' + 1``;
* ``height`` (pixels): the vertical extent of the binarised digit, ``max y - min y + 1``.

Departures from Morpho-MNIST, for speed (all 70,000 MNIST images in seconds on one CPU
thread): the images are measured at their own 28 x 28 resolution (Morpho-MNIST upsamples
them 4 x first), binarised at ``threshold`` (0.5), the skeleton is scikit-image's
``skeletonize`` on one mosaic of all images, and the width is a deslanted bounding box
rather than Morpho-MNIST's bounding parallelogram.  At 28 x 28 the distance transform
counts to the centre of the first background pixel, half a pixel beyond the stroke's edge
on one side: ``2 d`` on a skeleton pixel over-measures an odd width by 1 and an even width
by 0, so ``thickness = 2 mean(d) - 0.5`` is within about 0.6 px of the drawn width
(tests/test_morpho.py draws bars of widths 1 to 6).

:func:`measure` returns the four as columns ``(N, 4)``; :func:`standardise` and
:class:`AttributeScaler` turn them into the zero-mean, unit-variance condition of a CVAE.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .validation import positive_int, unit_interval

__all__ = [
    "ATTRIBUTES",
    "UNITS",
    "AttributeScaler",
    "format_table",
    "measure",
    "moments_slant",
    "skeleton_distances",
]

#: the columns of :func:`measure`, in order
ATTRIBUTES = ("thickness", "slant", "width", "height")
#: their units
UNITS = {"thickness": "px", "slant": "deg", "width": "px", "height": "px"}


def _images(x, who: str) -> np.ndarray:
    """Check a batch of grey images and return it as a float64 numpy ``(N, H, W)``."""
    if torch.is_tensor(x):
        x = x.detach().cpu()
        if not x.is_floating_point():
            raise TypeError(
                f"{who}: expects float images in [0, 1], got dtype {x.dtype}; "
                "convert with x.float() / 255"
            )
        x = x.double().numpy()
    elif isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(
                f"{who}: expects float images in [0, 1], got dtype {x.dtype}; "
                "convert with x.astype(float) / 255"
            )
        x = x.astype(np.float64)
    else:
        raise TypeError(f"{who}: expects a tensor or array of images, got {type(x).__name__}")
    if x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or min(x.shape[1:], default=0) < 2:
        one = "; add a batch dimension with x[None] for one image" if x.ndim == 2 else ""
        raise ValueError(
            f"{who}: expects a batch of grey images of shape (N, 1, H, W) or (N, H, W), "
            f"got shape {tuple(x.shape)}{one}"
        )
    if len(x) == 0:
        raise ValueError(f"{who}: got no images (shape {tuple(x.shape)})")
    if not np.isfinite(x).all():
        raise ValueError(f"{who}: the images have NaN or inf values")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        hint = "divide by 255" if hi <= 255.0 and lo >= 0.0 else "map them to [0, 1]"
        raise ValueError(f"{who}: expects intensities in [0, 1], got [{lo:g}, {hi:g}]; {hint}")
    return x


def skeleton_distances(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The skeleton of each binary image and the Euclidean distance transform on it.

    All images are laid out in one mosaic, one background pixel apart, so that one call of
    ``skimage.morphology.skeletonize`` and one of ``scipy.ndimage.distance_transform_edt``
    serve them all (the skeleton looks at 3 x 3 neighbourhoods and the distance to the
    nearest background pixel never crosses a background border, so the images do not
    interact).

    Args:
        mask: ``(N, H, W)`` bool, True on ink.

    Returns:
        ``(skeleton, distance)``: ``(N, H, W)`` bool and ``(N, H, W)`` float64, the
        distance in pixels from each ink pixel to the centre of the nearest background
        pixel (0 on background).
    """
    from scipy import ndimage
    from skimage.morphology import skeletonize

    n, h, w = mask.shape
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = -(-n // cols)
    tiles = np.zeros((rows * cols, h + 1, w + 1), dtype=bool)  # one background row/col each
    tiles[:n, :h, :w] = mask
    mosaic = tiles.reshape(rows, cols, h + 1, w + 1).transpose(0, 2, 1, 3)
    mosaic = np.pad(mosaic.reshape(rows * (h + 1), cols * (w + 1)), ((1, 0), (1, 0)))
    skeleton = skeletonize(mosaic)
    distance = ndimage.distance_transform_edt(mosaic)

    def back(a):
        a = a[1:, 1:].reshape(rows, h + 1, cols, w + 1).transpose(0, 2, 1, 3)
        return a.reshape(rows * cols, h + 1, w + 1)[:n, :h, :w]

    return back(skeleton), back(distance)


def moments_slant(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal shear and vertical centroid from the grey image's moments.

    With ``x`` the column and ``y = -row`` (upwards), intensity weights ``I``,
    ``mu11 = sum I (x - x0)(y - y0)`` and ``mu02 = sum I (y - y0)^2``: the shear
    ``s = mu11 / mu02`` is the least-squares slope of ``x - x0`` on ``y - y0``.

    Args:
        x: ``(N, H, W)`` float64 intensities in [0, 1].

    Returns:
        ``(s, y0)``: ``(N,)`` shear (dimensionless; ``atan(s)`` is the slant) and ``(N,)``
        centroid height (in the ``y = -row`` coordinate).  An empty image has s = 0.
    """
    n, h, w = x.shape
    ys = -np.arange(h, dtype=np.float64)[None, :, None]  # (1, H, 1), upwards
    xs = np.arange(w, dtype=np.float64)[None, None, :]  # (1, 1, W)
    mass = x.sum(axis=(1, 2))  # (N,)
    safe = np.where(mass > 0, mass, 1.0)
    x0 = (x * xs).sum(axis=(1, 2)) / safe
    y0 = (x * ys).sum(axis=(1, 2)) / safe
    dx = xs - x0[:, None, None]
    dy = ys - y0[:, None, None]
    mu11 = (x * dx * dy).sum(axis=(1, 2))
    mu02 = (x * dy * dy).sum(axis=(1, 2))
    s = np.where(mu02 > 0, mu11 / np.where(mu02 > 0, mu02, 1.0), 0.0)
    return s, y0


def measure(images, *, threshold: float = 0.5, chunk: int = 10_000) -> Tensor:
    """Thickness, slant, width and height of each digit (see the module doc).

    Args:
        images: grey images ``(N, 1, H, W)`` or ``(N, H, W)`` in [0, 1] (a tensor or an
            array; e.g. ``mnist.train.images`` or a decoder's mean images).
        threshold: intensity above which a pixel is ink (for thickness, width, height).
        chunk: images per mosaic (memory about ``chunk * H * W * 10`` bytes).

    Returns:
        ``(N, 4)`` float32 tensor on the CPU, columns :data:`ATTRIBUTES`: thickness (px),
        slant (degrees, positive = top to the right), width (px, deslanted), height (px).
        An image with no pixel above ``threshold`` gets NaN thickness, width and height.

    Raises:
        TypeError, ValueError: for images that are not float, not a batch of 2-D grey
            images, empty, or outside [0, 1].
    """
    x = _images(images, "measure")
    threshold = unit_interval(threshold, "measure: threshold", open_low=True, open_high=True)
    chunk = positive_int(chunk, "measure: chunk")
    out = np.empty((len(x), 4), dtype=np.float64)
    h, w = x.shape[1:]
    rows = -np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    for start in range(0, len(x), chunk):
        part = x[start : start + chunk]
        mask = part > threshold
        skeleton, distance = skeleton_distances(mask)
        n_skel = skeleton.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            thickness = 2.0 * (distance * skeleton).sum(axis=(1, 2)) / n_skel - 0.5
        s, y0 = moments_slant(part)
        deslanted = cols - s[:, None, None] * (rows - y0[:, None, None])  # (n, H, W)
        big, small = np.inf, -np.inf
        x_max = np.where(mask, deslanted, small).max(axis=(1, 2))
        x_min = np.where(mask, deslanted, big).min(axis=(1, 2))
        y_all = np.broadcast_to(rows, mask.shape)
        y_max = np.where(mask, y_all, small).max(axis=(1, 2))
        y_min = np.where(mask, y_all, big).min(axis=(1, 2))
        empty = ~mask.any(axis=(1, 2))
        width = np.where(empty, np.nan, x_max - x_min + 1.0)
        height = np.where(empty, np.nan, y_max - y_min + 1.0)
        thickness = np.where(empty, np.nan, thickness)
        out[start : start + len(part)] = np.stack(
            [thickness, np.degrees(np.arctan(s)), width, height], axis=1
        )
    return torch.from_numpy(out).float()


class AttributeScaler:
    """Standardise measured attributes: ``(a - mean) / std`` per column, and back.

    Args:
        attributes: ``(N, A)`` measurements (e.g. of the training images) that fix the
            mean and standard deviation of each column (NaN rows are skipped).
    """

    def __init__(self, attributes: Tensor):
        a = torch.as_tensor(attributes).double()
        if a.dim() != 2 or len(a) < 2:
            raise ValueError(
                f"AttributeScaler: expects measurements of shape (N, A) with N >= 2, got "
                f"{tuple(a.shape)}"
            )
        ok = torch.isfinite(a).all(dim=1)
        if ok.sum() < 2:
            raise ValueError("AttributeScaler: fewer than two rows without NaN")
        self.mean = a[ok].mean(dim=0).float()  # (A,)
        self.std = a[ok].std(dim=0).clamp_min(1e-8).float()  # (A,)

    def _check(self, a, who: str) -> Tensor:
        a = torch.as_tensor(a).float()
        if a.shape[-1:] != self.mean.shape:
            raise ValueError(
                f"AttributeScaler.{who}: expects (..., {len(self.mean)}) values, got shape "
                f"{tuple(a.shape)}"
            )
        return a

    def transform(self, a) -> Tensor:
        """``(..., A)`` in their units -> standardised ``(..., A)``."""
        a = self._check(a, "transform")
        return (a - self.mean.to(a.device)) / self.std.to(a.device)

    def inverse(self, u) -> Tensor:
        """Standardised ``(..., A)`` -> their units ``(..., A)``."""
        u = self._check(u, "inverse")
        return u * self.std.to(u.device) + self.mean.to(u.device)


def format_table(rows: dict[str, Tensor], names=ATTRIBUTES, digits: int = 1) -> str:
    """A small text table: one line per key of ``rows`` with the mean of each column.

    Args:
        rows: ``{label: (N, A) measurements}`` (NaN rows are skipped in the means).
        names: the column names (default :data:`ATTRIBUTES`, with units).
        digits: decimals printed.
    """
    label_w = max(len(str(k)) for k in rows) if rows else 5
    heads = [f"{n} ({UNITS.get(n, '')})" if n in UNITS else n for n in names]
    col_w = max(8, *(len(h) for h in heads))
    lines = [" " * label_w + "  " + "  ".join(h.rjust(col_w) for h in heads)]
    for label, a in rows.items():
        a = torch.as_tensor(a).double().reshape(-1, len(names))
        means = torch.nanmean(a, dim=0).tolist()
        lines.append(
            str(label).rjust(label_w) + "  " + "  ".join(f"{m:{col_w}.{digits}f}" for m in means)
        )
    return "\n".join(lines)
