"""The instructor's commands around grading, parsed here to keep ``vae_edu/tooling/cli.py`` small.

    vae-edu grade merge PART... --out grades.csv [--feedback DIR]
    vae-edu grade gradescope OUT.zip [--notebook NN_topic] [--course DIR]
    vae-edu grade canvas grades.csv --out canvas.csv [--roster EXPORT.csv] [--course DIR]
    vae-edu release OUT_DIR [--course DIR]

``vae-edu grade SUBMISSIONS ...`` itself stays in :mod:`vae_edu.tooling.cli`; ``main`` there
hands ``grade merge|gradescope|canvas`` to :func:`grade_tool_main` (a submissions
folder named like one of them is given as ``./merge``).
"""

from __future__ import annotations

import argparse
import sys

from ...paths import COURSE_OPTION_HELP

__all__ = ["GRADE_TOOLS", "add_release_command", "grade_tool_main"]

#: The words after ``vae-edu grade`` that name a tool rather than a submissions folder.
GRADE_TOOLS = ("merge", "gradescope", "canvas")


def _cmd_merge(args: argparse.Namespace) -> int:
    from .shards import merge_parts

    merged = merge_parts(args.parts, args.out, args.feedback)
    print(f"merged {merged.shards} part(s), {merged.students} student(s), graded under "
          f"{' and '.join(merged.isolation)}; grades in {merged.csv_path}, feedback in "
          f"{merged.feedback_dir}")
    for error in merged.grader_errors:
        print(f"grader error (not the student's fault): {error}", file=sys.stderr)
    return 1 if merged.grader_errors else 0


def _cmd_gradescope(args: argparse.Namespace) -> int:
    from ...paths import course_folder
    from .gradescope import build_bundle

    solutions = course_folder("solutions", args.course)
    bundle = build_bundle(args.out, solutions_dir=solutions, notebook=args.notebook)
    print(f"wrote {bundle.path}: Gradescope autograder for "
          f"{', '.join(bundle.notebooks)} ({bundle.points:g} points); upload it as the "
          "assignment's autograder (Ubuntu image)")
    return 0


def _cmd_canvas(args: argparse.Namespace) -> int:
    from ...paths import course_folder
    from .canvas import write_canvas_csv

    solutions = course_folder("solutions", args.course)
    report = write_canvas_csv(args.grades, args.out, solutions_dir=solutions,
                              roster=args.roster)
    print(f"wrote {report.path}: {report.students} student(s), {len(report.assignments)} "
          f"assignment column(s); import it in Canvas: Grades > Import")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _tool_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vae-edu grade", description="Grading tools.")
    sub = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    merge = sub.add_parser("merge", help="merge the parts of `vae-edu grade --shard K/N`")
    merge.add_argument("parts", nargs="+", metavar="PART")
    merge.add_argument("--out", default="grades.csv", help="grades CSV (default grades.csv)")
    merge.add_argument("--feedback", help="feedback folder (default: beside --out)")
    merge.set_defaults(func=_cmd_merge)

    gs = sub.add_parser("gradescope", help="a Gradescope autograder bundle (zip)")
    gs.add_argument("out", metavar="OUT.zip")
    gs.add_argument("--notebook", help="the problem set it grades, e.g. 03_vae (default: "
                    "any notebook of solutions/ that is submitted)")
    gs.add_argument("--course", help=COURSE_OPTION_HELP)
    gs.set_defaults(func=_cmd_gradescope)

    canvas = sub.add_parser("canvas", help="a Canvas gradebook-import CSV from grades.csv")
    canvas.add_argument("grades", metavar="GRADES_CSV")
    canvas.add_argument("--out", default="canvas_import.csv",
                        help="the CSV to import (default canvas_import.csv)")
    canvas.add_argument("--roster", help="Canvas's own gradebook export (Grades > Export): "
                        "student names, IDs and sections are taken from it")
    canvas.add_argument("--course", help=COURSE_OPTION_HELP)
    canvas.set_defaults(func=_cmd_canvas)
    return parser


def grade_tool_main(argv: list[str]) -> int:
    """``vae-edu grade TOOL ...``: exit 0, 1 (a grader error listed), 2 (bad input)."""
    args = _tool_parser().parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"vae-edu grade {args.tool}: {err}", file=sys.stderr)
        return 2


def _cmd_release(args: argparse.Namespace) -> int:
    from .release import build_release

    try:
        release = build_release(args.out_dir, course_dir=args.course, force=args.force)
    except (FileNotFoundError, FileExistsError) as err:
        print(f"vae-edu release: {err}", file=sys.stderr)
        return 2
    print(f"wrote the student release to {release.root}: {release.files} files, "
          f"public checks of {len(release.checks)} questions (outputs stored); Colab badges open "
          f"{release.repository}. Push it to that repository.")
    return 0


def add_release_command(sub) -> None:
    """Add ``vae-edu release OUT_DIR`` to the top-level subcommands."""
    release = sub.add_parser(
        "release", help="the student course (no solutions, no reference answers, no hidden "
        "tests) in OUT_DIR, to publish as the repository [release] in course/toc.toml names")
    release.add_argument("out_dir", metavar="OUT_DIR")
    release.add_argument("--course", help=COURSE_OPTION_HELP)
    release.add_argument("--force", action="store_true",
                         help="replace OUT_DIR if it holds an earlier release")
    release.set_defaults(func=_cmd_release)
