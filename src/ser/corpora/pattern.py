"""Import any corpus whose file names carry the labels, by a regular expression over the stem.

The expression's named groups become columns: ``label`` (the native emotion), ``speaker``,
``gender``, ``intensity``, ``text``, ``language``; any other named group lands in ``extra``.
It must match the whole stem (the name without its extension). For example, for an Indonesian
corpus named ``1_05420_sedih_no_data.wav``, ``2_07910_jijik_tinggi.wav`` with unlabelled test
files ``test544.wav``::

    prepare_pattern(
        "data/indo",
        regex=r"(?:(?P<speaker>\\d+)_(?P<clip>\\d+)_(?P<label>[a-z]+)_(?P<intensity>[a-z_]+)|test\\d+)",
        label_map={"marah": "angry", "jijik": "disgust", "takut": "fearful",
                   "bahagia": "happy", "netral": "neutral", "sedih": "sad"},
        corpus="indo", language="id",
    )

A file whose stem matches but whose ``label`` group is empty or absent is kept with emotion
``""`` (unlabelled: usable for prediction, never for training or scoring). A file that does not
match is skipped with the reason. Labels already in the vocabulary (``angry``, ``fear``,
``happiness``...) need no map; others become ``other`` unless mapped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, file_duration, find_audio, resolve_emotion
from ser.errors import CorpusError
from ser.labels import EMOTIONS, UNLABELLED
from ser.manifest import Utterance

NAME = "pattern"

# Common English names of the vocabulary's emotions, so plain English labels need no map.
KNOWN = {e: e for e in EMOTIONS} | {
    "anger": "angry",
    "fear": "fearful",
    "afraid": "fearful",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "disgusted": "disgust",
    "surprise": "surprised",
    "bored": "boredom",
}

# Only values whose meaning is obvious; anything else leaves gender unknown.
_GENDERS = {
    "female": ("f", "female", "fem", "woman", "women", "w", "wanita", "perempuan", "weiblich", "femme", "mujer"),
    "male": (
        "m", "male", "man", "men", "pria", "laki", "laki-laki", "lelaki", "mannlich", "männlich", "homme", "hombre",
    ),  # fmt: skip
}
GENDER_ALIASES = {alias: gender for gender, aliases in _GENDERS.items() for alias in aliases}

# Values that mean "not recorded" in an intensity field (``no_data`` in the Indonesian example).
_MISSING = {"", "no_data", "nodata", "none", "na", "n/a", "nan", "unknown", "xx"}

_COLUMNS = ("label", "speaker", "gender", "intensity", "text", "language")


def prepare_pattern(
    root: str | Path,
    *,
    regex: str,
    label_map: Mapping[str, str] | None = None,
    corpus: str = NAME,
    language: str = "",
    defaults: Mapping[str, str] | None = None,
) -> CorpusIndex:
    """Index every audio file under `root` whose stem fully matches `regex`.

    `defaults` fills a column when its group is absent or empty (``{"gender": "female"}``);
    `language` is the default ISO 639-1 code; `corpus` names the rows and prefixes speakers.
    """
    pattern = compile_pattern(regex)
    defaults = dict(defaults or {})
    unknown = set(defaults) - set(_COLUMNS)
    if unknown:
        raise CorpusError(f"defaults for unknown column(s) {', '.join(sorted(unknown))}; known: {', '.join(_COLUMNS)}")
    index = CorpusIndex(utterances=[])
    for path in find_audio(root):
        match = pattern.fullmatch(path.stem)
        if match is None:
            index.skipped.append((str(path), "name does not match the pattern"))
            continue
        groups = {k: v for k, v in match.groupdict().items() if v not in (None, "")}
        value = {column: groups.get(column, defaults.get(column, "")) for column in _COLUMNS}
        native = value["label"]
        emotion = resolve_emotion(native, KNOWN, label_map) if native else UNLABELLED
        speaker = value["speaker"]
        intensity = value["intensity"].strip().lower()
        index.utterances.append(
            Utterance(
                path=str(path.resolve()),
                corpus=corpus,
                speaker=f"{corpus}_{speaker}" if speaker else "",
                emotion=emotion,
                native_label=native,
                gender=normalise_gender(value["gender"]),
                language=(value["language"] or language).lower(),
                intensity="" if intensity in _MISSING else intensity,
                text=value["text"],
                duration=file_duration(path),
                extra={k: v or "" for k, v in match.groupdict().items() if k not in _COLUMNS},
            )
        )
    return index


def compile_pattern(regex: str) -> re.Pattern:
    """Compile `regex`, or raise a `CorpusError` saying what is wrong with it."""
    try:
        pattern = re.compile(regex)
    except re.error as exc:
        raise CorpusError(f"bad --regex {regex!r}: {exc}") from None
    if not pattern.groupindex:
        raise CorpusError(f"--regex {regex!r} has no named groups; name at least the label, as (?P<label>...)")
    return pattern


def normalise_gender(value: str) -> str:
    """``female``, ``male`` or ``""`` for a gender written as F, m, wanita, Male..."""
    return GENDER_ALIASES.get(value.strip().lower(), "")

