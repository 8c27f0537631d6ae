"""``ser evaluate``: score a model (exported ONNX or training checkpoint) on a labelled manifest.

    ser evaluate --manifest ravdess-folds.csv --fold 3 -o eval/fold3            # the shipped model
    ser evaluate --model runs/cnn/fold3 --manifest ravdess-folds.csv --fold 3   # a checkpoint
    ser evaluate --combine eval/fold1 eval/fold2 eval/fold3 -o eval/cv          # mean ± std over folds
    ser evaluate --cross-corpus ravdess=eval/rav-model emodb=eval/emo-model -o eval/cc   # train x test table

Writes results.json, summary.md, per_file.csv and confusion.png (see `ser.evaluation.report`).
Unreadable files are reported and skipped; rows whose label the model cannot output are counted
and skipped; the summary says how many. Exit status: 0 every selected file scored, 1 some files
could not be read (the report is still written), 2 a usage, manifest or model error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from ser.errors import SerError

ORDER = 40


def register(subparsers) -> None:
    from ser.cli.data import PROTOCOL_NAMES
    from ser.cli.predict import _positive_float, _positive_int

    p = subparsers.add_parser(
        "evaluate",
        help="score a model on a labelled manifest: UA, WA, macro-F1, confusion, per-speaker tables",
        description="Predict every labelled file of a manifest with a model (exported or a training checkpoint)\n"
        "and write results.json, summary.md, per_file.csv and confusion.png.\n"
        "Exit status: 0 all scored, 1 some files could not be read, 2 usage, manifest or model error.",
        epilog="examples:\n"
        "  ser evaluate --manifest emodb.csv                               # the shipped model\n"
        "  ser evaluate --model runs/fold3 --manifest folds.csv --fold 3 -o eval/fold3\n"
        "  ser evaluate --model runs/random --manifest split.csv --fold test --split-column split\n"
        "  ser evaluate --combine eval/fold1 eval/fold2 eval/fold3 -o eval/cv\n"
        "  ser evaluate --cross-corpus ravdess=eval/ravdess-model emodb=eval/emodb-model -o eval/cc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", metavar="DIR", default=os.environ.get("SER_MODEL"),
                   help="model folder: exported ONNX or training checkpoint (default: $SER_MODEL or the shipped model)")
    p.add_argument("--manifest", metavar="CSV", help="labelled manifest to evaluate on (ser data index / split)")
    p.add_argument("-o", "--output", metavar="DIR", help="folder for the report (default: eval-<manifest name>)")
    p.add_argument("--target", choices=("emotion", "gender", "gender_emotion"), default=None,
                   help="what the model predicts (default: the model's own \"target\", else emotion)")
    p.add_argument("--fold", metavar="K", help="score only rows whose split column holds K (a fold number, or 'test')")
    p.add_argument("--split-column", default=None, metavar="NAME",
                   help="the column --fold reads (default: 'fold' if the manifest has it, else 'split')")
    p.add_argument("--protocol", choices=PROTOCOL_NAMES,
                   help="how the test rows were chosen, when the manifest does not tell (random is marked optimistic)")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per model call (default 16)")
    p.add_argument("--max-duration", type=_positive_float, default=None, metavar="SECONDS",
                   help="skip audio longer than this (default: 3 hours)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal and there are more than 10 files)")
    p.add_argument("--combine", nargs="+", metavar="DIR",
                   help="instead: combine the reports in these folders (one per fold) into mean ± std")
    p.add_argument("--cross-corpus", nargs="+", metavar="TRAIN[:TEST]=DIR",
                   help="instead: a train x test corpus table and heat map from reports; TRAIN=DIR takes each test "
                   "corpus of DIR's results.json, TRAIN:TEST=DIR one cell (results.json or cv_results.json)")
    p.add_argument("--metric", choices=("ua", "wa", "macro_f1"), default="ua", help="--cross-corpus: the metric shown (default ua)")
    p.set_defaults(func=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    if args.combine and args.cross_corpus:
        raise SerError("--combine and --cross-corpus are two different jobs; give one")
    if args.cross_corpus:
        if args.manifest:
            raise SerError("--cross-corpus reads finished reports; it takes no --manifest")
        return _cross_corpus(args)
    if args.combine:
        if args.manifest:
            raise SerError("--combine reads finished reports; it takes no --manifest")
        return _combine(args)
    if not args.manifest:
        raise SerError("ser evaluate needs --manifest CSV (or --combine DIR... / --cross-corpus TRAIN=DIR...)")
    return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from ser.audio import DEFAULT_MAX_DURATION_S
    from ser.evaluation.report import TARGETS, evaluate_predictions, headline, is_optimistic, write_report
    from ser.model_folder import read_config
    from ser.inference.recognizer import Recognizer, default_model_dir
    from ser.manifest import read_manifest

    manifest = Path(args.manifest)
    rows = read_manifest(manifest)
    model_dir = Path(args.model) if args.model else default_model_dir()
    recognizer = Recognizer.from_pretrained(args.model, max_duration=args.max_duration or DEFAULT_MAX_DURATION_S,
                                            batch_size=args.batch_size)
    config = read_config(model_dir)
    labels = list(recognizer.labels)
    target = args.target or str(config.get("target") or "emotion")
    if target not in TARGETS:
        raise SerError(f"{model_dir}: the model's target {target!r} is not one of {', '.join(TARGETS)}")

    selected, protocol, name, optimistic, caveat, notes, independent = _select(rows, args, manifest)

    scored, truths, unlabelled, unmappable = _truths(rows, selected, target, labels, notes)
    if not scored:
        raise SerError(
            f"{manifest}: no row to score: {len(selected)} selected, {unlabelled} without a {target} label, "
            f"{sum(unmappable.values())} with a label the model cannot output (model labels: {', '.join(labels)})"
        )

    seen = _seen_in_training(model_dir, config, [rows[i] for i in scored])
    if seen:
        optimistic, caveat, independent = True, seen, False
        notes.insert(0, seen)
        print(f"ser: WARNING: {seen}", file=sys.stderr)

    kept, proba, unreadable = _predict(recognizer, rows, scored, manifest, args)
    if not kept:
        raise SerError(f"{manifest}: none of the {len(scored)} selected files could be read (first: "
                       f"{unreadable[0]['path']}: {unreadable[0]['reason']})")

    truth_of = dict(zip(scored, truths))
    proba = np.asarray(proba, dtype=np.float64)
    y_pred = [labels[k] for k in proba.argmax(axis=1)]
    unseen_line = None
    if seen:
        unseen_line = _unseen_scores(model_dir, config, [rows[i] for i in kept], [truth_of[i] for i in kept], y_pred)
        if unseen_line:
            notes.insert(1, unseen_line)
    result = evaluate_predictions(
        [rows[i] for i in kept], [truth_of[i] for i in kept], y_pred, proba, labels, protocol,
        name=name, optimistic=optimistic or is_optimistic(protocol), caveat=caveat, speaker_independent=independent,
        skipped={"unreadable": unreadable, "unmappable": dict(unmappable), "unlabelled": unlabelled},
        notes=notes,
        model={"name": config.get("name", model_dir.name), "path": str(model_dir), "backend": config.get("backend"),
               "version": config.get("version", ""), "manifest": str(manifest), "target": target},
    )
    out = write_report(result, args.output or f"eval-{manifest.stem}")
    print(headline(result))
    if result["optimistic"]:
        print(f"  {result['caveat']}")
    if unseen_line:
        print(f"  {unseen_line}")
    if unreadable or unmappable or unlabelled:
        print(f"  not scored: {len(unreadable)} unreadable file(s), {sum(unmappable.values())} row(s) with a label "
              f"the model cannot output, {unlabelled} unlabelled row(s)")
    print(f"wrote {out}/ (results.json, summary.md, per_file.csv, confusion.png)", file=sys.stderr)
    return 1 if unreadable else 0


def _truths(rows, selected: list[int], target: str, labels: list[str], notes: list[str]):
    """The rows that can be scored and their true labels in the model's label set.

    Returns (row indices, labels, count of unlabelled rows, Counter of labels the model cannot
    output); a note per mapping applied (calm -> neutral) is appended to `notes`.
    """
    from ser.evaluation.report import target_label, to_model_label

    scored, truths, unlabelled, unmappable, mapped = [], [], 0, Counter(), Counter()
    for i in selected:
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
    for (source, folded), count in sorted(mapped.items()):
        notes.append(f"{count} row(s) labelled {source} scored as {folded} (the model has no {source} class)")
    return scored, truths, unlabelled, unmappable


def _predict(recognizer, rows, scored: list[int], manifest: Path, args: argparse.Namespace):
    """Predict rows `scored`, a batch at a time, with a progress bar; a file that cannot be read is
    reported and skipped. Returns (row indices predicted, their probabilities, unreadable files)."""
    from ser.audio import AudioError
    from ser.cli.data import _audio_path
    from ser.cli.predict import _progress

    labels = recognizer.labels
    kept, proba, unreadable = [], [], []
    with _progress(len(scored), args.progress) as bar:
        for start in range(0, len(scored), args.batch_size):
            chunk = scored[start : start + args.batch_size]
            sources = [str(_audio_path(rows[i].path, manifest)) for i in chunk]
            for i, outcome in zip(chunk, recognizer.predict_batch(sources, batch_size=len(chunk), on_error="return")):
                if isinstance(outcome, AudioError):
                    unreadable.append({"path": rows[i].path, "reason": outcome.reason})
                    bar.write(f"ser: skipped {rows[i].path}: {outcome.reason}", file=sys.stderr)
                else:
                    kept.append(i)
                    proba.append([outcome.scores[label] for label in labels])
            bar.update(len(chunk))
    return kept, proba, unreadable


def _select(rows, args, manifest: Path):
    """Which rows to score, and how they were chosen.

    Returns (indices, protocol, name, optimistic, caveat, notes, speaker_independent), the last
    True when the manifest's folds show that no test speaker is on the training side, None when
    it cannot tell.
    """
    from ser.evaluation.report import RANDOM_CAVEAT
    from ser.errors import SplitError
    from ser.splits import folds_from_manifest, is_speaker_independent, speaker_overlap

    notes: list[str] = []
    columns = {key for row in rows for key in row.extra}
    every = list(range(len(rows)))
    if args.fold is None:
        if args.split_column:
            raise SerError("--split-column needs --fold (the value of the rows to score)")
        split_columns = sorted(columns & {"fold", "split"})
        if split_columns:
            notes.append(
                f"the manifest has a {split_columns[0]!r} column but no --fold was given: every row is scored, "
                "including rows the model may have trained on"
            )
        protocol = args.protocol or "whole manifest"
        return every, protocol, protocol, False, None, notes, None

    column = args.split_column or ("fold" if "fold" in columns else "split")
    if column not in columns:
        raise SerError(f"{manifest}: no {column!r} column to select --fold {args.fold} from; make one with `ser data split`")
    wanted = str(args.fold).strip().lower()
    selected = [i for i in every if rows[i].get(column).strip().lower() == wanted]
    if not selected:
        values = sorted({rows[i].get(column) for i in every} - {""})
        raise SerError(f"{manifest}: no row has {column} = {args.fold!r} (values: {', '.join(values)})")

    name, optimistic, caveat = f"{column} {args.fold}", False, None
    independent = None
    # folds_from_manifest reads the fold column when there is one, so a split column only without it.
    if column == "fold" or (column == "split" and "fold" not in columns):
        try:
            folds = folds_from_manifest(rows)
        except SplitError as exc:
            folds = []
            notes.append(f"the manifest's folds cannot be read back ({exc}); speaker independence not checked")
        if not folds:
            fold = None
        elif column == "fold":
            fold = next((f for f in folds if f.name.split()[1].split("/")[0] == wanted), None)
        else:
            fold = folds[0] if wanted == "test" else None
        if column == "split" and wanted in ("train", "val"):
            optimistic, caveat = True, (
                f"OPTIMISTIC: these are the {wanted} rows of the split, which the model learnt from or was "
                "selected on; score the test rows (--fold test)"
            )
        if fold is not None:
            name = fold.name
            independent = is_speaker_independent(fold, rows)
            if not independent and column == "split":
                optimistic, caveat = True, RANDOM_CAVEAT
            elif not independent:
                both = speaker_overlap(rows, fold)
                optimistic, caveat = True, (
                    f"OPTIMISTIC: {len(both)} speaker(s) of fold {args.fold} ({', '.join(both[:8])}) also have clips in "
                    "the other folds, which a model of this fold trains on; these numbers are not speaker-independent"
                    if both else f"OPTIMISTIC: some rows have no speaker, so fold {args.fold} cannot be shown speaker-independent"
                )
    protocol = args.protocol or ("random" if optimistic and caveat == RANDOM_CAVEAT else name)
    return selected, protocol, name, optimistic, caveat, notes, independent and not optimistic


def _seen_in_training(model_dir: Path, config: dict, rows) -> str | None:
    """A warning when the model folder records training speakers (or corpora) that are in `rows`."""
    test_speakers = {r.speaker for r in rows if r.speaker}
    speakers = training_speakers(model_dir, config)
    if speakers is not None:
        seen = sorted(test_speakers & speakers)
        if seen:
            shown = ", ".join(seen[:8]) + (f" and {len(seen) - 8} more" if len(seen) > 8 else "")
            return (
                f"OPTIMISTIC: the model was trained (or validated) on {len(seen)} of the {len(test_speakers)} "
                f"test speakers ({shown}), so these numbers are not speaker-independent"
            )
        return None
    training = config.get("training") or {}
    corpora = training.get("corpora") or (config.get("recipe") or {}).get("corpora")
    if corpora:
        seen = sorted({r.corpus for r in rows} & set(corpora))
        if seen:
            return (
                f"OPTIMISTIC: the model was trained on corpus {', '.join(seen)} and does not record which speakers, "
                "so some test speakers were probably seen in training; these numbers are not speaker-independent"
            )
    return None


def _unseen_scores(model_dir: Path, config: dict, rows, y_true, y_pred) -> str | None:
    """UA, WA and macro-F1 on the test speakers the model never heard, when it records which it did."""
    from ser.evaluation.metrics import scores

    speakers = training_speakers(model_dir, config)
    if speakers is None:
        return None
    index = [i for i, r in enumerate(rows) if r.speaker and r.speaker not in speakers]
    if not index:
        return "every test speaker was seen in training: there is no speaker-independent subset"
    m = scores([y_true[i] for i in index], [y_pred[i] for i in index])
    n_speakers = len({rows[i].speaker for i in index})
    return (f"on the {n_speakers} test speaker(s) the model never saw ({m['n']} clips): "
            f"UA {m['ua']:.3f}  WA {m['wa']:.3f}  macro-F1 {m['macro_f1']:.3f}")


def training_speakers(model_dir: Path, config: dict) -> set[str] | None:
    """The speakers a model folder says it learnt from or was selected on; None if it does not say.

    Read from ``ser_model.json`` ``"training": {"speakers": [...]}``, from the ``split.json`` that
    ``ser train`` writes beside each fold's model (its ``trained_on`` and ``val`` speakers), and,
    for an ensemble folder, from every member's.
    """
    import json

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
        from ser.model_folder import read_config

        member_dir = model_dir / str(member)
        if (member_dir / "ser_model.json").is_file():
            speakers = training_speakers(member_dir, read_config(member_dir))
            if speakers is not None:
                found = (found or set()) | speakers
    return found


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SerError(f"{path}: cannot read it as JSON ({exc})") from None


def _combine(args: argparse.Namespace) -> int:
    from ser.evaluation.report import RESULTS_FILE, summarize_folds, write_summary

    results = []
    for folder in args.combine:
        path = Path(folder) / RESULTS_FILE
        if not path.is_file():
            raise SerError(f"{folder}: no {RESULTS_FILE} (write one with `ser evaluate ... -o {folder}`)")
        results.append(_read_json(path))
    summary = summarize_folds(results)
    out = write_summary(summary, args.output or "eval-cv")
    m, s = summary["mean"], summary["std"]
    line = (f"UA {m['ua']:.3f} ± {s['ua']:.3f}  WA {m['wa']:.3f} ± {s['wa']:.3f}  "
            f"macro-F1 {m['macro_f1']:.3f} ± {s['macro_f1']:.3f}  ({summary['n_folds']} folds, mean ± std)")
    print(line + ("  [OPTIMISTIC]" if summary["optimistic"] else ""))
    if summary["optimistic"]:
        print(f"  {summary['caveat']}")
    print(f"wrote {out}/ (cv_results.json, cv_summary.md, cv_confusion.png)", file=sys.stderr)
    return 0


def _cross_corpus(args: argparse.Namespace) -> int:
    from ser.evaluation.metrics import METRIC_NAMES
    from ser.evaluation.plots import plot_cross_corpus
    from ser.evaluation.report import CV_RESULTS_FILE, RESULTS_FILE, atomic_file, cross_corpus_table

    cells: dict[tuple[str, str], object] = {}
    for item in args.cross_corpus:
        key, sep, folder = item.partition("=")
        train, _, test = key.partition(":")
        if not sep or not train or not folder:
            raise SerError(f"--cross-corpus {item!r}: expected TRAIN=DIR or TRAIN:TEST=DIR")
        folder = Path(folder)
        if test:
            path = folder / CV_RESULTS_FILE if (folder / CV_RESULTS_FILE).is_file() else folder / RESULTS_FILE
            if not path.is_file():
                raise SerError(f"{folder}: no {RESULTS_FILE} or {CV_RESULTS_FILE}")
            cells[(train, test)] = _read_json(path)
            continue
        if not (folder / RESULTS_FILE).is_file():
            raise SerError(f"{folder}: no {RESULTS_FILE} (TRAIN=DIR reads one report's per-corpus scores)")
        result = _read_json(folder / RESULTS_FILE)
        # One report on a multi-corpus manifest gives a cell per test corpus.
        for row in result["breakdowns"]["corpus"]:
            cells[(train, row["group"])] = {"metrics": row, "optimistic": result.get("optimistic", False)}
    out = Path(args.output or "eval-cross-corpus")
    table = cross_corpus_table(cells, metric=args.metric)
    picture = ""
    try:
        plot_cross_corpus(cells, out / "cross_corpus.png", metric=args.metric)
        picture = "![heat map](cross_corpus.png)\n\n"
    except ImportError:
        print("ser: matplotlib is not installed: no cross_corpus.png", file=sys.stderr)
    with atomic_file(out / "cross_corpus.md") as temp:
        temp.write_text(f"# Cross-corpus {METRIC_NAMES[args.metric]}\n\n{picture}{table}", encoding="utf-8")
    print(table, end="")
    print(f"wrote {out}/ (cross_corpus.md, cross_corpus.png)", file=sys.stderr)
    return 0
