"""ser.evaluation.report and plots: results, breakdowns, files on disk, fold summaries, cross-corpus tables."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix

from ser.evaluation.cross_corpus import cross_corpus_table
from ser.evaluation.report import (
    CONFUSION_FILE,
    PER_FILE_FILE,
    RESULTS_FILE,
    SPEAKERS_FILE,
    SUMMARY_FILE,
    evaluate_predictions,
    folds_markdown,
    headline,
    is_optimistic,
    summarize_folds,
    summary_markdown,
    to_model_label,
    write_report,
    write_summary,
)
from ser.labels import DEFAULT_MODEL_LABELS, EMOTIONS, to_default_labels
from ser.manifest import Utterance

LABELS = ["neutral", "happy", "sad", "angry"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _case(n=40, seed=0, corpora=("ravdess",), accuracy=0.6):
    """Rows over 4 speakers (2 female), intensities, corpora; predictions right about `accuracy` of the time."""
    rng = np.random.default_rng(seed)
    rows, y_true, y_pred = [], [], []
    for i in range(n):
        corpus = corpora[i % len(corpora)]
        speaker = f"{corpus}_{(i // len(corpora)) % 4:02d}"
        truth = LABELS[rng.integers(len(LABELS))]
        guess = truth if rng.random() < accuracy else LABELS[rng.integers(len(LABELS))]
        rows.append(Utterance(path=f"/data/{corpus}/{i}.wav", corpus=corpus, speaker=speaker, emotion=truth,
                              gender="female" if i % 4 < 2 else "male", intensity="strong" if i % 3 == 0 else "normal"))
        y_true.append(truth)
        y_pred.append(guess)
    proba = np.full((n, len(LABELS)), 0.1)
    for i, guess in enumerate(y_pred):
        proba[i, LABELS.index(guess)] = 0.7
    return rows, y_true, y_pred, proba


def test_result_holds_metrics_breakdowns_and_per_file_rows():
    rows, y_true, y_pred, proba = _case(corpora=("ravdess", "emodb"))
    result = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "speaker-kfold", name="fold 1/5")
    assert result["name"] == "fold 1/5" and result["protocol"] == "speaker-kfold"
    assert result["optimistic"] is False and result["caveat"] == "" and result["speaker_independent"] is True
    assert result["metrics"]["ua"] == pytest.approx(balanced_accuracy_score(y_true, y_pred))
    assert result["metrics"]["mean_confidence"] == pytest.approx(0.7)
    b = result["breakdowns"]
    assert [g["group"] for g in b["gender"]] == ["female", "male"]
    assert [g["group"] for g in b["intensity"]] == ["normal", "strong"]
    assert [g["group"] for g in b["corpus"]] == ["emodb", "ravdess"]
    assert len(b["speaker"]) == 8 and sum(g["n"] for g in b["speaker"]) == 40
    female = [i for i, r in enumerate(rows) if r.gender == "female"]
    assert b["gender"][0]["ua"] == pytest.approx(
        balanced_accuracy_score([y_true[i] for i in female], [y_pred[i] for i in female])
    )
    first = result["per_file"][0]
    assert first["path"] == rows[0].path and first["true"] == y_true[0] and first["predicted"] == y_pred[0]
    assert first["confidence"] == pytest.approx(0.7) and first["correct"] == (y_true[0] == y_pred[0])
    assert sum(e["correct"] for e in result["per_file"]) == round(result["metrics"]["wa"] * 40)


def test_random_protocol_is_optimistic_everywhere_it_is_printed():
    rows, y_true, y_pred, proba = _case()
    result = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "random")
    assert result["optimistic"] is True and result["speaker_independent"] is False
    assert "OPTIMISTIC" in result["caveat"] and "speaker" in result["caveat"]
    assert "OPTIMISTIC" in headline(result)
    assert "OPTIMISTIC" in summary_markdown(result).split("\n## ")[0]  # above the first table
    assert is_optimistic("random (speakers on both sides: optimistic)") and not is_optimistic("speaker-kfold")
    summary = summarize_folds([result])
    assert summary["optimistic"] and "OPTIMISTIC" in folds_markdown(summary)


def test_no_proba_means_no_confidence():
    rows, y_true, y_pred, _ = _case(n=8)
    result = evaluate_predictions(rows, y_true, y_pred, None, LABELS, "loso")
    assert result["per_file"][0]["confidence"] is None and "ece" not in result["metrics"]
    with pytest.raises(ValueError, match="proba must have shape"):
        evaluate_predictions(rows, y_true, y_pred, np.ones((8, 3)), LABELS, "loso")


def test_write_report_files(tmp_path):
    rows, y_true, y_pred, proba = _case(corpora=("ravdess", "emodb"))
    skipped = {"unreadable": [{"path": "bad.wav", "reason": "not audio"}], "unmappable": {"boredom": 2}}
    result = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "random", skipped=skipped)
    out = write_report(result, tmp_path / "report")
    written = [RESULTS_FILE, SUMMARY_FILE, PER_FILE_FILE, CONFUSION_FILE, SPEAKERS_FILE]
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    loaded = json.loads((out / RESULTS_FILE).read_text())
    assert loaded["metrics"]["ua"] == pytest.approx(result["metrics"]["ua"]) and loaded["optimistic"] is True
    assert (out / CONFUSION_FILE).read_bytes()[:8] == PNG_MAGIC
    assert (out / SPEAKERS_FILE).read_bytes()[:8] == PNG_MAGIC
    with open(out / PER_FILE_FILE, newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 40
    assert table[0]["path"] == rows[0].path and table[0]["predicted"] == y_pred[0]
    assert table[0]["correct"] == ("1" if y_true[0] == y_pred[0] else "0")
    assert float(table[0][f"p_{y_pred[0]}"]) == pytest.approx(0.7)
    summary = (out / SUMMARY_FILE).read_text()
    for needle in ("OPTIMISTIC", "UA", "macro-F1", "## Per speaker", "## Per gender", "## Per intensity",
                   "## Per corpus", "bad.wav", "boredom (2)", "![confusion matrix](confusion.png)"):
        assert needle in summary, needle


def test_one_corpus_has_no_corpus_table():
    rows, y_true, y_pred, proba = _case()
    assert "## Per corpus" not in summary_markdown(evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "loso"))


def test_summarize_folds_mean_std_and_pooled_confusion(tmp_path):
    folds = [_case(n=30, seed=s, accuracy=a) for s, a in ((1, 0.3), (2, 0.6), (3, 0.9))]
    results = [
        evaluate_predictions(r, t, p, pr, LABELS, "speaker-kfold", name=f"speaker-kfold {k}/3")
        for k, (r, t, p, pr) in enumerate(folds, start=1)
    ]
    summary = summarize_folds(results)
    uas = [r["metrics"]["ua"] for r in results]
    assert summary["n_folds"] == 3 and [f["name"] for f in summary["folds"]] == [r["name"] for r in results]
    assert summary["mean"]["ua"] == pytest.approx(np.mean(uas))
    assert summary["std"]["ua"] == pytest.approx(np.std(uas, ddof=1))
    assert summary["min"]["ua"] == min(uas) and summary["max"]["ua"] == max(uas)
    y_true = sum((t for _, t, _, _ in folds), [])
    y_pred = sum((p for _, _, p, _ in folds), [])
    np.testing.assert_allclose(summary["confusion"], confusion_matrix(y_true, y_pred, labels=LABELS, normalize="true"))
    assert summary["pooled"]["n"] == 90 and not summary["optimistic"]
    out = write_summary(summary, tmp_path)
    assert json.loads((out / "cv_results.json").read_text())["mean"]["ua"] == pytest.approx(np.mean(uas))
    text = (out / "cv_summary.md").read_text()
    assert f"{np.mean(uas):.3f} ± {np.std(uas, ddof=1):.3f}" in text
    assert (out / "cv_confusion.png").read_bytes()[:8] == PNG_MAGIC
    assert summarize_folds(results[:1])["std"]["ua"] == 0.0
    with pytest.raises(ValueError):
        summarize_folds([])


def test_cross_corpus_table():
    rows, y_true, y_pred, proba = _case()
    fold = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "cross-corpus")
    cv = summarize_folds([fold, evaluate_predictions(*_case(seed=5), LABELS, "speaker-kfold")])
    cells = {("ravdess", "emodb"): 0.41, ("emodb", "ravdess"): fold, ("ravdess", "ravdess"): cv}
    table = cross_corpus_table(cells, metric="ua")
    lines = table.splitlines()
    assert lines[0] == "| train \\ test (UA) | emodb | ravdess |"
    assert lines[2] == f"| emodb | – | {fold['metrics']['ua']:.3f} |"
    assert lines[3] == f"| ravdess | 0.410 | {cv['mean']['ua']:.3f} ± {cv['std']['ua']:.3f}* |"
    with pytest.raises(ValueError, match="unknown metric"):
        cross_corpus_table(cells, metric="auc")
    random = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "random")
    assert "(optimistic)" in cross_corpus_table({("emodb", "emodb"): random})


def test_plots(tmp_path):
    from ser.evaluation.plots import plot_breakdown, plot_cross_corpus

    rows, y_true, y_pred, proba = _case()
    result = evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "loso")
    plot_breakdown(result["breakdowns"]["speaker"], tmp_path / "speakers.png", overall=result["metrics"]["ua"])
    plot_cross_corpus({("a", "b"): 0.4, ("b", "a"): 0.3, ("a", "a"): 0.8}, tmp_path / "cross.png")
    for name in ("speakers.png", "cross.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cross.png", "speakers.png"]


def test_model_label_mapping_matches_the_default_model_map():
    for emotion in EMOTIONS + ("other",):
        assert to_model_label(emotion, DEFAULT_MODEL_LABELS) == to_default_labels(emotion)
    assert to_model_label("calm", ["calm", "neutral"]) == "calm"  # a model with calm keeps it
    assert to_model_label("female_calm", ["female_neutral", "male_neutral"]) == "female_neutral"
    assert to_model_label("boredom", DEFAULT_MODEL_LABELS) is None


def test_importing_evaluation_does_not_import_matplotlib():
    code = "import sys, ser.evaluation.report, ser.evaluation.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_report_without_matplotlib_skips_the_pictures(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    rows, y_true, y_pred, proba = _case()
    out = write_report(evaluate_predictions(rows, y_true, y_pred, proba, LABELS, "loso"), tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted([RESULTS_FILE, SUMMARY_FILE, PER_FILE_FILE])
    assert ".png" not in (out / SUMMARY_FILE).read_text()
