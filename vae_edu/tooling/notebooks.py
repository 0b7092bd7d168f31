"""Re-execute course notebooks in place, so that their stored outputs are fresh.

The lecture notebooks are kept *with* their outputs, so that students can read them
without running anything. When the library or a notebook changes, those outputs go
stale. This module re-runs a notebook top to bottom in a brand-new kernel, exactly as
"Restart kernel and run all cells" would, and writes the result back to the same file.

Instructors normally use it through the command line::

    vae-edu execute lectures/01_autoencoders.ipynb --profile default

or from Python::

    from vae_edu.tooling.notebooks import execute_notebook
    execute_notebook("lectures/01_autoencoders.ipynb", profile="smoke")

What you can rely on:

* The kernel runs the same Python interpreter as the caller (``sys.executable``), even if
  your global Jupyter installation registers a different ``python3`` kernel.
* The kernel's working directory is the notebook's folder, so relative paths inside the
  notebook behave as they do when you open it in Jupyter.
* ``VAE_EDU_PROFILE`` (how much training the notebooks do: ``smoke``, ``default`` or
  ``full``) is set for the kernel only; your own environment is not changed.
  ``PYTHONHASHSEED`` is fixed to ``0`` for reproducible outputs.
* Execution counts start at 1 and are consecutive: the file looks like a clean run.
* Nothing is lost on failure. The notebook is only written once every cell has run, and
  then atomically (a temporary file in the same folder replaces the original). If a cell
  raises or times out, the file on disk is left byte-for-byte unchanged and you get a
  short error that names the cell and the exception.

Cells tagged ``raises-exception`` may raise (their error is stored as output, as in a
deliberate "this is what goes wrong" demo); cells tagged ``skip-execution`` are not run
and are left exactly as they are.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from ..atomic import atomic_file
from ..profiles import PROFILE_ENV, PROGRESS_ENV, check_profile

__all__ = [
    "ExecutionResult",
    "NotebookExecutionError",
    "NotebooksFailedError",
    "execute_notebook",
    "execute_notebooks",
]

_NATIVE_KERNEL = "python3"
_SKIP_TAG = "skip-execution"  # nbclient's default ``skip_cells_with_tag``
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_MAX_MESSAGE_CHARS = 500

# nbclient reports problems through this logger; a NullHandler keeps them off the
# terminal (our exceptions say what went wrong) unless the application configures logging.
_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class ExecutionResult:
    """What happened when one notebook was executed successfully.

    Attributes:
        path: The notebook, as it was given.
        seconds: Wall-clock time for the whole run, kernel start-up included.
        code_cells: Number of code cells in the notebook.
        profile: The ``VAE_EDU_PROFILE`` the kernel saw, or ``None`` if it was not set.
    """

    path: Path
    seconds: float
    code_cells: int
    profile: str | None

    def describe(self) -> str:
        """One line for a progress log, e.g. ``executed a.ipynb in 1.2 s (3 code cells, ...)``."""
        cells = f"{self.code_cells} code cell{'' if self.code_cells == 1 else 's'}"
        profile = f"profile {self.profile}" if self.profile else "profile not set"
        return f"executed {self.path} in {self.seconds:.1f} s ({cells}, {profile})"


class NotebookExecutionError(RuntimeError):
    """A notebook could not be executed; the file on disk was left unchanged.

    The message is short and says which code cell failed and why. More detail is
    available as attributes:

    Attributes:
        path: The notebook.
        cell_index: 1-based index of the failing cell among the notebook's *code* cells
            (markdown cells are not counted), or ``None`` if no cell was running.
        cell_first_line: First non-blank line of the failing cell's source (or ``""``).
        ename: Exception type raised in the kernel, e.g. ``"ZeroDivisionError"``.
        evalue: Exception message raised in the kernel.
        timed_out: True if the cell ran longer than the per-cell timeout.
        traceback: The kernel's full traceback as plain text (no colour codes), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path,
        cell_index: int | None = None,
        cell_first_line: str = "",
        ename: str = "",
        evalue: str = "",
        timed_out: bool = False,
        traceback: str = "",
    ) -> None:
        super().__init__(message)
        self.path = path
        self.cell_index = cell_index
        self.cell_first_line = cell_first_line
        self.ename = ename
        self.evalue = evalue
        self.timed_out = timed_out
        self.traceback = traceback


