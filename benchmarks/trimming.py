"""Train on what is judged: held-out-speaker UA with training and test clips whole or cut to speech.

    python benchmarks/trimming.py            # folds not yet in runs/trimming/folds.jsonl, then the report
    python benchmarks/trimming.py --report   # only rewrite benchmarks/trimming.md

The Recognizer judges only the speech that Silero VAD finds (`ser.inference.vad`). A head trained
on whole clips (with the silence around RAVDESS' and EmoDB's utterances) then sees audio unlike
its training data. This measures the frozen recipe (Whisper tiny.en layers 1-4, mean and std,
logistic regression C = 0.01, no augmented copies) on the six speaker folds of
benchmarks/accuracy.py over the five corpora, training and testing on whole clips or on the
clips cut by `vad.trim_to_speech`: four combinations, all on held-out speakers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _machine import cpu_name  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
RESULTS = REPO / "runs" / "trimming" / "folds.jsonl"
OUT = REPO / "benchmarks" / "trimming.md"
KINDS = ("train untrimmed / test untrimmed", "train untrimmed / test trimmed",
         "train trimmed / test untrimmed", "train trimmed / test trimmed")


def run() -> None:
    from sklearn.metrics import balanced_accuracy_score

    from accuracy import _recipe, best_probe, load
    from ser.training.default_model import pooled_features, select_features

    recipe = _recipe(str(REPO / "configs" / "default.yaml"))
    rows, labels, y, corpus, speakers, fold = load(recipe)
    recipe.trim_to_speech = False
    whole = select_features(pooled_features(rows, recipe), recipe.layers, recipe.stats)
    recipe.trim_to_speech = True
    trimmed = select_features(pooled_features(rows, recipe), recipe.layers, recipe.stats)
    done = {json.loads(line)["fold"] for line in RESULTS.open()} if RESULTS.exists() else set()
    for f in (f for f in range(6) if f not in done):
        rng = np.random.default_rng(f)
        test, train_all = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
        names = sorted(set(speakers[train_all]))
        held = set(rng.choice(names, max(2, len(names) // 8), replace=False))
        val = np.array([i for i in train_all if speakers[i] in held])
        fit = np.array([i for i in train_all if speakers[i] not in held])
        result = {}
        for train_kind, x_train in (("untrimmed", whole), ("trimmed", trimmed)):
            _, head = best_probe(x_train[fit], y[fit], x_train[val], y[val], "0.01")
            for test_kind, x_test in (("untrimmed", whole), ("trimmed", trimmed)):
                result[f"train {train_kind} / test {test_kind}"] = balanced_accuracy_score(y[test], head.predict(x_test[test]))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with RESULTS.open("a") as handle:
            handle.write(json.dumps({"fold": f, "ua": result}) + "\n")
        print(f, {k: round(v, 3) for k, v in result.items()}, flush=True)


def report() -> None:
    folds = [json.loads(line) for line in RESULTS.open()]
    folds.sort(key=lambda r: r["fold"])
    header = "| training / test clips | " + " | ".join(f"fold {r['fold']}" for r in folds) + " | mean |"
    lines = [header, "|---" * (len(folds) + 2) + "|"]
    for kind in KINDS:
        values = [r["ua"][kind] for r in folds]
        lines.append(f"| {kind.replace('train ', '').replace(' / test ', ' / ')} | "
                     + " | ".join(f"{v:.3f}" for v in values) + f" | **{np.mean(values):.3f}** |")
    OUT.write_text(
        "# Training on what is judged: whole clips or detected speech\n\n"
        f"`python benchmarks/trimming.py` on {cpu_name()}, {time.strftime('%Y-%m-%d')}; "
        f"{len(folds)} of the 6 speaker folds. {__doc__.split(chr(10), 3)[3].strip()}\n\n"
        "Unweighted accuracy on held-out speakers (7 classes):\n\n" + "\n".join(lines) + "\n\n"
        "A head trained on whole clips loses several points when it is shown only the speech, as the "
        "Recognizer does; trained on the speech it recovers what it had on whole clips. So the shipped recipe "
        "trains on trimmed clips (`trim_to_speech: true` in configs/default.yaml).\n"
    )
    print(f"wrote {OUT}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only rewrite the report from runs/trimming/folds.jsonl")
    if not parser.parse_args().report:
        run()
    report()
