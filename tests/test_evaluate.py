"""vae_edu.evaluate: ELBO and IWAE estimates, reconstruction errors, codes, image grids.

The IWAE estimator is checked against a linear-Gaussian model whose log p(x) is exact.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_edu.data import MNISTSplit, load_mnist
from vae_edu.evaluate import (
    code_accuracy,
    encode_split,
    iwae_nll,
    iwae_nll_images,
    iwae_nll_split,
    latent_traversal,
    manifold_grid,
    negative_elbo,
    pca_reconstruction_sq_error,
    reconstruction_sq_error,
    sample_grid,
)
from vae_edu.losses import iwae_bound, kl_std_normal
from vae_edu.models.cvae import CVAE
from vae_edu.models.linear_gaussian import LinearGaussianVAE
from vae_edu.models.vae import VAE
from vae_edu.train import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=gen(seed))


def small_vae(latent_dim: int = 4, **kwargs) -> VAE:
    return VAE(hidden_dim=32, latent_dim=latent_dim, **kwargs)


# ----------------------------------------------------------------------------- a tractable model

D, SIGMA = 5, 0.5


def linear_gaussian(shift: float = 0.0, widen: float = 0.0) -> LinearGaussianVAE:
    """p(z) = N(0, I), p(x|z) = N(Wz + b, SIGMA^2 I), q = the exact posterior moved away."""
    return LinearGaussianVAE(D, 2, SIGMA, shift=shift, widen=widen)


def linear_gaussian_data(model: LinearGaussianVAE, n: int = 8) -> torch.Tensor:
    g = gen(3)
    z = torch.randn(n, 2, generator=g, dtype=torch.float64)
    return model.decode(z) + SIGMA * torch.randn(n, D, generator=g, dtype=torch.float64)


def test_exact_posterior_gives_constant_log_weights_equal_to_log_px():
    model = linear_gaussian()
    x = linear_gaussian_data(model)
    lw = model.log_weights(x, k=50, generator=gen(0))
    expected = model.log_evidence(x).expand_as(lw)
    torch.testing.assert_close(lw, expected, atol=1e-6, rtol=0)


def test_iwae_with_large_k_approaches_the_exact_log_likelihood():
    model = linear_gaussian(shift=0.2, widen=0.5)  # a poor q: the ELBO is half a nat off
    x = linear_gaussian_data(model)
    exact_nll = -model.log_evidence(x)
    elbo_gap = negative_elbo(model, x, n_samples=2000, generator=gen(1))["loss"] - exact_nll.mean()
    assert elbo_gap > 0.3
    iwae_error = iwae_nll(model, x, k=5000, generator=gen(2)) - exact_nll
    assert iwae_error.abs().max() < 0.06
    assert iwae_error.mean().abs() < 0.02
    split_mean = iwae_nll_split(model, x, k=5000, batch_size=3, generator=gen(4))
    assert split_mean == pytest.approx(exact_nll.mean().item(), abs=0.03)


# ----------------------------------------------------------------------------- negative ELBO


def test_negative_elbo_samples_z():
    model = small_vae()
    x = images(32)
    torch.manual_seed(0)
    first = negative_elbo(model, x, batch_size=10)
    torch.manual_seed(1)
    other = negative_elbo(model, x, batch_size=10)
    torch.manual_seed(0)
    again = negative_elbo(model, x, batch_size=10)
    assert first == again
    assert first["recon"] != other["recon"]
    assert first["kl"] == pytest.approx(other["kl"], rel=1e-6)
    # z = mu instead of a sample gives another (smaller) value
    mu, logvar = model.encode(x)
    at_mu = (-model.log_likelihood(x, model.decode(mu)) + kl_std_normal(mu, logvar)).mean()
    assert abs(first["loss"] - at_mu.item()) > 0.1
    assert model.training  # the mode is restored


def test_negative_elbo_is_the_elbo_whatever_beta():
    model = small_vae(beta=0.1)
    with torch.no_grad():
        model.to_mu_logvar.bias[:4] = 3.0  # a KL of tens of nats
    out = negative_elbo(model, images(16), generator=gen(0))
    assert out["kl"] > 10
    assert out["loss"] == pytest.approx(out["recon"] + out["kl"])


def test_negative_elbo_of_a_cvae_uses_the_labels():
    model = CVAE(latent_dim=3, hidden_dim=16)
    x, y = images(20), torch.arange(20) % 10
    from_split = negative_elbo(model, MNISTSplit(x, y, "test"), batch_size=8, generator=gen(0))
    from_pair = negative_elbo(model, (x, y), batch_size=8, generator=gen(0))
    shuffled = negative_elbo(model, (x, y.flip(0)), batch_size=8, generator=gen(0))
    assert from_split == from_pair
    assert from_split["loss"] != shuffled["loss"]
    with pytest.raises(TypeError, match="conditional"):
        negative_elbo(model, x)


# ----------------------------------------------------------------------------- IWAE


def test_iwae_bound_lies_above_the_elbo_and_grows_with_k():
    model = small_vae()
    x = images(64)
    repeats = range(4)
    nll = {
        k: np.mean([iwae_nll(model, x, k=k, generator=gen(s)).mean().item() for s in repeats])
        for k in (1, 10, 100)
    }
    elbo = negative_elbo(model, x, n_samples=100, generator=gen(9))["loss"]
    assert nll[1] > nll[10] + 1.0  # about 4 nats apart
    assert nll[10] > nll[100]  # about 0.3 nats apart, 5 standard errors
    assert nll[100] < elbo - 1.0


def test_iwae_per_draw_is_jensen_above_the_mean_log_weight():
    model = small_vae()
    x = images(16)
    lw = model.log_weights(x, k=20, generator=gen(5))
    nll = iwae_nll(model, x, k=20, chunk=20, generator=gen(5))
    torch.testing.assert_close(nll, -iwae_bound(lw))
    assert (-nll >= lw.mean(dim=0)).all()


def test_iwae_with_k_1_is_the_negative_one_sample_elbo():
    model = small_vae()
    with torch.no_grad():
        model.to_mu_logvar.bias[:4] = 2.0  # q far from p(z): log p(z) - log q(z) matters
    x = images(16)
    one = iwae_nll(model, x, k=1, generator=gen(6))
    torch.testing.assert_close(one, -model.log_weights(x, k=1, generator=gen(6))[0])
    # in expectation: E[-log w] = recon + KL (closed form)
    draws = -model.log_weights(x[:8], k=1000, generator=gen(7))  # (1000, 8)
    recon, kl = model.elbo_terms(x[:8], n_samples=1000, generator=gen(8))
    stderr = draws.std(dim=0) / math.sqrt(1000)
    assert kl.min() > 5
    assert ((draws.mean(dim=0) - (recon + kl)).abs() < 4 * stderr + 0.05).all()


def test_chunked_iwae_equals_one_logsumexp_over_the_same_draws():
    model = small_vae()
    x = images(8)
    g = gen(11)
    lw = torch.cat([model.log_weights(x, k=m, generator=g) for m in (3, 3, 3, 1)])  # (10, B)
    chunked = iwae_nll(model, x, k=10, chunk=3, generator=gen(11))
    torch.testing.assert_close(chunked, -(torch.logsumexp(lw, 0) - math.log(10)))
    with pytest.raises(ValueError, match="iwae_nll: k must be a positive int, got 0"):
        iwae_nll(model, x, k=0)


# ----------------------------------------------------------------------------- reconstruction


def test_reconstruction_sq_error_is_summed_over_pixels_and_averaged_over_images():
    x = images(10)
    assert reconstruction_sq_error(lambda t: t, x) == 0.0
    half = reconstruction_sq_error(lambda t: torch.full_like(t, 0.5), x, batch_size=3)
    expected = ((x - 0.5) ** 2).sum(dim=(1, 2, 3)).mean().item()
    assert half == pytest.approx(expected, rel=1e-6)
    model = small_vae()
    from_model = reconstruction_sq_error(model, x)
    by_hand = ((model.reconstruct(x) - x) ** 2).sum(dim=(1, 2, 3)).mean().item()
    assert from_model == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ValueError, match="probabilities in"):
        reconstruction_sq_error(lambda t: 10 * t - 5, x)  # logits
    with pytest.raises(ValueError, match="same number of pixels"):
        reconstruction_sq_error(lambda t: t[:, :, :14], x)


def test_pca_error_falls_with_the_number_of_components():
    g = np.random.default_rng(0)
    mixing = g.normal(size=(6, 40))
    train = g.normal(size=(300, 6)) @ mixing + 0.1 * g.normal(size=(300, 40))
    test = g.normal(size=(100, 6)) @ mixing + 0.1 * g.normal(size=(100, 40))
    errors = [pca_reconstruction_sq_error(train, test, n) for n in (1, 3, 6, 20)]
    assert errors[0] > errors[1] > errors[2] > errors[3]
    assert errors[2] == pytest.approx(0.01 * 34, rel=0.2)  # only the noise is left
    with pytest.raises(ValueError, match="flat"):
        pca_reconstruction_sq_error(train, test[:, :10], 3)


# ----------------------------------------------------------------------------- codes


def test_code_accuracy_on_separated_clusters_and_on_random_labels():
    g = np.random.default_rng(0)
    centres = 6.0 * np.eye(3, 4)

    def clusters(n):
        y = g.integers(0, 3, size=n)
        return centres[y] + g.normal(size=(n, 4)), y

    (a, ya), (b, yb) = clusters(150), clusters(150)
    for method in ("knn", "logreg"):
        assert code_accuracy(a, ya, b, yb, method=method) > 0.9
        random_labels = g.integers(0, 3, size=150)
        assert code_accuracy(a, random_labels, b, yb, method=method) < 0.55  # chance: 1/3
    with pytest.raises(ValueError, match="knn"):
        code_accuracy(a, ya, b, yb, method="svm")


def test_encode_split_gives_mu_or_the_code():
    model = small_vae()
    x = images(7)
    codes = encode_split(model, x, batch_size=3)
    torch.testing.assert_close(codes, model.encode(x)[0].detach())

    class TinyAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = torch.nn.Linear(784, 5)

        def encode(self, t):
            return self.enc(t.flatten(1))

    ae = TinyAE()
    torch.testing.assert_close(encode_split(ae, x), ae.encode(x).detach())
    cvae = CVAE(latent_dim=3, hidden_dim=16)
    y = torch.arange(7)
    torch.testing.assert_close(encode_split(cvae, MNISTSplit(x, y)), cvae.encode(x, y)[0].detach())


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_manifold_grid_decodes_a_regular_grid(likelihood):
    model = small_vae(latent_dim=2, likelihood=likelihood)
    grid = manifold_grid(model, n=5, span=2.0)
    assert grid.shape == (25, 1, 28, 28)
    assert grid.min() >= 0 and grid.max() <= 1
    corners = model.decode_images(torch.tensor([[-2.0, 2.0], [2.0, -2.0]]))
    torch.testing.assert_close(grid[[0, 24]], corners)  # top left, bottom right
    with pytest.raises(ValueError, match="2-d latent"):
        manifold_grid(small_vae(latent_dim=3))


def test_latent_traversal_and_sample_grid():
    model = small_vae()
    z0 = torch.randn(4)
    values = torch.linspace(-3, 3, 7)
    row = latent_traversal(model, z0, dim=2, values=values)
    assert row.shape == (7, 1, 28, 28)
    z = z0.repeat(7, 1)
    z[:, 2] = values
    torch.testing.assert_close(row, model.decode_images(z))
    with pytest.raises(ValueError, match="dim"):
        latent_traversal(model, z0, dim=4, values=values)

    a, b = sample_grid(model, 6, generator=gen(0)), sample_grid(model, 6, generator=gen(0))
    assert a.shape == (6, 1, 28, 28) and torch.equal(a, b)
    cvae = CVAE(latent_dim=3, hidden_dim=16)
    by_default = sample_grid(cvae, 12, generator=gen(0))
    torch.testing.assert_close(by_default, cvae.sample(12, torch.arange(12) % 10, generator=gen(0)))


# ----------------------------------------------------------------------------- training


def test_one_epoch_on_the_subset_lowers_the_test_negative_elbo():
    data = load_mnist(device="cpu", quiet=True)
    train, test = data.train.take(2000), data.test.take(500)
    model = VAE(hidden_dim=128, latent_dim=10)
    before = negative_elbo(model, test, generator=gen(0))["loss"]
    fit(model, train, epochs=1, batch_size=64, device="cpu", progress=False, verbose=False)
    after = negative_elbo(model, test, generator=gen(0))["loss"]
    assert after < before - 100  # about 540 -> 250 nats


def test_iwae_per_image_is_the_split_mean_with_the_same_draws():
    model = linear_gaussian(shift=0.2, widen=0.5)
    x = linear_gaussian_data(model)
    per_image = iwae_nll_images(model, x, k=300, batch_size=2, generator=gen(5))
    assert per_image.shape == (len(x),) and per_image.dtype == torch.float64
    split_mean = iwae_nll_split(model, x, k=300, batch_size=2, generator=gen(5))
    assert split_mean == pytest.approx(per_image.mean().item(), abs=1e-12)
    # batch by batch it is iwae_nll of each batch with the generator's next draws
    g = gen(5)
    by_hand = torch.cat([iwae_nll(model, x[i:i + 2], k=300, generator=g).double()
                         for i in range(0, len(x), 2)])
    assert torch.equal(per_image, by_hand)
    assert ((per_image + model.log_evidence(x)).abs() < 0.2).all()  # close to -log p(x)
