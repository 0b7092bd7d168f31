"""The one training loop of the course.

Every notebook trains through :func:`fit`::

    history = fit(model, data.train, data.test, epochs=b.epochs, cache="06-vae2")

``cache="name"`` loads the trained model from the model cache when this exact run
(model, data, budget, seed, code) was trained before (:mod:`vae_edu.model_cache`).

A model defines ``model.loss(batch) -> {"loss": ..., "recon": ..., "kl": ...}``: the
entry ``"loss"`` is what is minimised (a scalar, averaged over the batch, in nats); the
other entries are its named parts, logged per epoch.  Or pass ``loss_fn(model, batch)``.

What the loop does for you: picks the device, shows a progress bar with the live loss,
evaluates on the test split (and on a validation split, when given) after each epoch,
keeps the weights of the epoch with the lowest validation loss on request
(``restore_best=True``: early stopping that never looks at the test images), uses mixed
precision on a GPU, clips gradients on request, stops with a clear message when a loss
part becomes NaN or inf (on a CPU before the weights are touched; on a GPU, where each
check costs a device sync, within 25 batches), and writes an atomic checkpoint after every
epoch from which an interrupted run resumes exactly where it stopped.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import Batches, MNISTSplit
from .device import pick_device
from .profiles import PROGRESS_ENV
from .seeding import set_torch_rng_state, torch_rng_state

LossFn = Callable[[torch.nn.Module, tuple], "Mapping[str, torch.Tensor] | torch.Tensor"]
CHECKPOINT_VERSION = 1
#: Part of every model-cache key (see :mod:`vae_edu.model_cache`): bump it when a change of
#: the training loop changes what training produces, so that cached models are retrained.
TRAINING_CODE_VERSION = 1


class TrainingDiverged(FloatingPointError):
    """A loss part became NaN or infinite."""


@dataclass
class History:
    """Per-epoch averages of the loss and its parts (per sample, in the loss's units).

    ``history.train[e]["kl"]`` is the mean KL over the training images in epoch ``e``;
    ``history.test`` is filled when a test split is given, ``history.validation`` when a
    validation split is.  ``seconds[e]`` is the wall time of epoch ``e`` (training and
    evaluation).  ``best_epoch`` (counted from 1) is the epoch whose weights the model
    kept when it was trained with ``restore_best=True``; ``None`` otherwise (the last).
    """

    train: list[dict[str, float]] = field(default_factory=list)
    test: list[dict[str, float]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    validation: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.train)

    def series(self, part: str = "loss", split: str = "train") -> list[float]:
        """The values of one part over the epochs, e.g. ``series("kl", "test")``."""
        splits = {"train": self.train, "test": self.test, "validation": self.validation}
        if split not in splits:
            raise KeyError(f"no split {split!r}; the splits are train, test and validation")
        rows = splits[split]
        if rows and part not in rows[0]:
            raise KeyError(f"no loss part {part!r}; the parts are {', '.join(rows[0])}")
        return [row[part] for row in rows]

    def to_dict(self) -> dict:
        return {"train": self.train, "test": self.test, "seconds": self.seconds,
                "validation": self.validation, "best_epoch": self.best_epoch}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        # histories written before validation splits existed have neither entry
        return cls(list(d["train"]), list(d["test"]), list(d["seconds"]),
                   list(d.get("validation", [])), d.get("best_epoch"))

    def __repr__(self) -> str:
        if not self.train:
            return "History(no epochs yet)"
        last = f"train {_fmt(self.train[-1])}"
        if self.validation:
            last += f"; validation {_fmt(self.validation[-1])}"
        if self.test:
            last += f"; test {_fmt(self.test[-1])}"
        kept = f"; kept epoch {self.best_epoch}" if self.best_epoch is not None else ""
        return f"History({self.epochs} epochs; last: {last}{kept})"


def _fmt(row: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:.4g}" for k, v in row.items())


# ----------------------------------------------------------------------------- pieces


def default_optimizer(model: torch.nn.Module, lr: float, device: torch.device):
    """Adam, fused into one kernel where this torch supports it on ``device``."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    if device.type in ("cpu", "cuda"):
        try:
            return torch.optim.Adam(params, lr=lr, fused=True)
        except (RuntimeError, TypeError, ValueError):
            pass
    return torch.optim.Adam(params, lr=lr)


def _as_parts(out, where: str) -> dict[str, torch.Tensor]:
    if isinstance(out, torch.Tensor):
        out = {"loss": out}
    if not isinstance(out, Mapping) or "loss" not in out:
        raise TypeError(
            f"{where} must return a dict with a 'loss' entry (and optional named parts) "
            f"or a scalar tensor, got {type(out).__name__}"
        )
    loss = out["loss"]
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ValueError(
            f"{where}: 'loss' must be a scalar tensor (average over the batch), got {shape}; "
            "take .mean() over the batch"
        )
    return dict(out)


def _diverged(
    names, values, epoch: int, batch: int, lr: float | None, weights_intact: bool
) -> TrainingDiverged:
    bad = [f"{n} = {v}" for n, v in zip(names, values, strict=True) if not math.isfinite(v)]
    hint = f"a smaller learning rate (now {lr:g})" if lr else "a smaller learning rate"
    state = (
        "The weights were left as they were before this batch."
        if weights_intact
        else "The weights may already hold NaN: reload the last checkpoint before going on."
    )
    return TrainingDiverged(
        f"training diverged in epoch {epoch}, batch {batch}: {', '.join(bad)}. {state} "
        f"Try {hint}, gradient clipping (clip_grad_norm=1.0), or check the inputs for NaN."
    )


def _amp_context(device: torch.device, amp: bool | None):
    """(autocast context factory, GradScaler or None) for this device and setting."""
    use = device.type == "cuda" if amp is None else bool(amp)
    if not use:
        return nullcontext, None
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
        return (lambda: torch.autocast("cuda", dtype=dtype)), scaler
    return (lambda: torch.autocast(device.type, dtype=torch.bfloat16)), None


def _to_batches(data, batch_size: int, shuffle: bool, seed: int):
    if isinstance(data, MNISTSplit):
        return data.batches(batch_size, shuffle=shuffle, seed=seed)
    if isinstance(data, torch.Tensor):
        return Batches(data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    # str, dict and numpy arrays are iterable, but never an iterable of batches
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, Mapping, np.ndarray)):
        return data
    hint = "; convert it with torch.from_numpy(array)" if isinstance(data, np.ndarray) else ""
    raise TypeError(
        f"expected an MNISTSplit, a tensor or Batches to train on, got {type(data).__name__}{hint}"
    )


