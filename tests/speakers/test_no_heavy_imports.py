"""The speaker tools run on numpy and onnxruntime alone: no torch, scipy, scikit-learn or librosa."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HERE = Path(__file__).resolve().parent


def test_speaker_turns_import_no_heavy_modules():
    code = """
import sys
from speaker_helpers import voice
from ser.speakers import VoiceEncoder, group_by_voice, speaker_turns
import numpy as np
signal = np.concatenate([voice(3), np.zeros(8000, np.float32), voice(10)])
speaker_turns(signal, [(0.0, 3.3), (3.9, signal.shape[0] / 16000)])
group_by_voice(VoiceEncoder.from_pretrained().embed_batch([voice(3), voice(10)]))
heavy = [m for m in ("torch", "scipy", "sklearn", "librosa", "pandas") if m in sys.modules]
assert not heavy, heavy
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
