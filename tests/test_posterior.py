"""vae_edu.posterior: per-image optimised q (checked against the exact posterior of the
linear-Gaussian model), the amortisation gap, the aggregate posterior, the bounds."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.losses import kl_std_normal, log_normal
from vae_edu.models import VAE, LinearGaussianVAE
from vae_edu.posterior import (
    aggregate_posterior_log_density,
    aggregate_posterior_sample,
    amortisation_gap,
    bound_estimates,
    elbo_of,
    iwae_of,
    optimise_posterior,
)


def toy_and_data(n=3):
    toy = LinearGaussianVAE(data_dim=5, latent_dim=2, sigma=0.5, shift=0.6, widen=-0.8)
    return toy, toy.sample_data(n, generator=torch.Generator().manual_seed(0))


def closed_form_elbo(toy, x, mu, logvar):
    mu, logvar = mu.double(), logvar.double()
    return toy.expected_log_likelihood(x, mu, logvar) - kl_std_normal(mu, logvar)


def test_the_optimised_q_reaches_the_exact_posterior_and_log_likelihood():
    toy, x = toy_and_data()
    start = closed_form_elbo(toy, x, *toy.encode(x))
    best = optimise_posterior(toy, x, steps=500, lr=0.02, n_samples=8)
    elbo = closed_form_elbo(toy, x, best["mu"], best["logvar"])
    log_px = toy.log_evidence(x)
    assert (log_px - start > 3).all()  # the shifted encoder is far off
    assert ((log_px - elbo).abs() < 5e-3).all(), log_px - elbo
    post_mu, post_logvar = toy.posterior(x)
    assert torch.allclose(best["mu"].double(), post_mu, atol=0.03)
    assert torch.allclose(best["logvar"].double(), post_logvar, atol=0.1)
    assert best["trace"].shape == (500,)


def test_elbo_of_matches_the_closed_form_within_its_monte_carlo_error():
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    mc = elbo_of(toy, x, mu, logvar, n_samples=20_000, chunk=5000)
    exact = closed_form_elbo(toy, x, mu, logvar)
    assert ((mc - exact).abs() < 0.05).all(), mc - exact


def test_the_optimised_elbo_is_at_least_the_encoders_and_below_log_p():
    toy, x = toy_and_data(4)
    gap = amortisation_gap(toy, x, steps=300, lr=0.02, n_eval=4000)
    assert (gap["optimised"] > gap["encoder"]).all()
    # common random numbers: the measured gap is close to the exact one
    exact_encoder = closed_form_elbo(toy, x, *toy.encode(x))
    exact_best = closed_form_elbo(toy, x, gap["mu"], gap["logvar"])
    measured, exact = gap["optimised"] - gap["encoder"], exact_best - exact_encoder
    assert ((measured - exact).abs() < 0.2).all(), (measured, exact)
    assert (exact_best <= toy.log_evidence(x) + 1e-9).all()


def test_on_a_trained_looking_vae_optimising_never_lowers_the_elbo():
    torch.manual_seed(0)
    model = VAE(784, 32, 4)
    x = torch.rand(5, 1, 28, 28).round()
    gap = amortisation_gap(model, x, steps=100, lr=0.05, n_eval=500)
    assert (gap["optimised"] >= gap["encoder"] - 0.5).all()
    assert gap["optimised"].mean() > gap["encoder"].mean()
    assert all(p.grad is None for p in model.parameters())


def test_the_aggregate_posterior_density_is_the_mixture_of_the_encoders_gaussians():
    torch.manual_seed(0)
    model = VAE(784, 16, 2)
    images = torch.rand(7, 1, 28, 28)
    z = torch.randn(11, 2)
    got = aggregate_posterior_log_density(model, images, z, chunk=4)
    mu, logvar = (t.double() for t in model.encode(images))
    by_hand = torch.tensor([
        math.log(sum(math.exp(log_normal(zi.double(), mu[n], logvar[n]).item())
                     for n in range(7)) / 7) for zi in z])
    assert torch.allclose(got, by_hand.double(), atol=1e-6)
    # it integrates to 1 over the plane (grid sum on a wide box)
    u = torch.linspace(-12, 12, 801)
    grid = torch.stack(torch.meshgrid(u, u, indexing="ij"), -1).reshape(-1, 2)
    mass = aggregate_posterior_log_density(model, images, grid).exp().sum() * (u[1] - u[0]) ** 2
    assert abs(mass.item() - 1) < 1e-3


def test_aggregate_posterior_samples_have_the_mixtures_mean_and_variance():
    torch.manual_seed(0)
    model = VAE(784, 16, 2)
    images = torch.rand(5, 1, 28, 28)
    z = aggregate_posterior_sample(model, images, n_per_image=20_000, seed=0)
    assert z.shape == (100_000, 2)
    mu, logvar = (t.detach() for t in model.encode(images))
    mean = mu.mean(0)
    var = (logvar.exp() + mu**2).mean(0) - mean**2  # law of total variance
    assert torch.allclose(z.mean(0), mean, atol=0.02)
    assert torch.allclose(z.var(0), var, rtol=0.03)


def test_bound_estimates_on_the_exact_model():
    toy, x = toy_and_data()
    toy.shift, toy.widen = 0.05, 0.3  # q wider than the posterior: IWAE works well
    out = bound_estimates(toy, x, ks=(1, 10, 1000), n_repeat=4000, seed=0)
    log_px = toy.log_evidence(x)
    exact_elbo = closed_form_elbo(toy, x, *toy.encode(x))
    assert ((out["elbo_mean"] - exact_elbo).abs() < 0.05).all()
    assert ((out["log_weight_mean"] - exact_elbo).abs() < 0.1).all()
    assert ((out["iwae"][1000] - log_px).abs() < 0.05).all()
    assert (out["iwae"][1000] > exact_elbo).all()
    assert set(out) == {"elbo_1", "elbo_mean", "log_weight_mean", "iwae"}


def test_iwae_with_the_exact_posterior_as_proposal_is_log_p_for_every_k():
    # every weight p(x|z) p(z) / p(z|x) equals p(x): no Monte Carlo error at all
    toy, x = toy_and_data()
    post_mu, post_logvar = toy.posterior(x)
    log_px = toy.log_evidence(x)
    for k in (1, 7, 300):
        out = iwae_of(toy, x, post_mu, post_logvar, k=k, chunk=64, seed=k)
        assert out.shape == (3,) and out.dtype == torch.float64
        assert torch.allclose(out, log_px, atol=1e-9), (k, out - log_px)


def test_iwae_of_a_poor_proposal_is_its_elbo_at_k1_and_tightens_with_k():
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)  # shifted and too narrow: a poor proposal
    log_px = toy.log_evidence(x)
    exact_elbo = closed_form_elbo(toy, x, mu, logvar)
    # the mean of many independent IWAE_1 is the ELBO (Monte Carlo, 2000 draws)
    one = torch.stack([iwae_of(toy, x, mu, logvar, k=1, seed=s) for s in range(2000)])
    assert ((one.mean(0) - exact_elbo).abs() < 5 * one.std(0) / math.sqrt(2000)).all()
    tight = iwae_of(toy, x, mu, logvar, k=5000, seed=1)
    assert (tight > exact_elbo + 1).all() and (tight < log_px + 0.05).all()
    # a proposal a little wider than the posterior: IWAE_2000 is within 0.05 of log p(x)
    toy.shift, toy.widen = 0.05, 0.3
    mu, logvar = toy.encode(x)
    ours = iwae_of(toy, x, mu, logvar, k=2000, seed=3)
    assert ((ours - log_px).abs() < 0.05).all()


def test_bad_arguments_say_what_is_wrong():
    toy, x = toy_and_data()
    mu, logvar = toy.encode(x)
    with pytest.raises(ValueError, match="one Gaussian per image"):
        elbo_of(toy, x, mu[:1], logvar[:1])
    with pytest.raises(ValueError, match="one Gaussian per image"):
        iwae_of(toy, x, mu, logvar[:1])
    with pytest.raises(ValueError, match="iwae_of: k"):
        iwae_of(toy, x, mu, logvar, k=0)
    with pytest.raises(ValueError, match="steps"):
        optimise_posterior(toy, x, steps=0)
    with pytest.raises(TypeError, match="expected a VAE"):
        optimise_posterior(torch.nn.Linear(5, 2), x)
    with pytest.raises(ValueError, match="expected z of shape"):
        aggregate_posterior_log_density(toy, x, torch.zeros(3, 5))
    with pytest.raises(TypeError, match="MNISTSplit"):
        aggregate_posterior_sample(toy, "images")
