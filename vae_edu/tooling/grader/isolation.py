"""What walls a submission's kernel runs behind: ``bwrap`` (bubblewrap) or ``basic``.

``vae-edu grade --sandbox {bwrap,basic}``; by default the strongest that works here.

* **bwrap**: the kernel is started through `bubblewrap <https://github.com/containers/
  bubblewrap>`_ (Debian package ``bubblewrap``; it works without root where user
  namespaces are allowed). The kernel gets its own PID namespace (when the run ends
  its first process dies and the Linux kernel kills every process left in the
  namespace, however it detached: ``fork``, ``setsid``, fork again), its own network
  namespace with nothing but a loopback device (no network, not even the host's
  ``localhost``), and a view of the filesystem that is read-only everywhere except its
  own scratch folder, with ``/tmp`` empty and read-only and the grader's private paths
  (the submissions, the solutions, the feedback folder, the grader's home) not
  visible at all. The kernel talks to the grader over Unix sockets in its scratch
  folder (ZeroMQ ``ipc`` transport), since it has no network.
* **basic**: the limits every run has (time per cell and notebook, ``RLIMIT_DATA`` and a
  watchdog on resident memory, ``RLIMIT_FSIZE``, the output cap), and a reaper: on
  Linux the grader makes itself a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``),
  so a process that detaches from its kernel is re-parented to the grader instead of
  to PID 1, and is killed when its run (at the latest, the batch) ends. The filesystem
  and the network are those of the grader's user.

The rlimits and the watchdog of :mod:`vae_edu.tooling.grader.sandbox` and
:mod:`vae_edu.tooling.grader.kernel` are the inner layer in both.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...paths import PACKAGE_PARENT

__all__ = [
    "SANDBOXES",
    "Isolation",
    "SandboxUnavailable",
    "bwrap_argv",
    "bwrap_problem",
    "choose_isolation",
    "subreaper",
]

#: The choices of ``vae-edu grade --sandbox``, strongest first.
SANDBOXES = ("bwrap", "basic")

_DESCRIPTIONS = {
    "bwrap": "bwrap: each kernel in its own PID namespace (nothing it starts outlives its "
             "run), without network, on a read-only filesystem except its scratch folder; "
             "time, memory, file-size and output limits inside",
    "basic": "basic: time, memory, file-size and output limits, and processes that detach "
             "from a kernel are reaped (the grader is their child subreaper); NO filesystem "
             "or network isolation: kernels can read and write what the grader's user can",
}


class SandboxUnavailable(RuntimeError):
    """``--sandbox bwrap`` was asked for and bubblewrap cannot run here (says why)."""


@dataclass(frozen=True)
class Isolation:
    """The isolation a batch runs under.

    Attributes:
        name: ``"bwrap"`` or ``"basic"``.
        why_not_bwrap: for ``basic``, why bubblewrap is not used (``None`` if it was
            asked for by name, or for ``bwrap``).
    """

    name: str
    why_not_bwrap: str | None = None

    @property
    def description(self) -> str:
        """One plain sentence: what is in force."""
        text = _DESCRIPTIONS[self.name]
        if self.why_not_bwrap:
            text += f" (bwrap is not used: {self.why_not_bwrap})"
        return text


def _bwrap_binary() -> str | None:
    return shutil.which("bwrap")


def _needed_paths() -> list[Path]:
    """Where this Python, its libraries and this package live (never hidden)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
             os.path.realpath(sys.executable), str(PACKAGE_PARENT)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths().get(key, ""))
    try:
        paths.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - virtualenv's old site module
        pass
    # the kernel computes its own sys.path (site, .pth files); PYTHONPATH it inherits
    paths.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return [Path(os.path.realpath(p)) for p in paths if p]


def _hideable(path: Path, needed: Sequence[Path]) -> bool:
    """True unless hiding ``path`` would hide something the kernel needs."""
    for need in needed:
        if need == path or path in need.parents:
            return False
    return True


