"""A widget to explore diverse colourizations: pick an image, a model, step through outputs.

:class:`ColorizationExplorer` shows, for the grey image picked with a slider, a strip
"grey | truth | output 1 ... output K" of one model (picked from a dropdown) and,
enlarged, the output picked with a second slider: a mixture component of the MDN
(heaviest first, with its weight pi_i) or a sample ``z ~ N(0, I)`` of a CVAE. Core
ipywidgets only; images reach the browser as PNG bytes in ``widgets.Image``. The callbacks
are plain methods, so a test drives it without a browser::

    w = ColorizationExplorer(test_fields, {"VAE + MDN": colorizer, "CVAE": cvae})
    w                      # as the last line of a cell: shows the widget
    w.image.value = 3      # the same as dragging the image slider
    w.output.value = 2     # the third output, enlarged
    w.render_strip()       # the strip shown now, an (H, W, 3) array in [0, 1]
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from ..train import evaluation_mode
from ..validation import positive_int
from ..widgets import ModelWidget, to_png
from .data import ColorFields
from .lab import merge_grey_color

__all__ = ["ColorizationExplorer"]


def _outputs(model, grey: Tensor, k: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """``k`` colour fields ``(k, 2, H, W)`` of one grey image ``(1, 1, H, W)`` and their
    mixture weights ``(k,)`` (None for a model without components)."""
    with evaluation_mode(model):
        if callable(getattr(model, "components", None)):
            fields, weights = model.components(grey)
            return fields[0, :k], weights[0, :k]
        generator = torch.Generator(device=grey.device).manual_seed(seed)
        return model.sample(grey, k, generator=generator)[0], None


class ColorizationExplorer(ModelWidget):
    """Pick a grey image and a model; see its ``k`` colourizations; step through them.

    Args:
        fields: the images to choose from (their grey images and true colours).
        models: name -> model: a :class:`~.models.DiverseColorizer` (its ``components``:
            decoded MDN means, heaviest first) or any model with
            ``sample(grey, k, generator=...)`` (:class:`~.models.ColorCVAE`,
            :class:`~.models.L2Colorizer`).
        k: outputs per image (at most the MDN's ``M`` components).
        scale: each pixel is shown as a ``scale x scale`` block.
        seed: the samples of image ``i`` are drawn with the seed ``seed + i``, so the
            same image always shows the same samples.

    Attributes (the parts of ``.widget``): ``image`` (IntSlider), ``model``
    (Dropdown), ``output`` (IntSlider), ``strip`` and ``detail`` (widgets.Image),
    ``caption`` (widgets.HTML).
    """

    def __init__(self, fields: ColorFields, models: Mapping[str, object], *, k: int = 8,
                 scale: int = 4, seed: int = 0):
        if not isinstance(fields, ColorFields) or len(fields) == 0:
            raise TypeError("ColorizationExplorer: fields must be a non-empty ColorFields")
        if not isinstance(models, Mapping) or not models:
            raise ValueError("ColorizationExplorer: models must be a non-empty dict {name: model}")
        for name, model in models.items():
            if not callable(getattr(model, "components", None)) and not callable(
                getattr(model, "sample", None)
            ):
                raise TypeError(
                    f"ColorizationExplorer: model {name!r} ({type(model).__name__}) has "
                    "neither components(grey) nor sample(grey, k, generator=...)"
                )
        k = positive_int(k, "ColorizationExplorer: k")
        self.fields, self.models, self.k, self.scale, self.seed = (
            fields, dict(models), k, scale, seed)
        self._cache: dict[tuple[str, int], tuple[Tensor, Tensor | None]] = {}

        self.image = widgets.IntSlider(0, 0, len(fields) - 1, description="image",
                                       continuous_update=False)
        self.model = widgets.Dropdown(options=list(self.models), description="model")
        self.output = widgets.IntSlider(0, 0, k - 1, description="output",
                                        continuous_update=True)
        self.strip = widgets.Image(format="png")
        self.detail = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.image.observe(lambda _: self.update(), names="value")
        self.model.observe(lambda _: self.update(), names="value")
        self.output.observe(lambda _: self._update_detail(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.image, self.model]),
            widgets.HTML("grey | truth | outputs 1 to K"),
            self.strip,
            self.output,
            widgets.HBox([self.detail, self.caption]),
        ])
        self.update()

    def _describe(self) -> str:
        return (
            f"ColorizationExplorer: {len(self.fields)} images of {self.fields.name}, "
            f"models {', '.join(self.models)}, {self.k} outputs each"
        )

    # ------------------------------------------------------------------ what is shown

    def current(self) -> tuple[Tensor, Tensor | None]:
        """The outputs of the chosen model for the chosen image: colour fields
        ``(k, 2, H, W)`` on the CPU and weights ``(k,)`` or None."""
        key = (self.model.value, int(self.image.value))
        if key not in self._cache:
            model = self.models[key[0]]
            grey = self.fields.grey[key[1] : key[1] + 1]
            fields, weights = _outputs(model, grey, self.k, self.seed + key[1])
            self._cache[key] = (fields.float().cpu(),
                                None if weights is None else weights.float().cpu())
        return self._cache[key]

    def _rgb(self, fields: Tensor) -> np.ndarray:
        grey = self.fields.grey[int(self.image.value)].float().cpu()
        return merge_grey_color(grey, fields).permute(0, 2, 3, 1).numpy()  # (n, H, W, 3)

    def render_strip(self) -> np.ndarray:
        """The strip "grey | truth | output 1..k" as an ``(H, W', 3)`` array in [0, 1],
        with 2 white pixels between the tiles."""
        i = int(self.image.value)
        grey = self.fields.grey[i].float().cpu()
        truth = self.fields.color[i : i + 1].float().cpu()
        outputs, _ = self.current()
        tiles = np.concatenate([
            np.repeat(grey.permute(1, 2, 0).numpy()[None], 3, axis=-1),
            self._rgb(truth), self._rgb(outputs),
        ])
        h = tiles.shape[1]
        gap = np.ones((h, 2, 3), dtype=tiles.dtype)
        return np.concatenate([part for tile in tiles for part in (tile, gap)][:-1], axis=1)

    def render_detail(self) -> np.ndarray:
        """The chosen output, ``(H, W, 3)`` in [0, 1]."""
        outputs, _ = self.current()
        return self._rgb(outputs[int(self.output.value) : int(self.output.value) + 1])[0]

    def describe_output(self) -> str:
        """What the enlarged image is, e.g. ``component 2 of 8, weight pi = 0.27``."""
        j = int(self.output.value)
        _, weights = self.current()
        if weights is None:
            return f"{self.model.value}: sample {j + 1} of {self.k}"
        return f"{self.model.value}: component {j + 1} of {self.k}, weight π = {weights[j]:.2f}"

    # ------------------------------------------------------------------ callbacks

    def _update_detail(self) -> None:
        self.detail.value = to_png(self.render_detail(), self.scale * 2)
        self.caption.value = f"<p style='margin-left: 1em'>{self.describe_output()}</p>"

    def update(self) -> None:
        """Redraw everything for the current image, model and output."""
        self.strip.value = to_png(self.render_strip(), self.scale)
        self._update_detail()
