"""The REST service and web page: ``create_app(recognizer)`` returns a FastAPI app.

    POST /v1/predict          audio (multipart field ``file``, or the raw body) -> emotion;
                              ``?timeline=true`` adds the segments over time, ``&speakers=auto``
                              (or 1-10) names each segment's voice; the form field ``profile``
                              (a speaker profile's JSON) judges the audio against that voice
    POST /v1/enroll           clips of one person (multipart, one or more files) -> their
                              speaker profile (JSON, never audio)
    GET  /v1/health           liveness, load and limits
    GET  /v1/model            the model's labels, version and model-card metrics
    WS   /v1/stream           live PCM chunks in, one prediction per hop out; ``?adapt=true``
                              judges each window against the session's own voice so far
    GET  /v1/examples         the example clips the page offers (``/examples/NAME`` serves each)
    GET  /model-card          the model card of the loaded model (Markdown)
    GET  /                    the web page (static/, no external resources)
    GET  /openapi.json        the OpenAPI schema; ``/docs`` renders it with Swagger UI served
                              from this server (the fastapi-offline package's copy), no CDN

The model is loaded once and shared by every request. Every refusal is a JSON `ErrorBody`
with a 4xx status (503 when the queue is full), never a 500: see `ser.serve.uploads` for the
upload rules, `ser.serve.work` for how concurrent work is bounded (live streams first) and
`ser.serve.server` for the per-connection guards of ``ser serve``. ``docs/serve.md`` has the
WebSocket protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ser.audio import MAX_PEAK, AudioError
from ser.errors import ModelError
from ser.inference.profile import ProfileError, SpeakerProfile
from ser.inference.recognizer import Recognizer
from ser.serve.schemas import (
    ErrorBody,
    ExampleBody,
    HealthBody,
    LimitsBody,
    ModelBody,
    PredictionBody,
    ProfileBody,
    StreamParams,
)
from ser.serve.uploads import ApiError, ReceiveBudget, audio_error, read_upload
from ser.serve.work import WorkQueue, lower_priority

log = logging.getLogger("ser.serve")

STATIC_DIR = Path(__file__).parent / "static"
EXAMPLE_SUFFIXES = (".flac", ".wav", ".mp3", ".ogg", ".opus", ".m4a", ".webm")
# RAVDESS file names (03-01-EE-...) say the acted emotion (see examples/README.md).
_RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised"}
# Keys of ser_model.json that describe how to run the model rather than the model itself.
_TECHNICAL_KEYS = {"format", "backend", "frontend", "onnx", "labels", "sample_rate", "temperature", "max_frames", "min_samples"}
# WebSocket close codes (RFC 6455 and the IANA registry).
WS_NORMAL, WS_UNSUPPORTED, WS_BAD_DATA, WS_POLICY, WS_TOO_BIG, WS_TRY_LATER = 1000, 1003, 1007, 1008, 1009, 1013
# Voices ``?speakers=N`` may ask for: past a handful, clustering a single upload means little.
MAX_SPEAKERS = 10
# Clips one /v1/enroll form may hold (all of them within the upload size limit together).
MAX_ENROLL_FILES = 32
PROFILE_FIELD = "profile"


@dataclass(frozen=True)
class ServeConfig:
    """The service's limits.

    max_upload_bytes : largest upload accepted (413 beyond).
    max_duration_s : longest audio accepted per upload, in seconds (413 beyond; checked from the
        header before decoding where the format states a length).
    workers : predictions (decoding + model) running at once, on threads.
    max_pending : uploads admitted at once, running or queued, counted once received whole; one
        more gets 503.
    max_streams : live WebSocket streams at once.
    max_stream_s : longest audio one stream may send, in seconds.
    max_message_bytes : largest WebSocket audio message.
    upload_timeout_s : longest time to receive one upload (408 beyond).
    upload_idle_s : longest pause while receiving an upload (408 beyond).
    header_timeout_s : longest time for a connection to send a request's headers (408 beyond;
        enforced by `ser.serve.server`, i.e. under ``ser serve``).
    max_connections_per_client : connections one client address may hold at once, HTTP and
        WebSocket together (429 beyond; `ser.serve.server`).
    max_receiving_bytes : bytes of uploads still arriving, over all connections, that the server
        buffers at once (503 beyond); None: eight uploads of the largest size.
    stream_idle_s : a live stream is closed as idle when it falls this many seconds of wall
        time behind on audio: audio received extends its deadline by its own duration, never
        past this many seconds from now; so a stream must keep sending audio about as fast as
        it plays, and a few bytes now and then do not keep it open.
    live_workers : threads predicting the live streams' windows (never shared with uploads).
    examples_dir : a folder of example clips the page offers (None: none).
    """

    max_upload_bytes: int = 25 * 2**20
    max_duration_s: float = 600.0
    workers: int = 2
    max_pending: int = 32
    max_streams: int = 8
    max_stream_s: float = 3600.0
    max_message_bytes: int = 2**20
    upload_timeout_s: float = 120.0
    upload_idle_s: float = 30.0
    header_timeout_s: float = 10.0
    max_connections_per_client: int = 16
    max_receiving_bytes: Optional[int] = None
    stream_idle_s: float = 60.0
    live_workers: int = 2
    examples_dir: Optional[Path] = field(default_factory=lambda: _repository_examples())

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
    uploads = _low_priority_copy(recognizer, config.max_duration_s)
    work = WorkQueue(config.workers, config.max_pending, config.live_workers)
    receiving = ReceiveBudget(config.max_receiving_bytes or 8 * config.max_upload_bytes)
    model_body = _model_body(recognizer)
    card = _model_card(recognizer)
    examples = _examples(config.examples_dir)
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
        docs_url=None,
        redoc_url=None,
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
        response_model_exclude_unset=True,  # keeps "label": null (no speech), leaves out absent segments
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
        speakers: Optional[str] = Query(
            None,
            description=f"with timeline=true: 'auto' or the number of voices (1-{MAX_SPEAKERS}); speech is cut where "
            "the voice changes and every speech segment names its voice",
        ),
    ) -> dict:
        """Send the audio as a multipart form (file field ``file``) or as the raw request body, in any
        format ``ser.audio.load`` reads (WAV, FLAC, MP3, Ogg/Opus, M4A, WebM...). A form may also
        carry the text field ``profile``: a speaker profile from ``/v1/enroll``, to judge the
        audio against that person's usual voice (adaptable models only)."""
        voices = _speakers_option(speakers, timeline, vad)
        # Received whole before it takes a place: a slow client holds a connection, never a place.
        upload = await read_upload(
            request, config.max_upload_bytes, timeout_s=config.upload_timeout_s, idle_s=config.upload_idle_s, budget=receiving
        )
        profile = _profile_field(upload.fields.get(PROFILE_FIELD), recognizer)
        async with work.admit():
            options = {"timeline": timeline, "vad": vad, "window": window, "hop": hop, "speakers": voices, "speaker": profile}
            return await work.run(_predict_upload, uploads, upload.data, upload.name, options)

    @app.post(
        "/v1/enroll",
        response_model=ProfileBody,
        responses=errors,
        summary="Make a speaker profile from unlabelled clips of one person",
        openapi_extra={"requestBody": _ENROLL_BODY},
    )
    async def enroll(request: Request) -> dict:
        """Send one or more clips of the same person as a multipart form (any file field names; or
        one clip as the raw body). The answer is their profile: keep it, and send it back as the
        ``profile`` field of ``/v1/predict``. A form may also carry a ``profile`` field: the clips
        are then added to that profile (a profile that grows with each clip). Ordinary speech
        makes the best profile: one made only of angry clips makes everything else look less angry."""
        _check_can_adapt(recognizer)
        upload = await read_upload(
            request, config.max_upload_bytes, timeout_s=config.upload_timeout_s, idle_s=config.upload_idle_s,
            budget=receiving, max_files=MAX_ENROLL_FILES,
        )
        base = _profile_field(upload.fields.get(PROFILE_FIELD), recognizer)
        async with work.admit():
            return await work.run(_enroll_upload, uploads, upload.files, base)

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
                upload_idle_s=config.upload_idle_s,
                header_timeout_s=config.header_timeout_s,
                max_connections_per_client=config.max_connections_per_client,
                max_receiving_bytes=receiving.limit,
                stream_idle_s=config.stream_idle_s,
            ),
        )

    @app.get("/v1/model", response_model=ModelBody, summary="The model: labels, version, model-card metrics")
    async def model_info() -> ModelBody:
        return model_body

    @app.get("/v1/examples", response_model=list[ExampleBody], summary="The example clips the page offers")
    async def example_list() -> list[ExampleBody]:
        return [body for body, _ in examples.values()]

    @app.get("/examples/{name}", include_in_schema=False)
    async def example_file(name: str) -> FileResponse:
        if name not in examples:
            raise ApiError(404, "not_found", f"no example clip named {name!r}")
        return FileResponse(examples[name][1])

    @app.get("/model-card", include_in_schema=False)
    async def model_card() -> PlainTextResponse:
        if card is None:
            raise ApiError(404, "not_found", f"the model {model_body.name} has no model card")
        return PlainTextResponse(card, media_type="text/markdown; charset=utf-8")

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
    _add_offline_docs(app)
    return app


