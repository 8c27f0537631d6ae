from ser.corpora.urdu import prepare_urdu

from corpus_helpers import by_name, skipped_names


def test_rows(clips):
    names = ["Angry/SM4_F18_A070.wav", "Happy/SF1_F2_H002.flac", "Neutral/SM17_F1_N001.wav", "Sad/SF11_F3_S010.wav"]
    bad = ["Sad/SM4_F18_A071.wav", "Angry/SM4_F18_X070.wav", "Angry/angry1.wav"]
    index = prepare_urdu(clips(*names, *bad))
    rows = by_name(index)
    assert [rows[n.split("/")[1]].emotion for n in names] == ["angry", "happy", "neutral", "sad"]
    row = rows["SM4_F18_A070.wav"]
    assert (row.speaker, row.gender, row.language, row.native_label) == ("urdu_SM4", "male", "ur", "A")
    assert rows["SF1_F2_H002.flac"].speaker == "urdu_SF1" and rows["SF1_F2_H002.flac"].gender == "female"
    assert skipped_names(index) == {b.split("/")[1] for b in bad}
    assert any("folder Sad" in reason for _, reason in index.skipped)
