"""Fuzzing the service with random and malformed requests: always a 4xx with a JSON error, and it keeps answering.

Bounded (a few dozen derandomised examples per test) so it runs in seconds and the same way in CI.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_helpers import EXAMPLES, real_speech, wav_bytes

FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

VALID_WAV = wav_bytes(real_speech(0.5, seed=11))
VALID_FLAC = (EXAMPLES / "03-01-01-01-01-01-10.flac").read_bytes()
# Formats whose header states an exact length, so any cut is detected as truncation.
SOURCES = [VALID_WAV, VALID_FLAC, wav_bytes(real_speech(0.5, seed=12), format="FLAC"), wav_bytes(real_speech(0.5), subtype="FLOAT")]

content_types = st.sampled_from(
    [
        None, "audio/wav", "audio/flac", "audio/mpeg", "audio/webm", "video/webm", "application/octet-stream",
        "application/ogg", "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=zz",
        "text/plain", "application/json", "image/png", "", ";", "audio/", "multipart/mixed; boundary=zz",
    ]
)
junk = st.one_of(
    st.binary(max_size=2048),
    st.integers(1, 70000).map(lambda n: b"\x00" * n),  # zero bytes
    st.sampled_from([b"RIFF", b"RIFF\xff\xff\xff\xffWAVEfmt ", b"fLaC", b"OggS", b"ID3\x04", b"\x1aE\xdf\xa3", b"FORM\x00\x00\x00\x10AIFF"]),
)
# Float WAVs whose samples may be anything: huge, tiny, NaN, infinite.
wild_floats = st.lists(st.floats(width=32), min_size=1, max_size=400).map(
    lambda xs: wav_bytes(np.asarray(xs, np.float32), subtype="FLOAT")
)
truncated = st.tuples(st.sampled_from(SOURCES), st.floats(0.0, 0.97)).map(lambda t: t[0][: int(len(t[0]) * t[1])])
# A real file with a few bytes overwritten after its header: damaged, never clean.
damaged_header = st.tuples(st.sampled_from(SOURCES[:1]), st.integers(4, 43), st.binary(min_size=1, max_size=8)).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :] if t[0][t[1] : t[1] + len(t[2])] != t[2] else b""
)


def check_refusal(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body.get("error"), str) and isinstance(body.get("message"), str) and body["message"], body


@pytest.fixture(scope="module")
def fuzz_client(recognizer):
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    with TestClient(create_app(recognizer, config=ServeConfig(max_upload_bytes=256 * 1024, max_duration_s=60))) as test_client:
        yield test_client
        assert test_client.get("/v1/health").status_code == 200  # still answering after all of it


@FUZZ
@given(body=st.one_of(junk, truncated), content_type=content_types)
def test_random_and_truncated_bodies(fuzz_client, body, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    check_refusal(fuzz_client.post("/v1/predict", content=body, headers=headers))


@FUZZ
@given(body=st.one_of(junk, truncated), name=st.text(max_size=40), field=st.sampled_from(["file", "audio", "x"]))
def test_random_files_in_forms(fuzz_client, body, name, field):
    response = fuzz_client.post("/v1/predict", files={field: (name or "f", body)})
    check_refusal(response)


@FUZZ
@given(
    body=st.one_of(st.just(VALID_WAV), junk),
    declared=st.one_of(st.integers(256 * 1024 + 64 * 1024 + 1, 2**62).map(str), st.sampled_from(["-1", "1e9", "abc", " ", "0x10"])),
)
def test_huge_or_nonsense_declared_lengths(fuzz_client, body, declared):
    check_refusal(fuzz_client.post("/v1/predict", content=body, headers={"content-type": "audio/wav", "content-length": declared}))


@FUZZ
@given(
    boundary=st.text(alphabet="abcxyz-=_", min_size=1, max_size=10),
    parts=st.lists(st.binary(max_size=200), max_size=4),
    cut=st.floats(0.0, 1.0),
)
def test_broken_multipart(fuzz_client, boundary, parts, cut):
    raw = b"".join(
        b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n' + p + b"\r\n"
        for p in parts
    ) + b"--" + boundary.encode() + b"--\r\n"
    raw = raw[: int(len(raw) * cut)]
    response = fuzz_client.post("/v1/predict", content=raw, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    check_refusal(response)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflowing features, refused after
@FUZZ
@given(body=wild_floats)
def test_float_samples_of_any_value(fuzz_client, body):
    response = fuzz_client.post("/v1/predict", content=body)
    if response.status_code != 200:
        check_refusal(response)
    else:
        assert all(0 <= v <= 1 for v in response.json()["scores"].values())


@FUZZ
@given(body=damaged_header)
def test_damaged_wav_headers(fuzz_client, body):
    response = fuzz_client.post("/v1/predict", content=body)
    # An overwritten header byte can still leave a readable (if odd) WAV: then it is predicted.
    if response.status_code != 200:
        check_refusal(response)
    else:
        assert set(response.json()) >= {"label", "confidence", "scores", "duration_s"}


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["timeline", "vad", "window", "hop", "speakers", "other"]),
        st.one_of(st.text(max_size=8), st.floats(allow_nan=True, allow_infinity=True).map(str), st.booleans().map(str)),
        max_size=4,
    )
)
def test_random_query_parameters(fuzz_client, query):
    response = fuzz_client.post("/v1/predict", params=query, content=VALID_WAV)
    if response.status_code != 200:
        check_refusal(response)


@pytest.fixture(scope="module")
def adaptable_fuzz_client(adaptable_recognizer):
    from fastapi.testclient import TestClient

    from ser.serve.app import ServeConfig, create_app

    with TestClient(create_app(adaptable_recognizer, config=ServeConfig(max_upload_bytes=256 * 1024, max_duration_s=60))) as test_client:
        yield test_client
        assert test_client.get("/v1/health").status_code == 200


@FUZZ
@given(bodies=st.lists(st.one_of(junk, truncated), min_size=1, max_size=3), names=st.lists(st.text(max_size=20), min_size=3, max_size=3))
def test_random_files_to_enroll(adaptable_fuzz_client, bodies, names):
    files = [("file", (name or "f", body)) for name, body in zip(names, bodies)]
    check_refusal(adaptable_fuzz_client.post("/v1/enroll", files=files))


profile_texts = st.one_of(
    st.text(max_size=200),
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=12,
    ).map(repr),
    st.fixed_dictionaries(
        {"format": st.just("ser-speaker-profile/1"), "model": st.text(max_size=12), "clips": st.integers(-2, 5),
         "speech_s": st.floats(), "embedding_sum": st.lists(st.floats(), max_size=20)}
    ).map(lambda d: __import__("json").dumps(d)),
)


@FUZZ
@given(profile=profile_texts)
def test_random_profile_fields(adaptable_fuzz_client, profile):
    response = adaptable_fuzz_client.post("/v1/predict", files={"file": ("a.wav", VALID_WAV)}, data={"profile": profile})
    check_refusal(response)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # random float32 bytes can overflow the features
@settings(FUZZ, max_examples=20)
@given(
    query=st.sampled_from(
        ["", "format=float32", "sample_rate=8000", "sample_rate=44100&format=float32", "window=0.5&hop=0.25", "adapt=true"]
    ),
    messages=st.lists(st.one_of(st.binary(max_size=6000), st.text(max_size=30)), max_size=5),
)
def test_random_stream_messages(fuzz_client, adaptable_fuzz_client, query, messages):
    from starlette.websockets import WebSocketDisconnect

    client = adaptable_fuzz_client if "adapt" in query else fuzz_client
    with client.websocket_connect(f"/v1/stream?{query}") as ws:
        assert ws.receive_json()["type"] == "ready"
        try:
            for message in messages:
                if isinstance(message, bytes):
                    ws.send_bytes(message)
                else:
                    ws.send_text(message)
            ws.send_text('{"type": "end"}')
            while True:
                reply = ws.receive_json()
                assert reply["type"] in ("update", "end", "error"), reply
                if reply["type"] == "update":
                    assert np.isfinite(reply["confidence"])
                if reply["type"] != "update":
                    break
        except WebSocketDisconnect as closed:
            assert closed.code in (1000, 1003, 1007, 1008, 1009)
