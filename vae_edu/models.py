"""The models of the course.  Each takes images ``x: (B, 1, 28, 28)`` in [0, 1] and
defines ``loss(batch) -> {"loss": ..., <named parts>}`` for :func:`vae_edu.train.fit`.
"""

from __future__ import annotations

import torch
from torch import nn

from .losses import bernoulli_nll, check_same_shape, kl_std_normal, reparameterize


class VAE(nn.Module):
    """The reference MLP VAE (Kingma & Welling 2014; the PyTorch example): 784-400-20.

    Encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))); prior p(z) = N(0, I); Bernoulli
    decoder p(x|z) whose ``decode`` returns logits.  ``beta`` weights the KL term
    (beta = 1 is the ELBO).
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int = 400,
        latent_dim: int = 20,
        beta: float = 1.0,
    ):
        super().__init__()
        self.input_dim, self.latent_dim, self.beta = input_dim, latent_dim, beta
        self.encoder = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU())
        # one layer outputs both heads: the first half is mu, the second half log sigma^2
        self.to_mu_logvar = nn.Linear(hidden_dim, 2 * latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, 1, 28, 28) or (B, 784) -> (mu, logvar), each (B, latent_dim)."""
        x = x.flatten(1)
        if x.shape[1] != self.input_dim:
            raise ValueError(
                f"{type(self).__name__} expects images of {self.input_dim} pixels, got a batch "
                f"of shape {tuple(x.shape)}"
            )
        return self.to_mu_logvar(self.encoder(x)).chunk(2, dim=1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> logits (B, input_dim); sigmoid gives pixel probabilities."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor):
        """-> (logits (B, input_dim), mu, logvar); z is sampled, also in eval mode."""
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar

    def loss(self, batch) -> dict[str, torch.Tensor]:
        """Negative ELBO and its parts, per image averaged over the batch, in nats."""
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        logits, mu, logvar = self(x)
        target = x.flatten(1)
        check_same_shape(logits, target, ("logits", "x"), where="VAE.loss")
        # The [0, 1] range check costs a device sync per batch on a GPU: check on the CPU.
        recon = bernoulli_nll(logits, target, validate=target.device.type == "cpu").mean()
        kl = kl_std_normal(mu, logvar).mean()
        return {"loss": recon + self.beta * kl, "recon": recon, "kl": kl}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images (n, 1, 28, 28) of pixel probabilities, z ~ N(0, I)."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return torch.sigmoid(self.decode(z)).view(n, 1, 28, 28)
