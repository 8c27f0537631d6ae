"""Evaluation protocols: which utterances a model trains on and which it is tested on.

Emotion models pick up the speaker's voice as readily as the emotion in it, so a test clip whose
speaker was also in training measures partly speaker recognition. Every protocol here except
`random_split` is **speaker-independent**: no speaker appears on both sides of a fold, and each
of those functions checks this (`check_speaker_independent`) before returning.

    >>> from ser.manifest import read_manifest  # doctest: +SKIP
    >>> from ser.splits import make_folds  # doctest: +SKIP
    >>> rows = read_manifest("ravdess.csv")  # doctest: +SKIP
    >>> folds = make_folds(rows, "speaker-kfold", n_folds=5, seed=0)  # doctest: +SKIP
    >>> fold = folds[0]; rows[fold.test[0]].speaker not in {rows[i].speaker for i in fold.train}  # doctest: +SKIP
    True

A fold holds row indices into the list it was made from. Unlabelled rows (emotion ``""``) are
never put in a fold, on either side: they cannot be scored and training on them would need a
label. Rows labelled ``"other"`` are kept; leave them out of the manifest (or map them) if the
model should not learn that class.

Stratification balances each row's class (`ser.labels.class_of`): its emotion, or the target
``ser train`` put in the ``target`` column (``female_angry``, ``male``).

Published protocols: `leave_one_session_out` (IEMOCAP's five sessions), `official_split`
(MSP-Podcast's partitions) and `emobox_folds` (EmoBox's fold files). The last two are taken as
published: a fold that shares speakers is kept, named optimistic, with a `SpeakerOverlapWarning`.

Folds travel inside the manifest (`assign_folds`, `folds_from_manifest`): a k-fold protocol
writes the test-fold number (1, 2, ...) of each row in the ``fold`` column; a single split
(random, cross-corpus) writes ``train``, ``val`` or ``test`` in the ``split`` column.
"""

from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np

from ser.errors import SplitError
from ser.labels import UNLABELLED, class_of
from ser.manifest import Utterance

PROTOCOLS: tuple[str, ...] = (
    "random",
    "speaker-kfold",
    "ravdess-6fold",
    "loso",
    "cross-corpus",
    "leave-one-corpus-out",
    "leave-one-session-out",
    "official",
    "emobox",
)

RANDOM_SPLIT_NAME = "random (speakers on both sides: optimistic)"


class SpeakerOverlapWarning(UserWarning):
    """A validation set had to share speakers with the training set (too few speakers), or a
    published fold (official, emobox) shares speakers between its sides."""


