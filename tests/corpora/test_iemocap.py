"""IEMOCAP reader and leave-one-session-out, on a small tree in the release's own layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_helpers import by_name, skipped_names, write_clip

from ser.cli.main import main
from ser.corpora import prepare
from ser.errors import CorpusError
from ser.manifest import read_manifest
from ser.splits import is_speaker_independent, make_folds

# (utterance, category, [valence, activation, dominance]) per session: both speakers, both modes.
LINES = {
    1: [("Ses01F_impro01_F000", "neu", (2.5, 2.5, 2.5)), ("Ses01F_impro01_M000", "ang", (1.5, 4.0, 4.5)),
        ("Ses01M_script01_1_F001", "exc", (4.0, 4.5, 3.0)), ("Ses01M_script01_1_M002", "xxx", (3.0, 3.0, 3.0))],
    2: [("Ses02F_impro03_F004", "sad", (1.0, 1.5, 2.0)), ("Ses02M_script02_2_M010", "hap", (5.0, 3.5, 3.0)),
        ("Ses02M_script02_2_F011", "fru", (2.0, 3.5, 3.5))],
    3: [("Ses03M_impro05a_M003", "sur", (3.5, 4.0, 3.0)), ("Ses03M_impro05a_F002", "neu", (3.0, 2.0, 3.0))],
}  # fmt: skip


def make_iemocap(root: Path, lines=LINES) -> Path:
    """IEMOCAP_full_release/SessionN/{sentences/wav/<dialog>/<utt>.wav, dialog/EmoEvaluation/<dialog>.txt}."""
    release = root / "IEMOCAP_full_release"
    for session, entries in lines.items():
        folder = release / f"Session{session}"
        dialogs: dict[str, list[str]] = {}
        for n, (utterance, code, (val, act, dom)) in enumerate(entries):
            dialog = utterance.rsplit("_", 1)[0]
            write_clip(folder / "sentences" / "wav" / dialog / f"{utterance}.wav")
            dialogs.setdefault(dialog, []).append(
                f"[{6.2901 + n:.4f} - {8.2357 + n:.4f}]\t{utterance}\t{code}\t[{val:.4f}, {act:.4f}, {dom:.4f}]\n"
                "C-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n"
            )
            transcript = folder / "dialog" / "transcriptions" / f"{dialog}.txt"
            transcript.parent.mkdir(parents=True, exist_ok=True)
            with transcript.open("a") as f:
                f.write(f"{utterance} [{6.29 + n:08.4f}-{8.23 + n:08.4f}]: Excuse me number {n}.\n")
        evaluation = folder / "dialog" / "EmoEvaluation"
        (evaluation / "Categorical").mkdir(parents=True, exist_ok=True)  # the release's sub-folders are not read
        (evaluation / "Categorical" / "x_e1_cat.txt").write_text("Ses01F_impro01_F000 :Neutral state; ()\n")
        for dialog, blocks in dialogs.items():
            header = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
            (evaluation / f"{dialog}.txt").write_text(header + "".join(blocks))
    return release


def test_reads_sessions_speakers_modes_and_dimensions(tmp_path):
    index = prepare("iemocap", make_iemocap(tmp_path))
    rows = by_name(index)
    assert len(rows) == 9 and index.skipped == []
    angry = rows["Ses01F_impro01_M000.wav"]
    assert (angry.emotion, angry.native_label, angry.speaker, angry.gender) == ("angry", "ang", "iemocap_01M", "male")
    assert angry.extra["session"] == "1" and angry.extra["mode"] == "improvised" and angry.extra["dialog"] == "Ses01F_impro01"
    # [V, A, D] = [1.5, 4.0, 4.5] on 1..5 -> valence -0.75, arousal 0.5, dominance 0.75
    assert (angry.extra["valence"], angry.extra["arousal"], angry.extra["dominance"]) == ("-0.7500", "0.5000", "0.7500")
    assert angry.extra["dimension_scale"] == "1..5"
    assert angry.text == "Excuse me number 1."
    excited = rows["Ses01M_script01_1_F001.wav"]
    assert (excited.emotion, excited.speaker, excited.extra["mode"]) == ("happy", "iemocap_01F", "scripted")
    assert {rows[n].emotion for n in ("Ses01M_script01_1_M002.wav", "Ses02M_script02_2_F011.wav",
                                      "Ses03M_impro05a_M003.wav")} == {"other"}
    assert {u.speaker for u in index.utterances} == {f"iemocap_0{s}{g}" for s in (1, 2, 3) for g in "FM"}


def test_excited_apart_and_all_classes(tmp_path):
    root = make_iemocap(tmp_path)
    apart = by_name(prepare("iemocap", root, fold_excited=False))
    assert apart["Ses01M_script01_1_F001.wav"].emotion == "other"
    every = by_name(prepare("iemocap", root, four_class=False))
    assert every["Ses03M_impro05a_M003.wav"].emotion == "surprised"
    assert every["Ses02M_script02_2_F011.wav"].emotion == "other"  # frustration has no place in the vocabulary


def test_unlabelled_audio_and_foreign_files_are_skipped(tmp_path):
    root = make_iemocap(tmp_path)
    write_clip(root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F099.wav")
    write_clip(root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "notes.wav")
    index = prepare("iemocap", tmp_path)  # the parent of IEMOCAP_full_release is accepted too
    assert skipped_names(index) == {"Ses01F_impro01_F099.wav", "notes.wav"}
    assert len(index.utterances) == 9


def test_wrong_layout_names_what_it_expected(tmp_path):
    write_clip(tmp_path / "flat" / "Ses01F_impro01_F000.wav")
    with pytest.raises(CorpusError, match=r"no Session1..Session5 folders; expected .*sentences/wav.*EmoEvaluation"):
        prepare("iemocap", tmp_path / "flat")
    (tmp_path / "half" / "Session1" / "sentences" / "wav").mkdir(parents=True)
    with pytest.raises(CorpusError, match=r"Session1/dialog/EmoEvaluation: missing"):
        prepare("iemocap", tmp_path / "half")


def test_dimension_out_of_range_is_refused_with_the_line(tmp_path):
    lines = {1: [("Ses01F_impro01_F000", "neu", (2.5, 6.0, 2.5))], 2: [("Ses02F_impro01_F000", "sad", (1, 1, 1))]}
    root = make_iemocap(tmp_path, lines)
    with pytest.raises(CorpusError, match=r"Ses01F_impro01.txt, line 3: arousal 6 is outside 1..5"):
        prepare("iemocap", root)


def test_leave_one_session_out_through_the_cli(tmp_path, capsys):
    root = make_iemocap(tmp_path)
    manifest, folds = tmp_path / "iemocap.csv", tmp_path / "folds.csv"
    assert main(["data", "index", "iemocap", str(root), "-o", str(manifest)]) == 0
    assert main(["data", "split", str(manifest), "--protocol", "leave-one-session-out", "-o", str(folds)]) == 0
    out = capsys.readouterr().out
    assert "session 1" in out and "session 3" in out and "NO" not in out
    rows = read_manifest(folds)
    assert {r.extra["fold"] for r in rows} == {"1", "2", "3"}
    assert all(r.extra["fold"] == r.extra["session"] for r in rows)
    assert float(rows[0].extra["arousal"]) == pytest.approx(-0.25)  # the dimensions survive the round trip
    for fold in make_folds(rows, "leave-one-session-out"):
        assert is_speaker_independent(fold, rows)
