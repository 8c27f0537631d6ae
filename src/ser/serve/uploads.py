"""Reading an upload within limits, and the HTTP status of everything that can be wrong with it.

An upload is either a multipart form with the audio in a file field (``file``, as a browser form
sends it) or the raw audio as the request body. The body is read as it arrives and refused as
soon as it passes the size limit, so a huge upload never sits in memory whole; a declared
``Content-Length`` above the limit is refused before anything is read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import AsyncIterator

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from ser.audio import (
    AudioError,
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    InvalidSamplesError,
    NoSamplesError,
    NotAudioError,
)
from ser.errors import SerError

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
FILE_FIELD = "file"
# Raw bodies are taken as audio under these types (and with none at all); the loader recognises
# the format from the content, never from the type. MediaRecorder labels WebM/MP4 as video/*.
RAW_TYPES = ("audio/", "video/", "application/octet-stream", "application/ogg")


class ApiError(SerError):
    """A request the service refuses: HTTP `status`, a stable `code` and a message naming the input."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


# Most specific first: the status and code of each loader error.
_AUDIO_ERRORS: list[tuple[type[AudioError], int, str]] = [
    (EmptyAudioError, 400, "empty_audio"),
    (NotAudioError, 415, "not_audio"),
    (AudioTooLongError, 413, "audio_too_long"),
    (CorruptAudioError, 422, "corrupt_audio"),
    (NoSamplesError, 422, "no_samples"),
    (InvalidSamplesError, 422, "invalid_samples"),
]


def audio_error(exc: AudioError) -> ApiError:
    """The `ApiError` answering a loader error (4xx, the loader's own message)."""
    for kind, status, code in _AUDIO_ERRORS:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc))
    return ApiError(422, "bad_audio", str(exc))


@dataclass
class Upload:
    """The audio of a request: its first file's bytes and the name to use for them in messages,
    every file as ``(name, bytes)`` in form order, and the form's text fields (none for a raw body)."""

    data: bytes
    name: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.files:
            self.files = [(self.name, self.data)]


