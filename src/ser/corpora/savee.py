"""SAVEE, the Surrey Audio-Visual Expressed Emotion database (Jackson & Haq 2014).

Four male English speakers (DC, JE, JK, KL) read TIMIT sentences in seven emotions. The official
layout is ``AudioData/<SPK>/<code><NN>.wav``; a common flattened copy is ``ALL/<SPK>_<code><NN>.wav``.
Both are read: the speaker comes from the name's prefix, else from the parent folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}
SPEAKERS = ("DC", "JE", "JK", "KL")

_NAME = re.compile(r"^(?:([A-Za-z]{2})_)?(sa|su|a|d|f|h|n)(\d\d)$", re.IGNORECASE)


def prepare_savee(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index SAVEE under `root` (``AudioData/`` or the flattened ``ALL/`` folder, or above them)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not <code><NN> (a01, sa15) or <SPK>_<code><NN> (DC_a01)"))
            continue
        prefix, code, _number = match.groups()
        speaker = (prefix or path.parent.name).upper()
        if speaker not in SPEAKERS:
            skipped.append((str(path), f"speaker {speaker!r} (from the name or folder) is not DC, JE, JK or KL"))
            continue
        code = code.lower()
        rows.append(
            Utterance(
                path=str(path),
                corpus="savee",
                speaker=f"savee_{speaker}",
                gender="male",
                language="en",
                emotion=resolve_emotion(code, EMOTIONS, label_map),
                native_label=code,
            )
        )
    return build_index(rows, skipped)