@dataclass
class Fold:
    """One train/test partition, as row indices into the manifest it was made from.

    ``train``, ``test`` and ``val`` are sorted int64 arrays; ``val`` (None until drawn with
    `validation_split`) is carved out of the training side and never overlaps ``train``.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    val: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.train = _as_index(self.train)
        self.test = _as_index(self.test)
        if self.val is not None:
            self.val = _as_index(self.val)


# --------------------------------------------------------------------------------------------
# Speaker-independent protocols


def speaker_kfold(rows: Sequence[Utterance], n_folds: int = 5, seed: int = 0, stratify: bool = True) -> list[Fold]:
    """`n_folds` folds whose test sets hold disjoint groups of speakers.

    Each speaker's clips all land in one test fold. With `stratify`, speakers are assigned so
    that every fold's emotion distribution stays close to the whole's (scikit-learn's
    `StratifiedGroupKFold`); this is "where possible": a speaker's clips move together.
    The same `seed` gives the same folds.
    """
    if n_folds < 2:
        raise SplitError(f"speaker k-fold needs at least 2 folds, got {n_folds}")
    labelled = _labelled(rows)
    speakers = _speakers(rows, labelled)
    distinct = sorted(set(speakers))
    if len(distinct) < n_folds:
        raise SplitError(
            f"speaker k-fold with {n_folds} folds needs at least {n_folds} speakers, but the labelled "
            f"rows have {len(distinct)} ({', '.join(distinct)}); use fewer folds, --protocol loso, "
            "or --protocol random (speaker-dependent)"
        )
    from sklearn.model_selection import StratifiedGroupKFold

    # Without stratification every clip gets the same class, so only fold sizes are balanced.
    y = np.array([class_of(rows[i]) for i in labelled]) if stratify else np.zeros(len(labelled), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = []
    with warnings.catch_warnings():
        # "The least populated class has only N members": stratification is best effort here.
        warnings.simplefilter("ignore", UserWarning)
        for k, (_, test) in enumerate(splitter.split(labelled, y, groups=speakers), start=1):
            test_idx = labelled[test]
            train_idx = np.setdiff1d(labelled, test_idx)
            folds.append(Fold(f"speaker-kfold {k}/{n_folds}", train_idx, test_idx))
    empty = [f.name for f in folds if len(f.test) == 0]
    if empty:
        raise SplitError(f"{', '.join(empty)} got no test speakers; use fewer folds")
    return _checked(rows, folds)


def leave_one_speaker_out(rows: Sequence[Utterance]) -> list[Fold]:
    """One fold per speaker: test on that speaker, train on all the others."""
    labelled = _labelled(rows)
    speakers = _speakers(rows, labelled)
    distinct = sorted(set(speakers))
    if len(distinct) < 2:
        raise SplitError(f"leave-one-speaker-out needs at least 2 speakers, found {len(distinct)}")
    folds = [
        Fold(f"loso {speaker}", labelled[speakers != speaker], labelled[speakers == speaker]) for speaker in distinct
    ]
    return _checked(rows, folds)


def ravdess_6fold(rows: Sequence[Utterance]) -> list[Fold]:
    """The fixed RAVDESS protocol: fold k tests on actors 4k-3 .. 4k (1-4, 5-8, ..., 21-24).

    Speaker ids must end in the actor number (``ravdess_01``). A fold whose actors are all
    missing from `rows` is left out, with a warning, rather than reported as empty.
    """
    labelled = _labelled(rows)
    not_ravdess = sorted({rows[i].corpus for i in labelled if rows[i].corpus.lower() != "ravdess"})
    if not_ravdess:
        raise SplitError(
            f"the ravdess-6fold protocol is for RAVDESS only, but the manifest also holds {', '.join(not_ravdess)}; "
            "use --protocol speaker-kfold"
        )
    speakers = _speakers(rows, labelled)
    actors = np.empty(len(labelled), dtype=int)
    for j, speaker in enumerate(speakers):
        match = re.search(r"(\d+)$", speaker)
        if not match or not 1 <= int(match.group(1)) <= 24:
            raise SplitError(f"RAVDESS speaker {speaker!r} does not end in an actor number 01-24")
        actors[j] = int(match.group(1))
    folds = []
    for k in range(1, 7):
        first, last = 4 * k - 3, 4 * k
        in_test = (actors >= first) & (actors <= last)
        name = f"ravdess-6fold {k}/6 (test actors {first:02d}-{last:02d})"
        if not in_test.any():
            warnings.warn(f"{name}: none of these actors is in the manifest; fold left out", stacklevel=2)
            continue
        folds.append(Fold(name, labelled[~in_test], labelled[in_test]))
    if not folds:
        raise SplitError("no labelled RAVDESS rows to split")
    return _checked(rows, folds)


def cross_corpus(rows: Sequence[Utterance], train: Sequence[str], test: Sequence[str]) -> list[Fold]:
    """Train on the corpora in `train`, test on those in `test` (one fold); other rows are unused."""
    train, test = list(train), list(test)
    if not train or not test:
        raise SplitError("cross-corpus needs at least one training corpus and one test corpus")
    both = sorted(set(train) & set(test))
    if both:
        raise SplitError(f"corpus {', '.join(both)} is on both the training and the test side")
    labelled = _labelled(rows)
    corpora = np.array([rows[i].corpus for i in labelled], dtype=object)
    present = set(corpora)
    missing = [c for c in train + test if c not in present]
    if missing:
        raise SplitError(
            f"corpus {', '.join(missing)} has no labelled rows in the manifest (it has {', '.join(sorted(present))})"
        )
    _speakers(rows, labelled)  # every row needs a speaker for the independence check
    fold = Fold(
        f"cross-corpus train={'+'.join(train)} test={'+'.join(test)}",
        labelled[np.isin(corpora, train)],
        labelled[np.isin(corpora, test)],
    )
    return _checked(rows, [fold])


def leave_one_corpus_out(rows: Sequence[Utterance]) -> list[Fold]:
    """One fold per corpus: test on that corpus, train on all the others."""
    labelled = _labelled(rows)
    corpora = np.array([rows[i].corpus for i in labelled], dtype=object)
    distinct = sorted(set(corpora))
    if len(distinct) < 2:
        raise SplitError(f"leave-one-corpus-out needs at least 2 corpora, found {len(distinct)}: {', '.join(distinct)}")
    _speakers(rows, labelled)
    folds = [Fold(f"leave-out {c}", labelled[corpora != c], labelled[corpora == c]) for c in distinct]
    return _checked(rows, folds)


def leave_one_session_out(rows: Sequence[Utterance]) -> list[Fold]:
    """One fold per recording session (the ``session`` column, written by the IEMOCAP reader).

    IEMOCAP's sessions each hold one man and one woman who appear in no other session, so
    testing on one session and training on the other four is speaker-independent; this is the
    protocol IEMOCAP results are reported on (5 folds).
    """
    labelled = _labelled(rows)
    sessions = np.array([rows[i].extra.get("session", "") for i in labelled], dtype=object)
    if len(labelled) == 0 or (sessions == "").any():
        raise SplitError(
            "leave-one-session-out needs a session column on every labelled row (the iemocap reader writes it)"
        )
    _speakers(rows, labelled)
    distinct = sorted(set(sessions), key=lambda v: (len(v), v))
    if len(distinct) < 2:
        raise SplitError(f"leave-one-session-out needs at least 2 sessions, found {len(distinct)}")
    folds = [Fold(f"session {s}", labelled[sessions != s], labelled[sessions == s]) for s in distinct]
    return _checked(rows, folds)


def official_split(rows: Sequence[Utterance], test_set: str = "Test1") -> list[Fold]:
    """MSP-Podcast's official partitions (the ``split_set`` column): ``Train`` to train,
    ``Development`` to validate, `test_set` (``Test1``, ``Test2``, ``Test3``, or several joined by
    commas) to test. One fold; rows of other partitions are unused.
    """
    labelled = _labelled(rows)
    parts = np.array([rows[i].extra.get("split_set", "") for i in labelled], dtype=object)
    if len(labelled) == 0 or not (parts != "").any():
        raise SplitError("the official protocol needs a split_set column (the msppodcast reader writes it)")
    tests = [t.strip() for t in test_set.split(",") if t.strip()]
    present = set(parts)
    missing = [name for name in ["Train", *tests] if name not in present]
    if missing:
        raise SplitError(
            f"official split: no labelled rows in partition(s) {', '.join(missing)} "
            f"(the manifest has {', '.join(sorted(present - {''})) or 'none'})"
        )
    val = labelled[parts == "Development"]
    fold = Fold(f"official Train / Development / {'+'.join(tests)}", labelled[parts == "Train"],
                labelled[np.isin(parts, tests)], val if len(val) else None)
    return _flag_overlap(rows, [fold])


def emobox_folds(rows: Sequence[Utterance], folds_dir: str) -> list[Fold]:
    """The folds EmoBox publishes for a corpus (``EmoBox/data/<corpus>/``, Ma et al. 2024).

    `folds_dir` holds ``fold_<k>/<corpus>_train_fold_<k>.jsonl`` and ``..._test_fold_<k>.jsonl``
    (or ``.json``): one entry per utterance with its audio path in ``wav``. Entries are matched to
    the manifest's rows by file stem. An entry no row matches is an error naming it; a fold whose
    sides share speakers is kept as published, named optimistic, with a warning.
    """
    from pathlib import Path

    root = Path(folds_dir).expanduser()
    if not root.is_dir():
        raise SplitError(f"{root}: no such folder (expected EmoBox's data/<corpus>/ with fold_1/, fold_2/, ...)")
    fold_dirs = sorted((d for d in root.glob("fold_*") if d.is_dir() and d.name[5:].isdigit()),
                       key=lambda d: int(d.name[5:]))
    if not fold_dirs:
        raise SplitError(f"{root}: no fold_<k> folders (expected EmoBox's data/<corpus>/fold_1/<corpus>_train_fold_1.jsonl ...)")
    by_stem: dict[str, int] = {}
    for i in _labelled(rows):
        by_stem.setdefault(_stem(rows[i].path), int(i))
    folds = []
    for fold_dir in fold_dirs:
        k = int(fold_dir.name[5:])
        sides = {side: _emobox_side(fold_dir, side, k, by_stem) for side in ("train", "test")}
        folds.append(Fold(f"emobox fold {k}/{len(fold_dirs)}", sides["train"], sides["test"]))
    return _flag_overlap(rows, folds)


def _emobox_side(fold_dir, side: str, k: int, by_stem: dict[str, int]) -> list[int]:
    """Row indices of one EmoBox fold file; `SplitError` naming entries that match no row."""
    import json

    candidates = sorted(fold_dir.glob(f"*_{side}_fold_{k}.jsonl")) or sorted(fold_dir.glob(f"*_{side}_fold_{k}.json"))
    if not candidates:
        raise SplitError(f"{fold_dir}: no *_{side}_fold_{k}.jsonl or .json file")
    path = candidates[0]
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            entries = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            entries = [{"key": key, **value} for key, value in json.loads(text).items()]
        names = [(entry.get("key", ""), entry["wav"]) for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SplitError(f"{path}: not an EmoBox fold file ({type(exc).__name__}: {exc})") from None
    index, unknown = [], []
    for key, wav in names:
        row = by_stem.get(_stem(wav))
        if row is None:
            unknown.append(key or wav)
        else:
            index.append(row)
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise SplitError(
            f"{path}: {len(unknown)} utterance(s) not in the manifest (matched by file name): {shown}; "
            "index the same corpus (all of it) that the fold file lists"
        )
    return index


def _stem(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _flag_overlap(rows: Sequence[Utterance], folds: list[Fold]) -> list[Fold]:
    """Published folds are kept as they are; one that shares speakers says so in its name and a warning."""
    for fold in folds:
        both = speaker_overlap(rows, fold)
        if both:
            fold.name += " (speakers on both sides: optimistic)"
            shown = ", ".join(both[:5]) + (f" and {len(both) - 5} more" if len(both) > 5 else "")
            warnings.warn(f"{fold.name}: not speaker-independent; speaker(s) {shown} on both sides",
                          SpeakerOverlapWarning, stacklevel=3)
    return folds


# --------------------------------------------------------------------------------------------
# The speaker-dependent split, for comparison with published numbers only


def random_split(rows: Sequence[Utterance], test_size: float = 0.25, seed: int = 0, stratify: bool = True) -> list[Fold]:
    """A clip-level split (3:1 by default), stratified by emotion when every class has 2+ clips.

    Speakers end up on both sides, so its accuracy is optimistic: the fold's name says so and
    `is_speaker_independent` returns False for it. Use it only to compare with papers that did
    the same.
    """
    if not 0 < test_size < 1:
        raise SplitError(f"test size must be between 0 and 1, got {test_size}")
    labelled = _labelled(rows)
    if len(labelled) < 2:
        raise SplitError(f"a random split needs at least 2 labelled rows, found {len(labelled)}")
    train, test = _clip_split(rows, labelled, test_size, seed, stratify)
    return [Fold(RANDOM_SPLIT_NAME, train, test)]


# --------------------------------------------------------------------------------------------
# Validation sets


def validation_split(
    rows: Sequence[Utterance], train_idx: np.ndarray, fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Carve a validation set out of a fold's training side; returns ``(train_idx, val_idx)``.

    Validation speakers are drawn whole (about `fraction` of the training speakers, at least
    one, stratified by emotion), so early stopping and model selection see unseen voices just
    as the test does. With fewer than 3 training speakers (TESS has 2) that would leave too
    little to train on, so the split falls back to a stratified clip-level draw within the
    training speakers and says so with a `SpeakerOverlapWarning`.
    """
    if not 0 < fraction < 1:
        raise SplitError(f"validation fraction must be between 0 and 1, got {fraction}")
    train_idx = _as_index(train_idx)
    if len(train_idx) < 2:
        raise SplitError(f"cannot draw a validation set from {len(train_idx)} training rows")
    speakers = np.array([rows[i].speaker for i in train_idx], dtype=object)
    distinct = set(speakers) - {""}
    if len(distinct) >= 3 and "" not in set(speakers):
        from sklearn.model_selection import StratifiedGroupKFold

        n_splits = min(len(distinct), max(2, round(1 / fraction)))
        y = np.array([class_of(rows[i]) for i in train_idx])
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            keep, val = next(splitter.split(train_idx, y, groups=speakers))
        return train_idx[keep], train_idx[val]
    warnings.warn(
        f"{len(distinct)} known training speaker(s): the validation set is drawn by clip and shares "
        "speakers with the training set, so validation scores are optimistic",
        SpeakerOverlapWarning,
        stacklevel=2,
    )
    return _clip_split(rows, train_idx, fraction, seed, stratify=True)


