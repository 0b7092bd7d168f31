# A correct reparameterize, then the kernel crashes (a segfault) before the KL is tested.
# %%
import ctypes

import torch

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps

# %%
grading.check("reparameterize", reparameterize)

# %%
def kl_free_bits(mu, logvar, free_bits):
    per_dim = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar))
    return per_dim.mean(dim=0).clamp(min=free_bits).sum()

# %%
ctypes.string_at(0)  # reads address 0: the kernel dies

# %%
grading.check("kl_free_bits", kl_free_bits)
