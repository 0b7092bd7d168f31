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
    expected_error,
    field_distance,
    hue_of,
    hued_mnist,
    mode_coverage,
    score_colorizer,
    weighted_coverage,
    weighted_diversity,
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
    means, pi = model.components(fields.grey)  # all M components and their weights
    assert scores["diversity_weighted"] == pytest.approx(
        AB_SCALE * weighted_diversity(means, pi).item(), rel=1e-5)
    assert scores["coverage_weighted"] == pytest.approx(
        weighted_coverage(means, pi, fields.grey, fields.hues).item(), rel=1e-5)
    no_hues = ColorFields(fields.grey, fields.color)
    assert scores["expected_error"] == pytest.approx(
        AB_SCALE * expected_error(samples, fields.color).item(), rel=1e-5)
    assert scores["expected_error_weighted"] == pytest.approx(
        AB_SCALE * expected_error(means, fields.color, pi).item(), rel=1e-5)
    assert set(score_colorizer(model, no_hues, k=2)) == {
        "best_of_k", "expected_error", "diversity", "expected_error_weighted",
        "diversity_weighted"}
    # a model without components (one answer per image) gets no weighted figures
    assert "coverage_weighted" not in score_colorizer(vae_free_model(), fields, k=2)


def test_score_colorizer_scores_mixture_draws_against_the_weighted_figures():
    # mixture draws with a tiny sigma are (almost) component means picked by pi, so over
    # many draws the error of one output and the distance between two outputs are the
    # pi-weighted figures of the components (Monte Carlo against the closed forms), while
    # the k heaviest means, equally weighted, give other figures
    torch.manual_seed(0)
    fields = _hued(n=30)
    vae = ColorFieldVAE((28, 28), 2, DecoderLoss({"l2": 1.0}))
    mdn = MDN((28, 28), 2, components=3, sigma=1e-6)
    with torch.no_grad():  # pi about (0.68, 0.24, 0.09), three codes far apart
        mdn.head.bias.copy_(torch.tensor([1.0, 0.0, -1.0, 3.0, 0.0, -3.0, 0.0, 0.0, 3.0]))
    model = DiverseColorizer(vae, mdn).eval()
    # 100 draws per image, 3,000 in all (diversity is pairwise: k^2 pairs per image)
    draws = score_colorizer(model, fields, k=100, batch_size=2, sample_mode="mixture")
    means = score_colorizer(model, fields, k=3)  # the three component means, heaviest first
    assert draws["expected_error"] == pytest.approx(means["expected_error_weighted"], rel=0.02)
    assert draws["diversity"] == pytest.approx(means["diversity_weighted"], rel=0.05)
    assert means["diversity"] > 2 * means["diversity_weighted"]  # the light ones count fully
    # every component is drawn among 100 for each image: the same closest output
    assert draws["best_of_k"] == pytest.approx(means["best_of_k"], rel=1e-4)
    for key in ("expected_error_weighted", "diversity_weighted", "coverage_weighted"):
        assert draws[key] == pytest.approx(means[key], rel=1e-6)
    with pytest.raises(ValueError, match="'means' or 'mixture'"):
        score_colorizer(model, fields, k=2, sample_mode="samples")
    with pytest.raises(ValueError, match="for mixture models"):
        score_colorizer(vae_free_model(), fields, k=2, sample_mode="mixture")


def vae_free_model():
    from vae_edu.colorization import L2Colorizer

    return L2Colorizer((28, 28)).eval()


def test_weighted_coverage_is_the_pi_mass_on_the_right_modes_each_up_to_its_share():
    fields = _hued(n=2)
    grey, hues = fields.grey[:1], fields.hues
    t = grey / grey.flatten(1).amax(1).view(-1, 1, 1, 1)

    def draw(*which):  # one colour field per hue index, -1 for a grey one
        return torch.stack([t[0] * (hues[k] if k >= 0 else torch.zeros(2)).view(2, 1, 1)
                            for k in which])[None]

    samples = draw(0, 0, 1, -1, 2)  # red, red, yellow, grey, green
    pi = torch.tensor([[0.5, 0.2, 0.2, 0.06, 0.04]])
    # red carries 0.7 (counted up to 1/4), yellow 0.2, green 0.04, blue 0, grey 0.06
    assert weighted_coverage(samples, pi, grey, hues).item() == pytest.approx(
        0.25 + 0.2 + 0.04)
    # the same as 1 - total variation to the uniform distribution over the 4 hues
    model = {0: 0.7, 1: 0.2, 2: 0.04, 3: 0.0, -1: 0.06}
    truth = {0: 0.25, 1: 0.25, 2: 0.25, 3: 0.25, -1: 0.0}
    tv = 0.5 * sum(abs(model[h] - truth[h]) for h in model)
    assert weighted_coverage(samples, pi, grey, hues).item() == pytest.approx(1 - tv)
    # all four hues at a quarter each: 1; the unweighted coverage cannot tell the two apart
    four = draw(0, 1, 2, 3)
    assert weighted_coverage(four, torch.full((1, 4), 0.25), grey, hues).item() == (
        pytest.approx(1.0))
    heavy_red = torch.tensor([[0.97, 0.01, 0.01, 0.01]])
    assert weighted_coverage(four, heavy_red, grey, hues).item() == pytest.approx(0.28)
    assert mode_coverage(four, grey, hues).item() == 1.0
    with pytest.raises(ValueError, match="sum to 1"):
        weighted_coverage(four, torch.full((1, 4), 0.3), grey, hues)
    with pytest.raises(ValueError, match=r"\(B, M\)"):
        weighted_coverage(four, torch.full((1, 3), 1 / 3), grey, hues)


