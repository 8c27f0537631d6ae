"""Helpers shared by the corpora9 tests: tiny audio files under real corpus names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_clip(path: Path, seconds: float = 0.05, sr: int = 16000) -> Path:
    """A short quiet tone at `path` (parents created); the format follows the extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path
