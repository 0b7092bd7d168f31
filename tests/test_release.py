"""``vae-edu release OUT_DIR``: the student course carries no answers, and its checks work.

A release is built once (from whatever solutions/ and the questions hold). Then:

* no line of any solution block (20 characters or more, comments aside) appears in any
  file of it, unless the course's public teaching material holds that line anyway (a
  lecture cell, a library function that a lecture teaches with, such as the
  contractive penalty of ``vae_edu.losses``, or generic code); those are printed;
* no line of any question's reference code (its ``reference`` and ``mistakes``
  methods) appears in it, every ``reference``/``mistakes`` of its questions only looks
  up stored outputs, and it has no solutions/, tests/ or grader;
* in a separate Python that imports the RELEASE's ``vae_edu``, every check passes on
  the answers of the reference solutions and fails on the blank exercises;
* its notebooks' Colab badges and install cells point at the [release] repository.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers_paths import ROOT, SOLUTIONS

from vae_edu.tooling.cli import main
from vae_edu.tooling.course import load_course
from vae_edu.tooling.grader.notebook import BEGIN_SOLUTION, END_SOLUTION, read_solution

#: Files the release ships as they are in the course: public teaching material.
PUBLIC = ("lectures/", "vae_edu/")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "student-course"
    assert main(["release", str(out), "--course", str(ROOT)]) == 0
    return out


def view(path: Path) -> str:
    """A file as text; a notebook as its cells' sources and outputs."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        nb = json.loads(text)
        text = "\n".join("".join(c["source"]) + "\n" + json.dumps(c.get("outputs", []))
                         for c in nb["cells"])
    return text


def release_texts(root: Path) -> dict[str, str]:
    """Every file of the release (but images and data) as text."""
    return {path.relative_to(root).as_posix(): view(path) for path in sorted(root.rglob("*"))
            if path.is_file() and path.suffix not in (".png", ".gz")}


def meaningful(line: str) -> str | None:
    line = line.strip()
    return line if len(line) >= 20 and not line.startswith("#") else None


def solution_lines() -> set[str]:
    lines = set()
    for path in SOLUTIONS:
        for cell in read_solution(path).notebook.cells:
            inside = False
            for line in cell.source.split("\n"):
                if line.strip() == BEGIN_SOLUTION:
                    inside = True
                elif line.strip() == END_SOLUTION:
                    inside = False
                elif inside and meaningful(line):
                    lines.add(meaningful(line))
    return lines


def reference_lines() -> set[str]:
    """Lines of the questions' reference/mistakes methods found nowhere else in them."""
    inside, outside = set(), set()
    for path in sorted((ROOT / "vae_edu" / "grading" / "questions").glob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        spans = [(n.lineno, n.end_lineno) for n in ast.walk(ast.parse(source))
                 if isinstance(n, ast.FunctionDef) and n.name in ("reference", "mistakes")]
        for number, line in enumerate(lines, start=1):
            text = meaningful(line)
            if text and not text.startswith(('"', "'", "def ")):
                in_method = any(a < number <= b for a, b in spans)
                (inside if in_method else outside).add(text)
    return inside - outside


def test_the_release_has_no_solutions_no_tests_and_no_grader(release):
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    assert not any(f.startswith(("solutions/", "tests/", "tools/", ".ci/")) for f in files)
    assert "course/grading.md" not in files and "course/instructor_guide.md" not in files
    for module in ("grader", "sandbox", "kernel", "release", "gradescope"):
        assert f"vae_edu/grading/{module}.py" not in files
    assert {"README.md", "pyproject.toml", "course/syllabus.md", "course/toc.toml",
            "vae_edu/grading/checks.py", "vae_edu/grading/public_checks.json"} <= files
    assert all(f"exercises/{p.name}" in files for p in SOLUTIONS)
    assert all(f"lectures/{p.name}" in files for p in (ROOT / "lectures").glob("*.ipynb"))


def public_material() -> str:
    """What the course teaches in the open anyway: its lectures and its library outside
    vae_edu/grading/ (functions the lectures use, such as the contractive penalty)."""
    paths = sorted((ROOT / "lectures").glob("*.ipynb")) + sorted(
        p for p in (ROOT / "vae_edu").rglob("*.py") if "grading" not in p.parts)
    return "\n".join(view(p) for p in paths)


def strings_and_code(path: Path) -> tuple[str, str]:
    """A Python file's string literals (hint and message texts), and its code without them."""
    tree = ast.parse(path.read_text())
    strings = [n.value for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str)]

    class Blank(ast.NodeTransformer):
        def visit_Constant(self, node):  # noqa: N802 - ast's naming
            return ast.Constant("") if isinstance(node.value, str) else node

    return "\n".join(strings), ast.unparse(Blank().visit(tree))


def leaks(release: Path, lines: set[str]) -> tuple[set, set]:
    """``(leaked, public)``: (file, line) pairs of ``lines`` found in the release, split
    into those that the course's public teaching material does not hold (leaks) and
    those it holds anyway (a lecture cell, a library function a lecture uses, or code
    as generic as ``with torch.no_grad():``) or that are hint texts (string literals of
    the library, which the release ships on purpose; printed, to be reviewed)."""
    texts = release_texts(release)
    public_text = public_material()
    found = {(rel, line) for rel, text in texts.items() for line in lines if line in text}
    public = {(rel, line) for rel, line in found if line in public_text}
    hints = set()
    for rel, line in found - public:
        if rel.endswith(".py"):
            strings, code = strings_and_code(release / rel)
            if line in strings and line not in code:
                hints.add((rel, line))
    return found - public - hints, public | hints


