"""A speaker profile: what ser knows of one voice, to judge its emotions against its own usual voice.

    >>> profile = recognizer.enroll(["call1.wav", "call2.wav", "call3.wav"])   # unlabelled clips  # doctest: +SKIP
    >>> profile.save("alice.json")  # doctest: +SKIP
    >>> recognizer("call4.wav", speaker=SpeakerProfile.load("alice.json"))  # doctest: +SKIP

The model judges a voice in absolute terms, so a low, calm voice reads as sad and a bright one as
happy. An adaptable model (its ONNX graph gives the pooled embedding, see docs/predict.md) instead
subtracts the speaker's mean embedding before its head. The profile holds that mean's ingredients,
never audio: the sum of the clips' embeddings, how many clips and seconds of speech they had, and
the model they belong to. With few clips the mean is shrunk toward the training population's,

    centre = (sum of the n clip embeddings + k * population_mean) / (n + k),

so one clip already helps a little and there is no cliff for small groups (the shipped model's
k is 5: with k = 2, profiles of one to three clips did worse than none; benchmarks/accuracy.md).
A profile should come from ordinary speech of the person: one made only of angry clips makes
everything else look less angry (benchmarks/accuracy.md, the skew rows).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ser.errors import SerError
from ser.inference.head import shrunk_centre

PROFILE_FORMAT = "ser-speaker-profile/1"


class ProfileError(SerError):
    """A speaker profile is empty, malformed, or belongs to another model."""


@dataclass
class SpeakerProfile:
    """The running sum of a speaker's clip embeddings (see the module docstring).

    embedding_sum : (D,) sum of the clips' pooled embeddings, float64.
    clips : how many clips were added; speech_s : their seconds of speech.
    model : the fingerprint of the model the embeddings come from (`model_fingerprint`).
    """

    embedding_sum: np.ndarray
    clips: int
    speech_s: float
    model: str

    @classmethod
    def empty(cls, dimension: int, model: str) -> "SpeakerProfile":
        return cls(np.zeros(dimension), 0, 0.0, model)

    def add(self, embedding: np.ndarray, speech_s: float) -> None:
        """Add one clip's embedding (D,) with its seconds of speech."""
        self.embedding_sum = self.embedding_sum + np.asarray(embedding, dtype=np.float64)
        self.clips += 1
        self.speech_s += float(speech_s)

    def centre(self, population_mean: np.ndarray, shrinkage: float) -> np.ndarray:
        """The speaker's mean embedding, shrunk toward `population_mean` by `shrinkage` clips."""
        return shrunk_centre(self.embedding_sum, self.clips, population_mean, shrinkage)

    def to_dict(self) -> dict:
        return {
            "format": PROFILE_FORMAT,
            "model": self.model,
            "clips": self.clips,
            "speech_s": round(self.speech_s, 3),
            "embedding_sum": [float(v) for v in self.embedding_sum],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the profile as JSON (atomically)."""
        from ser.files import atomic_write

        with atomic_write(path, "w") as handle:
            json.dump(self.to_dict(), handle)
            handle.write("\n")
        return Path(path)

    @classmethod
    def from_dict(cls, data: object, name: str = "<profile>") -> "SpeakerProfile":
        """A profile from its JSON form, checked; `ProfileError` names `name` and the problem."""
        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ProfileError(f"{name}: not a ser speaker profile (expected a JSON object with \"format\": \"{PROFILE_FORMAT}\")")
        try:
            embedding = np.asarray(data["embedding_sum"], dtype=np.float64)
            clips, speech_s, model = int(data["clips"]), float(data["speech_s"]), str(data["model"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProfileError(f"{name}: a malformed speaker profile ({exc})") from None
        if embedding.ndim != 1 or not np.isfinite(embedding).all():
            raise ProfileError(f"{name}: embedding_sum must be a list of finite numbers")
        if clips < 1:
            raise ProfileError(f"{name}: the profile is empty (made from no clip with speech)")
        return cls(embedding, clips, speech_s, model)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SpeakerProfile":
        """Read a profile written by `save` (or ``ser enroll``)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ProfileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ProfileError(f"{path}: not JSON; a speaker profile is the JSON file `ser enroll` writes") from None
        return cls.from_dict(data, str(path))


def model_fingerprint(backend) -> str:
    """A short name of the model an embedding comes from: its name and a hash of its head, so a
    profile cannot be used with another model (or another version of the same one)."""
    import hashlib

    digest = hashlib.sha256()
    from ser.inference.head import HEAD_ARRAYS

    for name in sorted(HEAD_ARRAYS):
        digest.update(np.ascontiguousarray(getattr(backend.head, name)).tobytes())
    return f"{backend.name}:{digest.hexdigest()[:12]}"
