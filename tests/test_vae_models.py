"""The VAE family: VAE (Bernoulli and Gaussian decoders), ConvVAE, CVAE, ConvCVAE.

Tiny models on random images; every test runs in well under a second.
"""

from __future__ import annotations

import math

import pytest
import torch

from vae_edu.losses import bernoulli_nll, gaussian_nll, kl_std_normal
from vae_edu.models import Autoencoder, is_conditional, prepare_condition
from vae_edu.models.conv_vae import ConvVAE
from vae_edu.models.cvae import CVAE, ConvCVAE, interpolate_attributes
from vae_edu.models.vae import VAE, BaseVAE

B, Z = 4, 3


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def images(n: int = B, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def labels(n: int = B) -> torch.Tensor:
    return torch.arange(n) % 10


def small(kind: str, **kwargs) -> BaseVAE:
    if kind == "vae":
        return VAE(hidden_dim=16, latent_dim=Z, **kwargs)
    if kind == "conv":
        return ConvVAE(latent_dim=Z, channels=(4, 8), **kwargs)
    if kind == "cvae":
        return CVAE(latent_dim=Z, hidden_dim=16, **kwargs)
    return ConvCVAE(latent_dim=Z, channels=(4, 8), **kwargs)


KINDS = ["vae", "conv", "cvae", "convcvae"]


def with_y(model: BaseVAE, *args):
    """The positional arguments of a method, with labels for a conditional model."""
    return (*args, labels(len(args[0]))) if model.conditional else args


# ----------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("kind", KINDS)
def test_shapes_of_every_method(kind, likelihood):
    model = small(kind, likelihood=likelihood)
    x = images()
    out_shape = (B, 784) if kind in ("vae", "cvae") else (B, 1, 28, 28)
    mu, logvar = model.encode(*with_y(model, x))
    assert mu.shape == logvar.shape == (B, Z)
    assert model.decode(*with_y(model, mu)).shape == out_shape
    decoded, mu2, logvar2 = model(*with_y(model, x))
    assert decoded.shape == out_shape and mu2.shape == (B, Z)

    parts = model.loss((x, labels()))
    assert list(parts) == ["loss", "recon", "kl"]
    assert all(v.shape == () and torch.isfinite(v) for v in parts.values())

    assert model.log_likelihood(x, decoded).shape == (B,)
    assert model.log_weights(*with_y(model, x), k=5).shape == (5, B)
    assert model.reconstruct(*with_y(model, x)).shape == x.shape
    assert model.reconstruct(*with_y(model, x.flatten(1))).shape == (B, 784)
    samples = model.sample(6, *([3] if model.conditional else []))
    assert samples.shape == (6, 1, 28, 28)
    assert samples.min() >= 0 and samples.max() <= 1


def test_default_vae_keeps_its_layers_and_its_loss():
    model = VAE()
    assert [k for k in model.state_dict()] == [
        "encoder.0.weight",
        "encoder.0.bias",
        "to_mu_logvar.weight",
        "to_mu_logvar.bias",
        "decoder.0.weight",
        "decoder.0.bias",
        "decoder.2.weight",
        "decoder.2.bias",
    ]
    assert model.likelihood == "bernoulli" and model.latent_dim == 20 and model.beta == 1.0
    x = images()
    torch.manual_seed(3)
    logits, mu, logvar = model(x)
    torch.manual_seed(3)
    parts = model.loss(x)
    recon = bernoulli_nll(logits, x.flatten(1)).mean()
    kl = kl_std_normal(mu, logvar).mean()
    torch.testing.assert_close(parts["recon"], recon)
    torch.testing.assert_close(parts["loss"], recon + kl)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("kind", ["vae", "conv"])
def test_reconstruction_gradient_reaches_the_encoder_through_z(kind):
    """recon depends on the encoder only through z = mu + sigma * eps: a detached or
    non-reparameterised z would leave the encoder without a gradient from it."""
    model = small(kind)
    model.loss(images())["recon"].backward()
    first = model.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    head = model.to_mu_logvar.weight.grad
    assert head[:Z].abs().sum() > 0 and head[Z:].abs().sum() > 0  # mu and logvar rows


# ----------------------------------------------------------------------------- decoders


def test_gaussian_log_likelihood_is_minus_gaussian_nll_also_with_sample_dims():
    model = small("vae", likelihood="gaussian", sigma=0.3)
    x = images()
    mean = torch.rand(2, B, 784)  # K = 2 decoder outputs per image
    ll = model.log_likelihood(x, mean)
    assert ll.shape == (2, B)
    for k in range(2):
        expected = -gaussian_nll(mean[k], x.flatten(1), 2 * math.log(0.3))
        torch.testing.assert_close(ll[k], expected)


def test_bernoulli_log_likelihood_handles_sample_dims():
    model = small("conv")
    x = images()
    logits = torch.randn(3, B, 1, 28, 28)
    ll = model.log_likelihood(x, logits)
    for k in range(3):
        torch.testing.assert_close(ll[k], -bernoulli_nll(logits[k], x))
    with pytest.raises(ValueError, match=r"decoded has shape \(3, 4, 784\)"):
        model.log_likelihood(x, logits.flatten(2))


def test_gaussian_sigma_fixed_or_learned():
    fixed = small("vae", likelihood="gaussian", sigma=0.1)
    assert "decoder_logvar" not in dict(fixed.named_parameters())
    assert fixed.decoder_logvar.item() == pytest.approx(2 * math.log(0.1))
    learned = small("vae", likelihood="gaussian", sigma="learned")
    assert "decoder_logvar" in dict(learned.named_parameters())
    learned.loss(images())["loss"].backward()
    assert learned.decoder_logvar.grad is not None and learned.decoder_logvar.grad != 0
    # a wider decoder gives a smaller reconstruction term for the same (poor) fit
    wide = small("vae", likelihood="gaussian", sigma=1.0)
    wide.load_state_dict(fixed.state_dict())
    torch.manual_seed(1)
    narrow_recon = fixed.loss(images())["recon"]
    torch.manual_seed(1)
    assert wide.loss(images())["recon"] < narrow_recon


def test_beta_scales_only_the_kl_term():
    low, high = small("vae", beta=0.5), small("vae", beta=2.0)
    with torch.no_grad():
        low.to_mu_logvar.bias[:Z] = 5.0  # mu far from 0: a KL of tens of nats
    high.load_state_dict(low.state_dict())
    torch.manual_seed(2)
    a = low.loss(images())
    torch.manual_seed(2)
    b = high.loss(images())
    torch.testing.assert_close(a["recon"], b["recon"])
    torch.testing.assert_close(a["loss"], a["recon"] + 0.5 * a["kl"])
    assert a["kl"] > 10
    torch.testing.assert_close(b["loss"] - a["loss"], 1.5 * a["kl"], rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- bad input


def test_bad_inputs_raise_clear_errors():
    model = small("vae")
    with pytest.raises(ValueError, match=r"784 pixels.*got a batch of shape \(2, 100\)"):
        model.loss(torch.rand(2, 100))
    with pytest.raises(TypeError, match="uint8"):
        model.loss(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(TypeError, match="unconditional"):
        model.log_weights(images(), 10)  # k given by position lands in y
    with pytest.raises(ValueError, match="likelihood"):
        VAE(likelihood="poisson")
    with pytest.raises(ValueError, match="sigma"):
        VAE(likelihood="gaussian", sigma=-1.0)
    with pytest.raises(ValueError, match="channels"):
        ConvVAE(channels=(8, 16, 32))
    with pytest.raises(TypeError, match=r"needs a batch \(x, y\)"):
        small("cvae").loss(images())
    with pytest.raises(TypeError, match="conditional"):
        small("cvae").sample(3)


# ----------------------------------------------------------------------------- CVAE


@pytest.mark.parametrize("kind", ["cvae", "convcvae"])
def test_cvae_decoder_uses_y(kind):
    model = small(kind)
    z = torch.randn(B, Z)
    out3, out7 = model.decode(z, torch.full((B,), 3)), model.decode(z, torch.full((B,), 7))
    assert (out3 - out7).abs().max() > 1e-4
    mu3, _ = model.encode(images(), torch.full((B,), 3))
    mu7, _ = model.encode(images(), torch.full((B,), 7))
    assert (mu3 - mu7).abs().max() > 1e-6  # the encoder sees y too


@pytest.mark.parametrize("kind", ["cvae", "convcvae"])
def test_cvae_int_labels_equal_one_hot(kind):
    model = small(kind)
    y = torch.tensor([0, 9, 4, 4])
    one_hot = torch.nn.functional.one_hot(y, 10).float()
    z = torch.randn(B, Z)
    torch.testing.assert_close(model.decode(z, y), model.decode(z, one_hot))
    torch.testing.assert_close(model.encode(images(), y), model.encode(images(), one_hot))
    torch.manual_seed(4)
    a = model.loss((images(), y))
    torch.manual_seed(4)
    b = model.loss((images(), one_hot))
    torch.testing.assert_close(a, b)


def test_cvae_rejects_bad_y():
    model = small("cvae")
    with pytest.raises(ValueError, match=r"\(B, 10\), got torch.float32 of shape \(4, 7\)"):
        model.encode(images(), torch.rand(B, 7))
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, got values in \[0, 12\]"):
        model.encode(images(), torch.tensor([0, 1, 2, 12]))
    with pytest.raises(ValueError, match="y has 3 rows but x has 4"):
        model.encode(images(), torch.tensor([0, 1, 2]))


def test_interpolate_attributes_endpoints_and_decoding():
    y_min, y_max = torch.eye(10)[1], torch.eye(10)[7]
    ys = interpolate_attributes(y_min, y_max, [0.0, 0.25, 1.0])
    assert ys.shape == (3, 10)
    assert torch.equal(ys[0], y_min) and torch.equal(ys[-1], y_max)
    torch.testing.assert_close(ys[1], 0.75 * y_min + 0.25 * y_max)
    model = small("cvae")
    assert model.decode_images(torch.zeros(3, Z), ys).shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="same shape"):
        interpolate_attributes(torch.zeros(10), torch.zeros(5), [0.5])


# ----------------------------------------------------------------------------- the y protocol


def test_is_conditional_for_every_kind_of_model():
    assert not is_conditional(small("vae")) and not is_conditional(small("conv"))
    assert is_conditional(small("cvae")) and is_conditional(small("convcvae"))
    assert not is_conditional(Autoencoder())  # no `conditional` attribute at all
    assert not is_conditional(object())


@pytest.mark.parametrize("kind", ["vae", "conv"])
def test_prepare_condition_of_an_unconditional_model(kind):
    model = small(kind)
    name = type(model).__name__
    assert prepare_condition(model, None, B) is None
    assert prepare_condition(Autoencoder(), None) is None
    with pytest.raises(
        TypeError, match=rf"^f: {name} is unconditional and takes no y, got Tensor; drop y$"
    ):
        prepare_condition(model, labels(), B, who="f")
    with pytest.raises(TypeError, match=rf"^{name} is unconditional .*got int; pass k by name$"):
        prepare_condition(model, 10, B, hint="pass k by name")


@pytest.mark.parametrize("kind", ["cvae", "convcvae"])
def test_prepare_condition_of_a_cvae(kind):
    model = small(kind)
    one_hot = torch.nn.functional.one_hot(labels(), 10).float()
    y = prepare_condition(model, labels(), B)
    assert y.dtype == torch.float32 and torch.equal(y, one_hot)
    assert torch.equal(prepare_condition(model, one_hot, B), one_hot)  # floats are kept
    assert torch.equal(prepare_condition(model, 3, B), torch.eye(10)[3].expand(B, -1))
    assert prepare_condition(model, labels(7)).shape == (7, 10)  # any number of rows
    with pytest.raises(
        TypeError,
        match=r"^f: \w+ is conditional: pass y, int labels \(B,\) or a float \(B, y_dim\) tensor$",
    ):
        prepare_condition(model, None, B, who="f")


@pytest.mark.parametrize("kind", ["cvae", "convcvae"])
def test_prepare_condition_rejects_a_bad_y(kind):
    model = small(kind)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, got values in \[0, 10\]"):
        prepare_condition(model, torch.tensor([0, 1, 2, 10]), B)
    with pytest.raises(ValueError, match="y has 3 rows but x has 4"):
        prepare_condition(model, torch.tensor([0, 1, 2]), B)
    with pytest.raises(ValueError, match=r"floats of shape \(B, 10\), got torch.float32 of shape"):
        prepare_condition(model, torch.rand(B, 7), B)
    with pytest.raises(ValueError, match=r"int labels must have shape \(B,\)"):
        prepare_condition(model, torch.zeros(B, 10, dtype=torch.long), B)


def test_the_models_and_their_callers_use_the_one_protocol():
    from vae_edu.evaluate import sample_grid
    from vae_edu.widgets import latent_code

    vae, cvae = small("vae"), small("cvae")
    with pytest.raises(TypeError, match="unconditional and takes no y.*pass keyword arguments"):
        vae.log_weights(images(), 10)
    with pytest.raises(TypeError, match=r"CVAE is conditional: pass y"):
        cvae.reconstruct(images())
    with pytest.raises(TypeError, match=r"^latent_code: VAE is unconditional .*; drop y$"):
        latent_code(vae, images(1)[0], y=3)
    with pytest.raises(TypeError, match=r"^latent_code: CVAE is conditional: pass y"):
        latent_code(cvae, images(1)[0])
    assert latent_code(cvae, images(1)[0], y=3).shape == (Z,)
    assert sample_grid(cvae, 3).shape == (3, 1, 28, 28)  # labels 0, 1, 2 in turn
