"""Tests for vae_edu.losses: each compares with an independent computation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Bernoulli, Normal, kl_divergence

from vae_edu import losses as L


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _std_normal_kl_reference(mu, logvar):
    """KL via torch.distributions, with the std derived from logvar = log(sigma^2)."""
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    return kl_divergence(q, p).sum(-1)


# ---------------------------------------------------------------------------
# KL divergences
# ---------------------------------------------------------------------------


def test_kl_std_normal_matches_monte_carlo():
    mu = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.7]], dtype=torch.float64)
    logvar = torch.tensor([[-1.0, 0.5, 0.0], [1.2, -2.0, 0.3]], dtype=torch.float64)
    n = 200_000
    gen = torch.Generator().manual_seed(1)
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn((n, *mu.shape), generator=gen, dtype=torch.float64)
    # log q and log p written out here independently of vae_edu.losses
    log_q = (-0.5 * math.log(2 * math.pi) - torch.log(std) - 0.5 * ((z - mu) / std) ** 2).sum(-1)
    log_p = (-0.5 * math.log(2 * math.pi) - 0.5 * z**2).sum(-1)
    diff = log_q - log_p  # (n, B)
    mc = diff.mean(0)
    se = diff.std(0) / math.sqrt(n)
    kl = L.kl_std_normal(mu, logvar)
    assert kl.shape == (2,)
    assert torch.all((kl - mc).abs() < 5 * se), (kl, mc, se)


def test_kl_normal_against_std_normal_and_monte_carlo():
    mu_q = torch.randn(4, 3, dtype=torch.float64)
    logvar_q = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(
        L.kl_normal(mu_q, logvar_q, 0.0, 0.0), L.kl_std_normal(mu_q, logvar_q)
    )
    torch.testing.assert_close(
        L.kl_normal(mu_q, logvar_q, torch.zeros(3, dtype=torch.float64), torch.zeros(3)),
        L.kl_std_normal(mu_q, logvar_q),
    )
    # non-standard prior vs torch.distributions
    mu_p = torch.randn(4, 3, dtype=torch.float64)
    logvar_p = torch.randn(4, 3, dtype=torch.float64)
    ref = kl_divergence(
        Normal(mu_q, torch.exp(0.5 * logvar_q)), Normal(mu_p, torch.exp(0.5 * logvar_p))
    ).sum(-1)
    torch.testing.assert_close(L.kl_normal(mu_q, logvar_q, mu_p, logvar_p), ref)
    # KL(q || q) = 0
    torch.testing.assert_close(
        L.kl_normal(mu_q, logvar_q, mu_q, logvar_q), torch.zeros(4, dtype=torch.float64)
    )


def test_kl_std_normal_uses_log_variance_not_sigma_or_log_sigma():
    mu = torch.tensor([[0.3, -0.5, 1.0, 0.0]])
    logvar = torch.tensor([[-2.0, -0.5, 1.0, 2.0]])
    expected = _std_normal_kl_reference(mu, logvar)
    torch.testing.assert_close(L.kl_std_normal(mu, logvar), expected)
    # the test is only meaningful if the wrong interpretations give different numbers
    as_sigma = _std_normal_kl_reference(mu, torch.log(logvar.abs()) * 2)  # arg read as sigma
    as_log_sigma = _std_normal_kl_reference(mu, 2 * logvar)  # arg read as log sigma
    assert (as_sigma - expected).abs().item() > 0.5
    assert (as_log_sigma - expected).abs().item() > 0.5
    # a known value: mu = 0, sigma^2 = e  ->  KL = 0.5 * (e - 1 - 1) per dim
    one = L.kl_std_normal(torch.zeros(1, 1), torch.ones(1, 1))
    torch.testing.assert_close(one, torch.tensor([0.5 * (math.e - 2.0)]))


# ---------------------------------------------------------------------------
# Reconstruction terms
# ---------------------------------------------------------------------------


def test_bernoulli_nll_matches_torch_distributions():
    logits = torch.randn(5, 1, 4, 4) * 3
    x_binary = (torch.rand(5, 1, 4, 4) > 0.5).float()
    x_grey = torch.rand(5, 1, 4, 4)
    for x in (x_binary, x_grey):
        ref = -Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(dim=(1, 2, 3))
        out = L.bernoulli_nll(logits, x)
        assert out.shape == (5,)
        torch.testing.assert_close(out, ref)


def test_bernoulli_nll_is_stable_for_large_logits():
    logits = torch.tensor([[200.0, -200.0]])
    x = torch.tensor([[0.0, 1.0]])
    out = L.bernoulli_nll(logits, x)
    torch.testing.assert_close(out, torch.tensor([400.0]))


def test_gaussian_nll_matches_torch_distributions():
    mean = torch.randn(3, 6, dtype=torch.float64)
    x = torch.randn(3, 6, dtype=torch.float64)
    cases = [
        0.0,
        -1.3,
        torch.tensor(0.7, dtype=torch.float64),
        torch.linspace(-1.0, 1.0, 6, dtype=torch.float64),  # one value per dimension
        torch.randn(3, 6, dtype=torch.float64),  # per sample, per dimension
    ]
    for logvar in cases:
        lv = torch.as_tensor(logvar, dtype=torch.float64)
        ref = -Normal(mean, torch.exp(0.5 * lv)).log_prob(x).sum(-1)
        out = L.gaussian_nll(mean, x, logvar)
        assert out.shape == (3,)
        torch.testing.assert_close(out, ref)
    # default is unit variance
    torch.testing.assert_close(L.gaussian_nll(mean, x), -Normal(mean, 1.0).log_prob(x).sum(-1))


def test_gaussian_nll_from_mse_equals_gaussian_nll():
    mean = torch.randn(4, 1, 5, 5, dtype=torch.float64)
    x = torch.rand(4, 1, 5, 5, dtype=torch.float64)
    mse_sum = ((x - mean) ** 2).sum(dim=(1, 2, 3))
    for sigma in (0.1, 1.0, 2.5):
        out = L.gaussian_nll_from_mse(mse_sum, 25, sigma)
        ref = L.gaussian_nll(mean, x, logvar=2 * math.log(sigma))
        torch.testing.assert_close(out, ref)
    # sigma as a (learnable) tensor: gradient reaches it
    sigma = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    L.gaussian_nll_from_mse(mse_sum, 25, sigma).sum().backward()
    assert sigma.grad is not None and sigma.grad.abs().item() > 0
    with pytest.raises(ValueError, match="sigma must be > 0"):
        L.gaussian_nll_from_mse(mse_sum, 25, 0.0)


def test_reduction_convention_per_sample_sums_on_the_same_scale():
    logits = torch.randn(3, 10)
    x = torch.rand(3, 10)
    # doubling the number of pixels doubles the NLL (sum, not mean, over pixels)
    torch.testing.assert_close(
        L.bernoulli_nll(torch.cat([logits, logits], 1), torch.cat([x, x], 1)),
        2 * L.bernoulli_nll(logits, x),
    )
    mean = torch.randn(3, 10)
    torch.testing.assert_close(
        L.gaussian_nll(torch.cat([mean, mean], 1), torch.cat([x, x], 1)),
        2 * L.gaussian_nll(mean, x),
    )
    # doubling the number of latent dims doubles the KL (sum, not mean, over latents)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    torch.testing.assert_close(
        L.kl_std_normal(torch.cat([mu, mu], 1), torch.cat([logvar, logvar], 1)),
        2 * L.kl_std_normal(mu, logvar),
    )
    # batch mean of per-sample values == the classic PyTorch VAE example's sums / B
    bce_sum = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kld_sum = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    torch.testing.assert_close(L.bernoulli_nll(logits, x).mean(), bce_sum / 3)
    torch.testing.assert_close(L.kl_std_normal(mu, logvar).mean(), kld_sum / 3)


# ---------------------------------------------------------------------------
# Log densities, reparameterisation, IWAE
# ---------------------------------------------------------------------------


def test_log_normal_sums_over_last_dim_and_broadcasts_over_samples():
    mu = torch.randn(3, 4, dtype=torch.float64)
    logvar = torch.randn(3, 4, dtype=torch.float64)
    z = torch.randn(5, 3, 4, dtype=torch.float64)  # (K, B, Z)
    out = L.log_normal(z, mu, logvar)
    assert out.shape == (5, 3)
    ref = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(L.log_std_normal(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    torch.testing.assert_close(L.log_std_normal(z), L.log_normal(z, torch.zeros(4), 0.0))


def test_reparameterize_gradients_flow_to_mu_and_logvar():
    mu = torch.randn(4, 3, requires_grad=True)
    logvar = torch.randn(4, 3, requires_grad=True)
    z = L.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(4, 3))
    eps = (z.detach() - mu.detach()) / torch.exp(0.5 * logvar.detach())
    # dz/dlogvar = 0.5 * sigma * eps
    torch.testing.assert_close(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)
    assert (logvar.grad.abs() > 0).all()


def test_reparameterize_statistics_shapes_and_generator():
    mu = torch.tensor([1.0, -2.0, 0.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, 2 * math.log(3.0), 2 * math.log(0.1)], dtype=torch.float64)
    n = 100_000
    z = L.reparameterize(mu, logvar, n_samples=n, generator=torch.Generator().manual_seed(0))
    assert z.shape == (n, 3)
    sigma = torch.tensor([1.0, 3.0, 0.1], dtype=torch.float64)
    # mean within 5 standard errors, std within 2 %
    assert ((z.mean(0) - mu).abs() < 5 * sigma / math.sqrt(n)).all()
    assert ((z.std(0) / sigma - 1).abs() < 0.02).all()

    mu2, logvar2 = torch.zeros(2, 5), torch.zeros(2, 5)
    assert L.reparameterize(mu2, logvar2).shape == (2, 5)
    assert L.reparameterize(mu2, logvar2, n_samples=7).shape == (7, 2, 5)
    a = L.reparameterize(mu2, logvar2, generator=torch.Generator().manual_seed(42))
    b = L.reparameterize(mu2, logvar2, generator=torch.Generator().manual_seed(42))
    c = L.reparameterize(mu2, logvar2, generator=torch.Generator().manual_seed(43))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    with pytest.raises(ValueError, match="n_samples"):
        L.reparameterize(mu2, logvar2, n_samples=0)


def test_iwae_bound():
    lw = torch.randn(8, 5, dtype=torch.float64) * 2
    out = L.iwae_bound(lw)
    assert out.shape == (5,)
    torch.testing.assert_close(out, torch.log(torch.exp(lw).mean(0)))
    # Jensen: IWAE >= ELBO (mean of the log weights)
    assert (out >= lw.mean(0) - 1e-12).all()
    # K = 1: the bound is the log weight itself
    torch.testing.assert_close(L.iwae_bound(lw[:1]), lw[0])
    # stable for very negative log weights (exp underflows to 0 there)
    noise = torch.randn(8, 5, dtype=torch.float64)
    far = L.iwae_bound(-1e4 + noise)
    assert torch.isfinite(far).all()
    torch.testing.assert_close(far, -1e4 + torch.log(torch.exp(noise).mean(0)))
    far32 = L.iwae_bound((-1e4 + noise).float())
    assert torch.isfinite(far32).all()


# ---------------------------------------------------------------------------
# Sparsity penalties
# ---------------------------------------------------------------------------


def test_sparse_kl_penalty_averages_over_the_batch():
    # 4 samples, 2 units: batch means (0.25, 0.5) differ from unit (row) means
    h = torch.tensor([[0.1, 0.9], [0.2, 0.5], [0.3, 0.4], [0.4, 0.2]], dtype=torch.float64)
    rho = 0.1
    rho_hat = [0.25, 0.5]
    torch.testing.assert_close(L.mean_activation(h), torch.tensor(rho_hat, dtype=torch.float64))

    def kl(r, q):
        return r * math.log(r / q) + (1 - r) * math.log((1 - r) / (1 - q))

    expected = sum(kl(rho, q) for q in rho_hat)
    out = L.sparse_kl_penalty(h, rho)
    assert out.dim() == 0
    assert out.item() == pytest.approx(expected, rel=1e-10)
    wrong = sum(kl(rho, q) for q in h.mean(1).tolist())  # averaging over units instead
    assert abs(wrong - expected) > 0.1


def test_sparse_kl_penalty_zero_at_target_and_clamped():
    rho = 0.05
    # every unit averages exactly rho over the batch
    h = torch.tensor([[rho + 0.02, rho - 0.01, rho], [rho - 0.02, rho + 0.01, rho]])
    assert L.sparse_kl_penalty(h, rho).item() == pytest.approx(0.0, abs=1e-6)
    # positive elsewhere, finite when a unit is dead or saturated
    assert L.sparse_kl_penalty(torch.full((3, 2), 0.5), rho).item() > 0
    dead = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    assert torch.isfinite(L.sparse_kl_penalty(dead, rho))
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"rho must be in \(0, 1\)"):
            L.sparse_kl_penalty(h, bad)
    with pytest.raises(ValueError, match="sigmoid"):
        L.sparse_kl_penalty(torch.tensor([[2.0, 0.0]]), rho)


def test_l1_activity_penalty_sums_units_averages_batch():
    h = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, -3.0]])
    # sample sums: 3 and 4 -> mean 3.5
    out = L.l1_activity_penalty(h)
    assert out.dim() == 0
    assert out.item() == pytest.approx(3.5)


# ---------------------------------------------------------------------------
# Contractive penalty
# ---------------------------------------------------------------------------


def _jacobian_penalty_loop(encoder, x):
    """Reference: per-sample Jacobian with torch.autograd.functional, in a plain loop."""
    total = 0.0
    for i in range(x.shape[0]):
        jac = torch.autograd.functional.jacobian(lambda v: encoder(v.unsqueeze(0))[0], x[i])
        total = total + (jac**2).sum()
    return total / x.shape[0]


def test_contractive_closed_form_matches_per_sample_jacobian():
    layer = nn.Linear(6, 4).double()

    def encoder(v):
        return torch.sigmoid(layer(v))

    x = torch.randn(5, 6, dtype=torch.float64)
    closed = L.contractive_penalty_sigmoid(encoder(x), layer.weight)
    ref = _jacobian_penalty_loop(encoder, x)
    assert closed.dim() == 0
    torch.testing.assert_close(closed, ref)
    auto = L.contractive_penalty_autograd(encoder, x)
    torch.testing.assert_close(auto, closed)


def test_encoder_jacobian_matches_per_sample_autograd():
    torch.manual_seed(2)
    mlp = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    jac = L.encoder_jacobian(mlp, x)
    assert jac.shape == (4, 3, 5)
    for b in range(4):
        ref = torch.autograd.functional.jacobian(lambda v: mlp(v.unsqueeze(0))[0], x[b])
        torch.testing.assert_close(jac[b], ref)
    # rows are outputs, columns inputs: a transposed Jacobian would fail here
    linear = nn.Linear(5, 3).double()
    torch.testing.assert_close(L.encoder_jacobian(linear, x)[0], linear.weight)


def test_contractive_closed_form_hand_computed():
    w = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # squared row norms 5 and 9
    h = torch.tensor([[0.5, 0.5], [0.75, 0.25]])  # slopes h(1-h): 0.25 and 0.1875
    # sample 1: 0.25^2 * (5 + 9) = 0.875; sample 2: 0.1875^2 * 14 = 0.4921875
    out = L.contractive_penalty_sigmoid(h, w)
    assert out.item() == pytest.approx((0.875 + 0.4921875) / 2)
    # the wrong variants give different numbers
    assert out.item() != pytest.approx((0.25 * 14 + 0.1875 * 14) / 2)  # slope unsquared
    assert out.item() != pytest.approx((0.0625 * 18 + 0.03515625 * 18) / 2)  # (sum W)^2
    # the same through the exact Jacobian, with a layer that produces this h at x = 0
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(torch.tensor([0.0, 0.0]))
    x0 = torch.zeros(1, 2)
    auto = L.contractive_penalty_autograd(lambda v: torch.sigmoid(layer(v)), x0)
    assert auto.item() == pytest.approx(0.875)


def test_contractive_autograd_general_encoder_and_differentiable():
    torch.manual_seed(1)
    mlp = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Sigmoid()).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    torch.testing.assert_close(
        L.contractive_penalty_autograd(mlp, x), _jacobian_penalty_loop(mlp, x)
    )
    # gradients w.r.t. parameters match those of the closed form for a sigmoid layer
    layer = nn.Linear(5, 3).double()

    def encoder(v):
        return torch.sigmoid(layer(v))

    g_auto = torch.autograd.grad(L.contractive_penalty_autograd(encoder, x), layer.weight)[0]
    g_closed = torch.autograd.grad(
        L.contractive_penalty_sigmoid(encoder(x), layer.weight), layer.weight
    )[0]
    assert g_auto.abs().sum() > 0
    torch.testing.assert_close(g_auto, g_closed)


# ---------------------------------------------------------------------------
# Bad inputs
# ---------------------------------------------------------------------------


def test_bernoulli_nll_bad_inputs():
    logits = torch.zeros(128, 784)
    with pytest.raises(
        ValueError,
        match=r"bernoulli_nll: logits have shape \(128, 784\) but x has shape "
        r"\(128, 1, 28, 28\); reshape x with x\.flatten\(1\)",
    ):
        L.bernoulli_nll(logits, torch.rand(128, 1, 28, 28))
    with pytest.raises(ValueError, match="batch sizes differ"):
        L.bernoulli_nll(logits, torch.rand(64, 784))
    with pytest.raises(TypeError, match=r"bernoulli_nll: x must be .*uint8.*x\.float\(\)"):
        L.bernoulli_nll(logits, torch.randint(0, 256, (128, 784), dtype=torch.uint8))
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        L.bernoulli_nll(logits, torch.randint(0, 2, (128, 784)))
    x255 = torch.zeros(128, 784)
    x255[0, 0] = 255.0
    with pytest.raises(
        ValueError,
        match=r"bernoulli_nll: x must be floats in \[0, 1\], got values in \[0, 255\]; "
        r"divide by 255",
    ):
        L.bernoulli_nll(logits, x255)
    with pytest.raises(ValueError, match=r"got values in \[-0\.5, .*standardise"):
        L.bernoulli_nll(torch.zeros(1, 2), torch.tensor([[-0.5, 0.5]]))
    # validate=False skips the checks
    L.bernoulli_nll(logits, x255, validate=False)


def test_gaussian_nll_and_check_same_shape_bad_inputs():
    with pytest.raises(ValueError, match=r"gaussian_nll: mean has shape \(4, 10\) but x"):
        L.gaussian_nll(torch.zeros(4, 10), torch.zeros(4, 12))
    with pytest.raises(TypeError, match=r"x\.float\(\)"):
        L.gaussian_nll(torch.zeros(4, 10), torch.zeros(4, 10, dtype=torch.int64))
    with pytest.raises(ValueError, match="logvar has shape"):
        L.gaussian_nll(torch.zeros(4, 10), torch.zeros(4, 10), torch.zeros(3))
    with pytest.raises(ValueError, match=r"kl_std_normal: mu has shape \(2, 3\)"):
        L.kl_std_normal(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"^a has shape \(2,\) but b has shape \(2, 1\)"):
        L.check_same_shape(torch.zeros(2), torch.zeros(2, 1))
    L.check_same_shape(torch.zeros(2, 3), torch.ones(2, 3), ("p", "q"))


def test_bernoulli_nll_floor_is_the_minimum_over_logits():
    """The floor is the cross-entropy at sigmoid(logits) = x, and no logits go below it."""
    torch.manual_seed(0)
    x = torch.rand(16, 784, dtype=torch.float64)
    x[:, :100] = (x[:, :100] > 0.5).double()  # binary pixels cost 0 at the floor
    floor = L.bernoulli_nll_floor(x)
    at_x = L.bernoulli_nll(torch.logit(x.clamp(1e-12, 1 - 1e-12)), x)
    torch.testing.assert_close(floor, at_x, atol=1e-6, rtol=0)
    for _ in range(5):
        logits = torch.logit(x.clamp(1e-12, 1 - 1e-12)) + 0.3 * torch.randn_like(x)
        assert (L.bernoulli_nll(logits, x) >= floor - 1e-9).all()
    # the gradient of the cross-entropy in the logits vanishes at the floor
    logits = torch.logit(x[:, 100:]).requires_grad_()
    L.bernoulli_nll(logits, x[:, 100:]).sum().backward()
    assert logits.grad.abs().max() < 1e-9


def test_bernoulli_nll_floor_is_zero_on_binary_images_and_checks_its_input():
    x = (torch.rand(4, 1, 28, 28) > 0.5).float()
    assert torch.equal(L.bernoulli_nll_floor(x), torch.zeros(4))
    assert L.bernoulli_nll_floor(torch.full((2, 784), 0.5)).allclose(
        torch.full((2,), 784 * math.log(2)))
    with pytest.raises(ValueError, match="bernoulli_nll_floor"):
        L.bernoulli_nll_floor(torch.full((2, 3), 1.5))
    with pytest.raises(TypeError, match="bernoulli_nll_floor"):
        L.bernoulli_nll_floor(torch.ones(2, 3, dtype=torch.long))
