"""Best-of-k error, diversity and mode coverage, against loops and hand-made cases."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from vae_edu.colorization import (
    HUES,
    MDN,
    ColorFields,
    ColorFieldVAE,
    DecoderLoss,
    DiverseColorizer,
    best_of_k_error,
    diversity,
    field_distance,
    hue_of,
    hued_mnist,
    mode_coverage,
    score_colorizer,
)
from vae_edu.colorization.lab import AB_SCALE
from vae_edu.data import MNISTSplit


def _rms(a, b):
    """RMS over pixels of the ab distance, with Python loops."""
    _, h, w = a.shape
    total = 0.0
    for i in range(h):
        for j in range(w):
            total += float((a[0, i, j] - b[0, i, j]) ** 2 + (a[1, i, j] - b[1, i, j]) ** 2)
    return math.sqrt(total / (h * w))


def _samples(seed=0, b=3, k=4):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(b, k, 2, 5, 4, generator=gen, dtype=torch.float64),
            torch.randn(b, 2, 5, 4, generator=gen, dtype=torch.float64))


def test_field_distance_matches_a_loop():
    samples, target = _samples()
    d = field_distance(samples, target.unsqueeze(1))
    assert d.shape == (3, 4)
    for b, k in itertools.product(range(3), range(4)):
        assert d[b, k].item() == pytest.approx(_rms(samples[b, k], target[b]), rel=1e-12)


def test_best_of_k_error_takes_the_closest_sample():
    samples, target = _samples()
    expected = sum(min(_rms(samples[b, k], target[b]) for k in range(4)) for b in range(3)) / 3
    assert best_of_k_error(samples, target).item() == pytest.approx(expected, rel=1e-12)
    # a sample equal to the truth makes the error of that image 0
    samples[1, 2] = target[1]
    rest = [min(_rms(samples[b, k], target[b]) for k in range(4)) for b in (0, 2)]
    assert best_of_k_error(samples, target).item() == pytest.approx(sum(rest) / 3, rel=1e-12)


def test_diversity_is_the_mean_pairwise_distance():
    samples, _ = _samples(seed=1)
    expected = sum(
        sum(_rms(samples[b, i], samples[b, j]) for i, j in itertools.combinations(range(4), 2))
        / 6
        for b in range(3)
    ) / 3
    assert diversity(samples).item() == pytest.approx(expected, rel=1e-12)
    same = samples[:, :1].expand(-1, 5, -1, -1, -1)
    assert diversity(same).item() == 0.0


def test_metrics_reject_a_wrong_layout():
    with pytest.raises(ValueError, match=r"\(B, K, 2, H, W\)"):
        diversity(torch.zeros(3, 2, 5, 5))
    with pytest.raises(ValueError, match="K >= 2"):
        diversity(torch.zeros(3, 1, 2, 5, 5))
    with pytest.raises(ValueError, match="target"):
        best_of_k_error(torch.zeros(3, 4, 2, 5, 5), torch.zeros(3, 2, 5, 4))


def _hued(n=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=gen) * (torch.rand(n, 1, 28, 28, generator=gen)
                                                        > 0.7)
    return hued_mnist(MNISTSplit(images, torch.zeros(n, dtype=torch.long)), seed=seed)


def test_hue_of_recovers_the_hue_of_every_hued_digit():
    fields = _hued()
    assert torch.equal(hue_of(fields.color, fields.grey, fields.hues), fields.hue)


def test_hue_of_calls_a_desaturated_digit_no_hue():
    fields = _hued()
    # the average hue, as an L2 regression answers: chroma 11 of 45
    pale = fields.grey / fields.grey.amax() * fields.hues.mean(0).view(1, 2, 1, 1)
    assert (hue_of(0.3 * fields.color, fields.grey, fields.hues) == -1).all()
    assert (hue_of(pale, fields.grey, fields.hues) == -1).all()


def test_mode_coverage_counts_the_distinct_true_hues():
    fields = _hued(n=2)
    grey, hues = fields.grey, fields.hues
    t = grey / grey.flatten(1).amax(1).view(-1, 1, 1, 1)

    def draw(*which):  # one colour field per hue index, -1 for a grey one
        return torch.stack([t[0] * (hues[k] if k >= 0 else torch.zeros(2)).view(2, 1, 1)
                            for k in which])

    first = draw(0, 0, 1, -1)   # 2 of 4 hues
    second = draw(3, 2, 1, 0)  # all 4
    samples = torch.stack([first, second])  # (2, 4, 2, 28, 28), image 0's ink for both
    grey_both = grey[:1].expand(2, -1, -1, -1)
    assert mode_coverage(samples, grey_both, hues).item() == pytest.approx((0.5 + 1.0) / 2)
    assert len(HUES) == len(hues) == 4
    assert (hues.norm(dim=1) * AB_SCALE).tolist() == pytest.approx([45.0] * 4)


def test_score_colorizer_averages_over_batches_in_lab_units():
    torch.manual_seed(0)
    fields = _hued(n=10)
    vae = ColorFieldVAE((28, 28), 2, DecoderLoss({"l2": 1.0}))
    model = DiverseColorizer(vae, MDN((28, 28), 2, components=3)).eval()
    scores = score_colorizer(model, fields, k=3, batch_size=4)
    samples = model.sample(fields.grey, 3)  # deterministic: the decoded component means
    assert scores["best_of_k"] == pytest.approx(
        AB_SCALE * best_of_k_error(samples, fields.color).item(), rel=1e-5)
    assert scores["diversity"] == pytest.approx(AB_SCALE * diversity(samples).item(), rel=1e-5)
    assert scores["coverage"] == pytest.approx(
        mode_coverage(samples, fields.grey, fields.hues).item(), rel=1e-6)
    no_hues = ColorFields(fields.grey, fields.color)
    assert set(score_colorizer(model, no_hues, k=2)) == {"best_of_k", "diversity"}
