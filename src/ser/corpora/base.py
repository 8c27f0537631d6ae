"""What every corpus reader shares: finding audio files by stem, and reporting what did not parse."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from ser.errors import CorpusError
from ser.labels import OTHER
from ser.manifest import Utterance

# Users convert corpora, so readers match on file stems and accept any of these extensions.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".mp4", ".aac", ".aif", ".aiff", ".webm", ".wma"}
)


@dataclass
class CorpusIndex:
    """The result of indexing a corpus folder: the utterances, and the files that did not parse."""

    utterances: list[Utterance]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def skipped_report(self, examples: int = 3) -> str:
        """One line for the user, e.g. ``skipped 2 files whose names do not parse: a.wav (...), ...``."""
        if not self.skipped:
            return ""
        shown = ", ".join(f"{Path(p).name} ({why})" for p, why in self.skipped[:examples])
        more = "" if len(self.skipped) <= examples else f", and {len(self.skipped) - examples} more"
        return f"skipped {len(self.skipped)} file(s): {shown}{more}"


def find_audio(root: str | Path) -> list[Path]:
    """All audio files under `root`, recursively, sorted; raises if `root` is not a folder."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"{root}: no such folder")
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    return sorted(
        p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file() and not p.name.startswith("._")
    )


def file_duration(path: Path) -> float | None:
    """Duration in seconds read from the header, or None if the file cannot be read."""
    from ser.audio import AudioError, duration

    try:
        return duration(path)
    except (AudioError, OSError):
        return None


def resolve_emotion(native: str, known: Mapping[str, str], label_map: Mapping[str, str] | None = None) -> str:
    """The vocabulary emotion of a corpus' native label.

    `known` is the corpus' own map (lower-case native label -> emotion); `label_map` is the user's
    (``--map excited=happy``) and wins over it. A label neither knows becomes ``other``.
    """
    key = native.strip().lower()
    if label_map and key in label_map:
        return label_map[key]
    return known.get(key, OTHER)


def scan_audio(root: str | Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """The audio files of a corpus folder (absolute paths), one per folder and stem.

    A user who converted a corpus may keep both ``a.wav`` and ``a.flac``: the first in sorted order
    is kept and the other is returned as skipped, so no recording is counted twice. Raises
    `CorpusError` if `root` is missing, not a folder, or holds no audio file at all.
    """
    root = Path(root).expanduser().absolute()
    files = find_audio(root)
    if not files:
        raise CorpusError(f"{root}: no audio files found ({', '.join(sorted(AUDIO_EXTENSIONS))})")
    kept: dict[tuple[Path, str], Path] = {}
    duplicates: list[tuple[str, str]] = []
    for path in files:
        key = (path.parent, path.stem)
        if key in kept:
            duplicates.append((str(path), f"same recording as {kept[key].name}"))
        else:
            kept[key] = path
    return list(kept.values()), duplicates


def build_index(rows: list[Utterance], skipped: list[tuple[str, str]]) -> CorpusIndex:
    """Measure each row's duration from its header; rows whose audio cannot be read are skipped."""
    good = []
    for row in rows:
        row.duration = file_duration(Path(row.path))
        if row.duration:
            good.append(row)
        else:
            skipped.append((row.path, "audio cannot be read or is empty"))
    return CorpusIndex(good, sorted(skipped))


def parse_gender(text: str) -> str:
    """``female``, ``male`` or ``""`` from the usual spellings (``F``, ``m``, ``Female``, ``male``)."""
    key = text.strip().lower()
    if key in ("f", "female", "w", "woman"):
        return "female"
    if key in ("m", "male", "man"):
        return "male"
    return ""


def find_beside(root: str | Path, name: str) -> Path | None:
    """The metadata file `name` in `root` or its parent (users point at either), or None."""
    root = Path(root).expanduser()
    for folder in (root, root.parent):
        if (folder / name).is_file():
            return folder / name
    return None


def read_table(path: Path, delimiter: str | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV/TSV file; values are stripped and never None.

    The delimiter (comma, tab, semicolon or bar) is sniffed from the header unless given.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not UTF-8 text") from None
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",\t;|").delimiter
        except csv.Error:  # a single column, or nothing to go by
            delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        rows = [{k: (v or "").strip() for k, v in record.items() if k is not None} for record in reader]
    except csv.Error as exc:
        raise CorpusError(f"{path}: not a readable table ({exc})") from None
    return header, rows
