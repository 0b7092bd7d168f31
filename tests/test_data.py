"""vae_edu.data: IDX files, the three sources, the forms the lectures need, batching."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vae_edu import data as vdata
from vae_edu.data import (
    FILES,
    SUBSET_DIR,
    Batches,
    DataFileError,
    encode_idx,
    find_idx_folder,
    load_mnist,
    locate_mnist,
    read_idx,
)

ROOT = Path(__file__).resolve().parents[1]


def write_mnist(folder: Path, n_train=30, n_test=20, gz=True, seed=0) -> dict:
    """A tiny fake MNIST in ``folder``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        for stem, arr in zip(FILES[split], (images, labels), strict=True):
            raw = encode_idx(arr)
            path = folder / (stem + (".gz" if gz else ""))
            path.write_bytes(gzip.compress(raw) if gz else raw)
        arrays[split] = (images, labels)
    return arrays


# ----------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_roundtrip(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    images = read_idx(tmp_path / (FILES["train"][0] + (".gz" if gz else "")))
    assert images.shape == (30, 28, 28)
    np.testing.assert_array_equal(images, arrays["train"][0])


def test_truncated_gzip_names_file_and_remedy(tmp_path):
    write_mnist(tmp_path)
    path = tmp_path / (FILES["train"][0] + ".gz")
    path.write_bytes(path.read_bytes()[:-200])
    match = r"train-images-idx3-ubyte\.gz is truncated or corrupt.*delete it"
    with pytest.raises(DataFileError, match=match):
        read_idx(path)


def test_truncated_raw_idx_reports_declared_size(tmp_path):
    write_mnist(tmp_path, gz=False)
    path = tmp_path / FILES["test"][0]
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataFileError, match=r"declares shape \(20, 28, 28\).*truncated"):
        read_idx(path)


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_text("<html>404 not found</html>")
    with pytest.raises(DataFileError, match="not an IDX file"):
        read_idx(path)


def test_load_reports_corrupt_file_in_folder(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / (FILES["test"][1] + ".gz")).write_bytes(b"\x1f\x8bgarbage")
    with pytest.raises(DataFileError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path, device="cpu")


def test_image_and_label_counts_must_agree(tmp_path):
    write_mnist(tmp_path)
    other = tmp_path / "other"
    write_mnist(other, n_train=31)
    shutil.copy(other / (FILES["train"][1] + ".gz"), tmp_path / (FILES["train"][1] + ".gz"))
    with pytest.raises(DataFileError, match="30 train images but 31 labels"):
        load_mnist(tmp_path, device="cpu")


# ----------------------------------------------------------------------------- sources


@pytest.mark.parametrize("layout", [".", "raw", "MNIST/raw"])
def test_folder_layouts(tmp_path, layout):
    write_mnist(tmp_path / layout)
    assert find_idx_folder(tmp_path) == (tmp_path / layout)
    mnist = load_mnist(tmp_path, device="cpu")
    assert mnist.source.kind == "folder"
    assert (len(mnist.train), len(mnist.test)) == (30, 20)


def test_env_variable_names_the_folder(tmp_path, monkeypatch):
    arrays = write_mnist(tmp_path, gz=False)
    monkeypatch.setenv("VAE_EDU_DATA", str(tmp_path))
    mnist = load_mnist(device="cpu")
    assert mnist.source.kind == "folder" and mnist.source.path == tmp_path
    expected = torch.from_numpy(arrays["test"][0].astype(np.float32) / 255)
    torch.testing.assert_close(mnist.test.images[:, 0], expected)


def test_wrong_folder_is_an_error_not_a_silent_fallback(tmp_path, monkeypatch):
    with pytest.raises(DataFileError, match="no MNIST files in .*fix the path"):
        load_mnist(tmp_path / "nope", device="cpu")
    monkeypatch.setenv("VAE_EDU_DATA", str(tmp_path))
    with pytest.raises(DataFileError, match=r"\$VAE_EDU_DATA="):
        load_mnist(device="cpu")


def test_offline_falls_back_to_shipped_subset_with_one_line(capsys):
    mnist = load_mnist(device="cpu")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "offline MNIST subset" in out[0] and "VAE_EDU_DATA" in out[0]
    assert mnist.source.kind == "subset"
    assert (len(mnist.train), len(mnist.test)) == (6000, 2000)
    # balanced over digits
    assert mnist.train.labels.bincount().tolist() == [600] * 10
    assert mnist.test.labels.bincount().tolist() == [200] * 10


def test_shipped_subset_is_small():
    total = sum(p.stat().st_size for p in SUBSET_DIR.iterdir())
    assert total < 3_000_000


def test_no_network_falls_back_within_seconds(monkeypatch):
    """Without VAE_EDU_OFFLINE, an unreachable network must not hang the load."""
    monkeypatch.delenv("VAE_EDU_OFFLINE")
    # an address that never answers: a TCP connect to a port on which nothing listens
    # is refused at once; a blackholed one would take the probe's timeout.
    monkeypatch.setattr(vdata, "DOWNLOAD_PROBE", ("127.0.0.1", 9))

    def no_download(folder):
        raise AssertionError("must not try to download when the probe fails")

    monkeypatch.setattr(vdata, "_download", no_download)
    start = time.perf_counter()
    source = locate_mnist()
    assert source.kind == "subset" and source.note == "no network"
    assert time.perf_counter() - start < vdata.PROBE_SECONDS + 1