class NotebooksFailedError(NotebookExecutionError):
    """One or more notebooks of a batch failed (see :func:`execute_notebooks`).

    Attributes:
        failures: ``(path, exception)`` for every notebook that failed, in order.
        results: The :class:`ExecutionResult` of every notebook that succeeded.
        not_run: Notebooks that were never started because the batch stopped early.
    """

    def __init__(
        self,
        message: str,
        *,
        failures: list[tuple[Path, Exception]],
        results: list[ExecutionResult],
        not_run: list[Path],
    ) -> None:
        super().__init__(message, path=failures[0][0])
        self.failures = failures
        self.results = results
        self.not_run = not_run


class SameInterpreterKernelManager(AsyncKernelManager):
    """A kernel manager whose ``python3`` kernel is always ``sys.executable``.

    A user-level ``python3`` kernelspec (e.g. in ``~/.local/share/jupyter/kernels``) may
    point at a different Python that lacks this library or has other versions of it. We
    therefore build the kernel spec in code, from the installed ipykernel, instead of
    looking it up. Where both jupyter_client and ipykernel support it, the connection to
    the kernel is encrypted (CurveZMQ); otherwise recent ipykernels warn on every start.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.has_trait("transport_encryption") and zmq.has("curve"):
            self.transport_encryption = "auto"  # only used if the kernel spec declares it

    @property
    def kernel_spec(self) -> KernelSpec | None:
        if self._kernel_spec is None:
            try:
                from ipykernel.kernelspec import get_kernel_dict
            except ImportError as exc:  # pragma: no cover - ipykernel is a dependency
                raise RuntimeError(
                    "ipykernel is not installed in this Python; it is needed to run notebooks"
                ) from exc
            spec = get_kernel_dict()  # argv starts with sys.executable
            spec["argv"] = [sys.executable, *spec["argv"][1:]]
            known = {k: v for k, v in spec.items() if k in KernelSpec.class_trait_names()}
            self._kernel_spec = KernelSpec(name=_NATIVE_KERNEL, resource_dir="", **known)
        return self._kernel_spec


def _check_profile(profile: str | None) -> None:
    if profile is not None:
        check_profile(profile)


def _check_timeout(timeout: float | None) -> int | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return math.ceil(timeout)


def _plain(text: str) -> str:
    """Remove ANSI colour codes and trim long text."""
    text = _ANSI_RE.sub("", text).strip()
    if len(text) > _MAX_MESSAGE_CHARS:
        text = text[:_MAX_MESSAGE_CHARS].rstrip() + " ..."
    return text


def first_line(text: str, width: int) -> str:
    """The first non-blank line of ``text``, stripped and cut to ``width`` characters
    (ending in ``...``), else ``""``: how errors name a cell, here and in the grader."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= width else line[: width - 3] + "..."
    return ""


def _read_notebook(path: Path) -> tuple[nbformat.NotebookNode, os.stat_result]:
    """Read and validate a notebook (converted to format 4) or raise a clear error.

    Also returns the file's ``os.stat`` from just before it was read.
    """
    if not path.exists():
        raise FileNotFoundError(f"notebook not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a notebook file: {path} is not a regular file")
    stat_before = path.stat()
    try:
        text = path.read_text(encoding="utf-8")
        # nbformat.read() only *logs* validation errors; we want them raised.
        nb = nbformat.reader.reads(text)
        nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except Exception as exc:  # JSON, schema, encoding, conversion errors alike
        reason = first_line(str(exc), 80) or type(exc).__name__
        raise ValueError(f"not a valid Jupyter notebook: {path} ({reason})") from exc
    return nb, stat_before


def _kernel_env(profile: str | None, env: Mapping[str, str] | None) -> dict[str, str]:
    kernel_env = dict(os.environ)
    kernel_env["PYTHONHASHSEED"] = "0"
    # Figures are stored as Jupyter shows them (the kernel's inline backend); an exported
    # MPLBACKEND=Agg would silently store notebooks without figures.
    kernel_env.pop("MPLBACKEND", None)
    # Silences debugpy's "frozen modules" warning that ipykernel prints on Python >= 3.11.
    kernel_env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    # No training progress bars: the file keeps no widget state, so a stored bar would
    # read 0 % forever (fit's per-epoch lines are kept). Set VAE_EDU_PROGRESS=1 to keep them.
    kernel_env.setdefault(PROGRESS_ENV, "0")
    if env:
        kernel_env.update({str(k): str(v) for k, v in env.items()})
    if profile is not None:
        kernel_env[PROFILE_ENV] = profile
    return kernel_env


