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
def kl_free_bits(mu, logvar, free_bits):
    per_dim = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar))
    return per_dim.mean(dim=0).clamp(min=free_bits).sum()

# %%
def negative_elbo(logits, x, mu, logvar, mask=None):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    bce = bce if mask is None else bce * mask
    return bce.sum(dim=1).mean() + kl_free_bits(mu, logvar, 0.0)

# %%
grading.check("negative_elbo", negative_elbo)
