"""``vae-edu site OUT_DIR``: the course as a static website, offline, from ``course/toc.toml``.

Built with Sphinx, myst-nb and sphinx-book-theme (the extra ``site``:
``pip install -e ".[site]"``).  myst-nb renders what the notebooks store and executes
nothing (``nb_execution_mode = "off"``), so the site shows the outputs of the stored
default runs, and a cell's ``text/html`` output wins over its ``image/png`` (myst-nb's
render priority): the kernel-free sliders of :mod:`vae_edu.kernel_free` work in the page.

What goes in (all listed in the TOC, or next to it in ``course/``):

- every lecture, with its stored outputs; live widgets (ipywidgets) show their text
  ("a live widget: run the cell in a kernel"), the kernel-free slider below them works;
- the exercises, the STUDENT versions from ``exercises/`` only (never ``solutions/``);
- the syllabus, the instructor guide and the grading policy (``course/*.md``).

Offline: MathJax is served from the site itself (a copy of the MathJax 2 that the
``jupyter-server-mathjax`` package ships: HTML-CSS output with its STIX-Web fonts, no
other font requested); the theme's fonts and scripts are its own.  Each lecture page has
launch buttons: Colab and Binder (the student release repository, as the notebooks' Colab
badges) and, with ``--jupyterhub URL``, a JupyterHub (nbgitpuller) link.

The alt text of each figure (``vae_edu.viz.describe``, stored in the output's metadata)
becomes the ``alt`` of its ``<img>``; an image without one gets ``alt=""``, which
tests/test_site_browser.py reports.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .colab import _BADGE_RE, badge_url
from .course import Course, load_course

__all__ = ["SiteError", "SiteReport", "build_site"]

#: The course pages of course/ that the site shows, with their titles in the menu.
COURSE_PAGES = ("syllabus.md", "instructor_guide.md", "grading.md")

#: Files of course/ that those pages link to (shown as downloads).
COURSE_FILES = ("toc.toml", "grade_github_actions.yml", "grade_slurm.sh")

_WIDGET_MIMES = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)


class SiteError(RuntimeError):
    """The site cannot be built; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class SiteReport:
    out_dir: Path
    pages: int
    seconds: float
    megabytes: float
    warnings: list[str]


def _check_builder() -> None:
    missing = []
    for module in ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise SiteError(
            f"the website needs {', '.join(missing)} (not installed); install the extra: "
            "pip install -e \".[site]\""
        )


def _check_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as err:
        raise SiteError(f"cannot write the site into {out}: {err.strerror or err}") from err
    if out.resolve() == Path.cwd().resolve() or (out / "course" / "toc.toml").exists():
        raise SiteError(f"{out} looks like a course folder, not an output folder; pick another")


def _mathjax(static: Path) -> None:
    """Copy MathJax 2 (its combined TeX/MathML config, HTML-CSS output with the STIX-Web
    fonts it ships, and the a11y extensions: the config's accessibility menu loads the
    explorer, which speaks a formula, and collapsible math from there when a reader turns
    them on; 3.7 MB, once per site) into _static; its SVG output and translations are left
    out."""
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    skip = shutil.ignore_patterns("SVG", "*.md")
    shutil.copytree(src, static / "mathjax", ignore=lambda d, names: (
        skip(d, names) | ({"localization"} if Path(d) == src else set())))


