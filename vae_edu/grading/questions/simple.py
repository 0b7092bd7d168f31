"""A compact way to write a function question: inputs, a reference, known mistakes."""

from __future__ import annotations

from collections.abc import Callable

from .base import Call, Question

__all__ = ["FunctionQuestion"]


class FunctionQuestion(Question):
    """A function question from plain callables.

    Args:
        qid: the id, also the name the student defines.
        what: what the result is called in hints.
        calls: ``gen -> list[Call]`` (the test inputs).
        reference: ``*args -> output`` (the right answer, computed with the library or
            written here).
        mistakes: ``(hint, *args -> wrong output)`` pairs, checked in order.
        twins: library functions an answer must not call (``"module:function"``).
    """

    def __init__(self, qid: str, what: str, calls: Callable, reference: Callable,
                 mistakes: tuple = (), twins: tuple[str, ...] = ()):
        self.id = self.answer = qid
        self.what = what
        self._calls, self._reference, self._mistakes = calls, reference, mistakes
        self.twins = twins

    def cases(self, gen) -> list[Call]:
        return self._calls(gen)

    def reference(self, call, case=None):
        return self._reference(*call.args, **call.kwargs)

    def mistakes(self, call, case=None):
        return [(hint, fn(*call.args, **call.kwargs)) for hint, fn in self._mistakes]
