"""vae_edu.estimators: the score-function and reparameterised gradients of
E_q log p(x|z) against the closed form of the linear-Gaussian model."""

from __future__ import annotations

import pytest
import torch

from vae_edu.estimators import (
    ESTIMATORS,
    estimator_statistics,
    gradient_samples,
    standard_error,
)
from vae_edu.models import VAE, LinearGaussianVAE


def toy_and_data():
    toy = LinearGaussianVAE(data_dim=5, latent_dim=2, sigma=0.5, shift=0.6, widen=-0.8)
    x = toy.sample_data(3, generator=torch.Generator().manual_seed(0))
    return toy, x


def exact_gradient(toy, x):
    """d/d(mu, logvar) of the closed-form E_q log p(x|z), by autograd: (B, 2Z)."""
    mu, logvar = (t.detach().clone().requires_grad_(True) for t in toy.encode(x))
    total = toy.expected_log_likelihood(x, mu, logvar).sum()  # images are independent
    return torch.cat(torch.autograd.grad(total, [mu, logvar]), dim=1)


@pytest.fixture(scope="module")
def toy_stats():
    toy, x = toy_and_data()
    return toy, x, estimator_statistics(toy, x, n_samples=20_000, seed=0)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_every_estimator_is_unbiased_against_the_closed_form_gradient(toy_stats, name):
    toy, x, stats = toy_stats
    exact = exact_gradient(toy, x)
    z_scores = (stats[name]["mean"] - exact) / standard_error(stats, name)
    assert z_scores.abs().max() < 4.5, (name, z_scores)


def test_the_exact_gradient_by_hand():
    # d/dmu E log N(x | W z + b, s^2) = W^T (x - W mu - b) / s^2;
    # d/dlogvar = -|W_j|^2 var_j / (2 s^2)
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    s2 = toy.decoder_logvar.exp()
    by_hand = torch.cat([(x - mu @ toy.W.T - toy.b) @ toy.W / s2,
                         -(toy.W**2).sum(0) * logvar.exp() / (2 * s2)], dim=1)
    assert torch.allclose(by_hand, exact_gradient(toy, x), atol=1e-10)


def test_the_reparameterised_estimator_has_the_smallest_variance_on_the_toy(toy_stats):
    _, _, stats = toy_stats
    trace = {name: stats[name]["var"].sum(1) for name in ESTIMATORS}
    assert (trace["reparameterised"] < trace["score_baseline"]).all()
    assert (trace["score_baseline"] < trace["score"]).all()


def test_the_variance_is_that_of_the_per_sample_gradients():
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    g = gradient_samples(toy, x, mu, logvar, 4000, estimator="reparameterised",
                         generator=torch.Generator().manual_seed(1))  # (N, B, 2Z)
    stats = estimator_statistics(toy, x, n_samples=4000, chunk=1000, seed=0)
    assert g.shape == (4000, 3, 4)
    # the same distribution, other draws: variances agree to Monte Carlo error (~2 %)
    ratio = stats["reparameterised"]["var"] / g.var(0)
    assert ((ratio > 0.85) & (ratio < 1.15)).all(), ratio


def test_the_reparameterised_gradient_by_hand_on_a_vae():
    torch.manual_seed(0)
    model = VAE(784, 16, 3)
    x = torch.rand(2, 1, 28, 28).round()
    mu, logvar = model.encode(x)
    g = gradient_samples(model, x, mu, logvar, 5, estimator="reparameterised",
                         generator=torch.Generator().manual_seed(0))
    eps = torch.randn((5, 2, 3), generator=torch.Generator().manual_seed(0))
    m, lv = mu.detach().requires_grad_(True), logvar.detach().requires_grad_(True)
    z = m + torch.exp(0.5 * lv) * eps
    logp = model.log_likelihood(x, model.decode(z.reshape(-1, 3)).reshape(5, 2, 784))
    for s in range(5):
        gm, gl = torch.autograd.grad(logp[s].sum(), [m, lv], retain_graph=True)
        assert torch.allclose(g[s], torch.cat([gm, gl], 1), atol=1e-4)
    assert all(p.grad is None for p in model.parameters())


def test_bad_arguments_say_what_is_wrong():
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    with pytest.raises(ValueError, match="estimator must be one of"):
        gradient_samples(toy, x, mu, logvar, 3, estimator="reinforce")
    with pytest.raises(ValueError, match="pass baseline"):
        gradient_samples(toy, x, mu, logvar, 3, estimator="score_baseline")
    with pytest.raises(ValueError, match="shape"):
        gradient_samples(toy, x, mu[:2], logvar[:2], 3, estimator="score")
    with pytest.raises(ValueError, match=">= 2"):
        estimator_statistics(toy, x, n_samples=1)
    with pytest.raises(TypeError, match="expected a VAE"):
        estimator_statistics(torch.nn.Linear(2, 2), x)


def test_the_baseline_and_its_spread_match_the_closed_form_on_the_toy():
    # log p(x|z) = -|x - W z - b|^2 / (2 s^2) + const with z = mu + sd * eps: with
    # m = x - W mu - b and A = W diag(sd), |m - A eps|^2 has mean |m|^2 + tr(A^T A) and
    # variance 4 m^T A A^T m + 2 tr((A^T A)^2)
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    stats = estimator_statistics(toy, x, n_samples=2, n_baseline=20_000, seed=3)
    s2 = toy.decoder_logvar.exp().double()
    m = (x - mu @ toy.W.T - toy.b).double()
    a = toy.W.double()[None] * (0.5 * logvar).exp().double()[:, None, :]  # (B, D, Z)
    ata = a.transpose(1, 2) @ a  # (B, Z, Z)
    am = (m[:, None, :] @ a).squeeze(1)  # (B, Z): A^T m
    sd = ((4 * (am**2).sum(1) + 2 * (ata @ ata).diagonal(dim1=1, dim2=2).sum(1)) ** 0.5
          / (2 * s2))
    assert stats["baseline_sd"].shape == (3,)
    assert torch.allclose(stats["baseline_sd"], sd, rtol=0.05), (stats["baseline_sd"], sd)
    expected = toy.expected_log_likelihood(x, mu, logvar).double()
    assert ((stats["baseline"] - expected).abs() < 5 * sd / 20_000**0.5).all()

