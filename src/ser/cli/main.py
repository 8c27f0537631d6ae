"""Entry point of the ``ser`` console script."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SerError as exc:
        print(f"ser: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ser: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _version() -> str:
    from ser import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
