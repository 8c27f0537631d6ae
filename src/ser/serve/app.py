"""The REST service and web page: ``create_app(recognizer)`` returns a FastAPI app.

    POST /v1/predict          audio (multipart field ``file``, or the raw body) -> emotion;
                              ``?timeline=true`` adds the segments over time
    GET  /v1/health           liveness, load and limits
    GET  /v1/model            the model's labels, version and model-card metrics
    WS   /v1/stream           live PCM chunks in, one prediction per hop out
    GET  /                    the web page (static/, no external resources)
    GET  /openapi.json        the OpenAPI schema (``/docs`` renders it)

The model is loaded once and shared by every request. Every refusal is a JSON `ErrorBody`
with a 4xx status (503 when the queue is full), never a 500: see `ser.serve.uploads` for the
upload rules and `ser.serve.work` for how concurrent work is bounded. ``docs/serve.md`` has the
WebSocket protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ser.audio import SAMPLE_RATE, AudioError, load
from ser.inference.recognizer import Recognizer
from ser.inference.timeline import build_timeline, speech_regions
from ser.serve.schemas import ErrorBody, HealthBody, LimitsBody, ModelBody, PredictionBody, StreamParams
from ser.serve.uploads import ApiError, audio_error, read_upload
from ser.serve.work import WorkQueue

log = logging.getLogger("ser.serve")

STATIC_DIR = Path(__file__).parent / "static"
NO_SPEECH = "no speech detected; the label is a guess"
# Keys of ser_model.json that describe how to run the model rather than the model itself.
_TECHNICAL_KEYS = {"format", "backend", "frontend", "onnx", "labels", "sample_rate", "temperature", "max_frames", "min_samples"}
# WebSocket close codes (RFC 6455 and the IANA registry).
WS_NORMAL, WS_UNSUPPORTED, WS_BAD_DATA, WS_POLICY, WS_TOO_BIG, WS_TRY_LATER = 1000, 1003, 1007, 1008, 1009, 1013


@dataclass(frozen=True)
class ServeConfig:
    """The service's limits.

    max_upload_bytes : largest upload accepted (413 beyond).
    max_duration_s : longest audio accepted per upload, in seconds (413 beyond; checked from the
        header before decoding where the format states a length).
    workers : predictions (decoding + model) running at once, on threads.
    max_pending : requests admitted at once, running or queued; one more gets 503.
    max_streams : live WebSocket streams at once.
    max_stream_s : longest audio one stream may send, in seconds.
    max_message_bytes : largest WebSocket audio message.
    upload_timeout_s : longest time to receive one upload (408 beyond), so that clients sending
        slowly cannot hold the admitted places for ever.
    stream_idle_s : a live stream that sends nothing for this long is closed, for the same reason.
    """

    max_upload_bytes: int = 25 * 2**20
    max_duration_s: float = 600.0
    workers: int = 2
    max_pending: int = 32
    max_streams: int = 8
    max_stream_s: float = 3600.0
    max_message_bytes: int = 2**20
    upload_timeout_s: float = 120.0
    stream_idle_s: float = 60.0

    @classmethod
    def from_env(cls, **overrides: Any) -> "ServeConfig":
        """Defaults, then ``$SER_MAX_UPLOAD_MB`` and ``$SER_MAX_DURATION``, then `overrides` (None ignored)."""
        values: dict[str, Any] = {}
        if os.environ.get("SER_MAX_UPLOAD_MB"):
            values["max_upload_bytes"] = int(float(os.environ["SER_MAX_UPLOAD_MB"]) * 2**20)
        if os.environ.get("SER_MAX_DURATION"):
            values["max_duration_s"] = float(os.environ["SER_MAX_DURATION"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def create_app(recognizer: Recognizer | None = None, *, model: str | os.PathLike | None = None, config: ServeConfig | None = None) -> FastAPI:
    """The FastAPI app serving `recognizer` (default: the model folder `model`, else ``$SER_MODEL``,
    else the shipped model), with the limits `config` (default: `ServeConfig.from_env`).

    Called without arguments it suits ``uvicorn --factory ser.serve:create_app``. Raises
    `ser.errors.ModelError` when the model cannot be loaded, so a bad ``--model`` fails at
    start-up rather than on the first request.
    """
    from ser import __version__

    config = config or ServeConfig.from_env()
    if recognizer is None:
        model = model or os.environ.get("SER_MODEL") or None
        recognizer = Recognizer.from_pretrained(model, max_duration=config.max_duration_s)
    work = WorkQueue(config.workers, config.max_pending)
    model_body = _model_body(recognizer)
    started = time.monotonic()
    live = {"streams": 0}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        work.close()

    app = FastAPI(
        title="ser: speech emotion recognition",
        version=__version__,
        description="Predict the emotion of speech: upload a clip, get its emotion (and over time), or stream live audio.",
        lifespan=lifespan,
    )
    app.state.recognizer, app.state.config, app.state.work = recognizer, config, work
    errors = {status: {"model": ErrorBody} for status in (400, 408, 413, 415, 422, 503)}

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # The offending input is left out: it may be large or binary.
        detail = jsonable_encoder([{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()])
        where = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in detail)
        return _error_response(422, "invalid_parameter", f"invalid request parameters ({where})", detail=detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _error_response(exc.status_code, codes.get(exc.status_code, f"http_{exc.status_code}"), str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return _error_response(500, "internal_error", f"internal error ({type(exc).__name__}); this is a bug in ser")

    @app.post(
        "/v1/predict",
        response_model=PredictionBody,
        response_model_exclude_none=True,
        responses=errors,
        summary="Predict the emotion of an audio upload",
        openapi_extra={"requestBody": _REQUEST_BODY},
    )
    async def predict(
        request: Request,
        timeline: bool = Query(False, description="also return the segments over time (Recognizer.timeline)"),
        vad: bool = Query(True, description="timeline over detected speech segments (true) or sliding windows (false)"),
        window: float = Query(2.0, ge=0.5, le=30.0, description="sliding-window length in seconds (timeline with vad=false)"),
        hop: float = Query(1.0, ge=0.25, le=30.0, description="sliding-window step in seconds (timeline with vad=false)"),
    ) -> dict:
        """Send the audio as a multipart form (file field ``file``) or as the raw request body, in any
        format ``ser.audio.load`` reads (WAV, FLAC, MP3, Ogg/Opus, M4A, WebM...)."""
        async with work.admit():
            try:
                upload = await asyncio.wait_for(read_upload(request, config.max_upload_bytes), config.upload_timeout_s)
            except asyncio.TimeoutError:
                raise ApiError(408, "upload_timeout", f"the upload was not received within {config.upload_timeout_s:g} s") from None
            options = {"timeline": timeline, "vad": vad, "window": window, "hop": hop}
            return await work.run(_predict_upload, recognizer, upload.data, upload.name, config.max_duration_s, options)

    @app.get("/v1/health", response_model=HealthBody, summary="Liveness, current load and the limits")
    async def health() -> HealthBody:
        return HealthBody(
            ser_version=__version__,
            model=model_body.name,
            uptime_s=round(time.monotonic() - started, 3),
            in_flight=work.pending,
            streams=live["streams"],
            limits=LimitsBody(
                max_upload_bytes=config.max_upload_bytes,
                max_duration_s=config.max_duration_s,
                max_pending=config.max_pending,
                workers=config.workers,
                max_streams=config.max_streams,
                max_stream_s=config.max_stream_s,
                max_message_bytes=config.max_message_bytes,
                upload_timeout_s=config.upload_timeout_s,
            ),
        )

    @app.get("/v1/model", response_model=ModelBody, summary="The model: labels, version, model-card metrics")
    async def model_info() -> ModelBody:
        return model_body

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        """Live prediction; the protocol is in docs/serve.md and `_serve_stream`."""
        await websocket.accept()
        if live["streams"] >= config.max_streams:
            await _ws_error(websocket, WS_TRY_LATER, "busy", f"too many live streams (the limit is {config.max_streams}); retry shortly")
            return
        live["streams"] += 1
        try:
            await _serve_stream(websocket, recognizer, work, config)
        except WebSocketDisconnect:
            pass
        finally:
            live["streams"] -= 1

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
        },
        "application/octet-stream": _BINARY,
        "audio/*": _BINARY,
    },
}


def _error_response(status: int, code: str, message: str, *, headers=None, detail=None) -> JSONResponse:
    body = ErrorBody(error=code, message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _model_body(recognizer: Recognizer) -> ModelBody:
    backend = recognizer.backend
    config = dict(getattr(backend, "config", None) or {})
    max_frames = getattr(backend, "max_frames", None)
    return ModelBody(
        name=str(getattr(backend, "name", config.get("name", "model"))),
        version=None if config.get("version") is None else str(config["version"]),
        labels=recognizer.labels,
        max_input_s=None if max_frames is None else max_frames / 100.0,
        metrics=config.get("metrics") or {},
        details={k: v for k, v in config.items() if k not in _TECHNICAL_KEYS | {"name", "version", "metrics"}},
    )


def _predict_upload(recognizer: Recognizer, data: bytes, name: str, max_duration: float, options: dict) -> dict:
    """Decode and predict one upload (runs on a worker thread); the body of a `PredictionBody`."""
    try:
        signal = load(data, SAMPLE_RATE, max_duration=max_duration, name=name)
    except AudioError as exc:
        raise audio_error(exc) from None
    except Exception as exc:  # a decoder failing in a way ser.audio does not know yet: still the input's fault
        log.exception("decoder error on %s", name)
        raise ApiError(422, "corrupt_audio", f"{name}: the audio cannot be decoded ({type(exc).__name__}: {exc})") from None
    # ser.audio refuses samples far past full scale and audio that resamples to nothing; this is
    # the last guard, for whatever else could make the model's scores overflow.
    prediction = recognizer.predict_signals([signal])[0]
    if not np.isfinite(list(prediction.scores.values())).all():
        raise ApiError(422, "invalid_samples", f"{name}: the model cannot score these samples (its scores are not finite)")
    body = prediction.to_dict()
    if not speech_regions(signal):
        body["warning"] = NO_SPEECH
    if options["timeline"]:
        timeline = build_timeline(
            recognizer.backend, signal, window=options["window"], hop=options["hop"], vad=options["vad"]
        ).to_dict()
        body["segments"], body["summary"] = timeline["segments"], timeline["summary"]
    return body


async def _serve_stream(websocket: WebSocket, recognizer: Recognizer, work: WorkQueue, config: ServeConfig) -> None:
    """One live stream.

    Query parameters (`StreamParams`): ``sample_rate``, ``format`` (int16 | float32), ``window``,
    ``hop``. The server first sends ``{"type": "ready", ...}``; then each binary message is
    little-endian mono PCM, answered by one ``{"type": "update", ...}`` per completed window
    (`ser.inference.stream.StreamUpdate.to_dict`); the text message ``{"type": "end"}`` flushes
    the last window, sends ``{"type": "end", "duration_s"}`` and closes. A problem sends
    ``{"type": "error", "error", "message"}`` and closes with a WebSocket error code.
    """
    try:
        params = StreamParams(**dict(websocket.query_params))
    except ValidationError as exc:
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        await _ws_error(websocket, WS_POLICY, "invalid_parameter", f"invalid stream parameters ({where})")
        return
    stream = recognizer.stream(sr=params.sample_rate, window=params.window, hop=params.hop)
    width = 2 if params.format == "int16" else 4
    received_s = 0.0
    await websocket.send_json(
        {
            "type": "ready",
            "sample_rate": params.sample_rate,
            "format": params.format,
            "window_s": params.window,
            "hop_s": params.hop,
            "labels": recognizer.labels,
            "max_stream_s": config.max_stream_s,
        }
    )
    while True:
        try:
            message = await asyncio.wait_for(websocket.receive(), config.stream_idle_s)
        except asyncio.TimeoutError:
            await _ws_error(websocket, WS_POLICY, "idle", f"no audio for {config.stream_idle_s:g} s: closing the stream")
            return
        if message["type"] == "websocket.disconnect":
            return
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if len(data) > config.max_message_bytes:
                await _ws_error(websocket, WS_TOO_BIG, "message_too_large", f"an audio message of {len(data)} bytes is more than the limit of {config.max_message_bytes}")
                return
            received_s += len(data) / width / params.sample_rate
            if received_s > config.max_stream_s:
                await _ws_error(websocket, WS_POLICY, "stream_too_long", f"the stream passed the limit of {config.max_stream_s:g} s of audio")
                return
            try:
                updates = await work.run(stream.feed, data, params.format)
            except ValueError as exc:
                await _ws_error(websocket, WS_BAD_DATA, "invalid_samples", f"the audio message cannot be used: {exc}")
                return
            if not await _send_updates(websocket, updates):
                return
        elif _message_type(text) == "end":
            if not await _send_updates(websocket, await work.run(stream.flush)):
                return
            await websocket.send_json({"type": "end", "duration_s": round(stream.time_s, 3)})
            await websocket.close(WS_NORMAL)
            return
        else:
            await _ws_error(
                websocket, WS_UNSUPPORTED, "bad_message",
                'expected binary PCM messages or the text message {"type": "end"}, got ' + repr((text or "")[:80]),
            )
            return


async def _send_updates(websocket: WebSocket, updates: list) -> bool:
    """Send each update; False (after closing with an error) if the model could not score the audio."""
    for update in updates:
        if not np.isfinite(list(update.prediction.scores.values())).all():
            await _ws_error(
                websocket, WS_BAD_DATA, "invalid_samples",
                "the model cannot score this audio (its scores are not finite): float32 samples must lie in [-1, 1]",
            )
            return False
        await websocket.send_json({"type": "update", **update.to_dict()})
    return True


def _message_type(text: str | None) -> str | None:
    try:
        message = json.loads(text or "")
    except ValueError:
        return None
    return message.get("type") if isinstance(message, dict) else None


async def _ws_error(websocket: WebSocket, code: int, error: str, message: str) -> None:
    await websocket.send_json({"type": "error", "error": error, "message": message})
    await websocket.close(code, reason=error)
