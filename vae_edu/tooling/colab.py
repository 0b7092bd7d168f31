"""Colab support: an "Open in Colab" badge and an install cell in every course notebook.

Every lecture and exercise notebook gets, from the ``[colab]`` settings of
``course/toc.toml`` (see :mod:`vae_edu.tooling.course`):

* a **badge** on the first line of its first cell (a markdown cell, the one with the
  title and the learning goals) that opens the notebook's file on GitHub in Colab::

      [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](
      https://colab.research.google.com/github/OWNER/REPO/blob/BRANCH/lectures/06_vae.ipynb)

* an **install cell**, the first code cell, tagged ``colab-install``, that installs
  ``vae_edu`` from the same repository and branch only when it runs on Colab. pip keeps
  Colab's own torch (the dependencies have lower bounds only). Anywhere else it prints
  nothing and does nothing, so stored outputs stay clean::

      # Colab only: install vae_edu from GitHub (Colab's torch is kept); elsewhere: nothing.
      import sys

      if "google.colab" in sys.modules:
          %pip install -q "vae_edu @ git+https://github.com/OWNER/REPO@BRANCH"

* for notebooks with ``gpu = true`` in the TOC, the notebook metadata that makes Colab
  open them on a GPU runtime (``"accelerator": "GPU"``, ``"colab": {"gpuType": "T4"}``);
  other notebooks carry neither key.

:func:`apply_colab` does all of this to a notebook in memory and is idempotent: it
updates a badge, install cell or metadata that is already there (even when the repository
changed) and touches nothing that is already right. :func:`colab_problems` says what a
notebook lacks. The command line::

    vae-edu colab                     # every lecture in course/toc.toml
    vae-edu colab lectures/06_vae.ipynb
    vae-edu colab --check             # write nothing; exit 1 and list what is missing

Exercises get theirs from ``vae-edu exercises``, which calls :func:`add_to_exercise` on
each notebook it generates (a solution does not need its own).
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..atomic import atomic_file
from ..paths import PACKAGE_PARENT, find_course_root
from .course import ColabSettings, Course, CourseError, load_course

__all__ = [
    "BADGE_IMAGE",
    "INSTALL_TAG",
    "ColabReport",
    "add_to_exercise",
    "apply_colab",
    "badge_markdown",
    "badge_url",
    "colab_problems",
    "find_install_cell",
    "install_source",
    "sync_colab",
]

#: The badge image Colab publishes for "Open in Colab" links.
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: The tag of the install cell (cell metadata ``tags``).
INSTALL_TAG = "colab-install"
#: The cell id given to an inserted install cell (nbformat 4.5 and later).
INSTALL_CELL_ID = "colab-install"

_BADGE_RE = re.compile(
    r"\[!\[Open In Colab\]\(" + re.escape(BADGE_IMAGE) + r"\)\]\((?P<url>[^)\s]*)\)[ \t]*\n*"
)
_GUARD = 'if "google.colab" in sys.modules:'


def badge_url(colab: ColabSettings, path: str) -> str:
    """Colab's URL for the notebook ``path`` (relative to the course folder) on GitHub."""
    return f"https://colab.research.google.com/github/{colab.repository}/blob/{colab.branch}/{path}"


def badge_markdown(colab: ColabSettings, path: str) -> str:
    """The markdown of the "Open in Colab" badge of ``path``."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({badge_url(colab, path)})"


def install_source(colab: ColabSettings) -> str:
    """The source of the install cell: pip installs the package only on Colab."""
    spec = f"{colab.package} @ git+https://github.com/{colab.repository}@{colab.install_at}"
    return (
        f"# Colab only: install {colab.package} from GitHub (Colab's torch is kept); "
        "elsewhere: nothing.\n"
        "import sys\n"
        "\n"
        f"{_GUARD}\n"
        f'    %pip install -q "{spec}"'
    )


def _is_install_cell(cell) -> bool:
    if cell.get("cell_type") != "code":
        return False
    if INSTALL_TAG in cell.get("metadata", {}).get("tags", []):
        return True
    source = cell.get("source", "")
    return _GUARD in source and "pip install" in source


def find_install_cell(nb: nbformat.NotebookNode) -> int | None:
    """Index (among all cells) of the notebook's install cell, or ``None``."""
    return next((i for i, c in enumerate(nb.cells) if _is_install_cell(c)), None)


