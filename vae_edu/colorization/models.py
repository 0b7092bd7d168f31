"""The colorization models of lecture 09: from G (grey image) to C (colour field).

* :class:`L2Colorizer`: regression ``G -> C`` with the L2 loss; it predicts the average
  of the possible colours (the "overly smooth", desaturated answer).
* :class:`ColorCVAE`: a conditional VAE, ``q(z | C, G)`` and ``p(C | z, G)``; at test
  time ``z ~ N(0, I)``.
* Deshpande et al. (2017) in two steps: :class:`ColorFieldVAE`, a VAE whose encoder
  sees only the colour field ``C`` and whose decoder gets ``z`` and ``G``, trained with
  :class:`~vae_edu.colorization.losses.DecoderLoss`; then :class:`MDN`, a mixture
  density network ``G -> P(z | G)`` trained on the VAE's codes. :class:`DiverseColorizer`
  decodes the mean of each mixture component: ``M`` diverse colourizations.

Every model works on batches ``(grey (B, 1, H, W), color (B, 2, H, W))`` (the
:meth:`~vae_edu.colorization.data.ColorFields.batches`), defines ``loss(batch)`` for
:func:`vae_edu.train.fit` and ``sample(grey, k) -> (B, k, 2, H, W)`` for the metrics.
``H`` and ``W`` must be multiples of 4. The networks are small convolutional nets with
channels ``(c1, c2, c3)`` at full, half and quarter resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import kl_std_normal, reparameterize
from ..validation import positive_float, positive_int
from .losses import DecoderLoss, l2_loss, mdn_nearest_nll, mdn_nll

__all__ = [
    "ColorCVAE",
    "ColorDecoder",
    "ColorEncoder",
    "ColorFieldVAE",
    "DiverseColorizer",
    "GreyEncoder",
    "L2Colorizer",
    "MDN",
]

Channels = tuple[int, int, int]


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ReLU())


def _check_size(image_size, where: str) -> tuple[int, int]:
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if h < 4 or w < 4 or h % 4 or w % 4:
        raise ValueError(f"{where}: image_size must be multiples of 4, got {(h, w)}")
    return h, w


def _check_batch(grey: Tensor, color: Tensor | None, size: tuple[int, int], where: str):
    if not torch.is_tensor(grey) or grey.dim() != 4 or grey.shape[1] != 1:
        shape = tuple(grey.shape) if torch.is_tensor(grey) else type(grey).__name__
        raise ValueError(f"{where}: grey must have shape (B, 1, H, W), got {shape}")
    if tuple(grey.shape[2:]) != size:
        raise ValueError(
            f"{where}: the model was built for {size[0]} x {size[1]} images, got "
            f"{grey.shape[2]} x {grey.shape[3]}"
        )
    if color is not None and (color.shape[1] != 2 or color.shape[0] != grey.shape[0]
                              or color.shape[2:] != grey.shape[2:]):
        raise ValueError(
            f"{where}: color must have shape (B, 2, H, W) like grey {tuple(grey.shape)}, "
            f"got {tuple(color.shape)}"
        )


class GreyEncoder(nn.Module):
    """Features of the grey image at three scales (the skip connections of the decoder).

    ``grey (B, 1, H, W)`` -> ``[f1 (B, c1, H, W), f2 (B, c2, H/2, W/2),
    f3 (B, c3, H/4, W/4)]``.
    """

    def __init__(self, channels: Channels = (8, 16, 32)):
        super().__init__()
        c1, c2, c3 = channels
        self.layers = nn.ModuleList([_conv(1, c1), _conv(c1, c2, 2), _conv(c2, c3, 2)])

    def forward(self, grey: Tensor) -> list[Tensor]:
        features, h = [], grey
        for layer in self.layers:
            h = layer(h)
            features.append(h)
        return features


class ColorDecoder(nn.Module):
    """``(z (B, Z), grey (B, 1, H, W)) -> color (B, 2, H, W)``.

    ``z`` enters twice: through a linear layer as a ``c3``-channel map at a quarter of
    the resolution (so it can say *where* which colour goes), and as ``Z`` constant
    channels at every scale (so every pixel knows it). The map is upsampled twice; at
    every scale the features of the grey image (:class:`GreyEncoder`) are concatenated:
    the grey image says where the edges are, ``z`` which colours. With
    ``latent_dim = 0`` there is no ``z`` (plain regression).
    """

    def __init__(self, image_size, latent_dim: int = 0, channels: Channels = (8, 16, 32)):
        super().__init__()
        self.image_size = _check_size(image_size, "ColorDecoder")
        self.latent_dim = latent_dim
        c1, c2, c3 = channels
        h4, w4 = self.image_size[0] // 4, self.image_size[1] // 4
        self.grey = GreyEncoder(channels)
        self.from_z = nn.Linear(latent_dim, c3 * h4 * w4) if latent_dim else None
        zc = latent_dim  # the constant z channels at every scale
        self.up3 = _conv(c3 * (2 if latent_dim else 1) + zc, c3)
        self.up2 = _conv(c3 + c2 + zc, c2)
        self.up1 = _conv(c2 + c1 + zc, c1)
        self.out = nn.Conv2d(c1, 2, 1)

    @staticmethod
    def _with_z(h: Tensor, z: Tensor | None) -> Tensor:
        """Append ``z`` as constant channels to the feature map ``h`` (B, C, h, w)."""
        if z is None:
            return h
        return torch.cat([h, z[:, :, None, None].expand(-1, -1, *h.shape[2:])], dim=1)

    def forward(self, z: Tensor | None, grey: Tensor) -> Tensor:
        f1, f2, f3 = self.grey(grey)
        h = f3
        if self.from_z is not None:
            h = torch.cat([self.from_z(z).view(f3.shape), f3], dim=1)
        h = F.interpolate(self.up3(self._with_z(h, z)), scale_factor=2.0)
        h = F.interpolate(self.up2(self._with_z(torch.cat([h, f2], 1), z)), scale_factor=2.0)
        return self.out(self.up1(self._with_z(torch.cat([h, f1], 1), z)))


class ColorEncoder(nn.Module):
    """``(B, in_channels, H, W) -> (mu, logvar)``, each ``(B, Z)``: q(z | input)."""

    def __init__(self, image_size, in_channels: int, latent_dim: int,
                 channels: Channels = (8, 16, 32)):
        super().__init__()
        h, w = _check_size(image_size, "ColorEncoder")
        _, c2, c3 = channels
        self.layers = nn.Sequential(
            _conv(in_channels, c2, 2), _conv(c2, c3, 2), nn.Flatten(),
            nn.Linear(c3 * (h // 4) * (w // 4), 2 * latent_dim),
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.layers(x).chunk(2, dim=1)


# ----------------------------------------------------------------------------- baselines


class L2Colorizer(nn.Module):
    """Regression ``G -> C`` trained with the L2 loss (:func:`~.losses.l2_loss`).

    The L2-optimal prediction is the conditional MEAN ``E[C | G]``: where several
    colours are possible, it predicts their average, which is greyer than any of them.
    """

    def __init__(self, image_size=(28, 28), channels: Channels = (8, 16, 32)):
        super().__init__()
        self.image_size = _check_size(image_size, "L2Colorizer")
        self.decoder = ColorDecoder(self.image_size, 0, channels)

    def forward(self, grey: Tensor) -> Tensor:
        """``grey (B, 1, H, W) -> color (B, 2, H, W)``."""
        _check_batch(grey, None, self.image_size, "L2Colorizer")
        return self.decoder(None, grey)

    def loss(self, batch) -> dict[str, Tensor]:
        grey, color = batch
        _check_batch(grey, color, self.image_size, "L2Colorizer.loss")
        return {"loss": l2_loss(self(grey), color)}

    @torch.no_grad()
    def sample(self, grey: Tensor, k: int = 1, **_) -> Tensor:
        """The one prediction, repeated ``k`` times: ``(B, k, 2, H, W)``."""
        return self(grey).unsqueeze(1).expand(-1, k, -1, -1, -1)


class ColorCVAE(nn.Module):
    """A conditional VAE for colour: ``q(z | C, G)``, ``p(C | z, G) = N(decoder, sigma^2)``.

    ``loss = recon + beta * KL`` with ``recon = ||C - decoder(z, G)||^2 / (2 sigma^2)``
    (the Gaussian NLL without its constant) and ``KL = KL(q(z | C, G) || N(0, I))``, per
    image, averaged over the batch. At test time ``z ~ N(0, I)``.

    Args:
        image_size: ``(H, W)``.
        latent_dim: ``Z``.
        sigma: the decoder's standard deviation, in colour-field units.
        beta: the weight of the KL term.
    """

    def __init__(self, image_size=(28, 28), latent_dim: int = 2, *, sigma: float = 0.1,
                 beta: float = 1.0, channels: Channels = (8, 16, 32)):
        super().__init__()
        self.image_size = _check_size(image_size, "ColorCVAE")
        sigma = positive_float(sigma, "ColorCVAE: sigma")
        self.latent_dim, self.sigma, self.beta = latent_dim, sigma, float(beta)
        self.encoder = ColorEncoder(self.image_size, 3, latent_dim, channels)
        self.decoder = ColorDecoder(self.image_size, latent_dim, channels)

    def encode(self, grey: Tensor, color: Tensor) -> tuple[Tensor, Tensor]:
        """``(grey, color) -> (mu, logvar)``, each ``(B, Z)``."""
        return self.encoder(torch.cat([color, grey], dim=1))

    def decode(self, z: Tensor, grey: Tensor) -> Tensor:
        """``(z (B, Z), grey (B, 1, H, W)) -> color (B, 2, H, W)``."""
        return self.decoder(z, grey)

    def loss(self, batch) -> dict[str, Tensor]:
        grey, color = batch
        _check_batch(grey, color, self.image_size, "ColorCVAE.loss")
        mu, logvar = self.encode(grey, color)
        recon = l2_loss(self.decode(reparameterize(mu, logvar), grey), color)
        recon = recon / (2 * self.sigma**2)
        kl = kl_std_normal(mu, logvar).mean()
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, grey: Tensor, k: int = 8, *,
               generator: torch.Generator | None = None) -> Tensor:
        """``k`` colourizations per grey image, ``z ~ N(0, I)``: ``(B, k, 2, H, W)``."""
        _check_batch(grey, None, self.image_size, "ColorCVAE.sample")
        b = len(grey)
        z = torch.randn(b * k, self.latent_dim, generator=generator, device=grey.device,
                        dtype=grey.dtype)
        fields = self.decode(z, grey.repeat_interleave(k, dim=0))
        return fields.view(b, k, *fields.shape[1:])


# ----------------------------------------------------------------------------- Deshpande et al.


class ColorFieldVAE(nn.Module):
    """Step 1 of Deshpande et al.: a VAE that embeds the colour field in a small ``z``.

    The encoder ``q(z | C)`` sees only the colour field; the decoder ``C = decoder(z, G)``
    also gets the grey image through skip connections (:class:`ColorDecoder`), so ``z``
    only has to carry what the grey image does not say: the colours.

    ``loss = L_dec + beta * KL`` with ``L_dec`` from ``decoder_loss``
    (:class:`~vae_edu.colorization.losses.DecoderLoss`) and
    ``KL = KL(q(z | C) || N(0, I))``, per image, averaged over the batch.

    Args:
        image_size: ``(H, W)``.
        latent_dim: ``Z``.
        decoder_loss: the loss of the decoder (and the statistics it needs).
        beta: the weight of the KL term.
    """

    def __init__(self, image_size, latent_dim: int, decoder_loss: DecoderLoss, *,
                 beta: float = 1.0, channels: Channels = (8, 16, 32)):
        super().__init__()
        self.image_size = _check_size(image_size, "ColorFieldVAE")
        self.latent_dim, self.beta = latent_dim, float(beta)
        self.encoder = ColorEncoder(self.image_size, 2, latent_dim, channels)
        self.decoder = ColorDecoder(self.image_size, latent_dim, channels)
        self.decoder_loss = decoder_loss

    def encode(self, color: Tensor) -> tuple[Tensor, Tensor]:
        """``color (B, 2, H, W) -> (mu, logvar)``, each ``(B, Z)``."""
        return self.encoder(color)

    def decode(self, z: Tensor, grey: Tensor) -> Tensor:
        """``(z (B, Z), grey (B, 1, H, W)) -> color (B, 2, H, W)``."""
        return self.decoder(z, grey)

    def loss(self, batch) -> dict[str, Tensor]:
        grey, color = batch
        _check_batch(grey, color, self.image_size, "ColorFieldVAE.loss")
        mu, logvar = self.encode(color)
        parts = self.decoder_loss(self.decode(reparameterize(mu, logvar), grey), color)
        kl = kl_std_normal(mu, logvar).mean()
        return {"loss": parts["dec"] + self.beta * kl, **parts, "kl": kl}

    @torch.no_grad()
    def codes(self, color: Tensor, batch_size: int = 1000) -> Tensor:
        """The posterior means ``mu(C)`` ``(N, Z)``: the targets of the MDN."""
        return torch.cat([self.encode(color[i : i + batch_size])[0]
                          for i in range(0, len(color), batch_size)])

    @torch.no_grad()
    def reconstruct(self, grey: Tensor, color: Tensor) -> Tensor:
        """Decode the code of the TRUE colours, ``z = mu(C)``: ``(B, 2, H, W)``."""
        return self.decode(self.encode(color)[0], grey)


class MDN(nn.Module):
    """Step 2 of Deshpande et al.: a mixture density network ``G -> P(z | G)``.

    ``P(z | G) = sum_{i=1..M} pi_i(G) N(z | mu_i(G), sigma^2 I)`` with a FIXED ``sigma``;
    a small conv net outputs the logits of ``pi`` ``(B, M)`` and the means ``(B, M, Z)``.
    Trained on batches ``(grey, z)`` with ``z`` the colour-field VAE's codes, with
    :func:`~vae_edu.colorization.losses.mdn_nll`.

    Args:
        image_size: ``(H, W)``.
        latent_dim: ``Z``, that of the colour-field VAE.
        components: ``M``.
        sigma: the fixed standard deviation of the components, in units of ``z``.
        hidden: width of the hidden layer.
        objective: ``"mixture"``: train with the full mixture NLL
            (:func:`~vae_edu.colorization.losses.mdn_nll`); ``"nearest"``: with the
            nearest-component approximation
            (:func:`~vae_edu.colorization.losses.mdn_nearest_nll`), only the component
            closest to the target code is pulled towards it.
    """

    def __init__(self, image_size, latent_dim: int, components: int = 8, *,
                 sigma: float = 0.2, hidden: int = 128, channels: Channels = (8, 16, 32),
                 objective: str = "mixture"):
        super().__init__()
        if objective not in ("mixture", "nearest"):
            raise ValueError(
                f"MDN: objective must be 'mixture' (the full mixture NLL) or 'nearest' (the "
                f"nearest-component approximation), got {objective!r}"
            )
        self.objective = objective
        self.image_size = _check_size(image_size, "MDN")
        components = positive_int(components, "MDN: components")
        sigma = positive_float(sigma, "MDN: sigma")
        self.latent_dim, self.components, self.sigma = latent_dim, components, sigma
        h, w = self.image_size
        _, c2, c3 = channels
        self.body = nn.Sequential(
            _conv(1, c2, 2), _conv(c2, c3, 2), nn.Flatten(),
            nn.Linear(c3 * (h // 4) * (w // 4), hidden), nn.ReLU(),
        )
        self.head = nn.Linear(hidden, components * (1 + latent_dim))

    def forward(self, grey: Tensor) -> tuple[Tensor, Tensor]:
        """``grey (B, 1, H, W) -> (logits (B, M), means (B, M, Z))``."""
        _check_batch(grey, None, self.image_size, "MDN")
        out = self.head(self.body(grey))
        logits, means = out.split([self.components, self.components * self.latent_dim], 1)
        return logits, means.view(len(grey), self.components, self.latent_dim)

    def loss(self, batch) -> dict[str, Tensor]:
        grey, z = batch
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"MDN.loss: expected codes z of shape (B, {self.latent_dim}), got "
                f"{tuple(z.shape)}"
            )
        logits, means = self(grey)
        nll = mdn_nll if self.objective == "mixture" else mdn_nearest_nll
        return {"loss": nll(logits, means, z, self.sigma)}


class DiverseColorizer(nn.Module):
    """Deshpande et al. at test time: ``G -> MDN -> M means of z -> decoder -> M colourings``.

    Args:
        vae: a trained :class:`ColorFieldVAE` (its decoder is used).
        mdn: a trained :class:`MDN` on that VAE's codes.
    """

    def __init__(self, vae: ColorFieldVAE, mdn: MDN):
        super().__init__()
        if vae.latent_dim != mdn.latent_dim:
            raise ValueError(
                f"DiverseColorizer: the VAE has latent_dim {vae.latent_dim} but the MDN "
                f"{mdn.latent_dim}"
            )
        self.vae, self.mdn = vae, mdn

    @torch.no_grad()
    def components(self, grey: Tensor) -> tuple[Tensor, Tensor]:
        """Decode every component mean, heaviest component first.

        Returns:
            ``(colors (B, M, 2, H, W), weights (B, M))`` with ``weights`` the mixture
            weights ``pi_i(G)`` in decreasing order.
        """
        logits, means = self.mdn(grey)
        weights, order = torch.softmax(logits, dim=1).sort(dim=1, descending=True)
        means = torch.gather(means, 1, order[..., None].expand_as(means))
        b, m, z = means.shape
        fields = self.vae.decode(means.reshape(b * m, z), grey.repeat_interleave(m, dim=0))
        return fields.view(b, m, *fields.shape[1:]), weights

    @torch.no_grad()
    def sample(self, grey: Tensor, k: int | None = None, *,
               generator: torch.Generator | None = None, mode: str = "means") -> Tensor:
        """``k`` colourizations ``(B, k, 2, H, W)``.

        ``mode="means"``: the decoded means of the ``k`` heaviest components (``k <= M``,
        default ``M``), as in the paper. ``mode="mixture"``: ``k`` codes drawn from the
        mixture (a component by its weight, then ``N(mu_i, sigma^2 I)``), decoded.
        """
        m = self.mdn.components
        k = m if k is None else k
        if mode == "means":
            if not 1 <= k <= m:
                raise ValueError(f"sample: k must be in 1..{m} (the MDN's components), got {k}")
            return self.components(grey)[0][:, :k]
        if mode != "mixture":
            raise ValueError(f"sample: mode must be 'means' or 'mixture', got {mode!r}")
        logits, means = self.mdn(grey)
        b = len(grey)
        pick = torch.multinomial(torch.softmax(logits, 1), k, replacement=True,
                                 generator=generator)  # (B, k)
        mu = torch.gather(means, 1, pick[..., None].expand(-1, -1, self.mdn.latent_dim))
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + self.mdn.sigma * noise
        fields = self.vae.decode(z.reshape(b * k, -1), grey.repeat_interleave(k, dim=0))
        return fields.view(b, k, *fields.shape[1:])
