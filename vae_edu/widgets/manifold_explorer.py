"""``ManifoldExplorer``: two sliders move a marker over a 2-D latent space (the decoded
manifold or the scatter of the codes), the decoded image beside it."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from torch import Tensor

from ..evaluate import manifold_grid
from ..models.condition import is_conditional
from ..validation import finite_float, positive_float, positive_int
from ..viz import image_grid, scatter_codes
from .base import (
    SliderWidget,
    as_latent,
    check_label,
    decode_codes,
    latent_size,
    latent_slider,
)
from .rendering import (
    MARKER_COLOR,
    MARKER_INDEX,
    as_uint8_image,
    draw_box,
    palette_png,
    picture,
    to_png,
    upscale,
)

__all__ = ["ManifoldExplorer"]


class ManifoldExplorer(SliderWidget):
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
        size = latent_size(model, who)
        if size != 2:
            raise ValueError(
                f"{who} needs a model with a 2-d latent space, got latent size {size}; "
                "use LatentSliders for larger ones"
            )
        if is_conditional(model):
            if y is None:
                raise TypeError(f"{who}: {type(model).__name__} is conditional; pass its label y")
            y = check_label(y, int(model.y_dim), f"{who}: y")
        elif y is not None:
            raise TypeError(f"{who}: {type(model).__name__} is unconditional; drop y")
        self.y = y
        self.n = positive_int(n, f"{who}: n")
        if self.n < 2:
            raise ValueError(f"{who}: n must be at least 2, got {n}")
        self.span = positive_float(span, f"{who}: span")
        self.scale = positive_int(scale, f"{who}: scale")
        self.map_scale = positive_int(map_scale, f"{who}: map_scale")
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

        step = positive_float(step, f"{who}: step")
        self.z1_slider = latent_slider(
            float(self._z[0]), self.span, step, "z₁", width=f"{width + 100}px"
        )
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
        grid = as_uint8_image(image_grid(images, nrow=self.n, padding=0))  # (n*h, n*w)
        s = self.map_scale
        indices = upscale(np.minimum(grid, MARKER_INDEX - 1), s)  # greys 0..254
        palette = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        palette[MARKER_INDEX] = MARKER_COLOR
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
        quantized = Image.fromarray(np.ascontiguousarray(rgb)).quantize(colors=MARKER_INDEX)
        indices = np.asarray(quantized, dtype=np.uint8).copy()  # 0..254
        palette = np.zeros((256, 3), dtype=np.uint8)
        colours = np.asarray(quantized.getpalette(), dtype=np.uint8).reshape(-1, 3)
        palette[: min(len(colours), MARKER_INDEX)] = colours[:MARKER_INDEX]
        palette[MARKER_INDEX] = MARKER_COLOR
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
        t = as_latent(z, 2, f"{who}: {name}")
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

    def set_latent(self, i: int, value: float) -> None:
        """Set ``z1`` (``i = 0``) or ``z2`` (``i = 1``) (the slider moves)."""
        if isinstance(i, bool) or i not in (0, 1):
            raise IndexError(f"{type(self).__name__}: latent index must be 0 or 1, got {i!r}")
        point = self._z.clone()
        point[i] = finite_float(value, f"{type(self).__name__}: value")
        self.set_z(point)

    def set_z(self, z) -> None:
        """Move to the point ``(z1, z2)`` (one redraw)."""
        z = self._check_point(z, "z")
        with self._one_update():
            for slider, value in zip(self.sliders, z.tolist(), strict=True):
                slider.value = value
            self._z = z

    def reset(self) -> None:
        """Back to ``z0``."""
        self.set_z(self._start)

    # ------------------------------------------------------------------ drawing

    def render(self) -> np.ndarray:
        """The image decoded at the current point: ``(H, W)`` in [0, 1]."""
        return picture(decode_codes(self.model, self._z[None], self.y)[0])

    def marker_position(self) -> tuple[float, float]:
        """The marker's centre on the map, ``(row, column)`` in pixels."""
        return self._to_pixel(float(self._z[0]), float(self._z[1]))

    def _map_indices(self) -> np.ndarray:
        """The map with the marker at the current point (palette indices)."""
        row, col = self.marker_position()
        indices = self._map.copy()
        draw_box(indices, row, col, self._half, MARKER_INDEX)
        return indices

    def render_map(self) -> np.ndarray:
        """The map (manifold or scatter) with the marker at the current point:
        ``(H, W, 3)`` uint8, what the map image shows."""
        return self._palette[self._map_indices()]

    def update(self) -> None:
        """Redraw the marker and the decoded image (the sliders' callback)."""
        self.map_image.value = palette_png(self._map_indices(), self._palette)
        self.image.value = to_png(self.render(), self.scale)
