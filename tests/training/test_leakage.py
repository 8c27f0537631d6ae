"""Augmentation happens after the split, on training clips only: no test speaker, and no
augmented copy of a test clip, ever reaches a training batch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import tiny_config

from ser.training.config import from_dict
from ser.training.experiment import Experiment, run_experiment
from ser.training.trainer import Trainer

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

AUGMENT = {"enabled": True, "copies": 1, "stretch": None, "pitch_semitones": 0.0, "noise": 0.05, "p": 1.0}


def test_training_batches_hold_training_speakers_only(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn", protocol={"n_folds": 3}, augment=AUGMENT)
    config = from_dict(raw)
    experiment = Experiment(config, log=lambda line: None, progress=False)
    rows = experiment.rows
    for fold in experiment.folds():
        train = experiment.store.examples(fold.train, augment=True)
        assert train.augmented.sum() == len(fold.train)  # one copy of each training clip
        trainer = Trainer(_tiny_model(train), config.train, tmp_path / "t", len(experiment.labels))
        yielded = np.concatenate([batch_rows for *_, batch_rows in trainer.batches(train, shuffle=True, epoch=1)])
        test_speakers = {rows[i].speaker for i in fold.test}
        assert set(yielded.tolist()) == set(fold.train.tolist())
        assert not {rows[i].speaker for i in yielded} & test_speakers
        assert not set(yielded.tolist()) & (set(fold.val.tolist()) | set(fold.test.tolist()))


def _tiny_model(train):
    from ser.models import build_model

    return build_model("cnn", train.x[0].shape[1], 3, channels=4, n_blocks=1)


def test_run_records_what_it_trained_on(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "lstm", protocol={"n_folds": 3}, augment=AUGMENT)
    run_experiment(from_dict(raw), tmp_path / "run", progress=False, log=lambda line: None)
    for k in range(3):
        split = json.loads((tmp_path / "run" / f"fold{k}" / "split.json").read_text())
        test_speakers = set(split["test"]["speakers"])
        assert split["trained_on"]["n_rows"] == split["train"]["n"]
        assert set(split["trained_on"]["paths"]) == set(split["train"]["paths"])
        assert not set(split["trained_on"]["speakers"]) & test_speakers
        assert not set(split["val"]["speakers"]) & test_speakers
        # Augmented copies were made of training clips only.
        assert set(split["augmented_from"]) == set(split["train"]["paths"])
        assert not set(split["augmented_from"]) & set(split["test"]["paths"])


def test_augmented_copies_differ_from_originals_and_are_reproducible(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "cnn", augment=AUGMENT)
    config = from_dict(raw)
    first = Experiment(config, log=lambda line: None, progress=False)
    fold = first.folds()[0]
    a = first.store.examples(fold.train[:3], augment=True)
    again = Experiment(config, log=lambda line: None, progress=False).store.examples(fold.train[:3], augment=True)
    for original, copy in zip(a.x[:3], a.x[3:]):
        assert original.shape == copy.shape and not np.allclose(original, copy)
    for x, y in zip(a.x, again.x):
        np.testing.assert_array_equal(x, y)
