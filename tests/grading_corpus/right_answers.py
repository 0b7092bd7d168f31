# Not a submission: the right answers that several submissions here share, one cell each,
# named after "# %%". In a submission, a line "# %% answer: NAME" (or "NAME, NAME, ...")
# with no code under it stands for a cell holding those answers, one blank line between
# them (see README.md). The first cell, unnamed, only imports what the answers use.
# %%
import torch
import torch.nn.functional as F


# %% reparameterize
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps

# %% kl_free_bits
def kl_free_bits(mu, logvar, free_bits):
    per_dim = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar))
    return per_dim.mean(dim=0).clamp(min=free_bits).sum()

# %% negative_elbo
def negative_elbo(logits, x, mu, logvar, mask=None):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    bce = bce if mask is None else bce * mask
    return bce.sum(dim=1).mean() + kl_free_bits(mu, logvar, 0.0)
