"""``AttributeSliders``: Attribute2Image's progression along continuous attributes, one
alpha slider per attribute, the digit and z fixed."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from ..validation import positive_int, unit_interval
from .base import ModelWidget, as_latent, check_label, decode_codes, latent_size
from .base import require_conditional as _require_conditional
from .rendering import picture, to_png

__all__ = ["AttributeSliders"]


def _vector(v, size: int, name: str) -> Tensor:
    t = torch.as_tensor(v, dtype=torch.float32).detach().cpu().reshape(-1)
    if t.numel() != size:
        raise ValueError(f"{name} must have {size} values (one per attribute), got {t.numel()}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} has NaN or inf values")
    return t.clone()


class AttributeSliders(ModelWidget):
    """Decode ``p(x | z, y)`` with ``y = [one-hot(digit), u]`` and one slider ``alpha_j``
    per attribute: ``u_j = (1 - alpha_j) * y_min[j] + alpha_j * y_max[j]`` (Attribute2Image's
    ``y_alpha``, one attribute at a time), the digit and z fixed.

    A caption gives each attribute as asked (in its units, when ``scaler`` is given) and,
    when ``measure`` is given, as measured on the image shown.

    Args:
        model: a conditional VAE with ``y_dim = n_classes + A``.
        digit: the fixed class, ``0..n_classes-1``.
        y_min, y_max: the ends of each attribute's range, ``(A,)``, in the units the model
            was conditioned with (standardised attributes, say).
        names: the A attribute names (slider labels).
        z: the fixed noise ``(Z,)``: the code itself for an N(0, I) prior, ``eps`` of
            ``z = mu_p(y) + sigma_p(y) eps`` for a learned prior (``model.latent_from_noise``);
            zeros by default.
        alpha: the sliders' starting value (one number, or A of them).
        n_classes: how many of the first entries of y are the one-hot class.
        scaler: optional :class:`vae_edu.morpho.AttributeScaler` (``inverse`` gives units).
        measure: optional function ``images (N, 1, H, W) -> (N, A)`` (e.g.
            :func:`vae_edu.morpho.measure`) for the "measured" line of the caption.
        units: optional A unit strings for the caption.
        scale: enlargement of the image.
        seed: seed of the "new z" button's draws.

    Attributes:
        widget; sliders (one ``FloatSlider`` per attribute); image; caption; new_z_button.
    """

    def __init__(
        self,
        model,
        digit: int,
        y_min,
        y_max,
        names: Sequence[str],
        z=None,
        *,
        alpha: float | Sequence[float] = 0.5,
        n_classes: int = 10,
        scaler=None,
        measure=None,
        units: Sequence[str] | None = None,
        scale: int = 6,
        seed: int = 0,
    ):
        who = type(self).__name__
        self.model = model
        self.latent_dim = latent_size(model, who)
        _require_conditional(model, who, True, "LatentSliders(model)")
        self.n_classes = positive_int(n_classes, f"{who}: n_classes")
        self.names = [str(n) for n in names]
        n_attr = len(self.names)
        if n_attr == 0 or int(model.y_dim) != self.n_classes + n_attr:
            raise ValueError(
                f"{who}: the model's y_dim is {model.y_dim}, but n_classes + len(names) = "
                f"{self.n_classes} + {n_attr}; give one name per attribute of the condition"
            )
        self.digit = check_label(digit, self.n_classes, f"{who}: digit")
        self.y_min = _vector(y_min, n_attr, f"{who}: y_min")
        self.y_max = _vector(y_max, n_attr, f"{who}: y_max")
        self._z = as_latent(z, self.latent_dim, f"{who}: z")
        alphas = [alpha] * n_attr if np.ndim(alpha) == 0 else list(alpha)
        if len(alphas) != n_attr:
            raise ValueError(f"{who}: alpha must be one number or {n_attr}, got {len(alphas)}")
        alphas = [unit_interval(a, f"{who}: alpha") for a in alphas]
        self.units = list(units) if units is not None else [""] * n_attr
        if len(self.units) != n_attr:
            raise ValueError(f"{who}: units must have {n_attr} entries, got {len(self.units)}")
        self.scaler, self._measure = scaler, measure
        self.scale = positive_int(scale, f"{who}: scale")
        self._generator = torch.Generator().manual_seed(int(seed))

        self.sliders = []
        for name, a in zip(self.names, alphas, strict=True):
            s = widgets.FloatSlider(
                value=a, min=0.0, max=1.0, step=0.01, description=f"α {name}",
                continuous_update=True, readout_format=".2f",
                style={"description_width": "110px"}, layout=widgets.Layout(width="360px"),
            )
            s.observe(lambda change: self.update(), names="value")
            self.sliders.append(s)
        self.image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.new_z_button = widgets.Button(
            description="new z", icon="random", tooltip="draw another z ~ N(0, I)"
        )
        self.new_z_button.on_click(lambda _: self.resample_z())
        controls = widgets.VBox([*self.sliders, self.new_z_button, self.caption])
        self.widget = widgets.HBox([self.image, controls])
        self.update()

    def _describe(self) -> str:
        return (
            f"{type(self).__name__} over a {type(self.model).__name__}: digit {self.digit}, "
            f"one alpha in [0, 1] per attribute ({', '.join(self.names)}), "
            "u_j = (1 - alpha_j) y_min[j] + alpha_j y_max[j], z fixed "
            "(a live widget: run the cell in a kernel)"
        )

    # ------------------------------------------------------------------ state

    @property
    def alphas(self) -> Tensor:
        """The sliders' values ``(A,)``."""
        return torch.tensor([s.value for s in self.sliders], dtype=torch.float32)

    @property
    def z(self) -> Tensor:
        """The fixed noise ``(Z,)`` (a copy)."""
        return self._z.clone()

    @property
    def attributes(self) -> Tensor:
        """``u = (1 - alpha) * y_min + alpha * y_max``, ``(A,)``, as the model sees them."""
        a = self.alphas
        return (1 - a) * self.y_min + a * self.y_max

    @property
    def y(self) -> Tensor:
        """The whole condition ``[one-hot(digit), u]``, ``(n_classes + A,)``."""
        one_hot = torch.nn.functional.one_hot(torch.tensor(self.digit), self.n_classes)
        return torch.cat([one_hot.float(), self.attributes])

    def set_alpha(self, name_or_index, alpha: float) -> None:
        """Move one attribute's slider (by name or index) to ``alpha``: redraws."""
        i = self.names.index(name_or_index) if isinstance(name_or_index, str) else name_or_index
        self.sliders[int(i)].value = unit_interval(alpha, f"{type(self).__name__}: alpha")

    def set_digit(self, digit: int) -> None:
        """Another fixed digit: redraws."""
        self.digit = check_label(digit, self.n_classes, f"{type(self).__name__}: digit")
        self.update()

    def set_z(self, z) -> None:
        """Another fixed noise ``(Z,)``: redraws."""
        self._z = as_latent(z, self.latent_dim, f"{type(self).__name__}: z")
        self.update()

    def resample_z(self) -> None:
        """Draw a new noise ``N(0, I)`` (what "new z" does)."""
        self.set_z(torch.randn(self.latent_dim, generator=self._generator))

    # ------------------------------------------------------------------ drawing

    def decoded(self) -> Tensor:
        """The mean image for the current sliders, ``(1, 1, 28, 28)`` on the CPU."""
        y = self.y[None]
        z = self._z[None]
        if callable(getattr(self.model, "latent_from_noise", None)):
            with torch.no_grad():
                z = self.model.latent_from_noise(z, y).detach().cpu()
        return decode_codes(self.model, z, y)

    def render(self) -> np.ndarray:
        """The image shown now: ``(H, W)`` in [0, 1]."""
        return picture(self.decoded()[0])

    def update(self) -> None:
        """Decode the current sliders and show the image and the caption."""
        image = self.decoded()
        self.image.value = to_png(picture(image[0]), self.scale)
        asked = self.attributes
        if self.scaler is not None:
            asked = self.scaler.inverse(asked)
        lines = [f"digit {self.digit}"]
        measured = None
        if self._measure is not None:
            measured = torch.as_tensor(self._measure(image)).reshape(-1)
        for j, name in enumerate(self.names):
            unit = f" {self.units[j]}" if self.units[j] else ""
            text = f"{name}: asked {asked[j].item():.1f}{unit}"
            if measured is not None:
                text += f", measured {measured[j].item():.1f}{unit}"
            lines.append(text)
        self.caption.value = "<br>".join(lines)
