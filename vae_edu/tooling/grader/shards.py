"""Grading a class on several machines: ``--shard K/N`` parts, and merging them.

    vae-edu grade submissions/ --shard 2/4 --out parts/grades.part-2-of-4.json
    vae-edu grade merge parts/*.json --out grades.csv

**The split** (:func:`shard_of`) is by student: the students of the submissions folder,
sorted by name, are dealt round-robin to the ``N`` shards (the 1st, the ``N+1``-th, ...
to shard 1), so every shard gets all the notebooks of its students, shards differ in
size by at most one student, and the split depends only on the class list, never on
the machine or the order in which a file system lists folders.

**A part** (:func:`write_part`) is one JSON file: which shard of how many, a digest of
the class list and of the solutions (questions and points), the columns, and per
student of the shard the points per question, the total and the feedback text.

**Merging** (:func:`merge_parts`) checks everything before it writes anything: every
file is a part, all come from the same class, solutions and shard count (and seed,
where one was given), each shard ``1..N`` is there exactly once, and together they hold
every student once. Then it writes the same ``grades.csv`` and feedback files that
one run over the whole class writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PART_FORMAT",
    "MergeError",
    "check_shard",
    "merge_parts",
    "parse_shard",
    "shard_of",
    "write_part",
]

#: The ``format`` field of a part file.
PART_FORMAT = "vae-edu-grades-part"
_VERSION = 1


class MergeError(ValueError):
    """The parts cannot be merged (one sentence: which file, what is wrong, what to do)."""


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    """``(k, n)`` with ``1 <= k <= n``, else ``ValueError``."""
    k, n = shard
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (k, n)) or not 1 <= k <= n:
        raise ValueError(f"a shard is K/N with 1 <= K <= N, got {k}/{n}")
    return k, n


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> ``(2, 4)``; ``ValueError`` with the expected form otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"--shard expects K/N (e.g. 2/4: the second of four shards), "
                         f"got {text!r}")
    return check_shard((int(match.group(1)), int(match.group(2))))


def shard_of(students: list[str], k: int, n: int) -> list[str]:
    """The students of shard ``k`` of ``n`` (1-based): round-robin over the sorted names."""
    check_shard((k, n))
    return [s for i, s in enumerate(sorted(students)) if i % n == k - 1]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def solutions_digest(solutions: dict) -> str:
    """A digest of the questions and points of the solution notebooks (name -> solution)."""
    return _digest({name: [[q.id, q.points] for q in sol.questions]
                    for name, sol in sorted(solutions.items())})


def write_part(path: Path, report, *, shard: tuple[int, int], roster: list[str],
               seed: str | None, solutions: dict, feedback: dict[str, str],
               files: dict[str, str]) -> None:
    """Write the part file of one shard (atomically)."""
    from ...atomic import write_atomic

    part = {
        "format": PART_FORMAT,
        "version": _VERSION,
        "shard": list(shard),
        "class_size": len(roster),
        "class_digest": _digest(sorted(roster)),
        "solutions_digest": solutions_digest(solutions),
        "seed_digest": None if seed is None else _digest(seed),
        "isolation": report.isolation.name,
        "columns": report.columns,
        "max_points": report.max_points,
        "seconds": report.seconds,
        "grader_errors": report.grader_errors,
        "students": {
            s.student: {
                "points": [s.points(c) for c in report.columns],
                "total": s.total,
                "feedback_file": files[s.student],
                "feedback": feedback[s.student],
            }
            for s in report.students
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(part, indent=1, sort_keys=True) + "\n")


@dataclass
class MergedGrades:
    """What :func:`merge_parts` wrote."""

    csv_path: Path
    feedback_dir: Path
    students: int
    shards: int
    isolation: list[str]
    grader_errors: list[str]


def _read_part(path: Path) -> dict:
    try:
        part = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MergeError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeError(f"{path} is not a part file of `vae-edu grade --shard K/N` "
                         f"({type(exc).__name__})") from None
    if not isinstance(part, dict) or part.get("format") != PART_FORMAT:
        raise MergeError(f"{path} is not a part file of `vae-edu grade --shard K/N`")
    if part.get("version") != _VERSION:
        raise MergeError(f"{path}: part format version {part.get('version')!r}, this "
                         f"vae-edu reads version {_VERSION}; grade it again")
    try:
        k, n = check_shard(tuple(part["shard"]))
        students = part["students"]
        for info in students.values():
            if len(info["points"]) != len(part["columns"]):
                raise ValueError("a row does not match the columns")
            str(info["feedback"]), float(info["total"])
            if not re.fullmatch(r"[A-Za-z0-9_.@-]+\.md", str(info["feedback_file"])):
                raise ValueError(f"bad feedback file name {info['feedback_file']!r}")
    except (KeyError, TypeError, ValueError) as exc:
        raise MergeError(f"{path}: a damaged part file ({exc}); grade that shard again") from None
    return part


def merge_parts(parts: list[str | os.PathLike], out_csv: str | os.PathLike,
                feedback_dir: str | os.PathLike | None = None) -> MergedGrades:
    """Check the parts against each other, then write ``out_csv`` and the feedback files.

    Raises:
        MergeError: no parts; a file that is not a part; parts of another class, other
            solutions, another shard count or another seed (a *foreign* part); a shard
            given twice or missing; a student in two parts. Nothing is written then.
    """
    from .batch import write_grades

    if not parts:
        raise MergeError("no part files given: vae-edu grade merge PART... --out grades.csv")
    paths = [Path(p) for p in parts]
    read = [(path, _read_part(path)) for path in paths]
    first_path, first = read[0]
    same = ("class_digest", "class_size", "solutions_digest", "seed_digest", "columns",
            "max_points")
    what = {"class_digest": "another class (other student folders)",
            "class_size": "another class (another number of students)",
            "solutions_digest": "other solutions (other questions or points)",
            "seed_digest": "another --seed", "columns": "other questions",
            "max_points": "other points"}
    n = first["shard"][1]
    by_shard: dict[int, Path] = {}
    for path, part in read:
        k, m = part["shard"]
        if m != n:
            raise MergeError(f"foreign part: {path} is shard {k}/{m}, but {first_path} is one "
                             f"of {n} shards; merge the parts of one run")
        for key in same:
            if part[key] != first[key]:
                raise MergeError(f"foreign part: {path} was graded with {what[key]} than "
                                 f"{first_path}; merge the parts of one run")
        if k in by_shard:
            raise MergeError(f"shard {k}/{n} is given twice: {by_shard[k]} and {path}; "
                             "give each part once")
        by_shard[k] = path
    missing = [f"{k}/{n}" for k in range(1, n + 1) if k not in by_shard]
    if missing:
        raise MergeError(f"missing part(s) for shard {', '.join(missing)}: run "
                         f"`vae-edu grade ... --shard K/{n}` for them, then merge all {n}")
    rows: dict[str, dict] = {}
    owner: dict[str, Path] = {}
    for path, part in read:
        for student, info in part["students"].items():
            if student in rows:
                raise MergeError(f"student {student!r} is in both {owner[student]} and "
                                 f"{path}; the parts do not come from one split")
            rows[student], owner[student] = info, path
    if len(rows) != first["class_size"]:
        raise MergeError(f"the parts hold {len(rows)} student(s), the class has "
                         f"{first['class_size']}; merge the parts of one run")
    out_csv = Path(out_csv)
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.with_name(
        f"{out_csv.stem}_feedback")
    ordered = sorted(rows)
    write_grades(out_csv, feedback_dir, first["columns"],
                 [(s, rows[s]["points"], rows[s]["total"]) for s in ordered],
                 {rows[s]["feedback_file"]: rows[s]["feedback"] for s in ordered})
    return MergedGrades(out_csv, feedback_dir, len(rows), n,
                        sorted({part["isolation"] for _, part in read}),
                        [e for _, part in read for e in part["grader_errors"]])
