"""One emotion vocabulary for every corpus.

Each corpus names its emotions in its own way (RAVDESS codes ``05``, EmoDB letters ``W``,
TESS words ``ps``). Readers keep that name in ``native_label`` and map it to one of
`EMOTIONS`; a label outside the vocabulary becomes `OTHER` unless the user maps it.
"""

from __future__ import annotations

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
