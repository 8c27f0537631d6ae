"""From a config's data section to arrays: rows with a target, labels, cached features, examples.

The split comes first and everything else follows it: `FeatureStore.examples` builds a set of
examples from row indices that the caller took from one side of a fold, and augmented copies
are only ever made of the indices it is given (the training side). Every example remembers the
row it came from (``Examples.rows``), so the trainer can report exactly which clips, and hence
which speakers, it learnt from.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ser.errors import SerError
from ser.labels import EMOTIONS, OTHER, TARGET_COLUMN, UNLABELLED, class_of, target_label
from ser.manifest import Utterance
from ser.training.config import DataConfig, ExperimentConfig

RATED = "rated"  # the class of every row of a regression task (nothing to stratify on)
FRAMES_VERSION = 1  # bump when the frame pipeline here (not ser.features) changes values


# --------------------------------------------------------------------------------------------
# Rows and targets


def load_rows(data: DataConfig) -> list[Utterance]:
    """The labelled utterances of the manifest and/or corpora, each with its target label.

    The target (``angry``, ``female_angry``, ``male``, ...; after ``data.relabel``) goes in the
    ``target`` column (`ser.labels.TARGET_COLUMN`), which the splits stratify on and the models
    learn (`ser.labels.class_of`); ``emotion`` keeps the corpus' emotion. Rows that have no
    value for the target (unlabelled, ``other`` unless asked for, unknown gender for a gender
    target, an emotion outside ``data.emotions``) are left out.
    """
    from ser.manifest import read_manifest

    rows: list[Utterance] = []
    if data.manifest:
        if not Path(data.manifest).is_file():
            raise SerError(f"data.manifest: {data.manifest}: manifest not found")
        rows += read_manifest(data.manifest)
    if data.corpora:
        from ser.corpora import prepare

        for reader, folder in data.corpora.items():
            if not Path(folder).exists():
                raise SerError(f"data.corpora.{reader}: {folder}: no such corpus folder")
            rows += prepare(reader, folder).utterances
    _refuse_duplicates(rows)
    if data.task == "regression":
        return _rated_rows(rows, data.dimensions)
    keep = set(data.emotions) if data.emotions is not None else None
    out = []
    for row in rows:
        emotion = data.relabel.get(row.emotion, row.emotion)
        if emotion == UNLABELLED or (keep is None and emotion == OTHER) or (keep is not None and emotion not in keep):
            continue
        target = target_label(row, data.target, emotion)
        if target:
            out.append(replace(row, extra={**row.extra, TARGET_COLUMN: target}))
    if not out:
        raise SerError(f"data: no labelled clips for target {data.target!r} (check data.emotions and the manifest)")
    return out


def _rated_rows(rows: Sequence[Utterance], dimensions: Sequence[str]) -> list[Utterance]:
    """Rows rated on every one of `dimensions` (regression); their class is ``rated`` for the splits."""
    from ser.manifest import dimension

    out = [replace(row, extra={**row.extra, TARGET_COLUMN: RATED}) for row in rows
           if all(dimension(row, name) is not None for name in dimensions)]
    if not out:
        raise SerError(f"data: no clips rated for {', '.join(dimensions)} (the manifest's columns of those names)")
    return out


def _refuse_duplicates(rows: Sequence[Utterance]) -> None:
    """A clip listed twice (a manifest and the corpus it was made from) would be counted twice,
    and could land on both sides of a split."""
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        key = os.path.realpath(row.path)
        if key in seen:
            raise SerError(
                f"data: {row.path} is listed twice (rows {seen[key] + 1} and {i + 1} of the manifest and corpora "
                "together); give data.manifest or data.corpora, not both for the same clips"
            )
        seen[key] = i


def label_order(rows: Sequence[Utterance], target: str) -> list[str]:
    """The class names in output order: the vocabulary's order for emotions, alphabetical otherwise."""
    present = {class_of(row) for row in rows}
    if target == "emotion":
        order = [e for e in (*EMOTIONS, OTHER) if e in present]
        return order + sorted(present - set(order))
    return sorted(present)


