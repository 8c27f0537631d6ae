"""nEMO, a dataset of emotional speech in Polish (Christop 2024).

Nine actors portray six emotional states. Files are ``samples/<SPK>_<emotion>_<N>.wav``; the file
``data.tsv`` beside ``samples/`` has the columns ``file_id, emotion, raw_text, normalized_text,
speaker_id, gender, age`` (speaker ids may carry leading spaces). The table, when present, gives
speaker, gender and text; without it the speaker and emotion come from the file name.
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

EMOTIONS = {
    "anger": "angry",
    "fear": "fearful",
    "happiness": "happy",
    "neutral": "neutral",
    "sadness": "sad",
    "surprised": "surprised",
}
TABLE = "data.tsv"

_NAME = re.compile(r"^([A-Za-z0-9]+)_([A-Za-z]+)_(\d+)$")


def prepare_nemo(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index nEMO under `root` (the folder holding ``samples/`` and ``data.tsv``, or ``samples/``)."""
    files, skipped = scan_audio(root)
    table = _read_table(root)
    rows = []
    for path in files:
        record = table.get(path.stem, {})
        match = _NAME.match(path.stem)
        if not match and not record:
            skipped.append((str(path), "name is not SPEAKER_emotion_N like SB0_anger_0, and it is not in data.tsv"))
            continue
        speaker = record.get("speaker_id") or (match.group(1) if match else "")
        emotion = (record.get("emotion") or (match.group(2) if match else "")).lower()
        if not speaker or not emotion:
            skipped.append((str(path), "data.tsv gives no speaker_id or emotion for it"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="nemo",
                speaker=f"nemo_{speaker}",
                gender=parse_gender(record.get("gender", "")),
                language="pl",
                emotion=resolve_emotion(emotion, EMOTIONS, label_map),
                native_label=emotion,
                text=record.get("raw_text", ""),
            )
        )
    return build_index(rows, skipped)


def _read_table(root: str | Path) -> dict[str, dict[str, str]]:
    """data.tsv rows keyed by the file stem, from `root` or its parent; {} if there is none."""
    path = find_beside(root, TABLE)
    if path is None:
        return {}
    header, records = read_table(path, delimiter="\t")
    if "file_id" not in header:
        raise CorpusError(f"{path}: expected a file_id column, found {header}")
    return {Path(r["file_id"]).stem: r for r in records if r["file_id"]}

