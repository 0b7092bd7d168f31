"""The widgets of lectures 06 and 08 work in a real browser, in a real JupyterLab.

A JupyterLab server is started on 127.0.0.1 (a free port, a random token, its own config,
runtime, data and settings folders, ``VAE_EDU_PROFILE=smoke``, ``VAE_EDU_OFFLINE=1``) on
copies of the two lectures, and headless Chromium, driven by Playwright, opens each one,
waits until JupyterLab says its kernel is connected and idle, runs all its cells once (the
Run menu's command, whose promise settles when every cell has run), drags the widgets'
sliders with the keyboard and checks that the decoded image changed: the ``src`` of the
widget's ``<img>`` (a new PNG from the kernel) and the pixels on screen. JupyterLab's state
is read through the app object it exposes with ``--LabApp.expose_app_in_browser``.

Needs Debian's Chromium at ``/usr/bin/chromium`` (``apt-get install chromium``; another
path: ``VAE_EDU_CHROMIUM``) and the ``playwright`` Python package (in the ``test`` extra;
never run ``playwright install``: the system Chromium is used). Without them the test
FAILS and says how to install them; ``.ci/run`` installs both. To leave the test out on a
machine without a browser, set ``VAE_EDU_SKIP_BROWSER=1``.

Screenshots go to pytest's temporary folder (their paths are printed); with
``VAE_EDU_README_SCREENSHOT=1`` the one shown in the README is also copied to
``docs/jupyterlab_widgets.png`` (``VAE_EDU_BROWSER_PROFILE=default`` trains the models
longer, for a nicer picture).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from vae_edu.tooling.course import load_course

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
COURSE = load_course(ROOT)
SKIP_ENV = "VAE_EDU_SKIP_BROWSER"
CHROMIUM = Path(os.environ.get("VAE_EDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
PROFILE = os.environ.get("VAE_EDU_BROWSER_PROFILE", "smoke")
README_SCREENSHOT = ROOT / "docs" / "jupyterlab_widgets.png"
#: Seconds for "Run All Cells" of one lecture (smoke profile: about a minute on one core).
RUN_TIMEOUT = 300 if PROFILE == "smoke" else 1800
#: Seconds for one slider move to come back from the kernel as a new image.
UPDATE_TIMEOUT = 30


def _lecture(number: str) -> Path:
    entry = next((nb for nb in COURSE.lectures if nb.number == number), None)
    assert entry is not None, f"course/toc.toml lists no lecture {number}"
    path = COURSE.path(entry)
    assert path.is_file(), f"{entry.path} is listed in course/toc.toml but missing"
    return path


def _require_browser() -> None:
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: the real-browser test of the widgets is left out")
    missing = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"Chromium at {CHROMIUM} (Debian/Ubuntu: "
                       "`sudo apt-get install -y --no-install-recommends chromium`; "
                       "elsewhere point VAE_EDU_CHROMIUM at a Chromium or Chrome binary)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (`pip install -e \".[test]\"`, or "
                       "`pip install playwright`; do NOT run `playwright install`, the test "
                       "uses the system Chromium)")
    if missing:
        pytest.fail(
            "the real-browser test of the widgets needs " + " and ".join(missing)
            + ". CI (.ci/run) installs both. To leave this test out on a machine without "
            f"a browser, set {SKIP_ENV}=1.",
            pytrace=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (Linux); empty elsewhere."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _stop_server(proc: subprocess.Popen) -> None:
    """Stop the server, its process group and the kernels it started (each kernel has a
    session of its own, so the process group alone would miss them)."""
    kernels = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    for pid in kernels:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _lab_settings(folder: Path) -> None:
    """No news or update checks (nothing may reach the network), every cell in the DOM."""
    settings = {
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                        "checkForUpdates": False},
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    }
    for name, values in settings.items():
        path = folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on copies of lectures 06 and 08: ``(base URL, token)``."""
    work = tmp_path_factory.mktemp("jupyterlab")
    notebooks = work / "notebooks"
    notebooks.mkdir()
    for number in ("06", "08"):
        # Lab saves into the copies, not lectures/. The copies start without outputs and
        # execution counts: Lab's "Clear Outputs" leaves the count of a cell that has no
        # output (the Colab install cell), which made "has every cell run?" pass too early.
        copy = nbformat.read(_lecture(number), as_version=4)
        for cell in copy.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(copy, notebooks / _lecture(number).name)
    config = work / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"}
    }))
    (config / "labconfig").mkdir()  # no "is a rebuild needed?" check on every page load
    (config / "labconfig" / "page_config.json").write_text(json.dumps({
        "buildCheck": False, "buildAvailable": False
    }))
    _lab_settings(work / "lab-settings")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAE_EDU_", "JUPYTER"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
        JUPYTER_DATA_DIR=str(work / "data"), JUPYTERLAB_SETTINGS_DIR=str(work / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(work / "workspaces"), IPYTHONDIR=str(work / "ipython"),
        MPLCONFIGDIR=str(work / "matplotlib"), VAE_EDU_CACHE=str(work / "cache"),
        VAE_EDU_PROFILE=PROFILE, VAE_EDU_OFFLINE="1", PYTHONHASHSEED="0",
        # one torch thread per kernel: on a 2-core machine, kernels that take both cores
        # starve the server and Chromium, and Lab's kernel start and "Run All" then stall
        OMP_NUM_THREADS="1",
    )
    port, token = _free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: its session/kernel state
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = work / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start; its log ({log_path}):\n"
                                + log_path.read_text()[-3000:], pytrace=False)
                time.sleep(0.3)
        yield base, token
    finally:
        _stop_server(proc)


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    # On a loaded machine JupyterLab sometimes asks which kernel to start (its kernel
    # start timed out); accept the one it proposes, the notebook's Python 3, before any
    # click or scroll of the test.
    kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.add_locator_handler(
        kernel_dialog, lambda dialog: dialog.locator("button.jp-mod-accept").click()
    )
    try:
        yield page
    finally:
        context.close()


