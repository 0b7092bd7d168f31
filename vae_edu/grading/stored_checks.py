"""The public checks of the student release: stored outputs instead of reference code.

In the course repository every :class:`~vae_edu.grading.questions.Question` computes its
reference outputs (and the outputs of known mistakes, for the hints) with the library.
The student release (``vae-edu release``) carries no such code: there the ``reference``
and ``mistakes`` methods of the questions are replaced by :func:`stored_reference` and
:func:`stored_mistakes`, which look the outputs up in ``public_checks.json`` beside this
module, computed by :func:`build_store` when the release was made, for the public
inputs of :func:`vae_edu.grading.check` (run seed ``"visible"``) only.

Outputs are found by a digest of the call (inputs, method, model set-up), not by
position, so a question's own ``judge`` works unchanged; inputs that were not stored
(another seed, or another torch that draws other numbers) are one clear error, never
a wrong verdict.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from .harness import decode, encode

__all__ = ["STORE_FILE", "StoredCheckMissing", "build_store", "call_key", "stored_mistakes",
           "stored_reference"]

#: Where the release keeps the stored outputs (beside this module).
STORE_FILE = Path(__file__).with_name("public_checks.json")
_VERSION = 1


class StoredCheckMissing(LookupError):
    """No stored output for these inputs (the release carries the public checks only)."""


def _canonical(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Generator):
        return {"__generator__": value.initial_seed()}
    if torch.is_tensor(value):
        return encode(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def call_key(question_id: str, call, case=None) -> str:
    """A digest of one call of a question: its inputs, method and (classes) model set-up."""
    data = {"q": question_id, "args": _canonical(list(call.args)),
            "kwargs": _canonical(dict(call.kwargs)), "method": call.method,
            "label": call.label}
    if case is not None:
        data["init"] = _canonical(case.init)
        data["params"] = _canonical(list(case.params))
    text = json.dumps(data, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def build_store(question_ids, seed: str = "visible") -> dict:
    """The stored outputs of the public checks of these questions (computed with the
    references of the course repository). A question with its own ``expected`` (one
    that judges against something else than reference outputs, such as a band of
    measured values) stores nothing: it keeps its own.

    Raises:
        RuntimeError: a question whose reference fails (names it).
    """
    from .questions import Question, get_question

    store: dict[str, Any] = {"version": _VERSION, "seed": seed, "questions": {}}
    for qid in question_ids:
        q = get_question(qid)
        if type(q).expected is not Question.expected:
            continue  # it does not judge against reference outputs (e.g. a band)
        entries = {}
        try:
            for call, case in q.units(q.draw(seed)):
                entries[call_key(qid, call, case)] = {
                    "expected": encode(q.reference(call, case)),
                    "mistakes": [[hint, encode(out)] for hint, out in q.mistakes(call, case)],
                }
        except Exception as exc:
            raise RuntimeError(f"question {qid!r}: its public check could not be stored "
                               f"({type(exc).__name__}: {exc})") from exc
        store["questions"][qid] = entries
    return store


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    try:
        store = json.loads(STORE_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoredCheckMissing(f"no {STORE_FILE.name} beside {__name__}: this copy of "
                                 "vae_edu has neither reference code nor stored checks") from None
    if store.get("version") != _VERSION:
        raise StoredCheckMissing(f"{STORE_FILE} has version {store.get('version')!r}; "
                                 f"this vae_edu reads version {_VERSION}")
    return store


def _entry(question, call, case) -> dict:
    entries = _load()["questions"].get(question.id)
    if entries is None:
        raise StoredCheckMissing(f"no stored check for {question.id!r} in this release")
    entry = entries.get(call_key(question.id, call, case))
    if entry is None:
        raise StoredCheckMissing(
            f"no stored output for these inputs of {question.id!r}: the student release "
            "checks the public inputs of grading.check only (if that is what ran, this "
            "torch draws other random numbers than the one the release was built with)")
    return entry


def stored_reference(question, call, case=None):
    """The stored reference output of one public call."""
    return decode(_entry(question, call, case)["expected"])


def stored_mistakes(question, call, case=None) -> list[tuple[str, Any]]:
    """The stored ``(hint, output)`` of each known mistake, for one public call."""
    return [(hint, decode(out)) for hint, out in _entry(question, call, case)["mistakes"]]
