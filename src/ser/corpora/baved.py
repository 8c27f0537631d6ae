"""BAVED, the Basic Arabic Vocal Emotions Dataset.

61 speakers say seven Arabic words at three levels of emotional arousal. Folders ``0``..``6`` are
the words; files are ``<speaker>-<m|f>-<age>-<word>-<level>-<record>``, with level 0 low (tired,
down), 1 neutral, 2 high (strong positive or negative emotion).

BAVED labels arousal, not a category, so no row claims one: ``emotion`` is ``other`` (a user
``label_map`` such as ``{"0": "sad"}`` can say otherwise), ``native_label`` is the level digit,
``extra["arousal_level"]`` is ``low``, ``neutral`` or ``high``, and ``extra["arousal"]`` the
same level on the manifests' dimensional scale (-1, 0, 1; ``dimension_scale`` ``0..2``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, parse_gender, resolve_emotion, scan_audio
from ser.manifest import Utterance, dimension_columns

AROUSAL = {"0": "low", "1": "neutral", "2": "high"}
WORDS = {
    "0": "اعجبني",  # I like
    "1": "لم يعجبني",  # I did not like
    "2": "هذا",  # this
    "3": "الفيلم",  # the film
    "4": "رائع",  # wonderful
    "5": "مقبول",  # acceptable
    "6": "سيئ",  # bad
}

_NAME = re.compile(r"^(\d+)-([mfMF])-(\d+)-(\d)-(\d)-(\d+)$")


def prepare_baved(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index BAVED under `root` (the folder of the word folders ``0``..``6``)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not SPEAKER-SEX-AGE-WORD-LEVEL-RECORD like 55-m-16-2-0-778"))
            continue
        speaker, sex, _age, word, level, _record = match.groups()
        if level not in AROUSAL or word not in WORDS:
            skipped.append((str(path), f"level {level} is not 0-2 or word {word} is not 0-6"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="baved",
                speaker=f"baved_{int(speaker)}",
                gender=parse_gender(sex),
                language="ar",
                emotion=resolve_emotion(level, {}, label_map),
                native_label=level,
                text=WORDS[word],
                extra={"arousal_level": AROUSAL[level], **dimension_columns({"arousal": level}, (0, 2), str(path))},
            )
        )
    return build_index(rows, skipped)

