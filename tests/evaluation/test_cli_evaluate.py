"""``ser evaluate`` end to end with the tiny ONNX model: a manifest of clips, bad files, label mapping, protocols."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from sklearn.metrics import balanced_accuracy_score

from inference_helpers import SR, real_speech
from ser.cli.main import main
from ser.manifest import Utterance, read_manifest, write_manifest
from ser.splits import assign_folds, random_split, speaker_kfold

EMOTIONS = ["neutral", "happy", "sad", "angry", "calm"]  # as in the clips fixture (conftest.py)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.filterwarnings("ignore:y_pred contains classes")  # sklearn, on the tiny random model
def test_end_to_end_with_bad_file_and_unmappable_label(capsys, clips, eval_model_dir, tmp_path):
    out_dir = tmp_path / "report"
    code, out, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", clips / "manifest.csv",
                         "-o", out_dir, "--batch-size", "4", "--progress")
    assert code == 1, err  # one file could not be read; the report is still written
    assert "corrupt.wav" in err and "Traceback" not in err
    assert "UA " in out and "1 unreadable file(s), 1 row(s) with a label the model cannot output, 1 unlabelled" in out
    result = json.loads((out_dir / "results.json").read_text())
    assert [item["path"] for item in result["skipped"]["unreadable"]] == ["corrupt.wav"]
    assert result["skipped"]["unmappable"] == {"boredom": 1} and result["skipped"]["unlabelled"] == 1
    per_file = result["per_file"]
    assert len(per_file) == 20 and result["metrics"]["n"] == 20
    # calm is scored as neutral: the 7-class model has no calm.
    assert {e["true"] for e in per_file} == {"neutral", "happy", "sad", "angry"}
    assert any("labelled calm scored as neutral" in note for note in result["notes"])

    # The predictions are the recognizer's own, and the metrics are sklearn's on them.
    from ser.inference.recognizer import Recognizer

    recognizer = Recognizer.from_pretrained(eval_model_dir)
    for entry in per_file[:5]:
        prediction = recognizer(clips / entry["path"])
        assert entry["predicted"] == prediction.label
        assert entry["confidence"] == pytest.approx(prediction.confidence, abs=1e-5)
    truths, guesses = [e["true"] for e in per_file], [e["predicted"] for e in per_file]
    assert result["metrics"]["ua"] == pytest.approx(balanced_accuracy_score(truths, guesses))

    summary = (out_dir / "summary.md").read_text()
    assert "corrupt.wav" in summary and "boredom (1)" in summary and "calm scored as neutral" in summary
    assert (out_dir / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out_dir / "per_file.csv").read_text().splitlines()) == 21
    assert result["model"]["name"] == "tiny-test" and result["model"]["target"] == "emotion"
    assert result["optimistic"] is False


def _with_folds(clips, tmp_path, folds) -> Path:
    rows = [r for r in read_manifest(clips / "manifest.csv") if r.emotion not in ("", "boredom") and r.path != "corrupt.wav"]
    for r in rows:
        r.path = str(clips / r.path)
    path = tmp_path / "folds.csv"
    write_manifest(assign_folds(rows, folds(rows)), path)
    return path


def test_speaker_fold_is_labelled_speaker_independent(capsys, clips, eval_model_dir, tmp_path):
    manifest = _with_folds(clips, tmp_path, lambda rows: speaker_kfold(rows, n_folds=2, seed=0))
    code, out, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", manifest, "--fold", "2",
                         "-o", tmp_path / "f2")
    assert code == 0, err
    result = json.loads((tmp_path / "f2" / "results.json").read_text())
    speakers = {r.speaker for r in read_manifest(manifest) if r.extra["fold"] == "2"}
    assert {e["speaker"] for e in result["per_file"]} == speakers
    assert result["name"] == "fold 2/2" and result["speaker_independent"] is True and not result["optimistic"]
    assert "OPTIMISTIC" not in out
    assert "(speaker-independent)" in (tmp_path / "f2" / "summary.md").read_text()

    # Both folds combined: mean ± std.
    run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", manifest, "--fold", "1", "-o", tmp_path / "f1")
    code, out, _ = run(capsys, "evaluate", "--combine", tmp_path / "f1", tmp_path / "f2", "-o", tmp_path / "cv")
    assert code == 0 and "2 folds, mean ± std" in out
    cv = json.loads((tmp_path / "cv" / "cv_results.json").read_text())
    uas = [json.loads((tmp_path / f / "results.json").read_text())["metrics"]["ua"] for f in ("f1", "f2")]
    assert cv["mean"]["ua"] == pytest.approx(sum(uas) / 2)
    assert cv["pooled"]["n"] == 20


def test_random_split_is_optimistic_everywhere(capsys, clips, eval_model_dir, tmp_path):
    manifest = _with_folds(clips, tmp_path, lambda rows: random_split(rows, seed=0))
    code, out, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", manifest, "--fold", "test",
                         "-o", tmp_path / "r")
    assert code == 0, err
    result = json.loads((tmp_path / "r" / "results.json").read_text())
    assert result["optimistic"] is True and result["protocol"] == "random" and "OPTIMISTIC" in result["caveat"]
    assert out.count("OPTIMISTIC") >= 2  # the headline and the caveat line
    assert "OPTIMISTIC" in (tmp_path / "r" / "summary.md").read_text().split("## ")[0]
    code, out, _ = run(capsys, "evaluate", "--combine", tmp_path / "r", "-o", tmp_path / "rcv")
    assert "OPTIMISTIC" in out and "OPTIMISTIC" in (tmp_path / "rcv" / "cv_summary.md").read_text()

    # Scoring the training side of the split is optimistic too.
    run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", manifest, "--fold", "train", "-o", tmp_path / "t")
    assert json.loads((tmp_path / "t" / "results.json").read_text())["optimistic"] is True

    # A hand-made fold column whose folds share a speaker names it.
    rows = read_manifest(manifest)
    stray = next(k for k, r in enumerate(rows) if r.speaker == "synth_01")
    for k, r in enumerate(rows):
        r.extra = {"fold": "1" if r.speaker == "synth_00" or k == stray else "2"}
    write_manifest(rows, tmp_path / "handmade.csv")
    code, out, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", tmp_path / "handmade.csv",
                         "--fold", "1", "-o", tmp_path / "h")
    result = json.loads((tmp_path / "h" / "results.json").read_text())
    assert result["optimistic"] and "1 speaker(s) of fold 1 (synth_01)" in result["caveat"]
    assert "OPTIMISTIC" in out and result["protocol"].startswith("fold 1/2")

    # --protocol random on a manifest without a split says so as well.
    code, out, _ = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", clips / "manifest.csv",
                       "--protocol", "random", "-o", tmp_path / "p")
    assert "OPTIMISTIC" in out


@pytest.mark.filterwarnings("ignore:y_pred contains classes")
def test_training_speakers_in_the_test_set_warn_loudly(capsys, clips, eval_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(eval_model_dir, model)
    config = json.loads((model / "ser_model.json").read_text())
    config["training"] = {"speakers": ["synth_00", "synth_01", "someone_else"]}
    (model / "ser_model.json").write_text(json.dumps(config))
    manifest = _with_folds(clips, tmp_path, lambda rows: speaker_kfold(rows, n_folds=2, seed=0))
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", manifest, "-o", tmp_path / "seen")
    assert "WARNING" in err and "not speaker-independent" in err and "synth_00" in err
    result = json.loads((tmp_path / "seen" / "results.json").read_text())
    assert result["optimistic"] is True and result["speaker_independent"] is False
    assert "2 of the 4 test speakers" in result["caveat"] and "OPTIMISTIC" in out
    assert any("'fold' column but no --fold" in note for note in result["notes"])
    # ... and it scores the speakers the model never heard on their own.
    unseen = [e for e in result["per_file"] if e["speaker"] in ("synth_02", "synth_03")]
    ua = balanced_accuracy_score([e["true"] for e in unseen], [e["predicted"] for e in unseen])
    assert f"on the 2 test speaker(s) the model never saw ({len(unseen)} clips): UA {ua:.3f}" in out

    # Test speakers the model never heard: no warning.
    config["training"] = {"speakers": ["someone_else"]}
    (model / "ser_model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", manifest, "--fold", "1", "-o", tmp_path / "unseen")
    assert "WARNING" not in err and not json.loads((tmp_path / "unseen" / "results.json").read_text())["optimistic"]

    # A fold folder of `ser train` records its speakers in split.json; an ensemble, in its members'.
    config.pop("training")
    (model / "ser_model.json").write_text(json.dumps(config))
    (model / "split.json").write_text(json.dumps({"trained_on": {"speakers": ["synth_03"]}, "val": {"speakers": ["synth_02"]}}))
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", manifest, "-o", tmp_path / "split")
    assert "2 of the 4 test speakers (synth_02, synth_03)" in err
    ensemble = tmp_path / "ensemble"
    shutil.copytree(model, ensemble / "fold0")
    shutil.copytree(eval_model_dir, ensemble / "fold1")
    (ensemble / "ser_model.json").write_text(json.dumps({**config, "ensemble": ["fold0", "fold1"]}))
    shutil.copy(eval_model_dir / "model.onnx", ensemble)  # the tiny ONNX stands in for the averaged members
    from ser.evaluation.evaluate import training_speakers
    from ser.model_folder import read_config

    assert training_speakers(ensemble, read_config(ensemble)) == {"synth_02", "synth_03"}
    assert training_speakers(eval_model_dir, read_config(eval_model_dir)) is None
    (model / "split.json").unlink()

    # A model that records only its training corpora (the shipped default) is flagged on those corpora.
    config["training"] = {"corpora": ["synth"]}
    (model / "ser_model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", manifest, "--fold", "1", "-o", tmp_path / "corpus")
    assert "trained on corpus synth" in err
    config.pop("training")
    config["recipe"] = {"corpora": {"synth": "SYNTH", "ravdess": "RAVDESS"}}  # as the default model writes it
    (model / "ser_model.json").write_text(json.dumps(config))
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", manifest, "--fold", "1", "-o", tmp_path / "recipe")
    assert "trained on corpus synth" in err and "OPTIMISTIC" in out


def test_gender_target(capsys, clips, tmp_path):
    from inference_helpers import export_tiny, write_config

    model = tmp_path / "gender_model"
    model.mkdir()
    export_tiny(model / "model.onnx", n_out=2)
    write_config(model, labels=["female", "male"], target="gender")
    code, out, err = run(capsys, "evaluate", "--model", model, "--manifest", clips / "manifest.csv", "-o", tmp_path / "g")
    result = json.loads((tmp_path / "g" / "results.json").read_text())
    assert result["labels"] == ["female", "male"] and {e["true"] for e in result["per_file"]} == {"female", "male"}
    assert result["metrics"]["n"] == 21  # 20 clips and the boredom one; no gender on the unlabelled row
    assert result["model"]["target"] == "gender"  # taken from the model's ser_model.json


def test_errors_are_clear(capsys, clips, eval_model_dir, tmp_path):
    code, _, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", tmp_path / "missing.csv")
    assert code == 2 and "manifest not found" in err
    code, _, err = run(capsys, "evaluate", "--model", tmp_path / "nomodel", "--manifest", clips / "manifest.csv")
    assert code == 2 and "no such model folder" in err
    code, _, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", clips / "manifest.csv", "--fold", "1")
    assert code == 2 and "no 'split' column" in err
    manifest = _with_folds(clips, tmp_path, lambda rows: speaker_kfold(rows, n_folds=2, seed=0))
    code, _, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", manifest, "--fold", "7")
    assert code == 2 and "no row has fold = '7' (values: 1, 2)" in err
    code, _, err = run(capsys, "evaluate")
    assert code == 2 and "needs --manifest" in err
    code, _, err = run(capsys, "evaluate", "--combine", tmp_path)
    assert code == 2 and "no results.json" in err


def test_model_from_environment(capsys, clips, eval_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_MODEL", str(eval_model_dir))
    code, out, _ = run(capsys, "evaluate", "--manifest", clips / "manifest.csv", "-o", tmp_path / "env")
    assert code == 1 and json.loads((tmp_path / "env" / "results.json").read_text())["model"]["path"] == str(eval_model_dir)


@pytest.mark.corpora
def test_real_clips(capsys, datasets_dir, eval_model_dir, tmp_path):
    """A handful of EmoDB clips (boredom among them: the 7-class model cannot output it)."""
    files = sorted((datasets_dir / "EmoDB" / "download" / "wav").glob("*.flac"))
    if not files:
        pytest.skip("EmoDB clips not found")
    from ser.corpora import prepare

    rows = [r for r in prepare("emodb", datasets_dir / "EmoDB").utterances]
    picked = {}
    for r in rows:  # two clips per emotion
        if sum(1 for p in picked.values() if p.emotion == r.emotion) < 2:
            picked[r.path] = r
    write_manifest(list(picked.values()), tmp_path / "emodb.csv")
    code, out, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", tmp_path / "emodb.csv",
                         "-o", tmp_path / "emodb")
    assert code == 0, err
    result = json.loads((tmp_path / "emodb" / "results.json").read_text())
    assert result["metrics"]["n"] == 12 and result["skipped"]["unmappable"] == {"boredom": 2}


def test_cross_corpus_table_from_reports(capsys, clips, eval_model_dir, tmp_path):
    """One report on a two-corpus manifest gives a row; a TRAIN:TEST=DIR cell adds one value."""
    rows = [r for r in read_manifest(clips / "manifest.csv") if r.emotion not in ("", "boredom") and r.path != "corrupt.wav"]
    for k, r in enumerate(rows):
        r.path = str(clips / r.path)
        r.corpus = "alpha" if k % 2 else "beta"
    write_manifest(rows, tmp_path / "two.csv")
    run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", tmp_path / "two.csv", "-o", tmp_path / "m1")
    one = [r for r in rows if r.corpus == "alpha"]
    write_manifest(one, tmp_path / "alpha.csv")
    run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", tmp_path / "alpha.csv", "-o", tmp_path / "m2")
    code, out, err = run(capsys, "evaluate", "--cross-corpus", f"gamma={tmp_path / 'm1'}", f"beta:alpha={tmp_path / 'm2'}",
                         "-o", tmp_path / "cc")
    assert code == 0, err
    by_corpus = {g["group"]: g["ua"] for g in json.loads((tmp_path / "m1" / "results.json").read_text())["breakdowns"]["corpus"]}
    alpha_only = json.loads((tmp_path / "m2" / "results.json").read_text())["metrics"]["ua"]
    assert by_corpus["alpha"] == pytest.approx(alpha_only)  # the same clips, the same model
    assert f"| beta | {alpha_only:.3f} | – |" in out
    assert f"| gamma | {by_corpus['alpha']:.3f} | {by_corpus['beta']:.3f} |" in out
    assert (tmp_path / "cc" / "cross_corpus.png").read_bytes()[:4] == b"\x89PNG"
    assert "cross_corpus.png" in (tmp_path / "cc" / "cross_corpus.md").read_text()
    code, _, err = run(capsys, "evaluate", "--cross-corpus", "nodir")
    assert code == 2 and "expected TRAIN=DIR" in err


@pytest.mark.slow
def test_a_training_checkpoint_evaluates_like_the_trainer_scored_it(capsys, tmp_path):
    """Issue 5: a `ser train` fold folder (an sklearn checkpoint) loads through the same loader as
    ONNX; scoring its test fold gives the trainer's own numbers, and the other fold is flagged."""
    pytest.importorskip("ser.training.checkpoint")
    rows = []
    for i in range(24):
        path = tmp_path / f"c{i:02d}.wav"
        sf.write(path, real_speech(0.7, seed=i, level=[0.05, 0.15, 0.3, 0.5][i % 4]), SR)
        rows.append(Utterance(path=str(path), corpus="synth", speaker=f"synth_{i // 4}",
                              emotion=EMOTIONS[i % 4], gender="female"))
    write_manifest(rows, tmp_path / "m.csv")
    code = main(["train", "--manifest", str(tmp_path / "m.csv"), "--model", "logreg", "--features", "mfcc",
                 "--protocol", "speaker-kfold", "--folds", "2", "--seed", "0", "-o", str(tmp_path / "run"), "--quiet"])
    capsys.readouterr()
    assert code == 0
    fold_dir = tmp_path / "run" / "fold0"
    trainer = json.loads((fold_dir / "results.json").read_text())
    split = json.loads((fold_dir / "split.json").read_text())
    test_speakers = set(split["test"]["speakers"])
    for r in rows:  # the trainer's fold as a manifest column: 1 = its test speakers
        r.extra["fold"] = "1" if r.speaker in test_speakers else "2"
    write_manifest(rows, tmp_path / "folds.csv")
    # The trainer scores whole clips, so --no-vad; with the detector a clip it finds no speech in is skipped.
    code, out, err = run(capsys, "evaluate", "--model", fold_dir, "--manifest", tmp_path / "folds.csv", "--fold", "1",
                         "-o", tmp_path / "eval", "--no-vad")
    assert code == 0, err
    mine = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert mine["model"]["backend"] == "sklearn" and not mine["optimistic"]
    assert {e["path"] for e in mine["per_file"]} == {e["path"] for e in trainer["per_file"]}
    for key in ("ua", "wa", "macro_f1"):
        assert mine["metrics"][key] == pytest.approx(trainer["metrics"][key])
    code, out, err = run(capsys, "evaluate", "--model", fold_dir, "--manifest", tmp_path / "folds.csv", "--fold", "2",
                         "-o", tmp_path / "eval2")
    assert "WARNING" in err and "OPTIMISTIC" in out  # fold 2 holds the speakers fold0 trained on


