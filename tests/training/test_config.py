"""The YAML recipe, flag overrides, and clear errors for bad configs."""

from __future__ import annotations

import pytest
import yaml
from conftest import tiny_config

from ser.cli.main import main
from ser.errors import SerError
from ser.training.config import load_config


def _write(path, raw):
    path.write_text(yaml.safe_dump(raw))
    return path


def test_defaults_and_overrides(tmp_path, tiny_manifest):
    path = _write(tmp_path / "c.yaml", tiny_config(tiny_manifest, tmp_path / "cache", "cnn"))
    config = load_config(path)
    assert config.model.name == "cnn" and config.model.hparams == {"channels": 8, "n_blocks": 2}
    assert config.train.epochs == 2 and config.features.feature_config().n_mfcc == 13
    changed = load_config(path, {"model.name": "lstm", "train.lr": 0.01, "protocol.name": "random",
                                 "model.hidden": 8, "features.names": ["mfcc", "rms"]})
    # Switching model drops the old model's hyperparameters; switching protocol its options.
    assert changed.model.name == "lstm" and changed.model.hparams == {"hidden": 8}
    assert changed.protocol.name == "random" and changed.protocol.options == {}
    assert changed.train.lr == 0.01 and changed.features.feature_config().names == ("mfcc", "rms")
    assert changed.train.epochs == 2  # untouched keys keep the file's value


def test_default_epochs_is_40(tmp_path, tiny_manifest):
    config = load_config(None, {"data.manifest": str(tiny_manifest)})
    assert config.train.epochs == 40 and config.model.name == "cnn" and config.data.target == "emotion"


@pytest.mark.parametrize("change, message", [
    ({"trainer": {"epochs": 3}}, "unknown section.*trainer"),
    ({"train": {"epoch": 3}}, "unknown key.*epoch in train"),
    ({"model": {"name": "resnet"}}, "unknown model 'resnet'"),
    ({"model": {"name": "lstm", "channels": 3}}, "lstm has no hyperparameter.*channels"),
    ({"features": {"n_mfcc": 300}}, "n_mfcc"),
    ({"features": {"colour": 1}}, "unknown key.*colour"),
    ({"protocol": {"name": "leave-some-out"}}, "unknown protocol"),
    ({"protocol": {"name": "loso", "n_folds": 3}}, "loso does not take n_folds"),
    ({"data": {"target": "age"}}, "data.target.*age"),
    ({"train": {"epochs": 0}}, "train.epochs must be a positive integer"),
    ({"features": {"kind": "egemaps"}}, "egemaps.*needs frame sequences|eGeMAPS takes no spectral"),
])
def test_bad_config_is_a_clear_error(tmp_path, tiny_manifest, change, message):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn")
    for section, values in change.items():
        raw[section] = {**raw.get(section, {}), **values} if section != "model" else values
    path = _write(tmp_path / "bad.yaml", raw)
    with pytest.raises(SerError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_cli_reports_errors_without_traceback(tmp_path, tiny_manifest, capsys):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn")
    path = _write(tmp_path / "c.yaml", raw)
    assert main(["train", "--config", str(tmp_path / "none.yaml"), "-o", str(tmp_path / "r")]) == 2
    assert "none.yaml: no such config file" in capsys.readouterr().err
    assert main(["train", "--config", str(path), "--model", "resnet", "-o", str(tmp_path / "r")]) == 2
    assert "unknown model 'resnet'" in capsys.readouterr().err
    assert main(["train", "--config", str(path), "--manifest", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "r")]) == 2
    assert "missing.csv: manifest not found" in capsys.readouterr().err
    assert main(["train", "--config", str(path), "--set", "train.nope=1", "-o", str(tmp_path / "r")]) == 2
    assert "unknown key(s) nope in train" in capsys.readouterr().err


def test_cli_train_with_flag_overrides(tmp_path, tiny_manifest, capsys):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn")
    path = _write(tmp_path / "c.yaml", raw)
    out = tmp_path / "run"
    code = main(["train", "--config", str(path), "--model", "gru", "--set", "model.hidden=8", "--epochs", "1",
                 "--lr", "0.01", "--seed", "3", "--fold", "1", "--quiet", "-o", str(out)])
    assert code == 0
    assert "UA" in capsys.readouterr().out
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"] == {"name": "gru", "hidden": 8}
    assert saved["train"]["epochs"] == 1 and saved["train"]["lr"] == 0.01 and saved["train"]["seed"] == 3
    assert saved["protocol"]["folds"] == [1]
    assert (out / "fold1" / "results.json").is_file() and not (out / "fold0").exists()
    # Fold 0 later, in the same run folder: the summary then covers both and the ensemble appears.
    assert main(["train", "--config", str(path), "--model", "gru", "--set", "model.hidden=8", "--epochs", "1",
                 "--lr", "0.01", "--seed", "3", "--fold", "0", "--quiet", "--resume", "-o", str(out)]) == 0
    assert (out / "ser_model.json").is_file()
