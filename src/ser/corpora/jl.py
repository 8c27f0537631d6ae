"""JL-Corpus: New Zealand English, 4 actors, 5 primary and 5 secondary emotions (James et al. 2018).

Files are named ``<speaker>_<emotion>_<sentence><session>_<take>``, e.g. ``female1_angry_1a_1.wav``:
speakers female1, female2, male1, male2; sentences 1-15; sessions a and b; takes 1 and 2. Each
recording has a ``.txt`` beside it holding its prompt, which becomes the ``text`` column.

The primary emotions are angry, excited, happy, neutral and sad; the secondary ones anxious,
apologetic, assertive, concerned and encouraging. Excited and the secondary emotions have no
place in `ser.labels.EMOTIONS` and become ``other`` unless mapped (``--map excited=happy``).

The Kaggle archive unpacks the same tree twice, under names that differ only in case
(``Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/`` and its lower-case twin); the
second copy of each recording is reported as skipped, so the corpus is counted once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, file_duration, find_audio, resolve_emotion
from ser.manifest import Utterance

NAME = "jl"

_STEM = re.compile(
    r"^(?P<gender>female|male)(?P<number>\d+)_(?P<emotion>[a-z]+)_(?P<sentence>\d+)(?P<session>[a-z])_(?P<take>\d+)$",
    re.IGNORECASE,
)

KNOWN = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad"}
# Named so that a label outside both lists is reported rather than silently filed as "other".
NATIVE_LABELS = (
    "angry", "excited", "happy", "neutral", "sad",
    "anxious", "apologetic", "assertive", "concerned", "encouraging",
)  # fmt: skip


def prepare_jl(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index a JL-Corpus folder (any depth; the Kaggle archive's layout or a flat folder)."""
    index = CorpusIndex(utterances=[])
    first_seen: dict[str, Path] = {}
    for path in find_audio(root):
        match = _STEM.match(path.stem)
        if match is None:
            index.skipped.append((str(path), "name is not <speaker>_<emotion>_<sentence><session>_<take>"))
            continue
        native = match["emotion"]
        if native.lower() not in NATIVE_LABELS:
            index.skipped.append((str(path), f"unknown emotion {native!r}"))
            continue
        key = path.stem.lower()
        if key in first_seen:
            index.skipped.append((str(path), f"duplicate of {first_seen[key]}"))
            continue
        first_seen[key] = path
        gender = match["gender"].lower()
        index.utterances.append(
            Utterance(
                path=str(path.resolve()),
                corpus=NAME,
                speaker=f"{NAME}_{gender}{match['number']}",
                emotion=resolve_emotion(native, KNOWN, label_map),
                native_label=native,
                gender=gender,
                language="en",
                text=_prompt(path),
                duration=file_duration(path),
                extra={"sentence": match["sentence"]},
            )
        )
    return index


def _prompt(audio: Path) -> str:
    """The prompt in the ``.txt`` beside `audio`, or "" when there is none."""
    for candidate in (audio.with_suffix(".txt"), audio.with_suffix(".TXT")):
        if candidate.is_file():
            try:
                return " ".join(candidate.read_text(encoding="utf-8", errors="replace").split())
            except OSError:
                return ""
    return ""

