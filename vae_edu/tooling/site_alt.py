"""A Sphinx extension of ``vae-edu site``: each notebook image gets the alt text its
output stores (``{"image/png": {"alt": ...}}``, written by ``vae_edu.viz.describe``).

myst-nb copies only ``width`` and ``height`` from an output's metadata to the image node,
and an image node without ``alt`` is written as ``alt="<file name>"`` by docutils, which
reads as a description but is none.  myst-nb names each image file by the SHA-256 of its
bytes, so the image nodes of a notebook page are matched to its outputs by that hash
once the page is read (``doctree-read``); an image whose output has no alt gets
``alt=""``, which tests/test_site_browser.py reports.
"""

from __future__ import annotations

import hashlib
import json
from binascii import a2b_base64
from pathlib import Path

from docutils import nodes

_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")


def alt_texts(notebook: dict) -> dict[str, str | None]:
    """SHA-256 of each image output's bytes -> its stored alt text (``None`` if none)."""
    out: dict[str, str | None] = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            for mime in _IMAGE_MIMES:
                if mime in data:
                    content = data[mime]
                    content = "".join(content) if isinstance(content, list) else content
                    digest = hashlib.sha256(a2b_base64(content)).hexdigest()
                    alt = output.get("metadata", {}).get(mime, {}).get("alt")
                    if out.get(digest) is None:
                        out[digest] = alt
    return out


def _set_alts(app, doctree) -> None:
    source = Path(app.env.doc2path(app.env.docname))
    if source.suffix != ".ipynb":
        return
    alts = alt_texts(json.loads(source.read_text(encoding="utf-8")))
    for node in doctree.findall(nodes.image):
        digest = Path(node.get("uri", "")).stem
        if digest in alts:
            node["alt"] = alts[digest] or ""


def setup(app):
    app.connect("doctree-read", _set_alts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
