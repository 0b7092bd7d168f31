"""Cold vs warm lecture runs: ``vae-edu bench lectures [LECTURE...]``.

Each lecture is executed twice in a clean kernel under the profile in force, on a
temporary copy, with its own empty model cache: first cold (every model trained and
stored), then warm (every model loaded).  Printed per lecture: cold seconds, warm seconds,
their ratio, the size of the lecture's cache entries, and whether every cell printed
exactly the same text in both runs once the lines that are meant to differ are removed
(progress bars, per-epoch training logs, the cache's "loaded ..." lines, timings).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...model_cache import MODELS_ENV
from ..pretrain import find_lectures, output_lines, run_copy

WARM_GOAL_SECONDS = 15.0

# lines that differ between a run that trains and one that loads, or between any two runs
_NOISE = re.compile(
    r"%\||\bit/s\b|\bs/it\b|FloatProgress|"          # progress bars (text or widget)
    r"^epoch \d+/\d+: |^kept the weights of epoch |"    # training log
    r"^loaded '.*' from the cache|^cache: |"           # cache lines
    r"\b\d+(\.\d+)?\s?(s|ms|µs|seconds)\b|"           # timings
    r" at 0x[0-9a-fA-F]+"                              # an object's memory address
)


def printed_numbers(nb) -> list[list[str]]:
    """Per code cell, the printed lines that must be the same in every run."""
    return [[line for line in cell if not _NOISE.search(line)] for cell in output_lines(nb)]


@dataclass
class LectureRun:
    lecture: str
    cold: float
    warm: float
    cache_bytes: int
    differing: list[int] = field(default_factory=list)  # code cells (1-based) that differ
    example: str = ""

    @property
    def ratio(self) -> float:
        return self.cold / self.warm if self.warm > 0 else float("inf")

    @property
    def identical(self) -> bool:
        return not self.differing


def compare(cold, warm) -> tuple[list[int], str]:
    """Code cells (1-based) whose printed numbers differ, and the first differing line pair."""
    a, b = printed_numbers(cold), printed_numbers(warm)
    differing, example = [], ""
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            differing.append(i)
            if not example:
                pair = next(((p, q) for p, q in zip(x, y, strict=False) if p != q),
                            (x[len(y):] or ["(nothing)"], y[len(x):] or ["(nothing)"]))
                example = f"cell {i}: cold {str(pair[0])[:100]!r} / warm {str(pair[1])[:100]!r}"
    if len(a) != len(b):
        differing.append(min(len(a), len(b)) + 1)
    return differing, example


def bench_lecture(path, *, profile: str | None = None, timeout: float | None = 1800) -> LectureRun:
    with tempfile.TemporaryDirectory(prefix="vae_edu_bench_models_") as folder:
        env = {MODELS_ENV: folder}
        cold_s, cold = run_copy(path, profile=profile, env=env, timeout=timeout)
        from pathlib import Path

        size = sum(p.stat().st_size for p in Path(folder).glob("*.pt"))
        warm_s, warm = run_copy(path, profile=profile, env=env, timeout=timeout)
    differing, example = compare(cold, warm)
    return LectureRun(path.name, cold_s, warm_s, size, differing, example)


def main(lectures: Sequence[str] = (), *, profile: str | None = None,
         timeout: float | None = 1800) -> list[LectureRun]:
    from ...profiles import current_profile

    shown = profile or current_profile()
    paths = find_lectures(lectures)
    print(f"each lecture twice in a clean kernel, profile {shown}: empty model cache, then warm")
    header = (f"{'lecture':<34} {'cold s':>7} {'warm s':>7} {'ratio':>6} {'cache':>9}  "
              "identical")
    print(header, flush=True)
    runs = []
    for path in paths:
        run = bench_lecture(path, profile=profile, timeout=timeout)
        runs.append(run)
        same = "yes" if run.identical else f"NO (cells {', '.join(map(str, run.differing))})"
        print(f"{run.lecture:<34} {run.cold:>7.1f} {run.warm:>7.1f} {run.ratio:>6.1f} "
              f"{run.cache_bytes / 1e6:>6.1f} MB  {same}", flush=True)
        if run.example:
            print(f"    first difference: {run.example}", flush=True)
    slow = [r.lecture for r in runs if r.warm > WARM_GOAL_SECONDS]
    print(f"total cache {sum(r.cache_bytes for r in runs) / 1e6:.1f} MB; warm runs over the "
          f"{WARM_GOAL_SECONDS:g} s goal: {', '.join(slow) or 'none'}")
    return runs
