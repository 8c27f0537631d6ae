import pytest

from ser.corpora.savee import prepare_savee

from corpus_helpers import by_name, skipped_names

CODES = {"a": "angry", "d": "disgust", "f": "fearful", "h": "happy", "n": "neutral", "sa": "sad", "su": "surprised"}


def test_official_layout(clips):
    names = [f"AudioData/DC/{code}01.wav" for code in CODES] + ["AudioData/KL/n30.flac"]
    index = prepare_savee(clips(*names, "AudioData/XX/a01.wav", "AudioData/DC/b01.wav"))
    rows = by_name(index)
    assert len(index.utterances) == 8
    for code, emotion in CODES.items():
        assert rows[f"{code}01.wav"].emotion == emotion
        assert rows[f"{code}01.wav"].native_label == code
    assert {u.speaker for u in index.utterances} == {"savee_DC", "savee_KL"}
    assert {(u.gender, u.language) for u in index.utterances} == {("male", "en")}
    assert len(index.skipped) == 2


@pytest.mark.parametrize("folder", ["ALL", "AudioData"])
def test_flattened_layout(clips, folder):
    index = prepare_savee(clips(f"{folder}/JE_sa03.wav", f"{folder}/JK_su15.flac", f"{folder}/QQ_a01.wav"))
    rows = by_name(index)
    assert (rows["JE_sa03.wav"].speaker, rows["JE_sa03.wav"].emotion) == ("savee_JE", "sad")
    assert (rows["JK_su15.flac"].speaker, rows["JK_su15.flac"].emotion) == ("savee_JK", "surprised")
    assert skipped_names(index) == {"QQ_a01.wav"}
