"""The filename-pattern importer, on the Indonesian example and on edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from c9_util import write_clip

from ser.corpora import prepare
from ser.corpora.pattern import normalise_gender, prepare_pattern
from ser.errors import CorpusError
from ser.labels import OTHER, UNLABELLED

INDONESIAN = r"(?:(?P<speaker>\d+)_(?P<clip>\d+)_(?P<label>[a-z]+)_(?P<intensity>[a-z_]+)|test\d+)"
INDONESIAN_MAP = {
    "marah": "angry",
    "jijik": "disgust",
    "takut": "fearful",
    "bahagia": "happy",
    "netral": "neutral",
    "sedih": "sad",
}


def test_indonesian_example_with_unlabelled_files(tmp_path):
    for stem in ("1_05420_sedih_no_data", "2_07910_jijik_tinggi", "3_00012_marah_sedang", "test544"):
        write_clip(tmp_path / f"{stem}.wav")
    write_clip(tmp_path / "readme-clip.wav")

    index = prepare_pattern(tmp_path, regex=INDONESIAN, label_map=INDONESIAN_MAP, corpus="indo", language="id")
    rows = {Path(u.path).stem: u for u in index.utterances}
    assert set(rows) == {"1_05420_sedih_no_data", "2_07910_jijik_tinggi", "3_00012_marah_sedang", "test544"}
    sad = rows["1_05420_sedih_no_data"]
    assert (sad.corpus, sad.speaker, sad.emotion, sad.native_label) == ("indo", "indo_1", "sad", "sedih")
    assert (sad.language, sad.intensity, sad.extra["clip"]) == ("id", "", "05420")  # no_data: not recorded
    assert rows["2_07910_jijik_tinggi"].emotion == "disgust"
    assert rows["2_07910_jijik_tinggi"].intensity == "tinggi"
    assert rows["3_00012_marah_sedang"].emotion == "angry"
    unlabelled = rows["test544"]
    assert (unlabelled.emotion, unlabelled.native_label, unlabelled.speaker) == (UNLABELLED, "", "")
    assert unlabelled.duration == pytest.approx(0.05, abs=1e-3)
    assert [(Path(p).name, why) for p, why in index.skipped] == [("readme-clip.wav", "name does not match the pattern")]


def test_unmapped_labels_become_other_and_english_needs_no_map(tmp_path):
    write_clip(tmp_path / "a_sedih.wav")
    write_clip(tmp_path / "b_anger.wav")
    write_clip(tmp_path / "c_Happy.wav")
    index = prepare_pattern(tmp_path, regex=r"(?P<speaker>[a-z])_(?P<label>\w+)")
    assert {u.native_label: u.emotion for u in index.utterances} == {"sedih": OTHER, "anger": "angry", "Happy": "happy"}


def test_gender_text_and_defaults(tmp_path):
    write_clip(tmp_path / "spk1-F-angry-hello_there.wav")
    write_clip(tmp_path / "spk2-wanita-sad-x.wav")
    write_clip(tmp_path / "spk3-Male-sad-y.wav")
    write_clip(tmp_path / "spk4-q-sad-z.wav")
    regex = r"(?P<speaker>spk\d)-(?P<gender>\w+)-(?P<label>\w+)-(?P<text>\w+)"
    index = prepare_pattern(tmp_path, regex=regex, corpus="mine", defaults={"language": "en"})
    rows = {u.speaker: u for u in index.utterances}
    assert rows["mine_spk1"].gender == "female"
    assert rows["mine_spk1"].text == "hello_there"
    assert rows["mine_spk2"].gender == "female"
    assert rows["mine_spk3"].gender == "male"
    assert rows["mine_spk4"].gender == ""  # not obvious: left unknown
    assert {u.language for u in index.utterances} == {"en"}


def test_defaults_fill_missing_columns(tmp_path):
    write_clip(tmp_path / "happy_01.wav")
    index = prepare_pattern(
        tmp_path, regex=r"(?P<label>[a-z]+)_\d+", defaults={"speaker": "solo", "gender": "m"}, corpus="solo"
    )
    (row,) = index.utterances
    assert (row.speaker, row.gender, row.emotion) == ("solo_solo", "male", "happy")


@pytest.mark.parametrize(
    "regex, message",
    [("(?P<label>[a-z", "bad --regex"), (r"\w+", "no named groups")],
)
def test_bad_regex_is_a_clear_error(tmp_path, regex, message):
    write_clip(tmp_path / "a.wav")
    with pytest.raises(CorpusError, match=message):
        prepare_pattern(tmp_path, regex=regex)


def test_unknown_default_column_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="unknown column"):
        prepare_pattern(tmp_path, regex=r"(?P<label>\w+)", defaults={"emotion": "happy"})


def test_registry_name_and_gender_aliases(tmp_path):
    write_clip(tmp_path / "x_sad.wav")
    (row,) = prepare("pattern", tmp_path, regex=r"x_(?P<label>\w+)").utterances
    assert (row.corpus, row.emotion) == ("pattern", "sad")
    assert [normalise_gender(g) for g in ("F", "female", "Perempuan", "M", "laki-laki", "?")] == [
        "female", "female", "female", "male", "male", "",
    ]  # fmt: skip
