"""Deciding whether recorded outputs are right, and saying what is off when they are not.

Everything here runs in the *grader's* (or, for :func:`vae_edu.grading.check`, the
notebook's own) process on payloads recorded by :mod:`vae_edu.grading.harness`. A
:class:`Verdict` is one line for the student: passed, not implemented yet, raised an
error (with the line), or wrong, with a hint that names the likely mistake where one
is recognised (off by a factor, the wrong sign, a missing sum, a known wrong formula).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .harness import decode

__all__ = ["Verdict", "describe_error", "diagnose", "is_close", "mismatch"]

#: Relative and absolute tolerance of a comparison (float32 sums of a few hundred terms).
RTOL = 1e-4
ATOL = 1e-5

_SYMBOLS = {
    "passed": "✓",
    "not_implemented": "…",
    "missing": "✗",
    "error": "✗",
    "wrong": "✗",
    "timeout": "✗",
    "no_result": "✗",
    "twin": "⚑",
    "needs_grading": "✎",
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one question for one answer.

    Attributes:
        status: ``passed``, ``wrong``, ``error`` (the answer raised), ``not_implemented``,
            ``missing`` (nothing of that name), ``timeout`` or ``no_result`` (the kernel
            died or never got there).
        message: one sentence for the student, e.g. ``passed (4 test cases)`` or ``your
            KL is off by a factor 2: ...``.
        measured, expected: what was measured and what was expected, for the feedback
            (e.g. ``max |error| 0.31`` and ``<= 1e-4 relative``; ``held-out -ELBO 191.2
            nats`` and ``<= 205.0 nats``); empty when there is nothing to measure.
        mistake: the hint of the known mistake that fired, if one did (the class report
            counts them).
    """

    status: str
    message: str
    measured: str = ""
    expected: str = ""
    mistake: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def line(self, question: str) -> str:
        """``✓ kl_normal: passed (4 test cases)``: what a check prints."""
        return f"{_SYMBOLS.get(self.status, '✗')} {question}: {self.message}"

    def comparison(self) -> str:
        """``measured 191.2 nats; expected <= 205 nats`` (empty if nothing was measured)."""
        if not (self.measured or self.expected):
            return ""
        return "; ".join(part for part in (f"measured {self.measured}" if self.measured else "",
                                           f"expected {self.expected}" if self.expected else "")
                         if part)


# --------------------------------------------------------------------------- comparison


def _finite_close(got: Tensor, expected: Tensor, rtol: float, atol: float) -> bool:
    finite = expected[torch.isfinite(expected)]
    scale = float(finite.abs().max()) if finite.numel() else 0.0
    return bool(torch.allclose(got, expected, rtol=rtol, atol=atol * max(1.0, scale),
                               equal_nan=True))


def is_close(got, expected, rtol: float = RTOL, atol: float = ATOL) -> bool:
    """True if ``got`` (decoded) equals ``expected`` within tolerance, structure included."""
    if isinstance(expected, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(expected)
            and all(is_close(g, e, rtol, atol) for g, e in zip(got, expected, strict=True))
        )
    if torch.is_tensor(expected):
        if not torch.is_tensor(got) or got.shape != expected.shape:
            return False
        if not (got.is_floating_point() or got.dtype in (torch.int64, torch.int32)):
            got = got.double()
        return _finite_close(got.double(), expected.double(), rtol, atol)
    if isinstance(expected, float):
        return isinstance(got, int | float) and math.isclose(got, expected, rel_tol=rtol,
                                                             abs_tol=atol)
    return bool(got == expected)


def _shape(t) -> str:
    return str(tuple(t.shape)) if torch.is_tensor(t) else type(t).__name__


def _shape_hint(got: Tensor, expected: Tensor) -> str:
    """A guess at why the shapes differ."""
    g, e = tuple(got.shape), tuple(expected.shape)
    if len(g) == len(e) + 1 and g[: len(e)] == e:
        return f"did you forget to sum over the last dimension (dim={len(e)})?"
    if len(g) == len(e) + 1 and g[1:] == e:
        return "did you forget to reduce over the first dimension?"
    if not e and g:
        return "the result should be one number (a 0-d tensor): average over the batch"
    if not g and e:
        return (f"you reduced too much: return one value per row, shape {e}, "
                "not the batch average")
    if sorted(g) == sorted(e):
        return "the dimensions are in the wrong order (a transpose?)"
    if len(g) == len(e):
        i = next(i for i, (a, b) in enumerate(zip(g, e, strict=True)) if a != b)
        return f"dimension {i} has size {g[i]} instead of {e[i]}"
    return "check which dimensions you sum over"


