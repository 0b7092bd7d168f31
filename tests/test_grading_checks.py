"""The immediate checks: references, hints for common mistakes, and the recording harness.

All in-process and fast: the answers come from the answer cells of solutions/ and
exercises/ (run in a namespace, not a kernel) or are written out below as typical
mistakes. Each mistake must earn its own hint, not just "wrong".
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from helpers_paths import ROOT, SOLUTIONS

from vae_edu import grading
from vae_edu.grading.checks import evaluate
from vae_edu.grading.harness import decode, encode, run
from vae_edu.grading.judging import diagnose
from vae_edu.grading.questions import QUESTIONS
from vae_edu.tooling.grader.notebook import read_solution

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def answers_of(path: Path) -> dict:
    """Run the set-up cell and the answer cells of a notebook; return its namespace."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells  # the Colab install cell comes first and does nothing here
            if c.cell_type == "code" and "colab-install" not in c.metadata.get("tags", [])]
    namespace: dict = {"__name__": "notebook"}
    exec(compile(code[0].source, f"{path.name}:setup", "exec"), namespace)
    for i, cell in enumerate(code):
        grading_meta = cell.metadata.get("nbgrader", {})
        qid = grading_meta.get("grade_id", "").removesuffix("-answer")
        if qid in QUESTIONS and QUESTIONS[qid].tier == "train":
            continue  # training runs in tests/test_grading_batch.py, under the grader
        if grading_meta.get("solution"):
            exec(compile(cell.source, f"{path.name}:cell{i}", "exec"), namespace)
    return namespace


def graded(path: Path) -> list[tuple[str, str]]:
    return [(q.id, q.answer) for q in read_solution(path).questions]


ALL_GRADED = [(path, qid, answer) for path in SOLUTIONS for qid, answer in graded(path)]
SOLVED = [(path, qid, answer) for path, qid, answer in ALL_GRADED
          if QUESTIONS[qid].tier != "train"]


def test_every_question_is_graded_in_exactly_one_solution():
    ids = [qid for _, qid, _ in ALL_GRADED]
    assert sorted(ids) == sorted(QUESTIONS), "solutions/ and the question registry differ"


@pytest.mark.parametrize("seed", ["visible", "hidden", 7, 12345])
@pytest.mark.parametrize(("path", "qid", "answer"), SOLVED, ids=[q for _, q, _ in SOLVED])
def test_each_solution_agrees_with_its_library_twin(path, qid, answer, seed):
    verdict = evaluate(qid, answers_of(path)[answer], seed=seed)
    assert verdict.passed, verdict.line(qid)


@pytest.mark.parametrize(("path", "qid", "answer"), SOLVED, ids=[q for _, q, _ in SOLVED])
def test_each_exercise_stub_is_not_implemented_yet(path, qid, answer, capsys):
    stub = answers_of(ROOT / "exercises" / path.name)[answer]
    grading.check(qid, stub)
    out = capsys.readouterr().out
    assert out.startswith(f"… {qid}: not implemented yet") and out.count("\n") == 1
    assert "grading.hint" in out and "Traceback" not in out


def kl_no_half(mu, logvar, free_bits):
    return (-(1 + logvar - mu**2 - logvar.exp())).mean(0).clamp(min=free_bits).sum()


def kl_log_sigma(mu, logvar, free_bits):
    return (-0.5 * (1 + 2 * logvar - mu**2 - torch.exp(2 * logvar))).mean(0).clamp(
        min=free_bits).sum()


def kl_dims(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp())


def masked_bce(logits, x, mask):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return bce if mask is None else bce * mask


def normalised(w, dim=0):
    return torch.softmax(w, dim=dim)


def ae(forward_sigmoid=False, relu_code=False, dec_relu=True):
    class TiedAutoencoder(torch.nn.Module):
        def __init__(self, input_dim, hidden_dim, code_dim):
            super().__init__()
            self.enc1 = torch.nn.Linear(input_dim, hidden_dim)
            self.enc2 = torch.nn.Linear(hidden_dim, code_dim)
            self.c2 = torch.nn.Parameter(torch.zeros(hidden_dim))
            self.c1 = torch.nn.Parameter(torch.zeros(input_dim))

        def encode(self, x):
            code = self.enc2(torch.relu(self.enc1(x)))
            return torch.relu(code) if relu_code else code

        def forward(self, x):
            back = F.linear(self.encode(x), self.enc2.weight.T, self.c2)
            back = torch.relu(back) if dec_relu else back
            out = F.linear(back, self.enc1.weight.T, self.c1)
            return torch.sigmoid(out) if forward_sigmoid else out

    return TiedAutoencoder


