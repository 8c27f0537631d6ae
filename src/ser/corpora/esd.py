"""ESD, the Emotional Speech Dataset (Zhou, Sisman, Liu & Li 2021).

Twenty speakers, 0001-0010 Mandarin and 0011-0020 English, each say 350 sentences in five
emotions. Files are ``<spk>/<Emotion>/<spk>_<NNNNNN>.wav`` (some copies keep ``train/``,
``test/``, ``evaluation/`` under the emotion folder); the emotion comes from the nearest folder
named Angry, Happy, Neutral, Sad or Surprise. ``<spk>/<spk>.txt`` holds the transcripts
(``<utterance id> TAB <text> TAB <emotion>``) and fills ``text`` when present.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {"angry": "angry", "happy": "happy", "neutral": "neutral", "sad": "sad", "surprise": "surprised"}
# From the speaker list in the dataset's README.
GENDERS = {
    "0001": "female",
    "0002": "female",
    "0003": "female",
    "0004": "male",
    "0005": "male",
    "0006": "male",
    "0007": "female",
    "0008": "male",
    "0009": "female",
    "0010": "male",
    "0011": "male",
    "0012": "male",
    "0013": "male",
    "0014": "male",
    "0015": "female",
    "0016": "female",
    "0017": "female",
    "0018": "female",
    "0019": "female",
    "0020": "male",
}

_NAME = re.compile(r"^(\d{4})_(\d{6})$")


def prepare_esd(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index ESD under `root` (the folder of the speaker folders ``0001``..``0020``)."""
    files, skipped = scan_audio(root)
    transcripts: dict[str, dict[str, str]] = {}
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not SPEAKER_NUMBER like 0011_000351"))
            continue
        speaker = match.group(1)
        if speaker not in GENDERS:
            skipped.append((str(path), f"speaker {speaker} is not one of 0001-0020"))
            continue
        emotion = next((p.name for p in path.parents if p.name.lower() in EMOTIONS), "")
        if not emotion:
            skipped.append((str(path), "not inside an Angry, Happy, Neutral, Sad or Surprise folder"))
            continue
        if speaker not in transcripts:
            transcripts[speaker] = _read_transcript(path, speaker)
        rows.append(
            Utterance(
                path=str(path),
                corpus="esd",
                speaker=f"esd_{speaker}",
                gender=GENDERS[speaker],
                language="zh" if int(speaker) <= 10 else "en",
                emotion=resolve_emotion(emotion, EMOTIONS, label_map),
                native_label=emotion,
                text=transcripts[speaker].get(path.stem, ""),
            )
        )
    return build_index(rows, skipped)


def _read_transcript(path: Path, speaker: str) -> dict[str, str]:
    """Utterance id -> text from ``<spk>/<spk>.txt`` in a folder above `path`; {} if there is none."""
    for folder in path.parents:
        table = folder / f"{speaker}.txt"
        if table.is_file():
            break
        if folder.name == speaker:
            return {}
    else:
        return {}
    data = table.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:  # some Mandarin transcripts are in GB18030
            text = data.decode("gb18030", errors="replace")
    lines = (line.split("\t") for line in text.splitlines())
    return {fields[0].strip(): fields[1].strip() for fields in lines if len(fields) >= 2}

