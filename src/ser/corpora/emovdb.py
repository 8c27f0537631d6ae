"""EmoV-DB: the Emotional Voices Database (Adigwe et al. 2018), English, 4 speakers.

Speakers bea and jenie (female), josh and sam (male) read CMU Arctic prompts in five styles:
amused, angry, disgusted, neutral and sleepy (josh has no angry or disgusted part). Files are
``<style>_<range>_<NNNN>.wav`` (``anger_1-28_0011.wav``, ``amused_1-15_0001.wav``) where NNNN is
the Arctic sentence number; some copies drop the range (``anger_0011.wav``).

The file name does not say who speaks, so the speaker comes from a folder on the way down:
``bea_Amused/`` (one folder per OpenSLR archive, as ``ser data download emovdb`` unpacks them),
``bea/Amused/`` (the sorted release), or ``Spk-Je``-style names. A file with no such folder is
skipped. Amused and sleepy have no place in `ser.labels.EMOTIONS` and become ``other`` unless
mapped. When ``cmuarctic.data`` lies anywhere under the root, its prompts fill ``text``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, file_duration, find_audio, resolve_emotion
from ser.manifest import Utterance

NAME = "emovdb"

_STEM = re.compile(r"^(?P<style>[a-z]+)_(?:\d+-\d+_)?(?P<number>\d{4})$", re.IGNORECASE)
_ARCTIC_LINE = re.compile(r'^\(\s*arctic_a(?P<number>\d{4})\s+"(?P<text>.*)"\s*\)\s*$')

GENDERS = {"bea": "female", "jenie": "female", "josh": "male", "sam": "male"}
# The unsorted release names speakers Spk-Je, Spk-Bea, Spk-Sa, Spk-Jsh.
_ALIASES = {"je": "jenie", "sa": "sam", "jsh": "josh"}

KNOWN = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "neutral": "neutral",
}
STYLES = ("amused", "anger", "angry", "disgust", "disgusted", "neutral", "sleepiness", "sleepy")


def prepare_emovdb(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index an EmoV-DB folder (OpenSLR archives unpacked one folder each, or the sorted release)."""
    root = Path(root)
    audio = find_audio(root)
    prompts = _arctic_prompts(root)
    index = CorpusIndex(utterances=[])
    for path in audio:
        match = _STEM.match(path.stem)
        if match is None:
            index.skipped.append((str(path), "name is not <style>_<range>_<NNNN>"))
            continue
        native = match["style"]
        if native.lower() not in STYLES:
            index.skipped.append((str(path), f"unknown style {native!r}"))
            continue
        speaker = _speaker(path, root)
        if not speaker:
            index.skipped.append((str(path), "no speaker folder (bea, jenie, josh, sam) above the file"))
            continue
        index.utterances.append(
            Utterance(
                path=str(path.resolve()),
                corpus=NAME,
                speaker=f"{NAME}_{speaker}",
                emotion=resolve_emotion(native, KNOWN, label_map),
                native_label=native,
                gender=GENDERS[speaker],
                language="en",
                text=prompts.get(match["number"], ""),
                duration=file_duration(path),
            )
        )
    return index


def _speaker(path: Path, root: Path) -> str:
    """The speaker named by the nearest folder above `path` (below `root`), or ""."""
    try:
        parts = path.resolve().relative_to(root.resolve()).parts[:-1]
    except ValueError:
        parts = path.parts[:-1]
    for part in reversed(parts):
        name = part.lower()
        if name.startswith(("spk-", "spk_")):
            name = name[4:]
        head = re.split(r"[_\-\s]", name, maxsplit=1)[0]
        head = _ALIASES.get(head, head)
        if head in GENDERS:
            return head
    return ""


def _arctic_prompts(root: Path) -> dict[str, str]:
    """Sentence number -> prompt, from the first ``cmuarctic.data`` under `root` (or {})."""
    for candidate in sorted(root.rglob("cmuarctic.data")):
        prompts = {}
        for line in candidate.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _ARCTIC_LINE.match(line.strip())
            if match:
                prompts[match["number"]] = match["text"].strip()
        return prompts
    return {}

