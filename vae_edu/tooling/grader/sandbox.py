"""Run ONE prepared submission in its own limited kernel process, and report what happened.

:func:`run_notebook` is a coroutine: the batch grader (:mod:`vae_edu.tooling.grader.batch`)
runs several at once on one event loop, each with its own kernel process. Per run it

* starts a kernel on this Python through :mod:`vae_edu.tooling.grader.kernel` (rlimits), in
  the given working folder and environment, with the kernel's own stdout and stderr
  sent to ``/dev/null``; with ``isolation="bwrap"`` inside bubblewrap (its own PID and
  network namespaces, read-only filesystem but for ``scratch``; see
  :mod:`vae_edu.tooling.grader.isolation`), talking to the grader over Unix sockets;
* runs every cell, errors allowed, each under a time limit (``cell_timeout`` for the
  student's cells, ``question_timeout`` for the injected hidden-test cells); a cell over
  its limit is interrupted and the run goes on;
* watches the kernel: above ``memory_bytes`` of resident memory (the kernel and its
  children), past ``notebook_timeout``, or when a cell is still busy ``interrupt_grace``
  seconds after its interrupt, it kills the kernel's process group;
* keeps at most ``max_output_bytes`` of the student's output (the rest is counted and
  dropped), and from injected cells only the payload (at most ``max_payload_bytes``);
* returns a list of events (dicts with an ``event`` key: ``started``, ``cell_error``,
  ``payload``, ``no_payload``, ``kernel_died``, ``output_dropped``, ``done`` or
  ``failed``).

It never judges anything: payloads are handed over as the kernel displayed them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from ...grading.harness import PAYLOAD_MIME
from ..notebooks import SameInterpreterKernelManager, first_line
from .isolation import bwrap_argv, reap_children

__all__ = ["RUN_MARKER", "RunLimits", "kill_process_group", "run_notebook"]

#: Environment variable that marks every process of one run (a random token per run).
RUN_MARKER = "VAE_EDU_GRADING_RUN"

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class RunLimits:
    """Limits of one run, in seconds and bytes (see
    :class:`vae_edu.tooling.grader.batch.Limits`)."""

    cell_timeout: float
    question_timeout: float
    notebook_timeout: float
    memory_bytes: int
    max_output_bytes: int
    # the train-and-report questions record decoder logits as JSON numbers: 1000 x 784 of
    # them (train_iwae, train_cvae) take about 17 MiB
    max_payload_bytes: int = 48 * 2**20
    startup_timeout: float = 120.0
    interrupt_grace: float = 10.0  # a cell still busy this long after its interrupt: kill


class _GradingKernelManager(SameInterpreterKernelManager):
    """This Python's kernel, started through ``vae_edu.tooling.grader.kernel`` (rlimits)."""

    @property
    def kernel_spec(self) -> KernelSpec | None:
        spec = super().kernel_spec
        if spec is not None and spec.argv[1:3] == ["-m", "ipykernel_launcher"]:
            spec.argv = [sys.executable, "-m", "vae_edu.tooling.grader.kernel", *spec.argv[3:]]
        return spec


def _bwrap_kernel_manager(scratch: str, cwd: str, hide: tuple[str, ...]) -> type:
    """A kernel manager class whose kernel runs inside bubblewrap, over ``ipc`` sockets
    in ``scratch/ipc`` (the sandbox has no network, not even the host's loopback)."""
    ipc = Path(scratch) / "ipc"
    ipc.mkdir(exist_ok=True)

    class _BwrapKernelManager(_GradingKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.connection_file = str(ipc / "kernel.json")
            self.ip = str(ipc / "kernel")

        @property
        def kernel_spec(self) -> KernelSpec | None:
            spec = super().kernel_spec
            if spec is not None and spec.argv[:1] != ["/bin/sh"]:
                spec.argv = bwrap_argv(spec.argv, scratch=scratch, cwd=cwd, hide=hide)
            return spec

    return _BwrapKernelManager


def _size(msg: dict) -> int:
    """Approximate size in bytes of an output message (text and display data)."""
    content = msg.get("content", {})
    if "text" in content:
        return len(content["text"])
    data = content.get("data", {})
    size = sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())
    return size + len(str(content.get("traceback", "")))


