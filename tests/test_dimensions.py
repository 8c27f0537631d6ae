"""Derived arousal/valence (ser.dimensions) and the concordance correlation coefficient."""

from __future__ import annotations

import numpy as np
import pytest

from ser.dimensions import COORDINATES, RUSSELL_1980, derive_dimensions, label_coordinates
from ser.evaluation.metrics import concordance_correlation
from ser.labels import DEFAULT_MODEL_LABELS, EMOTIONS


def test_one_hot_rows_land_on_the_labels_coordinates():
    labels = list(DEFAULT_MODEL_LABELS)
    arousal, valence = derive_dimensions(np.eye(len(labels)), labels)
    for k, label in enumerate(labels):
        assert (valence[k], arousal[k]) == pytest.approx(COORDINATES[label], abs=1e-6)
    assert arousal.dtype == np.float32 and arousal.shape == (len(labels),)


def test_mixtures_are_weighted_means_and_rows_are_normalised():
    arousal, valence = derive_dimensions(np.array([[2.0, 2.0], [0.0, 0.0]]), ["angry", "neutral"])
    assert arousal[0] == pytest.approx(COORDINATES["angry"][1] / 2, abs=1e-6)
    assert valence[0] == pytest.approx(COORDINATES["angry"][0] / 2, abs=1e-6)
    assert (arousal[1], valence[1]) == (0.0, 0.0)  # no evidence: the origin


def test_circumplex_order_holds():
    # Whatever the calibration did, the table keeps the circumplex' broad shape.
    a = {label: COORDINATES[label][1] for label in EMOTIONS}
    v = {label: COORDINATES[label][0] for label in EMOTIONS}
    assert min(a["angry"], a["fearful"], a["surprised"], a["happy"]) > max(a["sad"], a["neutral"], a["calm"], a["boredom"])
    assert v["happy"] > v["neutral"] > max(v["sad"], v["angry"], v["fearful"], v["disgust"])
    assert all(-1 <= x <= 1 for pair in COORDINATES.values() for x in pair)
    assert set(RUSSELL_1980) == set(EMOTIONS)


def test_gender_emotion_and_unknown_labels():
    table = label_coordinates(["female_angry", "male_sad", "other", "Happy"])
    assert tuple(table[0]) == COORDINATES["angry"] and tuple(table[1]) == COORDINATES["sad"]
    assert tuple(table[2]) == (0.0, 0.0) and tuple(table[3]) == COORDINATES["happy"]


def test_one_clip_and_bad_input():
    arousal, valence = derive_dimensions(np.array([0.0, 1.0]), ["neutral", "angry"])
    assert arousal.shape == (1,) and arousal[0] == pytest.approx(COORDINATES["angry"][1])
    with pytest.raises(ValueError, match=r"probs must be \[n, 2\]"):
        derive_dimensions(np.ones((3, 4)), ["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        derive_dimensions(np.array([[0.5, -0.1]]), ["angry", "sad"])


def test_ccc_definition():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    assert concordance_correlation(x, x) == pytest.approx(1.0)
    assert concordance_correlation(x, np.zeros_like(x)) == 0.0
    shifted = concordance_correlation(x, x + 1.0)
    assert 0 < shifted < np.corrcoef(x, x + 1.0)[0, 1]  # a bias costs CCC but not Pearson's r
    t, p = np.array([0.1, 0.4, -0.2, 0.8]), np.array([0.0, 0.5, -0.1, 0.6])
    expected = 2 * np.cov(t, p, bias=True)[0, 1] / (t.var() + p.var() + (t.mean() - p.mean()) ** 2)
    assert concordance_correlation(t, p) == pytest.approx(expected)
    with pytest.raises(ValueError, match="two equally long"):
        concordance_correlation([1.0], [1.0])
