"""Hostile clients against a real server (uvicorn with the guards of ``ser serve``), over raw sockets.

Slow headers, slow bodies, too many connections, malformed HTTP and oversized WebSocket
messages: each ends in the documented JSON error, never a hang, and never locks out the others.
"""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest

from serve_helpers import running_server

pytestmark = pytest.mark.slow  # real servers, and waits of a second or two


@pytest.fixture(scope="module")
def server(recognizer):
    """A server with short limits: 1 s for headers, 1 s of upload pause, 4 connections per
    client, one admitted upload, a 64 KiB WebSocket message."""
    from ser.serve.app import ServeConfig, create_app

    config = ServeConfig(
        header_timeout_s=1.0, upload_idle_s=1.0, upload_timeout_s=5.0, max_connections_per_client=4,
        max_pending=1, max_message_bytes=64 * 1024, stream_idle_s=2.0,
    )
    with running_server(create_app(recognizer, config=config)) as url:
        yield url


def connect(url: str) -> socket.socket:
    address = urlparse(url)
    sock = socket.create_connection((address.hostname, address.port), timeout=10)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict]:
    """The status and JSON body of the response on `sock` (read until the server closes)."""
    data = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            break
        data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
        if length and len(body) >= length[0]:
            break
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower(), data[:300]
    return int(head.split(b" ")[1]), json.loads(body)


def closed(sock: socket.socket) -> bool:
    sock.settimeout(3)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_headers_that_never_end_get_408(server):
    sock = connect(server)
    sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n")  # and then nothing
    started = time.monotonic()
    status, body = read_response(sock)
    assert status == 408 and body["error"] == "header_timeout" and "1 s" in body["message"]
    assert 0.8 < time.monotonic() - started < 5
    assert closed(sock)


def test_a_silent_connection_is_closed(server):
    sock = connect(server)
    status, body = read_response(sock)
    assert (status, body["error"]) == (408, "header_timeout")


def test_a_kept_alive_connection_gets_the_header_limit_again(server):
    sock = connect(server)
    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"200 OK" in sock.recv(65536)
    sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")  # the second request stalls
    status, body = read_response(sock)
    assert (status, body["error"]) == (408, "header_timeout")


def test_connections_per_client_are_capped(server):
    held = [connect(server) for _ in range(4)]
    try:
        time.sleep(0.2)
        extra = connect(server)
        status, body = read_response(extra)
        assert status == 429 and body["error"] == "too_many_connections" and "limit is 4" in body["message"]
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    assert httpx.get(server + "/v1/health").status_code == 200  # the places came back


def test_slow_uploads_hold_no_place(server, speech_wav):
    # One place (max_pending=1); a client sends headers and a few body bytes, then waits.
    slow = connect(server)
    slow.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
        + f"Content-Length: {len(speech_wav)}\r\n\r\n".encode() + speech_wav[:10]
    )
    time.sleep(0.2)
    response = httpx.post(server + "/v1/predict", content=speech_wav)
    assert response.status_code == 200, response.text  # not 503: the slow one holds no place
    status, body = read_response(slow)  # and the slow one is told why after a pause of 1 s
    assert status == 408 and body["error"] == "upload_timeout" and "stalled" in body["message"]


def test_a_trickling_upload_is_cut_at_the_total_limit(server, speech_wav):
    sock = connect(server)
    sock.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
        + f"Content-Length: {len(speech_wav)}\r\n\r\n".encode()
    )
    started = time.monotonic()
    status, body = None, None
    for i in range(100):  # a byte every 0.5 s: never a pause of 1 s, but 5 s in all at most
        try:
            sock.sendall(speech_wav[i : i + 1])
        except OSError:
            break
        time.sleep(0.5)
        sock.setblocking(False)
        try:
            if sock.recv(1, socket.MSG_PEEK):
                break
        except BlockingIOError:
            pass
        finally:
            sock.setblocking(True)
    status, body = read_response(sock)
    assert status == 408 and body["error"] == "upload_timeout" and "5 s" in body["message"]
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("value", ["abc", "-5", "1e3"])
def test_a_malformed_content_length_gets_the_json_error(server, value):
    sock = connect(server)
    sock.sendall(f"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nRIFF".encode())
    status, body = read_response(sock)
    assert status == 400 and body["error"] == "bad_content_length" and "Content-Length" in body["message"]


def test_malformed_http_gets_the_json_error(server):
    sock = connect(server)
    sock.sendall(b"HELLO THERE\r\n\r\n")
    status, body = read_response(sock)
    assert status == 400 and body["error"] == "bad_request"


@pytest.mark.parametrize("size", [64 * 1024 + 1, 2 * 2**20])
def test_an_oversized_websocket_message_gets_the_json_error(server, size):
    # Just past the app's limit (the app refuses it) and far past it (the protocol does): the same answer.
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect as ws_connect

    with ws_connect(server.replace("http", "ws") + "/v1/stream", max_size=None) as ws:
        assert json.loads(ws.recv())["type"] == "ready"
        ws.send(b"\x00" * size)
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and error["error"] == "message_too_large" and "65536" in error["message"]
        with pytest.raises(ConnectionClosed) as closing:
            ws.recv(timeout=10)
        assert closing.value.rcvd.code == 1009


