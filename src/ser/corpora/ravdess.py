"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (Livingstone & Russo 2018).

Every file name is seven two-digit codes, ``03-01-05-02-01-02-12``: modality (03 audio-only),
vocal channel (01 speech, 02 song), emotion, intensity, statement, repetition, actor. Odd actors
are male. Only audio-only speech files are indexed by default; song files are indexed with
``include_song=True``, and the audio tracks of the video files (modality 01, 02) are skipped so
that no performance is counted twice.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


def prepare_ravdess(
    root: str | Path, *, label_map: Mapping[str, str] | None = None, include_song: bool = False
) -> CorpusIndex:
    """Index RAVDESS under `root` (e.g. ``Audio_Speech_Actors_01-24/``, searched recursively)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not seven two-digit codes like 03-01-05-02-01-02-12"))
            continue
        modality, channel, emotion, intensity, statement, _repetition, actor = match.groups()
        problem = _check(modality, channel, emotion, intensity, statement, actor, include_song)
        if problem:
            skipped.append((str(path), problem))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="ravdess",
                speaker=f"ravdess_{actor}",
                gender="male" if int(actor) % 2 else "female",
                language="en",
                emotion=resolve_emotion(emotion, EMOTIONS, label_map),
                native_label=emotion,
                intensity=INTENSITIES[intensity],
                text=STATEMENTS[statement],
                extra={"vocal_channel": "song"} if channel == "02" else {},
            )
        )
    return build_index(rows, skipped)


def _check(modality, channel, emotion, intensity, statement, actor, include_song) -> str:
    """Why a parsed name is not indexed, or ``""``."""
    if modality != "03":
        return f"modality {modality} is a video file; the audio-only files have modality 03"
    if channel not in ("01", "02"):
        return f"vocal channel {channel} is neither 01 (speech) nor 02 (song)"
    if channel == "02" and not include_song:
        return "a song file (vocal channel 02); pass include_song=True to index songs"
    if emotion not in EMOTIONS:
        return f"emotion code {emotion} is not one of 01-08"
    if intensity not in INTENSITIES:
        return f"intensity code {intensity} is neither 01 nor 02"
    if statement not in STATEMENTS:
        return f"statement code {statement} is neither 01 nor 02"
    if not 1 <= int(actor) <= 24:
        return f"actor {actor} is not in 01-24"
    return ""

