"""The REST API in-process: every endpoint, every refusal with its status and JSON error."""

from __future__ import annotations

import asyncio
import os
import re
import threading

import httpx
import numpy as np
import pytest

from serve_helpers import EXAMPLES, LABELS, SR, real_speech, wav_bytes


def assert_error(response, status: int, code: str, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    for word in words:
        assert word in body["message"], body["message"]
    return body


# ------------------------------------------------------------------------------- predictions


def test_multipart_upload_matches_the_recognizer(client, recognizer, example_flac):
    response = client.post("/v1/predict", files={"file": (example_flac.name, example_flac.read_bytes(), "audio/flac")})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = recognizer(example_flac)
    assert body["label"] == expected.label
    assert body["confidence"] == pytest.approx(expected.confidence, abs=1e-5)
    assert list(body["scores"]) == LABELS
    assert sum(body["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    for label, value in expected.scores.items():
        assert body["scores"][label] == pytest.approx(value, abs=1e-5)
    assert body["duration_s"] == pytest.approx(expected.duration_s, abs=1e-3)
    assert body["speech_s"] == pytest.approx(expected.speech_s, abs=1e-3) and body["warnings"] == list(expected.warnings)
    assert "segments" not in body and "summary" not in body
    assert set(body) == set(expected.to_dict())  # whatever the library returns, no field dropped


@pytest.mark.parametrize("content_type", ["audio/wav", "application/octet-stream", "video/webm", None])
def test_raw_body_upload(client, recognizer, speech_wav, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/predict", content=speech_wav, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["label"] == recognizer(speech_wav).label
    assert response.json()["duration_s"] == pytest.approx(3.0, abs=1e-3)


def test_form_file_under_another_field_name_is_accepted(client, speech_wav):
    response = client.post("/v1/predict", files={"audio": ("a.wav", speech_wav)})
    assert response.status_code == 200, response.text


def test_other_formats_and_rates(client, recognizer):
    signal = real_speech(2.0, seed=3)
    import soxr

    resampled = soxr.resample(signal, SR, 44100)
    stereo = np.stack([resampled, resampled], axis=1)
    data = wav_bytes(stereo, 44100, subtype="PCM_24", format="FLAC")
    response = client.post("/v1/predict", content=data, headers={"content-type": "audio/flac"})
    assert response.status_code == 200, response.text
    assert response.json()["label"] == recognizer(data).label
    assert response.json()["duration_s"] == pytest.approx(2.0, abs=1e-3)


def test_timeline_segments_match_recognizer_timeline(client, recognizer):
    # speech, 2 s of silence, speech: the detector must find two speech segments and a pause.
    signal = np.concatenate([real_speech(2.0, seed=4), np.zeros(2 * SR, np.float32), real_speech(2.0, seed=5)])
    data = wav_bytes(signal)
    response = client.post("/v1/predict?timeline=true", content=data)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = recognizer.timeline(data).to_dict()
    assert body["segments"] == expected["segments"]
    assert body["summary"] == expected["summary"]
    assert [s["kind"] for s in body["segments"]].count("speech") == 2
    assert "silence" in [s["kind"] for s in body["segments"]]


@pytest.mark.parametrize("query, passes", [("", 1), ("&vad=false&window=1&hop=0.5", 2)])
def test_a_timeline_request_answers_as_the_two_calls_and_judges_speech_once(client, recognizer, monkeypatch, query, passes):
    signal = np.concatenate([real_speech(2.0, seed=4), np.zeros(2 * SR, np.float32), real_speech(2.0, seed=5)])
    data = wav_bytes(signal)
    options = {"vad": False, "window": 1.0, "hop": 0.5} if query else {}
    expected, timeline = recognizer(data).to_dict(), recognizer.timeline(data, **options).to_dict()
    expected |= {"segments": timeline["segments"], "summary": timeline["summary"]}
    judged = []  # pieces the model was given, per call (on the class: uploads have their own copy)
    model = type(recognizer.backend).predict_proba
    monkeypatch.setattr(type(recognizer.backend), "predict_proba", lambda self, signals: judged.append(len(signals)) or model(self, signals))
    response = client.post(f"/v1/predict?timeline=true{query}", content=data)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == expected.keys()
    for label, score in expected["scores"].items():
        assert body["scores"][label] == pytest.approx(score, abs=1e-6)
    assert body["confidence"] == pytest.approx(expected["confidence"], abs=1e-6)
    assert {k: v for k, v in body.items() if k not in ("scores", "confidence")} == {
        k: v for k, v in expected.items() if k not in ("scores", "confidence")
    }
    pieces = [s for s in body["segments"] if s["kind"] == "speech"]
    if passes == 1:  # over detected speech the file's label is its timeline's, each piece judged once
        assert body["label"] == body["summary"]["label"] and sum(judged) == len(pieces), judged
    else:  # sliding windows are other pieces than the file's speech: those are judged apart
        assert sum(judged) > len(pieces)


def test_timeline_sliding_windows(client, recognizer, speech_wav):
    response = client.post("/v1/predict?timeline=true&vad=false&window=1&hop=0.5", content=speech_wav)
    assert response.status_code == 200, response.text
    segments = response.json()["segments"]
    expected = recognizer.timeline(speech_wav, vad=False, window=1.0, hop=0.5).to_dict()["segments"]
    assert segments == expected
    assert [s["start_s"] for s in segments[:3]] == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("timeline", [False, True])
def test_silence_is_a_result_without_a_label(client, timeline):
    response = client.post(f"/v1/predict?timeline={str(timeline).lower()}", content=wav_bytes(np.zeros(2 * SR, np.float32)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] is None and "label" in body  # JSON null, not left out
    assert body["confidence"] == 0 and body["scores"] == {} and body["speech_s"] == 0
    assert any("no speech" in w for w in body["warnings"]) and body["duration_s"] == pytest.approx(2.0)
    if timeline:
        assert body["summary"]["label"] is None and [s["kind"] for s in body["segments"]] == ["silence"]


# ------------------------------------------------------------------------------- refusals


def test_empty_body(client):
    assert_error(client.post("/v1/predict", content=b""), 400, "empty_body")


def test_empty_file_in_form(client):
    assert_error(client.post("/v1/predict", files={"file": ("void.wav", b"")}), 400, "empty_audio", "void.wav")


def test_form_without_file(client):
    assert_error(client.post("/v1/predict", data={"note": "hello"}, files={}), 415, "unsupported_media_type")
    response = client.post(
        "/v1/predict",
        content=b'--xx\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--xx--\r\n',
        headers={"content-type": "multipart/form-data; boundary=xx"},
    )
    assert_error(response, 400, "no_file", "file")


def test_a_form_cut_off_before_its_closing_boundary(client, speech_wav):
    form = (
        b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        + speech_wav + b"\r\n--xx--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=xx"}
    assert client.post("/v1/predict", content=form, headers=headers).status_code == 200
    for cut in (len(form) - 3, len(form) // 2, 60):
        assert_error(client.post("/v1/predict", content=form[:cut], headers=headers), 400, "truncated_multipart", "cut off")


def test_malformed_multipart(client):
    response = client.post("/v1/predict", content=b"--x\r\ngarbage", headers={"content-type": "multipart/form-data"})
    assert_error(response, 400, "bad_multipart", "boundary")
    response = client.post(
        "/v1/predict", content=b"no boundary here at all", headers={"content-type": "multipart/form-data; boundary=abc"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", "application/x-www-form-urlencoded", "image/png"])
def test_unsupported_content_type(client, speech_wav, content_type):
    response = client.post("/v1/predict", content=speech_wav, headers={"content-type": content_type})
    assert_error(response, 415, "unsupported_media_type", content_type)


def test_content_that_is_not_audio(client):
    assert_error(client.post("/v1/predict", files={"file": ("notes.txt", b"just some text, no audio")}), 415, "not_audio", "notes.txt")
    assert_error(client.post("/v1/predict", content=b"\x00" * 4096), 415, "not_audio")


def test_truncated_audio(client, speech_wav, example_flac):
    body = assert_error(client.post("/v1/predict", content=speech_wav[: len(speech_wav) // 2]), 422, "corrupt_audio", "truncated")
    assert "WAV" in body["message"]
    flac = example_flac.read_bytes()
    assert_error(client.post("/v1/predict", files={"file": ("cut.flac", flac[: len(flac) // 3])}), 422, "corrupt_audio", "cut.flac")


def test_nan_samples(client):
    signal = np.full(SR, np.nan, np.float32)
    assert_error(client.post("/v1/predict", content=wav_bytes(signal, subtype="FLOAT")), 422, "invalid_samples", "NaN")


def test_samples_far_outside_full_scale(client):
    # A float WAV may hold any value; 1e19 overflows the features into NaN scores.
    signal = np.full(SR, 3.7e19, np.float32)
    assert_error(client.post("/v1/predict", content=wav_bytes(signal, subtype="FLOAT")), 422, "invalid_samples", "far beyond full scale")
    assert client.post("/v1/predict", content=wav_bytes(np.full(SR, 1.5, np.float32), subtype="FLOAT")).status_code == 200


def test_a_sample_rate_too_high_to_leave_samples(client):
    # Found by the fuzzing test: 0.5 s at a declared 268 MHz resamples to nothing at 16 kHz.
    data = bytearray(wav_bytes(real_speech(0.5)))
    data[24:28] = (0x10000080).to_bytes(4, "little")
    assert_error(client.post("/v1/predict", content=bytes(data)), 422, "no_samples", "no samples at 16000 Hz")


def test_upload_too_large(make_client, speech_wav):
    small = make_client(max_upload_bytes=10_000)
    # Declared by Content-Length: refused before the body is read.
    assert_error(small.post("/v1/predict", content=speech_wav), 413, "upload_too_large", "10000 bytes")
    # Sent in chunks without a length: refused once the limit is passed.
    chunks = (speech_wav[i : i + 4096] for i in range(0, len(speech_wav), 4096))
    assert_error(small.post("/v1/predict", content=chunks), 413, "upload_too_large")
    assert_error(small.post("/v1/predict", files={"file": ("big.wav", speech_wav)}), 413, "upload_too_large")
    # A huge declared length, whatever the body.
    response = small.post("/v1/predict", content=b"RIFF", headers={"content-length": str(2**40)})
    assert_error(response, 413, "upload_too_large")
    assert small.post("/v1/predict", content=speech_wav[:9000]).status_code == 422  # under the limit: read, then judged


def test_bad_content_length(client):
    assert_error(client.post("/v1/predict", content=b"abc", headers={"content-length": "lots"}), 400, "bad_content_length")


def test_audio_too_long(make_client, speech_wav):
    short = make_client(max_duration_s=1.0)
    assert_error(short.post("/v1/predict", content=speech_wav), 413, "audio_too_long", "limit of 1 s")


@pytest.mark.parametrize(
    "query", ["timeline=maybe", "window=0", "hop=-1", "window=1000", "hop=abc"]
)
def test_invalid_parameters(client, speech_wav, query):
    body = assert_error(client.post(f"/v1/predict?{query}", content=speech_wav), 422, "invalid_parameter")
    assert body["detail"] and body["detail"][0]["loc"][0] == "query"


def test_unknown_path_and_method(client):
    assert_error(client.get("/v2/predict"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")
    assert_error(client.get("/static/nothing.js"), 404, "not_found")


# ------------------------------------------------------------------------------- bounded work


class GatedBackend:
    """The tiny model, but each call waits for `gate` and records how many run at once."""

    def __init__(self, backend):
        self.backend = backend
        self.labels = backend.labels
        self.gate = threading.Event()
        self.running = 0
        self.most = 0
        self.calls = 0
        self.lock = threading.Lock()

    def predict_proba(self, signals):
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            assert self.gate.wait(30), "the test never opened the gate"
            return self.backend.predict_proba(signals)
        finally:
            with self.lock:
                self.running -= 1


def gated_app(recognizer, **limits):
    from ser.inference.recognizer import Recognizer
    from ser.serve.app import ServeConfig, create_app

    backend = GatedBackend(recognizer.backend)
    return create_app(Recognizer(backend), config=ServeConfig(**limits)), backend


async def wait_until(condition, timeout=30.0):
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_a_burst_queues_behind_the_workers(recognizer, speech_wav):
    app, backend = gated_app(recognizer, workers=1, max_pending=8)

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            tasks = [asyncio.create_task(http.post("/v1/predict", content=speech_wav)) for _ in range(5)]
            await wait_until(lambda: app.state.work.pending == 5 and backend.running == 1)
            health = await http.get("/v1/health")  # the event loop still answers while work waits
            backend.gate.set()
            return health, await asyncio.gather(*tasks)

    health, responses = asyncio.run(burst())
    assert health.status_code == 200 and health.json()["in_flight"] == 5
    assert [r.status_code for r in responses] == [200] * 5
    assert backend.most == 1 and backend.calls == 5
    assert app.state.work.pending == 0


def test_a_full_queue_answers_503(recognizer, speech_wav):
    app, backend = gated_app(recognizer, workers=1, max_pending=2)

    async def overload():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            tasks = [asyncio.create_task(http.post("/v1/predict", content=speech_wav)) for _ in range(2)]
            await wait_until(lambda: app.state.work.pending == 2)
            refused = await http.post("/v1/predict", content=speech_wav)
            backend.gate.set()
            return refused, await asyncio.gather(*tasks)

    refused, accepted = asyncio.run(overload())
    body = assert_error(refused, 503, "busy", "retry")
    assert refused.headers["retry-after"] == "1" and "limit is 2" in body["message"]
    assert [r.status_code for r in accepted] == [200, 200]


def test_live_streams_never_wait_for_uploads():
    from ser.serve.work import WorkQueue

    work = WorkQueue(workers=2, max_pending=4, live_workers=1)
    gate = threading.Event()

    async def scenario():
        uploads = [asyncio.create_task(work.run(gate.wait, 30)) for _ in range(3)]  # both upload threads busy, one queued
        await asyncio.sleep(0.1)
        live = await asyncio.wait_for(work.run_live(lambda: "live"), 5)
        gate.set()
        return live, await asyncio.gather(*uploads)

    try:
        assert asyncio.run(scenario()) == ("live", [True, True, True])
    finally:
        work.close()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are a POSIX thing")
def test_upload_threads_run_at_low_priority():
    from ser.serve.work import UPLOAD_NICE, WorkQueue

    work = WorkQueue(workers=1, max_pending=1)

    async def niceness():
        return await work.run(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())), await work.run_live(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )

    try:
        upload, live = asyncio.run(niceness())
    finally:
        work.close()
    assert upload == max(UPLOAD_NICE, os.getpriority(os.PRIO_PROCESS, 0)) and live == os.getpriority(os.PRIO_PROCESS, 0)


def test_bytes_still_arriving_are_bounded_over_all_uploads(recognizer, speech_wav):
    from ser.serve.app import ServeConfig, create_app

    assert len(speech_wav) > 60_000
    app = create_app(recognizer, config=ServeConfig(max_receiving_bytes=150_000))

    async def scenario():
        halfway, finish = asyncio.Event(), asyncio.Event()

        async def slow_body():
            yield speech_wav[:60_000]
            yield speech_wav[60_000:120_000]
            halfway.set()
            await finish.wait()
            yield speech_wav[120_000:]

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            slow = asyncio.create_task(http.post("/v1/predict", content=slow_body()))
            await halfway.wait()
            await asyncio.sleep(0.05)
            refused = await http.post("/v1/predict", content=speech_wav)  # 96 kB more would pass 150 kB
            finish.set()
            done = await slow
            after = await http.post("/v1/predict", content=speech_wav)  # given back once received
            return refused, done, after

    refused, done, after = asyncio.run(scenario())
    assert_error(refused, 503, "busy", "receiving", "0.1 MiB")
    assert refused.headers["retry-after"] == "1"
    assert done.status_code == 200 and after.status_code == 200


def test_an_upload_that_never_ends_times_out(recognizer, speech_wav):
    from ser.serve.app import ServeConfig, create_app

    app = create_app(recognizer, config=ServeConfig(upload_timeout_s=0.2, max_pending=1))

    async def slow_client():
        never = asyncio.Event()

        async def body():
            yield speech_wav[:100]
            await never.wait()  # the rest never comes
            yield b""

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            stalled = await http.post("/v1/predict", content=body())
            after = await http.post("/v1/predict", content=speech_wav)  # the place was given back
            return stalled, after

    stalled, after = asyncio.run(slow_client())
    assert_error(stalled, 408, "upload_timeout", "0.2 s")
    assert after.status_code == 200


def test_an_app_can_be_started_again(recognizer, speech_wav):
    from fastapi.testclient import TestClient

    from ser.serve.app import create_app

    app = create_app(recognizer)
    for _ in range(2):  # each `with` runs the lifespan: start-up, then shutdown of the worker threads
        with TestClient(app) as test_client:
            assert test_client.post("/v1/predict", content=speech_wav).status_code == 200


def test_the_model_is_loaded_once(serve_model_dir, monkeypatch, speech_wav):
    from fastapi.testclient import TestClient

    import ser.inference.recognizer as recognizer_module
    from ser.serve.app import create_app

    loads = []
    original = recognizer_module.load_model
    monkeypatch.setattr(recognizer_module, "load_model", lambda *a, **k: loads.append(a) or original(*a, **k))
    with TestClient(create_app(model=serve_model_dir)) as test_client:
        for _ in range(3):
            assert test_client.post("/v1/predict", content=speech_wav).status_code == 200
    assert len(loads) == 1


def test_factory_without_arguments_reads_the_environment(serve_model_dir, monkeypatch):
    from ser.serve import create_app

    monkeypatch.setenv("SER_MODEL", str(serve_model_dir))
    monkeypatch.setenv("SER_MAX_UPLOAD_MB", "1")
    app = create_app()
    assert app.state.recognizer.labels == LABELS and app.state.config.max_upload_bytes == 2**20


def test_a_bad_model_folder_fails_at_creation(tmp_path):
    from ser.errors import ModelError
    from ser.serve.app import create_app

    with pytest.raises(ModelError, match="no such model folder"):
        create_app(model=tmp_path / "missing")


# ------------------------------------------------------------------------------- other endpoints


def test_health(client):
    body = client.get("/v1/health").json()
    assert body["status"] == "ok" and body["model"] == "tiny-test"
    assert body["in_flight"] == 0 and body["streams"] == 0
    assert body["limits"]["max_upload_bytes"] == 25 * 2**20 and body["limits"]["workers"] == 2


def test_model(client):
    body = client.get("/v1/model").json()
    assert body["labels"] == LABELS and body["name"] == "tiny-test" and body["version"] == "0.0.1"
    assert body["metrics"] == {"ravdess_6fold": {"balanced_accuracy": 0.5}}
    assert body["details"] == {"card": "MODEL_CARD.md"}
    assert body["max_input_s"] == 30.0 and body["sample_rate"] == 16000


def test_openapi_schema(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/health", "/v1/model"} <= set(schema["paths"])
    predict = schema["paths"]["/v1/predict"]["post"]
    assert {"multipart/form-data", "application/octet-stream", "audio/*"} <= set(predict["requestBody"]["content"])
    assert predict["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PredictionBody")
    assert {"400", "408", "413", "415", "422", "503"} <= set(predict["responses"])
    assert {q["name"] for q in predict["parameters"]} == {"timeline", "vad", "window", "hop", "speakers"}
    components = schema["components"]["schemas"]
    assert {"PredictionBody", "SegmentBody", "ErrorBody", "HealthBody", "ModelBody"} <= set(components)
    assert components["PredictionBody"]["required"] == ["label", "confidence", "scores", "duration_s", "speech_s"]


def test_web_page_is_served_and_self_contained(client):
    from ser.serve.app import STATIC_DIR

    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("/static/app.js", "/static/style.css", "/static/pcm-worklet.js"):
        assert asset in page.text or asset == "/static/pcm-worklet.js"
        assert client.get(asset).status_code == 200
    # Offline: nothing the page loads comes from another host (the one URL in it is advice to open localhost).
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"https?://(?!localhost\b)|//cdn|@import", text), path


def test_api_docs_work_offline(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    # Every URL the page loads is on this server: no CDN, no favicon from elsewhere, no validator.
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert not re.search(r"https?://", page.text)
    assert '"validatorUrl": null' in page.text
    for asset in ("/docs-assets/swagger-ui-bundle.js", "/docs-assets/swagger-ui.css", "/docs-assets/favicon.png"):
        assert asset in page.text and client.get(asset).status_code == 200
    assert client.get("/redoc").status_code == 404


def test_examples_and_model_card(client, serve_model_dir):
    examples = client.get("/v1/examples").json()
    names = sorted(p.name for p in EXAMPLES.glob("*.flac"))
    assert [e["name"] for e in examples] == names
    angry = next(e for e in examples if e["name"] == "03-01-05-02-01-01-04.flac")
    assert angry["acted_emotion"] == "angry" and angry["url"] == "/examples/03-01-05-02-01-01-04.flac"
    clip = client.get(angry["url"])
    assert clip.status_code == 200 and clip.content == (EXAMPLES / angry["name"]).read_bytes()
    assert_error(client.get("/examples/..%2Fpyproject.toml"), 404, "not_found")
    assert_error(client.get("/examples/nothing.flac"), 404, "not_found")
    # The tiny model names a card file it does not have.
    assert_error(client.get("/model-card"), 404, "not_found", "model card")


def test_the_shipped_model_card_is_served(serve_model_dir, tmp_path):
    from fastapi.testclient import TestClient

    from ser.inference.recognizer import Recognizer
    from ser.serve.app import create_app

    # The tiny model with a card, as the shipped model has one.
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(serve_model_dir, folder)
    (folder / "MODEL_CARD.md").write_text("# tiny-test\n\nWeights for non-commercial use only.\n")
    with TestClient(create_app(Recognizer.from_pretrained(folder))) as test_client:
        card = test_client.get("/model-card")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
    assert "non-commercial" in card.text
