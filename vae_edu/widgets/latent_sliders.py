"""``LatentSliders``: one slider per latent dimension of a VAE, and the decoded image."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from torch import Tensor

from ..validation import finite_float, positive_float, positive_int
from .base import (
    SliderWidget,
    as_latent,
    decode_codes,
    latent_size,
    latent_slider,
    require_conditional,
)
from .rendering import picture, to_png

__all__ = ["LatentSliders"]


class LatentSliders(SliderWidget):
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
        self.latent_dim = latent_size(model, who)
        require_conditional(model, who, self._conditional, self._instead)
        self._start = as_latent(z0, self.latent_dim, f"{who}: z0")
        self._z = self._start.clone()
        self.span = positive_float(span, f"{who}: span")
        self.step = positive_float(step, f"{who}: step")
        self.scale = positive_int(scale, f"{who}: scale")
        columns = positive_int(columns, f"{who}: columns")
        self.dims = self._check_dims(dims)
        self._holding = False

        self.sliders = []
        for i in self.dims:
            slider = latent_slider(
                float(self._z[i]), self.span, self.step, f"z[{i}]", width="280px"
            )
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

    def _set(self, i: int, value: float) -> None:
        slider = self._slider_of.get(i)
        if slider is None:
            self._z[i] = value
            self._update_unless_holding()
            return
        slider.min, slider.max = min(slider.min, value), max(slider.max, value)
        if slider.value == value:
            self._z[i] = value
        else:
            slider.value = value  # runs the callback, as dragging it does

    def set_latent(self, i: int, value: float) -> None:
        """Set coordinate ``i`` of the code (its slider moves, the image is redrawn)."""
        self._set(self._index(i), finite_float(value, f"{type(self).__name__}: value"))

    def set_z(self, z) -> None:
        """Set the whole code ``(Z,)`` at once (one redraw)."""
        z = as_latent(z, self.latent_dim, f"{type(self).__name__}: z")
        with self._one_update():
            for i, value in enumerate(z.tolist()):
                self._set(i, value)

    def set_start(self, z0) -> None:
        """A new starting point (``None``: zeros), and go there."""
        self._start = as_latent(z0, self.latent_dim, f"{type(self).__name__}: z0")
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
        return picture(decode_codes(self.model, self._z[None], self._condition())[0])

    def update(self) -> None:
        """Decode the current code and show it (the callbacks call this)."""
        self.image.value = to_png(self.render(), self.scale)
