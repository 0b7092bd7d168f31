"""Grading a class end to end: automatic questions, train-and-report bands, written answers,
hints, the library-twin policy, and the class report.

:func:`grade_class` wraps :func:`vae_edu.tooling.grader.batch.grade_submissions` (which runs
the kernels and judges the automatic questions) and then writes, next to ``--out``:

* ``grades.csv``: one row per student; one column per graded question of the notebooks
  anyone submitted, automatic and written, in notebook order; ``total``; ``hints`` (how
  many hint levels the student opened in all). A written (manually graded) answer is
  left **blank** until an instructor's scores are merged in (``--manual scores.csv``);
  ``total`` counts what is scored so far.
* ``<out>_hints.csv``: hint levels opened, per student and question.
* ``<out>_report.md``: per question, the score distribution and which known mistakes
  fired for how many students; the written answers waiting for a grade.
* ``<out>_manual.md``: for the graders: per written question its rubric and every
  student's answer.
* ``<out>_feedback/<student>.md``: per question the verdict and what was measured
  against what was expected.

Scores of written answers (``scores.csv``): a ``student`` column and one column per
written question id; a blank cell leaves that answer ungraded. Every row, column and
value is checked before anything runs; a problem is one ``ValueError`` naming it, and
nothing is written.
"""

from __future__ import annotations

import csv
import io
import math
import os
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from ...atomic import write_atomic
from ...grading import bands
from ...grading.hints import hints_opened
from ...grading.questions import QUESTIONS
from .batch import (
    GradingReport,
    Limits,
    cell_source,
    collect_submissions,
    grade_submissions,
    read_submission_cells,
    safe_name,
)
from .notebook import SolutionNotebook, read_solution

__all__ = ["ClassReport", "TWIN_POLICIES", "grade_class", "read_manual_scores"]

#: The text of an untouched written answer (as nbgrader writes it): scored 0, not pending.
UNANSWERED = "YOUR ANSWER HERE"

#: What an answer that calls the library's own twin earns: nothing (default) or full points.
TWIN_POLICIES = ("none", "full")


@dataclass
class ClassReport:
    """What :func:`grade_class` did: the grader's report plus the files it wrote."""

    grading: GradingReport
    csv_path: Path
    report_path: Path
    hints_path: Path
    manual_path: Path
    pending: dict[str, int] = field(default_factory=dict)  # written question -> ungraded


def _fmt(x: float) -> str:
    return f"{x:g}"


def read_manual_scores(path: str | os.PathLike, solutions: dict[str, SolutionNotebook],
                       students: list[str]) -> dict[str, dict[str, float]]:
    """``{student: {question: score}}`` from an instructor's scores CSV, fully checked.

    Raises:
        ValueError: naming every problem found (unknown column or student, a duplicate
            row, a value that is not a number between 0 and the question's maximum).
    """
    path = Path(path)
    maxima = {m.id: m.points for sol in solutions.values() for m in sol.manual}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"cannot read the scores file {path}: {exc}") from None
    rows = list(csv.reader(io.StringIO(text)))
    problems = []
    if not rows or not rows[0] or rows[0][0].strip() != "student":
        raise ValueError(f"{path}: the first row must be the header 'student,<question>,...' "
                         f"with written questions among: {', '.join(maxima) or '(none)'}")
    header = [h.strip() for h in rows[0]]
    for col in header[1:]:
        if col not in maxima:
            problems.append(f"column {col!r} is not a written question (known: "
                            f"{', '.join(maxima) or 'none'})")
    if len(set(header)) != len(header):
        problems.append("a column appears twice in the header")
    known = set(students)
    scores: dict[str, dict[str, float]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"line {line} has {len(row)} values for {len(header)} columns")
            continue
        student = row[0].strip()
        if student not in known:
            problems.append(f"line {line}: no submissions from student {student!r}")
            continue
        if student in scores:
            problems.append(f"line {line}: student {student!r} appears twice")
            continue
        scores[student] = {}
        for col, cell in zip(header[1:], row[1:], strict=True):
            cell = cell.strip()
            if not cell or col not in maxima:
                continue
            try:
                value = float(cell)
            except ValueError:
                problems.append(f"line {line}, {col}: {cell!r} is not a number")
                continue
            if not math.isfinite(value) or not 0 <= value <= maxima[col]:
                problems.append(f"line {line}, {col}: {cell} is outside 0..{_fmt(maxima[col])}")
                continue
            scores[student][col] = value
    if problems:
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more"
                                           if len(problems) > 8 else "")
        raise ValueError(f"{path}: {shown}. Nothing was graded or written; fix the scores "
                         "file and run again")
    return scores