def test_probe_gives_up_on_a_hanging_lookup(monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(3)  # longer than the probe waits; then it fails as a lookup would
        raise OSError("name resolution timed out")

    monkeypatch.setattr(vdata.socket, "create_connection", hang)
    start = time.perf_counter()
    assert vdata.network_reachable(timeout=0.5) is False
    assert time.perf_counter() - start < 2


def test_failed_download_falls_back(monkeypatch, capsys):
    monkeypatch.delenv("VAE_EDU_OFFLINE")
    monkeypatch.setattr(vdata, "network_reachable", lambda *a, **k: True)
    monkeypatch.setattr(vdata, "_download", lambda folder: None)
    assert locate_mnist().note == "the download failed"


def test_cached_download_is_reused_without_network(tmp_path, monkeypatch):
    write_mnist(tmp_path / "MNIST" / "raw")
    monkeypatch.setenv("VAE_EDU_CACHE", str(tmp_path))
    monkeypatch.setattr(vdata, "network_reachable", lambda *a, **k: pytest.fail("probed"))
    source = locate_mnist()
    assert source.kind == "download" and source.path == tmp_path / "MNIST" / "raw"


def test_shipped_subset_matches_its_generator(shared_mnist):
    """The shipped files are exactly what tools/make_mnist_subset.py makes from full MNIST."""
    spec = importlib.util.spec_from_file_location("mk", ROOT / "tools" / "make_mnist_subset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, content in module.subset_files(shared_mnist).items():
        assert (SUBSET_DIR / name).read_bytes() == content, name


def test_full_mnist_from_shared_folder(shared_mnist):
    mnist = load_mnist(shared_mnist, device="cpu")
    assert (len(mnist.train), len(mnist.test)) == (60000, 10000)
    assert "60000 training and 10000 test images" in mnist.describe()


# ----------------------------------------------------------------------------- forms


@pytest.fixture(scope="module")
def subset():
    return load_mnist(device="cpu", quiet=True)


def test_forms(subset):
    train = subset.train
    assert train.images.shape == (6000, 1, 28, 28) and train.images.dtype == torch.float32
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert train.flat().shape == (6000, 784)
    assert train.labels.dtype == torch.int64
    one_hot = train.one_hot()
    assert one_hot.shape == (6000, 10)
    assert torch.equal(one_hot.argmax(1), train.labels) and torch.all(one_hot.sum(1) == 1)
    binary = train.binarized(seed=3)
    assert set(binary.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(binary, train.binarized(seed=3))
    # pixel means are kept in expectation
    assert abs(float(binary.mean() - train.images.mean())) < 0.01


def test_take_is_balanced_and_reproducible(subset):
    part = subset.train.take(100, seed=1)
    assert len(part) == 100 and part.labels.bincount().tolist() == [10] * 10
    assert torch.equal(part.images, subset.train.take(100, seed=1).images)
    assert not torch.equal(part.images, subset.train.take(100, seed=2).images)
    assert subset.train.take(None) is subset.train
    with pytest.raises(ValueError):
        subset.train.take(0)


# ----------------------------------------------------------------------------- batching


def test_batches_cover_every_sample_once_per_epoch():
    x = torch.arange(1000.0).unsqueeze(1)
    y = torch.arange(1000)
    batches = Batches(x, y, batch_size=128, seed=0)
    assert len(batches) == 8
    for _ in range(2):
        seen = torch.cat([b for _, b in batches])
        assert sorted(seen.tolist()) == list(range(1000))
        for xb, yb in batches:
            assert torch.equal(xb[:, 0].long(), yb)  # rows stay paired


def test_batches_shuffle_per_epoch_and_reproduce_by_seed():
    x = torch.arange(300)
    first = [b[0].tolist() for b in Batches(x, batch_size=100, seed=5)]
    again = [b[0].tolist() for b in Batches(x, batch_size=100, seed=5)]
    assert first == again
    batches = Batches(x, batch_size=100, seed=5)
    epoch1, epoch2 = [[b[0].tolist() for b in batches] for _ in range(2)]
    assert epoch1 != epoch2
    assert [b[0].tolist() for b in Batches(x, batch_size=100, shuffle=False)][0] == list(range(100))


def test_batches_drop_last_and_state_resume():
    x = torch.arange(250)
    assert [len(b[0]) for b in Batches(x, batch_size=100, drop_last=True)] == [100, 100]
    a = Batches(x, batch_size=100, seed=1, binarize=False)
    list(a)
    state = a.state_dict()
    next_epoch = [b[0].tolist() for b in a]
    b = Batches(x, batch_size=100, seed=99)
    b.load_state_dict(state)
    assert [t[0].tolist() for t in b] == next_epoch


def test_dynamic_binarisation_redraws_each_epoch(subset):
    batches = subset.train.batches(256, shuffle=False, binarize=True, seed=0)
    (x1, _), *_ = list(batches)
    (x2, _), *_ = list(batches)
    assert set(x1.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(x1, x2)


def test_batches_bad_input():
    with pytest.raises(ValueError, match="same length"):
        Batches(torch.zeros(10), torch.zeros(11))
    with pytest.raises(ValueError, match="batch_size"):
        Batches(torch.zeros(10), batch_size=0)
    with pytest.raises(ValueError, match="nothing to train on"):
        Batches(torch.zeros(0))
