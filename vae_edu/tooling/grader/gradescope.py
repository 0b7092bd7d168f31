"""A Gradescope autograder: ``vae-edu grade gradescope OUT.zip``, and what runs inside it.

The zip follows Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): at its root

* ``setup.sh``: run once as root when Gradescope builds the image (Ubuntu): installs
  Python, bubblewrap, and this package (bundled as source, CPU torch) into
  ``/autograder/venv``;
* ``run_autograder``: run for every submission, in ``/autograder``: grades the notebooks
  in ``/autograder/submission`` with ``vae-edu grade`` (one student, the bundled
  solutions, a fresh secret seed) and writes ``/autograder/results/results.json``;
* ``vae_edu_src/`` (the package: ``pyproject.toml``, ``README.md``, ``vae_edu/``),
  ``solutions/`` (the graded notebooks; they stay on Gradescope's side) and
  ``autograder.json`` (which notebook, the limits).

``results.json`` (written by :func:`run_autograder`): one test per question, named
``"<notebook>: <question>"``, with ``score``, ``max_score``, ``status``, ``visibility``
and the one-line verdict as ``output``; at the top ``score`` (the total), ``output``
(what happened while the notebook ran), ``visibility``, ``stdout_visibility`` (the
grader's own log, hidden from students) and ``execution_time``. The root folder is
``/autograder``, or ``--root`` / ``$VAE_EDU_AUTOGRADER_ROOT`` (the tests use a temporary
folder laid out the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ...atomic import atomic_file
from ...paths import PACKAGE_PARENT

__all__ = ["GradescopeBundle", "build_bundle", "results_json", "run_autograder"]

ROOT_ENV = "VAE_EDU_AUTOGRADER_ROOT"

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip bubblewrap
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --upgrade pip
/autograder/venv/bin/pip install -q --extra-index-url https://download.pytorch.org/whl/cpu \\
  /autograder/source/vae_edu_src
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (in /autograder): it grades the notebooks in
# submission/ and writes results/results.json. VAE_EDU_AUTOGRADER_ROOT and VAE_EDU_PYTHON
# point it elsewhere (a test, or a dry run on your machine).
set -uo pipefail
root=${VAE_EDU_AUTOGRADER_ROOT:-/autograder}
python=${VAE_EDU_PYTHON:-$root/venv/bin/python}
exec "$python" -m vae_edu.tooling.grader.gradescope --root "$root"
"""


@dataclass
class GradescopeBundle:
    """What :func:`build_bundle` wrote."""

    path: Path
    notebooks: list[str]
    points: float


def _package_files() -> list[tuple[Path, str]]:
    """(file, name in the zip) of the package source: pyproject, README, vae_edu/."""
    files = [(PACKAGE_PARENT / "pyproject.toml", "vae_edu_src/pyproject.toml"),
             (PACKAGE_PARENT / "README.md", "vae_edu_src/README.md")]
    package = PACKAGE_PARENT / "vae_edu"
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((path, f"vae_edu_src/{path.relative_to(PACKAGE_PARENT).as_posix()}"))
    return files


