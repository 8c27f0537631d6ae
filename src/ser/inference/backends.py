"""Load an exported model directory (``ser_model.json`` + the files it names) into a backend.

A backend turns 16 kHz mono float32 signals into class probabilities::

    backend = load_model("src/ser/pretrained/default")   # from ser.model_folder
    backend.labels                          # ['neutral', 'happy', ...]
    backend.predict_proba([signal_a, signal_b])   # np.ndarray [2, n_labels], rows sum to 1

`OnnxBackend` runs the ONNX graph with onnxruntime and computes Whisper's log-mel features with
`ser.features.logmel` (numpy only), so predicting needs neither torch nor librosa. Training
checkpoints (``"backend": "torch"`` or ``"sklearn"``) are loaded by
`ser.training.checkpoint.load_predictor`, which needs the ``ser[train]`` extra.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from ser.errors import ModelError
from ser.features.logmel import HOP_LENGTH, log_mel_spectrogram
from ser.model_folder import CONFIG_NAME



class Backend(Protocol):
    """What the Recognizer needs from a model."""

    labels: list[str]

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities [len(signals), len(labels)] of 16 kHz mono float32 signals."""
        ...


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, float64 for stable sums."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def split_evenly(n_samples: int, max_samples: int) -> list[tuple[int, int]]:
    """(start, end) sample spans covering ``[0, n_samples)`` in the fewest near-equal pieces of at most `max_samples`.

    Equal pieces (rather than full windows and a short tail) keep every piece long enough for
    the model to judge.
    """
    n_pieces = max(1, -(-n_samples // max_samples))
    bounds = np.linspace(0, n_samples, n_pieces + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


class OnnxBackend:
    """An exported ONNX model: Whisper log-mel [batch, 80, frames] in, logits [batch, n_labels] out.

    Parameters
    ----------
    directory : the model folder.
    config : its parsed ``ser_model.json`` (see `ser.model_folder.read_config`).
    threads : cores to use (default: the cores this process may use).
    batch_size : most clips per onnxruntime call.

    One call of one clip runs on `threads` onnxruntime threads (the lowest latency). Many clips are
    spread over `threads` worker threads, each computing its clips' front end and running one
    single-threaded onnxruntime call at a time: independent work per core scales better than
    splitting each small matrix product across cores (benchmarks/speed.md).
    """

    def __init__(self, directory: Path, config: dict[str, Any], *, threads: int | None = None, batch_size: int = 16):
        self.directory = Path(directory)
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.name: str = str(config.get("name", self.directory.name))
        self.temperature = float(config.get("temperature", 1.0))
        self.max_frames = int(config.get("max_frames", 3000))
        self.min_samples = max(int(config.get("min_samples", 1600)), HOP_LENGTH)
        self.batch_size = max(1, int(batch_size))
        frontend = config.get("frontend", {"kind": "whisper_logmel", "n_mels": 80})
        if frontend.get("kind") != "whisper_logmel":
            raise ModelError(f"{self.directory}: unknown front end {frontend.get('kind')!r} (expected 'whisper_logmel')")
        self.n_mels = int(frontend.get("n_mels", 80))

        onnx = config.get("onnx") or {}
        model_file = self.directory / str(onnx.get("file", "model.onnx"))
        if not model_file.is_file():
            raise ModelError(f"{self.directory}: the ONNX file {model_file.name} named in {CONFIG_NAME} is missing")
        self.model_file = model_file
        self.threads = max(1, int(threads or _available_cores()))
        self.session = self._new_session(self.threads)
        self._parallel: tuple[Any, Any] | None = None  # (single-threaded session, thread pool), made when first needed
        self._lock = threading.Lock()

        self.input_name = str(onnx.get("input", "input_features"))
        self.output_name = str(onnx.get("output", "logits"))
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = {o.name: o for o in self.session.get_outputs()}
        if self.input_name not in inputs:
            raise ModelError(f"{model_file}: no input named {self.input_name!r} (the graph has {inputs})")
        if self.output_name not in outputs:
            raise ModelError(f"{model_file}: no output named {self.output_name!r} (the graph has {sorted(outputs)})")
        n_out = outputs[self.output_name].shape[-1]
        if not isinstance(n_out, int):
            # A symbolic class axis: ask the graph once with a silent clip.
            n_out = self._run(np.zeros((1, self.n_mels, self.min_samples // HOP_LENGTH), np.float32)).shape[-1]
        if n_out != len(self.labels):
            raise ModelError(
                f"{self.directory}: {CONFIG_NAME} names {len(self.labels)} labels but the graph outputs {n_out} scores"
            )

    def __repr__(self) -> str:
        return f"OnnxBackend({str(self.directory)!r}, labels={self.labels})"

    def features(self, signal: np.ndarray) -> np.ndarray:
        """Log-mel features (n_mels, len(signal) // 160) of one 16 kHz signal, float32."""
        return log_mel_spectrogram(signal, n_mels=self.n_mels)

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities [len(signals), n_labels] of 16 kHz mono float32 signals.

        Signals shorter than ``min_samples`` are zero-padded; those longer than ``max_frames``
        are cut into near-equal windows whose probabilities are averaged, weighted by length.
        Pieces with the same frame count share one onnxruntime call, so nothing is padded.
        """
        pieces: list[tuple[int, float, np.ndarray]] = []  # (signal index, weight, samples)
        max_samples = self.max_frames * HOP_LENGTH
        for index, signal in enumerate(signals):
            signal = np.asarray(signal, dtype=np.float32)
            if signal.ndim != 1:
                raise ValueError(f"signal {index}: expected a 1-D array, got shape {signal.shape}")
            if signal.shape[0] < self.min_samples:
                signal = np.pad(signal, (0, self.min_samples - signal.shape[0]))
            for start, end in split_evenly(signal.shape[0], max_samples):
                pieces.append((index, float(end - start), signal[start:end]))

        probs = np.zeros((len(pieces), len(self.labels)))
        groups = self._groups([p[2].shape[0] // HOP_LENGTH for p in pieces])

        def predict_group(group: list[int], session) -> None:
            batch = np.stack([self.features(pieces[j][2]) for j in group])
            probs[group] = softmax(self._run(batch, session), self.temperature)

        if len(groups) > 1 and self.threads > 1:
            session, pool = self._parallel_runner()
            for future in [pool.submit(predict_group, group, session) for group in groups]:
                future.result()
        else:
            for group in groups:
                predict_group(group, self.session)

        totals = np.zeros((len(signals), len(self.labels)))
        weights = np.zeros(len(signals))
        for (index, weight, _), p in zip(pieces, probs):
            totals[index] += weight * p
            weights[index] += weight
        return (totals / np.maximum(weights, 1e-12)[:, None]).astype(np.float32)

    def _groups(self, frames: list[int]) -> list[list[int]]:
        """Indices of pieces with equal frame counts, in calls of at most `batch_size` clips,
        split further so that a large batch of one length still keeps every core busy."""
        by_frames: dict[int, list[int]] = {}
        for i, n in enumerate(frames):
            by_frames.setdefault(n, []).append(i)
        groups = []
        for n in sorted(by_frames):
            members = by_frames[n]
            size = min(self.batch_size, max(1, -(-len(members) // self.threads)))
            groups += [members[k : k + size] for k in range(0, len(members), size)]
        return groups

    def _new_session(self, threads: int):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        try:
            return ort.InferenceSession(str(self.model_file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable graphs
            raise ModelError(f"{self.model_file}: onnxruntime cannot load it ({exc})") from None

    def _parallel_runner(self):
        with self._lock:
            if self._parallel is None:
                from concurrent.futures import ThreadPoolExecutor

                # onnxruntime sessions may run from several threads at once; one thread each.
                pool = ThreadPoolExecutor(self.threads, thread_name_prefix="ser-onnx")
                self._parallel = (self._new_session(1), pool)
            return self._parallel

    def _run(self, batch: np.ndarray, session=None) -> np.ndarray:
        return (session or self.session).run([self.output_name], {self.input_name: batch})[0]


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)

