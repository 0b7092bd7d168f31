"""`vae-edu site OUT_DIR` on bad input: one clear line, exit 2, nothing built.

The site itself is built and checked in a browser by tests/test_site_browser.py."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

from vae_edu.tooling.cli import main
from vae_edu.tooling.site import write_source

ROOT = Path(__file__).resolve().parents[1]


def _course_copy(tmp_path: Path) -> Path:
    course = tmp_path / "course-copy"
    shutil.copytree(ROOT / "course", course / "course")
    for folder in ("lectures", "exercises"):
        (course / folder).mkdir(parents=True)
        for nb in (ROOT / folder).glob("[0-9][0-9]_*.ipynb"):
            (course / folder / nb.name).write_text('{"cells": [], "metadata": {}}')
    return course


def test_a_notebook_missing_from_the_toc_is_one_clear_line(tmp_path, capsys):
    course = _course_copy(tmp_path)
    (course / "lectures" / "07_conv_vae.ipynb").unlink()
    assert main(["site", str(tmp_path / "out"), "--course", str(course)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lectures/07_conv_vae.ipynb" in err and "missing" in err


def test_an_unwritable_out_dir_is_one_clear_line(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(["site", str(blocker / "site"), "--course", str(ROOT)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vae-edu site: cannot write the site into") and "\n" not in err


def test_the_course_folder_itself_is_refused_as_out_dir(capsys):
    assert main(["site", str(ROOT), "--course", str(ROOT)]) == 2
    assert "looks like a course folder" in capsys.readouterr().err


def test_sphinx_missing_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_sphinx(name, *args, **kwargs):
        if name.split(".")[0] in ("sphinx", "myst_nb"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sphinx)
    assert main(["site", str(tmp_path / "out"), "--course", str(ROOT)]) == 2
    err = capsys.readouterr().err
    assert "sphinx, myst_nb" in err and '.[site]' in err


def test_the_source_tree_has_student_exercises_no_widgets_and_local_mathjax(tmp_path):
    from vae_edu.tooling.course import load_course

    course = load_course(ROOT)
    src = tmp_path / "src"
    pages = write_source(course, src, jupyterhub="https://hub.example.edu/")
    assert pages == len(course.notebooks) + 4  # + syllabus, guides and the index
    assert not (src / "solutions").exists()
    assert sorted(p.name for p in (src / "exercises").iterdir()) == sorted(
        Path(nb.path).name for nb in course.exercises)
    assert (src / "_static" / "mathjax" / "MathJax.js").is_file()
    # the accessibility menu of the config loads these when a reader turns them on
    a11y = src / "_static" / "mathjax" / "extensions" / "a11y"
    assert (a11y / "explorer.js").is_file() and (a11y / "mathmaps").is_dir()
    import matplotlib.image

    icon = matplotlib.image.imread(src / "_static" / "favicon.png")
    assert icon.shape[:2] == (32, 32) and icon[16, 16, 0] == 0 and icon[5, 16, 0] > 0.9  # a ring
    conf = (src / "conf.py").read_text()
    assert 'html_favicon = "_static/favicon.png"' in conf
    assert 'nb_execution_mode = "off"' in conf and "https://hub.example.edu" in conf
    assert course.release.repository in conf
    for nb in (src / "lectures").glob("*.ipynb"):
        text = nb.read_text()
        assert "widget-view+json" not in text and "colab-badge.svg" not in text


def test_a_folder_without_a_course_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["site", str(tmp_path / "out"), "--course", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vae-edu site:") and "toc.toml" in err and "\n" not in err