def _add(zf: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def build_bundle(out_zip: str | os.PathLike, *, solutions_dir: str | os.PathLike,
                 notebook: str | None = None, limits: dict | None = None) -> GradescopeBundle:
    """Write the autograder zip for ``notebook`` (e.g. ``"03_vae"``; ``None``: every
    solution notebook, graded as submitted).

    Raises:
        FileNotFoundError: no such solution notebook; the package source is not beside
            this module (an installed wheel: build from the course repository).
    """
    from .notebook import read_solution

    solutions_dir = Path(solutions_dir)
    if not (PACKAGE_PARENT / "pyproject.toml").is_file():
        raise FileNotFoundError(f"no pyproject.toml in {PACKAGE_PARENT}: build the bundle from "
                                "the course repository (an editable install)")
    if notebook is not None:
        name = notebook if notebook.endswith(".ipynb") else f"{notebook}.ipynb"
        paths = [solutions_dir / name]
        if not paths[0].is_file():
            known = ", ".join(p.stem for p in sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb")))
            raise FileNotFoundError(f"no solution {paths[0]}; known: {known}")
    else:
        paths = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
        if not paths:
            raise FileNotFoundError(f"no solution notebooks (NN_topic.ipynb) in {solutions_dir}")
    solutions = [read_solution(p) for p in paths]
    config = {"notebooks": [s.name for s in solutions] if notebook else None,
              "limits": limits or {}}
    out_zip = Path(out_zip)
    with atomic_file(out_zip, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
        _add(zf, "setup.sh", SETUP_SH.encode(), executable=True)
        _add(zf, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        _add(zf, "autograder.json", (json.dumps(config, indent=1) + "\n").encode())
        for path in paths:
            _add(zf, f"solutions/{path.name}", path.read_bytes())
        for data in sorted(solutions_dir.glob("*.json")):  # bands of train questions
            _add(zf, f"solutions/{data.name}", data.read_bytes())
        for path, name in _package_files():
            _add(zf, name, path.read_bytes())
    return GradescopeBundle(out_zip, [s.name for s in solutions],
                            sum(s.points for s in solutions))


# --------------------------------------------------------------------------- inside Gradescope


def results_json(report, notebooks: list[str], solutions: dict, seconds: float,
                 notes: list[str]) -> dict:
    """Gradescope's results.json for the one student of ``report``."""
    student = report.students[0] if report.students else None
    graded = {nb.name: nb for nb in (student.notebooks if student else [])}
    tests, output = [], list(notes)
    for name in notebooks:
        nb = graded.get(name)
        if nb is None:
            output.append(f"{name} was not found in your submission: upload it under that "
                          "name")
        else:
            output += [f"{name}: {note}" for note in nb.notes]
        results = {q.question: q for q in nb.questions} if nb else {}
        for q in solutions[name].questions:
            got = results.get(q.id)
            tests.append({
                "name": f"{Path(name).stem}: {q.id}",
                "score": got.points if got else 0,
                "max_score": q.points,
                "status": "passed" if got and got.verdict.passed else "failed",
                "visibility": "visible",
                "output": got.verdict.message if got else f"not graded: {name} not submitted",
            })
    return {
        "score": sum(t["score"] for t in tests),
        "execution_time": round(seconds),
        "output": "\n".join(output) if output else "All notebooks ran to the end.",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _grade(submissions: Path, out_csv: Path, solutions_dir: Path, limits):
    """Grade as ``vae-edu grade`` does: through the class layer where there is one
    (train-and-report time limits and bands, the library-twin policy), else directly."""
    from .batch import grade_submissions

    try:
        from .classroom import grade_class
    except ImportError:  # pragma: no cover - a course without the class layer
        return grade_submissions(submissions, out_csv, solutions_dir=solutions_dir,
                                 limits=limits, jobs=1, progress=print)
    return grade_class(submissions, out_csv, solutions_dir=solutions_dir, limits=limits,
                       jobs=1, progress=print).grading


def run_autograder(root: str | os.PathLike) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; return it.

    Always writes a results file: a failure of the grader itself scores 0 with a message
    that says so (and the details go to stdout, which only staff see).
    """
    from ...atomic import write_atomic
    from .batch import Limits
    from .notebook import read_solution

    start = time.monotonic()
    root = Path(root)
    source = root / "source"
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vae-edu-gradescope-"))
    try:
        config = json.loads((source / "autograder.json").read_text())
        solutions = {p.name: read_solution(p)
                     for p in sorted((source / "solutions").glob("[0-9][0-9]_*.ipynb"))}
        found = sorted(p for p in (root / "submission").rglob("*.ipynb")
                       if not any(part.startswith(".") for part in p.parts))
        student = work / "submissions" / "student"
        student.mkdir(parents=True)
        notes = []
        for path in found:
            if (student / path.name).exists():
                notes.append(f"more than one {path.name} in your submission; graded the first")
                continue
            shutil.copy(path, student / path.name)
        wanted = config.get("notebooks") or sorted(
            {p.name for p in found if p.name in solutions} or solutions)
        limits = Limits(**config.get("limits", {}))
        report = _grade(work / "submissions", work / "grades.csv", source / "solutions",
                        limits)
        if report.grader_errors:
            raise RuntimeError("; ".join(report.grader_errors))
        results = results_json(report, wanted, solutions, time.monotonic() - start, notes)
    except Exception as exc:
        print(f"vae-edu autograder failed: {type(exc).__name__}: {exc}")
        results = {"score": 0, "execution_time": round(time.monotonic() - start),
                   "output": "The autograder itself failed on this submission (not your "
                             "fault): please tell your instructor.",
                   "visibility": "visible", "stdout_visibility": "hidden", "tests": []}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_atomic(results_dir / "results.json", json.dumps(results, indent=1) + "\n")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_edu.tooling.grader.gradescope",
                                     description="Run the vae-edu Gradescope autograder.")
    parser.add_argument("--root", default=os.environ.get(ROOT_ENV, "/autograder"),
                        help="the autograder folder (default /autograder)")
    args = parser.parse_args(argv)
    results = run_autograder(args.root)
    print(f"score {results['score']:g}; results in {Path(args.root) / 'results'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
