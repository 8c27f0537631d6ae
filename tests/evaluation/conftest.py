"""Fixtures of the evaluation tests: the inference tests' tiny ONNX model, and a manifest of clips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import soundfile as sf

# The tiny model and synthetic speech come from the inference tests' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))

from inference_helpers import LABELS, SR, export_tiny, real_speech, write_config  # noqa: E402
from ser.manifest import Utterance, write_manifest  # noqa: E402

EMOTIONS = ["neutral", "happy", "sad", "angry", "calm"]


@pytest.fixture(scope="session")
def eval_model_dir(tmp_path_factory) -> Path:
    """A model folder (ser_model.json + model.onnx) predicting the 7 default labels."""
    directory = tmp_path_factory.mktemp("eval_model")
    export_tiny(directory / "model.onnx")
    write_config(directory)
    return directory


@pytest.fixture(scope="session")
def model_labels() -> list[str]:
    return list(LABELS)


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    """A manifest of 20 synthetic clips (4 speakers, 5 emotions incl. calm), one corrupt file, one boredom row."""
    root = tmp_path_factory.mktemp("clips")
    rows = []
    for i in range(20):
        speaker = f"synth_{i % 4:02d}"
        emotion = EMOTIONS[(i // 4) % len(EMOTIONS)]
        path = root / f"{speaker}_{i:02d}.wav"
        sf.write(path, real_speech(0.6 + 0.1 * (i % 5), seed=i, level=0.1 + 0.05 * (i % 4)), SR)
        rows.append(Utterance(path=path.name, corpus="synth", speaker=speaker, emotion=emotion,
                              gender="female" if i % 4 < 2 else "male", intensity="strong" if i % 2 else "normal"))
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not really audio")
    rows.append(Utterance(path="corrupt.wav", corpus="synth", speaker="synth_00", emotion="sad", gender="female"))
    sf.write(root / "bored.wav", real_speech(0.8, seed=98), SR)
    rows.append(Utterance(path="bored.wav", corpus="synth", speaker="synth_01", emotion="boredom", gender="female"))
    rows.append(Utterance(path="unlabelled.wav", corpus="synth", speaker="synth_02", emotion=""))
    write_manifest(rows, root / "manifest.csv")  # paths relative to the manifest's folder
    return root
