"""Nuisance projection: what it learns and removes, its file, and the shipped one."""

from __future__ import annotations

import numpy as np
import pytest

from ser.errors import ModelError
from ser.speakers import SpeakerError
from ser.speakers.nuisance import Nuisance, default_path


def _moody_speakers(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows [n, 16] of 6 speakers, each one's windows spread widely along 2 shared "mood"
    axes and little elsewhere; and each window's speaker [n] and mood [n]."""
    rng = np.random.default_rng(seed)
    voices = rng.standard_normal((6, 16)) * 0.3
    moods = np.zeros((4, 16))
    moods[:, :2] = rng.standard_normal((4, 2)) * 2.0
    speaker = np.repeat(np.arange(6), 40)
    mood = rng.integers(0, 4, speaker.shape[0])
    x = 1.0 + voices[speaker] + moods[mood] + 0.02 * rng.standard_normal((speaker.shape[0], 16))
    return x, speaker, mood


def _nearest_mean_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose most similar label mean (cosine) is their own label's."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    means = np.stack([unit[labels == k].mean(axis=0) for k in np.unique(labels)])
    return float(np.mean(np.argmax(unit @ means.T, axis=1) == labels))


def test_learned_directions_are_the_mood_axes_and_removing_them_leaves_the_voices():
    x, speaker, mood = _moody_speakers()
    nuisance = Nuisance.learn(x, speaker, 2)
    # The two learned directions span the two mood axes (the first two coordinates).
    assert np.linalg.norm(nuisance.directions[:2]) ** 2 == pytest.approx(2.0, abs=0.05)
    projected = nuisance.apply(x)
    assert projected.shape == x.shape
    np.testing.assert_allclose(np.linalg.norm(projected, axis=1), 1.0, atol=1e-5)
    # Before, the windows sort by mood rather than by voice; after, by voice.
    assert _nearest_mean_accuracy(x, speaker) < 0.8
    assert _nearest_mean_accuracy(projected, speaker) > 0.99
    assert nuisance.about["k"] == 2 and nuisance.about["speakers"] == 6


def test_save_and_load_give_the_same_projection(tmp_path):
    x, speaker, _ = _moody_speakers(1)
    nuisance = Nuisance.learn(x, speaker, 3, {"data": "synthetic"})
    nuisance.save(tmp_path / "n.npz")
    loaded = Nuisance.load(tmp_path / "n.npz")
    np.testing.assert_allclose(loaded.apply(x), nuisance.apply(x), atol=1e-6)
    assert loaded.about["data"] == "synthetic"


@pytest.mark.parametrize("content", [b"not an npz", None])
def test_a_missing_or_malformed_file_is_a_model_error(tmp_path, content):
    path = tmp_path / "n.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match="n.npz"):
        Nuisance.load(path)


def test_learning_needs_two_speakers_and_a_sensible_k():
    x, speaker, _ = _moody_speakers()
    with pytest.raises(SpeakerError, match="two or more speakers"):
        Nuisance.learn(x, np.zeros(x.shape[0]), 2)
    with pytest.raises(SpeakerError, match="k"):
        Nuisance.learn(x, speaker, 16)
    with pytest.raises(SpeakerError, match="speakers"):
        Nuisance.learn(x, speaker[:-1], 2)


def test_the_shipped_projection_says_where_it_came_from():
    nuisance = Nuisance.load(default_path())
    assert nuisance.mean.shape == (256,) and nuisance.directions.shape[0] == 256
    # Orthonormal directions: projecting twice is projecting once.
    np.testing.assert_allclose(nuisance.directions.T @ nuisance.directions, np.eye(nuisance.directions.shape[1]), atol=1e-4)
    assert "tuning speakers" in nuisance.about["data"] and nuisance.about["k"] == nuisance.directions.shape[1]
    assert default_path().stat().st_size < 100_000
