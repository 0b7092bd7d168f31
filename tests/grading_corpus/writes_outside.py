# Right answers; then tries to write outside its scratch folder, over another student's
# submission. Under bwrap that fails in that cell (the submissions are not visible).
# %%
from pathlib import Path

import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps

def kl_std_normal(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)

def negative_elbo(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    return (bce + kl_std_normal(mu, logvar)).mean()


# %%
Path("__OTHER__").write_text("overwritten by another student")

# %%
grading.check("negative_elbo", negative_elbo)
