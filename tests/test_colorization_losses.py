"""The losses of vae_edu.colorization, each against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vae_edu.colorization import (
    ColorHistogram,
    ColorPCA,
    DecoderLoss,
    gradient_loss,
    histogram_loss,
    image_gradients,
    l2_loss,
    mahalanobis_loss,
    mdn_nearest_nll,
    mdn_nll,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gradient_loss_loop(pred, target):
    """L_grad written pixel by pixel with Python loops."""
    b, c, h, w = pred.shape
    total = 0.0
    for n in range(b):
        for k in range(c):
            for i in range(h):
                for j in range(w):
                    if j + 1 < w:
                        dp = pred[n, k, i, j + 1] - pred[n, k, i, j]
                        dt = target[n, k, i, j + 1] - target[n, k, i, j]
                        total += float(dp - dt) ** 2
                    if i + 1 < h:
                        dp = pred[n, k, i + 1, j] - pred[n, k, i, j]
                        dt = target[n, k, i + 1, j] - target[n, k, i, j]
                        total += float(dp - dt) ** 2
    return total / b


def test_gradient_loss_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 2, 5, 4, generator=gen, dtype=torch.float64)
    target = torch.randn(3, 2, 5, 4, generator=gen, dtype=torch.float64)
    loss = gradient_loss(pred, target)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(_gradient_loss_loop(pred, target), rel=1e-12)


def test_gradient_loss_ignores_a_constant_offset_but_not_an_edge():
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(2, 2, 6, 6, generator=gen)
    assert gradient_loss(target + 3.0, target).item() == pytest.approx(0.0, abs=1e-9)
    edged = target.clone()
    edged[..., :, 3:] += 1.0  # a vertical edge: each row gains one horizontal jump of 1
    # 2 channels x 6 rows x one jump of 1 each, per image
    assert gradient_loss(edged, target).item() == pytest.approx(12.0, rel=1e-5)


def test_gradient_loss_backpropagates():
    pred = torch.zeros(1, 2, 3, 3, requires_grad=True)
    target = torch.arange(18.0).reshape(1, 2, 3, 3)
    gradient_loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_image_gradients_shapes():
    dx, dy = image_gradients(torch.zeros(2, 2, 5, 7))
    assert dx.shape == (2, 2, 5, 6) and dy.shape == (2, 2, 4, 7)


@pytest.mark.parametrize(
    ("pred", "target", "error", "match"),
    [
        (torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 4, 5), ValueError, "shape"),
        (torch.zeros(2, 32), torch.zeros(2, 32), ValueError, r"\(B, C, H, W\)"),
        (torch.zeros(2, 2, 4, 4, dtype=torch.long), torch.zeros(2, 2, 4, 4), TypeError, "float"),
    ],
)
def test_gradient_loss_rejects_bad_input(pred, target, error, match):
    with pytest.raises(error, match=match):
        gradient_loss(pred, target)


# ----------------------------------------------------------------------------- L2, L_hist


def test_l2_loss_is_the_summed_squared_error():
    gen = torch.Generator().manual_seed(2)
    pred, target = torch.randn(2, 4, 2, 3, 3, generator=gen, dtype=torch.float64)
    expected = sum(float(((pred[n] - target[n]) ** 2).sum()) for n in range(4)) / 4
    assert l2_loss(pred, target).item() == pytest.approx(expected, rel=1e-12)


def _histogram_by_hand(color, bin_size, limit):
    """Bin of every pixel with Python arithmetic, and the normalised counts."""
    n = math.ceil(2 * limit / bin_size - 1e-9)
    flat = color.permute(0, 2, 3, 1).reshape(-1, 2).tolist()
    bins = []
    for a, b in flat:
        ia = min(max(int(math.floor((a + limit) / bin_size)), 0), n - 1)
        ib = min(max(int(math.floor((b + limit) / bin_size)), 0), n - 1)
        bins.append(ia * n + ib)
    counts = [0] * (n * n)
    for q in bins:
        counts[q] += 1
    return n, bins, [c / len(bins) for c in counts]


def test_histogram_prior_and_weights_by_hand():
    gen = torch.Generator().manual_seed(3)
    color = torch.randn(5, 2, 4, 4, generator=gen, dtype=torch.float64) * 0.4
    color[0, :, 0, 0] = torch.tensor([5.0, -5.0])  # far outside: a border bin
    hist = ColorHistogram(bin_size=0.25, limit=1.0, mix=0.3).double().fit(color)
    n, bins, prior = _histogram_by_hand(color, 0.25, 1.0)
    assert hist.num_bins == n * n == 64
    assert hist.bin_index(color).flatten().tolist() == bins
    torch.testing.assert_close(hist.prior, torch.tensor(prior, dtype=torch.float64))
    raw = [1.0 / (0.7 * p + 0.3 / 64) for p in prior]
    norm = sum(p * w for p, w in zip(prior, raw, strict=True))
    torch.testing.assert_close(hist.bin_weights, torch.tensor(raw, dtype=torch.float64) / norm)
    # normalisation: a training pixel weighs 1 on average; the prior sums to 1
    assert hist.prior.sum().item() == pytest.approx(1.0)
    assert hist.pixel_weights(color).mean().item() == pytest.approx(1.0)
    # rarer colours weigh more
    order = torch.argsort(hist.prior)
    assert torch.all(torch.diff(hist.bin_weights[order]) <= 1e-12)


def test_histogram_mix_one_is_plain_l2():
    gen = torch.Generator().manual_seed(4)
    pred, target = torch.randn(2, 3, 2, 5, 5, generator=gen)
    hist = ColorHistogram(mix=1.0).fit(target)
    torch.testing.assert_close(hist.bin_weights, torch.ones(hist.num_bins))
    torch.testing.assert_close(histogram_loss(pred, target, hist), l2_loss(pred, target))


def test_histogram_loss_matches_a_loop():
    gen = torch.Generator().manual_seed(5)
    target = torch.randn(3, 2, 4, 4, generator=gen, dtype=torch.float64) * 0.3
    pred = torch.randn(3, 2, 4, 4, generator=gen, dtype=torch.float64) * 0.3
    hist = ColorHistogram(bin_size=0.2, limit=0.6).double().fit(target)
    n, bins, _ = _histogram_by_hand(target, 0.2, 0.6)
    weights = hist.bin_weights.tolist()
    total, p = 0.0, 0
    for b in range(3):  # bins are listed in (b, i, j) order
        for i in range(4):
            for j in range(4):
                err = float(((pred[b, :, i, j] - target[b, :, i, j]) ** 2).sum())
                total += weights[bins[p]] * err
                p += 1
    assert histogram_loss(pred, target, hist).item() == pytest.approx(total / 3, rel=1e-12)


def test_histogram_rejects_bad_settings():
    with pytest.raises(ValueError, match=r"ColorHistogram: mix must be in \[0, 1\], got 1.5"):
        ColorHistogram(mix=1.5)
    with pytest.raises(ValueError, match="ColorHistogram: bin_size must be > 0, got 0"):
        ColorHistogram(bin_size=0)
    with pytest.raises(ValueError, match="ColorHistogram: limit must be > 0, got -1"):
        ColorHistogram(limit=-1.0)
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        ColorHistogram().fit(torch.zeros(2, 3, 4, 4))


# ----------------------------------------------------------------------------- L_mah


def _fields(n=40, seed=6):
    """Correlated colour fields (n, 2, 3, 3): D = 18 values, a few strong directions."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.randn(4, 18, generator=gen, dtype=torch.float64)
    coeff = torch.randn(n, 4, generator=gen, dtype=torch.float64) * torch.tensor(
        [3.0, 2.0, 1.0, 0.5], dtype=torch.float64
    )
    noise = 0.1 * torch.randn(n, 18, generator=gen, dtype=torch.float64)
    return (coeff @ basis + noise + 0.2).view(n, 2, 3, 3)


