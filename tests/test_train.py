"""The training engine: fit, evaluate, History, checkpoints and resuming.

Every test builds its own small data (random tensors, tiny models) and trains on the
CPU, so the file runs in seconds and never needs MNIST or a GPU.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vae_edu import checkpoint as checkpoint_module
from vae_edu.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vae_edu.data import Batches, MNISTSplit
from vae_edu.models import VAE
from vae_edu.seeding import seed_everything
from vae_edu.train import (
    History,
    TrainingDiverged,
    evaluate,
    fit,
)

QUIET = {"progress": False, "verbose": False, "device": "cpu"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch):
    """A user's device or profile choice must not change what these tests see."""
    for name in ("VAE_EDU_DEVICE", "VAE_EDU_PROFILE"):
        monkeypatch.delenv(name, raising=False)


# ----------------------------------------------------------------------------- helpers


def images(n: int, seed: int) -> torch.Tensor:
    """(n, 1, 28, 28) in [0, 1]: noisy copies of four fixed binary prototypes (learnable)."""
    protos = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1234)) > 0.5
    gen = torch.Generator().manual_seed(seed)
    which = torch.randint(0, 4, (n,), generator=gen)
    noise = torch.rand(n, 1, 28, 28, generator=gen)
    return (0.8 * protos[which].float() + 0.2 * noise).clamp(0, 1)


def labels(n: int) -> torch.Tensor:
    return torch.arange(n) % 10


def small_vae(latent_dim: int = 4) -> VAE:
    return VAE(hidden_dim=32, latent_dim=latent_dim)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def leftovers(folder: Path, keep: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


class MeanModel(nn.Module):
    """loss = the batch mean of each sample's first value; "sq" the mean of its square.

    The parameter does not affect the loss (its gradient is zero), so the epoch values
    are known exactly: the per-sample means over the whole data.
    """

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.modes: list[bool] = []
        self.grad_enabled: list[bool] = []

    def loss(self, batch):
        self.modes.append(self.training)
        self.grad_enabled.append(torch.is_grad_enabled())
        x = batch[0].flatten(1)[:, 0]
        return {"loss": (x + 0.0 * self.w).mean(), "sq": (x**2).mean()}


def arange_data(n: int = 300) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32).view(n, 1)


# ----------------------------------------------------------------------------- fit trains


def test_fit_trains_a_vae_and_records_one_row_per_epoch():
    seed_everything(0)
    model = small_vae()
    history = fit(model, images(512, 1), images(256, 2), epochs=3, batch_size=64, lr=3e-3, **QUIET)

    assert isinstance(history, History) and history.epochs == 3
    assert len(history.train) == len(history.test) == len(history.seconds) == 3
    for row in history.train + history.test:
        assert list(row) == ["loss", "recon", "kl"]
        assert all(math.isfinite(v) for v in row.values())
        # per-sample means of a sum are the sum of the per-sample means (beta = 1)
        assert row["loss"] == pytest.approx(row["recon"] + row["kl"], rel=1e-5)
    train_loss, test_loss = history.series("loss"), history.series("loss", "test")
    assert train_loss[-1] < 0.9 * train_loss[0]
    assert test_loss[-1] < test_loss[0]
    assert history.series("kl", "test") == [row["kl"] for row in history.test]
    assert history.series("recon") == [row["recon"] for row in history.train]
    with pytest.raises(KeyError, match="loss, recon, kl"):
        history.series("elbo")
    assert all(s > 0 for s in history.seconds)
    assert "3 epochs" in repr(history)
    assert History.from_dict(history.to_dict()) == history


def test_fit_without_test_split_has_no_test_rows():
    model = MeanModel()
    history = fit(model, arange_data(50), epochs=2, batch_size=16, **QUIET)
    assert history.epochs == 2 and history.test == []
    assert history.series("loss", "test") == []


def test_fit_trains_inside_a_no_grad_block():
    """A notebook cell may run under torch.no_grad(); fit must still train."""
    torch.manual_seed(0)
    model = VAE(784, 16, 2)
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        fit(model, torch.rand(64, 1, 28, 28), epochs=1, batch_size=32, **QUIET)
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


def test_epoch_values_are_exact_per_sample_means_with_a_short_last_batch():
    data = arange_data(300)  # batches of 128, 128 and 44: a mean of batch means is 177.5
    batches = Batches(data, batch_size=128, shuffle=False)
    history = fit(MeanModel(), batches, batches, epochs=2, **QUIET)
    expected = {"loss": data.double().mean().item(), "sq": (data.double() ** 2).mean().item()}
    assert expected["loss"] == 149.5
    for row in history.train + history.test:
        assert row == pytest.approx(expected, rel=1e-6)


