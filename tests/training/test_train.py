"""End to end on the tiny corpus: every model trains, saves, loads through the Recognizer and
predicts what the trainer predicted; resume, reproducibility, targets, protocols."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from conftest import EMOTIONS, tiny_clip, tiny_config

from ser.inference.recognizer import Recognizer
from ser.models import names
from ser.training.config import from_dict
from ser.training.experiment import run_experiment

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _run(tmp_path, raw, name="run", **kw):
    return run_experiment(from_dict(raw), tmp_path / name, progress=False, log=lambda line: None, **kw)


def _per_file_scores(fold_dir):
    with open(fold_dir / "per_file.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("model", names())
def test_every_model_trains_saves_loads_and_predicts(tmp_path, tiny_manifest, model):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", model, protocol={"folds": [0]})
    summary = _run(tmp_path, raw)
    fold = tmp_path / "run" / "fold0"
    assert summary["n_folds"] == 1
    assert (fold / "ser_model.json").is_file() and (fold / "metrics.jsonl").is_file()
    if model not in ("svm", "mlp", "logreg"):
        history = [json.loads(line) for line in (fold / "metrics.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in history] == [1, 2]
        assert {"train_loss", "train_acc", "val_loss", "val_acc", "val_ua"} <= set(history[0])
        assert (fold / "curves.png").stat().st_size > 0 and (fold / "checkpoint.pt").is_file()

    # The saved folder predicts, from audio, what the trainer predicted for the same test clips
    # (whole clips, as the trainer saw them: the synthetic tones are not speech to a VAD).
    recognizer = Recognizer.from_pretrained(fold, vad=False)
    assert sorted(recognizer.labels) == sorted(EMOTIONS)
    table = _per_file_scores(fold)
    predictions = recognizer.predict_batch([r["path"] for r in table])
    for row, prediction in zip(table, predictions):
        assert prediction.label == row["predicted"]
        saved = json.loads(row["scores"]) if row.get("scores", "").startswith("{") else None
        if saved:
            for label, p in saved.items():
                assert prediction.scores[label] == pytest.approx(p, abs=1e-4)


def test_run_folder_is_the_fold_ensemble(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg")
    _run(tmp_path, raw)
    run = tmp_path / "run"
    ensemble = Recognizer.from_pretrained(run, vad=False)  # tones, not speech: judge the whole clip
    folds = [Recognizer.from_pretrained(run / f"fold{k}", vad=False) for k in (0, 1)]
    clip = tiny_clip("sad", 9, 0)
    expected = np.mean([f.backend.predict_proba([clip])[0] for f in folds], axis=0)
    np.testing.assert_allclose(ensemble.backend.predict_proba([clip])[0], expected, atol=1e-6)
    assert ensemble(clip, sr=16000).label == "sad"  # a new speaker, and logistic regression separates the pitches


def _numbers(fold_dir):
    history = [json.loads(line) for line in (fold_dir / "metrics.jsonl").read_text().splitlines()]
    for record in history:
        record.pop("seconds")
    results = json.loads((fold_dir / "results.json").read_text())
    return history, results["metrics"], [r["scores"] for r in results["per_file"]]


def test_same_seed_same_numbers(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "clstm", protocol={"folds": [0]})
    _run(tmp_path, raw, "a")
    _run(tmp_path, raw, "b")
    assert _numbers(tmp_path / "a" / "fold0") == _numbers(tmp_path / "b" / "fold0")
    other = tiny_config(tiny_manifest, tmp_path / "cache", "clstm", protocol={"folds": [0]}, train={"seed": 1})
    _run(tmp_path, other, "c")
    assert _numbers(tmp_path / "c" / "fold0")[0] != _numbers(tmp_path / "a" / "fold0")[0]


def test_resume_continues_from_the_last_epoch(tmp_path, tiny_manifest):
    three = tiny_config(tiny_manifest, tmp_path / "cache", "gru", protocol={"folds": [0]}, train={"epochs": 3})
    two = tiny_config(tiny_manifest, tmp_path / "cache", "gru", protocol={"folds": [0]}, train={"epochs": 2})
    _run(tmp_path, three, "straight")
    # An "interrupted" run: two epochs, its results removed as if it stopped before scoring.
    _run(tmp_path, two, "resumed")
    fold = tmp_path / "resumed" / "fold0"
    (fold / "results.json").unlink()
    lines = []
    run_experiment(from_dict(three), tmp_path / "resumed", resume=True, progress=False, log=lines.append)
    assert any("resuming after epoch 2" in line for line in lines)
    assert [line for line in lines if line.startswith("epoch")] == [next(l for l in lines if l.startswith("epoch   3/3"))]
    assert _numbers(fold) == _numbers(tmp_path / "straight" / "fold0")


def test_finished_run_needs_resume_or_a_new_folder(tmp_path, tiny_manifest):
    from ser.errors import SerError

    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg", protocol={"folds": [0]})
    _run(tmp_path, raw)
    with pytest.raises(SerError, match="already there.*--resume"):
        _run(tmp_path, raw)
    changed = tiny_config(tiny_manifest, tmp_path / "cache", "svm", protocol={"folds": [0]})
    with pytest.raises(SerError, match="different 'model' section"):
        _run(tmp_path, changed, resume=True)


@pytest.mark.parametrize("target, expected", [
    ("gender", ["female", "male"]),
    ("gender_emotion", [f"{g}_{e}" for g in ("female", "male") for e in sorted(EMOTIONS)]),
])
def test_gender_targets(tmp_path, tiny_manifest, target, expected):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg", data={"target": target}, protocol={"folds": [0]})
    _run(tmp_path, raw)
    config = json.loads((tmp_path / "run" / "fold0" / "ser_model.json").read_text())
    assert config["labels"] == expected and config["target"] == target


def test_random_protocol_is_labelled_optimistic(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg", protocol={"name": "random", "n_folds": None})
    raw["protocol"] = {"name": "random", "test_size": 0.25, "val_fraction": 0.2}
    summary = _run(tmp_path, raw)
    assert summary["optimistic"] is True
    result = json.loads((tmp_path / "run" / "fold0" / "results.json").read_text())
    assert result["optimistic"] is True and result["caveat"]


def test_kfold_trains_one_model_per_fold_and_summarises(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "svm", protocol={"n_folds": 3})
    summary = _run(tmp_path, raw)
    assert summary["n_folds"] == 3 and len(summary["folds"]) == 3
    assert {"ua", "wa", "macro_f1"} <= set(summary["mean"]) and {"ua"} <= set(summary["std"])
    assert (tmp_path / "run" / "cv_summary.md").is_file()
    tested = [set(json.loads((tmp_path / "run" / f"fold{k}" / "split.json").read_text())["test"]["speakers"])
              for k in range(3)]
    assert set().union(*tested) == {f"tiny_{s}" for s in range(6)} and sum(map(len, tested)) == 6


def test_cross_corpus_protocol(tmp_path, tiny_manifest):
    from dataclasses import replace

    from ser.manifest import read_manifest, write_manifest

    rows = [replace(r, corpus="a" if int(r.speaker[-1]) < 3 else "b") for r in read_manifest(tiny_manifest)]
    manifest = write_manifest(rows, tmp_path / "two.csv")
    raw = tiny_config(manifest, tmp_path / "cache", "logreg")
    raw["protocol"] = {"name": "cross-corpus", "train": ["a"], "test": ["b"], "val_fraction": 0.34}
    summary = _run(tmp_path, raw)
    split = json.loads((tmp_path / "run" / "fold0" / "split.json").read_text())
    assert summary["n_folds"] == 1 and summary["optimistic"] is False
    assert set(split["test"]["speakers"]) == {"tiny_3", "tiny_4", "tiny_5"}
    assert set(split["trained_on"]["speakers"]) < {"tiny_0", "tiny_1", "tiny_2"}


def test_second_run_reads_the_feature_cache(tmp_path, tiny_manifest, monkeypatch):
    from ser.training import data

    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg", protocol={"folds": [0]})
    first = _run(tmp_path, raw, "first")

    def no_recompute(*args, **kwargs):
        raise AssertionError("features were recomputed although they are cached")

    monkeypatch.setattr(data, "spectral_frames", no_recompute)
    second = _run(tmp_path, raw, "second")
    assert second["mean"] == first["mean"]


def test_run_folder_lock(tmp_path, tiny_manifest):
    import os

    from ser.errors import SerError

    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg", protocol={"folds": [0]})
    run = tmp_path / "run"
    run.mkdir()
    (run / ".lock").write_text(str(os.getppid()))  # a live process "holds" the folder
    with pytest.raises(SerError, match=r"another ser train \(pid \d+\) is using this run folder"):
        _run(tmp_path, raw, resume=True)
    (run / ".lock").write_text("999999999")  # left by a process that died: taken over
    _run(tmp_path, raw, resume=True)
    assert not (run / ".lock").exists() and (run / "fold0" / "results.json").is_file()
