"""ASVP-ESD: speech and non-speech emotional sound from films, TV and the web (Landry et al. 2020).

Unlike acted corpora it holds both speech and non-speech vocalisations (laughs, cries, sighs,
screams), in several languages. Files sit in ``actor_NN/`` folders and are named like RAVDESS
with more fields, separated by ``-``::

    03-01-06-01-02-12-02-01-01-16.wav
    |  |  |  |  |  |  |  |  |  `- similar-sound code (optional), e.g. 13 laugh, 23 giggle
    |  |  |  |  |  |  |  |  `---- language: 01 Chinese, 02 English, 04 French, other: other
    |  |  |  |  |  |  |  `------- source: 01/02 websites and YouTube, 03 films
    |  |  |  |  |  |  `---------- age: 01 over 65, 02 20-64, 03 under 20, 04 baby
    |  |  |  |  |  `------------- actor (even = male, odd = female: the reverse of RAVDESS)
    |  |  |  |  `---------------- statement (groups clips from one source and period)
    |  |  |  `------------------- intensity: 01 normal, 02 high
    |  |  `---------------------- emotion (see EMOTION_CODES)
    |  `------------------------- vocal channel: 01 speech, 02 non-speech
    `---------------------------- modality: 03 audio-only

A trailing ``-77`` marks a noisy recording and ``-66`` mixed voices; both are kept in
``extra["noise"]``. The vocal channel is kept in ``extra["vocal_channel"]`` (``speech`` or
``non-speech``) so non-speech clips can be dropped later, or here with ``speech_only=True``.
Emotions outside `ser.labels.EMOTIONS` (excited, pleasure, pain, disappointment, breath) become
``other`` unless mapped; the map accepts the word or the two-digit code (``--map 09=happy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, file_duration, find_audio, resolve_emotion
from ser.manifest import Utterance

NAME = "asvp"

EMOTION_CODES = {
    "01": "boredom",  # also sighs
    "02": "neutral",  # also calm
    "03": "happy",  # also laughs, giggles
    "04": "sad",  # also cries
    "05": "angry",  # also grunts, frustration
    "06": "fearful",  # also screams, panic
    "07": "disgust",  # also dislike, contempt
    "08": "surprised",  # also gasps, amazement
    "09": "excited",
    "10": "pleasure",
    "11": "pain",  # also groans
    "12": "disappointment",  # also disapproval
    "13": "breath",  # published as "breath"; some copies of the readme say "other"
}
KNOWN = {word: word for word in ("boredom", "neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")}
VOCAL_CHANNELS = {"01": "speech", "02": "non-speech"}
INTENSITIES = {"01": "normal", "02": "high"}
LANGUAGES = {"01": "zh", "02": "en", "04": "fr"}
AGES = {"01": "over 65", "02": "20-64", "03": "under 20", "04": "baby"}
SOURCES = {"01": "web", "02": "web", "03": "film"}
NOISE = {"77": "high-noise", "66": "mixed-voices"}


def prepare_asvp(
    root: str | Path,
    *,
    label_map: Mapping[str, str] | None = None,
    speech_only: bool = False,
) -> CorpusIndex:
    """Index an ASVP-ESD folder; `speech_only` leaves out the non-speech vocalisations."""
    index = CorpusIndex(utterances=[])
    for path in find_audio(root):
        fields = path.stem.split("-")
        noise = ""
        if len(fields) >= 10 and fields[-1] in NOISE:
            noise = NOISE[fields.pop()]
        if not 9 <= len(fields) <= 10 or not all(len(f) == 2 and f.isdigit() for f in fields):
            index.skipped.append((str(path), "name is not 9 or 10 two-digit fields separated by '-'"))
            continue
        _modality, channel, code, intensity, statement, actor, age, source, language = fields[:9]
        if code not in EMOTION_CODES:
            index.skipped.append((str(path), f"unknown emotion code {code}"))
            continue
        if channel not in VOCAL_CHANNELS:
            index.skipped.append((str(path), f"unknown vocal channel {channel}"))
            continue
        vocal_channel = VOCAL_CHANNELS[channel]
        if speech_only and vocal_channel != "speech":
            continue
        native = EMOTION_CODES[code]
        if label_map and code in label_map:
            emotion = label_map[code]
        else:
            emotion = resolve_emotion(native, KNOWN, label_map)
        index.utterances.append(
            Utterance(
                path=str(path.resolve()),
                corpus=NAME,
                speaker=f"{NAME}_{actor}",
                emotion=emotion,
                native_label=native,
                gender="male" if int(actor) % 2 == 0 else "female",
                language=LANGUAGES.get(language, ""),
                intensity=INTENSITIES.get(intensity, ""),
                duration=file_duration(path),
                extra={
                    "vocal_channel": vocal_channel,
                    "age": AGES.get(age, ""),
                    "source": SOURCES.get(source, ""),
                    "statement": statement,
                    "noise": noise,
                },
            )
        )
    return index