# --------------------------------------------------------------------------------------------
# Feature extraction (module-level functions: worker processes pickle them)


def spectral_frames(signal: np.ndarray, config) -> np.ndarray:
    """`ser.features.spectral.extract_frames`: [T, F] float32."""
    from ser.features.spectral import extract_frames

    return extract_frames(signal, config)


def egemaps_vector(signal: np.ndarray) -> np.ndarray:
    """`ser.features.egemaps.extract_egemaps`: [88] float32."""
    from ser.features.egemaps import extract_egemaps

    return extract_egemaps(signal)


@lru_cache(maxsize=4)
def _augmenter(config):
    from ser.augment import make_augmenter

    return make_augmenter(config)


def augment_seed(signal: np.ndarray, copy: int, seed: int) -> int:
    """The seed of copy number `copy` of a clip: fixed by its samples, the copy and the config seed.

    Tied to the content (not the clip's position in a list) so that a cached augmented copy
    is the same whichever fold or run asks for it.
    """
    crc = zlib.crc32(np.ascontiguousarray(signal, dtype=np.float32).tobytes())
    return int(np.random.SeedSequence([crc, copy, seed]).generate_state(1)[0])


def augmented(signal: np.ndarray, extractor: Callable, augment_config, copy: int) -> np.ndarray:
    """`extractor` of copy `copy` of the augmented `signal` (`ser.augment.Augmenter`)."""
    seed = augment_seed(signal, copy, augment_config.seed)
    return extractor(_augmenter(augment_config)(signal, 16000, seed=seed))


def _digest(payload) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Examples


@dataclass
class Examples:
    """Inputs of one side of a split, with where each came from.

    x : frames models: a list of [T_i, F] float32 arrays; pooled models: [N, F] float32.
    y : [N] int64 class indices ([N, D] float32 ratings for a regression task).
    rows : [N] int64, the row (of the list the store was built on) each example comes from.
    augmented : [N] bool, True for augmented copies.
    """

    x: list[np.ndarray] | np.ndarray
    y: np.ndarray
    rows: np.ndarray
    augmented: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


