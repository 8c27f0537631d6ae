"""Speakers and adaptation over the service: ?speakers= timelines, /v1/enroll and the profile
field of /v1/predict, and WS /v1/stream?adapt=true; on the tiny adaptable model and on the tiny
model that cannot adapt (whose refusals must be 4xx JSON or a JSON close, never a 5xx)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from serve_helpers import EXAMPLES, SR, real_speech, wav_bytes

FEMALE, MALE = EXAMPLES / "03-01-05-02-01-01-04.flac", EXAMPLES / "03-01-08-02-01-01-07.flac"


@pytest.fixture(scope="module")
def two_voices() -> bytes:
    """Actor 04 (female), 1 s of silence, actor 07 (male): a WAV of two voices."""
    from ser.audio import load

    signal = np.concatenate([load(FEMALE), np.zeros(SR, np.float32), load(MALE)])
    return wav_bytes(signal)


def assert_error(response, status: int, error: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["message"], body
    return body


# -- ?speakers= ---------------------------------------------------------------------------------


@pytest.mark.parametrize("speakers", ["auto", "2"])
def test_speakers_name_each_speech_segment(adaptable_client, adaptable_recognizer, two_voices, speakers):
    response = adaptable_client.post(f"/v1/predict?timeline=true&speakers={speakers}", files={"file": ("two.wav", two_voices)})
    assert response.status_code == 200, response.text
    body = response.json()
    voices = "auto" if speakers == "auto" else int(speakers)
    expected = adaptable_recognizer.timeline(two_voices, speakers=voices).to_dict()
    assert body["segments"] == expected["segments"]
    assert body["summary"] == expected["summary"]
    named = {s["speaker"] for s in body["segments"] if s["kind"] == "speech"}
    assert named and all("speaker" in s for s in body["segments"] if s["kind"] == "speech")
    assert set(body["summary"]["speakers"]) == named


def test_speakers_on_a_model_that_cannot_adapt(client, recognizer, two_voices):
    """Voices are still told apart; the emotions are just not adapted to them."""
    response = client.post("/v1/predict?timeline=true&speakers=2", content=two_voices)
    assert response.status_code == 200, response.text
    assert response.json()["segments"] == recognizer.timeline(two_voices, speakers=2).to_dict()["segments"]
    assert all("speaker" in s for s in response.json()["segments"] if s["kind"] == "speech")


@pytest.mark.parametrize("value", ["0", "11", "two", "-1", "2.5", ""])
def test_speakers_out_of_range(client, speech_wav, value):
    body = assert_error(client.post(f"/v1/predict?timeline=true&speakers={value}", content=speech_wav), 422, "invalid_parameter")
    assert "speakers" in body["message"]


def test_speakers_need_a_timeline_over_detected_speech(client, speech_wav):
    assert_error(client.post("/v1/predict?speakers=auto", content=speech_wav), 400, "speakers_need_timeline")
    assert_error(client.post("/v1/predict?timeline=true&vad=false&speakers=2", content=speech_wav), 400, "speakers_need_vad")


# -- /v1/enroll and the profile field -------------------------------------------------------------


def enroll(client, *clips: tuple[str, bytes]):
    return client.post("/v1/enroll", files=[("file", clip) for clip in clips])


def test_enroll_returns_the_library_profile(adaptable_client, adaptable_recognizer):
    clips = [(path.name, path.read_bytes()) for path in (FEMALE, EXAMPLES / "03-01-01-01-01-01-10.flac")]
    response = enroll(adaptable_client, *clips)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = adaptable_recognizer.enroll([data for _, data in clips]).to_dict()
    assert body["clips"] == 2 and body["model"] == expected["model"] and body["format"] == expected["format"]
    assert body["embedding_sum"] == pytest.approx(expected["embedding_sum"], abs=1e-6)


def test_a_profile_adapts_prediction_and_timeline(adaptable_client, adaptable_recognizer):
    from ser.inference.profile import SpeakerProfile

    profile_text = enroll(adaptable_client, (FEMALE.name, FEMALE.read_bytes())).text
    profile = SpeakerProfile.from_dict(json.loads(profile_text))
    clip = (EXAMPLES / "03-01-03-02-01-01-02.flac").read_bytes()
    form = {"profile": profile_text}
    plain = adaptable_client.post("/v1/predict", files={"file": ("clip.flac", clip)}).json()
    response = adaptable_client.post("/v1/predict?timeline=true", files={"file": ("clip.flac", clip)}, data=form)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = adaptable_recognizer(clip, speaker=profile)
    assert body["adaptation"] == expected.adaptation and "adaptation" not in plain
    for label in adaptable_recognizer.labels:
        assert body["scores"][label] == pytest.approx(expected.scores[label], abs=1e-5)
    assert body["scores"] != plain["scores"]
    assert body["segments"] == adaptable_recognizer.timeline(clip, speaker=profile).to_dict()["segments"]


HEADER = '{"format": "ser-speaker-profile/1", "model": "m", '


@pytest.mark.parametrize(
    "profile, says",
    [
        ("not json {", "not JSON"),
        ('{"clips": 3}', "not a ser speaker profile"),
        (HEADER + '"clips": 0, "speech_s": 0, "embedding_sum": [0.0]}', "empty"),
        (HEADER + '"clips": 1, "speech_s": 1, "embedding_sum": "x"}', "malformed"),
        (HEADER + '"clips": 1, "speech_s": 1, "embedding_sum": [Infinity]}', "finite numbers"),
    ],
)
def test_a_bad_profile_field(adaptable_client, speech_wav, profile, says):
    response = adaptable_client.post("/v1/predict", files={"file": ("a.wav", speech_wav)}, data={"profile": profile})
    assert says in assert_error(response, 422, "invalid_profile")["message"]


def test_a_profile_of_another_model(adaptable_client, speech_wav):
    profile = json.loads(enroll(adaptable_client, (FEMALE.name, FEMALE.read_bytes())).text)
    profile["model"] = "another:0123456789ab"
    response = adaptable_client.post("/v1/predict", files={"file": ("a.wav", speech_wav)}, data={"profile": json.dumps(profile)})
    assert "another:0123456789ab" in assert_error(response, 422, "invalid_profile")["message"]


def test_a_model_that_cannot_adapt_refuses_profiles(client, speech_wav):
    assert_error(enroll(client, ("a.wav", speech_wav)), 422, "cannot_adapt")
    profile = {"format": "ser-speaker-profile/1", "model": "m", "clips": 1, "speech_s": 1.0, "embedding_sum": [0.0] * 16}
    response = client.post("/v1/predict", files={"file": ("a.wav", speech_wav)}, data={"profile": json.dumps(profile)})
    assert_error(response, 422, "cannot_adapt")


def test_enroll_bad_input(adaptable_client, speech_wav):
    silence = wav_bytes(np.zeros(2 * SR, np.float32))
    assert "quiet.wav" in assert_error(enroll(adaptable_client, ("quiet.wav", silence)), 422, "no_speech")["message"]
    body = assert_error(enroll(adaptable_client, ("a.wav", speech_wav), ("notes.txt", b"hello, not audio")), 415, "not_audio")
    assert "notes.txt" in body["message"]
    response = adaptable_client.post(
        "/v1/enroll",
        content=b'--xx\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--xx--\r\n',
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert_error(response, 400, "no_file")
    from ser.serve.app import MAX_ENROLL_FILES

    too_many = [(f"c{i}.wav", speech_wav) for i in range(MAX_ENROLL_FILES + 1)]
    assert_error(enroll(adaptable_client, *too_many), 400, "bad_multipart")


def test_enroll_from_a_raw_body(adaptable_client, adaptable_recognizer, speech_wav):
    response = adaptable_client.post("/v1/enroll", content=speech_wav, headers={"content-type": "audio/wav"})
    assert response.status_code == 200, response.text
    assert response.json()["clips"] == 1


# -- WS /v1/stream?adapt=true ----------------------------------------------------------------------


def pcm16(signal: np.ndarray) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def test_adaptive_stream_matches_the_library(adaptable_client, adaptable_recognizer):
    signal = real_speech(4.0, seed=3)
    data = pcm16(signal)
    with adaptable_client.websocket_connect("/v1/stream?adapt=true") as ws:
        assert ws.receive_json()["adapt"] is True
        ws.send_bytes(data)
        ws.send_text('{"type": "end"}')
        updates = []
        while (message := ws.receive_json())["type"] != "end":
            assert message["type"] == "update", message
            updates.append(message)
    stream = adaptable_recognizer.stream(adapt=True)
    expected = stream.feed(np.frombuffer(data, "<i2")) + stream.flush()
    assert len(updates) == len(expected) >= 2
    for update, want in zip(updates, expected):
        assert update.get("adaptation") == want.prediction.adaptation
        assert update["label"] == want.prediction.label
    assert updates[-1]["adaptation"]["group"] == "session"


@pytest.mark.parametrize("query, error", [("adapt=true", "cannot_adapt"), ("adapt=maybe", "invalid_parameter")])
def test_a_stream_that_cannot_adapt_closes_with_json(client, query, error):
    with client.websocket_connect(f"/v1/stream?{query}") as ws:
        message = ws.receive_json()
        assert message["type"] == "error" and message["error"] == error and message["message"], message
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1008


def test_openapi_documents_enroll_and_the_profile_field(client):
    schema = client.get("/openapi.json").json()
    enroll_op = schema["paths"]["/v1/enroll"]["post"]
    assert enroll_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProfileBody")
    assert "422" in enroll_op["responses"]
    form = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == {"file", "profile"}
    segment = schema["components"]["schemas"]["SegmentBody"]["properties"]
    assert "speaker" in segment


def test_the_model_says_whether_it_can_adapt(client, adaptable_client):
    assert client.get("/v1/model").json()["can_adapt"] is False
    assert adaptable_client.get("/v1/model").json()["can_adapt"] is True


def test_enroll_adds_clips_to_a_given_profile(adaptable_client, adaptable_recognizer):
    first, second = FEMALE.read_bytes(), (EXAMPLES / "03-01-01-01-01-01-10.flac").read_bytes()
    base = enroll(adaptable_client, ("a.flac", first)).text
    response = adaptable_client.post("/v1/enroll", files={"file": ("b.flac", second)}, data={"profile": base})
    assert response.status_code == 200, response.text
    expected = adaptable_recognizer.enroll([first, second]).to_dict()
    body = response.json()
    assert body["clips"] == 2 and body["speech_s"] == pytest.approx(expected["speech_s"], abs=2e-3)
    assert body["embedding_sum"] == pytest.approx(expected["embedding_sum"], abs=1e-5)
    other = dict(json.loads(base), model="another:0123456789ab")
    response = adaptable_client.post("/v1/enroll", files={"file": ("b.flac", second)}, data={"profile": json.dumps(other)})
    assert "another:0123456789ab" in assert_error(response, 422, "invalid_profile")["message"]
    response = adaptable_client.post("/v1/enroll", files={"file": ("b.flac", second)}, data={"profile": "{"})
    assert_error(response, 422, "invalid_profile")


def test_enroll_clips_together_within_the_duration_limit(adaptable_recognizer, speech_wav):
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    with TestClient(create_app(adaptable_recognizer, config=ServeConfig(max_duration_s=5.0))) as limited:
        assert enroll(limited, ("a.wav", speech_wav)).status_code == 200  # 3 s
        body = assert_error(enroll(limited, ("a.wav", speech_wav), ("b.wav", speech_wav)), 413, "audio_too_long")
        assert "6.0 s together" in body["message"]
