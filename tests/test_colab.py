"""Every lecture and exercise opens on Colab: badge, Colab-only install cell, GPU runtime."""

from __future__ import annotations

import ast
import copy
import re
import sys
import types
from pathlib import Path

import helpers_course
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from vae_edu.tooling.cli import main
from vae_edu.tooling.colab import (
    INSTALL_TAG,
    add_to_exercise,
    apply_colab,
    badge_markdown,
    badge_url,
    colab_problems,
    install_source,
    sync_colab,
)
from vae_edu.tooling.course import ColabSettings, load_course, tomllib

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)
COLAB = COURSE.colab
BADGE_RE = re.compile(r"^\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/"
                      r"colab-badge\.svg\)\]\((?P<url>[^)]+)\)")


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def guarded_pip_call(source: str) -> str:
    """The pip magic's arguments, checked to sit under ``if "google.colab" in sys.modules``
    and nowhere else (parsed the way IPython runs the cell)."""
    tree = ast.parse(TransformerManager().transform_cell(source))
    top = [node for node in tree.body if not isinstance(node, ast.Import | ast.ImportFrom)]
    assert len(top) == 1 and isinstance(top[0], ast.If), "one `if` besides imports"
    assert ast.unparse(top[0].test) == "'google.colab' in sys.modules"
    assert not top[0].orelse
    (statement,) = top[0].body
    call = statement.value
    assert ast.unparse(call.func) == "get_ipython().run_line_magic"
    magic, args = (a.value for a in call.args)
    assert magic == "pip"
    return args


@pytest.mark.parametrize("entry", COURSE.notebooks, ids=lambda nb: nb.path)
def test_notebook_opens_on_colab(entry):
    path = COURSE.path(entry)
    if not path.is_file():
        pytest.fail(f"{entry.path} is listed in course/toc.toml but the file is missing",
                    pytrace=False)
    nb = nbformat.read(path, as_version=4)
    fix = ("run `vae-edu colab` and re-execute the lectures" if entry.kind == "lecture"
           else "run `vae-edu exercises`")
    problems = colab_problems(nb, entry.path, COLAB, entry.gpu)
    assert not problems, f"{entry.path}: " + "; ".join(problems) + f" ({fix})"

    # the badge: first line of the first cell, opening this very file on GitHub
    assert nb.cells[0].cell_type == "markdown"
    url = BADGE_RE.match(nb.cells[0].source).group("url")
    assert url == (f"https://colab.research.google.com/github/{COLAB.repository}/blob/"
                   f"{COLAB.branch}/{entry.path}")
    # the install cell: first code cell, pip only under the Colab check, torch kept
    first = code_cells(nb)[0]
    assert INSTALL_TAG in first.metadata.get("tags", [])
    args = guarded_pip_call(first.source)
    assert args == (f'install -q "{COLAB.package} @ '
                    f'git+https://github.com/{COLAB.repository}@{COLAB.install_at}"')
    assert not re.search(r"(^|\s)(-U|--upgrade|--force-reinstall)\b|torch", args)
    assert all(not o.get("text", "").strip() for o in first.get("outputs", [])), \
        "the install cell printed something outside Colab"
    # the runtime Colab opens it on
    meta = nb.metadata
    if entry.gpu:
        assert meta.get("accelerator") == "GPU"
        assert meta.get("colab", {}).get("gpuType") == COLAB.gpu_type
    else:
        assert "accelerator" not in meta and "gpuType" not in meta.get("colab", {})


