"""The ``vae-edu`` command (also ``python -m vae_edu``).

    vae-edu info                      torch, device, profile, where MNIST comes from
    vae-edu execute NOTEBOOK...       re-run notebooks in place in a clean kernel
    vae-edu bench speed               vae_edu's data pipeline vs DataLoader + ToTensor
    vae-edu bench quality             the course's models against published figures
    vae-edu exercises [--check]       write exercises/ from solutions/ (or check it is current)
    vae-edu grade SUBMISSIONS --out grades.csv   grade submitted exercise notebooks
    vae-edu grade SUBMISSIONS --shard K/N; vae-edu grade merge PARTS... --out grades.csv
    vae-edu grade gradescope OUT.zip; vae-edu grade canvas grades.csv --out canvas.csv
    vae-edu release OUT_DIR           the student course: no solutions, no reference answers
    vae-edu bench widgets             milliseconds per update of the notebook widgets
    vae-edu toc                       the course's notebooks (course/toc.toml) vs the files
    vae-edu colab [--check] [NB...]   Open-in-Colab badge and install cell of the notebooks
    vae-edu site OUT_DIR              the course website (static, offline; Sphinx + myst-nb)
    vae-edu pretrain [LECTURE...]     train the lectures' models into the model cache
    vae-edu cache list|clear|export FILE|import FILE   the trained-model cache
    vae-edu bench lectures [LECTURE...]   each lecture cold vs warm (cached) run
"""

from __future__ import annotations

import argparse
import sys

from ..paths import COURSE_OPTION_HELP


def cmd_info(args: argparse.Namespace) -> int:
    import torch

    from .. import __version__
    from ..data import load_mnist
    from ..device import describe_device, pick_device
    from ..profiles import PROFILE_DESCRIPTIONS, PROFILE_ENV, current_profile

    profile = current_profile()
    device = pick_device(args.device)
    print(f"vae_edu {__version__}; torch {torch.__version__}; python {sys.version.split()[0]}")
    print(f"device: {describe_device(device)}")
    print(f"profile: {profile} ({PROFILE_DESCRIPTIONS[profile]}; set {PROFILE_ENV} to change)")
    data = load_mnist(args.data, device="cpu")
    print(f"data: {data.describe()}")
    return 0


def cmd_execute(args: argparse.Namespace) -> int:
    from .notebooks import NotebookExecutionError, execute_notebooks

    try:
        execute_notebooks(
            args.notebooks, profile=args.profile, timeout=args.timeout, keep_going=args.keep_going
        )
    except NotebookExecutionError as err:
        print(f"vae-edu execute: {err}", file=sys.stderr)
        return 1
    return 0


def cmd_bench_speed(args: argparse.Namespace) -> int:
    from .bench.speed import main

    main(data=args.data, device=args.device, epochs=args.epochs, seed=args.seed,
         repeat=args.repeat)
    return 0


def cmd_bench_quality(args: argparse.Namespace) -> int:
    from .bench.quality import main

    if (args.conv07_epochs is not None or args.conv07_model) and "conv07" not in (args.only or ()):
        raise ValueError("--conv07-epochs and --conv07-model apply to lecture 07's comparison: "
                         "add --only conv07")
    main(data=args.data, device=args.device, compare_example=args.compare_example,
         only=tuple(args.only or ()), conv07_epochs=args.conv07_epochs,
         conv07_models=tuple(args.conv07_model or ("mlp", "conv")))
    return 0


def cmd_bench_widgets(args: argparse.Namespace) -> int:
    from .bench.widgets import main

    main(device=args.device, updates=args.updates)
    return 0


