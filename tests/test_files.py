"""ser.files: written files appear whole, with the permissions a plain open would give."""

from __future__ import annotations

import os
import stat

import pytest

from ser.files import atomic_write
from ser.manifest import Utterance, write_manifest


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as handle:
            handle.write("x")
        write_manifest([Utterance(path="a.wav", corpus="c", speaker="s", emotion="angry")], tmp_path / "m.csv")
    finally:
        os.umask(old)
    for name in ("a.txt", "m.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_a_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as handle:
            handle.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
