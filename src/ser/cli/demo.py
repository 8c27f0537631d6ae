"""``ser demo``: look at the example clips (or any folder of audio) the way `ser` reads them.

For each audio file: its duration, native sample rate, peak and RMS level, and the true
emotion, actor and gender when the name follows the RAVDESS convention. Core dependencies only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

ORDER = 90

# RAVDESS: modality-channel-emotion-intensity-statement-repetition-actor, e.g. 03-01-05-02-01-01-04.
_RAVDESS_NAME = re.compile(r"^0[1-3]-0[12]-(0[1-8])-0[12]-0[12]-0[12]-(\d\d)$")
_RAVDESS_EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="show what ser reads from the example clips (or any folder of audio)",
        description=(
            "For each audio file in DIR: duration, native sample rate, peak and RMS level in dBFS "
            "(of the mono mix), and the true emotion, actor and gender when the file name follows "
            "the RAVDESS convention (03-01-EE-II-SS-RR-AA)."
        ),
    )
    parser.add_argument("dir", nargs="?", metavar="DIR", help="folder (or one file) of audio; default: examples/")
    parser.set_defaults(func=run)


@dataclass
class ClipRow:
    """One line of the demo table; `error` is set instead of the levels when the file cannot be read."""

    file: str
    duration_s: float | None = None
    sample_rate: int | None = None
    peak_dbfs: float | None = None
    rms_dbfs: float | None = None
    emotion: str = ""
    actor: str = ""
    gender: str = ""
    error: str = ""


def run(args) -> int:
    from ser.corpora.base import find_audio
    from ser.errors import SerError

    folder = Path(args.dir) if args.dir else _default_examples()
    files = [folder] if folder.is_file() else find_audio(folder)
    if not files:
        raise SerError(f"{folder}: no audio files in this folder")
    rows = [describe_clip(path, path.name if folder.is_file() else str(path.relative_to(folder))) for path in files]
    print(f"{len(files)} audio file{'s' if len(files) != 1 else ''} in {folder}\n")
    print(format_table(rows))
    failed = sum(1 for row in rows if row.error)
    if failed:
        print(f"\n{failed} file{'s' if failed != 1 else ''} could not be read.")
    return 1 if failed == len(rows) else 0


def describe_clip(path: Path, label: str) -> ClipRow:
    """Levels and (where the name tells) labels of one clip; a bad file becomes a row with `error`."""
    from ser import audio

    row = ClipRow(file=label, **parse_ravdess_name(path.stem))
    try:
        meta = audio.info(path)
        signal = audio.load(path, sr=meta.sample_rate)  # native rate: levels of the file as it is
    except audio.AudioError as exc:
        row.error = exc.reason
        return row
    row.duration_s = meta.duration
    row.sample_rate = meta.sample_rate
    row.peak_dbfs = level_dbfs(float(abs(signal).max()))
    row.rms_dbfs = level_dbfs(math.sqrt(float((signal.astype("float64") ** 2).mean())))
    return row


def parse_ravdess_name(stem: str) -> dict[str, str]:
    """``{"emotion", "actor", "gender"}`` from a RAVDESS file stem, or {} when it is not one.

    Actors are numbered 01 to 24; odd numbers are male, even numbers female.
    """
    match = _RAVDESS_NAME.match(stem)
    if not match or not 1 <= int(match[2]) <= 24:
        return {}
    actor = int(match[2])
    return {"emotion": _RAVDESS_EMOTIONS[match[1]], "actor": f"{actor:02d}", "gender": "male" if actor % 2 else "female"}


def level_dbfs(amplitude: float) -> float:
    """20 log10 of an amplitude relative to full scale (1.0); -inf for silence."""
    return 20 * math.log10(amplitude) if amplitude > 0 else -math.inf


def format_table(rows: list[ClipRow]) -> str:
    """The rows as an aligned plain-text table (numbers right-aligned); a bad file's row says why."""
    header = ["file", "duration", "rate", "peak", "RMS", "true emotion", "actor", "gender"]
    right = {"duration", "rate", "peak", "RMS"}
    table = [(row, None if row.error else _cells(row)) for row in rows]
    widths = [max([len(header[i])] + [len(c[i]) for _, c in table if c]) for i in range(len(header))]
    widths[0] = max([widths[0]] + [len(row.file) for row in rows])

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if h in right else v.ljust(w) for h, v, w in zip(header, values, widths)).rstrip()

    lines = [line(header)]
    for row, values in table:
        lines.append(line(values) if values else f"{row.file.ljust(widths[0])}  error: {row.error}")
    return "\n".join(lines)


def _cells(row: ClipRow) -> list[str]:
    return [
        row.file,
        f"{row.duration_s:.2f} s",
        f"{row.sample_rate} Hz",
        _dbfs_text(row.peak_dbfs),
        _dbfs_text(row.rms_dbfs),
        row.emotion or "-",
        row.actor or "-",
        row.gender or "-",
    ]


def _dbfs_text(value: float | None) -> str:
    # round() then + 0.0 turns a -0.04 into "0.0", not "-0.0".
    return "-inf dBFS" if value == -math.inf else f"{round(value, 1) + 0.0:.1f} dBFS"


def _default_examples() -> Path:
    """./examples when run from a checkout's root, else the examples/ beside an editable install."""
    from ser.errors import SerError

    here = Path("examples")
    if here.is_dir():
        return here
    beside_package = Path(__file__).resolve().parents[3] / "examples"
    if beside_package.is_dir():
        return beside_package
    raise SerError("no examples/ folder here; give the folder to look at: ser demo DIR")
