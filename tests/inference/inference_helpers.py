"""Helpers for the inference tests: a tiny random ONNX model per the exported-model contract, synthetic speech.

torch is used here only to build the fixture; the code under test never imports it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

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
    with warnings.catch_warnings():  # the legacy exporter's deprecation notices
        warnings.simplefilter("ignore")
        _export(torch, model, path)


def _export(torch, model, path: Path) -> None:
    torch.onnx.export(
        model,
        (torch.randn(2, 80, 50),),
        str(path),
        input_names=["input_features"],
        output_names=["logits"],
        dynamic_axes={"input_features": {0: "batch", 2: "frames"}, "logits": {0: "batch"}},
        dynamo=False,  # the TorchScript exporter: fast, and dynamic_axes as the contract needs
    )


def speechlike(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Amplitude-modulated harmonic noise: energy that varies like syllables, float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 6))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (level * envelope * (voice / 3 + 0.05 * rng.standard_normal(t.shape[0]))).astype(np.float32)
