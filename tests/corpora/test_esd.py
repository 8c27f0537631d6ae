from ser.corpora.esd import prepare_esd

from corpus_helpers import by_name, skipped_names


def test_rows(clips):
    names = [
        "0001/Neutral/0001_000001.wav",
        "0011/Surprise/0011_001401.flac",
        "0015/Angry/train/0015_000351.wav",
        "0020/Sad/evaluation/0020_001051.wav",
        "0013/Happy/0013_000701.wav",
    ]
    root = clips(*names, "0011/0011_000001.wav", "0021/Sad/0021_000001.wav", "0011/Sad/notes.wav")
    (root / "0011" / "0011.txt").write_text("0011_001401\tWhat a surprise!\tSurprise\n", encoding="utf-8")
    (root / "0001" / "0001.txt").write_bytes("0001_000001\t打远一看\t中立\n".encode("gb18030"))
    index = prepare_esd(root)
    rows = by_name(index)
    zh = rows["0001_000001.wav"]
    assert (zh.speaker, zh.gender, zh.language, zh.emotion, zh.native_label) == (
        "esd_0001",
        "female",
        "zh",
        "neutral",
        "Neutral",
    )
    assert zh.text == "打远一看"
    en = rows["0011_001401.flac"]
    assert (en.language, en.gender, en.emotion, en.text) == ("en", "male", "surprised", "What a surprise!")
    assert (rows["0015_000351.wav"].emotion, rows["0015_000351.wav"].gender) == ("angry", "female")
    assert rows["0020_001051.wav"].emotion == "sad"
    assert rows["0013_000701.wav"].emotion == "happy" and rows["0013_000701.wav"].text == ""
    assert skipped_names(index) == {"0011_000001.wav", "0021_000001.wav", "notes.wav"}
