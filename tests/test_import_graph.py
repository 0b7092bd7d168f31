"""The two halves of the package: the teaching library never imports the course tooling.

* the **teaching library**: every module of ``vae_edu`` outside ``vae_edu.grading`` and
  ``vae_edu.tooling`` (what the lectures import);
* the **in-notebook checks**, ``vae_edu.grading`` (what the exercises import);
* the **course tooling**, ``vae_edu.tooling`` (commands, notebook execution, Colab cells,
  the TOC, benchmarks, the batch grader).

Imports are read from the source (every ``import`` and ``from ... import`` statement,
inside functions too), so a lazy import counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vae_edu"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the vae_edu modules (and names) ``path`` imports, anywhere in it."""
    module = _module(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {n for n in found if n == "vae_edu" or n.startswith("vae_edu.")}


def _half(name: str) -> str:
    if name == "vae_edu.__main__":  # `python -m vae_edu`: the command, i.e. the tooling's
        return "tooling"
    if name == "vae_edu.tooling" or name.startswith("vae_edu.tooling."):
        return "tooling"
    if name == "vae_edu.grading" or name.startswith("vae_edu.grading."):
        return "grading"
    return "library"


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _offending(half: str, forbidden: set[str]) -> list[str]:
    return sorted(f"{m} imports {name}" for m, path in MODULES.items() if _half(m) == half
                  for name in _imports(path) if _half(name) in forbidden)


def test_the_scanner_sees_relative_and_lazy_imports():
    assert "vae_edu.losses" in _imports(PACKAGE / "models" / "vae.py")  # from ..losses
    cli = _imports(PACKAGE / "tooling" / "cli.py")  # imports its sub-commands lazily
    assert any(n.startswith("vae_edu.tooling.grader") for n in cli)
    assert _half("vae_edu.tooling.grader.batch") == "tooling"
    assert _half("vae_edu.grading.checks") == "grading"
    assert _half("vae_edu.train") == "library"


def test_the_teaching_library_imports_neither_the_tooling_nor_the_grading():
    assert _offending("library", {"tooling", "grading"}) == []


def test_the_in_notebook_checks_import_nothing_from_the_tooling():
    assert _offending("grading", {"tooling"}) == []


def test_the_halves_are_where_the_tree_says():
    library = {m for m in MODULES if _half(m) == "library"}
    for name in ("vae_edu.data", "vae_edu.models", "vae_edu.losses", "vae_edu.train",
                 "vae_edu.evaluate", "vae_edu.viz", "vae_edu.widgets", "vae_edu.colorization"):
        assert name in library
    tooling = {m for m in MODULES if _half(m) == "tooling"}
    for name in ("vae_edu.tooling.cli", "vae_edu.tooling.notebooks", "vae_edu.tooling.colab",
                 "vae_edu.tooling.course", "vae_edu.tooling.bench",
                 "vae_edu.tooling.grader.batch", "vae_edu.tooling.grader.exercises"):
        assert name in tooling


@pytest.mark.parametrize("half", ["library", "grading"])
def test_importing_a_half_loads_no_tooling_module(half):
    """At run time too: importing every module of a half leaves vae_edu.tooling unloaded."""
    names = sorted(m for m in MODULES if _half(m) == half and not m.endswith("__main__"))
    code = ("import importlib, sys\n"
            f"for name in {names!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.startswith('vae_edu.tooling')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
