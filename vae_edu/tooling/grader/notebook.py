"""Solution notebooks: their markers, their graded questions, and their student version.

A solution notebook (``solutions/NN_topic.ipynb``) has three kinds of code cells, told
apart by nbgrader-compatible cell metadata (``metadata.nbgrader``):

* **answer cells** (``solution: true``): the answer sits between ``### BEGIN SOLUTION``
  and ``### END SOLUTION`` lines (several regions per cell are fine). The student gets
  ``# YOUR CODE HERE`` and a ``NotImplementedError`` that gives nothing away; hints live
  in :mod:`vae_edu.grading.hints`, shown one level at a time by ``grading.hint(id)``
  (a ``# HINT:`` line in a region is refused: it would hand out the answer).
* **manually graded answers** (markdown, ``grade: true, solution: true``, ``points``,
  ``grade_id``): derivations and interpretations. The cell holds one region between the
  same markers with the model answer and its rubric (a line starting ``**Rubric``);
  the student gets ``YOUR ANSWER HERE``, as in nbgrader. ``vae-edu grade`` lists them as
  "needs grading" until an instructor's scores are merged in.
* **test cells** (``grade: true``, ``points: N``, ``grade_id: <question id>``): a visible
  ``grading.check("<id>", <answer>)`` and, between ``### BEGIN HIDDEN TESTS`` and
  ``### END HIDDEN TESTS``, ``grading.hidden_check("<id>", <answer>)``.
* everything else (narrative, set-up, demos).

:func:`read_solution` validates all of that and lists the questions with their points;
:func:`make_exercise` turns a solution into the student version.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ...grading.questions import QUESTIONS

__all__ = [
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "GradedQuestion",
    "ManualQuestion",
    "SolutionError",
    "SolutionNotebook",
    "header_points_problem",
    "make_exercise",
    "points_line",
    "read_solution",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
_HINT_RE = re.compile(r"^\s*#\s*HINT:\s*(.*\S)\s*$")
_NAME_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
_MAX_LINE = 100  # the repository's line length, which ruff checks in notebooks too
#: Cell metadata kept in the student version.
_KEPT_CELL_METADATA = ("nbgrader", "tags", "editable", "deletable")


class SolutionError(ValueError):
    """A solution notebook breaks the conventions; the message names the file and cell."""


@dataclass(frozen=True)
class GradedQuestion:
    """One graded question of a solution notebook.

    Attributes:
        id: the question id (``grade_id`` of the test cell), a key of
            :data:`vae_edu.grading.questions.QUESTIONS`.
        points: what it is worth.
        answer: the name the notebook defines for it.
        cell_index: index of its test cell in the notebook (all cells counted).
    """

    id: str
    points: float
    answer: str
    cell_index: int


@dataclass(frozen=True)
class ManualQuestion:
    """A manually graded (markdown) answer of a solution notebook.

    Attributes:
        id: its ``grade_id``, also its column in ``grades.csv``.
        points: the most it can earn.
        kind: ``"derive"`` or ``"interpret"`` (from the id's prefix ``derive_``; any other
            id is an interpretation).
        rubric: the rubric text of the solution (shown to graders, never to students).
        cell_index: index of the cell in the notebook.
    """

    id: str
    points: float
    kind: str
    rubric: str
    cell_index: int


@dataclass(frozen=True)
class SolutionNotebook:
    """A validated solution notebook: its path, content and questions (in order).

    ``questions`` are the automatically graded ones (the batch grader runs them);
    ``manual`` the markdown answers an instructor scores with the rubric.
    """

    path: Path
    notebook: nbformat.NotebookNode
    questions: tuple[GradedQuestion, ...]
    manual: tuple[ManualQuestion, ...] = ()

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions) + sum(q.points for q in self.manual)

    @property
    def columns(self) -> list[str]:
        """Every graded id, automatic and manual, in the order of the notebook."""
        both = [(q.cell_index, q.id) for q in (*self.questions, *self.manual)]
        return [qid for _, qid in sorted(both)]


_POINTS_RE = re.compile(r"Points \((?P<total>[0-9.]+) in all\): (?P<items>.*)")
_POINTS_ITEM_RE = re.compile(r"`(?P<id>[A-Za-z_][A-Za-z0-9_]*)` (?P<points>[0-9.]+)")


def points_line(solution: SolutionNotebook) -> str:
    """The line the first markdown cell must carry: ``Points (N in all): `id` p, ….``,
    every graded id (automatic and written) with its metadata points, in notebook order."""
    points = {q.id: q.points for q in (*solution.questions, *solution.manual)}
    items = ", ".join(f"`{qid}` {points[qid]:g}" for qid in solution.columns)
    return f"Points ({solution.points:g} in all): {items}."


def header_points_problem(solution: SolutionNotebook) -> str | None:
    """What is wrong with the points line of the first markdown cell, or None.

    The line must list every graded question once with the points of its cell metadata,
    and its total must be their sum (:func:`points_line` writes the right one).
    """
    first = next((c for c in solution.notebook.cells if c.cell_type == "markdown"), None)
    found = [m for line in (first.source.split("\n") if first is not None else [])
             if (m := _POINTS_RE.search(line))]
    want = f"write: {points_line(solution)}"
    if len(found) != 1:
        return (f"{solution.name}: the first markdown cell needs one 'Points (N in all): ...' "
                f"line ({len(found)} found); {want}")
    stated = {}
    for m in _POINTS_ITEM_RE.finditer(found[0]["items"]):
        if m["id"] in stated:
            return f"{solution.name}: the points line lists `{m['id']}` twice; {want}"
        stated[m["id"]] = float(m["points"])
    meta = {q.id: float(q.points) for q in (*solution.questions, *solution.manual)}
    problems = [f"`{q}` is missing" for q in meta if q not in stated]
    problems += [f"`{q}` is not graded in this set" for q in stated if q not in meta]
    problems += [f"`{q}` {stated[q]:g} but the metadata gives {meta[q]:g}"
                 for q in meta if q in stated and stated[q] != meta[q]]
    if float(found[0]["total"].rstrip(".")) != float(solution.points):
        problems.append(f"{found[0]['total']} in all but the metadata adds up to "
                        f"{solution.points:g}")
    if problems:
        return f"{solution.name}: points line: {'; '.join(problems)}; {want}"
    return None


def _lines(cell) -> list[str]:
    return cell.source.split("\n")


def _regions(lines: list[str], begin: str, end: str, where: str) -> list[tuple[int, int]]:
    """``(begin_line, end_line)`` index pairs of the marker regions in ``lines``."""
    regions, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text == begin:
            if start is not None:
                raise SolutionError(f"{where}: '{begin}' inside another region (line {i + 1})")
            start = i
        elif text == end:
            if start is None:
                raise SolutionError(f"{where}: '{end}' without '{begin}' (line {i + 1})")
            regions.append((start, i))
            start = None
    if start is not None:
        raise SolutionError(f"{where}: '{begin}' on line {start + 1} is never closed by '{end}'")
    return regions


def _hidden_call(source: str, where: str) -> tuple[str, str]:
    """The ``(question id, answer name)`` of the hidden block's ``hidden_check`` call."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise SolutionError(f"{where}: the hidden tests are not valid Python ({exc})") from None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            == "hidden_check"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[1], ast.Name)
        ):
            return str(node.args[0].value), node.args[1].id
    raise SolutionError(
        f"{where}: the hidden tests must call grading.hidden_check(\"<question id>\", <answer>)"
    )


