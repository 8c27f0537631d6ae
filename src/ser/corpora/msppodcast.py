"""MSP-Podcast (Lotfian & Busso 2019): podcast segments with categorical and dimensional labels.

The release (``MSP-PODCAST-Publish-1.x/``) holds::

    Audios/MSP-PODCAST_0001_0008.wav          one file per segment
    Labels/labels_consensus.csv               one row per segment

``labels_consensus.csv`` has the columns ``FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID,
Gender, Split_Set``: the consensus category (a letter), the mean arousal, valence and dominance
ratings on 1..7, the speaker (a number, or ``Unknown``), ``Male``/``Female``, and the official
partition (``Train``, ``Development``, ``Test1``, ``Test2``, ``Test3``). The partitions travel in
the ``split_set`` column for the ``official`` protocol (`ser.splits.official_split`); the
dimensions in ``arousal``, ``valence`` and ``dominance`` on [-1, 1] (scale ``1..7``).

Categories: A angry, H happy, S sad, N neutral, U surprised, F fearful, D disgust; C (contempt),
O (other) and X (no agreement) become ``other``; an empty EmoClass (a test set released without
labels) leaves the row unlabelled. A segment whose speaker is ``Unknown`` is given its podcast as
speaker (``msppodcast_podcast0001``, from the file name) so that it still groups with the clips
most likely to share its voice; ``speaker_known`` says which rows these are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, find_audio, parse_gender, read_table, resolve_emotion
from ser.errors import CorpusError
from ser.labels import UNLABELLED
from ser.manifest import Utterance, dimension_columns

NAME = "msppodcast"
SCALE = (1.0, 7.0)
EMOTIONS = {
    "a": "angry", "h": "happy", "s": "sad", "n": "neutral", "u": "surprised", "f": "fearful", "d": "disgust",
}  # fmt: skip
COLUMNS = ("FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set")
PARTITIONS = ("Train", "Development", "Test1", "Test2", "Test3")
LAYOUT = "Audios/<FileName>.wav and Labels/labels_consensus.csv (" + ", ".join(COLUMNS) + ")"


def prepare_msppodcast(root: str | Path, *, label_map: Mapping[str, str] | None = None) -> CorpusIndex:
    """Index MSP-Podcast under `root` (the folder holding ``Audios/`` and ``Labels/``)."""
    root = Path(root).expanduser().absolute()
    audio_dir, labels_path = _layout(root)
    audio = {p.stem: p for p in find_audio(audio_dir)}
    header, records = read_table(labels_path, delimiter=",")
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CorpusError(f"{labels_path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
    rows, skipped, listed = [], [], set()
    for line, record in enumerate(records, start=2):
        where = f"{labels_path}, line {line}"
        stem = Path(record["FileName"]).stem
        listed.add(stem)
        partition = record["Split_Set"]
        if partition and partition not in PARTITIONS:
            raise CorpusError(f"{where}: Split_Set {partition!r} is not one of {', '.join(PARTITIONS)}")
        if stem not in audio:
            skipped.append((str(audio_dir / record["FileName"]), "listed in labels_consensus.csv but no audio file"))
            continue
        code = record["EmoClass"]
        speaker_id = record["SpkrID"]
        known_speaker = bool(speaker_id) and speaker_id.lower() != "unknown"
        dimensions = {"arousal": record["EmoAct"], "valence": record["EmoVal"], "dominance": record["EmoDom"]}
        rows.append(
            Utterance(
                path=str(audio[stem]),
                corpus=NAME,
                speaker=f"{NAME}_{speaker_id}" if known_speaker else f"{NAME}_podcast{_podcast(stem)}",
                gender=parse_gender(record["Gender"]),
                language="en",
                emotion=resolve_emotion(code, EMOTIONS, label_map) if code else UNLABELLED,
                native_label=code,
                extra={
                    "split_set": partition,
                    "speaker_known": "yes" if known_speaker else "no",
                    **dimension_columns(dimensions, SCALE, where),
                },
            )
        )
    skipped += [(str(p), "not in labels_consensus.csv") for stem, p in audio.items() if stem not in listed]
    return build_index(rows, skipped)


def _layout(root: Path) -> tuple[Path, Path]:
    """``Audios/`` and ``Labels/labels_consensus.csv`` under `root`, or a `CorpusError` saying what is missing."""
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    audio_dir, labels_path = root / "Audios", root / "Labels" / "labels_consensus.csv"
    lacking = [str(p) for p in (audio_dir, labels_path) if not p.exists()]
    if lacking:
        raise CorpusError(f"{', '.join(lacking)}: not found; an MSP-Podcast folder holds {LAYOUT}")
    return audio_dir, labels_path


def _podcast(stem: str) -> str:
    """The podcast number of ``MSP-PODCAST_0001_0008`` (``0001``), or the stem if it has none."""
    parts = stem.split("_")
    return parts[1] if len(parts) >= 3 else stem
