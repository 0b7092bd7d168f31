"""Corruption processes for denoising autoencoders (Vincent et al., 2008 and 2010).

A denoising autoencoder sees a corrupted copy ``x_tilde`` of each image and learns to
reconstruct the CLEAN image ``x``.  Each function here draws one corruption:

* :func:`gaussian_noise`: additive Gaussian noise, clipped back to [0, 1];
* :func:`masking_noise`: a random fraction of the pixels is set to 0 ("dropout" on pixels);
* :func:`salt_and_pepper`: a random fraction of the pixels is set to 0 or 1, each half
  of the time.

Conventions: ``x`` is a float tensor of any shape, e.g. images ``(B, 1, 28, 28)`` or rows
``(B, 784)``, with values in [0, 1].  The result is a NEW tensor of the same shape, dtype
and device; ``x`` itself is never modified.  Pass a ``torch.Generator`` to make the draw
reproducible; without one the global torch random state is used.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .validation import float_tensor

__all__ = ["CORRUPTIONS", "gaussian_noise", "masking_noise", "salt_and_pepper"]


def _check_input(x: Tensor, where: str) -> None:
    """Raise a ``TypeError`` unless ``x`` is a floating-point tensor."""
    what, fix = "a floating-point tensor in [0, 1]", "convert it with x.float() / 255"
    float_tensor(x, f"{where}: x", what=what, fix=fix)


def _check_fraction(fraction: float, where: str) -> float:
    """Return ``fraction`` as a float, or raise a ``ValueError`` unless it is in [0, 1]."""
    try:
        value = float(fraction)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: fraction must be a number in [0, 1], got {fraction!r}"
        ) from None
    if not 0.0 <= value <= 1.0:  # also False for NaN
        raise ValueError(
            f"{where}: fraction is the share of pixels to corrupt and must be in [0, 1], "
            f"got {fraction!r} (e.g. 0.3 for 30%)"
        )
    return value


def _draw(kind: str, x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform (``"rand"``) or standard normal (``"randn"``) numbers with ``x``'s shape.

    They are drawn on the generator's device (so a CPU generator works for GPU images)
    and then moved to ``x``'s device.
    """
    device = generator.device if generator is not None else x.device
    sample = torch.rand if kind == "rand" else torch.randn
    return sample(x.shape, generator=generator, device=device, dtype=x.dtype).to(x.device)


def gaussian_noise(x: Tensor, std: float = 0.3, generator: torch.Generator | None = None) -> Tensor:
    """Additive Gaussian noise: ``clamp(x + std * eps, 0, 1)`` with ``eps ~ N(0, 1)``.

    Args:
        x: images in [0, 1], any shape ``(B, ...)``.
        std: standard deviation of the noise in pixel units (NOT a variance), ``>= 0``.
        generator: optional ``torch.Generator`` for a reproducible draw.

    Returns:
        A new tensor like ``x``; every pixel is changed (before clipping).
    """
    _check_input(x, "gaussian_noise")
    try:
        std_value = float(std)
    except (TypeError, ValueError):
        raise ValueError(f"gaussian_noise: std must be a number >= 0, got {std!r}") from None
    if not std_value >= 0.0:  # also False for NaN
        raise ValueError(
            f"gaussian_noise: std is a standard deviation and must be >= 0, got {std!r}"
        )
    return (x + std_value * _draw("randn", x, generator)).clamp(0.0, 1.0)


def masking_noise(
    x: Tensor, fraction: float = 0.3, generator: torch.Generator | None = None
) -> Tensor:
    """Masking noise: each pixel is set to 0 independently with probability ``fraction``.

    Args:
        x: images in [0, 1], any shape ``(B, ...)``.
        fraction: probability that a pixel is masked, in [0, 1] (on average this share
            of the pixels becomes 0).
        generator: optional ``torch.Generator`` for a reproducible draw.

    Returns:
        A new tensor like ``x``.
    """
    _check_input(x, "masking_noise")
    fraction = _check_fraction(fraction, "masking_noise")
    masked = _draw("rand", x, generator) < fraction  # True with probability `fraction`
    return x.masked_fill(masked, 0.0)


def salt_and_pepper(
    x: Tensor, fraction: float = 0.2, generator: torch.Generator | None = None
) -> Tensor:
    """Salt-and-pepper noise: a share ``fraction`` of the pixels is set to 0 or to 1.

    Each pixel draws ``u ~ U(0, 1)``: ``u < fraction / 2`` makes it 0 (pepper),
    ``fraction / 2 <= u < fraction`` makes it 1 (salt), otherwise it is kept.

    Args:
        x: images in [0, 1], any shape ``(B, ...)``.
        fraction: probability that a pixel is corrupted, in [0, 1].
        generator: optional ``torch.Generator`` for a reproducible draw.

    Returns:
        A new tensor like ``x``.
    """
    _check_input(x, "salt_and_pepper")
    fraction = _check_fraction(fraction, "salt_and_pepper")
    u = _draw("rand", x, generator)
    out = x.masked_fill(u < fraction / 2, 0.0)  # pepper
    return out.masked_fill((u >= fraction / 2) & (u < fraction), 1.0)  # salt


#: The corruptions by name, as :class:`~vae_edu.models.autoencoders.DenoisingAutoencoder`
#: accepts them: ``CORRUPTIONS["masking"](x, fraction=0.5)``.
CORRUPTIONS: dict[str, Callable[..., Tensor]] = {
    "gaussian": gaussian_noise,
    "masking": masking_noise,
    "salt_and_pepper": salt_and_pepper,
}