class _LimitedClient(NotebookClient):
    """An nbclient that caps stored output and keeps only payloads from injected cells."""

    def __init__(self, *args, injected: dict[int, str], max_output: int, max_payload: int,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.injected = injected
        self.max_output = max_output
        self.max_payload = max_payload
        self.output_bytes = 0
        self.dropped_bytes = 0
        self.oversized_payloads: set[int] = set()

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        if cell_index in self.injected:
            data = msg.get("content", {}).get("data", {})
            is_payload = msg["msg_type"] == "display_data" and PAYLOAD_MIME in data
            if (msg["msg_type"] == "error" or is_payload) and size <= self.max_payload:
                return super().output(outs, msg, display_id, cell_index)
            if is_payload:
                self.oversized_payloads.add(cell_index)
            return None
        if self.output_bytes + size > self.max_output:
            self.dropped_bytes += size
            return None
        self.output_bytes += size
        return super().output(outs, msg, display_id, cell_index)


def kill_process_group(pid: int | None) -> None:
    """SIGKILL the process group led by ``pid`` (a kernel is a session leader), or ``pid``."""
    if not pid:
        return
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


def _rss(pid: int, seen: dict[int, float]) -> int:
    """Resident memory of ``pid`` and all its descendants, in bytes (0 once it is gone).

    Every descendant is remembered in ``seen`` (pid -> creation time), so that
    :func:`_kill_seen` can stop those that left the kernel's process group.
    """
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
            seen.setdefault(p.pid, p.create_time())
        except psutil.Error:
            pass
    return total


def _kill_seen(seen: dict[int, float]) -> None:
    """SIGKILL every remembered process that still runs (same pid, same creation time)."""
    import psutil

    for pid, created in seen.items():
        try:
            proc = psutil.Process(pid)
            if proc.create_time() == created:
                proc.kill()
        except psutil.Error:
            pass


def _short(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


async def run_notebook(
    nb: nbformat.NotebookNode,
    injected: dict[int, str],
    *,
    cwd: str,
    env: dict[str, str],
    limits: RunLimits,
    isolation: str = "basic",
    scratch: str | None = None,
    hide: tuple[str, ...] = (),
) -> list[dict]:
    """Execute ``nb`` (cells at the indices in ``injected`` are hidden tests) and return the
    events of the run (see the module docstring).

    Args:
        isolation: ``"basic"`` or ``"bwrap"`` (:mod:`vae_edu.tooling.grader.isolation`).
        scratch: the folder the kernel may write under ``bwrap`` (default: ``cwd``); it
            holds ``cwd``, ``HOME`` and ``TMPDIR``.
        hide: paths the kernel must not see under ``bwrap`` (submissions, solutions, ...).

    Every process the run started is killed when it ends: under ``bwrap`` with its PID
    namespace; in any case the kernel's process group, every descendant the watchdog
    saw, and the children re-parented to this process that carry the run's marker
    (``env["VAE_EDU_GRADING_RUN"]``; the grader is their child subreaper).
    """
    events: list[dict] = []
    emit = events.append
    start = time.monotonic()
    state: dict[str, Any] = {"pid": None, "reason": None, "index": None, "peak": 0}
    position = {id(cell): i for i, cell in enumerate(nb.cells)}
    code_number: dict[int, int] = {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and i not in injected:
            code_number[i] = len(code_number) + 1
    started: dict[int, float] = {}
    seen: dict[int, float] = {}  # the kernel and every descendant the watchdog saw

    def timeout_of(cell) -> float:
        index = position.get(id(cell), -1)
        return limits.question_timeout if index in injected else limits.cell_timeout

    def kill(reason: str) -> None:
        state["reason"] = state["reason"] or reason
        kill_process_group(state["pid"])

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            if now - start > limits.notebook_timeout:
                kill("time")
                return
            busy = state.get("cell_start")
            if busy is not None and now - busy > state["cell_limit"] + limits.interrupt_grace:
                kill("unresponsive")  # it did not stop when interrupted
                return
            if state["pid"] is not None:
                rss = _rss(state["pid"], seen)
                state["peak"] = max(state["peak"], rss)
                if rss > limits.memory_bytes:
                    kill("memory")
                    return

    def on_notebook_start(**_: Any) -> None:
        provisioner = client.km.provisioner if client.km else None
        state["pid"] = getattr(provisioner, "pid", None)
        emit({"event": "started", "kernel_pid": state["pid"]})

    def on_cell_execute(cell=None, cell_index: int = -1, **_: Any) -> None:
        started[cell_index] = time.monotonic()
        state["index"] = cell_index
        state["cell_start"], state["cell_limit"] = started[cell_index], timeout_of(cell)

    def on_cell_executed(cell=None, cell_index: int = -1, execute_reply=None, **_: Any) -> None:
        state["cell_start"] = None
        seconds = time.monotonic() - started.get(cell_index, time.monotonic())
        content = (execute_reply or {}).get("content", {})
        failed = content.get("status") == "error"
        limit = timeout_of(cell)
        timed_out = failed and content.get("ename") == "KeyboardInterrupt" and seconds >= limit
        if cell_index in injected:
            question = injected[cell_index]
            payloads = [o for o in cell.outputs if o.get("output_type") == "display_data"
                        and PAYLOAD_MIME in o.get("data", {})]
            if payloads:
                # the harness displays during the cell, before any post-run hook could
                emit({"event": "payload", "question": question, "seconds": seconds,
                      "payload": payloads[0]["data"][PAYLOAD_MIME]})
            elif cell_index in client.oversized_payloads:
                emit({"event": "no_payload", "question": question, "reason": "too_large"})
            elif timed_out:
                emit({"event": "no_payload", "question": question, "reason": "timeout",
                      "limit": limit})
            else:
                emit({"event": "no_payload", "question": question, "reason": "error",
                      "ename": _short(content.get("ename", "")),
                      "evalue": _short(content.get("evalue", ""))})
        elif failed:
            emit({"event": "cell_error", "cell": code_number.get(cell_index),
                  "first_line": first_line(cell.source, 70), "timed_out": timed_out,
                  "limit": limit, "ename": _short(content.get("ename", "")),
                  "evalue": _short(content.get("evalue", ""))})

    client = _LimitedClient(
        nb,
        injected=injected,
        max_output=limits.max_output_bytes,
        max_payload=limits.max_payload_bytes,
        timeout_func=timeout_of,
        interrupt_on_timeout=True,
        allow_errors=True,
        kernel_name="python3",
        kernel_manager_class=(_bwrap_kernel_manager(scratch or cwd, cwd, tuple(hide))
                              if isolation == "bwrap" else _GradingKernelManager),
        resources={"metadata": {"path": cwd}},
        record_timing=False,
        shutdown_kernel="immediate",
        on_notebook_start=on_notebook_start,
        on_cell_execute=on_cell_execute,
        on_cell_executed=on_cell_executed,
        startup_timeout=int(limits.startup_timeout),
        log=_log,
    )
    watchdog = asyncio.ensure_future(watch())
    try:
        await asyncio.wait_for(
            client.async_execute(cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL),
            timeout=limits.notebook_timeout + limits.startup_timeout,
        )
    except DeadKernelError:
        index = state["index"]
        emit({"event": "kernel_died", "reason": state["reason"] or "crash",
              "cell": code_number.get(index), "question": injected.get(index),
              "first_line": first_line(nb.cells[index].source, 70) if index is not None else ""})
    except asyncio.TimeoutError:  # nbclient itself hung: the backstop
        kill("time")
        emit({"event": "kernel_died", "reason": "time", "cell": code_number.get(state["index"]),
              "question": injected.get(state["index"]), "first_line": ""})
    except Exception as exc:  # a grader-side failure, e.g. the kernel did not start
        emit({"event": "failed", "message": _short(f"{type(exc).__name__}: {exc}", 500)})
    finally:
        watchdog.cancel()
        # Nothing the submission started may outlive its run: the kernel's process group,
        # and any descendant seen on the way (one that called setsid() left the group).
        kill_process_group(state["pid"])
        _kill_seen(seen)
        if env.get(RUN_MARKER):  # orphans re-parented to the grader (child subreaper)
            reap_children(marker=(RUN_MARKER, env[RUN_MARKER]),
                          keep=[state["pid"]] if state["pid"] else [])
    if client.dropped_bytes:
        emit({"event": "output_dropped", "bytes": client.dropped_bytes,
              "kept": client.output_bytes})
    emit({"event": "done", "seconds": time.monotonic() - start, "peak_rss": state["peak"]})
    return events
