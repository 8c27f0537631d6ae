"""The recipe of the shipped default model: a frozen Whisper encoder, pooled, and a linear head.

    audio -> Whisper log-mel (numpy) -> Whisper tiny.en encoder on the clip's own length
          -> mean and standard deviation over time of hidden layers 1-4 (4 x 384 x 2 values)
          -> standardisation -> multinomial logistic regression -> 7 emotions

The encoder is frozen, so each clip's pooled hidden states are computed once and cached; the head
then trains in seconds. Its regularisation is chosen by cross-validation over speakers of the
training data, and a temperature fitted on held-out speakers calibrates the probabilities. The
result is exported by `ser.export.onnx` as a model folder that predicts with numpy and
onnxruntime only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

# The project's one ECE and one softmax.
from ser.evaluation.metrics import expected_calibration_error
from ser.inference.backends import softmax
from ser.labels import DEFAULT_MODEL_LABELS, to_default_labels
from ser.manifest import Utterance
from ser.inference.head import CentredHead
from ser.export.onnx import PooledWhisper, export_default

# Every hidden state (embeddings and 4 layers) is cached; the recipe picks layers from it.
logger = logging.getLogger(__name__)

_CACHE_LAYERS = (0, 1, 2, 3, 4)
_CACHE_KEY = "whisper-tiny-en-pooled-l01234-meanstd-v1"
# v2: trimmed by the detector with its automatic gain (2026-12-03), which finds quiet takes whole.
_TRIMMED_CACHE_KEY = "whisper-tiny-en-pooled-l01234-meanstd-trimmed-v2"


# augmentation -> what an augmented copy goes through (`ser.augment`): "classic" the speaker
# variations (noise relative to the peak, reverberation, gain, pitch, stretch, shift);
# "recordings" those and recording conditions (noise at 5-30 dB SNR, silence or a noise floor
# around the clip, telephone band with mu-law/A-law, low bit-rate MP3/Opus, gain +-12 dB).
AUGMENTATIONS = ("classic", "recordings")
# centring -> the mean each training embedding is centred on: "none"; "speaker" its speaker's
# mean; "speaker_balanced" the mean of its speaker's per-class means;
# "speaker_mixed" the speaker-centred clips plus the same clips less the population mean (one head
# for single clips and adapted profiles alike); "speaker_mixed_single_copies" the same, with the
# augmented copies in the single-clip view only (centring on a speaker's own recordings already
# removes a recording's constant shift; benchmarks/accuracy-notes.md).
CENTRINGS = ("none", "speaker", "speaker_balanced", "speaker_mixed", "speaker_mixed_single_copies")
MIXED_CENTRINGS = ("speaker_mixed", "speaker_mixed_single_copies")


@dataclass
class DefaultRecipe:
    """Everything that decides the default model; ``configs/default.yaml`` sets these."""

    encoder: str = "../shared/models/whisper-tiny.en-encoder"
    datasets: str = "../shared/datasets"
    corpora: dict[str, str] = field(
        default_factory=lambda: {
            "ravdess": "RAVDESS",
            "tess": "TESS",
            "emodb": "EmoDB",
            "urdu": "URDU",
            "turevdb": "TurEV-DB",
        }
    )
    layers: tuple[int, ...] = (1, 2, 3, 4)
    stats: tuple[str, ...] = ("mean", "std")
    c_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    calibration_speakers: float = 0.2  # share of speakers held out to fit the temperature
    # Augmented copies of every clip added to the head's training data (never to the clips that
    # choose C or the temperature), drawn from `AUGMENTATIONS[augmentation]`.
    augmented_copies: int = 0
    augmentation: str = "classic"
    # Speaker centring (`CENTRINGS`): each training embedding less its speaker's mean; the model
    # then predicts a clip less the mean of its speaker's clips, shrunk toward the training
    # population's mean with weight `shrinkage` (a single clip: the population mean).
    centring: str = "none"
    shrinkage: float = 2.0
    # Train on what the Recognizer judges: each clip (after its augmentation) cut to its detected
    # speech (`ser.inference.vad.trim_to_speech`), so training and prediction see the same audio.
    trim_to_speech: bool = False
    seed: int = 0
    cache_dir: str = ".cache/ser-default"
    # Fine-tuning after the probe (0: the encoder stays frozen, the shipped recipe).
    finetune_layers: int = 0
    finetune_epochs: int = 3
    encoder_lr: float = 3e-5
    head_lr: float = 1e-4
    batch_size: int = 16

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "DefaultRecipe":
        import yaml

        from ser.errors import SerError

        try:
            values = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SerError(f"{path}: cannot read the recipe ({exc})") from None
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SerError(f"{path}: unknown recipe keys {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        for key in ("layers", "stats", "c_grid"):
            if key in values:
                values[key] = tuple(values[key])
        copies = values.get("augmented_copies", 0)
        if isinstance(copies, bool) or not isinstance(copies, int) or copies < 0:
            raise SerError(f"{path}: augmented_copies must be a whole number >= 0, not {copies!r}")
        for key, known_values in (("augmentation", AUGMENTATIONS), ("centring", CENTRINGS)):
            if key in values and values[key] not in known_values:
                raise SerError(f"{path}: {key} must be one of {', '.join(known_values)}, not {values[key]!r}")
        shrinkage = values.get("shrinkage", 2.0)
        if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) or not shrinkage > 0:
            raise SerError(f"{path}: shrinkage must be a number > 0, not {shrinkage!r}")
        if not isinstance(values.get("trim_to_speech", False), bool):
            raise SerError(f"{path}: trim_to_speech must be true or false, not {values['trim_to_speech']!r}")
        if values.get("trim_to_speech") and values.get("finetune_layers", 0):
            raise SerError(f"{path}: trim_to_speech applies to the frozen recipe's pooled features, not to fine-tuning")
        if values.get("centring", "none") != "none" and values.get("finetune_layers", 0):
            raise SerError(f"{path}: centring and finetune_layers cannot be combined (a fine-tuned graph outputs logits)")
        return cls(**values)


def build_manifest(recipe: DefaultRecipe) -> list[Utterance]:
    """The training utterances: every corpus of the recipe, mapped to the seven default labels."""
    from ser.corpora import prepare

    rows = []
    for name, folder in recipe.corpora.items():
        index = prepare(name, Path(recipe.datasets) / folder)
        for row in index.utterances:
            label = to_default_labels(row.emotion)
            if label is not None:
                row.extra["target"] = label
                rows.append(row)
    return rows


def pooled_features(rows: list[Utterance], recipe: DefaultRecipe, copy: int = 0, progress: bool = True) -> np.ndarray:
    """Cached pooled hidden states of every clip: ``[n, 2 stats (mean, std), 5 layers, 384]`` float32.

    ``copy = k > 0`` pools the k-th augmented version of each clip, the same one `hidden_states` sees.
    """
    from ser.features.cache import compute_features
    from ser.features.logmel import log_mel_spectrogram
    from ser.models.encoders import load_whisper_encoder

    encoder = None
    augment = _copy_augmenter(recipe, copy)
    if recipe.trim_to_speech:
        from ser.inference.vad import trim_to_speech

        augmented = augment
        augment = lambda signal: trim_to_speech(augmented(signal))  # noqa: E731

    def extract(signal: np.ndarray) -> np.ndarray:
        nonlocal encoder
        if encoder is None:  # loaded on the first cache miss only
            encoder = PooledWhisper(load_whisper_encoder(recipe.encoder), _CACHE_LAYERS, ("mean", "std")).eval()
        features = torch.from_numpy(log_mel_spectrogram(augment(signal)))[None]
        with torch.inference_mode():
            return encoder(features)[0].numpy()

    key = (_TRIMMED_CACHE_KEY if recipe.trim_to_speech else _CACHE_KEY) + _copy_key(recipe, copy)
    with _one_clip_at_a_time():
        arrays = compute_features(
            [row.path for row in rows], extract, key, recipe.cache_dir, n_jobs=1,
            desc="encoder features" + (f" (augmented copy {copy})" if copy else ""), progress=progress,
        )
    return np.stack([a.reshape(-1) for a in arrays]).reshape(len(rows), 2, len(_CACHE_LAYERS), -1).astype(np.float32)


def hidden_states(rows: list[Utterance], recipe: DefaultRecipe, copy: int = 0, progress: bool = True) -> list[np.ndarray]:
    """Cached frame-level hidden states of every clip: one ``[5 (embeddings + 4 layers), T, 384]`` float16 array each.

    ``T`` is 50 frames per second of audio. ``copy = 0`` is the clip itself; ``copy = k > 0`` is
    the k-th augmented version (noise, reverberation, gain, pitch, stretch, shift), seeded by the
    clip's samples and ``k`` so that it is the same on every run. Augmented copies are computed
    for every clip, but a training fold reads only those of its own training clips.
    """
    from ser.features.cache import compute_features
    from ser.features.logmel import log_mel_spectrogram
    from ser.models.encoders import load_whisper_encoder

    encoder = None
    augment = _copy_augmenter(recipe, copy)

    def extract(signal: np.ndarray) -> np.ndarray:
        nonlocal encoder
        if encoder is None:
            encoder = load_whisper_encoder(recipe.encoder).eval()
        features = torch.from_numpy(log_mel_spectrogram(augment(signal)))[None]
        with torch.inference_mode():
            return encoder(features)[:, 0].numpy().astype(np.float16)

    key = "whisper-tiny-en-states-f16-v1" + (_copy_key(recipe, copy) or "-copy0")
    with _one_clip_at_a_time():
        return compute_features(
            [row.path for row in rows], extract, key, recipe.cache_dir, n_jobs=1,
            desc=f"encoder states (copy {copy})", progress=progress,
        )


def _copy_augmenter(recipe: DefaultRecipe, copy: int):
    """``signal -> signal``: the identity for copy 0, else that copy's augmentation, seeded by the
    clip's samples and ``copy`` so that a copy is the same on every run and in every cache."""
    if not copy:
        return lambda signal: signal
    from ser.augment import AugmentConfig, make_augmenter

    if recipe.augmentation == "recordings":
        config = AugmentConfig.recordings(seed=recipe.seed)
    else:
        config = AugmentConfig(reverb=0.4, p=0.5, seed=recipe.seed)
    augment = make_augmenter(config)

    def apply(signal: np.ndarray) -> np.ndarray:
        seed = zlib.crc32(signal.tobytes()) ^ (copy * 0x9E3779B1)
        return augment(signal, seed=seed & 0xFFFFFFFF)

    return apply


