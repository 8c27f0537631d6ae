from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.corpora import info, names
from ser.corpora.base import build_index, find_beside, parse_gender, scan_audio
from ser.errors import CorpusError
from ser.manifest import Utterance

MINE = ["ravdess", "cremad", "tess", "savee", "emodb", "urdu", "turevdb", "nemo", "baved", "esd", "folder", "csv"]


@pytest.mark.parametrize("name", MINE)
def test_registry_entries(name):
    assert name in names()
    entry = info(name)
    assert entry.name == name
    assert callable(entry.prepare)
    assert entry.layout and entry.licence and entry.language


@pytest.mark.parametrize("name", MINE)
def test_missing_root_is_a_corpus_error_naming_it(name, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(CorpusError, match="nowhere"):
        info(name).prepare(missing)


def test_folder_without_audio_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(CorpusError, match="no audio files"):
        scan_audio(tmp_path)


def test_scan_keeps_one_file_per_stem_and_reports_the_other(clips):
    root = clips("a/x.flac", "a/x.wav", "b/x.wav")
    files, skipped = scan_audio(root)
    assert [p.relative_to(root).as_posix() for p in files] == ["a/x.flac", "b/x.wav"]
    assert skipped == [(str(root / "a/x.wav"), "same recording as x.flac")]
    assert all(p.is_absolute() for p in files)


def test_build_index_skips_unreadable_and_empty_audio(clips):
    root = clips("good.wav")
    (root / "bad.wav").write_bytes(b"not audio at all")
    (root / "zero.wav").write_bytes(b"")
    sf.write(str(root / "silent.wav"), np.zeros(0, dtype=np.float32), 16000)  # a header, no samples
    names = ("good.wav", "bad.wav", "zero.wav", "silent.wav")
    rows = [Utterance(path=str(root / n), corpus="t", speaker="t_1", emotion="sad") for n in names]
    index = build_index(rows, [])
    assert [Path(u.path).name for u in index.utterances] == ["good.wav"]
    assert index.utterances[0].duration == pytest.approx(0.1)
    assert index.skipped == sorted((str(root / n), "audio cannot be read or is empty") for n in names[1:])


@pytest.mark.parametrize(
    "text, gender", [("F", "female"), (" female ", "female"), ("m", "male"), ("Male", "male"), ("", ""), ("x", "")]
)
def test_parse_gender(text, gender):
    assert parse_gender(text) == gender


def test_find_beside_looks_in_root_then_parent(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "meta.csv").write_text("x")
    assert find_beside(tmp_path / "sub", "meta.csv") == tmp_path / "meta.csv"
    assert find_beside(tmp_path / "sub", "other.csv") is None
