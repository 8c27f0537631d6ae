"""The evaluation result of a model on a set of utterances, its breakdowns, and the files that report it.

    >>> import pathlib, tempfile
    >>> from ser.manifest import Utterance
    >>> rows = [Utterance(path=f"{i}.wav", corpus="demo", speaker=f"s{i % 2}", emotion="") for i in range(4)]
    >>> result = evaluate_predictions(rows, ["angry", "sad", "sad", "angry"], ["angry", "sad", "angry", "angry"],
    ...                               None, ["angry", "sad"], protocol="speaker-kfold", name="fold 1/5")
    >>> result["metrics"]["ua"], result["optimistic"], result["speaker_independent"]
    (0.75, False, True)
    >>> out = write_report(result, pathlib.Path(tempfile.mkdtemp()) / "fold1")
    >>> sorted(p.name for p in out.iterdir())
    ['confusion.png', 'per_file.csv', 'per_speaker.png', 'results.json', 'summary.md']

A result is a plain JSON-ready dict (see `evaluate_predictions`). Cross-validation folds are
combined by `summarize_folds` (mean and spread over folds, pooled confusion) and written by
`write_summary`; several train-corpus x test-corpus results become one table with
`ser.evaluation.cross_corpus`. Scoring a model on manifest rows, from audio to result, is
`ser.evaluation.evaluate.evaluate_model`.

Every file is written aside and renamed into place (`ser.files.atomic_write`), so a reader never
sees half a report. A result from a speaker-dependent protocol (``random``) carries
``optimistic: True`` and a caveat that every printed form repeats.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ser.evaluation import plots
from ser.evaluation.metrics import METRIC_NAMES, METRICS, breakdown, classification_metrics, expected_calibration_error
from ser.files import atomic_write
from ser.manifest import Utterance
from ser.splits import PROTOCOLS

RESULTS_FILE = "results.json"
SUMMARY_FILE = "summary.md"
PER_FILE_FILE = "per_file.csv"
CONFUSION_FILE = "confusion.png"
SPEAKERS_FILE = "per_speaker.png"
CV_RESULTS_FILE = "cv_results.json"
CV_SUMMARY_FILE = "cv_summary.md"
CV_CONFUSION_FILE = "cv_confusion.png"

RANDOM_CAVEAT = (
    "OPTIMISTIC: a random clip-level split puts the same speakers on both the training and the test "
    "side, so these numbers are speaker-dependent and overstate accuracy on new voices; report a "
    "speaker-independent protocol (speaker-kfold, loso, ravdess-6fold, cross-corpus) as the headline"
)
_SPEAKER_INDEPENDENT = tuple(p for p in PROTOCOLS if p != "random")  # each checks it before returning folds
BREAKDOWNS: tuple[str, ...] = ("corpus", "speaker", "gender", "intensity")


def is_optimistic(protocol: str) -> bool:
    """True for a speaker-dependent protocol name: ``random``, or any name that says ``optimistic``."""
    name = protocol.strip().lower()
    return name.startswith("random") or "optimistic" in name


def evaluate_predictions(
    rows: Sequence[Utterance],
    y_true: Sequence[str],
    y_pred: Sequence[str],
    proba: np.ndarray | None,
    labels: Sequence[str],
    protocol: str,
    *,
    name: str | None = None,
    optimistic: bool | None = None,
    caveat: str | None = None,
    speaker_independent: bool | None = None,
    skipped: Mapping | None = None,
    notes: Sequence[str] = (),
    model: Mapping | None = None,
) -> dict:
    """Score predictions and break the scores down by corpus, speaker, gender and intensity.

    Parameters
    ----------
    rows : the n scored utterances (for paths and the breakdown columns).
    y_true, y_pred : their true and predicted labels, length n, each one of `labels`.
    proba : [n, len(labels)] class probabilities in `labels` order, or None (no confidences).
    labels : the model's labels, in its output order.
    protocol : how the test rows were chosen (``speaker-kfold``, ``random``, ``fold 2/5``, ...).
    name : this result's own name (a fold's name); default `protocol`.
    optimistic : override; default ``is_optimistic(protocol)``. Pass True when, for instance,
        the model is known to have trained on some test speakers.
    caveat : the warning shown with an optimistic result; default the random-split caveat.
    speaker_independent : True when it is known that no test speaker was seen in training
        (a checked fold); default True for a speaker-independent protocol name of
        `ser.splits.PROTOCOLS`, else None (unknown). Always False for an optimistic result.
    skipped : what could not be scored, e.g. ``{"unreadable": [{"path", "reason"}],
        "unmappable": {"boredom": 12}, "unlabelled": 3}``; reported as given.
    notes : further warnings to show with the result (label mappings, seen speakers...).
    model : a description of the model (name, path, backend), reported as given.

    Returns
    -------
    dict with ``name``, ``protocol``, ``optimistic``, ``caveat`` (``""`` when not optimistic),
    ``speaker_independent`` (True, False or None for unknown),
    ``labels``, ``metrics`` (`classification_metrics`, plus ``ece`` and ``mean_confidence`` when
    `proba` is given), ``breakdowns`` (``corpus``/``speaker``/``gender``/``intensity`` -> list
    of ``{"group", "n", "ua", "wa", "macro_f1"}``), ``per_file`` (one dict per row: path, corpus,
    speaker, gender, intensity, true, predicted, confidence, correct, and scores when `proba`
    is given), ``skipped``, ``notes`` and ``model``.
    """
    rows, y_true, y_pred, labels = list(rows), [str(y) for y in y_true], [str(y) for y in y_pred], [str(x) for x in labels]
    if not len(rows) == len(y_true) == len(y_pred):
        raise ValueError(f"rows, y_true and y_pred differ in length ({len(rows)}, {len(y_true)}, {len(y_pred)})")
    metrics = classification_metrics(y_true, y_pred, labels)
    if proba is not None:
        proba = np.asarray(proba, dtype=np.float64)
        if proba.shape != (len(rows), len(labels)):
            raise ValueError(f"proba must have shape {(len(rows), len(labels))}, got {proba.shape}")
        index = {label: k for k, label in enumerate(labels)}
        metrics["ece"] = expected_calibration_error(proba, np.array([index[y] for y in y_true]))
        metrics["mean_confidence"] = float(proba.max(axis=1).mean())
    if optimistic is None:
        optimistic = is_optimistic(protocol)
    if optimistic:
        speaker_independent = False
    elif speaker_independent is None and protocol in _SPEAKER_INDEPENDENT:
        speaker_independent = True
    breakdowns = {
        column: breakdown([r.get(column) for r in rows], y_true, y_pred) for column in BREAKDOWNS
    }
    per_file = []
    for i, (row, truth, guess) in enumerate(zip(rows, y_true, y_pred)):
        entry = {
            "path": row.path,
            "corpus": row.corpus,
            "speaker": row.speaker,
            "gender": row.gender,
            "intensity": row.intensity,
            "true": truth,
            "predicted": guess,
            "confidence": None if proba is None else round(float(proba[i, labels.index(guess)]), 6),
            "correct": truth == guess,
        }
        if proba is not None:
            entry["scores"] = {label: round(float(p), 6) for label, p in zip(labels, proba[i])}
        per_file.append(entry)
    return {
        "name": name or protocol,
        "protocol": protocol,
        "optimistic": bool(optimistic),
        "caveat": (caveat or RANDOM_CAVEAT) if optimistic else "",
        "speaker_independent": speaker_independent,
        "labels": labels,
        "metrics": metrics,
        "breakdowns": breakdowns,
        "per_file": per_file,
        "skipped": dict(skipped or {}),
        "notes": list(notes),
        "model": dict(model or {}),
    }


# --------------------------------------------------------------------------------------------
# Cross-validation


def summarize_folds(results: Sequence[Mapping]) -> dict:
    """Mean and spread of UA, WA and macro-F1 over folds, and the metrics of all folds pooled.

    Parameters
    ----------
    results : one `evaluate_predictions` result per fold (at least one).

    Returns
    -------
    dict with ``protocol``, ``optimistic`` (True if any fold is), ``caveat``, ``n_folds``,
    ``labels``, ``folds`` (per fold: name, n, ua, wa, macro_f1, optimistic), ``mean`` and
    ``std`` (metric -> value; the sample standard deviation, ddof=1, and 0.0 for one fold),
    ``min`` and ``max``, ``pooled`` (`classification_metrics` over every fold's test rows
    together) and ``confusion`` (the pooled row-normalised confusion matrix).
    """
    results = list(results)
    if not results:
        raise ValueError("no fold results to summarise")
    labels: list[str] = []
    for result in results:
        labels += [label for label in result["labels"] if label not in labels]
    folds = [
        {"name": r["name"], "n": r["metrics"]["n"], **{m: r["metrics"][m] for m in METRICS}, "optimistic": r["optimistic"]}
        for r in results
    ]
    values = {m: np.array([f[m] for f in folds], dtype=np.float64) for m in METRICS}
    y_true = [entry["true"] for r in results for entry in r["per_file"]]
    y_pred = [entry["predicted"] for r in results for entry in r["per_file"]]
    pooled = classification_metrics(y_true, y_pred, labels)
    optimistic = any(r["optimistic"] for r in results)
    protocols = list(dict.fromkeys(r["protocol"] for r in results))
    return {
        "protocol": ", ".join(protocols),
        "optimistic": optimistic,
        "caveat": next((r["caveat"] for r in results if r["optimistic"]), "") if optimistic else "",
        "n_folds": len(results),
        "labels": labels,
        "folds": folds,
        "mean": {m: float(v.mean()) for m, v in values.items()},
        "std": {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for m, v in values.items()},
        "min": {m: float(v.min()) for m, v in values.items()},
        "max": {m: float(v.max()) for m, v in values.items()},
        "pooled": pooled,
        "confusion": pooled["confusion"],
    }


# --------------------------------------------------------------------------------------------
# Files


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def write_report(result: Mapping, out_dir: str | os.PathLike) -> Path:
    """Write ``results.json``, ``summary.md``, ``per_file.csv`` and ``confusion.png`` into `out_dir`.

    With two or more speakers, ``per_speaker.png`` too (UA per speaker). Each file is written
    aside and renamed into place. Returns `out_dir` as a Path. The PNGs need matplotlib (the
    ``plot`` or ``train`` extra); without it they are left out and the summary does not link them.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    m = result["metrics"]
    drawn = _draw(lambda p: plots.plot_confusion(m["confusion"], result["labels"], p, title=_title(result), support=m["support"]),
                  out / CONFUSION_FILE)
    speakers = result["breakdowns"].get("speaker") or []
    drawn_speakers = len(speakers) > 1 and _draw(
        lambda p: plots.plot_breakdown(speakers, p, metric="ua", title=f"UA per speaker: {_title(result)}", overall=m["ua"]),
        out / SPEAKERS_FILE,
    )
    _write_text(out / RESULTS_FILE, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    _write_text(out / PER_FILE_FILE, per_file_csv(result))
    _write_text(out / SUMMARY_FILE, summary_markdown(
        result, confusion_png=CONFUSION_FILE if drawn else None, speakers_png=SPEAKERS_FILE if drawn_speakers else None
    ))
    return out


def write_summary(summary: Mapping, out_dir: str | os.PathLike) -> Path:
    """Write a `summarize_folds` summary: ``cv_results.json``, ``cv_summary.md``, ``cv_confusion.png``.

    The names do not clash with `write_report`'s, so folds and their summary may share a folder.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    title = f"{summary['protocol']}: {summary['n_folds']} folds pooled" + (" (OPTIMISTIC)" if summary["optimistic"] else "")
    support = summary["pooled"]["support"]
    drawn = _draw(lambda p: plots.plot_confusion(summary["confusion"], summary["labels"], p, title=title, support=support),
                  out / CV_CONFUSION_FILE)
    _write_text(out / CV_RESULTS_FILE, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    _write_text(out / CV_SUMMARY_FILE, folds_markdown(summary, confusion_png=CV_CONFUSION_FILE if drawn else None))
    return out


def _draw(draw, path: Path) -> bool:
    """Run ``draw(path)``; False (and no file) when matplotlib is not installed."""
    try:
        draw(path)
    except ImportError:
        return False
    return True


def _title(result: Mapping) -> str:
    title = result["name"]
    if result["name"] != result["protocol"]:
        title = f"{result['protocol']}: {title}"
    return title + (" (OPTIMISTIC)" if result["optimistic"] else "")


def per_file_csv(result: Mapping) -> str:
    """The per-file table as CSV: path, corpus, speaker, gender, intensity, true, predicted, confidence, correct, p_<label>..."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    labels = result["labels"]
    with_scores = any("scores" in entry for entry in result["per_file"])
    columns = ["path", "corpus", "speaker", "gender", "intensity", "true", "predicted", "confidence", "correct"]
    writer.writerow(columns + ([f"p_{label}" for label in labels] if with_scores else []))
    for entry in result["per_file"]:
        values = [entry[c] for c in columns[:7]]
        values.append("" if entry["confidence"] is None else f"{entry['confidence']:.6f}")
        values.append("1" if entry["correct"] else "0")
        if with_scores:
            values += [f"{entry['scores'][label]:.6f}" for label in labels]
        writer.writerow(values)
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# Markdown


def headline(result: Mapping) -> str:
    """One line: UA, WA, macro-F1, n, the protocol, and OPTIMISTIC when it is."""
    m = result["metrics"]
    line = f"UA {m['ua']:.3f}  WA {m['wa']:.3f}  macro-F1 {m['macro_f1']:.3f}  (n={m['n']}, {result['name']})"
    return line + ("  [OPTIMISTIC: speakers seen in training]" if result["optimistic"] else "")


def summary_markdown(
    result: Mapping, confusion_png: str | None = CONFUSION_FILE, speakers_png: str | None = None
) -> str:
    """The Markdown summary of one result (what `write_report` writes as ``summary.md``)."""
    m = result["metrics"]
    model = result.get("model") or {}
    out = [f"# Evaluation: {model.get('name', 'model')} — {result['name']}", ""]
    if result["optimistic"]:
        out += [f"> **{result['caveat']}**", ""]
    independence = {True: " (speaker-independent)", False: " (OPTIMISTIC: not speaker-independent)", None: ""}
    out += [f"- protocol: {result['protocol']}" + independence[result.get("speaker_independent")]]
    for key in ("path", "backend", "manifest"):
        if model.get(key):
            out.append(f"- {key}: `{model[key]}`")
    out += ["", "| metric | value |", "|---|---:|"]
    out += [f"| {METRIC_NAMES[k]} | {m[k]:.3f} |" for k in METRICS]
    out.append(f"| utterances scored | {m['n']} |")
    if "ece" in m:
        out.append(f"| mean confidence | {m['mean_confidence']:.3f} |")
        out.append(f"| calibration error (ECE) | {m['ece']:.3f} |")
    out.append("")
    out += _skipped_lines(result.get("skipped") or {})
    notes = result.get("notes") or []
    if notes:
        out += ["## Warnings and notes", ""] + [f"- {note}" for note in notes] + [""]
    out += ["## Per class", "", _report_table(m["report"]), ""]
    out += ["## Confusion matrix (rows: true, normalised)", ""]
    if confusion_png:
        out += [f"![confusion matrix]({confusion_png})", ""]
    out += [_matrix_table(m["confusion"], result["labels"]), ""]
    breakdowns = result["breakdowns"]
    missing = []
    for column in BREAKDOWNS:
        table = breakdowns.get(column) or []
        if column == "corpus" and len(table) < 2:
            continue  # one corpus: the headline already is its row
        if all(row["group"] == "(unknown)" for row in table):
            missing.append(column)
            continue
        out += [f"## Per {column}", ""]
        if column == "speaker" and speakers_png:
            out += [f"![UA per speaker]({speakers_png})", ""]
        out += [_group_table(table, column), ""]
    if missing:
        out += [f"No {' or '.join(missing)} in the manifest: no table for {'them' if len(missing) > 1 else 'it'}.", ""]
    return "\n".join(out).rstrip() + "\n"


def folds_markdown(summary: Mapping, confusion_png: str | None = CV_CONFUSION_FILE) -> str:
    """The Markdown summary of a `summarize_folds` summary (``cv_summary.md``)."""
    out = [f"# Cross-validation: {summary['protocol']}, {summary['n_folds']} folds", ""]
    if summary["optimistic"]:
        out += [f"> **{summary['caveat']}**", ""]
    out += ["| metric | mean ± std over folds | min | max | pooled |", "|---|---:|---:|---:|---:|"]
    for k in METRICS:
        out.append(
            f"| {METRIC_NAMES[k]} | {summary['mean'][k]:.3f} ± {summary['std'][k]:.3f} | "
            f"{summary['min'][k]:.3f} | {summary['max'][k]:.3f} | {summary['pooled'][k]:.3f} |"
        )
    out += ["", "std: sample standard deviation over folds (ddof=1). pooled: all folds' test rows scored together.", ""]
    out += ["## Folds", "", "| fold | n | UA | WA | macro-F1 |", "|---|---:|---:|---:|---:|"]
    for fold in summary["folds"]:
        name = fold["name"] + (" (optimistic)" if fold["optimistic"] else "")
        out.append(f"| {name} | {fold['n']} | {fold['ua']:.3f} | {fold['wa']:.3f} | {fold['macro_f1']:.3f} |")
    out += ["", "## Pooled confusion matrix (rows: true, normalised)", ""]
    if confusion_png:
        out += [f"![confusion matrix]({confusion_png})", ""]
    out += [_matrix_table(summary["confusion"], summary["labels"])]
    return "\n".join(out).rstrip() + "\n"


def _skipped_lines(skipped: Mapping) -> list[str]:
    unreadable = skipped.get("unreadable") or []
    lines = _file_list(f"**{len(unreadable)} file(s) could not be read** and are not scored:",
                       [f"`{item['path']}`: {item['reason']}" for item in unreadable])
    silent = skipped.get("no_speech") or []
    lines += _file_list(f"**{len(silent)} file(s) held no speech** the voice-activity detector could find, and are not scored:",
                        [f"`{path}`" for path in silent])
    unmappable = skipped.get("unmappable") or {}
    if unmappable:
        shown = ", ".join(f"{label} ({count})" for label, count in sorted(unmappable.items()))
        lines.append(
            f"- **{sum(unmappable.values())} row(s) skipped: their label is not one the model can output**: {shown}"
        )
    if skipped.get("unlabelled"):
        lines.append(f"- {skipped['unlabelled']} unlabelled row(s) skipped")
    for key, value in skipped.items():
        if key not in ("unreadable", "no_speech", "unmappable", "unlabelled") and value:
            lines.append(f"- {key}: {value}")
    return (["## Not scored", ""] + lines + [""]) if lines else []


def _file_list(heading: str, items: list[str], shown: int = 20) -> list[str]:
    """A Markdown item `heading` with the first `shown` `items` below it; nothing when no items."""
    if not items:
        return []
    lines = [f"- {heading}"] + [f"  - {item}" for item in items[:shown]]
    if len(items) > shown:
        lines.append(f"  - ... and {len(items) - shown} more (see results.json)")
    return lines


def _report_table(report: Mapping) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, values in report.items():
        if label == "accuracy":
            continue
        numbers = f"{values['precision']:.3f} | {values['recall']:.3f} | {values['f1-score']:.3f}"
        lines.append(f"| {label} | {numbers} | {int(values['support'])} |")
    return "\n".join(lines)


def _matrix_table(confusion, labels) -> str:
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
    for label, row in zip(labels, confusion):
        lines.append(f"| {label} | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    return "\n".join(lines)


def _group_table(table: Sequence[Mapping], column: str) -> str:
    lines = [f"| {column} | n | UA | WA | macro-F1 |", "|---|---:|---:|---:|---:|"]
    for row in table:
        lines.append(f"| {row['group']} | {row['n']} | {row['ua']:.3f} | {row['wa']:.3f} | {row['macro_f1']:.3f} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Labels

def to_model_label(label: str, model_labels: Sequence[str]) -> str | None:
    """`label` in the model's label set, or None if the model cannot output it.

    A label the model has is kept. Otherwise the vocabulary's folds apply when the model lacks
    the finer class but has the coarser one (``calm`` -> ``neutral``, also inside
    ``female_calm``), which for the default model is exactly `ser.labels.to_default_labels`.
    """
    from ser.labels import FOLD_INTO_DEFAULT

    if label in model_labels:
        return label
    prefix, _, emotion = label.rpartition("_")
    folded = FOLD_INTO_DEFAULT.get(emotion)
    if folded is not None:
        candidate = f"{prefix}_{folded}" if prefix else folded
        if candidate in model_labels:
            return candidate
    return None