def _add_offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the assets the fastapi-offline package ships, so it works offline."""
    try:
        import fastapi_offline
    except ImportError:
        log.warning("/docs is off: the fastapi-offline package (in the serve extra) is not installed")
        return
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon.png",
            # No validator badge: it would send the schema to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )


_BINARY = {"schema": {"type": "string", "format": "binary"}}
_PROFILE_PROPERTY = {"type": "string", "description": "optional: a speaker profile's JSON text (from /v1/enroll)"}
_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": _BINARY["schema"], PROFILE_FIELD: _PROFILE_PROPERTY},
                "required": ["file"],
            }
        },
        "application/octet-stream": _BINARY,
        "audio/*": _BINARY,
    },
}
_ENROLL_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": _BINARY["schema"], "maxItems": MAX_ENROLL_FILES},
                    PROFILE_FIELD: {"type": "string", "description": "optional: a profile's JSON text; the clips are added to it"},
                },
                "required": ["file"],
            }
        },
        "application/octet-stream": _BINARY,
        "audio/*": _BINARY,
    },
}


def _error_response(status: int, code: str, message: str, *, headers=None, detail=None) -> JSONResponse:
    body = ErrorBody(error=code, message=message, detail=detail).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers=headers)


def _repository_examples() -> Path | None:
    """examples/ of a source checkout (``pip install -e``), where the page's example clips come from."""
    folder = Path(__file__).resolve().parents[3] / "examples"
    return folder if folder.is_dir() else None


