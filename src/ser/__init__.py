"""ser: speech emotion recognition.

    >>> from ser import Recognizer  # doctest: +SKIP
    >>> recognizer = Recognizer.from_pretrained()  # doctest: +SKIP
    >>> recognizer("clip.wav").label  # doctest: +SKIP
    'happy'

Attributes are imported on first use, so ``import ser`` stays cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Recognizer": ("ser.inference.recognizer", "Recognizer"),
    "Prediction": ("ser.inference.prediction", "Prediction"),
    "SpeakerProfile": ("ser.inference.profile", "SpeakerProfile"),
    "Timeline": ("ser.inference.timeline", "Timeline"),
    "Stream": ("ser.inference.stream", "Stream"),
    "load_audio": ("ser.audio", "load"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'ser' has no attribute {name!r}")


__all__ = ["Recognizer", "Prediction", "SpeakerProfile", "Timeline", "Stream", "load_audio", "__version__"]