def _write_unless_changed(
    nb: nbformat.NotebookNode, path: Path, target: Path, expected_stat: os.stat_result
) -> None:
    """Write ``nb`` over ``target`` atomically (:func:`vae_edu.atomic.atomic_file`).

    Refuses (and leaves the file alone) if it changed since ``expected_stat`` was taken.
    """
    current = target.stat()
    if (current.st_mtime_ns, current.st_size) != (expected_stat.st_mtime_ns, expected_stat.st_size):
        raise NotebookExecutionError(
            f"{path}: the file changed on disk while it was being executed "
            "(was it saved from Jupyter?); not overwriting it. Run the command again.",
            path=path,
        )
    with atomic_file(target, keep_mode=True) as fh:
        nbformat.write(nb, fh)


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    profile: str | None = None,
    timeout: float | None = 600,
    kernel_name: str = "python3",
    env: Mapping[str, str] | None = None,
) -> ExecutionResult:
    """Run a notebook top to bottom in a fresh kernel and save it in place with its outputs.

    Args:
        path: The ``.ipynb`` file.
        profile: ``"smoke"``, ``"default"`` or ``"full"``: the value of ``VAE_EDU_PROFILE``
            inside the kernel. ``None`` leaves the kernel with whatever your environment
            (or ``env``) says.
        timeout: Longest time one cell may run, in seconds (``None``: no limit).
        kernel_name: Jupyter kernel to use. The default ``"python3"`` always means "this
            Python" (``sys.executable``); any other name is looked up among the installed
            kernelspecs.
        env: Extra environment variables for the kernel only.

    Returns:
        An :class:`ExecutionResult` (path, seconds taken, number of code cells, profile).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is not a valid notebook, or ``profile``/``timeout`` is invalid.
        NotebookExecutionError: a cell raised, timed out or killed the kernel. The
            notebook file is left unchanged.
    """
    _check_profile(profile)
    cell_timeout = _check_timeout(timeout)
    path = Path(path)
    start = time.perf_counter()

    nb, stat_before = _read_notebook(path)
    target = path.resolve()  # write through symlinks rather than replacing them
    workdir = path.absolute().parent
    kernel_env = _kernel_env(profile, env)

    # A clean run: no stale outputs or execution counts survive, even in cells that
    # nbclient does not execute (empty ones). Cells tagged skip-execution stay as they are.
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for cell in code_cells:
        if _SKIP_TAG not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    code_number = {id(cell): i for i, cell in enumerate(code_cells, start=1)}
    current: dict[str, nbformat.NotebookNode] = {}

    def on_cell_start(cell: nbformat.NotebookNode, cell_index: int) -> None:
        current["cell"] = cell

    client_options: dict[str, object] = {}
    if kernel_name == _NATIVE_KERNEL:
        client_options["kernel_manager_class"] = SameInterpreterKernelManager
    client = NotebookClient(
        nb,
        timeout=cell_timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(workdir)}},
        record_timing=False,  # keeps timestamps out of the file (and out of git diffs)
        # Widget state (random model ids, PNG bytes of every image) would make each run
        # rewrite the notebook's metadata; widgets need a live kernel anyway.
        store_widget_state=False,
        # All outputs have arrived by the time the last cell returns, so the kernel can be
        # stopped at once. A graceful stop of a kernel stuck in a timed-out cell makes it
        # print a ZMQ traceback to the terminal.
        shutdown_kernel="immediate",
        on_cell_start=on_cell_start,
        log=_log,
        **client_options,
    )

    try:
        client.execute(cwd=str(workdir), env=kernel_env)
    except Exception as exc:  # nbclient's cell errors, timeouts, dead or unstartable kernels
        raise _execution_error(path, exc, current.get("cell"), code_number, cell_timeout) from exc

    _write_unless_changed(nb, path, target, stat_before)
    return ExecutionResult(
        path=path,
        seconds=time.perf_counter() - start,
        code_cells=len(code_cells),
        profile=kernel_env.get(PROFILE_ENV) or None,
    )


