"""``ser train`` and ``ser tune``: the classic models (CNN, LSTM, ..., eGeMAPS + SVM) from a recipe.

    ser train --config configs/classic-cnn.yaml -o runs/cnn
    ser train --config configs/classic-cnn.yaml --model clstm --epochs 60 --protocol loso -o runs/clstm
    ser train --config configs/classic-cnn.yaml -o runs/cnn --resume      # continue after a stop
    ser tune --config configs/classic-cnn.yaml --trials 20 -o runs/cnn-tune

Flags override the config file; ``--set section.key=value`` reaches any key. See docs/training.md.
"""

from __future__ import annotations

import argparse
import sys

from ser.labels import TARGETS

ORDER = 30

EXAMPLES = """examples:
  ser train --config configs/classic-cnn.yaml -o runs/cnn
  ser train --config configs/classic-egemaps-svm.yaml --manifest emodb.csv --protocol speaker-kfold -o runs/svm
  ser train --config configs/classic-cnn.yaml --model lstm --epochs 60 --lr 3e-4 -o runs/lstm
  ser train --config configs/classic-cnn.yaml --target gender_emotion -o runs/cnn-14
  ser train --config configs/classic-cnn.yaml -o runs/cnn --resume
  ser predict --model runs/cnn clip.wav          # the fold ensemble; runs/cnn/fold0 for one fold
"""


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a classic model (CNN, LSTM, BiLSTM, GRU, CLSTM, Transformer, SVM, ...) per fold",
        description="Train one model per fold of an evaluation protocol and test each on its held-out fold.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(train)
    train.add_argument("--resume", action="store_true", help="continue the run in --output (finished folds are kept)")
    train.set_defaults(func=_train)

    tune = subparsers.add_parser(
        "tune", help="search hyperparameters (Optuna) over the config's tune.space, on validation speakers only",
        description="Hyperparameter search over the ranges in the config's `tune` section. Each trial trains on "
        "one fold's training side and is scored on its validation speakers; test folds are never used.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  ser tune --config configs/classic-cnn.yaml --trials 20 -o runs/cnn-tune\n"
        "  ser train --config runs/cnn-tune/best.yaml -o runs/cnn-tuned",
    )
    _add_options(tune)
    tune.add_argument("--trials", type=int, help="number of trials (default: tune.trials)")
    tune.add_argument("--tune-fold", type=int, metavar="K", help="search on fold K's training side (default: tune.fold)")
    tune.add_argument("--resume", action="store_true", help="continue the study in --output")
    tune.set_defaults(func=_tune)


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", metavar="YAML", help="the recipe (see configs/classic-*.yaml)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="run folder to write")
    g = p.add_argument_group("overrides (each beats the config file)")
    g.add_argument("--manifest", help="data.manifest: a manifest CSV (replaces the config's data.corpora)")
    g.add_argument("--corpus", action="append", metavar="READER=FOLDER",
                   help="data.corpora: index a corpus folder on the fly (repeatable), e.g. ravdess=data/RAVDESS "
                   "(replaces the config's data.manifest and data.corpora)")
    g.add_argument("--target", choices=TARGETS, help="data.target")
    g.add_argument("--model", help="model.name: cnn, cnn2d, lstm, bilstm, gru, clstm, transformer, svm, mlp, logreg")
    g.add_argument("--features", metavar="NAMES",
                   help="features: 'egemaps', or comma-separated spectral features, e.g. mfcc,chroma,logmel")
    g.add_argument("--max-frames", type=int, help="features.max_frames")
    g.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None, help="augment.enabled")
    g.add_argument("--epochs", type=int, help="train.epochs (default 40)")
    g.add_argument("--batch-size", type=int, help="train.batch_size")
    g.add_argument("--lr", type=float, help="train.lr")
    g.add_argument("--seed", type=int, help="train.seed")
    g.add_argument("--protocol", help="protocol.name: random, speaker-kfold, ravdess-6fold, loso, cross-corpus, manifest")
    g.add_argument("--folds", type=int, metavar="N", help="protocol.n_folds (speaker-kfold)")
    g.add_argument("--fold", type=int, action="append", metavar="K", help="run only fold K (0-based; repeatable)")
    g.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="any other key, value read as YAML (repeatable), e.g. --set model.hidden=64")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the per-epoch lines stay)")


