"""Every lecture notebook follows the course conventions (nbval runs them; this checks form)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from vae_edu.tooling.course import load_course

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)  # course/toc.toml: the one list of the lectures, in order
LECTURES = [COURSE.path(nb) for nb in COURSE.lectures]


def read_lecture(path: Path) -> nbformat.NotebookNode:
    if not path.is_file():
        pytest.fail(f"lectures/{path.name} is listed in course/toc.toml but the file is missing",
                    pytrace=False)
    return nbformat.read(path, as_version=4)


def test_there_are_lectures():
    assert LECTURES, "course/toc.toml lists no lectures"


def test_the_toc_lists_every_lecture_file_and_every_listed_lecture_exists():
    listed = [f"lectures/{p.name}" for p in LECTURES]
    files = sorted(f"lectures/{p.name}" for p in (ROOT / "lectures").glob("[0-9][0-9]_*.ipynb"))
    missing = [p for p in listed if p not in files]
    unlisted = [p for p in files if p not in listed]
    assert not missing, f"listed in course/toc.toml but missing: {', '.join(missing)}"
    assert not unlisted, (f"not listed in course/toc.toml: {', '.join(unlisted)} "
                          "(add a [[lecture]] entry for each)")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name)
def test_lecture_is_one_clean_run_with_goals_and_summary(path):
    nb = read_lecture(path)
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
    nb = read_lecture(path)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert not re.search(r"(/work/|/home/|\.\./shared|[A-Z]:\\\\)", source)
    assert "open(" not in source and "DataLoader(" not in source
