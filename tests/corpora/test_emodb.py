from ser.corpora.emodb import prepare_emodb

from corpus_helpers import by_name, skipped_names


def test_rows(clips):
    names = ["03a01Fa.wav", "08b10Lb.flac", "16a07Wc.wav", "09a04Ea.wav", "10b01Aa.wav", "11b02Ta.wav", "13a05Nc.wav"]
    index = prepare_emodb(clips(*(f"wav/{n}" for n in names), "wav/03a01Xa.wav", "wav/erkennung.wav"))
    rows = by_name(index)
    assert [rows[n].emotion for n in names] == ["happy", "boredom", "angry", "disgust", "fearful", "sad", "neutral"]
    first = rows["03a01Fa.wav"]
    assert (first.speaker, first.gender, first.language, first.native_label) == ("emodb_03", "male", "de", "F")
    assert first.text == "Der Lappen liegt auf dem Eisschrank."
    assert rows["08b10Lb.flac"].gender == "female"
    assert skipped_names(index) == {"03a01Xa.wav", "erkennung.wav"}


def test_label_map(clips):
    index = prepare_emodb(clips("wav/03a01Lb.wav"), label_map={"l": "other"})
    assert index.utterances[0].emotion == "other"
