# reparameterize never returns; the KL and the ELBO are right.
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here and imports they use look unused:
# ruff: noqa: F401, F821
# %%
import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    while True:
        pass

# %% answer: kl_free_bits

# %%
grading.check("kl_free_bits", kl_free_bits)

# %% answer: negative_elbo

# %%
grading.check("negative_elbo", negative_elbo)
