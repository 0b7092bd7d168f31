"""Hints on demand: ``grading.hint("kl_normal")`` shows the next level of a question's hints.

Each question has a few levels, from a pointer (which lecture cell, which identity) to a
last level close to the answer. A hint is printed as one line that the grader can find
in the notebook's stored outputs, ``hint 2/3 for kl_normal: ...``; ``vae-edu grade``
records the highest level each student opened per question (``<out>_hints.csv`` and the
``hints`` column of the grades), and the instructor decides whether hints cost points.
The count is what the handed-in notebook shows: a student who clears the outputs hides
it, so treat it as information, not as proof.

The texts live here, apart from the reference code, so that a student release can carry
them without any answer (issue 15).
"""

from __future__ import annotations

import re

__all__ = ["HINTS", "HINT_LINE", "hint", "hints_opened", "reset_hints"]

#: The line a hint prints, as a pattern: question id, level, number of levels.
HINT_LINE = re.compile(r"hint (\d+)/(\d+) for ([A-Za-z_][A-Za-z0-9_]*):")

#: Hint levels per question id (automatic and written questions alike).
HINTS: dict[str, tuple[str, ...]] = {}

_opened: dict[str, int] = {}


def register(question: str, *levels: str) -> None:
    """Add the hint levels of ``question`` (used by the question modules)."""
    if question in HINTS:
        raise ValueError(f"hints for {question!r} are registered twice")
    if not levels:
        raise ValueError(f"{question!r}: give at least one hint level")
    HINTS[question] = tuple(levels)


def hint(question: str) -> str:
    """Print (and return) the next hint level of ``question``; the last level repeats."""
    from . import questions as _questions  # noqa: F401  (registers every question's hints)

    try:
        levels = HINTS[question]
    except KeyError:
        raise KeyError(f"no hints for {question!r}; questions with hints: "
                       f"{', '.join(sorted(HINTS))}") from None
    level = min(_opened.get(question, 0) + 1, len(levels))
    _opened[question] = level
    line = f"hint {level}/{len(levels)} for {question}: {levels[level - 1]}"
    if level == len(levels):
        line += " (that was the last level)"
    print(line)
    return line


def reset_hints() -> None:
    """Forget which hints this kernel showed (the next ``hint`` starts at level 1)."""
    _opened.clear()


def hints_opened(texts: list[str]) -> dict[str, int]:
    """Highest hint level per question found in ``texts`` (a notebook's stored outputs)."""
    seen: dict[str, int] = {}
    for text in texts:
        for level, _, question in HINT_LINE.findall(text):
            seen[question] = max(seen.get(question, 0), int(level))
    return seen
