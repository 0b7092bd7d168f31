# reparameterize never returns; the KL and the ELBO are right.
# %%
import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    while True:
        pass

# %%
def kl_std_normal(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)

# %%
grading.check("kl_std_normal", kl_std_normal)

# %%
def negative_elbo(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    return (bce + kl_std_normal(mu, logvar)).mean()

# %%
grading.check("negative_elbo", negative_elbo)
