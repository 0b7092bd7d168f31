"""Start an IPython kernel under resource limits.

``python -m vae_edu.tooling.grader.kernel -f FILE``.

The grader's kernels are started through this module instead of ``ipykernel_launcher``.
Before the kernel starts it applies the limits named in ``$VAE_EDU_GRADING_LIMITS``
(``data=BYTES,fsize=BYTES``), then removes that variable:

* ``RLIMIT_DATA`` caps the heap and private anonymous memory, which is where tensors
  live. Importing torch needs about 0.8 GB of it, so limits from ~1.5 GB up let torch
  import; beyond the limit an allocation fails in the student's cell (``RuntimeError:
  ... can't allocate memory`` or ``MemoryError``) and the kernel lives on. The virtual
  address space (``RLIMIT_AS``) is left alone: torch reserves several GB of it that it
  never touches.
* ``RLIMIT_FSIZE`` caps the size of any one file the kernel writes (Python ignores
  ``SIGXFSZ``, so a bigger write raises ``OSError``).
* ``RLIMIT_CORE`` is 0: a crashing kernel leaves no core file.

The grader also watches the kernel's resident memory and kills it above the limit
(:mod:`vae_edu.tooling.grader.sandbox`), which catches what ``RLIMIT_DATA`` does not count.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LIMITS_ENV = "VAE_EDU_GRADING_LIMITS"


def parse_limits(text: str) -> dict[str, int]:
    """``"data=2147483648,fsize=104857600"`` -> ``{"data": ..., "fsize": ...}``."""
    limits = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = item.partition("=")
        if key not in ("data", "fsize") or not value.isdigit():
            raise ValueError(f"{LIMITS_ENV}: expected data=BYTES,fsize=BYTES, got {text!r}")
        limits[key] = int(value)
    return limits


def apply_limits(limits: dict[str, int]) -> None:
    """Lower this process's limits (never raise them above the current hard limit)."""
    import resource

    def lower(which: int, value: int) -> None:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):  # a platform that refuses it: the watchdog remains
            pass

    if "data" in limits:
        lower(resource.RLIMIT_DATA, limits["data"])
    if "fsize" in limits:
        lower(resource.RLIMIT_FSIZE, limits["fsize"])
    lower(resource.RLIMIT_CORE, 0)


def main() -> None:
    text = os.environ.pop(LIMITS_ENV, "")
    if text and sys.platform != "win32":
        apply_limits(parse_limits(text))
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]  # as ipykernel_launcher: the kernel adds the cwd back itself
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