def test_pca_matches_the_eigendecomposition_of_numpy_covariance():
    fields = _fields()
    pca = ColorPCA(k=4).double().fit(fields)
    x = fields.flatten(1).numpy()
    cov = np.cov(x, rowvar=False)  # (18, 18), divides by N - 1
    eigval, eigvec = np.linalg.eigh(cov)
    eigval, eigvec = eigval[::-1], eigvec[:, ::-1]
    np.testing.assert_allclose(pca.variances.numpy(), eigval[:4], rtol=1e-10)
    # eigenvectors up to their sign
    overlap = np.abs(np.sum(pca.components.numpy() * eigvec[:, :4], axis=0))
    np.testing.assert_allclose(overlap, np.ones(4), atol=1e-8)
    assert pca.residual_variance.item() == pytest.approx(eigval[4:].mean(), rel=1e-10)
    np.testing.assert_allclose(pca.mean.numpy(), x.mean(0), atol=1e-12)


def test_mahalanobis_loss_equals_the_quadratic_form_of_the_inverse_covariance():
    fields = _fields()
    pca = ColorPCA(k=3).double().fit(fields)
    gen = torch.Generator().manual_seed(7)
    pred = fields[:5] + 0.3 * torch.randn(5, 2, 3, 3, generator=gen, dtype=torch.float64)
    target = fields[:5]
    # Sigma built directly from numpy's covariance: its top-3 eigenpairs kept, the rest
    # of the spectrum replaced by its average
    cov = np.cov(fields.flatten(1).numpy(), rowvar=False)
    eigval, eigvec = np.linalg.eigh(cov)
    eigval = eigval[::-1].copy()
    eigval[3:] = eigval[3:].mean()
    sigma = eigvec[:, ::-1] @ np.diag(eigval) @ eigvec[:, ::-1].T
    d = (target - pred).flatten(1).numpy()
    expected = np.mean([row @ np.linalg.solve(sigma, row) for row in d])
    assert mahalanobis_loss(pred, target, pca).item() == pytest.approx(expected, rel=1e-8)
    np.testing.assert_allclose(pca.covariance().numpy(), sigma, atol=1e-10)


