"""The problem sets' new machinery: no answer text reaches a student, written answers,
hints on demand, the library-twin flag, train-and-report bands, and instructors' scores.

Fast and in-process; the batch grading of real notebooks is in test_grading_batch.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import torch
from helpers_paths import ROOT, SOLUTIONS
from nbformat import v4

from vae_edu import grading
from vae_edu.grading import bands, hints
from vae_edu.grading.checks import evaluate
from vae_edu.grading.harness import encode
from vae_edu.grading.questions import QUESTIONS
from vae_edu.grading.questions.vae_nn import HELD_OUT
from vae_edu.tooling.grader.classroom import grade_class, read_manual_scores
from vae_edu.tooling.grader.notebook import (
    BEGIN_SOLUTION,
    END_SOLUTION,
    SolutionError,
    make_exercise,
    read_solution,
)

STUDENT_FACING = sorted((ROOT / "exercises").glob("*.ipynb")) + sorted(
    (ROOT / "lectures").glob("*.ipynb"))


def solution_lines(path: Path) -> list[str]:
    """Every line of every solution region (code and written answers) of a solution, at
    least 20 characters long once stripped, comments aside."""
    lines = []
    for cell in nbformat.read(path, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            text = line.strip()
            if text == BEGIN_SOLUTION:
                inside = True
            elif text == END_SOLUTION:
                inside = False
            elif inside:
                if cell.cell_type == "code":  # comments aside, trailing ones too
                    text = text.split("#", 1)[0].strip()
                if len(text) >= 20:
                    lines.append(text)
    return lines


def student_texts() -> dict[str, str]:
    out = {}
    for path in STUDENT_FACING:
        nb = nbformat.read(path, as_version=4)
        out[f"{path.parent.name}/{path.name}"] = "\n".join(c.source for c in nb.cells)
    return out


def leaks(lines: list[str], texts: dict[str, str]) -> list[tuple[str, str]]:
    return [(line, where) for line in lines for where, text in texts.items() if line in text]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_no_line_of_a_solution_reaches_an_exercise_or_a_lecture(path):
    lines = solution_lines(path)
    assert lines, f"{path.name} has no solution lines of 20 characters or more"
    found = leaks(lines, student_texts())
    assert not found, f"solution text of {path.name} found in: {found[:5]}"


def test_the_leak_check_finds_a_planted_leak_and_ignores_comments(tmp_path):
    cell = v4.new_code_cell(f"def f(x):\n    {BEGIN_SOLUTION}\n    # a comment line of the answer\n"
                            f"    return torch.logsumexp(x, dim=0)  # trailing note\n"
                            f"    {END_SOLUTION}")
    nb = v4.new_notebook()
    nb.cells = [cell]
    path = tmp_path / "99_leak.ipynb"
    nbformat.write(nb, path)
    lines = solution_lines(path)
    assert lines == ["return torch.logsumexp(x, dim=0)"]
    planted = {"exercises/99_leak.ipynb": "y = 1\n    return torch.logsumexp(x, dim=0)\n"}
    assert leaks(lines, planted) == [(lines[0], "exercises/99_leak.ipynb")]
    assert leaks(lines, {"lectures/x.ipynb": "return torch.logsumexp(x, dim=1)"}) == []


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_stubs_carry_no_hint_of_the_answer(path):
    exercise = make_exercise(read_solution(path))
    for cell in exercise.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            for message in re.findall(r"NotImplementedError\((.*?)\)", cell.source, re.S):
                assert "grading.hint" in message and "torch" not in message


def test_every_graded_question_has_hints_and_every_set_mixes_kinds():
    for path in SOLUTIONS:
        sol = read_solution(path)
        for qid in sol.columns:
            assert qid in hints.HINTS, f"{path.name}: no hints for {qid}"
        kinds = {m.kind for m in sol.manual} | {QUESTIONS[q.id].tier for q in sol.questions}
        assert {"implement", "derive", "interpret"} <= kinds, (path.name, kinds)


def _solution_with(tmp_path, cell) -> Path:
    nb = nbformat.read(SOLUTIONS[0], as_version=4)
    nb.cells.append(cell)
    path = tmp_path / SOLUTIONS[0].name
    nbformat.write(nb, path)
    return path


def _written(source, **meta):
    cell = v4.new_markdown_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "interpret_x",
                                 "points": 2, **meta}
    return cell


def test_a_written_answer_is_listed_and_becomes_your_answer_here(tmp_path):
    cell = _written(f"{BEGIN_SOLUTION}\nThe model answer.\n\n**Rubric**\n- 2: it says so.\n"
                    f"{END_SOLUTION}")
    sol = read_solution(_solution_with(tmp_path, cell))
    manual = {m.id: m for m in sol.manual}
    assert manual["interpret_x"].points == 2 and manual["interpret_x"].kind == "interpret"
    assert "it says so" in manual["interpret_x"].rubric
    stub = make_exercise(sol).cells[-1]
    assert stub.source == "YOUR ANSWER HERE" and "Rubric" not in stub.source


@pytest.mark.parametrize(("source", "meta", "error"), [
    (f"{BEGIN_SOLUTION}\nno rubric here\n{END_SOLUTION}", {}, "needs its rubric"),
    (f"{BEGIN_SOLUTION}\nx\n**Rubric**\n{END_SOLUTION}", {"points": 0}, "points > 0"),
    (f"{BEGIN_SOLUTION}\nx\n**Rubric**\n{END_SOLUTION}", {"grade_id": "kl_normal"},
     "automatic question"),
    ("no region", {}, "an answer cell without"),
])
def test_a_malformed_written_answer_is_one_clear_error(tmp_path, source, meta, error):
    with pytest.raises(SolutionError, match=error):
        read_solution(_solution_with(tmp_path, _written(source, **meta)))


def test_a_hint_line_in_a_solution_region_is_refused(tmp_path):
    cell = v4.new_code_cell(f"def f():\n    {BEGIN_SOLUTION}\n    # HINT: return 1\n"
                            f"    return 1\n    {END_SOLUTION}")
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "f-answer"}
    with pytest.raises(SolutionError, match="HINT"):
        read_solution(_solution_with(tmp_path, cell))


def test_hints_come_one_level_at_a_time_and_are_counted_from_outputs(capsys):
    hints.reset_hints()
    levels = hints.HINTS["kl_normal"]
    shown = [grading.hint("kl_normal") for _ in range(len(levels) + 1)]
    assert [s.split(":")[0] for s in shown] == [
        f"hint {i}/{len(levels)} for kl_normal" for i in
        [*range(1, len(levels) + 1), len(levels)]]
    assert levels[0] in shown[0] and levels[-1] in shown[-1]
    assert hints.hints_opened(capsys.readouterr().out.splitlines()) == {
        "kl_normal": len(levels)}
    with pytest.raises(KeyError, match="no hints for 'nope'"):
        grading.hint("nope")


def own_kl(mu_q, logvar_q, mu_p, logvar_p):
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2)
                  / logvar_p.exp() - 1).sum(-1)


def wrapped_twin(mu_q, logvar_q, mu_p, logvar_p):
    from vae_edu.losses import kl_normal as renamed

    return (lambda *a: renamed(*a))(mu_q, logvar_q, mu_p, logvar_p)


def test_an_answer_through_the_library_twin_is_flagged_and_earns_nothing():
    assert evaluate("kl_normal", own_kl).passed
    verdict = evaluate("kl_normal", wrapped_twin, seed="hidden")
    assert verdict.status == "twin" and not verdict.passed
    assert "vae_edu.losses.kl_normal" in verdict.message
    torch_kl = evaluate("kl_normal", lambda mq, lq, mp, lp: torch.distributions.kl_divergence(
        torch.distributions.Normal(mq, (0.5 * lq).exp()),
        torch.distributions.Normal(mp, (0.5 * lp).exp())).sum(-1))
    assert torch_kl.status == "twin"


def test_a_wrong_answer_reports_what_was_measured_against_what_was_expected():
    verdict = evaluate("kl_normal", lambda mq, lq, mp, lp: 2 * own_kl(mq, lq, mp, lp))
    assert verdict.mistake and "factor 2" in verdict.message
    assert verdict.comparison().startswith("measured max relative error")


def test_the_band_threshold_is_the_worst_draw_plus_noise_spread_or_a_tenth_of_the_gap():
    runs = [[100.0, 101.0], [102.0, 103.0]]  # two seeds, two draws each
    # worst 103; SD over draws 0.7071 per run; means 100.5 and 102.5: margin 1.414 + 2
    assert bands.threshold(runs, "below") == pytest.approx(103 + 2 * 0.5**0.5 + 2)
    assert bands.threshold(runs, "below", resolution=0.1) == pytest.approx(106.4)  # floor
    # a baseline at 200: a tenth of the gap (98.5) is the larger margin
    assert bands.threshold(runs, "below", 200.0, 0.1) == pytest.approx(112.8)
    # a baseline the reference does not beat (smoke) adds nothing
    assert bands.threshold(runs, "below", 90.0) == pytest.approx(103 + 2 * 0.5**0.5 + 2)
    above = bands.threshold([[0.90, 0.92]], "above", resolution=0.001)
    assert above == pytest.approx(0.872)  # 0.90 - 2 x 0.01414, rounded up (strict)
    with pytest.raises(ValueError):
        bands.threshold([], "below")
    with pytest.raises(ValueError):
        bands.threshold([[]], "below")


def test_a_band_discriminates_only_if_no_baseline_reaches_it_on_any_draw():
    assert bands.discriminates(150.0, {"mean image": {"values": [199.0, 151.0]}}, "below")
    assert not bands.discriminates(150.0, {"mean image": {"values": [199.0, 149.0]}}, "below")
    assert not bands.discriminates(0.7, {"untrained": {"values": [0.69, 0.71]}}, "above")
    # a baseline rejected by a requirement (a CVAE ignoring y) never passes
    assert bands.discriminates(150.0, {"x": {"values": [1.0], "rejected": [True]}}, "below")
    assert not bands.discriminates(150.0, {"x": {"values": [1.0, 2.0],
                                                 "rejected": [True, False]}}, "below")


def test_the_stored_bands_discriminate_and_beat_their_baselines():
    data = bands.load_bands(ROOT / "solutions" / bands.BANDS_FILE)
    train = [q for q in QUESTIONS.values() if getattr(q, "tier", "") == "train"]
    assert {q.id for q in train} <= set(data)
    for q in train:
        for profile in ("smoke", "default"):
            band = data[q.id][profile]
            # default bands must separate a trained model from every baseline; a smoke
            # band may not (CI budgets), and then says so in the feedback
            assert band["discriminating"] or profile == "smoke", (q.id, profile)
            assert band["discriminating"] == bands.discriminates(
                band["threshold"], band["baselines"], q.direction), (q.id, profile)
            assert len(band["draws"]) == len(band["seeds"]) >= 3
            worst = (max if q.direction == "below" else min)(v for r in band["draws"] for v in r)
            assert q.passes(worst, band), (q.id, profile)  # every reference draw passes


def test_every_solution_states_the_band_bands_json_holds(tmp_path):
    import shutil

    data = json.loads((ROOT / "solutions" / bands.BANDS_FILE).read_text())
    train = [q for q in QUESTIONS.values() if getattr(q, "tier", "") == "train"]
    copy = tmp_path / "solutions"
    shutil.copytree(ROOT / "solutions", copy)
    stale = bands.restate(copy, data, train)
    assert not stale, f"run `vae-edu exercises bands` (or bands.restate): {stale}"
    for q in train:  # each states its threshold under both profiles, exactly
        text = bands.describe(q, data["questions"][q.id])
        for profile in ("smoke", "default"):
            threshold = data["questions"][q.id][profile]["threshold"]
            assert f"**{bands._fmt(threshold, q.unit, q.resolution)}**" in text
            assert float(bands._fmt(threshold, q.unit, q.resolution).rstrip("%")) == \
                pytest.approx(100 * threshold if q.unit == "" else threshold)  # exact


def test_the_mean_image_baseline_is_measured_as_its_closed_form():
    from vae_edu.grading.questions.train import MeanImageModel, mean_image
    from vae_edu.losses import bernoulli_nll

    q = QUESTIONS["train_vae"]
    mean = mean_image(1000)
    value = q.measure_model(MeanImageModel(mean, 16), "hidden")
    x = q.draw("hidden").held["x"].double()
    p = mean.double().clamp(1e-4, 1 - 1e-4)
    expected = float(bernoulli_nll((p.log() - (-p).log1p()).expand_as(x), x).mean())
    assert value == pytest.approx(expected, rel=1e-5)  # KL = 0: q(z|x) is the prior


def test_iwae_gains_nothing_over_the_elbo_when_the_decoder_ignores_z():
    # equal log weights: IWAE_5 = the 5-sample ELBO estimate, so the gain is exactly 0
    from vae_edu.grading.harness import run
    from vae_edu.grading.judging import decode_results
    from vae_edu.grading.questions.train import MeanImageModel, mean_image

    q = QUESTIONS["train_iwae"]
    cases = q.draw("hidden")
    results = decode_results(run(MeanImageModel(mean_image(1000), 16), q.spec(cases)))
    assert q.tightening(cases, results) == pytest.approx(0.0, abs=1e-9)
    assert "gain only 0.00 nats" in q.requirement(cases, results, "default")


def test_a_cvae_that_ignores_its_label_fails_however_good_its_elbo():
    q = QUESTIONS["train_cvae"]

    class Blind(TinyVAE):
        def encode(self, x, y):
            return super().encode(x)

        def decode(self, z, y):
            return super().decode(z)

    cases = q.draw("hidden")
    from vae_edu.grading.harness import run

    payload = run(Blind(), q.spec(cases))
    verdict = q.judge(cases, [("smoke", {"threshold": 1e9, "values": [1.0]})], payload)
    assert verdict.status == "wrong" and "does not use the label" in verdict.message


def test_a_stack_whose_top_code_is_not_64_wide_is_not_measured():
    q = QUESTIONS["train_stack"]

    class Wide(torch.nn.Module):
        def encode(self, x):
            return torch.sigmoid(x[:, :100])

    cases = q.draw("hidden")
    from vae_edu.grading.harness import run

    payload = run(Wide(), q.spec(cases))
    verdict = q.judge(cases, [("smoke", {"threshold": 0.0, "values": [1.0]})], payload)
    assert verdict.status == "wrong" and "(2000, 64)" in verdict.message


class TinyVAE(torch.nn.Module):
    """A VAE-shaped model with fixed weights (z is 16-d, as train_vae asks)."""

    def __init__(self, cheat: bool = False):
        super().__init__()
        self.enc = torch.nn.Linear(784, 32)
        self.dec = torch.nn.Linear(16, 784)
        self.cheat = cheat

    def encode(self, x):
        return self.enc(x).chunk(2, dim=1)

    def decode(self, z):
        return self.dec(z)


def test_a_train_question_is_measured_by_the_grader_against_the_band(tmp_path):
    q = QUESTIONS["train_vae"]
    model = TinyVAE()
    value = q.reference_value.__func__  # noqa: B018  (exists)
    cases = q.draw("hidden")
    from vae_edu.grading.harness import run

    payload = run(model, q.spec(cases))
    from vae_edu.grading.judging import decode_results

    measured = q.measure(cases, decode_results(payload))
    band_file = tmp_path / "bands.json"
    for threshold, status in ((measured + 1, "passed"), (measured - 1, "wrong")):
        band_file.write_text(json.dumps({"questions": {"train_vae": {"smoke": {
            "values": [threshold], "seeds": [0], "threshold": threshold,
            "direction": "below", "unit": "nats/image"}}}}))
        bands.use(band_file, "smoke")
        try:
            verdict = q.judge(cases, q.expected(cases), payload)
        finally:
            bands.use(None, None)
        assert verdict.status == status, verdict
        assert "held-out negative ELBO" in verdict.measured
    assert callable(value)


def test_a_decoder_fed_other_codes_than_the_graders_is_not_measured():
    q = QUESTIONS["train_vae"]
    cases = q.draw("hidden")
    from vae_edu.grading.harness import run

    payload = run(TinyVAE(), q.spec(cases))
    payload["results"][1]["made"] = encode(torch.zeros(HELD_OUT, 16))  # a forged record
    verdict = q.judge(cases, [("smoke", {"threshold": 1e9, "values": [1.0]})], payload)
    assert verdict.status == "wrong" and "not called on the codes" in verdict.message


def _scores(tmp_path, text):
    path = tmp_path / "scores.csv"
    path.write_text(text)
    return path


def test_instructor_scores_are_checked_before_anything_is_written(tmp_path):
    solutions = {p.name: read_solution(p) for p in SOLUTIONS}
    written = [m for s in solutions.values() for m in s.manual]
    first = written[0]
    good = _scores(tmp_path, f"student,{first.id}\nalice,{first.points}\nbob,\n")
    assert read_manual_scores(good, solutions, ["alice", "bob"]) == {
        "alice": {first.id: first.points}, "bob": {}}
    for text, error in [
        ("student,nope\nalice,1\n", "column 'nope' is not a written question"),
        (f"student,{first.id}\ncarol,1\n", "no submissions from student 'carol'"),
        (f"student,{first.id}\nalice,{first.points + 1}\n", "outside 0.."),
        (f"student,{first.id}\nalice,lots\n", "is not a number"),
        (f"student,{first.id}\nalice,1\nalice,1\n", "appears twice"),
        ("name,x\n", "first row must be the header"),
    ]:
        with pytest.raises(ValueError, match=error):
            read_manual_scores(_scores(tmp_path, text), solutions, ["alice", "bob"])
    subs = tmp_path / "subs" / "alice"
    subs.mkdir(parents=True)
    (subs / "01_autoencoder.ipynb").write_text((ROOT / "exercises" /
                                                "01_autoencoder.ipynb").read_text())
    out = tmp_path / "grades.csv"
    with pytest.raises(ValueError, match="Nothing was graded or written"):
        grade_class(tmp_path / "subs", out, solutions_dir=ROOT / "solutions",
                    manual_scores=_scores(tmp_path, "student,nope\nalice,1\n"),
                    progress=None)
    assert not out.exists() and not list(tmp_path.glob("grades*"))


def test_a_class_gets_its_written_scores_merged_and_its_hints_counted(tmp_path):
    """One kernel: the solution of 02 as a student who opened two hint levels; the
    instructor's scores of one written answer are merged, the other stays blank."""
    name = "02_regularised_autoencoders.ipynb"
    sol = read_solution(ROOT / "solutions" / name)
    first, second = sol.manual[0], sol.manual[1]
    nb = nbformat.read(ROOT / "solutions" / name, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [v4.new_output("stream", name="stdout", text=(
        "hint 1/3 for sparse_kl_grad: ...\nhint 2/3 for sparse_kl_grad: ...\n"))]
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    nbformat.write(nb, tmp_path / "subs" / "ann" / name)
    scores = _scores(tmp_path, f"student,{first.id},{second.id}\nann,{first.points},\n")
    out = tmp_path / "grades.csv"
    report = grade_class(tmp_path / "subs", out, solutions_dir=ROOT / "solutions",
                         manual_scores=scores, progress=None, sandbox="basic")
    import csv

    with open(out, newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    auto = sum(q.points for q in sol.questions)
    assert float(row[first.id]) == first.points and row[second.id] == ""
    assert float(row["total"]) == auto + first.points
    assert row["hints"] == "2"
    assert report.pending[second.id] == 1
    hints_row = (tmp_path / "grades_hints.csv").read_text().splitlines()[1]
    assert hints_row.startswith("ann,2,")  # sparse_kl_grad is the set's first question
    feedback = (tmp_path / "grades_feedback" / "ann.md").read_text()
    assert "Hints opened: sparse_kl_grad 2" in feedback
    assert f"{second.id} (–/{second.points:g}): needs grading" in feedback