class ReceiveBudget:
    """Bytes of uploads being received at once, over all connections (one event loop, no lock).

    Uploads take their admitted place only once received whole, so this bounds the memory of the
    ones still arriving: a client must really send bytes to use it, and a slow one uses little.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> None:
        """Count `n` more bytes, or raise a 503 `ApiError` when that would pass the limit."""
        if self.used + n > self.limit:
            raise ApiError(
                503,
                "busy",
                f"the server is receiving too many uploads at once ({self.used / 2**20:.1f} MiB of the "
                f"{self.limit / 2**20:.1f} MiB it buffers); retry shortly",
                headers={"Retry-After": "1"},
            )
        self.used += n

    def give(self, n: int) -> None:
        self.used -= n


async def read_upload(
    request: Request,
    max_bytes: int,
    *,
    timeout_s: float,
    idle_s: float,
    budget: ReceiveBudget | None = None,
    max_files: int = 1,
) -> Upload:
    """The audio of `request`, read within `max_bytes` (multipart or raw body; all files
    together), in time and within the shared `budget` of bytes being received (none: no shared
    limit); a form may hold up to `max_files` files (more: 400 ``bad_multipart``).

    The whole body must arrive within `timeout_s` seconds, and no pause between its pieces may
    last `idle_s` seconds, so that a client sending a few bytes now and then cannot keep a
    connection (and the memory of a partial upload) for long. Raises `ApiError`: 408 past
    either time limit, 413 past the size limit, 415 for a content type that is neither
    multipart nor audio, 400 for an empty body, a form without a file, a form cut off before
    its closing boundary, or a malformed form or header, 503 when the budget is spent.
    """
    try:
        return await asyncio.wait_for(_read(request, max_bytes, idle_s, budget, max_files), timeout_s)
    except asyncio.TimeoutError:
        raise ApiError(408, "upload_timeout", f"the upload was not received within {timeout_s:g} s") from None


async def _read(request: Request, max_bytes: int, idle_s: float, budget: ReceiveBudget | None, max_files: int) -> Upload:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    multipart = media_type == "multipart/form-data"
    if media_type and not multipart and not media_type.startswith(RAW_TYPES):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"unsupported content type {media_type!r}: send the audio as multipart/form-data "
            f"(field {FILE_FIELD!r}) or as the raw request body (audio/*, video/* or application/octet-stream)",
        )
    limit = max_bytes + (MULTIPART_OVERHEAD if multipart else 0)
    _check_declared_length(request, limit, max_bytes)
    body = _limited(request, limit, max_bytes, idle_s, budget)
    if multipart:
        return await _read_form(request, body, max_files)
    data = bytearray()
    async for chunk in body:
        data += chunk
    if not data:
        raise ApiError(400, "empty_body", "the request body is empty: send the audio file as the body or in a multipart form")
    return Upload(bytes(data), "upload")


def _check_declared_length(request: Request, limit: int, max_bytes: int) -> None:
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise ApiError(400, "bad_content_length", f"the Content-Length header {declared!r} is not a number of bytes")
    if int(declared) > limit:
        raise _too_large(max_bytes, f"declares {int(declared)} bytes")


async def _limited(
    request: Request, limit: int, max_bytes: int, idle_s: float, budget: ReceiveBudget | None
) -> AsyncIterator[bytes]:
    total = 0
    chunks = request.stream().__aiter__()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), idle_s)
            except StopAsyncIteration:
                return
            except asyncio.TimeoutError:
                raise ApiError(408, "upload_timeout", f"the upload stalled: nothing arrived for {idle_s:g} s") from None
            if total + len(chunk) > limit:
                raise _too_large(max_bytes, f"passed {limit} bytes")
            if budget is not None:
                budget.take(len(chunk))
            total += len(chunk)
            yield chunk
    except ClientDisconnect:
        raise ApiError(400, "client_disconnect", "the client disconnected before the upload was complete") from None
    finally:
        if budget is not None:  # received whole (or refused): the admitted place covers it from now on
            budget.give(total)


class _ClosingSeen:
    """Passes a multipart body through and notes whether its closing delimiter (``--boundary--``) went by."""

    def __init__(self, body: AsyncIterator[bytes], boundary: bytes):
        self.body = body
        self.delimiter = b"--" + boundary + b"--"
        self.seen = False
        self._tail = b""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.body:
            # The delimiter may straddle two chunks: look in the end of the last one too.
            if not self.seen and self.delimiter in self._tail + chunk:
                self.seen = True
            self._tail = chunk[-len(self.delimiter) :]
            yield chunk


async def _read_form(request: Request, body: AsyncIterator[bytes], max_files: int) -> Upload:
    _, options = parse_options_header(request.headers.get("content-type", ""))
    watched = _ClosingSeen(body, options.get(b"boundary", b""))
    parser = MultiPartParser(request.headers, watched.__aiter__(), max_files=max_files, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(400, "bad_multipart", f"the multipart form cannot be parsed ({exc.message})") from None
    try:
        if not watched.seen:
            raise ApiError(
                400,
                "truncated_multipart",
                "the multipart form ends before its closing boundary: the upload was cut off (or the form is malformed)",
            )
        # The file field first; files sent under other field names are accepted too.
        items = sorted(form.multi_items(), key=lambda item: item[0] != FILE_FIELD)
        uploads = [value for _, value in items if isinstance(value, UploadFile)]
        if not uploads:
            raise ApiError(400, "no_file", f"the form holds no file: send the audio in a file field named {FILE_FIELD!r}")
        files = []
        for upload in uploads:
            data = await upload.read()
            name = upload.filename or "upload"
            if not data:
                raise ApiError(400, "empty_audio", f"{name}: the file is empty (0 bytes)")
            files.append((name, data))
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        return Upload(files[0][1], files[0][0], files, fields)
    finally:
        await form.close()


def _too_large(max_bytes: int, what: str) -> ApiError:
    return ApiError(
        413, "upload_too_large", f"the upload {what}, more than the limit of {max_bytes} bytes ({max_bytes / 2**20:.1f} MiB)"
    )