@pytest.mark.corpora
def test_the_shipped_model_is_the_default_and_is_flagged_on_its_training_corpora(capsys, datasets_dir, tmp_path, monkeypatch):
    """Without --model the shipped model scores; it trained on RAVDESS, so RAVDESS numbers are optimistic."""
    from ser.inference.recognizer import default_model_dir

    if not (default_model_dir() / "ser_model.json").is_file():
        pytest.skip(f"no default model at {default_model_dir()}")
    monkeypatch.delenv("SER_MODEL", raising=False)
    from ser.corpora import prepare

    rows = prepare("ravdess", datasets_dir / "RAVDESS").utterances
    picked = [r for r in rows if r.speaker == "ravdess_01"][:6]  # calm among them: scored as neutral
    write_manifest(picked, tmp_path / "ravdess.csv")
    code, out, err = run(capsys, "evaluate", "--manifest", tmp_path / "ravdess.csv", "-o", tmp_path / "default")
    assert code == 0, err
    result = json.loads((tmp_path / "default" / "results.json").read_text())
    assert result["model"]["path"] == str(default_model_dir()) and result["metrics"]["n"] == 6
    if "recipe" in json.loads((default_model_dir() / "ser_model.json").read_text()):
        assert result["optimistic"] and "WARNING" in err


def test_library_warnings_reach_stderr_only_while_a_command_runs(capsys, clips, eval_model_dir, tmp_path):
    """The CLI shows the library's log records (ser: WARNING: ...) and leaves logging as it found it."""
    logger = logging.getLogger("ser")
    before = (list(logger.handlers), logger.level)
    code, _, err = run(capsys, "evaluate", "--model", eval_model_dir, "--manifest", clips / "manifest.csv", "-o", tmp_path / "r")
    assert code == 1 and "ser: WARNING: skipped corrupt.wav:" in err
    assert (list(logger.handlers), logger.level) == before