def test_installing_on_colab_keeps_colabs_torch():
    """pip keeps an installed torch when no requirement forces another version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)
        if name in ("torch", "torchvision", "numpy"):
            assert re.fullmatch(rf"{name}>=[\d.]+", requirement), requirement


def run_install_cell(source: str, monkeypatch, on_colab: bool) -> list[tuple[str, str]]:
    """Run the cell as IPython would, with a stand-in for IPython; return magic calls."""
    calls = []
    shell = types.SimpleNamespace(run_line_magic=lambda *a: calls.append(a))
    if on_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    code = TransformerManager().transform_cell(source)
    exec(compile(code, "<install cell>", "exec"), {"get_ipython": lambda: shell})
    return calls


def test_the_install_cell_does_nothing_and_prints_nothing_outside_colab(monkeypatch, capsys):
    source = install_source(COLAB)
    assert run_install_cell(source, monkeypatch, on_colab=False) == []
    assert capsys.readouterr() == ("", "")
    calls = run_install_cell(source, monkeypatch, on_colab=True)
    assert calls == [("pip", f'install -q "vae_edu @ git+https://github.com/'
                             f'{COLAB.repository}@{COLAB.install_at}"')]


def test_an_install_ref_pins_the_install_cell_to_the_release_tag():
    """[colab] install_ref = "v<version>" installs the tagged library, the badge still
    opens the branch; a pinned ref must be the version of pyproject.toml."""
    pinned = ColabSettings(repository="someone/course", branch="main", install_ref="v1.2.3")
    assert install_source(pinned).endswith('git+https://github.com/someone/course@v1.2.3"')
    assert badge_url(pinned, "lectures/00_setup.ipynb").endswith("/main/lectures/00_setup.ipynb")
    if COLAB.install_ref is not None:
        version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
        assert COLAB.install_ref == f"v{version}", "install_ref must be v + pyproject's version"


# ------------------------------------------------------------------- the tool, in memory


SETTINGS = ColabSettings(repository="someone/course", branch="spring")


def lecture(first_markdown: bool = True) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell("import torch", execution_count=1,
                                       outputs=[nbformat.v4.new_output("stream", text="hi")]),
             nbformat.v4.new_markdown_cell("## Part"),
             nbformat.v4.new_code_cell("x = 1", execution_count=2)]
    if first_markdown:
        cells.insert(0, nbformat.v4.new_markdown_cell("# 01 · Title\n\n**Learning goals**"))
    nb.cells = cells
    nb.metadata["colab"] = {"provenance": []}
    return nb


def test_apply_adds_badge_install_cell_and_gpu_metadata_and_keeps_the_rest():
    nb = lecture()
    before = copy.deepcopy(nb)
    assert colab_problems(nb, "lectures/01_x.ipynb", SETTINGS, gpu=True)
    assert apply_colab(nb, "lectures/01_x.ipynb", SETTINGS, gpu=True)
    nbformat.validate(nb)
    assert nb.cells[0].source == (badge_markdown(SETTINGS, "lectures/01_x.ipynb")
                                  + "\n\n# 01 · Title\n\n**Learning goals**")
    assert "colab.research.google.com/github/someone/course/blob/spring/lectures/01_x.ipynb" \
        in nb.cells[0].source
    install = nb.cells[1]
    assert install.source == install_source(SETTINGS) and install.id == "colab-install"
    assert install.outputs == [] and install.execution_count is None
    assert nb.cells[2:] == before.cells[1:], "the other cells, outputs included, are kept"
    assert nb.metadata["accelerator"] == "GPU"
    assert nb.metadata["colab"] == {"provenance": [], "gpuType": "T4"}
    assert colab_problems(nb, "lectures/01_x.ipynb", SETTINGS, gpu=True) == []


def test_apply_is_idempotent_and_updates_a_moved_repository():
    nb = lecture()
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)
    nb.cells[1].execution_count = 1  # as after a clean run
    again = copy.deepcopy(nb)
    assert not apply_colab(again, "lectures/01_x.ipynb", SETTINGS)
    assert again == nb
    moved = ColabSettings(repository="other/place", branch="main")
    assert "the badge opens" in " ".join(colab_problems(nb, "lectures/01_x.ipynb", moved))
    assert apply_colab(nb, "lectures/01_x.ipynb", moved)
    assert nb.cells[0].source.count("Open In Colab") == 1
    assert "other/place/blob/main/lectures/01_x.ipynb" in nb.cells[0].source
    assert "git+https://github.com/other/place@main" in nb.cells[1].source
    assert nb.cells[1].execution_count == 1, "an install cell in place keeps its count"
    assert len(nb.cells) == len(again.cells)


def test_apply_moves_a_misplaced_install_cell_and_drops_duplicates():
    nb = lecture()
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)
    cell = nb.cells.pop(1)
    nb.cells.append(cell)
    duplicate = copy.deepcopy(cell)
    duplicate["id"] = "another"
    nb.cells.append(duplicate)
    problems = colab_problems(nb, "lectures/01_x.ipynb", SETTINGS)
    assert "the install cell is not the first code cell" in problems
    assert apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)
    assert [c.get("id") for c in nb.cells if INSTALL_TAG in c.metadata.get("tags", [])] == [
        "colab-install"]
    assert nb.cells[1].metadata["tags"] == [INSTALL_TAG]
    assert colab_problems(nb, "lectures/01_x.ipynb", SETTINGS) == []


def test_a_notebook_that_starts_with_code_gets_a_badge_cell():
    nb = lecture(first_markdown=False)
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].id == "colab-badge"
    assert nb.cells[0].source == badge_markdown(SETTINGS, "lectures/01_x.ipynb")
    assert nb.cells[1].id == "colab-install" and nb.cells[2].source == "import torch"
    assert not apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)


def test_gpu_metadata_follows_the_toc_both_ways():
    nb = lecture()
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS, gpu=True)
    assert "asks for a GPU runtime" in " ".join(colab_problems(nb, "lectures/01_x.ipynb",
                                                               SETTINGS, gpu=False))
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS, gpu=False)
    assert "accelerator" not in nb.metadata and nb.metadata["colab"] == {"provenance": []}


def test_an_nbformat_4_4_notebook_gets_cells_without_ids():
    nb = lecture()
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id")
    apply_colab(nb, "lectures/01_x.ipynb", SETTINGS)
    nbformat.validate(nb)
    assert all("id" not in c for c in nb.cells)


# ------------------------------------------------------------ the command and the generator


#: The lecture asks for a GPU; the exercise's notebook is not there until a test writes it.
TOC = helpers_course.TOC + "gpu = true\n" + helpers_course.EXERCISE


@pytest.fixture
def course(tmp_path):
    root = helpers_course.course_folder(tmp_path, TOC)
    nbformat.write(lecture(), root / "lectures" / "00_intro.ipynb")
    return root


def test_vae_edu_colab_writes_then_checks_then_follows_the_toc(course, monkeypatch, capsys):
    monkeypatch.chdir(course)
    path = course / "lectures" / "00_intro.ipynb"
    assert main(["colab", "--check", "lectures/00_intro.ipynb"]) == 1
    assert "lectures/00_intro.ipynb: no Open in Colab badge" in capsys.readouterr().out
    assert main(["colab"]) == 0
    assert "updated lectures/00_intro.ipynb" in capsys.readouterr().out
    text = path.read_text()
    nb = nbformat.read(path, as_version=4)
    assert "someone/course/blob/main/lectures/00_intro.ipynb" in nb.cells[0].source
    assert nb.metadata["accelerator"] == "GPU"
    assert main(["colab", "lectures/00_intro.ipynb"]) == 0
    assert "updated 0, kept 1" in capsys.readouterr().out
    assert path.read_text() == text, "a second run changes nothing"
    assert main(["colab", "--check", "lectures/00_intro.ipynb"]) == 0
    # the repository moves: --check names the stale badge, the tool rewrites it
    (course / "course" / "toc.toml").write_text(TOC.replace("someone/course", "else/where"))
    assert main(["colab", "--check", str(path)]) == 1
    assert "the badge opens" in capsys.readouterr().out
    assert main(["colab"]) == 0
    assert "else/where/blob/main" in nbformat.read(path, as_version=4).cells[0].source


def test_vae_edu_colab_refuses_a_notebook_the_toc_does_not_list(course, capsys):
    stray = course / "lectures" / "05_stray.ipynb"
    nbformat.write(lecture(), stray)
    before = stray.read_bytes()
    assert main(["colab", str(stray)]) == 2
    assert "is not listed in" in capsys.readouterr().err
    assert stray.read_bytes() == before


def test_check_without_arguments_covers_lectures_and_exercises(course, capsys):
    with pytest.raises(FileNotFoundError, match="exercises/01_first.ipynb"):
        sync_colab(check=True, course=load_course(course))  # the exercise is not there yet
    assert main(["colab", "--check", "--course", str(course)]) == 2
    assert "notebook not found: " in capsys.readouterr().err
    (course / "exercises").mkdir()
    nb = lecture()
    add_to_exercise(nb, "01_first.ipynb", course / "solutions")
    nbformat.write(nb, course / "exercises" / "01_first.ipynb")
    sync_colab(course=load_course(course))  # the lectures
    report = sync_colab(check=True, course=load_course(course))
    assert report.clean and len(report.unchanged) == 2


def test_generated_exercises_point_at_exercises_of_the_nearest_course(course):
    nb = lecture()
    assert add_to_exercise(nb, "01_first.ipynb", course / "solutions")
    assert ("someone/course/blob/main/exercises/01_first.ipynb" in nb.cells[0].source)
    assert "accelerator" not in nb.metadata
    # a solutions folder outside any course: the course this package belongs to
    outside = lecture()
    add_to_exercise(outside, "01_first.ipynb", Path("/"))
    assert f"{COLAB.repository}/blob/{COLAB.branch}/exercises/01_first.ipynb" in \
        outside.cells[0].source