def _examples(folder: Path | None) -> dict[str, tuple[ExampleBody, Path]]:
    """The audio files of `folder` by name, with what the page shows of each."""
    found: dict[str, tuple[ExampleBody, Path]] = {}
    for path in sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []:
        if path.suffix.lower() not in EXAMPLE_SUFFIXES or not path.is_file():
            continue
        parts = path.stem.split("-")
        emotion = _RAVDESS_EMOTIONS.get(parts[2]) if len(parts) == 7 and parts[0] == "03" else None
        found[path.name] = (ExampleBody(name=path.name, url=f"/examples/{path.name}", acted_emotion=emotion), path)
    return found


def _model_card(recognizer: Recognizer) -> str | None:
    """The text of the model's card (the ``card`` file named in its ``ser_model.json``), if any."""
    backend = recognizer.backend
    name = (getattr(backend, "config", None) or {}).get("card")
    directory = getattr(backend, "directory", None)
    if not name or directory is None:
        return None
    try:
        return (Path(directory) / str(name)).read_text(encoding="utf-8")
    except OSError:
        return None


def _low_priority_copy(recognizer: Recognizer, max_duration: float) -> Recognizer:
    """The recognizer for uploads: the same model (and speech detector) loaded again from a
    low-priority thread, so that onnxruntime's threads for it inherit the low priority and live
    streams (on the original) come first; it refuses audio longer than `max_duration` seconds.
    A model that cannot be reloaded (no folder) is shared as it is."""
    import threading

    backend = recognizer.backend
    directory = getattr(backend, "directory", None)
    if directory is None or not hasattr(backend, "threads"):
        return recognizer
    from ser.model_folder import load_model

    loaded: list[Recognizer] = []

    def load() -> None:
        lower_priority()
        try:
            loaded.append(
                Recognizer(
                    load_model(directory, threads=backend.threads),
                    max_duration=max_duration,
                    vad=recognizer.vad,
                    vad_options=recognizer.vad_options,
                    max_segment=recognizer.max_segment,
                )
            )
        except Exception as exc:  # the same folder loaded a moment ago; should it fail now, share the model
            log.warning("cannot load a second copy of %s for uploads (%s); uploads share the live model", directory, exc)

    thread = threading.Thread(target=load, name="ser-upload-load")
    thread.start()
    thread.join()
    return loaded[0] if loaded else recognizer


