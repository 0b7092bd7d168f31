"""``vae-edu grade canvas grades.csv --out canvas.csv``: grades as a Canvas gradebook import.

Canvas imports a CSV with the columns of its own gradebook export: ``Student``, ``ID``,
``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment (a new
column name creates a new assignment; an existing one, exactly as Canvas exports it,
e.g. ``03_vae (1234)``, updates it), and a ``Points Possible`` row under the header.
Canvas finds each student by ``ID`` / ``SIS User ID`` / ``SIS Login ID``.

Here one assignment is one problem set: a column per notebook of ``grades.csv``, whose
points are the sum of that notebook's questions (``solutions/`` says which questions
belong to which notebook and what they are worth).

Students are matched to Canvas by their folder name in the submissions: with
``--roster`` (Canvas's own gradebook export, Grades > Export) the folder name is looked
up in its ``SIS Login ID``, ``SIS User ID``, ``ID`` and ``Student`` columns (in that
order, case-insensitively) and the row takes that student's identity and section; an
assignment column that the export already has (``03_vae (1234)``) is reused. Without a
roster the folder name is written as ``SIS Login ID`` (name the folders by login).
Students of the roster without grades get no row (Canvas leaves them unchanged);
students without a roster match are reported and written with their folder name only.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CanvasExport", "write_canvas_csv"]

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
_MATCH_ORDER = ("SIS Login ID", "SIS User ID", "ID", "Student")


@dataclass
class CanvasExport:
    """What :func:`write_canvas_csv` wrote."""

    path: Path
    students: int
    assignments: list[str]
    warnings: list[str] = field(default_factory=list)


def _read_csv(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # Canvas exports start with a BOM
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} {path}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a UTF-8 CSV file ({what})") from None
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def _fmt(x: float) -> str:
    return f"{x:g}"


def write_canvas_csv(grades_csv: str | os.PathLike, out_csv: str | os.PathLike, *,
                     solutions_dir: str | os.PathLike,
                     roster: str | os.PathLike | None = None) -> CanvasExport:
    """Write the Canvas import of ``grades_csv`` (as ``vae-edu grade`` writes it).

    Raises:
        FileNotFoundError: a missing file.
        ValueError: ``grades_csv`` is not a grades file of these solutions (says which
            column is unknown), or the roster lacks Canvas's identity columns.
    """
    from ...atomic import write_atomic
    from .notebook import read_solution

    grades_path = Path(grades_csv)
    header, rows = _read_csv(grades_path, "grades file")
    if header[:1] != ["student"] or header[-1:] != ["total"]:
        raise ValueError(f"{grades_path} is not a grades file of `vae-edu grade` (expected "
                         "the columns student, <questions>..., total)")
    questions = header[1:-1]
    notebook_of: dict[str, tuple[str, float]] = {}
    for path in sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb")):
        for q in read_solution(path).questions:
            notebook_of[q.id] = (path.stem, q.points)
    unknown = [q for q in questions if q not in notebook_of]
    if unknown:
        raise ValueError(f"{grades_path}: question(s) {', '.join(unknown)} are not in "
                         f"{solutions_dir}; pass the --course it was graded with")
    assignments: dict[str, float] = {}
    for q in questions:
        stem, points = notebook_of[q]
        assignments[stem] = assignments.get(stem, 0) + points

    warnings: list[str] = []
    lookup: dict[str, dict[str, str]] = {}
    column_of = {stem: stem for stem in assignments}
    if roster is not None:
        roster_path = Path(roster)
        roster_header, roster_rows = _read_csv(roster_path, "Canvas gradebook export")
        missing = [c for c in ("Student", "ID", "SIS Login ID", "Section")
                   if c not in roster_header]
        if missing:
            raise ValueError(f"{roster_path} is not a Canvas gradebook export: no column(s) "
                             f"{', '.join(missing)} (Grades > Export in Canvas)")
        for stem in assignments:  # reuse "03_vae (1234)" where Canvas has it
            existing = [c for c in roster_header if re.fullmatch(
                re.escape(stem) + r"\s*\(\d+\)", c.strip())]
            if existing:
                column_of[stem] = existing[0]
        for key in reversed(_MATCH_ORDER):  # earlier keys win
            for row in roster_rows:
                value = (row.get(key) or "").strip().lower()
                if value and value != "points possible" and row.get("ID", "").strip():
                    lookup[value] = row
    out_rows = []
    unmatched = []
    for row in rows:
        student = row["student"]
        points: dict[str, float] = {}
        for q in questions:
            stem = notebook_of[q][0]
            points[stem] = points.get(stem, 0) + float(row[q] or 0)
        if roster is None:
            identity = {"Student": student, "ID": "", "SIS User ID": "",
                        "SIS Login ID": student, "Section": ""}
        elif student.strip().lower() in lookup:
            match = lookup[student.strip().lower()]
            identity = {c: match.get(c, "") for c in IDENTITY}
        else:
            unmatched.append(student)
            identity = {"Student": student, "ID": "", "SIS User ID": "", "SIS Login ID": "",
                        "Section": ""}
        out_rows.append([identity[c] for c in IDENTITY] +
                        [_fmt(points[stem]) for stem in assignments])
    if unmatched:
        warnings.append(f"{len(unmatched)} student(s) of {grades_path.name} are not in the "
                        f"roster (Canvas will not import their rows): {', '.join(unmatched)}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*IDENTITY, *(column_of[stem] for stem in assignments)])
    writer.writerow(["Points Possible", "", "", "", "",
                     *(_fmt(assignments[stem]) for stem in assignments)])
    writer.writerows(out_rows)
    out = Path(out_csv)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, buffer.getvalue())
    return CanvasExport(out, len(out_rows), [column_of[s] for s in assignments], warnings)
