"""Regression heads (data.task: regression): dimensions from the manifest, CCC loss and metric."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import PITCH, tiny_config

from ser.errors import SerError
from ser.manifest import read_manifest, write_manifest
from ser.training.config import ConfigError, from_dict
from ser.training.experiment import run_experiment
from ser.training.trainer import ccc_loss

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

AROUSAL = {"angry": 0.8, "happy": 0.4, "sad": -0.6}  # follows the tiny corpus' pitches, so it is learnable
VALENCE = {"angry": -0.5, "happy": 0.7, "sad": -0.6}


@pytest.fixture(scope="module")
def rated_manifest(tiny_manifest, tmp_path_factory):
    rows = read_manifest(tiny_manifest)
    for i, row in enumerate(rows):
        jitter = 0.05 * ((i % 5) - 2)
        row.extra.update(arousal=f"{AROUSAL[row.emotion] + jitter:.4f}", valence=f"{VALENCE[row.emotion]:.4f}",
                         dimension_scale="-1..1")
    rows[0].extra.pop("valence")  # a clip rated for arousal only is left out of a two-dimension task
    return write_manifest(rows, tmp_path_factory.mktemp("rated") / "rated.csv")


def _raw(manifest, cache, **train):
    raw = tiny_config(manifest, cache, "cnn", data={"task": "regression", "dimensions": ["arousal", "valence"]},
                      train={"monitor": "val_ccc", "epochs": 3, **train})
    return raw


def test_regression_run_scores_ccc_per_dimension(tmp_path, rated_manifest):
    assert set(PITCH) == set(AROUSAL)
    summary = run_experiment(from_dict(_raw(rated_manifest, tmp_path / "cache")), tmp_path / "run",
                             progress=False, log=lambda line: None)
    assert summary["task"] == "regression" and summary["n_folds"] == 2
    assert set(summary["mean"]) == {"ccc", "ccc_arousal", "ccc_valence"}
    assert all(-1 <= v <= 1 for v in summary["mean"].values())
    fold = tmp_path / "run" / "fold0"
    result = json.loads((fold / "results.json").read_text())
    assert result["dimensions"] == ["arousal", "valence"] and result["speaker_independent"]
    assert result["n"] == len(result["per_file"]) and "predicted_arousal" in result["per_file"][0]
    assert all(r["path"] != str(read_manifest(rated_manifest)[0].path) for r in result["per_file"])
    history = [json.loads(line) for line in (fold / "metrics.jsonl").read_text().splitlines()]
    assert {"val_ccc", "ccc_arousal", "ccc_valence", "val_loss"} <= set(history[0])
    assert (tmp_path / "run" / "cv_summary.md").read_text().count("fold") >= 2
    assert not (tmp_path / "run" / "ser_model.json").exists()  # evaluated, not packaged for ser predict


def test_regression_config_errors(tmp_path, rated_manifest):
    raw = _raw(rated_manifest, tmp_path)
    raw["train"]["monitor"] = "val_ua"
    with pytest.raises(ConfigError, match="val_ua does not score a regression task; use val_ccc"):
        from_dict(raw)
    raw = _raw(rated_manifest, tmp_path)
    raw["model"] = {"name": "svm"}
    with pytest.raises(ConfigError, match="svm is a classifier only"):
        from_dict(raw)
    raw = _raw(rated_manifest, tmp_path)
    raw["data"]["dimensions"] = ["arousal", "loudness"]
    with pytest.raises(ConfigError, match="data.dimensions"):
        from_dict(raw)


def test_unrated_manifest_is_refused(tmp_path, tiny_manifest):
    with pytest.raises(SerError, match="no clips rated for arousal, valence"):
        run_experiment(from_dict(_raw(tiny_manifest, tmp_path / "cache")), tmp_path / "run", progress=False,
                       log=lambda line: None)


def test_ccc_loss_matches_the_metric():
    from ser.evaluation.metrics import concordance_correlation

    rng = np.random.default_rng(1)
    t, p = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    expected = 1 - np.mean([concordance_correlation(t[:, k], p[:, k]) for k in range(2)])
    assert float(ccc_loss(torch.from_numpy(p), torch.from_numpy(t))) == pytest.approx(expected, abs=1e-6)
