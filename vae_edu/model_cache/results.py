"""Measurements kept on disk beside the trained models: :func:`cached_call`.

A lecture re-opened with every model loaded from the cache still spends its time in the
measurements that follow training: an IWAE estimate over the test set, a Jacobian
spectrum, a nearest-neighbour accuracy.  ``cached_call(name, fn, *args, **kwargs)`` is
``fn(*args, **kwargs)`` the first time and its stored result afterwards, under the same
rules as :func:`~vae_edu.model_cache.store.cached_fit`:

* the key covers the name, the profile, ``fn`` (a library function by its qualified name,
  a function defined in the notebook by its code), every argument (a model by its
  current weights and settings, a tensor or a data split by its SHA-256, other values as
  they are), torch's random state at the call, and the library's code and versions;
* the entry holds the result and torch's random state after the call, which a load
  restores, so that what follows sees the same random numbers as after computing it;
  the same holds for every ``torch.Generator`` passed in (also inside a list, tuple or
  dict argument): a load leaves it in the state the call left it in, so one generator
  can be shared by several cached calls;
* a result must be made of tensors, numbers, strings, None, lists, tuples and dicts
  (what ``torch.load(weights_only=True)`` reads); anything else is computed, returned and
  not stored (one line says so). Tensors come back on the CPU.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable

import torch

from .. import __version__
from ..checkpoint import save_checkpoint
from ..profiles import current_profile
from ..seeding import set_torch_rng_state, torch_rng_state
from .keys import describe, tensor_digest, training_code_digest
from .store import (
    ENTRY_FORMAT,
    CacheEntryError,
    check_entry,
    entry_rng,
    models_dir,
    read_entry,
    say,
)

__all__ = ["cached_call", "call_key"]


def call_key(name: str, fn: Callable, args: tuple, kwargs: dict) -> str:
    """The SHA-256 naming the entry of ``fn(*args, **kwargs)`` under ``name``."""
    material = {
        "kind": "result",
        "name": name,
        "profile": current_profile(),
        "code": {"library": training_code_digest(), "python": list(sys.version_info[:2]),
                 "torch": str(torch.__version__)},
        "fn": describe(fn),
        "args": describe(list(args)),
        "kwargs": describe(kwargs),
        "rng": tensor_digest(torch.get_rng_state()),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _storable(value, depth: int = 0) -> bool:
    if depth > 20:
        return False
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_storable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _storable(v, depth + 1)
                   for k, v in value.items())
    return False


def _on_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, (list, tuple)):
        out = [_on_cpu(v) for v in value]
        return out if isinstance(value, list) else tuple(out)
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    return value


def generators_in(args: tuple, kwargs: dict) -> list[torch.Generator]:
    """The ``torch.Generator`` objects among the arguments, in a fixed order (each once)."""
    found: list[torch.Generator] = []

    def walk(value, depth: int = 0):
        if isinstance(value, torch.Generator):
            if all(value is not g for g in found):
                found.append(value)
        elif depth < 4 and isinstance(value, (list, tuple)):
            for v in value:
                walk(v, depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for k in sorted(value, key=str):
                walk(value[k], depth + 1)

    walk(list(args))
    walk(kwargs)
    return found


def _load(path, key: str, generators: list[torch.Generator]):
    entry = read_entry(path, key)
    check_entry("result" in entry, f"{path.name} holds a trained model, not a result")
    rng = entry_rng(path, entry)
    states = entry.get("generators", [])
    check_entry(isinstance(states, list) and len(states) == len(generators)
                and all(isinstance(s, torch.Tensor) and s.shape == g.get_state().shape
                        for s, g in zip(states, generators, strict=False)),
                f"{path.name} does not hold the state of the {len(generators)} generator(s) "
                "passed in")
    set_torch_rng_state(rng)
    for g, state in zip(generators, states, strict=True):
        g.set_state(state)
    return entry


def cached_call(name: str, fn: Callable, /, *args, **kwargs):
    """``fn(*args, **kwargs)``, or its stored result when this exact call ran before.

    name: what the measurement is, e.g. ``"06-iwae-test"`` (one line says when it is
    loaded, and how long it took to compute). See the module doc for the key.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"cached_call: name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"cached_call: fn must be callable, got {type(fn).__name__}")
    folder = models_dir()
    if folder is None:
        return fn(*args, **kwargs)
    try:
        key = call_key(name, fn, args, kwargs)
    except Exception as err:  # noqa: BLE001 - an odd argument must not stop the lecture
        say(f"cache: cannot fingerprint {name!r} ({type(err).__name__}: {str(err)[:200]}); "
             "computing it without the cache")
        return fn(*args, **kwargs)
    path = folder / f"{key}.pt"
    generators = generators_in(args, kwargs)
    if path.exists():
        try:
            entry = _load(path, key, generators)
        except CacheEntryError as err:
            say(f"cache: {err}; computing {name!r} anew")
        else:
            say(f"loaded {name!r} from the cache (computed in {entry['seconds']:.1f} s; "
                 f"profile {entry['profile']})")
            return entry["result"]
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    if not _storable(result):
        say(f"cache: {name!r} returned a {type(result).__name__}, which the cache does not "
             "store (tensors, numbers, strings, lists, tuples, dicts); computed, not stored")
        return result
    entry = {
        "format": ENTRY_FORMAT, "vae_edu": __version__, "torch": str(torch.__version__),
        "key": key, "name": name, "profile": current_profile(),
        "model": f"result of {getattr(fn, '__qualname__', type(fn).__name__)}",
        "epochs": 0, "seconds": float(seconds), "device": "cpu", "created": time.time(),
        "result": _on_cpu(result), "rng": torch_rng_state(),
        "generators": [g.get_state() for g in generators],
    }
    try:
        save_checkpoint(entry, path)
    except Exception as err:  # noqa: BLE001 - full disk, read-only folder, ...
        say(f"cache: could not save {name!r} in {folder} ({type(err).__name__}: "
             f"{str(err)[:200]}); it is computed, but will be computed again next time")
    return result
