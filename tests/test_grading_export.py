"""Grades out to where instructors keep them: a Gradescope autograder and a Canvas import.

The Gradescope bundle is built, unpacked into a fake ``/autograder`` tree (a temporary
folder, never the real one) and its ``run_autograder`` run on a submission, as
Gradescope would; ``results.json`` must follow Gradescope's format and hold what
``vae-edu grade`` gives that notebook. The Canvas export is checked against a
gradebook export of Canvas's own shape.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from helpers_cli import run_cli

from vae_edu.tooling.grader.notebook import read_solution

ROOT = Path(__file__).resolve().parents[1]
#: The problem set of the Gradescope tests: one without training, so its kernel is quick.
NB = "04_importance_sampling"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    rc, stdout, err = run_cli(["grade", "gradescope", str(out), "--notebook", NB,
                               "--course", str(ROOT)])
    assert rc == 0, err
    points = read_solution(ROOT / "solutions" / f"{NB}.ipynb").points
    assert f"{NB}.ipynb ({points:g} points)" in stdout
    return out


def fake_autograder(tmp_path: Path, bundle: Path) -> Path:
    """The tree Gradescope builds: source/ (the zip), run_autograder, submission/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(root / "source")
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    (root / "submission").mkdir()
    return root


def run_autograder(root: Path) -> dict:
    env = {**os.environ, "VAE_EDU_AUTOGRADER_ROOT": str(root), "VAE_EDU_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_has_gradescopes_layout_and_nothing_else(bundle):
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read("autograder.json"))
    assert {"setup.sh", "run_autograder", "autograder.json", f"solutions/{NB}.ipynb",
            "vae_edu_src/pyproject.toml",
            "vae_edu_src/vae_edu/tooling/grader/batch.py"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert [n for n in names if n.startswith("solutions/") and n.endswith(".ipynb")] == [
        f"solutions/{NB}.ipynb"]
    assert not any(n.startswith(("tests/", "lectures/", "vae_edu_src/tests")) or
                   "__pycache__" in n for n in names)
    assert config["notebooks"] == [f"{NB}.ipynb"]
    assert "bubblewrap" in setup and "/autograder/source/vae_edu_src" in setup
    for script in ("setup.sh", "run_autograder"):
        with zipfile.ZipFile(bundle) as zf:
            text = zf.read(script).decode()
        assert text.startswith("#!/usr/bin/env bash\n")
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0


def test_run_autograder_writes_gradescopes_results_json_for_a_submission(bundle, tmp_path):
    root = fake_autograder(tmp_path, bundle)
    # the solution, with its first answer redefined just before its test cell: it returns
    # nothing
    questions = read_solution(ROOT / "solutions" / f"{NB}.ipynb").questions
    nb = nbformat.read(ROOT / "solutions" / f"{NB}.ipynb", as_version=4)
    nb.cells.insert(questions[0].cell_index, nbformat.v4.new_code_cell(
        f"def {questions[0].answer}(*args, **kwargs):\n    return None"))
    nbformat.write(nb, root / "submission" / f"{NB}.ipynb")
    results = run_autograder(root)
    assert set(results) == {"score", "execution_time", "output", "visibility",
                            "stdout_visibility", "tests"}
    assert results["visibility"] == "visible" and results["stdout_visibility"] == "hidden"
    tests = {t["name"]: t for t in results["tests"]}
    assert list(tests) == [f"{NB}: {q.id}" for q in questions]
    assert [t["max_score"] for t in tests.values()] == [q.points for q in questions]
    first = tests.pop(f"{NB}: {questions[0].id}")
    assert (first["score"], first["status"]) == (0, "failed")
    assert "did you forget to return?" in first["output"]
    # the others are graded as vae-edu grade grades them (a broken first answer may cost
    # later ones too, e.g. a model trained with it): all or nothing, with a verdict
    assert all((t["status"] == "passed") == (t["score"] == t["max_score"] > 0)
               and t["output"] for t in tests.values())
    assert sum(t["status"] == "passed" for t in tests.values()) >= len(tests) // 2
    assert all(t["visibility"] == "visible" for t in [first, *tests.values()])
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert isinstance(results["execution_time"], int)


def test_a_submission_without_the_notebook_scores_zero_and_says_what_to_upload(bundle,
                                                                              tmp_path):
    root = fake_autograder(tmp_path, bundle)
    (root / "submission" / "notes.txt").write_text("forgot the notebook")
    results = run_autograder(root)
    assert results["score"] == 0
    assert [t["max_score"] for t in results["tests"]] == [
        q.points for q in read_solution(ROOT / "solutions" / f"{NB}.ipynb").questions]
    assert f"{NB}.ipynb was not found in your submission" in results["output"]


def test_an_unknown_notebook_is_one_error_and_no_bundle(tmp_path):
    rc, _, err = run_cli(["grade", "gradescope", str(tmp_path / "a.zip"), "--notebook",
                          "99_nothing", "--course", str(ROOT)])
    assert rc == 2 and "no solution" in err and NB in err
    assert not (tmp_path / "a.zip").exists()


# --------------------------------------------------------------------------- Canvas

PS3, PS4 = (read_solution(ROOT / "solutions" / f"{n}.ipynb").questions
            for n in ("03_vae", "04_importance_sampling"))
MAX3, MAX4 = (sum(q.points for q in ps) for ps in (PS3, PS4))


def grades_csv() -> str:
    """alice: all of 03, the first question of 04; bob: the second of 03; zoe: nothing."""
    qs = [*PS3, *PS4]
    rows = {"alice": [q.points for q in PS3] + [PS4[0].points] + [0] * (len(PS4) - 1),
            "bob": [0, PS3[1].points] + [0] * (len(qs) - 2), "zoe": [0] * len(qs)}
    lines = [",".join(["student", *(q.id for q in qs), "total"])]
    lines += [",".join([s, *(f"{p:g}" for p in ps), f"{sum(ps):g}"]) for s, ps in rows.items()]
    return "\n".join(lines) + "\n"


ROSTER = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,03_vae (1234),Current Score\n"
          "    Points Possible,,,,,5,(read only)\n"
          "\"Liddell, Alice\",101,S101,alice,Section A,,\n"
          "\"Builder, Bob\",102,S102,BOB,Section B,3,\n"
          "\"Other, Olga\",103,S103,olga,Section A,,\n")