def _effective_limits(limits: Limits, solutions: dict[str, SolutionNotebook]) -> Limits:
    """Limits that leave each train-and-report question its profile's training time."""
    need = [QUESTIONS[q.id].seconds[limits.profile] for sol in solutions.values()
            for q in sol.questions if QUESTIONS[q.id].tier == "train"]
    if not need:
        return limits
    return replace(limits, cell_timeout=max(limits.cell_timeout, max(need)),
                   notebook_timeout=max(limits.notebook_timeout,
                                        limits.notebook_timeout + sum(need)))


def _manual_answers(data: bytes, qid: str) -> str | None:
    """The student's text of written answer ``qid`` (found by its grade_id)."""
    try:
        cells = read_submission_cells(data)
    except ValueError:
        return None
    for cell in cells:
        meta = cell.get("metadata")
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(grading, dict) and grading.get("grade_id") == qid:
            return cell_source(cell).strip()
    return None


def _outputs_text(data: bytes) -> list[str]:
    try:
        cells = read_submission_cells(data)
    except ValueError:
        return []
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []) if isinstance(cell.get("outputs"), list) else []:
            if not isinstance(out, dict):
                continue
            text = out.get("text")
            if text is None and isinstance(out.get("data"), dict):
                text = out["data"].get("text/plain")
            if isinstance(text, list):
                text = "".join(str(t) for t in text)
            if isinstance(text, str):
                texts.append(text)
    return texts


def grade_class(
    submissions_dir: str | os.PathLike,
    out_csv: str | os.PathLike,
    *,
    solutions_dir: str | os.PathLike,
    limits: Limits | None = None,
    twin_points: str = "none",
    manual_scores: str | os.PathLike | None = None,
    progress=print,
    **kwargs,
) -> ClassReport:
    """Grade a class and write the grades, hints, report and feedback (module docstring).

    ``kwargs`` go to :func:`~vae_edu.tooling.grader.batch.grade_submissions` (``jobs``,
    ``seed``, ``feedback_dir``, ...).

    Raises:
        ValueError: a bad ``twin_points`` or scores file (before anything runs), or what
            ``grade_submissions`` raises.
    """
    if twin_points not in TWIN_POLICIES:
        raise ValueError(f"twin_points must be one of {', '.join(TWIN_POLICIES)}, got "
                         f"{twin_points!r}")
    limits = (limits or Limits()).validate()
    solutions_dir = Path(solutions_dir)
    solutions = {p.name: read_solution(p)
                 for p in sorted(solutions_dir.glob("[0-9][0-9]_*.ipynb"))}
    submitted, _ = collect_submissions(Path(submissions_dir))
    scores = (read_manual_scores(manual_scores, solutions, sorted(submitted))
              if manual_scores is not None else {})
    bands.use(solutions_dir / bands.BANDS_FILE, limits.profile)
    try:
        report = grade_submissions(submissions_dir, out_csv, solutions_dir=solutions_dir,
                                   limits=_effective_limits(limits, solutions),
                                   progress=progress, **kwargs)
    finally:
        bands.use(None, None)
    out_csv = Path(out_csv)
    used = [name for name in solutions if any(name in nbs for nbs in submitted.values())]
    columns = [qid for name in used for qid in solutions[name].columns]
    manual = {m.id: (name, m) for name in used for m in solutions[name].manual}
    maxima = {q.id: q.points for name in used for q in solutions[name].questions}
    maxima.update({qid: m.points for qid, (_, m) in manual.items()})
    # automatic points, after the twin policy
    auto: dict[str, dict[str, float]] = {}
    verdicts: dict[str, dict] = {}
    for s in report.students:
        auto[s.student], verdicts[s.student] = {}, {}
        for nb in s.notebooks:
            for q in nb.questions:
                if q.verdict.status == "twin" and twin_points == "full":
                    q.points = q.max_points
                auto[s.student][q.question] = q.points
                verdicts[s.student][q.question] = q.verdict
    hints = {s: hints_opened([t for name, raw in submitted.get(s, {}).items() if name in used
                              for t in _outputs_text(raw)]) for s in auto}
    answers = {s: {qid: _manual_answers(submitted[s][name], qid) if name in submitted[s]
                   else None for qid, (name, _) in manual.items()} for s in auto}
    pending = {qid: 0 for qid in manual}

    def score(student: str, qid: str) -> float | None:
        if qid in manual:
            value = scores.get(student, {}).get(qid)
            if value is None and answers[student][qid] in (None, "", UNANSWERED):
                return 0.0  # nothing handed in, or the stub untouched: nothing to grade
            if value is None:
                pending[qid] += 1
            return value
        return auto[student].get(qid, 0.0)

    table = {s: {qid: score(s, qid) for qid in columns} for s in auto}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *columns, "total", "hints"])
    for s, row in table.items():
        total = sum(v for v in row.values() if v is not None)
        writer.writerow([s, *("" if row[c] is None else _fmt(row[c]) for c in columns),
                         _fmt(total), sum(hints[s].values())])
    write_atomic(out_csv, buffer.getvalue())
    hint_columns = [c for c in columns if c not in manual] + list(manual)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *hint_columns])
    for s in table:
        writer.writerow([s, *(hints[s].get(c, 0) for c in hint_columns)])
    hints_path = out_csv.with_name(f"{out_csv.stem}_hints.csv")
    write_atomic(hints_path, buffer.getvalue())
    report_path = out_csv.with_name(f"{out_csv.stem}_report.md")
    write_atomic(report_path, _class_report(table, verdicts, columns, maxima, manual, hints,
                                             limits, twin_points))
    manual_path = out_csv.with_name(f"{out_csv.stem}_manual.md")
    write_atomic(manual_path, _manual_sheet(manual, answers, scores))
    _write_feedback(report, table, verdicts, manual, maxima, hints, solutions, used)
    return ClassReport(report, out_csv, report_path, hints_path, manual_path, pending)


