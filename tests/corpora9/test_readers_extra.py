"""JL-Corpus, EmoV-DB and ASVP-ESD readers over files written under the corpora's real names."""

from __future__ import annotations

from pathlib import Path

import pytest
from c9_util import write_clip

from ser.corpora import info, prepare
from ser.corpora.asvp import prepare_asvp
from ser.corpora.emovdb import prepare_emovdb
from ser.corpora.jl import prepare_jl
from ser.labels import EMOTIONS, OTHER


def _by_name(index):
    return {Path(u.path).name: u for u in index.utterances}


# --- JL-Corpus ---------------------------------------------------------------------------------

JL_TREE = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"


def test_jl_reads_names_prompts_and_speakers(tmp_path):
    folder = tmp_path / JL_TREE
    write_clip(folder / "female1_angry_1a_1.wav")
    (folder / "female1_angry_1a_1.txt").write_text("Kiwi is a  bird\n")
    write_clip(folder / "male2_sad_15b_2.wav")
    write_clip(folder / "female2_excited_3a_1.wav")
    write_clip(folder / "male1_apologetic_10b_1.flac")  # converted copies are read too

    index = prepare_jl(tmp_path)
    rows = _by_name(index)
    assert index.skipped == []
    angry = rows["female1_angry_1a_1.wav"]
    assert (angry.corpus, angry.speaker, angry.gender, angry.language) == ("jl", "jl_female1", "female", "en")
    assert (angry.emotion, angry.native_label, angry.text) == ("angry", "angry", "Kiwi is a bird")
    assert angry.duration == pytest.approx(0.05, abs=1e-3)
    assert Path(angry.path).is_absolute()
    assert rows["male2_sad_15b_2.wav"].speaker == "jl_male2"
    assert rows["male2_sad_15b_2.wav"].gender == "male"
    # excited and the secondary emotions are kept verbatim but fall outside the vocabulary
    assert rows["female2_excited_3a_1.wav"].emotion == OTHER
    assert rows["male1_apologetic_10b_1.flac"].native_label == "apologetic"
    assert rows["male1_apologetic_10b_1.flac"].emotion == OTHER


def test_jl_label_map_and_bad_names_and_duplicate_tree(tmp_path):
    write_clip(tmp_path / JL_TREE / "female1_excited_2a_1.wav")
    # the Kaggle archive repeats the tree under a lower-case name: counted once
    write_clip(tmp_path / JL_TREE.lower() / "female1_excited_2a_1.wav")
    write_clip(tmp_path / JL_TREE / "female1_angry.wav")
    write_clip(tmp_path / JL_TREE / "female1_furious_2a_1.wav")

    index = prepare_jl(tmp_path, label_map={"excited": "happy"})
    assert [u.emotion for u in index.utterances] == ["happy"]
    reasons = {Path(p).name + "|" + why for p, why in index.skipped}
    assert any(r.startswith("female1_excited_2a_1.wav|duplicate of") for r in reasons)
    assert any(r.startswith("female1_angry.wav|name is not") for r in reasons)
    assert any(r.startswith("female1_furious_2a_1.wav|unknown emotion") for r in reasons)


# --- EmoV-DB -----------------------------------------------------------------------------------


def test_emovdb_openslr_and_sorted_layouts(tmp_path):
    write_clip(tmp_path / "bea_Amused" / "amused_1-15_0001.wav")  # one folder per OpenSLR tarball
    write_clip(tmp_path / "jenie_Angry" / "anger_1-28_0011.wav")
    write_clip(tmp_path / "sam" / "Disgusted" / "disgust_57-84_0060.wav")  # the sorted release
    write_clip(tmp_path / "Spk-Jsh" / "sleepiness_1-30_0003.wav")  # unsorted release naming
    write_clip(tmp_path / "josh_Neutral" / "neutral_0002.wav")  # range left out
    (tmp_path / "cmuarctic.data").write_text(
        '( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )\n'
        '( arctic_a0011 "Will we ever forget it." )\n'
        '( arctic_b0001 "Not an emotion prompt." )\n'
    )

    index = prepare_emovdb(tmp_path)
    assert index.skipped == []
    rows = _by_name(index)
    amused = rows["amused_1-15_0001.wav"]
    assert (amused.speaker, amused.gender, amused.emotion, amused.native_label) == (
        "emovdb_bea",
        "female",
        OTHER,
        "amused",
    )
    assert amused.text == "Author of the danger trail, Philip Steels, etc."
    anger = rows["anger_1-28_0011.wav"]
    assert (anger.speaker, anger.emotion, anger.text) == ("emovdb_jenie", "angry", "Will we ever forget it.")
    disgust = rows["disgust_57-84_0060.wav"]
    assert (disgust.speaker, disgust.gender, disgust.emotion, disgust.text) == ("emovdb_sam", "male", "disgust", "")
    assert rows["sleepiness_1-30_0003.wav"].speaker == "emovdb_josh"
    assert rows["sleepiness_1-30_0003.wav"].emotion == OTHER
    assert rows["neutral_0002.wav"].emotion == "neutral"


