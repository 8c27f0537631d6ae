"""The REST service and the web page (FastAPI): ``ser serve``, or ``create_app`` for your own server.

    from ser.serve import create_app
    app = create_app(model="path/to/model")      # uvicorn, gunicorn... serve `app`

Needs the ``serve`` extra (fastapi, uvicorn, python-multipart, websockets).
"""

from __future__ import annotations

__all__ = ["create_app", "ServeConfig"]


def __getattr__(name: str):
    # Lazy, so that `import ser.serve` works (and says what is missing) without fastapi installed.
    if name in __all__:
        from ser.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'ser.serve' has no attribute {name!r}")
