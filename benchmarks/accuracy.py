"""Speaker-independent accuracy of the default model's recipe, and of fine-tuning its top layer.

    python benchmarks/accuracy.py run --folds 0,1,2,3,4,5 --epochs 0     # the frozen recipe (probe)
    python benchmarks/accuracy.py run --folds 0,3 --epochs 3             # + fine-tuning the top layer
    python benchmarks/accuracy.py run --copies 0                         # without the recipe's augmented copies
    python benchmarks/accuracy.py cross-corpus                           # leave one corpus out
    python benchmarks/accuracy.py learning-curve                         # fewer training speakers
    python benchmarks/accuracy.py adapt --copies 0                       # speaker-centred prediction
    python benchmarks/accuracy.py shrinkage                              # profile shrinkage k against profile size
    python benchmarks/accuracy.py int8 --float-model runs/default-float  # int8 against float, both modes
    python benchmarks/accuracy.py report                                 # writes benchmarks/accuracy.md

The shipped weights have heard every speaker here, so they cannot be scored on these corpora.
Instead the recipe is retrained on the training side of each fold and scored on the held-out
speakers. One split serves every corpus: six folds over all five corpora together, RAVDESS's
being exactly the standard actor folds (1-4, 5-8, ..., 21-24) and every other corpus' speakers
spread over the six folds (seeded), so each fold's model learns from all corpora, as the
shipped one does, and every speaker is tested exactly once.

Per fold: validation speakers (1/8 of the training side's) are held out; the frozen probe (mean
and std over time of Whisper tiny.en layers 1-4, standardised, logistic regression) is fitted
on the rest, with the recipe's augmented copies of those clips (``augmented_copies``; never of
validation or test clips), for each C of the grid, and the C with the best validation UA kept. With
``--epochs N`` the probe is then loaded into the network (`ser.models.heads.StatsHead`) and the
top encoder layer fine-tuned with it for N epochs (linear probing, then fine-tuning), keeping
the epoch (0 = the probe) with the best validation UA. Test speakers are scored once per epoch
for the learning curve only; they choose nothing.

Fold results go to runs/accuracy/<name>.jsonl (a finished fold is skipped on a rerun).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _machine import cpu_name  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

OUT = REPO / "runs" / "accuracy"
CORPUS_TITLES = {
    "ravdess": "RAVDESS (speech; 7 default classes: calm scored as neutral), 6 folds of 4 actors",
    "emodb": "EmoDB (6 of its 7 classes: boredom is not a default class), 10 speakers over 6 folds",
    "urdu": "URDU (4 classes), 38 speakers over 6 folds",
    "turevdb": "TurEV-DB (4 classes: calm scored as neutral), 6 speakers, one per fold",
    "tess": "TESS (7 classes), 2 speakers (each held out once)",
}


def load(recipe):
    """Rows, targets, corpus and speaker arrays, and the RAVDESS-aligned folds."""
    from ser.labels import DEFAULT_MODEL_LABELS
    from ser.training.default_model import build_manifest

    rows = build_manifest(recipe)
    labels = list(DEFAULT_MODEL_LABELS)
    y = np.array([labels.index(r.extra["target"]) for r in rows])
    corpus = np.array([r.corpus for r in rows])
    speakers = np.array([r.speaker for r in rows])
    return rows, labels, y, corpus, speakers, aligned_folds(corpus, speakers)


def aligned_folds(corpus: np.ndarray, speakers: np.ndarray, n_folds: int = 6, seed: int = 0) -> np.ndarray:
    """Fold number of every row: RAVDESS actors 1-4 in fold 0, 5-8 in fold 1, ...; other speakers round-robin."""
    fold = np.zeros(len(corpus), int)
    rng = np.random.default_rng(seed)
    for name in sorted(set(corpus)):
        names = sorted(set(speakers[corpus == name]))
        if name == "ravdess":
            mapping = {s: (int(s.split("_")[-1]) - 1) // 4 for s in names}
        else:
            order = rng.permutation(len(names))
            mapping = {names[j]: i % n_folds for i, j in enumerate(order)}
        for i in np.flatnonzero(corpus == name):
            fold[i] = mapping[speakers[i]]
    return fold


def features_and_copies(rows, recipe, copies: int):
    """The recipe's pooled features of `rows` and of `copies` augmented versions (``[K, n, d]`` or None)."""
    from ser.training.default_model import pooled_features, select_features

    x = select_features(pooled_features(rows, recipe), recipe.layers, recipe.stats)
    if not copies:
        return x, None
    return x, np.stack([select_features(pooled_features(rows, recipe, copy=k), recipe.layers, recipe.stats)
                        for k in range(1, copies + 1)])


def suffix(copies: int) -> str:
    """Result-name suffix of a run with augmented copies."""
    return f"-aug{copies}" if copies else ""


def training_data(copies: int) -> str:
    """How a run's training side was built, in words (the reports' wording)."""
    return "no augmentation" if not copies else f"+ {copies} augmented cop{'y' if copies == 1 else 'ies'} of each training clip"


def best_probe(x_fit, y_fit, x_val, y_val, grid: str, seed: int = 0, log=None):
    """``(C, head)``: the frozen probe fitted for each C of `grid` ("0.003,0.01"), the best by validation UA."""
    from sklearn.metrics import balanced_accuracy_score

    from ser.training.default_model import make_head

    best = None
    for c in [float(v) for v in grid.split(",")]:
        head = make_head(c, seed).fit(x_fit, y_fit)
        score = balanced_accuracy_score(y_val, head.predict(x_val))
        if log:
            log(f"probe C={c} validation UA {score:.3f}")
        if best is None or score > best[0]:
            best = (score, c, head)
    return best[1], best[2]


