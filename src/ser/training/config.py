"""The training recipe: one YAML file, sections checked key by key, flags on top.

    data:      where the clips come from and what to predict
    protocol:  how clips are split into training, validation and test (ser.splits)
    features:  spectral frames / pooled statistics (ser.features.spectral) or eGeMAPS
    preprocess, augment, model, train, tune

Every section is a dataclass; an unknown key anywhere is an error naming the section, the key
and the keys it knows. `load_config` reads a file and applies ``dotted.key=value`` overrides
(``--set train.lr=3e-4``, and the dedicated flags of ``ser train``) before checking, so the
checks see the final values. ``configs/classic-*.yaml`` are worked examples.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from ser.errors import SerError
from ser.labels import TARGETS

FEATURE_KINDS = ("spectral", "egemaps")
MONITORS = ("val_ua", "val_ccc", "val_loss")
TASKS = ("classification", "regression")


class ConfigError(SerError):
    """A training config is malformed: unknown key, bad value, unknown model or protocol."""


@dataclass
class DataConfig:
    """Which clips and which target.

    manifest : a manifest CSV (``ser data index``); or
    corpora : reader name -> corpus folder, indexed on the fly with `ser.corpora.prepare`
        (both may be given for different clips: the rows are concatenated; a clip listed in both is
        refused, since it would count twice). A ``--manifest`` or ``--corpus`` flag replaces the config's data source.
    target : ``emotion``, ``gender`` or ``gender_emotion`` (``female_angry`` ... 14 classes
        with 7 emotions).
    relabel : emotion -> emotion applied first, e.g. ``{calm: neutral}``.
    emotions : keep only clips with these emotions (after relabelling); None keeps every
        labelled clip except ``other``.
    task : ``classification`` (of ``target``) or ``regression`` (of ``dimensions``: one output
        per dimension, trained on the manifest's [-1, 1] ratings, scored by CCC).
    dimensions : regression only: which of ``arousal``, ``valence``, ``dominance``; clips
        without a rating for each are left out.
    """

    manifest: str | None = None
    corpora: dict[str, str] = field(default_factory=dict)
    target: str = "emotion"
    relabel: dict[str, str] = field(default_factory=dict)
    emotions: list[str] | None = None
    task: str = "classification"
    dimensions: list[str] = field(default_factory=lambda: ["arousal", "valence"])

    def check(self) -> None:
        if not self.manifest and not self.corpora:
            raise ConfigError("data: give a manifest (data.manifest) or corpora (data.corpora: {reader: folder})")
        if self.target not in TARGETS:
            raise ConfigError(f"data.target: {self.target!r} is not one of {', '.join(TARGETS)}")
        if not isinstance(self.corpora, dict):
            raise ConfigError("data.corpora must map reader names to folders, e.g. {ravdess: data/RAVDESS}")
        if self.task not in TASKS:
            raise ConfigError(f"data.task: {self.task!r} is not one of {', '.join(TASKS)}")
        from ser.manifest import DIMENSIONS

        dims = self.dimensions
        if not isinstance(dims, list) or not dims or len(set(dims)) != len(dims) or set(dims) - set(DIMENSIONS):
            raise ConfigError(f"data.dimensions: {dims!r} is not a list of distinct names among {', '.join(DIMENSIONS)}")
        if self.task == "regression" and self.target != "emotion":
            raise ConfigError(f"data.target {self.target!r} is for classification; regression predicts data.dimensions")


@dataclass
class ProtocolConfig:
    """The split (`ser.splits.make_folds`) and the validation speakers drawn from its training side.

    name : one of `ser.splits.PROTOCOLS`, or ``manifest`` (the fold/split column written by
        ``ser data split``).
    options : passed to the protocol, e.g. ``n_folds``, ``seed``, ``test_size``, ``train`` and
        ``test`` (cross-corpus); written flat in YAML beside ``name``.
    val_fraction : share of training speakers held out for early stopping and model selection.
    folds : run only these folds (0-based), e.g. to spread a k-fold run over several jobs.
    """

    name: str = "speaker-kfold"
    val_fraction: float = 0.1
    folds: list[int] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        from ser.splits import PROTOCOLS, protocol_options

        if self.name != "manifest":
            if self.name not in PROTOCOLS:
                raise ConfigError(f"protocol.name: unknown protocol {self.name!r}; known: {', '.join(PROTOCOLS)}, manifest")
            unknown = sorted(set(self.options) - set(protocol_options(self.name)))
            if unknown:
                raise ConfigError(
                    f"protocol: {self.name} does not take {', '.join(unknown)}; it takes "
                    f"{', '.join(protocol_options(self.name)) or 'no options'}"
                )
        elif self.options:
            raise ConfigError(f"protocol: 'manifest' takes no options, got {sorted(self.options)}")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"protocol.val_fraction must lie in (0, 1), not {self.val_fraction}")


@dataclass
class FeaturesConfig:
    """What the model sees.

    kind : ``spectral`` (`ser.features.spectral`: frames for sequence models, pooled
        statistics for the classic ones) or ``egemaps`` (88 functionals; classic models only).
    spectral : `ser.features.spectral.FeatureConfig` keys (names, n_fft, hop_length, n_mfcc,
        n_mels, stats, ...), written flat in YAML beside ``kind``.
    max_frames : frame sequences longer than this are cut to their middle ``max_frames``
        for training (at prediction time long clips are scored in windows and averaged).
    cache_dir : feature cache (content-keyed; a second run reads instead of recomputing).
    n_jobs : processes computing features (-1: every core).
    """

    kind: str = "spectral"
    max_frames: int = 300
    cache_dir: str = ".cache/ser-features"
    n_jobs: int = -1
    spectral: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.kind not in FEATURE_KINDS:
            raise ConfigError(f"features.kind: {self.kind!r} is not one of {', '.join(FEATURE_KINDS)}")
        if self.kind == "egemaps" and self.spectral:
            raise ConfigError(f"features: eGeMAPS takes no spectral settings, got {sorted(self.spectral)}")
        if not isinstance(self.max_frames, int) or self.max_frames < 8:
            raise ConfigError(f"features.max_frames must be an integer >= 8, not {self.max_frames!r}")
        self.feature_config()  # checks the spectral keys

    def feature_config(self):
        """The `FeatureConfig` of the spectral features (defaults for eGeMAPS, unused)."""
        from ser.features.spectral import FeatureConfig

        try:
            return FeatureConfig.from_dict(self.spectral)
        except SerError as exc:
            raise ConfigError(f"features: {exc}") from None


@dataclass
class AugmentSection:
    """Training-only augmentation: ``copies`` augmented versions of every training clip
    (`ser.augment`, seeded per clip and copy), plus optional SpecAugment masks per batch.

    settings : `ser.augment.AugmentConfig` keys (noise, shift, stretch, pitch_semitones, ...),
        written flat in YAML.
    """

    enabled: bool = False
    copies: int = 1
    spec_augment: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if not isinstance(self.copies, int) or self.copies < 1:
            raise ConfigError(f"augment.copies must be a positive integer, not {self.copies!r}")
        if self.enabled or self.settings:  # (ser.augment imports audiomentations: only when used)
            self.augment_config()

    def augment_config(self):
        from ser.augment import AugmentConfig

        try:
            return AugmentConfig.from_dict(self.settings)
        except SerError as exc:
            raise ConfigError(f"augment: {exc}") from None


@dataclass
class ModelSection:
    """``name`` from `ser.models.names` and its hyperparameters, written flat beside it."""

    name: str = "cnn"
    hparams: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        from ser.models import MODELS, hyperparameters

        if self.name not in MODELS:
            raise ConfigError(f"model.name: unknown model {self.name!r}; choose from {', '.join(MODELS)}")
        unknown = sorted(set(self.hparams) - set(hyperparameters(self.name)))
        if unknown:
            raise ConfigError(
                f"model: {self.name} has no hyperparameter(s) {', '.join(unknown)}; "
                f"it takes {', '.join(hyperparameters(self.name))}"
            )


@dataclass
class TrainSection:
    """The optimisation of PyTorch models (classic models use only ``seed``).

    epochs : most epochs; early stopping ends sooner when ``monitor`` has not improved for
        ``patience`` epochs (0 disables early stopping).
    class_weight : ``balanced`` (loss weights inverse to class frequency in training) or ``none``.
    threads : torch intra-op threads (results are reproducible for a given count).
    """

    epochs: int = 40
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 8
    monitor: str = "val_ua"
    class_weight: str = "balanced"
    grad_clip: float = 5.0
    seed: int = 0
    threads: int = 1

    def check(self) -> None:
        for name in ("epochs", "batch_size", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"train.{name} must be a positive integer, not {value!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ConfigError(f"train.patience must be a non-negative integer, not {self.patience!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ConfigError(f"train.lr must be a positive number, not {self.lr!r}")
        if self.monitor not in MONITORS:
            raise ConfigError(f"train.monitor: {self.monitor!r} is not one of {', '.join(MONITORS)}")
        if self.class_weight not in ("balanced", "none"):
            raise ConfigError(f"train.class_weight: {self.class_weight!r} is not 'balanced' or 'none'")


@dataclass
class TuneSection:
    """Hyperparameter search with Optuna (``ser tune``), scored on validation speakers only.

    space : dotted config key -> range. ``{low: 1e-4, high: 1e-2, log: true}`` (float, or int
        when both bounds are integers) or a list of choices.
    trials : number of trials; ``fold`` : which fold's training side to search on.
    """

    trials: int = 20
    fold: int = 0
    space: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        for key, spec in self.space.items():
            if key.split(".")[0] not in _SECTIONS or key.count(".") != 1:
                raise ConfigError(f"tune.space: {key!r} is not a 'section.key' of the config (e.g. train.lr)")
            if isinstance(spec, list):
                if not spec:
                    raise ConfigError(f"tune.space.{key}: give at least one choice")
            elif isinstance(spec, dict):
                extra = sorted(set(spec) - {"low", "high", "log", "step"})
                if extra or "low" not in spec or "high" not in spec:
                    raise ConfigError(f"tune.space.{key}: expected {{low, high[, log, step]}} or a list, got {spec!r}")
                if not spec["low"] < spec["high"]:
                    raise ConfigError(f"tune.space.{key}: low must be below high")
            else:
                raise ConfigError(f"tune.space.{key}: expected {{low, high[, log]}} or a list of choices, got {spec!r}")


@dataclass
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    preprocess: dict[str, Any] = field(default_factory=dict)
    augment: AugmentSection = field(default_factory=AugmentSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    tune: TuneSection = field(default_factory=TuneSection)

    def check(self) -> "ExperimentConfig":
        for section in (self.data, self.protocol, self.features, self.augment, self.model, self.train, self.tune):
            section.check()
        self.preprocess_config()
        from ser.models import input_kind

        if self.features.kind == "egemaps" and input_kind(self.model.name) == "frames":
            raise ConfigError(
                f"features.kind egemaps gives one vector per clip, but {self.model.name} needs frame "
                "sequences; use features.kind: spectral, or a classic model (svm, mlp, logreg)"
            )
        regression = self.data.task == "regression"
        if regression and input_kind(self.model.name) != "frames":
            raise ConfigError(
                f"data.task regression: {self.model.name} is a classifier only; regression heads are the "
                "PyTorch frame models (cnn, cnn2d, lstm, bilstm, gru, clstm, transformer)"
            )
        score = "val_ccc" if regression else "val_ua"
        if self.train.monitor not in (score, "val_loss"):
            raise ConfigError(
                f"train.monitor: {self.train.monitor} does not score a {self.data.task} task; use {score} or val_loss"
            )
        return self

    def preprocess_config(self):
        from ser.preprocess import PreprocessConfig

        try:
            return PreprocessConfig.from_dict(self.preprocess)
        except SerError as exc:
            raise ConfigError(f"preprocess: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The nested dict as written to YAML (flat sub-settings folded back in)."""
        out = asdict(self)
        out["protocol"] = {**{k: v for k, v in out["protocol"].items() if k != "options"}, **self.protocol.options}
        out["features"] = {**{k: v for k, v in out["features"].items() if k != "spectral"}, **self.features.spectral}
        out["augment"] = {**{k: v for k, v in out["augment"].items() if k != "settings"}, **self.augment.settings}
        out["model"] = {"name": self.model.name, **self.model.hparams}
        return _plain(out)


# section name -> (class, the field that takes keys the class does not name)
_SECTIONS: dict[str, tuple[type, str | None]] = {
    "data": (DataConfig, None),
    "protocol": (ProtocolConfig, "options"),
    "features": (FeaturesConfig, "spectral"),
    "preprocess": (dict, None),
    "augment": (AugmentSection, "settings"),
    "model": (ModelSection, "hparams"),
    "train": (TrainSection, None),
    "tune": (TuneSection, None),
}


def from_dict(raw: Mapping[str, Any], source: str = "config") -> ExperimentConfig:
    """Build and check an `ExperimentConfig`; errors name `source` and the offending key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: expected a mapping of sections ({', '.join(_SECTIONS)}), got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(map(str, unknown))}; known: {', '.join(_SECTIONS)}")
    sections: dict[str, Any] = {}
    for name, (cls, rest) in _SECTIONS.items():
        values = raw.get(name) or {}
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: section {name!r} must be a mapping, got {values!r}")
        values = dict(values)
        if cls is dict:
            sections[name] = values
            continue
        known = {f.name for f in fields(cls)} - ({rest} if rest else set())
        if rest is None:
            bad = sorted(set(values) - known)
            if bad:
                raise ConfigError(f"{source}: unknown key(s) {', '.join(bad)} in {name}; known: {', '.join(sorted(known))}")
            sections[name] = cls(**values)
        else:
            sections[name] = cls(**{k: v for k, v in values.items() if k in known},
                                 **{rest: {k: v for k, v in values.items() if k not in known}})
    try:
        return ExperimentConfig(**sections).check()
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """The raw mapping of a YAML config file; a missing or unparsable file is a `ConfigError`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return raw


def apply_overrides(raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `raw` with ``{"section.key": value}`` set.

    Changing ``model.name`` (or ``protocol.name``) drops the old model's hyperparameters (the
    old protocol's options) that the new one does not take; ``features.kind: egemaps`` drops
    the spectral settings.
    """
    out = copy.deepcopy(dict(raw))
    for key, value in overrides.items():
        parts = key.split(".")
        if len(parts) != 2 or parts[0] not in _SECTIONS:
            raise ConfigError(f"override {key!r}: expected section.key with section one of {', '.join(_SECTIONS)}")
        section, name = parts
        values = dict(out.get(section) or {})
        if key == "model.name" and values.get("name", ModelSection.name) != value:
            from ser.models import MODELS, hyperparameters

            if value not in MODELS:
                raise ConfigError(f"--model: unknown model {value!r}; choose from {', '.join(MODELS)}")
            takes = hyperparameters(value)
            values = {k: v for k, v in values.items() if k in takes}
        if key == "features.kind" and value == "egemaps":  # the spectral settings no longer apply
            values = {k: v for k, v in values.items() if k in {f.name for f in fields(FeaturesConfig)}}
        if key == "protocol.name" and values.get("name", ProtocolConfig.name) != value:
            from ser.splits import PROTOCOLS, protocol_options

            if value not in (*PROTOCOLS, "manifest"):
                raise ConfigError(f"--protocol: unknown protocol {value!r}; known: {', '.join(PROTOCOLS)}, manifest")
            own = {f.name for f in fields(ProtocolConfig)}
            takes = set(protocol_options(value)) if value != "manifest" else set()
            values = {k: v for k, v in values.items() if k in own or k in takes}
        values[name] = value
        out[section] = values
    return out


def parse_assignment(text: str) -> tuple[str, Any]:
    """``"train.lr=3e-4"`` -> ``("train.lr", 0.0003)``; the value is read as YAML."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value")
    key, value = text.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        return key.strip(), value


def load_config(path: str | os.PathLike | None = None, overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Read `path` (None: defaults only), apply `overrides`, check everything."""
    raw = read_yaml(path) if path is not None else {}
    return from_dict(apply_overrides(raw, overrides or {}), str(path) if path is not None else "config")


def write_yaml(config: ExperimentConfig, path: str | os.PathLike) -> Path:
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    """Tuples to lists, recursively (YAML/JSON-friendly)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
