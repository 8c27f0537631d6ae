"""Score a model on labelled manifest rows: audio in, an evaluation result out, honestly.

    >>> from ser.evaluation import evaluate_model, write_report
    >>> result = evaluate_model("runs/cnn/fold3", "folds.csv", fold=3)    # doctest: +SKIP
    >>> result["metrics"]["ua"], result["speaker_independent"]             # doctest: +SKIP
    (0.61, True)
    >>> write_report(result, "eval/fold3")                                 # doctest: +SKIP

What makes the numbers honest is decided here, so ``ser evaluate`` and Python callers get the
same result:

- `select_rows` picks the rows of one fold or split and says whether they are speaker-independent
  of the rest: a fold sharing speakers with the other folds, a random split, or a split's own
  train/val rows make the result OPTIMISTIC.
- `seen_in_training` checks the test speakers against those the model folder records having
  learnt from (``ser_model.json`` ``training.speakers``, ``split.json``, ensemble members), or
  else against its training corpora; an overlap makes the result OPTIMISTIC, is logged as a
  warning, and the speakers the model never heard are scored on their own
  (``result["training_overlap"]``).
- Labels the model cannot output are counted, not scored; a finer label the model lacks is
  folded (calm -> neutral) and noted. Unreadable files and clips in which the Recognizer finds no
  speech are listed in ``result["skipped"]``, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ser.audio import DEFAULT_MAX_DURATION_S, AudioError
from ser.errors import SerError, SplitError
from ser.evaluation.metrics import scores
from ser.evaluation.report import RANDOM_CAVEAT, evaluate_predictions, is_optimistic, to_model_label
from ser.files import Progress
from ser.inference.recognizer import Recognizer, default_model_dir
from ser.labels import TARGETS, target_label
from ser.manifest import Utterance, audio_path, read_manifest
from ser.model_folder import CONFIG_NAME, read_config
from ser.splits import folds_from_manifest, is_speaker_independent, speaker_overlap

logger = logging.getLogger(__name__)

# Below this many files a progress bar is more noise than help (when not asked for explicitly).
PROGRESS_MIN_FILES = 10


@dataclass
class Selection:
    """Which rows are scored and what can be said of them.

    indices : positions in the rows. protocol : how they were chosen (``random``, ``fold 2/5``...).
    name : the result's name. optimistic / caveat : whether (and why) the numbers overstate
    accuracy on new speakers. speaker_independent : True when the manifest's folds show that no
    test speaker is on the training side, False when one is, None when it cannot tell.
    notes : warnings to report with the result.
    """

    indices: list[int]
    protocol: str
    name: str
    optimistic: bool = False
    caveat: str | None = None
    speaker_independent: bool | None = None
    notes: list[str] = field(default_factory=list)


def evaluate_model(
    model: Recognizer | str | os.PathLike | None,
    rows: Sequence[Utterance] | str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    model_dir: str | os.PathLike | None = None,
    target: str | None = None,
    fold: str | int | None = None,
    split_column: str | None = None,
    protocol: str | None = None,
    batch_size: int = 16,
    max_duration: float | None = DEFAULT_MAX_DURATION_S,
    vad: bool = True,
    progress: bool | None = None,
) -> dict:
    """Predict the labelled rows with `model` and score them (`evaluate_predictions`'s result).

    Parameters
    ----------
    model : a `Recognizer`, a model folder (exported ONNX or a ``ser train`` checkpoint), or None
        for the shipped model.
    rows : manifest rows, or the path of a manifest CSV (then relative audio paths are taken
        relative to its folder).
    root : the folder relative audio paths are relative to, when not the working directory.
    model_dir : the model's folder when `model` is a Recognizer that does not know it; without a
        folder the training-speaker check cannot run, and the result says so.
    target : what the model predicts (``emotion``, ``gender``, ``gender_emotion``); default the
        model's own ``target``, else emotion.
    fold, split_column, protocol : which rows to score (`select_rows`).
    batch_size : clips per model call. max_duration : longest audio accepted, in seconds.
    vad : judge only the speech the Recognizer's detector finds (as ``ser predict`` does).
    progress : a progress bar on stderr; None: when stderr is a terminal and there are more than
        `PROGRESS_MIN_FILES` files.

    Returns
    -------
    The result dict of `evaluate_predictions` (write it with `write_report`), with
    ``skipped`` = ``{"unreadable": [{"path", "reason"}], "no_speech": [path], "unmappable":
    {label: count}, "unlabelled": count}`` and ``training_overlap``: None, or
    ``{"warning": text, "unseen": {"speakers", "n", "ua", "wa", "macro_f1"} or None}`` when the
    model learnt from some test speakers.

    Raises `SerError` naming the manifest or model when nothing can be scored.
    """
    rows, root, source = _rows_and_root(rows, root)
    recognizer, model_dir = _recognizer(model, model_dir, max_duration, vad)
    config = read_config(model_dir) if model_dir is not None else {}
    labels = list(recognizer.labels)
    target = target or str(config.get("target") or "emotion")
    if target not in TARGETS:
        where = model_dir if model_dir is not None else repr(recognizer)
        raise SerError(f"{where}: the model's target {target!r} is not one of {', '.join(TARGETS)}")

    selection = select_rows(rows, fold=fold, split_column=split_column, protocol=protocol, source=source)
    scored, truths, unlabelled, unmappable = _truths(rows, selection, target, labels)
    if not scored:
        raise SerError(
            f"{source}: no row to score: {len(selection.indices)} selected, {unlabelled} without a {target} label, "
            f"{sum(unmappable.values())} with a label the model cannot output (model labels: {', '.join(labels)})"
        )

    seen = _check_training_speakers(model_dir, config, [rows[i] for i in scored], selection)

    kept, y_pred, proba, unreadable, silent = _predict(recognizer, rows, scored, root, batch_size, progress)
    if not kept:
        first = f"{unreadable[0]['path']}: {unreadable[0]['reason']}" if unreadable else f"{silent[0]}: no speech detected"
        raise SerError(f"{source}: none of the {len(scored)} selected files could be scored (first: {first})")

    truth_of = dict(zip(scored, truths))
    kept_rows, kept_truths = [rows[i] for i in kept], [truth_of[i] for i in kept]
    overlap = None
    if seen:
        unseen = unseen_scores(model_dir, config, kept_rows, kept_truths, y_pred)
        overlap = {"warning": seen, "unseen": unseen}
        selection.notes.insert(1, unseen_line(unseen))
    result = evaluate_predictions(
        kept_rows, kept_truths, y_pred, np.asarray(proba, dtype=np.float64), labels, selection.protocol,
        name=selection.name, optimistic=selection.optimistic or is_optimistic(selection.protocol),
        caveat=selection.caveat, speaker_independent=selection.speaker_independent,
        skipped={"unreadable": unreadable, "no_speech": silent, "unmappable": dict(unmappable), "unlabelled": unlabelled},
        notes=selection.notes,
        model=_describe(recognizer, model_dir, config, source, target),
    )
    result["training_overlap"] = overlap
    return result


def select_rows(
    rows: Sequence[Utterance],
    *,
    fold: str | int | None = None,
    split_column: str | None = None,
    protocol: str | None = None,
    source: str = "the manifest",
) -> Selection:
    """The rows of one fold or split (every row when `fold` is None), and whether they are honest.

    fold : the value of `split_column` to score (a fold number, ``test``...).
    split_column : the column `fold` reads; default ``fold`` if the rows have it, else ``split``.
    protocol : how the test rows were chosen, when the manifest does not tell (``random`` is
        marked optimistic).
    source : how to name the rows in messages (the manifest's path).
    """
    columns = {key for row in rows for key in row.extra}
    every = list(range(len(rows)))
    if fold is None:
        if split_column:
            raise SerError(f"split column {split_column!r} given without a fold: say which rows to score (--fold)")
        notes = []
        present = sorted(columns & {"fold", "split"})
        if present:
            notes.append(
                f"the manifest has a {present[0]!r} column but no --fold was given: every row is scored, "
                "including rows the model may have trained on"
            )
        protocol = protocol or "whole manifest"
        return Selection(every, protocol, protocol, notes=notes)

    column = split_column or ("fold" if "fold" in columns else "split")
    if column not in columns:
        raise SerError(f"{source}: no {column!r} column to select --fold {fold} from; make one with `ser data split`")
    wanted = str(fold).strip().lower()
    selected = [i for i in every if rows[i].get(column).strip().lower() == wanted]
    if not selected:
        values = sorted({rows[i].get(column) for i in every} - {""})
        raise SerError(f"{source}: no row has {column} = {str(fold)!r} (values: {', '.join(values)})")
    selection = Selection(selected, "", f"{column} {fold}")
    # folds_from_manifest reads the fold column when there is one, so a split column only without it.
    if column == "fold" or (column == "split" and "fold" not in columns):
        _judge_fold(rows, selection, column, wanted, str(fold))
    optimistic_random = selection.optimistic and selection.caveat == RANDOM_CAVEAT
    selection.protocol = protocol or ("random" if optimistic_random else selection.name)
    if selection.optimistic and selection.speaker_independent:
        selection.speaker_independent = False  # a split's own train rows, say: held out from nothing
    return selection


def _judge_fold(rows: Sequence[Utterance], selection: Selection, column: str, wanted: str, shown: str) -> None:
    """Name `selection` after its fold and mark it optimistic when its speakers are not held out."""
    try:
        folds = folds_from_manifest(rows)
    except SplitError as exc:
        folds = []
        selection.notes.append(f"the manifest's folds cannot be read back ({exc}); speaker independence not checked")
    if not folds:
        fold = None
    elif column == "fold":
        fold = next((f for f in folds if f.name.split()[1].split("/")[0] == wanted), None)
    else:
        fold = folds[0] if wanted == "test" else None
    if column == "split" and wanted in ("train", "val"):
        selection.optimistic, selection.caveat = True, (
            f"OPTIMISTIC: these are the {wanted} rows of the split, which the model learnt from or was "
            "selected on; score the test rows (--fold test)"
        )
    if fold is None:
        return
    selection.name = fold.name
    selection.speaker_independent = is_speaker_independent(fold, rows)
    if selection.speaker_independent:
        return
    selection.optimistic = True
    if column == "split":
        selection.caveat = RANDOM_CAVEAT
        return
    both = speaker_overlap(rows, fold)
    selection.caveat = (
        f"OPTIMISTIC: {len(both)} speaker(s) of fold {shown} ({', '.join(both[:8])}) also have clips in "
        "the other folds, which a model of this fold trains on; these numbers are not speaker-independent"
        if both else f"OPTIMISTIC: some rows have no speaker, so fold {shown} cannot be shown speaker-independent"
    )


# --------------------------------------------------------------------------------------------
# What the model learnt from


def _check_training_speakers(model_dir: Path | None, config: dict, rows: Sequence[Utterance], selection: Selection) -> str | None:
    """`seen_in_training`, applied: a warning logged and the selection marked optimistic when the
    model learnt from some of `rows`' speakers (returns that warning), a note when it cannot tell."""
    if model_dir is None:
        selection.notes.append("the model's folder is unknown, so its training speakers were not checked")
        return None
    seen = seen_in_training(model_dir, config, rows)
    if seen:
        logger.warning(seen)
        selection.optimistic, selection.caveat, selection.speaker_independent = True, seen, False
        selection.notes.insert(0, seen)
    return seen


def training_speakers(model_dir: str | os.PathLike, config: dict | None = None) -> set[str] | None:
    """The speakers a model folder says it learnt from or was selected on; None if it does not say.

    Read from ``ser_model.json`` ``"training": {"speakers": [...]}``, from the ``split.json`` that
    ``ser train`` writes beside each fold's model (its ``trained_on``, ``train`` and ``val``
    speakers), and, for an ensemble folder, from every member's.
    """
    model_dir = Path(model_dir)
    config = read_config(model_dir) if config is None else config
    found: set[str] | None = None
    listed = (config.get("training") or {}).get("speakers")
    if listed is not None:
        found = set(map(str, listed))
    split = model_dir / "split.json"
    if split.is_file():
        try:
            payload = json.loads(split.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SerError(f"{split}: invalid JSON ({exc})") from None
        found = (found or set()) | {
            str(s) for key in ("trained_on", "train", "val") for s in ((payload.get(key) or {}).get("speakers") or [])
        }
    for member in config.get("ensemble") or []:
        member_dir = model_dir / str(member)
        if (member_dir / CONFIG_NAME).is_file():
            speakers = training_speakers(member_dir)
            if speakers is not None:
                found = (found or set()) | speakers
    return found


def seen_in_training(model_dir: str | os.PathLike, config: dict, rows: Sequence[Utterance]) -> str | None:
    """An OPTIMISTIC warning when the model folder records training speakers (or, failing that,
    training corpora) that are among `rows`; None when it records none of theirs."""
    test_speakers = {r.speaker for r in rows if r.speaker}
    speakers = training_speakers(model_dir, config)
    if speakers is not None:
        seen = sorted(test_speakers & speakers)
        if not seen:
            return None
        shown = ", ".join(seen[:8]) + (f" and {len(seen) - 8} more" if len(seen) > 8 else "")
        return (
            f"OPTIMISTIC: the model was trained (or validated) on {len(seen)} of the {len(test_speakers)} "
            f"test speakers ({shown}), so these numbers are not speaker-independent"
        )
    training = config.get("training") or {}
    corpora = training.get("corpora") or (config.get("recipe") or {}).get("corpora")
    seen = sorted({r.corpus for r in rows} & set(corpora or ()))
    if seen:
        return (
            f"OPTIMISTIC: the model was trained on corpus {', '.join(seen)} and does not record which speakers, "
            "so some test speakers were probably seen in training; these numbers are not speaker-independent"
        )
    return None


def unseen_scores(model_dir, config: dict, rows: Sequence[Utterance], y_true, y_pred) -> dict[str, Any] | None:
    """UA, WA and macro-F1 on the test speakers the model never heard (``{"speakers", "n", "ua",
    "wa", "macro_f1"}``); None when the folder does not record its speakers or none is unseen."""
    speakers = training_speakers(model_dir, config)
    if speakers is None:
        return None
    index = [i for i, r in enumerate(rows) if r.speaker and r.speaker not in speakers]
    if not index:
        return None
    metrics = scores([y_true[i] for i in index], [y_pred[i] for i in index])
    return {"speakers": len({rows[i].speaker for i in index}), **metrics}


def unseen_line(unseen: dict[str, Any] | None) -> str:
    """`unseen_scores` as one line of text."""
    if unseen is None:
        return "no test speaker is known to be unseen in training: there is no speaker-independent subset"
    return (f"on the {unseen['speakers']} test speaker(s) the model never saw ({unseen['n']} clips): "
            f"UA {unseen['ua']:.3f}  WA {unseen['wa']:.3f}  macro-F1 {unseen['macro_f1']:.3f}")


# --------------------------------------------------------------------------------------------
# Helpers


def _rows_and_root(rows, root) -> tuple[list[Utterance], Path | None, str]:
    """(rows, folder of relative audio paths, name for messages) from rows or a manifest path."""
    if isinstance(rows, (str, os.PathLike)):
        manifest = Path(rows)
        return read_manifest(manifest), Path(root) if root is not None else manifest.parent, str(manifest)
    return list(rows), Path(root) if root is not None else None, "the rows"


def _recognizer(model, model_dir, max_duration, vad) -> tuple[Recognizer, Path | None]:
    if isinstance(model, Recognizer):
        folder = model_dir if model_dir is not None else getattr(model.backend, "directory", None)
        return model, Path(folder) if folder is not None else None
    folder = Path(model) if model is not None else default_model_dir()
    return Recognizer.from_pretrained(model, max_duration=max_duration, vad=vad), folder


def _truths(rows: Sequence[Utterance], selection: Selection, target: str, labels: list[str]):
    """The selected rows that can be scored and their true labels in the model's label set.

    Returns (row indices, labels, count of unlabelled rows, Counter of labels the model cannot
    output); a note per mapping applied (calm -> neutral) is added to the selection's notes.
    """
    scored, truths, unlabelled, unmappable, mapped = [], [], 0, Counter(), Counter()
    for i in selection.indices:
        truth = target_label(rows[i], target)
        if not truth:
            unlabelled += 1
            continue
        label = to_model_label(truth, labels)
        if label is None:
            unmappable[truth] += 1
            continue
        if label != truth:
            mapped[(truth, label)] += 1
        scored.append(i)
        truths.append(label)
    for (original, folded), count in sorted(mapped.items()):
        selection.notes.append(f"{count} row(s) labelled {original} scored as {folded} (the model has no {original} class)")
    return scored, truths, unlabelled, unmappable


def _predict(recognizer: Recognizer, rows, scored: list[int], root: Path | None, batch_size: int, progress: bool | None):
    """Predict rows `scored` (unreadable files and clips without speech are listed and skipped).

    Returns (row indices predicted, their labels, their [n, labels] probabilities, unreadable
    files as ``{"path", "reason"}``, paths of clips without speech).
    """
    labels = recognizer.labels
    sources = [str(audio_path(rows[i].path, root)) for i in scored]
    shown = progress if progress is not None else (len(scored) > PROGRESS_MIN_FILES and sys.stderr.isatty())
    kept, predicted, proba, unreadable, silent = [], [], [], [], []
    with Progress(len(scored), desc="evaluating", unit="file", enabled=shown) as bar:
        for k, outcome in recognizer.predict_files(sources, batch_size=batch_size, on_error="return"):
            row = rows[scored[k]]
            if isinstance(outcome, AudioError):
                unreadable.append({"path": row.path, "reason": outcome.reason})
                logger.warning("skipped %s: %s", row.path, outcome.reason)
            elif outcome.label is None:
                silent.append(row.path)
                logger.warning("skipped %s: no speech detected", row.path)
            else:
                kept.append(scored[k])
                predicted.append(outcome.label)
                proba.append([outcome.scores[label] for label in labels])
            bar.update(1)
    return kept, predicted, proba, unreadable, silent


def _describe(recognizer: Recognizer, model_dir: Path | None, config: dict, source: str, target: str) -> dict:
    """The result's ``model`` entry: name, path, backend, version, manifest, target."""
    name = config.get("name") or (model_dir.name if model_dir is not None else repr(recognizer.backend))
    return {
        "name": name, "path": str(model_dir) if model_dir is not None else "", "backend": config.get("backend"),
        "version": config.get("version", ""), "manifest": source if source != "the rows" else "", "target": target,
    }
