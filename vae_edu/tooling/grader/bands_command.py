"""``vae-edu exercises bands``: retrain the references of the train-and-report questions.

For every train-and-report question graded in ``solutions/`` (or those named with
``--only``), each profile in ``--profiles`` and each seed in ``--seeds``, the reference
solution is trained with the library under that profile's budget and measured exactly as
the grader measures a student (:meth:`TrainQuestion.assess`), with the question's
baselines; the values and the threshold go to ``solutions/bands.json`` (see
:mod:`vae_edu.grading.bands`), and the **Band** paragraph of each solution notebook is
rewritten to state them (then run ``vae-edu exercises`` to pass them on).
"""

from __future__ import annotations

import argparse
import sys


def cmd_bands(args: argparse.Namespace) -> int:
    from ...grading.bands import BANDS_FILE, regenerate, restate
    from ...grading.questions import QUESTIONS
    from ...paths import course_folder
    from .notebook import read_solution

    try:
        solutions = course_folder("solutions", args.course)
    except FileNotFoundError as err:
        print(f"vae-edu exercises bands: {err}", file=sys.stderr)
        return 2
    graded = [q.id for p in sorted(solutions.glob("[0-9][0-9]_*.ipynb"))
              for q in read_solution(p).questions]
    train = [qid for qid in graded if QUESTIONS[qid].tier == "train"]
    if args.only:
        unknown = [q for q in args.only if q not in train]
        if unknown:
            print(f"vae-edu exercises bands: not a train-and-report question of the "
                  f"solutions: {', '.join(unknown)} (they are: {', '.join(train)})",
                  file=sys.stderr)
            return 2
        train = list(args.only)
    try:
        data = regenerate(solutions / BANDS_FILE, [QUESTIONS[q] for q in train],
                          args.profiles, args.seeds)
    except ValueError as err:  # a band a baseline reaches: nothing is written
        print(f"vae-edu exercises bands: {err}", file=sys.stderr)
        return 1
    print(f"wrote the bands of {len(train)} question(s) x {len(args.profiles)} profile(s) x "
          f"{len(args.seeds)} seed(s) to {solutions / BANDS_FILE}")
    for path in restate(solutions, data, [QUESTIONS[q] for q in train]):
        print(f"restated the band in {path}; run `vae-edu exercises` to regenerate the "
              "exercises")
    return 0
