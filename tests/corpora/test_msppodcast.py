"""MSP-Podcast reader and its official partitions, on a small tree in the release's own layout."""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import pytest
from corpus_helpers import by_name, skipped_names, write_clip

from ser.cli.main import main
from ser.corpora import prepare
from ser.errors import CorpusError, SplitError
from ser.manifest import read_manifest
from ser.splits import SpeakerOverlapWarning, make_folds

HEADER = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
ROWS = [
    ["MSP-PODCAST_0001_0008.wav", "A", "6.2", "2.0", "5.4", "127", "Male", "Train"],
    ["MSP-PODCAST_0001_0011.wav", "N", "4.0", "4.0", "4.0", "127", "Male", "Train"],
    ["MSP-PODCAST_0002_0003.wav", "H", "5.0", "6.6", "4.2", "Unknown", "Female", "Train"],
    ["MSP-PODCAST_0003_0001.wav", "S", "2.0", "1.8", "3.0", "310", "Female", "Development"],
    ["MSP-PODCAST_0004_0042.wav", "X", "3.6", "3.8", "4.0", "45", "Female", "Test1"],
    ["MSP-PODCAST_0005_0007.wav", "C", "5.2", "2.6", "5.0", "1018", "Male", "Test1"],
    ["MSP-PODCAST_0006_0002.wav", "U", "5.8", "5.0", "4.4", "2001", "Male", "Test2"],
]  # fmt: skip


def make_msp(root: Path, rows=ROWS, audio=None) -> Path:
    """Audios/<FileName> and Labels/labels_consensus.csv."""
    for name in audio if audio is not None else [r[0] for r in rows]:
        write_clip(root / "Audios" / name)
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    with (root / "Labels" / "labels_consensus.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return root


def test_reads_categories_dimensions_speakers_and_partitions(tmp_path):
    index = prepare("msppodcast", make_msp(tmp_path / "MSP-PODCAST-Publish-1.12"))
    rows = by_name(index)
    assert len(rows) == 7 and index.skipped == []
    angry = rows["MSP-PODCAST_0001_0008.wav"]
    assert (angry.emotion, angry.native_label, angry.speaker, angry.gender) == ("angry", "A", "msppodcast_127", "male")
    # 1..7 onto [-1, 1]: arousal 6.2 -> 0.7333, valence 2.0 -> -0.6667, dominance 5.4 -> 0.4667
    assert (angry.extra["arousal"], angry.extra["valence"], angry.extra["dominance"]) == ("0.7333", "-0.6667", "0.4667")
    assert angry.extra["split_set"] == "Train" and angry.extra["dimension_scale"] == "1..7"
    unknown = rows["MSP-PODCAST_0002_0003.wav"]
    assert unknown.speaker == "msppodcast_podcast0002" and unknown.extra["speaker_known"] == "no"
    assert [rows[n].emotion for n in ("MSP-PODCAST_0004_0042.wav", "MSP-PODCAST_0005_0007.wav",
                                      "MSP-PODCAST_0006_0002.wav")] == ["other", "other", "surprised"]


def test_missing_audio_and_unlisted_audio_are_skipped(tmp_path):
    audio = [r[0] for r in ROWS[1:]] + ["MSP-PODCAST_9999_0001.wav"]
    index = prepare("msppodcast", make_msp(tmp_path, audio=audio))
    assert skipped_names(index) == {"MSP-PODCAST_0001_0008.wav", "MSP-PODCAST_9999_0001.wav"}
    reasons = dict((Path(p).name, why) for p, why in index.skipped)
    assert "no audio file" in reasons["MSP-PODCAST_0001_0008.wav"]
    assert "not in labels_consensus.csv" in reasons["MSP-PODCAST_9999_0001.wav"]


def test_wrong_layout_and_bad_rows_are_named(tmp_path):
    write_clip(tmp_path / "flat" / "MSP-PODCAST_0001_0008.wav")
    with pytest.raises(CorpusError, match=r"Audios.*labels_consensus.csv: not found; an MSP-Podcast folder holds"):
        prepare("msppodcast", tmp_path / "flat")
    bad = [list(r) for r in ROWS]
    bad[3][3] = "7.5"  # valence above 7, on the file's line 5
    with pytest.raises(CorpusError, match=r"labels_consensus.csv, line 5: valence 7.5 is outside 1..7"):
        prepare("msppodcast", make_msp(tmp_path / "bad", bad))
    with pytest.raises(CorpusError, match=r"missing column\(s\) Split_Set"):
        prepare("msppodcast", _no_split(tmp_path))


def _no_split(tmp_path: Path) -> Path:
    root = make_msp(tmp_path / "nosplit")
    path = root / "Labels" / "labels_consensus.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(line.rsplit(",", 1)[0] for line in lines) + "\n")
    return root


def test_official_split_through_the_cli(tmp_path, capsys):
    root = make_msp(tmp_path / "msp")
    manifest, split = tmp_path / "msp.csv", tmp_path / "split.csv"
    assert main(["data", "index", "msppodcast", str(root), "-o", str(manifest)]) == 0
    assert main(["data", "split", str(manifest), "--protocol", "official", "-o", str(split)]) == 0
    assert "official Train / Development / Test1" in capsys.readouterr().out
    parts = {Path(r.path).name: r.extra["split"] for r in read_manifest(split)}
    assert parts["MSP-PODCAST_0001_0008.wav"] == "train" and parts["MSP-PODCAST_0003_0001.wav"] == "val"
    assert parts["MSP-PODCAST_0004_0042.wav"] == "test" and parts["MSP-PODCAST_0006_0002.wav"] == ""
    rows = read_manifest(manifest)
    (fold,) = make_folds(rows, "official", test_set="Test1,Test2")
    assert len(fold.test) == 3 and len(fold.val) == 1
    with pytest.raises(SplitError, match="partition\\(s\\) Test3"):
        make_folds(rows, "official", test_set="Test3")


def test_official_split_flags_shared_speakers(tmp_path):
    shared = [list(r) for r in ROWS]
    shared[4][5] = "127"  # a Test1 segment by a training speaker
    rows = read_manifest(_index(tmp_path, shared))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (fold,) = make_folds(rows, "official")
    assert fold.name.endswith("(speakers on both sides: optimistic)")
    assert any(issubclass(w.category, SpeakerOverlapWarning) and "msppodcast_127" in str(w.message) for w in caught)


def _index(tmp_path: Path, rows) -> Path:
    out = tmp_path / "m.csv"
    assert main(["data", "index", "msppodcast", str(make_msp(tmp_path / "c", rows)), "-o", str(out)]) == 0
    return out
