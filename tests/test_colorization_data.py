"""The colorization data: the hued-MNIST ambiguity set, photo patches, CIFAR-10 offline."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
import torch

from vae_edu.colorization import ColorFields, hued_mnist, load_photos, photo_patches
from vae_edu.colorization.data import (
    HUES,
    INK_LIGHTNESS,
    PHOTOS,
    TEST_PHOTOS,
    VALIDATION_PHOTOS,
    hue_names,
    load_cifar10,
)
from vae_edu.colorization.lab import AB_SCALE, lab_to_rgb, rgb_to_lab
from vae_edu.data import MNISTSplit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _split(n=400, seed=0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 28, 28, generator=gen)
    return MNISTSplit(images, torch.randint(10, (n,), generator=gen))


def test_hued_mnist_grey_carries_no_information_about_the_hue():
    split = _split()
    fields = hued_mnist(split, seed=3)
    t = split.images
    # the grey image is the ink times a fixed lightness, whatever the hue
    torch.testing.assert_close(fields.grey, t * INK_LIGHTNESS / 100)
    # the colour field is the ink times the digit's hue
    hues = torch.tensor(list(HUES.values())) / AB_SCALE
    torch.testing.assert_close(fields.color, t * hues[fields.hue].view(-1, 2, 1, 1))
    torch.testing.assert_close(fields.hues, hues)
    # every hue is used, about equally often, independently of the digit
    counts = torch.bincount(fields.hue, minlength=4)
    assert counts.min() > 70 and counts.sum() == 400
    assert hue_names() == ["red", "yellow", "green", "blue"]


def test_hued_mnist_colours_have_equal_lightness_in_lab():
    """Converted to RGB and back, each fully inked hue has the same L."""
    hues = torch.tensor(list(HUES.values()), dtype=torch.float64)
    lab = torch.cat([torch.full((4, 1), INK_LIGHTNESS, dtype=torch.float64), hues], 1)
    rgb = lab_to_rgb(lab[:, :, None, None], clip=False)
    assert ((rgb >= 0) & (rgb <= 1)).all(), "a hue of the set is outside the sRGB gamut"
    lightness = rgb_to_lab(rgb)[:, 0, 0, 0]
    torch.testing.assert_close(lightness, torch.full((4,), INK_LIGHTNESS, dtype=torch.float64))


def test_hued_mnist_rejects_bad_settings():
    with pytest.raises(ValueError, match="lightness"):
        hued_mnist(_split(4), lightness=0.0)
    with pytest.raises(ValueError, match="at least one hue"):
        hued_mnist(_split(4), hues={})


def test_color_fields_check_shapes_and_subset():
    fields = hued_mnist(_split(20))
    assert len(fields) == 20 and fields.image_size == (28, 28)
    sub = fields.take(5, seed=1)
    assert len(sub) == 5 and sub.hue.shape == (5,) and sub.hues is fields.hues
    assert fields.take(None) is fields and len(fields[3]) == 1
    x, y = next(iter(fields.batches(8, shuffle=False)))
    assert torch.equal(x, fields.grey[:8]) and torch.equal(y, fields.color[:8])
    assert fields.rgb().shape == (20, 3, 28, 28)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        ColorFields(torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="differ"):
        ColorFields(torch.zeros(2, 1, 4, 4), torch.zeros(3, 2, 4, 4))


def test_photo_patches_split_each_photograph_without_overlap():
    train, test = photo_patches(16, photos=("chelsea",), downscale=4, stride=8, device="cpu")
    # chelsea is 300 x 451 -> 75 x 112 after downscale 4; test: the right 28 columns
    assert train.grey.shape[1:] == (1, 16, 16) and test.color.shape[1:] == (2, 16, 16)
    rows = len(range(0, 75 - 16 + 1, 8))
    cut = round(112 * 0.75)
    assert len(train) == rows * len(range(0, cut - 16 + 1, 8))
    assert len(test) == rows * len(range(0, 112 - cut - 16 + 1, 8))
    # the first training patch is the top-left corner of the shrunk photograph
    rgb = torch.from_numpy(skimage.data.chelsea().copy()).permute(2, 0, 1)[None].double() / 255
    shrunk = torch.nn.functional.avg_pool2d(rgb, 4)
    lab = rgb_to_lab(shrunk[0, :, :16, :16])
    torch.testing.assert_close(train.grey[0, 0].double(), lab[0] / 100, atol=1e-5, rtol=0)
    torch.testing.assert_close(train.color[0].double(), lab[1:] / AB_SCALE, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="smaller than a patch"):
        photo_patches(64, photos=("chelsea",), downscale=4, device="cpu")


def test_offline_there_is_no_cifar_and_the_photos_are_the_shipped_ones(capsys):
    assert load_cifar10(device="cpu") is None
    photos = load_photos(device="cpu")
    out = capsys.readouterr().out
    assert all(name in out for name in PHOTOS)
    assert photos.source == "shipped photographs (patches)"
    assert photos.train.image_size == (32, 32) and len(photos.train) > 1000
    with pytest.raises(RuntimeError, match="source='photos'"):
        load_photos(source="cifar10", device="cpu")
    with pytest.raises(ValueError, match="'photos' or 'cifar10'"):
        load_photos(source="auto", device="cpu")


def test_load_photos_tests_on_photographs_no_training_patch_comes_from():
    photos = load_photos(device="cpu", quiet=True)
    train_names = tuple(n for n in PHOTOS if n not in TEST_PHOTOS)
    assert TEST_PHOTOS and train_names and not set(TEST_PHOTOS) & set(train_names)
    # the test set is exactly the patches of the test photographs, the training set
    # those of the others: each photograph's patches built on their own (as the test
    # part of a pair with another photograph), in the order of PHOTOS
    def alone(name):
        other = next(n for n in PHOTOS if n != name)
        return photo_patches(32, photos=(name, other), test_photos=(name,), device="cpu")[1]

    test = torch.cat([alone(n).color for n in TEST_PHOTOS])
    train = torch.cat([alone(n).color for n in train_names])
    assert torch.equal(photos.test.color, test) and torch.equal(photos.train.color, train)
    with pytest.raises(ValueError, match="proper subset"):
        photo_patches(32, photos=("coffee",), test_photos=("coffee",), device="cpu")
    with pytest.raises(ValueError, match="proper subset"):
        photo_patches(32, photos=("coffee", "rocket"), test_photos=("astronaut",),
                      device="cpu")
    # and no test patch equals any training patch
    flat_test, flat_train = photos.test.color.flatten(1), photos.train.color.flatten(1)
    assert torch.cdist(flat_test[:200], flat_train).min() > 0


def test_validation_photographs_leave_training_and_test_keeps_its_own():
    plain = load_photos(device="cpu", quiet=True)
    held = load_photos(device="cpu", quiet=True, validation_photos=VALIDATION_PHOTOS)
    assert torch.equal(held.test.color, plain.test.color)
    (name,) = VALIDATION_PHOTOS
    other = next(n for n in PHOTOS if n != name)
    alone = photo_patches(32, photos=(name, other), test_photos=(name,), device="cpu")[1]
    assert torch.equal(held.validation.color, alone.color)
    # the training patches are those of before, less the validation photograph's
    assert len(held.train) + len(held.validation) == len(plain.train)
    flat_val, flat_train = held.validation.color.flatten(1), held.train.color.flatten(1)
    assert torch.cdist(flat_val, flat_train).min() > 0
    assert torch.cdist(flat_val, plain.train.color.flatten(1)).min() == 0
    capped = load_photos(100, 50, device="cpu", quiet=True, validation_photos=(name,))
    assert (len(capped.train), len(capped.validation), len(capped.test)) == (100, 50, 50)
    assert "50 validation" in capped.describe()
    for bad in (("coffee",), ("dog",), tuple(n for n in PHOTOS if n not in TEST_PHOTOS)):
        with pytest.raises(ValueError, match="some, not all, of the training photographs"):
            load_photos(device="cpu", quiet=True, validation_photos=bad)
    with pytest.raises(ValueError, match="hold out part of PhotoData.train"):
        load_photos(source="cifar10", device="cpu", validation_photos=(name,))


class _FakeCIFAR10:
    """Stands in for torchvision's CIFAR10: 'cached' holds or not, downloads are recorded."""

    cached = True
    downloads: list[bool] = []

    def __init__(self, root, train=True, download=False):
        if download:
            self.downloads.append(train)
        elif not self.cached:
            raise RuntimeError("Dataset not found or corrupted.")
        n = 50 if train else 20
        gen = np.random.default_rng(0 if train else 1)
        self.data = gen.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.fixture
