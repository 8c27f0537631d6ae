"""``ser evaluate``: score a model (exported ONNX or training checkpoint) on a labelled manifest.

    ser evaluate --manifest ravdess-folds.csv --fold 3 -o eval/fold3            # the shipped model
    ser evaluate --model runs/cnn/fold3 --manifest ravdess-folds.csv --fold 3   # a checkpoint
    ser evaluate --combine eval/fold1 eval/fold2 eval/fold3 -o eval/cv          # mean ± std over folds
    ser evaluate --cross-corpus ravdess=eval/rav-model emodb=eval/emo-model -o eval/cc   # train x test table

This module only parses and prints: the scoring, and the checks that keep it honest (speaker
folds, training speakers seen in the test set), are `ser.evaluation.evaluate_model`'s. Writes
results.json, summary.md, per_file.csv and confusion.png (see `ser.evaluation.report`).
Unreadable files and clips without speech are reported and skipped; rows whose label the model
cannot output are counted and skipped; the summary says how many. Exit status: 0 every selected file scored, 1 some files
could not be read (the report is still written), 2 a usage, manifest or model error.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ser.errors import SerError

ORDER = 40


def register(subparsers) -> None:
    from ser.cli.data import PROTOCOL_NAMES
    from ser.cli.predict import _positive_float, _positive_int
    from ser.labels import TARGETS

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
    p.add_argument("--target", choices=TARGETS, default=None,
                   help="what the model predicts (default: the model's own \"target\", else emotion)")
    p.add_argument("--fold", metavar="K", help="score only rows whose split column holds K (a fold number, or 'test')")
    p.add_argument("--split-column", default=None, metavar="NAME",
                   help="the column --fold reads (default: 'fold' if the manifest has it, else 'split')")
    p.add_argument("--protocol", choices=PROTOCOL_NAMES,
                   help="how the test rows were chosen, when the manifest does not tell (random is marked optimistic)")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per model call (default 16)")
    p.add_argument("--max-duration", type=_positive_float, default=None, metavar="SECONDS",
                   help="skip audio longer than this (default: 3 hours)")
    p.add_argument("--no-vad", dest="vad", action="store_false",
                   help="judge each whole clip, silence included, instead of the speech the detector finds")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal and there are more than 10 files)")
    p.add_argument("--combine", nargs="+", metavar="DIR",
                   help="instead: combine the reports in these folders (one per fold) into mean ± std")
    p.add_argument("--cross-corpus", nargs="+", metavar="TRAIN[:TEST]=DIR",
                   help="instead: a train x test corpus table and heat map from reports; TRAIN=DIR takes each test "
                   "corpus of DIR's results.json, TRAIN:TEST=DIR one cell (results.json or cv_results.json)")
    p.add_argument("--metric", choices=("ua", "wa", "macro_f1"), default="ua",
                   help="--cross-corpus: the metric shown (default ua)")
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
    from ser.audio import DEFAULT_MAX_DURATION_S
    from ser.evaluation.evaluate import evaluate_model, unseen_line
    from ser.evaluation.report import headline, write_report

    manifest = Path(args.manifest)
    result = evaluate_model(
        args.model, manifest, target=args.target, fold=args.fold, split_column=args.split_column, protocol=args.protocol,
        batch_size=args.batch_size, max_duration=args.max_duration or DEFAULT_MAX_DURATION_S, vad=args.vad,
        progress=args.progress,
    )
    out = write_report(result, args.output or f"eval-{manifest.stem}")
    print(headline(result))
    if result["optimistic"]:
        print(f"  {result['caveat']}")
    if result["training_overlap"]:
        print(f"  {unseen_line(result['training_overlap']['unseen'])}")
    skipped = result["skipped"]
    counts = [(len(skipped["unreadable"]), "unreadable file(s)"), (len(skipped["no_speech"]), "file(s) without speech"),
              (sum(skipped["unmappable"].values()), "row(s) with a label the model cannot output"),
              (skipped["unlabelled"], "unlabelled row(s)")]
    if any(n for n, _ in counts):
        print("  not scored: " + ", ".join(f"{n} {what}" for n, what in counts if n))
    print(f"wrote {out}/ (results.json, summary.md, per_file.csv, confusion.png)", file=sys.stderr)
    return 1 if skipped["unreadable"] else 0


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
    from ser.evaluation.cross_corpus import cross_corpus_table
    from ser.evaluation.metrics import METRIC_NAMES
    from ser.evaluation.plots import plot_cross_corpus
    from ser.evaluation.report import CV_RESULTS_FILE, RESULTS_FILE
    from ser.files import atomic_write

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
    with atomic_write(out / "cross_corpus.md") as handle:
        handle.write(f"# Cross-corpus {METRIC_NAMES[args.metric]}\n\n{picture}{table}")
    print(table, end="")
    print(f"wrote {out}/ (cross_corpus.md, cross_corpus.png)", file=sys.stderr)
    return 0
