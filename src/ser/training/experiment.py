"""One ``ser train`` run: folds of a protocol, a model per fold, its test scores, the summary.

    runs/x/
      config.yaml          the resolved config (file + flags)
      ser_model.json       the ensemble of the fold models (``ser predict --model runs/x``)
      cv_results.json, cv_summary.md, cv_confusion.png     mean and std over folds
      fold0/ fold1/ ...    one model folder each (see `ser.training.checkpoint`), plus
                           metrics.jsonl, curves.png, checkpoint.pt (torch), split.json,
                           results.json, summary.md, per_file.csv, confusion.png

Order of work per fold, which is what keeps the numbers honest: split by the protocol; draw
validation speakers from the training side only; fit feature standardisation on the training
side only; augment the training side only; train with early stopping on validation; score the
test side once, with the weights chosen on validation. ``split.json`` records the speakers of
every side and every row the trainer actually put in a batch.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from ser.errors import SerError
from ser.files import atomic_write
from ser.manifest import Utterance
from ser.splits import Fold, is_speaker_independent, make_folds, with_validation
from ser.training.checkpoint import (
    NORMALIZER,
    TORCH_FILE,
    save_sklearn,
)
from ser.model_folder import write_config
from ser.training.config import ExperimentConfig, write_yaml
from ser.training.data import Examples, FeatureStore, Normalizer, label_order, load_rows

Log = Callable[[str], None]


logger = logging.getLogger(__name__)


def _stderr(line: str) -> None:
    # The training log goes through logging (shown on stderr by the CLI) rather than print.
    logger.info(line)


def make_run_folds(rows: list[Utterance], config: ExperimentConfig) -> list[Fold]:
    """The protocol's folds, each with validation speakers drawn from its training side."""
    p = config.protocol
    if p.name == "manifest":
        from ser.splits import folds_from_manifest

        folds = folds_from_manifest(rows)
    else:
        folds = make_folds(rows, p.name, **p.options)
    out = []
    for fold in folds:
        if fold.val is None:
            fold = with_validation(rows, fold, fraction=p.val_fraction, seed=config.train.seed)
        out.append(fold)
    if p.folds is not None:
        bad = [k for k in p.folds if not 0 <= k < len(out)]
        if bad:
            raise SerError(f"protocol.folds: fold(s) {bad} do not exist; this protocol has folds 0..{len(out) - 1}")
    return out


