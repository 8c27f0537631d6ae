"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (Busso et al. 2008).

Five sessions, each a man and a woman in scripted and improvised dialogs. The release
(``IEMOCAP_full_release/``) holds, per session::

    Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav     one file per utterance
    Session1/dialog/EmoEvaluation/Ses01F_impro01.txt                  labels of that dialog
    Session1/dialog/transcriptions/Ses01F_impro01.txt                 what was said (optional)

An EmoEvaluation line reads ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000,
2.5000, 2.5000]``: start and end in seconds, the utterance, the consensus category, and the mean
valence, activation (arousal) and dominance ratings on 1..5. The utterance's last part says who
speaks (``F000``: the session's woman), so the speaker is the session and that letter
(``iemocap_01F``): ten speakers, two per session, as leave-one-session-out assumes.

The usual four classes: ``ang`` angry, ``hap`` happy, ``neu`` neutral, ``sad`` sad, with ``exc``
(excited) folded into happy (``fold_excited=False`` keeps it apart, as ``other``). Every other
category (frustrated, surprised, fearful, disgusted, other, and ``xxx``, no agreement) becomes
``other`` unless ``four_class=False`` maps sur/fea/dis to their emotions; ``native_label`` always
keeps IEMOCAP's code. The dimensions are kept as ``arousal``, ``valence`` and ``dominance``
columns on [-1, 1] (`ser.manifest.dimension_columns`, scale ``1..5``), beside ``session``,
``dialog`` and ``mode`` (``improvised`` or ``scripted``, from the dialog's name).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser.corpora.base import CorpusIndex, build_index, resolve_emotion, scan_audio
from ser.errors import CorpusError
from ser.manifest import Utterance, dimension_columns

NAME = "iemocap"
SCALE = (1.0, 5.0)
FOUR_CLASS = {"ang": "angry", "hap": "happy", "exc": "happy", "neu": "neutral", "sad": "sad"}
OTHER_CLASSES = {"sur": "surprised", "fea": "fearful", "dis": "disgust"}
LAYOUT = (
    "IEMOCAP_full_release/Session1..Session5, each with sentences/wav/<dialog>/<utterance>.wav and "
    "dialog/EmoEvaluation/<dialog>.txt"
)

_SESSION = re.compile(r"^Session([1-5])$")
_UTTERANCE = re.compile(r"^Ses(\d\d)[FM]_(?P<dialog>.+)_(?P<gender>[FM])\d+$")
_NUMBER = r"(-?\d+(?:\.\d*)?)"
_LABEL_LINE = re.compile(
    rf"^\[\s*{_NUMBER}\s*-\s*{_NUMBER}\s*\]\s+(\S+)\s+(\S+)\s+\[\s*{_NUMBER}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\]"
)
_TRANSCRIPT_LINE = re.compile(r"^(\S+)\s+\[[^\]]*\]:\s*(.*)$")


def prepare_iemocap(
    root: str | Path,
    *,
    label_map: Mapping[str, str] | None = None,
    fold_excited: bool = True,
    four_class: bool = True,
) -> CorpusIndex:
    """Index IEMOCAP under `root` (``IEMOCAP_full_release``, the folder of ``Session1``..``Session5``)."""
    sessions = _sessions(root)
    known = dict(FOUR_CLASS) if fold_excited else {k: v for k, v in FOUR_CLASS.items() if k != "exc"}
    if not four_class:
        known.update(OTHER_CLASSES)
    rows, skipped = [], []
    for number, folder in sessions:
        labels = _read_labels(folder / "dialog" / "EmoEvaluation")
        texts = _read_transcripts(folder / "dialog" / "transcriptions")
        files, dropped = scan_audio(folder / "sentences" / "wav")
        skipped += dropped
        for path in files:
            match = _UTTERANCE.match(path.stem)
            if not match:
                skipped.append((str(path), "name is not an IEMOCAP utterance like Ses01F_impro01_F000"))
                continue
            if path.stem not in labels:
                skipped.append((str(path), f"no line for {path.stem} in dialog/EmoEvaluation"))
                continue
            code, dimensions, where = labels[path.stem]
            dialog = path.stem.rsplit("_", 1)[0]
            rows.append(
                Utterance(
                    path=str(path),
                    corpus=NAME,
                    speaker=f"{NAME}_{number:02d}{match['gender']}",
                    gender="female" if match["gender"] == "F" else "male",
                    language="en",
                    emotion=resolve_emotion(code, known, label_map),
                    native_label=code,
                    text=texts.get(path.stem, ""),
                    extra={
                        "session": str(number),
                        "dialog": dialog,
                        "mode": "improvised" if "_impro" in dialog else "scripted",
                        **dimension_columns(dimensions, SCALE, where),
                    },
                )
            )
    return build_index(rows, skipped)


def _sessions(root: str | Path) -> list[tuple[int, Path]]:
    """``(number, folder)`` of each ``SessionN`` under `root` (or under ``root/IEMOCAP_full_release``)."""
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise CorpusError(f"{root}: no such folder")
    for base in (root, root / "IEMOCAP_full_release"):
        found = sorted(
            (int(m.group(1)), p) for p in base.glob("Session*") if p.is_dir() and (m := _SESSION.match(p.name))
        ) if base.is_dir() else []
        if found:
            missing = [str(p / part) for _, p in found for part in ("sentences/wav", "dialog/EmoEvaluation")
                       if not (p / part).is_dir()]
            if missing:
                raise CorpusError(f"{missing[0]}: missing; expected {LAYOUT}")
            return found
    raise CorpusError(f"{root}: no Session1..Session5 folders; expected {LAYOUT}")


def _read_labels(folder: Path) -> dict[str, tuple[str, dict[str, str], str]]:
    """utterance -> (category code, native valence/arousal/dominance as text, "file, line N")."""
    labels = {}
    for path in sorted(folder.glob("*.txt")):
        if path.name.startswith("._"):  # macOS resource forks in some copies
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            match = _LABEL_LINE.match(line.strip())
            if match:
                _start, _end, utterance, code, val, act, dom = match.groups()
                labels[utterance] = (code, {"valence": val, "arousal": act, "dominance": dom}, f"{path}, line {n}")
    return labels


def _read_transcripts(folder: Path) -> dict[str, str]:
    """utterance -> words, from ``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.`` lines."""
    texts = {}
    for path in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _TRANSCRIPT_LINE.match(line.strip())
            if match:
                texts[match.group(1)] = match.group(2).strip()
    return texts
