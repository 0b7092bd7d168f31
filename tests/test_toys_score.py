"""vae_edu.toys.GaussianMixture: its log density, its score and its smoothing, each checked
against an independent computation (torch.distributions, autograd, Monte Carlo), and
Tweedie's formula E[x | x + sigma eps] = x_tilde + sigma^2 grad log p_sigma(x_tilde), which
lecture 02 uses to read a denoising autoencoder as a score estimator."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from vae_edu.toys import GaussianMixture, ring_of_gaussians

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _uneven() -> GaussianMixture:
    """Three components in 2-D with different weights and widths."""
    return GaussianMixture.create([[0.0, 0.0], [1.5, -0.5], [-1.0, 2.0]],
                                  [0.3, 0.5, 0.2], [0.5, 0.3, 0.2])


def _reference(mix: GaussianMixture) -> D.Distribution:
    comps = D.Independent(D.Normal(mix.means, mix.stds[:, None].expand_as(mix.means)), 1)
    return D.MixtureSameFamily(D.Categorical(probs=mix.weights), comps)


def _points(n=200, seed=0) -> torch.Tensor:
    return 3 * torch.randn(n, 2, generator=torch.Generator().manual_seed(seed),
                           dtype=torch.float64)


@pytest.mark.parametrize("mix", [_uneven(), ring_of_gaussians(8, 1.0, 0.1)], ids=["uneven", "ring"])
def test_log_prob_equals_torch_distributions(mix):
    x = _points()
    assert torch.allclose(mix.log_prob(x), _reference(mix).log_prob(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("sigma", [0.0, 0.1, 0.7])
def test_score_equals_autograd_of_log_prob(sigma):
    mix = _uneven().smoothed(sigma)
    x = _points().requires_grad_(True)
    (grad,) = torch.autograd.grad(mix.log_prob(x).sum(), x)
    assert torch.allclose(mix.score(x), grad, rtol=1e-9, atol=1e-9)


def test_smoothing_is_the_convolution_with_the_noise():
    """p_sigma(y) = E_{x ~ p}[N(y; x, sigma^2 I)], by Monte Carlo over 200k draws of x."""
    mix, sigma = _uneven(), 0.4
    x = mix.sample(200_000, generator=torch.Generator().manual_seed(1)).double()
    y = torch.tensor([[0.0, 0.0], [1.0, 0.5], [-1.0, 1.5], [2.0, -1.0]], dtype=torch.float64)
    kernel = torch.exp(-((y[:, None] - x[None]) ** 2).sum(2) / (2 * sigma**2))
    monte_carlo = kernel.mean(1) / (2 * math.pi * sigma**2)
    exact = mix.smoothed(sigma).log_prob(y).exp()
    assert torch.allclose(monte_carlo, exact, rtol=0.03)


def test_tweedie_posterior_mean_of_the_clean_point():
    """E[x | x_tilde] = x_tilde + sigma^2 score_sigma(x_tilde): the best denoiser in squared
    error, computed here by weighting draws of x with the noise density N(x_tilde; x, sigma^2)."""
    mix, sigma = _uneven(), 0.3
    x = mix.sample(400_000, generator=torch.Generator().manual_seed(2)).double()
    y = torch.tensor([[0.2, 0.1], [0.8, -0.2], [-0.6, 1.2]], dtype=torch.float64)
    w = torch.softmax(-((y[:, None] - x[None]) ** 2).sum(2) / (2 * sigma**2), dim=1)
    posterior_mean = w @ x
    tweedie = y + sigma**2 * mix.smoothed(sigma).score(y)
    assert torch.allclose(posterior_mean, tweedie, atol=0.01)


def test_samples_follow_the_weights_and_the_widths():
    mix = _uneven()
    x = mix.sample(100_000, generator=torch.Generator().manual_seed(3))
    assert x.shape == (100_000, 2) and x.dtype == torch.float32
    mean = (mix.weights[:, None] * mix.means).sum(0)
    assert torch.allclose(x.double().mean(0), mean, atol=0.02)
    nearest = ((x.double()[:, None] - mix.means[None]) ** 2).sum(2).argmin(1)
    share = torch.bincount(nearest, minlength=3).double() / len(x)
    assert torch.allclose(share, mix.weights, atol=0.03)


def test_ring_of_gaussians_puts_its_means_on_the_circle():
    mix = ring_of_gaussians(k=6, radius=2.0, std=0.05)
    assert mix.means.shape == (6, 2)
    assert torch.allclose(mix.means.norm(dim=1), torch.full((6,), 2.0, dtype=torch.float64))
    assert torch.allclose(mix.means[0], torch.tensor([2.0, 0.0], dtype=torch.float64))
    assert torch.allclose(mix.weights, torch.full((6,), 1 / 6, dtype=torch.float64))
    assert torch.allclose(mix.smoothed(0.12).stds, torch.full((6,), 0.13, dtype=torch.float64))


def test_score_points_to_the_mode_near_a_component():
    mix = ring_of_gaussians(k=4, radius=3.0, std=0.2)
    x = torch.tensor([[3.1, 0.05]], dtype=torch.float64)
    expected = (mix.means[0] - x) / 0.2**2
    assert torch.allclose(mix.score(x), expected, rtol=1e-6)


def test_bad_arguments_give_one_clear_message():
    with pytest.raises(ValueError, match=r"means must have shape \(K, D\)"):
        GaussianMixture.create([0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="stds must be finite and > 0"):
        GaussianMixture.create([[0.0], [1.0]], [0.1, 0.0])
    with pytest.raises(ValueError, match="weights must be 2 finite numbers > 0"):
        GaussianMixture.create([[0.0], [1.0]], 0.1, [1.0, -1.0])
    with pytest.raises(ValueError, match=r"x must have shape \(N, 2\)"):
        ring_of_gaussians().score(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="floating-point"):
        ring_of_gaussians().log_prob(torch.zeros(5, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="sigma"):
        ring_of_gaussians().smoothed(-0.1)
