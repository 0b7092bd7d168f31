# Right answers; starts a daemon that double-forks away from the kernel (setsid between
# the forks), sleeps past the end of its run, then writes a file (in the batch test: into
# the grader's output folder). No process may be left and no file written.
# %%
import os
import sys

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
TARGET = "__TARGET__"
MARKER = "__MARKER__"
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = f"import time; time.sleep(4); open({TARGET!r}, 'w').write('pwned')  # {MARKER}"
        os.execv(sys.executable, [sys.executable, "-c", code])
    os._exit(0)
print("daemon started")

# %%
grading.check("negative_elbo", negative_elbo)
