"""URDU, spontaneous emotional speech from Urdu TV talk shows (Latif et al. 2018).

Folders are the emotions (Angry, Happy, Neutral, Sad); files are ``SM4_F18_A070``: S + gender
(M/F) + speaker number, file number, emotion letter (A, H, N, S) + number. The paper counts 38
speakers (27 male, 11 female), but the file names carry 29 distinct speaker codes (SM1-SM7,
SM17-SM27, SF1-SF11); speakers are indexed by those codes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {"a": "angry", "h": "happy", "n": "neutral", "s": "sad"}
FOLDERS = {"angry": "a", "happy": "h", "neutral": "n", "sad": "s"}

_NAME = re.compile(r"^S([MF])(\d+)_F(\d+)_([A-Za-z])(\d+)$", re.IGNORECASE)


def prepare_urdu(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index URDU under `root` (the folder of ``Angry/``, ``Happy/``, ``Neutral/``, ``Sad/``)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not S<M|F><speaker>_F<file>_<emotion><number> like SM4_F18_A070"))
            continue
        sex, number, _file, letter, _n = match.groups()
        sex, letter = sex.upper(), letter.upper()
        if letter.lower() not in EMOTIONS:
            skipped.append((str(path), f"emotion letter {letter} is not one of A, H, N, S"))
            continue
        folder_letter = FOLDERS.get(path.parent.name.lower())
        if folder_letter and folder_letter != letter.lower():
            skipped.append((str(path), f"the name says {letter} but the file is in the folder {path.parent.name}"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="urdu",
                speaker=f"urdu_S{sex}{int(number)}",
                gender="male" if sex == "M" else "female",
                language="ur",
                emotion=resolve_emotion(letter, EMOTIONS, label_map),
                native_label=letter,
            )
        )
    return build_index(rows, skipped)

