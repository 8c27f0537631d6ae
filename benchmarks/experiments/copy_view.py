"""Experiment (issue 15, not the shipped recipe): the recording copies in both training views, as
shipped (``centring: speaker_mixed``), or in the single-clip view only (``speaker_mixed_single_copies``).

Speaker centring on the speaker's own recordings already removes a recording's constant shift,
so the speaker-centred view may not need the recording copies. Same folds, features and C as the
adaptation study of the recipe of that time (C from 0.003, 0.01; read from runs/accuracy/adapt-aug2-trimmed-k5.json, which
``python benchmarks/accuracy.py adapt --copies 2 --variants mixed --shrinkage 5 --c 0.003,0.01`` writes), k = 5.

    python benchmarks/experiments/copy_view.py ravdess8,emodb7,folds6

Prints single-clip and all-clips UA per fold and their means (benchmarks/accuracy-notes.md).
"""

import sys
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "src")]

from sklearn.metrics import balanced_accuracy_score as ua  # noqa: E402

from accuracy import _recipe, adapt_protocols, load_study, study_head  # noqa: E402
from ser.training.default_model import profile_centres  # noqa: E402

SHRINKAGE = 5.0


def main() -> None:
    warnings.filterwarnings("ignore")
    recipe = _recipe(REPO / "configs" / "default.yaml")
    study, study_path = load_study(2, SHRINKAGE)
    scores = {}
    for protocol, name, x, copies, y, _names, speakers, _corpus, train, _val, test, _closed in adapt_protocols(
            recipe, 2, set(sys.argv[1].split(","))):
        fold = {}
        for variant, centring in (("both views", "speaker_mixed"), ("single-clip view", "speaker_mixed_single_copies")):
            head, population = study_head(study, study_path, f"{protocol}/mixed/{name}", x, y, speakers, train, copies,
                                          centring, recipe.seed)
            centre = profile_centres(x[test], speakers[test], "all", population, SHRINKAGE, np.random.default_rng(0))[0]
            fold[variant] = (ua(y[test], head.predict(x[test] - population)), ua(y[test], head.predict(x[test] - centre)))
        scores.setdefault(protocol, []).append(fold)
        print(protocol, name, {v: np.round(s, 3).tolist() for v, s in fold.items()}, flush=True)
    for protocol, folds in scores.items():
        print("mean", protocol, {v: np.round(np.mean([f[v] for f in folds], 0), 3).tolist() for v in folds[0]})


if __name__ == "__main__":
    main()
