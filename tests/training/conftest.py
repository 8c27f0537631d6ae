"""A tiny synthetic corpus for the training tests: 6 speakers x 3 emotions x 2 clips of 0.4 s.

Each emotion is a harmonic tone of its own pitch (speakers shift it a little), plus noise, so
the classes are learnable in a couple of epochs and every model can be checked to beat chance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser.manifest import Utterance, write_manifest

EMOTIONS = ("angry", "happy", "sad")
PITCH = {"angry": 300.0, "happy": 500.0, "sad": 150.0}


def tiny_clip(emotion: str, speaker: int, take: int, seconds: float = 0.4) -> np.ndarray:
    rng = np.random.default_rng([speaker, take, EMOTIONS.index(emotion)])
    t = np.arange(int(16000 * seconds)) / 16000
    f0 = PITCH[emotion] * (1 + 0.05 * speaker)
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    return (0.3 * y / 2 + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def make_corpus(root: Path, n_speakers: int = 6, takes: int = 2) -> Path:
    import soundfile as sf

    rows = []
    for s in range(n_speakers):
        gender = "female" if s % 2 == 0 else "male"
        for emotion in EMOTIONS:
            for take in range(takes):
                path = root / f"spk{s}" / f"{emotion}_{take}.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, tiny_clip(emotion, s, take), 16000)
                rows.append(Utterance(path=str(path), corpus="tiny", speaker=f"tiny_{s}", emotion=emotion,
                                      gender=gender, duration=0.4))
    return write_manifest(rows, root / "manifest.csv")


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("tiny-corpus"))


def tiny_config(manifest: Path, cache: Path, model: str = "cnn", **sections) -> dict:
    """A raw config dict for fast runs: 13 MFCCs at hop 256, tiny models, 2 epochs, 1 process."""
    from ser.models import input_kind

    small = {
        "cnn": {"channels": 8, "n_blocks": 2}, "cnn2d": {"channels": 4, "n_blocks": 2},
        "lstm": {"hidden": 16, "layers": 1}, "bilstm": {"hidden": 16, "layers": 1}, "gru": {"hidden": 16, "layers": 1},
        "clstm": {"channels": 8, "hidden": 16}, "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
        "svm": {}, "mlp": {"hidden": [16], "max_iter": 50}, "logreg": {},
    }
    features = {"kind": "spectral", "names": ["mfcc"], "n_mfcc": 13, "n_mels": 32, "n_fft": 512,
                "hop_length": 256, "max_frames": 64, "cache_dir": str(cache), "n_jobs": 1}
    if input_kind(model) == "frames" and model == "cnn2d":
        features["names"] = ["logmel"]
    raw = {
        "data": {"manifest": str(manifest)},
        "protocol": {"name": "speaker-kfold", "n_folds": 2, "val_fraction": 0.34},
        "features": features,
        "model": {"name": model, **small[model]},
        "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3, "patience": 0},
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return raw
