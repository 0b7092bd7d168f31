"""``vae-edu exercises``: write ``exercises/`` from ``solutions/``, or check that it is current.

The exercises are never edited by hand: edit the solution and run ``vae-edu exercises``.
``vae-edu exercises --check`` writes nothing and exits non-zero when a committed
exercise differs from what would be written, is missing, or has no solution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ...atomic import write_atomic
from ..colab import add_to_exercise
from .notebook import SolutionError, make_exercise, read_solution

__all__ = [
    "ExerciseReport", "exercise_texts", "sync_exercises",
]


def _text(nb: nbformat.NotebookNode) -> str:
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def exercise_texts(solutions_dir: Path) -> dict[str, str]:
    """File name -> text of the exercise notebook, for every solution notebook.

    Each exercise also gets the course's Open-in-Colab badge and Colab-only install cell
    (:func:`vae_edu.tooling.colab.add_to_exercise`); solutions do not need them.

    Raises:
        SolutionError: if a solution breaks the conventions, or there are none.
    """
    paths = sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SolutionError(f"no solution notebooks (NN_topic.ipynb) in {solutions_dir}")
    seen: dict[str, str] = {}
    texts = {}
    for path in paths:
        solution = read_solution(path)
        for q in solution.questions:
            if q.id in seen:
                raise SolutionError(f"question {q.id!r} is graded in both {seen[q.id]} and "
                                    f"{path.name}")
            seen[q.id] = path.name
        exercise = make_exercise(solution)
        add_to_exercise(exercise, path.name, solutions_dir)  # Colab badge and install cell
        texts[path.name] = _text(exercise)
    return texts


@dataclass
class ExerciseReport:
    """What ``sync_exercises`` found or did (file names relative to the exercises folder)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when the exercises folder is exactly what the generator writes."""
        return not (self.stale or self.missing or self.orphans)


def sync_exercises(solutions_dir: Path, exercises_dir: Path, *, check: bool) -> ExerciseReport:
    """Write (``check=False``) or compare (``check=True``) the exercise notebooks.

    Writing never deletes anything: an exercise without a solution is reported as an
    orphan (remove it by hand).
    """
    texts = exercise_texts(solutions_dir)
    report = ExerciseReport()
    if not check:
        exercises_dir.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        target = exercises_dir / name
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            report.unchanged.append(name)
        elif check:
            (report.stale if current is not None else report.missing).append(name)
        else:
            write_atomic(target, text)
            report.written.append(name)
    if exercises_dir.is_dir():
        report.orphans = sorted(
            p.name for p in exercises_dir.glob("*.ipynb") if p.name not in texts
        )
    return report
