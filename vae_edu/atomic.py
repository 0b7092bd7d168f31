"""Files written atomically: a crash, a full disk or an interrupt mid-write never leaves a
half-written file; the reader sees the old file or the new one.

Every file the library and the tooling write for keeps (checkpoints, the model cache and
its archives, notebooks executed in place, grades, feedback, bundles) goes through
:func:`atomic_file`: the data goes to a temporary file beside the target, which is
flushed, synced to disk and renamed over the target (``os.replace``, atomic on POSIX and
Windows) only when the ``with`` block ends without an exception.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_file", "write_atomic"]


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], mode: str = "w", *, encoding: str = "utf-8",
                newline: str | None = "\n", keep_mode: bool = False) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    mode: ``"w"`` (text, ``encoding`` and ``newline`` apply) or ``"wb"``.
    keep_mode: give the new file the permission bits of the file it replaces.
    On any exception the temporary file is removed and ``path`` is left as it was.
    The folder is created if needed.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_file: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        text = {} if mode == "wb" else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **text) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if keep_mode and path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes, **options) -> Path:
    """Write ``data`` (text or bytes) to ``path`` through :func:`atomic_file`."""
    mode = "wb" if isinstance(data, bytes) else "w"
    with atomic_file(path, mode, **options) as fh:
        fh.write(data)
    return Path(path)
