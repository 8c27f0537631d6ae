"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al. 2014).

File names are ``1001_DFA_ANG_XX``: actor (1001-1091), sentence code, emotion, and level (LO, MD,
HI, or XX unspecified). The actors' sex is in ``VideoDemographics.csv`` (columns ActorID, Age,
Sex, Race, Ethnicity), found beside or above the audio folder; without it gender is empty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import (
    CorpusIndex,
    build_index,
    find_beside,
    parse_gender,
    read_table,
    resolve_emotion,
    scan_audio,
)
from ser.errors import CorpusError
from ser.manifest import Utterance

EMOTIONS = {"ang": "angry", "dis": "disgust", "fea": "fearful", "hap": "happy", "neu": "neutral", "sad": "sad"}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
# The twelve sentences, as listed in the corpus' README.
SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
DEMOGRAPHICS = "VideoDemographics.csv"
AUDIO_FOLDER = "AudioWAV"

_NAME = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})$")


def prepare_cremad(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index CREMA-D under `root` (the folder holding ``AudioWAV/``, or ``AudioWAV/`` itself).

    Given the whole repository, only ``AudioWAV/`` is read: ``AudioMP3/`` holds the same clips.
    """
    sexes = _read_demographics(root)
    root = Path(root).expanduser()
    if (root / AUDIO_FOLDER).is_dir():
        root = root / AUDIO_FOLDER
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not ACTOR_SENTENCE_EMOTION_LEVEL like 1001_DFA_ANG_XX"))
            continue
        actor, sentence, emotion, level = match.group(1), *(g.upper() for g in match.groups()[1:])
        if sentence not in SENTENCES:
            skipped.append((str(path), f"sentence code {sentence} is not one of the 12 CREMA-D sentences"))
            continue
        if emotion.lower() not in EMOTIONS:
            skipped.append((str(path), f"emotion code {emotion} is not one of ANG, DIS, FEA, HAP, NEU, SAD"))
            continue
        if level not in LEVELS:
            skipped.append((str(path), f"level {level} is not one of LO, MD, HI, XX"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="cremad",
                speaker=f"cremad_{actor}",
                gender=sexes.get(actor, ""),
                language="en",
                emotion=resolve_emotion(emotion, EMOTIONS, label_map),
                native_label=emotion,
                intensity=LEVELS[level],
                text=SENTENCES[sentence],
            )
        )
    return build_index(rows, skipped)


def _read_demographics(root: str | Path) -> dict[str, str]:
    """ActorID -> gender from VideoDemographics.csv in `root` or its parent; {} if there is none."""
    path = find_beside(root, DEMOGRAPHICS)
    if path is None:
        return {}
    header, records = read_table(path, delimiter=",")
    if "ActorID" not in header or "Sex" not in header:
        raise CorpusError(f"{path}: expected the columns ActorID and Sex, found {header}")
    return {r["ActorID"]: parse_gender(r["Sex"]) for r in records if r["ActorID"]}

