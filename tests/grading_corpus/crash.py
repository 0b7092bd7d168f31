# A correct reparameterize, then the kernel crashes (a segfault) before the KL is tested.
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here and imports they use look unused:
# ruff: noqa: F401, F821
# %%
import ctypes

import torch

from vae_edu import grading

# %% answer: reparameterize

# %%
grading.check("reparameterize", reparameterize)

# %% answer: kl_free_bits

# %%
ctypes.string_at(0)  # reads address 0: the kernel dies

# %%
grading.check("kl_free_bits", kl_free_bits)
