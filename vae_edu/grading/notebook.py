"""Solution notebooks: their markers, their graded questions, and their student version.

A solution notebook (``solutions/NN_topic.ipynb``) has three kinds of code cells, told
apart by nbgrader-compatible cell metadata (``metadata.nbgrader``):

* **answer cells** (``solution: true``): the answer sits between ``### BEGIN SOLUTION``
  and ``### END SOLUTION`` lines (several regions per cell are fine). An optional first
  line ``# HINT: ...`` inside a region becomes the message of the stub's
  ``NotImplementedError``.
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

from .questions import QUESTIONS

__all__ = [
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "GradedQuestion",
    "SolutionError",
    "SolutionNotebook",
    "make_exercise",
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
class SolutionNotebook:
    """A validated solution notebook: its path, content and questions (in order)."""

    path: Path
    notebook: nbformat.NotebookNode
    questions: tuple[GradedQuestion, ...]

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)


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
    for index, cell in enumerate(nb.cells):
        where = f"{path.name}, cell {index + 1}"
        meta = cell.metadata.get("nbgrader", {})
        lines = _lines(cell)
        solution = _regions(lines, BEGIN_SOLUTION, END_SOLUTION, where)
        hidden = _regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
        if solution and not (cell.cell_type == "code" and meta.get("solution")):
            raise SolutionError(f"{where}: solution markers in a cell that is not an answer "
                                "cell (set metadata nbgrader.solution = true)")
        if meta.get("solution") and not solution:
            raise SolutionError(f"{where}: an answer cell without '{BEGIN_SOLUTION}'")
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
    if not questions:
        raise SolutionError(f"{path}: no graded question (no cell with nbgrader grade = true)")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise SolutionError(f"{path}: a question is graded twice: {ids}")
    return SolutionNotebook(path=path, notebook=nb, questions=tuple(questions))


def _quote(text: str) -> str:
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def _stub(region: list[str], indent: str) -> list[str]:
    """``# YOUR CODE HERE`` and a ``raise NotImplementedError(hint)``, within 100 columns."""
    hint = next((m.group(1) for m in map(_HINT_RE.match, region[:1]) if m), None)
    message = hint or "write your code here"
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


def _replace_regions(lines: list[str], begin: str, end: str, stub: bool) -> list[str]:
    out: list[str] = []
    inside: list[str] | None = None
    indent = ""
    for line in lines:
        text = line.strip()
        if text == begin:
            inside, indent = [], line[: len(line) - len(line.lstrip())]
        elif text == end:
            if stub:
                out += _stub(inside, indent)
            inside = None
        elif inside is not None:
            inside.append(line)
        else:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def make_exercise(solution: SolutionNotebook) -> nbformat.NotebookNode:
    """The student version of a solution: stubs for answers, no hidden tests, no outputs.

    Test cells are marked read-only (``editable``/``deletable`` false), as nbgrader does.
    """
    nb = copy.deepcopy(solution.notebook)
    for cell in nb.cells:
        meta = cell.metadata
        cell.metadata = nbformat.NotebookNode(
            {k: copy.deepcopy(meta[k]) for k in _KEPT_CELL_METADATA if k in meta}
        )
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        lines = _lines(cell)
        grading = meta.get("nbgrader", {})
        if grading.get("solution"):
            lines = _replace_regions(lines, BEGIN_SOLUTION, END_SOLUTION, stub=True)
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
