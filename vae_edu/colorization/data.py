"""Data for colorization: pairs (grey image G, colour field C) held as tensors.

Three sources, from a toy you can read off to real photographs:

* :func:`hued_mnist`: the *ambiguity set*. Every MNIST digit is drawn in one of a few
  hues of the same Lab lightness, picked at random, so the grey image carries no
  information at all about the hue: the right answer to "what colour is this digit?"
  is a distribution with one mode per hue.
* :func:`photo_patches`: patches cut from the colour photographs that ship inside
  scikit-image and scikit-learn (no download); :func:`load_photos` tests on patches of
  photographs that no training patch comes from.
* :func:`load_cifar10`: CIFAR-10 through torchvision, only on request
  (``load_photos(source="cifar10")``), never required (``$VAE_EDU_OFFLINE`` skips it).

Every set is a :class:`ColorFields`: ``grey (N, 1, H, W)`` = L / 100 in [0, 1] and
``color (N, 2, H, W)`` = ab / :data:`~vae_edu.colorization.lab.AB_SCALE` (see
:mod:`vae_edu.colorization.lab`).
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..data import Batches, MNISTSplit, cache_dir, network_reachable, offline
from ..device import pick_device
from ..validation import positive_int, unit_interval
from .lab import AB_SCALE, L_SCALE, merge_grey_color, split_grey_color

__all__ = [
    "HUES",
    "INK_LIGHTNESS",
    "PHOTOS",
    "TEST_PHOTOS",
    "VALIDATION_PHOTOS",
    "ColorFields",
    "PhotoData",
    "hue_names",
    "hued_mnist",
    "load_cifar10",
    "load_photos",
    "photo_patches",
]

#: The hues of the ambiguity set, as (a, b) in Lab units: all of chroma 45 and, at the
#: lightness :data:`INK_LIGHTNESS`, inside the sRGB gamut.
HUES: dict[str, tuple[float, float]] = {
    name: (45.0 * math.cos(math.radians(angle)), 45.0 * math.sin(math.radians(angle)))
    for name, angle in (("red", 30.0), ("yellow", 90.0), ("green", 150.0), ("blue", 270.0))
}
#: The Lab lightness L of a fully inked MNIST pixel in the ambiguity set (0-100).
INK_LIGHTNESS = 60.0

#: Every colour photograph of a natural scene that ships inside the installed packages
#: (no download): scikit-image's astronaut, chelsea (a cat), coffee, rocket and the left
#: view of its stereo motorcycle pair, and scikit-learn's china (a temple) and flower.
#: Left out: skimage's ``cat`` (the same picture as ``chelsea``), the right motorcycle
#: view (the same scene), the synthetic ``colorwheel`` and ``logo``, and the scientific
#: images ``hubble_deep_field`` (a false-colour telescope composite),
#: ``immunohistochemistry`` (stained tissue) and ``retina`` (a fundus image).
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower")
#: The photographs :func:`load_photos` keeps for testing: no patch of them is trained on.
TEST_PHOTOS = ("coffee", "flower")
#: The training photograph lecture 09 holds out for validation (choosing an epoch):
#: the smallest, so that the most training patches remain.
VALIDATION_PHOTOS = ("chelsea",)

CIFAR_PROBE = ("www.cs.toronto.edu", 443)
_DOWNLOAD_SOCKET_TIMEOUT = 20.0


@dataclass
class ColorFields:
    """Grey images and their colour fields, as tensors on one device.

    Attributes:
        grey: ``(N, 1, H, W)`` lightness L / 100 in [0, 1], the input G.
        color: ``(N, 2, H, W)`` ab / ``AB_SCALE`` (about [-1, 1]), the target C.
        hue: ``(N,)`` int64 index into ``hues`` (the ambiguity set), else ``None``.
        hues: ``(K, 2)`` the possible hues as colour-field values (ab / ``AB_SCALE``) of a
            fully inked pixel, or ``None``.
        name: what the set is, for messages and plots.
    """

    grey: Tensor
    color: Tensor
    hue: Tensor | None = None
    hues: Tensor | None = None
    name: str = "colour fields"

    def __post_init__(self):
        g, c = self.grey, self.color
        if g.dim() != 4 or g.shape[1] != 1 or c.dim() != 4 or c.shape[1] != 2:
            raise ValueError(
                f"ColorFields needs grey (N, 1, H, W) and color (N, 2, H, W), got "
                f"{tuple(g.shape)} and {tuple(c.shape)}"
            )
        if g.shape[0] != c.shape[0] or g.shape[2:] != c.shape[2:]:
            raise ValueError(
                f"ColorFields: grey {tuple(g.shape)} and color {tuple(c.shape)} differ in "
                "the number of images or in their size"
            )
        if self.hue is not None and len(self.hue) != len(g):
            raise ValueError(f"ColorFields: {len(self.hue)} hue labels for {len(g)} images")

    def __len__(self) -> int:
        return len(self.grey)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return tuple(self.grey.shape[2:])

    @property
    def device(self) -> torch.device:
        return self.grey.device

    def to(self, device: str | torch.device) -> ColorFields:
        move = (lambda t: None if t is None else t.to(device))  # noqa: E731
        return ColorFields(move(self.grey), move(self.color), move(self.hue), move(self.hues),
                           self.name)

    def __getitem__(self, index) -> ColorFields:
        """A subset (``fields[:8]``, ``fields[idx]``), still a :class:`ColorFields`."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        hue = None if self.hue is None else self.hue[index]
        return ColorFields(self.grey[index], self.color[index], hue, self.hues, self.name)

    def take(self, n: int | None, *, seed: int = 0) -> ColorFields:
        """``n`` images of a fixed shuffle (``None`` or ``n >= len``: all of them)."""
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"take(n) needs a positive number of images, got {n}")
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return self[order.to(self.device)]

    def rgb(self, color: Tensor | None = None) -> Tensor:
        """The images in RGB ``(N, 3, H, W)``; with ``color`` given (e.g. a model's
        prediction, ``(N, 2, H, W)``), that colour field on these grey images."""
        return merge_grey_color(self.grey, self.color if color is None else color)

    def batches(self, batch_size: int = 128, *, shuffle: bool = True, seed: int = 0) -> Batches:
        """Minibatches ``(grey, color)`` for :func:`vae_edu.train.fit`."""
        return Batches(self.grey, self.color, batch_size=batch_size, shuffle=shuffle, seed=seed)


