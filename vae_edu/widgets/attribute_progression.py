"""``AttributeProgression``: Attribute2Image's y_alpha = (1 - alpha) y_min + alpha y_max
with z fixed, a slider for alpha and the strip of the progression."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from ..models.cvae import interpolate_attributes
from ..validation import nonnegative_int, positive_int, unit_interval
from ..viz import image_grid
from .base import (
    ModelWidget,
    as_latent,
    check_label,
    decode_codes,
    latent_size,
    require_conditional,
)
from .rendering import MARKER_COLOR, grey_to_rgb, picture, to_png

__all__ = ["AttributeProgression"]


class AttributeProgression(ModelWidget):
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
        self.latent_dim = latent_size(model, who)
        require_conditional(model, who, True, "LatentSliders(model)")
        self.y_dim = int(model.y_dim)
        self.y_min, self._min_text = self._attribute(y_min, "y_min")
        self.y_max, self._max_text = self._attribute(y_max, "y_max")
        self._z = as_latent(z, self.latent_dim, f"{who}: z")
        alpha = self._check_alpha(alpha)
        self.strip = nonnegative_int(strip, f"{who}: strip")
        self.scale = positive_int(scale, f"{who}: scale")
        self.strip_scale = positive_int(strip_scale, f"{who}: strip_scale")
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
            label = check_label(y, self.y_dim, who)
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
        return unit_interval(alpha, f"{type(self).__name__}: alpha")

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
        self._z = as_latent(z, self.latent_dim, f"{type(self).__name__}: z")
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
        return decode_codes(self.model, self._z.expand(len(y), -1), y)

    def render(self) -> np.ndarray:
        """The image for the current alpha: ``(H, W)`` in [0, 1]."""
        return picture(self._decode([self.alpha])[0])

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
            self._strip_rgb = grey_to_rgb(np.concatenate([grid, below]))
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
