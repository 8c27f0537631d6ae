"""The shipped default model (src/ser/pretrained/default), once it is there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser.labels import DEFAULT_MODEL_LABELS

DEFAULT = Path(__file__).resolve().parents[2] / "src" / "ser" / "pretrained" / "default"
pytestmark = pytest.mark.skipif(not (DEFAULT / "ser_model.json").is_file(), reason=f"no default model at {DEFAULT}")


def test_default_model_loads_and_predicts():
    from ser.inference.recognizer import Recognizer, default_model_dir

    assert default_model_dir().resolve() == DEFAULT.resolve()
    recognizer = Recognizer.from_pretrained()
    assert tuple(recognizer.labels) == DEFAULT_MODEL_LABELS
    t = np.arange(32000) / 16000
    prediction = recognizer((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr=16000)
    assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert prediction.label in DEFAULT_MODEL_LABELS
