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

def kl_std_normal(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - torch.exp(logvar)).sum(dim=1)

def negative_elbo(logits, x, mu, logvar):
    bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=1)
    return (bce + kl_std_normal(mu, logvar)).mean()

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
