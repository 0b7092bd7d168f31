"""Trained models kept on disk, so that a lecture re-opens in seconds with the same results.

Every training cell of the lectures names its experiment::

    history = fit(model, train, test, epochs=b.epochs, device=device, cache="06-vae2")

The first run trains as usual and stores the weights, the :class:`~vae_edu.train.History`
and the random state after training; the next run of the same experiment (a restarted
kernel, another day, another machine with the same cache) loads them instead and prints one
line saying what it loaded and how long the training took originally.  What follows the
cell then sees exactly what it would have seen after training: the same weights, the same
history and the same state of torch's random generator.

The key of an entry covers everything that changes the result of training:

* the experiment name and the profile in force;
* the model: its class (and, for a class defined in the notebook, the code of its
  methods), the settings held by each of its modules (``lam``, ``sigma``, ...), its
  initial weights (which also capture the seed and the constructor arguments) and which
  parameters are frozen;
* the arguments of :func:`~vae_edu.train.fit` (epochs, learning rate, batch size, seed,
  ``loss_fn`` by its code, an explicit optimizer by its settings and state);
* the data, by a SHA-256 fingerprint of the tensors trained and evaluated on (full MNIST,
  the shipped subset and any other folder or subset differ), computed once per tensor
  and process;
* torch's random state when training starts;
* the training code: :data:`vae_edu.train.TRAINING_CODE_VERSION`, a digest of the
  library's modelling and training sources, the Python and torch versions.

Anything else that changes (a budget, a data source, a penalty weight) trains anew.

Where: ``$VAE_EDU_CACHE/models`` (default ``~/.cache/vae_edu/models``).
``VAE_EDU_CACHE_MODELS=off`` always trains; ``VAE_EDU_CACHE_MODELS=/some/folder`` keeps
the models there instead.  Entries are written atomically and read with
``torch.load(weights_only=True)``: loading never runs code from the file.  A broken,
foreign or unwritable entry gives one line and the cell trains as if there were no cache.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import time
import types
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import __version__
from .atomic import atomic_file
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import Batches, MNISTSplit, cache_dir
from .device import pick_device
from .profiles import current_profile

MODELS_ENV = "VAE_EDU_CACHE_MODELS"
ENTRY_FORMAT = 1
ARCHIVE_FORMAT = 1
MANIFEST = "manifest.json"
_OFF = ("off", "0", "false", "no", "none")
_ENTRY_NAME = re.compile(r"^[0-9a-f]{64}\.pt$")
# what of the library is NOT training code: the course tooling, the exercises' checks and
# the presentation and file-handling modules are left out, so that editing a plot or a
# command does not invalidate every trained model
_NOT_TRAINING_CODE = ("tooling", "grading", "viz.py", "widgets", "model_cache.py",
                      "atomic.py", "paths.py", "__main__.py")


class CacheEntryError(Exception):
    """A cache entry cannot be used (the message says why); the caller trains instead."""


class ArchiveError(RuntimeError):
    """An exported archive cannot be imported; nothing was changed in the cache."""


# ----------------------------------------------------------------------------- where


def models_dir() -> Path | None:
    """The folder of cached models, or None when ``VAE_EDU_CACHE_MODELS=off``."""
    env = os.environ.get(MODELS_ENV, "").strip()
    if env.lower() in _OFF:
        return None
    if env:
        return Path(env).expanduser()
    return cache_dir() / "models"


# ----------------------------------------------------------------------------- fingerprints

_digests: dict[int, tuple[weakref.ref, int, str]] = {}


def _forget(key: int, ref: weakref.ref) -> None:
    entry = _digests.get(key)
    if entry is not None and entry[0] is ref:
        del _digests[key]


def tensor_digest(t: torch.Tensor) -> str:
    """SHA-256 of a tensor's dtype, shape and values (as bytes), remembered per tensor.

    The digest is recomputed when the tensor is modified in place (its version counter
    moves) and forgotten when the tensor is freed, so a new tensor at the same address is
    never taken for an old one.
    """
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
    root = Path(__file__).resolve().parent
    return [path for path in sorted(root.rglob("*.py"))
            if path.relative_to(root).parts[0] not in _NOT_TRAINING_CODE]


@functools.cache
def training_code_digest() -> str:
    """SHA-256 over :func:`training_code_files` (their paths and contents)."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in training_code_files():
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


_FIT_SETTINGS = ("epochs", "lr", "batch_size", "seed", "amp", "clip_grad_norm")


def experiment_key(
    name: str, model: torch.nn.Module, train, test, fit_kwargs: Mapping
) -> tuple[str, str]:
    """``(key, description)``: the SHA-256 naming the cache entry, and the JSON it hashes."""
    from .train import TRAINING_CODE_VERSION

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
        "rng": tensor_digest(torch.get_rng_state()),
    }
    text = json.dumps(material, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), text


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


def _say(message: str) -> None:
    print(message, flush=True)


