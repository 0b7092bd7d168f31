"""Fill the model cache by running the lectures: ``vae-edu pretrain [--profile P] [LECTURE...]``.

Each lecture is executed top to bottom in a clean kernel, on a temporary copy (the lecture
file is never written), so every training cell stores exactly the entry that the same cell
will look up when a student runs the lecture: same names, same models, same data, same
random state.  A line is printed for each model as soon as it is stored, and a table at
the end (lecture, model, epochs, seconds, size).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..model_cache import MODELS_ENV, CacheEntryError, EntryInfo, entry_info, models_dir
from ..paths import course_folder

_LOADED = re.compile(r"^loaded '(.+?)' from the cache")


def lectures_dir() -> Path:
    """The course's ``lectures/`` (:func:`vae_edu.paths.course_folder`)."""
    return course_folder("lectures")


def find_lectures(names: Sequence[str] = ()) -> list[Path]:
    """The notebooks named by path or by number (``06``); all lectures when none is named."""
    folder = lectures_dir()
    if not names:
        found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        if not found:
            raise FileNotFoundError(f"no lectures in {folder}; name the notebooks to run")
        return found
    paths = []
    for name in names:
        path = Path(name)
        if path.is_file():
            paths.append(path)
            continue
        matches = sorted(folder.glob(f"{name}_*.ipynb")) or sorted(folder.glob(f"{name}*.ipynb"))
        if len(matches) != 1:
            raise FileNotFoundError(
                f"no lecture {name!r}: give a notebook path or a lecture number such as 06 "
                f"(looked in {folder})"
            )
        paths.append(matches[0])
    return paths


def run_copy(
    notebook: str | Path,
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 1800,
) -> tuple[float, nbformat.NotebookNode]:
    """Execute a temporary copy of ``notebook`` in a clean kernel: (seconds, executed copy)."""
    from .notebooks import execute_notebook

    with tempfile.TemporaryDirectory(prefix="vae_edu_run_") as tmp:
        copy = Path(tmp) / Path(notebook).name
        shutil.copyfile(notebook, copy)
        result = execute_notebook(copy, profile=profile, env=env, timeout=timeout)
        return result.seconds, nbformat.read(copy, as_version=4)


def output_lines(nb: nbformat.NotebookNode) -> list[list[str]]:
    """The text each code cell printed or displayed, one list of lines per code cell.

    Consecutive stream outputs of one stream are joined first: where one printed line is
    cut into two messages depends on timing ("bins:" and " 484" in one run, "bins: 484"
    in another), not on what was printed."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        texts: list[str] = []
        stream = None  # the name of the stream the last text came from
        for out in cell.get("outputs", []):
            text = ""
            if out.output_type == "stream":
                text = out.text
            elif out.output_type in ("execute_result", "display_data"):
                text = out.get("data", {}).get("text/plain", "")
            elif out.output_type == "error":
                text = f"{out.ename}: {out.evalue}"
            if isinstance(text, list):
                text = "".join(text)
            name = out.get("name") if out.output_type == "stream" else None
            if name is not None and name == stream and texts:
                texts[-1] += text
            else:
                texts.append(text)
            stream = name
        cells.append([line for text in texts for line in re.split(r"[\r\n]+", text)
                      if line.strip()])
    return cells


def loaded_names(nb: nbformat.NotebookNode) -> list[str]:
    """The experiments that a run loaded from the cache instead of training them."""
    return [m.group(1) for cell in output_lines(nb) for line in cell
            if (m := _LOADED.match(line))]


@dataclass
class Stored:
    lecture: str
    info: EntryInfo


class _Watcher(threading.Thread):
    """Prints a line for each entry that appears in the cache folder while a lecture runs."""

    def __init__(self, folder: Path, lecture: str):
        super().__init__(daemon=True)
        self.folder, self.lecture = folder, lecture
        self.known = {p.name for p in folder.glob("*.pt")} if folder.is_dir() else set()
        self.stored: list[Stored] = []
        self.done = threading.Event()

    def scan(self) -> None:
        for path in sorted(self.folder.glob("*.pt")):
            if path.name in self.known:
                continue
            self.known.add(path.name)
            try:
                info = entry_info(path)
            except (CacheEntryError, OSError):
                continue
            self.stored.append(Stored(self.lecture, info))
            print(f"  stored {info.name}: {info.model}, {info.epochs} epoch(s) in "
                  f"{info.seconds:.1f} s, {_size(info.bytes)}", flush=True)

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.scan()

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.scan()


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.0f} kB"


def pretrain(
    lectures: Sequence[str] = (), *, profile: str | None = None, timeout: float | None = 1800
) -> list[Stored]:
    """Run the lectures so that every model they train is in the cache; the new entries."""
    folder = models_dir()
    if folder is None:
        raise RuntimeError(f"{MODELS_ENV}=off: there is no model cache to fill; unset it")
    folder.mkdir(parents=True, exist_ok=True)
    paths = find_lectures(lectures)
    stored: list[Stored] = []
    loaded: dict[str, list[str]] = {}
    start = time.perf_counter()
    for path in paths:
        print(f"{path.name}: running (profile {profile or 'in force'}, models into {folder})",
              flush=True)
        watcher = _Watcher(folder, path.name)
        watcher.start()
        try:
            seconds, nb = run_copy(path, profile=profile, env={MODELS_ENV: str(folder)},
                                   timeout=timeout)
        finally:
            watcher.stop()
        stored += watcher.stored
        loaded[path.name] = loaded_names(nb)
        print(f"{path.name}: {len(watcher.stored)} model(s) trained, "
              f"{len(loaded[path.name])} already in the cache, {seconds:.0f} s", flush=True)
    print()
    print(f"{'lecture':<34} {'model':<30} {'epochs':>6} {'seconds':>8} {'size':>9}")
    for s in stored:
        print(f"{s.lecture:<34} {s.info.name:<30} {s.info.epochs:>6} {s.info.seconds:>8.1f} "
              f"{_size(s.info.bytes):>9}")
    total = sum(s.info.bytes for s in stored)
    print(f"{len(stored)} model(s) trained ({_size(total)}), "
          f"{sum(map(len, loaded.values()))} already cached, "
          f"{time.perf_counter() - start:.0f} s in all; cache: {folder}")
    return stored