def _notebook_for_site(src: Path, dst: Path, colab_url: str) -> None:
    """A copy without live-widget outputs (they need a kernel, and myst-nb would load the
    widget manager from a CDN): the widget's text/plain, which says so, stays.  The
    "Open in Colab" badge becomes a text link (the badge image is on Colab's server) to
    the student release, as the page's launch button."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("widgets", None)
    first = nb["cells"][0] if nb.get("cells") else None
    if first and first.get("cell_type") == "markdown":
        text = "".join(first["source"])
        first["source"] = _BADGE_RE.sub(f"[Open this notebook in Colab]({colab_url})\n\n", text)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data:
                for mime in _WIDGET_MIMES:
                    data.pop(mime, None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _index(course: Course) -> str:
    def toctree(caption: str, entries: list[str]) -> str:
        lines = "\n".join(entries)
        return f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n\n{lines}\n```\n"

    lectures = [nb.path.removesuffix(".ipynb") for nb in course.lectures]
    exercises = [nb.path.removesuffix(".ipynb") for nb in course.exercises]
    pages = [f"course/{p.removesuffix('.md')}" for p in COURSE_PAGES]
    listing = "\n".join(
        f"- week {nb.week}: [{nb.title}]({nb.path})" for nb in course.lectures
    )
    return (
        f"# {course.title}\n\n"
        "A course you learn by running, reading and changing code: each lecture is a "
        "Jupyter notebook, shown here with the outputs of its stored run (nothing is "
        "executed to build this site). The sliders under the live widgets work in the "
        "page; to change the code, open a lecture on Colab, Binder or your JupyterHub "
        "with the rocket button at the top of its page.\n\n"
        f"{listing}\n\n"
        + toctree("Lectures", lectures)
        + "\n"
        + toctree("Exercises (student versions)", exercises)
        + "\n"
        + toctree("Course", pages)
    )


_CONF = '''# Written by `vae-edu site`; the site is rebuilt from the course, do not edit.
project = {title!r}
author = "the vae_edu course"
copyright = "the vae_edu course, MIT licence"
extensions = ["myst_nb", "vae_edu.tooling.site_alt"]
exclude_patterns = ["_build"]
nb_execution_mode = "off"  # render the stored outputs, execute nothing
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_update_mathjax = False
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
html_theme = "sphinx_book_theme"
html_context = {{"default_mode": "light"}}
html_title = {title!r}
html_static_path = ["_static"]
html_favicon = "_static/favicon.png"  # drawn by vae-edu site; without it: /favicon.ico
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
mathjax_path = "mathjax/MathJax.js"
mathjax2_config = {{
    "config": ["TeX-AMS-MML_HTMLorMML-full.js"],
    "tex2jax": {{
        "inlineMath": [["\\\\(", "\\\\)"]],
        "displayMath": [["\\\\[", "\\\\]"]],
        "processEscapes": True,
        "ignoreClass": "document",
        "processClass": "math|output_area",
    }},
    "HTML-CSS": {{
        "availableFonts": ["STIX-Web"],
        "preferredFont": "STIX-Web",
        "webFont": "STIX-Web",
        "imageFont": None,
        # MathJax 2 declares a MathJax_Blank font at url('about:blank'), a request that
        # Chromium refuses (a console error on every page with math); a local() source
        # gives the same "no font" without a request
        "styles": {{"@font-face": {{"font-family": "MathJax_Blank",
                                    "src": "local('MathJax_Blank')"}}}},
    }},
    # the combined config also starts the NativeMML output, whose styles give MathML with
    # mathvariant="script" (\\mathcal), "double-struck" (\\mathbb) or "fraktur" the TeX
    # web fonts (@font-face, fonts/HTML-CSS/TeX/otf, files the package does not ship);
    # the AssistiveMML extension puts such MathML, hidden, next to every formula, so
    # Chromium requested them (404s); local() sources, as for MathJax_Blank above
    "NativeMML": {{"styles": {native_mml_styles!r}}},
    "showMathMenu": False,
    "messageStyle": "none",
}}
html_theme_options = {{
    "repository_url": {repository_url!r},
    "repository_branch": {branch!r},
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": False,
    "launch_buttons": {launch!r},
    "show_toc_level": 2,
}}
'''


#: The @font-face rules of MathJax 2's NativeMML output (2.7.9, in the combined config
#: TeX-AMS-MML_HTMLorMML-full.js, numbered as there) and the TeX font file of each.
_NATIVE_MML_FONTS = ("Caligraphic-Regular", "Caligraphic-Bold", "AMS-Regular",
                     "Script-Regular", "Fraktur-Regular", "Fraktur-Bold")


def _conf(course: Course, jupyterhub: str | None) -> str:
    release = course.release or course.colab
    launch = {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    }
    if jupyterhub:
        launch["jupyterhub_url"] = jupyterhub.rstrip("/")
    return _CONF.format(
        title=course.title,
        repository_url=f"https://github.com/{release.repository}",
        branch=release.branch,
        launch=launch,
        native_mml_styles={f"@font-face /*{i}*/": {"src": f"local('MathJax_{font}')"}
                           for i, font in enumerate(_NATIVE_MML_FONTS, start=1)},
    )


def write_source(course: Course, src: Path, *, jupyterhub: str | None = None) -> int:
    """Write the Sphinx source tree of the site into ``src``; returns the page count."""
    problems = [p for p in course.problems() if "file is missing" in p]
    if problems:
        raise SiteError(problems[0] + "; fix course/toc.toml or restore the file")
    release = course.release or course.colab
    pages = 0
    for nb in course.notebooks:  # lectures/ and exercises/ (the student versions)
        if not nb.path.startswith(("lectures/", "exercises/")):
            raise SiteError(f"{nb.path}: the site takes lectures/ and exercises/ only")
        _notebook_for_site(course.path(nb), src / nb.path, badge_url(release, nb.path))
        pages += 1
    for name in COURSE_PAGES:
        page = course.root / "course" / name
        if not page.is_file():
            raise SiteError(f"course/{name} is missing; the site shows it (restore it)")
        (src / "course").mkdir(parents=True, exist_ok=True)
        shutil.copy2(page, src / "course" / name)
        pages += 1
    for name in COURSE_FILES:
        if (course.root / "course" / name).is_file():
            shutil.copy2(course.root / "course" / name, src / "course" / name)
    (src / "index.md").write_text(_index(course), encoding="utf-8")
    (src / "conf.py").write_text(_conf(course, jupyterhub), encoding="utf-8")
    _mathjax(src / "_static")
    _favicon(src / "_static" / "favicon.png")
    return pages + 1


def _favicon(path: Path) -> None:
    """A 32 x 32 icon: a white ring on black, a zero as MNIST draws it (no file to ship)."""
    import numpy as np
    from matplotlib.image import imsave

    y, x = np.mgrid[0:32, 0:32] - 15.5
    radius = np.hypot(x / 0.8, y)  # an upright ellipse, as a handwritten 0
    ring = np.clip(1.0 - np.abs(radius - 10.5) / 2.5, 0.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    imsave(path, ring, cmap="gray", vmin=0.0, vmax=1.0)


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def build_site(
    out_dir: str | os.PathLike,
    *,
    course_dir: str | os.PathLike | None = None,
    jupyterhub: str | None = None,
    jobs: int = 1,
) -> SiteReport:
    """Build the website of the course into ``out_dir`` (its ``index.html``).

    Raises:
        SiteError: Sphinx or the theme missing, ``out_dir`` not writable, a notebook or
            page of the TOC missing, or sphinx-build failing (its last lines quoted).
    """
    _check_builder()
    course = load_course(course_dir)
    out = Path(out_dir)
    _check_out_dir(out)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vae-edu-site-") as tmp:
        src = Path(tmp) / "src"
        pages = write_source(course, src, jupyterhub=jupyterhub)
        doctrees = Path(tmp) / "doctrees"
        cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(jobs),
               "-d", str(doctrees), str(src), str(out)]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
            raise SiteError(f"sphinx-build failed (exit {done.returncode}):\n{tail}")
    warnings = [line for line in done.stderr.splitlines() if "WARNING" in line]
    return SiteReport(out, pages, time.perf_counter() - start, _size_mb(out), warnings)
