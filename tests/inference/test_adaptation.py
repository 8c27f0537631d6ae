"""Speaker adaptation: profiles, enrolment, groups, timelines and streams on an adaptable model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference_helpers import LABELS, SR, real_speech, write_adaptable_model
from ser.errors import ModelError
from ser.inference.profile import ProfileError, SpeakerProfile


@pytest.fixture(scope="module")
def adaptable_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("adaptable")
    write_adaptable_model(directory)
    return directory


@pytest.fixture(scope="module")
def adaptive(adaptable_dir):
    from ser.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(adaptable_dir)


def test_unadapted_scores_use_the_population_mean(adaptive):
    backend = adaptive.backend
    assert adaptive.can_adapt
    signal = real_speech(1.5)
    embedding = backend.embed([signal])
    np.testing.assert_allclose(backend.predict_proba([signal]), backend.scores(embedding), atol=1e-6)
    by_hand = (embedding - backend.head.population_mean) @ backend.head.coef.T + backend.head.intercept
    probs = np.exp(by_hand - by_hand.max()) / np.exp(by_hand - by_hand.max()).sum()
    np.testing.assert_allclose(backend.scores(embedding)[0], probs[0], atol=1e-5)


def test_shrinkage_toward_the_population():
    profile = SpeakerProfile.empty(3, "m")
    profile.add(np.array([3.0, 0.0, 0.0]), 2.0)
    # (sum + k * mu) / (n + k) with n = 1, k = 2
    np.testing.assert_allclose(profile.centre(np.zeros(3), 2.0), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(profile.centre(np.ones(3), 0.0), [3.0, 0.0, 0.0])


def test_enroll_save_load_and_predict(adaptive, tmp_path):
    clips = [real_speech(1.5, seed=i) for i in range(3)]
    profile = adaptive.enroll(clips, sr=SR)
    assert profile.clips == 3 and profile.speech_s > 3.0
    path = profile.save(tmp_path / "voice.json")
    data = json.loads(path.read_text())
    assert data["format"] == "ser-speaker-profile/1" and "audio" not in json.dumps(data)
    loaded = SpeakerProfile.load(path)
    probe = real_speech(2.0, seed=4)
    plain = adaptive(probe, sr=SR)
    adapted = adaptive(probe, sr=SR, speaker=loaded)
    assert plain.adaptation is None and adapted.adaptation == {"group": "profile", "clips": 3}
    assert adapted.scores != pytest.approx(plain.scores, abs=1e-6)
    assert sum(adapted.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert adapted.to_dict()["adaptation"] == {"group": "profile", "clips": 3}


def test_groups_adapt_to_each_other(adaptive):
    clips = [real_speech(1.2, seed=i) for i in range(4)]
    results = adaptive.predict_batch(clips, sr=SR, groups=["a", "a", "b", None])
    assert [r.adaptation for r in results] == [{"group": "a", "clips": 2}, {"group": "a", "clips": 2}, {"group": "b", "clips": 1}, None]
    # A group of one clip is adapted (shrunk toward the population), not refused.
    alone = adaptive.predict_batch([clips[2]], sr=SR, groups=["b"])[0]
    assert alone.scores == pytest.approx(results[2].scores, abs=1e-6)
    # A group whose clips hold no speech: those clips get no label, the others are unaffected.
    silent = adaptive.predict_batch([np.zeros(SR, np.float32), clips[0]], sr=SR, groups=["s", "t"])
    assert silent[0].label is None and silent[1].adaptation == {"group": "t", "clips": 1}


def test_bad_profiles(adaptive, adaptable_dir, tmp_path):
    from ser.inference.recognizer import Recognizer

    (tmp_path / "not.json").write_text("hello")
    with pytest.raises(ProfileError, match="not JSON"):
        SpeakerProfile.load(tmp_path / "not.json")
    (tmp_path / "empty.json").write_text(json.dumps({"format": "ser-speaker-profile/1", "model": "x", "clips": 0, "speech_s": 0, "embedding_sum": [0.0]}))
    with pytest.raises(ProfileError, match="empty"):
        SpeakerProfile.load(tmp_path / "empty.json")
    with pytest.raises(ProfileError, match="not a ser speaker profile"):
        SpeakerProfile.from_dict([1, 2], "list.json")
    other = tmp_path / "other"
    write_adaptable_model(other, seed=1)
    foreign = Recognizer.from_pretrained(other).enroll([real_speech(1.0)], sr=SR)
    with pytest.raises(ProfileError, match="belongs to model"):
        adaptive(real_speech(1.0), sr=SR, speaker=foreign)
    with pytest.raises(ProfileError, match="none of the clips holds speech"):
        adaptive.enroll([np.zeros(SR, np.float32)], sr=SR)


def test_enroll_errors_name_the_clip_that_failed(adaptive, tmp_path):
    import io

    import soundfile as sf

    from ser.audio import NotAudioError

    speech = io.BytesIO()
    sf.write(speech, real_speech(1.5), SR, format="WAV")
    good, bad = speech.getvalue(), b"hello, not audio at all"
    with pytest.raises(NotAudioError, match=r"<bytes #3>"):  # unnamed: its 1-based position
        adaptive.enroll([good, good, bad])
    with pytest.raises(NotAudioError, match=r"<stream #2>"):
        adaptive.enroll([io.BytesIO(good), io.BytesIO(bad)])
    with pytest.raises(NotAudioError, match=r"^<bytes>: "):  # the only clip needs no number
        adaptive.enroll([bad])
    with pytest.raises(NotAudioError, match=r"notes\.txt"):
        adaptive.enroll([good, bad], names=["a.wav", "notes.txt"])
    (tmp_path / "notes.txt").write_bytes(bad)
    with open(tmp_path / "notes.txt", "rb") as opened:  # an opened file says its own name
        with pytest.raises(NotAudioError, match=r"notes\.txt") as raised:
            adaptive.enroll([good, opened])
    assert str(tmp_path / "notes.txt") in str(raised.value)


def test_old_models_say_they_cannot_adapt(recognizer):
    assert not recognizer.can_adapt
    with pytest.raises(ModelError, match="cannot adapt"):
        recognizer.enroll([real_speech(1.0)], sr=SR)
    with pytest.raises(ModelError, match="cannot adapt"):
        recognizer.predict_batch([real_speech(1.0)], sr=SR, groups=["a"])


def test_timeline_and_stream_adapt(adaptive):
    signal = np.concatenate([real_speech(2.0), np.zeros(SR, np.float32), real_speech(2.0, seed=2)])
    plain = adaptive.timeline(signal, sr=SR)
    adapted = adaptive.timeline(signal, sr=SR, adapt=True)
    speech = [s for s in adapted.segments if s.kind == "speech"]
    assert [(s.start_s, s.end_s) for s in speech] == [(s.start_s, s.end_s) for s in plain.segments if s.kind == "speech"]
    assert any(a.scores != pytest.approx(b.scores, abs=1e-6) for a, b in zip(speech, [s for s in plain.segments if s.kind == "speech"]))
    stream = adaptive.stream(adapt=True)
    updates = stream.feed(signal) + stream.flush()
    spoken = [u for u in updates if u.is_speech]
    assert spoken and all(u.prediction.adaptation["group"] == "session" for u in spoken)
    assert [u.prediction.adaptation["clips"] for u in spoken] == list(range(1, len(spoken) + 1))
    assert all(u.prediction.label in LABELS for u in spoken)


@pytest.mark.parametrize("options", [{}, {"adapt": True}, {"vad": False, "window": 1.0, "hop": 0.5}])
def test_predict_with_timeline_is_the_two_calls(adaptive, monkeypatch, options):
    signal = np.concatenate([real_speech(2.0), np.zeros(SR, np.float32), real_speech(2.0, seed=2)])
    profile = adaptive.enroll([real_speech(1.5, seed=7)], sr=SR)
    expected = adaptive(signal, sr=SR, speaker=profile), adaptive.timeline(signal, sr=SR, speaker=profile, **options)
    embedded = []
    model = adaptive.backend.embed
    monkeypatch.setattr(adaptive.backend, "embed", lambda signals: embedded.append(len(signals)) or model(signals))
    prediction, timeline = adaptive.predict_with_timeline(signal, sr=SR, speaker=profile, **options)
    assert timeline.to_dict() == expected[1].to_dict()
    assert prediction.scores == pytest.approx(expected[0].scores, abs=1e-6)
    assert prediction.to_dict() | {"scores": None, "confidence": None} == expected[0].to_dict() | {"scores": None, "confidence": None}
    assert prediction.adaptation == {"group": "profile", "clips": 1}
    pieces = sum(s.kind == "speech" for s in timeline.segments)
    if options:  # sliding windows or adapt=: the two calls, as before
        assert sum(embedded) > pieces
    else:  # the file's speech is the timeline's pieces: the model sees each once
        assert sum(embedded) == pieces


def test_cli_adapt_modes_and_profiles(capsys, adaptable_dir, tmp_path):
    import soundfile as sf

    from ser.cli.main import main

    for speaker in ("alice", "bob"):
        (tmp_path / speaker).mkdir()
        for i in range(2):
            sf.write(tmp_path / speaker / f"{speaker}_{i}.wav", real_speech(1.2, seed=i + (speaker == "bob") * 3), SR)
    sf.write(tmp_path / "alice" / "unnamed.wav", real_speech(1.0, seed=5), SR)
    model = ["--model", str(adaptable_dir), "--format", "json"]

    def records(*args):
        capsys.readouterr()
        code = main(["predict", str(tmp_path / "alice"), str(tmp_path / "bob"), *model, *args])
        return code, {r["path"].rsplit("/", 1)[-1]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}

    code, out = records("--adapt", "speaker", "--speaker-pattern", r"^(alice|bob)_")
    assert code == 0
    assert out["alice_0.wav"]["adaptation"] == {"group": "alice", "clips": 2}
    assert out["bob_1.wav"]["adaptation"] == {"group": "bob", "clips": 2}
    assert "adaptation" not in out["unnamed.wav"] and any("does not match" in w for w in out["unnamed.wav"]["warnings"])
    _, out = records("--adapt", "folder")
    assert out["unnamed.wav"]["adaptation"]["clips"] == 3
    _, out = records("--adapt", "collection")
    assert {r["adaptation"]["clips"] for r in out.values()} == {5}
    assert main(["predict", str(tmp_path), *model, "--adapt", "speaker", "--speaker-pattern", "nobody"]) == 2
    assert "matches none" in capsys.readouterr().err
    # A missing input is reported as missing, not as a pattern that matches nothing.
    assert main(["predict", str(tmp_path / "gone"), *model, "--adapt", "speaker", "--speaker-pattern", "nobody"]) == 1
    assert "no such file" in capsys.readouterr().out

    profile = tmp_path / "alice.json"
    assert main(["enroll", str(tmp_path / "alice"), "-o", str(profile), "--model", str(adaptable_dir)]) == 0
    assert SpeakerProfile.load(profile).clips == 3
    _, out = records("--profile", str(profile))
    assert {r["adaptation"]["group"] for r in out.values()} == {"profile"}
    (tmp_path / "bad.json").write_text("{")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "alice"), *model, "--profile", str(tmp_path / "bad.json")]) == 2
    assert "not JSON" in capsys.readouterr().err