def bwrap_argv(
    argv: Sequence[str],
    *,
    scratch: str | os.PathLike,
    cwd: str | os.PathLike,
    hide: Iterable[str | os.PathLike] = (),
    shm_bytes: int = 64 * 2**20,
) -> list[str]:
    """The command that runs ``argv`` inside bubblewrap.

    Args:
        argv: the command to isolate (the kernel).
        scratch: the one folder it may write (bound read-write at the same path).
        cwd: its working directory (inside ``scratch``).
        hide: paths replaced by an empty read-only folder (a file: by ``/dev/null``);
            paths that hold this Python or this package are left visible.
        shm_bytes: size of its private ``/dev/shm``.

    SIGINT is ignored by bwrap itself (a shell ``trap`` before ``exec``), so that the
    interrupt jupyter sends to the kernel's process group reaches the kernel (which
    installs its own handler while a cell runs) and does not end the sandbox.
    """
    binary = _bwrap_binary() or "bwrap"
    scratch = os.path.realpath(scratch)
    args = [binary, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", str(shm_bytes), "--tmpfs", "/dev/shm", "--tmpfs", "/tmp"]
    needed = _needed_paths()
    home = os.environ.get("HOME")
    targets = [*hide, *([home] if home else [])]
    for target in targets:
        path = Path(os.path.realpath(target))
        if str(path) in ("/", scratch) or Path(scratch).is_relative_to(path):
            continue
        if not path.exists() or not _hideable(path, needed) or path.parts[1:2] == ("tmp",):
            continue  # /tmp is empty in the sandbox anyway
        if path.is_dir():
            args += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            args += ["--ro-bind", "/dev/null", str(path)]
    args += ["--bind", scratch, scratch, "--remount-ro", "/tmp",
             "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--chdir", os.path.realpath(cwd),
             # the kernel's parent is the namespace's PID 1: ipykernel would take that for
             # "the parent has exited"; --die-with-parent does that job here
             "--unsetenv", "JPY_PARENT_PID", "--", *argv]
    return ["/bin/sh", "-c", 'trap "" INT; exec "$0" "$@"', *args]


@functools.lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """``None`` if bubblewrap isolates a process here, else why not (one sentence)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap runs on Linux only (this is {sys.platform})"
    if _bwrap_binary() is None:
        return ("bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap; "
                "Fedora: dnf install bubblewrap)")
    scratch = tempfile.mkdtemp(prefix="vae-edu-bwrap-probe-")
    try:
        probe = ("import os, socket\n"
                 "assert os.getpid() < 10, os.getpid()\n"  # a fresh PID namespace
                 "open('ok', 'w').write('ok')\n"
                 "try:\n    open('/etc/vae-edu-probe', 'w')\nexcept OSError:\n    pass\n"
                 "else:\n    raise SystemExit('the filesystem is writable')\n")
        cmd = bwrap_argv([sys.executable, "-I", "-c", probe], scratch=scratch, cwd=scratch)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"bwrap could not be started ({type(exc).__name__}: {exc})"
        if done.returncode != 0 or not Path(scratch, "ok").is_file():
            lines = (done.stderr or done.stdout or "").strip().splitlines()
            detail = lines[-1] if lines else f"exit status {done.returncode}"
            return f"bwrap refuses to create its namespaces here ({detail})"
        return None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def choose_isolation(requested: str | None = None) -> Isolation:
    """The isolation to grade under: ``requested``, or the strongest that works here.

    Raises:
        ValueError: an unknown name.
        SandboxUnavailable: ``"bwrap"`` was asked for and does not work here (says why).
    """
    if requested is not None and requested not in SANDBOXES:
        raise ValueError(f"unknown sandbox {requested!r}; choose one of {', '.join(SANDBOXES)}")
    if requested == "basic":
        return Isolation("basic")
    problem = bwrap_problem()
    if problem is None:
        return Isolation("bwrap")
    if requested == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {problem}; or grade with --sandbox basic")
    return Isolation("basic", why_not_bwrap=problem)


# --------------------------------------------------------------------------- the reaper

_PR_SET_CHILD_SUBREAPER = 36
_PR_GET_CHILD_SUBREAPER = 37


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return None


class subreaper:  # noqa: N801 - used as a context manager, like contextlib's
    """``with subreaper() as active:`` this process is a child subreaper inside the block.

    Orphaned descendants are then re-parented to this process (not to PID 1), where
    :func:`reap_children` finds them. ``active`` is False where the platform has no
    subreapers (not Linux); the previous setting is restored on exit.
    """

    def __enter__(self) -> bool:
        self._prctl = _prctl()
        self._before = None
        if self._prctl is None:
            return False
        before = ctypes.c_int(0)
        if self._prctl(_PR_GET_CHILD_SUBREAPER, ctypes.byref(before), 0, 0, 0) != 0:
            return False
        self._before = before.value
        return self._prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0

    def __exit__(self, *exc) -> None:
        if self._prctl is not None and self._before is not None:
            self._prctl(_PR_SET_CHILD_SUBREAPER, self._before, 0, 0, 0)


def reap_children(*, marker: tuple[str, str] | None = None, since: float | None = None,
                  keep: Iterable[int] = ()) -> list[int]:
    """SIGKILL and wait for this process's children that a grading run left behind.

    A child is taken when its environment holds ``marker`` (``(name, value)``, the run's
    token every kernel and its descendants inherit), or when it was created after
    ``since`` (a time as :func:`time.time`), and its pid is not in ``keep`` (the kernels
    still running). Returns the pids killed.
    """
    import psutil

    keep = set(keep)
    killed = []
    try:
        children = psutil.Process().children()
    except psutil.Error:  # pragma: no cover
        return killed
    for child in children:
        if child.pid in keep:
            continue
        try:
            take = since is not None and child.create_time() >= since
            if not take and marker is not None:
                take = child.environ().get(marker[0]) == marker[1]
            if take:
                child.kill()
                killed.append(child.pid)
        except psutil.Error:
            continue
    for pid in killed:
        try:
            os.waitpid(pid, 0)  # ours since it was re-parented: no zombie left
        except ChildProcessError:
            pass
    return killed
