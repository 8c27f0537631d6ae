"""``ser data``: index corpora into manifests, describe them, list readers, download corpora."""

from __future__ import annotations

ORDER = 20


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="index, describe, plot and download corpora")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: data.print_help() or 2)

    # `data corpora` and `data download` live beside the download code.
    from ser.cli import _catalog

    _catalog.register(sub)
