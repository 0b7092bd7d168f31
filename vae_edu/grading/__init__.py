"""Graded exercises: immediate checks, student notebooks generated from solutions, grading.

In a notebook::

    from vae_edu import grading
    grading.check("kl_free_bits", kl_free_bits)     # prints one line: passed, or a hint
    grading.hint("kl_free_bits")                     # the next level of hints, on demand

For instructors (see ``course/grading.md``)::

    vae-edu exercises            # writes exercises/ from solutions/ (--check: compare only)
    vae-edu grade SUBMISSIONS/ --out grades.csv

Modules: :mod:`~vae_edu.grading.harness` (records what an answer returns; the only code
that runs next to student code), :mod:`~vae_edu.grading.judging` (decides, with hints),
:mod:`~vae_edu.grading.questions` (inputs, references and known mistakes per question),
:mod:`~vae_edu.grading.checks` (the in-notebook checks), :mod:`~vae_edu.grading.bands`
(the bands of train-and-report questions), :mod:`~vae_edu.grading.stored_checks` (the
student release's checks from stored outputs). The batch side (exercises from solutions,
the sandboxed grader, shards, exporters, the release) is :mod:`vae_edu.tooling.grader`.

The attributes below are imported lazily, so that ``from vae_edu import grading`` is quick
and imports torch only when a check runs.
"""

from __future__ import annotations

__all__ = ["check", "evaluate", "hidden_check", "hint"]


def __getattr__(name: str):
    if name == "hint":
        from .hints import hint

        return hint
    if name in __all__:
        from . import checks

        return getattr(checks, name)
    raise AttributeError(f"module 'vae_edu.grading' has no attribute {name!r}")
