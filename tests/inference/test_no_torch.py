"""Predicting must not import the training stack: a fresh laptop has only the core dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = ("torch", "librosa", "sklearn", "transformers", "matplotlib", "pandas")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)}
    )


def test_inference_imports_no_heavy_modules(tiny_model_dir, tmp_path):
    import soundfile as sf

    from inference_helpers import real_speech

    sf.write(tmp_path / "clip.wav", real_speech(3.0), 16000)
    code = f"""
import sys, numpy as np, ser
r = ser.Recognizer.from_pretrained({str(tiny_model_dir)!r})
r({str(tmp_path / "clip.wav")!r}); r(np.zeros(8000, np.float32), sr=8000)
r.predict_batch([{str(tmp_path / "clip.wav")!r}])
r.timeline({str(tmp_path / "clip.wav")!r}); r.timeline({str(tmp_path / "clip.wav")!r}, vad=False)
s = r.stream(); s.feed(np.zeros(40000, np.int16)); s.flush()
loaded = [m for m in {HEAVY!r} if m in sys.modules]
assert not loaded, loaded
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr


def test_predict_command_imports_no_heavy_modules(tiny_model_dir, tmp_path):
    import soundfile as sf

    from inference_helpers import real_speech

    sf.write(tmp_path / "clip.wav", real_speech(3.0), 16000)
    code = f"""
import sys
from ser.cli.main import main
for extra in ([], ["--timeline"], ["--format", "json"], ["--format", "csv"]):
    assert main(["predict", {str(tmp_path / "clip.wav")!r}, "--model", {str(tiny_model_dir)!r}, *extra]) == 0
loaded = [m for m in {HEAVY!r} if m in sys.modules]
assert not loaded, loaded
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
