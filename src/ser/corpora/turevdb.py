"""TurEV-DB, the Turkish Emotion-Voice Database (Canpolat, Ormanoğlu & Zeyrek 2020).

Six actors say single Turkish words in four emotions. The published files lie in
``Sound Source/<Angry|Calm|Happy|Sad>/`` and are named ``<speaker>_<emotion code>_<word>``, e.g.
``1234_sk_pamuk``: a four-digit speaker number, the Turkish emotion code (kz kızgın angry,
sk sakin calm, mt mutlu happy, hl hüzünlü sad) and the word. Speaker genders are not published.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {"kz": "angry", "sk": "calm", "mt": "happy", "hl": "sad"}
SOURCE_FOLDER = "Sound Source"
FOLDERS = {"angry": "kz", "calm": "sk", "happy": "mt", "sad": "hl"}

_NAME = re.compile(r"^(\d+)_([A-Za-z]{2})_(.+)$")


def prepare_turevdb(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index TurEV-DB under `root` (the repository, or its ``Sound Source/`` folder).

    Given the whole repository, only ``Sound Source/`` is read: the repository also holds
    low- and high-pass filtered copies of the test words under ``Model Output for Test Data/``.
    """
    root = Path(root).expanduser()
    if (root / SOURCE_FOLDER).is_dir():
        root = root / SOURCE_FOLDER
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not SPEAKER_EMOTION_word like 1234_sk_pamuk"))
            continue
        speaker, code, word = match.group(1), match.group(2).lower(), match.group(3)
        if code not in EMOTIONS:
            skipped.append((str(path), f"emotion code {code} is not one of kz, sk, mt, hl"))
            continue
        folder_code = FOLDERS.get(path.parent.name.lower())
        if folder_code and folder_code != code:
            skipped.append((str(path), f"the name says {code} but the file is in the folder {path.parent.name}"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="turevdb",
                speaker=f"turevdb_{speaker}",
                language="tr",
                emotion=resolve_emotion(code, EMOTIONS, label_map),
                native_label=code,
                text=word,
            )
        )
    return build_index(rows, skipped)