def test_fit_trains_in_train_mode_and_evaluates_in_eval_mode():
    model = MeanModel().eval()  # fit must switch it back on in every epoch
    fit(model, arange_data(40), arange_data(40), epochs=2, batch_size=16, **QUIET)
    # per epoch: 3 training batches with gradients, then 1 test batch without
    assert model.modes == ([True] * 3 + [False]) * 2
    assert model.grad_enabled == ([True] * 3 + [False]) * 2


def test_verbose_run_prints_one_line_per_epoch(capsys):
    # 60 batches per epoch: also runs the live progress-bar update every 50 batches
    fit(MeanModel(), arange_data(120), epochs=2, batch_size=2, device="cpu")
    out = capsys.readouterr().out
    assert "epoch 1/2: train loss" in out and "epoch 2/2: train loss" in out


# ----------------------------------------------------------------------------- repeatability


def _trained_weights(global_seed: int, fit_seed: int) -> dict[str, torch.Tensor]:
    seed_everything(global_seed)
    model = small_vae()
    fit(model, images(256, 1), epochs=2, batch_size=64, seed=fit_seed, **QUIET)
    return weights(model)


def test_same_seeds_give_identical_weights_and_other_seeds_do_not():
    first = _trained_weights(0, 0)
    assert same_weights(first, _trained_weights(0, 0))
    assert not same_weights(first, _trained_weights(0, 1))  # another batch order
    assert not same_weights(first, _trained_weights(1, 0))  # another init and other z


# ----------------------------------------------------------------------------- loss_fn