def read_solution(path: str | Path) -> SolutionNotebook:
    """Read and validate a solution notebook.

    Raises:
        SolutionError: for a bad file name, unbalanced or misplaced markers, a test cell
            without points, an unknown question id, or a hidden block that does not call
            ``hidden_check`` for its own question and answer.
    """
    path = Path(path)
    if not _NAME_RE.match(path.name):
        raise SolutionError(f"{path}: solution notebooks are named NN_topic.ipynb")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:
        raise SolutionError(f"{path}: not a readable notebook ({exc})") from None
    questions = []
    manual = []
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index + 1}"
        meta = cell.metadata.get("nbgrader", {})
        lines = _lines(cell)
        solution = _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
        hidden = _regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
        if solution and not meta.get("solution"):
            raise SolutionError(f"{where}: solution markers in a cell that is not an answer "
                                "cell (set metadata nbgrader.solution = true)")
        if meta.get("solution") and not solution:
            raise SolutionError(f"{where}: an answer cell without '{BEGIN_SOLUTION}'")
        for a, _ in solution:
            if a + 1 < len(lines) and _HINT_RE.match(lines[a + 1]):
                raise SolutionError(f"{where}: a '# HINT:' line in a solution region would "
                                    "hand out the answer; put hints in "
                                    "vae_edu/grading/hints.py (shown by grading.hint)")
        if cell.cell_type == "markdown":
            if meta.get("grade") or meta.get("solution"):
                manual.append(_manual_question(cell, meta, lines, solution, index, where))
            continue
        if hidden and not meta.get("grade"):
            raise SolutionError(f"{where}: hidden tests in a cell that is not a test cell")
        if not meta.get("grade"):
            continue
        qid = meta.get("grade_id")
        if qid not in QUESTIONS:
            raise SolutionError(f"{where}: grade_id {qid!r} is not a known question "
                                f"(known: {', '.join(QUESTIONS)})")
        points = meta.get("points")
        if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
            raise SolutionError(f"{where}: test cell {qid!r} needs nbgrader points > 0")
        if len(hidden) != 1:
            raise SolutionError(f"{where}: test cell {qid!r} needs one hidden-tests block")
        a, b = hidden[0]
        call_id, answer = _hidden_call("\n".join(lines[a + 1 : b]), where)
        if call_id != qid or answer != QUESTIONS[qid].answer:
            raise SolutionError(
                f"{where}: the hidden tests should call hidden_check({qid!r}, "
                f"{QUESTIONS[qid].answer}), not hidden_check({call_id!r}, {answer})"
            )
        questions.append(GradedQuestion(qid, points, answer, index))
    if not questions and not manual:
        raise SolutionError(f"{path}: no graded question (no cell with nbgrader grade = true)")
    ids = [q.id for q in questions] + [q.id for q in manual]
    if len(set(ids)) != len(ids):
        raise SolutionError(f"{path}: a question is graded twice: {ids}")
    return SolutionNotebook(path=path, notebook=nb, questions=tuple(questions),
                            manual=tuple(manual))


