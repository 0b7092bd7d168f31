"""``vae-edu grade SUBMISSIONS --out grades.csv``: grade a batch of submitted notebooks.

Layout: ``SUBMISSIONS/<student>/.../NN_topic.ipynb`` (one folder per student, as
nbgrader's ``submitted/<student>/<assignment>/`` or any LMS export unpacked that way).
A notebook is matched to ``solutions/NN_topic.ipynb`` by its file name.

How grading works, and why student code cannot fool it:

1. **Everything that decides a grade comes from the instructor's side.** The questions,
   their points and their order are read from the solution notebooks; the
   submission's own metadata (points, ids) and its test cells are ignored.
2. **Secret inputs, references computed first.** A per-run secret seed (``secrets``)
   draws the test inputs of every question, and the reference outputs are computed
   with the library in the grader's process BEFORE any submission runs. Nothing a
   kernel does later (patching ``vae_edu`` in memory, even rewriting files) can change
   them.
3. **The kernel only records.** After the student's cell that tests a question (its
   test cell, found by ``grade_id`` or by its ``check("<id>", ...)`` call; else at the
   end), the grader injects a hidden-test cell that carries the source of
   :mod:`vae_edu.grading.harness` and the secret inputs, calls the student's function
   and displays its outputs as JSON. It does not compare anything, so redefining
   ``check``, patching ``vae_edu`` or ``torch.allclose``, or printing "passed" gains
   nothing: only outputs that equal the reference on inputs unknown in advance earn
   points.
4. **The grader judges outside the kernel.** Only the payloads of the injected cells
   are read (never output of the student's own cells), as plain JSON (never pickle),
   and compared in the grader's process (:mod:`vae_edu.grading.judging`).
5. **Each submission runs in its own kernel process** (:mod:`vae_edu.tooling.grader.sandbox`;
   several at once, supervised from this process) on a copy, in a fresh temporary
   folder that is the kernel's working directory, ``HOME`` and ``TMPDIR``, with a time
   limit per cell and per notebook, a memory limit (``RLIMIT_DATA`` plus a watchdog on
   resident memory), a file-size limit, and a cap on stored output. A crash, a loop, a
   memory hog or a flood costs that submission what it had not yet recorded; the batch
   goes on. The submissions folder is read once, into memory, before any kernel starts,
   and never written.

6. **Walls around each kernel** (:mod:`vae_edu.tooling.grader.isolation`, ``--sandbox``):
   with ``bwrap`` (the default where bubblewrap works) the kernel has its own PID
   namespace (nothing it starts outlives its run), no network, and a read-only view of
   the filesystem except its scratch folder, in which the submissions, the solutions and
   the feedback are not visible. With ``basic`` only the limits above hold, plus a
   reaper (the grader is the child subreaper of the kernels' orphans); the grader says
   which is in force, once, and the report records it.

What it cannot stop: code that computes the right answer by other means (calling the
library's own function, for instance) passes, as it would in any autograder. Under
``basic`` a kernel runs as the grader's user, so code that goes after absolute paths or
the network can do whatever that user can (see ``course/grading.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from ...atomic import write_atomic
from ...grading import harness
from ...grading.judging import Verdict
from ...grading.questions import QUESTIONS
from . import shards
from .isolation import Isolation, choose_isolation, reap_children, subreaper
from .limits import Limits
from .notebook import SolutionNotebook, read_solution
from .sandbox import RUN_MARKER, RunLimits, run_notebook

__all__ = [
    "GradingReport",
    "Limits",
    "NotebookResult",
    "QuestionResult",
    "StudentResult",
    "grade_submissions",
]

_HARNESS_SOURCE = Path(harness.__file__).read_text(encoding="utf-8")
_MAX_NOTEBOOK_BYTES = 20_000_000


@dataclass
class QuestionResult:
    """One question of one submitted notebook."""

    question: str
    points: float
    max_points: float
    verdict: Verdict


@dataclass
class NotebookResult:
    """One submitted notebook: its questions, notes on what happened, and its run time."""

    name: str
    questions: list[QuestionResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    grader_error: str | None = None

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)

    @property
    def max_points(self) -> float:
        return sum(q.max_points for q in self.questions)


@dataclass
class StudentResult:
    """Everything one student submitted."""

    student: str
    notebooks: list[NotebookResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def points(self, question: str) -> float:
        return sum(q.points for nb in self.notebooks for q in nb.questions
                   if q.question == question)

    @property
    def total(self) -> float:
        return sum(nb.points for nb in self.notebooks)


@dataclass
class GradingReport:
    """The outcome of a batch: per student, plus where the files went."""

    students: list[StudentResult]
    columns: list[str]
    max_points: dict[str, float]
    csv_path: Path
    feedback_dir: Path
    seconds: float
    isolation: Isolation = Isolation("basic")

    @property
    def grader_errors(self) -> list[str]:
        return [f"{s.student}/{nb.name}: {nb.grader_error}" for s in self.students
                for nb in s.notebooks if nb.grader_error]


# --------------------------------------------------------------------------- submissions


def collect_submissions(submissions_dir: Path) -> tuple[dict[str, dict[str, bytes]], list[str]]:
    """Read every student's notebooks into memory: ``{student: {file name: bytes}}``."""
    if not submissions_dir.is_dir():
        raise FileNotFoundError(f"no submissions folder {submissions_dir}")
    students: dict[str, dict[str, bytes]] = {}
    warnings = []
    for entry in sorted(submissions_dir.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            warnings.append(f"ignored {entry.name}: put each student's notebooks in a folder "
                            "named after the student")
            continue
        if not entry.is_dir():
            continue
        found: dict[str, bytes] = {}
        paths = sorted(entry.rglob("*.ipynb"), key=lambda p: (len(p.parts), str(p)))
        for path in paths:
            if any(part.startswith(".") for part in path.relative_to(entry).parts):
                continue  # .ipynb_checkpoints and the like
            if path.name in found:
                warnings.append(f"{entry.name}: more than one {path.name}; graded the one "
                                "nearest the student's folder")
                continue
            if path.stat().st_size > _MAX_NOTEBOOK_BYTES:
                found[path.name] = b""  # graded as unreadable, with a note
                warnings.append(f"{entry.name}/{path.name} is larger than "
                                f"{_MAX_NOTEBOOK_BYTES // 10**6} MB; not graded")
                continue
            found[path.name] = path.read_bytes()
        students[entry.name] = found
    if not students:
        raise FileNotFoundError(
            f"no student folders in {submissions_dir}: expected "
            f"{submissions_dir}/<student>/NN_topic.ipynb"
        )
    return students, warnings


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]", "_", name).strip(".") or "student"


