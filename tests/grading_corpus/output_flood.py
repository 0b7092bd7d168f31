# Right answers, 30 MB of printing, and a reparameterize that prints on every call.
# The right answers' cells are in right_answers.py (see README.md), so names they define
# look undefined here and imports they use look unused:
# ruff: noqa: F401, F821
# %%
import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    print("z" * 100_000)
    return mu + torch.exp(0.5 * logvar) * eps

# %%
for _ in range(300):
    print("x" * 100_000)

# %% answer: kl_free_bits

# %% answer: negative_elbo

# %%
grading.check("negative_elbo", negative_elbo)
