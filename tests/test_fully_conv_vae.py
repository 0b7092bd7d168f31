"""FullyConvVAE: no linear layer, so its size does not grow with the image; ConvVAE's does."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vae_edu.models import ConvVAE, FullyConvVAE


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_the_parameter_count_does_not_depend_on_the_image_size():
    counts = {side: count(FullyConvVAE((1, side, side), latent_channels=4))
              for side in (28, 64, 256)}
    assert len(set(counts.values())) == 1
    c1, c2, zc = 32, 64, 4  # the count by hand: five convolutions, weights plus biases
    by_hand = ((1 * c1 * 16 + c1) + (c1 * c2 * 16 + c2) + (c2 * 2 * zc * 9 + 2 * zc)
               + (zc * c2 * 9 + c2) + (c2 * c1 * 16 + c1) + (c1 * 1 * 16 + 1))
    assert counts[28] == by_hand
    # colour input changes only the first and last layers: 2 more channels in each,
    # c1 x 4 x 4 weights per channel, and 2 more output biases
    assert count(FullyConvVAE((3, 64, 64))) - counts[28] == 2 * (2 * c1 * 16) + 2


def test_conv_vae_linear_layers_follow_the_formula_the_lecture_uses():
    # the two linear layers between c2 x H/4 x W/4 features and Z latents:
    # flat * 2Z + 2Z (mu and logvar head) + Z * flat + flat (decoder) = flat (3Z + 1) + 2Z
    for z, (c1, c2) in ((20, (32, 64)), (8, (16, 32))):
        m = ConvVAE(latent_dim=z, channels=(c1, c2))
        linear = sum(count(x) for x in m.modules() if isinstance(x, torch.nn.Linear))
        flat = c2 * 7 * 7
        assert linear == flat * (3 * z + 1) + 2 * z


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_shapes_and_the_kl_term_against_torch_distributions(shape):
    torch.manual_seed(0)
    m = FullyConvVAE(shape, latent_channels=2, channels=(8, 16))
    x = torch.rand(5, *shape)
    mu, logvar = m.encode(x)
    z_dim = 2 * (shape[1] // 4) * (shape[2] // 4)
    assert m.latent_dim == z_dim and mu.shape == logvar.shape == (5, z_dim)
    assert m.decode(mu).shape == (5, *shape)
    out = m.loss(x)
    q = Normal(mu, (0.5 * logvar).exp())
    kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1).mean()
    torch.testing.assert_close(out["kl"], kl, rtol=1e-5, atol=1e-5)
    assert torch.isfinite(out["loss"]) and out["recon"] > 0
    out["loss"].backward()  # every layer gets a gradient
    assert all(p.grad is not None for p in m.parameters())


def test_bad_shapes_are_one_clear_error():
    with pytest.raises(ValueError, match="divisible by 4"):
        FullyConvVAE((1, 30, 30))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        FullyConvVAE((28, 28))
    with pytest.raises(ValueError, match="latent_channels"):
        FullyConvVAE((1, 28, 28), latent_channels=0)
    wrong = r"FullyConvVAE expects .* 784 pixels.*got a batch of shape \(2, 1, 32, 32\)"
    with pytest.raises(ValueError, match=wrong):
        FullyConvVAE((1, 28, 28)).encode(torch.rand(2, 1, 32, 32))
