"""The model cache: fit(..., cache=name) loads exactly what training gave, and nothing else.

Tiny models on random tensors, one thread, a few steps: the file runs in seconds.  Each
test starts from an empty cache (tests/conftest.py points VAE_EDU_CACHE at a temp dir).
"""

from __future__ import annotations

import errno
import json
import os
import tarfile
from pathlib import Path

import matplotlib
import pytest
import torch
from torch import nn

from vae_edu import model_cache as mc
from vae_edu import train as train_module
from vae_edu.checkpoint import load_checkpoint, save_checkpoint
from vae_edu.data import Batches, MNISTSplit
from vae_edu.models import VAE, StackedAutoencoder
from vae_edu.seeding import seed_everything
from vae_edu.tooling.cli import main as cli_main
from vae_edu.train import fit

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUIET = {"progress": False, "device": "cpu"}


def split(n: int, seed: int) -> MNISTSplit:
    gen = torch.Generator().manual_seed(seed)
    return MNISTSplit(torch.rand(n, 1, 28, 28, generator=gen), torch.arange(n) % 10)


TRAIN, TEST = split(64, 0), split(32, 1)


def run(name="vae", *, model=None, train=TRAIN, test=TEST, seed=0, **kwargs):
    """Seed, build a small VAE (or take ``model``), fit it through the cache."""
    seed_everything(seed)
    model = model if model is not None else VAE(hidden_dim=16, latent_dim=2)
    options = {"epochs": 2, "batch_size": 16, **QUIET, **kwargs}
    history = fit(model, train, test, cache=name, **options)
    return model, history


def state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def entries(folder=None) -> list[Path]:
    folder = folder or mc.models_dir()
    return sorted(folder.glob("*.pt")) if folder.is_dir() else []


# ----------------------------------------------------------------------------- hits


def test_a_cached_run_gives_exactly_the_weights_history_and_random_state_of_training(capsys):
    model, history = run()
    after_training = (state(model), history.to_dict(), torch.get_rng_state(), model.training)
    next_draw = torch.rand(5)
    assert len(entries()) == 1
    capsys.readouterr()

    loaded, loaded_history = run()
    out = capsys.readouterr().out
    assert same(state(loaded), after_training[0])
    assert loaded_history.to_dict() == after_training[1]
    assert torch.equal(torch.get_rng_state(), after_training[2])
    assert loaded.training == after_training[3]
    assert torch.equal(torch.rand(5), next_draw)  # later cells draw the same numbers
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loaded 'vae' from the cache")
    assert "2 epoch(s)" in lines[0] and "trained in" in lines[0] and "epoch 1/2" not in out