def run(args) -> None:
    import torch
    from sklearn.metrics import balanced_accuracy_score

    from ser.models.encoders import load_whisper_encoder
    from ser.models.heads import StatsHead, WhisperEmotion
    from ser.training.default_model import finetune, hidden_states

    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    recipe = _recipe(args.config)
    if args.copies is None:
        args.copies = recipe.augmented_copies
    args.name = args.name or ("probe" if args.epochs == 0 else f"finetune-{args.trainable}") + suffix(args.copies)
    rows, labels, y, corpus, speakers, fold = load(recipe)
    out = OUT / f"{args.name}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["fold"] for line in out.open()} if out.exists() else set()
    todo = [int(v) for v in args.folds.split(",") if int(v) not in done]
    if not todo:
        print(f"{out}: folds {args.folds} already done")
        return
    started = time.time()
    first = 4 - args.trainable

    def states_and_pooled(copy):
        cached = hidden_states(rows, recipe, copy=copy)
        pooled = np.stack([StatsHead.pooled(torch.from_numpy(s[1:5].astype(np.float32))[:, None]).numpy()[0]
                           for s in cached])
        return ([s[: first + 1] for s in cached] if copy == 0 or args.epochs else None), pooled

    states, pooled = states_and_pooled(0)
    # Augmented copies k = 1..K of every clip; a fold trains on those of its training clips only.
    copies = [states_and_pooled(k) for k in range(1, args.copies + 1)]
    n = len(rows)
    if args.epochs:
        states = states + [s for copy_states, _ in copies for s in copy_states]
    pooled_all = np.concatenate([pooled] + [p for _, p in copies])
    y_all = np.tile(y, args.copies + 1)
    print(f"states and pooled features of {len(rows)} clips in {time.time() - started:.0f} s", flush=True)
    encoder = load_whisper_encoder(recipe.encoder)

    def ua(true, predicted):
        return float(balanced_accuracy_score(true, predicted))

    def batch(index):
        frames = max(states[i].shape[1] for i in index)
        x = np.zeros((first + 1, len(index), frames, 384), np.float32)
        for b, i in enumerate(index):
            x[:, b, : states[i].shape[1]] = states[i]
        return torch.from_numpy(x), torch.tensor([states[i].shape[1] for i in index])

    def logits_of(model, index):
        model.eval()
        order = sorted(index, key=lambda i: states[i].shape[1])
        with torch.no_grad():
            z = np.concatenate([model.forward_from(*batch(order[k : k + 64])).numpy() for k in range(0, len(order), 64)])
        position = {i: k for k, i in enumerate(index)}
        back = np.empty_like(z)
        back[[position[i] for i in order]] = z
        return back

    for f in todo:
        t = time.time()
        torch.manual_seed(f)
        rng = np.random.default_rng(f)
        test = [int(i) for i in np.flatnonzero(fold == f)]
        train_all = np.flatnonzero(fold != f)
        train_speakers = sorted(set(speakers[train_all]))
        val_speakers = set(rng.choice(train_speakers, max(2, len(train_speakers) // 8), replace=False))
        val = [int(i) for i in train_all if speakers[i] in val_speakers]
        train = [int(i) for i in train_all if speakers[i] not in val_speakers]
        assert not set(speakers[test]) & set(speakers[train_all]), "a test speaker is on the training side"
        fit = train + [i + k * n for k in range(1, args.copies + 1) for i in train]  # + the training clips' copies

        c, head = best_probe(pooled_all[fit], y_all[fit], pooled[val], y[val], args.c,
                             log=lambda text: print(f"fold {f}: {text} ({time.time() - t:.0f} s)", flush=True))
        model = WhisperEmotion(encoder, len(labels), trainable_layers=args.trainable, head="stats")
        scaler, linear = head[0], head[-1]
        model.head.set_probe(scaler.mean_, scaler.scale_, linear.coef_, linear.intercept_)

        curve = []

        def record(epoch, loss):
            val_z, test_z = logits_of(model, val), logits_of(model, test)
            per_corpus = {
                str(name): round(ua(y[[i for i in test if corpus[i] == name]],
                                    test_z[[k for k, i in enumerate(test) if corpus[i] == name]].argmax(1)), 4)
                for name in sorted(set(corpus[test]))
            }
            curve.append({"epoch": epoch, "loss": loss, "val_ua": ua(y[val], val_z.argmax(1)),
                          "test_ua": ua(y[test], test_z.argmax(1)), "per_corpus": per_corpus, "s": round(time.time() - t)})
            print(f"fold {f} epoch {epoch}: loss {loss:.3f} validation UA {curve[-1]['val_ua']:.3f} "
                  f"test UA {curve[-1]['test_ua']:.3f} {per_corpus} ({time.time() - t:.0f} s)", flush=True)
            return val_z, test_z

        best_val_z, best_z = record(0, float("nan"))
        best_epoch = 0
        if args.epochs:
            # The shared trainer, checkpointed per fold; the epoch is chosen on validation speakers.
            trainer = finetune(model, states, y_all, fit, val, OUT / f"{args.name}-fold{f}", epochs=args.epochs,
                               encoder_lr=args.encoder_lr, head_lr=args.head_lr, batch_size=args.batch, seed=f)
            curve += [{"epoch": r["epoch"], "loss": r["train_loss"], "val_ua": r["val_ua"]} for r in trainer.history]
            best = max(trainer.history, key=lambda r: r["val_ua"])
            if best["val_ua"] > curve[0]["val_ua"]:  # else the probe itself (epoch 0) stays
                best_epoch = best["epoch"]
                best_val_z, best_z = record(best_epoch, best["train_loss"])  # the trainer holds the best epoch's weights
        with out.open("a") as handle:
            # Validation logits too: the fold's temperature is fitted on them (calibration in the report).
            handle.write(json.dumps({"args": vars(args), "fold": f, "C": c, "best_epoch": best_epoch, "test": test,
                                     "logits": best_z.tolist(), "val": val, "val_logits": best_val_z.tolist(),
                                     "curve": curve}) + "\n")


def cross_corpus(args) -> None:
    """Train the frozen recipe on four corpora, test on the fifth.

    C is chosen from the grid by the UA of validation speakers (1/8 of the training corpora's),
    as in the folds; the head keeps the fit without them.
    """
    from sklearn.metrics import balanced_accuracy_score

    from ser.training.default_model import with_copies

    recipe = _recipe(args.config)
    rows, labels, y, corpus, speakers, _ = load(recipe)
    copies = recipe.augmented_copies if args.copies is None else args.copies
    x, x_copies = features_and_copies(rows, recipe, copies)
    path = OUT / f"cross_corpus{suffix(copies)}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for held_out in sorted(set(corpus)):
        if held_out in results:
            continue
        rng = np.random.default_rng(0)
        train_all, test = np.flatnonzero(corpus != held_out), np.flatnonzero(corpus == held_out)
        names = sorted(set(speakers[train_all]))
        val_speakers = set(rng.choice(names, max(2, len(names) // 8), replace=False))
        val = np.array([i for i in train_all if speakers[i] in val_speakers])
        train = np.array([i for i in train_all if speakers[i] not in val_speakers])
        c, head = best_probe(*with_copies(x, y, train, x_copies), x[val], y[val], args.c, recipe.seed)
        present = np.unique(y[test])
        # Closed set: the test corpus' own labels (a 4-class corpus is scored as 4 classes).
        predicted = present[head.decision_function(x[test])[:, present].argmax(axis=1)]
        open_set = head.predict(x[test])
        results[held_out] = {"ua": float(balanced_accuracy_score(y[test], predicted)),
                             "ua_7way": float(balanced_accuracy_score(y[test], open_set)),
                             "C": c, "classes": [labels[i] for i in present]}
        print(f"cross-corpus: test on {held_out}: UA {results[held_out]['ua']:.3f}", flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2))


def learning_curve(args) -> None:
    """The frozen recipe trained on a fraction of each fold's training speakers, scored on the fold's test speakers.

    Same folds, validation speakers and C grid as `run`; the fraction is taken per corpus (at least
    one speaker each), seeded by fold and fraction. It answers whether more speakers would help.
    """
    from sklearn.metrics import balanced_accuracy_score

    recipe = _recipe(args.config)
    rows, labels, y, corpus, speakers, fold = load(recipe)
    x, _ = features_and_copies(rows, recipe, 0)  # no augmentation: the curve is about speakers
    path = OUT / "learning_curve.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for fraction in [float(v) for v in args.fractions.split(",")]:
        for f in range(6):
            key = f"{fraction:g}/{f}"
            if key in results:
                continue
            rng = np.random.default_rng(f)  # the validation speakers of `run`
            test = np.flatnonzero(fold == f)
            train_all = np.flatnonzero(fold != f)
            names = sorted(set(speakers[train_all]))
            val_speakers = set(rng.choice(names, max(2, len(names) // 8), replace=False))
            pick = np.random.default_rng([f, int(fraction * 1000)])
            kept = set()
            for name in sorted(set(corpus[train_all])):
                pool = sorted({s for s in speakers[train_all][corpus[train_all] == name]} - val_speakers)
                kept |= set(pick.choice(pool, max(1, round(fraction * len(pool))), replace=False))
            val = np.array([i for i in train_all if speakers[i] in val_speakers])
            train = np.array([i for i in train_all if speakers[i] in kept])
            predicted = best_probe(x[train], y[train], x[val], y[val], args.c, recipe.seed)[1].predict(x[test])
            per_corpus = {str(name): float(balanced_accuracy_score(y[test][corpus[test] == name],
                                                                    predicted[corpus[test] == name]))
                          for name in sorted(set(corpus[test]))}
            results[key] = {"fraction": fraction, "fold": f, "train_speakers": len(kept), "train_clips": len(train),
                            "ua": float(balanced_accuracy_score(y[test], predicted)), "per_corpus": per_corpus}
            print(f"learning curve: {fraction:g} of the speakers, fold {f}: {len(kept)} speakers, "
                  f"UA {results[key]['ua']:.3f}", flush=True)
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2))


NATIVE = {  # the issue's per-corpus protocols, over each corpus' own label set
    "ravdess": ("ravdess-6fold", {}),
    "emodb": ("speaker-kfold", {"n_folds": 5}),
    "urdu": ("speaker-kfold", {"n_folds": 5}),
    "turevdb": ("loso", {}),
    "tess": ("loso", {}),
}


def native(args) -> None:
    """The frozen recipe trained on one corpus with its own labels (RAVDESS: 8 classes, calm included).

    Folds by ``ser.splits.make_folds`` with the corpus' standard protocol (`NATIVE`); C chosen on
    validation speakers drawn from the training side, as in `run`.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    from ser.corpora import prepare
    from ser.splits import make_folds, with_validation
    from ser.training.default_model import with_copies

    recipe = _recipe(args.config)
    copies = recipe.augmented_copies if args.copies is None else args.copies
    path = OUT / f"native{suffix(copies)}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for name in args.corpora.split(","):
        if name in results:
            continue
        rows = [r for r in prepare(name, Path(recipe.datasets) / recipe.corpora[name]).utterances if r.emotion]
        x, x_copies = features_and_copies(rows, recipe, copies)
        classes = sorted({r.emotion for r in rows})
        y = np.array([classes.index(r.emotion) for r in rows])
        protocol, options = NATIVE[name]
        scores = []
        for fold in make_folds(rows, protocol, **options):
            fold = with_validation(rows, fold, fraction=0.125, seed=recipe.seed)
            train, val, test = (np.asarray(v) for v in (fold.train, fold.val, fold.test))
            predicted = best_probe(*with_copies(x, y, train, x_copies), x[val], y[val], args.c,
                                   recipe.seed)[1].predict(x[test])
            scores.append([balanced_accuracy_score(y[test], predicted), accuracy_score(y[test], predicted),
                           f1_score(y[test], predicted, average="macro")])
        scores = np.array(scores)
        results[name] = {"protocol": protocol, "classes": classes, "folds": len(scores),
                         "mean": scores.mean(0).tolist(), "std": scores.std(0).tolist()}
        print(f"{name} ({len(classes)} classes, {protocol}): UA {scores[:, 0].mean():.3f} ± {scores[:, 0].std():.3f}", flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2))


ADAPT_MODES = {  # mode -> the clips of each test speaker that form its profile (their audio, never their labels)
    "single": "single clip (n = 0)",
    "n3": "3 clips",
    "n10": "10 clips",
    "all": "all clips",
    "neutral": "neutral clips only",
    "angry": "angry clips only",
}
ADAPT_DRAWS = 3  # random profiles of n clips per speaker, scores averaged
ADAPT_CENTRING = {"speaker": "speaker", "balanced": "speaker_balanced", "mixed": "speaker_mixed",
                  "mixed_single_copies": "speaker_mixed_single_copies", "corpus": "speaker"}
ADAPT_VARIANTS = {
    "none": "today's recipe (no centring)",
    "speaker": "speaker-centred (each training speaker's mean)",
    "balanced": "speaker-centred, class-balanced speaker mean in training",
    "mixed": "speaker-centred + the same clips less the population mean (both modes in training; recipe `speaker_mixed`)",
    "mixed_single_copies": "as `mixed`, the augmented copies in the single-clip view only (recipe `speaker_mixed_single_copies`)",
    "corpus": "corpus-centred (each corpus' mean; test corpus by its own mean)",
}


def adapt_split(x, copies, y, names, groups, train, val, test, variant, grid, seed, shrinkage=2.0, closed=False,
                refit=False):
    """One fold of the adaptation study: ``{"C", "T", "val_ua", "ua": {mode: [per draw]}, "ece": {mode}, "pred": {mode: [R, n]}}``.

    `groups` name each row's centring group (speaker, or corpus for the corpus variant). C is
    chosen on the validation speakers by the mean of their single-clip and all-clips UA (the
    single-clip UA alone for ``variant == "none"``); a temperature is fitted on them for single
    clips and one for adapted profiles (n = 3, 10, all pooled). ``refit``: the head is then fitted
    again on the training and validation speakers together, as ``ser train-default`` does.
    """
    from sklearn.metrics import balanced_accuracy_score

    from ser.evaluation.metrics import expected_calibration_error
    from ser.inference.backends import softmax
    from ser.training.default_model import centred_training, fit_temperature, make_head, profile_centres, with_copies

    rng = np.random.default_rng(seed)
    if variant == "none":
        x_fit, y_fit = with_copies(x, y, train, copies)
        population = np.zeros(x.shape[1], np.float32)
        modes = ["single"]
    else:
        x_fit, y_fit, population = centred_training(x, y, groups, train, copies, ADAPT_CENTRING[variant])
        modes = list(ADAPT_MODES)
    present = np.unique(y[test])

    def predict(z, true_classes):
        return true_classes[z[..., true_classes].argmax(-1)] if closed else z.argmax(-1)

    def logits(head, rows, mode):
        centres = profile_centres(x[rows], groups[rows], mode, population, shrinkage, rng, names[rows], ADAPT_DRAWS)
        return np.stack([head.decision_function(x[rows] - c) for c in centres])

    best = None
    head = make_head(grid[0], seed, warm_start=True)
    for c in sorted(grid):  # ascending, each fit starting from the last
        head.set_params(logisticregression__C=c).fit(x_fit, y_fit)
        scored = {m: logits(head, val, m) for m in (["single"] if variant == "none" else ["single", "all"])}
        score = np.mean([balanced_accuracy_score(y[val], z[0].argmax(-1)) for z in scored.values()])
        if best is None or score > best[0]:
            best = (score, c, copy.deepcopy(head))
    score, c, head = best
    t_single = fit_temperature(logits(head, val, "single")[0], y[val])
    adapted = [logits(head, val, m)[0] for m in ("n3", "n10", "all")] if variant != "none" else []
    t_adapted = fit_temperature(np.concatenate(adapted), np.tile(y[val], 3)) if adapted else t_single
    result = {"C": c, "val_ua": float(score), "T": {"single": t_single, "adapted": t_adapted}, "ua": {}, "ece": {}, "pred": {}}
    if refit:  # as the shipped model is made: C and T chosen, then the head fitted on every training speaker
        both = np.concatenate([train, val])
        if variant == "none":
            x_fit, y_fit = with_copies(x, y, both, copies)
        else:
            x_fit, y_fit, population = centred_training(x, y, groups, both, copies, ADAPT_CENTRING[variant])
        head = make_head(c, seed).fit(x_fit, y_fit)
    for mode in modes:
        z = logits(head, test, mode)
        t = t_single if mode == "single" else t_adapted
        result["ua"][mode] = [float(balanced_accuracy_score(y[test], predict(d, present))) for d in z]
        result["ece"][mode] = float(np.mean([expected_calibration_error(softmax(d, t), y[test], n_bins=15) for d in z]))
        result["pred"][mode] = predict(z, present).tolist()
    return result


def adapt_protocols(recipe, copies, which):
    """Yield ``(protocol, fold name, x, x_copies, y, names, speakers, corpus, train, val, test, closed)``."""
    from ser.corpora import prepare
    from ser.splits import make_folds, with_validation

    if which & {"folds6", "loco"}:
        rows, labels, y, corpus, speakers, fold = load(recipe)
        x, x_copies = features_and_copies(rows, recipe, copies)
        names = np.array(labels)[y]
    if "folds6" in which:
        for f in range(6):
            rng = np.random.default_rng(f)  # the validation speakers of `run`
            test, train_all = np.flatnonzero(fold == f), np.flatnonzero(fold != f)
            val_speakers = set(rng.choice(sorted(set(speakers[train_all])), max(2, len(set(speakers[train_all])) // 8), replace=False))
            val = np.array([i for i in train_all if speakers[i] in val_speakers])
            train = np.array([i for i in train_all if speakers[i] not in val_speakers])
            yield "folds6", str(f), x, x_copies, y, names, speakers, corpus, train, val, test, False
    if "loco" in which:
        for held_out in sorted(set(corpus)):
            rng = np.random.default_rng(0)  # the validation speakers of `cross_corpus`
            train_all, test = np.flatnonzero(corpus != held_out), np.flatnonzero(corpus == held_out)
            names_all = sorted(set(speakers[train_all]))
            val_speakers = set(rng.choice(names_all, max(2, len(names_all) // 8), replace=False))
            val = np.array([i for i in train_all if speakers[i] in val_speakers])
            train = np.array([i for i in train_all if speakers[i] not in val_speakers])
            yield "loco", held_out, x, x_copies, y, names, speakers, corpus, train, val, test, True
    for name, protocol in (("ravdess8", "ravdess"), ("emodb7", "emodb")):
        if name not in which:
            continue
        rows = [r for r in prepare(protocol, Path(recipe.datasets) / recipe.corpora[protocol]).utterances if r.emotion]
        x, x_copies = features_and_copies(rows, recipe, copies)
        classes = sorted({r.emotion for r in rows})
        y = np.array([classes.index(r.emotion) for r in rows])
        speakers = np.array([r.speaker for r in rows])
        kind, options = NATIVE[protocol]
        for k, fold in enumerate(make_folds(rows, kind, **options)):
            fold = with_validation(rows, fold, fraction=0.125, seed=recipe.seed)
            yield (name, str(k), x, x_copies, y, np.array(classes)[y], speakers, np.array([protocol] * len(rows)),
                   *(np.asarray(v) for v in (fold.train, fold.val, fold.test)), False)


ADAPT_GRID = (0.003, 0.01)  # the C grid of every study before the recipe's lower one


def adapt_path(copies: int, trimmed: bool, refit: bool = False, shrinkage: float = 2.0,
               grid: tuple[float, ...] = ADAPT_GRID) -> Path:
    """The results file of one adaptation study: runs/accuracy/adapt[-augK][-trimmed][-refit][-kK][-cC,C].json.

    Studies of speech-trimmed clips (the recipe since `trim_to_speech`) are kept apart from the
    earlier whole-clip ones, k = 2 (the issue's value, the recipe's until the `shrinkage` sweep)
    from other values, and the first C grid from others, so that every earlier section of
    accuracy.md can still be rendered.
    """
    grid = tuple(sorted(grid))
    return OUT / (f"adapt{suffix(copies)}{'-trimmed' if trimmed else ''}{'-refit' if refit else ''}"
                  f"{'' if shrinkage == 2.0 else f'-k{shrinkage:g}'}"
                  f"{'' if grid == ADAPT_GRID else '-c' + ','.join(f'{c:g}' for c in grid)}.json")


def study_c(study: dict, study_path: Path, key: str) -> float:
    """The C an adaptation study chose for fold `key` ("protocol/variant/fold"), or a clear exit."""
    if key not in study:
        raise SystemExit(f"{study_path}: no result for {key}; run the adaptation study for it first")
    return study[key]["C"]


def load_study(copies: int, shrinkage: float = 2.0, grid: tuple[float, ...] = ADAPT_GRID) -> tuple[dict, Path]:
    """The results of the speech-trimmed adaptation study named by its settings, and their path;
    a clear exit naming the command that writes them if they are missing."""
    path = adapt_path(copies, True, shrinkage=shrinkage, grid=grid)
    if not path.exists():
        raise SystemExit(f"{path}: run `python benchmarks/accuracy.py adapt --copies {copies} --variants mixed "
                         f"--shrinkage {shrinkage:g} --c {','.join(f'{c:g}' for c in grid)}` first")
    return json.loads(path.read_text()), path


def study_head(study: dict, study_path: Path, key: str, x, y, groups, train, copies, centring: str, seed: int):
    """``(head, population mean)``: the head of study fold `key` ("protocol/variant/fold") fitted
    again on its training rows with the C the study chose, trained as `centring` says."""
    from ser.training.default_model import centred_training, make_head

    x_fit, y_fit, population = centred_training(x, y, groups, train, copies, centring)
    return make_head(study_c(study, study_path, key), seed).fit(x_fit, y_fit), population


def adapt(args) -> None:
    """The speaker-adaptation study (issue 15): every protocol, every training variant, every profile mode.

    Results per fold go to runs/accuracy/adapt<-augK>.json (a finished fold is skipped on a rerun);
    the markdown section is written into benchmarks/accuracy.md (see `adapt_section`).
    """
    warnings.filterwarnings("ignore")
    recipe = _recipe(args.config)
    copies = recipe.augmented_copies if args.copies is None else args.copies
    shrinkage = recipe.shrinkage if args.shrinkage is None else args.shrinkage
    grid = [float(v) for v in args.c.split(",")] if args.c else list(recipe.c_grid)
    path = adapt_path(copies, recipe.trim_to_speech, args.refit, shrinkage, tuple(grid))
    results = json.loads(path.read_text()) if path.exists() else {}
    variants = args.variants.split(",")
    for protocol, name, x, x_copies, y, names, speakers, corpus, train, val, test, closed in ([] if args.render_only else adapt_protocols(
            recipe, copies, set(args.protocols.split(",")))):
        assert not set(speakers[test]) & set(speakers[train]) | set(speakers[val]) & set(speakers[test]), "speaker leak"
        for variant in variants + (["corpus"] if protocol == "loco" and args.corpus_variant else []):
            key = f"{protocol}/{variant}/{name}"
            if key in results:
                continue
            started = time.time()
            groups = corpus if variant == "corpus" else speakers
            r = adapt_split(x, x_copies, y, names, groups, train, val, test, variant, grid, recipe.seed, shrinkage,
                            closed, args.refit)
            r.update(test=test.tolist(), corpus=corpus[test].tolist(), y=y[test].tolist())
            results[key] = r
            print(f"{key}: C={r['C']} " + " ".join(f"{m} {np.mean(v):.3f}" for m, v in r["ua"].items())
                  + f" ({time.time() - started:.0f} s)", flush=True)
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results))
    block = adapt_block(path)
    write_section(block)
    print(block)


SHRINKAGE_PROTOCOLS = {"ravdess8": "RAVDESS-8, 6 folds of 4 actors", "emodb7": "EmoDB-7, 5 speaker folds",
                       "folds6": "5 corpora, 6 speaker folds"}


def shrinkage_sweep(args) -> None:
    """How strongly a profile of n clips should lean on the population mean: k of
    ``mu = (sum of n embeddings + k mu_pop) / (n + k)`` for n = 1, 3, 10 and all clips.

    Each fold's head is the adaptation study's (same features, training data and the C that study
    chose on the validation speakers, read from its results); only the test profiles change. The
    n-clip profiles are random draws of each test speaker's unlabelled clips (`ADAPT_DRAWS`).
    """
    from sklearn.metrics import balanced_accuracy_score

    from ser.training.default_model import profile_centres

    warnings.filterwarnings("ignore")
    recipe = _recipe(args.config)
    copies = recipe.augmented_copies if args.copies is None else args.copies
    study, study_path = load_study(copies)  # the sweep reuses the C the k = 2 study chose for each fold
    path = OUT / f"shrinkage{suffix(copies)}.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    ks = [float(v) for v in args.k.split(",")]
    for protocol, name, x, x_copies, y, names, speakers, _corpus, train, _val, test, _closed in adapt_protocols(
            recipe, copies, set(SHRINKAGE_PROTOCOLS)):
        key = f"{protocol}/{name}"
        if key in results and all(f"k{k:g}/all" in results[key] for k in ks):
            continue
        started = time.time()
        head, population = study_head(study, study_path, f"{protocol}/mixed/{name}", x, y, speakers, train, x_copies,
                                      "speaker_mixed", recipe.seed)
        scores = {"single": balanced_accuracy_score(y[test], head.predict(x[test] - population))}
        for k in ks:
            for mode in ("n1", "n3", "n10", "all"):
                centres = profile_centres(x[test], speakers[test], mode, population, k, np.random.default_rng(recipe.seed),
                                          names[test], ADAPT_DRAWS)
                scores[f"k{k:g}/{mode}"] = float(np.mean([balanced_accuracy_score(y[test], head.predict(x[test] - c))
                                                          for c in centres]))
        results[key] = scores
        print(key, " ".join(f"{m} {v:.3f}" for m, v in scores.items()), f"({time.time() - started:.0f} s)", flush=True)
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results))
    block = shrinkage_block(results, ks, copies)
    write_section(block)
    print(block)


def shrinkage_block(results: dict, ks: list[float], copies: int) -> str:
    """The marked section of the shrinkage sweep: UA by protocol, k and profile size (mean over folds)."""
    def mean(protocol, mode):
        values = [r[mode] for key, r in results.items() if key.startswith(protocol + "/") and mode in r]
        return f"{np.mean(values):.3f}" if values else "–"

    lines = ["<!-- shrinkage:start -->", f"## Profile shrinkage k (issue 15), {training_data(copies)}, speech-trimmed clips", "",
             "A profile of n unlabelled clips of the test speaker is centred at (sum of the n embeddings + k mu_pop) / (n + k).",
             "The heads and C are those of the adaptation study (k = 2 there); only k changes. n-clip profiles are",
             f"{ADAPT_DRAWS} random draws of the speaker's clips, every clip of the speaker scored. UA, mean over folds.",
             f"Command: `python benchmarks/accuracy.py shrinkage --copies {copies}`.", "",
             "| protocol | k | single clip (no profile) | 1 clip | 3 clips | 10 clips | all clips |", "|---|---|---|---|---|---|---|"]
    for protocol, title in SHRINKAGE_PROTOCOLS.items():
        for k in ks:
            lines.append(f"| {title} | {k:g} | {mean(protocol, 'single')} | "
                         + " | ".join(mean(protocol, f"k{k:g}/{m}") for m in ("n1", "n3", "n10", "all")) + " |")
    lines += ["", "<!-- shrinkage:end -->"]
    return "\n".join(lines)


def write_section(block: str, target: Path = REPO / "benchmarks" / "accuracy.md") -> None:
    """Put `block` (its first and last lines are its ``<!-- tag:start/end -->`` markers) into `target`:
    in place of the earlier block with the same markers, else before the hand-written notes."""
    text = target.read_text() if target.exists() else ""
    start, end = block.splitlines()[0], block.splitlines()[-1]
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        at = text.find("## Fine-tuning the top encoder layer without augmentation")
        text = (text[:at] + block + "\n\n" + text[at:]) if at >= 0 else text.rstrip() + "\n\n" + block + "\n"
    target.write_text(text)


def adapt_block(path: Path) -> str:
    """The section of one adaptation result file between markers naming it (so `adapt` replaces it in place)."""
    tag = path.stem
    parts = re.fullmatch(r"adapt(?:-aug(\d+))?(-trimmed)?(-refit)?(?:-k([\d.]+))?(?:-c([\d.,e-]+))?", tag)
    if parts is None:
        raise SystemExit(f"{path}: not the name of an adaptation study's results")
    copies, trimmed, refit = int(parts[1] or 0), bool(parts[2]), bool(parts[3])
    shrinkage = float(parts[4] or 2.0)
    grid = tuple(float(c) for c in parts[5].split(",")) if parts[5] else ADAPT_GRID
    recipe = _recipe(REPO / "configs" / "default.yaml")
    shipped = (copies, trimmed, shrinkage, refit, grid) == (
        recipe.augmented_copies, recipe.trim_to_speech, recipe.shrinkage, False, tuple(sorted(recipe.c_grid)))
    shipped_variant = next(v for v, centring in ADAPT_CENTRING.items() if centring == recipe.centring)
    section = adapt_section(json.loads(path.read_text()), copies, refit, trimmed, shrinkage, shipped, shipped_variant, grid)
    return f"<!-- {tag}:start -->\n{section}\n<!-- {tag}:end -->"


def _fold_ua(results, protocol, variant, mode, corpus=None):
    """Mean over folds (and draws) of the test UA of `mode`, over one corpus' clips or all of them."""
    from sklearn.metrics import balanced_accuracy_score

    # A fold's clips of one corpus need not cover every class the head can predict.
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
    scores = []
    for key, r in results.items():
        p, v, _ = key.split("/")
        if p != protocol or v != variant or mode not in r["pred"]:
            continue
        if corpus is None:
            scores.append(np.mean(r["ua"][mode]))
            continue
        keep = np.array(r["corpus"]) == corpus
        if keep.any():
            y = np.array(r["y"])[keep]
            scores.append(np.mean([balanced_accuracy_score(y, np.array(d)[keep]) for d in r["pred"][mode]]))
    return float(np.mean(scores)) if scores else None


def adapt_section(results, copies: int, refit: bool = False, trimmed: bool = False, shrinkage: float = 2.0,
                  shipped: bool = False, goal_variant: str | None = None, grid: tuple[float, ...] = ADAPT_GRID) -> str:
    """The markdown section of the adaptation study, from `adapt`'s results (`trimmed`: on clips cut
    to their detected speech, with the recipe's rule for speakers of few emotions). The goals table
    scores `goal_variant` (the shipped recipe's), else `mixed`, else `speaker`."""
    cell = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [
        f"## Knowing the voice: speaker-centred prediction (issue 15){', head refitted' if refit else ''}"
        f"{'' if not copies else ', ' + training_data(copies)}{', speech-trimmed clips' if trimmed else ''}"
        f"{'' if shrinkage == 2.0 else f', profile shrinkage k = {shrinkage:g}'}"
        f"{'' if grid == ADAPT_GRID else ', C from ' + ', '.join(f'{c:g}' for c in grid)}{' (the shipped recipe)' if shipped else ''}", "",
        ("Clips are cut to the speech the detector finds (with its automatic gain), in training and test, as "
         "the shipped recipe trains and the Recognizer judges; training speakers whose clips show fewer than 3 "
         "emotions are not centred on their own mean (`MIN_EMOTIONS_TO_CENTRE`)." if trimmed else
         "Whole clips, as read, and every training speaker centred on its own mean: the recipe before "
         "`trim_to_speech` and before speakers of fewer than 3 emotions were left uncentred."), "",
        "Speaker centring subtracts from every pooled embedding the mean embedding of its speaker's clips.",
        "In training each training speaker's own mean is used (or the mean of its per-class means, the",
        "class-balanced variant). At test time **the test speaker's audio, never its labels, forms the profile**:",
        "the mean of n of its unlabelled clips, shrunk toward the training population's mean,",
        f"mu = (sum of the n embeddings + k mu_pop) / (n + k) with k = {shrinkage:g}; n = 0 is a single clip with no",
        "context (the head applied to x - mu_pop). The n-clip profiles are random draws of the speaker's",
        f"clips ({ADAPT_DRAWS} draws, scores averaged) and every clip of the speaker is then scored. The skew rows",
        "form the profile from the speaker's neutral clips only, or from its angry clips only (labels pick",
        "those clips, to show what a one-sided profile does). C is chosen on validation speakers by the mean",
        "of their single-clip and all-clips UA; ECE (15 bins) uses a temperature fitted on the validation",
        "speakers for each mode (one for single clips, one for the adapted profiles).",
        ("Once C and the temperatures are chosen the head is fitted again on the training and validation "
         "speakers together, as `ser train-default` fits the shipped head on every speaker. " if refit else "")
        + f"Training data: {training_data(copies)}"
        + (" (`augmentation: recordings`, as the shipped model: speaker variations and recording conditions)" if copies else "")
        + f". Command: `python benchmarks/accuracy.py adapt --copies {copies}"
        + (" --refit" if refit else "") + ("" if shrinkage == 2.0 else f" --shrinkage {shrinkage:g}")
        + ("" if grid == ADAPT_GRID else " --c " + ",".join(f"{c:g}" for c in grid)) + "`.", "",
    ]
    protocols = [
        ("ravdess8", None, "RAVDESS, 8 classes, 6 folds of 4 actors (ravdess-6fold)"),
        ("emodb7", None, "EmoDB, 7 classes, 5 speaker folds"),
        ("folds6", None, "5 corpora, 6 folds, all held-out clips (7 classes)"),
    ] + [("folds6", c, f"5 corpora, 6 folds: {c} part") for c in CORPUS_TITLES] + [
        ("loco", c, f"leave one corpus out: {c} (its classes)") for c in CORPUS_TITLES]
    lines += ["| protocol | training | " + " | ".join(ADAPT_MODES.values()) + " | ECE single / all |",
              "|---|---|" + "---|" * (len(ADAPT_MODES) + 1)]

    def row(title, protocol, variant, corpus, loco_mean=False):
        if loco_mean:
            got = [[_fold_ua(results, "loco", variant, m, c) for c in CORPUS_TITLES] for m in ADAPT_MODES]
            cells = [None if any(v is None for v in g) else float(np.mean(g)) for g in got]
        else:
            cells = [_fold_ua(results, protocol, variant, m, corpus) for m in ADAPT_MODES]
        if all(v is None for v in cells):
            return None
        ece = [np.mean([r["ece"][m] for k, r in results.items() if k.startswith(f"{protocol}/{variant}/") and m in r["ece"]] or [np.nan])
               for m in ("single", "all")]
        ece_text = " / ".join("–" if np.isnan(e) else f"{e:.3f}" for e in ece) if corpus is None or loco_mean else ""
        return f"| {title} | {ADAPT_VARIANTS[variant]} | " + " | ".join(cell(v) for v in cells) + f" | {ece_text} |"

    for protocol, corpus, title in protocols + [("loco", "mean", "leave one corpus out: mean of 5")]:
        for variant in ADAPT_VARIANTS:
            line = row(title, protocol, variant, None if corpus == "mean" else corpus, corpus == "mean")
            if line:
                lines.append(line)
    lines.append("")
    def loco_mean(variant, mode):
        got = [_fold_ua(results, "loco", variant, mode, c) for c in CORPUS_TITLES]
        return None if any(v is None for v in got) else float(np.mean(got))

    # The goals of issue 15, for the shipped variant where it was run ("today" is the recipe the
    # issue was written against).
    run = {k.split("/")[1] for k in results}
    variant = next(v for v in (goal_variant, "mixed", "speaker") if v in run)
    goals = [
        ("RAVDESS-8, all clips of the speaker", _fold_ua(results, "ravdess8", variant, "all"), 0.85),
        ("EmoDB-7, all clips of the speaker", _fold_ua(results, "emodb7", variant, "all"), 0.95),
        ("leave one corpus out, mean of 5, all clips of the speaker", loco_mean(variant, "all"), 0.55),
        ("leave one corpus out, mean of 5, centred by corpus (the issue's measurement; corpus-centred head)",
         loco_mean("corpus", "all") if "corpus" in run else None, 0.55),
        ("RAVDESS-8, single clip (today 0.746)", _fold_ua(results, "ravdess8", variant, "single"), 0.746),
        ("5 corpora, 6 folds, single clip (today 0.734)", _fold_ua(results, "folds6", variant, "single"), 0.734),
        ("leave one corpus out, mean of 5, single clip (today 0.435)", loco_mean(variant, "single"), 0.4351),
    ]
    lines += [f"Against the issue's goals ({ADAPT_VARIANTS[variant]}):", "",
              "| goal | this study | target | met? |", "|---|---|---|---|"]
    for text, value, goal in goals:
        if value is None and "centred by corpus" in text:
            continue  # a study without the corpus variant
        lines.append(f"| {text} | {cell(value)} | >= {goal:.3f} | {'yes' if value is not None and value >= goal else '**no**'} |")
    if not copies:
        lines += ["", "\"Today\" is the shipped recipe with two augmented copies. Like for like, without augmentation, today's",
                  "recipe gives RAVDESS-8 0.742 (0.740 in this study's own run, first row), the five corpora 0.705 and the",
                  "unseen-corpus mean 0.397 (tables above); the mixed head's single clips: 0.734 (0.008 below), 0.705 (equal)",
                  "and 0.409 (0.012 above)."]
    lines += ["", "EmoBox's best published RAVDESS figure is UA 0.753 (frozen Whisper large-v3, 8 classes, the same",
              "6-fold actor protocol), for one clip at a time with no knowledge of the speaker; the adapted figures",
              "above use the test speaker's other unlabelled clips, which EmoBox's protocol does not, so they are",
              "not the same task. The single-clip column is the comparable one.", ""]
    return "\n".join(lines)


def int8(args) -> None:
    """How closely an int8 folder follows its float folder, single clips and adapted to each speaker.

    A seeded sample of `--clips` clips of the recipe's corpora (training speakers of the shipped
    model: this measures the change quantisation makes, not accuracy); each clip's speaker is
    its group for the adapted mode.
    """
    from ser.audio import load as load_audio
    from ser.export.quantize import agreement

    recipe = _recipe(args.config)
    rows = load(recipe)[0]
    chosen = sorted(np.random.default_rng(0).choice(len(rows), size=min(args.clips, len(rows)), replace=False))
    result = agreement(args.float_model, args.model, [load_audio(rows[i].path) for i in chosen],
                       [rows[i].speaker for i in chosen])
    print(json.dumps(result, indent=2))


def report(args) -> None:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    from ser.evaluation.metrics import expected_calibration_error
    from ser.inference.backends import softmax
    from ser.training.default_model import fit_temperature

    # A fold's test clips of one corpus need not cover every class the head can predict.
    warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")

    recipe = _recipe(args.config)
    _, labels, y, corpus, _, _ = load(recipe)
    lines = [
        "# Accuracy of the default model's recipe (speaker-independent)",
        "",
        "Generated by `python benchmarks/accuracy.py report` from fold results that `benchmarks/accuracy.py run`",
        f"wrote (see the script's docstring for the protocol). Machine: {cpu_name()}. Data: `../shared/datasets`",
        "(16 kHz FLAC transcodes of RAVDESS, TESS, EmoDB, URDU, TurEV-DB: 6829 clips with a default label).",
        "",
        "Every figure is on speakers the model did not train on. UA = unweighted accuracy (mean of",
        "per-class recalls), WA = accuracy, F1 = macro-F1, over the corpus' own classes (the 7-class",
        "head predicts; a 4-class corpus can be wrong in 7 ways). `mean ± std` is over folds; `pooled` is",
        "over all held-out clips of the corpus together.",
        "",
        "The shipped recipe's own figures, one clip at a time and adapted to a speaker, are in the section",
        "marked \"(the shipped recipe)\"; the other sections are earlier recipes and experiments, kept for comparison.",
        "",
    ]
    # Whole-clip, uncentred probes (the recipe before speaker centring and speech trimming); the
    # one with the recipe's number of copies first, as when it was the shipped recipe.
    first = "probe" + suffix(2)
    paths = sorted(OUT.glob("*.jsonl"), key=lambda p: (p.stem != first, p.stem))
    runs = {p.stem: [json.loads(line) for line in p.open()] for p in paths}
    for name, folds in runs.items():
        folds.sort(key=lambda r: r["fold"])
        a = folds[0]["args"]
        method = (f"frozen probe (C from {a['c']} by validation UA)" if a["epochs"] == 0 else
                  f"probe, then top {a['trainable']} layer(s) fine-tuned {a['epochs']} epochs "
                  f"(encoder lr {a['encoder_lr']}, head lr {a['head_lr']}), best epoch by validation UA")
        if a.get("copies"):
            method += "; " + training_data(a["copies"])
        if name == first:
            method += " (the shipped recipe before speaker centring and speech trimming)"
        lines += [f"## `{name}`: {method}", "", f"Folds: {', '.join(str(r['fold']) for r in folds)}"
                  + ("" if len(folds) == 6 else f" (**{len(folds)} of 6**: the others were not run)"), ""]
        lines += ["| corpus | UA mean ± std over folds | pooled UA | pooled WA | pooled macro-F1 | pooled UA, closed set | clips |",
                  "|---|---|---|---|---|---|---|"]
        for c in CORPUS_TITLES:
            true, pred, logits, fold_ua = [], [], [], []
            for r in folds:
                idx = np.array(r["test"])
                keep = corpus[idx] == c
                if not keep.any():
                    continue
                z = np.array(r["logits"])[keep]
                true += list(y[idx[keep]]); pred += list(z.argmax(1)); logits.append(z)
                fold_ua.append(balanced_accuracy_score(y[idx[keep]], z.argmax(1)))
            if not true:
                continue
            true, pred = np.array(true), np.array(pred)
            present = np.unique(true)
            # Closed set: the argmax over the corpus' own classes only (a 4-class corpus scored as 4-way).
            closed = present[np.concatenate(logits)[:, present].argmax(1)]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lines.append(f"| {CORPUS_TITLES[c]} | **{np.mean(fold_ua):.3f}** ± {np.std(fold_ua):.3f} ({len(fold_ua)} folds) "
                             f"| {balanced_accuracy_score(true, pred):.3f} | {accuracy_score(true, pred):.3f} "
                             f"| {f1_score(true, pred, labels=present, average='macro'):.3f} "
                             f"| {balanced_accuracy_score(true, closed):.3f} | {len(true)} |")
        all_true = np.concatenate([y[np.array(r["test"])] for r in folds])
        all_pred = np.concatenate([np.array(r["logits"]).argmax(1) for r in folds])
        lines.append(f"| all held-out clips, 7 classes | {np.mean([balanced_accuracy_score(y[np.array(r['test'])], np.array(r['logits']).argmax(1)) for r in folds]):.3f} "
                     f"± {np.std([balanced_accuracy_score(y[np.array(r['test'])], np.array(r['logits']).argmax(1)) for r in folds]):.3f} "
                     f"| {balanced_accuracy_score(all_true, all_pred):.3f} | {accuracy_score(all_true, all_pred):.3f} "
                     f"| {f1_score(all_true, all_pred, average='macro'):.3f} | – | {len(all_true)} |")
        if all("val_logits" in r for r in folds):
            before, after, temperatures = [], [], []
            for r in folds:
                t = fit_temperature(np.array(r["val_logits"]), y[np.array(r["val"])])
                z, true = np.array(r["logits"]), y[np.array(r["test"])]
                before.append(expected_calibration_error(softmax(z), true, n_bins=15))
                after.append(expected_calibration_error(softmax(z, t), true, n_bins=15))
                temperatures.append(t)
            lines += ["", f"Calibration on the test speakers (expected calibration error, 15 bins, mean over folds): "
                      f"{np.mean(before):.3f} with the raw probabilities, **{np.mean(after):.3f}** with a temperature "
                      f"fitted on each fold's validation speakers (T = {min(temperatures):.2f}-{max(temperatures):.2f})."]
        if a["epochs"]:
            lines += ["", "Validation UA per epoch (epoch 0 = the probe; the test UA of the chosen epoch in the table above):", "",
                      "| fold | " + " | ".join(f"epoch {e}" for e in range(a["epochs"] + 1)) + " | chosen |",
                      "|---|" + "---|" * (a["epochs"] + 2)]
            for r in folds:
                by_epoch = {p["epoch"]: p["val_ua"] for p in r["curve"]}
                cells = [f"{by_epoch[e]:.3f}" if e in by_epoch else "-" for e in range(a["epochs"] + 1)]
                lines.append(f"| {r['fold']} | " + " | ".join(cells) + f" | {r['best_epoch']} |")
        lines.append("")
    def variants(stem):
        """(path, copies) of each result file of one kind: without augmentation, then with K copies."""
        found = [(OUT / f"{stem}.json", 0)] + [(p, int(p.stem.rsplit("aug", 1)[1])) for p in sorted(OUT.glob(f"{stem}-aug*.json"))]
        return [(path, k) for path, k in found if path.exists()]

    native_runs = variants("native")
    if native_runs:
        lines += ["## One corpus at a time, its own labels, its standard protocol", "",
                  "The same frozen recipe trained on the corpus alone, over all its classes (RAVDESS: 8, calm",
                  "included, the protocol of the published figures below). Command: `python benchmarks/accuracy.py native`",
                  "(`--copies 0` for the rows without augmentation).", "",
                  "| corpus | training data | classes | protocol | folds | UA | WA | macro-F1 |", "|---|---|---|---|---|---|---|---|"]
        for path, k in native_runs:
            for name, v in json.loads(path.read_text()).items():
                m, d = v["mean"], v["std"]
                lines.append(f"| {name} | {training_data(k)} | {len(v['classes'])} | {v['protocol']} | {v['folds']} "
                             f"| **{m[0]:.3f}** ± {d[0]:.3f} | {m[1]:.3f} ± {d[1]:.3f} | {m[2]:.3f} ± {d[2]:.3f} |")
        lines.append("")
    cross_runs = variants("cross_corpus")
    if cross_runs:
        lines += ["## Cross-corpus: train the frozen recipe on four corpora, test on the fifth", "",
                  "C chosen on validation speakers of the four training corpora; the test corpus is scored over",
                  "its own classes (closed set) and with all seven outputs allowed.",
                  "Command: `python benchmarks/accuracy.py cross-corpus` (`--copies 0` without augmentation).", "",
                  "| held-out corpus | training data | its classes | UA over its classes | UA, all 7 outputs allowed |",
                  "|---|---|---|---|---|"]
        for path, k in cross_runs:
            lines += [f"| {name} | {training_data(k)} | {', '.join(v['classes'])} | {v['ua']:.3f} | {v['ua_7way']:.3f} |"
                      for name, v in json.loads(path.read_text()).items()]
        lines.append("")
    if native_runs:
        lines += ["## Against the goals", "",
                  "| goal (speaker-independent UA) | training data | this recipe | met? | best published |",
                  "|---|---|---|---|---|"]
        for corpus, goal, published in (("ravdess", 0.80, "0.753 (EmoBox, Whisper large-v3 frozen)"),
                                         ("emodb", 0.95, "0.926 (EmoBox; split not speaker-independent)")):
            for path, k in native_runs:
                got = json.loads(path.read_text())
                if corpus in got:
                    ua = got[corpus]["mean"][0]
                    lines.append(f"| {corpus}, {len(got[corpus]['classes'])} classes, {got[corpus]['protocol']}: >= {goal} "
                                 f"| {training_data(k)} | {ua:.3f} | {'yes' if ua >= goal else '**no**'} | {published} |")
        lines += ["", "The issue's own frozen probe of this encoder (mean of layers 1-4, C = 1, per corpus) was",
                  "reported as RAVDESS 0.725 and EmoDB 0.916; the best classic model is in [classic.md](classic.md).", ""]
    curve = OUT / "learning_curve.json"
    if curve.exists():
        points = list(json.loads(curve.read_text()).values())
        lines += ["## Learning curve: fewer training speakers", "",
                  "The frozen recipe (without augmentation) on the six folds above, trained on a fraction of each",
                  "fold's training speakers (per corpus, at least one each), C chosen on the same validation",
                  "speakers; UA on the fold's test speakers, mean over folds. Command:",
                  "`python benchmarks/accuracy.py learning-curve`.", "",
                  "| fraction of training speakers | speakers | clips | UA, 7 classes | " + " | ".join(CORPUS_TITLES) + " |",
                  "|---|---|---|---|" + "---|" * len(CORPUS_TITLES)]
        for fraction in sorted({p["fraction"] for p in points}):
            at = [p for p in points if p["fraction"] == fraction]
            cells = [f"{np.mean([p['per_corpus'][c] for p in at if c in p['per_corpus']]):.3f}" for c in CORPUS_TITLES]
            lines.append(f"| {fraction:g} ({len(at)} folds) | {np.mean([p['train_speakers'] for p in at]):.0f} "
                         f"| {np.mean([p['train_clips'] for p in at]):.0f} "
                         f"| **{np.mean([p['ua'] for p in at]):.3f}** ± {np.std([p['ua'] for p in at]):.3f} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    for path in sorted(OUT.glob("adapt*.json")):
        lines += [adapt_block(path), ""]
    notes = REPO / "benchmarks" / "accuracy-notes.md"  # hand-written: experiments too long to rerun here
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    classic = REPO / "benchmarks" / "classic.md"
    lines += ["## Beside it", "",
              "- The classic hand-crafted-feature models under speaker-independent protocols: "
              f"[classic.md](classic.md){'' if classic.exists() else ' (not yet written)'}.",
              "- Published (not run here): EmoBox's best RAVDESS figure under the 6-fold actor protocol is",
              "  UA 0.753 (frozen Whisper large-v3, about 0.6 B parameters, 80x this encoder); wav2vec2-base",
              "  reaches 0.54 there; EmoBox's best EmoDB figure is 0.926 with a split that is not",
              "  speaker-independent.", ""]
    Path(args.output).write_text("\n".join(lines))
    print(f"wrote {args.output}")


def _recipe(path):
    """The recipe, its relative paths taken from the repository root (so the script runs from anywhere)."""
    from ser.training.default_model import DefaultRecipe

    recipe = DefaultRecipe.from_yaml(path)
    for key in ("datasets", "encoder", "cache_dir"):
        value = Path(getattr(recipe, key))
        # The encoder may be a hub id; keep it unless it names a folder under the repository.
        if not value.is_absolute() and (key != "encoder" or (REPO / value).exists()):
            setattr(recipe, key, str((REPO / value).resolve()))
    return recipe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs/default.yaml"))
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="train and score folds (appends to runs/accuracy/NAME.jsonl)")
    r.add_argument("--name", default=None, help="result name (default: probe or finetune-<trainable>, + -aug<copies> with copies)")
    r.add_argument("--folds", default="0,1,2,3,4,5")
    r.add_argument("--epochs", type=int, default=0, help="fine-tuning epochs after the probe (0: probe only)")
    r.add_argument("--trainable", type=int, default=1, help="top encoder layers to fine-tune")
    r.add_argument("--c", default="0.003,0.01", help="probe regularisation grid")
    r.add_argument("--encoder-lr", type=float, default=3e-5)
    r.add_argument("--head-lr", type=float, default=1e-4)
    r.add_argument("--batch", type=int, default=16)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--copies", type=int, default=None,
                   help="augmented copies of each training clip (noise, reverberation, gain, pitch, stretch, "
                        "shift; default: the recipe's augmented_copies)")
    cc = sub.add_parser("cross-corpus", help="leave one corpus out with the frozen recipe")
    cc.add_argument("--c", default="0.003,0.01", help="regularisation grid")
    cc.add_argument("--copies", type=int, default=None, help="augmented copies per training clip (default: the recipe's)")
    nat = sub.add_parser("native", help="the frozen recipe on one corpus with its own labels and standard protocol")
    nat.add_argument("--corpora", default="ravdess,emodb,urdu,turevdb,tess")
    nat.add_argument("--c", default="0.003,0.01", help="regularisation grid")
    nat.add_argument("--copies", type=int, default=None, help="augmented copies per training clip (default: the recipe's)")
    lc = sub.add_parser("learning-curve", help="the frozen recipe trained on fewer speakers")
    lc.add_argument("--fractions", default="0.125,0.25,0.5,1")
    lc.add_argument("--c", default="0.003,0.01", help="regularisation grid")
    ad = sub.add_parser("adapt", help="speaker-centred prediction: every protocol, profile sizes 0, 3, 10, all, skewed profiles")
    ad.add_argument("--protocols", default="ravdess8,emodb7,folds6,loco")
    ad.add_argument("--variants", default="none,speaker,balanced", help="training variants (see ADAPT_VARIANTS)")
    ad.add_argument("--no-corpus-variant", dest="corpus_variant", action="store_false",
                    help="skip leave-one-corpus-out with centring by corpus")
    ad.add_argument("--c", help="regularisation grid (default: the recipe's c_grid)")
    ad.add_argument("--shrinkage", type=float, default=None, help="k of the shrunk speaker mean (default: the recipe's)")
    ad.add_argument("--copies", type=int, default=None, help="augmented copies per training clip (default: the recipe's)")
    ad.add_argument("--render-only", action="store_true", help="only rewrite the section of accuracy.md from the saved results")
    ad.add_argument("--refit", action="store_true", help="refit the head on training + validation speakers once C and T are chosen")
    sh = sub.add_parser("shrinkage", help="profile shrinkage k against profile size, with the adaptation study's heads")
    sh.add_argument("--k", default="2,5,10", help="values of k")
    sh.add_argument("--copies", type=int, default=None, help="augmented copies per training clip (default: the recipe's)")
    q = sub.add_parser("int8", help="label agreement of an int8 model folder with its float folder (single and adapted)")
    q.add_argument("--model", default=str(REPO / "src/ser/pretrained/default"))
    q.add_argument("--float-model", default=str(REPO / "runs/default-float"))
    q.add_argument("--clips", type=int, default=400)
    rep = sub.add_parser("report", help="write benchmarks/accuracy.md from the fold results")
    rep.add_argument("--output", default=str(REPO / "benchmarks/accuracy.md"))
    args = parser.parse_args()
    if args.action == "run":
        run(args)
    elif args.action == "cross-corpus":
        cross_corpus(args)
    elif args.action == "native":
        native(args)
    elif args.action == "learning-curve":
        learning_curve(args)
    elif args.action == "adapt":
        adapt(args)
    elif args.action == "shrinkage":
        shrinkage_sweep(args)
    elif args.action == "int8":
        int8(args)
    else:
        report(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