class FeatureStore:
    """Features of `rows`, computed once (disk cache, then memory) and handed out by row index.

    Parameters
    ----------
    rows : the target rows (`load_rows`).
    labels : class names; every row's class (`ser.labels.class_of`) must be one of them. For a
        regression task, the dimensions, and ``y`` is [N, D] float32.
    config : the experiment config (features, preprocess, augment, model kind).
    pooled : one vector per clip (classic models) rather than frame sequences.
    """

    def __init__(self, rows: Sequence[Utterance], labels: Sequence[str], config: ExperimentConfig,
                 pooled: bool, progress: bool = True):
        self.rows = list(rows)
        self.labels = list(labels)
        self.progress = progress
        self._memory: dict[tuple, np.ndarray] = {}
        self.configure(config, pooled)
        if config.data.task == "regression":  # [N, D] float32 ratings on [-1, 1], D = len(labels)
            from ser.manifest import dimension

            self.y = np.array([[dimension(row, name) for name in self.labels] for row in self.rows], dtype=np.float32)
            return
        index = {label: i for i, label in enumerate(self.labels)}
        try:
            self.y = np.array([index[class_of(row)] for row in self.rows], dtype=np.int64)
        except KeyError as exc:
            raise SerError(f"label {exc.args[0]!r} is not among the model's labels {self.labels}") from None

    def configure(self, config: ExperimentConfig, pooled: bool) -> None:
        """Switch to another feature/augment config (tuning trials); memory is kept per setting."""
        self.config = config
        self.pooled = pooled
        self.feature_config = config.features.feature_config()
        self.preprocess = config.preprocess_config()

    # -- what is computed, and under which cache key

    def _extractor(self) -> tuple[Callable, str]:
        if self.config.features.kind == "egemaps":
            import opensmile

            return egemaps_vector, f"egemaps-v02-{opensmile.__version__}"
        return partial(spectral_frames, config=self.feature_config), f"frames{FRAMES_VERSION}-{self.feature_config.key()}"

    def _compute(self, indices: Sequence[int], copy: int | None) -> list[np.ndarray]:
        from ser.features.cache import compute_features

        extractor, key = self._extractor()
        desc = "features"
        if copy is not None:
            import audiomentations

            aug = self.config.augment.augment_config()
            extractor = partial(augmented, extractor=extractor, augment_config=aug, copy=copy)
            key = f"{key}-aug{_digest([aug.to_dict(), audiomentations.__version__])}-c{copy}"
            desc = f"augmented copy {copy + 1}"
        memo = (key, self.preprocess.key(), self.pooled, self.config.features.max_frames)
        todo = [i for i in dict.fromkeys(indices) if (memo, i) not in self._memory]
        if todo:
            arrays = compute_features(
                [self.rows[i].path for i in todo], extractor, key, self.config.features.cache_dir,
                n_jobs=self.config.features.n_jobs, preprocess=None if self.preprocess.is_identity else self.preprocess,
                desc=desc, progress=self.progress,
            )
            for i, array in zip(todo, arrays):
                self._memory[(memo, i)] = self._shape(array)
        return [self._memory[(memo, i)] for i in indices]

    def _shape(self, array: np.ndarray) -> np.ndarray:
        """What a model gets from a cached array: pooled statistics, or frames cut to max_frames."""
        if self.config.features.kind == "egemaps":
            return np.asarray(array, dtype=np.float32).reshape(-1)
        if self.pooled:
            from ser.features.spectral import pool

            return pool(array, self.feature_config.stats)
        return crop_middle(np.asarray(array, dtype=np.float32), self.config.features.max_frames)

    def examples(self, indices: Sequence[int], augment: bool = False) -> Examples:
        """Examples of rows `indices`; with `augment`, plus ``augment.copies`` augmented copies of each.

        Only pass ``augment=True`` for the training side of a split.
        """
        indices = [int(i) for i in indices]
        arrays = self._compute(indices, None)
        rows, flags = list(indices), [False] * len(indices)
        if augment and self.config.augment.enabled:
            for copy in range(self.config.augment.copies):
                arrays += self._compute(indices, copy)
                rows += indices
                flags += [True] * len(indices)
        rows_arr = np.array(rows, dtype=np.int64)
        x = np.stack(arrays).astype(np.float32) if self.pooled else arrays
        return Examples(x=x, y=self.y[rows_arr], rows=rows_arr, augmented=np.array(flags, dtype=bool))

    def n_features(self) -> int:
        """Input width of the model (computes the first clip's features if needed)."""
        return int(self._compute([0], None)[0].shape[-1])


def crop_middle(frames: np.ndarray, max_frames: int) -> np.ndarray:
    """The middle `max_frames` rows of [T, F] (all of them when T <= max_frames)."""
    extra = frames.shape[0] - max_frames
    if extra <= 0:
        return frames
    start = extra // 2
    return frames[start : start + max_frames]


# --------------------------------------------------------------------------------------------
# Standardisation of frame features


@dataclass
class Normalizer:
    """Per-dimension standardisation fitted on training frames: ``(x - mean) / std``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, arrays: Sequence[np.ndarray]) -> "Normalizer":
        stacked = np.concatenate([np.asarray(a, dtype=np.float64) for a in arrays], axis=0)
        std = stacked.std(axis=0)
        return cls(stacked.mean(axis=0).astype(np.float32), np.where(std > 1e-8, std, 1.0).astype(np.float32))

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return ((frames - self.mean) / self.std).astype(np.float32)

    def save(self, path: str | Path) -> None:
        np.savez(path, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: str | Path) -> "Normalizer":
        with np.load(path) as data:
            return cls(data["mean"], data["std"])