class Experiment:
    """The data, labels and features of a config, shared by its folds (and by tuning trials)."""

    def __init__(self, config: ExperimentConfig, log: Log = _stderr, progress: bool = True):
        from ser.models import input_kind

        self.config = config
        self.log = log
        self.rows = load_rows(config.data)
        self.regression = config.data.task == "regression"
        if self.regression:  # one output per dimension
            self.labels = list(config.data.dimensions)
        else:
            self.labels = label_order(self.rows, config.data.target)
            if len(self.labels) < 2:
                raise SerError(f"data: only one class ({self.labels[0]}) in the clips; a classifier needs two or more")
            _check_class_sizes(self.rows)
        self.pooled = input_kind(config.model.name) == "pooled"
        self.store = FeatureStore(self.rows, self.labels, config, pooled=self.pooled, progress=progress)

    def configure(self, config: ExperimentConfig) -> None:
        """Use another model/feature/training config on the same rows and folds (tuning trials)."""
        from ser.models import input_kind

        if config.data != self.config.data:
            raise SerError("a tuning trial cannot change the data section")
        self.config = config
        self.pooled = input_kind(config.model.name) == "pooled"
        self.store.configure(config, self.pooled)

    def folds(self) -> list[Fold]:
        return make_run_folds(self.rows, self.config)

    def fit_fold(self, fold: Fold, out_dir: Path, *, resume: bool = False) -> tuple[object, Examples, dict]:
        """Train on ``fold.train`` with early stopping on ``fold.val``; never touches ``fold.test``.

        Returns (the fitted model, with ``predict_proba(examples)``, ``val_ua`` and
        ``trained_rows``; the training examples; the ``model`` section of ``ser_model.json``).
        """
        import torch

        from ser.models import build_model

        c = self.config
        out_dir.mkdir(parents=True, exist_ok=True)
        train = self.store.examples(fold.train, augment=True)
        val = self.store.examples(fold.val)
        n_features = int(train.x[0].shape[-1])
        model_info = {"name": c.model.name, "hparams": dict(c.model.hparams), "n_features": n_features}
        if self.pooled:
            hparams = {"seed": c.train.seed, **c.model.hparams}
            model = build_model(c.model.name, n_features, len(self.labels), **hparams)
            try:
                model.fit(train.x, train.y)
            except ValueError as exc:  # scikit-learn's words, with what the user can change
                counts = np.bincount(train.y, minlength=len(self.labels))
                shown = ", ".join(f"{label} {n}" for label, n in zip(self.labels, counts))
                raise SerError(f"{fold.name}: {c.model.name} cannot be fitted ({exc}); training clips per "
                               f"class: {shown}") from None
            from ser.training.trainer import scores

            val_scores = scores(val.y, model.predict(val.x)) if len(val) else {}
            record = {"epoch": 1, **{f"val_{k}": round(v, 6) for k, v in val_scores.items()}}
            (out_dir / "metrics.jsonl").write_text(json.dumps(record) + "\n")
            self.log(f"  {c.model.name}: validation acc {val_scores.get('acc', float('nan')):.3f} UA {val_scores.get('ua', float('nan')):.3f}")
            save_sklearn(out_dir, model)
            model_info["hparams"] = hparams
            fitted = _ClassicFitted(model, val_scores.get("ua", float("nan")), {int(r) for r in train.rows})
            return fitted, train, model_info

        from ser.training.trainer import Trainer

        torch.manual_seed(c.train.seed)
        torch.set_num_threads(c.train.threads)
        normalizer = Normalizer.fit([a for a, aug in zip(train.x, train.augmented) if not aug])
        normalizer.save(out_dir / NORMALIZER)
        train = _normalised(train, normalizer)
        val = _normalised(val, normalizer)
        model = build_model(c.model.name, n_features, len(self.labels), **c.model.hparams)
        trainer = Trainer(model, c.train, out_dir, len(self.labels), spec_augment=c.augment.spec_augment, log=self.log,
                          dimensions=self.labels if self.regression else None)
        history = trainer.fit(train, val, resume=resume)
        score = "val_ccc" if self.regression else "val_ua"
        best = max((r[score] for r in history if r["best"]), default=float("nan")) if history else float("nan")
        return _TorchFitted(trainer, normalizer, best), train, model_info


def _check_class_sizes(rows: list[Utterance]) -> None:
    """Every class needs two clips or more: one clip cannot be both trained on and tested."""
    from collections import Counter

    from ser.labels import class_of

    counts = Counter(class_of(row) for row in rows)
    lonely = sorted(label for label, n in counts.items() if n < 2)
    if lonely:
        first = {label: next(r.path for r in rows if class_of(r) == label) for label in lonely}
        shown = "; ".join(f"{label!r} ({first[label]})" for label in lonely)
        raise SerError(
            f"data: class(es) with a single clip: {shown}. A class needs at least two clips (one to train on, "
            "one to test): add clips, merge it into another class (data.relabel), or leave it out (data.emotions)"
        )


class _ClassicFitted:
    def __init__(self, model, val_ua: float, trained_rows: set[int]):
        self.model, self.val_ua, self.trained_rows = model, val_ua, trained_rows

    def predict_proba(self, examples: Examples) -> np.ndarray:
        return self.model.predict_proba(examples.x)


class _TorchFitted:
    def __init__(self, trainer, normalizer: Normalizer, val_ua: float):
        self.trainer, self.normalizer, self.val_ua = trainer, normalizer, val_ua
        self.trained_rows = trainer.trained_rows

    def predict_proba(self, examples: Examples) -> np.ndarray:
        from ser.inference.backends import softmax

        return softmax(self.predict_outputs(examples))

    def predict_outputs(self, examples: Examples) -> np.ndarray:
        """[N, C] raw outputs: logits, or a regression task's ratings."""
        return self.trainer.predict_logits(_normalised(examples, self.normalizer))


def _normalised(examples: Examples, normalizer: Normalizer) -> Examples:
    return Examples([normalizer(a) for a in examples.x], examples.y, examples.rows, examples.augmented)


