"""The protocol of a model that may take a condition ``y``: one place that says whether a
model is conditional and checks the ``y`` a caller passes it.

A CONDITIONAL model (a CVAE, :class:`~vae_edu.models.cvae.ConditionalVAE`) models
``p(x | z, y)`` and ``q(z | x, y)``, and provides:

* ``conditional = True`` (a class attribute);
* ``y_dim``: the number of classes (int labels ``0..y_dim-1``) or of attributes;
* ``encode(x, y) -> (mu, logvar)`` and ``decode(z, y)``, and ``y`` after ``x`` (after
  ``n`` in ``sample``) in the other methods of :class:`~vae_edu.models.vae.BaseVAE`;
* ``as_condition(y, batch_size) -> (B, y_dim)`` float tensor on the model's device, from
  int labels ``(B,)`` or float attribute vectors ``(B, y_dim)`` (one label or vector is
  repeated to ``batch_size`` rows).

Every other model (``conditional = False`` or no such attribute: the VAEs, the
autoencoders) is unconditional and takes no ``y``.  Code that handles both kinds asks
:func:`is_conditional` and passes ``y`` through :func:`prepare_condition`, rather than
looking at ``y_dim`` or at the signature of ``encode``.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["is_conditional", "prepare_condition"]


def is_conditional(model) -> bool:
    """Whether ``model`` takes a condition ``y`` (its ``conditional`` attribute; False for
    a model without one)."""
    return bool(getattr(model, "conditional", False))


def prepare_condition(
    model, y, batch_size: int | None = None, *, who: str | None = None, hint: str = "drop y"
) -> Tensor | None:
    """``y`` checked against ``model``: None for an unconditional model, else ``(B, y_dim)``.

    Args:
        model: any model; a conditional one must provide ``as_condition`` (see above).
        y: None for an unconditional model; for a conditional one int labels ``(B,)`` or
            floats ``(B, y_dim)`` (or one label or vector, repeated to ``batch_size``).
        batch_size: the number of rows ``y`` must have (``B`` of the ``x`` or ``z`` it goes
            with); None accepts any.
        who: what the messages start with, e.g. ``"latent_code"``.
        hint: what the message for a ``y`` given to an unconditional model suggests.

    Returns:
        None, or ``model.as_condition(y, batch_size)``: a float ``(B, y_dim)`` tensor on the
        model's device.

    Raises:
        TypeError: a ``y`` for an unconditional model, or none for a conditional one.
        ValueError: from ``as_condition``, for labels out of range or a wrong shape.
    """
    where = f"{who}: " if who else ""
    name = type(model).__name__
    if not is_conditional(model):
        if y is not None:
            raise TypeError(
                f"{where}{name} is unconditional and takes no y, got {type(y).__name__}; {hint}"
            )
        return None
    if y is None:
        raise TypeError(
            f"{where}{name} is conditional: pass y, int labels (B,) or a float (B, y_dim) tensor"
        )
    return model.as_condition(y, batch_size)