def _rng_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _check(condition: bool, why: str) -> None:
    if not condition:
        raise CacheEntryError(why)


def _read_entry(path: Path, key: str | None = None) -> dict:
    """The entry at ``path``, checked for format, library version and (if given) key."""
    try:
        entry = load_checkpoint(path)
    except (CheckpointError, OSError) as err:
        why = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CacheEntryError(f"{path.name} is unreadable ({why})") from None
    _check(entry.get("format") == ENTRY_FORMAT and "state" in entry and "history" in entry,
           f"{path.name} is not a vae_edu model cache entry")
    _check(entry.get("vae_edu") == __version__,
           f"{path.name} was written by vae_edu {entry.get('vae_edu')}, this is {__version__}")
    if key is not None:
        _check(entry.get("key") == key, f"{path.name} holds another experiment (its key differs)")
    return entry


def _info(path: Path, entry: dict) -> EntryInfo:
    return EntryInfo(
        path=path, name=str(entry.get("name")), profile=str(entry.get("profile")),
        model=str(entry.get("model")), epochs=int(entry.get("epochs", 0)),
        seconds=float(entry.get("seconds", 0.0)), device=str(entry.get("device")),
        version=str(entry.get("vae_edu")), created=float(entry.get("created", 0.0)),
        bytes=path.stat().st_size,
    )


def entry_info(path: Path) -> EntryInfo:
    """What the entry at ``path`` holds; :class:`CacheEntryError` when it is not usable."""
    return _info(path, _read_entry(path))


def _valid_history(h) -> bool:
    def rows(v):
        return isinstance(v, list) and all(
            isinstance(r, dict) and all(isinstance(x, float) for x in r.values()) for r in v)
    return (isinstance(h, dict) and rows(h.get("train")) and rows(h.get("test"))
            and isinstance(h.get("seconds"), list))


