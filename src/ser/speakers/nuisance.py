"""Directions of one voice's variation removed from the voice embeddings (nuisance attribute projection).

    >>> import numpy as np
    >>> windows = np.abs(np.random.default_rng(0).standard_normal((5, 256)))  # VoiceEncoder embeddings
    >>> nuisance = Nuisance.shipped()            # or Nuisance.learn(embeddings, speakers, k=10)
    >>> nuisance.apply(windows).shape            # centred, 10 directions removed, unit rows
    (5, 256)

Within one recording, windows of one speaker in different emotions can lie as far apart as two
speakers of the same gender, and clustering then splits the recording by emotion instead of by
voice. The directions along which one speaker's windows vary most (the leading eigenvectors of
the within-speaker scatter, learned on speakers with known labels) carry mostly that variation:
mood, loudness, what is being said. Subtracting the mean embedding and projecting those
directions out ("nuisance attribute projection", Solomonoff et al. 2005) leaves the directions
in which speakers differ. Numpy only: a [256] mean and [256, k] orthonormal directions.

The shipped projection (``ser/pretrained/speaker/nuisance.npz``) was learned by
``benchmarks/speakers.py --parts nuisance`` on windows of conversations built from the *tuning*
half of the speakers of ``../shared``'s corpora only; the file records how (`Nuisance.about`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ser.errors import ModelError
from ser.speakers.embedding import SpeakerError, unit_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Nuisance:
    """A projection of voice embeddings: centre on `mean` [d], remove `directions` [d, k].

    about : where the projection came from (data, speakers, k), as saved with it.
    """

    mean: np.ndarray
    directions: np.ndarray
    about: dict = field(default_factory=dict)

    def apply(self, embeddings: np.ndarray) -> np.ndarray:
        """Embeddings [n, d] centred, with the nuisance directions removed, scaled to unit length
        (float32 [n, d]; cosine similarities then lie in [-1, 1])."""
        centred = np.asarray(embeddings, dtype=np.float64) - self.mean
        return unit_rows(centred - (centred @ self.directions) @ self.directions.T)

    @classmethod
    def learn(cls, embeddings: np.ndarray, speakers, k: int, about: dict | None = None) -> "Nuisance":
        """The `k` leading directions of the within-speaker scatter of `embeddings` [n, d], whose
        rows belong to `speakers` [n] (any labels; at least two speakers)."""
        embeddings = np.asarray(embeddings, dtype=np.float64)
        speakers = np.asarray(speakers)
        if embeddings.ndim != 2 or speakers.shape != (embeddings.shape[0],):
            raise SpeakerError(f"embeddings [n, d] and speakers [n] expected, got {embeddings.shape} and {speakers.shape}")
        names = np.unique(speakers)
        if names.shape[0] < 2 or not 0 < k < embeddings.shape[1]:
            raise SpeakerError(f"need two or more speakers and 0 < k < {embeddings.shape[1]}, got {names.shape[0]} and k={k}")
        scatter = np.zeros((embeddings.shape[1],) * 2)
        for name in names:
            own = embeddings[speakers == name]
            own = own - own.mean(axis=0)
            scatter += own.T @ own
        values, vectors = np.linalg.eigh(scatter)  # ascending
        info = {"k": int(k), "windows": int(embeddings.shape[0]), "speakers": int(names.shape[0]),
                "within_variance_removed": round(float(values[::-1][:k].sum() / values.sum()), 4)}
        directions = vectors[:, ::-1][:, :k].astype(np.float32)
        return cls(embeddings.mean(axis=0).astype(np.float32), directions, {**info, **(about or {})})

    def save(self, path: str | os.PathLike) -> None:
        """Write an .npz (mean, directions, about as JSON) atomically."""
        from ser.files import atomic_write

        with atomic_write(path, "wb") as handle:
            np.savez(handle, mean=self.mean, directions=self.directions, about=np.asarray(json.dumps(self.about, sort_keys=True)))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Nuisance":
        """Read a file written by `save`; a ModelError names a missing or malformed one."""
        try:
            with np.load(path) as stored:
                mean, directions = stored["mean"].astype(np.float64), stored["directions"].astype(np.float64)
                about = json.loads(str(stored["about"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{path}: not a readable nuisance projection ({exc})") from exc
        if mean.ndim != 1 or directions.ndim != 2 or directions.shape[0] != mean.shape[0]:
            raise ModelError(f"{path}: mean {mean.shape} and directions {directions.shape} do not fit together")
        return cls(mean, directions, about)

    @staticmethod
    @functools.lru_cache(maxsize=1)
    def shipped() -> "Nuisance":
        """The projection shipped with `ser`, read once per process."""
        return Nuisance.load(default_path())


def default_path() -> Path:
    """The shipped projection inside the installed package."""
    return Path(str(resources.files("ser") / "pretrained" / "speaker" / "nuisance.npz"))
