"""Features computed from 16 kHz mono signals.

`logmel` (Whisper's front end) is numpy-only and sits on the prediction path; the hand-crafted
features for the classic pipeline (`spectral` statistics, `egemaps`) and the parallel, cached
`compute_features` need the ``train`` extra. The names below are imported on first use, so
``import ser.features`` stays as light as `logmel`.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "FeatureConfig": "spectral",
    "extract_frames": "spectral",
    "extract_pooled": "spectral",
    "feature_dims": "spectral",
    "pool": "spectral",
    "EGEMAPS_DIM": "egemaps",
    "extract_egemaps": "egemaps",
    "FeatureCache": "cache",
    "compute_features": "cache",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