# ----------------------------------------------------------------------------- the loop


def evaluate(
    model: torch.nn.Module,
    data,
    *,
    loss_fn: LossFn | None = None,
    batch_size: int = 1000,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Average each loss part over ``data`` (per sample) with the model in eval mode.

    The loss is computed exactly as in training (a VAE still samples z), without gradients.
    """
    device = (
        pick_device(device) if device is not None
        else model_device(model, default=torch.device("cpu"))
    )
    batches = _to_batches(data, batch_size, shuffle=False, seed=0)
    loss_fn = loss_fn or (lambda m, b: m.loss(b))
    total, names, count = None, None, 0
    with evaluation_mode(model):
        for batch in batches:
            batch = tuple(t.to(device) for t in batch)
            parts = _as_parts(loss_fn(model, batch), "the loss")
            n = len(batch[0])
            values = torch.stack([v.detach().float() for v in parts.values()]) * n
            total = values if total is None else total + values
            names, count = list(parts), count + n
    if total is None:
        raise ValueError("evaluate got no batches: the data is empty")
    return dict(zip(names, (total / count).tolist(), strict=True))


@contextmanager
def evaluation_mode(model):
    """Eval mode and no gradients inside; the model's previous mode is restored afterwards.

    ``model`` may also be a plain function (then only gradients are switched off).
    """
    was_training = getattr(model, "training", None)
    if isinstance(model, torch.nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training is not None:
            model.train(was_training)


def model_device(model, default: torch.device | None = None) -> torch.device | None:
    """The device of the model's first parameter or buffer; ``default`` when it has none."""
    if isinstance(model, torch.nn.Module):
        for t in (*model.parameters(), *model.buffers()):
            return t.device
    return default


@torch.enable_grad()  # trains even when called inside torch.no_grad()
def fit(
    model: torch.nn.Module,
    train,
    test=None,
    *,
    epochs: int,
    loss_fn: LossFn | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
    device: str | torch.device | None = None,
    amp: bool | None = None,
    clip_grad_norm: float | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
    verbose: bool = True,
    cache: str | None = None,
    validation=None,
    restore_best: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` epochs in total and return its :class:`History`.

    train, test, validation: an ``MNISTSplit`` (batched here with ``batch_size``, shuffled
    with ``seed``), a tensor, or ready :class:`Batches`.  ``validation``: held out from
    the training data (not the test images), evaluated after every epoch like ``test``.
    ``restore_best=True`` (needs ``validation``): at the end the model gets back the
    weights of the epoch with the lowest validation ``loss`` (``history.best_epoch``), and
    the run still trains all ``epochs`` so that the curves show what came after it.
    ``loss_fn(model, batch)`` defaults to ``model.loss(batch)``.  ``amp=None`` uses mixed
    precision on a GPU only.
    ``checkpoint``: a file written atomically after each epoch; when it exists, training
    resumes from it (and does nothing when it already holds ``epochs`` epochs).
    ``cache``: an experiment name, e.g. ``"06-vae2"``: load the trained weights, history
    and random state of this exact run from the model cache when it is there (one line
    says so), else train and store them (see :mod:`vae_edu.model_cache`).
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if restore_best and validation is None:
        raise ValueError(
            "restore_best=True keeps the weights of the epoch with the lowest validation "
            "loss, so it needs validation=...: a split held out from the training data "
            "(choosing the epoch on the test split would select on the test set)"
        )
    if cache is not None:
        from .model_cache import cached_fit

        return cached_fit(
            cache, model, train, test, train_fn=fit, epochs=epochs, loss_fn=loss_fn,
            optimizer=optimizer, lr=lr, batch_size=batch_size, seed=seed, device=device,
            amp=amp, clip_grad_norm=clip_grad_norm, checkpoint=checkpoint,
            progress=progress, verbose=verbose, validation=validation,
            restore_best=restore_best,
        )
    device = pick_device(device)
    model.to(device)
    train_batches = _to_batches(train, batch_size, shuffle=True, seed=seed)
    test_batches = _to_batches(test, 1000, shuffle=False, seed=0) if test is not None else None
    validation_batches = (_to_batches(validation, 1000, shuffle=False, seed=0)
                          if validation is not None else None)
    optimizer = optimizer or default_optimizer(model, lr, device)
    autocast, scaler = _amp_context(device, amp)
    history, best = History(), _Best(restore_best)
    if checkpoint is not None and Path(checkpoint).exists():
        history = _resume(Path(checkpoint), model, optimizer, scaler, train_batches, device,
                          best)
        if verbose:
            print(f"resumed from {checkpoint} after {history.epochs} epoch(s)")
    if history.epochs >= epochs:
        best.restore(model, history, verbose=False)
        return history

    run = _Run(
        model, loss_fn or (lambda m, b: m.loss(b)), optimizer, autocast, scaler, device,
        clip_grad_norm, lr=optimizer.param_groups[0].get("lr"),  # as restored by _resume
        check_every=1 if device.type == "cpu" else 25,  # a GPU check costs a sync
        train=train_batches, test=test_batches, validation=validation_batches, best=best,
        checkpoint=checkpoint, epochs=epochs, progress=progress, verbose=verbose,
    )
    bar = _progress_bar(train_batches, epochs - history.epochs, progress)
    try:
        for epoch in range(history.epochs + 1, epochs + 1):
            start = time.perf_counter()
            means = _train_epoch(run, epoch, bar)
            _end_epoch(run, history, means, epoch, start, bar)
    except KeyboardInterrupt:
        if checkpoint is not None:
            tqdm.write(
                f"interrupted; {checkpoint} holds {history.epochs} finished epoch(s): "
                "run the cell again to resume from there"
            )
        raise
    finally:
        bar.close()
    best.restore(model, history, verbose=verbose)
    return history


class _Best:
    """The weights of the epoch with the lowest validation loss so far (when asked for)."""

    def __init__(self, wanted: bool):
        self.wanted = wanted
        self.epoch: int | None = None
        self.loss = math.inf
        self.state: dict[str, torch.Tensor] | None = None

    def update(self, model: torch.nn.Module, history: History) -> None:
        """After an epoch: remember the weights if its validation loss is the lowest yet."""
        if not self.wanted:
            return
        loss = history.validation[-1]["loss"]
        if loss < self.loss:  # the first of equal epochs is kept
            self.epoch, self.loss = history.epochs, loss
            self.state = {k: v.detach().to("cpu", copy=True)
                          for k, v in model.state_dict().items()}

    def restore(self, model: torch.nn.Module, history: History, verbose: bool) -> None:
        """At the end: give the model the remembered weights, and say which epoch they are."""
        if not self.wanted or self.state is None:
            return
        model.load_state_dict(self.state)
        history.best_epoch = self.epoch
        if verbose:
            tqdm.write(f"kept the weights of epoch {self.epoch} of {history.epochs}, the "
                       f"lowest validation loss ({self.loss:.4g})")

    def state_dict(self) -> dict | None:
        if not self.wanted or self.state is None:
            return None
        return {"epoch": self.epoch, "loss": self.loss, "state": self.state}

    def load_state_dict(self, saved: dict | None) -> None:
        if self.wanted and saved is not None:
            self.epoch, self.loss, self.state = saved["epoch"], saved["loss"], saved["state"]


@dataclass(frozen=True)
class _Run:
    """What every epoch and step of one :func:`fit` uses, fixed for the whole run."""

    model: torch.nn.Module
    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    autocast: Callable  # () -> autocast context (or nullcontext)
    scaler: torch.amp.GradScaler | None
    device: torch.device
    clip_grad_norm: float | None
    lr: float | None  # the learning rate, named in the divergence message
    check_every: int  # check the loss for NaN/inf every this many batches
    train: Iterable
    test: Iterable | None
    validation: Iterable | None
    best: _Best
    checkpoint: str | Path | None
    epochs: int
    progress: bool
    verbose: bool


def _progress_bar(batches, epochs_left: int, progress: bool):
    steps = len(batches) if hasattr(batches, "__len__") else None
    return tqdm(
        total=steps * epochs_left if steps else None,
        desc="training",
        disable=not progress or os.environ.get(PROGRESS_ENV, "").strip() == "0",
        dynamic_ncols=True,
    )


def _train_step(run: _Run, batch, epoch: int, i: int) -> tuple[list[str], torch.Tensor]:
    """One optimiser step on ``batch`` (batch ``i`` of ``epoch``).

    Returns the names of the loss parts and their values (detached, float32, on the device).
    """
    if batch[0].device != run.device:
        batch = tuple(t.to(run.device, non_blocking=True) for t in batch)
    with run.autocast():
        parts = _as_parts(run.loss_fn(run.model, batch), "the loss")
    values = torch.stack([v.detach().float() for v in parts.values()])
    if i % run.check_every == 0 and not torch.isfinite(values).all():
        raise _diverged(
            parts, values.tolist(), epoch, i, run.lr, weights_intact=run.check_every == 1
        )
    optimizer, scaler = run.optimizer, run.scaler
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(parts["loss"]).backward()
        scaler.unscale_(optimizer)
    else:
        parts["loss"].backward()
    if run.clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.clip_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return list(parts), values


def _train_epoch(run: _Run, epoch: int, bar) -> dict[str, float]:
    """One pass over the training batches; the per-sample mean of each loss part."""
    run.model.train()
    total, names, count = None, None, 0
    for i, batch in enumerate(run.train, start=1):
        names, values = _train_step(run, batch, epoch, i)
        n = len(batch[0])
        total = values * n if total is None else total + values * n
        count += n
        bar.update(1)
        if i % 50 == 0 and run.progress:
            bar.set_postfix(epoch=epoch, loss=f"{total[0].item() / count:.4g}")
    if total is None:
        raise ValueError("the training data gave no batches")
    means = (total / count).tolist()
    if not all(math.isfinite(v) for v in means):
        raise _diverged(names, means, epoch, i, run.lr, weights_intact=False)
    return dict(zip(names, means, strict=True))


def _end_epoch(run: _Run, history: History, means, epoch: int, start: float, bar) -> None:
    """Record the epoch: its means, the test evaluation, its seconds, the checkpoint, a line."""
    history.train.append(means)
    if run.validation is not None:
        # the validation loss of a VAE draws z: on forked generators, so that watching a
        # validation split changes no random number the rest of the run draws
        with _forked_rng(run.device):
            history.validation.append(
                evaluate(run.model, run.validation, loss_fn=run.loss_fn, device=run.device))
        run.best.update(run.model, history)
    if run.test is not None:
        history.test.append(evaluate(run.model, run.test, loss_fn=run.loss_fn, device=run.device))
    history.seconds.append(time.perf_counter() - start)
    if run.checkpoint is not None:
        _save(Path(run.checkpoint), run.model, run.optimizer, run.scaler, run.train, history,
              run.best)
    if run.verbose:
        line = f"epoch {epoch}/{run.epochs}: train {_fmt(history.train[-1])}"
        if history.validation:
            line += f" | validation {_fmt(history.validation[-1])}"
        if history.test:
            line += f" | test {_fmt(history.test[-1])}"
        tqdm.write(line + f" | {history.seconds[-1]:.1f} s")
    bar.set_postfix(epoch=epoch, loss=f"{history.train[-1]['loss']:.4g}")


def _forked_rng(device: torch.device):
    """A context in which torch's global generators (the CPU's, and ``device``'s) draw freely
    and are put back afterwards."""
    if device.type == "cpu":
        return torch.random.fork_rng(devices=[])
    return torch.random.fork_rng(devices=[device], device_type=device.type)


# ----------------------------------------------------------------------------- state


def _save(path, model, optimizer, scaler, batches, history, best) -> None:
    save_checkpoint(
        {
            "version": CHECKPOINT_VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None else None,
            "batches": batches.state_dict() if hasattr(batches, "state_dict") else None,
            "rng": torch_rng_state(),
            "history": history.to_dict(),
            "best": best.state_dict(),
        },
        path,
    )


def _resume(path, model, optimizer, scaler, batches, device, best) -> History:
    state = load_checkpoint(path)
    if state.get("version") != CHECKPOINT_VERSION or "model" not in state:
        raise CheckpointError(
            f"{path} is not a vae_edu training checkpoint; delete it or rename it"
        )
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise CheckpointError(
            f"{path} was saved for a different model ({' '.join(first[:2])[:300]}); "
            "delete it, or give this model its own checkpoint path"
        ) from None
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if state.get("batches") is not None and hasattr(batches, "load_state_dict"):
        batches.load_state_dict(state["batches"])
    set_torch_rng_state(state["rng"])
    best.load_state_dict(state.get("best"))
    return History.from_dict(state["history"])
