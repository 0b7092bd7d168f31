"""The colorization models: shapes, losses, the MDN pipeline, and what training gives."""

from __future__ import annotations

import pytest
import torch

from vae_edu.colorization import (
    MDN,
    ColorCVAE,
    ColorFieldVAE,
    ColorHistogram,
    ColorPCA,
    DecoderLoss,
    DiverseColorizer,
    L2Colorizer,
    hued_mnist,
    l2_loss,
    mdn_nll,
    mode_coverage,
)
from vae_edu.colorization.metrics import hue_of
from vae_edu.data import Batches, MNISTSplit, load_mnist
from vae_edu.seeding import seed_everything
from vae_edu.train import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(b=4, size=(12, 16), seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(b, 1, *size, generator=gen), 0.3 * torch.randn(b, 2, *size, generator=gen)


def _vae(size=(12, 16), latent=3):
    grey, color = _batch(16, size)
    loss = DecoderLoss({"hist": 1.0, "mah": 0.01, "grad": 1.0},
                       histogram=ColorHistogram().fit(color), pca=ColorPCA(4).fit(color))
    return ColorFieldVAE(size, latent, loss, beta=0.1)


def test_l2_colorizer_shapes_and_loss():
    torch.manual_seed(0)
    model = L2Colorizer((12, 16))
    grey, color = _batch()
    assert model(grey).shape == (4, 2, 12, 16)
    torch.testing.assert_close(model.loss((grey, color))["loss"], l2_loss(model(grey), color))
    samples = model.sample(grey, 3)
    assert samples.shape == (4, 3, 2, 12, 16) and torch.equal(samples[:, 0], samples[:, 2])


def test_cvae_loss_parts_and_samples():
    torch.manual_seed(0)
    model = ColorCVAE((12, 16), latent_dim=2, sigma=0.5, beta=2.0)
    parts = model.loss(_batch())
    assert set(parts) == {"loss", "recon", "kl"}
    torch.testing.assert_close(parts["loss"], parts["recon"] + 2.0 * parts["kl"])
    grey, _ = _batch()
    a = model.sample(grey, 5, generator=torch.Generator().manual_seed(1))
    b = model.sample(grey, 5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (4, 5, 2, 12, 16) and torch.equal(a, b)
    assert not torch.equal(a[:, 0], a[:, 1])  # different z, different colours


def test_color_field_vae_encodes_only_the_colour():
    torch.manual_seed(0)
    model = _vae()
    grey, color = _batch()
    parts = model.loss((grey, color))
    assert {"loss", "dec", "hist", "mah", "grad", "kl"} <= set(parts)
    torch.testing.assert_close(parts["loss"], parts["dec"] + 0.1 * parts["kl"])
    # the code depends on the colour field only, not on the grey image
    assert model.codes(color).shape == (4, 3)
    torch.testing.assert_close(model.encode(color)[0], model.codes(color))
    assert model.reconstruct(grey, color).shape == color.shape


def test_mdn_loss_and_the_diverse_colorizer():
    torch.manual_seed(0)
    vae = _vae()
    mdn = MDN((12, 16), latent_dim=3, components=5, sigma=0.3)
    grey, _ = _batch()
    logits, means = mdn(grey)
    assert logits.shape == (4, 5) and means.shape == (4, 5, 3)
    z = torch.randn(4, 3)
    torch.testing.assert_close(mdn.loss((grey, z))["loss"], mdn_nll(logits, means, z, 0.3))

    colorizer = DiverseColorizer(vae, mdn).eval()
    fields, weights = colorizer.components(grey)
    assert fields.shape == (4, 5, 2, 12, 16)
    assert torch.all(weights[:, :-1] >= weights[:, 1:])  # heaviest first
    torch.testing.assert_close(weights.sum(1), torch.ones(4))
    # the first output of image 0 is the decoded mean of its heaviest component
    heaviest = means[0, logits[0].argmax()]
    torch.testing.assert_close(fields[0, 0], vae.decode(heaviest[None], grey[:1])[0])
    assert torch.equal(colorizer.sample(grey, 2), fields[:, :2])
    mixture = colorizer.sample(grey, 7, mode="mixture", generator=torch.Generator().manual_seed(0))
    assert mixture.shape == (4, 7, 2, 12, 16)
    with pytest.raises(ValueError, match="1..5"):
        colorizer.sample(grey, 6)


def test_models_reject_sizes_they_were_not_built_for():
    with pytest.raises(ValueError, match="multiples of 4"):
        L2Colorizer((30, 30))
    model = L2Colorizer((12, 16))
    with pytest.raises(ValueError, match="12 x 16"):
        model(torch.zeros(2, 1, 16, 16))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.zeros(2, 3, 12, 16))
    with pytest.raises(ValueError, match="latent_dim"):
        DiverseColorizer(_vae(latent=3), MDN((12, 16), latent_dim=2))
    with pytest.raises(ValueError, match=r"\(B, 2\)"):
        MDN((12, 16), latent_dim=2).loss((torch.zeros(2, 1, 12, 16), torch.zeros(2, 3)))


@pytest.mark.slow
def test_on_the_ambiguity_set_l2_is_grey_and_vae_mdn_finds_the_hues():
    """The lecture's claim in small: L2 answers the desaturated average (no hue at all),
    the VAE + MDN answers with several of the four hues."""
    mnist = load_mnist(quiet=True, device="cpu")
    train = hued_mnist(mnist.train.take(1000), seed=0)
    test = hued_mnist(MNISTSplit(mnist.test.images[:100], mnist.test.labels[:100]), seed=1)

    seed_everything(0)
    l2 = L2Colorizer((28, 28))
    fit(l2, train.batches(64), epochs=3, lr=3e-3, device="cpu", progress=False, verbose=False)
    l2.eval()
    assert (hue_of(l2(test.grey), test.grey, test.hues) == -1).float().mean() > 0.9

    seed_everything(0)
    loss = DecoderLoss({"hist": 1.0, "mah": 0.01, "grad": 1.0},
                       histogram=ColorHistogram().fit(train.color),
                       pca=ColorPCA(20).fit(train.color))
    vae = ColorFieldVAE((28, 28), 2, loss, beta=0.01)
    fit(vae, train.batches(64), epochs=6, lr=3e-3, device="cpu", progress=False, verbose=False)
    vae.eval()
    mdn = MDN((28, 28), 2, components=8, sigma=0.2)
    codes = Batches(train.grey, vae.codes(train.color), batch_size=64)
    fit(mdn, codes, epochs=10, lr=3e-3, device="cpu", progress=False, verbose=False)
    samples = DiverseColorizer(vae, mdn.eval()).sample(test.grey)
    coverage = mode_coverage(samples, test.grey, test.hues).item()
    assert coverage >= 0.5, f"VAE + MDN found only {coverage:.0%} of the hues"
