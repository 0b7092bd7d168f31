"""``vae-edu bench widgets``: milliseconds per update of each widget of :mod:`vae_edu.widgets`.

One update is what one slider event costs in a notebook: setting the slider's value runs
its callback, which decodes the code, encodes the PNG(s) and hands them to the
``widgets.Image`` (sending them to the browser is not counted: there is none here).
The models are the sizes the lectures use, with their initial weights (the time does not
depend on training): the MLP VAE 784-400-20, the same with a 2-d latent space for the
manifold explorer, and the default ``ConvCVAE``.

Prints one line per widget, ``NAME: M ms per update (best B, p90 P; decode alone D)``: the
median, fastest and 90th percentile over ``updates`` updates (on a shared, busy machine
the fastest is the closest to the cost itself), and the median time of
``model.decode_images`` for one code on its own.  The initial weights decode noisy
images, the slowest case for the PNG compression; a trained model's digits compress
faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...device import describe_device, pick_device
from ...models import VAE, ConvCVAE
from ...train import evaluation_mode
from ...widgets import AttributeProgression, ConditionalSliders, LatentSliders, ManifoldExplorer

#: Slider values the benchmark cycles through (no 0, so the first move changes a value).
VALUES = np.linspace(-2.5, 2.5, 40).tolist()


def _times_ms(step: Callable[[int], None], updates: int, warmup: int = 5) -> np.ndarray:
    for k in range(warmup):
        step(k)
    times = []
    for k in range(warmup, warmup + updates):
        start = time.perf_counter()
        step(k)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1e3


def _decode_ms(model, y=None, updates: int = 50) -> float:
    z = torch.zeros(1, model.latent_dim)

    def step(k: int) -> None:
        z[0, 0] = VALUES[k % len(VALUES)]
        with evaluation_mode(model):
            out = model.decode_images(z, y) if y is not None else model.decode_images(z)
        out.cpu()  # waits for a GPU

    return float(np.median(_times_ms(step, updates)))


def _slider_step(sliders) -> Callable[[int], None]:
    def step(k: int) -> None:
        sliders[k % len(sliders)].value = VALUES[k % len(VALUES)]

    return step


def main(device: str | None = None, updates: int = 200, seed: int = 0) -> dict[str, float]:
    """Time the widgets and print one line each; returns ``{name: median ms per update}``."""
    if not isinstance(updates, int) or updates < 1:
        raise ValueError(f"updates must be a positive int, got {updates!r}")
    dev = pick_device(device)
    torch.manual_seed(seed)
    vae = VAE(784, 400, 20).to(dev)
    vae2 = VAE(784, 400, 2).to(dev)
    cvae = ConvCVAE().to(dev)  # y_dim 10, latent 16, channels (32, 64)
    codes = torch.randn(10_000, 2, generator=torch.Generator().manual_seed(seed))
    labels = torch.randint(0, 10, (10_000,), generator=torch.Generator().manual_seed(seed))
    print(f"device: {describe_device(dev)}; torch {torch.__version__}")
    print(f"{updates} updates per widget, each a slider move or a click")

    def progression_step(w: AttributeProgression) -> Callable[[int], None]:
        def step(k: int) -> None:
            w.slider.value = (k % 40 + 0.5) / 40

        return step

    def label_step(w: ConditionalSliders) -> Callable[[int], None]:
        def step(k: int) -> None:
            w.picker.value = (k + 1) % w.y_dim

        return step

    sliders = LatentSliders(vae)
    manifold = ManifoldExplorer(vae2)
    scatter = ManifoldExplorer(vae2, codes, labels)
    conditional = ConditionalSliders(cvae, 3)
    progression = AttributeProgression(cvae, 3, 8)
    cases = [
        ("LatentSliders, VAE 784-400-20", _slider_step(sliders.sliders), vae, None),
        (
            "ManifoldExplorer, 15x15 manifold, VAE 784-400-2",
            _slider_step(manifold.sliders),
            vae2,
            None,
        ),
        (
            "ManifoldExplorer, scatter of 10000 codes, VAE 784-400-2",
            _slider_step(scatter.sliders),
            vae2,
            None,
        ),
        ("ConditionalSliders (slider), ConvCVAE", _slider_step(conditional.sliders), cvae, 3),
        ("ConditionalSliders (digit picker), ConvCVAE", label_step(conditional), cvae, 3),
        ("AttributeProgression (alpha), ConvCVAE", progression_step(progression), cvae, 3),
    ]
    results = {}
    for name, step, model, y in cases:
        ms = _times_ms(step, updates)
        decode = _decode_ms(model, y)
        results[name] = float(np.median(ms))
        print(
            f"{name}: {np.median(ms):.2f} ms per update (best {ms.min():.2f}, "
            f"p90 {np.percentile(ms, 90):.2f}; decode alone {decode:.2f})"
        )
    for w in (sliders, manifold, scatter, conditional, progression):
        w.close()
    return results
