"""The learned conditional prior p(z | y) of the CVAE (Sohn et al. 2015): its KL against
Monte Carlo, its importance weights, its samples; the standard prior unchanged."""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.evaluate import iwae_nll, negative_elbo
from vae_edu.losses import kl_std_normal, log_normal
from vae_edu.models import CVAE, ConvCVAE
from vae_edu.train import fit


def learned(seed: int = 0, y_dim: int = 6, z: int = 3) -> CVAE:
    torch.manual_seed(seed)
    model = CVAE(y_dim, z, hidden_dim=32, prior="learned").eval()
    with torch.no_grad():  # a prior far from N(0, I), so that the test means something
        model.prior_net[-1].bias.copy_(torch.linspace(-1.0, 1.0, 2 * z))
    return model


def data(n: int = 5, y_dim: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 784, generator=g), torch.randn(n, y_dim, generator=g)


def test_kl_of_the_learned_prior_matches_monte_carlo():
    model = learned()
    x, y = data()
    with torch.no_grad():
        _, kl = model.elbo_terms(x, y)
        mu, logvar = model.encode(x, y)
        mu_p, logvar_p = model.prior_params(y)
        g = torch.Generator().manual_seed(1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(200_000, *mu.shape, generator=g)
        mc = (log_normal(z, mu, logvar) - log_normal(z, mu_p, logvar_p))  # (K, B)
    se = mc.std(0) / math.sqrt(len(mc))
    assert (kl - mc.mean(0)).abs().max() < 4 * se.max() + 1e-4
    assert (mu_p.abs() > 0.05).any()  # really not N(0, I)


def test_standard_prior_is_n01_and_leaves_the_old_numbers():
    torch.manual_seed(0)
    model = CVAE(6, 3, hidden_dim=32).eval()
    x, y = data()
    mu_p, logvar_p = model.prior_params(y)
    assert torch.equal(mu_p, torch.zeros(5, 3)) and torch.equal(logvar_p, torch.zeros(5, 3))
    _, kl = model.elbo_terms(x, y)
    assert torch.equal(kl, kl_std_normal(*model.encode(x, y)))
    assert model.prior_net is None and "prior='standard'" in repr(model)
    eps = torch.randn(4, 3)
    assert torch.equal(model.latent_from_noise(eps, y[:1]), eps)


def test_log_weights_average_to_the_elbo_and_iwae_is_above_it():
    model = learned(2)
    x, y = data(seed=3)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        lw = model.log_weights(x, y, k=20_000, generator=g)  # (k, B)
        recon, kl = model.elbo_terms(x, y, n_samples=20_000, generator=g)
    assert torch.allclose(lw.mean(0), -(recon + kl), rtol=0, atol=0.5)
    nll = iwae_nll(model, x, y, k=2000, generator=torch.Generator().manual_seed(0))
    assert (nll <= recon + kl + 0.5).all()  # -IWAE_k <= -ELBO (in expectation; margin)


def test_samples_follow_the_prior_of_their_condition():
    model = learned(4)
    y = torch.randn(1, 6)
    eps = torch.randn(100_000, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = model.latent_from_noise(eps, y)
        mu_p, logvar_p = model.prior_params(y)
    assert torch.allclose(z.mean(0), mu_p[0], atol=0.02)
    assert torch.allclose(z.var(0), logvar_p[0].exp(), rtol=0.03)
    images = model.sample(3, y, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 28, 28)


def test_learned_prior_trains_and_evaluates(tmp_path):
    torch.manual_seed(0)
    x = (torch.rand(64, 1, 28, 28) > 0.7).float()
    y = torch.randn(64, 4)
    model = CVAE(4, 2, hidden_dim=16, prior="learned")
    before = negative_elbo(model, (x, y))["loss"]
    from vae_edu.data import Batches

    fit(model, Batches(x, y, batch_size=16), epochs=3, verbose=False, progress=False, lr=1e-2)
    assert negative_elbo(model, (x, y))["loss"] < before
    assert ConvCVAE(4, 2, channels=(4, 8), prior="learned").prior_params(y).__len__() == 2


def test_bad_prior_is_one_clear_error():
    with pytest.raises(ValueError, match="prior must be one of"):
        CVAE(10, 2, prior="gaussian")
