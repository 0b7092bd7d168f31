"""The course's table of contents, ``course/toc.toml``: the one list of its notebooks.

The course folder (the repository) holds ``course/toc.toml``, which lists every lecture
and exercise notebook in teaching order, with its title, its week, whether it wants a
GPU on Colab, and the ``[colab]`` settings (the GitHub repository that hosts the course).
Tools and tests read it through this module instead of globbing folders, so that no list
of notebooks is written twice::

    from vae_edu.tooling.course import load_course

    course = load_course()              # finds course/toc.toml above the current folder
    [nb.path for nb in course.lectures] # ["lectures/00_setup.ipynb", ...]
    course.problems()                   # where the TOC and the files disagree ([] if none)

``vae-edu toc`` prints it and exits 1 when the TOC and the files disagree.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from ..paths import TOC_FILE, find_course_root

__all__ = [
    "ColabSettings",
    "Course",
    "CourseError",
    "CourseNotebook",
    "load_course",
]

_NAME_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")
_SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$")
_REF_RE = re.compile(r"^[A-Za-z0-9._/-]+$")
_FOLDERS = {"lecture": "lectures", "exercise": "exercises"}


class CourseError(ValueError):
    """``course/toc.toml`` is missing or malformed; the message says where and what."""


@dataclass(frozen=True)
class CourseNotebook:
    """One entry of the table of contents.

    Attributes:
        path: relative to the course folder, with ``/``: ``"lectures/06_vae.ipynb"``.
        kind: ``"lecture"`` or ``"exercise"``.
        title: its title, as the syllabus shows it.
        week: the week it is taught in (a lecture) or due (an exercise).
        sessions: how many weekly sessions a lecture takes (1 for an exercise).
        gpu: whether it asks Colab for a GPU runtime.
        outline: the parts of the lecture outline a lecture covers.
        lectures: for an exercise, the numbers (``"06"``) of the lectures it practises.
    """

    path: str
    kind: str
    title: str
    week: int
    sessions: int = 1
    gpu: bool = False
    outline: tuple[str, ...] = ()
    lectures: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file name, ``"06_vae.ipynb"``."""
        return PurePosixPath(self.path).name

    @property
    def number(self) -> str:
        """The two digits the file name starts with, ``"06"``."""
        return self.name[:2]

    @property
    def solution(self) -> str | None:
        """For an exercise, the solution it is generated from (``solutions/<name>``)."""
        return f"solutions/{self.name}" if self.kind == "exercise" else None


@dataclass(frozen=True)
class ColabSettings:
    """The ``[colab]`` table: where badges point and what the install cell installs.

    Attributes:
        repository: the GitHub ``owner/name`` that hosts the course.
        branch: the branch or tag that badges open and Colab installs from.
        package: the distribution name (``vae_edu``).
        gpu_type: the Colab GPU asked for by notebooks with ``gpu = true``.
        install_ref: the tag (or commit) the install cell installs, e.g. ``"v0.1.0"``
            (``v`` + the version in pyproject.toml), so that a notebook opened later
            still gets the library its outputs were made with; ``None``: ``branch``.
    """

    repository: str
    branch: str = "main"
    package: str = "vae_edu"
    gpu_type: str = "T4"
    install_ref: str | None = None

    @property
    def install_at(self) -> str:
        """What the install cell installs: ``install_ref``, else ``branch``."""
        return self.install_ref or self.branch

    @property
    def is_placeholder(self) -> bool:
        """True while the repository owner is still the ``OWNER`` placeholder."""
        return self.repository.split("/")[0] == "OWNER"


