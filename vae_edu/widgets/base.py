"""What every widget shares: the display protocol (:class:`ModelWidget`), sliders that edit
a code (:class:`SliderWidget`), the checks of a model, a code and a label, decoding without
gradients, and :func:`latent_code`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import torch
from torch import Tensor

from ..models.condition import is_conditional, prepare_condition
from ..train import evaluation_mode, model_device

__all__ = [
    "ModelWidget",
    "SliderWidget",
    "as_latent",
    "check_label",
    "decode_codes",
    "latent_code",
    "latent_size",
    "require_conditional",
    "latent_slider",
]


class ModelWidget:
    """What the widgets share: showing ``.widget`` when the object ends a cell.

    The display data is the widget's, with a short text of its own as ``text/plain``:
    what a notebook shows without a kernel, and what nbval compares (it skips the
    widget view, whose model id is random), so that it stays the same from run to run.
    A subclass builds ``self.widget`` and says what it is in ``_describe``.
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


class SliderWidget(ModelWidget):
    """A :class:`ModelWidget` whose sliders edit the code it decodes, ``self._z``.

    Slider ``i`` calls :meth:`_slider_callback`: it writes coordinate ``i`` and redraws
    (``update``), unless several changes are made at once in ``with self._one_update():``,
    which redraws once at the end.  A subclass sets ``self._z`` and ``self._holding =
    False`` before it builds its sliders, and implements ``update``.
    """

    _z: Tensor
    _holding: bool

    def update(self) -> None:
        """Redraw what the widget shows (a subclass implements it)."""
        raise NotImplementedError

    def _update_unless_holding(self) -> None:
        """Redraw now, or at the end of the :meth:`_one_update` we are in."""
        if not self._holding:
            self.update()

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
            self._update_unless_holding()

        return on_change


def latent_slider(
    value: float, span: float, step: float, description: str, **layout
) -> widgets.FloatSlider:
    """A horizontal ``FloatSlider`` over ``[-span, span]``, widened to include ``value``."""
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


# ----------------------------------------------------------------------------- models


def latent_size(model, who: str) -> int:
    """Z of a VAE (``latent_dim``) or of a plain autoencoder (``code_dim``)."""
    if callable(getattr(model, "decode_images", None)) and hasattr(model, "latent_dim"):
        return int(model.latent_dim)
    if callable(getattr(model, "decode", None)) and hasattr(model, "code_dim"):
        return int(model.code_dim)  # a plain autoencoder: decode(code) -> logits
    raise TypeError(
        f"{who} needs a model of vae_edu.models with a decoder: a VAE (latent_dim and "
        f"decode_images) or an autoencoder (code_dim and decode), got {type(model).__name__}"
    )


def require_conditional(model, who: str, conditional: bool, instead: str) -> None:
    """TypeError naming ``instead`` when the model is not of the kind the widget needs."""
    if is_conditional(model) != conditional:
        kind = "a conditional" if is_conditional(model) else "an unconditional"
        raise TypeError(
            f"{who} needs {'a conditional' if conditional else 'an unconditional'} model, "
            f"got {kind} {type(model).__name__}; use {instead}"
        )


def as_latent(z, size: int, name: str) -> Tensor:
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


def check_label(y, y_dim: int, name: str) -> int:
    """An int label in ``0..y_dim-1`` (a one-element integer tensor is accepted)."""
    if torch.is_tensor(y) and y.numel() == 1 and not y.is_floating_point():
        y = y.item()
    if isinstance(y, bool) or not isinstance(y, (int, np.integer)):
        raise TypeError(f"{name} must be an int label in 0..{y_dim - 1}, got {y!r}")
    if not 0 <= y < y_dim:
        raise ValueError(f"{name} must be a label in 0..{y_dim - 1} (the model's classes), got {y}")
    return int(y)


def decode_codes(model, z: Tensor, y=None) -> Tensor:
    """Mean images ``(N, C, H, W)`` on the CPU for codes ``z (N, Z)``, in eval mode."""
    with evaluation_mode(model):
        if callable(getattr(model, "decode_images", None)):
            images = model.decode_images(z, y) if is_conditional(model) else model.decode_images(z)
        else:  # a plain autoencoder: logits (N, 784)
            device = model_device(model, torch.device("cpu"))
            images = torch.sigmoid(model.decode(z.to(device))).reshape(len(z), -1)
            if images.shape[1] != 784:
                raise ValueError(
                    f"{type(model).__name__} decodes {images.shape[1]} values, not a 28 x 28 image"
                )
            images = images.reshape(len(z), 1, 28, 28)
    return images.detach().float().cpu()


def latent_code(model, image, y=None) -> Tensor:
    """The code of one image: mu of q(z|x) for a VAE (``q(z|x,y)`` for a CVAE, with its
    label ``y``), the code for a plain autoencoder; a float CPU tensor ``(Z,)``.

    ``image``: ``(28, 28)``, ``(1, 28, 28)``, ``(784,)`` or a batch of one.  The usual
    starting point of ``LatentSliders``: ``LatentSliders(model, latent_code(model,
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
        y = prepare_condition(model, y, 1, who="latent_code")
        out = model.encode(x) if y is None else model.encode(x, y)
    code = out[0] if isinstance(out, (tuple, list)) else out
    return code.reshape(-1).detach().float().cpu()
