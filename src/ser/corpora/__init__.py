"""Corpus readers, one small module per corpus, each with a ``prepare_<name>(root)`` function.

    >>> from ser.corpora import prepare
    >>> index = prepare("ravdess", "data/RAVDESS")
    >>> index.utterances[0].emotion
    'neutral'

The registry maps a CLI name to its module; modules are imported only when asked for.
"""

from __future__ import annotations

import importlib

from ser.corpora.base import CorpusIndex, CorpusInfo
from ser.errors import CorpusError

# name -> module under ser.corpora. Each module defines INFO (a CorpusInfo) and prepare_<name>.
_MODULES = {
    "ravdess": "ravdess",
    "cremad": "cremad",
    "tess": "tess",
    "savee": "savee",
    "emodb": "emodb",
    "urdu": "urdu",
    "turevdb": "turevdb",
    "nemo": "nemo",
    "baved": "baved",
    "esd": "esd",
    "jl": "jl",
    "emovdb": "emovdb",
    "asvp": "asvp",
    "folder": "generic",
    "csv": "generic",
    "pattern": "pattern",
}


def names() -> list[str]:
    """The reader names accepted by `prepare` and ``ser data index``."""
    return list(_MODULES)


def info(name: str) -> CorpusInfo:
    """The `CorpusInfo` of reader `name`."""
    module = _module(name)
    infos = getattr(module, "INFOS", None)
    if infos is not None:  # a module serving several names (generic: folder and csv)
        return infos[name]
    return module.INFO


def prepare(name: str, root, **options) -> CorpusIndex:
    """Index the corpus `name` unpacked at `root`."""
    return info(name).prepare(root, **options)


def _module(name: str):
    if name not in _MODULES:
        raise CorpusError(f"unknown corpus {name!r}; known: {', '.join(_MODULES)}")
    return importlib.import_module(f"ser.corpora.{_MODULES[name]}")


__all__ = ["CorpusIndex", "CorpusInfo", "info", "names", "prepare"]
