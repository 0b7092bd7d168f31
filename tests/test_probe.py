"""vae_edu.probe: the converged linear probe and the mean ± sd format (lecture 05)."""

import numpy as np
import pytest
import torch

from vae_edu.probe import linear_probe, mean_sd


def _blobs(n, separation, seed):
    """Two Gaussian classes in 5-d whose means differ by ``separation`` along axis 0."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    x = rng.normal(size=(n, 5))
    x[:, 0] += separation * y
    return x, y


def test_separable_classes_are_found_and_noise_is_chance():
    x, y = _blobs(200, 8.0, 0)
    xt, yt = _blobs(400, 8.0, 1)
    assert linear_probe(x, y, xt, yt)["accuracy"] > 0.99
    x, y = _blobs(200, 0.0, 0)  # no signal at all: chance level, not more
    xt, yt = _blobs(2000, 0.0, 1)
    assert abs(linear_probe(x, y, xt, yt)["accuracy"] - 0.5) < 0.05


def test_matches_the_bayes_accuracy_of_two_gaussians():
    """Equal-covariance Gaussians: the optimal rule is linear, its accuracy Phi(d / 2)."""
    from scipy.stats import norm

    x, y = _blobs(4000, 2.0, 2)
    xt, yt = _blobs(20000, 2.0, 3)
    acc = linear_probe(x, y, xt, yt)["accuracy"]
    assert acc == pytest.approx(norm.cdf(1.0), abs=0.01)  # 0.841


def test_C_is_chosen_without_the_test_set():
    x, y = _blobs(120, 1.0, 4)
    xt, yt = _blobs(300, 1.0, 5)
    a = linear_probe(x, y, xt, yt)
    b = linear_probe(x, y, xt, 1 - yt)  # test labels flipped: the same model is chosen
    assert a["C"] == b["C"]
    assert a["accuracy"] + b["accuracy"] == pytest.approx(1.0)


def test_convergence_is_reported_not_silenced():
    """An easy problem converges in few iterations; max_iter=1 is counted as unconverged."""
    x, y = _blobs(120, 3.0, 6)
    xt, yt = _blobs(200, 3.0, 7)
    ok = linear_probe(x, y, xt, yt)
    assert ok["converged"] and 1 <= ok["n_iter"] < 2000 and ok["cv_unconverged"] == 0
    capped = linear_probe(x, y, xt, yt, Cs=(1.0, 10.0), folds=2, max_iter=1)
    assert not capped["converged"] and capped["n_iter"] == 1
    assert capped["cv_unconverged"] == 2 * 2  # every cross-validation fit hit the cap
    with pytest.raises(ValueError, match="max_iter"):
        linear_probe(x, y, xt, yt, max_iter=0)


def test_accepts_tensors():
    x, y = _blobs(60, 6.0, 6)
    out = linear_probe(torch.tensor(x), torch.tensor(y), torch.tensor(x), torch.tensor(y))
    assert out["train_accuracy"] == out["accuracy"] > 0.95


def test_bad_input_is_one_clear_error():
    x, y = _blobs(60, 6.0, 6)
    with pytest.raises(ValueError, match="2-d array"):
        linear_probe(x[:, 0], y, x, y)
    with pytest.raises(ValueError, match="differ in width"):
        linear_probe(x, y, x[:, :3], y)
    with pytest.raises(ValueError, match="integer class labels"):
        linear_probe(x, y.astype(float), x, y)
    with pytest.raises(ValueError, match="fewer than folds"):
        linear_probe(x[:4], y[:4], x, y)
    with pytest.raises(ValueError, match="Cs must be"):
        linear_probe(x, y, x, y, Cs=(0.0,))
    with pytest.raises(ValueError, match="NaN"):
        linear_probe(np.full_like(x, np.nan), y, x, y)


def test_mean_sd():
    assert mean_sd([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"
    with pytest.raises(ValueError, match="at least two"):
        mean_sd([1.0])