class TinyAE(nn.Module):
    """An autoencoder without a ``loss`` method: trained through ``loss_fn``."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.Linear(8, 784))

    def forward(self, x):
        return self.net(x)


def test_custom_loss_fn_returning_a_bare_scalar():
    seed_everything(0)
    model = TinyAE()
    history = fit(
        model,
        images(256, 1),
        images(128, 2),
        epochs=3,
        batch_size=32,
        lr=1e-2,
        loss_fn=lambda m, b: F.mse_loss(m(b[0]), b[0].flatten(1)),
        **QUIET,
    )
    assert [list(row) for row in history.train + history.test] == [["loss"]] * 6
    assert history.series("loss")[-1] < history.series("loss")[0]
    with pytest.raises(KeyError, match="the parts are loss"):
        history.series("kl")


@pytest.mark.parametrize(
    ("loss_fn", "error"),
    [
        (lambda m, b: F.mse_loss(m(b[0]), b[0].flatten(1), reduction="none"), ValueError),
        (lambda m, b: {"recon": F.mse_loss(m(b[0]), b[0].flatten(1))}, TypeError),
        (lambda m, b: [F.mse_loss(m(b[0]), b[0].flatten(1))], TypeError),
        (lambda m, b: {"loss": 1.0}, ValueError),
    ],
    ids=["per-sample-tensor", "dict-without-loss", "list", "loss-not-a-tensor"],
)
def test_bad_loss_fn_results_raise_a_clear_error(loss_fn, error):
    with pytest.raises(error, match="'loss'"):
        fit(TinyAE(), images(64, 1), epochs=1, batch_size=32, loss_fn=loss_fn, **QUIET)


# ----------------------------------------------------------------------------- NaN guard


class GoesBad(nn.Module):
    """Its part ``name`` becomes ``value`` on training call ``bad_call``."""

    def __init__(self, bad_call: int, name: str, value: float, in_loss: bool):
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.bad_call, self.name, self.value, self.in_loss = bad_call, name, value, in_loss
        self.calls = 0
        self.before_bad_batch: dict[str, torch.Tensor] | None = None

    def loss(self, batch):
        self.calls += 1
        recon = (self.lin(batch[0]) - 1).pow(2).mean()
        part = 0.1 * recon
        if self.calls == self.bad_call:
            self.before_bad_batch = weights(self)
            part = part + self.value
        parts = {"loss": recon + part if self.in_loss else recon, "recon": recon}
        parts[self.name] = part
        return parts


@pytest.mark.parametrize("in_loss", [True, False], ids=["loss-too", "part-only"])
@pytest.mark.parametrize(("name", "value"), [("kl", math.nan), ("recon_x", math.inf)])
def test_non_finite_part_stops_before_the_weights_change(name, value, in_loss):
    torch.manual_seed(0)
    model = GoesBad(bad_call=4 + 3, name=name, value=value, in_loss=in_loss)
    initial = weights(model)
    # 40 samples in batches of 10: call 7 is epoch 2, batch 3
    with pytest.raises(TrainingDiverged, match=rf"epoch 2, batch 3: .*{name} = (nan|inf)") as err:
        fit(model, torch.randn(40, 4), epochs=3, batch_size=10, lr=0.05, **QUIET)
    assert "recon =" not in str(err.value)  # only the bad parts are named
    assert isinstance(err.value, FloatingPointError)
    assert model.calls == 7
    assert not same_weights(initial, model.before_bad_batch)  # six steps were taken
    assert same_weights(weights(model), model.before_bad_batch)


# ----------------------------------------------------------------------------- clipping


class RecordingSGD(torch.optim.SGD):
    """SGD that records the total gradient norm it is asked to step with."""

    def __init__(self, params, lr: float):
        super().__init__(params, lr=lr)
        self.norms: list[float] = []

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item())
        return super().step(closure)


@pytest.mark.parametrize("clip", [None, 0.5])
def test_clip_grad_norm_bounds_the_gradient_the_optimizer_sees(clip):
    seed_everything(0)
    model = small_vae()
    opt = RecordingSGD(model.parameters(), lr=1e-4)
    fit(model, images(128, 1), epochs=2, batch_size=32, optimizer=opt, clip_grad_norm=clip, **QUIET)
    assert len(opt.norms) == 8
    if clip is None:  # the VAE's raw gradients are far larger: the limit does bind
        assert min(opt.norms) > 10 * 0.5
    else:
        assert max(opt.norms) <= clip * (1 + 1e-4)


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_file_is_written_without_temp_files(tmp_path):
    path = tmp_path / "runs" / "vae.pt"  # the folder does not exist yet
    seed_everything(0)
    model = small_vae()
    history = fit(
        model, images(128, 1), images(64, 2), epochs=2, batch_size=64, checkpoint=path, **QUIET
    )
    assert path.is_file()
    assert leftovers(path.parent, "vae.pt") == []
    state = load_checkpoint(path)
    assert state["history"]["train"] == history.train
    assert state["history"]["test"] == history.test
    assert same_weights(state["model"], weights(model))


def _make_train(kind: str):
    x = images(256, 1)
    if kind == "split":
        return MNISTSplit(x, labels(256), "train")
    if kind == "tensor":
        return x
    return Batches(x, labels(256), batch_size=64, seed=5, binarize=True)


def _run(kind: str, epochs: int, *, global_seed: int = 0, **kwargs):
    """A fresh model and fresh data, trained with the same arguments every time."""
    seed_everything(global_seed)
    model = small_vae()
    history = fit(
        model,
        _make_train(kind),
        images(100, 2),
        epochs=epochs,
        batch_size=64,
        seed=7,
        **QUIET,
        **kwargs,
    )
    return model, history


@pytest.mark.parametrize("kind", ["split", "tensor", "binarized-batches"])
def test_resumed_run_equals_an_uninterrupted_run(tmp_path, kind):
    path = tmp_path / "vae.pt"
    reference, ref_history = _run(kind, 3)
    _run(kind, 1, checkpoint=path)
    assert len(load_checkpoint(path)["history"]["train"]) == 1
    # another global seed: everything that matters must come from the checkpoint
    resumed, history = _run(kind, 3, global_seed=99, checkpoint=path)
    assert same_weights(weights(resumed), weights(reference))
    assert history.train == ref_history.train
    assert history.test == ref_history.test
    assert len(history.seconds) == 3
    assert len(load_checkpoint(path)["history"]["train"]) == 3


def test_resume_says_so_when_verbose(tmp_path, capsys):
    path = tmp_path / "m.pt"
    fit(MeanModel(), arange_data(40), epochs=1, batch_size=16, checkpoint=path, **QUIET)
    fit(
        MeanModel(),
        arange_data(40),
        epochs=2,
        batch_size=16,
        checkpoint=path,
        device="cpu",
        progress=False,
    )
    out = capsys.readouterr().out
    assert f"resumed from {path} after 1 epoch(s)" in out
    assert "epoch 2/2" in out and "epoch 1/2" not in out


def test_a_finished_checkpoint_is_loaded_without_training(tmp_path):
    path = tmp_path / "vae.pt"
    seed_everything(0)
    model = small_vae()
    history = fit(
        model, images(128, 1), images(64, 2), epochs=2, batch_size=64, checkpoint=path, **QUIET
    )
    assert history.epochs == 2
    saved = path.read_bytes()

    def must_not_run(m, b):
        raise AssertionError("a finished run must not train or evaluate again")

    for epochs in (2, 1):
        seed_everything(1)
        fresh = small_vae()
        assert not same_weights(weights(fresh), weights(model))
        again = fit(
            fresh,
            images(128, 1),
            images(64, 2),
            epochs=epochs,
            batch_size=64,
            loss_fn=must_not_run,
            checkpoint=path,
            **QUIET,
        )
        assert same_weights(weights(fresh), weights(model))
        assert again.train == history.train and again.test == history.test
        assert path.read_bytes() == saved  # not rewritten


def test_interrupted_run_keeps_its_last_epoch_and_resumes_exactly(tmp_path, capsys):
    path = tmp_path / "vae.pt"
    reference, ref_history = _run("split", 3)
    steps = 4  # 256 images in batches of 64
    calls = 0

    def interrupt_in_epoch_2(m, b):
        nonlocal calls
        if m.training:
            calls += 1
            if calls == steps + 2:
                raise KeyboardInterrupt
        return m.loss(b)

    with pytest.raises(KeyboardInterrupt):
        _run("split", 3, checkpoint=path, loss_fn=interrupt_in_epoch_2)
    assert "holds 1 finished epoch(s)" in capsys.readouterr().out
    assert len(load_checkpoint(path)["history"]["train"]) == 1
    assert leftovers(tmp_path, "vae.pt") == []

    resumed, history = _run("split", 3, global_seed=99, checkpoint=path)
    assert same_weights(weights(resumed), weights(reference))
    assert history.train == ref_history.train and history.test == ref_history.test


# ----------------------------------------------------------------------------- atomic writes


def _broken_save(exc: BaseException):
    def save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise exc

    return save


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch, exc):
    path = tmp_path / "ck.pt"
    save_checkpoint({"version": 1, "a": torch.ones(3)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(checkpoint_module.torch, "save", _broken_save(exc))
    with pytest.raises(type(exc)):
        save_checkpoint({"version": 1, "a": torch.zeros(3)}, path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, "ck.pt") == []


def test_failed_save_during_fit_keeps_the_last_good_epoch(tmp_path, monkeypatch):
    path = tmp_path / "vae.pt"
    _run("tensor", 1, checkpoint=path)
    before = path.read_bytes()
    monkeypatch.setattr(checkpoint_module.torch, "save", _broken_save(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        _run("tensor", 2, checkpoint=path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, "vae.pt") == []
    monkeypatch.undo()
    assert len(load_checkpoint(path)["history"]["train"]) == 1


# ----------------------------------------------------------------------------- bad checkpoints


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_unreadable_checkpoint_names_the_file_and_the_remedy(tmp_path, damage):
    path = tmp_path / "vae.pt"
    _run("tensor", 1, checkpoint=path)
    good = path.read_bytes()
    path.write_bytes(
        {"truncated": good[: len(good) // 2], "garbage": b"not a checkpoint\n" * 10, "empty": b""}[
            damage
        ]
    )
    with pytest.raises(CheckpointError, match="delete it") as err:
        _run("tensor", 2, checkpoint=path)
    assert str(path) in str(err.value)


def test_a_plain_state_dict_is_not_a_training_checkpoint(tmp_path):
    path = tmp_path / "vae.pt"
    torch.save(small_vae().state_dict(), path)
    with pytest.raises(CheckpointError, match="not a vae_edu training checkpoint") as err:
        _run("tensor", 1, checkpoint=path)
    assert str(path) in str(err.value)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    path = tmp_path / "vae.pt"
    seed_everything(0)
    fit(VAE(hidden_dim=32, latent_dim=20), images(64, 1), epochs=1, checkpoint=path, **QUIET)
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="saved for a different model") as err:
        fit(VAE(hidden_dim=32, latent_dim=5), images(64, 1), epochs=2, checkpoint=path, **QUIET)
    assert str(path) in str(err.value)
    assert path.read_bytes() == before


# ----------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_runs_in_eval_mode_without_grad_and_restores_the_mode(training):
    model = MeanModel().train(training)
    evaluate(model, arange_data(30), batch_size=8)
    assert model.training is training
    assert model.modes == [False] * 4 and model.grad_enabled == [False] * 4

    def fails(m, b):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        evaluate(model, arange_data(30), loss_fn=fails)
    assert model.training is training


def test_evaluate_gives_per_sample_means():
    data = arange_data(300)
    result = evaluate(MeanModel(), data, batch_size=128)
    assert result == pytest.approx({"loss": 149.5, "sq": (data.double() ** 2).mean().item()})
    split = MNISTSplit(data.view(300, 1, 1, 1).expand(300, 1, 28, 28), labels(300), "test")
    assert evaluate(MeanModel(), split, batch_size=128)["loss"] == pytest.approx(149.5)


def test_evaluate_samples_z_for_a_vae():
    seed_everything(0)
    model = small_vae()
    x = images(128, 3)
    first, second = evaluate(model, x), evaluate(model, x)
    assert first["recon"] != second["recon"]  # a new z each time, not z = mu
    assert first["kl"] == pytest.approx(second["kl"], rel=1e-6)  # kl depends on mu, logvar only
    torch.manual_seed(5)
    third = evaluate(model, x)
    torch.manual_seed(5)
    assert evaluate(model, x) == third


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("epochs", [-1, 1.5, "3"])
def test_bad_epochs_raise_value_error(epochs):
    with pytest.raises(ValueError, match="epochs"):
        fit(MeanModel(), arange_data(10), epochs=epochs, **QUIET)


@pytest.mark.parametrize(
    "train",
    [42, None, 3.5, "images.npy", {"x": torch.zeros(4, 1)}, np.zeros((4, 1), np.float32)],
    ids=["int", "None", "float", "str", "dict", "ndarray"],
)
def test_unsupported_train_data_raises_type_error(train):
    with pytest.raises(TypeError, match="expected an MNISTSplit, a tensor or Batches") as err:
        fit(MeanModel(), train, epochs=1, **QUIET)
    assert type(train).__name__ in str(err.value)
    if isinstance(train, np.ndarray):
        assert "torch.from_numpy" in str(err.value)


def test_zero_epochs_trains_nothing():
    model = MeanModel()
    assert fit(model, arange_data(10), epochs=0, **QUIET).epochs == 0
    assert model.modes == []


def test_device_override(monkeypatch):
    model = MeanModel()
    assert fit(model, arange_data(20), epochs=1, batch_size=8, **QUIET).epochs == 1
    assert model.w.device.type == "cpu"
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the missing-GPU error cannot be shown")
    kwargs = {"epochs": 1, "progress": False, "verbose": False}
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        fit(MeanModel(), arange_data(20), device="cuda", **kwargs)
    monkeypatch.setenv("VAE_EDU_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        fit(MeanModel(), arange_data(20), **kwargs)
    assert fit(MeanModel(), arange_data(20), device="cpu", **kwargs).epochs == 1


# ----------------------------------------------------------------------------- validation


class Pull(nn.Module):
    """One number w, pulled towards the training targets: loss = mean (w - x)^2.

    With SGD at learning rate lr and one full batch of ones per epoch, w after epoch e is
    1 - (1 - 2 lr)^e exactly, so the validation loss (w - v)^2 of validation targets v is
    known in closed form at every epoch: it falls while w approaches v and rises after.
    """

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def loss(self, batch):
        return {"loss": ((self.w - batch[0]) ** 2).mean()}


def _pull(epochs: int, **kwargs):
    model = Pull()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    ones = torch.ones(4, 1, dtype=torch.float64)
    history = fit(model, ones, epochs=epochs, optimizer=optimizer, batch_size=4, **QUIET,
                  **kwargs)
    return model, history


def test_restore_best_keeps_the_epoch_of_lowest_validation_loss_in_closed_form():
    v = 0.3
    validation = torch.full((5, 1), v, dtype=torch.float64)
    model, history = _pull(6, validation=validation, restore_best=True)
    w = [1 - 0.8**e for e in range(1, 7)]  # 0.2, 0.36, 0.488, ...
    expected = [(we - v) ** 2 for we in w]
    # the loop records each epoch's loss in float32
    assert history.series("loss", "validation") == pytest.approx(expected, rel=1e-6)
    best = min(range(6), key=expected.__getitem__) + 1
    assert best == 2 and history.best_epoch == 2
    assert model.w.item() == pytest.approx(w[best - 1], rel=1e-12)
    assert history.train[-1]["loss"] == pytest.approx((1 - w[4]) ** 2, rel=1e-6)  # all 6 ran
    assert evaluate(model, validation)["loss"] == pytest.approx(expected[1], rel=1e-6)


def test_without_restore_best_the_last_weights_stay_and_validation_changes_no_step():
    validation = torch.full((5, 1), 0.3, dtype=torch.float64)
    plain, h_plain = _pull(4)
    watched, h_watched = _pull(4, validation=validation)
    assert torch.equal(plain.w, watched.w)
    assert h_watched.train == h_plain.train and h_watched.best_epoch is None
    assert len(h_watched.validation) == 4 and h_plain.validation == []


class NoisyPull(Pull):
    """Pull with a random draw in every loss, as a VAE's z: w + 0.1 eps, eps ~ N(0, 1)."""

    def loss(self, batch):
        eps = torch.randn(len(batch[0]), 1, dtype=torch.float64)
        return {"loss": ((self.w + 0.1 * eps - batch[0]) ** 2).mean()}


