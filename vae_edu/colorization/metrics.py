"""How good and how diverse are ``k`` colourizations of the same grey image?

Samples are stacked as ``(B, K, 2, H, W)``: ``K`` colour fields for each of ``B`` grey
images. Distances between two colour fields are root-mean-square ab distances per
pixel, in the units of the fields (multiply by
:data:`~vae_edu.colorization.lab.AB_SCALE` for Lab units):

    ``dist(C, C') = sqrt( mean_{i,j} ||C_ij - C'_ij||^2 )``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..train import evaluation_mode
from .lab import AB_SCALE

__all__ = [
    "best_of_k_error",
    "diversity",
    "expected_error",
    "field_distance",
    "hue_of",
    "mode_coverage",
    "score_colorizer",
    "weighted_coverage",
    "weighted_diversity",
]


def _check_samples(samples: Tensor, where: str) -> None:
    if not torch.is_tensor(samples) or samples.dim() != 5 or samples.shape[2] != 2:
        shape = tuple(samples.shape) if torch.is_tensor(samples) else type(samples).__name__
        raise ValueError(
            f"{where}: samples must have shape (B, K, 2, H, W): K colour fields per image, "
            f"got {shape}; for one field per image use fields.unsqueeze(1)"
        )


def field_distance(a: Tensor, b: Tensor) -> Tensor:
    """RMS ab distance per pixel between fields ``(..., 2, H, W)`` -> ``(...)``.

    ``a`` and ``b`` broadcast against each other (e.g. ``(B, K, 2, H, W)`` against
    ``(B, 1, 2, H, W)``).
    """
    if a.shape[-3] != 2 or b.shape[-3] != 2:
        raise ValueError(
            f"field_distance: expected colour fields (..., 2, H, W), got {tuple(a.shape)} and "
            f"{tuple(b.shape)}"
        )
    squared = (a - b).pow(2).sum(-3)  # (..., H, W): squared ab distance of every pixel
    return squared.flatten(-2).mean(-1).sqrt()


def best_of_k_error(samples: Tensor, target: Tensor) -> Tensor:
    """The distance of the CLOSEST of the ``K`` samples to the truth, averaged over images.

    Args:
        samples: ``(B, K, 2, H, W)``.
        target: ``(B, 2, H, W)`` the true colour fields.

    Returns:
        0-d tensor: ``mean_b min_k dist(samples[b, k], target[b])``.
    """
    _check_samples(samples, "best_of_k_error")
    if target.shape != samples.shape[:1] + samples.shape[2:]:
        raise ValueError(
            f"best_of_k_error: target must have shape (B, 2, H, W) = "
            f"{tuple(samples.shape[:1] + samples.shape[2:])}, got {tuple(target.shape)}"
        )
    return field_distance(samples, target.unsqueeze(1)).min(dim=1).values.mean()


def expected_error(samples: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """The distance of ONE answer to the truth, on average over the ``K`` answers.

    ``mean_b sum_k w_bk dist(samples[b, k], target[b])``, with ``w_bk = 1/K`` (one of the
    ``K`` samples picked at random: for samples of a model, a Monte Carlo estimate of its
    expected error) or the mixture weights ``pi`` (one component picked by its weight).
    Never below :func:`best_of_k_error`, which takes the closest answer instead.

    Args:
        samples: ``(B, K, 2, H, W)``.
        target: ``(B, 2, H, W)``.
        weights: ``(B, K)`` rows summing to 1, or ``None`` for equal weights.

    Returns:
        0-d tensor.
    """
    _check_samples(samples, "expected_error")
    if target.shape != samples.shape[:1] + samples.shape[2:]:
        raise ValueError(
            f"expected_error: target must have shape (B, 2, H, W) = "
            f"{tuple(samples.shape[:1] + samples.shape[2:])}, got {tuple(target.shape)}"
        )
    dist = field_distance(samples, target.unsqueeze(1))  # (B, K)
    if weights is None:
        return dist.mean()
    pi = _check_weights(weights, samples, "expected_error")
    return (pi * dist).sum(1).mean()


def diversity(samples: Tensor) -> Tensor:
    """Mean pairwise distance between the ``K`` samples of an image, averaged over images.

    ``mean_b  2 / (K (K - 1))  sum_{k < l} dist(samples[b, k], samples[b, l])``; 0 when
    all samples are the same.

    Args:
        samples: ``(B, K, 2, H, W)`` with ``K >= 2``.

    Returns:
        0-d tensor.
    """
    _check_samples(samples, "diversity")
    k = samples.shape[1]
    if k < 2:
        raise ValueError(f"diversity: needs K >= 2 samples per image, got {k}")
    pairwise = field_distance(samples.unsqueeze(2), samples.unsqueeze(1))  # (B, K, K)
    upper = torch.triu(torch.ones(k, k, dtype=torch.bool, device=samples.device), diagonal=1)
    return pairwise[:, upper].mean()


def hue_of(
    color: Tensor, grey: Tensor, hues: Tensor, *, min_chroma: float = 0.5
) -> Tensor:
    """Which hue of the ambiguity set a colour field shows: ``(N,)`` index or -1.

    The digit's colour is fitted as one hue times the ink intensity ``t`` (the grey
    image, up to a constant): ``h = sum_ij t_ij C_ij / sum_ij t_ij^2``, exactly the hue
    for a field of :func:`~vae_edu.colorization.data.hued_mnist`. It is assigned the
    nearest of ``hues``, or -1 ("no hue") when its chroma ``|h|`` is below
    ``min_chroma`` times that of the nearest hue (a greyish, desaturated digit).

    Args:
        color: ``(N, 2, H, W)`` colour fields.
        grey: ``(N, 1, H, W)`` their grey images (broadcast against ``color``).
        hues: ``(K, 2)`` the hues (ab of a fully inked pixel, in field units).
        min_chroma: the fraction of a hue's chroma a field must reach.

    Returns:
        ``(N,)`` int64 in ``-1 .. K-1``.
    """
    t = grey / grey.flatten(1).amax(1).clamp_min(1e-8).view(-1, 1, 1, 1)  # ink in [0, 1]
    h = (t * color).flatten(2).sum(-1) / t.pow(2).flatten(1).sum(1, keepdim=True).clamp_min(
        1e-8
    )  # (N, 2)
    nearest = torch.cdist(h, hues.to(h.dtype)).argmin(dim=1)  # (N,)
    chroma_ok = h.norm(dim=1) >= min_chroma * hues.norm(dim=1)[nearest]
    return torch.where(chroma_ok, nearest, torch.full_like(nearest, -1))


def _hues_of_samples(samples: Tensor, grey: Tensor, hues: Tensor, min_chroma) -> Tensor:
    """``(B, S)`` long: :func:`hue_of` for each of the ``S`` samples of each grey image."""
    b, s = samples.shape[:2]
    return hue_of(samples.flatten(0, 1), grey.repeat_interleave(s, dim=0), hues,
                  min_chroma=min_chroma).view(b, s)


def mode_coverage(
    samples: Tensor, grey: Tensor, hues: Tensor, *, min_chroma: float = 0.5
) -> Tensor:
    """The fraction of the ``K`` true hues found among the samples, averaged over images.

    Every sample is given a hue by :func:`hue_of`; an image whose samples show 3 of 4
    hues scores 0.75. A model that always predicts the same colour scores at most
    ``1 / K``; a desaturated one (no hue at all) 0.

    Args:
        samples: ``(B, S, 2, H, W)``.
        grey: ``(B, 1, H, W)``.
        hues: ``(K, 2)``.

    Returns:
        0-d tensor in [0, 1].
    """
    _check_samples(samples, "mode_coverage")
    b = samples.shape[0]
    found = _hues_of_samples(samples, grey, hues, min_chroma)
    k = len(hues)
    hit = torch.zeros(b, k + 1, dtype=torch.bool, device=samples.device)
    hit.scatter_(1, found + 1, True)  # column 0 collects "no hue"
    return hit[:, 1:].float().sum(1).div(k).mean()


def _check_weights(weights: Tensor, samples: Tensor, where: str) -> Tensor:
    b, m = samples.shape[:2]
    if not torch.is_tensor(weights) or weights.shape != (b, m):
        shape = tuple(weights.shape) if torch.is_tensor(weights) else type(weights).__name__
        raise ValueError(f"{where}: weights must have shape (B, M) = {(b, m)}, got {shape}")
    total = weights.sum(1)
    if (weights < 0).any() or not torch.allclose(total, torch.ones_like(total), atol=1e-4):
        raise ValueError(f"{where}: every row of weights must be >= 0 and sum to 1 (the "
                         "mixture weights pi, e.g. softmax(logits))")
    return weights.to(samples.dtype)


def weighted_diversity(samples: Tensor, weights: Tensor) -> Tensor:
    """The expected distance between two colourings drawn from the mixture.

    ``mean_b sum_{i,j} pi_bi pi_bj dist(samples[b, i], samples[b, j])``: two components
    are picked independently by their weights ``pi`` (the same one with probability
    ``sum_i pi_i^2``, at distance 0) and their decoded means compared. Components with
    negligible weight hardly count, unlike in :func:`diversity`, which weights every pair
    equally. Equal weights ``1/M`` give ``(1 - 1/M)`` times :func:`diversity`.

    Args:
        samples: ``(B, M, 2, H, W)`` the decoded component means.
        weights: ``(B, M)`` their mixture weights (rows sum to 1).

    Returns:
        0-d tensor.
    """
    _check_samples(samples, "weighted_diversity")
    pi = _check_weights(weights, samples, "weighted_diversity")
    pairwise = field_distance(samples.unsqueeze(2), samples.unsqueeze(1))  # (B, M, M)
    return (pi.unsqueeze(2) * pi.unsqueeze(1) * pairwise).sum((1, 2)).mean()


def weighted_coverage(
    samples: Tensor, weights: Tensor, grey: Tensor, hues: Tensor, *, min_chroma: float = 0.5
) -> Tensor:
    """How much of the mixture's weight sits on the true hues, each up to its share.

    Every component gets a hue by :func:`hue_of` (or none); ``m_h`` is the total weight
    ``pi`` of the components showing hue ``h``. With ``K`` equally likely hues the score
    of an image is ``sum_h min(m_h, 1/K)``: 1 when every hue carries at least its true
    probability ``1/K`` (so exactly ``1/K``), the weight on the right modes otherwise,
    each mode counted only up to its share. It is ``1 - TV(m, uniform)``, one minus the
    total-variation distance between the model's distribution over hues ("no hue"
    included, true probability 0) and the true one. Averaged over images.

    Args:
        samples: ``(B, M, 2, H, W)`` the decoded component means.
        weights: ``(B, M)`` their mixture weights (rows sum to 1).
        grey: ``(B, 1, H, W)``.
        hues: ``(K, 2)``.

    Returns:
        0-d tensor in [0, 1].
    """
    _check_samples(samples, "weighted_coverage")
    pi = _check_weights(weights, samples, "weighted_coverage")
    b = samples.shape[0]
    found = _hues_of_samples(samples, grey, hues, min_chroma)
    k = len(hues)
    mass = torch.zeros(b, k + 1, dtype=pi.dtype, device=samples.device)
    mass.scatter_add_(1, found + 1, pi)  # column 0 collects "no hue"
    return mass[:, 1:].clamp(max=1.0 / k).sum(1).mean()


def score_colorizer(
    model, fields, k: int = 8, *, batch_size: int = 100, seed: int = 0,
    sample_mode: str | None = None,
) -> dict[str, float]:
    """The metrics of one model on a set of colour fields, in Lab units.

    Draws ``k`` colourizations of every grey image (``model.sample(grey, k,
    generator=...)``, in eval mode, ``batch_size`` images at a time, the random numbers
    from one generator seeded with ``seed``) and returns

    * ``"best_of_k"``: :func:`best_of_k_error` times ``AB_SCALE`` (Lab units);
    * ``"expected_error"``: :func:`expected_error` of the ``k`` samples, equal weights,
      times ``AB_SCALE``;
    * ``"diversity"``: :func:`diversity` times ``AB_SCALE`` (Lab units);
    * ``"coverage"``: :func:`mode_coverage` (a fraction), only when ``fields.hues`` is set.

    For a mixture model (one with ``components(grey) -> (fields (B, M, 2, H, W),
    weights (B, M))``, e.g. :class:`~vae_edu.colorization.models.DiverseColorizer`, whose
    ``sample`` returns the ``k`` heaviest components: the "top-k by pi" figures above)
    also the figures that weight all ``M`` components by ``pi``:

    * ``"expected_error_weighted"``: :func:`expected_error` of all ``M`` components
      weighted by ``pi``, times ``AB_SCALE``;
    * ``"diversity_weighted"``: :func:`weighted_diversity` times ``AB_SCALE``;
    * ``"coverage_weighted"``: :func:`weighted_coverage`, only when ``fields.hues`` is set.

    ``sample_mode`` is handed to ``model.sample`` as ``mode=`` when given: for a
    :class:`~vae_edu.colorization.models.DiverseColorizer`, ``"mixture"`` scores ``k``
    codes drawn from the mixture instead of the ``k`` heaviest component means (the
    weighted figures, computed from all ``M`` components, do not change).

    Each is averaged over all images of ``fields``
    (a :class:`~vae_edu.colorization.data.ColorFields`).
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"score_colorizer: k must be an int >= 2 (for diversity), got {k!r}")
    mixture = callable(getattr(model, "components", None))
    if sample_mode is not None and not mixture:
        raise ValueError(
            f"score_colorizer: sample_mode={sample_mode!r} is for mixture models (a "
            f"DiverseColorizer); {type(model).__name__} has one way to sample: leave "
            "sample_mode out"
        )
    mode = {} if sample_mode is None else {"mode": sample_mode}  # models without modes
    generator = torch.Generator(device=fields.device).manual_seed(seed)
    totals = {"best_of_k": 0.0, "expected_error": 0.0, "diversity": 0.0, "coverage": 0.0,
              "expected_error_weighted": 0.0, "diversity_weighted": 0.0,
              "coverage_weighted": 0.0}
    with evaluation_mode(model):
        for start in range(0, len(fields), batch_size):
            part = fields[start : start + batch_size]
            samples = model.sample(part.grey, k, generator=generator, **mode)
            n = len(part)
            totals["best_of_k"] += n * best_of_k_error(samples, part.color).item()
            totals["expected_error"] += n * expected_error(samples, part.color).item()
            totals["diversity"] += n * diversity(samples).item()
            if fields.hues is not None:
                totals["coverage"] += n * mode_coverage(samples, part.grey, fields.hues).item()
            if mixture:
                with torch.no_grad():
                    means, pi = model.components(part.grey)
                totals["expected_error_weighted"] += n * expected_error(
                    means, part.color, pi).item()
                totals["diversity_weighted"] += n * weighted_diversity(means, pi).item()
                if fields.hues is not None:
                    totals["coverage_weighted"] += n * weighted_coverage(
                        means, pi, part.grey, fields.hues).item()
    out = {
        "best_of_k": AB_SCALE * totals["best_of_k"] / len(fields),
        "expected_error": AB_SCALE * totals["expected_error"] / len(fields),
        "diversity": AB_SCALE * totals["diversity"] / len(fields),
    }
    if fields.hues is not None:
        out["coverage"] = totals["coverage"] / len(fields)
    if mixture:
        out["expected_error_weighted"] = (
            AB_SCALE * totals["expected_error_weighted"] / len(fields))
        out["diversity_weighted"] = AB_SCALE * totals["diversity_weighted"] / len(fields)
        if fields.hues is not None:
            out["coverage_weighted"] = totals["coverage_weighted"] / len(fields)
    return out