def _restore(path: Path, key: str, model, train, test, fit_kwargs: Mapping):
    """Load the entry into ``model`` (and the random state); CacheEntryError when unusable."""
    from .train import History

    entry = _read_entry(path, key)
    state, history = entry["state"], entry["history"]
    ours = model.state_dict()
    _check(isinstance(state, dict) and set(state) == set(ours),
           f"{path.name} holds weights of another model (other parameter names)")
    for k, v in ours.items():
        theirs = state[k]
        _check(isinstance(theirs, torch.Tensor) and theirs.shape == v.shape
               and theirs.dtype == v.dtype,
               f"{path.name} holds weights of another model shape ({k}: "
               f"{tuple(getattr(theirs, 'shape', ()))} in the cache, {tuple(v.shape)} here)")
    epochs = fit_kwargs.get("epochs")
    _check(_valid_history(history) and len(history["train"]) == epochs
           and len(history["test"]) == (epochs if test is not None else 0),
           f"{path.name} holds a training history that does not fit this run")
    rng = entry.get("rng", {})
    cpu = rng.get("cpu")
    _check(isinstance(cpu, torch.Tensor) and cpu.shape == torch.get_rng_state().shape,
           f"{path.name} holds no random state")
    optimizer = fit_kwargs.get("optimizer")
    _check(optimizer is None or isinstance(entry.get("optimizer"), dict),
           f"{path.name} holds no optimizer state")
    batches = entry.get("batches") or {}

    device = pick_device(fit_kwargs.get("device"))
    before = {k: v.detach().clone() for k, v in ours.items()}
    try:
        model.to(device)
        model.load_state_dict(state)
        if optimizer is not None:
            optimizer.load_state_dict(entry["optimizer"])
        for name, data in (("train", train), ("test", test)):
            if isinstance(data, Batches) and batches.get(name) is not None:
                data.load_state_dict(batches[name])
    except Exception as err:  # noqa: BLE001 - whatever fails, the model is put back
        model.load_state_dict(before)
        raise CacheEntryError(f"{path.name} could not be loaded ({str(err)[:200]})") from None
    model.train()  # as fit leaves it
    torch.set_rng_state(cpu)
    cuda = rng.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
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
        _say(f"cache: cannot fingerprint {name!r} ({type(err).__name__}: {str(err)[:200]}); "
             "training without the cache")
        return train_fn(model, train, test, **fit_kwargs)
    path = folder / f"{key}.pt"
    if path.exists():
        try:
            history, entry = _restore(path, key, model, train, test, fit_kwargs)
        except CacheEntryError as err:
            _say(f"cache: {err}; training {name!r} anew")
        else:
            if verbose:
                _say(f"loaded {name!r} from the cache: {history.epochs} epoch(s), trained in "
                     f"{entry['seconds']:.1f} s on {entry['device']} (profile {entry['profile']}"
                     f"; {folder})")
            return history
    start = time.perf_counter()
    history = train_fn(model, train, test, **fit_kwargs)
    seconds = time.perf_counter() - start
    try:
        _store(path, key, name, model, train, test, history, seconds, fit_kwargs)
    except Exception as err:  # noqa: BLE001 - full disk, read-only folder, ...
        _say(f"cache: could not save {name!r} in {folder} ({type(err).__name__}: "
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
        "rng": _rng_state(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "batches": {n: d.state_dict() if isinstance(d, Batches) else None
                    for n, d in (("train", train), ("test", test))},
    }
    save_checkpoint(entry, path)


# ----------------------------------------------------------------------------- commands


def list_entries(folder: Path | None = None) -> tuple[list[EntryInfo], list[str]]:
    """The entries in the cache (oldest first) and one line per file that is not usable."""
    folder = folder or models_dir()
    if folder is None or not folder.is_dir():
        return [], []
    infos, problems = [], []
    for path in sorted(folder.glob("*.pt")):
        try:
            infos.append(entry_info(path))
        except CacheEntryError as err:
            problems.append(str(err))
    return sorted(infos, key=lambda i: i.created), problems


def clear(folder: Path | None = None) -> tuple[int, int]:
    """Delete every entry (and leftover temporary file); ``(files, bytes)`` removed."""
    folder = folder or models_dir()
    if folder is None or not folder.is_dir():
        return 0, 0
    files = size = 0
    for path in [*folder.glob("*.pt"), *folder.glob(".*.tmp")]:
        size += path.stat().st_size
        path.unlink()
        files += 1
    return files, size


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_cache(archive: str | os.PathLike, folder: Path | None = None) -> int:
    """Write every usable entry into one tar archive with a manifest; the number written.

    The manifest names each file, its experiment, profile and SHA-256, and the library
    version; the archive is written atomically.
    """
    infos, _ = list_entries(folder)
    archive = Path(archive)
    manifest = {
        "format": ARCHIVE_FORMAT, "vae_edu": __version__,
        "entries": [{"file": i.path.name, "name": i.name, "profile": i.profile,
                     "bytes": i.bytes, "sha256": _sha256(i.path)} for i in infos],
    }
    with atomic_file(archive, "wb") as f, tarfile.open(fileobj=f, mode="w") as tar:
        data = json.dumps(manifest, indent=1).encode()
        member = tarfile.TarInfo(MANIFEST)
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
        for info in infos:
            tar.add(info.path, arcname=info.path.name)
    return len(infos)


def import_cache(archive: str | os.PathLike, folder: Path | None = None) -> tuple[int, int]:
    """Verify ``archive`` completely, then add its entries; ``(added, already present)``.

    Raises :class:`ArchiveError` (one line: which entry and why) when the manifest is
    missing, comes from another library version, or an entry's SHA-256 does not match;
    then nothing in the cache has changed.  Entries already in the cache are kept.
    """
    archive = Path(archive)
    folder = folder or models_dir()
    if folder is None:
        raise ArchiveError(f"{MODELS_ENV}=off: there is no model cache to import into")
    try:
        tar = tarfile.open(archive, mode="r")
    except (OSError, tarfile.TarError) as err:
        why = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise ArchiveError(f"{archive} is not a readable cache archive ({why})") from None
    with tar:
        try:
            manifest = json.load(tar.extractfile(MANIFEST))
        except (KeyError, AttributeError, ValueError, tarfile.TarError) as err:
            raise ArchiveError(f"{archive} has no readable {MANIFEST} ({err})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
            raise ArchiveError(f"{archive}: {MANIFEST} is not a vae_edu cache manifest")
        if manifest.get("vae_edu") != __version__:
            raise ArchiveError(f"{archive} was exported by vae_edu {manifest.get('vae_edu')}, "
                               f"this is {__version__}: nothing imported")
        entries = manifest.get("entries")
        if not isinstance(entries, list):
            raise ArchiveError(f"{archive}: {MANIFEST} lists no entries")
        folder.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        try:
            for item in entries:
                file = str(item.get("file", "")) if isinstance(item, dict) else ""
                label = f"entry {item.get('name')!r} ({file})" if file else "an entry"
                if not _ENTRY_NAME.match(file):
                    raise ArchiveError(f"{archive}: {label} has an invalid file name: "
                                       "nothing imported")
                try:
                    data = tar.extractfile(file).read()
                except (KeyError, AttributeError, OSError, tarfile.TarError):
                    raise ArchiveError(f"{archive}: {label} is listed but missing: "
                                       "nothing imported") from None
                if hashlib.sha256(data).hexdigest() != item.get("sha256"):
                    raise ArchiveError(f"{archive}: {label} does not match its SHA-256 "
                                       "(damaged archive?): nothing imported")
                target = folder / file
                if target.exists():
                    continue
                fd, tmp = tempfile.mkstemp(prefix=f".{file}.", suffix=".tmp", dir=folder)
                staged.append((Path(tmp), target))
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
    for tmp, target in staged:
        os.replace(tmp, target)
    return len(staged), len(entries) - len(staged)
