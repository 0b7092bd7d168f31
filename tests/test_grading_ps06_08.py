"""Problem sets 06-08 and the exercise generator: the points line of every set, the stub
message, the library twins that must be flagged, and the known mistakes of the 06
questions that go beyond lecture 09 (a masked L_grad, histogram weights from raw pixels).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from helpers_paths import ROOT, SOLUTIONS
from torch import nn

from vae_edu.grading.checks import evaluate
from vae_edu.grading.questions import QUESTIONS
from vae_edu.tooling.grader.notebook import header_points_problem, read_solution

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_the_points_line_agrees_with_the_cell_metadata(path):
    problem = header_points_problem(read_solution(path))
    assert problem is None, problem


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_stub_names_the_hint_of_its_own_question(path):
    solution = read_solution(path)
    exercise = (ROOT / "exercises" / path.name).read_text(encoding="utf-8")
    assert "QUESTION" not in exercise
    named = set(re.findall(r"grading\.hint\('([A-Za-z0-9_]+)'\)", exercise))
    # automatic questions, and written ones whose answer cell says "<id>-answer"
    answered = {q.id for q in (*solution.questions, *solution.manual)}
    assert named and named <= answered, (named, answered)
    # every answer cell's stub names the test cell that follows it
    cells = solution.notebook.cells
    for q in solution.questions:
        above = [i for i in range(q.cell_index)
                 if cells[i].metadata.get("nbgrader", {}).get("solution")
                 and cells[i].cell_type == "code"]
        earlier = [p.cell_index for p in solution.questions if p.cell_index < q.cell_index]
        if above and (not earlier or above[-1] > max(earlier)):
            assert f"grading.hint('{q.id}')" in exercise, q.id


# --------------------------------------------------------------------- library twins


def conv_by_layer(size, kernel, stride=1, padding=0, dilation=1):
    return nn.Conv2d(1, 1, kernel, stride, padding, dilation)(torch.zeros(1, 1, size, size)
                                                              ).shape[-1]


def conv1d_by_layer(size, kernel, stride=1, padding=0, dilation=1):
    return nn.Conv1d(1, 1, kernel, stride, padding, dilation)(torch.zeros(1, 1, size)).shape[-1]


def conv_transpose_by_layer(size, kernel, stride=1, padding=0, output_padding=0, dilation=1):
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding,
                               dilation=dilation)
    return layer(torch.zeros(1, 1, size, size)).shape[-1]


def params_by_layers(side, c1, c2, z):
    flat = c2 * (side // 4) ** 2
    layers = [nn.Conv2d(1, c1, 4, 2, 1), nn.Conv2d(c1, c2, 4, 2, 1), nn.Linear(flat, 2 * z),
              nn.Linear(z, flat), nn.ConvTranspose2d(c2, c1, 4, 2, 1),
              nn.ConvTranspose2d(c1, 1, 4, 2, 1)]
    return sum(p.numel() for layer in layers for p in layer.parameters())


def masked_by_image_gradients(pred, target, mask):
    from vae_edu.colorization import image_gradients

    dx, dy = image_gradients(pred - target)
    mx, my = mask[..., :, 1:] * mask[..., :, :-1], mask[..., 1:, :] * mask[..., :-1, :]
    return ((dx**2 * mx).flatten(1).sum(1) + (dy**2 * my).flatten(1).sum(1)).mean()


def masked_by_library_loss(pred, target, mask):
    """The library's L_grad of every pair, minus what the pairs with an invalid pixel add."""
    from vae_edu.colorization import gradient_loss

    d = pred - target
    dx, dy = d[..., :, 1:] - d[..., :, :-1], d[..., 1:, :] - d[..., :-1, :]
    mx, my = mask[..., :, 1:] * mask[..., :, :-1], mask[..., 1:, :] * mask[..., :-1, :]
    invalid = ((dx**2 * (1 - mx)).flatten(1).sum(1) + (dy**2 * (1 - my)).flatten(1).sum(1))
    return gradient_loss(pred, target) - invalid.mean()


def histogram_by_library(color, bins, limit, mix):
    from vae_edu.colorization import ColorHistogram

    return ColorHistogram(bin_size=2 * limit / bins, limit=limit, mix=mix).fit(color).bin_weights


