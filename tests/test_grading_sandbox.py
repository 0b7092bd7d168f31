"""One submission in its own limited kernel (vae_edu.tooling.grader.sandbox, .kernel, .isolation).

The kernels here do not import torch (a kernel starts in ~2 s), so the limits can be
small: a loop is interrupted, a loop that ignores interrupts is killed at the notebook
deadline, resident memory above the limit kills the kernel, output beyond the cap is
dropped, and the rlimits reach the kernel. A daemon that double-forks away from its
kernel dies with the run under both isolations (``basic``: the reaper; ``bwrap``: the
PID namespace); under ``bwrap`` writes outside the scratch folder, reads of the
grader's files and network connections fail in the cell that tries them. The full
grader on real submissions is in test_grading_batch.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from nbformat import v4

from vae_edu.grading.harness import PAYLOAD_MIME
from vae_edu.tooling.grader.batch import Limits, _kernel_env
from vae_edu.tooling.grader.isolation import bwrap_problem, subreaper
from vae_edu.tooling.grader.kernel import parse_limits
from vae_edu.tooling.grader.sandbox import RUN_MARKER, RunLimits, run_notebook

MB = 2**20
ISOLATIONS = ["basic", pytest.param("bwrap", marks=pytest.mark.skipif(
    bwrap_problem() is not None, reason=f"bwrap unavailable: {bwrap_problem()}"))]
needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None,
                                 reason=f"bwrap unavailable: {bwrap_problem()}")


def run(tmp_path: Path, cells: list[str], *, injected=(), memory_mb=512, isolation="basic",
        hide=(), **limits):
    nb = v4.new_notebook()
    nb.cells = [v4.new_code_cell(src) for src in cells]
    base = tmp_path / "scratch"
    work, home, tmp = (base / name for name in ("work", "home", "tmp"))
    for folder in (work, home, tmp):
        folder.mkdir(parents=True, exist_ok=True)
    run_limits = RunLimits(
        cell_timeout=limits.get("cell_timeout", 30),
        question_timeout=limits.get("question_timeout", 30),
        notebook_timeout=limits.get("notebook_timeout", 60),
        memory_bytes=memory_mb * MB,
        max_output_bytes=limits.get("max_output_bytes", MB),
        interrupt_grace=limits.get("interrupt_grace", 10),
    )
    grader_limits = Limits(memory_mb=max(memory_mb, 1024), max_file_mb=1)
    env = _kernel_env(home, tmp, grader_limits)
    env["VAE_EDU_GRADING_LIMITS"] = f"data={memory_mb * MB},fsize={MB}"
    env[RUN_MARKER] = f"test-{time.time_ns()}"
    injected = {i: f"q{i}" for i in injected}
    with subreaper():
        return asyncio.run(run_notebook(nb, injected, cwd=str(work), env=env, limits=run_limits,
                                        isolation=isolation, scratch=str(tmp_path / "scratch")
                                        if isolation == "bwrap" else None, hide=hide))


def display_payload(value) -> str:
    """A cell that displays ``value`` under the grader's MIME type, as the harness does."""
    call = f"display({{{PAYLOAD_MIME!r}: {value!r}}}, raw=True)"
    return f"from IPython.display import display\n{call}"


def of(events, kind):
    return [e for e in events if e["event"] == kind]


def killed(events) -> tuple[str, int]:
    """Why the kernel was killed, and in which cell: it must have died exactly once."""
    (died,) = of(events, "kernel_died")
    return died["reason"], died["cell"]


#: A cell that loops and swallows every KeyboardInterrupt the grader sends it.
DEAF_LOOP = ("import time\nwhile True:\n    try:\n        time.sleep(0.2)\n"
             "    except KeyboardInterrupt:\n        pass")


def test_a_looping_cell_is_interrupted_and_the_run_goes_on(tmp_path):
    events = run(tmp_path, [
        "while True:\n    pass",
        "import os\nprint(os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'])",
        display_payload({"ok": 1}),
    ], injected=[2], cell_timeout=3)
    errors = of(events, "cell_error")
    assert len(errors) == 1 and errors[0]["cell"] == 1 and errors[0]["timed_out"]
    assert errors[0]["first_line"] == "while True:"
    assert of(events, "payload") == [
        {"event": "payload", "question": "q2", "payload": {"ok": 1},
         "seconds": of(events, "payload")[0]["seconds"]}
    ]
    assert of(events, "done") and not of(events, "kernel_died")


def test_a_loop_that_ignores_interrupts_is_killed_at_the_notebook_deadline(tmp_path):
    events = run(tmp_path, [DEAF_LOOP, "print('never')"], cell_timeout=2, notebook_timeout=8)
    assert killed(events) == ("time", 1)
    assert of(events, "done")[0]["seconds"] < 20


