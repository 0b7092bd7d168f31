# Appended (by tests/test_grading_batch.py) to a copy of a solution notebook, after its
# set-up cell: starts a daemon that double-forks away from the kernel (setsid between the
# forks), sleeps past the end of its run, then writes over another student's feedback.
# No process may be left and no file written; the answers earn what they earn.
# %%
import os
import sys

TARGET = "__TARGET__"
MARKER = "__MARKER__"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = f"import time; time.sleep(4); open({TARGET!r}, 'w').write('pwned')  # {MARKER}"
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
print("daemon started")
