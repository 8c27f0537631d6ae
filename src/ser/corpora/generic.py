"""Importers for corpora without a reader of their own: a folder per label, or a CSV/TSV table.

    >>> prepare_folder("data/my_corpus", corpus="mine", language="id",  # doctest: +SKIP
    ...                label_map={"marah": "angry", "senang": "happy"})
    >>> prepare_csv("data/labels.tsv", corpus="mine", label_column="emotion")  # doctest: +SKIP

Label names are matched case-insensitively against the user's `label_map`, then against common
English names (``anger``, ``happiness``, ``sadness``...); anything else becomes ``other``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ser.corpora.base import (
    CorpusIndex,
    build_index,
    parse_gender,
    read_table,
    resolve_emotion,
    scan_audio,
)
from ser.errors import CorpusError
from ser.labels import EMOTIONS, UNLABELLED
from ser.manifest import COLUMNS, Utterance

# The vocabulary itself plus the usual English spellings of it.
COMMON_NAMES = {
    **{emotion: emotion for emotion in EMOTIONS},
    "anger": "angry",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "fear": "fearful",
    "disgusted": "disgust",
    "surprise": "surprised",
    "bored": "boredom",
}


def prepare_folder(
    root: str | Path,
    *,
    label_map: Mapping[str, str] | None = None,
    corpus: str = "folder",
    language: str = "",
) -> CorpusIndex:
    """Index ``root/<label>/[<speaker>/]<file>``: the first folder is the label.

    A second folder level, when there is one, is taken as the speaker (``<corpus>_<folder>``);
    otherwise the speaker is unknown (``""``), and speaker-independent splits cannot be made.
    """
    root = Path(root).expanduser().absolute()
    files, skipped = scan_audio(root)
    rows = []
    for path in files:
        folders = path.relative_to(root).parts[:-1]
        if not folders:
            skipped.append((str(path), "not inside a label folder (expected root/<label>/<file>)"))
            continue
        label = folders[0]
        rows.append(
            Utterance(
                path=str(path),
                corpus=corpus,
                speaker=f"{corpus}_{folders[1]}" if len(folders) > 1 else "",
                language=language,
                emotion=resolve_emotion(label, COMMON_NAMES, label_map),
                native_label=label,
            )
        )
    return build_index(rows, skipped)


def prepare_csv(
    path: str | Path,
    *,
    label_map: Mapping[str, str] | None = None,
    corpus: str = "csv",
    path_column: str = "path",
    label_column: str = "label",
    speaker_column: str = "speaker",
    gender_column: str = "gender",
    language_column: str = "language",
    text_column: str = "text",
    language: str = "",
) -> CorpusIndex:
    """Index the audio files listed in a CSV or TSV table (the delimiter is sniffed).

    `path_column` and `label_column` are required; the speaker, gender, language and text columns
    are used when present. Relative paths are resolved against the table's folder; files that do
    not exist are reported as skipped. An empty label makes an unlabelled row (emotion ``""``).
    Other columns are kept in ``extra``.
    """
    table = Path(path).expanduser().absolute()
    if not table.exists():
        raise CorpusError(f"{table}: no such file")
    if not table.is_file():
        raise CorpusError(f"{table}: not a file (expected a CSV or TSV table)")
    header, records = read_table(table)
    missing = [c for c in (path_column, label_column) if c not in header]
    if missing:
        raise CorpusError(f"{table}: no column {' or '.join(map(repr, missing))}; the columns are {header}")
    used = {path_column, label_column, speaker_column, gender_column, language_column, text_column}
    rows, skipped = [], []
    for line_no, record in enumerate(records, start=2):
        if not record.get(path_column):
            skipped.append((f"{table}:{line_no}", f"empty {path_column!r}"))
            continue
        audio = Path(record[path_column]).expanduser()
        audio = audio if audio.is_absolute() else table.parent / audio
        if not audio.is_file():
            skipped.append((str(audio), f"no such file (line {line_no} of {table.name})"))
            continue
        label = record.get(label_column, "")
        speaker = record.get(speaker_column, "")
        rows.append(
            Utterance(
                path=str(audio),
                corpus=corpus,
                speaker=f"{corpus}_{speaker}" if speaker else "",
                gender=parse_gender(record.get(gender_column, "")),
                language=record.get(language_column) or language,
                emotion=resolve_emotion(label, COMMON_NAMES, label_map) if label else UNLABELLED,
                native_label=label,
                text=record.get(text_column, ""),
                extra={k: v for k, v in record.items() if k not in used and k not in COLUMNS},
            )
        )
    return build_index(rows, skipped)