def cmd_exercises(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.action == "bands":
        from .grader.bands_command import cmd_bands

        return cmd_bands(args)
    from ..paths import course_folder
    from .grader.exercises import sync_exercises

    try:
        solutions = course_folder("solutions", args.course)
    except FileNotFoundError as err:
        print(f"vae-edu exercises: {err}", file=sys.stderr)
        return 2
    exercises = Path(args.out) if args.out else solutions.parent / "exercises"
    report = sync_exercises(solutions, exercises, check=args.check)
    for name in report.orphans:
        print(f"no solution for {exercises / name} (remove it, or add its solution)")
    if not args.check:
        print(f"wrote {len(report.written)} and kept {len(report.unchanged)} unchanged exercise "
              f"notebook(s) in {exercises}")
        return 1 if report.orphans else 0
    for name in report.stale:
        print(f"differs from what its solution generates: {exercises / name}")
    for name in report.missing:
        print(f"missing: {exercises / name}")
    if report.clean:
        print(f"{exercises} is up to date ({len(report.unchanged)} notebooks)")
        return 0
    print("run `vae-edu exercises` to regenerate the exercises from the solutions")
    return 1


def cmd_grade(args: argparse.Namespace) -> int:
    from ..paths import course_folder
    from .grader.classroom import grading_function
    from .grader.limits import LIMIT_OPTIONS, Limits

    grade_submissions = grading_function(args)  # + bands, written answers, hints, report
    from .grader.shards import parse_shard

    shard = parse_shard(args.shard) if args.shard else None
    out = args.out or (f"grades.part-{shard[0]}-of-{shard[1]}.json" if shard else "grades.csv")
    limits = Limits(profile=args.profile,
                    **{name: getattr(args, name) for _, name, _ in LIMIT_OPTIONS})
    try:
        solutions = course_folder("solutions", args.course)
        report = grade_submissions(
            args.submissions, out, solutions_dir=solutions, feedback_dir=args.feedback,
            jobs=args.jobs, limits=limits, seed=args.seed, sandbox=args.sandbox, shard=shard,
        )
    except FileNotFoundError as err:
        print(f"vae-edu grade: {err}", file=sys.stderr)
        return 2
    graded = sum(len(s.notebooks) for s in report.students)
    where = (f"part {shard[0]}/{shard[1]} in {report.csv_path} (merge with `vae-edu grade "
             "merge`)" if shard else f"grades in {report.csv_path}, feedback in "
             f"{report.feedback_dir}")
    print(f"graded {graded} notebook(s) of {len(report.students)} student(s) in "
          f"{report.seconds:.0f} s under {report.isolation.name}; {where}")
    for error in report.grader_errors:
        print(f"grader error (not the student's fault): {error}", file=sys.stderr)
    return 1 if report.grader_errors else 0


def cmd_toc(args: argparse.Namespace) -> int:
    from .course import load_course

    course = load_course(args.course)
    print(f"{course.title} ({course.root})")
    for nb in course.notebooks:
        weeks = f"{nb.week}-{nb.week + nb.sessions - 1}" if nb.sessions > 1 else f"{nb.week}"
        when = f"week {weeks}" if nb.kind == "lecture" else f"due {weeks}"
        gpu = "  [GPU]" if nb.gpu else ""
        print(f"  {when:<10} {nb.path:<46} {nb.title}{gpu}")
    problems = course.problems()
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_colab(args: argparse.Namespace) -> int:
    from .colab import sync_colab
    from .course import load_course

    course = load_course(args.course or (args.notebooks[0] if args.notebooks else None))
    if course.colab.is_placeholder:
        print(f"note: course/toc.toml still names the placeholder repository "
              f"{course.colab.repository}; set [colab] repository to the course's GitHub "
              "owner/name", file=sys.stderr)
    try:
        report = sync_colab(args.notebooks or None, check=args.check, course=course)
    except FileNotFoundError as err:
        print(f"vae-edu colab: {err}", file=sys.stderr)
        return 2
    for path, problems in report.problems.items():
        for problem in problems:
            print(f"{course.relative(path) or path}: {problem}")
    if args.check:
        if report.problems:
            print("run `vae-edu colab` (lectures) or `vae-edu exercises` (exercises) to fix")
            return 1
        print(f"{len(report.unchanged)} notebook(s) open on Colab from "
              f"{course.colab.repository} ({course.colab.branch})")
        return 0
    for path in report.changed:
        print(f"updated {course.relative(path) or path}")
    print(f"updated {len(report.changed)}, kept {len(report.unchanged)} notebook(s)")
    if report.changed:
        print("re-execute changed lectures to store a clean run: "
              "vae-edu execute --profile default NOTEBOOK...")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    from .site import SiteError, build_site

    try:
        report = build_site(args.out_dir, course_dir=args.course, jupyterhub=args.jupyterhub,
                            jobs=args.jobs)
    except SiteError as err:
        print(f"vae-edu site: {err}", file=sys.stderr)
        return 2
    for warning in report.warnings:
        print(warning, file=sys.stderr)
    print(f"built {report.pages} pages into {report.out_dir} in {report.seconds:.0f} s "
          f"({report.megabytes:.1f} MB); open {report.out_dir / 'index.html'}")
    return 0


def _add_data_device_options(parser: argparse.ArgumentParser, *, data: bool = True) -> None:
    """``--data`` (unless ``data=False``) and ``--device``, as info and the benchmarks take them."""
    if data:
        parser.add_argument(
            "--data", help="folder with the MNIST IDX files (default: $VAE_EDU_DATA)"
        )
    parser.add_argument("--device", help="force a device (cpu, cuda, mps)")


def build_parser() -> argparse.ArgumentParser:
    from ..profiles import PROFILE_NAMES
    from .grader.limits import LIMIT_OPTIONS, Limits

    parser = argparse.ArgumentParser(
        prog="vae-edu", description="Tools of the vae_edu autoencoder and VAE course."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = sub.add_parser("info", help="torch version, device, profile and data source")
    _add_data_device_options(info)
    info.set_defaults(func=cmd_info)

    exe = sub.add_parser("execute", help="re-execute notebooks in place in a clean kernel")
    exe.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    exe.add_argument(
        "--profile", choices=PROFILE_NAMES,
        help="training budget for the run (default: $VAE_EDU_PROFILE, else 'default')",
    )
    exe.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    exe.add_argument(
        "--keep-going", action="store_true", help="run the other notebooks after a failure"
    )
    exe.set_defaults(func=cmd_execute)

    exercises = sub.add_parser(
        "exercises", help="write exercises/ from solutions/ (answers and hidden tests removed)"
    )
    exercises.add_argument("--course", help=COURSE_OPTION_HELP)
    exercises.add_argument("--out", help="where to write (default: exercises/ beside solutions/)")
    exercises.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 if the exercises differ from what would be written",
    )
    exercises.add_argument("action", nargs="?", choices=("bands",),
                           help="bands: retrain the references of the train-and-report "
                           "questions and rewrite solutions/bands.json")
    exercises.add_argument("--profiles", nargs="+", default=["smoke", "default"],
                           choices=PROFILE_NAMES, help="bands: profiles (default smoke default)")
    exercises.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2],
                           help="bands: seeds of the reference runs (default 0 1 2)")
    exercises.add_argument("--only", nargs="+", metavar="QUESTION",
                           help="bands: only these questions")
    exercises.set_defaults(func=cmd_exercises)

    grade = sub.add_parser(
        "grade", help="grade submitted notebooks: SUBMISSIONS/<student>/NN_topic.ipynb"
    )
    grade.add_argument("submissions", metavar="SUBMISSIONS_DIR")
    grade.add_argument("--out", help="grades CSV (default grades.csv; with --shard K/N the "
                       "part file, default grades.part-K-of-N.json)")
    grade.add_argument("--course", help=COURSE_OPTION_HELP)
    grade.add_argument(
        "--feedback", help="folder for one feedback file per student (default: beside --out)"
    )
    grade.add_argument("--jobs", type=int, default=2, help="submissions in parallel (default 2)")
    for option, name, what in LIMIT_OPTIONS:
        default = getattr(Limits, name)
        grade.add_argument(option, dest=name, type=type(default), default=default,
                           help=f"{what} (default {default:g})")
    grade.add_argument("--profile", choices=PROFILE_NAMES, default="smoke",
                       help="training budget in the kernels (default smoke)")
    grade.add_argument(
        "--seed", help="seed of the test inputs, to reproduce a run (default: a secret one)"
    )
    grade.add_argument("--manual", metavar="SCORES_CSV",
                       help="merge instructors' rubric scores of the written answers: a "
                       "'student' column and one column per written question")
    grade.add_argument("--twin-points", choices=("none", "full"), default="none",
                       help="points for an answer that calls the library's own twin of the "
                       "asked function (default none; flagged either way)")
    grade.add_argument("--sandbox", choices=("bwrap", "basic"),
                       help="isolation of each kernel (default: bwrap where it works, else "
                       "basic; see course/grading.md)")
    grade.add_argument("--shard", metavar="K/N",
                       help="grade only the K-th of N shards of the students (merge the parts "
                       "with `vae-edu grade merge`)")
    grade.epilog = ("also: vae-edu grade merge PARTS... --out grades.csv | vae-edu grade "
                    "gradescope OUT.zip | vae-edu grade canvas grades.csv --out canvas.csv")
    grade.set_defaults(func=cmd_grade)

    from .grader.commands import add_release_command

    add_release_command(sub)

    toc = sub.add_parser("toc", help="list the course's notebooks; exit 1 if files disagree")
    toc.add_argument("--course", help=COURSE_OPTION_HELP)
    toc.set_defaults(func=cmd_toc)

    colab = sub.add_parser(
        "colab", help="add or update the Open-in-Colab badge, install cell and GPU metadata"
    )
    colab.add_argument(
        "notebooks", nargs="*", metavar="NOTEBOOK",
        help="notebooks listed in course/toc.toml (default: every lecture; with --check, "
             "every lecture and exercise)",
    )
    colab.add_argument("--course", help="the course folder (default: the one above NOTEBOOK)")
    colab.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 and say what is missing if a notebook is not up to date",
    )
    colab.set_defaults(func=cmd_colab)

    site = sub.add_parser(
        "site", help="build the course website (static, offline) from course/toc.toml"
    )
    site.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the site into")
    site.add_argument("--course", help=COURSE_OPTION_HELP)
    site.add_argument(
        "--jupyterhub",
        metavar="URL",
        help="your JupyterHub (e.g. https://hub.example.edu): adds a launch button that "
        "opens each lecture there through nbgitpuller",
    )
    site.add_argument("--jobs", type=int, default=1, help="sphinx-build processes (default 1)")
    site.set_defaults(func=cmd_site)

    bench = sub.add_parser("bench", help="benchmarks")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    speed = bench_sub.add_parser(
        "speed", help="one epoch of the reference VAE: vae_edu vs DataLoader + ToTensor"
    )
    _add_data_device_options(speed)
    speed.add_argument("--epochs", type=int, default=1)
    speed.add_argument("--seed", type=int, default=0)
    speed.add_argument(
        "--repeat", type=int, default=1,
        help="alternate the two pipelines N times and keep each one's fastest run",
    )
    speed.set_defaults(func=cmd_bench_speed)
    quality = bench_sub.add_parser(
        "quality", help="train the course's models under the profile; print published figures"
    )
    _add_data_device_options(quality)
    quality.add_argument(
        "--compare-example", action="store_true",
        help="also train the PyTorch example's DataLoader loop for the same epochs",
    )
    quality.add_argument(
        "--only", action="append", choices=("vae", "iwae", "ae30", "stacked", "conv07"),
        help="run only this part (repeatable); conv07 (lecture 07's comparison, trained "
        "longer) runs only when asked for",
    )
    quality.add_argument(
        "--conv07-epochs", type=int, metavar="N",
        help="passes over the training images for conv07 (default: the profile's)",
    )
    quality.add_argument(
        "--conv07-model", action="append", choices=("mlp", "conv"),
        help="train only this model in conv07 (repeatable; default both)",
    )
    quality.set_defaults(func=cmd_bench_quality)
    widget_bench = bench_sub.add_parser(
        "widgets", help="milliseconds per update of the widgets of lectures 06-08"
    )
    _add_data_device_options(widget_bench, data=False)
    widget_bench.add_argument(
        "--updates", type=int, default=200, help="slider moves timed per widget (default 200)"
    )
    widget_bench.set_defaults(func=cmd_bench_widgets)
    from .cache_cli import add_commands

    add_commands(sub, bench_sub)  # pretrain, cache ..., bench lectures
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..checkpoint import CheckpointError
    from ..data import DataFileError
    from ..profiles import UnknownProfileError
    from .grader.commands import GRADE_TOOLS, grade_tool_main

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["grade"] and argv[1:2] and argv[1] in GRADE_TOOLS:
        return grade_tool_main(argv[1:])  # vae-edu grade merge|gradescope|canvas ...
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (DataFileError, UnknownProfileError, CheckpointError, RuntimeError, ValueError) as err:
        print(f"vae-edu {args.command}: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:  # the student release leaves the grader out
        if not (err.name or "").startswith(("vae_edu.grading.", "vae_edu.tooling.grader.")):
            raise
        print(f"vae-edu {args.command}: an instructor's command, not part of the student "
              f"release ({err.name} is not in it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
