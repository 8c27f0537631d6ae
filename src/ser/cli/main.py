"""Entry point of the ``ser`` console script."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from contextlib import contextmanager
from typing import Iterator

import ser.cli
from ser.errors import SerError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ser",
        description="Speech emotion recognition: predict, index corpora, train, evaluate, serve.",
    )
    parser.add_argument("--version", action="version", version=f"ser {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Every module in ser.cli with a `register` function is a command group; ORDER sorts --help.
    modules = []
    for info in pkgutil.iter_modules(ser.cli.__path__):
        if info.name in ("main",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ser.cli.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(subparsers)
    return parser


# Options whose value is a regular expression: one that starts with "-" (RAVDESS's actor is
# `-(\d\d)$`) would otherwise be taken by argparse for an option and refused as a missing value.
_PATTERN_OPTIONS = ("--speaker-pattern",)


def _attach_pattern_values(argv: list[str]) -> list[str]:
    """``[..., "--speaker-pattern", "-(\\d+)$"]`` -> ``[..., "--speaker-pattern=-(\\d+)$"]``."""
    out: list[str] = []
    for token in argv:
        if out and out[-1] in _PATTERN_OPTIONS and token.startswith("-") and not token.startswith("--"):
            out[-1] = f"{out[-1]}={token}"
        else:
            out.append(token)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_pattern_values(sys.argv[1:] if argv is None else list(argv)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with _logging_to_stderr():
            return int(args.func(args) or 0)
    except SerError as exc:
        print(f"ser: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ser: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (a redirected or captured stream)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Formatter(logging.Formatter):
    """``ser: message`` for information, ``ser: WARNING: message`` for anything worse."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"ser: {text}" if record.levelno <= logging.INFO else f"ser: {record.levelname}: {text}"


@contextmanager
def _logging_to_stderr(level: int = logging.INFO) -> Iterator[None]:
    """The library logs (``logging.getLogger(__name__)``); while a command runs, its ``ser.*``
    records at `level` and above are printed on stderr. Undone afterwards, so calling `main`
    from Python leaves the caller's logging as it was."""
    logger = logging.getLogger("ser")
    handler = _StderrHandler()
    handler.setFormatter(_Formatter("%(message)s"))
    handler.setLevel(level)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _version() -> str:
    from ser import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
