"""The utterance table that every corpus reader produces and every trainer consumes.

A manifest is a CSV file with one row per utterance. Its first columns are fixed (`COLUMNS`);
readers may add their own (IEMOCAP's ``session``, ASVP-ESD's ``vocal_channel``) and splits add
``fold`` or ``split``. Those extra columns travel in `Utterance.extra`.

Dimensional labels have fixed names (`DIMENSIONS`: ``arousal``, ``valence``, ``dominance``) and
one scale: [-1, 1], -1 the lowest the corpus rates (calm, negative, submissive), +1 the highest.
Readers map their native scale onto it (`dimension_columns`) and record that scale in
``dimension_scale`` (``1..5`` for IEMOCAP, ``1..7`` for MSP-Podcast), so the native value is
``lo + (x + 1) / 2 * (hi - lo)``. `read_manifest` refuses a value outside [-1, 1], naming the row.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Iterable

from ser.errors import CorpusError
from ser.files import atomic_write

COLUMNS: tuple[str, ...] = (
    "path",
    "corpus",
    "speaker",
    "gender",
    "language",
    "emotion",
    "native_label",
    "intensity",
    "text",
    "duration",
)


@dataclass
class Utterance:
    """One row of a manifest.

    ``speaker`` is unique across corpora (``ravdess_01``). ``emotion`` is one of
    `ser.labels.EMOTIONS`, ``"other"``, or ``""`` for an unlabelled file. ``duration`` is in
    seconds. ``gender`` is ``female``, ``male`` or ``""``; ``language`` an ISO 639-1 code.
    """

    path: str
    corpus: str
    speaker: str
    emotion: str
    native_label: str = ""
    gender: str = ""
    language: str = ""
    intensity: str = ""
    text: str = ""
    duration: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def get(self, column: str, default: str = "") -> str:
        """The value of a fixed or extra column as text."""
        if column in _FIXED:
            value = getattr(self, column)
            return "" if value is None else str(value)
        return self.extra.get(column, default)


_FIXED = {f.name for f in fields(Utterance)} - {"extra"}

DIMENSIONS: tuple[str, ...] = ("arousal", "valence", "dominance")
SCALE_COLUMN = "dimension_scale"


def dimension_columns(native: dict[str, str], scale: tuple[float, float], where: str) -> dict[str, str]:
    """Manifest columns for a row's native dimensional ratings: each mapped onto [-1, 1], plus the scale.

    `native` maps names in `DIMENSIONS` to the corpus' values as text (empty: not rated, left
    out); `scale` is the native (lowest, highest). A value that is not a number or lies outside
    the scale raises `CorpusError` naming `where` (the file and row).
    """
    lo, hi = scale
    out = {}
    for name, text in native.items():
        if text.strip():
            value = _number_in(name, text, lo, hi, where, "the corpus' scale")
            out[name] = f"{2 * (value - lo) / (hi - lo) - 1:.4f}"
    if out:
        out[SCALE_COLUMN] = f"{lo:g}..{hi:g}"
    return out


def dimension(row: Utterance, name: str) -> float | None:
    """The row's `name` (one of `DIMENSIONS`) in [-1, 1], or None when it is not rated."""
    text = row.extra.get(name, "")
    return float(text) if text else None


def audio_path(path: str, root: str | os.PathLike | None) -> Path:
    """A row's audio path as written, or inside `root` (the manifest's folder) when that is where
    the file is: manifests may list paths relative to themselves."""
    candidate = Path(path)
    if root is not None and not candidate.is_absolute() and not candidate.exists() and (Path(root) / candidate).exists():
        return Path(root) / candidate
    return candidate


