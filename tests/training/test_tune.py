"""`ser tune`: an Optuna search scored on validation speakers, never on the test fold."""

from __future__ import annotations

import csv

import pytest
import yaml
from conftest import tiny_config

from ser.cli.main import main
from ser.training import data as data_module
from ser.training.config import load_config
from ser.training.experiment import make_run_folds

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_tune_two_trials_never_touches_the_test_fold(tmp_path, tiny_manifest, monkeypatch, capsys):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn", tune={
        "trials": 5, "space": {"train.lr": {"low": 1e-3, "high": 1e-2, "log": True}, "model.channels": [4, 8]}})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))

    requested: set[int] = set()
    original = data_module.FeatureStore.examples

    def spy(self, indices, augment=False):
        requested.update(int(i) for i in indices)
        return original(self, indices, augment)

    monkeypatch.setattr(data_module.FeatureStore, "examples", spy)
    out = tmp_path / "tune"
    assert main(["tune", "--config", str(path), "--trials", "2", "--quiet", "-o", str(out)]) == 0
    assert "best validation UA" in capsys.readouterr().out

    with open(out / "trials.csv", newline="") as handle:
        trials = list(csv.DictReader(handle))
    assert len(trials) == 2 and all(t["validation_ua"] for t in trials)
    best = load_config(out / "best.yaml")
    assert best.model.hparams["channels"] in (4, 8) and 1e-3 <= best.train.lr <= 1e-2

    from ser.training.data import load_rows

    config = load_config(path)
    fold = make_run_folds(load_rows(config.data), config)[0]
    assert requested, "the spy saw no feature requests"
    assert not requested & set(fold.test.tolist())
    assert requested <= set(fold.train.tolist()) | set(fold.val.tolist())

    # --resume adds trials to the same study.
    assert main(["tune", "--config", str(path), "--trials", "3", "--quiet", "--resume", "-o", str(out)]) == 0
    with open(out / "trials.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 3


def test_tune_without_a_space_is_an_error(tmp_path, tiny_manifest, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config(tiny_manifest, tmp_path / "cache", "cnn")))
    assert main(["tune", "--config", str(path), "-o", str(tmp_path / "t")]) == 2
    assert "no tune.space" in capsys.readouterr().err