def _execution_error(
    path: Path,
    exc: BaseException,
    cell: nbformat.NotebookNode | None,
    code_number: dict[int, int],
    timeout: float | None,
) -> NotebookExecutionError:
    """Turn nbclient's (long, coloured) exceptions into a short, readable error."""
    index = code_number.get(id(cell)) if cell is not None else None
    first = first_line(cell.source, 80) if cell is not None else ""
    where = f"code cell {index} ({first!r})" if index is not None else "the notebook"
    unchanged = "The notebook file was left unchanged."
    details = {"path": path, "cell_index": index, "cell_first_line": first}

    if isinstance(exc, CellTimeoutError):
        limit = f"{timeout:g} s" if timeout is not None else "the time limit"
        return NotebookExecutionError(
            f"{path}: {where} timed out after {limit}.\nIf it just needs longer, raise the "
            f"per-cell limit with --timeout SECONDS (timeout= in Python). {unchanged}",
            timed_out=True,
            **details,
        )
    if isinstance(exc, CellExecutionError):
        ename, evalue = _plain(exc.ename), _plain(exc.evalue)
        return NotebookExecutionError(
            f"{path}: {where} raised {ename}: {evalue}\n{unchanged}",
            ename=ename,
            evalue=evalue,
            traceback=_ANSI_RE.sub("", exc.traceback),
            **details,
        )
    if isinstance(exc, DeadKernelError):
        return NotebookExecutionError(
            f"{path}: the kernel died while running {where} (out of memory? a crash in "
            f"native code?). {unchanged}",
            ename=type(exc).__name__,
            evalue=_plain(str(exc)),
            **details,
        )
    ename, evalue = type(exc).__name__, _plain(str(exc))
    return NotebookExecutionError(
        f"{path}: executing {where} failed with {ename}: {evalue}\n{unchanged}",
        ename=ename,
        evalue=evalue,
        **details,
    )


def execute_notebooks(
    paths: Iterable[str | os.PathLike[str]],
    *,
    profile: str | None = None,
    timeout: float | None = 600,
    keep_going: bool = False,
    progress: Callable[[str], object] | None = print,
) -> list[ExecutionResult]:
    """Execute several notebooks in order with :func:`execute_notebook`.

    One line per notebook is passed to ``progress`` (``print`` by default; ``None`` for
    silence), e.g. ``executed lectures/01_x.ipynb in 12.3 s (14 code cells, profile
    default)``.

    Args:
        paths: Notebook files, run in the given order.
        profile: ``"smoke"``, ``"default"`` or ``"full"`` (see :func:`execute_notebook`).
        timeout: Longest time one cell may run, in seconds.
        keep_going: After a failure, carry on with the remaining notebooks instead of
            stopping.
        progress: Called with one line of text per notebook.

    Returns:
        The results, in order, if every notebook succeeded.

    Raises:
        ValueError: ``profile`` or ``timeout`` is invalid (checked before anything runs).
        NotebooksFailedError: at least one notebook failed; its message lists them all.
            Failed notebooks are left unchanged; successful ones have been saved.
    """
    _check_profile(profile)
    _check_timeout(timeout)
    todo = [Path(p) for p in paths]
    report = progress if progress is not None else (lambda line: None)
    results: list[ExecutionResult] = []
    failures: list[tuple[Path, Exception]] = []
    not_run: list[Path] = []

    for position, path in enumerate(todo):
        try:
            result = execute_notebook(path, profile=profile, timeout=timeout)
        except (NotebookExecutionError, ValueError, OSError) as exc:
            failures.append((path, exc))
            message = _ANSI_RE.sub("", str(exc)).strip().splitlines() or [type(exc).__name__]
            report(
                f"FAILED   {message[0]}"
                if str(path) in message[0]
                else f"FAILED   {path}: {message[0]}"
            )
            if not keep_going:
                not_run = todo[position + 1 :]
                break
        else:
            results.append(result)
            report(result.describe())

    if failures:
        lines = [f"{len(failures)} of {len(todo)} notebook(s) failed:"]
        for _, exc in failures:
            first, *rest = _ANSI_RE.sub("", str(exc)).strip().splitlines() or [""]
            lines.append(f"  {first}")
            lines += [f"    {line}" for line in rest]
        if not_run:
            lines.append(
                f"Stopped at the first failure; {len(not_run)} notebook(s) not run "
                "(use --keep-going to run them anyway)."
            )
        raise NotebooksFailedError(
            "\n".join(lines), failures=failures, results=results, not_run=not_run
        ) from failures[0][1]
    return results