def mdn_by_library(logits, means, z, sigma):
    from vae_edu.colorization import mdn_nll

    return mdn_nll(logits, means, z, sigma)


def ridge_by_sklearn(codes, labels, num_classes, lam):
    from sklearn.linear_model import Ridge

    y = torch.nn.functional.one_hot(labels, num_classes).double().numpy()
    model = Ridge(alpha=lam).fit(codes.double().numpy(), y)
    return torch.from_numpy(np.vstack([model.coef_.T, model.intercept_[None]]))


TWINS = [
    ("gradient_loss", masked_by_image_gradients, "image_gradients"),
    ("gradient_loss", masked_by_library_loss, "losses.gradient_loss"),
    ("histogram_weights", histogram_by_library, "ColorHistogram.fit"),
    ("mdn_nll_stable", mdn_by_library, "losses.mdn_nll"),
    ("conv2d_out_size", conv_by_layer, "Conv2d.forward"),
    ("conv2d_out_size", conv1d_by_layer, "Conv1d.forward"),
    ("conv_transpose2d_out_size", conv_transpose_by_layer, "ConvTranspose2d.forward"),
    ("conv_vae_parameters", params_by_layers, "Linear.__init__"),
    ("ridge_probe", ridge_by_sklearn, "Ridge.fit"),
]


@pytest.mark.parametrize(("qid", "answer", "name"), TWINS, ids=[n for _, _, n in TWINS])
def test_a_library_twin_gets_the_twin_verdict(qid, answer, name):
    pytest.importorskip("sklearn") if qid == "ridge_probe" else None
    verdict = evaluate(qid, answer, seed=12345)
    assert verdict.status == "twin" and name in verdict.message, verdict.message


# ------------------------------------------------- the 06 questions and their mistakes


def test_the_known_mistakes_of_the_06_questions_each_get_their_hint():
    for qid in ("gradient_loss", "histogram_weights"):
        q = QUESTIONS[qid]
        for seed in ("visible", "hidden", 7, 12345):
            cases = q.draw(seed)
            hints = [h for h, _ in q.mistakes(cases[0])]
            assert len(set(hints)) == len(hints) >= 3
            for i, hint in enumerate(hints):
                def wrong(*args, _i=i, _q=q, _cases=cases):  # replays mistake i
                    call = next(c for c in _cases if all(
                        (torch.equal(a, b) if torch.is_tensor(a) else a == b)
                        for a, b in zip(c.args, args, strict=True)))
                    return _q.mistakes(call)[_i][1]
                verdict = evaluate(qid, wrong, seed=seed)
                assert verdict.status == "wrong" and verdict.message == hint, (qid, seed, hint)


def test_the_masked_gradient_loss_with_a_mask_of_ones_is_the_lecture_loss():
    from vae_edu.colorization import gradient_loss
    from vae_edu.grading.questions.colorization import masked_gradient_loss

    pred, target = torch.randn(2, 2, 5, 7), torch.randn(2, 2, 5, 7)
    ones = torch.ones(2, 1, 5, 7)
    assert torch.allclose(masked_gradient_loss(pred, target, ones), gradient_loss(pred, target))
    # a pixel with mask 0 changes nothing, whatever its colour
    mask = ones.clone()
    mask[:, :, 2, 3] = 0
    moved = pred.clone()
    moved[:, :, 2, 3] += 100
    assert torch.allclose(masked_gradient_loss(pred, target, mask),
                          masked_gradient_loss(moved, target, mask))


def test_histogram_weights_agree_with_the_library_binning():
    from vae_edu.colorization import ColorHistogram
    from vae_edu.grading.questions.colour import hist_weights

    for call in QUESTIONS["histogram_weights"].draw(3):
        color, bins, limit, mix = call.args
        hist = ColorHistogram(bin_size=2 * limit / bins, limit=limit, mix=mix).fit(color)
        ours = hist_weights(color, bins, limit, mix)
        assert torch.allclose(ours.float(), hist.bin_weights, rtol=1e-5)
        assert torch.isclose((hist.prior.double() * ours).sum(), torch.tensor(1.0).double())
