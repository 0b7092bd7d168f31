"""Call a student's answer on given inputs and record what it returned, as plain JSON.

This module is the only grading code that runs next to student code. It is used twice:

* in the notebook, by :func:`vae_edu.grading.check`, on fixed public inputs;
* by ``vae-edu grade``, whose hidden-test cells carry this module's SOURCE (not an
  import of it) and run it in the student's kernel on secret inputs.

Either way it only *records*: it decodes the inputs, calls the answer, and encodes
the outputs (tensors as nested numbers, errors as their type, message and line). It
never decides whether an answer is right; that happens in the caller's process
(:mod:`vae_edu.grading.judging`), so nothing a student redefines in the kernel can
change a grade. The encoding is plain JSON (never pickle), so reading a payload cannot
run code in the grader.

Only the standard library and torch are imported here, on purpose.

Spec format (what :func:`run` takes), all JSON:

* ``{"kind": "function", "answer": NAME, "calls": [{"args": [...], "kwargs": {...},
  "label": "..."}, ...]}``
* ``{"kind": "class", "answer": NAME, "calls": [{"init": {...}, "params": [TENSOR, ...],
  "methods": [{"name": "encode", "args": [...], "label": "..."}, ...]}, ...]}``; every
  parameter of the student's module is overwritten with the spec tensor of the same
  shape before the methods are called.

* ``{"kind": "object", "answer": NAME, "calls": [{"name": METHOD, "args": [...],
  "label": "..."}, ...]}``: methods of an existing object (a model the student trained);
  no parameter is touched. An argument ``{"__reparam__": {"of": I, "eps": TENSOR}}`` is
  ``mu + exp(logvar / 2) * eps`` made from the ``(mu, logvar)`` that call ``I`` returned
  (the ``z`` a decoder is then called on is recorded too, as ``"made"``), so that the
  grader can check a trained VAE's decoder on codes from its own encoder.

Any spec may carry ``"twins": ["module:function", ...]``: library functions whose call
during the answer is recorded (``"twin": [...]`` in the result), whether the answer calls
them directly, under another name or through a wrapper.

Values: numbers, strings, lists, ``{"__tensor__": {"dtype", "shape", "data"}}``,
``{"__generator__": SEED}`` (a fresh ``torch.Generator`` seeded with ``SEED``) and
``{"__mnist_test__": {"seed": S, "n": N, "flat": true}}`` (N test images of the MNIST
subset that ships with ``vae_edu``, in ``[0, 1]``, chosen by a permutation drawn with
seed S: the one place this module imports ``vae_edu``) and ``{"__randn__": {"seed": S,
"shape": [...]}}`` (standard normal noise from a generator seeded with S). Both keep a
spec small: a few numbers instead of megabytes.

Payload format (what :func:`run` returns): ``{"status": "ran" | "missing" |
"not_callable", "results": [{"label", "output" | "error", "mutated"}, ...]}``.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
import traceback

#: MIME type under which the hidden-test cells display their payload.
PAYLOAD_MIME = "application/vnd.vae-edu.grading+json"
#: Outputs with more numbers than this are not recorded (a grade needs far fewer).
MAX_NUMBERS = 2_000_000
_MAX_TEXT = 300
_HARNESS_FILE = "<vae-edu grader>"
_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
           "int64", "bool")


def _torch():
    import torch

    return torch


def encode(value, budget=None):
    """A Python/torch value -> JSON-able data (tensors as flat lists with dtype and shape)."""
    torch = _torch()
    budget = budget if budget is not None else [MAX_NUMBERS]
    if torch.is_tensor(value):
        t = value.detach().cpu()
        budget[0] -= t.numel()
        if budget[0] < 0:
            return {"__too_large__": list(t.shape)}
        if t.is_complex():
            return {"__unsupported__": f"complex tensor of dtype {t.dtype}"}
        dtype = str(t.dtype).replace("torch.", "")
        data = t.reshape(-1).tolist()
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            data = [v if math.isfinite(v) else repr(v) for v in data]  # "nan", "inf", "-inf"
        return {"__tensor__": {"dtype": dtype, "shape": list(t.shape), "data": data}}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple | list):
        return {"__sequence__": [encode(v, budget) for v in value]}
    try:  # numpy scalars and arrays, without importing numpy
        if hasattr(value, "__array__") and hasattr(value, "dtype"):
            return encode(torch.as_tensor(value.__array__()), budget)
    except Exception:
        pass
    return {"__unsupported__": type(value).__name__}


def decode(data):
    """The inverse of :func:`encode` (also builds generators from ``__generator__``)."""
    torch = _torch()
    if isinstance(data, dict):
        if "__tensor__" in data:
            t = data["__tensor__"]
            if t.get("dtype") not in _DTYPES:
                raise ValueError(f"not a tensor dtype this grader reads: {t.get('dtype')!r}")
            values = [_number(v) for v in t["data"]]
            return torch.tensor(values, dtype=getattr(torch, t["dtype"])).reshape(t["shape"])
        if "__generator__" in data:
            return torch.Generator().manual_seed(int(data["__generator__"]))
        if "__mnist_test__" in data:
            return _mnist_test(data["__mnist_test__"])
        if "__randn__" in data:
            spec = data["__randn__"]
            gen = torch.Generator().manual_seed(int(spec["seed"]))
            return torch.randn([int(n) for n in spec["shape"]], generator=gen)
        if "__sequence__" in data:
            return tuple(decode(v) for v in data["__sequence__"])
        if "__float__" in data:
            return _number(data["__float__"])
        return {k: decode(v) for k, v in data.items()}
    if isinstance(data, list):
        return [decode(v) for v in data]
    return data


def _mnist_test(ref):
    """Test-split images of the MNIST subset shipped with ``vae_edu``, by index: a few
    numbers in the spec instead of megabytes of pixels."""
    torch = _torch()
    data = importlib.import_module("vae_edu.data")
    root = importlib.import_module("vae_edu").__file__.rsplit("/", 1)[0] + "/mnist_subset"
    images, _ = data._read_split(__import__("pathlib").Path(root), "test")
    gen = torch.Generator().manual_seed(int(ref["seed"]))
    index = torch.randperm(len(images), generator=gen)[: int(ref["n"])]
    x = torch.from_numpy(images.copy()).index_select(0, index).float().div(255.0)
    return x.reshape(len(index), -1) if ref.get("flat", True) else x.reshape(-1, 1, 28, 28)


def _number(value):
    """A number of an encoded tensor (non-finite floats arrive as "nan", "inf", "-inf")."""
    if isinstance(value, str):
        if value not in ("nan", "inf", "-inf"):
            raise ValueError(f"not a number: {value[:20]!r}")
        return float(value)
    return value


def _short(text):
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _error(exc):
    """An exception -> {type, message, line, code}: the innermost frame of student code."""
    line, code = None, None
    for frame in traceback.extract_tb(exc.__traceback__):
        name = frame.filename.replace("\\", "/")
        if name == _HARNESS_FILE or "/torch/" in name or name.endswith("grading/harness.py"):
            continue
        line, code = frame.lineno, (frame.line or "").strip() or None
    return {"type": type(exc).__name__, "message": _short(exc), "line": line, "code": code}


def _same(a, b):
    torch = _torch()
    if torch.is_tensor(a) and torch.is_tensor(b):
        return a.shape == b.shape and bool(torch.equal(a, b))
    return True


def _twin_codes(twins):
    """``{code object: "module.function"}`` of the library functions named in ``twins``."""
    codes = {}
    for name in twins or ():
        module, _, attr = name.partition(":")
        try:
            fn = importlib.import_module(module)
            for part in attr.split("."):  # "Class.method" too
                fn = getattr(fn, part)
            fn = getattr(fn, "__wrapped__", fn)
            codes[fn.__code__] = f"{module}.{attr}"
        except Exception:  # a twin that cannot be found is simply not watched
            continue
    return codes


def _watching(codes, seen):
    """A profile function that notes every call of a code object in ``codes``."""
    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            seen.add(codes[frame.f_code])
    return watch


def _call(fn, args, kwargs, budget, twins=None, keep=None):
    """Call fn(*args, **kwargs) -> one result dict; inputs are checked for in-place changes."""
    originals = [a.clone() if _torch().is_tensor(a) else None for a in args]
    kw_originals = {k: v.clone() for k, v in kwargs.items() if _torch().is_tensor(v)}
    seen = set()
    previous = sys.getprofile()
    if twins:
        sys.setprofile(_watching(twins, seen))
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # a KeyboardInterrupt (the time limit) is not caught
        result = {"error": _error(exc)}
    else:
        result = {"output": encode(out, budget)}
        if keep is not None:
            keep.append(out)
    finally:
        if twins:
            sys.setprofile(previous)
    if seen:
        result["twin"] = sorted(seen)
    mutated = [i for i, (a, o) in enumerate(zip(args, originals, strict=True))
               if o is not None and not _same(a, o)]
    mutated += [k for k, o in kw_originals.items() if not _same(kwargs[k], o)]
    if mutated:
        result["mutated"] = mutated
    return result


def _load_params(model, params):
    """Overwrite every parameter of ``model`` with the spec tensor of the same shape."""
    torch = _torch()
    by_shape = {tuple(p.shape): p for p in params}
    named = list(model.named_parameters())
    expected = ", ".join(str(s) for s in by_shape)
    if not named:
        raise TypeError(f"the model has no parameters; expected parameters of shapes {expected}")
    wrong = [f"{n} {tuple(p.shape)}" for n, p in named if tuple(p.shape) not in by_shape]
    if wrong:
        raise ValueError(
            f"unexpected parameter shape(s): {', '.join(wrong)}; the layers should have "
            f"parameters of shapes {expected}"
        )
    seen = {tuple(p.shape) for _, p in named}
    missing = [str(s) for s in by_shape if s not in seen]
    if missing:
        raise ValueError(f"no parameter of shape(s) {', '.join(missing)}: is a layer missing?")
    with torch.no_grad():
        for _, p in named:
            p.copy_(by_shape[tuple(p.shape)].to(p.dtype))


def run(answer, spec):
    """Call ``answer`` as ``spec`` says; return the payload (see the module docstring)."""
    if answer is None:
        return {"status": "missing", "results": []}
    if not callable(answer):
        return {"status": "not_callable", "type": type(answer).__name__, "results": []}
    budget = [MAX_NUMBERS]
    results = []
    twins = _twin_codes(spec.get("twins"))
    if spec["kind"] == "function":
        for call in spec["calls"]:
            args = [decode(a) for a in call.get("args", [])]
            kwargs = {k: decode(v) for k, v in call.get("kwargs", {}).items()}
            results.append({"label": call.get("label", ""),
                            **_call(answer, args, kwargs, budget, twins)})
        return {"status": "ran", "results": results}
    if spec["kind"] == "object":
        return {"status": "ran", "results": _run_object(answer, spec["calls"], budget, twins)}
    for call in spec["calls"]:
        methods = call["methods"]
        try:
            model = answer(**decode(call.get("init", {})))
            _load_params(model, [decode(p) for p in call.get("params", [])])
        except Exception as exc:
            results += [{"label": m.get("label", ""), "error": _error(exc)} for m in methods]
            continue
        for m in methods:
            method = getattr(model, m["name"], None)
            if method is None:
                results.append({"label": m.get("label", ""), "error": {
                    "type": "AttributeError", "line": None, "code": None,
                    "message": f"{type(model).__name__} has no method {m['name']}"}})
                continue
            args = [decode(a) for a in m.get("args", [])]
            results.append({"label": m.get("label", ""), **_call(method, args, {}, budget, twins)})
    return {"status": "ran", "results": results}


def _reparam(arg, outputs):
    """``mu + exp(logvar / 2) * eps`` from the (mu, logvar) of an earlier call."""
    torch = _torch()
    source = outputs[arg["of"]]
    if source is None:
        raise ValueError(f"call {arg['of'] + 1} gave no result to sample a code from")
    mu, logvar = source[0], source[1]
    eps = decode(arg["eps"])
    with torch.no_grad():
        z = mu.detach() + torch.exp(0.5 * logvar.detach()) * eps.to(mu.dtype)
    # K samples per data point: (K, B, Z) -> (K * B, Z) rows, sample-major
    return (z.reshape(-1, z.shape[-1]) if arg.get("flatten") else z).contiguous()


def _run_object(obj, calls, budget, twins):
    """Methods of an existing object, in order (see ``"kind": "object"`` above)."""
    outputs, results = [], []
    for call in calls:
        label = call.get("label", "")
        method = getattr(obj, call["name"], None) if call["name"] != "__call__" else obj
        try:
            made = None
            args = []
            for a in call.get("args", []):
                if isinstance(a, dict) and "__reparam__" in a:
                    made = _reparam(a["__reparam__"], outputs)
                    args.append(made)
                else:
                    args.append(decode(a))
        except Exception as exc:
            results.append({"label": label, "error": _error(exc)})
            outputs.append(None)
            continue
        if method is None:
            results.append({"label": label, "error": {
                "type": "AttributeError", "line": None, "code": None,
                "message": f"{type(obj).__name__} has no method {call['name']}"}})
            outputs.append(None)
            continue
        keep = []
        torch = _torch()
        with torch.no_grad():
            result = _call(method, args, {}, budget, twins, keep)
        if made is not None:
            result["made"] = encode(made, budget)
        results.append({"label": label, **result})
        outputs.append(keep[0] if keep else None)
    return results


def dumps(payload):
    """Payload -> JSON text (numbers that JSON cannot hold are already encoded)."""
    return json.dumps(payload, allow_nan=True)


def emit(answer, spec_json):
    """Run ``answer`` on the JSON spec and display the payload under :data:`PAYLOAD_MIME`.

    This is what a hidden-test cell injected by ``vae-edu grade`` calls, in the kernel.
    """
    from IPython.display import display

    display({PAYLOAD_MIME: run(answer, json.loads(spec_json))}, raw=True)