# ----------------------------------------------------------------------------- the ambiguity set


def hued_mnist(
    split: MNISTSplit,
    hues: dict[str, tuple[float, float]] | None = None,
    *,
    lightness: float = INK_LIGHTNESS,
    seed: int = 0,
) -> ColorFields:
    """MNIST digits, each drawn in one hue picked at random: the ambiguity set.

    A pixel of ink intensity ``t`` in [0, 1] (the MNIST grey level) gets the Lab colour
    ``(L, a, b) = t * (lightness, a_k, b_k)`` for the digit's hue ``k``: black
    background, and the same lightness ``L = t * lightness`` whatever the hue. So
    ``grey = t * lightness / 100`` is identical for every hue, and the colour field is
    ``t * hue_k``.

    Args:
        split: an :class:`~vae_edu.data.MNISTSplit` (images ``(N, 1, 28, 28)``).
        hues: name -> (a, b) in Lab units; default :data:`HUES`.
        lightness: L of a fully inked pixel, in (0, 100].
        seed: picks the hue of each digit (uniformly, independent of the digit).

    Returns:
        :class:`ColorFields` with ``hue`` (N,) and ``hues`` (K, 2) filled in.
    """
    hues = HUES if hues is None else hues
    if not hues:
        raise ValueError("hued_mnist: give at least one hue")
    if not 0.0 < lightness <= 100.0:
        raise ValueError(f"hued_mnist: lightness must be in (0, 100], got {lightness}")
    t = split.images  # (N, 1, 28, 28) in [0, 1]
    table = torch.tensor(list(hues.values()), dtype=t.dtype, device=t.device) / AB_SCALE
    gen = torch.Generator().manual_seed(seed)
    hue = torch.randint(len(hues), (len(t),), generator=gen).to(t.device)
    color = t * table[hue][:, :, None, None]  # (N, 2, 28, 28)
    grey = t * (lightness / L_SCALE)
    return ColorFields(grey, color, hue, table, name=f"hued MNIST ({split.name})")


def hue_names(hues: dict[str, tuple[float, float]] | None = None) -> list[str]:
    """The names of the hues, in the order of their index: ``["red", "yellow", ...]``."""
    return list(HUES if hues is None else hues)


# ----------------------------------------------------------------------------- photographs


def _skimage_photo(name: str) -> np.ndarray:
    """One shipped photograph (scikit-image or scikit-learn), ``(H, W, 3)`` uint8."""
    import skimage.data

    if name not in PHOTOS:
        raise ValueError(f"unknown photograph {name!r}; choose from {', '.join(PHOTOS)}")
    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    return getattr(skimage.data, name)()


