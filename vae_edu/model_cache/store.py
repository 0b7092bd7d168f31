"""Entries on disk: where the cache is, reading and checking an entry, restoring a
trained run into a model, storing one, and :func:`cached_fit`, which ``fit(...,
cache=NAME)`` calls (see :mod:`vae_edu.model_cache`)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..data import Batches, cache_dir
from ..device import pick_device
from ..profiles import current_profile
from ..seeding import set_torch_rng_state, torch_rng_state
from .keys import experiment_key

MODELS_ENV = "VAE_EDU_CACHE_MODELS"
ENTRY_FORMAT = 1
_OFF = ("off", "0", "false", "no", "none")
ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.pt$")


class CacheEntryError(Exception):
    """A cache entry cannot be used (the message says why); the caller trains instead."""


# ----------------------------------------------------------------------------- where


def models_dir() -> Path | None:
    """The folder of cached models, or None when ``VAE_EDU_CACHE_MODELS=off``."""
    env = os.environ.get(MODELS_ENV, "").strip()
    if env.lower() in _OFF:
        return None
    if env:
        return Path(env).expanduser()
    return cache_dir() / "models"


# ----------------------------------------------------------------------------- entries


@dataclass(frozen=True)
class EntryInfo:
    """What ``vae-edu cache list`` shows about one entry."""

    path: Path
    name: str
    profile: str
    model: str
    epochs: int
    seconds: float
    device: str
    version: str
    created: float
    bytes: int


def say(message: str) -> None:
    print(message, flush=True)


def check_entry(condition: bool, why: str) -> None:
    if not condition:
        raise CacheEntryError(why)


def read_entry(path: Path, key: str | None = None) -> dict:
    """The entry at ``path``, checked for format, library version and (if given) key."""
    try:
        entry = load_checkpoint(path)
    except (CheckpointError, OSError) as err:
        why = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CacheEntryError(f"{path.name} is unreadable ({why})") from None
    check_entry(entry.get("format") == ENTRY_FORMAT
           and (("state" in entry and "history" in entry) or "result" in entry),
           f"{path.name} is not a vae_edu model cache entry")
    check_entry(entry.get("vae_edu") == __version__,
           f"{path.name} was written by vae_edu {entry.get('vae_edu')}, this is {__version__}")
    if key is not None:
        check_entry(entry.get("key") == key,
                    f"{path.name} holds another experiment (its key differs)")
    return entry


def _info(path: Path, entry: dict) -> EntryInfo:
    return EntryInfo(
        path=path, name=str(entry.get("name")), profile=str(entry.get("profile")),
        model=str(entry.get("model")), epochs=int(entry.get("epochs", 0)),
        seconds=float(entry.get("seconds", 0.0)), device=str(entry.get("device")),
        version=str(entry.get("vae_edu")), created=float(entry.get("created", 0.0)),
        bytes=path.stat().st_size,
    )


def entry_rng(path: Path, entry: dict) -> dict:
    """The random state an entry holds (what :func:`set_torch_rng_state` restores);
    :class:`CacheEntryError` when it holds none."""
    rng = entry.get("rng") or {}
    cpu = rng.get("cpu")
    check_entry(isinstance(cpu, torch.Tensor) and cpu.shape == torch.get_rng_state().shape,
                f"{path.name} holds no random state")
    return rng


def entry_info(path: Path) -> EntryInfo:
    """What the entry at ``path`` holds; :class:`CacheEntryError` when it is not usable."""
    return _info(path, read_entry(path))


def _valid_history(h) -> bool:
    def rows(v):
        return isinstance(v, list) and all(
            isinstance(r, dict) and all(isinstance(x, float) for x in r.values()) for r in v)
    return (isinstance(h, dict) and rows(h.get("train")) and rows(h.get("test"))
            and rows(h.get("validation", [])) and isinstance(h.get("seconds"), list)
            and (h.get("best_epoch") is None or isinstance(h["best_epoch"], int)))


def _restore(path: Path, key: str, model, train, test, fit_kwargs: Mapping):
    """Load the entry into ``model`` (and the random state); CacheEntryError when unusable."""
    from ..train import History

    entry = read_entry(path, key)
    check_entry("state" in entry, f"{path.name} holds a measurement, not a trained model")
    state, history = entry["state"], entry["history"]
    ours = model.state_dict()
    check_entry(isinstance(state, dict) and set(state) == set(ours),
           f"{path.name} holds weights of another model (other parameter names)")
    for k, v in ours.items():
        theirs = state[k]
        check_entry(isinstance(theirs, torch.Tensor) and theirs.shape == v.shape
               and theirs.dtype == v.dtype,
               f"{path.name} holds weights of another model shape ({k}: "
               f"{tuple(getattr(theirs, 'shape', ()))} in the cache, {tuple(v.shape)} here)")
    epochs = fit_kwargs.get("epochs")
    validation = fit_kwargs.get("validation")
    check_entry(_valid_history(history) and len(history["train"]) == epochs
           and len(history["test"]) == (epochs if test is not None else 0)
           and len(history.get("validation", [])) == (epochs if validation is not None else 0),
           f"{path.name} holds a training history that does not fit this run")
    rng = entry_rng(path, entry)
    optimizer = fit_kwargs.get("optimizer")
    check_entry(optimizer is None or isinstance(entry.get("optimizer"), dict),
           f"{path.name} holds no optimizer state")
    batches = entry.get("batches") or {}

    device = pick_device(fit_kwargs.get("device"))
    before = {k: v.detach().clone() for k, v in ours.items()}
    try:
        model.to(device)
        model.load_state_dict(state)
        if optimizer is not None:
            optimizer.load_state_dict(entry["optimizer"])
        for name, data in (("train", train), ("test", test), ("validation", validation)):
            if isinstance(data, Batches) and batches.get(name) is not None:
                data.load_state_dict(batches[name])
    except Exception as err:  # noqa: BLE001 - whatever fails, the model is put back
        model.load_state_dict(before)
        raise CacheEntryError(f"{path.name} could not be loaded ({str(err)[:200]})") from None
    model.train()  # as fit leaves it
    set_torch_rng_state(rng)
    return History.from_dict(history), entry


def cached_fit(name: str, model, train, test, *, train_fn, **fit_kwargs):
    """``train_fn(model, train, test, **fit_kwargs)`` through the cache (see the module doc).

    :func:`vae_edu.train.fit` calls this when it is given ``cache=name``.
    """
    folder = models_dir()
    if folder is None:
        return train_fn(model, train, test, **fit_kwargs)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"cache must be a non-empty experiment name, got {name!r}")
    verbose = fit_kwargs.get("verbose", True)
    try:
        key, _ = experiment_key(name, model, train, test, fit_kwargs)
    except Exception as err:  # noqa: BLE001 - an odd argument must not stop training
        say(f"cache: cannot fingerprint {name!r} ({type(err).__name__}: {str(err)[:200]}); "
             "training without the cache")
        return train_fn(model, train, test, **fit_kwargs)
    path = folder / f"{key}.pt"
    if path.exists():
        try:
            history, entry = _restore(path, key, model, train, test, fit_kwargs)
        except CacheEntryError as err:
            say(f"cache: {err}; training {name!r} anew")
        else:
            if verbose:
                kept = (f", the weights of epoch {history.best_epoch} (lowest validation "
                        f"loss)" if history.best_epoch is not None else "")
                say(f"loaded {name!r} from the cache: {history.epochs} epoch(s){kept}, "
                     f"trained in {entry['seconds']:.1f} s on {entry['device']} (profile "
                     f"{entry['profile']}; {folder})")
            return history
    start = time.perf_counter()
    history = train_fn(model, train, test, **fit_kwargs)
    seconds = time.perf_counter() - start
    try:
        _store(path, key, name, model, train, test, history, seconds, fit_kwargs)
    except Exception as err:  # noqa: BLE001 - full disk, read-only folder, ...
        say(f"cache: could not save {name!r} in {folder} ({type(err).__name__}: "
             f"{str(err)[:200]}); it is trained, but will be trained again next time")
    return history


def _store(path, key, name, model, train, test, history, seconds, fit_kwargs) -> None:
    optimizer = fit_kwargs.get("optimizer")
    device = pick_device(fit_kwargs.get("device"))
    entry = {
        "format": ENTRY_FORMAT,
        "vae_edu": __version__,
        "torch": str(torch.__version__),
        "key": key,
        "name": name,
        "profile": current_profile(),
        "model": type(model).__qualname__,
        "epochs": history.epochs,
        "seconds": float(seconds),
        "device": device.type,
        "created": time.time(),
        "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "history": history.to_dict(),
        "rng": torch_rng_state(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "batches": {n: d.state_dict() if isinstance(d, Batches) else None
                    for n, d in (("train", train), ("test", test),
                                 ("validation", fit_kwargs.get("validation")))},
    }
    save_checkpoint(entry, path)


