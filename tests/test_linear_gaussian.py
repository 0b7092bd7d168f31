"""The linear-Gaussian VAE: its exact evidence, posterior and expected log-likelihood.

Each closed form is checked against an independent computation: numerical integration
over z, Bayes' rule evaluated pointwise, and Monte Carlo.
"""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.losses import kl_normal, kl_std_normal, log_normal
from vae_edu.models.linear_gaussian import LinearGaussianVAE


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_evidence_matches_numerical_integration_over_z():
    model = LinearGaussianVAE(4, 2, sigma=0.8)
    x = model.sample_data(3, generator=gen(1))
    grid = torch.linspace(-7, 7, 701, dtype=torch.float64)
    z = torch.cartesian_prod(grid, grid)  # (701^2, 2)
    step = (grid[1] - grid[0]) ** 2
    for xb, exact in zip(x, model.log_evidence(x), strict=True):
        log_joint = model.log_likelihood(xb.expand(len(z), -1), model.decode(z))
        log_joint = log_joint + log_normal(z, torch.zeros(2, dtype=z.dtype), 0.0)
        numeric = torch.logsumexp(log_joint, dim=0) + step.log()
        assert numeric.item() == pytest.approx(exact.item(), abs=1e-6)


def test_posterior_is_bayes_rule_pointwise():
    model = LinearGaussianVAE(5, 3, sigma=0.5, seed=2)
    x = model.sample_data(4, generator=gen(0))
    mu, logvar = model.posterior(x)
    z = torch.randn(6, 4, 3, generator=gen(1), dtype=torch.float64)
    bayes = (
        model.log_likelihood(x, model.decode(z.reshape(-1, 3)).reshape(6, 4, 5))
        + log_normal(z, torch.zeros(3, dtype=z.dtype), 0.0)
        - model.log_evidence(x)
    )
    torch.testing.assert_close(log_normal(z, mu, logvar), bayes)


def test_expected_log_likelihood_matches_monte_carlo():
    model = LinearGaussianVAE(5, 2, sigma=0.5)
    x = model.sample_data(3, generator=gen(2))
    mu, logvar = model.posterior(x)
    mu, logvar = mu + 0.3, logvar - 0.4  # any Gaussian q, not only the posterior
    closed = model.expected_log_likelihood(x, mu, logvar)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 3, 2, generator=gen(3), dtype=mu.dtype)
    mc = model.log_likelihood(x, model.decode(z.reshape(-1, 2)).reshape(200_000, 3, 5)).mean(0)
    torch.testing.assert_close(closed, mc, atol=5e-3, rtol=0)


@pytest.mark.parametrize(("shift", "widen"), [(0.0, 0.0), (0.4, 0.0), (0.0, -1.0), (-0.3, 0.8)])
def test_log_evidence_is_elbo_plus_kl_to_posterior(shift, widen):
    model = LinearGaussianVAE(5, 2, sigma=0.5, shift=shift, widen=widen)
    x = model.sample_data(4, generator=gen(4))
    mu, logvar = model.encode(x)
    elbo = model.expected_log_likelihood(x, mu, logvar) - kl_std_normal(mu, logvar)
    gap = kl_normal(mu, logvar, *model.posterior(x))
    torch.testing.assert_close(elbo + gap, model.log_evidence(x), atol=1e-12, rtol=0)
    assert (gap >= 0).all() and (gap.max() > 1e-3) == (shift != 0 or widen != 0)


def test_posterior_covariance_is_diagonal_so_a_diagonal_q_can_match_it():
    model = LinearGaussianVAE(6, 3, scales=(3.0, 1.0, 0.5))
    gram = model.W.T @ model.W
    torch.testing.assert_close(gram, torch.diag(torch.tensor([9.0, 1.0, 0.25], dtype=gram.dtype)))


def test_sample_data_has_the_evidence_covariance():
    model = LinearGaussianVAE(3, 2, sigma=0.5)
    x = model.sample_data(200_000, generator=gen(5))
    torch.testing.assert_close(x.mean(0), model.b, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), model.evidence_covariance(), atol=0.03, rtol=0)


@pytest.mark.parametrize("kwargs", [dict(data_dim=2, latent_dim=3), dict(scales=(1.0,)),
                                    dict(scales=(1.0, -1.0)), dict(sigma=0.0)])
def test_bad_arguments_raise_clear_errors(kwargs):
    with pytest.raises(ValueError, match="latent_dim|scales|sigma"):
        LinearGaussianVAE(**kwargs)


def test_wrong_data_shape_is_refused():
    with pytest.raises(ValueError, match=r"\(B, 5\)"):
        LinearGaussianVAE().log_evidence(torch.zeros(3, 4))


def test_evidence_constant_is_in_nats():
    model = LinearGaussianVAE(1, 1, sigma=1.0, scales=(1.0,))
    x = model.b.reshape(1, 1)  # at the mean of N(b, 1 + 1)
    assert model.log_evidence(x).item() == pytest.approx(-0.5 * math.log(2 * math.pi * 2.0))
