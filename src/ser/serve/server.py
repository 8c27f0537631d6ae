"""Running the app with uvicorn, guarded per connection against slow and greedy clients.

uvicorn reads a request's headers before the app sees anything, so the limits that must hold
before that live here, in subclasses of uvicorn's HTTP (h11) and WebSocket protocols:

- a connection must deliver a request's complete headers within ``header_timeout_s`` seconds
  (from when it opens, or from its previous answer): 408 ``header_timeout`` and closed beyond;
  and its body within ``upload_timeout_s`` + 1 s (the app itself answers an upload that takes
  too long with 408 ``upload_timeout``; this also bounds bodies that no endpoint reads);
- one client address may hold at most ``max_connections_per_client`` connections (HTTP and
  WebSocket together): one more is answered 429 ``too_many_connections`` and closed at once;
- what uvicorn itself refuses gets the service's JSON error instead of a plain-text page:
  malformed HTTP (``Content-Length: abc``: 400 ``bad_content_length``; anything else, a bad
  WebSocket handshake included: 400 ``bad_request``), and a WebSocket message past the
  protocol's size limit (the JSON ``message_too_large`` error, then close 1009).

The time to send a body is bounded in `ser.serve.uploads` (the app reads it), and a WebSocket's
idle time in `ser.serve.app`.

    from ser.serve.server import serve
    serve(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Close, Frame, Opcode

log = logging.getLogger(__name__)

# Room past the app's own message limit, so that the app (not the protocol) refuses an oversized
# message in the usual case; the protocol's limit stays a bound on memory.
WS_SIZE_MARGIN = 2**16


class ConnectionGuard:
    """The per-address connection counts and the limits of one server (shared by its protocols)."""

    def __init__(self, max_per_client: int, header_timeout_s: float, body_timeout_s: float, max_message_bytes: int):
        self.max_per_client = max_per_client
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.max_message_bytes = max_message_bytes
        self.open: dict[str, int] = {}
        self._warned: dict[str, float] = {}  # host -> when its refusals were last logged

    def warn_refused(self, host: str, every_s: float = 60.0) -> None:
        """Log a refusal of `host`, at most once a minute per address (a flood must not flood the log)."""
        now = time.monotonic()
        if now - self._warned.get(host, -every_s) >= every_s:
            self._warned[host] = now
            log.warning("%s: refusing connections past the limit of %d per client", host, self.max_per_client)

    def enter(self, host: str) -> bool:
        """Count a new connection from `host`; False (not counted) when it has too many already."""
        if self.open.get(host, 0) >= self.max_per_client:
            return False
        self.open[host] = self.open.get(host, 0) + 1
        return True

    def leave(self, host: str) -> None:
        left = self.open.get(host, 0) - 1
        if left > 0:
            self.open[host] = left
        else:
            self.open.pop(host, None)


def json_response(status: int, reason: str, code: str, message: str) -> bytes:
    """A complete HTTP/1.1 response carrying the service's JSON error, closing the connection."""
    body = json.dumps({"error": code, "message": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def guarded_protocols(guard: ConnectionGuard) -> tuple[type, type]:
    """The (HTTP, WebSocket) protocol classes for uvicorn's ``http=`` and ``ws=``, enforcing `guard`."""

    class GuardedWebSocket(WebSocketsSansIOProtocol):
        """uvicorn's WebSocket protocol; counts against the address (taken over from the HTTP
        connection it upgrades) and answers an oversized message with the JSON error."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            accept = self.conn.accept

            def accept_or_refuse_in_json(request):  # websockets refuses a bad handshake in plain text
                response = accept(request)
                if response.status_code != 101:
                    why = response.body.decode("utf-8", "replace").strip()
                    body = json.dumps({"error": "bad_request", "message": f"the WebSocket handshake is not valid ({why})"}).encode()
                    for name in ("Content-Type", "Content-Length"):
                        if name in response.headers:
                            del response.headers[name]
                    response.headers["Content-Type"] = "application/json"
                    response.headers["Content-Length"] = str(len(body))
                    response.body = body
                return response

            self.conn.accept = accept_or_refuse_in_json

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client:
                guard.leave(self.client[0])
            super().connection_lost(exc)

        def handle_handshake_exception(self) -> None:
            self.handshake_complete = True
            self.close_sent = True
            self.conn.data_to_send()  # websockets' plain-text refusal; the JSON error instead
            why = self.conn.handshake_exc
            self.transport.write(
                json_response(400, "Bad Request", "bad_request", f"the WebSocket handshake is not valid ({why})")
            )
            self.transport.close()

        def handle_parser_exception(self) -> None:
            close = self.conn.close_sent
            if close is None or close.code != 1009:
                return super().handle_parser_exception()
            self.conn.data_to_send()  # websockets' own close frame; ours follows the JSON error
            error = {
                "type": "error",
                "error": "message_too_large",
                "message": f"a WebSocket message is more than the limit of {guard.max_message_bytes} bytes",
            }
            self.queue.put_nowait({"type": "websocket.disconnect", "code": 1009, "reason": "message_too_large"})
            self.transport.write(
                Frame(Opcode.TEXT, json.dumps(error).encode()).serialize(mask=False)
                + Frame(Opcode.CLOSE, Close(1009, "message_too_large").serialize()).serialize(mask=False)
            )
            self.close_sent = True
            self.transport.close()

    class GuardedH11(H11Protocol):
        """uvicorn's h11 protocol with a header deadline, a per-address cap and JSON for bad HTTP
        (it upgrades to the ``ws=`` class of the config, `GuardedWebSocket`)."""

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._counted = False
            self._timer: asyncio.TimerHandle | None = None
            self._phase: str | None = None  # "headers" or "body" while the client sends them
            self._upgraded = False
            self._protocol_error = ""
            next_event = self.conn.next_event

            def remembering_next_event():  # uvicorn answers a parse error without saying which
                try:
                    return next_event()
                except h11.RemoteProtocolError as exc:
                    self._protocol_error = str(exc)
                    raise

            self.conn.next_event = remembering_next_event

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else ""
            if not guard.enter(host):
                guard.warn_refused(host)
                transport.write(
                    json_response(
                        429, "Too Many Requests", "too_many_connections",
                        f"too many connections from {host} (the limit is {guard.max_per_client}); close some and retry",
                    )
                )
                transport.close()
                return
            self._counted = True
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            self._set_deadline(None)
            if self._counted:
                self._counted = False
                guard.leave(self.client[0] if self.client else "")
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            self._watch()  # a kept-alive connection's next request starts its header deadline
            super().data_received(data)
            if not self.transport.is_closing():
                self._watch()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self._upgraded = True  # the transport is the WebSocket protocol's now: no more deadlines here
            self._set_deadline(None)
            self._counted = False  # the WebSocket protocol gives the place back when it closes
            super().handle_websocket_upgrade(event)

        def send_400_response(self, msg: str) -> None:
            self._set_deadline(None)
            why = self._protocol_error or msg
            code = "bad_content_length" if "content-length" in why.lower() else "bad_request"
            self.transport.write(json_response(400, "Bad Request", code, f"the request is not valid HTTP/1.1 ({why})"))
            self.transport.close()

        def _watch(self) -> None:
            """Keep the deadline of the phase the client is in: sending headers, then a body."""
            state = self.conn.their_state
            phase = "headers" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
            if self._upgraded:
                phase = None
            if phase != self._phase:
                self._set_deadline(phase)

        def _set_deadline(self, phase: str | None) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._phase = phase
            if phase is not None:
                limit = guard.header_timeout_s if phase == "headers" else guard.body_timeout_s
                self._timer = self.loop.call_later(limit, self._expired, phase)

        def _expired(self, phase: str) -> None:
            self._timer = None
            if self.transport.is_closing() or phase != self._phase:
                return
            if phase == "headers":
                code, message = "header_timeout", f"the request's headers did not arrive within {guard.header_timeout_s:g} s"
            else:  # a body nobody reads (the app answered without it) still may not trickle in for ever
                code, message = "upload_timeout", f"the request's body did not arrive within {guard.body_timeout_s:g} s"
            if phase == "headers" or (self.cycle is not None and not self.cycle.response_started):  # else answered
                self.transport.write(json_response(408, "Request Timeout", code, message))
            self.transport.close()

    return GuardedH11, GuardedWebSocket


def uvicorn_config(app, *, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info", **options: Any):
    """A ``uvicorn.Config`` serving `app` (from `ser.serve.create_app`) with its guards.

    The limits come from ``app.state.config`` (`ser.serve.app.ServeConfig`); `options` go to
    ``uvicorn.Config`` (``ssl_keyfile``...).
    """
    import uvicorn

    config = app.state.config
    # The app bounds the uploads it reads (408 upload_timeout); a second later this closes any body
    # still arriving, such as one sent to an endpoint that answered without reading it.
    guard = ConnectionGuard(
        config.max_connections_per_client, config.header_timeout_s, config.upload_timeout_s + 1.0, config.max_message_bytes
    )
    http, ws = guarded_protocols(guard)
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, http=http, ws=ws,
        ws_max_size=config.max_message_bytes + WS_SIZE_MARGIN, **options,
    )


def serve(app, **options: Any) -> None:
    """Serve `app` until interrupted (see `uvicorn_config` for `options`)."""
    import uvicorn

    uvicorn.Server(uvicorn_config(app, **options)).run()