def two_layer_sum(x, w1, b1, w2, b2):
    h1 = torch.sigmoid(x @ w1.T + b1)
    h2 = torch.sigmoid(h1 @ w2.T + b2)
    pen1 = ((h1 * (1 - h1)) ** 2 * (w1**2).sum(1)).sum(1)
    pen2 = ((h2 * (1 - h2)) ** 2 * (w2**2).sum(1)).sum(1)
    return (pen1 + pen2).mean()


def emphasised(swap=False, item=False):
    def loss(logits, x, corrupted, alpha, beta):
        w = torch.where(corrupted, beta, alpha) if swap else torch.where(corrupted, alpha, beta)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        out = (w * bce).sum(1).mean()
        return out.item() if item else out

    return loss


def masking(x, fraction, generator=None):
    return x.masked_fill(torch.rand(x.shape, generator=generator) < fraction, 0.0)


def unseeded(x, fraction, generator=None):
    u = torch.rand(x.shape)
    return x.masked_fill(u < fraction / 2, 0.0).masked_fill((u >= fraction / 2) & (u < fraction), 1)


MISTAKES = [
    ("kl_free_bits", kl_no_half, "off by a factor 2"),
    ("kl_free_bits", kl_log_sigma, "log sigma where log sigma^2"),
    ("kl_free_bits", lambda mu, lv, fb: kl_dims(mu, lv).clamp(min=fb).sum(1).mean(),
     "image by image"),
    ("kl_free_bits", lambda mu, lv, fb: kl_dims(mu, lv).sum(1).mean().clamp(min=fb),
     "no floor per dimension"),
    ("kl_free_bits", lambda mu, lv, fb: kl_dims(mu, lv).mean(0).clamp(min=fb),
     "forget to sum over the last dimension"),
    ("reparameterize", lambda mu, lv, eps: mu + lv.exp() * eps, "the variance exp(logvar)"),
    ("negative_elbo", lambda logits, x, mu, lv, mask=None:
     masked_bce(logits, x, mask).sum(1).mean(), "left out the KL"),
    ("negative_elbo", lambda logits, x, mu, lv, mask=None:
     (F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
      + kl_dims(mu, lv).sum(1)).mean(), "missing pixels (mask 0) are not data"),
    ("negative_elbo", lambda logits, x, mu, lv, mask=None:
     (masked_bce(logits, x, mask).sum(1) / (x.shape[1] if mask is None else mask.sum(1))
      + kl_dims(mu, lv).sum(1)).mean(), "do not divide by their number"),
    ("emphasised_loss", lambda logits, x, c, a, b: F.binary_cross_entropy_with_logits(
        logits, x, reduction="none").sum(1).mean(), "left the weights out"),
    ("emphasised_loss", emphasised(swap=True), "weights are swapped"),
    ("emphasised_loss", emphasised(item=True), "not a Python number"),
    ("iwae_weights", lambda w: (torch.exp(w) / torch.exp(w).sum(0),
                                1 / (torch.exp(w) / torch.exp(w).sum(0)).square().sum(0)),
     "underflows"),
    ("iwae_weights", lambda w: (normalised(w, 1), 1 / normalised(w, 1).square().sum(0)),
     "not over the batch"),
    ("iwae_weights", lambda w: (normalised(w), normalised(w).square().sum(0)), "(Kish)"),
    ("sparse_kl_grad", lambda h, rho: (-rho / h.mean(0) + (1 - rho) / (1 - h.mean(0)))
     .expand(h.shape), "divide by the batch size"),
    ("sparse_kl_grad", lambda h, rho: (-rho / h.mean(0)).expand(h.shape) / len(h),
     "only half of it"),
    ("two_layer_contractive", two_layer_sum, "do not add up"),
    ("salt_and_pepper", masking, "only pepper"),
    ("salt_and_pepper", unseeded, "draw your random numbers from the generator"),
    ("salt_and_pepper", lambda x, f, generator=None: x.clamp_(0.1, 0.9), "in place"),
    ("TiedAutoencoder", ae(forward_sigmoid=True), "drop the sigmoid"),
    ("TiedAutoencoder", ae(relu_code=True), "no ReLU after the encoder's last layer"),
    ("TiedAutoencoder", ae(dec_relu=False), "the decoder mirrors the encoder"),
    ("slerp", lambda a, b, alphas: (1 - alphas[:, None]) * a + alphas[:, None] * b,
     "that is the straight line"),
    ("gradient_loss", lambda p, t, m: (((p - t) * m).diff(dim=3) ** 2).flatten(1).sum(1).mean()
     + (((p - t) * m).diff(dim=2) ** 2).flatten(1).sum(1).mean(),
     "before differencing"),
    ("condition_on_label", lambda x, y, c: torch.cat([F.one_hot(y, c).float(), x], 1),
     "put x first"),
    ("log_weights", lambda x, logits, z, mu, lv: torch.zeros(z.shape[:2]), "differs from"),
]


