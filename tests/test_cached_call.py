"""vae_edu.model_cache.cached_call: a lecture's measurements kept beside its models."""

from __future__ import annotations

import types

import torch
from torch import nn

from vae_edu import model_cache as mc

#: Calls are counted on a module object: the key describes a module by its name only, so
#: counting does not change the key (a counter in a closure or an object would).
COUNT = types.ModuleType("count")


def _use_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(mc.MODELS_ENV, str(tmp_path / "models"))
    return tmp_path / "models"


def noisy_mean(x, scale=1.0):
    COUNT.calls += 1
    return {"mean": (x + scale * torch.randn_like(x)).mean(), "n": len(x), "tag": "ok"}


class Counter:
    def __init__(self):
        COUNT.calls = 0

    @property
    def calls(self):
        return COUNT.calls

    noisy_mean = staticmethod(noisy_mean)


def test_the_second_call_loads_the_result_and_the_random_state(monkeypatch, tmp_path, capsys):
    _use_cache(monkeypatch, tmp_path)
    c, x = Counter(), torch.arange(6.0)
    torch.manual_seed(0)
    first = mc.cached_call("t-mean", c.noisy_mean, x, scale=0.5)
    after_first = torch.rand(4)
    torch.manual_seed(0)
    second = mc.cached_call("t-mean", c.noisy_mean, x, scale=0.5)
    after_second = torch.rand(4)
    assert c.calls == 1
    assert torch.equal(first["mean"], second["mean"]) and second["n"] == 6
    assert second["tag"] == "ok"
    assert torch.equal(after_first, after_second)  # what follows sees the same numbers
    assert "loaded 't-mean' from the cache" in capsys.readouterr().out


def test_any_change_in_what_decides_the_result_computes_anew(monkeypatch, tmp_path):
    _use_cache(monkeypatch, tmp_path)
    c = Counter()

    def run(x, scale=1.0, seed=0, name="t"):
        torch.manual_seed(seed)
        return mc.cached_call(name, noisy_mean, x, scale=scale)

    x = torch.ones(5)
    run(x)
    run(x)
    assert c.calls == 1
    run(x + 1)  # another argument
    run(x, scale=2.0)  # another keyword
    run(x, seed=1)  # another random state at the call
    run(x, name="other")  # another name
    assert c.calls == 5


def test_a_model_argument_is_keyed_by_its_weights(monkeypatch, tmp_path):
    _use_cache(monkeypatch, tmp_path)
    COUNT.calls = 0

    def loss(model, x):
        COUNT.calls += 1
        return model(x).sum().detach()

    torch.manual_seed(0)
    model, x = nn.Linear(3, 1), torch.ones(2, 3)
    a = mc.cached_call("t-model", loss, model, x)
    assert torch.equal(mc.cached_call("t-model", loss, model, x), a) and COUNT.calls == 1
    with torch.no_grad():
        model.weight.add_(1.0)
    mc.cached_call("t-model", loss, model, x)
    assert COUNT.calls == 2


def test_a_notebook_function_is_keyed_by_its_code(monkeypatch, tmp_path):
    _use_cache(monkeypatch, tmp_path)
    x = torch.ones(3)
    assert mc.cached_call("t-code", lambda v: v.sum(), x).item() == 3.0
    assert mc.cached_call("t-code", lambda v: v.sum() * 2, x).item() == 6.0


def test_what_the_cache_cannot_store_is_computed_and_said(monkeypatch, tmp_path, capsys):
    folder = _use_cache(monkeypatch, tmp_path)
    calls = []

    def make():
        calls.append(1)
        return object()

    mc.cached_call("t-object", make)
    mc.cached_call("t-object", make)
    assert len(calls) == 2
    assert "does not store" in capsys.readouterr().out
    assert not list(folder.glob("*.pt")) if folder.exists() else True


def test_off_computes_always_and_a_broken_entry_is_one_line(monkeypatch, tmp_path, capsys):
    folder = _use_cache(monkeypatch, tmp_path)
    c, x = Counter(), torch.ones(3)
    torch.manual_seed(0)
    mc.cached_call("t-broken", c.noisy_mean, x)
    (entry,) = folder.glob("*.pt")
    entry.write_bytes(entry.read_bytes()[:50])  # truncated
    torch.manual_seed(0)
    mc.cached_call("t-broken", c.noisy_mean, x)
    assert c.calls == 2
    out = capsys.readouterr().out
    assert "unreadable" in out and "computing 't-broken' anew" in out
    monkeypatch.setenv(mc.MODELS_ENV, "off")
    torch.manual_seed(0)
    mc.cached_call("t-broken", c.noisy_mean, x)
    assert c.calls == 3


def test_cache_list_shows_a_result_and_fit_never_takes_it_for_a_model(monkeypatch, tmp_path):
    folder = _use_cache(monkeypatch, tmp_path)
    mc.cached_call("t-listed", lambda: torch.zeros(2))
    infos, problems = mc.list_entries(folder)
    assert problems == [] and [i.name for i in infos] == ["t-listed"]
    assert infos[0].model.startswith("result of")


def _draw(x, generator):
    return x + torch.rand(x.shape, generator=generator)


def _draw_from(x, generators):
    return x + torch.rand(x.shape, generator=generators[0])


def test_a_generator_passed_in_is_left_as_the_call_left_it(monkeypatch, tmp_path, capsys):
    # one generator shared by two cached calls: the second call's key and result depend on
    # the state the first left it in, so a load must advance it exactly as computing does
    _use_cache(monkeypatch, tmp_path)
    x = torch.zeros(3)
    runs = []
    for _ in range(2):
        g = torch.Generator().manual_seed(0)
        a = mc.cached_call("t-gen-a", _draw, x, generator=g)
        b = mc.cached_call("t-gen-b", _draw_from, x, [g])  # also found inside a list
        runs.append((a, b, torch.rand(2, generator=g)))
    (a1, b1, next1), (a2, b2, next2) = runs
    assert "loaded 't-gen-b' from the cache" in capsys.readouterr().out
    assert torch.equal(a1, a2) and torch.equal(b1, b2) and torch.equal(next1, next2)
    assert not torch.equal(a1, b1)  # the second draw came from the advanced generator


def _weight_sum(model):
    COUNT.calls += 1
    return model.weight.sum()


def test_a_model_changed_by_a_fused_optimizer_step_is_a_new_key(monkeypatch, tmp_path):
    # torch's fused Adam (the library's default on CPU) changes the weights in place
    # without moving their version counter: a digest remembered by version would still
    # describe the weights before the step, and a trained model would get the key of its
    # initial weights (cold and warm runs then disagree)
    _use_cache(monkeypatch, tmp_path)
    COUNT.calls = 0
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    before = mc.cached_call("t-fused", _weight_sum, model)
    opt = torch.optim.Adam(model.parameters(), lr=0.1, fused=True)
    model(torch.ones(2, 4)).sum().backward()
    version = model.weight._version
    opt.step()
    assert model.weight._version == version  # the premise: the counter did not move
    after = mc.cached_call("t-fused", _weight_sum, model)
    assert COUNT.calls == 2 and not torch.equal(before, after)
    assert torch.equal(after, model.weight.sum().detach())