def photo_patches(
    size: int = 32,
    *,
    photos: tuple[str, ...] = PHOTOS,
    downscale: int = 2,
    stride: int = 8,
    test_fraction: float = 0.25,
    test_photos: tuple[str, ...] | None = None,
    device: str | torch.device | None = None,
) -> tuple[ColorFields, ColorFields]:
    """Square patches of the colour photographs that ship with scikit-image / -learn.

    Each photograph is shrunk by ``downscale`` (an average over ``downscale`` x
    ``downscale`` pixels), so that a patch shows objects rather than texture, then cut
    into ``size`` x ``size`` patches every ``stride`` pixels.

    ``test_photos=None``: the rightmost ``test_fraction`` of every photograph gives the
    test patches, the rest the training patches (no test patch overlaps a training
    patch, but both show the same scenes). ``test_photos=("coffee", ...)``: every patch
    of those photographs is a test patch and every patch of the others in ``photos`` a
    training patch: training and test come from **different photographs**
    (``test_fraction`` is then unused).

    Returns:
        ``(train, test)`` :class:`ColorFields` on ``device`` (default :func:`pick_device`).
    """
    unit_interval(test_fraction, "photo_patches: test_fraction", open_low=True, open_high=True)
    size = positive_int(size, "photo_patches: size")
    downscale = positive_int(downscale, "photo_patches: downscale")
    stride = positive_int(stride, "photo_patches: stride")
    if test_photos is not None:
        test_photos = tuple(test_photos)
        unknown = [n for n in test_photos if n not in photos]
        if unknown or not test_photos or len(test_photos) == len(set(photos)):
            raise ValueError(
                f"photo_patches: test_photos must be a non-empty proper subset of photos "
                f"{photos}, got {test_photos}"
            )
    parts: dict[str, list[Tensor]] = {"train": [], "test": []}
    for name in photos:
        rgb = torch.from_numpy(_skimage_photo(name)[..., :3].copy()).permute(2, 0, 1)
        rgb = F.avg_pool2d(rgb[None].double() / 255.0, downscale)  # (1, 3, H, W)
        lab = torch.cat(split_grey_color(rgb), dim=1)  # (1, 3, H, W): grey, then color
        if test_photos is not None:
            regions = (("test" if name in test_photos else "train", lab),)
        else:
            cut = int(round(lab.shape[-1] * (1.0 - test_fraction)))
            regions = (("train", lab[..., :cut]), ("test", lab[..., cut:]))
        for split, region in regions:
            if min(region.shape[-2:]) < size:
                raise ValueError(
                    f"photo_patches: the {split} part of {name!r} is smaller than a patch of "
                    f"{size} pixels; use a smaller size, downscale or test_fraction"
                )
            patches = region.unfold(2, size, stride).unfold(3, size, stride)  # 1,3,h,w,s,s
            parts[split].append(patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, size, size))
    device = pick_device(device)
    out = []
    for split in ("train", "test"):
        fields = torch.cat(parts[split]).float().to(device)
        out.append(ColorFields(fields[:, :1].contiguous(), fields[:, 1:].contiguous(),
                               name=f"photo patches ({split})"))
    return out[0], out[1]


def _cifar_fields(data, n: int | None, seed: int, device, name: str) -> ColorFields:
    """``n`` images of a torchvision CIFAR10 split (a fixed shuffle), as colour fields.

    Only the chosen images are converted to Lab, 10,000 at a time."""
    images = data.data  # (N, 32, 32, 3) uint8
    if n is not None and n < len(images):
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        images = images[order[:n].numpy()]
    greys, colors = [], []
    for start in range(0, len(images), 10_000):
        rgb = torch.from_numpy(images[start : start + 10_000]).permute(0, 3, 1, 2)
        grey, color = split_grey_color(rgb.float() / 255.0)
        greys.append(grey)
        colors.append(color)
    return ColorFields(torch.cat(greys).to(device), torch.cat(colors).to(device),
                       name=f"CIFAR-10 ({name})")


def load_cifar10(
    train_size: int | None = None,
    test_size: int | None = None,
    *,
    seed: int = 0,
    download: bool = True,
    device: str | torch.device | None = None,
) -> tuple[ColorFields, ColorFields] | None:
    """CIFAR-10 (32 x 32 colour photographs) as ``(train, test)`` colour fields, or None.

    Looks in ``$VAE_EDU_CACHE/cifar10`` (default ``~/.cache/vae_edu``); downloads there
    through torchvision when it is missing, ``download`` is true, ``$VAE_EDU_OFFLINE``
    is not set and the server answers within a few seconds. Returns ``None`` (and says
    why when a download fails) when none of this works: CIFAR-10 is a bonus, never
    required. ``train_size`` / ``test_size`` images of a fixed shuffle (``seed``) are
    kept (``None``: all 50,000 / 10,000).
    """
    from torchvision.datasets import CIFAR10

    folder = cache_dir() / "cifar10"
    try:
        train, test = CIFAR10(str(folder), train=True), CIFAR10(str(folder), train=False)
    except (RuntimeError, OSError):
        if not download or offline() or not network_reachable(CIFAR_PROBE):
            return None
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(_DOWNLOAD_SOCKET_TIMEOUT)
        try:
            train = CIFAR10(str(folder), train=True, download=True)
            test = CIFAR10(str(folder), train=False, download=True)
        except Exception as err:  # noqa: BLE001 - any failure means: no CIFAR-10
            print(f"vae_edu: downloading CIFAR-10 failed ({type(err).__name__}: {err})")
            return None
        finally:
            socket.setdefaulttimeout(previous)
    device = pick_device(device)
    return (_cifar_fields(train, train_size, seed, device, "train"),
            _cifar_fields(test, test_size, seed, device, "test"))


