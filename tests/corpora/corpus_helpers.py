"""Helpers shared by the corpus reader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
CLIP_SECONDS = 0.1


def write_clip(path: Path) -> Path:
    """0.1 s of silence at `path` (FLAC for ``.flac``, else WAV bytes), creating its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    sf.write(str(path), np.zeros(int(SAMPLE_RATE * CLIP_SECONDS), dtype=np.float32), SAMPLE_RATE, format=kind)
    return path


def by_name(index) -> dict:
    """The index's utterances keyed by file name."""
    return {Path(u.path).name: u for u in index.utterances}


def skipped_names(index) -> set[str]:
    """The names of the files an index skipped."""
    return {Path(p).name for p, _ in index.skipped}
