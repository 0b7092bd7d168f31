"""The batch grader's parts that need no kernel: preparing notebooks, collecting, judging.

(Running real submissions end to end is test_grading_batch.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from vae_edu.grading.harness import run
from vae_edu.grading.questions import QUESTIONS
from vae_edu.tooling.grader.batch import (
    Limits,
    _judge,
    collect_submissions,
    grade_submissions,
    prepare_notebook,
)
from vae_edu.tooling.grader.notebook import read_solution

ROOT = Path(__file__).resolve().parents[1]
VAE = read_solution(ROOT / "solutions" / "03_vae.ipynb")


def specs(seed="test"):
    out, data = {}, {}
    for q in VAE.questions:
        cases = QUESTIONS[q.id].draw(seed)
        out[q.id] = QUESTIONS[q.id].spec(cases)
        data[q.id] = (cases, QUESTIONS[q.id].expected(cases))
    return out, data


def test_hidden_tests_follow_each_test_cell_and_nothing_of_the_student_is_kept_but_code():
    exercise = (ROOT / "exercises" / "03_vae.ipynb").read_bytes()
    nb, injected = prepare_notebook(exercise, VAE, specs()[0])
    assert [c.cell_type for c in nb.cells] == ["code"] * len(nb.cells)
    assert all(c.outputs == [] and c.metadata == {} for c in nb.cells)
    assert sorted(injected.values()) == sorted(q.id for q in VAE.questions)
    for index, qid in injected.items():
        assert nb.cells[index - 1].source == f'grading.check("{qid}", {QUESTIONS[qid].answer})'
        assert nb.cells[index].source.startswith(f"# vae-edu grader: hidden tests of '{qid}'")
        assert "def run(answer, spec):" in nb.cells[index].source  # the harness itself


def test_without_test_cells_the_hidden_tests_go_last_and_metadata_wins_over_text():
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell("def kl_free_bits(mu, logvar, free_bits):\n    return mu"),
                v4.new_markdown_cell("text"), v4.new_code_cell("x = 1")]
    nb.cells[2].metadata["nbgrader"] = {"grade_id": "kl_free_bits"}
    prepared, injected = prepare_notebook(nbformat.writes(nb).encode(), VAE, specs()[0])
    # the markdown cell is dropped; the KL's tests follow the cell that carries its grade_id
    assert prepared.cells[1].source == "x = 1" and injected[2] == "kl_free_bits"
    others = [q.id for q in VAE.questions if q.id != "kl_free_bits"]  # at the end, in order
    assert sorted(injected) == list(range(2, 3 + len(others)))
    assert [injected[i] for i in range(3, 3 + len(others))] == others


@pytest.mark.parametrize("data", [b"\x00garbage", b"[1, 2]", b'{"cells": 3}'])
def test_anything_but_a_notebook_is_refused(data):
    with pytest.raises(ValueError, match="not a notebook"):
        prepare_notebook(data, VAE, specs()[0])


def test_collect_reads_student_folders_and_says_what_it_ignored(tmp_path):
    (tmp_path / "alice" / "hw" / ".ipynb_checkpoints").mkdir(parents=True)
    (tmp_path / "alice" / "03_vae.ipynb").write_text("{}")
    (tmp_path / "alice" / "hw" / "03_vae.ipynb").write_text("{} ")
    (tmp_path / "alice" / "hw" / ".ipynb_checkpoints" / "04_x.ipynb").write_text("{}")
    (tmp_path / "bob").mkdir()
    (tmp_path / "stray.ipynb").write_text("{}")
    students, warnings = collect_submissions(tmp_path)
    assert students == {"alice": {"03_vae.ipynb": b"{}"}, "bob": {}}
    assert any("ignored stray.ipynb" in w for w in warnings)
    assert any("more than one 03_vae.ipynb" in w for w in warnings)
    with pytest.raises(FileNotFoundError, match="no student folders"):
        collect_submissions(tmp_path / "bob")


def kl_right(mu, logvar, free_bits):
    return (-0.5 * (1 + logvar - mu**2 - logvar.exp())).mean(0).clamp(min=free_bits).sum()


def test_judging_events_payloads_timeouts_and_a_dead_kernel():
    spec, data = specs()
    limits = Limits(question_timeout=7, memory_mb=1500)
    payload = json.loads(json.dumps(run(kl_right, spec["kl_free_bits"])))
    events = [
        {"event": "started", "kernel_pid": None},
        {"event": "no_payload", "question": "reparameterize", "reason": "timeout", "limit": 7},
        {"event": "payload", "question": "kl_free_bits", "payload": payload, "seconds": 0.1},
        {"event": "cell_error", "cell": 6, "first_line": "x = [0] * 10**12", "timed_out": False,
         "limit": 60, "ename": "MemoryError", "evalue": ""},
        {"event": "kernel_died", "reason": "memory", "cell": 7, "question": None,
         "first_line": "hog()"},
        {"event": "done", "seconds": 3.0, "peak_rss": 0},
    ]
    result = _judge(VAE, events, data, limits)
    verdicts = {q.question: (q.points, q.verdict.message) for q in result.questions}
    assert verdicts["reparameterize"] == (0, "your code did not finish within 7 s and was stopped")
    assert verdicts["kl_free_bits"] == (2, "passed (4 test cases)")
    assert verdicts["negative_elbo"][0] == 0
    assert "code cell 7 ('hog()') for using more than 1500 MB" in verdicts["negative_elbo"][1]
    assert "code cell 6 ('x = [0] * 10**12') raised MemoryError" in result.notes
    assert result.grader_error is None and result.seconds == 3.0


def test_a_malformed_or_failed_run_earns_nothing_and_is_flagged():
    spec, data = specs()
    bad = {"status": "ran", "results": [{"output": {"__tensor__": {"dtype": "bogus"}}}] * 4}
    events = [{"event": "payload", "question": "kl_free_bits", "payload": bad},
              {"event": "failed", "message": "RuntimeError: kernel did not start"},
              {"event": "done", "seconds": 0.0}]
    result = _judge(VAE, events, data, Limits())
    assert result.points == 0 and result.grader_error == "RuntimeError: kernel did not start"
    kl = next(q for q in result.questions if q.question == "kl_free_bits")
    assert kl.verdict.status == "no_result"


@pytest.mark.parametrize(("field", "value", "match"), [
    ("memory_mb", 512, "memory_mb must be an int >= 1024"),
    ("cell_timeout", 0, "cell_timeout must be a positive number"),
    ("profile", "fast", "unknown profile 'fast'"),
])
def test_bad_limits_are_one_clear_error(field, value, match):
    with pytest.raises(ValueError, match=match):
        Limits(**{field: value}).validate()


def test_grading_an_empty_folder_is_one_clear_error(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(FileNotFoundError, match="no student folders"):
        grade_submissions(tmp_path / "subs", tmp_path / "g.csv",
                          solutions_dir=ROOT / "solutions")