def _class_report(table, verdicts, columns, maxima, manual, hints, limits, twin_points) -> str:
    n = len(table)
    lines = [f"# Class report ({n} student{'s' if n != 1 else ''}, profile {limits.profile})",
             "", "Answers that call the library's own twin of the asked function earn "
             + ("no points" if twin_points == "none" else "full points") + " (flagged either "
             "way).", "",
             "| question | kind | max | mean | median | min | max seen | full marks | "
             "ungraded | hints opened |", "|---|---|---|---|---|---|---|---|---|---|"]
    for qid in columns:
        values = [row[qid] for row in table.values() if row[qid] is not None]
        kind = (manual[qid][1].kind if qid in manual else QUESTIONS[qid].tier)
        opened = sum(1 for h in hints.values() if h.get(qid))
        if values:
            stats = (f"{statistics.mean(values):.2f} | {statistics.median(values):g} | "
                     f"{min(values):g} | {max(values):g} | "
                     f"{sum(v == maxima[qid] for v in values)}")
        else:
            stats = "– | – | – | – | 0"
        ungraded = sum(1 for row in table.values() if row[qid] is None)
        lines.append(f"| `{qid}` | {kind} | {_fmt(maxima[qid])} | {stats} | {ungraded} | "
                     f"{opened} |")
    lines += ["", "## Score distribution", ""]
    for qid in columns:
        counts = Counter("ungraded" if row[qid] is None else _fmt(row[qid])
                         for row in table.values())
        lines.append(f"- `{qid}`: " + ", ".join(f"{k} points × {v}" if k != "ungraded"
                                                else f"ungraded × {v}"
                                                for k, v in sorted(counts.items())))
    lines += ["", "## Known mistakes that fired", ""]
    any_mistake = False
    for qid in columns:
        if qid in manual:
            continue
        mistakes = Counter(v[qid].mistake for v in verdicts.values()
                           if qid in v and v[qid].mistake)
        statuses = Counter(v[qid].status for v in verdicts.values() if qid in v)
        if mistakes:
            any_mistake = True
            lines.append(f"- `{qid}`:")
            lines += [f"  - {count} student(s): {text}" for text, count in mistakes.most_common()]
        other = {k: v for k, v in statuses.items() if k not in ("passed",)}
        if other:
            lines.append(f"- `{qid}` verdicts: " + ", ".join(f"{k} × {v}"
                                                           for k, v in sorted(other.items())))
    if not any_mistake:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def _manual_sheet(manual, answers, scores) -> str:
    lines = ["# Written answers to grade", "",
             "Score them with the rubric, then merge: `vae-edu grade SUBMISSIONS --out "
             "grades.csv --manual scores.csv` (a `student` column and one column per "
             "question below; a blank cell stays ungraded).", ""]
    for qid, (name, m) in manual.items():
        lines += [f"## `{qid}` ({name}, {m.kind}, {_fmt(m.points)} points)", "", m.rubric, ""]
        for s, got in answers.items():
            done = scores.get(s, {}).get(qid)
            state = f"scored {_fmt(done)}" if done is not None else "needs grading"
            text = got[qid] if got[qid] is not None else "(not handed in)"
            lines += [f"### {s} ({state})", "", text, ""]
    return "\n".join(lines) + "\n"


