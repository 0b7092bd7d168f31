"""The MLP VAE of the course and :class:`BaseVAE`, the interface every VAE here shares.

Every model takes images ``x: (B, 1, 28, 28)`` in [0, 1] and defines
``loss(batch) -> {"loss": ..., "recon": ..., "kl": ...}`` for :func:`vae_edu.train.fit`.

Shape letters: ``B`` batch size, ``Z`` latent dimension, ``K`` samples of z per image,
``D`` values per image (784 for MNIST).  All log densities are in nats, summed over
pixels (or latent dimensions).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..losses import (
    bernoulli_nll,
    gaussian_nll,
    kl_std_normal,
    log_normal,
    log_std_normal,
    reparameterize,
)
from ..validation import image_batch, nonnegative_float, positive_int
from .condition import prepare_condition

__all__ = ["LIKELIHOODS", "BaseVAE", "VAE"]

#: The decoders p(x|z) a model can have.
LIKELIHOODS = ("bernoulli", "gaussian")


class BaseVAE(nn.Module):
    """What every VAE of the course shares: the ELBO, sampling, importance weights.

    A subclass builds its layers after ``super().__init__(...)`` and implements two
    methods (plus ``y`` in both for a conditional model, see :mod:`vae_edu.models.condition`):

    * ``encode(x) -> (mu, logvar)``: ``x (B, ...)`` -> two ``(B, Z)`` tensors, the
      parameters of ``q(z|x) = N(mu, diag(exp(logvar)))``;
    * ``decode(z) -> decoded``: ``z (N, Z)`` -> ``(N, *data_shape)``, the logits of a
      Bernoulli decoder or the mean of a Gaussian decoder.

    The prior is ``p(z) = N(0, I)``.  Methods that take ``z`` with extra leading sample
    dimensions (``(K, B, Z)``) flatten them before calling ``decode``.

    Args:
        latent_dim: ``Z``.
        data_shape: shape of one decoder output, e.g. ``(784,)`` for an MLP or
            ``(1, 28, 28)`` for a convolutional decoder.  Inputs are reshaped to it.
        likelihood: ``"bernoulli"`` (decoder outputs logits) or ``"gaussian"`` (decoder
            outputs the mean of ``N(x | mean, sigma**2 I)``).
        sigma: Gaussian decoders only: the fixed standard deviation (a float > 0), or
            ``"learned"`` for one learned parameter ``decoder_logvar = log sigma**2``
            (initialised to 0, i.e. sigma = 1).
        beta: weight of the KL term in :meth:`loss` (1 gives the negative ELBO).
    """

    #: True for models of p(x | z, y) that take a condition y (CVAEs); what such a model
    #: provides: :mod:`vae_edu.models.condition`.
    conditional = False

    def __init__(
        self,
        latent_dim: int,
        *,
        data_shape: tuple[int, ...] = (1, 28, 28),
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
        beta: float = 1.0,
    ):
        super().__init__()
        name = type(self).__name__
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"{name}: likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        latent_dim = positive_int(latent_dim, f"{name}: latent_dim")
        nonnegative_float(beta, f"{name}: beta")
        self.latent_dim, self.beta, self.likelihood = latent_dim, beta, likelihood
        self.data_shape = tuple(data_shape)
        # how to show one sample: as an MNIST image when it has 784 values
        self.image_shape = (1, 28, 28) if math.prod(self.data_shape) == 784 else self.data_shape
        # decoder_logvar: log sigma^2 of a Gaussian decoder, a scalar (None for Bernoulli)
        self.sigma = sigma if likelihood == "gaussian" else None
        if likelihood == "bernoulli":
            self.decoder_logvar = None
        elif sigma == "learned":
            self.decoder_logvar = nn.Parameter(torch.zeros(()))
        elif isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and sigma > 0:
            logvar = torch.tensor(2.0 * math.log(sigma))
            self.register_buffer("decoder_logvar", logvar, persistent=False)
        else:
            raise ValueError(f"{name}: sigma must be a float > 0 or 'learned', got {sigma!r}")

    def extra_repr(self) -> str:
        sigma = f", sigma={self.sigma!r}" if self.likelihood == "gaussian" else ""
        return (
            f"latent_dim={self.latent_dim}, likelihood={self.likelihood!r}{sigma}, beta={self.beta}"
        )

    # ------------------------------------------------------------------ to implement

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, ...) -> (mu, logvar), each (B, Z)."""
        raise NotImplementedError

    def decode(self, z: Tensor) -> Tensor:
        """z (N, Z) -> decoder output (N, *data_shape): logits or Gaussian means."""
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def _as_data(self, x: Tensor) -> Tensor:
        """Check a batch of images and reshape it to ``(B, *data_shape)``."""
        x = image_batch(x, math.prod(self.data_shape), type(self).__name__, floats=True)
        return x.reshape(x.shape[0], *self.data_shape)

    def _output(self, h: Tensor) -> Tensor:
        """Last layer's output -> decoder output: logits stay logits (Bernoulli); a
        Gaussian mean is squashed into [0, 1] with a sigmoid, like the pixels."""
        return torch.sigmoid(h) if self.likelihood == "gaussian" else h

    def _device_dtype(self) -> tuple[torch.device, torch.dtype]:
        for t in (*self.parameters(), *self.buffers()):
            return t.device, t.dtype
        return torch.device("cpu"), torch.get_default_dtype()

    def _condition(self, y, batch_size: int) -> Tensor | None:
        """Check ``y`` against the model: None for an unconditional model, else (B, y_dim)
        (:func:`vae_edu.models.condition.prepare_condition`)."""
        # y comes second in the methods, where a number meant for k or n_samples lands
        return prepare_condition(
            self, y, batch_size, hint="pass keyword arguments such as k=... by name"
        )

    def _split_batch(self, batch) -> tuple[Tensor, Tensor | None]:
        """A batch of :func:`vae_edu.train.fit` -> (x, y or None)."""
        if isinstance(batch, (tuple, list)):
            x = batch[0]
            y = batch[1] if self.conditional and len(batch) > 1 else None
        else:
            x, y = batch, None
        if self.conditional and y is None:
            raise TypeError(f"{type(self).__name__}.loss needs a batch (x, y), got only x")
        return x, y

    def _encode(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.encode(x, y) if self.conditional else self.encode(x)

    def _decode(self, z: Tensor, y: Tensor | None) -> Tensor:
        """Decode z of shape (..., Z) -> (..., *data_shape); y (B, y_dim) is broadcast."""
        lead = z.shape[:-1]
        z = z.reshape(-1, z.shape[-1])
        if self.conditional:
            y = y.expand(*lead, y.shape[-1]).reshape(-1, y.shape[-1])
            out = self.decode(z, y)
        else:
            out = self.decode(z)
        return out.reshape(*lead, *out.shape[1:])

    # ------------------------------------------------------------------ the model

    def forward(self, x: Tensor, y=None) -> tuple[Tensor, Tensor, Tensor]:
        """-> (decoded (B, *data_shape), mu (B, Z), logvar (B, Z)); z is sampled, also in
        eval mode."""
        y = self._condition(y, len(x))
        mu, logvar = self._encode(x, y)
        return self._decode(reparameterize(mu, logvar), y), mu, logvar

    def to_mean(self, decoded: Tensor) -> Tensor:
        """Decoder output -> mean of p(x|z): sigmoid(logits) (Bernoulli) or the mean."""
        return torch.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded

    def log_likelihood(self, x: Tensor, decoded: Tensor) -> Tensor:
        """``log p(x | z)`` per sample, in nats, summed over pixels.

        Args:
            x: images ``(B, 1, 28, 28)`` or ``(B, 784)`` in [0, 1].
            decoded: decoder output ``(..., B, *data_shape)``: extra leading dimensions
                (e.g. ``K`` samples of z per image) are allowed.

        Returns:
            ``(..., B)``.
        """
        x = self._as_data(x)  # (B, *data_shape)
        if decoded.shape[decoded.dim() - x.dim() :] != x.shape:
            raise ValueError(
                f"log_likelihood: decoded has shape {tuple(decoded.shape)} but x has shape "
                f"{tuple(x.shape)}; expected decoded of shape (..., {', '.join(map(str, x.shape))})"
            )
        lead = decoded.shape[: decoded.dim() - x.dim() + 1]  # (..., B)
        d = decoded.reshape(-1, *self.data_shape)
        t = x.expand_as(decoded).reshape(d.shape)
        if self.likelihood == "bernoulli":
            # The [0, 1] range check costs a device sync on a GPU: check on the CPU only.
            nll = bernoulli_nll(d, t, validate=t.device.type == "cpu")
        else:
            nll = gaussian_nll(d, t, self.decoder_logvar)
        return -nll.view(lead)

    def elbo_terms(
        self,
        x: Tensor,
        y=None,
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor]:
        """The two terms of the negative ELBO per image: ``(recon (B,), kl (B,))``.

        ``recon = -log p(x|z)`` with ``z ~ q(z|x)`` sampled (averaged over ``n_samples``
        draws when given), ``kl = KL(q(z|x) || p(z))`` in closed form (:meth:`prior_kl`);
        in nats.
        """
        y = self._condition(y, len(x))
        mu, logvar = self._encode(x, y)
        z = reparameterize(mu, logvar, n_samples=n_samples, generator=generator)
        log_px = self.log_likelihood(x, self._decode(z, y))  # (B,) or (K, B)
        if n_samples is not None:
            log_px = log_px.mean(dim=0)
        return -log_px, self.prior_kl(mu, logvar, y)

    # ------------------------------------------------------------------ the prior

    def prior_kl(self, mu: Tensor, logvar: Tensor, y=None) -> Tensor:
        """``KL(q(z|x) || p(z))`` per image ``(B,)``, closed form, for ``q = N(mu,
        diag exp(logvar))`` (each ``(B, Z)``) and the prior ``p(z) = N(0, I)``; a model
        with another prior (a CVAE's learned ``p(z|y)``) overrides it and
        :meth:`log_prior`."""
        return kl_std_normal(mu, logvar)

    def log_prior(self, z: Tensor, y=None) -> Tensor:
        """``log p(z)`` for ``z (..., Z)`` -> ``(...)`` nats; here ``N(0, I)``."""
        return log_std_normal(z)

    def loss(self, batch) -> dict[str, Tensor]:
        """``recon + beta * kl``, per image averaged over the batch, in nats.

        ``batch``: ``x``, or a tuple whose first item is ``x`` (``(x, y)`` for a CVAE).
        With ``beta = 1`` the loss is the negative ELBO (one sample of z).
        """
        x, y = self._split_batch(batch)
        recon, kl = self.elbo_terms(x, y)
        recon, kl = recon.mean(), kl.mean()
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    def log_weights(
        self,
        x: Tensor,
        y=None,
        *,
        k: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Importance log weights ``log p(x|z_k) + log p(z_k) - log q(z_k|x)``, z_k ~ q.

        Returns ``(k, B)`` in nats; :func:`vae_edu.losses.iwae_bound` turns them into
        the IWAE bound on ``log p(x)`` and their mean over ``k`` is the ELBO estimate.
        """
        y = self._condition(y, len(x))
        mu, logvar = self._encode(x, y)
        z = reparameterize(mu, logvar, n_samples=k, generator=generator)  # (k, B, Z)
        log_px_z = self.log_likelihood(x, self._decode(z, y))  # (k, B)
        return log_px_z + self.log_prior(z, y) - log_normal(z, mu, logvar)

    # ------------------------------------------------------------------ images

    @torch.no_grad()
    def decode_images(self, z: Tensor, y=None) -> Tensor:
        """Mean images for given latents: z (N, Z) -> (N, 1, 28, 28) (probabilities)."""
        device, dtype = self._device_dtype()
        z = torch.as_tensor(z, device=device, dtype=dtype).reshape(-1, self.latent_dim)
        y = self._condition(y, len(z))
        return self.to_mean(self._decode(z, y)).reshape(len(z), *self.image_shape)

    @torch.no_grad()
    def sample(self, n: int, y=None, *, generator: torch.Generator | None = None) -> Tensor:
        """n new images (n, 1, 28, 28): mean images of the decoder for z ~ N(0, I)."""
        device, dtype = self._device_dtype()
        z = torch.randn(n, self.latent_dim, generator=generator, device=device, dtype=dtype)
        return self.decode_images(z, y)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y=None) -> Tensor:
        """Mean image decoded from z = mu (no sampling), with the shape of ``x``."""
        y = self._condition(y, len(x))
        mu, _ = self._encode(x, y)
        return self.to_mean(self._decode(mu, y)).reshape(x.shape)


class VAE(BaseVAE):
    """The reference MLP VAE, 784-400-20 with ReLU: the model of the PyTorch examples'
    VAE (Kingma & Welling 2014 used one tanh hidden layer of 500 units on MNIST).

    Encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))); prior p(z) = N(0, I).  Decoder
    p(x|z): Bernoulli (``decode`` returns logits; the default) or Gaussian
    N(x | mean(z), sigma**2 I) (``decode`` returns the mean, squashed into [0, 1] by a
    sigmoid).  ``beta`` weights the KL term (beta = 1 is the ELBO).

    Args:
        input_dim, hidden_dim, latent_dim: layer sizes D, H, Z.
        beta: KL weight.
        likelihood: ``"bernoulli"`` or ``"gaussian"``.
        sigma: Gaussian decoder's fixed standard deviation, or ``"learned"``.
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int = 400,
        latent_dim: int = 20,
        beta: float = 1.0,
        *,
        likelihood: str = "bernoulli",
        sigma: float | str = 0.1,
    ):
        super().__init__(
            latent_dim, data_shape=(input_dim,), likelihood=likelihood, sigma=sigma, beta=beta
        )
        self.input_dim = input_dim
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU())
        # one layer outputs both heads: the first half is mu, the second half log sigma^2
        self.to_mu_logvar = nn.Linear(hidden_dim, 2 * latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, 1, 28, 28) or (B, 784) -> (mu, logvar), each (B, latent_dim)."""
        return self.to_mu_logvar(self.encoder(self._as_data(x))).chunk(2, dim=1)

    def decode(self, z: Tensor) -> Tensor:
        """z: (B, latent_dim) -> (B, input_dim): logits (Bernoulli) or means (Gaussian)."""
        return self._output(self.decoder(z))
