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
from ser.export.onnx import PooledWhisper, export_default

# Every hidden state (embeddings and 4 layers) is cached; the recipe picks layers from it.
logger = logging.getLogger(__name__)

_CACHE_LAYERS = (0, 1, 2, 3, 4)
_CACHE_KEY = "whisper-tiny-en-pooled-l01234-meanstd-v1"


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
    # choose C or the temperature): noise, reverberation, gain, pitch, stretch, shift.
    augmented_copies: int = 0
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

    def extract(signal: np.ndarray) -> np.ndarray:
        nonlocal encoder
        if encoder is None:  # loaded on the first cache miss only
            encoder = PooledWhisper(load_whisper_encoder(recipe.encoder), _CACHE_LAYERS, ("mean", "std")).eval()
        features = torch.from_numpy(log_mel_spectrogram(augment(signal)))[None]
        with torch.inference_mode():
            return encoder(features)[0].numpy()

    key = _CACHE_KEY + (f"-copy{copy}-aug-seed{recipe.seed}" if copy else "")
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

    key = f"whisper-tiny-en-states-f16-v1-copy{copy}" + (f"-aug-seed{recipe.seed}" if copy else "")
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

    augment = make_augmenter(AugmentConfig(reverb=0.4, p=0.5, seed=recipe.seed))

    def apply(signal: np.ndarray) -> np.ndarray:
        seed = zlib.crc32(signal.tobytes()) ^ (copy * 0x9E3779B1)
        return augment(signal, seed=seed & 0xFFFFFFFF)

    return apply


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


def make_head(c: float, seed: int = 0):
    """Standardisation and multinomial logistic regression, balanced over classes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed),
    )


def choose_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, grid, seed: int = 0, n_splits: int = 3,
             copies: np.ndarray | None = None) -> float:
    """The regularisation with the best unweighted accuracy over speaker folds of (x, y) alone.

    ``copies`` ``[K, n, d]`` are augmented versions of the rows of `x`: each split trains on
    those of its training rows too, and is scored on original clips only.
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold

    n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2 or len(grid) == 1:
        return float(grid[len(grid) // 2])
    scores = []
    for c in grid:
        fold_scores = []
        for train, test in GroupKFold(n_splits=n_splits).split(x, y, groups):
            head = make_head(c, seed).fit(*with_copies(x, y, train, copies))
            fold_scores.append(balanced_accuracy_score(y[test], head.predict(x[test])))
        scores.append(float(np.mean(fold_scores)))
    return float(grid[int(np.argmax(scores))])


def with_copies(x: np.ndarray, y: np.ndarray, index, copies: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Rows `index` of (x, y), followed by their augmented versions from ``copies`` ``[K, n, d]`` (if any)."""
    if copies is None or not len(copies):
        return x[index], y[index]
    return (np.concatenate([x[index]] + [copy[index] for copy in copies]),
            np.concatenate([y[index]] * (len(copies) + 1)))


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


def train_default(recipe: DefaultRecipe, out_dir: str | os.PathLike, log=logger.info) -> Path:
    """Train the default model from scratch (resumable through the feature cache) and export it."""
    from sklearn.model_selection import GroupShuffleSplit

    labels = list(DEFAULT_MODEL_LABELS)
    rows = build_manifest(recipe)
    log(f"{len(rows)} clips from {', '.join(recipe.corpora)}")
    x = select_features(pooled_features(rows, recipe), recipe.layers, recipe.stats)
    y = np.array([labels.index(row.extra["target"]) for row in rows])
    groups = np.array([row.speaker for row in rows])
    copies = np.stack([select_features(pooled_features(rows, recipe, copy=k), recipe.layers, recipe.stats)
                       for k in range(1, recipe.augmented_copies + 1)]) if recipe.augmented_copies else None

    c = choose_c(x, y, groups, recipe.c_grid, recipe.seed, copies=copies)
    log(f"regularisation C = {c} (chosen by speaker cross-validation)")

    # Temperature: fit the head without some speakers, calibrate on theirs.
    split = GroupShuffleSplit(n_splits=1, test_size=recipe.calibration_speakers, random_state=recipe.seed)
    fit_idx, cal_idx = next(split.split(x, y, groups))
    held_out = make_head(c, recipe.seed).fit(*with_copies(x, y, fit_idx, copies))
    cal_logits = held_out.decision_function(x[cal_idx])
    finetuned = None
    if recipe.finetune_layers:
        # The fine-tuned model ships as trained on the other speakers: the calibration speakers
        # choose its epoch and then its temperature.
        finetuned, cal_logits = _finetuned_model(recipe, rows, held_out, y, fit_idx, cal_idx, log)
    temperature = fit_temperature(cal_logits, y[cal_idx])
    ece_before = expected_calibration_error(softmax(cal_logits), y[cal_idx], n_bins=15)
    ece_after = expected_calibration_error(softmax(cal_logits, temperature), y[cal_idx], n_bins=15)
    log(f"temperature {temperature:.3f}: ECE on held-out speakers {ece_before:.3f} -> {ece_after:.3f}")

    head = held_out if finetuned is not None else make_head(c, recipe.seed).fit(*with_copies(x, y, np.arange(len(y)), copies))
    metrics = {
        "calibration": {
            "temperature": round(temperature, 4),
            "held_out_speakers": int(len(np.unique(groups[cal_idx]))),
            "ece_before": round(ece_before, 4),
            "ece_after": round(ece_after, 4),
        },
        "training_clips": int(len(rows) if finetuned is None else len(fit_idx)),
        "regularisation_C": c,
        "augmented_copies": recipe.augmented_copies,
    }
    if finetuned is not None:
        metrics["finetuned_layers"] = recipe.finetune_layers
    # Recorded so that `ser evaluate` can tell a user who scores it on these speakers that the
    # numbers are not speaker-independent.
    training = {"corpora": sorted(recipe.corpora), "speakers": sorted(set(groups.tolist()))}
    return export_default(recipe, head, labels, temperature, metrics, Path(out_dir), training=training, model=finetuned)
