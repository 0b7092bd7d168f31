"""What a graded question is: inputs from a seed, reference outputs, known mistakes, a judge.

A :class:`Question` knows

* which name the student defines (``answer``) and whether it is a function or a class;
* how to draw test inputs from a ``torch.Generator`` (:meth:`Question.cases`), so that the
  same code makes the fixed public inputs of :func:`vae_edu.grading.check` and the secret
  ones of ``vae-edu grade``;
* the reference output of each call, computed with the library (:meth:`Question.reference`);
* wrong formulas that students often write, each with a hint (:meth:`Question.mistakes`);
* how to judge a recorded payload (:meth:`Question.judge`).

Seeds: :func:`seed_for` turns a run seed (``"visible"``, ``"hidden"`` or the grader's
secret) and the question id into the generator seed, so each question draws its own
inputs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..harness import encode
from ..judging import (
    RTOL,
    Verdict,
    decode_results,
    describe_error,
    diagnose,
    is_close,
    mismatch,
)

__all__ = ["Call", "ClassQuestion", "ModuleCase", "Question", "seed_for"]


def seed_for(run_seed: str | int, question_id: str) -> int:
    """A 63-bit generator seed for one question under one run seed."""
    digest = hashlib.sha256(f"{run_seed}:{question_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass
class Call:
    """One call of the answer: ``answer(*args, **kwargs)`` (or ``model.<method>(*args)``)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    method: str | None = None


@dataclass
class ModuleCase:
    """One model of a class question: ``cls(**init)``, parameters set by shape, calls."""

    init: dict
    params: list[Tensor]
    calls: list[Call]


class Question:
    """One graded question. Subclasses set the attributes and implement the methods.

    Attributes:
        id: the question's id, also the ``grade_id`` of its test cell, e.g. ``"kl_normal"``.
        answer: the name the student's notebook defines, e.g. ``"kl_normal"``.
        kind: ``"function"`` or ``"class"``.
        what: what the result is called in hints, e.g. ``"KL"``.
        twins: the library's own versions of what the question asks for, as
            ``"module:function"``; an answer that calls one (directly, renamed or through
            a wrapper) is flagged (verdict ``twin``: no points unless the grader allows
            them).
        tier: ``"implement"`` (a function or class on secret inputs) or ``"train"`` (a
            model the student trained, measured on secret data against a band).
    """

    id: str = ""
    answer: str = ""
    kind: str = "function"
    what: str = "result"
    twins: tuple[str, ...] = ()
    tier: str = "implement"

    # ------------------------------------------------------------------ to implement

    def cases(self, gen: torch.Generator) -> list[Call] | list[ModuleCase]:
        """Test inputs drawn from ``gen``: calls (functions) or model cases (classes)."""
        raise NotImplementedError

    def reference(self, call: Call, case: ModuleCase | None = None) -> Any:
        """The right output of one call, computed with the library."""
        raise NotImplementedError

    def mistakes(self, call: Call, case: ModuleCase | None = None) -> list[tuple[str, Any]]:
        """``(hint, wrong output)`` for known mistakes, in the same order for every call."""
        return []

    # ------------------------------------------------------------------ shared

    def units(self, cases) -> list[tuple[Call, ModuleCase | None]]:
        """Every call with its model case (``None`` for functions), in payload order."""
        if self.kind == "function":
            return [(c, None) for c in cases]
        return [(call, case) for case in cases for call in case.calls]

    def draw(self, run_seed: str | int) -> list:
        """The cases of this question under ``run_seed`` (the grader's secret seed, or
        ``"visible"`` for the public check)."""
        gen = torch.Generator().manual_seed(seed_for(run_seed, self.id))
        return self.cases(gen)

    def expected(self, cases) -> list:
        """Reference outputs, one per unit."""
        return [self.reference(call, case) for call, case in self.units(cases)]

    def spec(self, cases) -> dict:
        """The JSON spec that :func:`vae_edu.grading.harness.run` executes."""
        def enc_call(c: Call) -> dict:
            out = {"args": [encode(a) for a in c.args], "label": c.label}
            if c.kwargs:
                out["kwargs"] = {k: encode(v) for k, v in c.kwargs.items()}
            if c.method is not None:
                out["name"] = c.method
            return out

        if self.kind == "function":
            spec = {"kind": "function", "answer": self.answer,
                    "calls": [enc_call(c) for c in cases]}
        else:
            spec = {
                "kind": "class",
                "answer": self.answer,
                "calls": [
                    {"init": case.init, "params": [encode(p) for p in case.params],
                     "methods": [enc_call(c) for c in case.calls]}
                    for case in cases
                ],
            }
        if self.twins:
            spec["twins"] = list(self.twins)
        return spec

    def twin_verdict(self, results: list[dict]) -> Verdict | None:
        """The ``twin`` verdict if the answer called one of :attr:`twins`, else None."""
        called = sorted({t for r in results for t in r.get("twin", ())})
        if not called:
            return None
        return Verdict("twin", (
            f"your answer calls {', '.join(called)}, the library's own version of what this "
            "question asks you to write; write it yourself (this grader gives such answers "
            "no points)"), measured=f"a call of {', '.join(called)}",
            expected="your own code", mistake="calls the library's twin")

    def precheck(self, payload: dict, n_units: int) -> tuple[Verdict | None, list[dict]]:
        """Verdicts that need no reference: missing answer, errors, in-place changes."""
        status = payload.get("status")
        noun = {"class": "class", "object": "trained model"}.get(self.kind, "function")
        if status == "missing":
            return Verdict("missing", f"no `{self.answer}` is defined: run the cell that "
                           f"defines your {noun}, and keep its name `{self.answer}`"), []
        if status == "not_callable":
            return Verdict("wrong", f"`{self.answer}` is not a {noun} but a value of type "
                           f"{payload.get('type', '?')}"), []
        try:
            results = decode_results(payload)
        except Exception as exc:  # a payload we cannot read earns nothing
            return Verdict("no_result", f"the recorded output could not be read ({exc})"), []
        if status != "ran" or len(results) != n_units:
            return Verdict("no_result", "the hidden tests did not record a result"), []
        for r in results:
            if "error" in r:
                return describe_error(r["error"]), results
        for r in results:
            if r.get("mutated"):
                which = ", ".join(f"argument {m + 1}" if isinstance(m, int) else m
                                  for m in r["mutated"])
                return Verdict("wrong", f"your code changed its input ({which}) in place: "
                               "compute a new tensor instead (e.g. start from x.clone(), "
                               "or use out-of-place operations)"), results
        return None, results

    def judge(self, cases, expected: list, payload: dict) -> Verdict:
        """The verdict on a payload recorded by the harness on ``cases``."""
        units = self.units(cases)
        verdict, results = self.precheck(payload, len(units))
        if verdict is not None:
            return verdict
        got = [r["output"] for r in results]
        for g, e, (call, _) in zip(got, expected, units, strict=True):
            problem = mismatch(g, e, f"the result of {call.label}" if call.label else "result")
            if problem:
                return Verdict("wrong", problem, measured=_shapes(got),
                               expected=_shapes(expected))
        n = len(units)
        err = _max_error(got, expected)
        measured = f"max relative error {err:.2g} over {n} secret case{'s' if n != 1 else ''}"
        tolerance = f"<= {RTOL:g} (relative)"
        if all(is_close(g, e) for g, e in zip(got, expected, strict=True)):
            twin = self.twin_verdict(results)
            if twin is not None:
                return twin
            return Verdict("passed", f"passed ({n} test case{'s' if n != 1 else ''})",
                           measured=measured, expected=tolerance)
        wrong = [self.mistakes(call, case) for call, case in units]
        for i in range(len(wrong[0]) if wrong else 0):
            if all(is_close(g, w[i][1]) for g, w in zip(got, wrong, strict=True)):
                return Verdict("wrong", wrong[0][i][0], measured=measured, expected=tolerance,
                               mistake=wrong[0][i][0])
        return Verdict("wrong", diagnose(got, expected, self.what), measured=measured,
                       expected=tolerance)


