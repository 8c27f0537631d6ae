"""``ser tune``: Optuna search over the config's ``tune.space``, scored on validation speakers only.

Every trial trains on the training side of one fold (``tune.fold``) with the sampled settings
and is scored by the best validation UA that early stopping saw. The fold's test clips are
never featurised, let alone scored, so the search cannot fit the test set. (With k folds, the
other folds' test speakers are in that training side: for an unbiased k-fold estimate, tune
per fold with ``--tune-fold k``, or tune on a different corpus.)

The study lives in ``study.db`` (SQLite) in the output folder, so ``--resume`` continues it;
``trials.csv`` lists every trial and ``best.yaml`` is the full config with the best values.
The sampler is seeded by ``train.seed``.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import Callable

from ser.errors import SerError
from ser.files import atomic_write
from ser.training.config import ExperimentConfig, apply_overrides, from_dict, write_yaml

logger = logging.getLogger(__name__)


def suggest(trial, key: str, spec):
    """The value Optuna's `trial` proposes for `key` from a `TuneSection.space` entry."""
    if isinstance(spec, list):
        return trial.suggest_categorical(key, spec)
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    if isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool):
        return trial.suggest_int(key, low, high, log=log, step=int(spec.get("step", 1)))
    return trial.suggest_float(key, float(low), float(high), log=log, step=spec.get("step"))


def run_tune(config: ExperimentConfig, out_dir: str | Path, *, trials: int | None = None, fold: int | None = None,
             resume: bool = False, log: Callable[[str], None] | None = None, progress: bool = True) -> dict:
    """Run the study; returns ``{"best_value", "best_params", "best_config", "trials"}``.

    `log` receives each progress line (default: this module's logger, at INFO).
    """
    import optuna

    from ser.training.experiment import Experiment

    log = log or logger.info
    space = config.tune.space
    if not space:
        raise SerError("tune: the config has no tune.space to search "
                       "(e.g. tune: {space: {train.lr: {low: 1e-4, high: 1e-2, log: true}}})")
    n_trials = trials if trials is not None else config.tune.trials
    if n_trials < 1:
        raise SerError(f"tune: --trials must be at least 1, not {n_trials}")
    fold_index = config.tune.fold if fold is None else fold
    out = Path(out_dir)
    if (out / "study.db").exists() and not resume:
        raise SerError(f"{out}: a study is already there; pass --resume to continue it, or choose another --output")
    out.mkdir(parents=True, exist_ok=True)
    base = config.to_dict()
    write_yaml(config, out / "config.yaml")

    experiment = Experiment(config, log=log, progress=progress)
    folds = experiment.folds()
    if not 0 <= fold_index < len(folds):
        raise SerError(f"tune.fold: fold {fold_index} does not exist; this protocol has folds 0..{len(folds) - 1}")
    search_fold = folds[fold_index]
    log(f"tuning on the training side of {search_fold.name}: {len(search_fold.train)} train / "
        f"{len(search_fold.val)} validation clips; test clips unused")

    def objective(trial) -> float:
        params = {key: suggest(trial, key, spec) for key, spec in space.items()}
        trial_config = from_dict(apply_overrides(base, params), f"trial {trial.number}")
        # The trial's config may change features or the model; the data and split stay the same.
        experiment.configure(trial_config)
        log(f"trial {trial.number}: {params}")
        fitted, _, _ = experiment.fit_fold(search_fold, out / f"trial{trial.number}")
        value = float(fitted.val_ua)
        if math.isnan(value):
            raise optuna.TrialPruned("no validation score")
        log(f"trial {trial.number}: validation UA {value:.4f}")
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="ser-tune", storage=f"sqlite:///{(out / 'study.db').resolve()}", load_if_exists=True,
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.train.seed),
    )
    finished = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, n_trials - finished)
    if finished:
        log(f"{finished} trial(s) done before; running {remaining} more")
    study.optimize(objective, n_trials=remaining)

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise SerError("tune: no trial finished with a validation score")
    with atomic_write(out / "trials.csv", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "validation_ua", *space])
        for t in study.trials:
            writer.writerow([t.number, "" if t.value is None else round(t.value, 6), *[t.params.get(k, "") for k in space]])
    best_config = from_dict(apply_overrides(base, study.best_params), "best trial")
    write_yaml(best_config, out / "best.yaml")
    return {
        "best_value": float(study.best_value),
        "best_params": dict(study.best_params),
        "best_config": str(out / "best.yaml"),
        "trials": len(study.trials),
    }