def test_emovdb_skips_unknown_speaker_and_bad_names_and_maps(tmp_path):
    write_clip(tmp_path / "misc" / "amused_1-15_0004.wav")  # no speaker folder
    write_clip(tmp_path / "bea_Amused" / "amused-1-15-0004.wav")  # wrong separators
    write_clip(tmp_path / "bea_Amused" / "yelling_1-15_0004.wav")  # not a style of the corpus
    write_clip(tmp_path / "bea_Amused" / "amused_1-15_0005.wav")

    index = prepare_emovdb(tmp_path, label_map={"amused": "happy"})
    assert [(u.speaker, u.emotion) for u in index.utterances] == [("emovdb_bea", "happy")]
    reasons = sorted(why for _, why in index.skipped)
    assert len(reasons) == 3
    assert any("no speaker folder" in r for r in reasons)
    assert any("unknown style" in r for r in reasons)


# --- ASVP-ESD ----------------------------------------------------------------------------------


def test_asvp_fields_speech_and_non_speech(tmp_path):
    actor = tmp_path / "ASVP-ESD-Update" / "Audio" / "actor_12"
    write_clip(actor / "03-01-06-01-02-12-02-01-02-16.wav")  # speech, fearful, male (even), English
    write_clip(actor / "03-02-03-02-05-12-03-03-01-13-77.wav")  # non-speech laugh, noisy, Chinese
    write_clip(tmp_path / "ASVP-ESD-Update" / "Audio" / "actor_13" / "03-01-09-01-01-13-02-01-04.wav")
    write_clip(actor / "03-02-13-01-01-12-02-01-05-66.wav")  # breath, mixed voices, other language

    index = prepare_asvp(tmp_path)
    assert index.skipped == []
    rows = _by_name(index)
    fear = rows["03-01-06-01-02-12-02-01-02-16.wav"]
    assert (fear.corpus, fear.speaker, fear.gender, fear.language) == ("asvp", "asvp_12", "male", "en")
    assert (fear.emotion, fear.native_label, fear.intensity) == ("fearful", "fearful", "normal")
    assert fear.extra["vocal_channel"] == "speech"
    assert fear.extra["noise"] == ""
    laugh = rows["03-02-03-02-05-12-03-03-01-13-77.wav"]
    assert (laugh.emotion, laugh.intensity, laugh.language) == ("happy", "high", "zh")
    assert laugh.extra["vocal_channel"] == "non-speech"
    assert laugh.extra["noise"] == "high-noise"
    assert laugh.extra["source"] == "film"
    excited = rows["03-01-09-01-01-13-02-01-04.wav"]
    assert (excited.gender, excited.language, excited.native_label, excited.emotion) == (
        "female",
        "fr",
        "excited",
        OTHER,
    )
    breath = rows["03-02-13-01-01-12-02-01-05-66.wav"]
    assert (breath.native_label, breath.language, breath.extra["noise"]) == ("breath", "", "mixed-voices")
    assert {u.emotion for u in index.utterances} <= set(EMOTIONS) | {OTHER}


def test_asvp_speech_only_label_map_and_bad_names(tmp_path):
    write_clip(tmp_path / "03-01-09-01-01-13-02-01-02.wav")
    write_clip(tmp_path / "03-01-10-01-01-13-02-01-02.wav")
    write_clip(tmp_path / "03-02-04-01-01-13-02-01-02.wav")  # non-speech cry
    write_clip(tmp_path / "03-01-14-01-01-13-02-01-02.wav")  # no emotion 14
    write_clip(tmp_path / "03-05-04-01-01-13-02-01-02.wav")  # no vocal channel 05
    write_clip(tmp_path / "03-01-04-01-01-13.wav")  # RAVDESS-length name
    write_clip(tmp_path / "notes.wav")

    index = prepare_asvp(tmp_path, speech_only=True, label_map={"09": "happy", "pleasure": "happy"})
    assert sorted(u.native_label for u in index.utterances) == ["excited", "pleasure"]
    assert {u.emotion for u in index.utterances} == {"happy"}
    assert all(u.extra["vocal_channel"] == "speech" for u in index.utterances)
    assert len(index.skipped) == 4
    assert len(prepare_asvp(tmp_path).utterances) == 3  # the cry is back without speech_only


def test_registry_serves_the_new_readers(tmp_path):
    write_clip(tmp_path / "female1_sad_1a_1.wav")
    assert [u.emotion for u in prepare("jl", tmp_path).utterances] == ["sad"]
    for name in ("jl", "emovdb", "asvp", "pattern"):
        reader = info(name)
        assert reader.name == name and reader.licence and reader.layout
