"""Write the offline MNIST subset that ships inside the package.

    python tools/make_mnist_subset.py ../shared/data/mnist

Takes the first 600 training and 200 test images of each digit, in file order, and
writes them as gzipped IDX files (fixed gzip timestamp, so the bytes are reproducible)
into vae_edu/mnist_subset/.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np

from vae_edu.data import (
    FILES,
    SUBSET_DIR,
    SUBSET_PER_DIGIT,
    _read_split,
    encode_idx,
    find_idx_folder,
)


def subset_files(source: Path) -> dict[str, bytes]:
    """File name -> gzipped IDX bytes of the subset taken from the full set in ``source``."""
    out = {}
    for split, (image_stem, label_stem) in FILES.items():
        images, labels = _read_split(source, split)
        per_digit = SUBSET_PER_DIGIT[split]
        keep = np.sort(
            np.concatenate([np.flatnonzero(labels == d)[:per_digit] for d in range(10)])
        )
        for stem, array in ((image_stem, images[keep]), (label_stem, labels[keep])):
            out[stem + ".gz"] = gzip.compress(encode_idx(array), compresslevel=9, mtime=0)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    source = find_idx_folder(argv[0])
    if source is None:
        print(f"no MNIST files in {argv[0]}")
        return 1
    SUBSET_DIR.mkdir(exist_ok=True)
    for name, data in subset_files(source).items():
        (SUBSET_DIR / name).write_bytes(data)
        print(f"wrote {SUBSET_DIR / name} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
