"""Compute features for many audio files on every core, once: results are cached on disk.

A cached array is found by the SHA-1 of the audio file's bytes (so renaming or moving a corpus
keeps its cache, and editing a file invalidates its entry) and by a key naming everything else
that changes the values: the feature config, the preprocessing and the sample rate. Entries are
``.npy`` files written aside and renamed into place, so an interrupted run leaves no half-written
entry and simply resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ser.audio import SAMPLE_RATE, AudioError, AudioNotFoundError, load
from ser.files import Progress, atomic_write

Extractor = Callable[[np.ndarray], np.ndarray]
_SAFE_KEY = re.compile(r"[A-Za-z0-9_.=+-]{1,100}")


def file_digest(path: str | os.PathLike) -> str:
    """SHA-1 (hex) of a file's bytes; raises `AudioNotFoundError` naming the path if unreadable."""
    digest = hashlib.sha1()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise AudioNotFoundError(str(path), "no such file") from None
    except IsADirectoryError:
        raise AudioNotFoundError(str(path), "not a file") from None
    except OSError as exc:
        raise AudioNotFoundError(str(path), f"cannot be read ({exc.strerror})") from None
    return digest.hexdigest()


class FeatureCache:
    """A directory of ``<key>/<digest[:2]>/<digest>.npy`` arrays.

    ``digest`` is `file_digest` of the audio; ``key`` names the extraction (feature config,
    preprocessing, sample rate). Keys that are not plain file names are hashed.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def path(self, digest: str, key: str) -> Path:
        folder = key if _SAFE_KEY.fullmatch(key) else hashlib.sha1(key.encode()).hexdigest()[:16]
        return self.directory / folder / digest[:2] / f"{digest}.npy"

    def get(self, digest: str, key: str) -> np.ndarray | None:
        """The cached array, or None when absent or unreadable (then it is recomputed)."""
        try:
            return np.load(self.path(digest, key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, digest: str, key: str, array: np.ndarray) -> Path:
        """Store atomically (`ser.files.atomic_write`): a reader sees the whole entry or none."""
        target = self.path(digest, key)
        with atomic_write(target, "wb") as out:
            np.save(out, np.asarray(array), allow_pickle=False)
        return target


def cache_key(key: str, preprocess=None, sr: int = SAMPLE_RATE) -> str:
    """The full cache key: the extractor's key, the preprocessing's key and the sample rate."""
    prep = "raw" if preprocess is None else preprocess.key()
    return f"{key}-{prep}-{sr}"


def compute_features(
    paths: Sequence[str | os.PathLike],
    extractor: Extractor,
    key: str,
    cache_dir: str | os.PathLike | None,
    n_jobs: int = -1,
    preprocess=None,
    desc: str = "features",
    *,
    sr: int = SAMPLE_RATE,
    progress: bool = True,
) -> list[np.ndarray]:
    """``extractor(preprocess(load(path)))`` for every path, in order, cached and in parallel.

    Parameters
    ----------
    paths : audio files in any format `ser.audio.load` reads.
    extractor : signal (n_samples,) float32 at ``sr`` Hz -> array. Must be picklable (a module-level
        function or ``functools.partial`` of one) when ``n_jobs != 1``.
    key : names the extractor and its settings, e.g. ``FeatureConfig.key()``; change it whenever
        the values would change.
    cache_dir : where to keep results; None computes without caching.
    n_jobs : worker processes; -1 uses every core, 1 runs in this process.
    preprocess : optional `ser.preprocess.PreprocessConfig` (anything with ``apply`` and ``key``).
    desc : label of the progress bar (`ser.files.Progress`, on stderr).
    progress : show that bar.

    Returns
    -------
    list of arrays, one per path, as the extractor returned them (read back from the cache when
    the same bytes were processed under the same key before).

    Raises
    ------
    `ser.audio.AudioError` (a `SerError`) naming the first file that cannot be decoded; results
    computed before it stay cached.
    """
    full_key = cache_key(key, preprocess, sr)
    cache = FeatureCache(cache_dir) if cache_dir is not None else None
    results: list[np.ndarray | None] = [None] * len(paths)
    todo: list[tuple[int, str | None]] = []
    for index, path in enumerate(paths):
        digest = file_digest(path) if cache is not None else None
        cached = cache.get(digest, full_key) if cache is not None else None
        if cached is not None:
            results[index] = cached
        else:
            todo.append((index, digest))

    workers = _workers(n_jobs, len(todo))
    with Progress(len(paths), desc=desc, unit="clip", enabled=progress, initial=len(paths) - len(todo)) as bar:
        jobs = [(index, str(paths[index]), extractor, preprocess, sr) for index, _ in todo]
        if workers == 1:
            outputs = (_compute_one(*job) for job in jobs)
        else:
            from joblib import Parallel, delayed

            # The first clip runs here, so that librosa's numba functions compile and write their
            # on-disk cache once before the workers start; workers that all compile at once write
            # the same cache files concurrently, and a torn gufunc cache crashes every later process
            # that loads it (numba issue #10128; seen here as a segfault in librosa's pitch tracking).
            # loky workers: fresh processes (safe whatever the parent imported), reused across
            # calls; results arrive as they finish so each is cached at once.
            outputs = itertools.chain(
                [_compute_one(*jobs[0])],
                Parallel(n_jobs=workers, return_as="generator_unordered")(delayed(_compute_one)(*job) for job in jobs[1:]),
            )
        digests = dict(todo)
        for index, array, error in outputs:
            if error is not None:
                error_type, source, reason = error
                raise error_type(source, reason)
            if cache is not None:
                cache.put(digests[index], full_key, array)
            results[index] = array
            bar.update(1)
    return results  # type: ignore[return-value]


def _compute_one(index: int, path: str, extractor: Extractor, preprocess, sr: int):
    """One file's features; audio errors come back as values because they don't unpickle."""
    try:
        signal = load(path, sr)
    except AudioError as exc:
        return index, None, (type(exc), exc.source, exc.reason)
    if preprocess is not None:
        signal = preprocess.apply(signal)
    return index, extractor(signal), None


def _workers(n_jobs: int, n_tasks: int) -> int:
    if n_jobs == 0:
        raise ValueError("n_jobs must be -1 (every core) or a positive number of processes, not 0")
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = available if n_jobs < 0 else n_jobs
    return max(1, min(wanted, n_tasks))