@pytest.mark.parametrize(("qid", "wrong", "hint"), MISTAKES,
                         ids=[f"{q}-{i}" for i, (q, _, _) in enumerate(MISTAKES)])
def test_a_common_mistake_gets_its_hint(qid, wrong, hint, capsys):
    verdict = evaluate(qid, wrong)
    assert not verdict.passed and hint in verdict.message, verdict.message
    grading.check(qid, wrong)
    assert capsys.readouterr().out == f"✗ {qid}: {verdict.message}\n"


def test_an_error_names_the_type_message_and_line():
    def kl(mu, logvar, free_bits):
        total = mu @ logvar  # (B, Z) @ (B, Z): a shape error
        return total

    verdict = evaluate("kl_free_bits", kl)
    assert verdict.status == "error"
    assert verdict.message.startswith("your code raised RuntimeError: mat1 and mat2 shapes")
    assert "total = mu @ logvar" in verdict.message


def test_missing_and_uncallable_answers():
    assert "no `kl_free_bits` is defined" in evaluate("kl_free_bits", None).message
    assert "not a function but a value of type int" in evaluate("kl_free_bits", 3).message


def test_hidden_check_raises_only_when_wrong(capsys):
    grading.hidden_check("kl_free_bits",
                         lambda mu, lv, fb: kl_dims(mu, lv).mean(0).clamp(min=fb).sum())
    assert capsys.readouterr().out.startswith("✓ kl_free_bits: passed")
    with pytest.raises(AssertionError, match="off by a factor 2"):
        grading.hidden_check("kl_free_bits", kl_no_half)


def test_an_unknown_question_lists_the_known_ones():
    with pytest.raises(KeyError, match="known questions: TiedAutoencoder, emphasised_loss"):
        grading.check("kl", kl_no_half)


def test_visible_hidden_and_secret_inputs_differ():
    q = QUESTIONS["kl_free_bits"]
    first = [q.draw(seed)[0].args[0] for seed in ("visible", "hidden", "a-secret")]
    assert not any(a.shape == b.shape and torch.equal(a, b)
                   for i, a in enumerate(first) for b in first[i + 1:])
    assert torch.equal(q.draw("visible")[0].args[0], first[0])  # reproducible


def test_the_harness_round_trips_values_exactly():
    values = (torch.randn(3, 4), torch.tensor([1.0, math.nan, math.inf, -math.inf]),
              torch.arange(5), 2.5, 7, None, "text", [torch.ones(2)])
    back = decode(encode(values))
    assert torch.equal(back[0], values[0]) and back[0].dtype == torch.float32
    assert torch.allclose(back[1], values[1], equal_nan=True)  # NaN and infinities survive
    assert torch.equal(back[2], values[2]) and back[3:7] == (2.5, 7, None, "text")
    assert torch.equal(back[7][0], torch.ones(2))


def test_the_harness_refuses_what_it_should_not_build():
    bad = {"__tensor__": {"dtype": "save", "shape": [1], "data": [0.0]}}
    with pytest.raises(ValueError, match="dtype"):
        decode(bad)
    with pytest.raises(ValueError, match="not a number"):
        decode({"__tensor__": {"dtype": "float32", "shape": [1], "data": ["__import__"]}})


def test_the_harness_records_errors_and_in_place_changes_without_judging():
    spec = {"kind": "function", "calls": [{"args": [encode(torch.ones(2))], "label": "f(x)"}]}
    payload = run(lambda x: x.mul_(2), spec)
    assert payload["status"] == "ran" and payload["results"][0]["mutated"] == [0]
    payload = run(lambda x: 1 / 0, spec)
    assert payload["results"][0]["error"]["type"] == "ZeroDivisionError"
    assert run(None, spec) == {"status": "missing", "results": []}


def test_generic_diagnosis_of_factors_signs_and_offsets():
    e = [torch.tensor([1.0, 2.0, 3.0])]
    assert "factor 2 (too large)" in diagnose([2 * e[0]], e)
    assert "factor 3 (too small)" in diagnose([e[0] / 3], e)
    assert "wrong sign" in diagnose([-e[0]], e)
    assert "off by a constant 0.5" in diagnose([e[0] + 0.5], e)
    assert "NaN or inf" in diagnose([torch.tensor([1.0, math.nan, 3.0])], e)