def _first_code_cell(nb: nbformat.NotebookNode) -> int | None:
    return next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), None)


def _new_cell(nb: nbformat.NotebookNode, cell: nbformat.NotebookNode, cell_id: str):
    """``cell`` with the id ``cell_id`` (nbformat 4.5+, if free) or without one (older)."""
    if (nb.get("nbformat", 4), nb.get("nbformat_minor", 0)) < (4, 5):
        cell.pop("id", None)
    elif not any(c.get("id") == cell_id for c in nb.cells):
        cell["id"] = cell_id  # a fixed id: generating twice gives the same file
    return cell


def _set_badge(nb: nbformat.NotebookNode, badge: str) -> bool:
    """Put ``badge`` on the first line of the first cell if it is markdown, else in a new
    markdown cell before it."""
    if not nb.cells or nb.cells[0].cell_type != "markdown":
        nb.cells.insert(0, _new_cell(nb, nbformat.v4.new_markdown_cell(badge), "colab-badge"))
        return True
    cell = nb.cells[0]
    match = _BADGE_RE.match(cell.source)
    rest = (cell.source[match.end():] if match else cell.source).lstrip("\n")
    source = f"{badge}\n\n{rest}" if rest.strip() else badge
    if source == cell.source:
        return False
    cell.source = source
    return True


def _set_install_cell(nb: nbformat.NotebookNode, source: str) -> bool:
    """Make the install cell the first code cell, right after the first (badge) cell."""
    found = [i for i, c in enumerate(nb.cells) if _is_install_cell(c)]
    if found:
        cell = nb.cells[found[0]]
        for i in reversed(found):  # one install cell is enough
            del nb.cells[i]
    else:
        cell = _new_cell(nb, nbformat.v4.new_code_cell(source), INSTALL_CELL_ID)
    position = min(1, len(nb.cells))  # after the badge cell, before any code cell
    nb.cells.insert(position, cell)
    changed = found != [position]
    if cell.source != source:
        cell.source = source
        changed = True
    tags = cell.setdefault("metadata", nbformat.NotebookNode()).setdefault("tags", [])
    if INSTALL_TAG not in tags:
        tags.append(INSTALL_TAG)
        changed = True
    return changed


def _set_gpu(nb: nbformat.NotebookNode, gpu: bool, gpu_type: str) -> bool:
    meta = nb.metadata
    before = copy.deepcopy(dict(meta))
    if gpu:
        meta["accelerator"] = "GPU"
        meta.setdefault("colab", nbformat.NotebookNode())["gpuType"] = gpu_type
    else:
        meta.pop("accelerator", None)
        colab = meta.get("colab")
        if isinstance(colab, dict):
            colab.pop("gpuType", None)
            if not colab:
                del meta["colab"]
    return dict(meta) != before


def apply_colab(nb: nbformat.NotebookNode, path: str, colab: ColabSettings,
                gpu: bool = False) -> bool:
    """Give ``nb`` its badge, install cell and GPU metadata; True if anything changed.

    Args:
        nb: a notebook (format 4), changed in place.
        path: the notebook's path relative to the course folder (what the badge opens).
        colab: the ``[colab]`` settings of the course.
        gpu: whether Colab should open it on a GPU runtime.

    The outputs and execution count of an install cell that is already in place are kept;
    a new install cell has none (re-execute the notebook to store a clean run).
    """
    changed = _set_badge(nb, badge_markdown(colab, path))
    changed |= _set_install_cell(nb, install_source(colab))
    changed |= _set_gpu(nb, gpu, colab.gpu_type)
    return changed


