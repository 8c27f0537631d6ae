import pytest

from ser.corpora.nemo import prepare_nemo
from ser.errors import CorpusError

from corpus_helpers import by_name, skipped_names

NAMES = ["samples/SB0_anger_0.wav", "samples/SB0_surprised_3.flac", "samples/WJ0_happiness_12.wav"]
TABLE = (
    "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
    "SB0_anger_0.wav\tanger\tCo ty robisz?\tco ty robisz\t   SB0\tmale\t25\n"
    "SB0_surprised_3.wav\tsurprised\tNaprawdę!\tnaprawdę\t SB0\tmale\t25\n"
    "WJ0_happiness_12.wav\thappiness\tJest dobrze.\tjest dobrze\tWJ0\tfemale\t31\n"
)


def test_rows_with_table(clips):
    root = clips(*NAMES, "samples/broken.wav")
    (root / "data.tsv").write_text(TABLE, encoding="utf-8")
    for where in (root, root / "samples"):
        index = prepare_nemo(where)
        rows = by_name(index)
        first = rows["SB0_anger_0.wav"]
        assert (first.speaker, first.gender, first.language) == ("nemo_SB0", "male", "pl")
        assert (first.emotion, first.native_label, first.text) == ("angry", "anger", "Co ty robisz?")
        assert rows["SB0_surprised_3.flac"].emotion == "surprised"
        assert rows["SB0_surprised_3.flac"].speaker == "nemo_SB0"  # leading spaces stripped
        assert (rows["WJ0_happiness_12.wav"].emotion, rows["WJ0_happiness_12.wav"].gender) == ("happy", "female")
        assert skipped_names(index) == {"broken.wav"}


def test_rows_without_table(clips):
    more = ["samples/KL0_sadness_1.wav", "samples/MR0_fear_2.wav", "samples/MR0_neutral_2.wav"]
    index = prepare_nemo(clips(*NAMES, *more))
    rows = by_name(index)
    assert rows["SB0_anger_0.wav"].speaker == "nemo_SB0" and rows["SB0_anger_0.wav"].gender == ""
    assert [rows[n].emotion for n in ("KL0_sadness_1.wav", "MR0_fear_2.wav", "MR0_neutral_2.wav")] == [
        "sad",
        "fearful",
        "neutral",
    ]


def test_table_without_file_id_is_an_error(clips):
    root = clips(*NAMES)
    (root / "data.tsv").write_text("name\temotion\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="file_id"):
        prepare_nemo(root)
