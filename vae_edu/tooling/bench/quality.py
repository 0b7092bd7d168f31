"""``vae-edu bench quality``: the course's models against published figures.

Trains on MNIST under the profile in force (``VAE_EDU_PROFILE``; ``full`` is meant for a
GPU) and prints one ``name: value`` line per figure:

* ``vae_test_nelbo``: the reference VAE (784-400-20, continuous MNIST, as in the PyTorch
  example, which reports 105.6 nats after 10 epochs); with ``--compare-example`` the
  example's own DataLoader loop is trained for the same epochs and timed beside it.
* ``vae_iwae_nll``: -log p(x) estimated with IWAE-k (k = 5000 under default and full) for a
  VAE trained on dynamically binarised MNIST, on a fixed binarisation of the test set
  (Burda et al. report 86.76 nats for one stochastic layer; pythae reproduces 89.78).
* ``ae30_recon_sq_error`` and ``pca30_recon_sq_error``: summed squared error per test
  image of the 784-1000-500-250-30 autoencoder and of 30 PCA components (Hinton &
  Salakhutdinov 2006: 3.00 vs 13.87).
* ``stacked_pretrained_acc_N`` / ``stacked_scratch_acc_N``: test accuracy of a stacked
  autoencoder's encoder + classifier fine-tuned on N labels, with and without greedy
  layer-wise pretraining on all training images.
* ``conv07_*`` (``--only conv07``): lecture 07's comparison run longer (``budget("conv_vae_long")``:
  20 passes over all training images but 5,000 validation ones under ``default``): the MLP
  VAE (784-400-20) and the conv VAE (channels 32, 64) on dynamically binarised MNIST, three
  seeds each, each keeping its epoch of lowest validation -ELBO; the mean test -ELBO after
  each epoch, and -IWAE_200 on 500 test images (one fixed binarisation) with the paired
  difference conv - MLP and its standard error over the seeds. ``--conv07-epochs N`` sets
  the passes (e.g. the MLP VAE alone trained longer: ``--conv07-model mlp``).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from ...data import MNISTSplit, load_mnist
from ...device import describe_device, pick_device
from ...evaluate import (
    iwae_nll_split,
    negative_elbo,
    pca_reconstruction_sq_error,
    reconstruction_sq_error,
)
from ...models import VAE, ConvVAE, StackedAutoencoder, deep_autoencoder
from ...models.autoencoders import accuracy
from ...profiles import budget, current_profile, iwae_budget
from ...seeding import seed_everything
from ...train import fit

LABELS = (100, 1000)


def _line(name: str, value: float, unit: str = "") -> None:
    print(f"{name}: {value:.2f}" + (f"  # {unit}" if unit else ""), flush=True)


def _fit(model, train, test, name: str, device, **kwargs):
    b = budget(name)
    return fit(
        model, train.take(b.train_size), test.take(b.test_size) if test is not None else None,
        epochs=b.epochs, batch_size=b.batch_size, device=device, progress=False,
        verbose=False, **kwargs,
    )


def bench_vae(data, device, compare_example: bool) -> None:
    seed_everything(0)
    b = budget("vae")
    model = VAE(784, 400, 20)
    start = time.perf_counter()
    _fit(model, data.train, None, "vae", device)
    seconds = time.perf_counter() - start
    nelbo = negative_elbo(model, data.test.take(b.test_size))["loss"]
    _line("vae_test_nelbo", nelbo, f"nats, {b.epochs} epochs; PyTorch example: 105.6 after 10")
    _line("vae_train_seconds", seconds, f"{seconds / b.epochs:.2f} s per epoch")
    if compare_example:
        from .speed import run_baseline, torchvision_layout

        with tempfile.TemporaryDirectory(prefix="vae_edu_bench_") as tmp:
            root = torchvision_layout(data.source.path, Path(tmp))
            per_epoch, example_nelbo = run_baseline(root, device, b.epochs, 0)
        _line("example_test_nelbo", example_nelbo, f"nats, {b.epochs} epochs, example's loop")
        _line("example_train_seconds", per_epoch * b.epochs, f"{per_epoch:.2f} s per epoch")


def bench_iwae(data, device) -> None:
    seed_everything(0)
    k, n_test = iwae_budget()
    model = VAE(784, 500, 50)
    b = budget("vae_binarized")
    train = data.train.take(b.train_size)
    start = time.perf_counter()
    fit(
        model, train.batches(b.batch_size, binarize=True), epochs=b.epochs, device=device,
        progress=False, verbose=False,
    )
    seconds = time.perf_counter() - start
    test = data.test.take(n_test)
    binary_test = MNISTSplit(test.binarized(seed=0), test.labels, "test")
    start = time.perf_counter()
    nll = iwae_nll_split(model, binary_test, k=k)
    iwae_seconds = time.perf_counter() - start
    _line(
        "vae_iwae_nll", nll,
        f"nats, IWAE-{k} on {len(binary_test)} binarised test images, {b.epochs} epochs; "
        "Burda et al. 86.76, pythae 89.78",
    )
    _line("vae_iwae_train_seconds", seconds)
    _line("vae_iwae_eval_seconds", iwae_seconds)


def bench_ae30(data, device) -> None:
    seed_everything(0)
    b = budget("ae_deep")
    model = deep_autoencoder(code_dim=30)
    start = time.perf_counter()
    _fit(model, data.train, None, "ae_deep", device)
    seconds = time.perf_counter() - start
    test = data.test.take(b.test_size)
    train = data.train.take(b.train_size)
    ae = reconstruction_sq_error(model, test)
    pca = pca_reconstruction_sq_error(train.flat().cpu(), test.flat().cpu(), 30)
    _line("ae30_recon_sq_error", ae, f"per test image, {b.epochs} epochs; paper: 3.00")
    _line("pca30_recon_sq_error", pca, "per test image; paper: 13.87")
    _line("ae30_train_seconds", seconds)


def bench_stacked(data, device) -> None:
    pre = budget("stacked_pretrain")
    tune = budget("stacked_finetune")
    test = data.test.take(tune.test_size)
    for n in LABELS:
        labelled = data.train.take(n)
        results = {}
        for pretrained in (True, False):
            seed_everything(0)
            stack = StackedAutoencoder((784, 500, 200, 50))
            if pretrained:
                stack.pretrain(
                    data.train.take(pre.train_size), epochs_per_layer=pre.epochs,
                    device=device, progress=False, verbose=False,
                )
            clf = stack.classifier(10)
            fit(
                clf, labelled, epochs=tune.epochs, batch_size=min(tune.batch_size, n),
                device=device, progress=False, verbose=False,
            )
            results[pretrained] = accuracy(clf, test)
        _line(f"stacked_pretrained_acc_{n}", results[True], f"test accuracy, {n} labels")
        _line(f"stacked_scratch_acc_{n}", results[False], f"test accuracy, {n} labels")


def bench_conv07(data, device, seeds=(0, 1, 2), epochs: int | None = None,
                 models: tuple[str, ...] = ("mlp", "conv")) -> None:
    """Lecture 07's conv VAE against the MLP VAE, trained longer than the lecture can.

    epochs: passes over the training images (default: the profile's ``conv_vae_long``);
    models: which of "mlp" and "conv" to train (the paired difference needs both).
    """
    b = budget("conv_vae_long")
    n_epochs = b.epochs if epochs is None else epochs
    if n_epochs < 1:
        raise ValueError(f"conv07 epochs must be at least 1, got {n_epochs}")
    held = min(5000, len(data.train) // 10)
    pool = data.train.take(None if b.train_size is None else b.train_size + held)
    train = MNISTSplit(pool.images[:-held], pool.labels[:-held])
    val = MNISTSplit(pool.images[-held:], pool.labels[-held:]).binarized(seed=1)
    test = data.test.take(b.test_size).binarized(seed=0)
    makers = {"mlp": lambda: VAE(784, 400, 20), "conv": lambda: ConvVAE(20, (32, 64))}
    unknown = sorted(set(models) - set(makers))
    if unknown or not models:
        raise ValueError(f"conv07 models must be among {sorted(makers)}, got {list(models)}")
    makers = {name: make for name, make in makers.items() if name in models}
    print(f"conv07: {len(train):,} training, {len(val):,} validation and {len(test):,} test "
          f"images; {n_epochs} epochs; seeds {', '.join(map(str, seeds))}", flush=True)
    curves, iwae, seconds = {}, {}, {}
    for name, make in makers.items():
        for seed in seeds:
            seed_everything(seed)
            model = make()
            history = fit(model, train.batches(128, seed=seed, binarize=True), test,
                          epochs=n_epochs, device=device, progress=False, verbose=False,
                          validation=val, restore_best=True)
            curves[name, seed] = history.series("loss", "test")
            seconds[name, seed] = sum(history.seconds)
            g = torch.Generator(device).manual_seed(0)  # the same draws for every model
            iwae[name, seed] = iwae_nll_split(model, test[:500], k=200, generator=g)
            print(f"conv07: {name} seed {seed}: epoch kept {history.best_epoch}, "
                  f"-IWAE_200 {iwae[name, seed]:.2f}, {seconds[name, seed]:.0f} s", flush=True)
    for name in makers:
        mean = torch.tensor([curves[name, s] for s in seeds]).mean(0)
        print(f"conv07: {name} test -ELBO per epoch (mean of the seeds): "
              + " ".join(f"{v:.1f}" for v in mean.tolist()), flush=True)
        values = torch.tensor([iwae[name, s] for s in seeds])
        _line(f"conv07_{name}_iwae200", values.mean().item(),
              f"nats, mean of {len(seeds)} seeds (sd {values.std().item():.2f}), 500 test images")
        _line(f"conv07_{name}_train_seconds", sum(seconds[name, s] for s in seeds))
    if len(makers) < 2:
        return
    difference = torch.tensor([iwae["conv", s] - iwae["mlp", s] for s in seeds])
    _line("conv07_conv_minus_mlp_iwae200", difference.mean().item(),
          f"nats, paired by seed; standard error {difference.std().item() / len(seeds) ** 0.5:.2f}")


def main(data: str | None = None, device: str | None = None, compare_example: bool = False,
         only: tuple[str, ...] = (), conv07_epochs: int | None = None,
         conv07_models: tuple[str, ...] = ("mlp", "conv")) -> None:
    dev = pick_device(device)
    mnist = load_mnist(data, device=dev)
    print(f"profile: {current_profile()}")
    print(f"device: {describe_device(dev)}; torch {torch.__version__}")
    print(f"data: {mnist.describe()}")
    parts = {
        "vae": lambda: bench_vae(mnist, dev, compare_example),
        "iwae": lambda: bench_iwae(mnist, dev),
        "ae30": lambda: bench_ae30(mnist, dev),
        "stacked": lambda: bench_stacked(mnist, dev),
        "conv07": lambda: bench_conv07(mnist, dev, epochs=conv07_epochs, models=conv07_models),
    }
    default = ("vae", "iwae", "ae30", "stacked")  # conv07 trains six models: on request
    for name in only or default:
        start = time.perf_counter()
        parts[name]()
        _line(f"{name}_section_seconds", time.perf_counter() - start)