def write_manifest(rows: Iterable[Utterance], path: str | os.PathLike) -> Path:
    """Write rows as CSV; the file appears whole or not at all (written aside, then renamed)."""
    rows = list(rows)
    path = Path(path)
    extra_columns: list[str] = []
    for row in rows:
        for key in row.extra:
            if key not in extra_columns and key not in COLUMNS:
                extra_columns.append(key)
    header = list(COLUMNS) + extra_columns
    with atomic_write(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            values = [row.get(c) if c != "duration" else _fmt_duration(row.duration) for c in COLUMNS]
            values += [row.extra.get(c, "") for c in extra_columns]
            writer.writerow(values)
    return path


def read_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read a manifest written by `write_manifest` (or by hand with at least path and emotion)."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: manifest not found")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise CorpusError(f"{path}: not a manifest (no 'path' column in the header)")
        rows = []
        for line_no, record in enumerate(reader, start=2):
            try:
                duration = record.get("duration") or ""
                rows.append(
                    Utterance(
                        path=record["path"],
                        corpus=record.get("corpus", "") or "",
                        speaker=record.get("speaker", "") or "",
                        emotion=record.get("emotion", "") or "",
                        native_label=record.get("native_label", "") or "",
                        gender=record.get("gender", "") or "",
                        language=record.get("language", "") or "",
                        intensity=record.get("intensity", "") or "",
                        text=record.get("text", "") or "",
                        duration=float(duration) if duration else None,
                        extra={k: v or "" for k, v in record.items() if k not in COLUMNS and k is not None},
                    )
                )
            except ValueError as exc:
                raise CorpusError(f"{path}, line {line_no}: {exc}") from None
            _check_dimensions(rows[-1], f"{path}, line {line_no}")
    return rows


def _check_dimensions(row: Utterance, where: str) -> None:
    for name in DIMENSIONS:
        text = row.extra.get(name, "")
        if text.strip():
            _number_in(name, text, -1.0, 1.0, where, f"manifests hold dimensions on [-1, 1]; the native scale goes in {SCALE_COLUMN}")


def _number_in(name: str, text: str, lo: float, hi: float, where: str, scale: str) -> float:
    """`text` as a number in [lo, hi], or `CorpusError` naming `where`, the column and the scale."""
    try:
        value = float(text)
    except ValueError:
        raise CorpusError(f"{where}: {name} {text.strip()!r} is not a number") from None
    if not lo <= value <= hi:
        raise CorpusError(f"{where}: {name} {value:g} is outside {lo:g}..{hi:g} ({scale})")
    return value


def _fmt_duration(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def describe(rows: list[Utterance]) -> dict:
    """Counts per corpus, emotion, speaker, gender and intensity, and durations in seconds.

    Besides the flat counts, ``corpus_emotions`` is a corpus -> emotion -> count table,
    ``corpus_speakers`` and ``corpus_duration_s`` give each corpus' speaker count and length,
    ``speaker_info`` gives each speaker's corpus, gender, clip count and length,
    ``missing_duration`` counts rows whose duration is unknown (not in the totals), and
    ``dimensions`` summarises the rated dimensions (count, mean, std, min, max on [-1, 1]).
    """
    durations = [r.duration for r in rows if r.duration is not None]
    corpus_emotions: dict[str, Counter] = {}
    corpus_speakers: dict[str, set] = {}
    corpus_duration: Counter = Counter()
    speaker_info: dict[str, dict] = {}
    for r in rows:
        corpus_emotions.setdefault(r.corpus, Counter())[r.emotion or "(unlabelled)"] += 1
        corpus_speakers.setdefault(r.corpus, set()).add(r.speaker)
        corpus_duration[r.corpus] += r.duration or 0.0
        info = speaker_info.setdefault(
            r.speaker, {"corpus": r.corpus, "gender": r.gender, "utterances": 0, "duration_s": 0.0}
        )
        info["utterances"] += 1
        info["duration_s"] += r.duration or 0.0
    return {
        "utterances": len(rows),
        "duration_s": float(sum(durations)),
        "missing_duration": len(rows) - len(durations),
        "corpora": dict(Counter(r.corpus for r in rows)),
        "emotions": dict(Counter(r.emotion or "(unlabelled)" for r in rows)),
        "speakers": dict(Counter(r.speaker for r in rows)),
        "genders": dict(Counter(r.gender or "(unknown)" for r in rows)),
        "intensities": dict(Counter(r.intensity or "(none)" for r in rows)),
        "corpus_emotions": {c: dict(e) for c, e in corpus_emotions.items()},
        "corpus_speakers": {c: len(s) for c, s in corpus_speakers.items()},
        "corpus_duration_s": {c: float(d) for c, d in corpus_duration.items()},
        "speaker_info": speaker_info,
        "dimensions": _dimension_stats(rows),
    }


def _dimension_stats(rows: list[Utterance]) -> dict[str, dict[str, float]]:
    """For each of `DIMENSIONS` some row rates: how many rows, and their mean, std, min and max on [-1, 1]."""
    out = {}
    for name in DIMENSIONS:
        values = [v for v in (dimension(r, name) for r in rows) if v is not None]
        if values:
            mean = sum(values) / len(values)
            std = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
            out[name] = {"n": len(values), "mean": mean, "std": std, "min": min(values), "max": max(values)}
    return out