def test_a_validation_split_draws_no_random_number_that_training_would_draw():
    # bug: evaluating a stochastic loss on the validation split used the global generator,
    # so adding a validation split changed every later training step of a VAE
    ones = torch.ones(4, 1, dtype=torch.float64)
    validation = torch.full((5, 1), 0.3, dtype=torch.float64)
    runs = []
    for kwargs in ({}, {"validation": validation}):
        torch.manual_seed(0)
        model = NoisyPull()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        h = fit(model, ones, epochs=4, optimizer=optimizer, batch_size=4, **QUIET, **kwargs)
        runs.append((model.w.item(), h.train, torch.randn(1).item()))
    assert runs[0] == runs[1]
    assert runs[0][1][0] != runs[0][1][1]  # the loss does draw: epochs differ


def test_restore_best_without_validation_says_what_to_give():
    with pytest.raises(ValueError, match="needs validation="):
        _pull(3, restore_best=True)


def test_restore_best_survives_an_interrupted_run(tmp_path):
    validation = torch.full((5, 1), 0.3, dtype=torch.float64)
    path = tmp_path / "pull.pt"
    straight, h_straight = _pull(5, validation=validation, restore_best=True)
    _pull(1, validation=validation, restore_best=True, checkpoint=path)
    _pull(3, validation=validation, restore_best=True, checkpoint=path)
    resumed, h_resumed = _pull(5, validation=validation, restore_best=True, checkpoint=path)
    assert h_resumed.best_epoch == h_straight.best_epoch == 2
    assert resumed.w.item() == straight.w.item()
    finished, h_finished = _pull(5, validation=validation, restore_best=True, checkpoint=path)
    assert finished.w.item() == straight.w.item() and h_finished.best_epoch == 2


