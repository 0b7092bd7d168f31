"""vae_edu.atomic: a file is replaced whole or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from vae_edu.atomic import atomic_file, write_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk full"), atomic_file(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]


def test_text_and_bytes_and_a_new_folder(tmp_path):
    assert write_atomic(tmp_path / "a" / "b.txt", "x\ny\n").read_text() == "x\ny\n"
    assert write_atomic(tmp_path / "c.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    with atomic_file(tmp_path / "d.txt", newline="") as fh:
        fh.write("r\r\n")
    assert (tmp_path / "d.txt").read_bytes() == b"r\r\n"


def test_keep_mode_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "nb.ipynb"
    target.write_text("{}")
    os.chmod(target, 0o640)
    with atomic_file(target, keep_mode=True) as fh:
        fh.write("{ }")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text() == "{ }"


def test_a_wrong_mode_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb'"), \
            atomic_file(tmp_path / "x", "a"):
        pass
    assert not list(tmp_path.iterdir())