def _manual_question(cell, meta, lines, solution, index, where) -> ManualQuestion:
    """Validate a manually graded markdown answer of a solution notebook."""
    qid = meta.get("grade_id")
    if not (meta.get("grade") and meta.get("solution")):
        raise SolutionError(f"{where}: a graded markdown answer needs nbgrader grade = true "
                            "and solution = true")
    if not isinstance(qid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", qid):
        raise SolutionError(f"{where}: a graded markdown answer needs a grade_id of "
                            f"lowercase letters, digits and _ (got {qid!r})")
    if qid in QUESTIONS:
        raise SolutionError(f"{where}: {qid!r} is an automatic question; give the written "
                            "answer its own grade_id")
    points = meta.get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        raise SolutionError(f"{where}: graded markdown answer {qid!r} needs nbgrader "
                            "points > 0")
    if len(solution) != 1:
        raise SolutionError(f"{where}: graded markdown answer {qid!r} needs one region "
                            f"between '{BEGIN_SOLUTION}' and '{END_SOLUTION}'")
    a, b = solution[0]
    body = lines[a + 1 : b]
    rubric_at = next((i for i, line in enumerate(body) if line.startswith("**Rubric")), None)
    if rubric_at is None:
        raise SolutionError(f"{where}: graded markdown answer {qid!r} needs its rubric: a "
                            "line starting '**Rubric' inside the solution region")
    kind = "derive" if qid.startswith("derive_") else "interpret"
    return ManualQuestion(qid, points, kind, "\n".join(body[rubric_at:]).strip(), index)


def _quote(text: str) -> str:
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def _stub(region: list[str], indent: str, qid: str) -> list[str]:
    """``# YOUR CODE HERE`` and a ``raise NotImplementedError(...)`` that gives nothing
    away but the call that shows the hints of question ``qid``, within 100 columns."""
    message = f"write your code here (grading.hint('{qid}') shows a hint)"
    one_line = f"{indent}raise NotImplementedError({_quote(message)})"
    if len(one_line) <= _MAX_LINE:
        return [f"{indent}# YOUR CODE HERE", one_line]
    width = _MAX_LINE - len(indent) - 6  # indent + 4 spaces + two quotes
    chunks, chunk = [], ""
    for word in message.split(" "):
        if chunk and len(chunk) + len(word) + 1 > width:
            chunks.append(chunk + " ")
            chunk = word
        else:
            chunk = f"{chunk} {word}" if chunk else word
    chunks.append(chunk)
    return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError(",
            *(f"{indent}    {_quote(c)}" for c in chunks), f"{indent})"]


def _replace_regions(lines: list[str], begin: str, end: str, stub: bool,
                     qid: str = "") -> list[str]:
    out: list[str] = []
    inside: list[str] | None = None
    indent = ""
    for line in lines:
        text = line.strip()
        if text == begin:
            inside, indent = [], line[: len(line) - len(line.lstrip())]
        elif text == end:
            if stub:
                out += _stub(inside, indent, qid)
            inside = None
        elif inside is not None:
            inside.append(line)
        else:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def _markdown_stub(lines: list[str]) -> str:
    """A manually graded answer for the student: the text outside the region, and
    ``YOUR ANSWER HERE`` in place of the model answer and rubric."""
    out, inside = [], False
    for line in lines:
        if line.strip() == BEGIN_SOLUTION:
            inside = True
            out.append("YOUR ANSWER HERE")
        elif line.strip() == END_SOLUTION:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out).strip()


