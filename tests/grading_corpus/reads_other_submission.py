# Appended (by tests/test_grading_batch.py) to a copy of a solution notebook, after its
# set-up cell: tries to read another student's submission (and print it).
# %%
from pathlib import Path

print(Path("__OTHER__").read_text()[:200])
