from ser.corpora.tess import prepare_tess

from corpus_helpers import by_name, skipped_names

FILES = [
    "OAF_Fear/OAF_back_fear.wav",
    "OAF_Pleasant_surprise/OAF_back_ps.wav",
    "YAF_pleasant_surprised/YAF_bath_ps.flac",
    "OAF_neutral/OA_bite_neutral.wav",
    "YAF_sad/YAF_youth_sad.wav",
    "OAF_angry/OAF_back_angry.wav",
    "YAF_disgust/YAF_back_disgust.wav",
    "YAF_happy/YAF_back_happy.wav",
]


def test_rows_and_quirks(clips):
    index = prepare_tess(clips(*FILES, "OAF_angry/XYZ_back_angry.wav", "YAF_sad/YAF.wav"))
    rows = by_name(index)
    assert len(rows) == len(FILES)
    assert {r.speaker for r in rows.values()} == {"tess_OAF", "tess_YAF"}
    assert {r.gender for r in rows.values()} == {"female"}
    assert rows["OA_bite_neutral.wav"].speaker == "tess_OAF"
    assert rows["OA_bite_neutral.wav"].text == "bite"
    assert rows["OAF_back_ps.wav"].emotion == "surprised" and rows["OAF_back_ps.wav"].native_label == "ps"
    assert rows["YAF_bath_ps.flac"].emotion == "surprised"
    assert rows["OAF_back_fear.wav"].emotion == "fearful"
    assert [rows[n].emotion for n in ("YAF_youth_sad.wav", "OAF_back_angry.wav", "YAF_back_disgust.wav")] == [
        "sad",
        "angry",
        "disgust",
    ]
    assert skipped_names(index) == {"XYZ_back_angry.wav", "YAF.wav"}


def test_unknown_word_is_other_and_label_map_wins(clips):
    root = clips("YAF_calm/YAF_back_calm.wav", "YAF_happy/YAF_back_happy.wav")
    assert by_name(prepare_tess(root))["YAF_back_calm.wav"].emotion == "other"
    assert by_name(prepare_tess(root, label_map={"calm": "calm"}))["YAF_back_calm.wav"].emotion == "calm"
