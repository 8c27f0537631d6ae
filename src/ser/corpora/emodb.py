"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al. 2005).

Ten actors say ten German sentences in seven emotions. File names are ``03a01Fa``: speaker (2
digits), text code (3 chars), emotion letter (the German word's initial: W Wut, L Langeweile,
E Ekel, A Angst, F Freude, T Trauer, N neutral) and a version letter.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.manifest import Utterance

EMOTIONS = {
    "w": "angry",
    "l": "boredom",
    "e": "disgust",
    "a": "fearful",
    "f": "happy",
    "t": "sad",
    "n": "neutral",
}
# Speaker genders and sentence texts as documented with the corpus.
GENDERS = {
    "03": "male",
    "08": "female",
    "09": "female",
    "10": "male",
    "11": "male",
    "12": "male",
    "13": "female",
    "14": "female",
    "15": "male",
    "16": "female",
}
SENTENCES = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

_NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


def prepare_emodb(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index EmoDB under `root` (the ``wav/`` folder or any folder above it)."""
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        match = _NAME.match(path.stem)
        if not match:
            skipped.append((str(path), "name is not SPEAKER TEXT EMOTION VERSION like 03a01Fa"))
            continue
        speaker, text, letter, _version = match.groups()
        if letter.lower() not in EMOTIONS:
            skipped.append((str(path), f"emotion letter {letter} is not one of W, L, E, A, F, T, N"))
            continue
        rows.append(
            Utterance(
                path=str(path),
                corpus="emodb",
                speaker=f"emodb_{speaker}",
                gender=GENDERS.get(speaker, ""),
                language="de",
                emotion=resolve_emotion(letter, EMOTIONS, label_map),
                native_label=letter,
                text=SENTENCES.get(text, ""),
            )
        )
    return build_index(rows, skipped)

