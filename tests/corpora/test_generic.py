import pytest

from ser.corpora.generic import prepare_csv, prepare_folder
from ser.errors import CorpusError

from corpus_helpers import by_name, skipped_names


def test_folder_per_label(clips):
    root = clips("marah/a.wav", "sedih/b.flac", "Anger/c.wav", "joy/spk1/d.wav", "loose.wav")
    index = prepare_folder(root, corpus="indo", language="id", label_map={"marah": "angry", "sedih": "sad"})
    rows = by_name(index)
    assert (rows["a.wav"].emotion, rows["a.wav"].native_label, rows["a.wav"].corpus) == ("angry", "marah", "indo")
    assert rows["b.flac"].emotion == "sad"
    assert rows["c.wav"].emotion == "angry"  # common English names are known
    assert (rows["d.wav"].emotion, rows["d.wav"].speaker) == ("happy", "indo_spk1")
    assert rows["a.wav"].speaker == "" and rows["a.wav"].language == "id"
    assert skipped_names(index) == {"loose.wav"}


def test_folder_unknown_label_is_other(clips):
    index = prepare_folder(clips("jijik/a.wav"))
    assert (index.utterances[0].emotion, index.utterances[0].corpus) == ("other", "folder")


@pytest.mark.parametrize("sep, suffix", [(",", ".csv"), ("\t", ".tsv"), (";", ".txt")])
def test_csv_table(clips, sep, suffix):
    root = clips("audio/a.wav", "audio/b.flac", "audio/c.wav")
    lines = [
        ["path", "label", "speaker", "gender", "language", "split"],
        ["audio/a.wav", "marah", "s1", "F", "id", "train"],
        [str(root / "audio/b.flac"), "happiness", "s2", "male", "", "test"],
        ["audio/c.wav", "", "", "", "", "test"],
        ["audio/missing.wav", "sad", "s1", "F", "id", "train"],
    ]
    table = root / f"meta{suffix}"
    table.write_text("\n".join(sep.join(line) for line in lines) + "\n", encoding="utf-8")
    index = prepare_csv(table, corpus="mine", label_map={"marah": "angry"}, language="en")
    rows = by_name(index)
    a = rows["a.wav"]
    assert (a.emotion, a.native_label, a.speaker, a.gender, a.language) == ("angry", "marah", "mine_s1", "female", "id")
    assert a.extra == {"split": "train"}
    assert a.path == str(root / "audio/a.wav")
    b = rows["b.flac"]
    assert (b.emotion, b.speaker, b.gender, b.language) == ("happy", "mine_s2", "male", "en")
    assert (rows["c.wav"].emotion, rows["c.wav"].speaker) == ("", "")  # unlabelled
    assert skipped_names(index) == {"missing.wav"}


def test_csv_custom_columns(clips):
    root = clips("x.wav")
    (root / "m.csv").write_text("file,emotion\nx.wav,sad\n", encoding="utf-8")
    index = prepare_csv(root / "m.csv", path_column="file", label_column="emotion")
    assert index.utterances[0].emotion == "sad"


def test_csv_errors(clips):
    root = clips("x.wav")
    (root / "m.csv").write_text("file,emotion\nx.wav,sad\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="'path'"):
        prepare_csv(root / "m.csv")
    with pytest.raises(CorpusError, match="not a file"):
        prepare_csv(root)


def test_csv_not_utf8_and_empty_paths(clips):
    root = clips("x.wav")
    (root / "latin.csv").write_bytes("path,label\nx.wav,fröhlich\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="not UTF-8"):
        prepare_csv(root / "latin.csv")
    (root / "gaps.csv").write_text("path , label\n,sad\nx.wav,sad\n", encoding="utf-8")
    index = prepare_csv(root / "gaps.csv")
    assert len(index.utterances) == 1
    assert index.skipped == [(f"{root / 'gaps.csv'}:2", "empty 'path'")]
