"""Speaker-attributed timelines and grouping clips by voice, through the Recognizer and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference_helpers import EXAMPLES, SR, write_adaptable_model
from ser.audio import load

FEMALE, MALE = "03-01-03-02-01-01-02", "03-01-04-02-02-01-03"  # actors 02 and 03 of examples/


def _conversation(turns: int = 6, gap_s: float = 0.5) -> tuple[np.ndarray, list[str]]:
    voices = [
        load(EXAMPLES / f"{FEMALE}.flac")[int(0.7 * SR) : -int(0.5 * SR)],
        load(EXAMPLES / f"{MALE}.flac")[int(0.8 * SR) : -int(0.5 * SR)],
    ]
    parts, order = [], []
    for k in range(turns):
        parts += [voices[k % 2], np.zeros(int(gap_s * SR), np.float32)]
        order.append("f" if k % 2 == 0 else "m")
    return np.concatenate(parts), order


@pytest.fixture(scope="module")
def adaptive(tmp_path_factory):
    from ser.inference.recognizer import Recognizer

    directory = tmp_path_factory.mktemp("adaptable")
    write_adaptable_model(directory)
    return Recognizer.from_pretrained(directory)


def test_two_voices_alternate(adaptive):
    signal, order = _conversation()
    timeline = adaptive.timeline(signal, sr=SR, speakers="auto")
    speech = [s for s in timeline.segments if s.kind == "speech"]
    assert [s.speaker for s in speech] == ["S1" if v == "f" else "S2" for v in order]
    summary = timeline.summary()
    assert set(summary["speakers"]) == {"S1", "S2"}
    assert all(sum(v["emotions"].values()) == pytest.approx(1, abs=1e-3) for v in summary["speakers"].values())
    # Each voice is judged against its own mean (the default with speakers on an adaptable model).
    plain = adaptive.timeline(signal, sr=SR, speakers="auto", adapt=False)
    plain_speech = [s for s in plain.segments if s.kind == "speech"]
    assert any(a.scores != pytest.approx(b.scores, abs=1e-6) for a, b in zip(speech, plain_speech))
    assert json.loads(json.dumps(timeline.to_dict()))["segments"][1]["speaker"] == "S1"


def test_one_voice_is_one_speaker_and_counts_are_checked(recognizer):
    voice = load(EXAMPLES / f"{FEMALE}.flac")
    signal = np.concatenate([voice, voice, voice])
    timeline = recognizer.timeline(signal, sr=SR, speakers="auto")
    assert {s.speaker for s in timeline.segments if s.kind == "speech"} == {"S1"}
    asked = recognizer.timeline(_conversation()[0], sr=SR, speakers=3)
    assert asked.warnings and "3" in asked.warnings[0]
    silent = recognizer.timeline(np.zeros(3 * SR, np.float32), sr=SR, speakers="auto")
    assert [s.kind for s in silent.segments] == ["silence"] and silent.summary()["label"] is None
    with pytest.raises(ValueError, match="speech detector"):
        recognizer.timeline(signal, sr=SR, speakers="auto", vad=False)


def test_clips_grouped_by_voice(adaptive):
    clips = [load(EXAMPLES / f"{name}.flac") for name in (FEMALE, MALE, FEMALE, MALE, FEMALE)]
    results = adaptive.predict_batch(clips, sr=SR, groups="auto")
    groups = [r.adaptation["group"] for r in results]
    assert groups[0] == groups[2] == groups[4] != groups[1] == groups[3]
    assert results[0].adaptation["clips"] == 3


def test_cli_speakers_and_adapt_auto(capsys, adaptable_model_dir_for_cli, tmp_path):
    import soundfile as sf

    from ser.cli.main import main

    sf.write(tmp_path / "conversation.wav", _conversation()[0], SR)
    assert main(["predict", str(tmp_path / "conversation.wav"), "--timeline", "--speakers", "auto", "--format", "json",
                 "--model", str(adaptable_model_dir_for_cli)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert {s.get("speaker") for s in record["segments"] if s["kind"] == "speech"} == {"S1", "S2"}
    assert main(["predict", str(tmp_path / "conversation.wav"), "--speakers", "auto"]) == 2
    assert "add --timeline" in capsys.readouterr().err
    for k, name in enumerate((FEMALE, MALE, FEMALE)):
        sf.write(tmp_path / f"clip{k}.wav", load(EXAMPLES / f"{name}.flac"), SR)
    assert main(["predict", *[str(tmp_path / f"clip{k}.wav") for k in range(3)], "--adapt", "auto", "--format", "json",
                 "--model", str(adaptable_model_dir_for_cli)]) == 0
    groups = [json.loads(line)["adaptation"]["group"] for line in capsys.readouterr().out.splitlines()]
    assert groups[0] == groups[2] != groups[1]


@pytest.fixture(scope="module")
def adaptable_model_dir_for_cli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("adaptable_cli")
    write_adaptable_model(directory)
    return directory
