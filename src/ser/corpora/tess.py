"""TESS, the Toronto Emotional Speech Set (Dupuis & Pichora-Fuller 2010).

Two actresses, OAF (aged 64) and YAF (aged 26), say "Say the word ___" for 200 words in seven
emotions. Files are ``<SPK>_<word>_<emotion>``; the emotion ``ps`` is pleasant surprise. The
upstream folder names differ in case and spelling (``OAF_Fear``, ``YAF_pleasant_surprised``), so
labels come from the file name only; one file is named ``OA_bite_neutral`` and belongs to OAF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "ps": "surprised",
    "sad": "sad",
}
SPEAKERS = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}  # OA_bite_neutral is OAF's


def prepare_tess(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index TESS under `root` (the folder of ``OAF_angry/``, ``YAF_happy/``... folders)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        parts = path.stem.split("_")
        speaker = SPEAKERS.get(parts[0].upper()) if len(parts) >= 3 else None
        if speaker is None:
            skipped.append((str(path), "name is not SPEAKER_word_emotion with speaker OAF or YAF"))
            continue
        emotion = parts[-1].lower()
        rows.append(
            Utterance(
                path=str(path),
                corpus="tess",
                speaker=f"tess_{speaker}",
                gender="female",
                language="en",
                emotion=resolve_emotion(emotion, EMOTIONS, label_map),
                native_label=emotion,
                text="_".join(parts[1:-1]).lower(),
            )
        )
    return build_index(rows, skipped)