def with_validation(rows: Sequence[Utterance], fold: Fold, fraction: float = 0.1, seed: int = 0) -> Fold:
    """A copy of `fold` whose ``val`` is drawn from its training side by `validation_split`."""
    train, val = validation_split(rows, fold.train, fraction=fraction, seed=seed)
    result = Fold(fold.name, train, fold.test, val)
    if is_speaker_independent(fold, rows):
        check_speaker_independent(rows, result)
    return result


# --------------------------------------------------------------------------------------------
# Checks


def speaker_overlap(rows: Sequence[Utterance], fold: Fold) -> list[str]:
    """The speakers whose clips are both in the test set and in the training or validation set."""
    seen = {rows[i].speaker for i in fold.train}
    if fold.val is not None:
        seen |= {rows[i].speaker for i in fold.val}
    return sorted(seen & {rows[i].speaker for i in fold.test})


def is_speaker_independent(fold: Fold, rows: Sequence[Utterance]) -> bool:
    """True when every row has a speaker and no test speaker is seen in training or validation."""
    used = np.concatenate([fold.train, fold.test] + ([fold.val] if fold.val is not None else []))
    if any(rows[i].speaker == "" for i in used):
        return False
    return not speaker_overlap(rows, fold)


def check_speaker_independent(rows: Sequence[Utterance], fold: Fold) -> None:
    """Raise `SplitError` naming the speakers found on both sides of `fold`."""
    both = speaker_overlap(rows, fold)
    if both:
        shown = ", ".join(both[:10]) + (f" and {len(both) - 10} more" if len(both) > 10 else "")
        raise SplitError(f"{fold.name}: speaker(s) {shown} on both the training and the test side")
    if fold.val is not None and np.intersect1d(fold.val, fold.test).size:
        raise SplitError(f"{fold.name}: validation and test sets share rows")


