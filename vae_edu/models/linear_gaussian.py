"""A VAE whose every quantity is exact: the linear-Gaussian latent variable model.

Generative process (probabilistic PCA)::

    z ~ p(z) = N(0, I_Z),        x | z ~ p(x|z) = N(W z + b, sigma**2 I_D)

so that, in closed form,

* the evidence ``p(x) = N(x | b, W W^T + sigma**2 I_D)``;
* the posterior ``p(z|x) = N(m(x), S)`` with ``S = (I + W^T W / sigma**2)^-1`` and
  ``m(x) = S W^T (x - b) / sigma**2``.

``W`` is built with orthogonal columns, so ``W^T W`` and the posterior covariance ``S`` are
diagonal: a diagonal Gaussian ``q(z|x)`` can match the posterior exactly.  The model's
``encode`` returns that posterior, moved away from it by ``shift`` (added to the mean) and
``widen`` (added to the log variance); with both at 0 the ELBO equals ``log p(x)``.

Lecture 06 checks the ELBO derivation on it line by line; the tests use it to check the
IWAE estimator.  Everything is float64 by default, for identities to many digits.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .vae import BaseVAE

__all__ = ["LinearGaussianVAE"]


class LinearGaussianVAE(BaseVAE):
    """``p(z) = N(0, I)``, ``p(x|z) = N(Wz + b, sigma**2 I)`` with exact evidence and posterior.

    Args:
        data_dim: ``D``, values per data point.
        latent_dim: ``Z`` (``<= D``).
        sigma: the decoder's standard deviation (a float > 0).
        scales: the norms of the ``Z`` orthogonal columns of ``W`` (default: from 2 down to
            0.7); a larger scale makes ``x`` more informative about that latent.
        shift, widen: how far ``encode`` moves ``q(z|x)`` away from the exact posterior
            (added to its mean and to its log variance).  Attributes; change them freely.
        seed: seeds the random ``W`` and ``b``.
        dtype: float64 by default.
    """

    def __init__(
        self,
        data_dim: int = 5,
        latent_dim: int = 2,
        sigma: float = 0.5,
        *,
        scales: tuple[float, ...] | None = None,
        shift: float = 0.0,
        widen: float = 0.0,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
    ):
        if not (isinstance(data_dim, int) and isinstance(latent_dim, int)) or not (
            1 <= latent_dim <= data_dim
        ):
            raise ValueError(
                f"LinearGaussianVAE needs ints 1 <= latent_dim <= data_dim, got latent_dim="
                f"{latent_dim!r} and data_dim={data_dim!r}"
            )
        super().__init__(latent_dim, data_shape=(data_dim,), likelihood="gaussian", sigma=sigma)
        if scales is None:
            scales = tuple(torch.linspace(2.0, 0.7, latent_dim).tolist())
        if len(scales) != latent_dim or min(scales) <= 0:
            raise ValueError(
                f"scales must be {latent_dim} positive numbers (one per latent), got {scales!r}"
            )
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim, generator=g, dtype=dtype))
        self.register_buffer("W", q * torch.tensor(scales, dtype=dtype))  # (D, Z)
        self.register_buffer("b", torch.randn(data_dim, generator=g, dtype=dtype))  # (D,)
        self.decoder_logvar = self.decoder_logvar.to(dtype)
        self.data_dim, self.shift, self.widen = data_dim, float(shift), float(widen)

    # ------------------------------------------------------------------ exact quantities

    def _x(self, x: Tensor) -> Tensor:
        x = torch.as_tensor(x, dtype=self.W.dtype, device=self.W.device)
        if x.dim() != 2 or x.shape[1] != self.data_dim:
            raise ValueError(
                f"LinearGaussianVAE: expected x of shape (B, {self.data_dim}), "
                f"got {tuple(x.shape)}"
            )
        return x

    def evidence_covariance(self) -> Tensor:
        """``W W^T + sigma**2 I``: the covariance of ``p(x)``, shape (D, D)."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return self.W @ self.W.T + self.decoder_logvar.exp() * eye

    def log_evidence(self, x: Tensor) -> Tensor:
        """Exact ``log p(x) = log N(x | b, W W^T + sigma**2 I)``: x (B, D) -> (B,), nats."""
        dist = torch.distributions.MultivariateNormal(self.b, self.evidence_covariance())
        return dist.log_prob(self._x(x))

    def posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Exact ``p(z|x) = N(mu, diag(exp(logvar)))``: x (B, D) -> (mu, logvar), each (B, Z)."""
        sigma_sq = self.decoder_logvar.exp()
        var = 1.0 / (1.0 + (self.W**2).sum(dim=0) / sigma_sq)  # (Z,): diagonal as W^T W is
        mu = (self._x(x) - self.b) @ self.W * var / sigma_sq
        return mu, var.log().expand_as(mu)

    def expected_log_likelihood(self, x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
        """``E_{z ~ N(mu, diag(exp(logvar)))} log p(x|z)`` in closed form: (B,), nats.

        ``= -D/2 log(2 pi sigma**2) - (|x - W mu - b|**2 + sum_j |W_j|**2 var_j) / (2 sigma**2)``.
        """
        x = self._x(x)
        sigma_sq = self.decoder_logvar.exp()
        residual = ((x - mu @ self.W.T - self.b) ** 2).sum(dim=1)
        spread = (logvar.exp() * (self.W**2).sum(dim=0)).sum(dim=1)
        const = 0.5 * self.data_dim * (math.log(2 * math.pi) + self.decoder_logvar)
        return -const - (residual + spread) / (2 * sigma_sq)

    @torch.no_grad()
    def sample_data(self, n: int, *, generator: torch.Generator | None = None) -> Tensor:
        """``n`` data points from the generative process: (n, D)."""
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=self.W.dtype)
        noise = torch.randn(n, self.data_dim, generator=generator, dtype=self.W.dtype)
        return self.decode(z) + self.decoder_logvar.exp().sqrt() * noise

    # ------------------------------------------------------------------ the VAE interface

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``q(z|x)``: the exact posterior moved by ``shift`` (mean) and ``widen`` (log var)."""
        mu, logvar = self.posterior(x)
        return mu + self.shift, logvar + self.widen

    def decode(self, z: Tensor) -> Tensor:
        """The mean of ``p(x|z)``: z (N, Z) -> ``W z + b`` (N, D)."""
        return z @ self.W.T + self.b
