"""``ser data corpora`` and ``ser data download`` (registered by ser.cli.data)."""


def register(subparsers) -> None:
    pass
