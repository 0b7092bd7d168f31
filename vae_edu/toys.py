"""Small synthetic data sets whose true distribution is known (for the problem sets).

:func:`two_branch_colours`: a 1-D "grey level" g and a 2-D "colour code" z that is
ambiguous given g: with probability 1/2 z lies on one branch, else on the other, as the
colour of a grey pixel can be red or blue. A model of p(z | g) must be multimodal (a
mixture density network); a regression to the mean falls between the branches.

:class:`GaussianMixture`: an isotropic Gaussian mixture in ``R^D`` whose log density and
score ``grad_x log p(x)`` are known in closed form, also after smoothing with Gaussian
noise (:meth:`GaussianMixture.smoothed`), which for a mixture only widens each component.
Lecture 02 compares the vector field ``r(x) - x`` of a denoising autoencoder with
``sigma^2 grad log p_sigma(x)`` of the smoothed density: by Tweedie's formula the best
denoiser in squared error is ``E[x | x_tilde] = x_tilde + sigma^2 grad log p_sigma(x_tilde)``.
:func:`ring_of_gaussians` is such a mixture with its means on a circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .validation import float_tensor, nonnegative_float, positive_float, positive_int

__all__ = ["GaussianMixture", "ring_of_gaussians", "two_branch_colours"]

#: Standard deviation of the noise around each branch.
BRANCH_NOISE = 0.05


def two_branch_colours(n: int, generator: torch.Generator | None = None):
    """``(g, z)``: ``g: (n, 1)`` uniform in [-1, 1]; ``z: (n, 2)`` on one of two branches,
    ``(g, g^2)`` or ``(-g, 1 - g^2)``, with probability 1/2 each, plus N(0, 0.05^2 I)."""
    n = positive_int(n, "two_branch_colours: n")
    g = 2 * torch.rand(n, 1, generator=generator) - 1
    branch = torch.rand(n, 1, generator=generator) < 0.5
    first = torch.cat([g, g**2], dim=1)
    second = torch.cat([-g, 1 - g**2], dim=1)
    z = torch.where(branch, first, second)
    return g, z + BRANCH_NOISE * torch.randn(n, 2, generator=generator)


# ----------------------------------------------------------------------------- mixtures


@dataclass(frozen=True)
class GaussianMixture:
    """``p(x) = sum_k weights_k N(x; means_k, stds_k^2 I)`` in ``R^D``, float64.

    Attributes:
        means: ``(K, D)`` component means.
        stds: ``(K,)`` standard deviations (one per component, the same in every
            direction; NOT variances).
        weights: ``(K,)`` mixing weights, positive, summing to 1.

    Build one with :meth:`create` (which checks and converts its arguments) or
    :func:`ring_of_gaussians`.
    """

    means: Tensor
    stds: Tensor
    weights: Tensor

    @classmethod
    def create(cls, means, stds, weights=None) -> GaussianMixture:
        """A mixture of ``len(means)`` components; ``stds`` a number or ``(K,)`` values;
        ``weights`` ``(K,)`` positive numbers (normalised here), equal when ``None``."""
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.dim() != 2 or means.shape[0] == 0 or means.shape[1] == 0:
            raise ValueError(
                f"GaussianMixture: means must have shape (K, D) with K, D >= 1, "
                f"got {tuple(means.shape)}"
            )
        k = means.shape[0]
        stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
        if not (torch.isfinite(stds).all() and (stds > 0).all()):
            raise ValueError(f"GaussianMixture: stds must be finite and > 0, got {stds.tolist()}")
        if weights is None:
            weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (k,) or not (torch.isfinite(weights).all() and (weights > 0).all()):
            raise ValueError(
                f"GaussianMixture: weights must be {k} finite numbers > 0, got "
                f"{weights.tolist() if weights.dim() <= 1 else tuple(weights.shape)}"
            )
        return cls(means, stds, weights / weights.sum())

    @property
    def dim(self) -> int:
        """D, the dimension of the space."""
        return self.means.shape[1]

    def smoothed(self, sigma: float) -> GaussianMixture:
        """The density of ``x + sigma * eps``, ``x ~ self``, ``eps ~ N(0, I)``: the same
        mixture with every variance raised by ``sigma^2`` (``sigma = 0``: ``self``)."""
        sigma = nonnegative_float(sigma, "GaussianMixture.smoothed: sigma")
        return GaussianMixture(self.means, (self.stds**2 + sigma**2).sqrt(), self.weights)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws, ``(n, D)`` float32 (components by their weights)."""
        n = positive_int(n, "GaussianMixture.sample: n")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k, None] * eps).float()

    def _checked(self, x, who: str) -> Tensor:
        float_tensor(x, f"GaussianMixture.{who}: x", fix="convert it with x.float()")
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"GaussianMixture.{who}: x must have shape (N, {self.dim}), got {tuple(x.shape)}"
            )
        return x.detach().to(torch.float64) if who == "score" else x.to(torch.float64)

    def _component_log_densities(self, x: Tensor) -> Tensor:
        """``log weights_k + log N(x_n; means_k, stds_k^2 I)``: ``(N, K)``."""
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(dim=2)  # (N, K)
        var = self.stds**2
        log_norm = -0.5 * self.dim * (math.log(2 * math.pi) + var.log())
        return self.weights.log() + log_norm - 0.5 * sq / var

    def log_prob(self, x: Tensor) -> Tensor:
        """``log p(x)``: ``x (N, D)`` -> ``(N,)`` float64 (differentiable in ``x``)."""
        x = self._checked(x, "log_prob")
        return torch.logsumexp(self._component_log_densities(x), dim=1)

    def score(self, x: Tensor) -> Tensor:
        """``grad_x log p(x) = sum_k r_k(x) (means_k - x) / stds_k^2``, with ``r_k(x)``
        the posterior probability of component ``k``: ``x (N, D)`` -> ``(N, D)`` float64."""
        x = self._checked(x, "score")
        resp = torch.softmax(self._component_log_densities(x), dim=1)  # (N, K)
        pull = (self.means[None] - x[:, None, :]) / (self.stds**2)[None, :, None]  # (N, K, D)
        return (resp[:, :, None] * pull).sum(dim=1)


def ring_of_gaussians(k: int = 8, radius: float = 1.0, std: float = 0.1) -> GaussianMixture:
    """``k`` equally weighted 2-D Gaussians of standard deviation ``std``, their means
    equally spaced on a circle of ``radius`` around the origin (the first at angle 0)."""
    k = positive_int(k, "ring_of_gaussians: k")
    radius = positive_float(radius, "ring_of_gaussians: radius")
    std = positive_float(std, "ring_of_gaussians: std")
    angles = 2 * math.pi * torch.arange(k, dtype=torch.float64) / k
    means = radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return GaussianMixture.create(means, std)