def test_mahalanobis_loss_discounts_errors_along_common_directions():
    fields = _fields()
    pca = ColorPCA(k=2).double().fit(fields)
    target = fields[:1]
    along = target + 0.5 * pca.components[:, 0].view(1, 2, 3, 3)  # the strongest direction
    residual_direction = torch.randn(18, generator=torch.Generator().manual_seed(8),
                                     dtype=torch.float64)
    residual_direction -= pca.components @ (pca.components.T @ residual_direction)
    across = target + 0.5 * (residual_direction / residual_direction.norm()).view(1, 2, 3, 3)
    # the same L2 error, very different Mahalanobis errors
    assert l2_loss(along, target).item() == pytest.approx(l2_loss(across, target).item())
    assert mahalanobis_loss(along, target, pca) < 0.01 * mahalanobis_loss(across, target, pca)


def test_mahalanobis_needs_a_fitted_pca_of_the_right_size():
    with pytest.raises(ValueError, match="not fitted"):
        mahalanobis_loss(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3), ColorPCA(2))
    pca = ColorPCA(2).fit(_fields().float())
    with pytest.raises(ValueError, match="fitted on fields of 18"):
        mahalanobis_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4), pca)


# ----------------------------------------------------------------------------- L_dec


def test_decoder_loss_is_the_weighted_sum_of_its_parts():
    fields = _fields().float()
    hist = ColorHistogram(bin_size=0.5, limit=5.0).fit(fields)
    pca = ColorPCA(3).fit(fields)
    loss = DecoderLoss({"hist": 1.0, "mah": 0.1, "grad": 2.0}, histogram=hist, pca=pca)
    pred, target = fields[:4] * 0.9, fields[:4]
    parts = loss(pred, target)
    torch.testing.assert_close(parts["hist"], histogram_loss(pred, target, hist))
    torch.testing.assert_close(parts["mah"], mahalanobis_loss(pred, target, pca))
    torch.testing.assert_close(parts["grad"], gradient_loss(pred, target))
    torch.testing.assert_close(parts["dec"],
                               parts["hist"] + 0.1 * parts["mah"] + 2.0 * parts["grad"])
    with pytest.raises(ValueError, match="histogram"):
        DecoderLoss({"hist": 1.0})
    with pytest.raises(ValueError, match="some of"):
        DecoderLoss({"l1": 1.0})


# ----------------------------------------------------------------------------- the MDN


def test_mdn_nll_matches_a_hand_computed_mixture_density():
    gen = torch.Generator().manual_seed(9)
    logits = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    means = torch.randn(3, 4, 2, generator=gen, dtype=torch.float64)
    z = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    sigma = 0.7
    total = 0.0
    for b in range(3):
        pi = [math.exp(v) for v in logits[b].tolist()]
        pi = [p / sum(pi) for p in pi]
        density = 0.0
        for i in range(4):
            one = 1.0
            for d in range(2):
                u = (z[b, d] - means[b, i, d]).item()
                one *= math.exp(-0.5 * u * u / sigma**2) / (sigma * math.sqrt(2 * math.pi))
            density += pi[i] * one
        total += -math.log(density)
    assert mdn_nll(logits, means, z, sigma).item() == pytest.approx(total / 3, rel=1e-12)


