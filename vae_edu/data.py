"""MNIST as in-memory tensors, offline first, batched by a shuffled index.

Where the images come from, in this order:

1. a folder you name (``load_mnist("path")``) or ``$VAE_EDU_DATA``: the four standard IDX
   files, gzipped or not, or torchvision's ``MNIST/raw`` layout below it;
2. torchvision's normal download into a cache folder (``$VAE_EDU_CACHE``, default
   ``~/.cache/vae_edu``), reused once it is there; skipped when ``$VAE_EDU_OFFLINE`` is set
   or the network does not answer within a few seconds;
3. a small balanced subset that ships inside the package (600 training and 200 test
   images per digit), announced by one line.

Every split lives on the training device as one tensor, ``images: (N, 1, 28, 28)``
float32 in [0, 1] and ``labels: (N,)`` int64, and :class:`Batches` cuts minibatches out
of it with a shuffled index: no per-sample Python, no DataLoader workers.
"""

from __future__ import annotations

import gzip
import os
import socket
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .device import pick_device
from .validation import positive_int

DATA_ENV = "VAE_EDU_DATA"
CACHE_ENV = "VAE_EDU_CACHE"
OFFLINE_ENV = "VAE_EDU_OFFLINE"

SUBSET_DIR = Path(__file__).with_name("mnist_subset")
SUBSET_PER_DIGIT = {"train": 600, "test": 200}

# file stems of the official distribution, per split
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
DOWNLOAD_PROBE = ("ossci-datasets.s3.amazonaws.com", 443)
PROBE_SECONDS = 3.0
DOWNLOAD_SOCKET_TIMEOUT = 20.0

_IDX_DTYPES = {0x08: np.uint8}


class DataFileError(RuntimeError):
    """A data file is missing, truncated or not what its name says."""


# ----------------------------------------------------------------------------- IDX files


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a uint8 array of its declared shape.

    Raises :class:`DataFileError` naming the file and the remedy when the file is
    truncated, is not gzip/IDX, or holds fewer bytes than its header declares.
    """
    path = Path(path)
    remedy = (
        "delete it and download the original again, or point "
        f"${DATA_ENV} at a folder with intact MNIST files"
    )
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as err:
        raise DataFileError(f"{path} is truncated or corrupt ({err}); {remedy}") from err
    if len(raw) < 4:
        raise DataFileError(f"{path} is empty or truncated ({len(raw)} bytes); {remedy}")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise DataFileError(f"{path} is not an IDX file of unsigned bytes (bad header); {remedy}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataFileError(f"{path} is truncated inside its header; {remedy}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataFileError(
            f"{path} declares shape {tuple(shape)} ({expected} bytes) but holds "
            f"{len(raw) - header} bytes: truncated or corrupt; {remedy}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of a uint8 array (the inverse of :func:`read_idx`, before gzip)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def find_idx_folder(root: str | os.PathLike) -> Path | None:
    """The folder below ``root`` that holds the four MNIST files, or None.

    Accepts the files in ``root`` itself, in ``root/raw`` or in ``root/MNIST/raw``
    (torchvision's layout), each gzipped or not.
    """
    root = Path(root).expanduser()
    for folder in (root, root / "raw", root / "MNIST" / "raw"):
        if all(_idx_file(folder, stem) is not None for pair in FILES.values() for stem in pair):
            return folder
    return None


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_split(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    image_stem, label_stem = FILES[split]
    images = read_idx(_idx_file(folder, image_stem))
    labels = read_idx(_idx_file(folder, label_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1:
        raise DataFileError(
            f"{folder}: {split} files hold arrays of shapes {images.shape} and {labels.shape}, "
            "expected (N, 28, 28) images and (N,) labels"
        )
    if len(images) != len(labels):
        raise DataFileError(
            f"{folder}: {len(images)} {split} images but {len(labels)} labels; "
            "the files come from different downloads"
        )
    if labels.size and labels.max() > 9:
        raise DataFileError(f"{folder}: {split} labels go up to {labels.max()}, expected 0-9")
    return images, labels


# ----------------------------------------------------------------------------- splits


@dataclass
class MNISTSplit:
    """One split of MNIST held as tensors on one device.

    images: (N, 1, 28, 28) float32 in [0, 1]; labels: (N,) int64 in 0..9.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str = "train"

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: str | torch.device) -> MNISTSplit:
        return MNISTSplit(self.images.to(device), self.labels.to(device), self.name)

    def flat(self) -> torch.Tensor:
        """Images as (N, 784) rows, for PCA, scikit-learn and MLPs."""
        return self.images.flatten(1)

    def one_hot(self) -> torch.Tensor:
        """Labels as (N, 10) float one-hot vectors (the y of a conditional VAE)."""
        return torch.nn.functional.one_hot(self.labels, 10).float()

    def binarized(self, seed: int = 0) -> torch.Tensor:
        """A fixed binarisation: each pixel is 1 with probability its intensity."""
        gen = torch.Generator(device=self.device).manual_seed(seed)
        return torch.bernoulli(self.images, generator=gen)

    def take(self, n: int | None, *, seed: int = 0) -> MNISTSplit:
        """The first ``n`` images of a fixed shuffle, balanced over digits as far as possible.

        ``n=None`` (the ``full`` budgets) or ``n >= len(self)`` returns the split itself.
        """
        if n is None or n >= len(self):
            return self
        if n <= 0:
            raise ValueError(f"take(n) needs a positive number of images, got {n}")
        gen = torch.Generator().manual_seed(seed)
        labels = self.labels.cpu()
        order = torch.randperm(len(labels), generator=gen)
        # rank of each image within its digit in the shuffled order; sorting by rank
        # interleaves the digits so that any prefix is balanced
        shuffled = labels[order]
        rank = torch.empty_like(shuffled)
        for digit in range(10):
            where = (shuffled == digit).nonzero().squeeze(1)
            rank[where] = torch.arange(len(where))
        chosen = order[torch.sort(rank * 10 + shuffled, stable=True).indices[:n]]
        chosen = chosen.to(self.device)
        return MNISTSplit(self.images[chosen], self.labels[chosen], self.name)

    def batches(
        self,
        batch_size: int = 128,
        *,
        shuffle: bool = True,
        seed: int = 0,
        binarize: bool = False,
        drop_last: bool = False,
    ) -> Batches:
        """Minibatches ``(x, y)`` of this split; see :class:`Batches`."""
        return Batches(
            self.images,
            self.labels,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            binarize=binarize,
            drop_last=drop_last,
        )


