"""Where the course under test is: the repository root and its solution notebooks."""

from __future__ import annotations

from pathlib import Path

#: The course folder (the repository root).
ROOT = Path(__file__).resolve().parents[1]
#: The solution notebooks of the graded problem sets, NN_topic.ipynb, in order.
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
