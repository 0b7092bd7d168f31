"""The model-cache commands of ``vae-edu``: ``pretrain``, ``cache ...``, ``bench lectures``.

    vae-edu pretrain [--profile P] [LECTURE...]   train what the lectures train, into the cache
    vae-edu cache list | clear | export FILE | import FILE
    vae-edu bench lectures [LECTURE...]           each lecture cold and warm: seconds, same output?

Kept apart from cli.py so that the main parser only registers them.
"""

from __future__ import annotations

import argparse
import sys
import time


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .notebooks import NotebookExecutionError
    from .pretrain import pretrain

    try:
        pretrain(args.lectures, profile=args.profile, timeout=args.timeout)
    except (FileNotFoundError, NotebookExecutionError) as err:
        print(f"vae-edu pretrain: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    from .. import model_cache as mc

    folder = mc.models_dir()
    if folder is None:
        print(f"vae-edu cache: {mc.MODELS_ENV}=off, there is no model cache", file=sys.stderr)
        return 2
    if args.action == "list":
        infos, problems = mc.list_entries(folder)
        if infos:
            print(f"{'experiment':<30} {'profile':<8} {'model':<22} {'epochs':>6} "
                  f"{'trained s':>9} {'size':>8}  created")
        for i in infos:
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(i.created))
            print(f"{i.name:<30} {i.profile:<8} {i.model:<22} {i.epochs:>6} {i.seconds:>9.1f} "
                  f"{_size(i.bytes):>8}  {created}")
        for problem in problems:
            print(f"not usable: {problem}")
        per_profile: dict[str, int] = {}
        for i in infos:
            per_profile[i.profile] = per_profile.get(i.profile, 0) + i.bytes
        split = ", ".join(f"{p} {_size(n)}" for p, n in sorted(per_profile.items()))
        print(f"{len(infos)} model(s), {_size(sum(per_profile.values()))} in {folder}"
              + (f" ({split})" if split else ""))
        return 0
    if args.action == "clear":
        files, size = mc.clear(folder)
        print(f"removed {files} file(s), {_size(size)}, from {folder}")
        return 0
    if args.file is None:
        print(f"vae-edu cache {args.action}: name the archive FILE", file=sys.stderr)
        return 2
    if args.action == "export":
        n = mc.export_cache(args.file, folder)
        print(f"exported {n} model(s) from {folder} to {args.file}")
        return 0
    try:
        added, present = mc.import_cache(args.file, folder)
    except mc.ArchiveError as err:
        print(f"vae-edu cache import: {err}", file=sys.stderr)
        return 1
    print(f"imported {added} model(s) into {folder} ({present} already there, kept)")
    return 0


def cmd_bench_lectures(args: argparse.Namespace) -> int:
    from .bench.lectures import main
    from .notebooks import NotebookExecutionError

    try:
        runs = main(args.lectures, profile=args.profile, timeout=args.timeout)
    except (FileNotFoundError, NotebookExecutionError) as err:
        print(f"vae-edu bench lectures: {err}", file=sys.stderr)
        return 1
    return 0 if all(r.identical for r in runs) else 1


def add_commands(sub, bench_sub) -> None:
    """Register ``pretrain`` and ``cache`` on the main parser and ``lectures`` under bench."""
    from ..profiles import PROFILE_NAMES

    def lecture_args(p):
        p.add_argument("lectures", nargs="*", metavar="LECTURE",
                       help="notebook paths or numbers such as 06 (default: every lecture)")
        p.add_argument("--profile", choices=PROFILE_NAMES,
                       help="training budget (default: $VAE_EDU_PROFILE, else 'default')")
        p.add_argument("--timeout", type=float, default=1800,
                       help="seconds per cell (default 1800)")

    pre = sub.add_parser("pretrain", help="train every model of the lectures into the cache")
    lecture_args(pre)
    pre.set_defaults(func=cmd_pretrain)

    cache = sub.add_parser(
        "cache", help="the trained-model cache: list, clear, export FILE, import FILE"
    )
    cache.add_argument("action", choices=("list", "clear", "export", "import"))
    cache.add_argument("file", nargs="?", metavar="FILE", help="the archive (export, import)")
    cache.set_defaults(func=cmd_cache)

    lectures = bench_sub.add_parser(
        "lectures", help="each lecture cold then warm: seconds, ratio, identical output"
    )
    lecture_args(lectures)
    lectures.set_defaults(func=cmd_bench_lectures)
