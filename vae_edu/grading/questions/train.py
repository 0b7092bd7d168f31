"""Train-and-report questions: the student's trained model, measured by the grader.

The student trains a model in the notebook within the profile's budget and keeps it
under a fixed name (``answer``, e.g. ``model``). The grader's hidden-test cell calls the
model's methods on held-out data the notebook never loads (drawn with the grader's
secret seed) and records the raw outputs; the measure (a held-out -ELBO, an error, an
accuracy) is computed in the grader's process from those outputs, and compared with the
band of the grading profile (:mod:`vae_edu.grading.bands`). A model that reports a good
loss of its own, or prints one, gains nothing: only its outputs on unseen inputs count.
"""

from __future__ import annotations

import math

import torch

from ..bands import GAP_FRACTION, active
from ..harness import encode
from ..judging import Verdict
from .base import Question

__all__ = [
    "MeanImageModel", "TrainCases", "TrainQuestion", "mean_image", "reparam", "secret_images",
    "secret_noise", "subset_train",
]


class TrainCases(list):
    """The calls of a train question, plus what the grader keeps to measure the outputs
    (``held``: e.g. the held-out images and noise; never sent to the kernel)."""

    def __init__(self, calls, held: dict):
        super().__init__(calls)
        self.held = held


def subset_train(n: int | None):
    """The first ``n`` training images (and labels) of the MNIST subset shipped with the
    package: what the train-and-report questions train on under every profile, so that
    bands do not depend on which MNIST a machine has."""
    from pathlib import Path

    from ...data import load_mnist

    root = Path(__file__).resolve().parents[2] / "mnist_subset"
    train = load_mnist(root, device="cpu", download=False, quiet=True).train
    return train.take(n) if n is not None else train


def secret_noise(gen: torch.Generator, *shape: int) -> tuple[torch.Tensor, dict]:
    """Standard normal noise drawn from a seed taken from ``gen``, and the harness value
    that draws the same noise in the kernel."""
    seed = int(torch.randint(0, 2**62, (), generator=gen))
    eps = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    return eps, {"__randn__": {"seed": seed, "shape": list(shape)}}


def reparam(of: int, eps, *, flatten: bool = False) -> dict:
    """A harness argument: ``mu + exp(logvar / 2) * eps`` from the output of call ``of``
    (``eps`` a tensor, or the value of :func:`secret_noise`); ``flatten``: ``(K, B, Z)``
    samples as ``(K * B, Z)`` rows."""
    out = {"of": of, "eps": eps if isinstance(eps, dict) else encode(eps)}
    if flatten:
        out["flatten"] = True
    return {"__reparam__": out}


def secret_images(gen: torch.Generator, n: int, *, flat: bool = True):
    """``(x, labels, ref)``: ``n`` test-split images of the shipped MNIST subset chosen with
    ``gen`` (the exercises train on the training split only, so these are images the
    notebook never fits), and ``ref``, the harness argument that loads the same images in
    the kernel from their indices (a few numbers instead of megabytes of pixels)."""
    from pathlib import Path

    from ...data import load_mnist

    root = Path(__file__).resolve().parents[2] / "mnist_subset"
    test = load_mnist(root, device="cpu", download=False, quiet=True).test
    seed = int(torch.randint(0, 2**62, (), generator=gen))
    index = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    x = test.images[index].float()
    ref = {"__mnist_test__": {"seed": seed, "n": n, "flat": flat}}
    return (x.reshape(n, -1) if flat else x), test.labels[index], ref


class MeanImageModel(torch.nn.Module):
    """A baseline that learns nothing from its input: ``q(z | x) = N(0, I)`` for every
    image (so its KL is 0) and a decoder that ignores ``z`` (and any label) and returns
    the logits of the mean training image. A trained VAE must beat it; one trained for
    too few steps does not (its -ELBO is higher than this model's).

    Args:
        mean_image: ``(784,)`` in ``[0, 1]``, the mean of the training images.
        latent: the code size ``Z`` that ``encode`` returns.
        shape: the shape of one decoded image, ``(784,)`` or ``(1, 28, 28)``.
    """

    def __init__(self, mean_image: torch.Tensor, latent: int, shape: tuple = (784,)):
        super().__init__()
        p = mean_image.double().clamp(1e-4, 1 - 1e-4)
        self.register_buffer("logits", (p.log() - (-p).log1p()).float().reshape(shape))
        self.latent = latent

    def encode(self, x, y=None):
        zeros = torch.zeros(len(x), self.latent)
        return zeros, zeros.clone()

    def decode(self, z, y=None):
        return self.logits.expand(len(z), *self.logits.shape).clone()


def mean_image(train_size: int | None) -> torch.Tensor:
    """``(784,)``: the mean of the first ``train_size`` images :func:`subset_train` gives."""
    return subset_train(train_size).images.float().reshape(-1, 784).mean(0)


