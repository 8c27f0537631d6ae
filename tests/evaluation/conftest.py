"""Fixtures of the evaluation tests: the inference tests' tiny ONNX model, and a manifest of clips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tiny model and synthetic speech come from the inference tests' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))

from inference_helpers import LABELS, export_tiny, write_config  # noqa: E402


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
