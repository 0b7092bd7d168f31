"""Solutions are the single source: exercises/ is generated from them and must be current."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers_paths import ROOT, SOLUTIONS

from vae_edu.tooling.cli import main
from vae_edu.tooling.grader.exercises import exercise_texts, sync_exercises
from vae_edu.tooling.grader.notebook import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    SolutionError,
    make_exercise,
    read_solution,
)


def test_the_committed_exercises_are_what_the_generator_writes():
    result = subprocess.run([sys.executable, "-m", "vae_edu", "exercises", "--check"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"is up to date ({len(SOLUTIONS)} notebooks)" in result.stdout


def test_solutions_cover_the_course_topics():
    names = [p.name for p in SOLUTIONS]
    assert names == ["01_autoencoder.ipynb", "02_regularised_autoencoders.ipynb",
                     "03_vae.ipynb", "04_importance_sampling.ipynb",
                     "05_conditional_vae.ipynb", "06_colorization_loss.ipynb",
                     "07_conv_vae.ipynb", "08_stacked_autoencoders.ipynb"]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_an_exercise_keeps_no_answer_no_hidden_test_and_no_output(path):
    solution = read_solution(path)
    exercise = make_exercise(solution)
    text = nbformat.writes(exercise)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "hidden_check"):
        assert marker not in text
    answers = [c for c in solution.notebook.cells
               if c.metadata.get("nbgrader", {}).get("solution")]
    stubs = [c for c in exercise.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(stubs) == len(answers)
    for answer, stub in zip(answers, stubs, strict=True):
        for region in answer.source.split(BEGIN_SOLUTION)[1:]:
            code = [line.strip() for line in region.split("### END SOLUTION")[0].splitlines()]
            for line in code:  # no line of the answer survives, not even inside a hint
                if len(line) >= 12 and not line.startswith("# HINT:"):
                    assert line not in stub.source
        if answer.cell_type == "markdown":  # a written answer: nbgrader's placeholder
            assert stub.source.strip().endswith("YOUR ANSWER HERE")
            assert "**Rubric" not in stub.source
            continue
        assert stub.source.count("# YOUR CODE HERE") == answer.source.count(BEGIN_SOLUTION)
        assert stub.source.count("raise NotImplementedError(") == answer.source.count(
            BEGIN_SOLUTION)
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert cell.source.startswith("grading.check(")
                assert cell.metadata["editable"] is False
    assert exercise.metadata["vae_edu"]["generated_from"] == f"solutions/{path.name}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_question_has_points_and_nbgrader_metadata(path):
    solution = read_solution(path)
    assert solution.questions and all(q.points > 0 for q in solution.questions)
    for q in solution.questions:
        meta = solution.notebook.cells[q.cell_index].metadata["nbgrader"]
        assert meta["grade"] and meta["locked"] and not meta["solution"]
        assert meta["grade_id"] == q.id and meta["schema_version"] == 3


@pytest.fixture
def course(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    return tmp_path


def test_check_names_stale_missing_and_orphan_exercises(course, capsys):
    stale = course / "exercises" / "03_vae.ipynb"
    nb = json.loads(stale.read_text())
    nb["cells"][1]["source"] = "# edited by hand\n" + "".join(nb["cells"][1]["source"])
    stale.write_text(json.dumps(nb))
    (course / "exercises" / "02_regularised_autoencoders.ipynb").unlink()
    (course / "exercises" / "99_extra.ipynb").write_text("{}")
    args = ["exercises", "--course", str(course),
            "--out", str(course / "exercises")]
    assert main([*args, "--check"]) == 1
    out = capsys.readouterr().out
    assert "differs from what its solution generates" in out and "03_vae.ipynb" in out
    assert "missing:" in out and "02_regularised_autoencoders.ipynb" in out
    assert "no solution for" in out and "99_extra.ipynb" in out
    # writing repairs what a solution generates and leaves the orphan alone
    assert main(args) == 1
    report = sync_exercises(course / "solutions", course / "exercises", check=True)
    assert not report.stale and not report.missing and report.orphans == ["99_extra.ipynb"]


def test_generating_twice_changes_nothing(course):
    before = {p.name: p.read_bytes() for p in (course / "exercises").iterdir()}
    report = sync_exercises(course / "solutions", course / "exercises", check=False)
    assert report.written == [] and len(report.unchanged) == len(SOLUTIONS)
    assert before == {p.name: p.read_bytes() for p in (course / "exercises").iterdir()}


def broken(course: Path, edit) -> Path:
    path = course / "solutions" / "03_vae.ipynb"
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)
    return path


def test_an_unclosed_solution_marker_is_an_error_naming_file_and_cell(course):
    def edit(nb):
        cell = next(c for c in nb.cells if "### END SOLUTION" in c.source)
        cell.source = cell.source.replace("### END SOLUTION", "")

    broken(course, edit)
    with pytest.raises(SolutionError, match=r"03_vae.ipynb, cell \d+: '### BEGIN SOLUTION' "
                                            r"on line \d+ is never closed"):
        exercise_texts(course / "solutions")


def test_a_test_cell_needs_points_a_known_id_and_hidden_tests(course):
    def first_test(nb):
        return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))

    broken(course, lambda nb: first_test(nb).metadata["nbgrader"].pop("points"))
    with pytest.raises(SolutionError, match="needs nbgrader points > 0"):
        exercise_texts(course / "solutions")
    broken(course, lambda nb: first_test(nb).metadata["nbgrader"].update(points=1,
                                                                         grade_id="kl"))
    with pytest.raises(SolutionError, match="grade_id 'kl' is not a known question"):
        exercise_texts(course / "solutions")

    def drop_hidden(nb):
        cell = first_test(nb)
        cell.metadata["nbgrader"]["grade_id"] = "reparameterize"
        cell.source = cell.source.split(BEGIN_HIDDEN)[0]

    broken(course, drop_hidden)
    with pytest.raises(SolutionError, match="needs one hidden-tests block"):
        exercise_texts(course / "solutions")


def test_no_solutions_folder_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["exercises", "--course", str(tmp_path / "nowhere")]) == 2
    assert "no solutions/ folder in" in capsys.readouterr().err