def run_experiment(config: ExperimentConfig, out_dir: str | Path, *, resume: bool = False, log: Log = _stderr,
                   progress: bool = True) -> dict:
    """Train and test one model per fold of ``config.protocol``; returns the fold summary.

    With `resume`, folds whose ``results.json`` exists are read back, and an interrupted fold
    continues from its last epoch.
    """
    out = Path(out_dir)
    started = out.is_dir() and (out / "config.yaml").exists()
    if started and not resume and _finished_folds(out):
        raise SerError(
            f"{out}: a run is already there ({len(_finished_folds(out))} fold(s) finished); pass --resume to "
            "continue it, or choose another --output"
        )
    # The data and the folds are checked before anything is written, so a bad manifest or
    # config leaves no folder behind.
    experiment = Experiment(config, log=log, progress=progress)
    folds = experiment.folds()
    out.mkdir(parents=True, exist_ok=True)
    with run_lock(out):
        if started and not resume:
            _clear_unfinished_run(out, log)
        if resume and (out / "config.yaml").exists():
            _check_same_config(out / "config.yaml", config)
        write_yaml(config, out / "config.yaml")
        return _run_folds(experiment, folds, out, resume=resume, log=log)


def _finished_folds(out: Path) -> list[Path]:
    return sorted(out.glob("fold*/results.json"))


def _clear_unfinished_run(out: Path, log: Log) -> None:
    """Remove what a run that finished no fold left (its config and partial fold folders).

    Such a run has no result worth keeping, and its config may be the mistake the user has
    just corrected; anything else in the folder is left alone.
    """
    import shutil

    log(f"{out}: the run there finished no fold; starting it afresh")
    (out / "config.yaml").unlink(missing_ok=True)
    for fold_dir in out.glob("fold*"):
        if fold_dir.is_dir():
            shutil.rmtree(fold_dir)


@contextmanager
def run_lock(folder: Path):
    """Hold ``folder/.lock`` (our pid) for the run; another live process holding it is an error.

    Two processes training into one folder would overwrite each other's checkpoints. A lock
    left by a process that died is taken over.
    """
    lock = folder / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and holder != os.getpid() and _alive(holder):
                raise SerError(f"{folder}: another ser train (pid {holder}) is using this run folder") from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _run_folds(experiment: Experiment, folds: list[Fold], out: Path, *, resume: bool, log: Log) -> dict:
    config = experiment.config
    chosen = config.protocol.folds if config.protocol.folds is not None else list(range(len(folds)))
    log(f"{len(experiment.rows)} clips, {len(experiment.labels)} classes ({', '.join(experiment.labels)}); "
        f"protocol {config.protocol.name}: {len(folds)} fold(s), running {len(chosen)}")
    results = []
    for k in chosen:
        fold_dir = out / f"fold{k}"
        if resume and (fold_dir / "results.json").is_file():
            log(f"fold {k} ({folds[k].name}): done before, reading its results")
            results.append(json.loads((fold_dir / "results.json").read_text()))
            continue
        log(f"fold {k} ({folds[k].name}): {len(folds[k].train)} train / {len(folds[k].val)} validation / "
            f"{len(folds[k].test)} test clips")
        results.append(run_fold(experiment, folds[k], k, fold_dir, resume=resume))
    # Folds may be spread over several invocations (protocol.folds): summarise all that are done.
    done = [k for k in range(len(folds)) if (out / f"fold{k}" / "results.json").is_file()]
    results = [json.loads((out / f"fold{k}" / "results.json").read_text()) for k in done]
    if experiment.regression:
        return _summarise_regression([{k: v for k, v in r.items() if k != "per_file"} for r in results], out)
    summary = summarise(results, out)
    if len(done) == len(folds):
        _write_ensemble(out, [f"fold{k}" for k in done], experiment, config)
    else:
        log(f"{len(done)} of {len(folds)} folds done; the run's ensemble model is written when all are")
    return summary


