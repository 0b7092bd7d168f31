# A cell that grabs memory until it fails, and an ELBO that asks for 3 GB on every call.
# %%
import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps

# %%
grading.check("reparameterize", reparameterize)

# %%
def kl_std_normal(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)

# %%
grading.check("kl_std_normal", kl_std_normal)

# %%
def hog():
    blocks = []
    while True:
        blocks.append(b"x" * (50 * 2**20))  # 50 MB of touched memory at a time

hog()

# %%
def negative_elbo(logits, x, mu, logvar):
    scratch = torch.ones(750_000_000)  # 3 GB
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    return (bce + kl_std_normal(mu, logvar)).mean() + 0 * scratch[0]

# %%
grading.check("negative_elbo", negative_elbo)