def test_second_run_never_builds_an_optimizer(monkeypatch):
    run()
    calls = []
    real = train_module.default_optimizer
    monkeypatch.setattr(train_module, "default_optimizer",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    run()
    assert calls == []


def test_history_plots_the_same_after_a_load():
    from vae_edu.viz import plot_history

    _, trained = run()
    _, loaded = run()
    lines = [[(tuple(line.get_xdata()), tuple(line.get_ydata()), line.get_label())
              for line in plot_history(h, ("loss", "kl")).axes[0].get_lines()]
             for h in (trained, loaded)]
    assert lines[0] == lines[1] and len(lines[0]) == 4


def test_batches_and_an_explicit_optimizer_are_left_as_training_left_them():
    def go():
        seed_everything(0)
        model = VAE(hidden_dim=16, latent_dim=2)
        batches = Batches(TRAIN.images, TRAIN.labels, batch_size=16, seed=3)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        fit(model, batches, epochs=2, optimizer=opt, cache="sgd", **QUIET)
        return batches.state_dict(), opt.state_dict()["state"]

    (b1, o1), (b2, o2) = go(), go()
    assert len(entries()) == 1
    assert all(torch.equal(b1[k], b2[k]) for k in b1)
    assert o1.keys() == o2.keys()
    assert all(torch.equal(o1[k]["momentum_buffer"], o2[k]["momentum_buffer"]) for k in o1)


def test_layerwise_pretraining_is_cached_per_layer():
    def go():
        seed_everything(0)
        stack = StackedAutoencoder((784, 16, 8))
        histories = stack.pretrain(TRAIN, epochs_per_layer=1, device="cpu", progress=False,
                                   cache="stack")
        return state(stack), [h.to_dict() for h in histories]

    first, second = go(), go()
    assert len(entries()) == 2
    assert same(first[0], second[0]) and first[1] == second[1]


# ----------------------------------------------------------------------------- what the key covers


class Scaled(nn.Module):
    """A model whose result depends on a plain attribute that is not a weight."""

    def __init__(self, weight: float):
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.weight_of_penalty = weight

    def loss(self, batch):
        out = self.lin(batch[0])
        return (out**2).mean() + self.weight_of_penalty * out.abs().mean()


@pytest.mark.parametrize("change", [
    "name", "epochs", "lr", "batch_size", "fit_seed", "init_seed", "data", "test_data",
    "validation_data", "profile", "code_version", "frozen", "loss_fn_code", "rng", "setting",
])
def test_anything_that_changes_the_result_trains_anew(change, monkeypatch):
    x = torch.randn(32, 4)
    options = {"epochs": 1, "batch_size": 8, "lr": 1e-3, "seed": 0}

    def go(name="k", data=x, test=None, init_seed=0, setting=1.0, loss=None, rng=123, **over):
        torch.manual_seed(init_seed)
        model = Scaled(setting)
        torch.manual_seed(rng)  # the random state that training starts from
        if change == "frozen" and over.pop("freeze", False):
            model.lin.bias.requires_grad_(False)
        fit(model, data, test, cache=name, loss_fn=loss, **QUIET, **{**options, **over})

    go(loss=lambda m, b: m.loss(b))
    assert len(entries()) == 1
    go(loss=lambda m, b: m.loss(b))  # the same again: a hit
    assert len(entries()) == 1
    if change == "name":
        go(name="other")
    elif change in ("epochs", "lr", "batch_size"):
        go(**{change: {"epochs": 2, "lr": 1e-2, "batch_size": 4}[change]})
    elif change == "fit_seed":
        go(seed=1)
    elif change == "init_seed":
        go(init_seed=1)
    elif change == "data":
        go(data=x + 1e-6)
    elif change == "test_data":
        go(test=x[:8])
    elif change == "validation_data":
        go(validation=x[:8])
    elif change == "profile":
        monkeypatch.setenv("VAE_EDU_PROFILE", "smoke")
        go()
    elif change == "code_version":
        monkeypatch.setattr(train_module, "TRAINING_CODE_VERSION", 999)
        go()
    elif change == "frozen":
        go(freeze=True)
    elif change == "loss_fn_code":
        go(loss=lambda m, b: m.loss(b) * 2)
    elif change == "rng":
        go(rng=124)
    elif change == "setting":
        go(setting=2.0)
    assert len(entries()) == 2, change


class Pull(nn.Module):
    """loss = mean (w - x)^2: with SGD (lr 0.1) on ones, w after epoch e is 1 - 0.8^e, so the
    validation loss on targets 0.3 is lowest after epoch 2 and rises after it."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def loss(self, batch):
        return ((self.w - batch[0]) ** 2).mean()


def test_a_run_that_kept_its_best_epoch_loads_those_weights_and_that_epoch(capsys):
    ones, targets = torch.ones(4, 1, dtype=torch.float64), torch.full((4, 1), 0.3).double()

    def go(**kwargs):
        model = Pull()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        return run(model=model, train=ones, test=None, epochs=5, batch_size=4, optimizer=opt,
                   validation=targets, **kwargs)

    trained, history = go(restore_best=True)
    assert history.best_epoch == 2 and trained.w.item() == pytest.approx(0.36)
    assert len(entries()) == 1
    capsys.readouterr()
    loaded, loaded_history = go(restore_best=True)
    assert "5 epoch(s), the weights of epoch 2 (lowest validation loss)" in capsys.readouterr().out
    assert same(state(loaded), state(trained)) and loaded_history == history
    assert len(entries()) == 1
    last, last_history = go()  # the same run keeping its last epoch: another entry
    assert len(entries()) == 2 and last_history.best_epoch is None
    assert last_history.validation == history.validation
    assert last.w.item() == pytest.approx(1 - 0.8**5)


def test_the_key_does_not_depend_on_memory_addresses_or_devices_named():
    x = torch.randn(16, 4)
    keys = []
    for device in ("cpu", None):
        torch.manual_seed(0)
        model = Scaled(1.0)
        keys.append(mc.experiment_key("k", model, x.clone(), None,
                                      {"epochs": 1, "device": device, "loss_fn": None})[0])
    assert keys[0] == keys[1]


def test_tensor_digest_follows_in_place_changes_and_content():
    t = torch.zeros(10)
    d0 = mc.tensor_digest(t)
    assert mc.tensor_digest(torch.zeros(10)) == d0
    t[3] = 1.0
    assert mc.tensor_digest(t) != d0
    assert mc.tensor_digest(torch.zeros(10, dtype=torch.float64)) != d0
    assert mc.tensor_digest(torch.zeros(2, 5)) != d0


# ----------------------------------------------------------------------------- switches


def test_cache_off_always_trains_and_writes_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("VAE_EDU_CACHE_MODELS", "off")
    monkeypatch.setenv("VAE_EDU_CACHE", str(tmp_path))
    run()
    run()
    assert "loaded" not in capsys.readouterr().out
    assert not (tmp_path / "models").exists()


def test_cache_folder_can_be_named(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_EDU_CACHE_MODELS", str(tmp_path / "elsewhere"))
    run()
    assert len(entries(tmp_path / "elsewhere")) == 1


def test_without_a_cache_name_fit_never_touches_the_cache():
    seed_everything(0)
    fit(VAE(hidden_dim=16, latent_dim=2), TRAIN, epochs=1, **QUIET)
    assert not mc.models_dir().exists()


# ----------------------------------------------------------------------------- bad input


def losses(history) -> dict:
    """A history without its wall times (which differ from run to run)."""
    return {"train": history.train, "test": history.test}


def reference():
    """Weights and losses of an uncached run."""
    model, history = run("reference")
    mc.clear()
    return state(model), losses(history)


def damaged_run(capsys):
    capsys.readouterr()
    model, history = run()
    out = capsys.readouterr().out
    cache_lines = [line for line in out.splitlines() if line.startswith("cache: ")]
    return state(model), losses(history), cache_lines


def rewrite(path: Path, **changes):
    entry = load_checkpoint(path)
    entry.update(changes)
    save_checkpoint(entry, path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "other_version", "other_shape",
                                    "other_key", "bad_history", "code"])
def test_a_bad_entry_gives_one_line_and_the_cell_trains_as_without_cache(damage, capsys):
    expected_state, expected_history = reference()
    run()  # store the entry for "vae"
    (path,) = entries()
    marker = Path(os.environ["VAE_EDU_CACHE"]) / "code-ran"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a torch file at all")
    elif damage == "other_version":
        rewrite(path, vae_edu="0.0.1")
    elif damage == "other_shape":
        entry = load_checkpoint(path)
        entry["state"] = {k: torch.zeros(v.shape[0] + 1, *v.shape[1:])
                          for k, v in entry["state"].items()}
        save_checkpoint(entry, path)
    elif damage == "other_key":
        rewrite(path, key="0" * 64)
    elif damage == "bad_history":
        rewrite(path, history={"train": [], "test": [], "seconds": []})
    elif damage == "code":  # a pickle that would run code when loaded without weights_only
        torch.save({"format": 1, "payload": _RunsCode(str(marker))}, path)
    got_state, got_history, lines = damaged_run(capsys)
    assert len(lines) == 1, lines
    assert path.name in lines[0] and lines[0].endswith("training 'vae' anew")
    assert same(got_state, expected_state) and got_history == expected_history
    assert not marker.exists()
    # the entry is replaced by a good one: the next run loads it
    _, _, lines = damaged_run(capsys)
    assert lines == []


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("error", [
    PermissionError(errno.EACCES, "Permission denied"),
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_an_unwritable_or_full_cache_gives_one_line_and_leaves_no_file(error, monkeypatch,
                                                                        capsys):
    expected_state, expected_history = reference()
    real_save = torch.save

    def fail_half_way(obj, f, *args, **kwargs):
        real_save({"partial": torch.zeros(100)}, f)  # some bytes reach the disk, then
        raise error

    monkeypatch.setattr(torch, "save", fail_half_way)
    got_state, got_history, lines = damaged_run(capsys)
    assert len(lines) == 1 and "could not save 'vae'" in lines[0]
    assert type(error).__name__ in lines[0]
    assert same(got_state, expected_state) and got_history == expected_history
    assert list(mc.models_dir().iterdir()) == []  # no half-written entry, no temp file


def test_a_cache_folder_that_cannot_be_created_gives_one_line(monkeypatch, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    monkeypatch.setenv("VAE_EDU_CACHE_MODELS", str(blocker / "models"))
    _, _, lines = damaged_run(capsys)
    assert len(lines) == 1 and "could not save" in lines[0]


def test_data_that_cannot_be_fingerprinted_trains_without_the_cache(capsys):
    class Odd:
        def __iter__(self):
            return iter([(TRAIN.images[:16], TRAIN.labels[:16])])

    seed_everything(0)
    fit(VAE(hidden_dim=16, latent_dim=2), Odd(), epochs=1, cache="odd", **QUIET)
    out = capsys.readouterr().out
    assert "cache: cannot fingerprint 'odd'" in out and "training without the cache" in out
    assert entries() == []


# ----------------------------------------------------------------------------- list, archives


def test_list_and_clear(capsys):
    run("a")
    run("b", epochs=1)
    infos, problems = mc.list_entries()
    assert [i.name for i in infos] == ["a", "b"] and problems == []
    assert [i.epochs for i in infos] == [2, 1] and all(i.profile == "default" for i in infos)
    assert cli_main(["cache", "list"]) == 0
    out = capsys.readouterr().out
    assert "2 model(s)" in out and "default" in out and out.count("VAE") == 2
    assert cli_main(["cache", "clear"]) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out and entries() == []


def test_export_import_round_trip(tmp_path, capsys, monkeypatch):
    """Exported, cleared, imported: the next run loads (never trains) the same weights."""
    trained, _ = run()
    archive = tmp_path / "models.tar"
    assert cli_main(["cache", "export", str(archive)]) == 0
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(mc.MANIFEST))
    assert manifest["vae_edu"] == mc.__version__ and len(manifest["entries"]) == 1
    assert len(manifest["entries"][0]["sha256"]) == 64
    mc.clear()
    assert cli_main(["cache", "import", str(archive)]) == 0
    assert "imported 1 model(s)" in capsys.readouterr().out
    monkeypatch.setattr(train_module, "default_optimizer",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    loaded, _ = run()
    assert same(state(loaded), state(trained))
    # importing again keeps what is there
    assert mc.import_cache(archive) == (0, 1)


def tamper(archive: Path, out: Path, *, manifest=None, payload=None) -> Path:
    with tarfile.open(archive) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    meta = json.loads(files[mc.MANIFEST])
    if manifest:
        manifest(meta)
    files[mc.MANIFEST] = json.dumps(meta).encode()
    if payload:
        name = meta["entries"][0]["file"]
        files[name] = payload(files[name])
    with tarfile.open(out, "w") as tar:
        import io

        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


@pytest.mark.parametrize("bad", ["hash", "version", "name", "missing", "not_an_archive"])
def test_a_bad_archive_is_refused_with_one_line_and_the_cache_is_unchanged(bad, tmp_path,
                                                                          capsys):
    run("first")
    archive = tmp_path / "good.tar"
    mc.export_cache(archive)
    mc.clear()
    run("kept")  # already in the cache before the import
    before = {p.name: p.read_bytes() for p in mc.models_dir().iterdir()}
    out = tmp_path / "bad.tar"
    if bad == "hash":
        tamper(archive, out, payload=lambda b: b[:-1] + bytes([b[-1] ^ 1]))
    elif bad == "version":
        tamper(archive, out, manifest=lambda m: m.update(vae_edu="9.9"))
    elif bad == "name":
        tamper(archive, out, manifest=lambda m: m["entries"][0].update(file="../../evil.pt"))
    elif bad == "missing":
        tamper(archive, out, manifest=lambda m: m["entries"][0].update(file="a" * 64 + ".pt"))
    else:
        out.write_bytes(b"garbage")
    capsys.readouterr()
    assert cli_main(["cache", "import", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0]
    if bad in ("hash", "name", "missing"):
        assert "'first'" in err[0] and "nothing imported" in err[0]
    if bad == "version":
        assert "9.9" in err[0] and mc.__version__ in err[0]
    assert {p.name: p.read_bytes() for p in mc.models_dir().iterdir()} == before
    assert not (tmp_path.parent / "evil.pt").exists()


def test_the_training_code_digest_covers_the_models_and_not_the_tooling():
    """Editing a command, a plot or a check must not retrain every cached model."""
    root = Path(mc.__file__).resolve().parents[1]  # vae_edu/
    files = {p.relative_to(root).as_posix() for p in mc.training_code_files()}
    assert {"train.py", "losses.py", "data.py", "models/vae.py", "models/cvae.py"} <= files
    assert not [f for f in files if f.startswith(("tooling/", "grading/", "widgets/"))]
    assert not [f for f in files if f.startswith("model_cache/")]
    assert not {"viz.py", "atomic.py", "paths.py", "kernel_free.py"} & files
    # the colorization plots and explorer are presentation; its models and losses are not
    assert {"colorization/models.py", "colorization/losses.py"} <= files
    assert not {"colorization/plots.py", "colorization/widget.py"} & files
