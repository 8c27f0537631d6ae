"""WS /v1/stream in-process: updates equal the timeline's windows, and every refusal closes cleanly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from serve_helpers import SR, real_speech


def pcm16(signal: np.ndarray) -> bytes:
    return (np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes()


def receive_until_end(ws) -> tuple[list[dict], dict]:
    updates = []
    while True:
        message = ws.receive_json()
        if message["type"] == "end":
            return updates, message
        assert message["type"] == "update", message
        updates.append(message)


def expect_close(ws, code: int, error: str) -> dict:
    message = ws.receive_json()
    assert message["type"] == "error" and message["error"] == error, message
    assert message["message"]
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == code
    return message


def test_int16_stream_matches_the_sliding_window_timeline(client, recognizer):
    signal = real_speech(4.5, seed=7)
    data = pcm16(signal)
    with client.websocket_connect("/v1/stream?sample_rate=16000&format=int16&window=2&hop=1") as ws:
        ready = ws.receive_json()
        assert ready["type"] == "ready" and ready["labels"] == recognizer.labels
        assert ready["window_s"] == 2.0 and ready["hop_s"] == 1.0
        # Uneven chunks, one with an odd byte count: the stream keeps the odd byte for the next one.
        cuts = [0, 3001, 16000, 40001, 70000, len(data)]
        updates = []
        for a, b in zip(cuts[:-1], cuts[1:]):
            ws.send_bytes(data[a:b])
        ws.send_text(json.dumps({"type": "end"}))
        updates, end = receive_until_end(ws)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
    assert end["duration_s"] == pytest.approx(4.5, abs=1e-3)
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    expected = recognizer.timeline(samples, sr=SR, vad=False, window=2.0, hop=1.0).segments
    assert [(u["start_s"], u["end_s"]) for u in updates] == [(s.start_s, s.end_s) for s in expected]
    for update, segment in zip(updates, expected):
        assert update["label"] == segment.label
        for label in recognizer.labels:
            assert update["scores"][label] == pytest.approx(segment.scores[label], abs=1e-4)
        assert update["is_speech"] is True


def test_float32_at_48khz_is_resampled(client):
    import soxr

    signal = soxr.resample(real_speech(3.0, seed=8), SR, 48000).astype("<f4")
    with client.websocket_connect("/v1/stream?sample_rate=48000&format=float32") as ws:
        assert ws.receive_json()["sample_rate"] == 48000
        for start in range(0, signal.shape[0], 4800):
            ws.send_bytes(signal[start : start + 4800].tobytes())
        ws.send_text('{"type": "end"}')
        updates, end = receive_until_end(ws)
    assert [u["end_s"] for u in updates] == [2.0, 3.0]
    assert end["duration_s"] == pytest.approx(3.0, abs=0.01)


def test_silence_is_not_speech(client):
    with client.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        ws.send_bytes(pcm16(real_speech(2.0, seed=9)))
        assert ws.receive_json()["is_speech"] is True
        ws.send_bytes(pcm16(np.zeros(2 * SR, np.float32)))
        assert ws.receive_json()["end_s"] == 3.0
        assert ws.receive_json()["is_speech"] is False  # window [2, 4): silence only


def test_a_short_stream_is_flushed(client):
    with client.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        ws.send_bytes(pcm16(real_speech(0.5, seed=10)))
        ws.send_text('{"type": "end"}')
        updates, end = receive_until_end(ws)
    assert [(u["start_s"], u["end_s"]) for u in updates] == [(0.0, 0.5)]


@pytest.mark.parametrize(
    "query, word",
    [("sample_rate=100", "sample_rate"), ("format=mp3", "format"), ("window=0", "window"), ("hop=x", "hop"), ("rate=16000", "rate")],
)
def test_invalid_parameters_close_with_policy_violation(client, query, word):
    with client.websocket_connect(f"/v1/stream?{query}") as ws:
        message = expect_close(ws, 1008, "invalid_parameter")
    assert word in message["message"]


def test_unknown_text_message(client):
    with client.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        ws.send_text("hello")
        expect_close(ws, 1003, "bad_message")


def test_nan_samples(client):
    with client.websocket_connect("/v1/stream?format=float32") as ws:
        ws.receive_json()
        ws.send_bytes(np.full(100, np.nan, "<f4").tobytes())
        assert "NaN" in expect_close(ws, 1007, "invalid_samples")["message"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # overflowing features, refused after
def test_float_samples_that_overflow_the_model(client):
    with client.websocket_connect("/v1/stream?format=float32") as ws:
        ws.receive_json()
        ws.send_bytes(np.full(2 * SR, 3.7e19, "<f4").tobytes())
        assert "[-1, 1]" in expect_close(ws, 1007, "invalid_samples")["message"]


def test_message_too_large(make_client):
    small = make_client(max_message_bytes=1000)
    with small.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        ws.send_bytes(b"\x00" * 1001)
        expect_close(ws, 1009, "message_too_large")


def test_stream_too_long(make_client):
    short = make_client(max_stream_s=1.0)
    with short.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        ws.send_bytes(pcm16(np.zeros(SR // 2, np.float32)))
        ws.send_bytes(pcm16(np.zeros(SR, np.float32)))
        expect_close(ws, 1008, "stream_too_long")


def test_too_many_streams(make_client):
    one = make_client(max_streams=1)
    with one.websocket_connect("/v1/stream") as first:
        first.receive_json()
        assert one.get("/v1/health").json()["streams"] == 1
        with one.websocket_connect("/v1/stream") as second:
            expect_close(second, 1013, "busy")
    assert one.get("/v1/health").json()["streams"] == 0


def test_client_disconnect_frees_the_slot(make_client):
    one = make_client(max_streams=1)
    for _ in range(3):
        with one.websocket_connect("/v1/stream") as ws:
            assert ws.receive_json()["type"] == "ready"
            ws.send_bytes(pcm16(real_speech(0.3)))
    assert one.get("/v1/health").json()["streams"] == 0


def test_an_idle_stream_is_closed(make_client):
    idle = make_client(stream_idle_s=0.1)
    with idle.websocket_connect("/v1/stream") as ws:
        ws.receive_json()  # and then send nothing
        expect_close(ws, 1008, "idle")
    assert idle.get("/v1/health").json()["streams"] == 0


@pytest.mark.parametrize("value", [1e6, -2000.0])
def test_float_samples_far_past_full_scale_are_refused_as_rest_refuses_them(client, value):
    with client.websocket_connect("/v1/stream?format=float32") as ws:
        ws.receive_json()
        ws.send_bytes(np.full(SR // 10, value, "<f4").tobytes())
        message = expect_close(ws, 1007, "invalid_samples")
    assert "far beyond full scale" in message["message"] and "[-1, 1]" in message["message"]


def test_a_sample_split_between_messages_is_joined(client, recognizer):
    signal = real_speech(2.0, seed=13).astype("<f4")
    data = signal.tobytes()
    with client.websocket_connect("/v1/stream?format=float32") as ws:
        ws.receive_json()
        ws.send_bytes(data[:4001])  # ends inside a sample
        ws.send_bytes(data[4001:])
        ws.send_text('{"type": "end"}')
        updates, end = receive_until_end(ws)
    expected = recognizer.timeline(signal, sr=SR, vad=False, window=2.0, hop=1.0).segments[0]
    assert end["duration_s"] == pytest.approx(2.0)
    assert updates[0]["scores"][expected.label] == pytest.approx(expected.scores[expected.label], abs=1e-4)


def test_a_stream_running_behind_real_time_is_closed_as_idle(make_client):
    import time

    idle = make_client(stream_idle_s=1.0)
    with idle.websocket_connect("/v1/stream") as ws:
        ws.receive_json()
        started = time.monotonic()
        ws.send_bytes(pcm16(np.zeros(SR // 2, np.float32)))  # 0.5 s of audio: 0.5 s more, at most 1 s ahead
        for _ in range(3):
            time.sleep(0.3)
            ws.send_bytes(b"\x00\x00")  # a sample: messages keep coming, audio does not
        message = expect_close(ws, 1008, "idle")
    assert "behind real time" in message["message"]
    assert time.monotonic() - started < 3
