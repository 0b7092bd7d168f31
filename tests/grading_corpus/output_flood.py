# Right answers, 30 MB of printing, and a reparameterize that prints on every call.
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

# %%
def kl_std_normal(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)

# %%
def negative_elbo(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    return (bce + kl_std_normal(mu, logvar)).mean()

# %%
grading.check("negative_elbo", negative_elbo)
