"""Fixtures of the inference tests: a tiny random ONNX model (see inference_helpers), built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from inference_helpers import export_tiny, write_config


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
