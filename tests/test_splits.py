"""Evaluation protocols over synthetic manifests: no speaker on both sides, determinism, balance."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ser.errors import SplitError
from ser.manifest import Utterance, read_manifest, write_manifest
from ser.splits import (
    PROTOCOLS,
    RANDOM_SPLIT_NAME,
    Fold,
    SpeakerOverlapWarning,
    assign_folds,
    check_speaker_independent,
    cross_corpus,
    folds_from_manifest,
    is_speaker_independent,
    leave_one_corpus_out,
    leave_one_speaker_out,
    make_folds,
    protocol_options,
    random_split,
    ravdess_6fold,
    speaker_kfold,
    validation_split,
    with_validation,
)

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful")


def corpus(name: str, n_speakers: int, clips_per_emotion: int = 3, emotions=EMOTIONS, start: int = 1) -> list[Utterance]:
    rows = []
    for s in range(start, start + n_speakers):
        speaker = f"{name}_{s:02d}"
        for emotion in emotions:
            for c in range(clips_per_emotion):
                rows.append(
                    Utterance(
                        path=f"{name}/{speaker}_{emotion}_{c}.wav",
                        corpus=name,
                        speaker=speaker,
                        emotion=emotion,
                        gender="male" if s % 2 else "female",
                        duration=1.5,
                    )
                )
    return rows


@pytest.fixture
def multi() -> list[Utterance]:
    rows = corpus("ravdess", 24) + corpus("emodb", 10) + corpus("tess", 2)
    # Unlabelled clips must never enter a fold.
    rows.append(Utterance(path="x/unlabelled.wav", corpus="emodb", speaker="emodb_03", emotion=""))
    return rows


def speakers(rows, index) -> set[str]:
    return {rows[i].speaker for i in index}


def assert_partition(rows, folds):
    """Every labelled row is tested exactly once; no fold trains on its test rows."""
    tests = np.concatenate([f.test for f in folds])
    labelled = [i for i, r in enumerate(rows) if r.emotion]
    assert sorted(tests.tolist()) == labelled
    for f in folds:
        assert not np.intersect1d(f.train, f.test).size


SI_CASES = [
    ("speaker-kfold", {"n_folds": 5, "seed": 3}),
    ("speaker-kfold", {"n_folds": 4, "stratify": False}),
    ("loso", {}),
    ("leave-one-corpus-out", {}),
    ("cross-corpus", {"train": ["ravdess", "tess"], "test": ["emodb"]}),
]


@pytest.mark.parametrize("protocol,kw", SI_CASES)
def test_no_speaker_on_both_sides(multi, protocol, kw):
    folds = make_folds(multi, protocol, **kw)
    assert folds
    for fold in folds:
        assert not speakers(multi, fold.train) & speakers(multi, fold.test)
        assert is_speaker_independent(fold, multi)
        assert all(multi[i].emotion for i in np.concatenate([fold.train, fold.test]))
    if protocol != "cross-corpus":
        assert_partition(multi, folds)


def test_ravdess_6fold_tests_fixed_actor_groups():
    rows = corpus("ravdess", 24)
    folds = ravdess_6fold(rows)
    assert len(folds) == 6
    assert_partition(rows, folds)
    for k, fold in enumerate(folds, start=1):
        expected = {f"ravdess_{a:02d}" for a in range(4 * k - 3, 4 * k + 1)}
        assert speakers(rows, fold.test) == expected
        assert not speakers(rows, fold.train) & expected
    assert "01-04" in folds[0].name and "21-24" in folds[5].name


def test_ravdess_6fold_refuses_other_corpora(multi):
    with pytest.raises(SplitError, match="RAVDESS only.*emodb"):
        ravdess_6fold(multi)


def test_ravdess_6fold_skips_missing_actor_groups_with_warning():
    rows = corpus("ravdess", 8)  # actors 1-8: folds 1 and 2 only
    with pytest.warns(UserWarning, match="fold left out"):
        folds = ravdess_6fold(rows)
    assert len(folds) == 2


def test_loso_has_one_fold_per_speaker(multi):
    folds = leave_one_speaker_out(multi)
    assert len(folds) == 36
    assert all(len(speakers(multi, f.test)) == 1 for f in folds)


def test_leave_one_corpus_out_and_cross_corpus(multi):
    folds = leave_one_corpus_out(multi)
    assert [{multi[i].corpus for i in f.test} for f in folds] == [{"emodb"}, {"ravdess"}, {"tess"}]
    (fold,) = cross_corpus(multi, train=["ravdess"], test=["tess"])
    assert {multi[i].corpus for i in fold.train} == {"ravdess"}
    assert {multi[i].corpus for i in fold.test} == {"tess"}
    with pytest.raises(SplitError, match="both"):
        cross_corpus(multi, train=["ravdess"], test=["ravdess"])
    with pytest.raises(SplitError, match="savee"):
        cross_corpus(multi, train=["ravdess"], test=["savee"])
    with pytest.raises(SplitError, match="at least 2 corpora"):
        leave_one_corpus_out(corpus("emodb", 3))


def test_too_few_speakers_for_folds():
    with pytest.raises(SplitError, match="at least 5 speakers.*tess_01, tess_02"):
        speaker_kfold(corpus("tess", 2), n_folds=5)


def test_rows_without_speaker_refused_by_si_protocols():
    rows = corpus("emodb", 6)
    rows[0].speaker = ""
    with pytest.raises(SplitError, match="no speaker"):
        speaker_kfold(rows, n_folds=3)
    assert random_split(rows)  # clip-level split does not need speakers


def test_leakage_check_names_the_speakers(multi):
    emodb = [i for i, r in enumerate(multi) if r.corpus == "emodb" and r.emotion]
    # Clips of emodb_01 on both sides.
    first = [i for i in emodb if multi[i].speaker == "emodb_01"]
    bad = Fold("crafted", train=first[:5] + emodb[20:40], test=first[5:])
    with pytest.raises(SplitError, match="crafted.*emodb_01"):
        check_speaker_independent(multi, bad)
    assert not is_speaker_independent(bad, multi)


def test_same_seed_same_folds_other_seed_other_folds(multi):
    a = speaker_kfold(multi, n_folds=5, seed=7)
    b = speaker_kfold(multi, n_folds=5, seed=7)
    c = speaker_kfold(multi, n_folds=5, seed=8)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b))
    assert any(not np.array_equal(x.test, y.test) for x, y in zip(a, c))
    r1, r2 = random_split(multi, seed=1)[0], random_split(multi, seed=1)[0]
    assert np.array_equal(r1.test, r2.test)
    v1 = validation_split(multi, a[0].train, seed=2)
    v2 = validation_split(multi, a[0].train, seed=2)
    assert all(np.array_equal(x, y) for x, y in zip(v1, v2))


def test_stratification_keeps_folds_balanced():
    rows = corpus("crema", 40, clips_per_emotion=1)
    # Make one emotion rare: a speaker-independent stratified split still spreads it.
    rows += corpus("crema", 10, clips_per_emotion=2, emotions=("disgust",), start=41)
    whole = Counter(r.emotion for r in rows)
    for fold in speaker_kfold(rows, n_folds=5, seed=0):
        counts = Counter(rows[i].emotion for i in fold.test)
        for emotion, n in whole.items():
            share, expected = counts[emotion] / len(fold.test), n / len(rows)
            assert abs(share - expected) < 0.08, (fold.name, emotion, share, expected)


def test_random_split_is_labelled_optimistic(multi):
    (fold,) = random_split(multi, test_size=0.25, seed=0)
    assert fold.name == RANDOM_SPLIT_NAME and "optimistic" in fold.name
    assert not is_speaker_independent(fold, multi)
    labelled = sum(1 for r in multi if r.emotion)
    assert len(fold.test) == pytest.approx(labelled / 4, abs=1)
    assert len(fold.train) + len(fold.test) == labelled
    # Stratified: every emotion keeps its share in the test set.
    for emotion in EMOTIONS:
        assert sum(multi[i].emotion == emotion for i in fold.test) == pytest.approx(len(fold.test) / 5, abs=1)


def test_validation_speakers_disjoint_from_train_and_test(multi):
    for fold in speaker_kfold(multi, n_folds=5, seed=0):
        train, val = validation_split(multi, fold.train, fraction=0.1, seed=0)
        assert len(val) and len(train)
        assert sorted(np.concatenate([train, val]).tolist()) == fold.train.tolist()
        assert not speakers(multi, val) & speakers(multi, train)
        assert not speakers(multi, val) & speakers(multi, fold.test)
        full = with_validation(multi, fold, fraction=0.1)
        assert is_speaker_independent(full, multi) and full.val is not None


def test_validation_falls_back_to_clips_with_two_speakers():
    rows = corpus("tess", 2, clips_per_emotion=10)
    train = np.arange(len(rows))
    with pytest.warns(SpeakerOverlapWarning, match="shares speakers"):
        kept, val = validation_split(rows, train, fraction=0.2, seed=0)
    assert len(val) == 20 and not np.intersect1d(kept, val).size
    assert Counter(rows[i].emotion for i in val) == Counter({e: 4 for e in EMOTIONS})


def test_validation_with_enough_speakers_does_not_warn(multi):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validation_split(multi, leave_one_speaker_out(multi)[0].train)


def test_folds_round_trip_through_manifest(multi, tmp_path):
    for protocol, kw in SI_CASES[:1] + [("random", {"seed": 0}), ("cross-corpus", SI_CASES[-1][1])]:
        folds = make_folds(multi, protocol, **kw)
        path = write_manifest(assign_folds(multi, folds), tmp_path / f"{protocol}.csv")
        back = folds_from_manifest(read_manifest(path))
        assert len(back) == len(folds)
        for a, b in zip(folds, back):
            assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
            assert is_speaker_independent(a, multi) == is_speaker_independent(b, multi)
        if protocol == "random":
            assert back[0].name == RANDOM_SPLIT_NAME
    rows = read_manifest(tmp_path / "speaker-kfold.csv")
    assert rows[-1].extra["fold"] == ""  # the unlabelled row is in no fold
    assert {r.extra["fold"] for r in rows} == {"", "1", "2", "3", "4", "5"}


def test_folds_from_manifest_labels_clip_level_folds():
    rows = corpus("emodb", 3)
    for i, r in enumerate(rows):
        r.extra["fold"] = str(i % 2 + 1)
    folds = folds_from_manifest(rows)
    assert len(folds) == 2 and all("optimistic" in f.name for f in folds)
    with pytest.raises(SplitError, match="no fold or split column"):
        folds_from_manifest(corpus("emodb", 3))


def test_assign_folds_replaces_old_column(multi):
    kfold = assign_folds(multi, speaker_kfold(multi, n_folds=3))
    single = assign_folds(kfold, random_split(kfold))
    assert all("fold" not in r.extra and "split" in r.extra for r in single)
    assert all("fold" not in r.extra for r in multi)  # the input rows are not modified


def test_make_folds_rejects_unknown_protocol_and_options(multi):
    assert set(PROTOCOLS) == {"random", "speaker-kfold", "ravdess-6fold", "loso", "cross-corpus", "leave-one-corpus-out",
                              "leave-one-session-out", "official", "emobox"}
    with pytest.raises(SplitError, match="unknown protocol"):
        make_folds(multi, "holdout")
    with pytest.raises(SplitError, match="'loso' does not take n_folds"):
        make_folds(multi, "loso", n_folds=5)
    assert protocol_options("speaker-kfold") == ["n_folds", "seed", "stratify"]
    assert protocol_options("loso") == []


def test_only_unlabelled_rows_cannot_be_split():
    rows = [Utterance(path=f"{i}.wav", corpus="x", speaker=f"s{i}", emotion="") for i in range(6)]
    with pytest.raises(SplitError, match="no labelled rows"):
        speaker_kfold(rows, n_folds=2)


@settings(max_examples=25, deadline=None)
@given(
    n_speakers=st.integers(3, 12),
    n_folds=st.integers(2, 3),
    seed=st.integers(0, 2**16),
    labels=st.lists(st.sampled_from(EMOTIONS + ("",)), min_size=40, max_size=80),
)
def test_any_manifest_gives_speaker_independent_partitions(n_speakers, n_folds, seed, labels):
    rows = [
        Utterance(path=f"{i}.wav", corpus="c", speaker=f"c_{i % n_speakers}", emotion=emotion)
        for i, emotion in enumerate(labels)
    ]
    labelled_speakers = {r.speaker for r in rows if r.emotion}
    if len(labelled_speakers) < n_folds:
        with pytest.raises(SplitError, match="speakers|no labelled rows"):
            speaker_kfold(rows, n_folds=n_folds, seed=seed)
        return
    folds = speaker_kfold(rows, n_folds=n_folds, seed=seed)
    assert_partition(rows, folds)
    for fold in folds:
        assert not speakers(rows, fold.train) & speakers(rows, fold.test)


# --------------------------------------------------------------------------------------------
# EmoBox's published folds


def emobox_tree(root, rows, folds, *, extension=".jsonl", extra=()):
    """EmoBox's data/<corpus>/fold_<k>/<corpus>_{train,test}_fold_<k>.jsonl (or .json) for `folds`:
    a list of (train speakers, test speakers)."""
    import json

    for k, (train, test) in enumerate(folds, start=1):
        folder = root / f"fold_{k}"
        folder.mkdir(parents=True)
        for side, members in (("train", train), ("test", test)):
            entries = {
                f"tiny-{r.path.rsplit('/', 1)[-1][:-4]}": {
                    "wav": f"downloads/tiny/{r.speaker}/{r.path.rsplit('/', 1)[-1]}", "emo": r.emotion[:3],
                    "dataset": "tiny", "length": 2.0, "channel": 1,
                }
                for r in rows if r.speaker in members
            }
            if side == "test":
                entries.update({f"tiny-{name}": {"wav": f"downloads/tiny/{name}.wav", "emo": "neu"} for name in extra})
            path = folder / f"tiny_{side}_fold_{k}{extension}"
            if extension == ".jsonl":
                path.write_text("".join(json.dumps({"key": key, **e}) + "\n" for key, e in entries.items()))
            else:
                path.write_text(json.dumps(entries, indent=4))
    return root


@pytest.mark.parametrize("extension", [".jsonl", ".json"])
def test_emobox_folds_are_imported_by_file_name(tmp_path, extension):
    rows = [replace(r, path=f"/data/tiny/{r.speaker}/{r.speaker}_{i}.wav") for i, r in enumerate(corpus("tiny", 4))]
    split = [({"tiny_01", "tiny_02", "tiny_03"}, {"tiny_04"}), ({"tiny_02", "tiny_03", "tiny_04"}, {"tiny_01"})]
    folds = make_folds(rows, "emobox", folds_dir=str(emobox_tree(tmp_path, rows, split, extension=extension)))
    assert [f.name for f in folds] == ["emobox fold 1/2", "emobox fold 2/2"]
    assert speakers(rows, folds[0].test) == {"tiny_04"} and speakers(rows, folds[1].train) == {"tiny_02", "tiny_03", "tiny_04"}
    assert all(is_speaker_independent(f, rows) for f in folds)


def test_emobox_fold_sharing_speakers_is_flagged(tmp_path):
    rows = [replace(r, path=f"/d/{r.speaker}_{i}.flac") for i, r in enumerate(corpus("tiny", 3))]
    split = [({"tiny_01", "tiny_02"}, {"tiny_02", "tiny_03"})]
    with pytest.warns(SpeakerOverlapWarning, match="tiny_02"):
        (fold,) = make_folds(rows, "emobox", folds_dir=str(emobox_tree(tmp_path, rows, split)))
    assert fold.name == "emobox fold 1/1 (speakers on both sides: optimistic)"
    assert not is_speaker_independent(fold, rows)


def test_emobox_fold_naming_unknown_utterances_says_which(tmp_path):
    rows = [replace(r, path=f"/d/{r.speaker}_{i}.wav") for i, r in enumerate(corpus("tiny", 2))]
    tree = emobox_tree(tmp_path, rows, [({"tiny_01"}, {"tiny_02"})], extra=("ghost_1", "ghost_2"))
    with pytest.raises(SplitError, match=r"tiny_test_fold_1.jsonl: 2 utterance\(s\) not in the manifest.*tiny-ghost_1, tiny-ghost_2"):
        make_folds(rows, "emobox", folds_dir=str(tree))
    with pytest.raises(SplitError, match="no fold_<k> folders"):
        make_folds(rows, "emobox", folds_dir=str(tmp_path / "fold_1"))


def test_session_protocol_needs_sessions(multi):
    with pytest.raises(SplitError, match="needs a session column"):
        make_folds(multi, "leave-one-session-out")
    rows = [replace(r, extra={"session": r.speaker[-1]}) for r in corpus("tiny", 4)]
    folds = make_folds(rows, "leave-one-session-out")
    assert [f.name for f in folds] == ["session 1", "session 2", "session 3", "session 4"]
    assert_partition(rows, folds)
