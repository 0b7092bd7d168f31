"""``python -m vae_edu.tooling.bench.grading``: what isolation costs, and what sharding buys.

Prints, measured in this one run:

1. the isolation in force here (``bwrap``, or ``basic`` and why);
2. seconds per notebook (kernel start to end, as the grader reports it) of the same
   submissions graded under ``basic`` and under ``bwrap``, alternating, and the ratio;
3. a synthetic class (``--students``, default 40) of one problem set (``--notebook``,
   default ``03_vae``: right, partly right, blank and tampering copies) graded as 1, 2
   and 4 shards, each shard a separate ``vae-edu grade --shard K/N`` process started one
   after the other (as on separate machines), with its wall time, then the merge's
   wall time, and a check that every merge equals the unsharded grades.

Run from the course folder (it needs ``solutions/`` and ``exercises/``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ...paths import PACKAGE_PARENT

#: Submissions of the synthetic class, cycled: (folder in the course, file or None).
_KINDS = ("solutions", "exercises", "half")


def _class(root: Path, course: Path, notebook: str, students: int) -> Path:
    subs = root / "submissions"
    solution = (course / "solutions" / notebook).read_bytes()
    blank = (course / "exercises" / notebook).read_bytes()
    for i in range(students):
        folder = subs / f"student{i:03d}"
        folder.mkdir(parents=True)
        kind = _KINDS[i % len(_KINDS)]
        if kind == "half":  # right answers, then a crash half-way: partial points
            import nbformat

            nb = nbformat.reads(solution.decode(), as_version=4)
            code = [j for j, c in enumerate(nb.cells) if c.cell_type == "code"]
            nb.cells.insert(code[len(code) // 2] + 1, nbformat.v4.new_code_cell(
                "import os\nos._exit(1)  # the kernel dies here"))
            data = nbformat.writes(nb).encode()
        else:
            data = solution if kind == "solutions" else blank
        (folder / notebook).write_bytes(data)
    return subs


def _grade(args: list[str], env: dict) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "vae_edu", "grade", *args], env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"vae-edu grade {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae_edu.tooling.bench.grading")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--notebook", default="03_vae")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at once per shard")
    parser.add_argument("--isolation-runs", type=int, default=6,
                        help="notebooks per isolation in part 2 (default 6)")
    parser.add_argument("--shards", default="1,2,4")
    args = parser.parse_args(argv)
    from ..grader.batch import grade_submissions
    from ..grader.isolation import bwrap_problem, choose_isolation

    course = Path.cwd()
    notebook = f"{args.notebook}.ipynb"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")])}
    print(f"1. isolation here: {choose_isolation().description}")

    root = Path(tempfile.mkdtemp(prefix="vae-edu-bench-grading-"))
    try:
        print(f"2. seconds per notebook ({notebook}, right answers, --jobs 1), alternating")
        if bwrap_problem() is None:
            times: dict[str, list[float]] = {"basic": [], "bwrap": []}
            subs = _class(root / "iso", course, notebook, 1)
            for i in range(args.isolation_runs * 2):
                sandbox = ("basic", "bwrap")[i % 2]
                report = grade_submissions(subs, root / "iso" / f"g{i}.csv", jobs=1,
                                           solutions_dir=course / "solutions",
                                           sandbox=sandbox, progress=None)
                times[sandbox].append(report.students[0].notebooks[0].seconds)
            for name, values in times.items():
                print(f"   {name:<6} median {statistics.median(values):.2f} s  "
                      f"(min {min(values):.2f}, max {max(values):.2f}, n={len(values)})")
            ratio = statistics.median(times["bwrap"]) / statistics.median(times["basic"])
            print(f"   bwrap / basic = {ratio:.3f}")
        else:
            print(f"   skipped: bwrap unavailable ({bwrap_problem()})")

        subs = _class(root / "class", course, notebook, args.students)
        seed = ["--seed", "bench", "--course", str(course),
                "--jobs", str(args.jobs)]
        print(f"3. {args.students} students x {notebook}, shards one after the other, "
              f"--jobs {args.jobs} each (default isolation)")
        reference = None
        for n in (int(x) for x in args.shards.split(",")):
            parts, walls = [], []
            for k in range(1, n + 1):
                part = root / f"parts{n}" / f"part-{k}-of-{n}.json"
                walls.append(_grade([str(subs), "--shard", f"{k}/{n}", "--out", str(part),
                                     *seed], env))
                parts.append(str(part))
            start = time.perf_counter()
            merged = root / f"merged{n}" / "grades.csv"
            done = subprocess.run([sys.executable, "-m", "vae_edu", "grade", "merge", *parts,
                                   "--out", str(merged)], env=env, capture_output=True,
                                  text=True)
            merge_s = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            text = merged.read_text()
            reference = reference or text
            same = "same grades as 1 shard" if text == reference else "GRADES DIFFER"
            print(f"   {n} shard(s): wall per shard " + ", ".join(f"{w:.1f}" for w in walls)
                  + f" s (max {max(walls):.1f} s = wall time with one machine per shard); "
                  f"merge {merge_s:.2f} s; {same}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