class ClassQuestion(Question):
    """A question whose answer is a class: :meth:`cases` draws :attr:`n_models` models from
    the generator, one after the other, each with :meth:`model_case` (its constructor
    arguments, its parameters by shape and the calls of its methods)."""

    kind = "class"
    what = "output"
    n_models = 2

    def cases(self, gen: torch.Generator) -> list[ModuleCase]:
        return [self.model_case(gen) for _ in range(self.n_models)]

    def model_case(self, gen: torch.Generator) -> ModuleCase:
        """One model of the question, drawn from ``gen``."""
        raise NotImplementedError


# --------------------------------------------------------------------------- helpers


def _shapes(values) -> str:
    def one(v):
        if torch.is_tensor(v):
            return str(tuple(v.shape))
        if isinstance(v, tuple | list):
            return "(" + ", ".join(one(x) for x in v) + ")"
        return type(v).__name__
    return ", ".join(one(v) for v in values[:3]) + (", ..." if len(values) > 3 else "")


def _max_error(got, expected) -> float:
    """Largest ``|got - expected| / max(1, |expected|)`` over every number (inf if none)."""
    worst = 0.0
    for g, e in zip(got, expected, strict=True):
        if isinstance(e, tuple | list):
            worst = max(worst, _max_error(list(g), list(e)))
            continue
        try:
            gt = torch.as_tensor(g, dtype=torch.float64)
            et = torch.as_tensor(e, dtype=torch.float64)
            diff = ((gt - et).abs() / et.abs().clamp(min=1.0))
            diff = diff[torch.isfinite(et)]
            worst = max(worst, float(diff.max()) if diff.numel() else 0.0)
        except Exception:
            return float("inf")
    return worst


def randint(gen: torch.Generator, low: int, high: int) -> int:
    """An int in ``[low, high]`` (both included)."""
    return int(torch.randint(low, high + 1, (), generator=gen))


def uniform(gen: torch.Generator, low: float, high: float, *shape: int) -> Tensor | float:
    """Uniform numbers in ``[low, high)``: a float without shape, else a float32 tensor."""
    u = torch.rand(shape or (), generator=gen)
    u = low + (high - low) * u
    return float(u) if not shape else u


def randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> Tensor:
    """Standard normal float32 numbers times ``scale``."""
    return scale * torch.randn(shape, generator=gen)


def params_by_shape(model: torch.nn.Module, params: list[Tensor]) -> torch.nn.Module:
    """Overwrite each parameter of ``model`` with the tensor of the same shape in ``params``."""
    by_shape = {tuple(p.shape): p for p in params}
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(by_shape[tuple(p.shape)])
    return model