def colab_problems(nb: nbformat.NotebookNode, path: str, colab: ColabSettings,
                   gpu: bool = False) -> list[str]:
    """What ``nb`` lacks for Colab, one sentence each (``[]`` when :func:`apply_colab`
    would change nothing)."""
    out = []
    first = nb.cells[0] if nb.cells else None
    match = _BADGE_RE.match(first.source) if first and first.cell_type == "markdown" else None
    if match is None:
        out.append("no Open in Colab badge on the first line of the first (markdown) cell")
    elif match.group("url") != badge_url(colab, path):
        out.append(f"the badge opens {match.group('url')}, not {badge_url(colab, path)}")
    index = find_install_cell(nb)
    if index is None:
        out.append("no install cell (tagged colab-install)")
    else:
        if index != _first_code_cell(nb):
            out.append("the install cell is not the first code cell")
        elif index != 1:
            out.append("the install cell does not follow the first cell")
        if nb.cells[index].source != install_source(colab):
            out.append(f"the install cell differs from the one {colab.repository} "
                       f"({colab.branch}) gives")
        if len([c for c in nb.cells if _is_install_cell(c)]) > 1:
            out.append("more than one install cell")
    meta = nb.metadata
    colab_meta = meta.get("colab") if isinstance(meta.get("colab"), dict) else {}
    if gpu and (meta.get("accelerator") != "GPU" or colab_meta.get("gpuType") != colab.gpu_type):
        out.append(f'no GPU runtime in the metadata ("accelerator": "GPU", '
                   f'"colab": {{"gpuType": "{colab.gpu_type}"}})')
    if not gpu and ("accelerator" in meta or "gpuType" in colab_meta):
        out.append("asks for a GPU runtime, but course/toc.toml does not say gpu = true")
    if not out and apply_colab(copy.deepcopy(nb), path, colab, gpu):
        out.append("the badge or install cell is not laid out as `vae-edu colab` writes it")
    return out


def add_to_exercise(nb: nbformat.NotebookNode, name: str,
                    near: str | os.PathLike[str] | None = None) -> bool:
    """Badge and install cell for the generated exercise ``exercises/<name>``.

    The course is the nearest ``course/toc.toml`` above ``near`` (the solutions folder),
    else the one beside this package (an editable install of the course repository).
    Without one, the notebook is left as it is and False is returned.
    """
    root = find_course_root(near) if near is not None else None
    if root is None:
        root = find_course_root(PACKAGE_PARENT)
    if root is None:
        return False
    course = load_course(root)
    path = f"exercises/{name}"
    entry = course.entry(path)
    return apply_colab(nb, path, course.colab, gpu=bool(entry and entry.gpu))


@dataclass
class ColabReport:
    """What :func:`sync_colab` found or did: paths as given, problems per path."""

    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    problems: dict[Path, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.changed and not self.problems


def _write_atomic(nb: nbformat.NotebookNode, path: Path) -> None:
    with atomic_file(path.resolve(), keep_mode=True) as fh:
        nbformat.write(nb, fh)


def sync_colab(paths: Iterable[str | os.PathLike[str]] | None = None, *, check: bool = False,
               course: Course | None = None) -> ColabReport:
    """Apply (``check=False``) or check (``check=True``) the Colab cells of notebooks.

    Args:
        paths: notebooks of the course; default: every lecture of the TOC (with
            ``check=True``: every lecture and exercise).
        check: write nothing; report what :func:`apply_colab` would change.
        course: the course (default: the one above the first path, or the current folder).

    Raises:
        CourseError: no ``course/toc.toml``, or a notebook that the TOC does not list.
        FileNotFoundError: a notebook that does not exist.
    """
    paths = [Path(p) for p in paths] if paths else None
    if course is None:
        course = load_course(paths[0].resolve().parent if paths else None)
    if paths is None:
        listed = course.notebooks if check else course.lectures
        paths = [course.path(nb) for nb in listed]
    report = ColabReport()
    for path in paths:
        entry = course.entry(path)
        if entry is None:
            raise CourseError(f"{path} is not listed in {course.root / 'course' / 'toc.toml'}; "
                              "add it there first")
        if not path.is_file():
            raise FileNotFoundError(f"notebook not found: {path}")
        nb = nbformat.read(path, as_version=4)
        problems = colab_problems(nb, entry.path, course.colab, entry.gpu)
        if check:
            if problems:
                report.problems[path] = problems
            else:
                report.unchanged.append(path)
            continue
        if apply_colab(nb, entry.path, course.colab, entry.gpu):
            _write_atomic(nb, path)
            report.changed.append(path)
        else:
            report.unchanged.append(path)
    return report