@dataclass(frozen=True)
class Course:
    """The parsed ``course/toc.toml`` of the course folder ``root``."""

    root: Path
    title: str
    colab: ColabSettings
    lectures: tuple[CourseNotebook, ...]
    exercises: tuple[CourseNotebook, ...] = field(default=())
    #: ``[release]``: the public repository of the student release (``vae-edu release``),
    #: whose badges and install cells point there; ``None`` without that table.
    release: ColabSettings | None = None

    @property
    def notebooks(self) -> tuple[CourseNotebook, ...]:
        """Every lecture, then every exercise, in the order of the TOC."""
        return self.lectures + self.exercises

    def path(self, notebook: CourseNotebook) -> Path:
        """The notebook's file on disk."""
        return self.root / notebook.path

    def relative(self, path: str | os.PathLike[str]) -> str | None:
        """``path`` relative to the course folder, with ``/``; ``None`` if outside it."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None

    def entry(self, path: str | os.PathLike[str]) -> CourseNotebook | None:
        """The TOC entry of a notebook (a path relative to the course folder, or any path
        to the file); ``None`` if the TOC does not list it."""
        given = Path(path).as_posix()
        relative = self.relative(path)  # a relative path is taken from the current folder
        return next((nb for nb in self.notebooks if nb.path in (given, relative)), None)

    def problems(self) -> list[str]:
        """Where the TOC and the files disagree, one sentence each (``[]`` if they agree).

        Checked: every listed notebook exists; every ``NN_topic.ipynb`` in ``lectures/``
        and ``exercises/`` is listed; every listed exercise has its solution, and every
        solution is listed as an exercise.
        """
        out = []
        for nb in self.notebooks:
            if not self.path(nb).is_file():
                out.append(f"{nb.path} is listed in {TOC_FILE} but the file is missing")
            if nb.solution and (self.root / "solutions").is_dir() and not (
                    self.root / nb.solution).is_file():  # a student release has none
                out.append(f"{nb.path} is listed in {TOC_FILE} but its source "
                           f"{nb.solution} is missing")
        listed = {nb.path for nb in self.notebooks}
        for folder, kind in (("lectures", "lecture"), ("exercises", "exercise"),
                             ("solutions", "exercise")):
            for file in sorted((self.root / folder).glob("[0-9][0-9]_*.ipynb")):
                path = f"{_FOLDERS[kind]}/{file.name}"
                if path not in listed:
                    out.append(f"{folder}/{file.name} exists but {TOC_FILE} does not list "
                               f"{path}; add a [[{kind}]] entry for it")
        return out


def _get(table: dict, key: str, kind: type | tuple[type, ...], where: str, default=...):
    if key not in table:
        if default is ...:
            raise CourseError(f"{where}: missing '{key}'")
        return default
    value = table[key]
    if isinstance(value, bool) and kind is not bool:
        raise CourseError(f"{where}: '{key}' should be {_kind_name(kind)}, got {value!r}")
    if not isinstance(value, kind):
        raise CourseError(f"{where}: '{key}' should be {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", list: "a list"}
    return names.get(kind, str(kind))


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    values = _get(table, key, list, where, [])
    if not all(isinstance(v, str) and v for v in values):
        raise CourseError(f"{where}: '{key}' should be a list of strings, got {values!r}")
    return tuple(values)


def _notebook(table: dict, kind: str, index: int, toc: Path) -> CourseNotebook:
    where = f"{toc}, [[{kind}]] number {index + 1}"
    if not isinstance(table, dict):
        raise CourseError(f"{where}: expected a table with file = ..., title = ...")
    known = {"file", "title", "week", "sessions", "gpu", "outline", "lectures"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    path = _get(table, "file", str, where)
    where = f"{toc}, [[{kind}]] {path!r}"
    parts = PurePosixPath(path).parts
    if len(parts) != 2 or parts[0] != _FOLDERS[kind] or not _NAME_RE.match(parts[1]):
        raise CourseError(f"{where}: a {kind} is {_FOLDERS[kind]}/NN_topic.ipynb "
                          "(two digits, lower-case words joined by _)")
    week = _get(table, "week", int, where)
    sessions = _get(table, "sessions", int, where, 1)
    if week < 1 or sessions < 1:
        raise CourseError(f"{where}: week and sessions are positive integers")
    lectures = _strings(table, "lectures", where)
    if kind == "lecture" and lectures:
        raise CourseError(f"{where}: 'lectures' belongs to exercises")
    if kind == "exercise" and ("outline" in table or "sessions" in table):
        raise CourseError(f"{where}: 'outline' and 'sessions' belong to lectures")
    return CourseNotebook(
        path=path, kind=kind, title=_get(table, "title", str, where), week=week,
        sessions=sessions, gpu=_get(table, "gpu", bool, where, False),
        outline=_strings(table, "outline", where), lectures=lectures,
    )


def load_course(root: str | os.PathLike[str] | None = None) -> Course:
    """Read and check ``course/toc.toml``.

    Args:
        root: the course folder, or any folder or file inside it (default: the current
            folder); the nearest ``course/toc.toml`` at or above it is used.

    Raises:
        CourseError: no ``course/toc.toml`` there, or it is malformed (the message names
            the file, the entry and what is wrong).
    """
    found = find_course_root(root)
    if found is None:
        start = Path(root if root is not None else Path.cwd()).resolve()
        beside = "" if root is not None else " (nor beside the installed package)"
        raise CourseError(f"no {TOC_FILE} in {start} or any folder above it{beside}; run "
                          "the command in the course folder or pass --course DIR")
    toc = found / TOC_FILE
    try:
        data = tomllib.loads(toc.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CourseError(f"{toc}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"course", "colab", "release", "lecture", "exercise"})
    if unknown:
        raise CourseError(f"{toc}: unknown table(s) {', '.join(unknown)}")
    course = _get(data, "course", dict, str(toc), {})
    colab = _get(data, "colab", dict, str(toc))
    where = f"{toc}, [colab]"
    settings = ColabSettings(
        repository=_get(colab, "repository", str, where),
        branch=_get(colab, "branch", str, where, "main"),
        package=_get(colab, "package", str, where, "vae_edu"),
        gpu_type=_get(colab, "gpu_type", str, where, "T4"),
        install_ref=_get(colab, "install_ref", str, where, None),
    )
    if not _SLUG_RE.match(settings.repository):
        raise CourseError(f"{where}: repository should be GitHub's owner/name, "
                          f"got {settings.repository!r}")
    if not _REF_RE.match(settings.branch) or not _REF_RE.match(settings.package):
        raise CourseError(f"{where}: branch and package may only use letters, digits, "
                          "'.', '_', '-' and '/'")
    release = None
    if "release" in data:
        table = _get(data, "release", dict, str(toc))
        where_r = f"{toc}, [release]"
        release = ColabSettings(
            repository=_get(table, "repository", str, where_r),
            branch=_get(table, "branch", str, where_r, settings.branch),
            package=settings.package, gpu_type=settings.gpu_type,
            install_ref=_get(table, "install_ref", str, where_r, settings.install_ref),
        )
        if not _SLUG_RE.match(release.repository) or not _REF_RE.match(release.branch):
            raise CourseError(f"{where_r}: repository should be GitHub's owner/name and "
                              f"branch a branch or tag, got {release.repository!r}, "
                              f"{release.branch!r}")
    lectures = tuple(_notebook(t, "lecture", i, toc)
                     for i, t in enumerate(_get(data, "lecture", list, str(toc), [])))
    exercises = tuple(_notebook(t, "exercise", i, toc)
                      for i, t in enumerate(_get(data, "exercise", list, str(toc), [])))
    if not lectures:
        raise CourseError(f"{toc}: no [[lecture]] entries")
    for kind, entries in (("lecture", lectures), ("exercise", exercises)):
        numbers = [nb.number for nb in entries]
        if numbers != sorted(set(numbers)):
            raise CourseError(f"{toc}: the [[{kind}]] entries should be in the order of "
                              f"their numbers, each number once; got {', '.join(numbers)}")
    taught = {nb.number for nb in lectures}
    for nb in exercises:
        missing = [n for n in nb.lectures if n not in taught]
        if missing:
            raise CourseError(f"{toc}, [[exercise]] {nb.path!r}: practises lecture(s) "
                              f"{', '.join(missing)}, which the TOC does not list")
    return Course(
        root=found, title=_get(course, "title", str, f"{toc}, [course]", "vae_edu"),
        colab=settings, lectures=lectures, exercises=exercises, release=release,
    )
