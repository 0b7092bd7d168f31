"""course/: the table of contents agrees with the files, and the documents with the TOC."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from helpers_course import EXERCISE, TOC, course_folder

from vae_edu.paths import find_course_root
from vae_edu.tooling.cli import main
from vae_edu.tooling.course import CourseError, load_course

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)
SYLLABUS = (ROOT / "course" / "syllabus.md").read_text(encoding="utf-8")
GUIDE = (ROOT / "course" / "instructor_guide.md").read_text(encoding="utf-8")


def test_the_toc_and_the_notebook_files_agree():
    problems = COURSE.problems()
    assert not problems, "course/toc.toml and the files disagree:\n" + "\n".join(problems)


def test_the_toc_covers_the_lecture_outline_in_order():
    outline = [part for nb in COURSE.lectures for part in nb.outline]
    expected = ["setup", "vanilla autoencoder", "denoising autoencoder", "sparse autoencoder",
                "contractive autoencoder", "stacked autoencoder", "VAE: the neural-network view",
                "VAE: the probability view (ELBO)", "convolutional VAE", "conditional VAE",
                "diverse colorization"]
    assert outline == expected
    assert [nb.number for nb in COURSE.lectures] == [f"{i:02d}" for i in range(10)]
    weeks = [nb.week for nb in COURSE.lectures]
    assert weeks == sorted(weeks), "lectures are taught in the order of the TOC"
    gpu = [nb.number for nb in COURSE.lectures if nb.gpu]
    assert gpu == ["06", "07", "08", "09"]


@pytest.mark.parametrize("entry", COURSE.notebooks, ids=lambda nb: nb.path)
def test_the_toc_title_is_the_notebooks_heading(entry):
    path = COURSE.path(entry)
    if entry.solution:
        path = ROOT / entry.solution  # the source of the exercise
    if not path.is_file():
        pytest.skip(f"{path.name} is missing (test_the_toc_and_the_notebook_files_agree says so)")
    first = nbformat.read(path, as_version=4).cells[0].source
    heading = next(line for line in first.splitlines() if line.startswith("# "))
    title = re.sub(r"^# (\d\d · |Exercise \d+: |Problem set \d+: )", "", heading)
    assert title.lower() == entry.title.lower(), f"{entry.path}: heading {heading!r}"


def test_every_exercise_is_due_after_the_lectures_it_practises():
    taught = {nb.number: nb.week + nb.sessions - 1 for nb in COURSE.lectures}
    for nb in COURSE.exercises:
        assert nb.lectures, f"{nb.path}: which lectures does it practise?"
        assert nb.week > max(taught[n] for n in nb.lectures), nb.path


def _linked(text: str) -> list[str]:
    """Notebook paths in markdown links, in order of first appearance."""
    found = re.findall(r"\]\(\.\./((?:lectures|exercises)/\d\d_[a-z0-9_]+\.ipynb)\)", text)
    return list(dict.fromkeys(found))


def test_the_syllabus_links_every_notebook_of_the_toc_in_its_order():
    linked = _linked(SYLLABUS)
    assert [p for p in linked if p.startswith("lectures/")] == [
        nb.path for nb in COURSE.lectures]
    assert [p for p in linked if p.startswith("exercises/")] == [
        nb.path for nb in COURSE.exercises]


def test_the_syllabus_gives_outcomes_and_a_week_for_every_lecture():
    for nb in COURSE.lectures:
        section = re.search(rf"^### {nb.number} · .*?(?=^### |^## |\Z)", SYLLABUS, re.M | re.S)
        assert section, f"the syllabus has no '### {nb.number} · ...' section"
        assert "you can" in section.group(0).lower() or "you will" in section.group(0).lower()
    schedule = SYLLABUS.split("## Schedule", 1)[1].split("\n## ", 1)[0]
    for nb in COURSE.notebooks:
        row = next((line for line in schedule.splitlines() if nb.path in line), None)
        assert row, f"the schedule does not list {nb.path}"
        assert re.match(rf"\|\s*{nb.week}\b", row), f"{nb.path}: week {nb.week} in the TOC"


def test_the_instructor_guide_covers_setup_profiles_grading_outputs_and_ci():
    for needle in ("JupyterLab", "JupyterHub", "Colab", "VAE_EDU_PROFILE", "smoke", "default",
                   "full", "grading.md", "vae-edu exercises", "vae-edu grade",
                   "vae-edu execute --profile default lectures/*.ipynb", "bash .ci/run",
                   "vae-edu colab", "course/toc.toml", "VAE_EDU_SKIP_BROWSER"):
        assert needle in GUIDE, f"the instructor guide does not mention {needle!r}"
    for link in re.findall(r"\]\(([^)#\s]+)\)", GUIDE + SYLLABUS):
        if not link.startswith(("http://", "https://")):
            assert (ROOT / "course" / link).resolve().exists(), f"broken link {link}"


def test_vae_edu_toc_lists_the_course(capsys):
    code = main(["toc", "--course", str(ROOT)])
    out = capsys.readouterr()
    assert code == (1 if COURSE.problems() else 0), out.err
    for nb in COURSE.notebooks:
        assert nb.path in out.out


# ------------------------------------------------------------- the TOC file and its errors


def test_a_minimal_toc_and_where_it_is_found(tmp_path, monkeypatch):
    root = course_folder(tmp_path)
    (root / "lectures" / "00_intro.ipynb").write_text("{}")
    inner = root / "lectures"
    assert find_course_root(inner) == root.resolve()
    assert find_course_root(inner / "00_intro.ipynb") == root.resolve()
    monkeypatch.chdir(inner)
    course = load_course()
    assert course.root == root.resolve()
    assert course.colab.repository == "someone/course" and course.colab.branch == "main"
    assert [nb.path for nb in course.lectures] == ["lectures/00_intro.ipynb"]
    assert course.entry("00_intro.ipynb") == course.lectures[0]  # from the current folder
    assert course.entry("lectures/00_intro.ipynb") == course.lectures[0]
    assert course.entry(root / "lectures" / "00_intro.ipynb") == course.lectures[0]
    assert course.entry("lectures/99_none.ipynb") is None
    assert course.problems() == []


def test_the_toc_names_missing_and_unlisted_files(tmp_path):
    root = course_folder(tmp_path, TOC + EXERCISE)
    (root / "lectures" / "01_extra.ipynb").write_text("{}")
    (root / "solutions").mkdir()
    (root / "solutions" / "02_orphan.ipynb").write_text("{}")
    problems = "\n".join(load_course(root).problems())
    assert "lectures/00_intro.ipynb is listed in course/toc.toml but the file is missing" \
        in problems
    assert "lectures/01_extra.ipynb exists but course/toc.toml does not list" in problems
    assert "exercises/01_first.ipynb is listed" in problems
    assert "its source solutions/01_first.ipynb is missing" in problems
    assert "solutions/02_orphan.ipynb exists" in problems and "[[exercise]]" in problems
    assert main(["toc", "--course", str(root)]) == 1


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace('repository = "someone/course"', 'repository = "no slash"'),
     "repository should be GitHub's owner/name"),
    (lambda t: t.replace("[colab]", "[colabs]"), "unknown table"),
    (lambda t: t.replace('file = "lectures/00_intro.ipynb"', 'file = "lectures/intro.ipynb"'),
     "a lecture is lectures/NN_topic.ipynb"),
    (lambda t: t.replace('file = "lectures/00_intro.ipynb"', 'file = "notes/00_intro.ipynb"'),
     "a lecture is lectures/NN_topic.ipynb"),
    (lambda t: t.replace("week = 1", 'week = "one"'), "'week' should be an integer"),
    (lambda t: t.replace("week = 1", "week = 1\ngpu = 1"), "'gpu' should be true or false"),
    (lambda t: t.replace('title = "Intro"\n', ""), "missing 'title'"),
    (lambda t: t.replace("week = 1", "week = 1\nslides = 3"), "unknown key(s) slides"),
    (lambda t: t + '[[lecture]]\nfile = "lectures/00_again.ipynb"\ntitle = "x"\nweek = 2\n',
     "in the order of their numbers, each number once"),
    (lambda t: t + '[[exercise]]\nfile = "exercises/01_x.ipynb"\ntitle = "x"\nweek = 2\n'
                   'lectures = ["05"]\n', "practises lecture(s) 05"),
    (lambda t: t.replace("week = 1", "week = 1 ="), "not valid TOML"),
])
def test_a_malformed_toc_is_one_clear_error(tmp_path, edit, message):
    root = course_folder(tmp_path, edit(TOC))
    with pytest.raises(CourseError, match=re.escape(message)):
        load_course(root)


def test_no_toc_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(CourseError, match="no course/toc.toml in .* or any folder above"):
        load_course(tmp_path)
    assert main(["toc", "--course", str(tmp_path)]) == 2
    assert "vae-edu toc: no course/toc.toml" in capsys.readouterr().err
