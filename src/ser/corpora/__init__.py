"""Corpus readers, one small module per corpus, each with a ``prepare_<name>(root)`` function.

    >>> from ser.corpora import prepare
    >>> index = prepare("ravdess", "data/RAVDESS")  # doctest: +SKIP
    >>> index.utterances[0].emotion  # doctest: +SKIP
    'neutral'

What ser knows about each corpus (licence, homepage, layout, reader, how to get it) is in
`ser.corpora.catalog`; reader modules are imported only when asked for.
"""

from __future__ import annotations

from ser.corpora.base import CorpusIndex
from ser.corpora.catalog import CORPORA, CorpusInfo
from ser.errors import CorpusError


def names() -> list[str]:
    """The reader names accepted by `prepare` and ``ser data index``."""
    return list(CORPORA)


def info(name: str) -> CorpusInfo:
    """The catalogue entry of reader `name`; `CorpusError` for an unknown name."""
    entry = CORPORA.get(name)
    if entry is None:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(names())}")
    return entry


def prepare(name: str, root, **options) -> CorpusIndex:
    """Index the corpus `name` unpacked at `root`."""
    return info(name).prepare(root, **options)


__all__ = ["CorpusIndex", "CorpusInfo", "info", "names", "prepare"]
