"""One emotion vocabulary for every corpus.

Each corpus names its emotions in its own way (RAVDESS codes ``05``, EmoDB letters ``W``,
TESS words ``ps``). Readers keep that name in ``native_label`` and map it to one of
`EMOTIONS`; a label outside the vocabulary becomes `OTHER` unless the user maps it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ser.manifest import Utterance

EMOTIONS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "boredom",
)
OTHER = "other"
UNLABELLED = ""

# The seven classes of the shipped default model: calm is folded into neutral, boredom is left out.
DEFAULT_MODEL_LABELS: tuple[str, ...] = (
    "neutral",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
)
FOLD_INTO_DEFAULT = {"calm": "neutral"}

GENDERS = ("female", "male")

# What a model can be trained to predict (``data.target``, ``--target``).
TARGETS: tuple[str, ...] = ("emotion", "gender", "gender_emotion")
# The manifest column that holds a row's target label while ``ser train`` works on it; the
# ``emotion`` column keeps the corpus' emotion.
TARGET_COLUMN = "target"


def parse_label_map(items: list[str] | str | None) -> dict[str, str]:
    """Parse ``["excited=happy", "marah=angry"]`` (or one comma-separated string) into a dict.

    Keys are matched case-insensitively against native labels; values must be in `EMOTIONS`
    or be `OTHER`.
    """
    if not items:
        return {}
    if isinstance(items, str):
        items = [items]
    mapping: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            pair = pair.strip()
            if not pair:
                continue
            if "=" not in pair:
                raise ValueError(f"label mapping {pair!r} is not of the form native=emotion")
            native, emotion = (s.strip() for s in pair.split("=", 1))
            emotion = emotion.lower()
            if emotion not in EMOTIONS and emotion != OTHER:
                raise ValueError(
                    f"label mapping {pair!r}: {emotion!r} is not one of {', '.join(EMOTIONS)} or {OTHER}"
                )
            mapping[native.lower()] = emotion
    return mapping


def to_default_labels(emotion: str) -> str | None:
    """Map a vocabulary emotion to the default model's seven classes, or None if it has no place."""
    emotion = FOLD_INTO_DEFAULT.get(emotion, emotion)
    return emotion if emotion in DEFAULT_MODEL_LABELS else None


def target_label(row: "Utterance", target: str = "emotion", emotion: str | None = None) -> str:
    """The label of `row` for `target`: its emotion, its gender, or ``gender_emotion`` (``female_angry``).

    `emotion` replaces the row's own emotion (``ser train`` passes the relabelled one). ``""``
    when a needed column is empty or the gender is neither female nor male: the row has no
    label for this target and can be neither trained on nor scored.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    emotion = row.emotion if emotion is None else emotion
    if target == "emotion":
        return emotion
    gender = row.gender.lower() if row.gender.lower() in GENDERS else ""
    if target == "gender":
        return gender
    return f"{gender}_{emotion}" if gender and emotion else ""


def class_of(row: "Utterance") -> str:
    """The class a row is stratified, trained and scored on: its target column, else its emotion."""
    return row.extra.get(TARGET_COLUMN) or row.emotion
