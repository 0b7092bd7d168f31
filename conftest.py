"""Repository-wide pytest settings.

Notebooks run under nbval get the ``smoke`` profile (seconds per notebook) unless
``VAE_EDU_PROFILE`` is set already, and never try to download data; the kernel inherits
this environment.  tests/conftest.py isolates the library tests from both.
"""

import os

os.environ.setdefault("VAE_EDU_PROFILE", "smoke")
os.environ.setdefault("VAE_EDU_OFFLINE", "1")
# Figures as in Jupyter (the kernel's inline backend), as when the outputs were stored.
os.environ.pop("MPLBACKEND", None)