@contextlib.contextmanager
def screenshot_on_failure(page, shots: Path, name: str):
    """On any failure, save the whole page (to see what went wrong) and re-raise."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            path = shots / f"{name}_failure.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot of the failure: {path}")
        raise


# ------------------------------------------------------------------------------ helpers


#: The notebook (each test opens one, in a reset workspace).
NOTEBOOK = ".jp-NotebookPanel"
_PROMPTS = (f"() => [...document.querySelectorAll('{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt')]"
            ".map(e => e.textContent.trim())")


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).first.click()


#: JupyterLab's own state of the open notebook's session and kernel, read through the app
#: object that ``--LabApp.expose_app_in_browser`` puts on ``window.jupyterapp``.
_SESSION_STATE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.sessionContext) return {ready: false, why: 'no notebook panel'};
  const context = panel.sessionContext;
  const kernel = context.session && context.session.kernel;
  return {ready: context.isReady && !!kernel && kernel.connectionStatus === 'connected'
                 && kernel.status === 'idle',
          why: kernel ? `kernel ${kernel.status}, ${kernel.connectionStatus}`
                      : (context.isReady ? 'no kernel' : 'session starting')};
}"""

#: Run every cell with the command the Run menu issues; the promise settles when every
#: cell has run (true) or one failed (false).
_RUN_ALL = """async (seconds) => {
  const timeout = new Promise(resolve => setTimeout(() => resolve('timeout'), seconds * 1000));
  return await Promise.race(
    [window.jupyterapp.commands.execute('notebook:run-all-cells'), timeout]);
}"""


def _wait_for_idle_kernel(page, name: str, timeout: float) -> None:
    """Wait until JupyterLab says the notebook's session is ready and its kernel is
    connected and idle, accepting the "Select Kernel" dialog a slow kernel start brings."""
    deadline = time.monotonic() + timeout
    while True:
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        if dialog.count():
            dialog.locator("button.jp-mod-accept").click()
        state = page.evaluate(_SESSION_STATE)
        if state["ready"]:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: the kernel was not ready within {timeout:.0f} s "
                        f"({state['why']})", pytrace=False)
        time.sleep(0.25)


