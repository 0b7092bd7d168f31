"""Test-wide settings: never touch the network, never depend on a user's environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("VAE_EDU_OFFLINE", "1")
    monkeypatch.setenv("VAE_EDU_CACHE", str(tmp_path_factory.mktemp("cache")))
    # the model cache: VAE_EDU_CACHE/models, an empty folder for each test
    for name in ("VAE_EDU_DATA", "VAE_EDU_PROFILE", "VAE_EDU_DEVICE", "VAE_EDU_CACHE_MODELS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def shared_mnist() -> Path:
    """The full MNIST beside the project, where our machines have it."""
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("../shared/data/mnist is not present on this machine")
    return SHARED_MNIST


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run as fast on one thread, and do not slow down on a busy 2-core CPU.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
