"""Experiment (issue 15, not adopted): shrink a speaker's profile toward its collection's profile
instead of the training population's mean.

A folder of many speakers' recordings shares a recording setup, so the mean of all its clips may
be a better prior for a speaker with few clips than the population mean (URDU's speakers have a
handful of clips of one emotion each). For each held-out speaker a profile of n of its clips
(3 and 10: 3 random draws; or all) is centred at ``(sum + k * collection) / (n + k)``, where the
collection is the profile of every drawn clip of the speaker's corpus, itself shrunk toward the
population mean with the recipe's k = 5. Rows: ``pop5`` (the shipped rule), ``collK`` (this rule
with k = K) and ``collection`` (the collection's profile for every speaker, `--adapt collection`).
Heads, folds and C are those of the shipped recipe's adaptation study (read from
runs/accuracy/adapt-aug2-trimmed-k5[-cGRID].json); LOCO predicts among the held-out corpus' classes.

    python benchmarks/experiments/collection_prior.py ravdess8,emodb7,folds6,loco [--c 0.0003,0.001] [--copies 3]

``--c`` names the study whose heads and C are used by its C grid (default 0.003,0.01, the figures
of accuracy-notes.md; 0.0003,0.001 is the recipe's grid since).

Prints UA per fold and the means per protocol (benchmarks/accuracy-notes.md).
"""

import argparse
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO / "src")]

from sklearn.metrics import balanced_accuracy_score as ua  # noqa: E402

from accuracy import _recipe, adapt_protocols, load_study, study_head  # noqa: E402
from ser.inference.head import speaker_centre  # noqa: E402

SHRINKAGE = 5.0
COLLECTION_KS = (5.0, 10.0, 20.0, 40.0)
DRAWS = 3


def centres(x, speakers, corpus, drawn, population, prior, k):
    """``[n, D]``: each row's centre, its speaker's drawn clips shrunk toward `prior` (per corpus)."""
    out = np.empty_like(x)
    for speaker, rows in drawn.items():
        out[speakers == speaker] = speaker_centre(x[rows], population if prior is None else prior[corpus[rows[0]]], k)
    return out


def ua_of(head, x, centre, y, present, closed) -> float:
    """UA of `head` on rows `x` less `centre` (among the `present` classes if `closed`)."""
    z = head.decision_function(x - centre)
    return float(ua(y, present[z[:, present].argmax(-1)] if closed else z.argmax(-1)))


def main() -> None:
    warnings.filterwarnings("ignore")
    recipe = _recipe(REPO / "configs" / "default.yaml")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("protocols", help="comma-separated: ravdess8, emodb7, folds6, loco")
    parser.add_argument("--c", default="0.003,0.01", help="the C grid of the adaptation study to follow")
    parser.add_argument("--copies", type=int, default=2, help="augmented copies of that study")
    args = parser.parse_args()
    study, study_path = load_study(args.copies, SHRINKAGE, tuple(sorted(float(c) for c in args.c.split(","))))
    scores: dict[str, list[dict]] = {}
    for protocol, name, x, copies, y, _names, speakers, corpus, train, _val, test, closed in adapt_protocols(
        recipe, args.copies, set(args.protocols.split(","))
    ):
        head, population = study_head(
            study, study_path, f"{protocol}/mixed/{name}", x, y, speakers, train, copies, "speaker_mixed", recipe.seed
        )
        xt, st, ct, present = x[test], speakers[test], corpus[test], np.unique(y[test])
        score = partial(ua_of, head, xt, y=y[test], present=present, closed=closed)
        fold = {"single": score(population)}
        for mode in ("n3", "n10", "all"):
            rng, got = np.random.default_rng(0), {}
            for _ in range(1 if mode == "all" else DRAWS):
                drawn = {
                    s: np.flatnonzero(st == s)
                    if mode == "all"
                    else rng.choice(np.flatnonzero(st == s), min(int(mode[1:]), int((st == s).sum())), replace=False)
                    for s in np.unique(st)
                }
                collection = {
                    c: speaker_centre(xt[np.concatenate([r for r in drawn.values() if ct[r[0]] == c])], population, SHRINKAGE)
                    for c in np.unique(ct)
                }
                got.setdefault("pop5", []).append(score(centres(xt, st, ct, drawn, population, None, SHRINKAGE)))
                for k in COLLECTION_KS:
                    got.setdefault(f"coll{k:g}", []).append(score(centres(xt, st, ct, drawn, population, collection, k)))
                got.setdefault("collection", []).append(score(np.stack([collection[c] for c in ct])))
            fold.update({f"{mode}/{rule}": float(np.mean(v)) for rule, v in got.items()})
        scores.setdefault(protocol, []).append(fold)
        print(protocol, name, {k: round(v, 3) for k, v in fold.items()}, flush=True)
    for protocol, folds in scores.items():
        print("mean", protocol, {k: round(float(np.mean([f[k] for f in folds])), 3) for k in folds[0]})


if __name__ == "__main__":
    main()