# --------------------------------------------------------------------------- notebooks


def _injected_source(question: str, answer: str, spec: dict) -> str:
    return (
        f"# vae-edu grader: hidden tests of {question!r}, added at grading time\n"
        "__vae_edu_grader = {'__name__': 'vae_edu_grader'}\n"
        f"exec(compile({_HARNESS_SOURCE!r}, '<vae-edu grader>', 'exec'), __vae_edu_grader)\n"
        f"__vae_edu_grader['emit'](globals().get({answer!r}), {json.dumps(spec)!r})\n"
        "del __vae_edu_grader\n"
    )


def cell_source(cell: Any) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(str(s) for s in source)
    return source if isinstance(source, str) else ""


def read_submission_cells(data: bytes) -> list[dict]:
    """The cells of a submitted notebook, or ``ValueError`` if it is not one."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a notebook file ({type(exc).__name__})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        # nbformat 3 stores cells in worksheets
        try:
            cells = nbformat.reads(data.decode("utf-8"), as_version=4).cells
        except Exception:
            raise ValueError("not a notebook file (no cells)") from None
    return [c for c in cells if isinstance(c, dict)]


def _placement(cells: list[dict], question: str) -> int | None:
    """Index of the student's cell after which the hidden tests of ``question`` go."""
    for i, cell in enumerate(cells):
        meta = cell.get("metadata")
        grading = meta.get("nbgrader") if isinstance(meta, dict) else None
        if isinstance(grading, dict) and grading.get("grade_id") == question:
            return i
    pattern = re.compile(r"check\(\s*['\"]" + re.escape(question) + r"['\"]")
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code" and pattern.search(cell_source(cell)):
            return i
    return None


