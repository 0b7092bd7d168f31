"""A convolutional VAE for 28 x 28 images: two stride-2 convolutions down, two up."""

from __future__ import annotations

from torch import Tensor, nn

from .vae import BaseVAE

__all__ = ["ConvVAE", "check_channels", "conv_decoder", "conv_encoder"]


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
