"""vae_edu.losses.weight_decay_penalty: 0.5 * sum ||W||^2 over weight matrices, not biases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vae_edu.losses import weight_decay_penalty


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 6))


def test_equals_a_hand_sum_over_the_weight_matrices_only():
    model = _model()
    w1, b1, w2, b2 = (p.detach() for p in model.parameters())
    by_hand = 0.0
    for w in (w1, w2):  # the biases b1, b2 do not count
        for row in w.tolist():
            by_hand += sum(v * v for v in row)
    by_hand *= 0.5
    assert weight_decay_penalty(model).item() == pytest.approx(by_hand, rel=1e-6)
    assert weight_decay_penalty([w1, w2]).item() == pytest.approx(by_hand, rel=1e-6)
    assert weight_decay_penalty(w1).item() == pytest.approx(0.5 * (w1**2).sum().item())
    assert weight_decay_penalty(model).item() != pytest.approx(
        0.5 * sum((p**2).sum().item() for p in model.parameters())), "biases must not count"


def test_gradient_is_torch_optim_weight_decay_on_the_weights():
    """lam * penalty added to the loss == SGD's weight_decay=lam on the matrices, 0 on biases."""
    lam, lr = 0.3, 0.1
    x = torch.rand(5, 6)

    def data_loss(m):
        return ((m(x) - x) ** 2).sum()

    ours, ref = _model(), _model()
    opt = torch.optim.SGD(ours.parameters(), lr=lr)
    opt.zero_grad()
    (data_loss(ours) + lam * weight_decay_penalty(ours)).backward()
    opt.step()

    matrices = [p for p in ref.parameters() if p.dim() >= 2]
    vectors = [p for p in ref.parameters() if p.dim() < 2]
    opt_ref = torch.optim.SGD([{"params": matrices, "weight_decay": lam},
                               {"params": vectors, "weight_decay": 0.0}], lr=lr)
    opt_ref.zero_grad()
    data_loss(ref).backward()
    opt_ref.step()

    for (name, a), b in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7, msg=name)


def test_its_gradient_is_lambda_times_w():
    model = _model()
    weight_decay_penalty(model).backward()
    for p in model.parameters():
        if p.dim() >= 2:
            torch.testing.assert_close(p.grad, p.detach())
        else:  # a bias is not in the term at all: no gradient reaches it
            assert p.grad is None


def test_bad_inputs_give_one_clear_message():
    with pytest.raises(ValueError, match="no weight matrices"):
        weight_decay_penalty(nn.LayerNorm(4))
    with pytest.raises(ValueError, match="got none"):
        weight_decay_penalty([])
    with pytest.raises(TypeError, match="floating-point"):
        weight_decay_penalty([torch.ones(2, 2, dtype=torch.long)])