def make_exercise(solution: SolutionNotebook) -> nbformat.NotebookNode:
    """The student version of a solution: stubs for answers, no hidden tests, no outputs.

    Test cells are marked read-only (``editable``/``deletable`` false), as nbgrader does.
    """
    nb = copy.deepcopy(solution.notebook)
    tests = sorted((q.cell_index, q.id) for q in solution.questions)
    graded = {q.id for q in (*solution.questions, *solution.manual)}
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata
        cell.metadata = nbformat.NotebookNode(
            {k: copy.deepcopy(meta[k]) for k in _KEPT_CELL_METADATA if k in meta}
        )
        grading = meta.get("nbgrader", {})
        if cell.cell_type == "markdown" and grading.get("solution"):
            cell.source = _markdown_stub(_lines(cell))
            cell.metadata["nbgrader"] = {**grading, "locked": False}
            continue
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        lines = _lines(cell)
        if grading.get("solution"):
            # an answer cell belongs to the question its grade_id names ("<id>-answer"),
            # else to the first test cell at or after it
            named = str(grading.get("grade_id", "")).removesuffix("-answer")
            qid = named if named in graded else next(
                (q for i, q in tests if i >= index), tests[-1][1] if tests else "")
            lines = _replace_regions(lines, BEGIN_SOLUTION, END_SOLUTION, stub=True, qid=qid)
        if grading.get("grade"):
            lines = _replace_regions(lines, BEGIN_HIDDEN, END_HIDDEN, stub=False)
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
        cell.source = "\n".join(lines)
    nb.metadata = nbformat.NotebookNode({
        k: copy.deepcopy(v) for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")
    })
    nb.metadata["vae_edu"] = {
        "generated_from": f"solutions/{solution.name}",
        "note": "generated by `vae-edu exercises`; edit the solution, not this file",
    }
    return nb
