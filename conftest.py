"""Repository-wide pytest settings.

Notebooks run under nbval get the ``smoke`` profile (seconds per notebook) unless
``VAE_EDU_PROFILE`` is set already, and never try to download data; the kernel inherits
this environment.  Their model cache is a fresh, empty folder for each test session, so
every run trains (and stores) what the notebooks train, whatever the user's cache holds.
tests/conftest.py isolates the library tests from all of it.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("VAE_EDU_PROFILE", "smoke")
# The README's test command runs one pytest-xdist worker per core; each worker, and every
# kernel or subprocess it starts, then uses one thread: two workers of two threads each on
# two cores oversubscribe the CPU, and torch's waiting threads make that slower than serial.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VAE_EDU_OFFLINE", "1")
# as `vae-edu execute` does when it stores a notebook: no progress bars (no widget state)
os.environ.setdefault("VAE_EDU_PROGRESS", "0")
if os.environ.get("VAE_EDU_CACHE_MODELS", "").strip().lower() != "off":
    _models = tempfile.mkdtemp(prefix="vae_edu_test_models_")
    atexit.register(shutil.rmtree, _models, ignore_errors=True)
    os.environ["VAE_EDU_CACHE_MODELS"] = _models
# matplotlib warns 'Creating legend with loc="best" can be slow with large amounts of data.'
# when placing a legend takes more than a second: a remark about the machine's speed at that
# moment (seen once on a loaded machine), not part of what a lecture shows; kernels started
# by the tests do not print it, so a slow CI machine does not fail nbval over it.
os.environ["PYTHONWARNINGS"] = ",".join(
    filter(None, [os.environ.get("PYTHONWARNINGS"), "ignore:Creating legend with loc"]))
# Figures as in Jupyter (the kernel's inline backend), as when the outputs were stored.
os.environ.pop("MPLBACKEND", None)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``longest`` (the two round-off conditions of test_portable_outputs, each
    an nbval run of every lecture) are collected first. With the README's ``--dist loadscope
    --no-loadscope-reorder``, pytest-xdist then hands them to different workers at the
    start, so they run side by side instead of one after the other on one worker."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)  # stable sort