def prepare_notebook(
    data: bytes, solution: SolutionNotebook, specs: dict[str, dict]
) -> tuple[nbformat.NotebookNode, dict[int, str]]:
    """The notebook to execute: the student's code cells (no outputs, no metadata), with a
    hidden-test cell after each question's test cell; and ``{cell index: question}``.

    Raises:
        ValueError: if ``data`` is not a notebook.
    """
    cells = read_submission_cells(data)
    after: dict[int | None, list[str]] = {}
    for q in solution.questions:
        after.setdefault(_placement(cells, q.id), []).append(q.id)
    out = nbformat.v4.new_notebook()
    injected: dict[int, str] = {}

    def inject(questions: list[str]) -> None:
        for qid in questions:
            injected[len(out.cells)] = qid
            out.cells.append(nbformat.v4.new_code_cell(
                _injected_source(qid, QUESTIONS[qid].answer, specs[qid])))

    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            out.cells.append(nbformat.v4.new_code_cell(cell_source(cell)))
        inject(after.get(i, []))
    inject(after.get(None, []))
    out.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                  "language": "python"}
    return out, injected


# --------------------------------------------------------------------------- running


def _kernel_env(home: Path, tmp: Path, limits: Limits) -> dict[str, str]:
    # the grader's own caches stay out: torch.func or torch.compile in the grader's process
    # sets TORCHINDUCTOR_CACHE_DIR=/tmp/torchinductor_<user>, which a kernel under bwrap
    # (read-only /tmp) cannot create, so every cell touching torch's compiler would fail
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "IPYTHON", "JPY_", "VAE_EDU_", "MPLCONFIG",
                                "TORCHINDUCTOR_", "TRITON_"))}
    env.update({
        "HOME": str(home), "TMPDIR": str(tmp), "TMP": str(tmp), "TEMP": str(tmp),
        "TORCHINDUCTOR_CACHE_DIR": str(tmp / "torchinductor"),
        "TRITON_CACHE_DIR": str(tmp / "triton"),
        "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
        "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config"),
        "VAE_EDU_OFFLINE": "1", "VAE_EDU_CACHE": str(home / ".cache" / "vae_edu"),
        "VAE_EDU_PROFILE": limits.profile, "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1", "PYTHONDONTWRITEBYTECODE": "1",
        "VAE_EDU_GRADING_LIMITS": (f"data={limits.memory_mb * 2**20},"
                                   f"fsize={limits.max_file_mb * 2**20}"),
    })
    return env


def _remove_tree(path: Path) -> None:
    """Remove a run's scratch folder, also where the student's code made parts of it
    read-only; warn (once per folder, with the first error) if some of it stays, so that
    a batch of hundreds of runs does not fill the disk unnoticed."""
    errors: list[str] = []

    def make_writable(func, p, _exc):
        try:
            os.chmod(p, 0o700)
            func(p)
        except OSError as err:
            errors.append(f"{p}: {err.strerror or err}")

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable)
    else:
        shutil.rmtree(path, onerror=make_writable)
    if path.exists():
        why = errors[0] if errors else "no error was reported"
        more = f"; {len(errors) - 1} more like it" if len(errors) > 1 else ""
        warnings.warn(f"grading: could not remove the scratch folder {path} ({why}{more}); it "
                      "holds only a copy of one submission and its kernel's files: remove it "
                      "by hand", RuntimeWarning, stacklevel=2)


async def _run_one(name: str, data: bytes, nb: nbformat.NotebookNode, injected: dict[int, str],
                   limits: Limits, isolation: str = "basic",
                   hide: tuple[str, ...] = ()) -> list[dict]:
    """Run one prepared notebook in a fresh temporary folder (its scratch folder, which
    holds its working directory, ``HOME`` and ``TMPDIR``); return the run's events."""
    root = Path(tempfile.mkdtemp(prefix="vae-edu-grade-"))
    try:
        work, home, tmp = root / "work", root / "home", root / "tmp"
        for folder in (work, home, tmp):
            folder.mkdir()
        (work / name).write_bytes(data)  # a copy, as the student had it
        env = _kernel_env(home, tmp, limits)
        env[RUN_MARKER] = secrets.token_hex(8)  # marks every process of this run
        return await run_notebook(
            nb, injected, cwd=str(work), env=env, isolation=isolation, scratch=str(root),
            hide=hide,
            limits=RunLimits(
                cell_timeout=limits.cell_timeout, question_timeout=limits.question_timeout,
                notebook_timeout=limits.notebook_timeout,
                memory_bytes=limits.memory_mb * 2**20,
                max_output_bytes=int(limits.max_output_mb * 2**20),
            ),
        )
    finally:
        _remove_tree(root)


# --------------------------------------------------------------------------- judging


