"""Immediate feedback in an exercise notebook: ``grading.check("kl_normal", kl_normal)``.

A check calls the student's function (or class) on fixed-seed inputs, compares with the
library's reference within a tolerance, and prints ONE line:

    ✓ kl_normal: passed (4 test cases)
    ✗ kl_normal: your KL is off by a factor 2: the Gaussian KL has a 1/2 in front
    … kl_normal: not implemented yet: replace the `raise NotImplementedError(...)` ...

It never raises for a wrong or unfinished answer, so a student sees a hint, not a
traceback. :func:`hidden_check` is the same on other fixed inputs and raises an
``AssertionError`` when the answer is wrong: that is what the hidden-test blocks of the
solutions call, so that nbgrader's autograder (which scores a test cell by whether it
raises) grades the same notebooks. ``vae-edu grade`` does not trust either: it judges
outputs outside the student's process (see :mod:`vae_edu.tooling.grader.batch`).
"""

from __future__ import annotations

from .harness import run
from .judging import Verdict
from .questions import get_question

__all__ = ["check", "evaluate", "hidden_check"]

#: Run seeds of the public checks and of the in-kernel hidden checks.
VISIBLE_SEED = "visible"
HIDDEN_SEED = "hidden"


def evaluate(question: str, answer, *, seed: str | int = VISIBLE_SEED) -> Verdict:
    """Judge ``answer`` on the inputs of ``question`` drawn with ``seed``; no printing.

    Args:
        question: a question id, e.g. ``"kl_normal"``.
        answer: the student's function or class (the object, not its name).
        seed: run seed of the inputs (``"visible"`` for :func:`check`).

    Returns:
        A :class:`~vae_edu.grading.judging.Verdict`.

    Raises:
        KeyError: for an unknown question id (the message lists the known ones).
    """
    q = get_question(question)
    cases = q.draw(seed)
    payload = run(answer, q.spec(cases))
    return q.judge(cases, q.expected(cases), payload)


def check(question: str, answer) -> None:
    """Print one line: passed, not implemented yet, or what is off (never raises for a
    wrong answer). Use it right after defining your answer."""
    print(evaluate(question, answer, seed=VISIBLE_SEED).line(question))


def hidden_check(question: str, answer) -> None:
    """Like :func:`check` on other inputs, but raise ``AssertionError`` unless it passes."""
    verdict = evaluate(question, answer, seed=HIDDEN_SEED)
    if not verdict.passed:
        raise AssertionError(verdict.line(question))
    print(verdict.line(question))
