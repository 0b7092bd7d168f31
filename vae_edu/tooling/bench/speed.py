"""``vae-edu bench speed``: vae_edu's data pipeline against the conventional one.

Trains the reference MLP VAE (784-400-20, ReLU, batch 128, Adam 1e-3, BCE summed over
pixels + KL) for one epoch twice in one run:

* baseline: ``torchvision.datasets.MNIST`` with ``transforms.ToTensor()`` behind a
  ``torch.utils.data.DataLoader``, the loop of the well-known PyTorch VAE example;
* vae_edu: the whole split as one tensor on the device, batched by a shuffled index,
  trained by :func:`vae_edu.train.fit`.

Prints seconds per training epoch and the test -ELBO of both, and ``speedup: X.XX``
(baseline seconds / vae_edu seconds) as its last line.
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...data import FILES, _idx_file, load_mnist, locate_mnist
from ...device import describe_device, pick_device
from ...models import VAE
from ...seeding import seed_everything
from ...train import evaluate, fit

BATCH_SIZE = 128
LR = 1e-3


class ExampleVAE(nn.Module):
    """The model of the PyTorch VAE example, layer by layer (sigmoid output, two heads)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(logvar) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def example_loss(recon, x, mu, logvar):
    """The example's loss: BCE and KL summed over the batch (not averaged)."""
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def torchvision_layout(source: Path, into: Path) -> Path:
    """Copy (un-gzipping) the four IDX files to ``into/MNIST/raw`` for torchvision."""
    raw = into / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for stem in (*FILES["train"], *FILES["test"]):
        src = _idx_file(source, stem)
        opener = gzip.open if src.read_bytes()[:2] == b"\x1f\x8b" else open
        with opener(src, "rb") as fin, open(raw / stem, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    return into


def copy_example_weights(example: ExampleVAE, model: VAE) -> None:
    """Give ``model`` the example's weights, so both pipelines start from the same point."""
    with torch.no_grad():
        model.encoder[0].weight.copy_(example.fc1.weight)
        model.encoder[0].bias.copy_(example.fc1.bias)
        model.to_mu_logvar.weight.copy_(torch.cat([example.fc21.weight, example.fc22.weight]))
        model.to_mu_logvar.bias.copy_(torch.cat([example.fc21.bias, example.fc22.bias]))
        model.decoder[0].weight.copy_(example.fc3.weight)
        model.decoder[0].bias.copy_(example.fc3.bias)
        model.decoder[2].weight.copy_(example.fc4.weight)
        model.decoder[2].bias.copy_(example.fc4.bias)


def initial_example(seed: int) -> ExampleVAE:
    seed_everything(seed)
    return ExampleVAE()


def run_baseline(root: Path, device: torch.device, epochs: int, seed: int) -> tuple[float, float]:
    """(seconds per training epoch, test -ELBO per image) of the conventional loop."""
    from torchvision import datasets, transforms

    model = initial_example(seed).to(device)
    kwargs = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
    train = torch.utils.data.DataLoader(
        datasets.MNIST(str(root), train=True, transform=transforms.ToTensor()),
        batch_size=BATCH_SIZE,
        shuffle=True,
        **kwargs,
    )
    test = torch.utils.data.DataLoader(
        datasets.MNIST(str(root), train=False, transform=transforms.ToTensor()),
        batch_size=BATCH_SIZE,
        shuffle=False,
        **kwargs,
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    seconds = []
    for _ in range(epochs):
        _sync(device)
        start = time.perf_counter()
        model.train()
        for x, _ in train:
            x = x.to(device)
            optimizer.zero_grad()
            loss = example_loss(*_unpack(model(x), x))
            loss.backward()
            optimizer.step()
        _sync(device)
        seconds.append(time.perf_counter() - start)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, _ in test:
            x = x.to(device)
            total += example_loss(*_unpack(model(x), x)).item()
    return sum(seconds) / len(seconds), total / len(test.dataset)


def _unpack(out, x):
    recon, mu, logvar = out
    return recon, x, mu, logvar


def run_vae_edu(
    source_root: Path, device: torch.device, epochs: int, seed: int
) -> tuple[float, float, float]:
    """(seconds to load the data once, seconds per training epoch, test -ELBO per image)."""
    model = VAE(784, 400, 20)
    copy_example_weights(initial_example(seed), model)
    start = time.perf_counter()
    data = load_mnist(source_root, device=device, quiet=True)
    _sync(device)
    load_seconds = time.perf_counter() - start
    history = fit(
        model, data.train, epochs=epochs, batch_size=BATCH_SIZE, lr=LR, device=device,
        seed=seed, progress=False, verbose=False,
    )
    test = evaluate(model, data.test, device=device)
    return load_seconds, sum(history.seconds) / len(history.seconds), test["loss"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(
    data: str | None = None,
    device: str | None = None,
    epochs: int = 1,
    seed: int = 0,
    repeat: int = 1,
) -> float:
    """Run the benchmark and print its lines; returns the speedup.

    ``repeat`` > 1 alternates the two pipelines that many times (each run from the same
    initial weights) and keeps each one's fastest run, which damps a noisy machine.
    """
    if repeat < 1 or epochs < 1:
        raise ValueError("repeat and epochs must be at least 1")
    source = locate_mnist(data)
    dev = pick_device(device)
    print(f"data: {source.describe()}")
    print(f"device: {describe_device(dev)}; torch {torch.__version__}")
    print(
        f"model: MLP VAE 784-400-20, batch {BATCH_SIZE}, Adam {LR:g}, {epochs} epoch(s), "
        f"both from the same initial weights, best of {repeat} run(s) each"
    )
    base_runs, our_runs = [], []
    with tempfile.TemporaryDirectory(prefix="vae_edu_bench_") as tmp:
        root = torchvision_layout(source.path, Path(tmp))
        for _ in range(repeat):
            base_runs.append(run_baseline(root, dev, epochs, seed))
            our_runs.append(run_vae_edu(source.path, dev, epochs, seed))
    base_s, base_loss = min(base_runs)
    load_s, ours_s, ours_loss = min(our_runs, key=lambda r: r[1])
    if repeat > 1:
        print("baseline_runs_seconds: " + ", ".join(f"{r[0]:.2f}" for r in base_runs))
        print("vae_edu_runs_seconds: " + ", ".join(f"{r[1]:.2f}" for r in our_runs))
    print(f"baseline_seconds_per_epoch: {base_s:.2f}")
    print(f"baseline_test_nelbo: {base_loss:.2f}")
    print(f"vae_edu_load_seconds: {load_s:.2f}")
    print(f"vae_edu_seconds_per_epoch: {ours_s:.2f}")
    print(f"vae_edu_test_nelbo: {ours_loss:.2f}")
    print(f"test_nelbo_difference: {ours_loss - base_loss:+.2f}")
    print(f"speedup: {base_s / ours_s:.2f}")
    return base_s / ours_s