@dataclass(frozen=True)
class DataSource:
    """Where the images came from: ``folder``, ``download`` or ``subset``."""

    kind: str
    path: Path
    note: str = ""

    def describe(self) -> str:
        what = {
            "folder": "full MNIST from",
            "download": "full MNIST downloaded to",
            "subset": "the offline subset shipped in",
        }[self.kind]
        return f"{what} {self.path}"


@dataclass
class MNIST:
    """Both splits of MNIST and where they came from."""

    train: MNISTSplit
    test: MNISTSplit
    source: DataSource = field(repr=False)

    def describe(self) -> str:
        return (
            f"{self.source.describe()} "
            f"({len(self.train)} training and {len(self.test)} test images)"
        )


# ----------------------------------------------------------------------------- sources


def cache_dir() -> Path:
    """The folder torchvision downloads into: ``$VAE_EDU_CACHE`` or ``~/.cache/vae_edu``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or Path.home() / ".cache"
    return Path(base) / "vae_edu"


def offline() -> bool:
    """True when ``$VAE_EDU_OFFLINE`` asks never to touch the network."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def network_reachable(address=DOWNLOAD_PROBE, timeout: float = PROBE_SECONDS) -> bool:
    """Whether a TCP connection to ``address`` opens within ``timeout`` seconds.

    Runs in a daemon thread so that a hanging DNS lookup cannot hang the caller.
    """
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(address, timeout=timeout):
                result.append(True)
        except Exception:  # noqa: BLE001 - whatever fails, the answer is "no network"
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _download(folder: Path) -> Path | None:
    """torchvision's download of MNIST into ``folder``; None (and why) when it fails."""
    from torchvision.datasets import MNIST as TorchvisionMNIST

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT)
    try:
        for train in (True, False):
            TorchvisionMNIST(str(folder), train=train, download=True)
    except Exception as err:  # noqa: BLE001 - any failure means: use the subset
        print(f"vae_edu: downloading MNIST failed ({type(err).__name__}: {err})")
        return None
    finally:
        socket.setdefaulttimeout(previous)
    return find_idx_folder(folder)


