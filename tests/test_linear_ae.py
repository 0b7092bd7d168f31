"""PCA = the linear autoencoder: principal_components, principal_angles, LinearAutoencoder.

Independent checks on synthetic data whose subspace is known by construction, and on
angles known in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_edu.linear_ae import LinearAutoencoder, principal_angles, principal_components
from vae_edu.train import fit


def _data_on_a_subspace(n=2000, d=20, k=3, noise=0.01, seed=0):
    """Rows x = mean + B z + noise: B (d, k) orthonormal, z with variances 9, 4, 1, ..."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, k)))  # (d, k), orthonormal
    scales = np.arange(k, 0, -1, dtype=np.float64)  # 3, 2, 1: distinct variances
    z = rng.normal(size=(n, k)) * scales
    x = 0.5 + z @ basis.T + noise * rng.normal(size=(n, d))
    return x, basis


def test_the_angle_between_two_lines_in_the_plane_is_the_angle_between_them():
    for theta in (0.0, 10.0, 45.0, 89.0, 90.0):
        t = math.radians(theta)
        a = np.array([[1.0], [0.0]])
        b = np.array([[math.cos(t)], [math.sin(t)]])
        assert principal_angles(a, b).item() == pytest.approx(theta, abs=1e-9)


def test_a_space_and_any_mixed_basis_of_it_have_zero_angles_and_orthogonal_spaces_ninety():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(10, 6)))
    a, b = q[:, :3], q[:, 3:]
    mixed = a @ rng.normal(size=(3, 3))  # another basis of the same space, not orthonormal
    assert torch.allclose(principal_angles(a, mixed), torch.zeros(3, dtype=torch.float64),
                          atol=1e-6)
    assert torch.allclose(principal_angles(a, b), torch.full((3,), 90.0, dtype=torch.float64))
    angles = principal_angles(torch.from_numpy(a), torch.from_numpy(q[:, :2]))  # a holds it
    assert angles.shape == (2,) and angles.max() < 1e-6


def test_angles_come_smallest_first_and_match_the_arccos_of_the_singular_values():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    qa, qb = np.linalg.qr(a)[0], np.linalg.qr(b)[0]
    cosines = np.clip(np.linalg.svd(qa.T @ qb, compute_uv=False), -1, 1)  # largest first
    expected = np.degrees(np.arccos(cosines))  # smallest angle first
    got = principal_angles(a, b).numpy()
    assert np.all(np.diff(got) >= 0)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_principal_components_recover_a_known_subspace_in_order():
    x, basis = _data_on_a_subspace()
    v = principal_components(torch.from_numpy(x).float(), 3)
    assert v.shape == (20, 3) and v.dtype == torch.float64
    np.testing.assert_allclose(v.T @ v, np.eye(3), atol=1e-10)  # orthonormal
    assert principal_angles(v, basis).max() < 1.0  # degrees: the noise tilts it a little
    # largest variance first: the first direction is the first column of the basis
    assert abs(float(v[:, 0] @ torch.from_numpy(basis[:, 0]))) > 0.999


def test_principal_components_agree_with_the_svd_of_the_centred_data():
    x, _ = _data_on_a_subspace(n=300, d=8, k=3, noise=0.3, seed=3)
    _, _, vt = np.linalg.svd(x - x.mean(0), full_matrices=False)
    v = principal_components(x, 3).numpy()
    for i in range(3):  # the same directions up to sign
        assert abs(v[:, i] @ vt[i]) == pytest.approx(1.0, abs=1e-8)


def test_a_linear_autoencoder_trained_on_squared_error_finds_the_pca_subspace():
    """Bourlard & Kamp / Baldi & Hornik: the decoder's column space is the top-k PCA space,
    though its columns are not the principal directions themselves."""
    x, basis = _data_on_a_subspace(n=4000, d=20, k=3, noise=0.05, seed=4)
    data = torch.from_numpy(x).float()
    torch.manual_seed(0)
    model = LinearAutoencoder(input_dim=20, code_dim=3)
    fit(model, data, epochs=15, lr=1e-2, batch_size=100, device="cpu", progress=False,
        verbose=False)
    decoder = model.decoder.weight.detach()  # (20, 3)
    assert decoder.shape == (20, 3)
    assert principal_angles(decoder, principal_components(data, 3)).max() < 2.0
    assert principal_angles(decoder, basis).max() < 2.0
    columns = torch.nn.functional.normalize(decoder.double(), dim=0)
    cosines = columns.T @ principal_components(data, 3)
    assert cosines.abs().max(dim=1).values.min() < 0.999  # columns: a mixture, not the PCs
    # its squared error is PCA's: what is left is the noise in the 17 other directions
    err = model.loss(data)["loss"].item()
    pca_err = 17 * 0.05**2
    assert err == pytest.approx(pca_err, rel=0.2)


def test_the_linear_autoencoder_is_linear_and_its_loss_is_the_summed_squared_error():
    torch.manual_seed(0)
    model = LinearAutoencoder(784, 4)
    x = torch.rand(5, 1, 28, 28)
    out = model(x)
    assert out.shape == (5, 784) and model.encode(x).shape == (5, 4)
    assert torch.allclose(model(2 * x) - model.decoder.bias,
                          2 * (model(x) - model.decoder.bias) - model.decoder.weight
                          @ model.encoder.bias, atol=1e-4)
    expected = ((out - x.flatten(1)) ** 2).sum(1).mean()
    assert torch.allclose(model.loss((x, None))["loss"], expected)
    assert model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize("call, message", [
    (lambda: principal_angles(np.ones((5, 2)), np.ones((6, 2))), "same number of rows"),
    (lambda: principal_angles(np.ones((2, 5)), np.ones((2, 1))), "transpose"),
    (lambda: principal_angles(np.ones((5, 2)), np.eye(5)[:, :2]), "linearly dependent"),
    (lambda: principal_angles(np.ones(5), np.ones(5)), "2-D array"),
    (lambda: principal_angles(np.full((3, 1), np.nan), np.ones((3, 1))), "NaN"),
    (lambda: principal_components(np.ones((4, 3)), 5), "at most 3"),
    (lambda: principal_components(np.ones((4, 3)), 0), "positive int"),
    (lambda: LinearAutoencoder(10, 10), "smaller than input_dim"),
    (lambda: LinearAutoencoder(784, 2)(torch.rand(3, 10)), "784"),
])
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
