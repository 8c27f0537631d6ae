"""matplotlib for ser's pictures: one way to make a figure and one way to write it as a PNG.

Figures are plain ``matplotlib.figure.Figure`` objects, never pyplot's: no backend is chosen or
switched (a notebook's inline backend stays as it was), no global figure list to close, and
drawing is safe on several threads. matplotlib is optional (the ``plot`` and ``train`` extras)
and imported only when a figure is made.

    >>> import pathlib, tempfile
    >>> fig = figure(figsize=(2, 2))
    >>> _ = fig.subplots().plot([0, 1], [1, 0])
    >>> path = save_png(fig, pathlib.Path(tempfile.mkdtemp()) / "line.png")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ser.errors import SerError
from ser.files import atomic_write


class PlottingUnavailable(SerError, ImportError):
    """matplotlib is not installed. A `SerError`, so the CLI prints its message; an `ImportError`,
    so code that draws only when it can (``except ImportError``) leaves the picture out."""


def figure(**options: Any):
    """A new ``matplotlib.figure.Figure(**options)`` (e.g. ``figsize=(6, 4)``, ``layout="constrained"``).

    Raises `PlottingUnavailable` when matplotlib is not installed.
    """
    try:
        import matplotlib  # noqa: F401  (the package itself: its submodules may be cached without it)
        from matplotlib.figure import Figure
    except ImportError:
        raise PlottingUnavailable("drawing pictures needs matplotlib: pip install 'ser[plot]'") from None
    return Figure(**options)


def save_png(fig, path: str | os.PathLike, *, dpi: int = 120, tight: bool = True) -> Path:
    """Write `fig` to `path` as a PNG, whole or not at all (`ser.files.atomic_write`); returns the path.

    `tight` crops the white margin (``bbox_inches="tight"``); leave it False for a figure laid out
    with ``layout="constrained"``, which already fits its canvas.
    """
    target = Path(path)
    with atomic_write(target, "wb") as handle:
        fig.savefig(handle, format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    return target
