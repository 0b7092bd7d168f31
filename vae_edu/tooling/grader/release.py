"""``vae-edu release OUT_DIR``: the student course, with no answers in it.

The course repository holds the solutions (``solutions/``), the grader's reference code
(``reference`` and ``mistakes`` of every question in :mod:`vae_edu.grading.questions`)
and its hidden tests. Students need none of it, and the public repository that Colab
opens must not carry it. The release is built generically from what the course
repository holds at the time:

* **copied**: ``README.md``, ``docs/``, ``lectures/``, ``exercises/``, the course pages
  (``course/`` except the instructor's: grading policy, instructor guide, grading
  job scripts), ``pyproject.toml`` and ``conftest.py``;
* **the library** ``vae_edu/``: every module outside ``vae_edu/grading/`` and
  ``vae_edu/tooling/grader/``, and of those two only what the in-notebook checks import
  (found by following the imports from ``grading/__init__.py``, ``checks.py`` and what
  the notebooks import) and the parser of the instructor's commands: the grader, its
  sandbox, the exercise generator, the exporters and this module stay behind;
* **the questions** (:mod:`vae_edu.grading.questions`) keep how they draw their public
  inputs and how they judge, but every ``reference`` and ``mistakes`` method is
  replaced by a look-up of stored outputs (:mod:`vae_edu.grading.stored_checks`), any
  other method named ``*reference*`` (training a reference model) raises, their
  docstrings (which state the formulas) are replaced, and what only those methods used
  (library imports, helpers) is dropped; ``public_checks.json`` stores the reference
  outputs and the outputs of known mistakes (with their hint texts) on the public
  inputs of :func:`vae_edu.grading.check`, for every question of ``solutions/``;
* **never**: ``solutions/``, ``tests/`` (hidden tests, known mistakes), ``tools/``, CI.

The Open-in-Colab badge and the install cell of every notebook point at the repository
of ``[release]`` in ``course/toc.toml``, and the release's own ``toc.toml`` names that
repository under ``[colab]``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

__all__ = ["INSTRUCTOR_PAGES", "Release", "build_release", "strip_reference_code"]

#: Course pages (relative to the course folder) that only instructors get.
INSTRUCTOR_PAGES = ("course/grading.md", "course/instructor_guide.md",
                    "course/grade_slurm.sh", "course/grade_github_actions.yml")
_MARKER = ".vae-edu-release"
#: Data of solutions/ that the public checks need (the bands of train-and-report
#: questions: thresholds from reference runs), shipped beside vae_edu/grading/bands.py.
_SOLUTION_DATA = ("bands.json",)
_COPIED = ("README.md", "pyproject.toml", "conftest.py", ".gitignore", "constraints.txt",
           ".binder/requirements.txt", ".binder/postBuild", ".binder/runtime.txt")  # Binder
#: Folders of the package shipped only as far as the student roots import them.
_SELECTIVE = ("vae_edu/grading/", "vae_edu/tooling/grader/")
_STUDENT_ROOTS = ("vae_edu/grading/__init__.py", "vae_edu/grading/checks.py",
                  "vae_edu/grading/stored_checks.py",
                  "vae_edu/tooling/grader/commands.py", "vae_edu/tooling/grader/limits.py")
#: Shipped, but what they import lazily is not: the parser of the instructor's commands
#: and the grading limits its options are made from (so that `vae-edu --help` works in
#: the release; the commands themselves say that they are not part of it).
_NOT_FOLLOWED = ("vae_edu/tooling/grader/commands.py",)
_STORED_NOTE = ("Student release: the outputs are stored (vae_edu.grading.stored_checks); "
                "the reference code is not part of it.")


@dataclass
class Release:
    """What :func:`build_release` wrote."""

    root: Path
    files: int
    checks: list[str]
    repository: str
    left_out: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the questions


def _names_used(tree: ast.AST) -> set[str]:
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif (isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
              and isinstance(node.value, ast.List | ast.Tuple)):
            used.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
    return used


def _prune(tree: ast.Module, keep: frozenset[str] = frozenset()) -> None:
    """Drop imports, module functions and private methods that nothing uses any more
    (``keep``: names that other modules of the package use)."""
    while True:
        used = _names_used(tree) | keep
        changed = False
        body = []
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom) and not (
                    isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                aliases = [a for a in node.names if (a.asname or a.name).split(".")[0] in used]
                if not aliases:
                    changed = True
                    continue
                changed |= len(aliases) != len(node.names)
                node.names = aliases
            elif (isinstance(node, ast.FunctionDef) and not node.name.startswith("__")
                  and node.name not in used):  # not in __all__ either: only references used it
                changed = True
                continue
            elif isinstance(node, ast.ClassDef):
                members = [m for m in node.body if not (
                    isinstance(m, ast.FunctionDef) and m.name.startswith("_")
                    and not m.name.startswith("__") and m.name not in used)]
                changed |= len(members) != len(node.body)
                node.body = members or [ast.Pass()]
            body.append(node)
        tree.body = body
        if not changed:
            return


def _docstring(node) -> bool:
    return bool(node.body) and isinstance(node.body[0], ast.Expr) and isinstance(
        getattr(node.body[0], "value", None), ast.Constant) and isinstance(
        node.body[0].value.value, str)


def _constructor_params(module: str | None) -> dict[str, list[str]]:
    """Question classes of ``module`` (importable from the course) -> their ``__init__``
    parameter names, so that reference callables handed to a constructor are found."""
    import importlib
    import inspect

    if module is None:
        return {}
    from ...grading.questions import Question

    try:
        live = importlib.import_module(module)
    except ImportError:
        return {}
    found = {}
    for name, value in vars(live).items():
        if inspect.isclass(value) and issubclass(value, Question):
            found[name] = [p for p in inspect.signature(value.__init__).parameters][1:]
    return found


def _strip_constructor_references(tree: ast.Module, classes: dict[str, list[str]]) -> bool:
    """``SomeQuestion(..., reference_fn, mistakes=(...))`` at module level: the reference
    becomes ``None`` and the mistakes ``()`` (both come from the stored outputs)."""
    replaced = False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in classes):
            continue
        params = classes[node.func.id]
        for i in range(len(node.args)):
            name = params[i] if i < len(params) else ""
            if "reference" in name or name == "mistakes":
                node.args[i] = ast.Constant(None) if name != "mistakes" else ast.Tuple([],
                                                                                  ast.Load())
                replaced = True
        for kw in node.keywords:
            if kw.arg and ("reference" in kw.arg or kw.arg == "mistakes"):
                kw.value = (ast.Constant(None) if kw.arg != "mistakes"
                            else ast.Tuple([], ast.Load()))
                replaced = True
    return replaced


def strip_reference_code(source: str, module: str | None = None,
                         keep: frozenset[str] | None = frozenset()) -> str:
    """A question module without reference code: ``reference``/``mistakes`` call the
    stored outputs, reference callables given to question constructors are dropped
    (``module``: its import name, to read the constructors' parameters), docstrings are
    replaced, and what only the references used is dropped (``keep``: names the other
    modules use; ``None``: do not drop anything)."""
    tree = ast.parse(source)
    replaced = _strip_constructor_references(tree, _constructor_params(module))
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        if _docstring(node):
            node.body[0] = ast.Expr(ast.Constant(f"{node.name}. {_STORED_NOTE}"))
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name in ("reference", "mistakes"):
                args = [a.arg for a in item.args.args]
                call_args = [ast.Name(a, ast.Load()) for a in args[:3]]
                while len(call_args) < 3:
                    call_args.append(ast.Constant(None))
                name = "stored_reference" if item.name == "reference" else "stored_mistakes"
                item.body = [ast.Return(ast.Call(ast.Name(name, ast.Load()), call_args, []))]
                replaced = True
            elif isinstance(item, ast.FunctionDef) and "reference" in item.name:
                # any other reference code (e.g. training the reference model of a band)
                item.body = [ast.Raise(ast.Call(ast.Name("NotImplementedError", ast.Load()), [
                    ast.Constant(f"{item.name} is not part of the student release")], []))]
                replaced = True
            elif isinstance(item, ast.FunctionDef) and _docstring(item):
                item.body[0] = ast.Expr(ast.Constant(f"{item.name}."))
    if _docstring(tree):
        tree.body[0] = ast.Expr(ast.Constant(f"Graded questions. {_STORED_NOTE}"))
    if replaced:
        position = next((i + 1 for i, n in enumerate(tree.body) if isinstance(
            n, ast.ImportFrom) and n.module == "__future__"), 1 if _docstring(tree) else 0)
        tree.body.insert(position, ast.ImportFrom(
            "stored_checks", [ast.alias("stored_mistakes"), ast.alias("stored_reference")], 2))
    if keep is not None:
        _prune(tree, keep)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# --------------------------------------------------------------------------- the library


def _imports(path: Path, package_root: Path, follow_functions: bool) -> set[str]:
    """Files (relative to ``package_root``) of the ``vae_edu`` modules ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = path.relative_to(package_root).with_suffix("").parts
    package = module[:-1] if module[-1] != "__init__" else module[:-1]
    nodes = ast.walk(tree) if follow_functions else iter(tree.body)
    found: set[str] = set()
    for node in nodes:
        targets = []
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                parts = base + (node.module.split(".") if node.module else [])
            else:
                parts = (node.module or "").split(".")
            targets.append(parts)
            targets += [parts + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            targets += [a.name.split(".") for a in node.names]
        for parts in targets:
            if not parts or parts[0] != "vae_edu":
                continue
            for candidate in (Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")):
                if (package_root / candidate).is_file():
                    found.add(candidate.as_posix())
            for i in range(1, len(parts)):  # the packages on the way
                init = Path(*parts[:i], "__init__.py")
                if (package_root / init).is_file():
                    found.add(init.as_posix())
    return found


def _notebook_imports(paths: list[Path]) -> set[str]:
    modules = set()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                modules.update(m.group(1) for m in re.finditer(
                    r"(?:from|import)\s+(vae_edu\.grading\.\w+)", cell.source))
    return {m.replace(".", "/") + ".py" for m in modules}


def _student_library(root: Path, notebooks: list[Path]) -> list[str]:
    """The library files of the release (relative to the course folder)."""
    every = sorted(p.relative_to(root).as_posix() for p in (root / "vae_edu").rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    outside = [f for f in every if not f.startswith(_SELECTIVE)]
    queue = [f for f in outside if f.endswith(".py")]
    queue += [f for f in (*_STUDENT_ROOTS, *_notebook_imports(notebooks))
              if (root / f).is_file()]
    keep = set(outside)
    seen: set[str] = set()
    while queue:
        current = queue.pop()
        if current in seen:
            continue
        seen.add(current)
        grading = current.startswith("vae_edu/grading/")
        keep.add(current)
        # inside grading, lazy (function-level) imports count too; outside it they are
        # the instructor's commands (vae-edu grade, exercises, release)
        if current not in _NOT_FOLLOWED:
            queue += sorted(_imports(root / current, root, follow_functions=grading) - seen)
    keep.discard("vae_edu/grading/public_checks.json")
    return sorted(f for f in every if f != "vae_edu/grading/public_checks.json" and (
        f in keep or not f.endswith(".py")  # data (bands...); scanned by the tests too
        or (f.startswith("vae_edu/grading/questions/")
            and "vae_edu/grading/questions/__init__.py" in keep)))


# --------------------------------------------------------------------------- the release


def _pyproject(text: str) -> str:
    """The release's pyproject.toml: the stored checks are package data."""
    pattern = re.compile(r'^(vae_edu\s*=\s*\[)(.*?)(\])', re.M)
    match = pattern.search(text.split("[tool.setuptools.package-data]", 1)[-1])
    if "[tool.setuptools.package-data]" not in text or match is None:
        raise ValueError("pyproject.toml has no [tool.setuptools.package-data] vae_edu = [...] "
                         "entry to add grading/public_checks.json to")
    head, tail = text.split("[tool.setuptools.package-data]", 1)
    tail = pattern.sub(lambda m: f'{m.group(1)}{m.group(2)}, "grading/public_checks.json"'
                       f'{m.group(3)}', tail, count=1)
    return head + "[tool.setuptools.package-data]" + tail


def _toc(text: str, repository: str, branch: str) -> str:
    """The release's toc.toml: [colab] names the release repository; no [release]."""
    text = re.sub(r"(?ms)^# The student release.*?(?=^# |\Z)", "", text)
    text = re.sub(r"(?ms)^\[release\]\n.*?(?=^\[|^# |\Z)", "", text)
    text = re.sub(r'(?m)^(repository\s*=\s*)"[^"]*"(.*)$',
                  lambda m: f'{m.group(1)}"{repository}"', text, count=1)
    return re.sub(r'(?m)^(branch\s*=\s*)"[^"]*"(.*)$',
                  lambda m: f'{m.group(1)}"{branch}"', text, count=1)


def build_release(out_dir: str | os.PathLike, *, course_dir: str | os.PathLike | None = None,
                  force: bool = False) -> Release:
    """Write the student release of the course into ``out_dir`` (see the module docstring).

    Raises:
        FileExistsError: ``out_dir`` is not empty (an earlier release is replaced only with
            ``force``; any other folder never).
        FileNotFoundError, CourseError: no course, no ``[release]`` table.
    """
    from ...grading.stored_checks import build_store
    from ..colab import apply_colab
    from ..course import CourseError, load_course
    from .notebook import read_solution

    course = load_course(course_dir)
    root = course.root
    if course.release is None:
        raise CourseError(f"{root / 'course/toc.toml'} has no [release] table: add one "
                          "naming the public repository of the student release")
    out = Path(out_dir).resolve()
    if out == root.resolve() or out in root.resolve().parents:
        raise FileExistsError(f"{out} holds the course folder itself; choose another folder")
    if out.exists() and any(out.iterdir()):
        if not (out / _MARKER).is_file():
            raise FileExistsError(f"{out} is not empty and holds no earlier release; "
                                  "choose an empty or new folder")
        if not force:
            raise FileExistsError(f"{out} holds an earlier release: pass --force to replace it")
    solutions = [read_solution(p) for p in sorted((root / "solutions").glob(
        "[0-9][0-9]_*.ipynb"))]
    questions = [q.id for s in solutions for q in s.questions]
    notebooks = sorted((root / "lectures").glob("*.ipynb")) + sorted(
        (root / "exercises").glob("*.ipynb"))

    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files: list[str] = []

        def write(rel: str, data: bytes | str) -> None:
            target = stage / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(data, str):
                target.write_text(data, encoding="utf-8")
            else:
                target.write_bytes(data)
            files.append(rel)

        for name in _COPIED:
            if (root / name).is_file():
                text = (root / name).read_text(encoding="utf-8")
                write(name, _pyproject(text) if name == "pyproject.toml" else text)
        for folder in ("docs", "lectures", "exercises", "course"):
            for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
                rel = path.relative_to(root).as_posix()
                if (not path.is_file() or rel in INSTRUCTOR_PAGES
                        or any(p.startswith(".") for p in path.relative_to(root).parts)):
                    continue
                if rel == "course/toc.toml":
                    write(rel, _toc(path.read_text(encoding="utf-8"), course.release.repository,
                                    course.release.branch))
                elif path.suffix == ".ipynb":
                    nb = nbformat.read(path, as_version=4)
                    entry = course.entry(rel)
                    apply_colab(nb, rel, course.release, gpu=bool(entry and entry.gpu))
                    write(rel, nbformat.writes(nb) + "\n")
                else:
                    write(rel, path.read_bytes())
        library = _student_library(root, notebooks)
        questions_py = {rel: rel[:-3].replace("/", ".").removesuffix(".__init__")
                        for rel in library
                        if rel.startswith("vae_edu/grading/questions/") and rel.endswith(".py")}
        used_by = {rel: _names_used(ast.parse(strip_reference_code(
            (root / rel).read_text(encoding="utf-8"), module, keep=None)))
            for rel, module in questions_py.items()}  # names each uses once stripped
        imported = {alias.asname or alias.name for rel in questions_py
                    for node in ast.walk(ast.parse((root / rel).read_text(encoding="utf-8")))
                    if isinstance(node, ast.ImportFrom) and node.level
                    for alias in node.names}
        for rel in library:
            data = (root / rel).read_bytes()
            if rel in questions_py:  # what another question module uses or imports stays
                others = frozenset().union(imported, *(u for r, u in used_by.items()
                                                       if r != rel))
                data = strip_reference_code(data.decode("utf-8"), questions_py[rel],
                                            keep=others).encode()
            write(rel, data)
        for name in _SOLUTION_DATA:  # measured on reference runs: thresholds, no answers
            if (root / "solutions" / name).is_file():
                write(f"vae_edu/grading/{name}", (root / "solutions" / name).read_bytes())
        write("vae_edu/grading/public_checks.json",
              json.dumps(build_store(questions), sort_keys=True) + "\n")
        write(_MARKER, json.dumps({"repository": course.release.repository,
                                   "branch": course.release.branch,
                                   "checks": questions}, indent=1) + "\n")
        left_out = sorted(
            p.relative_to(root).as_posix() for folder in _SELECTIVE
            for p in (root / folder).rglob("*.py")
            if "__pycache__" not in p.parts
            and p.relative_to(root).as_posix() not in files)
        if out.exists():
            shutil.rmtree(out)
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return Release(out, len(files), questions, course.release.repository, left_out)
