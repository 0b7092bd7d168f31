"""What decides whether a cached run is the one asked for: fingerprints of models, data
and code, and the experiment key built from them (see :mod:`vae_edu.model_cache`)."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import types
import weakref
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from ..data import Batches, MNISTSplit
from ..profiles import current_profile

# what of the library is NOT training code: the course tooling, the exercises' checks and
# the presentation and file-handling modules are left out, so that editing a plot or a
# command does not invalidate every trained model (top-level names, or paths inside vae_edu/)
_NOT_TRAINING_CODE = ("tooling", "grading", "viz.py", "widgets", "model_cache",
                      "atomic.py", "paths.py", "__main__.py", "kernel_free.py",
                      "colorization/plots.py", "colorization/widget.py")


_digests: dict[int, tuple[weakref.ref, int, str]] = {}
#: tensors with at least this many values (and no gradient) have their digest remembered
_REMEMBER_FROM = 1 << 16


def _forget(key: int, ref: weakref.ref) -> None:
    entry = _digests.get(key)
    if entry is not None and entry[0] is ref:
        del _digests[key]


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and values (as bytes).

    The digest of a large tensor that needs no gradient (a data set: hashing 60,000 MNIST
    images takes about 0.1 s) is remembered, recomputed when the tensor is modified in
    place (its version counter moves) and forgotten when the tensor is freed, so a new
    tensor at the same address is never taken for an old one.  Parameters and small
    tensors are hashed every time: a fused optimizer step (torch's default Adam on CPU)
    and writes through ``.data`` change a parameter without moving its version counter,
    so a remembered digest would describe the weights before training.
    """
    version = None
    if not t.requires_grad and t.numel() >= _REMEMBER_FROM:
        try:
            version = t._version
        except RuntimeError:  # inference tensors do not count versions: never remembered
            version = None
    if version is not None:
        hit = _digests.get(id(t))
        if hit is not None and hit[0]() is t and hit[1] == version:
            return hit[2]
    flat = t.detach().reshape(-1)
    data = flat.cpu().contiguous()
    if data.dtype == torch.bool:
        data = data.to(torch.uint8)
    raw = data.view(torch.uint8).numpy() if data.numel() else np.zeros(0, np.uint8)
    h = hashlib.sha256(f"{t.dtype}{tuple(t.shape)}".encode())
    h.update(memoryview(raw))
    digest = h.hexdigest()
    if version is not None:
        key = id(t)
        ref = weakref.ref(t, lambda r, key=key: _forget(key, r))
        _digests[key] = (ref, version, digest)
    return digest


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _user_code(obj) -> bool:
    """True for a function or class defined in a notebook or script (not an installed module)."""
    module = getattr(obj, "__module__", None)
    return module in (None, "__main__") or module not in sys.modules