def assert_none_leaked(release: Path, lines: set[str], what: str) -> None:
    """More than 20 ``lines`` (not an empty search), and none leaked (:func:`leaks`); the
    ``what`` lines that the public material holds anyway are printed."""
    assert len(lines) > 20
    leaked, public = leaks(release, lines)
    assert leaked == set()
    print(f"{what} lines the public lectures and library already hold:", sorted(public))


def test_no_solution_line_is_in_the_release_beyond_the_public_lectures_and_library(release):
    # printed: e.g. the contractive penalty of vae_edu/losses.py, which lecture 04 uses
    assert_none_leaked(release, solution_lines(), "solution")


def test_no_reference_code_is_in_the_release(release):
    assert_none_leaked(release, reference_lines(), "reference")
    for path in (release / "vae_edu" / "grading" / "questions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("reference", "mistakes"):
                (statement,) = node.body
                assert ast.unparse(statement).startswith(
                    ("return stored_reference(", "return stored_mistakes(")), path


CHECKS = """
import json, sys
release = sys.argv[1]
sys.path.insert(0, release)
import vae_edu
assert vae_edu.__file__.startswith(release), vae_edu.__file__
from vae_edu.grading.checks import evaluate
out = {}
for item in json.loads(sys.argv[2]):
    namespace = {"__name__": "notebook"}
    for source in item["cells"]:
        try:
            exec(compile(source, item["notebook"], "exec"), namespace)
        except Exception:  # a stub of the blank exercise, or a demo that uses one
            if item["kind"] == "solution":
                raise
    for qid, answer in item["questions"]:
        verdict = evaluate(qid, namespace.get(answer))
        out[f"{item['kind']}:{qid}"] = [verdict.status, verdict.message]
print(json.dumps(out))
"""


def notebook_answers(path: Path, kind: str) -> dict:
    """The code cells a student runs before the checks: all but the Colab install cell and
    the test cells (a cell that raises, such as a stub, is skipped)."""
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"
             and "colab-install" not in c.metadata.get("tags", [])
             and not (c.metadata.get("nbgrader", {}).get("grade")
                      and not c.metadata.get("nbgrader", {}).get("solution"))]
    solution = read_solution(ROOT / "solutions" / path.name)
    return {"notebook": path.name, "kind": kind, "cells": cells,
            "questions": [[q.id, q.answer] for q in solution.questions]}


def test_every_check_of_the_release_passes_on_the_solutions_and_fails_on_the_exercises(
        release):
    items = [notebook_answers(p, "solution") for p in SOLUTIONS]
    items += [notebook_answers(release / "exercises" / p.name, "exercise") for p in SOLUTIONS]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"VAE_EDU_OFFLINE": "1", "OMP_NUM_THREADS": "1", "VAE_EDU_PROFILE": "smoke",
                "MPLBACKEND": "Agg"})
    done = subprocess.run([sys.executable, "-c", CHECKS, str(release), json.dumps(items)],
                          capture_output=True, text=True, timeout=600, env=env, cwd=release)
    assert done.returncode == 0, done.stderr[-3000:]
    verdicts = json.loads(done.stdout.strip().splitlines()[-1])
    questions = [q for item in items[: len(SOLUTIONS)] for q, _ in item["questions"]]
    assert len(verdicts) == 2 * len(questions)
    for qid in questions:
        assert verdicts[f"solution:{qid}"][0] == "passed", (qid, verdicts[f"solution:{qid}"])
        assert verdicts[f"exercise:{qid}"][0] != "passed", (qid, verdicts[f"exercise:{qid}"])


def test_only_the_public_inputs_are_stored(release):
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from vae_edu.grading.checks import evaluate\n"
            "from vae_edu.grading.stored_checks import StoredCheckMissing\n"
            "try:\n    evaluate('kl_free_bits', lambda mu, logvar, fb: mu.sum(), seed='other')\n"
            "except StoredCheckMissing as exc:\n    print('refused:', exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(release)], capture_output=True,
                          text=True, timeout=300, cwd=release)
    assert "refused: no stored output for these inputs of 'kl_free_bits'" in done.stdout, (
        done.stdout + done.stderr)


def test_the_releases_badges_and_install_cells_point_at_the_release_repository(release):
    course = load_course(ROOT)
    repository = course.release.repository
    assert repository != course.colab.repository
    released = load_course(release)
    assert released.colab.repository == repository and released.release is None
    assert released.problems() == []
    for nb_entry in released.notebooks:
        text = (release / nb_entry.path).read_text()
        assert f"colab.research.google.com/github/{repository}/blob/" in text, nb_entry.path
        assert f"git+https://github.com/{repository}@" in text, nb_entry.path
        old = course.colab.repository
        assert f"/{old}/" not in text and f"/{old}@" not in text, nb_entry.path


def test_a_folder_that_is_not_a_release_is_never_replaced(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["release", str(tmp_path), "--course", str(ROOT)]) == 2
    assert "not empty and holds no earlier release" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_the_instructors_commands_say_they_are_not_in_the_release(release):
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from vae_edu.tooling.cli import main\n"
            "sys.exit(main(['grade', 'submissions']))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code, str(release)], capture_output=True,
                          text=True, timeout=300, cwd=release, env=env)
    assert done.returncode == 2
    assert "an instructor's command, not part of the student release" in done.stderr
