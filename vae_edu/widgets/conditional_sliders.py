"""``ConditionalSliders``: a CVAE's digit picker and latent sliders, p(x | z, y)."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from .base import check_label, latent_size, require_conditional
from .latent_sliders import LatentSliders

__all__ = ["ConditionalSliders"]


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
        latent_size(model, who)
        require_conditional(model, who, True, self._instead)
        self.y_dim = int(model.y_dim)
        self._label = check_label(y, self.y_dim, f"{who}: y")
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
        self._update_unless_holding()

    def set_label(self, y: int) -> None:
        """Decode the same code with label ``y`` (the picker moves too)."""
        y = check_label(y, self.y_dim, f"{type(self).__name__}: y")
        if self.picker.value != y:
            self.picker.value = y  # runs the callback

    def _condition(self):
        return self._label