def _model_body(recognizer: Recognizer) -> ModelBody:
    backend = recognizer.backend
    config = dict(getattr(backend, "config", None) or {})
    max_frames = getattr(backend, "max_frames", None)
    return ModelBody(
        name=str(getattr(backend, "name", config.get("name", "model"))),
        version=None if config.get("version") is None else str(config["version"]),
        labels=recognizer.labels,
        max_input_s=None if max_frames is None else max_frames / 100.0,
        can_adapt=recognizer.can_adapt,
        metrics=config.get("metrics") or {},
        details={k: v for k, v in config.items() if k not in _TECHNICAL_KEYS | {"name", "version", "metrics"}},
    )


def _speakers_option(value: str | None, timeline: bool, vad: bool) -> str | int | None:
    """``?speakers=`` as `Recognizer.timeline` takes it ("auto" or 1..`MAX_SPEAKERS`); None when absent.

    Raises `ApiError`: 422 ``invalid_parameter`` for another value, 400 ``speakers_need_timeline``
    without ``timeline=true``, 400 ``speakers_need_vad`` with ``vad=false`` (voices are told
    apart within detected speech).
    """
    if value is None:
        return None
    text = value.strip().lower()
    voices: str | int | None = "auto" if text == "auto" else (int(text) if text.isdigit() else None)
    if voices is None or (isinstance(voices, int) and not 1 <= voices <= MAX_SPEAKERS):
        raise ApiError(
            422, "invalid_parameter", f"invalid request parameters (speakers: 'auto' or a whole number 1-{MAX_SPEAKERS} expected, got {value!r})"
        )
    if not timeline:
        raise ApiError(400, "speakers_need_timeline", "speakers= names the voices of a timeline's segments: add timeline=true")
    if not vad:
        raise ApiError(400, "speakers_need_vad", "speakers= cuts turns within detected speech: it cannot be used with vad=false")
    return voices


def _check_can_adapt(recognizer: Recognizer) -> None:
    if not recognizer.can_adapt:
        raise ApiError(
            422, "cannot_adapt",
            "this server's model cannot adapt to a speaker (its graph outputs scores, not an embedding): "
            "profiles and adapt=true need an adaptable model",
        )


def _profile_field(text: str | None, recognizer: Recognizer) -> SpeakerProfile | None:
    """The speaker profile in the form field ``profile`` (None without one); `ApiError` 422
    ``invalid_profile`` when it is not a profile's JSON, 422 ``cannot_adapt`` when the model
    cannot use one. Whether it belongs to this model is checked when it is used."""
    if text is None:
        return None
    _check_can_adapt(recognizer)
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(422, "invalid_profile", f"{PROFILE_FIELD}: not JSON; send the JSON that /v1/enroll returns") from None
    try:
        return SpeakerProfile.from_dict(data, PROFILE_FIELD)
    except ProfileError as exc:
        raise ApiError(422, "invalid_profile", str(exc)) from None


