# Right answers; writes a file larger than allowed, then deletes everything it can reach
# from its working folder, HOME and TMPDIR (and the folder above its working folder).
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here and imports they use look unused:
# ruff: noqa: F401, F821
# %%
import os
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from vae_edu import grading

# %% answer: reparameterize, kl_free_bits, negative_elbo

# %%
with open("big.bin", "wb") as fh:
    for _ in range(64):
        fh.write(b"\0" * 2**20)  # 64 MB, over the file-size limit

# %%
here = Path.cwd()
for folder in (here, Path.home(), Path(os.environ["TMPDIR"])):
    for item in list(folder.iterdir()):
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink()
shutil.rmtree(here.parent, ignore_errors=True)
print("deleted", here.parent)

# %%
grading.check("negative_elbo", negative_elbo)
