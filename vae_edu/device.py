"""Choosing the device a notebook trains on: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import os

import torch

DEVICE_ENV = "VAE_EDU_DEVICE"


def pick_device(override: str | torch.device | None = None) -> torch.device:
    """The device to train on.

    ``override`` (or ``$VAE_EDU_DEVICE``) forces one, e.g. ``"cpu"`` to compare timings;
    otherwise the first available of cuda, mps, cpu.  Asking for a device that is not
    there is an error rather than a silent fallback.
    """
    wanted = override if override is not None else (os.environ.get(DEVICE_ENV, "").strip() or None)
    if wanted is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(wanted)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"unknown device {wanted!r}; use 'cpu', 'cuda', 'cuda:1' or 'mps'"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {wanted!r} was asked for but this torch sees no CUDA GPU; "
            f"use 'cpu' (or unset {DEVICE_ENV}), or install a CUDA build of torch"
        )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise RuntimeError(f"device {wanted!r} was asked for but MPS is not available; use 'cpu'")
    return device


def describe_device(device: torch.device) -> str:
    """One line naming the device, with the GPU's name where there is one."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)