def _enroll_upload(recognizer: Recognizer, files: list[tuple[str, bytes]], base: SpeakerProfile | None = None) -> dict:
    """The speaker profile of the uploaded clips, added to `base` when given (runs on a worker
    thread); a `ProfileBody`'s body.

    `ApiError`: a clip's loader error (naming it), 413 ``audio_too_long`` when the clips together
    last longer than the recognizer's ``max_duration`` (the service's limit for one upload), 422
    ``no_speech`` when no clip holds speech, 422 ``invalid_profile`` when `base` belongs to
    another model.
    """
    _check_total_duration(files, recognizer.max_duration)
    try:
        profile = recognizer.enroll([data for _, data in files], names=[name for name, _ in files])
    except AudioError as exc:
        raise audio_error(exc) from None
    except ProfileError as exc:
        names = ", ".join(name for name, _ in files)
        raise ApiError(422, "no_speech", f"{names}: {exc}") from None
    if base is not None:
        if base.model != profile.model or base.embedding_sum.shape != profile.embedding_sum.shape:
            raise ApiError(
                422, "invalid_profile",
                f"{PROFILE_FIELD}: the speaker profile belongs to model {base.model!r}, not to {profile.model!r}; enroll again with this model",
            )
        # Sums of clip embeddings: a profile of all the clips together.
        profile = SpeakerProfile(base.embedding_sum + profile.embedding_sum, base.clips + profile.clips, base.speech_s + profile.speech_s, profile.model)
    return profile.to_dict()


def _check_total_duration(files: list[tuple[str, bytes]], limit_s: float | None) -> None:
    """Refuse clips that together last longer than `limit_s` seconds (from their headers where they
    state a length), so that one enrolment costs no more than one upload of the longest length."""
    from ser.audio import duration

    total = 0.0
    for name, data in files:
        try:
            total += duration(data, name=name)
        except AudioError as exc:
            raise audio_error(exc) from None
    if limit_s is not None and total > limit_s:
        raise ApiError(
            413, "audio_too_long", f"the {len(files)} clips last {total:.1f} s together, more than the limit of {limit_s:g} s for one request"
        )


def _predict_upload(recognizer: Recognizer, data: bytes, name: str, options: dict) -> dict:
    """Decode and predict one upload (runs on a worker thread); the body of a `PredictionBody`.

    The recognizer decodes the bytes in blocks (bounded memory whatever the length) and decides
    what is speech: without any, the label is None (JSON null) and its warnings say so; the
    answer is still a 200. Its ``max_duration`` is the service's limit. ``options["speaker"]``
    (a profile) that belongs to another model is a 422 ``invalid_profile``.
    """
    speaker = options.get("speaker")
    try:
        timeline = None
        if options["timeline"]:  # the file's label from the timeline's own scan where they agree
            prediction, timeline = recognizer.predict_with_timeline(
                data, name=name, speaker=speaker, window=options["window"], hop=options["hop"],
                vad=options["vad"], speakers=options.get("speakers"),
            )
        else:
            _, prediction = next(iter(recognizer.predict_files([data], names=[name], on_error="raise", speaker=speaker)))
    except AudioError as exc:
        raise audio_error(exc) from None
    except ProfileError as exc:
        raise ApiError(422, "invalid_profile", f"{PROFILE_FIELD}: {exc}") from None
    # ser.audio refuses samples far past full scale and audio that resamples to nothing; this is
    # the last guard, for whatever else could make the model's scores overflow.
    if not np.isfinite(list(prediction.scores.values())).all():
        raise ApiError(422, "invalid_samples", f"{name}: the model cannot score these samples (its scores are not finite)")
    body = prediction.to_dict()
    if timeline is not None:
        timeline_body = timeline.to_dict()
        body["segments"], body["summary"] = timeline_body["segments"], timeline_body["summary"]
        # e.g. fewer voices found than asked for
        body["warnings"] = list(body.get("warnings", [])) + list(timeline_body.get("warnings", []))
    return body


