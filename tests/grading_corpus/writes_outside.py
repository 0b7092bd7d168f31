# Appended (by tests/test_grading_batch.py) to a copy of a solution notebook, after its
# set-up cell: tries to write outside its scratch folder, over another student's
# submission. Under bwrap that fails in this cell (the submissions are not visible).
# %%
from pathlib import Path

Path("__OTHER__").write_text("overwritten by another student")