# --------------------------------------------------------------------------------------------
# Dispatch and persistence

_DISPATCH: dict[str, Callable[..., list[Fold]]] = {
    "random": random_split,
    "speaker-kfold": speaker_kfold,
    "ravdess-6fold": ravdess_6fold,
    "loso": leave_one_speaker_out,
    "cross-corpus": cross_corpus,
    "leave-one-corpus-out": leave_one_corpus_out,
    "leave-one-session-out": leave_one_session_out,
    "official": official_split,
    "emobox": emobox_folds,
}


def make_folds(rows: Sequence[Utterance], protocol: str, **kw) -> list[Fold]:
    """The folds of `protocol` (one of `PROTOCOLS`); `kw` goes to that protocol's function."""
    unknown = sorted(set(kw) - set(protocol_options(protocol)))
    if unknown:
        raise SplitError(f"protocol {protocol!r} does not take {', '.join(unknown)}")
    return _DISPATCH[protocol](rows, **kw)


def protocol_options(protocol: str) -> list[str]:
    """The keyword options `make_folds` takes for `protocol`, e.g. ``["n_folds", "seed", "stratify"]``."""
    if protocol not in _DISPATCH:
        raise SplitError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return list(inspect.signature(_DISPATCH[protocol]).parameters)[1:]


