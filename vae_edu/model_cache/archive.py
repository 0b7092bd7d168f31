"""``vae-edu cache list | clear | export FILE | import FILE``: the cache as a whole (see
:mod:`vae_edu.model_cache`)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from pathlib import Path

from .. import __version__
from ..atomic import atomic_file
from .store import (
    ENTRY_NAME,
    MODELS_ENV,
    CacheEntryError,
    EntryInfo,
    entry_info,
    models_dir,
)

ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"


class ArchiveError(RuntimeError):
    """An exported archive cannot be imported; nothing was changed in the cache."""


# ----------------------------------------------------------------------------- commands


def list_entries(folder: Path | None = None) -> tuple[list[EntryInfo], list[str]]:
    """The entries in the cache (oldest first) and one line per file that is not usable."""
    folder = folder or models_dir()
    if folder is None or not folder.is_dir():
        return [], []
    infos, problems = [], []
    for path in sorted(folder.glob("*.pt")):
        try:
            infos.append(entry_info(path))
        except CacheEntryError as err:
            problems.append(str(err))
    return sorted(infos, key=lambda i: i.created), problems


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Delete every entry (and leftover temporary file); ``(files, bytes)`` removed."""
    folder = folder or models_dir()
    if folder is None or not folder.is_dir():
        return 0, 0
    files = size = 0
    for path in [*folder.glob("*.pt"), *folder.glob(".*.tmp")]:
        size += path.stat().st_size
        path.unlink()
        files += 1
    return files, size


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_cache(archive: str | os.PathLike, folder: Path | None = None) -> int:
    """Write every usable entry into one tar archive with a manifest; the number written.

    The manifest names each file, its experiment, profile and SHA-256, and the library
    version; the archive is written atomically.
    """
    infos, _ = list_entries(folder)
    archive = Path(archive)
    manifest = {
        "format": ARCHIVE_FORMAT, "vae_edu": __version__,
        "entries": [{"file": i.path.name, "name": i.name, "profile": i.profile,
                     "bytes": i.bytes, "sha256": _sha256(i.path)} for i in infos],
    }
    with atomic_file(archive, "wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
        data = json.dumps(manifest, indent=1).encode()
        member = tarfile.TarInfo(MANIFEST)
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
        for info in infos:
            tar.add(info.path, arcname=info.path.name)
    return len(infos)


def import_cache(archive: str | os.PathLike, folder: Path | None = None) -> tuple[int, int]:
    """Verify ``archive`` completely, then add its entries; ``(added, already present)``.

    Raises :class:`ArchiveError` (one line: which entry and why) when the manifest is
    missing, comes from another library version, or an entry's SHA-256 does not match;
    then nothing in the cache has changed.  Entries already in the cache are kept.
    """
    archive = Path(archive)
    folder = folder or models_dir()
    if folder is None:
        raise ArchiveError(f"{MODELS_ENV}=off: there is no model cache to import into")
    try:
        tar = tarfile.open(archive, mode="r")
    except (OSError, tarfile.TarError) as err:
        why = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ArchiveError(f"{archive} is not a readable cache archive ({why})") from None
    with tar:
        try:
            manifest = json.load(tar.extractfile(MANIFEST))
        except (KeyError, AttributeError, ValueError, tarfile.TarError) as err:
            raise ArchiveError(f"{archive} has no readable {MANIFEST} ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
            raise ArchiveError(f"{archive}: {MANIFEST} is not a vae_edu cache manifest")
        if manifest.get("vae_edu") != __version__:
            raise ArchiveError(f"{archive} was exported by vae_edu {manifest.get('vae_edu')}, "
                               f"this is {__version__}: nothing imported")
        entries = manifest.get("entries")
        if not isinstance(entries, list):
            raise ArchiveError(f"{archive}: {MANIFEST} lists no entries")
        folder.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for item in entries:
                file = str(item.get("file", "")) if isinstance(item, dict) else ""
                label = f"entry {item.get('name')!r} ({file})" if file else "an entry"
                if not ENTRY_NAME.match(file):
                    raise ArchiveError(f"{archive}: {label} has an invalid file name: "
                                       "nothing imported")
                try:
                    data = tar.extractfile(file).read()
                except (KeyError, AttributeError, OSError, tarfile.TarError):
                    raise ArchiveError(f"{archive}: {label} is listed but missing: "
                                       "nothing imported") from None
                if hashlib.sha256(data).hexdigest() != item.get("sha256"):
                    raise ArchiveError(f"{archive}: {label} does not match its SHA-256 "
                                       "(damaged archive?): nothing imported")
                target = folder / file
                if target.exists():
                    continue
                fd, tmp = tempfile.mkstemp(prefix=f".{file}.", suffix=".tmp", dir=folder)
                staged.append((Path(tmp), target))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return len(staged), len(entries) - len(staged)
