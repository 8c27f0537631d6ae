"""Helpers of the service tests (importable from every test module here)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_helpers import LABELS, SR, export_tiny, speechlike, write_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

__all__ = ["LABELS", "SR", "EXAMPLES", "REPO", "wav_bytes", "speechlike", "export_tiny", "write_config"]


def wav_bytes(signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16", format: str = "WAV") -> bytes:
    """`signal` encoded as a sound file (WAV by default), in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, subtype=subtype, format=format)
    return buffer.getvalue()
