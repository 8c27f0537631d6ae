"""``ser serve``: the REST API, the live WebSocket stream and the web page, with uvicorn.

    ser serve                                   # http://127.0.0.1:8000, the shipped model
    ser serve --host 0.0.0.0 --port 8080 --model models/mine --workers 2

Needs the ``serve`` extra: ``pip install 'ser[serve]'``.
"""

from __future__ import annotations

import argparse
import os

from ser.cli.predict import _positive_float, _positive_int
from ser.errors import SerError

ORDER = 60


def register(subparsers) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the REST API and the web page (microphone, live emotions)",
        description="Serve POST /v1/predict, GET /v1/health, GET /v1/model, WS /v1/stream and the web page at /.\n"
        "The model is loaded once at start-up; a bad model folder stops here with exit status 2.",
        epilog="examples:\n  ser serve\n  ser serve --host 0.0.0.0 --port 8080 --model models/mine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    serve.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--model", metavar="PATH", default=os.environ.get("SER_MODEL"), help="model folder (default: $SER_MODEL or the shipped model)")
    serve.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="predictions running at once (default 2)")
    serve.add_argument("--threads", type=_positive_int, default=None, metavar="N", help="onnxruntime threads per prediction (default: all cores)")
    serve.add_argument("--max-pending", type=_positive_int, default=None, metavar="N", help="uploads admitted at once (once received whole), running or queued; more get 503 (default 32)")
    serve.add_argument("--max-upload-mb", type=_positive_float, default=None, metavar="MB", help="largest upload (default $SER_MAX_UPLOAD_MB or 25)")
    serve.add_argument("--max-duration", type=_positive_float, default=None, metavar="SECONDS", help="longest audio per upload (default $SER_MAX_DURATION or 600)")
    serve.add_argument("--max-streams", type=_positive_int, default=None, metavar="N", help="live WebSocket streams at once (default 8)")
    serve.add_argument(
        "--max-receiving-mb", type=_positive_float, default=None, metavar="MB",
        help="uploads still arriving that the server buffers at once, over all clients (default 8 x --max-upload-mb; 503 beyond)",
    )
    serve.add_argument(
        "--max-per-client", type=_positive_int, default=None, metavar="N",
        help="connections one client address may hold at once, HTTP and WebSocket (default 16; 429 beyond)",
    )
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"), help="uvicorn's log level")
    serve.set_defaults(func=run_serve)


def build_app(args: argparse.Namespace):
    """The app `ser serve` runs for `args` (the model is loaded here, once)."""
    try:
        from ser.serve.app import ServeConfig, create_app
    except ImportError as exc:
        raise SerError(f"ser serve needs the serve extra (pip install 'ser[serve]'); import failed: {exc}") from None
    from ser.inference.recognizer import Recognizer

    config = ServeConfig.from_env(
        workers=args.workers,
        max_pending=args.max_pending,
        max_upload_bytes=None if args.max_upload_mb is None else int(args.max_upload_mb * 2**20),
        max_duration_s=args.max_duration,
        max_streams=args.max_streams,
        max_connections_per_client=args.max_per_client,
        max_receiving_bytes=None if args.max_receiving_mb is None else int(args.max_receiving_mb * 2**20),
    )
    options = {} if args.threads is None else {"threads": args.threads}
    recognizer = Recognizer.from_pretrained(args.model, max_duration=config.max_duration_s, **options)
    return create_app(recognizer, config=config)


def run_serve(args: argparse.Namespace) -> int:
    app = build_app(args)
    from ser.serve import server

    # uvicorn with the per-connection guards (header deadline, connections per client, JSON errors).
    server.serve(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port (0-65535), got {value}")
    return value