def test_a_websocket_trickle_is_closed_as_idle(server):
    # 2 bytes (one sample) every 0.5 s: messages keep coming, audio does not (idle limit 2 s).
    from websockets.sync.client import connect as ws_connect

    with ws_connect(server.replace("http", "ws") + "/v1/stream") as ws:
        assert json.loads(ws.recv())["type"] == "ready"
        started = time.monotonic()
        reply = None
        while time.monotonic() - started < 6 and reply is None:
            ws.send(b"\x00\x00")
            try:
                reply = json.loads(ws.recv(timeout=0.5))
            except TimeoutError:
                pass
        assert reply is not None and reply["error"] == "idle", reply
        assert 1.8 < time.monotonic() - started < 4


def test_a_bad_websocket_handshake_gets_the_json_error(server):
    sock = connect(server)
    sock.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
    status, body = read_response(sock)  # no Sec-WebSocket-Key
    assert status == 400 and body["error"] == "bad_request" and "WebSocket handshake" in body["message"]


REQUEST_LINES = [b"POST /v1/predict HTTP/1.1", b"GET /v1/health HTTP/1.1", b"GET /v1/stream HTTP/1.1", b"PUT / HTTP/1.0", b""]
HEADERS = [
    b"Host: x", b"Content-Length: 12", b"Content-Length: x", b"Transfer-Encoding: chunked", b"Content-Type: multipart/form-data",
    b"Upgrade: websocket", b"Connection: Upgrade", b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    b"Expect: 100-continue", b": no name", b"X" * 300,
]


@pytest.mark.filterwarnings("ignore")
def test_random_http_over_raw_sockets(server):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    request = st.tuples(
        st.sampled_from(REQUEST_LINES),
        st.lists(st.sampled_from(HEADERS), max_size=6),
        st.binary(max_size=64),
        st.sampled_from([b"\r\n", b"\n", b"\r\n\r\n", b""]),
    ).map(lambda t: t[0] + b"\r\n" + b"\r\n".join(t[1]) + t[3] + t[2])

    @settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(raw=request)
    def check(raw):
        sock = connect(server)
        try:
            sock.sendall(raw)
            sock.settimeout(4)
            data = b""
            try:
                while len(data) < 65536:
                    piece = sock.recv(65536)
                    if not piece:
                        break
                    data += piece
            except (TimeoutError, socket.timeout, ConnectionResetError):
                pass
        finally:
            sock.close()
        if data.startswith(b"HTTP/1.1 5"):
            raise AssertionError(f"a 5xx for {raw!r}: {data[:200]!r}")
        if data.startswith(b"HTTP/1.1 4"):
            head, _, body = data.partition(b"\r\n\r\n")
            assert b"application/json" in head.lower(), (raw, data[:300])

    check()
    assert httpx.get(server + "/v1/health").status_code == 200


def test_websockets_count_against_the_per_client_cap(server):
    from contextlib import ExitStack

    from websockets.sync.client import connect as ws_connect

    with ExitStack() as stack:
        streams = [stack.enter_context(ws_connect(server.replace("http", "ws") + "/v1/stream")) for _ in range(4)]
        for ws in streams:
            assert json.loads(ws.recv())["type"] == "ready"
        status, body = read_response(connect(server))
        assert (status, body["error"]) == (429, "too_many_connections")
    time.sleep(0.3)
    assert httpx.get(server + "/v1/health").json()["streams"] == 0  # the places and the streams came back


def test_a_body_nobody_reads_cannot_trickle_for_ever(server):
    # /v1/health answers without reading the body; the client keeps sending a byte now and then.
    sock = connect(server)
    sock.sendall(b"POST /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
    started = time.monotonic()
    reply = b""
    while time.monotonic() - started < 10:
        try:
            sock.sendall(b"x")
        except OSError:
            break
        sock.settimeout(0.5)
        try:
            piece = sock.recv(65536)
        except (TimeoutError, socket.timeout):
            continue
        except ConnectionResetError:
            break
        if not piece:
            break
        reply += piece
    assert reply.startswith(b"HTTP/1.1 405") and b"method_not_allowed" in reply  # answered at once, in JSON
    assert 5.5 < time.monotonic() - started < 9  # closed at the body deadline (upload_timeout_s 5 + 1)


def test_a_live_stream_outlives_the_http_deadlines(server, caplog):
    # 7 s of audio at real-time pace: past the body deadline (upload_timeout_s 5 + 1) of the
    # HTTP request that opened it, which must not apply to the WebSocket it became.
    import numpy as np
    from websockets.sync.client import connect as ws_connect

    chunk = np.zeros(1600, "<i2").tobytes()
    with ws_connect(server.replace("http", "ws") + "/v1/stream") as ws:
        assert json.loads(ws.recv())["type"] == "ready"
        started = time.monotonic()
        for i in range(70):
            ws.send(chunk)
            time.sleep(max(0.0, started + (i + 1) * 0.1 - time.monotonic()))
        ws.send('{"type": "end"}')
        replies = []
        while True:
            reply = json.loads(ws.recv(timeout=10))
            replies.append(reply["type"])
            if reply["type"] != "update":
                break
    assert replies[-1] == "end" and replies.count("update") >= 6
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
