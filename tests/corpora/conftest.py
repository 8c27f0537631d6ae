"""Fixtures for the corpus readers: tiny audio files written under official names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SAMPLE_RATE = 16000
CLIP_SECONDS = 0.1


def write_clip(path: Path) -> Path:
    """0.1 s of silence at `path` (FLAC for ``.flac``, else WAV bytes), creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    sf.write(str(path), np.zeros(int(SAMPLE_RATE * CLIP_SECONDS), dtype=np.float32), SAMPLE_RATE, format=kind)
    return path


@pytest.fixture
def clips(tmp_path):
    """``clips("a/b.wav", "c.flac")`` writes silent clips under tmp_path and returns tmp_path."""

    def write(*names: str) -> Path:
        for name in names:
            write_clip(tmp_path / name)
        return tmp_path

    return write
