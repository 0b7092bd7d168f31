"""``vae-edu`` run in the test's own process, its output captured (test_grading_export.py,
test_grading_shards.py)."""

from __future__ import annotations

import contextlib
import io

from vae_edu.tooling.cli import main


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` with stdout and stderr captured: ``(exit code, stdout, stderr)``."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()