def _copy_key(recipe: DefaultRecipe, copy: int) -> str:
    """The cache-key suffix of augmented copy `copy` (empty for the clip itself)."""
    if not copy:
        return ""
    kind = "aug" if recipe.augmentation == "classic" else f"{recipe.augmentation}-v1"
    return f"-copy{copy}-{kind}-seed{recipe.seed}"


@contextmanager
def _one_clip_at_a_time():
    """Settings for running the encoder on one clip after another, each of its own length.

    oneDNN builds new convolution kernels for every new input length (up to a second each on a
    busy 2-core machine), and one small clip gains little from a second thread: plain kernels on
    one thread are several times faster here. The previous settings are restored afterwards.
    """
    threads, mkldnn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = mkldnn


def select_features(cached: np.ndarray, layers=(1, 2, 3, 4), stats=("mean", "std")) -> np.ndarray:
    """Pick layers and statistics from `pooled_features`' output, flattened as `PooledWhisper` does."""
    layer_index = [_CACHE_LAYERS.index(layer) for layer in layers]
    stat_index = [("mean", "std").index(stat) for stat in stats]
    return cached[:, stat_index][:, :, layer_index].reshape(len(cached), -1)


def make_head(c: float, seed: int = 0, warm_start: bool = False):
    """Standardisation and multinomial logistic regression, balanced over classes.

    ``warm_start``: a refit after ``set_params(logisticregression__C=...)`` starts from the last
    solution (a C grid in ascending order converges in fewer iterations).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed, warm_start=warm_start),
    )


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, grid, seed: int = 0, n_splits: int = 3,
             copies: np.ndarray | None = None, training=None) -> float:
    """The regularisation with the best unweighted accuracy over speaker folds of (x, y) alone.

    ``copies`` ``[K, n, d]`` are augmented versions of the rows of `x`: each split trains on
    those of its training rows too, and is scored on original clips only. ``training(index) ->
    (x_fit, y_fit)`` builds a split's training data instead (e.g. `centred_training`); the
    split's test rows are then scored as `x` holds them.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold

    n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2 or len(grid) == 1:
        return float(grid[len(grid) // 2])
    training = training or (lambda index: with_copies(x, y, index, copies))
    scores = []
    for c in grid:
        fold_scores = []
        for train, test in GroupKFold(n_splits=n_splits).split(x, y, groups):
            head = make_head(c, seed).fit(*training(train))
            fold_scores.append(balanced_accuracy_score(y[test], head.predict(x[test])))
        scores.append(float(np.mean(fold_scores)))
    return float(grid[int(np.argmax(scores))])


def with_copies(x: np.ndarray, y: np.ndarray, index, copies: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows `index` of (x, y), followed by their augmented versions from ``copies`` ``[K, n, d]`` (if any)."""
    if copies is None or not len(copies):
        return x[index], y[index]
    return (np.concatenate([x[index]] + [copy[index] for copy in copies]),
            np.concatenate([y[index]] * (len(copies) + 1)))


def group_means(x: np.ndarray, groups: np.ndarray, y: np.ndarray | None = None) -> dict:
    """The mean row of each group (speaker or corpus) of ``x [n, D]``: ``{group: [D]}``.

    With labels `y`, the mean of the group's per-class means (class-balanced): a training speaker
    with many angry clips is not centred on an angry voice.
    """
    means = {}
    for group in np.unique(groups):
        rows = groups == group
        if y is None:
            means[group] = x[rows].mean(axis=0)
        else:
            means[group] = np.mean([x[rows & (y == label)].mean(axis=0) for label in np.unique(y[rows])], axis=0)
    return means


def centre_by_group(x: np.ndarray, groups: np.ndarray, means: dict) -> np.ndarray:
    """``x [n, D]`` less the mean of each row's group (`group_means`)."""
    return x - np.stack([means[group] for group in groups])


def centre_speakers(x: np.ndarray, y: np.ndarray, groups: np.ndarray, copies: np.ndarray | None = None,
                    balanced: bool = False) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Every row of ``x [n, D]`` and of its augmented ``copies [K, n, D]`` less its group's mean.

    Returns ``(x_centred, copies_centred, {group: mean [D]})`` (the means of the clips themselves).
    Each copy set is centred by its own group means: an augmented copy is a recording condition
    of its own, as a user's recordings are. ``balanced``: class-balanced means (`group_means`).
    """
    labels = y if balanced else None
    means = group_means(x, groups, labels)
    centred_copies = None if copies is None else np.stack(
        [centre_by_group(augmented, groups, group_means(augmented, groups, labels)) for augmented in copies])
    return centre_by_group(x, groups, means), centred_copies, means


# A speaker whose training clips show fewer emotions than this is not centred on its own mean:
# that mean is its one emotion's voice (URDU's talk-show codes are mostly one emotion each), and
# centring on it teaches the head to erase the emotion. Such clips train as single clips only.
# On the 5 corpora's 6 folds this raised adapted UA 0.722 -> 0.731 (EmoDB part 0.849 -> 0.906)
# and single clips 0.703 -> 0.705; leave-one-corpus-out 0.501 -> 0.515 adapted, 0.467 -> 0.452 single.
MIN_EMOTIONS_TO_CENTRE = 3


def centred_rows(y: np.ndarray, groups: np.ndarray, index) -> np.ndarray:
    """The rows of `index` whose group shows at least `MIN_EMOTIONS_TO_CENTRE` labels among them
    (all of `index` when no group does)."""
    index = np.asarray(index)
    shown = {group: len(np.unique(y[index][groups[index] == group])) for group in np.unique(groups[index])}
    own = index[[shown[group] >= MIN_EMOTIONS_TO_CENTRE for group in groups[index]]]
    return own if len(own) else index


def population_mean(x: np.ndarray, y: np.ndarray, groups: np.ndarray, index, centring: str) -> np.ndarray:
    """``[D]``: the mean of the means of the groups `centred_training` centres on their own."""
    own = centred_rows(y, groups, index)
    means = group_means(x[own], groups[own], y[own] if centring == "speaker_balanced" else None)
    return np.mean(list(means.values()), axis=0)


def centred_training(x: np.ndarray, y: np.ndarray, groups: np.ndarray, index, copies: np.ndarray | None = None,
                     centring: str = "speaker") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training data of rows `index` for a `CENTRINGS` mode: ``(x_fit, y_fit, population_mean [D])``.

    ``x_fit`` holds the rows less their group's mean, followed by their copies' (`centre_speakers`,
    class-balanced means for "speaker_balanced"; no copies for "speaker_mixed_single_copies");
    the mixed centrings append every row and copy less the population mean too, as a single clip
    is seen at prediction, so that one head serves both modes. Only groups that show several
    emotions (`centred_rows`) are centred on their own mean; the rows of the others are used less
    the population mean only (if no group qualifies, all are centred). The population mean is the
    mean of the centred groups' means.
    """
    index = np.asarray(index)
    own = centred_rows(y, groups, index)
    part = None if copies is None or centring == "speaker_mixed_single_copies" else copies[:, own]
    x_c, copies_c, means = centre_speakers(x[own], y[own], groups[own], part, centring == "speaker_balanced")
    population = np.mean(list(means.values()), axis=0)
    x_fit, y_fit = with_copies(x_c, y[own], np.arange(len(own)), copies_c)
    # Mixed centrings: every row as a single clip; otherwise only the rows not centred on their own.
    single = index if centring in MIXED_CENTRINGS else np.setdiff1d(index, own)
    if len(single):
        raw, raw_y = with_copies(x, y, single, copies)
        x_fit, y_fit = np.concatenate([x_fit, raw - population]), np.concatenate([y_fit, raw_y])
    return x_fit, y_fit, population


def profile_centres(x: np.ndarray, groups: np.ndarray, mode: str, population_mean: np.ndarray, shrinkage: float,
                    rng: np.random.Generator, names: np.ndarray | None = None, draws: int = 1) -> np.ndarray:
    """``[R, n, D]``: the centre of each row's group when the group's profile is formed as `mode` says.

    Modes: ``"single"`` (no profile: the population mean), ``"nK"`` (K random clips of the
    group, R = `draws` random profiles), ``"all"`` (every clip of the group), or a label name
    (the group's clips whose `names` entry is that label: a skewed profile, for experiments).
    The centre is `speaker_centre` of the profile's rows, shrunk toward `population_mean`.
    """
    from ser.inference.head import speaker_centre

    counted = mode[:1] == "n" and mode[1:].isdigit()
    draws = draws if counted else 1
    centres = np.empty((draws,) + x.shape, np.float32)
    for group in np.unique(groups):
        rows = np.flatnonzero(groups == group)
        for r in range(draws):
            if mode == "single":
                profile = rows[:0]
            elif counted:
                profile = rng.choice(rows, min(int(mode[1:]), len(rows)), replace=False)
            elif mode == "all":
                profile = rows
            else:
                profile = rows[names[rows] == mode]
            centres[r, rows] = speaker_centre(x[profile], population_mean, shrinkage)
    return centres


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of held-out predictions."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[np.arange(len(y)), y].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


class CachedStatesInput(nn.Module):
    """`WhisperEmotion` as a frame model for the shared `Trainer`.

    The trainer feeds ``x [B, T, F]``; here ``F`` holds the cached hidden states of the frozen
    layers side by side (``(first_trainable + 1) * d_model`` values per frame), which
    `WhisperEmotion.forward_from` takes apart again.
    """

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        batch, time, width = x.shape
        dim = self.net.encoder.config.d_model
        return self.net.forward_from(x.view(batch, time, width // dim, dim).permute(2, 0, 1, 3), lengths)


def finetune(net, states: list[np.ndarray], y: np.ndarray, train, val, out_dir, *, epochs: int = 3,
             encoder_lr: float = 3e-5, head_lr: float = 1e-4, batch_size: int = 16, seed: int = 0,
             resume: bool = True, log=None):
    """Fine-tune `net` (a `WhisperEmotion`) on cached states with the shared `Trainer`.

    ``states[i]`` is clip i's ``hidden_states`` array ``[5, T, d]``; `train` and `val` are row
    indices (validation speakers choose the epoch). The head and the trainable layers get their
    own learning rates. Checkpoints go to `out_dir` (``resume`` continues there). Returns the
    trainer, whose model holds the best validation epoch's weights.
    """
    from ser.training.config import TrainSection
    from ser.training.trainer import Trainer

    keep = net.first_trainable + 1
    config = TrainSection(epochs=epochs, batch_size=batch_size, lr=head_lr, weight_decay=0.01, patience=0, seed=seed)
    trainer = Trainer(CachedStatesInput(net), config, out_dir, n_classes=int(y.max()) + 1, log=log)
    trainer.optimizer = torch.optim.AdamW(
        [{"params": net.head.parameters(), "lr": head_lr}, {"params": net.encoder_parameters(), "lr": encoder_lr}],
        weight_decay=0.01,
    )
    trainer.fit(finetune_examples(states, y, train, keep), finetune_examples(states, y, val, keep), resume=resume)
    return trainer


def _finetuned_model(recipe, rows, head, y, fit_idx, cal_idx, log):
    """The probe `head` loaded into a `WhisperEmotion`, its top layers fine-tuned; and its held-out logits."""
    from ser.models.encoders import load_whisper_encoder
    from ser.models.heads import WhisperEmotion

    net = WhisperEmotion(load_whisper_encoder(recipe.encoder), len(DEFAULT_MODEL_LABELS), layers=recipe.layers,
                         trainable_layers=recipe.finetune_layers, head="stats")
    if tuple(recipe.stats) != ("mean", "std"):
        from ser.errors import SerError

        raise SerError(f"recipe: finetune_layers needs stats [mean, std] (the layout of StatsHead), not {list(recipe.stats)}")
    scaler, linear = head[0], head[-1]
    net.head.set_probe(scaler.mean_, scaler.scale_, linear.coef_, linear.intercept_)
    states = hidden_states(rows, recipe)
    n = len(rows)
    # The augmented copies' states follow the clips' own; only the fitting speakers' copies train.
    for k in range(1, recipe.augmented_copies + 1):
        states = states + hidden_states(rows, recipe, copy=k)
    y = np.tile(y, recipe.augmented_copies + 1)
    fit_idx = np.concatenate([np.asarray(fit_idx) + k * n for k in range(recipe.augmented_copies + 1)])
    torch.manual_seed(recipe.seed)
    # Checkpoints resume only a run of the same recipe.
    key = hashlib.sha1(json.dumps(asdict(recipe), sort_keys=True, default=str).encode()).hexdigest()[:12]
    trainer = finetune(net, states, y, fit_idx, cal_idx, Path(recipe.cache_dir) / f"finetune-{key}",
                       epochs=recipe.finetune_epochs, encoder_lr=recipe.encoder_lr, head_lr=recipe.head_lr,
                       batch_size=recipe.batch_size, seed=recipe.seed, log=log)
    log(f"fine-tuned the top {recipe.finetune_layers} layer(s): best validation epoch {trainer.best_epoch}")
    cal_logits = trainer.predict_logits(finetune_examples(states, y, cal_idx, net.first_trainable + 1))
    return net.eval(), cal_logits


def finetune_examples(states, y, index, keep):
    """`Examples` of cached states for the trainer's `predict_logits` (see `finetune`)."""
    from ser.training.data import Examples

    index = np.asarray(index)
    x = [states[i][:keep].transpose(1, 0, 2).reshape(states[i].shape[1], -1) for i in index]
    return Examples(x=x, y=y[index], rows=index, augmented=np.zeros(len(index), bool))


# Profiles the adapted temperature is fitted on: 3 and 10 clips of a held-out speaker, and all of them.
ADAPTED_PROFILES = ("n3", "n10", "all")


def train_default(recipe: DefaultRecipe, out_dir: str | os.PathLike, log=logger.info) -> Path:
    """Train the default model from scratch (resumable through the feature cache) and export it.

    With ``recipe.centring`` the head learns from speaker-centred embeddings and the folder is
    the adaptable form (`ser.export.onnx`): two temperatures are fitted on held-out speakers, one
    for single clips (centred on the population mean) and one for profiles of their own clips.
    """
    from sklearn.model_selection import GroupShuffleSplit

    labels = list(DEFAULT_MODEL_LABELS)
    rows = build_manifest(recipe)
    log(f"{len(rows)} clips from {', '.join(recipe.corpora)}")
    x = select_features(pooled_features(rows, recipe), recipe.layers, recipe.stats)
    y = np.array([labels.index(row.extra["target"]) for row in rows])
    groups = np.array([row.speaker for row in rows])
    copies = np.stack([select_features(pooled_features(rows, recipe, copy=k), recipe.layers, recipe.stats)
                       for k in range(1, recipe.augmented_copies + 1)]) if recipe.augmented_copies else None
    centred = recipe.centring != "none"
    if centred:
        def training(index):
            return centred_training(x, y, groups, index, copies, recipe.centring)[:2]

        # Held-out speakers choose C as adapted to all their clips (their audio, not their labels).
        x_eval = centre_by_group(x, groups, group_means(x, groups))
    else:
        def training(index):
            return with_copies(x, y, index, copies)

        x_eval = x

    c = choose_c(x_eval, y, groups, recipe.c_grid, recipe.seed, training=training)
    log(f"regularisation C = {c} (chosen by speaker cross-validation)")

    # Temperature: fit the head without some speakers, calibrate on theirs.
    split = GroupShuffleSplit(n_splits=1, test_size=recipe.calibration_speakers, random_state=recipe.seed)
    fit_idx, cal_idx = next(split.split(x, y, groups))
    held_out = make_head(c, recipe.seed).fit(*training(fit_idx))
    population = population_mean(x, y, groups, fit_idx, recipe.centring) if centred else None
    cal_logits = held_out.decision_function(x[cal_idx] - population if centred else x[cal_idx])
    finetuned = None
    if recipe.finetune_layers:
        # The fine-tuned model ships as trained on the other speakers: the calibration speakers
        # choose its epoch and then its temperature.
        finetuned, cal_logits = _finetuned_model(recipe, rows, held_out, y, fit_idx, cal_idx, log)
    calibration = {"held_out_speakers": int(len(np.unique(groups[cal_idx])))}
    temperature = _calibrate(cal_logits, y[cal_idx], calibration, "", "single clips", log)
    adaptation = None
    if centred:
        rng = np.random.default_rng(recipe.seed)
        adapted = np.concatenate([held_out.decision_function(x[cal_idx] - profile_centres(
            x[cal_idx], groups[cal_idx], mode, population, recipe.shrinkage, rng)[0]) for mode in ADAPTED_PROFILES])
        adaptation = {"shrinkage": recipe.shrinkage, "temperature_adapted": _calibrate(
            adapted, np.tile(y[cal_idx], len(ADAPTED_PROFILES)), calibration, "_adapted",
            f"speakers' own profiles ({', '.join(ADAPTED_PROFILES)})", log)}

    head = held_out if finetuned is not None else make_head(c, recipe.seed).fit(*training(np.arange(len(y))))
    if centred:
        head = CentredHead.from_pipeline(head, population_mean(x, y, groups, np.arange(len(y)), recipe.centring))
    metrics = {
        "calibration": calibration,
        "training_clips": int(len(rows) if finetuned is None else len(fit_idx)),
        "regularisation_C": c,
        "augmented_copies": recipe.augmented_copies,
    }
    if finetuned is not None:
        metrics["finetuned_layers"] = recipe.finetune_layers
    # Recorded so that `ser evaluate` can tell a user who scores it on these speakers that the
    # numbers are not speaker-independent.
    trained_on = {"corpora": sorted(recipe.corpora), "speakers": sorted(set(groups.tolist()))}
    return export_default(recipe, head, labels, temperature, metrics, Path(out_dir), training=trained_on,
                          model=finetuned, adaptation=adaptation)


def _calibrate(logits: np.ndarray, y: np.ndarray, into: dict, suffix: str, what: str, log) -> float:
    """The temperature of held-out `logits`; it and the ECE before/after go into `into` (keys + `suffix`)."""
    temperature = fit_temperature(logits, y)
    before = expected_calibration_error(softmax(logits), y, n_bins=15)
    after = expected_calibration_error(softmax(logits, temperature), y, n_bins=15)
    into.update({f"temperature{suffix}": round(temperature, 4), f"ece_before{suffix}": round(before, 4),
                 f"ece_after{suffix}": round(after, 4)})
    log(f"temperature for {what} {temperature:.3f}: ECE on held-out speakers {before:.3f} -> {after:.3f}")
    return temperature