class TrainQuestion(Question):
    """One train-and-report question. Subclasses set the attributes and implement
    :meth:`cases` (calls of the trained model's methods), :meth:`measure` and
    :meth:`train_reference`.

    :meth:`cases` returns a :class:`TrainCases`: the calls, and the held-out data kept in
    the grader to measure their outputs.

    Attributes:
        metric: what is measured, e.g. ``"held-out -ELBO"``.
        unit: its unit, e.g. ``"nats per image"``.
        direction: ``"below"`` (lower is better) or ``"above"``.
        resolution: thresholds are rounded to a multiple of it, towards strict.
        gap_fraction, min_margin: the margin rules of the band
            (:func:`vae_edu.grading.bands.threshold`).
        train_items: what the budget's ``train_size`` counts, for the band paragraph.
        reference_model: what the reference trains, for the band paragraph.
        held_out: what one held-out draw is, for the band paragraph.
        experiment: the training budget (``vae_edu.profiles.budget``) the question allows.
        band_note: what the band cannot tell, or a condition beyond it (notebook text).
        seconds: the training time a notebook may spend on it, per profile (the grader
            allows at least this much per cell and adds it to the notebook's limit).
    """

    kind = "object"
    tier = "train"
    answer = "model"
    metric = "measure"
    unit = ""
    direction = "below"
    resolution = 0.1
    gap_fraction = GAP_FRACTION
    min_margin = 0.0
    train_items = "images"
    reference_model = "the reference solution"
    band_note = ""
    held_out = "held-out inputs"
    experiment = "generic"
    seconds = {"smoke": 60.0, "default": 300.0, "full": 3600.0}

    def measure(self, cases: TrainCases, outputs: list) -> float:
        """The measure from the decoded outputs of the calls (in call order; each item is
        ``{"output": value, "made": z-or-None}``) and ``cases.held``."""
        raise NotImplementedError

    def train_reference(self, profile: str, seed: int):
        """The reference solution trained with ``seed`` under ``profile`` (for the bands)."""
        raise NotImplementedError

    def spec(self, cases):
        spec = {"kind": "object", "answer": self.answer, "calls": []}
        for c in cases:
            spec["calls"].append({
                "name": c.method or "__call__", "label": c.label,
                "args": [a if isinstance(a, dict) and ("__reparam__" in a or
                                                       "__mnist_test__" in a) else encode(a)
                         for a in c.args],
            })
        return spec

    def expected(self, cases) -> list:
        return [active(self.id)]

    def reference_value(self, profile: str, seed: int, run_seed: str = "bands") -> float:
        """Train the reference and measure it exactly as the grader measures a student."""
        return self.measure_model(self.train_reference(profile, seed), run_seed)

    def measure_model(self, model, run_seed: str | int) -> float:
        """``model`` measured exactly as the grader measures a student's, on the held-out
        inputs drawn with ``run_seed``."""
        return self.assess(model, run_seed)[0]

    def assess(self, model, run_seed: str | int,
               profile: str | None = None) -> tuple[float, str | None]:
        """``(measure, why the outputs fail the requirement of ``profile`` or None)`` of
        ``model`` on the held-out inputs drawn with ``run_seed``.

        Raises:
            RuntimeError: if the model raised on those inputs.
        """
        from ..harness import run
        from ..judging import decode_results

        cases = self.draw(run_seed)
        results = decode_results(run(model, self.spec(cases)))
        errors = [r["error"] for r in results if "error" in r]
        if errors:
            raise RuntimeError(f"{self.id}: the model failed: {errors[0]}")
        return float(self.measure(cases, results)), self.requirement(cases, results, profile)

    def baselines(self, profile: str) -> dict:
        """Models a band must separate from a trained answer, by name (e.g. the reference
        architecture untrained, a model that outputs the mean training image); each is
        measured like a student's when the bands are made (:mod:`vae_edu.grading.bands`)."""
        return {}

    def mean_image_baseline(self, profile: str, latent: int, shape: tuple = (784,)):
        """The :class:`MeanImageModel` of the images this question trains on under
        ``profile`` (its budget's ``train_size``)."""
        from ...profiles import budget

        return MeanImageModel(mean_image(budget(self.experiment, profile=profile).train_size),
                              latent, shape)

    def comparisons(self, profile: str) -> dict:
        """Models measured and stated beside the band, which a student need not beat (e.g.
        PCA for the stack's probe), by name."""
        return {}

    def requirement(self, cases, results, profile: str | None = None) -> str | None:
        """Why the outputs fail a condition beyond the band (e.g. a CVAE that ignores its
        label) under ``profile``, or None."""
        return None

    def passes(self, value: float, band: dict) -> bool:
        if not math.isfinite(value):
            return False
        t = band["threshold"]
        return value <= t if self.direction == "below" else value >= t

    def judge(self, cases, expected, payload):
        verdict, results = self.precheck(payload, len(self.units(cases)))
        if verdict is not None:
            return verdict
        profile, band = expected[0]
        try:
            value = float(self.measure(cases, results))
        except Exception as exc:  # outputs of the wrong kind or shape
            return Verdict("wrong", f"the outputs of your model could not be measured: {exc}")
        sign = "<=" if self.direction == "below" else ">="
        measured = f"{self.metric} {value:.4g} {self.unit} on held-out data"
        if band is None:
            return Verdict("no_result", f"no band for profile {profile!r}: the instructor "
                           "must run `vae-edu exercises bands`", measured=measured)
        runs = ", ".join(f"{v:.4g}" for v in band["values"])
        expected_text = (f"{sign} {band['threshold']:g} {self.unit} (reference runs under "
                         f"{profile}: {runs})")
        if band.get("discriminating") is False:
            expected_text += (f"; under {profile} this band does not separate a trained model "
                              "from the baselines: grade with --profile default")
        twin = self.twin_verdict(results)
        if twin is not None:
            return twin
        if not self.passes(value, band):
            return Verdict("wrong", f"your model's {self.metric} on held-out data is "
                           f"{value:.4g} {self.unit}; the band is {sign} "
                           f"{band['threshold']:g}: {self.advice()}", measured=measured,
                           expected=expected_text)
        problem = self.requirement(cases, results, profile)  # in the band, but ignores y
        if problem is not None:
            return Verdict("wrong", problem, measured=measured, expected=expected_text)
        return Verdict("passed", f"passed: {measured}, band {sign} {band['threshold']:g}",
                       measured=measured, expected=expected_text)

    def advice(self) -> str:
        """What to try when the band is missed."""
        return "train with the budget given, and check your loss against the check above"

    def units(self, cases):
        return [(c, None) for c in cases]
