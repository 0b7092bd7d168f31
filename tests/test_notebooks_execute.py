"""Tests for vae_edu.tooling.notebooks: re-executing notebooks in place in a clean kernel.

Each test builds a tiny notebook (no torch) in tmp_path; a kernel start takes ~1 s.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from vae_edu.tooling.notebooks import (
    ExecutionResult,
    NotebookExecutionError,
    NotebooksFailedError,
    execute_notebook,
    execute_notebooks,
)

ANSI = "\x1b["


def write_notebook(path: Path, *cells: nbformat.NotebookNode) -> Path:
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "py"}
    nb.metadata["course"] = {"lecture": 1}
    nb.cells = list(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream")


@pytest.fixture(autouse=True)
def _no_profile_in_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAE_EDU_PROFILE", raising=False)


def test_executes_in_place_with_fresh_outputs_and_consecutive_counts(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    stale = v4.new_output("stream", name="stdout", text="STALE OUTPUT\n")
    path = write_notebook(
        tmp_path / "lecture.ipynb",
        v4.new_markdown_cell("# A lecture"),
        v4.new_code_cell("x = 20 + 1\nprint('x is', x)", execution_count=9, outputs=[stale]),
        v4.new_code_cell("", execution_count=4, outputs=[stale]),
        v4.new_code_cell("x * 2", execution_count=3),
        v4.new_code_cell(
            "import os, sys\nprint(sys.executable)\nprint(os.environ['PYTHONHASHSEED'])",
            execution_count=1,
        ),
        v4.new_code_cell(
            "raise KeyError('shown on purpose')", metadata={"tags": ["raises-exception"]}
        ),
    )
    os.chmod(path, 0o640)
    before = read(path)

    result = execute_notebook(path)

    assert isinstance(result, ExecutionResult)
    assert result.path == path
    assert result.code_cells == 5
    assert result.profile is None
    assert 0 < result.seconds < 60
    after = read(path)
    code = [c for c in after.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, None, 2, 3, 4]
    assert stdout_of(code[0]) == "x is 21\n"
    assert code[1].outputs == []
    assert code[2].outputs[0]["data"]["text/plain"] == "42"
    assert stdout_of(code[3]).splitlines() == [sys.executable, "0"]
    assert code[4].outputs[0]["ename"] == "KeyError"
    assert "STALE" not in path.read_text()
    # ids, metadata and markdown survive; no timing metadata is added
    assert [c.id for c in after.cells] == [c.id for c in before.cells]
    assert after.metadata["course"] == {"lecture": 1}
    assert after.metadata["kernelspec"] == before.metadata["kernelspec"]
    assert after.cells[0] == before.cells[0]
    assert all("execution" not in c.metadata for c in code)
    nbformat.validate(after)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lecture.ipynb"]  # no temp files
    # no noise from the kernel on the terminal
    captured = capfd.readouterr()
    assert captured.out == ""
    assert "[IPKernelApp]" not in captured.err


@pytest.mark.parametrize(
    ("given", "callers", "expected"),
    [("smoke", None, "smoke"), (None, "full", "full")],
    ids=["given-reaches-the-kernel", "callers-is-inherited-when-none-given"],
)
def test_the_profile_and_env_reach_the_kernel_but_not_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given, callers, expected
) -> None:
    if callers is None:
        monkeypatch.delenv("VAE_EDU_PROFILE", raising=False)
    else:
        monkeypatch.setenv("VAE_EDU_PROFILE", callers)
    path = write_notebook(
        tmp_path / "p.ipynb",
        v4.new_code_cell("import os\nprint(os.environ['VAE_EDU_PROFILE'], os.environ['EXTRA'])"),
    )

    result = execute_notebook(path, profile=given, env={"EXTRA": "yes"})

    assert stdout_of(read(path).cells[0]) == f"{expected} yes\n"
    assert result.profile == expected
    assert os.environ.get("VAE_EDU_PROFILE") == callers  # the caller's is left as it was
    assert "EXTRA" not in os.environ


def test_kernel_working_directory_is_the_notebook_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lectures").mkdir()
    (tmp_path / "lectures" / "data.txt").write_text("local data\n")
    path = write_notebook(
        Path("lectures") / "cwd.ipynb",
        v4.new_code_cell("import os\nprint(os.getcwd())\nprint(open('data.txt').read(), end='')"),
    )

    execute_notebook(path)

    lines = stdout_of(read(path).cells[0]).splitlines()
    assert Path(lines[0]).resolve() == (tmp_path / "lectures").resolve()
    assert lines[1] == "local data"
    assert Path.cwd() == tmp_path  # the caller's cwd is unchanged


def test_kernel_is_this_python_even_if_another_python3_kernelspec_is_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    bogus = tmp_path / "jupyter" / "kernels" / "python3"
    bogus.mkdir(parents=True)
    (bogus / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    "/nonexistent/python",
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "Some other Python",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    assert KernelSpecManager().get_kernel_spec("python3").argv[0] == "/nonexistent/python"
    path = write_notebook(
        tmp_path / "k.ipynb", v4.new_code_cell("import sys; print(sys.executable)")
    )

    execute_notebook(path)

    assert stdout_of(read(path).cells[0]) == sys.executable + "\n"


def test_failing_cell_leaves_file_untouched_and_names_the_cell(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "bad.ipynb",
        v4.new_markdown_cell("intro"),
        v4.new_code_cell("x = 1", execution_count=5),
        v4.new_markdown_cell("now divide"),
        v4.new_code_cell("y = x / 0\nprint(y)", execution_count=6),
        v4.new_code_cell("print('never reached')"),
    )
    original = path.read_bytes()

    with pytest.raises(NotebookExecutionError) as info:
        execute_notebook(path)

    err = info.value
    assert isinstance(err, RuntimeError)
    message = str(err)
    assert str(path) in message
    assert "code cell 2" in message
    assert "y = x / 0" in message
    assert "ZeroDivisionError: division by zero" in message
    assert ANSI not in message
    assert "Traceback" not in message and len(message.splitlines()) <= 3
    assert (err.cell_index, err.ename, err.timed_out) == (2, "ZeroDivisionError", False)
    assert err.cell_first_line == "y = x / 0"
    assert "ZeroDivisionError" in err.traceback and ANSI not in err.traceback
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb"]


def test_timeout_errors_clearly_and_leaves_file_untouched(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "slow.ipynb",
        v4.new_code_cell("print('fast')"),
        v4.new_code_cell("import time; time.sleep(30)"),
    )
    original = path.read_bytes()
    start = time.perf_counter()

    with pytest.raises(NotebookExecutionError) as info:
        execute_notebook(path, timeout=2)

    assert time.perf_counter() - start < 20
    message = str(info.value)
    assert "code cell 2" in message and "time.sleep(30)" in message
    assert "timed out after 2 s" in message
    assert "--timeout" in message
    assert info.value.timed_out
    assert path.read_bytes() == original


def test_missing_file_gives_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ipynb"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        execute_notebook(missing)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content",
    ["this is not json", '{"some": "json"}', '{"nbformat": 4, "nbformat_minor": 5, "cells": 3}'],
)
def test_non_notebook_file_gives_clear_error_and_is_untouched(tmp_path: Path, content: str) -> None:
    path = tmp_path / "notes.ipynb"
    path.write_text(content)
    with pytest.raises(ValueError, match=r"not a valid Jupyter notebook: .*notes\.ipynb"):
        execute_notebook(path)
    assert path.read_text() == content
    assert [p.name for p in tmp_path.iterdir()] == ["notes.ipynb"]


def test_directory_is_not_a_notebook(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a regular file"):
        execute_notebook(tmp_path)


def test_batch_stops_at_first_failure_by_default(tmp_path: Path) -> None:
    bad = write_notebook(tmp_path / "01_bad.ipynb", v4.new_code_cell("1 / 0"))
    good = write_notebook(tmp_path / "02_good.ipynb", v4.new_code_cell("print('ok')"))
    good_before = good.read_bytes()
    lines: list[str] = []

    with pytest.raises(NotebooksFailedError) as info:
        execute_notebooks([bad, good], progress=lines.append)

    err = info.value
    assert [p for p, _ in err.failures] == [bad]
    assert err.not_run == [good] and err.results == []
    assert "--keep-going" in str(err)
    assert good.read_bytes() == good_before  # never run
    assert len(lines) == 1 and lines[0].startswith("FAILED") and "ZeroDivisionError" in lines[0]


def test_keep_going_runs_the_rest_and_reports_all_failures(tmp_path: Path) -> None:
    bad = write_notebook(tmp_path / "01_bad.ipynb", v4.new_code_cell("raise ValueError('boom')"))
    good = write_notebook(
        tmp_path / "02_good.ipynb", v4.new_markdown_cell("m"), v4.new_code_cell("print('ok')")
    )
    missing = tmp_path / "03_missing.ipynb"
    bad_before = bad.read_bytes()
    lines: list[str] = []

    with pytest.raises(NotebooksFailedError) as info:
        execute_notebooks(
            [bad, good, missing], profile="default", keep_going=True, progress=lines.append
        )

    err = info.value
    assert isinstance(err, NotebookExecutionError) and isinstance(err, RuntimeError)
    assert [p for p, _ in err.failures] == [bad, missing]
    assert isinstance(err.failures[1][1], FileNotFoundError)
    assert [r.path for r in err.results] == [good] and err.not_run == []
    message = str(err)
    assert message.startswith("2 of 3 notebook(s) failed")
    assert "01_bad.ipynb" in message and "ValueError: boom" in message
    assert "03_missing.ipynb" in message
    assert ANSI not in message
    assert bad.read_bytes() == bad_before
    assert stdout_of(read(good).cells[1]) == "ok\n"
    assert len(lines) == 3
    assert lines[0].startswith("FAILED") and lines[2].startswith("FAILED")
    assert re.fullmatch(
        rf"executed {re.escape(str(good))} in \d+\.\d s \(1 code cell, profile default\)", lines[1]
    )


def test_batch_prints_one_line_per_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [
        write_notebook(tmp_path / f"{i}.ipynb", v4.new_code_cell("1"), v4.new_code_cell("2"))
        for i in range(2)
    ]

    results = execute_notebooks(paths, profile="smoke")

    assert [r.path for r in results] == paths
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    for path, line in zip(paths, out, strict=True):
        assert re.fullmatch(
            rf"executed {re.escape(str(path))} in \d+\.\d s \(2 code cells, profile smoke\)", line
        )


@pytest.mark.parametrize("run", [execute_notebook, lambda p, **kw: execute_notebooks([p], **kw)])
def test_unknown_profile_is_rejected_before_running(tmp_path: Path, run) -> None:
    path = write_notebook(tmp_path / "p.ipynb", v4.new_code_cell("print(1)"))
    original = path.read_bytes()
    with pytest.raises(ValueError) as info:
        run(path, profile="quick")
    message = str(info.value)
    assert "'quick'" in message
    assert all(name in message for name in ("smoke", "default", "full"))
    assert path.read_bytes() == original


@pytest.mark.parametrize("timeout", [0, -5, "10"])
def test_invalid_timeout_is_rejected(tmp_path: Path, timeout: object) -> None:
    path = write_notebook(tmp_path / "p.ipynb", v4.new_code_cell("print(1)"))
    with pytest.raises(ValueError, match="timeout"):
        execute_notebook(path, timeout=timeout)  # type: ignore[arg-type]


def test_widget_state_is_not_stored_in_the_notebook(tmp_path: Path) -> None:
    """Widgets need a live kernel; their state (random ids, image bytes) stays out of git."""
    path = write_notebook(
        tmp_path / "widgets.ipynb",
        v4.new_code_cell("import ipywidgets as w\nw.IntSlider(value=3)"),
    )
    execute_notebook(path)
    nb = read(path)
    assert "widgets" not in nb.metadata
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in nb.cells[0].outputs)