def _code(code: types.CodeType) -> dict:
    consts = [_code(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return {
        "bytecode": hashlib.sha256(code.co_code).hexdigest(),
        "names": list(code.co_names),
        "consts": consts,
    }


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _global_names(c)
    return names


def describe(obj, depth: int = 0, seen: frozenset = frozenset()):
    """A JSON-able description of ``obj`` that changes when anything in it changes.

    Numbers and strings stand for themselves, tensors and arrays for their SHA-256, library
    functions and classes for their qualified names, notebook-defined ones for their code
    (and the values of the globals, defaults and closure cells it uses), other objects for
    their type and attributes.  Memory addresses never enter a description.
    """
    if isinstance(obj, float):
        return repr(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if depth > 8 or id(obj) in seen:
        return f"<{type(obj).__qualname__}>"
    seen = seen | {id(obj)}
    d = depth + 1
    if isinstance(obj, torch.Tensor):
        return {"tensor": tensor_digest(obj)}
    if isinstance(obj, np.ndarray):
        return {"array": tensor_digest(torch.from_numpy(np.ascontiguousarray(obj)))}
    if isinstance(obj, np.generic):
        return repr(obj.item())
    if isinstance(obj, (torch.dtype, torch.device, torch.Size, bytes)):
        return str(obj)
    if isinstance(obj, torch.Generator):
        return {"generator": tensor_digest(obj.get_state())}
    if isinstance(obj, torch.nn.Module):
        return module_fingerprint(obj, depth=d, seen=seen)
    if isinstance(obj, (list, tuple)):
        return [describe(v, d, seen) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((describe(v, d, seen) for v in obj), key=repr)
    if isinstance(obj, Mapping):
        items = sorted(obj.items(), key=lambda kv: str(kv[0]))
        return {str(k): describe(v, d, seen) for k, v in items}
    if isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    if isinstance(obj, functools.partial):
        return {"partial": describe(obj.func, d, seen), "args": describe(obj.args, d, seen),
                "kwargs": describe(obj.keywords, d, seen)}
    if isinstance(obj, types.MethodType):
        return {"method": describe(obj.__func__, d, seen), "of": describe(obj.__self__, d, seen)}
    if isinstance(obj, types.FunctionType):
        return _function(obj, d, seen)
    if isinstance(obj, type):
        return _class(obj, d, seen)
    if callable(obj) and not hasattr(obj, "__dict__"):  # builtins, ufuncs
        return f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}"
    if hasattr(obj, "__dict__"):
        return {"object": _class(type(obj), d, seen), "state": describe(vars(obj), d, seen)}
    return {"object": type(obj).__qualname__, "repr": _ADDRESS.sub("", repr(obj))[:1000]}


def _function(fn: types.FunctionType, depth: int, seen: frozenset):
    # a lambda or a nested function is described by its code even inside a library module:
    # its qualified name does not tell two of them apart
    if not _user_code(fn) and "<" not in fn.__qualname__:
        return f"function {fn.__module__}.{fn.__qualname__}"
    glob = fn.__globals__
    used = {n: describe(glob[n], depth, seen) for n in sorted(_global_names(fn.__code__))
            if n in glob and n != fn.__name__}
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(describe(cell.cell_contents, depth, seen))
        except ValueError:  # an empty cell
            cells.append("<empty>")
    return {"function": fn.__qualname__, "code": _code(fn.__code__),
            "defaults": describe(fn.__defaults__, depth, seen),
            "kwdefaults": describe(fn.__kwdefaults__, depth, seen),
            "closure": cells, "globals": used}


def _class(cls: type, depth: int, seen: frozenset):
    if not _user_code(cls):
        return f"class {cls.__module__}.{cls.__qualname__}"
    methods = {name: _function(f, depth, seen) for name, f in sorted(vars(cls).items())
               if isinstance(f, types.FunctionType)}
    bases = [_class(b, depth, seen) for b in cls.__bases__]
    return {"class": cls.__qualname__, "methods": methods, "bases": bases}


def module_fingerprint(model: torch.nn.Module, depth: int = 0, seen: frozenset = frozenset()):
    """Class, settings and submodules of ``model`` (weights by digest, frozen parameters)."""
    seen = seen | {id(model)}
    settings = {k: describe(v, depth + 1, seen) for k, v in sorted(vars(model).items())
                if not k.startswith("_") and k != "training"}
    return {
        "class": _class(type(model), depth, seen),
        "settings": settings,
        "parameters": {n: [tensor_digest(p), p.requires_grad]
                       for n, p in model.named_parameters(recurse=False)},
        "buffers": {n: tensor_digest(b) for n, b in model.named_buffers(recurse=False)
                    if b is not None},
        "children": {n: module_fingerprint(m, depth + 1, seen)
                     for n, m in model.named_children()},
    }


def data_fingerprint(data):
    """What a training or test set contributes to the key: the digests of its tensors."""
    if data is None:
        return None
    if isinstance(data, MNISTSplit):
        return {"images": tensor_digest(data.images), "labels": tensor_digest(data.labels)}
    if isinstance(data, torch.Tensor):
        return {"tensor": tensor_digest(data)}
    if isinstance(data, Batches):
        return {
            "batches": [tensor_digest(t) for t in data.tensors],
            "batch_size": data.batch_size, "shuffle": data.shuffle,
            "binarize": data.binarize, "drop_last": data.drop_last,
            "generators": [tensor_digest(s) for s in data.state_dict().values()],
        }
    if isinstance(data, (list, tuple)):
        return describe(data)
    raise TypeError(
        f"cannot fingerprint training data of type {type(data).__name__} (use an MNISTSplit, "
        "a tensor, Batches or a list of batches)"
    )


def training_code_files() -> list[Path]:
    """The library sources that decide what training produces (the models, losses,
    training loop, data...), in a fixed order."""
    root = Path(__file__).resolve().parents[1]
    def training(path: Path) -> bool:
        relative = path.relative_to(root)
        return not {relative.parts[0], relative.as_posix()} & set(_NOT_TRAINING_CODE)

    return [path for path in sorted(root.rglob("*.py")) if training(path)]


@functools.cache
def training_code_digest() -> str:
    """SHA-256 over :func:`training_code_files` (their paths and contents)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in training_code_files():
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


_FIT_SETTINGS = ("epochs", "lr", "batch_size", "seed", "amp", "clip_grad_norm",
                 "restore_best")


def experiment_key(
    name: str, model: torch.nn.Module, train, test, fit_kwargs: Mapping
) -> tuple[str, str]:
    """``(key, description)``: the SHA-256 naming the cache entry, and the JSON it hashes."""
    from ..train import TRAINING_CODE_VERSION

    optimizer = fit_kwargs.get("optimizer")
    material = {
        "name": name,
        "profile": current_profile(),
        "code": {"training": TRAINING_CODE_VERSION, "library": training_code_digest(),
                 "python": list(sys.version_info[:2]), "torch": str(torch.__version__)},
        "model": module_fingerprint(model),
        "fit": {k: describe(fit_kwargs.get(k)) for k in _FIT_SETTINGS},
        "loss_fn": describe(fit_kwargs.get("loss_fn")),
        "optimizer": None if optimizer is None else {
            "class": describe(type(optimizer)),
            "groups": [describe({k: v for k, v in g.items() if k != "params"})
                       for g in optimizer.param_groups],
            "state": describe(optimizer.state_dict()["state"]),
        },
        "train": data_fingerprint(train),
        "test": data_fingerprint(test),
        "validation": data_fingerprint(fit_kwargs.get("validation")),
        "rng": tensor_digest(torch.get_rng_state()),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), text


