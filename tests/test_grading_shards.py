"""``vae-edu grade --shard K/N`` and ``vae-edu grade merge``: a class split over processes.

Three students (a right, a partly right and a blank problem set) are graded once in one run
(``grade_submissions``, the layer that shards split), and once as two shards in two
separate processes (``vae-edu grade --shard``, as a scheduler would start them), all with
the same seed; the merged grades and feedback must be those of the one run. Then
merging a missing, a duplicated or a foreign part, or a file that is not a part, must
be one clear error that writes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers_cli import run_cli

from vae_edu.tooling.grader.batch import Limits, grade_submissions
from vae_edu.tooling.grader.notebook import read_solution
from vae_edu.tooling.grader.shards import parse_shard, shard_of

ROOT = Path(__file__).resolve().parents[1]
SEED = "shard-test-seed"
NB = "04_importance_sampling.ipynb"  # one short training question: quick kernels
OPTIONS = ["--course", str(ROOT), "--seed", SEED, "--question-timeout", "30",
           "--timeout", "240", "--sandbox", "basic"]


def test_the_split_is_round_robin_over_sorted_names_and_covers_everyone_once():
    students = ["dan", "amy", "cho", "bea", "eve"]
    parts = [shard_of(students, k, 2) for k in (1, 2)]
    assert parts == [["amy", "cho", "eve"], ["bea", "dan"]]
    assert shard_of(list(reversed(students)), 1, 2) == parts[0]  # listing order is irrelevant
    for n in (1, 3, 7):
        got = [s for k in range(1, n + 1) for s in shard_of(students, k, n)]
        assert sorted(got) == sorted(students)
        sizes = [len(shard_of(students, k, n)) for k in range(1, n + 1)]
        assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_bad_shard_is_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="K/N|1 <= K <= N"):
        parse_shard(text)
    assert parse_shard(" 2/4 ") == (2, 4)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    subs = root / "submissions"
    for student, source in (("ann", ROOT / "solutions" / NB), ("cyd", ROOT / "exercises" / NB)):
        (subs / student).mkdir(parents=True)
        shutil.copy(source, subs / student / NB)
    (subs / "bob").mkdir()  # the solution with its first answer broken just before its test
    first = read_solution(ROOT / "solutions" / NB).questions[0]
    nb = nbformat.read(ROOT / "solutions" / NB, as_version=4)
    nb.cells.insert(first.cell_index, nbformat.v4.new_code_cell(
        f"def {first.answer}(*args, **kwargs):\n    return None"))
    nbformat.write(nb, subs / "bob" / NB)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    parts = [root / "parts" / f"part-{k}-of-2.json" for k in (1, 2)]
    shards = [subprocess.Popen(  # two processes at once, as a job array starts them
        [sys.executable, "-m", "vae_edu", "grade", str(subs), "--shard", f"{k}/2",
         "--out", str(part), "--jobs", "1", *OPTIONS], env=env, cwd=root,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for k, part in zip((1, 2), parts, strict=True)]
    one = grade_submissions(subs, root / "one" / "grades.csv", solutions_dir=ROOT / "solutions",
                            seed=SEED, jobs=2, sandbox="basic", progress=None,
                            limits=Limits(question_timeout=30, notebook_timeout=240))
    logs = [p.communicate(timeout=600)[0] for p in shards]
    assert not one.grader_errors and all(p.returncode == 0 for p in shards), logs
    return {"root": root, "parts": parts, "logs": logs, "one": root / "one"}


def test_two_shard_processes_merged_equal_one_run_with_the_same_seed(graded):
    root, parts = graded["root"], graded["parts"]
    assert "shard 1/2: 2 of 3 student(s)" in graded["logs"][0]
    assert "shard 2/2: 1 of 3 student(s)" in graded["logs"][1]
    rc, out, err = run_cli(["grade", "merge", *map(str, parts), "--out",
                            str(root / "merged" / "grades.csv")])
    assert rc == 0, err
    assert "merged 2 part(s), 3 student(s), graded under basic" in out
    one = (graded["one"] / "grades.csv").read_text()
    assert (root / "merged" / "grades.csv").read_text() == one
    totals = {line.split(",")[0]: line.split(",")[header.index("total")]
              for line in one.splitlines()[1:] for header in [one.splitlines()[0].split(",")]}
    assert float(totals["ann"]) > float(totals["bob"]) > float(totals["cyd"]) == 0
    feedback = sorted(p.name for p in (graded["one"] / "grades_feedback").iterdir())
    assert feedback == ["ann.md", "bob.md", "cyd.md"]
    for name in feedback:
        assert ((root / "merged" / "grades_feedback" / name).read_text()
                == (graded["one"] / "grades_feedback" / name).read_text())


def merge_fails(tmp_path: Path, parts: list, phrase: str) -> None:
    out = tmp_path / "out" / "grades.csv"
    rc, _, err = run_cli(["grade", "merge", *map(str, parts), "--out", str(out)])
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and phrase in err, err
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_missing_part_is_one_error_and_nothing_is_written(graded, tmp_path):
    merge_fails(tmp_path, graded["parts"][:1], "missing part(s) for shard 2/2")


def test_a_duplicated_part_is_one_error_and_nothing_is_written(graded, tmp_path):
    copy = tmp_path / "copy.json"
    shutil.copy(graded["parts"][0], copy)
    merge_fails(tmp_path, [*graded["parts"], copy], "shard 1/2 is given twice")


def test_a_foreign_part_is_one_error_and_nothing_is_written(graded, tmp_path):
    part = json.loads(graded["parts"][1].read_text())
    part["class_digest"] = "0" * 64  # a part of another class's run
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(part))
    merge_fails(tmp_path, [graded["parts"][0], foreign], "foreign part")
    part = json.loads(graded["parts"][1].read_text())
    part["shard"] = [2, 3]
    foreign.write_text(json.dumps(part))
    merge_fails(tmp_path, [graded["parts"][0], foreign], "foreign part")


def test_a_file_that_is_not_a_part_is_one_error_and_nothing_is_written(graded, tmp_path):
    merge_fails(tmp_path, [graded["parts"][0], graded["one"] / "grades.csv"],
                "is not a part file")
    merge_fails(tmp_path, [graded["parts"][0], tmp_path / "nowhere.json"], "no such file")


def test_the_slurm_script_runs_a_shard_and_the_merge_as_its_array_tasks_would(graded, tmp_path):
    script = ROOT / "course" / "grade_slurm.sh"
    out = tmp_path / "grading"
    (out / "parts").mkdir(parents=True)
    shutil.copy(graded["parts"][0], out / "parts")  # task 1 ran above; run task 2 here
    env = {**os.environ, "SUBMISSIONS": str(graded["root"] / "submissions"), "SHARDS": "2",
           "OUT": str(out), "SEED": SEED, "SLURM_ARRAY_TASK_ID": "2", "JOBS": "1",
           "VAE_EDU": f"{sys.executable} -m vae_edu",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for step in ("shard", "merge"):
        done = subprocess.run(["bash", str(script), step], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "grades.csv").read_text() == (graded["one"] / "grades.csv").read_text()


def test_the_slurm_script_submits_an_array_and_a_merge_that_waits_for_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    fake = bin_dir / "sbatch"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho 4242\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SHARDS": "5",
           "OUT": str(tmp_path / "grading")}
    done = subprocess.run(["bash", str(ROOT / "course" / "grade_slurm.sh"), "submit"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    array, merge = log.read_text().splitlines()
    assert "--array=1-5" in array and array.endswith(" shard")
    assert "--dependency=afterok:4242" in merge and merge.endswith(" merge")


def test_the_github_actions_workflow_runs_one_job_per_shard_then_merges():
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load((ROOT / "course" / "grade_github_actions.yml").read_text())
    shards = flow["env"]["SHARDS"]
    shard_job, merge_job = flow["jobs"]["shard"], flow["jobs"]["merge"]
    assert shard_job["strategy"]["matrix"]["shard"] == list(range(1, shards + 1))
    grade = " ".join(step.get("run", "") for step in shard_job["steps"])
    assert "--shard ${{ matrix.shard }}/${{ env.SHARDS }}" in grade
    assert merge_job["needs"] == "shard"
    merge = " ".join(step.get("run", "") for step in merge_job["steps"])
    assert "vae-edu grade merge parts/part-*-of-${{ env.SHARDS }}.json" in merge
