from ser.corpora.baved import prepare_baved

from corpus_helpers import by_name, skipped_names


def test_rows(clips):
    names = ["2/55-m-16-2-0-778.wav", "2/56-f-40-2-2-657.flac", "0/4-m-20-0-1-12.wav"]
    index = prepare_baved(clips(*names, "3/55-m-16-3-5-1.wav", "3/55-x-16-3-1-1.wav", "3/readme.wav"))
    rows = by_name(index)
    low = rows["55-m-16-2-0-778.wav"]
    assert (low.speaker, low.gender, low.language) == ("baved_55", "male", "ar")
    assert (low.emotion, low.native_label) == ("other", "0")
    assert low.extra == {"arousal_level": "low", "arousal": "-1.0000", "dimension_scale": "0..2"}
    assert low.text == "هذا"
    high = rows["56-f-40-2-2-657.flac"]
    assert (high.gender, high.extra["arousal_level"], high.extra["arousal"]) == ("female", "high", "1.0000")
    assert rows["4-m-20-0-1-12.wav"].extra["arousal_level"] == "neutral"
    assert skipped_names(index) == {"55-m-16-3-5-1.wav", "55-x-16-3-1-1.wav", "readme.wav"}


def test_label_map_can_name_levels(clips):
    index = prepare_baved(clips("2/55-m-16-2-1-778.wav"), label_map={"1": "neutral"})
    assert index.utterances[0].emotion == "neutral"
