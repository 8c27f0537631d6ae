from ser.corpora.ravdess import prepare_ravdess

from corpus_helpers import by_name, skipped_names

SPEECH = [
    "Actor_01/03-01-01-01-01-01-01.wav",  # neutral, normal, kids, male
    "Actor_02/03-01-05-02-02-01-02.flac",  # angry, strong, dogs, female
    "Actor_24/03-01-08-02-01-02-24.wav",  # surprised
    "Actor_03/03-01-02-01-01-01-03.wav",  # calm
]
BAD = [
    "Actor_01/03-02-03-01-01-01-01.wav",  # song
    "Actor_01/01-01-03-01-01-01-01.mp4",  # full audio-video
    "Actor_01/03-01-09-01-01-01-01.wav",  # no emotion 09
    "Actor_01/03-01-03-03-01-01-01.wav",  # no intensity 03
    "Actor_01/03-01-03-01-01-01-25.wav",  # no actor 25
    "Actor_01/readme.wav",
]


def test_rows(clips):
    index = prepare_ravdess(clips(*SPEECH, *BAD))
    rows = by_name(index)
    assert len(rows) == 4
    first = rows["03-01-01-01-01-01-01.wav"]
    assert (first.corpus, first.speaker, first.gender, first.language) == ("ravdess", "ravdess_01", "male", "en")
    assert (first.emotion, first.native_label, first.intensity) == ("neutral", "01", "normal")
    assert first.text == "Kids are talking by the door"
    angry = rows["03-01-05-02-02-01-02.flac"]
    assert (angry.speaker, angry.gender, angry.emotion, angry.intensity) == ("ravdess_02", "female", "angry", "strong")
    assert angry.text == "Dogs are sitting by the door"
    assert rows["03-01-08-02-01-02-24.wav"].emotion == "surprised"
    assert rows["03-01-02-01-01-01-03.wav"].emotion == "calm"
    assert skipped_names(index) == {p.split("/")[1] for p in BAD}
    assert all(reason for _, reason in index.skipped)


def test_song_on_request(clips):
    index = prepare_ravdess(clips("Actor_01/03-02-03-01-01-01-01.wav"), include_song=True)
    (row,) = index.utterances
    assert row.emotion == "happy" and row.extra == {"vocal_channel": "song"}


def test_label_map_wins(clips):
    index = prepare_ravdess(clips(*SPEECH), label_map={"02": "neutral"})
    assert by_name(index)["03-01-02-01-01-01-03.wav"].emotion == "neutral"
