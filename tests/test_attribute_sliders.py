"""AttributeSliders (lecture 08): one alpha per attribute, digit and z fixed."""

from __future__ import annotations

import pytest
import torch

from vae_edu.models import CVAE, VAE
from vae_edu.morpho import AttributeScaler
from vae_edu.widgets import AttributeSliders

NAMES = ["thickness", "slant"]


def model(prior="standard"):
    torch.manual_seed(0)
    return CVAE(12, 3, hidden_dim=16, prior=prior).eval()


def test_each_slider_moves_its_attribute_only_and_redraws():
    w = AttributeSliders(model(), 3, [-2.0, -1.0], [2.0, 1.0], NAMES)
    assert torch.allclose(w.attributes, torch.zeros(2))  # alpha 0.5 everywhere
    before = w.image.value
    w.set_alpha("thickness", 1.0)
    assert torch.allclose(w.attributes, torch.tensor([2.0, 0.0]))
    assert w.image.value != before
    w.sliders[1].value = 0.0  # the same as dragging it
    assert torch.allclose(w.attributes, torch.tensor([2.0, -1.0]))
    y = w.y
    assert y.shape == (12,) and y[3] == 1 and y[:10].sum() == 1
    expected = model().decode_images(w.z[None], y[None])[0, 0]
    assert torch.allclose(torch.as_tensor(w.render()), expected, atol=1e-6)
    assert "digit 3" in repr(w) and "thickness, slant" in repr(w)


def test_caption_in_units_with_measurements_and_learned_prior():
    scaler = AttributeScaler(torch.tensor([[1.0, 0.0], [3.0, 20.0]]))
    calls = []

    def fake_measure(images):
        calls.append(images.shape)
        return torch.tensor([[2.5, 7.0]])

    m = model("learned")
    w = AttributeSliders(m, 0, [-1.0, -1.0], [1.0, 1.0], NAMES, scaler=scaler,
                         measure=fake_measure, units=["px", "deg"], alpha=[0.0, 1.0])
    assert calls[-1] == (1, 1, 28, 28)
    assert "thickness: asked" in w.caption.value and "measured 2.5 px" in w.caption.value
    # learned prior: the fixed noise goes through p(z | y)
    z = m.latent_from_noise(w.z[None], w.y[None])
    assert torch.allclose(w.decoded(), m.decode_images(z, w.y[None]), atol=1e-6)
    z0 = w.z
    w.resample_z()
    assert not torch.equal(w.z, z0)
    w.set_digit(7)
    assert w.y[7] == 1


def test_bad_arguments_are_one_clear_error():
    with pytest.raises(ValueError, match="y_dim is 12"):
        AttributeSliders(model(), 3, [0.0], [1.0], ["thickness"])
    with pytest.raises(ValueError, match="label in 0..9"):
        AttributeSliders(model(), 10, [0.0, 0], [1.0, 1], NAMES)
    with pytest.raises(ValueError, match="one per attribute"):
        AttributeSliders(model(), 1, [0.0], [1.0, 1], NAMES)
    with pytest.raises(ValueError, match="must be in"):
        AttributeSliders(model(), 1, [0.0, 0], [1.0, 1], NAMES, alpha=2.0)
    with pytest.raises(TypeError, match="conditional"):
        AttributeSliders(VAE(784, 16, 3), 1, [0.0, 0], [1.0, 1], NAMES)