def _no_result(died: dict | None, limits: Limits) -> Verdict:
    if died is None:
        return Verdict("no_result", "not graded: the notebook stopped before these tests ran")
    where = f"code cell {died['cell']} ({died.get('first_line', '')!r})" if died.get(
        "cell") else "the hidden tests"
    if died.get("reason") == "memory":
        why = f"for using more than {limits.memory_mb} MB of memory"
    elif died.get("reason") == "time":
        why = f"when the notebook ran past its limit of {limits.notebook_timeout:g} s"
    elif died.get("reason") == "unresponsive":
        why = "because it did not stop when interrupted at its time limit"
    else:
        why = "(it crashed or exited)"
    return Verdict("no_result", f"not graded: the kernel was stopped in {where} {why}")


def _judge(solution: SolutionNotebook, events: list[dict], data: dict[str, tuple],
           limits: Limits) -> NotebookResult:
    result = NotebookResult(solution.name)
    payloads = {e["question"]: e for e in events if e.get("event") in ("payload", "no_payload")}
    died = next((e for e in events if e.get("event") == "kernel_died"), None)
    failed = next((e for e in events if e.get("event") == "failed"), None)
    done = next((e for e in events if e.get("event") == "done"), None)
    if failed or (done is None and died is None):
        result.grader_error = failed["message"] if failed else "the run ended without a report"
    for q in solution.questions:
        question = QUESTIONS[q.id]
        cases, expected = data[q.id]
        event = payloads.get(q.id)
        if event is None:
            verdict = (Verdict("no_result", f"not graded: {result.grader_error}")
                       if result.grader_error and died is None else _no_result(died, limits))
        elif event["event"] == "payload":
            try:
                verdict = question.judge(cases, expected, event["payload"])
            except Exception as exc:  # a malformed payload earns nothing
                verdict = Verdict("no_result", f"the recorded output could not be read "
                                  f"({type(exc).__name__})")
        elif event.get("reason") == "timeout" or event.get("ename") == "KeyboardInterrupt":
            verdict = Verdict("timeout", f"your code did not finish within "
                              f"{limits.question_timeout:g} s and was stopped")
        elif event.get("reason") == "too_large":
            verdict = Verdict("no_result", "your outputs were too large to record")
        elif event.get("ename"):
            verdict = Verdict("no_result", "the hidden tests could not run: "
                              f"{event['ename']}: {event.get('evalue')}")
        else:
            verdict = Verdict("no_result", "the hidden tests recorded no result")
        points = q.points if verdict.passed else 0
        result.questions.append(QuestionResult(q.id, points, q.points, verdict))
    for e in events:
        if e.get("event") == "cell_error":
            where = f"code cell {e['cell']} ({e['first_line']!r})"
            if e.get("timed_out"):
                result.notes.append(f"{where} was stopped after {e['limit']:g} s "
                                    "(time limit per cell)")
            else:
                message = f": {e['evalue']}" if e.get("evalue") else ""
                result.notes.append(f"{where} raised {e['ename']}{message}")
        elif e.get("event") == "output_dropped":
            result.notes.append(f"{e['bytes'] / 2**20:.1f} MB of output beyond the first "
                                f"{limits.max_output_mb:g} MB was not kept")
        elif e.get("event") == "kernel_died":
            result.notes.append(_no_result(e, limits).message.replace("not graded: ", ""))
        elif e.get("event") == "done":
            result.seconds = float(e.get("seconds", 0.0))
    return result


# --------------------------------------------------------------------------- reports


def _fmt(x: float) -> str:
    return f"{x:g}"


