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


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_VOICED: list[np.ndarray] = []


def _voiced_stretches() -> list[np.ndarray]:
    """The clearly voiced parts of each example clip (speech probability >= 0.8), one array per clip."""
    if not _VOICED:
        from ser.audio import load
        from ser.inference.vad import SpeechDetector, VadOptions

        detector = SpeechDetector.from_pretrained()
        for path in sorted(EXAMPLES.glob("*.flac")):
            clip = load(path)
            # As Silero alone hears them (no detector gain): the loud, unmistakable parts.
            options = VadOptions(threshold=0.8, min_silence=0.05, min_speech=0.1, pad=0.0, max_gain_db=0.0)
            regions = detector.regions(clip, options)
            _VOICED.append(np.concatenate([clip[int(a * SR) : int(b * SR)] for a, b in regions]))
    return _VOICED


def real_speech(seconds: float, seed: int = 0, level: float | None = None) -> np.ndarray:
    """`seconds` of real speech (the example clips' voiced parts, from clip `seed` on), float32 at 16 kHz.

    The speech detector must find speech in these (synthetic tones it rightly does not take for
    a voice). `level` rescales the peak.
    """
    stretches = _voiced_stretches()
    parts, total, k = [], 0, seed
    while total < seconds * SR:
        parts.append(stretches[k % len(stretches)])
        total += parts[-1].shape[0]
        k += 1
    out = np.concatenate(parts)[: int(seconds * SR)]
    if level is not None:
        out = out * (level / max(float(np.abs(out).max()), 1e-9))
    return out.astype(np.float32)


def write_adaptable_model(directory: Path, dimension: int = 16, seed: int = 0) -> None:
    """A tiny adaptable model folder: the graph outputs a `dimension`-d embedding, head.npz holds a
    speaker-centred linear head (docs/predict.md), as the shipped recipe exports it."""
    directory.mkdir(parents=True, exist_ok=True)
    export_tiny(directory / "model.onnx", n_out=dimension, seed=seed)
    rng = np.random.default_rng(seed)
    np.savez(
        directory / "head.npz",
        population_mean=rng.normal(0, 0.5, dimension), scaler_mean=np.zeros(dimension),
        scaler_scale=np.ones(dimension), coef=rng.normal(0, 1.0, (len(LABELS), dimension)), intercept=np.zeros(len(LABELS)),
    )
    write_config(
        directory, onnx={"file": "model.onnx", "input": "input_features", "output": "logits"},
        head={"file": "head.npz", "kind": "centred_linear"},
        adaptation={"kind": "speaker_centring", "shrinkage": 2.0, "temperature_adapted": 1.5},
    )
