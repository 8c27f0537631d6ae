import pytest

from ser.corpora.cremad import prepare_cremad
from ser.errors import CorpusError

from corpus_helpers import by_name, skipped_names

FILES = ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_HI.flac", "AudioWAV/1091_WSI_NEU_LO.wav"]
BAD = ["AudioWAV/1001_XYZ_ANG_XX.wav", "AudioWAV/1001_DFA_SUR_XX.wav", "AudioWAV/1001_DFA_ANG_ZZ.wav", "AudioWAV/x.wav"]


def test_rows_without_demographics(clips):
    index = prepare_cremad(clips(*FILES, *BAD))
    rows = by_name(index)
    assert len(rows) == 3
    first = rows["1001_DFA_ANG_XX.wav"]
    assert (first.speaker, first.emotion, first.native_label) == ("cremad_1001", "angry", "ANG")
    assert first.intensity == "unspecified"
    assert (first.text, first.gender, first.language) == ("Don't forget a jacket", "", "en")
    assert rows["1002_IEO_HAP_HI.flac"].intensity == "high"
    assert rows["1002_IEO_HAP_HI.flac"].text == "It's eleven o'clock"
    assert rows["1091_WSI_NEU_LO.wav"].intensity == "low"
    assert skipped_names(index) == {b.split("/")[1] for b in BAD}


def test_gender_from_demographics_beside_or_above(clips):
    root = clips(*FILES)
    (root / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n"
    )
    for where in (root, root / "AudioWAV"):
        rows = by_name(prepare_cremad(where))
        assert rows["1001_DFA_ANG_XX.wav"].gender == "male"
        assert rows["1002_IEO_HAP_HI.flac"].gender == "female"
        assert rows["1091_WSI_NEU_LO.wav"].gender == ""


def test_label_map(clips):
    rows = by_name(prepare_cremad(clips(*FILES), label_map={"neu": "calm"}))
    assert rows["1091_WSI_NEU_LO.wav"].emotion == "calm"


def test_demographics_without_sex_column_is_an_error(clips):
    root = clips(*FILES)
    (root / "VideoDemographics.csv").write_text("ActorID,Age\n1001,51\n")
    with pytest.raises(CorpusError, match="Sex"):
        prepare_cremad(root)


def test_repository_root_reads_audiowav_only(clips):
    root = clips(*FILES, "AudioMP3/1001_DFA_ANG_XX.mp3")
    index = prepare_cremad(root)
    assert len(index.utterances) == 3 and not index.skipped
    assert all("/AudioWAV/" in u.path for u in index.utterances)
