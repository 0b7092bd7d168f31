"""The losses of vae_edu.colorization, each against an independent computation."""

from __future__ import annotations

import pytest
import torch

from vae_edu.colorization import gradient_loss, image_gradients

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _gradient_loss_loop(pred, target):
    """L_grad written pixel by pixel with Python loops."""
    b, c, h, w = pred.shape
    total = 0.0
    for n in range(b):
        for k in range(c):
            for i in range(h):
                for j in range(w):
                    if j + 1 < w:
                        dp = pred[n, k, i, j + 1] - pred[n, k, i, j]
                        dt = target[n, k, i, j + 1] - target[n, k, i, j]
                        total += float(dp - dt) ** 2
                    if i + 1 < h:
                        dp = pred[n, k, i + 1, j] - pred[n, k, i, j]
                        dt = target[n, k, i + 1, j] - target[n, k, i, j]
                        total += float(dp - dt) ** 2
    return total / b


def test_gradient_loss_matches_a_loop():
    gen = torch.Generator().manual_seed(0)
    pred = torch.randn(3, 2, 5, 4, generator=gen, dtype=torch.float64)
    target = torch.randn(3, 2, 5, 4, generator=gen, dtype=torch.float64)
    loss = gradient_loss(pred, target)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(_gradient_loss_loop(pred, target), rel=1e-12)


def test_gradient_loss_ignores_a_constant_offset_but_not_an_edge():
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(2, 2, 6, 6, generator=gen)
    assert gradient_loss(target + 3.0, target).item() == pytest.approx(0.0, abs=1e-9)
    edged = target.clone()
    edged[..., :, 3:] += 1.0  # a vertical edge: each row gains one horizontal jump of 1
    # 2 channels x 6 rows x one jump of 1 each, per image
    assert gradient_loss(edged, target).item() == pytest.approx(12.0, rel=1e-5)


def test_gradient_loss_backpropagates():
    pred = torch.zeros(1, 2, 3, 3, requires_grad=True)
    target = torch.arange(18.0).reshape(1, 2, 3, 3)
    gradient_loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_image_gradients_shapes():
    dx, dy = image_gradients(torch.zeros(2, 2, 5, 7))
    assert dx.shape == (2, 2, 5, 6) and dy.shape == (2, 2, 4, 7)


@pytest.mark.parametrize(
    ("pred", "target", "error", "match"),
    [
        (torch.zeros(2, 2, 4, 4), torch.zeros(2, 2, 4, 5), ValueError, "shape"),
        (torch.zeros(2, 32), torch.zeros(2, 32), ValueError, r"\(B, C, H, W\)"),
        (torch.zeros(2, 2, 4, 4, dtype=torch.long), torch.zeros(2, 2, 4, 4), TypeError, "float"),
    ],
)
def test_gradient_loss_rejects_bad_input(pred, target, error, match):
    with pytest.raises(error, match=match):
        gradient_loss(pred, target)
