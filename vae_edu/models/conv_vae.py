"""Convolutional VAEs: two stride-2 convolutions down, two up.

* :class:`ConvVAE` (28 x 28 images): linear layers between the 7 x 7 feature maps and a
  latent vector; they hold most of its parameters, and their size grows with H x W;
* :class:`FullyConvVAE` (any H x W divisible by 4): no linear layer, the latent is a map of
  ``latent_channels x H/4 x W/4`` values, and the parameter count does not depend on H x W.
"""

from __future__ import annotations

from torch import Tensor, nn

from .vae import BaseVAE

__all__ = ["ConvVAE", "FullyConvVAE", "check_channels", "conv_decoder", "conv_encoder"]


def check_channels(channels, where: str) -> tuple[int, int]:
    """The channels ``(c1, c2)`` of :func:`conv_encoder` and :func:`conv_decoder`: two
    positive ints, else a ValueError that starts with ``where``."""
    channels = tuple(channels)
    if len(channels) != 2 or not all(isinstance(c, int) and c >= 1 for c in channels):
        raise ValueError(
            f"{where}: channels must be two positive ints (one per stride-2 layer, "
            f"28 -> 14 -> 7), got {channels!r}"
        )
    return channels


def conv_encoder(in_channels: int, channels: tuple[int, int]) -> nn.Sequential:
    """(B, in_channels, 28, 28) -> features (B, c2 * 7 * 7)."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=4, stride=2, padding=1),  # -> (B, c1, 14, 14)
        nn.ReLU(),
        nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1),  # -> (B, c2, 7, 7)
        nn.ReLU(),
        nn.Flatten(),
    )


def conv_decoder(in_features: int, channels: tuple[int, int]) -> nn.Sequential:
    """(B, in_features) -> (B, 1, 28, 28), the mirror image of :func:`conv_encoder`."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Linear(in_features, c2 * 7 * 7),
        nn.ReLU(),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1),  # -> (B, c1, 14, 14)
        nn.ReLU(),
        nn.ConvTranspose2d(c1, 1, kernel_size=4, stride=2, padding=1),  # -> (B, 1, 28, 28)
    )


class ConvVAE(BaseVAE):
    """Convolutional VAE: Conv2d stride 2 (28 -> 14 -> 7), linear heads for mu and
    log sigma^2, and a linear layer plus ConvTranspose2d back to (B, 1, 28, 28).

    The decoder outputs logits (Bernoulli, the default) or Gaussian means in [0, 1].

    Args:
        latent_dim: Z.
        channels: channels of the two convolutions ``(c1, c2)``.
        beta, likelihood, sigma: as in :class:`vae_edu.models.vae.VAE`.
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: tuple[int, int] = (32, 64),
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
    ):
        super().__init__(
            latent_dim, data_shape=(1, 28, 28), likelihood=likelihood, sigma=sigma, beta=beta
        )
        self.channels = check_channels(channels, "ConvVAE")
        self.encoder = conv_encoder(1, self.channels)
        self.to_mu_logvar = nn.Linear(self.channels[1] * 7 * 7, 2 * latent_dim)
        self.decoder = conv_decoder(latent_dim, self.channels)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, 1, 28, 28) (or (B, 784)) -> (mu, logvar), each (B, latent_dim)."""
        return self.to_mu_logvar(self.encoder(self._as_data(x))).chunk(2, dim=1)

    def decode(self, z: Tensor) -> Tensor:
        """z: (B, latent_dim) -> (B, 1, 28, 28): logits (Bernoulli) or means (Gaussian)."""
        return self._output(self.decoder(z))


class FullyConvVAE(BaseVAE):
    """A VAE with no fully connected layer: its latent is a feature map.

    Encoder: Conv2d stride 2 twice (H -> H/2 -> H/4) and a 3 x 3 convolution to
    ``2 * latent_channels`` maps, the mu and log sigma^2 of ``latent_channels`` latent
    values at each of the ``H/4 x W/4`` positions.  Decoder: a 3 x 3 convolution and two
    ConvTranspose2d stride 2 back to ``(C, H, W)``.  Every layer is a convolution, so the
    parameter count depends on the channels only, not on H x W; what grows with the image
    is the latent, ``Z = latent_channels * (H/4) * (W/4)`` values (flattened to ``(B, Z)``
    for everything :class:`BaseVAE` does; the prior is N(0, I) over all of them).

    Args:
        image_shape: ``(C, H, W)`` of the data, H and W divisible by 4.
        latent_channels: latent values per position.
        channels: channels of the two stride-2 convolutions ``(c1, c2)``.
        beta, likelihood, sigma: as in :class:`vae_edu.models.vae.VAE`.
    """

    def __init__(
        self,
        image_shape: tuple[int, int, int] = (1, 28, 28),
        latent_channels: int = 4,
        channels: tuple[int, int] = (32, 64),
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
    ):
        shape = tuple(image_shape)
        if (len(shape) != 3 or not all(isinstance(v, int) and v >= 1 for v in shape)
                or shape[1] % 4 or shape[2] % 4):
            raise ValueError(
                "FullyConvVAE: image_shape must be (C, H, W), positive ints with H and W "
                f"divisible by 4 (two stride-2 layers), got {image_shape!r}"
            )
        if not isinstance(latent_channels, int) or latent_channels < 1:
            raise ValueError(
                f"FullyConvVAE: latent_channels must be a positive int, got {latent_channels!r}"
            )
        c, h, w = shape
        self.latent_map = (latent_channels, h // 4, w // 4)
        super().__init__(latent_channels * (h // 4) * (w // 4), data_shape=shape,
                         likelihood=likelihood, sigma=sigma, beta=beta)
        self.channels = check_channels(channels, "FullyConvVAE")
        c1, c2 = self.channels
        self.encoder = nn.Sequential(
            nn.Conv2d(c, c1, kernel_size=4, stride=2, padding=1),  # -> (B, c1, H/2, W/2)
            nn.ReLU(),
            nn.Conv2d(c1, c2, kernel_size=4, stride=2, padding=1),  # -> (B, c2, H/4, W/4)
            nn.ReLU(),
            nn.Conv2d(c2, 2 * latent_channels, kernel_size=3, padding=1),  # mu, logvar maps
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, c2, kernel_size=3, padding=1),  # -> (B, c2, H/4, W/4)
            nn.ReLU(),
            nn.ConvTranspose2d(c2, c1, kernel_size=4, stride=2, padding=1),  # -> H/2
            nn.ReLU(),
            nn.ConvTranspose2d(c1, c, kernel_size=4, stride=2, padding=1),  # -> (B, C, H, W)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, C, H, W) -> (mu, logvar), each (B, Z), Z = latent_channels * H/4 * W/4."""
        mu, logvar = self.encoder(self._as_data(x)).chunk(2, dim=1)
        return mu.flatten(1), logvar.flatten(1)

    def decode(self, z: Tensor) -> Tensor:
        """z: (B, Z) -> (B, C, H, W): logits (Bernoulli) or means (Gaussian)."""
        return self._output(self.decoder(z.reshape(len(z), *self.latent_map)))