def assign_folds(rows: Sequence[Utterance], folds: Sequence[Fold]) -> list[Utterance]:
    """Copies of `rows` with the folds written into their ``extra`` columns.

    K-fold protocols (every labelled row tested exactly once across folds, trained on otherwise)
    set ``fold`` to the 1-based number of the fold that tests the row. A single fold sets
    ``split`` to ``train``, ``val`` or ``test``. Rows outside every fold get an empty value.
    Any earlier ``fold``/``split`` column is replaced.
    """
    if not folds:
        raise SplitError("no folds to write")
    n = len(rows)
    column, values = None, [""] * n
    if _is_kfold(folds, n):
        column = "fold"
        for k, fold in enumerate(folds, start=1):
            for i in fold.test:
                values[i] = str(k)
    elif len(folds) == 1:
        column = "split"
        fold = folds[0]
        for part in ("train", "val", "test"):
            for i in getattr(fold, part) if getattr(fold, part) is not None else ():
                values[i] = part
    else:
        raise SplitError(
            "these folds cannot be written as one column: their test sets overlap or do not cover the training sets"
        )
    result = []
    for row, value in zip(rows, values):
        extra = {k: v for k, v in row.extra.items() if k not in ("fold", "split")}
        extra[column] = value
        result.append(replace(row, extra=extra))
    return result