def overrides_from_args(args) -> dict:
    """The ``section.key -> value`` overrides that the flags ask for."""
    from ser.errors import SerError
    from ser.training.config import parse_assignment

    out: dict = {}
    # A data flag replaces the config's data source rather than adding to it: --manifest on a
    # recipe that lists corpora would otherwise count every clip of those corpora twice.
    if args.manifest:
        out["data.manifest"] = args.manifest
        if not args.corpus:
            out["data.corpora"] = {}
    elif args.corpus:
        out["data.manifest"] = None
    if args.corpus:
        corpora = {}
        for item in args.corpus:
            if "=" not in item:
                raise SerError(f"--corpus {item!r}: expected READER=FOLDER, e.g. ravdess=data/RAVDESS")
            reader, folder = item.split("=", 1)
            corpora[reader.strip()] = folder.strip()
        out["data.corpora"] = corpora
    simple = {
        "target": "data.target", "model": "model.name", "max_frames": "features.max_frames",
        "augment": "augment.enabled", "epochs": "train.epochs", "batch_size": "train.batch_size",
        "lr": "train.lr", "seed": "train.seed", "protocol": "protocol.name", "folds": "protocol.n_folds",
        "fold": "protocol.folds",
    }
    for attr, key in simple.items():
        value = getattr(args, attr)
        if value is not None:
            out[key] = value
    if args.features:
        if args.features.strip() == "egemaps":
            out["features.kind"] = "egemaps"
        else:
            out["features.kind"] = "spectral"
            out["features.names"] = [n.strip() for n in args.features.split(",") if n.strip()]
    for item in args.set:
        key, value = parse_assignment(item)
        out[key] = value
    return out


def _load(args):
    from ser.training.config import load_config

    return load_config(args.config, overrides_from_args(args))


def _train(args) -> int:
    config = _load(args)
    from ser.training.experiment import run_experiment

    summary = run_experiment(config, args.output, resume=args.resume, progress=not args.quiet)
    mean, std = summary["mean"], summary["std"]
    flag = "  (OPTIMISTIC: speakers on both sides)" if summary.get("optimistic") else ""
    if summary.get("task") == "regression":
        scored = "  ".join(f"{name} {mean[f'ccc_{name}']:.3f} ± {std[f'ccc_{name}']:.3f}" for name in config.data.dimensions)
        print(f"{config.model.name} {config.protocol.name}, {summary['n_folds']} fold(s): CCC {scored}{flag}")
        print(f"results: {args.output}/cv_summary.md (regression folds are evaluated, not packaged for ser predict)")
        return 0
    print(f"{config.model.name} {config.protocol.name}, {summary['n_folds']} fold(s): "
          f"UA {mean['ua']:.3f} ± {std['ua']:.3f}  WA {mean['wa']:.3f} ± {std['wa']:.3f}  "
          f"macro-F1 {mean['macro_f1']:.3f} ± {std['macro_f1']:.3f}{flag}")
    print(f"results: {args.output}/cv_summary.md; predict with: ser predict --model {args.output} clip.wav")
    return 0


def _tune(args) -> int:
    config = _load(args)
    from ser.training.tune import run_tune

    result = run_tune(config, args.output, trials=args.trials, fold=args.tune_fold, resume=args.resume,
                      progress=not args.quiet)
    print(f"best validation UA {result['best_value']:.3f} with {result['best_params']}", file=sys.stdout)
    print(f"train with it: ser train --config {result['best_config']} -o runs/<name>")
    return 0
