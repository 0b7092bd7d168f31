"""Making runs repeatable: one call seeds Python, NumPy and torch."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed ``random``, NumPy and torch (CPU and every GPU) with ``seed``.

    On a CPU two runs after the same call give the same numbers; on a GPU some kernels
    stay non-deterministic.  Returns a CPU ``torch.Generator`` seeded with ``seed``
    for code that wants its own stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def torch_rng_state() -> dict:
    """torch's random state: ``{"cpu": ByteTensor}``, plus ``"cuda"`` (one per GPU) on a GPU.

    What a checkpoint or a cache entry stores, so that the run that loads it goes on with
    the same random numbers as the run that saved it.
    """
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_torch_rng_state(state: dict) -> None:
    """Restore what :func:`torch_rng_state` returned; the GPU states only where this machine
    has as many GPUs (a state saved on a GPU box restores its CPU part on a laptop)."""
    torch.set_rng_state(state["cpu"])
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