def locate_mnist(root: str | os.PathLike | None = None, *, download: bool = True) -> DataSource:
    """Decide where MNIST comes from, without loading it (see the module docstring)."""
    if root is None:
        root = os.environ.get(DATA_ENV, "").strip() or None
        asked = f"${DATA_ENV}={root}"
    else:
        asked = str(root)
    if root is not None:
        folder = find_idx_folder(root)
        if folder is None:
            raise DataFileError(
                f"no MNIST files in {asked}: expected {', '.join(FILES['train'] + FILES['test'])} "
                "(each optionally .gz) in that folder, in raw/ or in MNIST/raw/ below it; "
                f"fix the path, or give none (and unset {DATA_ENV}) to use the download "
                "or the shipped subset"
            )
        return DataSource("folder", folder)
    cached = find_idx_folder(cache_dir())
    if cached is not None:
        return DataSource("download", cached)
    why = "offline"
    if download and not offline():
        if network_reachable():
            fetched = _download(cache_dir())
            if fetched is not None:
                return DataSource("download", fetched)
            why = "the download failed"
        else:
            why = "no network"
    return DataSource("subset", SUBSET_DIR, note=why)


def load_mnist(
    root: str | os.PathLike | None = None,
    *,
    device: str | torch.device | None = None,
    download: bool = True,
    quiet: bool = False,
) -> MNIST:
    """MNIST train and test splits as tensors on ``device`` (default: :func:`pick_device`).

    ``root`` (or ``$VAE_EDU_DATA``) names a folder with the IDX files; without it the
    cached or downloaded full set is used, else the shipped subset, with one line saying so.
    """
    source = locate_mnist(root, download=download)
    if source.kind == "subset" and not quiet:
        print(
            f"vae_edu: using the offline MNIST subset shipped with the package ({source.note}): "
            f"{SUBSET_PER_DIGIT['train']} training and {SUBSET_PER_DIGIT['test']} test images "
            f"per digit. Set {DATA_ENV} to a folder with the full MNIST for better results."
        )
    device = pick_device(device)
    splits = {}
    for split in ("train", "test"):
        images, labels = _read_split(source.path, split)
        splits[split] = MNISTSplit(
            images=torch.from_numpy(images.copy()).to(device).unsqueeze(1).float().div_(255.0),
            labels=torch.from_numpy(labels.astype(np.int64)).to(device),
            name=split,
        )
    return MNIST(train=splits["train"], test=splits["test"], source=source)


# ----------------------------------------------------------------------------- batching


class Batches:
    """Minibatches of equally long tensors, cut by a shuffled index on their device.

    ``for x, y in Batches(images, labels, batch_size=128, seed=0)`` yields slices of the
    tensors given; each pass draws a new permutation from a generator seeded once, so
    two ``Batches`` with the same seed give the same sequence of epochs.  With
    ``binarize=True`` the first tensor is dynamically binarised (each pixel drawn as
    Bernoulli(intensity) anew in every batch).  :meth:`state_dict` captures the
    generators so that resumed training sees the same batches as an uninterrupted run.
    """

    def __init__(
        self,
        *tensors: torch.Tensor,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int = 0,
        binarize: bool = False,
        drop_last: bool = False,
    ):
        if not tensors:
            raise ValueError("Batches needs at least one tensor")
        n = len(tensors[0])
        for t in tensors[1:]:
            if len(t) != n or t.device != tensors[0].device:
                raise ValueError(
                    "Batches needs tensors of the same length on the same device, got "
                    + ", ".join(f"{tuple(t.shape)} on {t.device}" for t in tensors)
                )
        batch_size = positive_int(batch_size, "batch_size")
        if n == 0:
            raise ValueError("Batches got empty tensors: there is nothing to train on")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.binarize = binarize
        self.drop_last = drop_last
        self.device = tensors[0].device
        self._order_gen = torch.Generator().manual_seed(seed)
        noise_device = self.device if self.device.type == "cuda" else torch.device("cpu")
        self._noise_gen = torch.Generator(device=noise_device).manual_seed(seed + 1)

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.tensors[0])

    def __iter__(self):
        n = len(self.tensors[0])
        if self.shuffle:
            order = torch.randperm(n, generator=self._order_gen).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            index = order[start : start + self.batch_size]
            batch = [t[index] for t in self.tensors]
            if self.binarize:
                batch[0] = self._bernoulli(batch[0])
            yield tuple(batch)

    def _bernoulli(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == self._noise_gen.device.type:
            return torch.bernoulli(x, generator=self._noise_gen)
        noise = torch.rand(x.shape, generator=self._noise_gen).to(x.device)
        return (noise < x).to(x.dtype)

    def state_dict(self) -> dict:
        return {
            "order": self._order_gen.get_state(),
            "noise": self._noise_gen.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self._order_gen.set_state(state["order"])
        self._noise_gen.set_state(state["noise"])
