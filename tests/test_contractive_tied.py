"""ContractiveAutoencoder(tied=True): the decoder reuses the encoder's weight, W_dec = W^T.

The untied default must stay what it was (same parameters, names and initial weights), and
the penalty, which depends on the encoder only, must still be the Jacobian's norm.  Small
models on random images in [0, 1] and a few hundred images of the shipped MNIST subset,
CPU only: the whole file runs in seconds.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from vae_edu.data import SUBSET_DIR, load_mnist
from vae_edu.losses import bernoulli_nll, contractive_penalty_autograd
from vae_edu.models.autoencoders import ContractiveAutoencoder
from vae_edu.train import fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H = 16


def rows(n: int = 8, seed: int = 0) -> torch.Tensor:
    """(n, 784) in (0.1, 0.9)."""
    return 0.1 + 0.8 * torch.rand(n, 784, generator=torch.Generator().manual_seed(seed))


def tied_model(seed: int = 0, **kwargs) -> ContractiveAutoencoder:
    torch.manual_seed(seed)
    return ContractiveAutoencoder(hidden=H, tied=True, **kwargs)


# ----------------------------------------------------------------------------- the tie


def test_the_tied_decoder_weight_is_a_transposed_view_of_the_encoder_weight():
    model = tied_model()
    W = model.encoder[0].weight  # (H, 784)
    assert model.decoder.weight.shape == (784, H)  # as Linear(H, 784).weight
    assert torch.equal(model.decoder.weight, W.T)
    assert model.decoder.weight.data_ptr() == W.data_ptr()  # the same storage
    with torch.no_grad():
        W.mul_(2.0)  # a change of W is a change of the decoder
    assert torch.equal(model.decoder.weight, W.T)
    # W is stored once: the decoder's only parameter is its bias
    names = [name for name, _ in model.named_parameters()]
    assert names == ["encoder.0.weight", "encoder.0.bias", "decoder.bias"]
    assert list(model.state_dict()) == names
    assert sum(p.numel() for p in model.parameters()) == H * 784 + H + 784
    assert model.tied is True


def test_the_tied_decoder_computes_h_W_plus_c_and_the_loss_adds_its_parts():
    model = tied_model(lam=0.5)
    x = rows()
    h = model.encode(x)
    logits = h @ model.encoder[0].weight + model.decoder.bias  # (8, 784)
    assert torch.allclose(model.decode(h), logits, atol=1e-6)
    parts = model.loss(x)
    assert torch.allclose(parts["recon"], bernoulli_nll(logits, x).mean(), rtol=1e-6)
    assert torch.allclose(parts["loss"], parts["recon"] + 0.5 * parts["contractive"], rtol=1e-6)


def test_gradients_of_both_uses_of_the_shared_weight_add_up():
    """d loss / d W of the tied model = encoder part + decoder part (transposed) of an
    untied twin that holds the same numbers."""
    tied = tied_model(lam=1.0)
    torch.manual_seed(1)
    untied = ContractiveAutoencoder(hidden=H, lam=1.0)
    with torch.no_grad():
        untied.encoder[0].weight.copy_(tied.encoder[0].weight)
        untied.encoder[0].bias.copy_(tied.encoder[0].bias)
        untied.decoder.weight.copy_(tied.encoder[0].weight.T)
        untied.decoder.bias.copy_(tied.decoder.bias)
    x = rows()
    tied.loss(x)["loss"].backward()
    untied.loss(x)["loss"].backward()
    W_grad = tied.encoder[0].weight.grad
    expected = untied.encoder[0].weight.grad + untied.decoder.weight.grad.T
    assert torch.allclose(W_grad, expected, rtol=1e-5, atol=1e-7)
    # ... and the decoder's share is not negligible: tying changes the gradient
    assert (W_grad - untied.encoder[0].weight.grad).abs().max() > 1e-3
    assert torch.allclose(tied.decoder.bias.grad, untied.decoder.bias.grad, rtol=1e-5)


def test_the_tie_survives_deepcopy_dtype_and_state_dict_round_trip():
    model = tied_model()
    clone = copy.deepcopy(model)
    assert clone.decoder.weight.data_ptr() == clone.encoder[0].weight.data_ptr()
    assert clone.decoder.weight.data_ptr() != model.encoder[0].weight.data_ptr()
    double = copy.deepcopy(model).double()
    assert double.decoder.weight.dtype == torch.float64
    assert double.decoder.weight.data_ptr() == double.encoder[0].weight.data_ptr()
    other = tied_model(seed=5)
    other.load_state_dict(model.state_dict())
    assert torch.equal(other.decoder.weight, model.decoder.weight)
    assert other.decoder.weight.data_ptr() == other.encoder[0].weight.data_ptr()


# ----------------------------------------------------------------------------- the penalty


def test_the_closed_form_penalty_is_the_autograd_jacobian_norm_with_tied_weights():
    model = tied_model(lam=1.0)
    x = rows(6)
    # move away from the initialisation, where W is small and the units sit at h ~ 1/2
    with torch.no_grad():
        model.encoder[0].weight.mul_(20.0)
    parts = model.loss(x)
    exact = contractive_penalty_autograd(model.encode, x)  # the Jacobian by torch.func
    assert torch.allclose(parts["contractive"], exact, rtol=1e-4)
    assert torch.allclose(model.jacobian_norm(x).mean(), exact, rtol=1e-4)
    by_hand = torch.stack([
        (torch.autograd.functional.jacobian(lambda v: model.encode(v[None])[0], xb) ** 2).sum()
        for xb in x[:2]
    ])
    assert torch.allclose(model.jacobian_norm(x[:2]), by_hand, rtol=1e-4)
    # the penalty is the encoder's alone: the decoder bias does not enter it
    with torch.no_grad():
        model.decoder.bias.add_(3.0)
    assert torch.allclose(model.loss(x)["contractive"], parts["contractive"], rtol=1e-6)


def test_the_gradient_of_the_closed_form_is_that_of_the_jacobian_norm_with_tied_weights():
    model = tied_model(lam=1.0)
    x = rows(4)
    W = model.encoder[0].weight
    (closed,) = torch.autograd.grad(model.loss(x)["contractive"], W)
    (exact,) = torch.autograd.grad(contractive_penalty_autograd(model.encode, x), W)
    assert torch.allclose(closed, exact, rtol=1e-4, atol=1e-8)


# ----------------------------------------------------------------------------- untied default


def test_the_untied_default_keeps_its_parameters_names_and_initial_weights():
    torch.manual_seed(0)
    model = ContractiveAutoencoder(hidden=H)
    assert model.tied is False
    assert isinstance(model.decoder, nn.Linear)
    assert list(model.state_dict()) == [
        "encoder.0.weight", "encoder.0.bias", "decoder.weight", "decoder.bias"]
    torch.manual_seed(0)  # the same draws as before the option existed
    encoder, decoder = nn.Linear(784, H), nn.Linear(H, 784)
    state = model.state_dict()
    assert torch.equal(state["encoder.0.weight"], encoder.weight)
    assert torch.equal(state["decoder.weight"], decoder.weight)
    assert torch.equal(state["decoder.bias"], decoder.bias)
    # the same encoder draws with tied=True: only the decoder differs
    assert torch.equal(tied_model().encoder[0].weight, encoder.weight)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_tied_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="tied must be True or False"):
        ContractiveAutoencoder(hidden=H, tied=bad)


# ----------------------------------------------------------------------------- the loophole


@pytest.fixture(scope="module")
def subset_train():
    """6000 training images of the MNIST subset shipped with the package."""
    return load_mnist(SUBSET_DIR, device="cpu").train


def _norms_after_training(train, *, tied: bool, lam: float) -> tuple[float, float, float, float]:
    """(||W_enc|| before, after, ||W_dec|| before, after) of a 784-32 model whose encoder
    starts with 8 times its default weights (large, as after some training: units that
    saturate, a large penalty), trained 5 epochs with penalty weight ``lam``."""
    torch.manual_seed(0)
    model = ContractiveAutoencoder(hidden=32, lam=lam, tied=tied)
    with torch.no_grad():
        model.encoder[0].weight.mul_(8.0)
    before = model.encoder[0].weight.norm().item(), model.decoder.weight.norm().item()
    fit(model, train, epochs=5, seed=0, progress=False, verbose=False, device="cpu")
    after = model.encoder[0].weight.norm().item(), model.decoder.weight.norm().item()
    return before[0], after[0], before[1], after[1]


def test_untied_the_penalty_shrinks_the_encoder_while_the_decoder_grows_tied_it_cannot(
        subset_train):
    """The scale loophole in a two-second run (measured over seeds 0-3: the untied encoder
    fell 26.1 -> 21.7-23.2 while its decoder grew 16.1 -> 22.2-23.7; without the penalty
    the encoder grew to 27.0; tied, W grew 26.1 -> 29.6-30.1)."""
    enc0, enc1, dec0, dec1 = _norms_after_training(subset_train, tied=False, lam=2.0)
    assert enc1 < 0.95 * enc0, (enc0, enc1)  # the penalty shrinks the encoder...
    assert dec1 > 1.2 * dec0, (dec0, dec1)  # ...while the decoder grows
    plain0, plain1, _, _ = _norms_after_training(subset_train, tied=False, lam=0.0)
    assert plain1 > plain0, (plain0, plain1)  # without the penalty it does not shrink
    tied0, tied1, tied_dec0, tied_dec1 = _norms_after_training(subset_train, tied=True, lam=2.0)
    assert tied_dec1 == pytest.approx(tied1) and tied_dec0 == pytest.approx(tied0)
    assert tied1 > tied0, (tied0, tied1)  # tied, W is the decoder's too: it cannot shrink
