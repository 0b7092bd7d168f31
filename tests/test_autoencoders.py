"""The deterministic autoencoders and the corruption processes.

Small models, a few hundred images of the shipped MNIST subset, CPU only: the whole
file runs in seconds.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch

from vae_edu.corruption import CORRUPTIONS, gaussian_noise, masking_noise, salt_and_pepper
from vae_edu.data import SUBSET_DIR, load_mnist
from vae_edu.losses import bernoulli_nll, contractive_penalty_autograd
from vae_edu.models.autoencoders import (
    Autoencoder,
    ContractiveAutoencoder,
    DenoisingAutoencoder,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedClassifier,
    accuracy,
    deep_autoencoder,
)
from vae_edu.train import History, evaluate, fit

QUIET = {"progress": False, "verbose": False, "device": "cpu"}


@pytest.fixture(scope="module")
def mnist():
    """The subset shipped with the package, named explicitly: never the network."""
    return load_mnist(SUBSET_DIR, device="cpu")


def images(n: int = 8, seed: int = 0) -> torch.Tensor:
    """(n, 1, 28, 28) in (0.1, 0.9): strictly inside [0, 1], so any change is visible."""
    gen = torch.Generator().manual_seed(seed)
    return 0.1 + 0.8 * torch.rand(n, 1, 28, 28, generator=gen)


# ----------------------------------------------------------------------------- all models

MODELS = {
    "autoencoder": lambda: Autoencoder((784, 64, 8)),
    "denoising": lambda: DenoisingAutoencoder((784, 64, 8), corruption="masking", fraction=0.3),
    "sparse": lambda: SparseAutoencoder((784, 64, 16)),
    "contractive": lambda: ContractiveAutoencoder(hidden=16),
    "stacked": lambda: StackedAutoencoder((784, 64, 32, 8)),
}
PARTS = {
    "autoencoder": {"loss", "recon"},
    "denoising": {"loss", "recon"},
    "sparse": {"loss", "recon", "sparsity"},
    "contractive": {"loss", "recon", "contractive"},
    "stacked": {"loss", "recon"},
}
CODE_DIMS = {"autoencoder": 8, "denoising": 8, "sparse": 16, "contractive": 16, "stacked": 8}


@pytest.mark.parametrize("name", MODELS)
def test_shapes_of_encode_decode_reconstruct_and_loss(name):
    torch.manual_seed(0)
    model = MODELS[name]()
    x = images(5)
    code = model.encode(x)
    assert code.shape == (5, CODE_DIMS[name])
    assert torch.equal(model.encode(x.flatten(1)), code)  # (B, 784) rows work too
    assert model.decode(code).shape == (5, 784)  # logits
    assert model(x).shape == (5, 784)
    rec = model.reconstruct(x)
    assert rec.shape == (5, 1, 28, 28) and not rec.requires_grad
    assert rec.min() >= 0 and rec.max() <= 1

    torch.manual_seed(1)
    parts = model.loss((x, torch.zeros(5, dtype=torch.long)))  # a batch (x, labels)...
    assert set(parts) == PARTS[name]
    assert all(v.ndim == 0 and math.isfinite(v.item()) for v in parts.values())
    torch.manual_seed(1)
    assert torch.equal(model.loss(x)["loss"], parts["loss"])  # ...or the images alone
    # per image, summed over 784 pixels: about 784 * log 2 nats for an untrained decoder
    assert 300 < parts["recon"].item() < 900


@pytest.mark.parametrize("name", MODELS)
def test_a_wrong_input_shape_is_a_clear_value_error(name):
    model = MODELS[name]()
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\) or \(B, 784\).*\(5, 28, 27\)"):
        model.encode(torch.rand(5, 28, 27))
    with pytest.raises(ValueError, match=r"got a tensor of shape \(784,\)"):
        model.loss(torch.rand(784))  # one image without its batch dimension


def test_deep_autoencoder_is_784_1000_500_250_2_with_a_linear_code_layer():
    torch.manual_seed(0)
    model = deep_autoencoder()
    linears = [m for m in model.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (784, 1000),
        (1000, 500),
        (500, 250),
        (250, 2),
    ]
    decoder = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in decoder] == [250, 500, 1000, 784]
    # nothing after the code layer's Linear, nor after the decoder's (logits)
    assert isinstance(model.encoder[-1], torch.nn.Linear)
    assert isinstance(model.decoder[-1], torch.nn.Linear)
    codes = model.encode(images(64))
    assert codes.shape == (64, 2) and (codes < 0).any() and (codes > 0).any()
    assert deep_autoencoder(30).encode(images(2)).shape == (2, 30)


def test_bad_constructor_arguments_are_value_errors():
    with pytest.raises(ValueError, match="sizes"):
        Autoencoder((784,))
    with pytest.raises(ValueError, match="activation"):
        Autoencoder(activation="gelu")
    with pytest.raises(ValueError, match="corruption"):
        DenoisingAutoencoder(corruption="blur")
    with pytest.raises(ValueError, match="fraction"):
        DenoisingAutoencoder(corruption="masking", fraction=1.5)
    with pytest.raises(ValueError, match="rho"):
        SparseAutoencoder(rho=0.0)
    with pytest.raises(ValueError, match="penalty"):
        SparseAutoencoder(penalty="l2")
    with pytest.raises(ValueError, match="lam"):
        ContractiveAutoencoder(lam=-1.0)


# ----------------------------------------------------------------------------- corruption


@pytest.mark.parametrize(
    ("corrupt", "fraction"), [(masking_noise, 0.3), (salt_and_pepper, 0.2), (masking_noise, 0.7)]
)
def test_corruptions_change_the_expected_fraction_of_pixels(corrupt, fraction):
    x = images(32)  # 25088 pixels: the fraction is known to about +- 0.003
    before = x.clone()
    out = corrupt(x, fraction, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, before)  # not in place
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    changed = out != x
    assert abs(changed.float().mean().item() - fraction) < 0.02
    if corrupt is masking_noise:
        assert (out[changed] == 0).all()
    else:
        assert ((out[changed] == 0) | (out[changed] == 1)).all()
        assert abs((out[changed] == 1).float().mean().item() - 0.5) < 0.05


def test_gaussian_noise_has_the_asked_std_and_stays_in_range():
    x = torch.full((32, 1, 28, 28), 0.5)
    out = gaussian_noise(x, std=0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, torch.full_like(x, 0.5))
    assert (out != x).float().mean() > 0.99  # every pixel changes
    assert abs((out - x).std().item() - 0.1) < 0.005  # 5 sigma from the clip: no clipping
    wide = gaussian_noise(x, std=2.0, generator=torch.Generator().manual_seed(0))
    assert wide.min() == 0 and wide.max() == 1  # clipped to [0, 1]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruptions_are_reproducible_with_a_generator(name):
    corrupt, x = CORRUPTIONS[name], images(4)
    a = corrupt(x, generator=torch.Generator().manual_seed(3))
    b = corrupt(x, generator=torch.Generator().manual_seed(3))
    c = corrupt(x, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("corrupt", [masking_noise, salt_and_pepper])
@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan")])
def test_a_bad_fraction_is_a_value_error(corrupt, fraction):
    with pytest.raises(ValueError, match=r"fraction .*\[0, 1\]"):
        corrupt(images(1), fraction)


def test_gaussian_noise_bad_std_and_the_edge_cases():
    x = images(2)
    with pytest.raises(ValueError, match="std"):
        gaussian_noise(x, std=-0.1)
    with pytest.raises(TypeError, match="floating-point"):
        masking_noise((x * 255).to(torch.uint8))
    assert torch.equal(masking_noise(x, 0.0), x)
    assert torch.equal(masking_noise(x, 1.0), torch.zeros_like(x))
    assert torch.equal(gaussian_noise(x, std=0.0), x)


# ----------------------------------------------------------------------------- denoising


def test_denoising_loss_encodes_the_corrupted_input_and_scores_the_clean_one():
    torch.manual_seed(0)
    model = DenoisingAutoencoder((784, 32, 8), corruption="masking", fraction=0.5)
    with torch.no_grad():  # confident logits, so that the NLL depends on the target
        model.decoder[-1].bias.fill_(3.0)
    x = images(16).flatten(1)
    torch.manual_seed(7)
    loss = model.loss(x)["recon"]
    torch.manual_seed(7)  # the same draw again
    x_tilde = model.corrupt(x)
    assert not torch.equal(x_tilde, x)
    with torch.no_grad():
        logits = model(x_tilde)
        right = bernoulli_nll(logits, x).mean()  # reconstruction vs the CLEAN x
        wrong = bernoulli_nll(logits, x_tilde).mean()  # vs the corrupted x
        plain = bernoulli_nll(model(x), x).mean()  # no corruption at all
    assert torch.allclose(loss, right)
    assert abs(loss.item() - wrong.item()) > 100.0  # about 3 * 392 pixels * 0.5
    assert abs(loss.item() - plain.item()) > 0.01


def test_denoising_accepts_a_corruption_function():
    torch.manual_seed(0)
    model = DenoisingAutoencoder((784, 32, 8), corruption=lambda x: torch.zeros_like(x))
    x = images(4).flatten(1)
    with torch.no_grad():
        expected = bernoulli_nll(model(torch.zeros_like(x)), x).mean()
    assert torch.allclose(model.loss(x)["loss"], expected)


# ----------------------------------------------------------------------------- sparse


def test_sparse_kl_penalty_is_the_hand_formula_with_rho_hat_the_batch_mean():
    torch.manual_seed(0)
    rho, weight = 0.1, 2.0
    model = SparseAutoencoder((784, 16), penalty="kl", rho=rho, weight=weight)
    x = images(32)
    parts = model.loss(x)
    h = model.hidden(x)
    assert h.shape == (32, 16) and h.min() > 0 and h.max() < 1
    rho_hat = h.mean(dim=0)  # (H,): over the batch, not over the units
    kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    assert torch.allclose(parts["sparsity"], kl, rtol=1e-5)
    assert torch.allclose(parts["loss"], parts["recon"] + weight * kl, rtol=1e-5)


def test_sparse_l1_penalty_sums_over_units_and_averages_over_the_batch():
    torch.manual_seed(0)
    model = SparseAutoencoder((784, 16), penalty="l1", weight=0.5)
    x = images(32)
    parts = model.loss(x)
    h = model.hidden(x)
    assert torch.allclose(parts["sparsity"], h.abs().sum(dim=1).mean(), rtol=1e-5)
    assert torch.allclose(parts["loss"], parts["recon"] + 0.5 * parts["sparsity"], rtol=1e-5)


def test_sparse_training_with_a_large_weight_drives_the_mean_activation_toward_rho(mnist):
    torch.manual_seed(0)
    model = SparseAutoencoder((784, 32), penalty="kl", rho=0.05, weight=20.0)
    x = mnist.train.images[:128]
    start = model.hidden(x).mean().item()  # about 0.5 for random sigmoid units
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        optimizer.zero_grad()
        model.loss(x)["loss"].backward()
        optimizer.step()
    end = model.hidden(x).mean().item()
    assert start > 0.3
    assert abs(end - 0.05) < 0.5 * abs(start - 0.05)


# ----------------------------------------------------------------------------- contractive


def test_contractive_penalty_is_the_squared_frobenius_norm_of_the_encoder_jacobian():
    torch.manual_seed(0)
    model = ContractiveAutoencoder(hidden=16, lam=0.5)
    x = images(8).flatten(1)
    parts = model.loss(x)
    exact = contractive_penalty_autograd(model.encoder, x)
    assert torch.allclose(parts["contractive"], exact, rtol=1e-4)
    assert torch.allclose(parts["loss"], parts["recon"] + 0.5 * parts["contractive"], rtol=1e-5)

    # ... and by hand: one full Jacobian (H, 784) per sample
    per_sample = []
    for i in range(3):
        jac = torch.autograd.functional.jacobian(model.encoder, x[i])
        assert jac.shape == (16, 784)
        per_sample.append((jac**2).sum())
    norms = model.jacobian_norm(images(8)[:3])  # images or rows alike
    assert norms.shape == (3,)
    assert torch.allclose(norms, torch.stack(per_sample), rtol=1e-4)
    assert torch.allclose(model.jacobian_norm(x).mean(), parts["contractive"], rtol=1e-5)


def test_contractive_with_lam_zero_is_a_plain_autoencoder_and_the_penalty_has_gradients():
    torch.manual_seed(0)
    x = images(8)
    parts = ContractiveAutoencoder(hidden=16, lam=0.0).loss(x)
    assert torch.equal(parts["loss"], parts["recon"])
    model = ContractiveAutoencoder(hidden=16, lam=1.0)
    model.loss(x)["contractive"].backward()
    assert model.encoder[0].weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- training


def test_an_autoencoder_trained_two_epochs_reconstructs_better_than_at_init(mnist):
    torch.manual_seed(0)
    model = Autoencoder()
    train = mnist.train.take(1000)
    before = evaluate(model, train)["recon"]
    history = fit(model, train, epochs=2, seed=0, **QUIET)
    after = evaluate(model, train)["recon"]
    assert history.epochs == 2
    assert after < 0.7 * before, (before, after)


# ----------------------------------------------------------------------------- stacked


@pytest.fixture(scope="module")
def pretrained(mnist, tmp_path_factory):
    """A (784, 500, 200, 50) stack pretrained 1 epoch per layer on 512 images."""
    torch.manual_seed(0)
    stack = StackedAutoencoder((784, 500, 200, 50))
    initial = copy.deepcopy(stack)
    checkpoint = tmp_path_factory.mktemp("stacked") / "run.pt"
    histories = stack.pretrain(
        mnist.train.take(512),
        epochs_per_layer=1,
        test=mnist.test.take(100),
        batch_size=64,
        checkpoint=checkpoint,
        **QUIET,
    )
    return stack, initial, histories, checkpoint


def test_pretraining_trains_every_layer_in_turn(pretrained, mnist):
    stack, initial, histories, checkpoint = pretrained
    assert len(histories) == 3 and all(isinstance(h, History) for h in histories)
    for history in histories:
        assert history.epochs == 1 and len(history.test) == 1
        assert math.isfinite(history.train[0]["recon"]) and math.isfinite(history.test[0]["recon"])
    for k in range(3):
        assert (checkpoint.parent / f"run-layer{k}.pt").exists()
        before, after = initial.layers[k].state_dict(), stack.layers[k].state_dict()
        assert all(not torch.equal(before[key], after[key]) for key in before)
    # layer 0 reconstructs its pixels better than at init
    pixels = mnist.train.take(512).images
    assert evaluate(stack.layers[0], pixels)["recon"] < evaluate(initial.layers[0], pixels)["recon"]
    codes = stack.encode(pixels[:10])
    assert codes.shape == (10, 50) and codes.min() > 0 and codes.max() < 1


def test_the_classifier_reports_named_parts_and_fine_tunes_a_copy(pretrained, mnist):
    stack, _, _, _ = pretrained
    torch.manual_seed(0)
    clf = stack.classifier()
    assert isinstance(clf, StackedClassifier)
    few = mnist.train.take(100)
    parts = clf.loss((few.images[:20], few.labels[:20]))
    assert set(parts) == {"loss", "accuracy"}
    assert parts["accuracy"].dtype == torch.float32 and 0 <= parts["accuracy"].item() <= 1
    assert 0.0 <= accuracy(clf, few) <= 1.0
    assert clf.predict(few.images[:7]).shape == (7,)
    with pytest.raises(ValueError, match="labels"):
        clf.loss(few.images[:20])

    encoder_before = copy.deepcopy(stack.layers[0].state_dict())
    history = fit(clf, few, epochs=15, batch_size=20, lr=3e-3, seed=0, **QUIET)
    train_accuracy = accuracy(clf, few)
    assert train_accuracy > 0.5, history.series("accuracy")  # chance is 0.1
    assert history.series("accuracy")[-1] > history.series("accuracy")[0]
    after = stack.layers[0].state_dict()
    assert all(torch.equal(encoder_before[k], after[k]) for k in after)  # the stack is intact
