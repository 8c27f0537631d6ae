"""The readers on the real corpora in ../shared/datasets: official counts, zero skipped files."""

from collections import Counter

import pytest

from ser.corpora import prepare

pytestmark = pytest.mark.corpora

SEVEN = ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
CASES = {
    "ravdess": ("RAVDESS", 1440, 24, {"neutral": 96, "calm": 192, **{e: 192 for e in SEVEN[1:]}}),
    "tess": ("TESS", 2800, 2, {e: 400 for e in SEVEN}),
    "emodb": (
        "EmoDB",
        535,
        10,
        {"angry": 127, "boredom": 81, "disgust": 46, "fearful": 69, "happy": 71, "sad": 62, "neutral": 79},
    ),
    # The paper counts 38 speakers; the file names carry 29 distinct speaker codes.
    "urdu": ("URDU", 400, 29, {e: 100 for e in ("angry", "happy", "neutral", "sad")}),
    # The paper says "over 1700 tokens"; these are the published repository's files.
    "turevdb": ("TurEV-DB", 1735, 6, {"angry": 487, "calm": 408, "happy": 357, "sad": 483}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_real_corpus(datasets_dir, name):
    folder, total, speakers, emotions = CASES[name]
    index = prepare(name, datasets_dir / folder)
    rows = index.utterances
    assert index.skipped == []
    assert len(rows) == total
    assert len({r.speaker for r in rows}) == speakers
    assert all(r.speaker.startswith(f"{name}_") for r in rows)
    assert dict(Counter(r.emotion for r in rows)) == emotions
    assert all(r.duration and r.duration > 0.2 for r in rows)
    assert {r.corpus for r in rows} == {name}


def test_real_genders(datasets_dir):
    ravdess = prepare("ravdess", datasets_dir / "RAVDESS").utterances
    assert Counter(r.gender for r in ravdess) == {"male": 720, "female": 720}
    urdu = prepare("urdu", datasets_dir / "URDU").utterances
    assert len({r.speaker for r in urdu if r.gender == "female"}) == 11
    emodb = prepare("emodb", datasets_dir / "EmoDB").utterances
    assert {r.speaker for r in emodb if r.gender == "female"} == {f"emodb_{s}" for s in ("08", "09", "13", "14", "16")}
