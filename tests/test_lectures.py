"""Every lecture notebook follows the course conventions (nbval runs them; this checks form)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

LECTURES = sorted((Path(__file__).resolve().parents[1] / "lectures").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_lectures():
    assert LECTURES, "no lectures/NN_topic.ipynb found"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_is_one_clean_run_with_goals_and_summary(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: stored outputs are not one clean top-to-bottom run; refresh with "
        f"'vae-edu execute --profile default {path.relative_to(path.parents[1])}'"
    )
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} stores an error output"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\*\*Learning goals\*\*", nb.cells[0].source), "first cell: goals"
    assert "## Summary" in nb.cells[-1].source, "last cell: summary"
    assert "Try this" in markdown, "a lecture invites the student to change something"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_uses_no_paths_outside_the_package(path):
    """Colab-ready: data comes through vae_edu.data, never from a local path."""
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"(/work/|/home/|\.\./shared|[A-Z]:\\\\)", source)
    assert "open(" not in source and "DataLoader(" not in source
