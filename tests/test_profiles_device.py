"""Profiles, the device choice and seeding."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vae_edu.device import pick_device
from vae_edu.profiles import BUDGETS, PROFILE_NAMES, UnknownProfileError, budget, current_profile
from vae_edu.seeding import seed_everything


def test_default_profile_when_unset():
    assert current_profile() == "default"


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_each_profile_gives_a_budget_for_each_experiment(monkeypatch, name):
    monkeypatch.setenv("VAE_EDU_PROFILE", name)
    for experiment in BUDGETS:
        b = budget(experiment)
        assert b.profile == name and b.epochs >= 1


def test_profiles_are_ordered_by_effort():
    for experiment in BUDGETS:
        smoke, default, full = (budget(experiment, profile=p) for p in PROFILE_NAMES)
        assert smoke.epochs <= default.epochs <= full.epochs
        assert smoke.train_size is not None  # CI never trains on the whole set


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("VAE_EDU_PROFILE", "fast")
    with pytest.raises(UnknownProfileError, match="'fast'.*smoke, default, full"):
        budget("vae")


def test_unknown_experiment_and_overrides():
    with pytest.raises(KeyError, match="known experiments"):
        budget("nope")
    assert budget("vae", profile="smoke", epochs=3).epochs == 3


def test_pick_device(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("VAE_EDU_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        assert pick_device().type in ("cpu", "mps")
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            pick_device("cuda")


def test_seed_everything_repeats_all_generators():
    seed_everything(7)
    a = (random.random(), np.random.rand(), torch.rand(3))
    seed_everything(7)
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_iwae_budget_grows_with_the_profile():
    from vae_edu.profiles import IWAE_BUDGETS, iwae_budget

    assert set(IWAE_BUDGETS) == set(PROFILE_NAMES)
    (k_smoke, n_smoke), (k_default, n_default), (k_full, n_full) = (
        iwae_budget(p) for p in PROFILE_NAMES
    )
    assert k_smoke <= k_default <= k_full and n_smoke <= n_default and n_full is None
    with pytest.raises(UnknownProfileError):
        iwae_budget("fast")
