"""New questions of problem sets 01 and 02: PCA reconstructions (the baseline of lecture 01)
and the full loss of a contractive autoencoder with tied weights (lecture 04)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import Call, randint, randn
from .simple import FunctionQuestion

__all__ = ["PCAReconstructQuestion", "TiedContractiveQuestion"]


def _pca_calls(gen):
    calls = []
    for _ in range(3):
        n, m, d = randint(gen, 30, 40), randint(gen, 4, 7), randint(gen, 8, 12)
        k = randint(gen, 1, 4)
        # data with a clear spectrum, so that the top-k subspace is well defined
        scales = torch.linspace(3.0, 0.2, d)
        basis = torch.linalg.qr(randn(gen, d, d))[0]
        mean = randn(gen, d, scale=2.0)
        train = mean + (randn(gen, n, d) * scales) @ basis.T
        test = mean + (randn(gen, m, d) * scales) @ basis.T
        calls.append(Call((train, test, k), label=f"pca_reconstruct(train, test, {k})"))
    return calls


def _pca(train, test, k, centre=True):
    mean = train.mean(0) if centre else torch.zeros(train.shape[1])
    _, _, vh = torch.linalg.svd(train - mean, full_matrices=False)
    v = vh[:k].T
    return mean + (test - mean) @ v @ v.T


PCAReconstructQuestion = FunctionQuestion(
    "pca_reconstruct", "reconstruction", _pca_calls, _pca,
    mistakes=(
        ("centre the data with the TRAINING mean before the SVD, and add it back after",
         lambda tr, te, k: _pca(tr, te, k, centre=False)),
        ("the principal directions are the top k right-singular vectors, the FIRST k rows "
         "of Vh (singular values come sorted in decreasing order)",
         lambda tr, te, k: _last_k(tr, te, k)),
        ("centre the test images with the TRAINING mean (the test mean is not known when "
         "the model is fitted)", lambda tr, te, k: _test_mean(tr, te, k)),
    ),
    twins=("vae_edu.evaluate:pca_reconstruction_sq_error", "sklearn.decomposition:PCA.fit",
           "sklearn.decomposition:PCA.fit_transform",
           "torch:pca_lowrank", "torch:svd_lowrank"),
)


def _last_k(train, test, k):
    mean = train.mean(0)
    _, _, vh = torch.linalg.svd(train - mean, full_matrices=False)
    v = vh[-k:].T
    return mean + (test - mean) @ v @ v.T


def _test_mean(train, test, k):
    mean = train.mean(0)
    _, _, vh = torch.linalg.svd(train - mean, full_matrices=False)
    v = vh[:k].T
    tm = test.mean(0)
    return tm + (test - tm) @ v @ v.T


def _cae_calls(gen):
    calls = []
    for _ in range(3):
        b, d, h = randint(gen, 3, 6), randint(gen, 8, 12), randint(gen, 4, 6)
        x = torch.rand(b, d, generator=gen)
        w, be, bd = randn(gen, h, d, scale=0.5), randn(gen, h), randn(gen, d)
        lam = round(float(torch.rand((), generator=gen)) * 0.9 + 0.1, 3)
        calls.append(Call((x, w, be, bd, lam),
                          label=f"tied_contractive_loss(x, W, b_enc, b_dec, {lam})"))
    return calls


def _cae(x, w, be, bd, lam, square_slope=True, recon_only=False, pen_only=False, untied=False):
    h = torch.sigmoid(x @ w.T + be)
    logits = h @ w + bd
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)
    slope = h * (1 - h)
    pen = ((slope**2 if square_slope else slope) * (w**2).sum(1)).sum(1)
    if recon_only:
        return recon.mean()
    if pen_only:
        return (lam * pen).mean()
    return (recon + lam * pen).mean()


TiedContractiveQuestion = FunctionQuestion(
    "tied_contractive_loss", "loss", _cae_calls, _cae,
    mistakes=(
        ("square the sigmoid's slope: the Jacobian's row j is h_j (1 - h_j) W_j, so the "
         "penalty has (h_j (1 - h_j))^2", lambda *a: _cae(*a, square_slope=False)),
        ("you left out the contractive penalty: add lam * ||J_f(x)||_F^2",
         lambda *a: _cae(*a, recon_only=True)),
        ("you left out the reconstruction term: the tied decoder is sigmoid(h W + b_dec)",
         lambda *a: _cae(*a, pen_only=True)),
    ),
    twins=("vae_edu.losses:contractive_penalty_sigmoid",
           "vae_edu.losses:contractive_penalty_autograd"),
)