def open_and_run_all(page, lab, name: str) -> None:
    """Open a notebook, clear its stored outputs, wait for an idle kernel, run all cells
    once and wait for JupyterLab to say they ran."""
    base, token = lab
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")  # reset: no tabs of a test before
    page.wait_for_selector(f"{NOTEBOOK} .jp-CodeCell")
    assert page.locator(NOTEBOOK).count() == 1, "expected one open notebook"
    _wait_for_idle_kernel(page, name, timeout=180)
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => ({_PROMPTS})().every(p => !/\\d/.test(p))")
    outcome = page.evaluate(_RUN_ALL, RUN_TIMEOUT)
    prompts = page.evaluate(_PROMPTS)
    if outcome == "timeout":
        pytest.fail(f"{name}: 'Run All Cells' did not finish within {RUN_TIMEOUT} s; "
                    f"prompts: {prompts}", pytrace=False)
    if outcome is not True or not all(any(ch.isdigit() for ch in p) for p in prompts):
        errors = page.locator(
            f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        ran = [i for i, p in enumerate(prompts) if any(ch.isdigit() for ch in p)]
        pytest.fail(f"{name}: 'Run All Cells' stopped after code cell "
                    f"{(ran[-1] + 1) if ran else 0} of {len(prompts)} (JupyterLab said "
                    f"{outcome!r}); stderr/errors shown:\n" + "\n".join(errors)[-3000:],
                    pytrace=False)


def widget_cell(page, call: str):
    """The code cell whose source contains ``call`` and whose output is a live widget."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    cell = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text=call).filter(
        has=page.locator(".jp-OutputArea-output img.widget-image")
    ).first
    try:
        cell.scroll_into_view_if_needed()
    except PlaywrightTimeout:
        shown = page.locator(f"{NOTEBOOK} .jp-CodeCell", has_text=call)
        outputs = [c.locator(".jp-OutputArea").inner_html()[:1500] for c in shown.all()]
        pytest.fail(f"no live widget image in the cell calling {call!r}; "
                    f"{len(outputs)} such cell(s), their outputs:\n" + "\n---\n".join(outputs),
                    pytrace=False)
    return cell


def move_slider_and_check(page, cell, slider: int, images: list[int], key: str = "End"):
    """Press ``key`` on the ``slider``-th slider of ``cell``; check that each of its
    ``images`` (indices of ``img.widget-image``) gets a new ``src`` and new pixels."""
    handles = cell.locator(".widget-slider .noUi-handle")
    imgs = [cell.locator("img.widget-image").nth(i) for i in images]
    for img in imgs:
        img.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                               arg=img.element_handle())
    before_src = [img.get_attribute("src") for img in imgs]
    before_png = [img.screenshot() for img in imgs]
    handle = handles.nth(slider)
    value_before = handle.get_attribute("aria-valuenow")
    handle.focus()
    handle.press(key)
    page.wait_for_function("([h, v]) => h.getAttribute('aria-valuenow') !== v",
                           arg=[handle.element_handle(), value_before])
    value_after = handle.get_attribute("aria-valuenow")
    for img, src in zip(imgs, before_src, strict=True):
        page.wait_for_function(
            "([img, src]) => img.src !== src && img.complete && img.naturalWidth > 0",
            arg=[img.element_handle(), src], timeout=UPDATE_TIMEOUT * 1000,
        )
    for k, (img, png) in enumerate(zip(imgs, before_png, strict=True)):
        assert img.screenshot() != png, (
            f"slider moved from {value_before} to {value_after}, the image got a new src "
            f"but image {images[k]} shows the same pixels"
        )
    return value_before, value_after


def save(cell, shots: Path, name: str, readme: bool = False) -> Path:
    path = shots / name
    cell.screenshot(path=str(path))
    print(f"screenshot: {path}")
    if readme and os.environ.get("VAE_EDU_README_SCREENSHOT") == "1":
        README_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copy(path, README_SCREENSHOT)
        print(f"copied to {README_SCREENSHOT}")
    return path


# -------------------------------------------------------------------------------- tests


@contextlib.contextmanager
def lecture_run(request, shots: Path, number: str):
    """Check for the browser first (a clear failure, not a fixture error), then start
    JupyterLab, open a page, open lecture ``number`` in it and run all its cells; yields
    the page. On any failure from opening on, a screenshot ``<number>_failure.png``."""
    _require_browser()
    lab, page = request.getfixturevalue("lab"), request.getfixturevalue("page")
    with screenshot_on_failure(page, shots, number):
        open_and_run_all(page, lab, _lecture(number).name)
        yield page


def test_lecture_06_latent_sliders_and_manifold_explorer_decode_new_images(request, shots):
    with lecture_run(request, shots, "06") as page:
        sliders = widget_cell(page, "LatentSliders(")
        assert sliders.locator(".widget-slider").count() >= 2, "LatentSliders shows no sliders"
        save(sliders, shots, "06_latent_sliders_before.png")
        move_slider_and_check(page, sliders, slider=0, images=[0])
        save(sliders, shots, "06_latent_sliders_after.png")

        explorer = widget_cell(page, "ManifoldExplorer(")
        # the map (with its marker) and the decoded digit; slider 0 is z2 (vertical), 1 is z1
        assert explorer.locator("img.widget-image").count() == 2
        move_slider_and_check(page, explorer, slider=1, images=[0, 1])
        save(explorer, shots, "06_manifold_explorer.png", readme=True)


def test_lecture_08_attribute_progression_decodes_new_images(request, shots):
    with lecture_run(request, shots, "08") as page:
        progression = widget_cell(page, "AttributeProgression(")
        before, after = move_slider_and_check(page, progression, slider=0, images=[0])
        assert float(after) > float(before), "End should move alpha to its maximum"
        save(progression, shots, "08_attribute_progression.png")

        # one alpha per measured attribute (thickness, slant, width, height), digit and z fixed
        sliders = widget_cell(page, "AttributeSliders(")
        assert sliders.locator(".widget-slider").count() == 4, "AttributeSliders: 4 sliders"
        for k in (0, 1):
            before, after = move_slider_and_check(page, sliders, slider=k, images=[0])
            assert float(after) > float(before), "End should move alpha to its maximum"
        save(sliders, shots, "08_attribute_sliders.png")