def canvas(tmp_path, roster: str | None):
    grades = tmp_path / "grades.csv"
    grades.write_text(grades_csv())
    argv = ["grade", "canvas", str(grades), "--out", str(tmp_path / "canvas.csv"),
            "--course", str(ROOT)]
    if roster is not None:
        (tmp_path / "export.csv").write_text(roster, encoding="utf-8")
        argv += ["--roster", str(tmp_path / "export.csv")]
    rc, out, err = run_cli(argv)
    with open(tmp_path / "canvas.csv", newline="") as fh:
        return rc, out, err, list(csv.reader(fh))


def test_canvas_import_has_one_column_per_problem_set_and_the_students_canvas_ids(tmp_path):
    rc, out, err, rows = canvas(tmp_path, ROSTER)
    assert rc == 0
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                       "03_vae (1234)", "04_importance_sampling"]
    assert rows[1] == ["Points Possible", "", "", "", "", f"{MAX3:g}", f"{MAX4:g}"]
    assert rows[2] == ["Liddell, Alice", "101", "S101", "alice", "Section A", f"{MAX3:g}",
                       f"{PS4[0].points:g}"]
    assert rows[3] == ["Builder, Bob", "102", "S102", "BOB", "Section B",
                       f"{PS3[1].points:g}", "0"]
    assert rows[4][:1] == ["zoe"] and rows[4][1:4] == ["", "", ""]  # not in the roster
    assert len(rows) == 5  # olga has no grades: no row
    assert "1 student(s) of grades.csv are not in the roster" in err and "zoe" in err


def test_canvas_import_without_a_roster_uses_folder_names_as_logins(tmp_path):
    rc, _, _, rows = canvas(tmp_path, None)
    assert rc == 0
    assert rows[0][5:] == ["03_vae", "04_importance_sampling"]
    assert rows[2] == ["alice", "", "", "alice", "", f"{MAX3:g}", f"{PS4[0].points:g}"]


def test_a_file_that_is_not_a_canvas_export_is_one_clear_error(tmp_path):
    grades = tmp_path / "grades.csv"
    grades.write_text(grades_csv())
    (tmp_path / "roster.csv").write_text("name,email\nalice,a@x\n")
    rc, _, err = run_cli(["grade", "canvas", str(grades), "--roster", str(tmp_path / "roster.csv"),
                          "--out", str(tmp_path / "c.csv"), "--course", str(ROOT)])
    assert rc == 2 and "not a Canvas gradebook export" in err
    assert not (tmp_path / "c.csv").exists()
