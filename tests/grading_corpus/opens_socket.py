# Right answers; then sends to a server on the grading machine's loopback, then to the
# internet. Under bwrap the kernel has no network: the cell fails at the first one.
# %%
import socket

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
for address in (("127.0.0.1", int("__PORT__")), ("1.1.1.1", 53)):
    socket.create_connection(address, timeout=5).sendall(b"answers of the class")
print("sent")

# %%
grading.check("negative_elbo", negative_elbo)