def test_history_with_validation_round_trips_and_old_histories_still_load():
    h = History([{"loss": 2.0}], [{"loss": 3.0}], [0.5], [{"loss": 2.5}], 1)
    assert History.from_dict(h.to_dict()) == h
    old = History.from_dict({"train": [{"loss": 2.0}], "test": [], "seconds": [0.5]})
    assert old.validation == [] and old.best_epoch is None
    assert "kept epoch 1" in repr(h) and "validation loss 2.5" in repr(h)
    with pytest.raises(KeyError, match="splits are train, test and validation"):
        h.series("loss", "valid")


@pytest.mark.parametrize(("value", "shown"), [("0", False), ("1", True), ("", True)])
def test_progress_bars_follow_the_environment(monkeypatch, value, shown):
    # `vae-edu execute` stores notebooks without widget state: a stored bar would read 0 %
    from vae_edu import train as train_module

    monkeypatch.setenv("VAE_EDU_PROGRESS", value)
    bar = train_module._progress_bar([0, 1], 2, progress=True)
    assert bar.disable is not shown
    bar.close()
    assert train_module._progress_bar([0, 1], 2, progress=False).disable


def test_executed_notebooks_get_no_progress_bars_unless_asked(monkeypatch):
    from vae_edu.tooling.notebooks import _kernel_env

    monkeypatch.delenv("VAE_EDU_PROGRESS", raising=False)
    assert _kernel_env(None, None)["VAE_EDU_PROGRESS"] == "0"
    monkeypatch.setenv("VAE_EDU_PROGRESS", "1")
    assert _kernel_env(None, None)["VAE_EDU_PROGRESS"] == "1"