@dataclass
class PhotoData:
    """Training, test (and validation) colour fields of real photographs, and their source."""

    train: ColorFields
    test: ColorFields
    source: str
    validation: ColorFields | None = None

    def describe(self) -> str:
        held = f", {len(self.validation)} validation" if self.validation is not None else ""
        return (f"{self.source}: {len(self.train)} training{held} and {len(self.test)} test "
                f"images")


def load_photos(
    train_size: int | None = None,
    test_size: int | None = None,
    *,
    source: str = "photos",
    device: str | torch.device | None = None,
    quiet: bool = False,
    validation_photos: tuple[str, ...] = (),
) -> PhotoData:
    """Real colour photographs, 32 x 32; by default the same offline set for everyone.

    ``source="photos"`` (default): 32 x 32 patches (stride 8, each photograph shrunk by 2)
    of the :data:`PHOTOS` that ship with scikit-image and scikit-learn; the patches of
    :data:`TEST_PHOTOS` are the test set, those of the other photographs the training
    set: no download, and training and test come from different photographs.
    ``source="cifar10"``: CIFAR-10 when it is cached or can be downloaded (an error
    otherwise); other images and other numbers than the stored outputs of lecture 09.

    Args:
        train_size, test_size: how many images of each split to keep (a fixed shuffle;
            ``None``: all of them); ``test_size`` also caps the validation split.
        validation_photos: training photographs (e.g. :data:`VALIDATION_PHOTOS`) whose
            patches become ``PhotoData.validation`` instead of training patches: a split
            to choose an epoch on that shows scenes neither the training nor the test
            patches show (``source="photos"`` only).
        quiet: do not print the line that names the photographs of each split.
    """
    if source not in ("photos", "cifar10"):
        raise ValueError(f"load_photos: source must be 'photos' or 'cifar10', got {source!r}")
    validation_photos = tuple(validation_photos)
    train_photos = tuple(n for n in PHOTOS if n not in TEST_PHOTOS)
    if validation_photos and source != "photos":
        raise ValueError(
            "load_photos: validation_photos are photographs of source='photos'; for "
            f"{source!r} hold out part of PhotoData.train instead (its .take(n, seed=...))"
        )
    unknown = [n for n in validation_photos if n not in train_photos]
    if unknown or len(set(validation_photos)) >= len(train_photos):
        raise ValueError(
            f"load_photos: validation_photos must be some, not all, of the training "
            f"photographs {train_photos}, got {validation_photos}"
        )
    if source == "cifar10":
        cifar = load_cifar10(train_size, test_size, device=device)
        if cifar is None:
            raise RuntimeError(
                "CIFAR-10 is neither cached nor downloadable (offline, or no network); "
                "use source='photos' for the photographs that ship with scikit-image and "
                "scikit-learn"
            )
        return PhotoData(*cifar, source="CIFAR-10")
    train, test = photo_patches(32, test_photos=TEST_PHOTOS, device=device)
    validation = None
    if validation_photos:  # the same patches, the held-out photographs' apart
        train, validation = photo_patches(32, photos=train_photos,
                                          test_photos=validation_photos, device=device)
        train_photos = tuple(n for n in train_photos if n not in validation_photos)
    if not quiet:
        held = (f"validation {len(validation)} patches of {len(validation_photos)} "
                f"({', '.join(validation_photos)}), " if validation is not None else "")
        print(
            f"vae_edu: 32 x 32 patches of {len(PHOTOS)} photographs shipped with "
            f"scikit-image and scikit-learn: training {len(train)} patches of "
            f"{len(train_photos)} photographs ({', '.join(train_photos)}), {held}test "
            f"{len(test)} patches of {len(TEST_PHOTOS)} others ({', '.join(TEST_PHOTOS)})"
        )
    return PhotoData(train.take(train_size), test.take(test_size),
                     source="shipped photographs (patches)",
                     validation=validation.take(test_size) if validation is not None else None)
