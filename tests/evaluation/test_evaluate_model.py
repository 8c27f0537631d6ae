"""ser.evaluation.evaluate_model from Python: the training-speaker check, clips without speech, row selection."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import balanced_accuracy_score

from inference_helpers import SR
from ser.errors import SerError
from ser.evaluation import evaluate_model, write_report
from ser.evaluation.evaluate import select_rows
from ser.inference.recognizer import Recognizer
from ser.manifest import Utterance, read_manifest


@pytest.fixture(scope="module")
def rows(clips, tmp_path_factory):
    """The clips fixture's folder and rows (20 scoreable clips of synth_00..03, a corrupt file, a
    boredom row, an unlabelled row), plus a silent clip of synth_00's."""
    utterances = read_manifest(clips / "manifest.csv")
    silence = tmp_path_factory.mktemp("silence") / "silence.wav"
    sf.write(silence, np.zeros(SR, dtype=np.float32), SR)
    utterances.append(Utterance(path=str(silence), corpus="synth", speaker="synth_00", emotion="sad", gender="female"))
    return clips, utterances


@pytest.mark.filterwarnings("ignore:y_pred contains classes")
def test_training_speakers_are_caught_from_python(rows, eval_model_dir, tmp_path, caplog):
    root, utterances = rows
    model = tmp_path / "model"
    shutil.copytree(eval_model_dir, model)
    config = json.loads((model / "ser_model.json").read_text())
    (model / "ser_model.json").write_text(json.dumps({**config, "training": {"speakers": ["synth_00", "synth_01"]}}))
    recognizer = Recognizer.from_pretrained(model)  # its folder is known from the backend

    with caplog.at_level(logging.WARNING, logger="ser"):
        result = evaluate_model(recognizer, utterances, root=root)
    assert result["optimistic"] and result["speaker_independent"] is False
    assert "2 of the 4 test speakers (synth_00, synth_01)" in result["caveat"]
    assert any("not speaker-independent" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # The speakers it never heard, scored on their own, are sklearn's UA on exactly those rows.
    unseen = [e for e in result["per_file"] if e["speaker"] in ("synth_02", "synth_03")]
    overlap = result["training_overlap"]
    assert overlap["unseen"]["speakers"] == 2 and overlap["unseen"]["n"] == len(unseen) == 10
    truths, guesses = [e["true"] for e in unseen], [e["predicted"] for e in unseen]
    assert overlap["unseen"]["ua"] == pytest.approx(balanced_accuracy_score(truths, guesses))
    assert result["notes"][1].startswith("on the 2 test speaker(s) the model never saw (10 clips)")

    # The same model without a record of its speakers: nothing to flag.
    clean = evaluate_model(eval_model_dir, utterances, root=root)
    assert not clean["optimistic"] and clean["training_overlap"] is None
    assert clean["metrics"]["ua"] == pytest.approx(result["metrics"]["ua"])


def test_a_clip_without_speech_is_listed_not_scored(rows, eval_model_dir, tmp_path):
    root, utterances = rows
    result = evaluate_model(eval_model_dir, utterances, root=root)
    silence = utterances[-1].path
    assert result["skipped"]["no_speech"] == [silence] and result["skipped"]["unreadable"][0]["path"] == "corrupt.wav"
    assert result["metrics"]["n"] == 20 and silence not in {e["path"] for e in result["per_file"]}
    summary = (write_report(result, tmp_path / "report") / "summary.md").read_text()
    assert "1 file(s) held no speech" in summary and f"`{silence}`" in summary
    # Judging whole clips (no detector), the silent clip gets a label like any other.
    whole = evaluate_model(eval_model_dir, utterances, root=root, vad=False)
    assert whole["skipped"]["no_speech"] == [] and whole["metrics"]["n"] == 21


def test_nothing_to_score_is_a_clear_error(rows, eval_model_dir):
    root, utterances = rows
    bored = Utterance(path="bored.wav", corpus="synth", speaker="x", emotion="boredom")
    with pytest.raises(SerError, match="no row to score: 1 selected, 0 without a emotion label, 1 with a label the model cannot"):
        evaluate_model(eval_model_dir, [bored], root=root)
    with pytest.raises(SerError, match=r"none of the 1 selected files could be scored \(first: .*silence.wav: no speech"):
        evaluate_model(eval_model_dir, [utterances[-1]], root=root)


def _folded(n_speakers: int) -> list[Utterance]:
    """Six rows in two folds (odd and even rows) by `n_speakers` speakers taking turns."""
    return [Utterance(path=f"{i}.wav", corpus="synth", speaker=f"s{i % n_speakers}", emotion="sad",
                      extra={"fold": str(1 + i % 2)}) for i in range(6)]


def test_select_rows_flags_a_fold_that_shares_speakers():
    selection = select_rows(_folded(3), fold=1)  # speakers s0..s2 take turns: each is in both folds
    assert selection.indices == [0, 2, 4] and selection.optimistic and selection.speaker_independent is False
    held_out = _folded(2)  # s0 is fold 1, s1 is fold 2
    selection = select_rows(held_out, fold="2")
    assert selection.indices == [1, 3, 5] and not selection.optimistic and selection.speaker_independent is True
    with pytest.raises(SerError, match="no row has fold = '9'"):
        select_rows(held_out, fold=9)