def run_fold(experiment: Experiment, fold: Fold, k: int, fold_dir: Path, *, resume: bool = False) -> dict:
    """Train on one fold, write its model folder, score its test side once; returns the result."""
    config, rows = experiment.config, experiment.rows
    started = time.perf_counter()
    fitted, train, model_info = experiment.fit_fold(fold, fold_dir, resume=resume)
    _write_split(fold_dir, rows, fold, train, fitted.trained_rows)
    test = experiment.store.examples(fold.test)
    if experiment.regression:
        return _regression_result(experiment, fold, k, fold_dir, fitted, test, started)
    proba = fitted.predict_proba(test)
    labels = experiment.labels
    y_true = [labels[i] for i in test.y]
    y_pred = [labels[i] for i in proba.argmax(axis=1)]
    independent = is_speaker_independent(fold, rows)
    result = evaluate(
        [rows[i] for i in test.rows], y_true, y_pred, proba, labels, config.protocol.name, name=fold.name,
        speaker_independent=independent, model={"name": config.model.name, "path": str(fold_dir)},
    )
    result["validation_ua"] = fitted.val_ua
    result["seconds"] = round(time.perf_counter() - started, 1)
    backend = "sklearn" if experiment.pooled else "torch"
    write_config(fold_dir, {
        "backend": backend,
        "name": f"{config.model.name}-{config.data.target}",
        "labels": labels,
        "max_frames": config.features.max_frames,
        "model": model_info,
        "weights": TORCH_FILE if backend == "torch" else "model.joblib",
        "features": {"kind": config.features.kind, "max_frames": config.features.max_frames,
                     "spectral": experiment.store.feature_config.to_dict()},
        "preprocess": experiment.store.preprocess.to_dict(),
        "target": config.data.target,
        "protocol": config.protocol.name,
        "fold": fold.name,
        "metrics": {m: result["metrics"].get(m) for m in ("ua", "wa", "macro_f1")},
    })
    write_result(result, fold_dir)
    m = result["metrics"]
    experiment.log(f"fold {k} test: UA {m['ua']:.3f}  WA {m['wa']:.3f}  macro-F1 {m['macro_f1']:.3f}"
                   + ("  (OPTIMISTIC: speakers on both sides)" if result.get("optimistic") else ""))
    return result


def _regression_result(experiment: Experiment, fold: Fold, k: int, fold_dir: Path, fitted, test: Examples,
                       started: float) -> dict:
    """CCC of each dimension on the test side, written as ``results.json`` and ``per_file.csv``.

    A regression fold is evaluated, not packaged for ``ser predict`` (whose models classify):
    the weights stay in the fold folder beside the normaliser.
    """
    from ser.training.trainer import regression_scores

    names, rows = experiment.labels, experiment.rows
    predicted = fitted.predict_outputs(test)
    metrics = regression_scores(test.y, predicted, names)
    independent = is_speaker_independent(fold, rows)
    per_file = [
        {"path": rows[i].path, "speaker": rows[i].speaker, "corpus": rows[i].corpus,
         **{f"true_{n}": round(float(t), 4) for n, t in zip(names, truth)},
         **{f"predicted_{n}": round(float(p), 4) for n, p in zip(names, guess)}}
        for i, truth, guess in zip(test.rows, test.y, predicted)
    ]
    result = {"name": fold.name, "task": "regression", "dimensions": names, "protocol": experiment.config.protocol.name,
              "metrics": {key: round(value, 6) for key, value in metrics.items()}, "n": len(test),
              "speaker_independent": independent, "optimistic": not independent,
              "validation_ccc": fitted.val_ua, "seconds": round(time.perf_counter() - started, 1)}
    with atomic_write(fold_dir / "results.json") as handle:
        json.dump({**result, "per_file": per_file}, handle, indent=1)
    with atomic_write(fold_dir / "per_file.csv", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(per_file[0]) if per_file else ["path"])
        writer.writeheader()
        writer.writerows(per_file)
    experiment.log(f"fold {k} test: CCC " + "  ".join(f"{n} {metrics[f'ccc_{n}']:.3f}" for n in names)
                   + ("  (OPTIMISTIC: speakers on both sides)" if result["optimistic"] else ""))
    return result