def _feedback(s: StudentResult, max_total: float) -> str:
    lines = [f"# Feedback for {s.student}", "",
             f"Total: {_fmt(s.total)} / {_fmt(max_total)} points", ""]
    lines += [f"- {note}" for note in s.notes]
    for nb in s.notebooks:
        lines += ["", f"## {nb.name}: {_fmt(nb.points)} / {_fmt(nb.max_points)}", ""]
        lines += [f"- {q.question} ({_fmt(q.points)}/{_fmt(q.max_points)}): "
                  f"{q.verdict.message}" for q in nb.questions]
        if nb.notes:
            lines += ["", "What happened while your notebook ran:", ""]
            lines += [f"- {note}" for note in nb.notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- entry point


def _run_coroutine(make: Callable[[], Any]) -> Any:
    """``asyncio.run(make())``, in a helper thread when this thread already runs a loop
    (e.g. when called from a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def grade_submissions(
    submissions_dir: str | os.PathLike,
    out_csv: str | os.PathLike,
    *,
    solutions_dir: str | os.PathLike,
    feedback_dir: str | os.PathLike | None = None,
    jobs: int = 2,
    limits: Limits | None = None,
    seed: str | None = None,
    progress: Callable[[str], object] | None = print,
    sandbox: str | None = None,
    shard: tuple[int, int] | None = None,
) -> GradingReport:
    """Grade every student's notebooks; write ``out_csv`` and one feedback file per student.

    Args:
        submissions_dir: ``<student>/.../NN_topic.ipynb`` for each student.
        out_csv: the grades: one row per student, one column per question, a total.
        solutions_dir: the instructor's solution notebooks (questions and points).
        feedback_dir: where ``<student>.md`` files go (default: ``<out_csv stem>_feedback``
            beside the CSV).
        jobs: submissions graded in parallel (each in its own process and kernel).
        limits: time, memory and output limits (:class:`Limits`).
        seed: run seed of the test inputs; ``None`` draws a secret one (the normal case).
        progress: called with one line per graded notebook (``None``: silent).
        sandbox: ``"bwrap"`` or ``"basic"`` (:mod:`vae_edu.tooling.grader.isolation`); ``None``:
            the strongest that works here. Said once through ``progress``, and kept in
            the report.
        shard: ``(k, n)``: grade only shard ``k`` of ``n`` (1-based) of the students
            (:func:`vae_edu.tooling.grader.shards.shard_of`); then ``out_csv`` is a part file
            for ``vae-edu grade merge`` and no feedback folder is written.

    While the batch runs this process is the child subreaper of the kernels' orphans;
    when it ends, every child process of this process that started during the batch is
    killed (so do not start other processes from other threads while grading).

    Returns:
        A :class:`GradingReport`.

    Raises:
        FileNotFoundError: a folder is missing or holds no submissions.
        ValueError: invalid ``jobs``, ``limits`` or ``shard``; a solution breaks the
            conventions.
        SandboxUnavailable: ``sandbox="bwrap"`` where bubblewrap does not work.
    """
    start = time.perf_counter()
    limits = (limits or Limits()).validate()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if shard is not None:
        shards.check_shard(shard)
    report_line = progress or (lambda line: None)
    out_csv = Path(out_csv)
    feedback_dir = Path(feedback_dir) if feedback_dir else out_csv.with_name(
        f"{out_csv.stem}_feedback")
    solutions = {p.name: read_solution(p)
                 for p in sorted(Path(solutions_dir).glob("[0-9][0-9]_*.ipynb"))}
    if not solutions:
        raise FileNotFoundError(f"no solution notebooks (NN_topic.ipynb) in {solutions_dir}")
    isolation = choose_isolation(sandbox)
    report_line(f"isolation: {isolation.description}")
    submitted, warnings = collect_submissions(Path(submissions_dir))
    for warning in warnings:
        report_line(f"warning: {warning}")
    # what the whole class handed in decides the columns, whichever shard this is
    used = [name for name in solutions if any(name in nbs for nbs in submitted.values())]
    roster = sorted(submitted)
    if shard is not None:
        mine = set(shards.shard_of(roster, *shard))
        submitted = {name: nbs for name, nbs in submitted.items() if name in mine}
        report_line(f"shard {shard[0]}/{shard[1]}: {len(submitted)} of {len(roster)} "
                    "student(s)")

    # Secret inputs and reference outputs, before any student code runs.
    run_seed = seed if seed is not None else secrets.token_hex(16)
    data: dict[str, tuple] = {}
    specs: dict[str, dict] = {}
    with _bands_of(Path(solutions_dir), limits.profile):  # train-and-report questions
        for name in used:
            for q in solutions[name].questions:
                question = QUESTIONS[q.id]
                cases = question.draw(run_seed)
                data[q.id] = (cases, question.expected(cases))
                specs[q.id] = question.spec(cases)
    columns = [q.id for name in used for q in solutions[name].questions]
    max_points = {q.id: q.points for name in used for q in solutions[name].questions}
    # what the kernels must not see (under bwrap): the class, the answers, the outputs
    hide = tuple(str(Path(p).resolve()) for p in (submissions_dir, solutions_dir, feedback_dir,
                                                  out_csv))

    students = {name: StudentResult(name) for name in submitted}
    tasks = []
    for student, notebooks in submitted.items():
        for name, raw in notebooks.items():
            if name not in solutions:
                students[student].notes.append(
                    f"{name} is not one of the exercises ({', '.join(solutions)}); not graded")
                continue
            tasks.append((student, name, raw))

    async def grade_one(task, slots: asyncio.Semaphore) -> tuple[str, NotebookResult]:
        student, name, raw = task
        solution = solutions[name]
        try:
            nb, injected = prepare_notebook(raw, solution, specs)
        except ValueError as exc:
            result = NotebookResult(name, notes=[f"{name} could not be read: {exc}"])
            result.questions = [QuestionResult(q.id, 0, q.points, Verdict(
                "no_result", "not graded: the file is not a notebook")) for q in
                solution.questions]
            return student, result
        async with slots:
            events = await _run_one(name, raw, nb, injected, limits, isolation.name, hide)
        result = _judge(solution, events, data, limits)
        status = f" (grader error: {result.grader_error})" if result.grader_error else ""
        report_line(f"graded {student}/{result.name}: {_fmt(result.points)}/"
                    f"{_fmt(result.max_points)} in {result.seconds:.1f} s{status}")
        return student, result

    async def grade_all() -> list[tuple[str, NotebookResult]]:
        slots = asyncio.Semaphore(jobs)
        return await asyncio.gather(*(grade_one(task, slots) for task in tasks))

    batch_started = time.time()
    with subreaper():  # orphans of the kernels come to this process, and are killed
        try:
            results = _run_coroutine(grade_all)
        finally:
            reap_children(since=batch_started)  # whatever a run left behind
    for student, result in results:
        students[student].notebooks.append(result)

    ordered = sorted(students.values(), key=lambda s: s.student)
    for s in ordered:  # questions of notebooks a student did not hand in count as 0
        have = {nb.name for nb in s.notebooks}
        s.notebooks.sort(key=lambda nb: nb.name)
        missing = [name for name in used if name not in have]
        if missing:
            s.notes.append(f"not submitted: {', '.join(missing)}")
    max_total = sum(max_points.values())
    files = feedback_file_names(roster)
    feedback = {s.student: _feedback(s, max_total) for s in ordered}
    report = GradingReport(ordered, columns, max_points, out_csv, feedback_dir,
                           time.perf_counter() - start, isolation)
    if shard is not None:
        shards.write_part(out_csv, report, shard=shard, roster=roster, seed=seed,
                          solutions=solutions, feedback=feedback, files=files)
        return report
    write_grades(out_csv, feedback_dir, columns, [
        (s.student, [s.points(c) for c in columns], s.total) for s in ordered],
        {files[s.student]: feedback[s.student] for s in ordered})
    return report


@contextlib.contextmanager
def _bands_of(solutions_dir: Path, profile: str):
    """The bands of ``solutions_dir`` under the kernels' ``profile`` while references are
    computed, unless a caller (``vae-edu grade``'s class layer) has set them already; so a
    ``--shard`` run judges train-and-report questions as an unsharded one does."""
    try:
        from ...grading import bands
    except ImportError:  # pragma: no cover - a course without train-and-report questions
        yield
        return
    active = getattr(bands, "_active", {})
    if active.get("path") is not None:
        yield
        return
    bands.use(solutions_dir / bands.BANDS_FILE, profile)
    try:
        yield
    finally:
        bands.use(None, None)


def feedback_file_names(roster: list[str]) -> dict[str, str]:
    """Student -> feedback file name (``<safe name>.md``), unique over the whole class
    ("a b" and "a_b" must not share a file, whichever shard grades them)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for student in sorted(roster):
        name = base = safe_name(student)
        while name.lower() in taken:
            name = f"{base}-{len(taken)}"
        taken.add(name.lower())
        names[student] = f"{name}.md"
    return names


def write_grades(out_csv: Path, feedback_dir: Path, columns: list[str],
                 rows: list[tuple[str, list[float], float]],
                 feedback: dict[str, str]) -> None:
    """Write ``out_csv`` (student, one column per question, total) and the feedback files;
    each file atomically (written beside, then renamed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *columns, "total"])
    for student, points, total in rows:
        writer.writerow([student, *(_fmt(p) for p in points), _fmt(total)])
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for name, text in feedback.items():
        write_atomic(feedback_dir / name, text)
    write_atomic(out_csv, buffer.getvalue())