def test_a_cell_that_ignores_its_interrupt_is_killed_soon_after(tmp_path):
    events = run(tmp_path, [DEAF_LOOP], cell_timeout=2, interrupt_grace=2, notebook_timeout=60)
    assert killed(events) == ("unresponsive", 1)
    assert of(events, "done")[0]["seconds"] < 20


def test_processes_the_submission_started_do_not_outlive_its_run(tmp_path):
    import psutil

    pid_file = tmp_path / "child.pid"
    events = run(tmp_path, [
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(1)",
    ])
    assert of(events, "done") and not of(events, "cell_error")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return  # killed, waiting to be reaped by its new parent
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)
    pytest.fail(f"process {pid} (sleep 300, started by the submission) still runs")


def test_resident_memory_over_the_limit_kills_the_kernel(tmp_path):
    # shared anonymous memory is not counted by RLIMIT_DATA: the watchdog must catch it
    events = run(tmp_path, [
        "import mmap\nm = mmap.mmap(-1, 600 * 2**20)\n"
        "for i in range(0, len(m), 4096):\n    m[i] = 1",
        "print('never')",
    ], memory_mb=300, cell_timeout=30)
    assert killed(events) == ("memory", 1)


def test_the_kernel_runs_under_the_data_and_file_size_limits(tmp_path):
    events = run(tmp_path, [
        "x = bytearray(400 * 2**20)",  # above RLIMIT_DATA: MemoryError, the kernel lives on
        "open('big', 'wb').write(b'0' * (2 * 2**20))",  # above RLIMIT_FSIZE: OSError
        "import os\nassert 'VAE_EDU_GRADING_LIMITS' not in os.environ",
    ], memory_mb=300)
    errors = of(events, "cell_error")
    assert [e["ename"] for e in errors] == ["MemoryError", "OSError"]
    assert "File too large" in errors[1]["evalue"]
    assert not of(events, "kernel_died")


def test_output_beyond_the_cap_is_dropped_but_payloads_are_kept(tmp_path):
    events = run(tmp_path, [
        "for _ in range(50):\n    print('x' * 100_000)",
        "print('y' * 10**6)\n" + display_payload({"ok": 2}),
    ], injected=[1], max_output_bytes=MB)
    (dropped,) = of(events, "output_dropped")
    assert dropped["kept"] <= MB and dropped["bytes"] > 3 * MB
    assert of(events, "payload")[0]["payload"] == {"ok": 2}


def test_limits_are_parsed_strictly():
    assert parse_limits("data=10,fsize=20") == {"data": 10, "fsize": 20}
    with pytest.raises(ValueError, match="data=BYTES"):
        parse_limits("data=lots")


def test_a_kernel_that_cannot_start_is_a_grader_failure(tmp_path, monkeypatch):
    import vae_edu.tooling.grader.sandbox as sandbox

    monkeypatch.setattr(sandbox.sys, "executable", str(tmp_path / "no-python"))
    events = run(tmp_path, ["print(1)"])
    assert of(events, "failed") and of(events, "done")



DAEMON = """import os, sys, time
marker, target = {marker!r}, {target!r}
if os.fork() == 0:          # the child leaves the session, forks again and exits:
    os.setsid()             # the grandchild is an orphan, no longer the kernel's descendant
    if os.fork() == 0:
        code = f"import time; time.sleep(3); open({{target!r}}, 'w').write('x')  # {{marker}}"
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
time.sleep(0.5)
print('daemon started')"""


def processes_with(marker: str) -> list:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_double_forked_daemon_dies_with_the_run(tmp_path, isolation):
    marker = f"vae-edu-daemon-{time.time_ns()}"
    target = tmp_path / "written_by_daemon"
    events = run(tmp_path, [DAEMON.format(marker=marker, target=str(target)),
                            "print('done')"], isolation=isolation)
    assert of(events, "done") and not of(events, "cell_error"), events
    assert processes_with(marker) == []  # gone as soon as the run is over
    time.sleep(4)  # past the moment it would have written
    assert not target.exists()
    assert processes_with(marker) == []


