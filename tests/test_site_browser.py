"""The course website (`vae-edu site`) in a real browser, offline.

The site is built ONCE (module fixture, a temporary folder; the build time and size are
printed) and served on 127.0.0.1; headless Chromium (the system one, as
tests/test_browser.py: ``/usr/bin/chromium`` or ``VAE_EDU_CHROMIUM``) opens every page.
Any request to another host is aborted and counted: the site must work offline. Checked:

* every page loads with no console error, no failed request (status 400 or more, or
  one that failed) and no missing image, MathJax's work included: each page is checked
  once MathJax has finished typesetting (its own queue says so), and every formula must
  have rendered (no error box, no formula left as TeX);
* every local link resolves to a file of the site;
* every ``<img>`` has a non-empty ``alt`` (a figure without ``vae_edu.viz.describe``
  shows up here as ``alt=""``, see vae_edu/tooling/site_alt.py), but on the pages of the
  lectures not yet re-executed with it (tests/helpers_alt.py, a set that only shrinks);
* on a lecture page, moving a kernel-free slider (vae_edu.kernel_free) changes the image
  shown, and MathJax's accessibility explorer loads from the site.

``VAE_EDU_SITE_SCREENSHOT=1`` also writes docs/site_screenshot.png (a lecture page with a
kernel-free slider). ``VAE_EDU_SKIP_BROWSER=1`` leaves the test out, as test_browser.py.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from helpers_alt import NOT_YET_DESCRIBED

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # reported by _require
    PlaywrightTimeout = TimeoutError

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("VAE_EDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
SCREENSHOT = ROOT / "docs" / "site_screenshot.png"
#: The course to build (another folder: VAE_EDU_SITE_COURSE, e.g. a copy with fresh runs).
COURSE_DIR = Path(os.environ.get("VAE_EDU_SITE_COURSE", ROOT))
#: The lecture whose slider is moved (and photographed).
SLIDER_PAGE = "lectures/06_vae.html"


def _require(browser: bool) -> None:
    missing = []
    if browser:
        if os.environ.get("VAE_EDU_SKIP_BROWSER") == "1":
            pytest.skip("VAE_EDU_SKIP_BROWSER=1: the real-browser test of the site is left out")
        if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
            missing.append(f"Chromium at {CHROMIUM} (`apt-get install chromium`)")
    modules = ("playwright.sync_api",) if browser else ("sphinx", "myst_nb", "sphinx_book_theme")
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            missing.append(f"the Python package {module.split('.')[0]} "
                           "(`pip install -e \".[test]\"`)")
    if missing:
        pytest.fail("the site's browser test needs " + " and ".join(missing), pytrace=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    _require(browser=False)
    from vae_edu.tooling.site import build_site

    out = tmp_path_factory.mktemp("site") / "html"
    report = build_site(out, course_dir=COURSE_DIR)
    print(f"\nsite: {report.pages} pages built in {report.seconds:.0f} s, "
          f"{report.megabytes:.1f} MB, {len(report.warnings)} warning(s)")
    for warning in report.warnings:
        print(warning)
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield out, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output for failures
        pass


@pytest.fixture(scope="module")
def browser(site):
    _require(browser=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _pages(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")
                  if not p.relative_to(out).as_posix().startswith(("_", "genindex")))


#: Pushed onto MathJax 2's queue (MathJax.Hub.Queue: first in, first out) after the page's
#: startup chain, so it runs once the typesetting (and the fonts it waits for) is done.
_MATHJAX_DONE = """() => { window.vaeEduMathDone = false;
  MathJax.Hub.Queue(function () { window.vaeEduMathDone = true; }); }"""
#: What a page with math shows where a formula did not render: MathJax's error box, the
#: noErrors/noUndefined extensions' marks, or a math element left as TeX source.
_MATH_PROBLEMS = """() => {
  const found = [...document.querySelectorAll('.MathJax_Error, .merror, .noError')]
    .map(e => 'MathJax error: ' + e.textContent.slice(0, 80));
  if (document.body.innerText.includes('Math Processing Error')) {
    found.push('Math Processing Error');
  }
  for (const e of document.querySelectorAll('.math.notranslate')) {  // Sphinx's, not MathJax's
    if (!e.querySelector('.MathJax, .MathJax_Display')) {
      found.push('formula not typeset: ' + e.textContent.trim().slice(0, 80));
    }
  }
  return found; }"""
_SLIDERS_STARTED = """() => [...document.querySelectorAll('.vae-edu-slider')]
  .every(s => s.querySelector('canvas.vae-edu-frame'))"""


class PageVisit:
    """One page opened with its console errors, failed and remote requests recorded, and
    its scripts done: the kernel-free sliders started, MathJax finished typesetting (and
    the browser done with every font the page asked for), as ``math`` says."""

    def __init__(self, browser, base: str, rel: str):
        self.errors, self.remote, self.failed, self.math = [], [], [], []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        host = urlparse(base).netloc

        def route(r):
            if urlparse(r.request.url).netloc not in (host, "") and not r.request.url.startswith(
                    ("data:", "blob:", "about:")):
                self.remote.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        def failed(r):
            if r.url not in self.remote and not any(f.endswith(" " + r.url) for f in self.failed):
                self.failed.append(f"{r.failure} {r.url}")

        self.page.route("**/*", route)
        # every console error counts, Chromium's request for the site's icon too (the
        # site declares one, vae_edu.tooling.site._favicon)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", failed)
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(
            f"{r.status} {r.url}"))
        self.url = urljoin(base, rel)
        self.page.goto(self.url, wait_until="load")
        page = self.page
        try:  # a slider starts when its image sheet has loaded (a missing one: see images)
            page.wait_for_function(_SLIDERS_STARTED, timeout=5_000)
        except PlaywrightTimeout:
            pass
        if page.query_selector('script[src*="mathjax/MathJax.js"]'):
            if not page.evaluate("() => !!(window.MathJax && MathJax.Hub)"):
                self.math.append("MathJax did not start")
            else:
                page.evaluate(_MATHJAX_DONE)
                try:
                    page.wait_for_function("() => window.vaeEduMathDone", timeout=60_000)
                except PlaywrightTimeout:
                    self.math.append("MathJax did not finish within 60 s")
                self.math += page.evaluate(_MATH_PROBLEMS)
        page.evaluate("() => document.fonts.ready.then(() => true)")
        page.wait_for_timeout(100)  # the network events of the last requests

    def close(self):
        self.context.close()


def test_every_page_loads_offline_without_errors_broken_links_or_missing_alt(site, browser):
    out, base = site
    pages = _pages(out)
    assert SLIDER_PAGE in pages and "index.html" in pages
    assert any(p.startswith("exercises/") for p in pages)
    assert {"course/syllabus.html", "course/instructor_guide.html",
            "course/grading.html"} <= set(pages)
    problems = []
    start = time.perf_counter()
    for rel in pages:
        visit = PageVisit(browser, base, rel)
        page = visit.page
        for kind, items in (("console error", visit.errors), ("remote request", visit.remote),
                            ("failed request", visit.failed), ("math", visit.math)):
            problems += [f"{rel}: {kind}: {item}" for item in items]
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src'), e.getAttribute('alt'),"
            " e.complete && e.naturalWidth > 0])")
        for src, alt, loaded in images:
            exempt = rel.startswith("lectures/") and rel.split("/")[1][:2] in NOT_YET_DESCRIBED
            if not (alt or "").strip() and not exempt:
                problems.append(f"{rel}: <img src={src[:60]!r}> has no alt text")
            if not loaded:
                problems.append(f"{rel}: image {src[:60]!r} did not load")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parsed = urlparse(href)
            if parsed.scheme in ("http", "https") and parsed.netloc != urlparse(base).netloc:
                continue  # a link out (GitHub, Colab, a paper), not requested here
            if parsed.scheme not in ("http", "https"):
                continue  # mailto:, javascript:
            target = out / unquote(parsed.path.lstrip("/"))
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                problems.append(f"{rel}: broken link {href}")
        visit.close()
    print(f"{len(pages)} pages checked in {time.perf_counter() - start:.0f} s")
    assert not problems, "\n".join(problems[:40]) + (
        f"\n... and {len(problems) - 40} more" if len(problems) > 40 else "")


def test_moving_a_kernel_free_slider_changes_the_image(site, browser):
    _, base = site
    visit = PageVisit(browser, base, SLIDER_PAGE)
    page = visit.page
    sliders = page.locator(".vae-edu-slider")
    assert sliders.count() >= 1, f"{SLIDER_PAGE} has no kernel-free slider"
    slider = sliders.first
    slider.scroll_into_view_if_needed()
    canvas = slider.locator("canvas.vae-edu-frame")
    before = canvas.evaluate("c => c.toDataURL()")
    caption = slider.locator(".vae-edu-caption").inner_text()
    handle = slider.locator("input[type=range]").last
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    after = canvas.evaluate("c => c.toDataURL()")
    assert after != before, "the image did not change when the slider moved"
    assert slider.locator(".vae-edu-caption").inner_text() != caption
    assert canvas.get_attribute("aria-label")
    if os.environ.get("VAE_EDU_SITE_SCREENSHOT") == "1":
        page.wait_for_timeout(200)
        slider.evaluate("e => e.scrollIntoView({block: 'center'})")
        page.screenshot(path=str(SCREENSHOT))
        print(f"screenshot: {SCREENSHOT}")
    assert not (visit.errors or visit.failed or visit.remote or visit.math), (
        visit.errors, visit.failed, visit.remote, visit.math)
    visit.close()


def test_the_math_accessibility_explorer_loads_offline(site, browser):
    """The accessibility menu of MathJax's config loads its explorer (a formula read out as
    speech) from the site itself, as a reader who turns it on gets it."""
    _, base = site
    visit = PageVisit(browser, base, SLIDER_PAGE)
    # false after 20 s if the file never arrives (MathJax would otherwise wait on it)
    loaded = visit.page.evaluate("""() => Promise.race([
        new Promise(done => MathJax.Hub.Queue(
            ["Require", MathJax.Ajax, "[a11y]/explorer.js"],
            () => done(!!MathJax.Extension.explorer))),
        new Promise(done => setTimeout(() => done(false), 20000))])""")
    visit.page.wait_for_timeout(300)  # the network events of its last requests
    assert loaded, "MathJax's a11y explorer did not load"
    assert not (visit.errors or visit.failed or visit.remote), (
        visit.errors, visit.failed, visit.remote)
    visit.close()


def test_no_solution_reaches_the_site(site):
    """The exercises are the student versions: no line of a solution block (20 characters
    or more, as tests/test_release.py) is in any file of the site, unless the course's
    public teaching material (lectures, library) holds it anyway."""
    from test_release import public_material, solution_lines

    out, _ = site
    assert not (out / "solutions").exists()
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in out.rglob("*")
                     if p.is_file() and p.suffix in (".html", ".ipynb", ".txt", ".js", ".md"))
    public = public_material()
    leaked = sorted(line for line in solution_lines() if line in text and line not in public)
    assert not leaked, f"solution lines on the site: {leaked[:10]}"