def mismatch(got, expected, name: str = "result") -> str | None:
    """None if ``got`` has the structure and shape of ``expected``, else what is wrong."""
    if isinstance(expected, tuple | list):
        if not isinstance(got, tuple | list):
            return f"expected a tuple of {len(expected)} tensors, got {_kind(got)}"
        if len(got) != len(expected):
            return f"expected a tuple of {len(expected)} tensors, got {len(got)} values"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            problem = mismatch(g, e, f"item {i} of the result")
            if problem:
                return problem
        return None
    if torch.is_tensor(expected):
        if isinstance(got, int | float) and expected.dim() == 0:
            return "return a tensor, not a Python number (no .item()), so gradients can flow"
        if not torch.is_tensor(got):
            return f"{name}: expected a tensor of shape {_shape(expected)}, got {_kind(got)}"
        if got.shape != expected.shape:
            return (f"{name} has shape {_shape(got)} but should have shape "
                    f"{_shape(expected)}: {_shape_hint(got, expected)}")
    return None


def _kind(value) -> str:
    if isinstance(value, dict) and "__too_large__" in value:
        return f"a tensor too large to record, shape {tuple(value['__too_large__'])}"
    if isinstance(value, dict) and "__unsupported__" in value:
        return f"a {value['__unsupported__']}"
    if value is None:
        return "None (did you forget to return?)"
    if torch.is_tensor(value):
        return f"a tensor of shape {_shape(value)}"
    return f"a {type(value).__name__}"


def _flat(value) -> Tensor | None:
    if torch.is_tensor(value):
        return value.detach().double().reshape(-1)
    if isinstance(value, tuple | list):
        parts = [_flat(v) for v in value]
        return None if any(p is None for p in parts) else torch.cat(parts)
    return None


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def diagnose(got: Sequence, expected: Sequence, what: str = "result") -> str:
    """Generic hint for values of the right shape that are wrong, over all test cases."""
    g = [_flat(v) for v in got]
    e = [_flat(v) for v in expected]
    if any(t is None for t in g + e):
        return f"your {what} is not what was expected"
    g_all, e_all = torch.cat(g), torch.cat(e)
    finite = torch.isfinite(e_all)
    if (~torch.isfinite(g_all) & finite).any():
        return (f"your {what} contains NaN or inf where the expected values are finite: "
                "look for exp of large numbers, log of 0 or division by 0")
    g_all, e_all = g_all[finite], e_all[finite]
    if e_all.numel() == 0:
        return f"your {what} is not what was expected"
    denom = float(e_all @ e_all)
    if denom > 0:
        ratio = float(g_all @ e_all) / denom
        if ratio != 0 and _finite_close(g_all, ratio * e_all, 1e-3, 1e-4):
            if abs(ratio + 1) < 1e-3:
                return f"your {what} has the wrong sign"
            for k in (2, 3, 4):
                if abs(ratio - k) < 1e-3 * k:
                    return f"your {what} is off by a factor {k} (too large)"
                if abs(ratio - 1 / k) < 1e-3 / k:
                    return f"your {what} is off by a factor {k} (too small)"
            return f"your {what} is off by a factor {_fmt(ratio)}"
    shift = float((g_all - e_all).mean())
    if _finite_close(g_all, e_all + shift, 1e-3, 1e-4) and abs(shift) > 1e-6:
        return f"your {what} is off by a constant {_fmt(shift)}"
    i = int((g_all - e_all).abs().argmax())
    return (f"your {what} differs from the expected values (e.g. {_fmt(float(g_all[i]))} "
            f"where {_fmt(float(e_all[i]))} was expected)")


def describe_error(error: dict) -> Verdict:
    """A recorded exception -> a verdict (``not implemented yet`` for the stub)."""
    if error.get("type") == "NotImplementedError":
        hint = str(error.get("message") or "").strip()
        return Verdict(
            "not_implemented",
            "not implemented yet: replace the `raise NotImplementedError(...)` line with "
            "your code" + (f" (hint: {hint})" if hint else ""),
        )
    where = ""
    if error.get("line"):
        where = f" (line {error['line']}"
        where += f": {error['code']})" if error.get("code") else ")"
    return Verdict("error", f"your code raised {error['type']}: {error['message']}{where}")


def decode_results(payload: dict) -> list[dict]:
    """The ``results`` of a payload with every output decoded back to tensors."""
    out = []
    for r in payload.get("results", []):
        r = dict(r)
        if "output" in r:
            r["output"] = decode(r["output"])
        out.append(r)
    return out