@needs_bwrap
def test_under_bwrap_writes_outside_the_scratch_folder_fail(tmp_path):
    outside = tmp_path / "outside.txt"
    in_repo = Path(__file__).resolve().parents[1] / f".vae-edu-sandbox-probe-{time.time_ns()}"
    try:
        events = run(tmp_path, [
            f"open({str(outside)!r}, 'w').write('x')",
            f"open({str(in_repo)!r}, 'w').write('x')",
            "open('/tmp/loose', 'w').write('x')",
            "open('inside.txt', 'w').write('x')\nimport os\nprint(os.listdir('.'))",
        ], isolation="bwrap")
        errors = of(events, "cell_error")
        assert [e["cell"] for e in errors] == [1, 2, 3], errors
        assert all(e["ename"] in ("OSError", "FileNotFoundError", "PermissionError")
                   for e in errors)
        assert "Read-only file system" in errors[1]["evalue"]
        assert not outside.exists() and not in_repo.exists()
    finally:
        in_repo.unlink(missing_ok=True)


@needs_bwrap
def test_under_bwrap_torch_func_works_after_the_grader_used_it(tmp_path, monkeypatch):
    # torch.func in the grader's process sets TORCHINDUCTOR_CACHE_DIR=/tmp/...; a kernel
    # that inherited it failed every cell touching torch's compiler (read-only /tmp)
    import torch

    torch.func.vmap(torch.func.jacrev(torch.sin))(torch.zeros(2, 3))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/torchinductor_grader")
    events = run(tmp_path, [
        "import torch\n"
        "J = torch.func.vmap(torch.func.jacrev(torch.sin))(torch.zeros(2, 3))\n"
        "assert J.shape == (2, 3, 3), J.shape",
    ], isolation="bwrap", memory_mb=2048, cell_timeout=60, notebook_timeout=120)
    assert not of(events, "cell_error"), [e.get("evalue") for e in of(events, "cell_error")]
    assert of(events, "done")


@needs_bwrap
def test_under_bwrap_the_graders_files_are_not_visible(tmp_path):
    secret = tmp_path / "class" / "alice" / "03_vae.ipynb"
    secret.parent.mkdir(parents=True)
    secret.write_text("alice's answers")
    elsewhere = Path(__file__).resolve()  # outside /tmp, hidden by name
    events = run(tmp_path, [
        f"print(open({str(secret)!r}).read())",
        f"print(open({str(elsewhere)!r}).read()[:10])",
        "import os\nprint(sorted(os.listdir('/tmp')))",
    ], isolation="bwrap", hide=(str(elsewhere.parent),))
    errors = of(events, "cell_error")
    assert [(e["cell"], e["ename"]) for e in errors] == [(1, "FileNotFoundError"),
                                                       (2, "FileNotFoundError")]


@needs_bwrap
def test_under_bwrap_there_is_no_network_not_even_the_hosts_loopback(tmp_path):
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    server.settimeout(20)

    def accept():
        with contextlib.suppress(OSError):  # closed at the end of the test
            accepted.append(server.accept())

    threading.Thread(target=accept, daemon=True).start()
    try:
        events = run(tmp_path, [
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5)",
            "import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=5)",
            "print('still running')",
        ], isolation="bwrap")
    finally:
        server.close()
    errors = of(events, "cell_error")
    assert [(e["cell"], e["ename"]) for e in errors] == [(1, "ConnectionRefusedError"),
                                                       (2, "OSError")], errors
    assert "unreachable" in errors[1]["evalue"]
    assert accepted == []


def test_without_bwrap_the_default_is_basic_and_says_why(monkeypatch):
    from vae_edu.tooling.grader import isolation

    monkeypatch.setattr(isolation, "_bwrap_binary", lambda: None)
    isolation.bwrap_problem.cache_clear()
    try:
        chosen = isolation.choose_isolation()
        assert chosen.name == "basic"
        assert "bwrap is not used: bwrap is not installed" in chosen.description
        assert "NO filesystem or network isolation" in chosen.description
        with pytest.raises(isolation.SandboxUnavailable, match="--sandbox basic"):
            isolation.choose_isolation("bwrap")
        assert isolation.choose_isolation("basic").why_not_bwrap is None
        with pytest.raises(ValueError, match="unknown sandbox"):
            isolation.choose_isolation("docker")
    finally:
        isolation.bwrap_problem.cache_clear()


def test_asking_for_bwrap_where_it_cannot_run_is_one_error_line(monkeypatch, tmp_path, capsys):
    from vae_edu.tooling.cli import main
    from vae_edu.tooling.grader import isolation

    monkeypatch.setattr(isolation, "_bwrap_binary", lambda: None)
    isolation.bwrap_problem.cache_clear()
    (tmp_path / "subs" / "amy").mkdir(parents=True)
    try:
        rc = main(["grade", str(tmp_path / "subs"), "--sandbox", "bwrap",
                   "--out", str(tmp_path / "g.csv"),
                   "--course", str(Path(__file__).resolve().parents[1])])
    finally:
        isolation.bwrap_problem.cache_clear()
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "bwrap is not installed" in err
    assert not (tmp_path / "g.csv").exists()
