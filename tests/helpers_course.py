"""A throwaway course for the tests of the TOC (test_course.py) and of ``vae-edu colab``
(test_colab.py): a minimal ``course/toc.toml`` and the folder that holds it."""

from __future__ import annotations

from pathlib import Path

#: One lecture, lectures/00_intro.ipynb, in week 1, and the repository Colab badges open.
TOC = """\
[colab]
repository = "someone/course"

[[lecture]]
file = "lectures/00_intro.ipynb"
title = "Intro"
week = 1
"""

#: An exercise on lecture 00 in week 2, exercises/01_first.ipynb: to go after TOC.
EXERCISE = """
[[exercise]]
file = "exercises/01_first.ipynb"
title = "First"
lectures = ["00"]
week = 2
"""


def course_folder(tmp_path: Path, toc: str = TOC) -> Path:
    """``tmp_path`` made a course: ``course/toc.toml`` holding ``toc``, an empty lectures/."""
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "toc.toml").write_text(toc)
    (tmp_path / "lectures").mkdir()
    return tmp_path
