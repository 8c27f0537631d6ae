"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# CI and a plain checkout find shared/ beside the repo; a worktree elsewhere sets SER_SHARED.
SHARED = Path(os.environ.get("SER_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets"
MODELS = SHARED / "models"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real corpora at ../shared/datasets; tests using it skip with a reason when absent."""
    if not (DATASETS / "README.md").is_file():
        pytest.skip(f"real corpora not found at {DATASETS}")
    return DATASETS


@pytest.fixture(scope="session")
def whisper_dir() -> Path:
    """The pretrained Whisper tiny.en encoder at ../shared/models/whisper-tiny.en-encoder."""
    path = MODELS / "whisper-tiny.en-encoder"
    if not (path / "model.safetensors").is_file():
        pytest.skip(f"Whisper tiny.en encoder not found at {path}")
    return path


@pytest.fixture
def tone():
    """A 1-second 220 Hz tone at 16 kHz, float32, amplitude 0.5."""
    t = np.arange(16000) / 16000
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