def _write_feedback(report, table, verdicts, manual, maxima, hints, solutions, used) -> None:
    max_total = sum(maxima.values())
    taken: set[str] = set()
    for s in report.students:
        name = base = safe_name(s.student)
        while name.lower() in taken:  # the same naming as the grader's
            name = f"{base}-{len(taken)}"
        taken.add(name.lower())
        row = table[s.student]
        total = sum(v for v in row.values() if v is not None)
        lines = [f"# Feedback for {s.student}", "",
                 f"Total: {_fmt(total)} / {_fmt(max_total)} points"
                 + (" (written answers still to be graded)" if None in row.values() else ""),
                 ""]
        if hints[s.student]:
            lines += ["Hints opened: " + ", ".join(f"{q} {n}" for q, n in
                                                  sorted(hints[s.student].items())), ""]
        lines += [f"- {note}" for note in s.notes]
        for nb in s.notebooks:
            sol = solutions[nb.name]
            got = sum(row[q] or 0 for q in sol.columns)
            lines += ["", f"## {nb.name}: {_fmt(got)} / {_fmt(sol.points)}", ""]
            results = {q.question: q for q in nb.questions}
            for qid in sol.columns:
                if qid in manual:
                    value = row[qid]
                    state = ("needs grading (written answer, graded by an instructor with the "
                             "rubric)" if value is None else "graded by an instructor")
                    shown = "–" if value is None else _fmt(value)
                    lines.append(f"- {qid} ({shown}/{_fmt(maxima[qid])}): {state}")
                    continue
                q = results.get(qid)
                if q is None:
                    continue
                line = f"- {qid} ({_fmt(row[qid])}/{_fmt(q.max_points)}): {q.verdict.message}"
                comparison = q.verdict.comparison()
                if comparison:
                    line += f" [{comparison}]"
                lines.append(line)
            if nb.notes:
                lines += ["", "What happened while your notebook ran:", ""]
                lines += [f"- {note}" for note in nb.notes]
        write_atomic(report.feedback_dir / f"{name}.md", "\n".join(lines) + "\n")


class _Combined:
    """The grader's report with the class extras (what ``vae-edu grade`` prints from)."""

    def __init__(self, grading: GradingReport, extra: ClassReport | None):
        self._grading, self.extra = grading, extra

    def __getattr__(self, name):
        return getattr(self._grading, name)


def grading_function(args):
    """``grade_submissions``-compatible callable for ``vae-edu grade``: the whole class
    (:func:`grade_class`) with ``--manual`` and ``--twin-points``; a ``--shard`` run
    grades its part only (the extras are written for an unsharded run)."""
    manual = getattr(args, "manual", None)
    twin_points = getattr(args, "twin_points", "none")

    def run(submissions, out, *, solutions_dir, **kwargs):
        if kwargs.get("shard"):
            if manual:
                raise ValueError("--manual merges into a whole class's grades; run it "
                                 "without --shard (after `vae-edu grade merge`)")
            return grade_submissions(submissions, out, solutions_dir=solutions_dir, **kwargs)
        kwargs.pop("shard", None)
        extra = grade_class(submissions, out, solutions_dir=solutions_dir,
                            twin_points=twin_points, manual_scores=manual, **kwargs)
        if extra.pending:
            print("written answers that need grading: " + ", ".join(
                f"{q} ({n})" for q, n in extra.pending.items() if n) + f"; see "
                f"{extra.manual_path}" if any(extra.pending.values()) else
                "written answers: all graded")
        print(f"class report: {extra.report_path}")
        return _Combined(extra.grading, extra)

    return run
