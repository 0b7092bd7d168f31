"""The figures of lecture 09: colourizations side by side, codes by hue, the colour prior.

Like :mod:`vae_edu.viz`, every function draws into ``ax`` when given one (else makes its
own figure) and returns the matplotlib ``Figure``: assign it in a notebook cell.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from torch import Tensor

from ..viz import default_description, describe, draw_image, figure_and_axes, tile_images
from .lab import AB_SCALE, lab_to_rgb, merge_grey_color
from .losses import ColorHistogram

__all__ = ["hue_rgb", "scatter_hue_codes", "show_ab_prior", "show_samples"]


def hue_rgb(hues: Tensor, lightness: float = 60.0) -> np.ndarray:
    """The display colour of each hue ``(K, 2)`` (field units) at ``lightness``: ``(K, 3)``."""
    hues = torch.as_tensor(hues, dtype=torch.float64).cpu()
    lab = torch.cat([torch.full((len(hues), 1), lightness, dtype=hues.dtype),
                     hues * AB_SCALE], dim=1)
    return lab_to_rgb(lab[:, :, None, None])[:, :, 0, 0].numpy()


def show_samples(
    grey: Tensor,
    samples: Tensor,
    truth: Tensor | None = None,
    *,
    weights: Tensor | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """One row per grey image: grey | truth | its ``K`` colourizations.

    Args:
        grey: ``(B, 1, H, W)`` grey images.
        samples: ``(B, K, 2, H, W)`` colour fields (``(B, 2, H, W)``: one per image).
        truth: ``(B, 2, H, W)`` the true colour fields, shown in the second column.
        weights: ``(B, K)`` mixture weights, each written on its own tile (white on a
            dark box in the tile's top left corner, e.g. "0.27"), for every row.
        title: the axes' title.
    """
    grey = torch.as_tensor(grey).detach().float().cpu()
    samples = torch.as_tensor(samples).detach().float().cpu()
    if samples.dim() == 4:
        samples = samples.unsqueeze(1)
    if grey.dim() != 4 or samples.dim() != 5 or samples.shape[2] != 2 or len(grey) != len(
        samples
    ):
        raise ValueError(
            "show_samples: expected grey (B, 1, H, W) and samples (B, K, 2, H, W), got "
            f"{tuple(grey.shape)} and {tuple(samples.shape)}"
        )
    b, k = samples.shape[:2]
    columns = [grey.expand(-1, 3, -1, -1)]
    if truth is not None:
        columns.append(merge_grey_color(grey, torch.as_tensor(truth).detach().float().cpu()))
    first = len(columns)
    columns += [merge_grey_color(grey, samples[:, j]) for j in range(k)]
    tiles = torch.stack(columns, dim=1).flatten(0, 1).permute(0, 2, 3, 1).numpy()
    ncol = len(columns)
    grid = tile_images(tiles, ncol, 2, 1.0)
    h, w = grey.shape[2:]
    ax_in = ax
    fig, ax = figure_and_axes(ax, (0.55 * ncol + 0.5, 0.55 * b + 0.6))
    draw_image(ax, grid)
    labels = ["grey"] + (["truth"] if truth is not None else [])
    for j, label in enumerate(labels):
        ax.text(2 + j * (w + 2) + w / 2, -1, label, ha="center", va="bottom", fontsize=7)
    if weights is not None:
        pi = torch.as_tensor(weights).detach().float().cpu()
        if pi.shape != (b, k):
            raise ValueError(f"show_samples: expected weights (B, K) = {(b, k)}, got "
                             f"{tuple(pi.shape)}")
        ax.text(2 + first * (w + 2), -1, "π of each component on its tile", ha="left",
                va="bottom", fontsize=7)
        for i in range(b):
            for j in range(k):
                ax.text(2 + (first + j) * (w + 2) + 1, 2 + i * (h + 2) + 1, f"{pi[i, j]:.2f}",
                        ha="left", va="top", fontsize=7, color="white",
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "black", "alpha": 0.6,
                              "linewidth": 0})
    if title:
        ax.set_title(title, fontsize=9, pad=10)
    cols = ", ".join(labels + [f"{k} colourizations"])
    return default_description(fig, ax_in, f"{b} rows of images, left to right: {cols}")


#: the marker of each hue in :func:`scatter_hue_codes` (then repeated)
HUE_MARKERS = ("o", "s", "^", "D", "v", "P")


def scatter_hue_codes(
    codes: Tensor,
    hue: Tensor,
    hues: Tensor,
    *,
    means: Tensor | None = None,
    weights: Tensor | None = None,
    names: list[str] | None = None,
    title: str | None = None,
    ax=None,
) -> Figure:
    """2-D codes ``(N, 2)`` coloured, and marked, by the hue of their image; MDN means as
    crosses.

    Args:
        codes: ``(N, 2)`` e.g. the colour-field VAE's posterior means.
        hue: ``(N,)`` hue index of each image; ``hues`` ``(K, 2)`` gives their colours.
        means: ``(M, 2)`` mixture-component means for one grey image, drawn as black
            crosses of an area proportional to ``weights`` ``(M,)``.
        names: the hue names for the legend.
    """
    codes = torch.as_tensor(codes).detach().float().cpu().numpy()
    hue = torch.as_tensor(hue).detach().cpu().numpy()
    if codes.ndim != 2 or codes.shape[1] != 2 or len(hue) != len(codes):
        raise ValueError(
            f"scatter_hue_codes: expected codes (N, 2) and hue (N,), got {codes.shape} and "
            f"{hue.shape}"
        )
    colors = hue_rgb(hues)
    ax_in = ax
    fig, ax = figure_and_axes(ax, (4.2, 4.0))
    for k, rgb in enumerate(colors):
        label = names[k] if names else f"hue {k}"
        pts = codes[hue == k]
        # a marker per hue as well as a colour, so that the clusters stay apart for readers
        # who cannot tell the hues apart (red and green)
        ax.scatter(pts[:, 0], pts[:, 1], s=8, color=rgb, alpha=0.6, label=label,
                   marker=HUE_MARKERS[k % len(HUE_MARKERS)])
    if means is not None:
        m = torch.as_tensor(means).detach().float().cpu().numpy()
        pi = (np.full(len(m), 1.0 / len(m)) if weights is None
              else torch.as_tensor(weights).detach().float().cpu().numpy())
        ax.scatter(m[:, 0], m[:, 1], s=30 + 400 * pi, marker="X", color="black",
                   edgecolor="white", linewidth=0.8, label="MDN means")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    legend = ax.legend(fontsize=7, loc="best")
    for handle in legend.legend_handles:  # the same marker size for every entry
        handle.set_sizes([30])
    if title:
        ax.set_title(title)
    crosses = f", {len(means)} mixture means as black crosses" if means is not None else ""
    text = f"scatter plot of {len(codes)} 2-D codes coloured by their image's hue{crosses}"
    return default_description(fig, ax_in, text)


def show_ab_prior(histogram: ColorHistogram, lightness: float = 60.0) -> Figure:
    """Three panels over the ab plane: the colour of each bin (at ``lightness``), the
    prior ``p(q)`` (log scale) and the L_hist weight ``w(q)`` (log scale)."""
    n, limit = histogram.bins_per_axis, histogram.limit * AB_SCALE
    centres = (torch.arange(n, dtype=torch.float64) + 0.5) * histogram.bin_size * AB_SCALE - limit
    a, b = torch.meshgrid(centres, centres, indexing="ij")  # bin (i, j): a[i], b[j]
    lab = torch.stack([torch.full_like(a, lightness), a, b])  # (3, n, n)
    # drawn the usual way round: a on the x axis (green left, red right), b on the y axis
    # growing upwards (blue below, yellow above): image rows are b, columns a, origin low
    chart = lab_to_rgb(lab).permute(2, 1, 0).numpy()  # (n_b, n_a, 3)
    prior = histogram.prior_image().double().cpu().numpy().T
    weight = histogram.bin_weights.view(n, n).double().cpu().numpy().T
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), layout="constrained")
    extent = (-limit, limit, -limit, limit)
    axes[0].imshow(chart, extent=extent, origin="lower")
    axes[0].set_title(f"colour of each bin (L = {lightness:g})")
    shown = np.where(prior > 0, prior, np.nan)
    im = axes[1].imshow(shown, extent=extent, origin="lower", norm=LogNorm(), cmap="viridis")
    fig.colorbar(im, ax=axes[1], shrink=0.8)
    axes[1].set_title("prior p(q) (empty bins white)")
    im = axes[2].imshow(weight, extent=extent, origin="lower", norm=LogNorm(), cmap="magma")
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    axes[2].set_title("weight w(q) of L_hist")
    for ax in axes:
        ax.set_xlabel("a (green - red)")
        ax.set_ylabel("b (blue - yellow)")
    return describe(fig, "three maps over the ab colour plane: the colour of each bin, the "
                    "prior p(q) and the L_hist weight w(q), both on log scales")
