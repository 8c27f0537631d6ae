"""Fixtures for the corpus readers: tiny audio files written under official names."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus_helpers import write_clip


@pytest.fixture
def clips(tmp_path):
    """``clips("a/b.wav", "c.flac")`` writes silent clips under tmp_path and returns tmp_path."""

    def write(*names: str) -> Path:
        for name in names:
            write_clip(tmp_path / name)
        return tmp_path

    return write
