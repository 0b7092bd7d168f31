# A right reparameterize; then it sabotages what the hidden tests need (exec and display),
# so that the right KL and ELBO that follow cannot be tested.
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here and imports they use look unused:
# ruff: noqa: F401, F821
# %%
import builtins

import IPython.display
import torch
import torch.nn.functional as F

from vae_edu import grading

# %% answer: reparameterize

# %%
grading.check("reparameterize", reparameterize)

# %%
builtins.exec = lambda *args, **kwargs: None
IPython.display.display = lambda *args, **kwargs: print("✓ passed")

# %% answer: kl_free_bits, negative_elbo

# %%
grading.check("kl_free_bits", kl_free_bits)
grading.check("negative_elbo", negative_elbo)