def fake_cifar(monkeypatch):
    import torchvision.datasets

    _FakeCIFAR10.cached, _FakeCIFAR10.downloads = True, []
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", _FakeCIFAR10)
    return _FakeCIFAR10


def test_cached_cifar10_becomes_lab_colour_fields(fake_cifar):
    train, test = load_cifar10(12, None, seed=3, device="cpu")
    assert len(train) == 12 and len(test) == 20 and train.image_size == (32, 32)
    chosen = torch.randperm(50, generator=torch.Generator().manual_seed(3))[:12]
    rgb = torch.from_numpy(_FakeCIFAR10(None).data[chosen.numpy()]).permute(0, 3, 1, 2) / 255
    lab = rgb_to_lab(rgb.double())
    torch.testing.assert_close(train.grey.double(), lab[:, :1] / 100, atol=1e-4, rtol=0)
    torch.testing.assert_close(train.color.double(), lab[:, 1:] / AB_SCALE, atol=1e-4, rtol=0)
    photos = load_photos(12, 5, source="cifar10", device="cpu")
    assert photos.source == "CIFAR-10" and (len(photos.train), len(photos.test)) == (12, 5)
    assert fake_cifar.downloads == []


def test_missing_cifar10_is_not_downloaded_offline_or_without_network(fake_cifar, monkeypatch):
    import vae_edu.colorization.data as data

    fake_cifar.cached = False
    assert load_cifar10(device="cpu") is None  # VAE_EDU_OFFLINE=1 (conftest)
    monkeypatch.delenv("VAE_EDU_OFFLINE")
    monkeypatch.setattr(data, "network_reachable", lambda address: False)
    assert load_cifar10(device="cpu") is None
    assert fake_cifar.downloads == []
    monkeypatch.setattr(data, "network_reachable", lambda address: True)
    assert load_cifar10(device="cpu") is not None
    assert fake_cifar.downloads == [True, False]  # train and test, once each