def test_weighted_diversity_is_the_expected_distance_of_two_mixture_draws():
    samples, _ = _samples(seed=2, b=2, k=4)
    pi = torch.softmax(torch.tensor([[2.0, 0.0, -1.0, 0.5], [0.0, 0.0, 0.0, 3.0]],
                                    dtype=torch.float64), 1)
    expected = sum(
        sum(pi[b, i] * pi[b, j] * _rms(samples[b, i], samples[b, j])
            for i in range(4) for j in range(4))
        for b in range(2)
    ) / 2
    assert weighted_diversity(samples, pi).item() == pytest.approx(float(expected), rel=1e-12)
    # Monte Carlo: pick two components independently by pi and average their distance
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    total = 0.0
    for b in range(2):
        i = torch.multinomial(pi[b], n, replacement=True, generator=gen)
        j = torch.multinomial(pi[b], n, replacement=True, generator=gen)
        d = field_distance(samples[b].unsqueeze(1), samples[b].unsqueeze(0))  # (4, 4)
        total += d[i, j].mean().item()
    assert weighted_diversity(samples, pi).item() == pytest.approx(total / 2, rel=0.01)
    # equal weights: (1 - 1/M) times the unweighted diversity (the i = j pairs count 0)
    equal = torch.full((2, 4), 0.25, dtype=torch.float64)
    assert weighted_diversity(samples, equal).item() == pytest.approx(
        0.75 * diversity(samples).item(), rel=1e-12)


def test_expected_error_is_the_mean_distance_of_one_answer_and_never_below_best_of_k():
    samples, target = _samples(seed=3, b=3, k=4)
    loops = [[_rms(samples[b, k], target[b]) for k in range(4)] for b in range(3)]
    assert expected_error(samples, target).item() == pytest.approx(
        sum(sum(row) / 4 for row in loops) / 3, rel=1e-12)
    pi = torch.softmax(torch.randn(3, 4, dtype=torch.float64,
                                   generator=torch.Generator().manual_seed(1)), 1)
    assert expected_error(samples, target, pi).item() == pytest.approx(
        sum(float(pi[b] @ torch.tensor(loops[b], dtype=torch.float64)) for b in range(3)) / 3,
        rel=1e-12)
    # all weight on one component: its distance; any weights: between best-of-k and worst
    one_hot = torch.zeros(3, 4, dtype=torch.float64)
    one_hot[:, 2] = 1.0
    assert expected_error(samples, target, one_hot).item() == pytest.approx(
        sum(row[2] for row in loops) / 3, rel=1e-12)
    worst = sum(max(row) for row in loops) / 3
    for w in (None, pi, one_hot):
        value = expected_error(samples, target, w).item()
        assert best_of_k_error(samples, target).item() <= value <= worst
    with pytest.raises(ValueError, match="sum to 1"):
        expected_error(samples, target, torch.full((3, 4), 0.3, dtype=torch.float64))


def test_ink_tints_with_the_true_hues_are_an_oracle_and_others_cost_their_distance():
    from vae_edu.colorization.baselines import InkTints, evenly_spaced_tints

    fields = _hued(n=12)
    oracle = InkTints(fields.hues)
    samples = oracle.sample(fields.grey, 8)
    assert samples.shape == (12, 8, 2, 28, 28)
    assert best_of_k_error(samples, fields.color).item() == pytest.approx(0.0, abs=1e-7)
    assert score_colorizer(oracle, fields, k=8)["coverage"] == 1.0
    # one tint c for every digit: the error of digit b is |c - h_b| times the RMS of its ink
    c = torch.tensor([[0.1, -0.2]])
    one = InkTints(c).sample(fields.grey, 2)
    t = fields.grey * (100.0 / 60.0)
    for b in range(12):
        ink_rms = t[b].pow(2).mean().sqrt()
        want = (c[0] - fields.hues[fields.hue[b]]).norm() * ink_rms
        assert field_distance(one[b, 0], fields.color[b]).item() == pytest.approx(
            want.item(), rel=1e-5)
    tints = evenly_spaced_tints(8, 45.0 / AB_SCALE)
    assert tints.shape == (8, 2)
    assert (tints.norm(dim=1) * AB_SCALE).tolist() == pytest.approx([45.0] * 8, rel=1e-6)
    assert math.degrees(math.atan2(tints[2, 1], tints[2, 0])) == pytest.approx(90.0, abs=1e-4)
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        InkTints(torch.zeros(3))