def folds_from_manifest(rows: Sequence[Utterance]) -> list[Fold]:
    """The folds written by `assign_folds` (named ``fold k/K``, or ``split`` for one split).

    A fold whose training and test speakers overlap gets a name that says it is optimistic
    (for a ``split`` column, the random split's name).
    """
    has_fold = any("fold" in r.extra for r in rows)
    has_split = any("split" in r.extra for r in rows)
    if has_fold:
        numbers = np.array([_fold_number(r.extra.get("fold", ""), i) for i, r in enumerate(rows)])
        labelled = np.array([r.emotion != UNLABELLED for r in rows], dtype=bool)
        ks = sorted(set(numbers[numbers > 0].tolist()))
        if not ks:
            raise SplitError("the manifest's fold column is empty")
        in_some = np.flatnonzero((numbers > 0) & labelled)
        folds = [
            Fold(f"fold {k}/{max(ks)}", in_some[numbers[in_some] != k], in_some[numbers[in_some] == k]) for k in ks
        ]
        for fold in folds:
            if not is_speaker_independent(fold, rows):
                fold.name += " (speakers on both sides: optimistic)"
        return folds
    if has_split:
        parts = {p: [] for p in ("train", "val", "test")}
        for i, r in enumerate(rows):
            value = r.extra.get("split", "").strip().lower()
            if value and r.emotion != UNLABELLED:
                if value not in parts:
                    raise SplitError(f"row {i + 2} ({r.path}): split {value!r} is not train, val or test")
                parts[value].append(i)
        if not parts["train"] or not parts["test"]:
            raise SplitError("the manifest's split column needs both train and test rows")
        fold = Fold("split", parts["train"], parts["test"], parts["val"] or None)
        if not is_speaker_independent(fold, rows):
            fold.name = RANDOM_SPLIT_NAME
        return [fold]
    raise SplitError("the manifest has no fold or split column; make one with `ser data split`")


# --------------------------------------------------------------------------------------------
# Helpers


def _as_index(values) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.int64).reshape(-1))


def _labelled(rows: Sequence[Utterance]) -> np.ndarray:
    """Indices of the rows that have an emotion; unlabelled rows take part in no fold."""
    return np.array([i for i, r in enumerate(rows) if r.emotion != UNLABELLED], dtype=np.int64)


def _speakers(rows: Sequence[Utterance], index: np.ndarray) -> np.ndarray:
    """The speakers of rows `index`; raises if any is unknown (independence cannot be checked)."""
    speakers = np.array([rows[i].speaker for i in index], dtype=object)
    unknown = [rows[i].path for i, s in zip(index, speakers) if s == ""]
    if unknown:
        raise SplitError(
            f"{len(unknown)} labelled row(s) have no speaker (first: {unknown[0]}); speaker-independent "
            "protocols need one: fill the speaker column, or use --protocol random (speaker-dependent)"
        )
    if len(index) == 0:
        raise SplitError("the manifest has no labelled rows to split")
    return speakers


def _clip_split(
    rows: Sequence[Utterance], index: np.ndarray, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    y = np.array([class_of(rows[i]) for i in index])
    _, counts = np.unique(y, return_counts=True)
    n_test = int(np.ceil(fraction * len(index)))
    # Stratifying needs 2+ clips per class, and room for every class on both sides.
    can_stratify = stratify and counts.min() >= 2 and len(counts) <= min(n_test, len(index) - n_test)
    train, test = train_test_split(index, test_size=fraction, random_state=seed, stratify=y if can_stratify else None)
    return np.sort(train), np.sort(test)


def _checked(rows: Sequence[Utterance], folds: list[Fold]) -> list[Fold]:
    for fold in folds:
        check_speaker_independent(rows, fold)
    return folds


def _is_kfold(folds: Sequence[Fold], n: int) -> bool:
    tests = [set(f.test.tolist()) for f in folds]
    if len(folds) < 2 or sum(map(len, tests)) != len(set().union(*tests)):
        return False
    everyone = set().union(*tests)
    return all(set(f.train.tolist()) == everyone - t and f.val is None for f, t in zip(folds, tests))


def _fold_number(value: str, i: int) -> int:
    value = value.strip()
    if not value:
        return 0
    if not value.isdigit() or int(value) < 1:
        raise SplitError(f"row {i + 2}: fold {value!r} is not a positive number")
    return int(value)