def test_mdn_nll_equals_torch_distributions_mixture_same_family():
    """The oracle of a well-kept dependency: MixtureSameFamily of Independent Normals, on
    batches with many components, including codes far from every component."""
    dist = torch.distributions
    gen = torch.Generator().manual_seed(3)
    for batch, components, dim, sigma in ((5, 8, 2, 0.2), (7, 3, 16, 1.3), (2, 1, 4, 0.05)):
        logits = 3 * torch.randn(batch, components, generator=gen, dtype=torch.float64)
        means = torch.randn(batch, components, dim, generator=gen, dtype=torch.float64)
        z = torch.randn(batch, dim, generator=gen, dtype=torch.float64)
        z[0] += 40.0  # far away: the density underflows, its log must not
        mixture = dist.MixtureSameFamily(
            dist.Categorical(logits=logits),
            dist.Independent(dist.Normal(means, torch.full_like(means, sigma)), 1),
        )
        expected = -mixture.log_prob(z).mean()
        assert torch.isfinite(expected)
        torch.testing.assert_close(mdn_nll(logits, means, z, sigma), expected, rtol=1e-12,
                                   atol=0)


def test_mdn_nll_is_stable_far_from_every_component():
    logits, means = torch.zeros(1, 2), torch.zeros(1, 2, 3)
    z = torch.full((1, 3), 50.0)
    value = mdn_nll(logits, means, z, 0.1).item()
    # log-sum-exp keeps it finite: 0.5 * 3 * 50^2 / 0.01 plus the normalising constant
    assert math.isfinite(value)
    constant = 3 * (math.log(0.1) + 0.5 * math.log(2 * math.pi))
    assert value == pytest.approx(0.5 * 7500 / 0.01 + constant, rel=1e-6)


def test_mdn_nll_rejects_bad_shapes_and_sigma():
    with pytest.raises(ValueError, match="sigma"):
        mdn_nll(torch.zeros(2, 3), torch.zeros(2, 3, 4), torch.zeros(2, 4), 0.0)
    with pytest.raises(ValueError, match="do not fit"):
        mdn_nll(torch.zeros(2, 3), torch.zeros(2, 3, 4), torch.zeros(2, 5), 1.0)


def test_mahalanobis_and_mdn_stay_in_float32_under_autocast():
    fields = _fields().float()
    pca = ColorPCA(3).fit(fields)
    pred, target = fields[:4] * 0.9, fields[:4]
    exact = mahalanobis_loss(pred, target, pca)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = mahalanobis_loss(pred, target, pca)
        nll = mdn_nll(torch.zeros(2, 3), torch.zeros(2, 3, 2), torch.ones(2, 2), 0.1)
    assert mixed.dtype == torch.float32 and nll.dtype == torch.float32
    torch.testing.assert_close(mixed, exact)


def test_pca_fit_leaves_the_global_random_numbers_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ColorPCA(2).fit(_fields().float())
    assert torch.equal(torch.rand(3), expected)


def test_mdn_nearest_nll_by_hand_and_its_gradient_reaches_only_the_closest_mean():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    means = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    z = torch.randn(3, 2, dtype=torch.float64)
    sigma = 0.3
    total, nearest = 0.0, []
    for b in range(3):
        d2 = [float(((z[b] - means[b, i].detach()) ** 2).sum()) for i in range(4)]
        i = min(range(4), key=d2.__getitem__)
        nearest.append(i)
        pi = math.exp(logits[b, i].item()) / sum(math.exp(v) for v in logits[b].tolist())
        log_n = -d2[i] / (2 * sigma**2) - math.log(2 * math.pi * sigma**2)  # Z = 2
        total += -(math.log(pi) + log_n)
    loss = mdn_nearest_nll(logits, means, z, sigma)
    assert loss.item() == pytest.approx(total / 3, rel=1e-12)
    # an upper bound of the full mixture NLL
    assert loss.item() >= mdn_nll(logits, means, z, sigma).item()
    loss.backward()
    for b in range(3):
        for i in range(4):
            moved = means.grad[b, i].abs().sum().item()
            assert (moved > 0) == (i == nearest[b])
    assert (logits.grad.abs() > 0).all()  # every weight: through the softmax
    # the full mixture NLL moves every mean
    means.grad = None
    mdn_nll(logits, means, z, sigma).backward()
    assert (means.grad.abs().sum(-1) > 0).all()


def test_mdn_objective_option():
    from vae_edu.colorization import MDN

    torch.manual_seed(0)
    grey, z = torch.rand(5, 1, 28, 28), torch.randn(5, 2)
    mixture = MDN((28, 28), 2, components=3)
    nearest = MDN((28, 28), 2, components=3, objective="nearest")
    nearest.load_state_dict(mixture.state_dict())
    logits, means = mixture(grey)
    torch.testing.assert_close(mixture.loss((grey, z))["loss"], mdn_nll(logits, means, z, 0.2))
    torch.testing.assert_close(nearest.loss((grey, z))["loss"],
                               mdn_nearest_nll(logits, means, z, 0.2))
    with pytest.raises(ValueError, match="'mixture'"):
        MDN((28, 28), 2, objective="closest")
