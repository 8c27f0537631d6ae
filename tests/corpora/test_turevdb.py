from ser.corpora.turevdb import prepare_turevdb

from corpus_helpers import by_name, skipped_names

NAMES = [
    "Sound Source/Angry/1157_kz_acik.wav",
    "Sound Source/Calm/1234_sk_pamuk.flac",
    "Sound Source/Happy/7895_mt_ordek.wav",
    "Sound Source/Sad/7895_hl_ogul1.wav",
]


def test_rows_from_repository_root(clips):
    root = clips(*NAMES, "Sound Source/Sad/1234_kz_okul.wav", "Sound Source/Sad/notes.wav")
    # Filtered copies elsewhere in the repository are not indexed.
    clips("Model Output for Test Data/testEmotions500HighPass/sound/Angry/1157_kz_acik.wav")
    index = prepare_turevdb(root)
    rows = by_name(index)
    assert len(rows) == 4
    assert [rows[n.split("/")[2]].emotion for n in NAMES] == ["angry", "calm", "happy", "sad"]
    row = rows["1157_kz_acik.wav"]
    assert (row.speaker, row.gender, row.language, row.native_label, row.text) == (
        "turevdb_1157",
        "",
        "tr",
        "kz",
        "acik",
    )
    assert rows["7895_hl_ogul1.wav"].text == "ogul1"
    assert skipped_names(index) == {"1234_kz_okul.wav", "notes.wav"}


def test_sound_source_folder_directly(clips):
    index = prepare_turevdb(clips(*NAMES) / "Sound Source")
    assert len(index.utterances) == 4 and not index.skipped