async def _serve_stream(websocket: WebSocket, recognizer: Recognizer, work: WorkQueue, config: ServeConfig) -> None:
    """One live stream.

    Query parameters (`StreamParams`): ``sample_rate``, ``format`` (int16 | float32), ``window``,
    ``hop``, ``adapt`` (a running profile of the session's speech; each update's prediction then
    says ``adaptation``). The server first sends ``{"type": "ready", ...}``; then each binary message is
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
    try:
        stream = recognizer.stream(sr=params.sample_rate, window=params.window, hop=params.hop, adapt=params.adapt)
    except ModelError:
        await _ws_error(
            websocket, WS_POLICY, "cannot_adapt",
            "this server's model cannot adapt to a speaker (its graph outputs scores, not an embedding): connect without adapt=true",
        )
        return
    samples = _PcmDecoder(params.format)
    received_s = 0.0
    await websocket.send_json(
        {
            "type": "ready",
            "sample_rate": params.sample_rate,
            "format": params.format,
            "window_s": params.window,
            "hop_s": params.hop,
            "adapt": params.adapt,
            "labels": recognizer.labels,
            "max_stream_s": config.max_stream_s,
        }
    )
    now = time.monotonic()
    closes_at = now + config.max_stream_s  # wall time, whatever the audio
    idle_at = now + config.stream_idle_s
    while True:
        now = time.monotonic()
        if now >= closes_at:
            await _ws_error(websocket, WS_POLICY, "stream_too_long", f"the stream passed the limit of {config.max_stream_s:g} s")
            return
        try:
            message = await asyncio.wait_for(websocket.receive(), max(0.0, min(idle_at, closes_at) - now))
        except asyncio.TimeoutError:
            if time.monotonic() < idle_at:
                continue  # the wall-time limit: said at the top of the loop
            await _ws_error(
                websocket, WS_POLICY, "idle",
                f"too little audio: the stream fell {config.stream_idle_s:g} s behind real time; closing it",
            )
            return
        if message["type"] == "websocket.disconnect":
            return
        data, text = message.get("bytes"), message.get("text")
        if data is not None:
            if len(data) > config.max_message_bytes:
                await _ws_error(websocket, WS_TOO_BIG, "message_too_large", f"an audio message of {len(data)} bytes is more than the limit of {config.max_message_bytes}")
                return
            try:
                chunk = samples.decode(data)
            except ValueError as exc:
                await _ws_error(websocket, WS_BAD_DATA, "invalid_samples", f"the audio message cannot be used: {exc}")
                return
            seconds = chunk.shape[0] / params.sample_rate
            received_s += seconds
            if received_s > config.max_stream_s:
                await _ws_error(websocket, WS_POLICY, "stream_too_long", f"the stream passed the limit of {config.max_stream_s:g} s of audio")
                return
            # Audio buys its own duration of wall time, up to the idle limit from now.
            idle_at = min(max(idle_at, time.monotonic()) + seconds, time.monotonic() + config.stream_idle_s)
            try:
                updates = await work.run_live(stream.feed, chunk)
            except ValueError as exc:
                await _ws_error(websocket, WS_BAD_DATA, "invalid_samples", f"the audio message cannot be used: {exc}")
                return
            if not await _send_updates(websocket, updates):
                return
        elif _message_type(text) == "end":
            if not await _send_updates(websocket, await work.run_live(stream.flush)):
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


class _PcmDecoder:
    """Little-endian PCM bytes of one format -> samples, checked as an upload's are.

    A message may end inside a sample; its bytes wait for the next message.
    """

    def __init__(self, format: str):
        self.dtype = np.dtype("<i2" if format == "int16" else "<f4")
        self._pending = b""

    def decode(self, data: bytes) -> np.ndarray:
        """The whole samples of `pending + data` (int16 or float32); ValueError for NaN, infinite
        or far out-of-range float samples (beyond ±`ser.audio.MAX_PEAK`, as REST refuses them)."""
        data = self._pending + data
        usable = len(data) - len(data) % self.dtype.itemsize
        self._pending = data[usable:]
        samples = np.frombuffer(data[:usable], dtype=self.dtype)
        if self.dtype.kind == "f" and samples.size:
            if not np.isfinite(samples).all():
                raise ValueError("it holds NaN or infinite samples")
            peak = float(np.abs(samples).max())
            if peak > MAX_PEAK:
                raise ValueError(f"float32 samples must lie in [-1, 1]; this message reaches {peak:.3g}, far beyond full scale")
        return samples.astype(np.int16 if self.dtype.kind == "i" else np.float32)


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
