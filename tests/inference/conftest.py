"""A tiny random ONNX model following the exported-model contract, built once per session.

torch is used here only to build the fixture; the code under test never imports it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

LABELS = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
SR = 16000


def write_config(directory: Path, **overrides) -> dict:
    config = {
        "format": "ser-model/1",
        "backend": "onnx",
        "name": "tiny-test",
        "version": "0.0.1",
        "labels": LABELS,
        "sample_rate": SR,
        "frontend": {"kind": "whisper_logmel", "n_mels": 80},
        "onnx": {"file": "model.onnx", "input": "input_features", "output": "logits"},
        "temperature": 1.0,
        "max_frames": 3000,
        "min_samples": 1600,
        "metrics": {},
    }
    config.update(overrides)
    (directory / "ser_model.json").write_text(json.dumps(config), encoding="utf-8")
    return config


def export_tiny(path: Path, n_out: int = len(LABELS), seed: int = 0) -> None:
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv1d(80, 16, 3, padding=1)
            self.fc = torch.nn.Linear(16, n_out)

        def forward(self, x):
            # Mean over frames: clips are batched only with clips of equal length, so no mask.
            return 3.0 * self.fc(torch.relu(self.conv(x)).mean(-1))

    torch.manual_seed(seed)
    model = Tiny().eval()
    torch.onnx.export(
        model,
        (torch.randn(2, 80, 50),),
        str(path),
        input_names=["input_features"],
        output_names=["logits"],
        dynamic_axes={"input_features": {0: "batch", 2: "frames"}, "logits": {0: "batch"}},
        dynamo=False,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A model folder: ser_model.json + model.onnx (conv1d, mean over time, linear to 7 classes)."""
    directory = tmp_path_factory.mktemp("tiny_model")
    export_tiny(directory / "model.onnx")
    write_config(directory)
    return directory


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path) -> Path:
    """A writable copy of the tiny model, for tests that break it."""
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


@pytest.fixture(scope="session")
def recognizer(tiny_model_dir):
    from ser.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(tiny_model_dir)


def speechlike(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Amplitude-modulated harmonic noise: energy that varies like syllables, float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (level * envelope * (voice / 3 + 0.05 * rng.standard_normal(t.shape[0]))).astype(np.float32)
