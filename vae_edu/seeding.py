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
