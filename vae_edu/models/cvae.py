"""Conditional VAEs (Sohn, Lee & Yan, NeurIPS 2015): q(z | x, y) and p(x | z, y) with a
condition y, and a prior p(z | y) that is either N(0, I) or learned.

``y`` is either int labels ``(B,)`` (turned into one-hot vectors with ``y_dim`` classes)
or a float attribute vector ``(B, y_dim)``, so that mixtures such as
``(1 - a) * y_min + a * y_max`` (:func:`interpolate_attributes`) can be decoded too.

``prior="learned"`` gives Sohn et al.'s conditional prior network
``p(z | y) = N(mu_p(y), diag(exp(logvar_p(y))))`` (their p_theta(z | x), with their input x
our condition y); the ELBO's KL is then between two diagonal Gaussians,
:func:`vae_edu.losses.kl_normal`, and the importance weights use ``log p(z | y)``.
``prior="standard"`` (the default) keeps ``p(z | y) = N(0, I)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import kl_normal, kl_std_normal, log_normal, log_std_normal
from ..validation import positive_int
from .conv_vae import check_channels, conv_decoder, conv_encoder
from .vae import BaseVAE

__all__ = ["CVAE", "PRIORS", "ConditionalVAE", "ConvCVAE", "interpolate_attributes"]

#: the priors p(z | y) a conditional VAE can have
PRIORS = ("standard", "learned")


class ConditionalVAE(BaseVAE):
    """A :class:`BaseVAE` whose ``encode(x, y)`` and ``decode(z, y)`` also take y.

    Every method of :class:`BaseVAE` then takes ``y`` after ``x`` (or after ``n`` in
    ``sample``), and ``loss`` expects batches ``(x, y)``.  It provides what
    :mod:`vae_edu.models.condition` asks of a conditional model: ``conditional = True``,
    ``y_dim``, :meth:`as_condition`; a subclass implements ``encode(x, y)`` and
    ``decode(z, y)``.

    Args:
        y_dim: number of classes (labels) or attributes.
        latent_dim: Z.
        prior: ``"standard"`` for p(z | y) = N(0, I), or ``"learned"`` for a prior network
            y -> Linear(y_dim, prior_hidden) -> ReLU -> Linear(prior_hidden, 2 Z) giving
            ``(mu_p, logvar_p)`` (Sohn et al. 2015).
        prior_hidden: hidden units of the prior network (learned prior only).
        **kwargs: as in :class:`~vae_edu.models.vae.BaseVAE`.
    """

    conditional = True

    def __init__(
        self,
        y_dim: int,
        latent_dim: int,
        *,
        prior: str = "standard",
        prior_hidden: int = 128,
        **kwargs,
    ):
        super().__init__(latent_dim, **kwargs)
        name = type(self).__name__
        self.y_dim = positive_int(y_dim, f"{name}: y_dim")
        if prior not in PRIORS:
            raise ValueError(f"{name}: prior must be one of {PRIORS}, got {prior!r}")
        self.prior = prior
        if prior == "learned":
            hidden = positive_int(prior_hidden, f"{name}: prior_hidden")
            self.prior_net = nn.Sequential(
                nn.Linear(self.y_dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim)
            )
        else:
            self.prior_net = None

    def extra_repr(self) -> str:
        return super().extra_repr() + f", prior={self.prior!r}"

    # ------------------------------------------------------------------ the prior p(z | y)

    def prior_params(self, y) -> tuple[Tensor, Tensor]:
        """``(mu_p, logvar_p)`` of p(z | y), each ``(B, Z)``: zeros for the standard prior.

        Args:
            y: int labels ``(B,)`` or floats ``(B, y_dim)`` (see :meth:`as_condition`).
        """
        y = self.as_condition(y)
        if self.prior_net is None:
            zeros = y.new_zeros(len(y), self.latent_dim)
            return zeros, zeros
        return self.prior_net(y).chunk(2, dim=1)

    def latent_from_noise(self, eps: Tensor, y) -> Tensor:
        """``z = mu_p(y) + exp(logvar_p(y) / 2) * eps``: a fixed noise ``eps (B, Z)`` (or
        ``(Z,)``, repeated) made a draw of p(z | y); ``eps`` itself for the standard prior.
        """
        device, dtype = self._device_dtype()
        eps = torch.as_tensor(eps, device=device, dtype=dtype).reshape(-1, self.latent_dim)
        y = self.as_condition(y)
        if len(eps) == 1:
            eps = eps.expand(len(y), -1)
        y = self.as_condition(y, len(eps))  # one row repeated, or as many rows as eps
        if self.prior_net is None:
            return eps
        mu_p, logvar_p = self.prior_params(y)
        return mu_p + torch.exp(0.5 * logvar_p) * eps

    def prior_kl(self, mu: Tensor, logvar: Tensor, y=None) -> Tensor:
        """``KL(q(z | x, y) || p(z | y))`` per image ``(B,)``, closed form: against N(0, I)
        for the standard prior, between two diagonal Gaussians for the learned one (so the
        ELBO and IWAE of :class:`BaseVAE` bound ``log p(x | y)`` with the model's prior)."""
        if self.prior_net is None:
            return kl_std_normal(mu, logvar)
        mu_p, logvar_p = self.prior_params(y)
        return kl_normal(mu, logvar, mu_p, logvar_p)

    def log_prior(self, z: Tensor, y=None) -> Tensor:
        """``log p(z | y)`` for ``z (..., B, Z)`` -> ``(..., B)`` nats."""
        if self.prior_net is None:
            return log_std_normal(z)
        mu_p, logvar_p = self.prior_params(y)
        return log_normal(z, mu_p, logvar_p)

    @torch.no_grad()
    def sample(self, n: int, y=None, *, generator: torch.Generator | None = None) -> Tensor:
        """n new images (n, 1, 28, 28): mean images of the decoder for z ~ p(z | y)."""
        device, dtype = self._device_dtype()
        eps = torch.randn(n, self.latent_dim, generator=generator, device=device, dtype=dtype)
        y = self._condition(y, n)
        return self.decode_images(self.latent_from_noise(eps, y), y)

    def as_condition(self, y, batch_size: int | None = None) -> Tensor:
        """y -> float tensor ``(B, y_dim)`` on the model's device.

        Args:
            y: int labels ``(B,)`` (or one int) in ``0..y_dim-1``, turned into one-hot
                vectors; or floats ``(B, y_dim)`` (or one vector ``(y_dim,)``), kept.
            batch_size: when given, one label or vector is repeated to this many rows and
                any other number of rows is an error.

        Raises:
            ValueError: for labels out of range or a wrong shape, naming what was expected.
        """
        name = type(self).__name__
        device, dtype = self._device_dtype()
        y = torch.as_tensor(y, device=device)
        if not y.is_floating_point():  # int labels -> one-hot
            if y.dim() > 1 or y.dtype == torch.bool:
                raise ValueError(
                    f"{name}: int labels must have shape (B,), got {y.dtype} of shape "
                    f"{tuple(y.shape)}; pass attribute vectors as floats of shape (B, {self.y_dim})"
                )
            y = y.reshape(-1).long()
            if len(y) and (y.min() < 0 or y.max() >= self.y_dim):
                raise ValueError(
                    f"{name}: labels must be in 0..{self.y_dim - 1}, got values in "
                    f"[{y.min().item()}, {y.max().item()}]"
                )
            y = F.one_hot(y, self.y_dim)
        y = y.to(dtype)
        if y.dim() == 1 and len(y) == self.y_dim:
            y = y.unsqueeze(0)  # one attribute vector
        if y.dim() != 2 or y.shape[1] != self.y_dim:
            raise ValueError(
                f"{name}: y must be int labels of shape (B,) or floats of shape "
                f"(B, {self.y_dim}), got {y.dtype} of shape {tuple(y.shape)} "
                "(use y.long() for labels)"
            )
        if batch_size is not None and len(y) != batch_size:
            if len(y) != 1:
                raise ValueError(f"{name}: y has {len(y)} rows but x has {batch_size}")
            y = y.expand(batch_size, -1)
        return y


class CVAE(ConditionalVAE):
    """MLP conditional VAE: q(z|x,y) and p(x|z,y) with y concatenated to x and to z.

    Args:
        y_dim: number of classes (labels) or attributes.
        latent_dim, hidden_dim, input_dim: layer sizes Z, H, D.
        beta, likelihood, sigma: as in :class:`vae_edu.models.vae.VAE`.
        prior: ``"standard"`` (N(0, I)) or ``"learned"`` (a prior network p(z | y) with
            ``hidden_dim`` hidden units), see :class:`ConditionalVAE`.
    """

    def __init__(
        self,
        y_dim: int = 10,
        latent_dim: int = 20,
        hidden_dim: int = 400,
        input_dim: int = 784,
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
        prior: str = "standard",
    ):
        super().__init__(
            y_dim,
            latent_dim,
            prior=prior,
            prior_hidden=hidden_dim,
            data_shape=(input_dim,),
            likelihood=likelihood,
            sigma=sigma,
            beta=beta,
        )
        self.input_dim = input_dim
        self.encoder = nn.Sequential(nn.Linear(input_dim + y_dim, hidden_dim), nn.ReLU())
        self.to_mu_logvar = nn.Linear(hidden_dim, 2 * latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim + y_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )

    def encode(self, x: Tensor, y) -> tuple[Tensor, Tensor]:
        """x (B, 1, 28, 28) or (B, 784), y (B,) labels or (B, y_dim) -> (mu, logvar) (B, Z)."""
        x = self._as_data(x)  # (B, D)
        xy = torch.cat([x, self.as_condition(y, len(x))], dim=1)  # (B, D + y_dim)
        return self.to_mu_logvar(self.encoder(xy)).chunk(2, dim=1)

    def decode(self, z: Tensor, y) -> Tensor:
        """z (B, Z), y (B,) labels or (B, y_dim) -> (B, D): logits or Gaussian means."""
        zy = torch.cat([z, self.as_condition(y, len(z))], dim=1)  # (B, Z + y_dim)
        return self._output(self.decoder(zy))


class ConvCVAE(ConditionalVAE):
    """Convolutional conditional VAE.

    Encoder: y is broadcast to ``y_dim`` constant 28 x 28 channels stacked onto the image,
    then the convolutions of :class:`vae_edu.models.conv_vae.ConvVAE`.  Decoder: y is
    concatenated to z before the first linear layer.

    Args:
        y_dim: number of classes (labels) or attributes.
        latent_dim: Z.
        channels: channels of the two convolutions ``(c1, c2)``.
        beta, likelihood, sigma: as in :class:`vae_edu.models.vae.VAE`.
        prior: ``"standard"`` or ``"learned"`` (128 hidden units), see
            :class:`ConditionalVAE`.
    """

    def __init__(
        self,
        y_dim: int = 10,
        latent_dim: int = 16,
        channels: tuple[int, int] = (32, 64),
        *,
        beta: float = 1.0,
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
        prior: str = "standard",
    ):
        super().__init__(
            y_dim,
            latent_dim,
            prior=prior,
            data_shape=(1, 28, 28),
            likelihood=likelihood,
            sigma=sigma,
            beta=beta,
        )
        self.channels = check_channels(channels, "ConvCVAE")
        self.encoder = conv_encoder(1 + y_dim, self.channels)
        self.to_mu_logvar = nn.Linear(self.channels[1] * 7 * 7, 2 * latent_dim)
        self.decoder = conv_decoder(latent_dim + y_dim, self.channels)

    def encode(self, x: Tensor, y) -> tuple[Tensor, Tensor]:
        """x (B, 1, 28, 28), y (B,) labels or (B, y_dim) -> (mu, logvar), each (B, Z)."""
        x = self._as_data(x)  # (B, 1, 28, 28)
        y = self.as_condition(y, len(x))
        y_maps = y[:, :, None, None].expand(-1, -1, 28, 28)  # (B, y_dim, 28, 28)
        return self.to_mu_logvar(self.encoder(torch.cat([x, y_maps], dim=1))).chunk(2, dim=1)

    def decode(self, z: Tensor, y) -> Tensor:
        """z (B, Z), y (B,) labels or (B, y_dim) -> (B, 1, 28, 28): logits or means."""
        zy = torch.cat([z, self.as_condition(y, len(z))], dim=1)
        return self._output(self.decoder(zy))


def interpolate_attributes(
    y_min: Tensor, y_max: Tensor, alphas: Sequence[float] | Tensor
) -> Tensor:
    """Rows ``y_a = (1 - a) * y_min + a * y_max`` for each ``a`` in ``alphas``.

    Args:
        y_min, y_max: attribute vectors of shape ``(y_dim,)`` (e.g. two one-hot labels).
        alphas: ``A`` mixing weights; 0 gives ``y_min``, 1 gives ``y_max``.

    Returns:
        ``(A, y_dim)`` float tensor, ready to pass as ``y`` to a CVAE.
    """
    y_min = torch.as_tensor(y_min).float()
    y_max = torch.as_tensor(y_max, device=y_min.device).float()
    if y_min.dim() != 1 or y_min.shape != y_max.shape:
        raise ValueError(
            "interpolate_attributes: y_min and y_max must be vectors of the same shape "
            f"(y_dim,), got {tuple(y_min.shape)} and {tuple(y_max.shape)}"
        )
    a = torch.as_tensor(alphas, dtype=y_min.dtype, device=y_min.device).reshape(-1, 1)  # (A, 1)
    return (1 - a) * y_min + a * y_max
