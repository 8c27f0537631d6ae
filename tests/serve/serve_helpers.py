"""Helpers of the service tests (importable from every test module here)."""

from __future__ import annotations

import io
import socket
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_helpers import LABELS, SR, export_tiny, real_speech, write_adaptable_model, write_config  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

__all__ = ["LABELS", "SR", "EXAMPLES", "REPO", "wav_bytes", "real_speech", "export_tiny", "write_config",
           "write_adaptable_model", "running_server"]


def wav_bytes(signal: np.ndarray, sr: int = SR, subtype: str = "PCM_16", format: str = "WAV") -> bytes:
    """`signal` encoded as a sound file (WAV by default), in memory."""
    buffer = io.BytesIO()
    sf.write(buffer, signal, sr, subtype=subtype, format=format)
    return buffer.getvalue()


@contextmanager
def running_server(app) -> Iterator[str]:
    """`app` served by uvicorn with the guards of ``ser serve`` (`ser.serve.server`), on a free
    loopback port, in a thread; yields its URL."""
    import uvicorn

    from ser.serve.server import uvicorn_config

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(600):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()