def _summarise_regression(results: list[dict], out: Path) -> dict:
    """Mean and std over folds of each CCC, as ``cv_results.json`` and ``cv_summary.md``."""
    keys = list(results[0]["metrics"])
    values = {key: [r["metrics"][key] for r in results] for key in keys}
    summary = {"task": "regression", "n_folds": len(results), "folds": [r["name"] for r in results],
               "mean": {k: float(np.mean(v)) for k, v in values.items()},
               "std": {k: float(np.std(v)) for k, v in values.items()},
               "optimistic": any(r["optimistic"] for r in results)}
    with atomic_write(out / "cv_results.json") as handle:
        json.dump({**summary, "per_fold": results}, handle, indent=1)
    lines = ["| fold | clips | " + " | ".join(k.replace("_", " ").upper() if k == "ccc" else k.replace("ccc_", "CCC ")
                                              for k in keys) + " |",
             "|---|---:|" + "---:|" * len(keys)]
    lines += [f"| {r['name']} | {r['n']} | " + " | ".join(f"{r['metrics'][k]:.3f}" for k in keys) + " |" for r in results]
    lines.append("| mean ± std | | " + " | ".join(f"{summary['mean'][k]:.3f} ± {summary['std'][k]:.3f}" for k in keys) + " |")
    note = "\n**Optimistic**: some fold has speakers on both sides.\n" if summary["optimistic"] else ""
    with atomic_write(out / "cv_summary.md") as handle:
        handle.write("# Cross-validated regression (concordance correlation coefficient)\n\n" + "\n".join(lines) + "\n" + note)
    return summary


def _write_split(fold_dir: Path, rows, fold: Fold, train: Examples, trained_rows) -> None:
    """Who is on which side, and which rows the trainer really learnt from (for audits)."""

    def side(index) -> dict:
        index = [int(i) for i in index]
        return {"n": len(index), "speakers": sorted({rows[i].speaker for i in index}),
                "paths": [rows[i].path for i in index]}

    trained = sorted(int(i) for i in trained_rows)
    augmented_from = sorted({int(r) for r, a in zip(train.rows, train.augmented) if a})
    payload = {
        "fold": fold.name,
        "train": side(fold.train), "val": side(fold.val), "test": side(fold.test),
        "trained_on": {"n_rows": len(trained), "speakers": sorted({rows[i].speaker for i in trained}),
                       "paths": [rows[i].path for i in trained]},
        "augmented_from": [rows[i].path for i in augmented_from],
    }
    (fold_dir / "split.json").write_text(json.dumps(payload, indent=1) + "\n")


def evaluate(rows, y_true, y_pred, proba, labels, protocol, *, name, speaker_independent, model) -> dict:
    """`ser.evaluation.report.evaluate_predictions` (with an honest optimism flag)."""
    from ser.evaluation.report import evaluate_predictions

    return evaluate_predictions(rows, y_true, y_pred, proba, labels, protocol, name=name,
                                optimistic=not speaker_independent, speaker_independent=speaker_independent,
                                model=model)


def write_result(result: dict, fold_dir: Path) -> None:
    from ser.evaluation.report import write_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_report(result, fold_dir)


def summarise(results: list[dict], out: Path) -> dict:
    """Mean and std over folds (`ser.evaluation.report.summarize_folds`), written to `out`."""
    from ser.evaluation.report import summarize_folds, write_summary

    summary = summarize_folds(results)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_summary(summary, out)
    return summary


def _write_ensemble(out: Path, folds: list[str], experiment: Experiment, config: ExperimentConfig) -> None:
    backend = "sklearn" if experiment.pooled else "torch"
    write_config(out, {
        "backend": backend,
        "name": f"{config.model.name}-{config.data.target}-{len(folds)}fold-ensemble",
        "labels": experiment.labels,
        "ensemble": folds,
        "target": config.data.target,
        "protocol": config.protocol.name,
    })


def _check_same_config(path: Path, config: ExperimentConfig) -> None:
    """A resumed run must keep the settings that decide the numbers (epochs may grow)."""
    import yaml

    before = yaml.safe_load(path.read_text()) or {}
    now = config.to_dict()
    # Keys added to a section since the run began take their defaults (a run from before data.task).
    defaults = ExperimentConfig().to_dict()
    before = {name: {**defaults.get(name, {}), **values} if isinstance(values, dict) else values
              for name, values in before.items()}
    for section in ("data", "protocol", "features", "preprocess", "augment", "model"):
        if section == "protocol":  # which folds run may change between invocations
            same = {k: v for k, v in before.get(section, {}).items() if k != "folds"} == {
                k: v for k, v in now[section].items() if k != "folds"}
        else:
            same = before.get(section) == now.get(section)
        if not same:
            raise SerError(
                f"{path}: --resume with a different '{section}' section than the run was started with; "
                "start a new run (another --output) instead"
            )
    keep = {k: v for k, v in before.get("train", {}).items() if k != "epochs"}
    if keep != {k: v for k, v in now["train"].items() if k != "epochs"}:
        raise SerError(f"{path}: --resume may change train.epochs only; other train settings differ")
