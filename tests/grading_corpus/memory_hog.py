# A cell that grabs memory until it fails, and an ELBO that asks for 3 GB on every call.
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here:
# ruff: noqa: F821
# %%
import torch
import torch.nn.functional as F

from vae_edu import grading

# %% answer: reparameterize

# %%
grading.check("reparameterize", reparameterize)

# %% answer: kl_free_bits

# %%
grading.check("kl_free_bits", kl_free_bits)

# %%
def hog():
    blocks = []
    while True:
        blocks.append(b"x" * (50 * 2**20))  # 50 MB of touched memory at a time

hog()

# %%
def negative_elbo(logits, x, mu, logvar, mask=None):
    scratch = torch.ones(750_000_000)  # 3 GB
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    bce = bce if mask is None else bce * mask
    return bce.sum(dim=1).mean() + kl_free_bits(mu, logvar, 0.0) + 0 * scratch[0]

# %%
grading.check("negative_elbo", negative_elbo)
