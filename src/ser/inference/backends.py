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
from ser.inference.head import CentredHead
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

    One call of one clip runs on `threads` onnxruntime threads (the lowest latency). Many clips are
    spread over `threads` worker threads, each computing its clips' front end and running one
    single-threaded onnxruntime call at a time: independent work per core scales better than
    splitting each small matrix product across cores (benchmarks/speed.md).
    """

    def __init__(self, directory: Path, config: dict[str, Any], *, threads: int | None = None):
        self.directory = Path(directory)
        self.config = config
        self.labels: list[str] = list(config["labels"])
        self.name: str = str(config.get("name", self.directory.name))
        self.temperature = float(config.get("temperature", 1.0))
        self.max_frames = int(config.get("max_frames", 3000))
        self.min_samples = max(int(config.get("min_samples", 1600)), HOP_LENGTH)
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
            # A symbolic output axis: ask the graph once with a silent clip.
            n_out = self._run(np.zeros((1, self.n_mels, self.min_samples // HOP_LENGTH), np.float32)).shape[-1]
        self.output_size = int(n_out)
        spec = config.get("head")
        self.head: CentredHead | None = None if spec is None else CentredHead.load(
            self.directory / str(spec.get("file", "head.npz")), self.output_size, len(self.labels)
        )
        adaptation = config.get("adaptation") or {}
        self.shrinkage = float(adaptation.get("shrinkage", 2.0))
        self.temperature_adapted = float(adaptation.get("temperature_adapted", self.temperature))
        if self.head is None and n_out != len(self.labels):
            raise ModelError(
                f"{self.directory}: {CONFIG_NAME} names {len(self.labels)} labels but the graph outputs {n_out} scores"
            )

    def __repr__(self) -> str:
        return f"OnnxBackend({str(self.directory)!r}, labels={self.labels})"

    def features(self, signal: np.ndarray) -> np.ndarray:
        """Log-mel features (n_mels, len(signal) // 160) of one 16 kHz signal, float32."""
        return log_mel_spectrogram(signal, n_mels=self.n_mels)

    @property
    def population_mean(self) -> np.ndarray | None:
        """The training speakers' mean embedding [D] (None for a model that cannot adapt)."""
        return None if self.head is None else self.head.population_mean

    @property
    def can_adapt(self) -> bool:
        """True when the graph gives the pooled embedding and a speaker-centred head is stored
        (see `embed`, `scores`); older folders output logits and cannot adapt to a speaker."""
        return self.head is not None

    def predict_proba(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities [len(signals), n_labels] of 16 kHz mono float32 signals (no speaker context).

        Signals shorter than ``min_samples`` are zero-padded; those longer than ``max_frames``
        are cut into near-equal windows whose outputs are averaged, weighted by length.
        """
        if self.head is not None:
            return self.scores(self.embed(signals))
        return self._pooled_outputs(signals, lambda raw: softmax(raw, self.temperature)).astype(np.float32)

    def embed(self, signals: Sequence[np.ndarray]) -> np.ndarray:
        """Pooled embeddings [len(signals), D] (float64) of an adaptable model (`can_adapt`)."""
        if self.head is None:
            raise ModelError(f"{self.directory}: this model outputs {self.output_name!r}, not an embedding; it cannot adapt to a speaker")
        return self._pooled_outputs(signals, lambda raw: raw.astype(np.float64))

    def scores(self, embeddings: np.ndarray, centre: np.ndarray | None = None, *, adapted: bool = False) -> np.ndarray:
        """Probabilities [n, n_labels] of embeddings [n, D] centred on `centre` (default: the
        training population's mean); ``adapted`` picks the temperature calibrated for
        speaker-adapted predictions."""
        logits = self.head.logits(embeddings, centre)
        return softmax(logits, self.temperature_adapted if adapted else self.temperature).astype(np.float32)

    def _pooled_outputs(self, signals: Sequence[np.ndarray], transform) -> np.ndarray:
        """``transform(graph output)`` per signal, averaged over its windows weighted by length."""
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
        if not pieces:
            return np.zeros((0, self.output_size), np.float32)

        outputs: list[np.ndarray | None] = [None] * len(pieces)

        def run_piece(j: int, session) -> None:
            # One clip per onnxruntime call: the int8 graph quantises activations over the whole
            # batch, so batching clips together would make a clip's scores depend on its neighbours.
            outputs[j] = transform(self._run(self.features(pieces[j][2])[None], session))[0]

        if len(pieces) > 1 and self.threads > 1:
            session, pool = self._parallel_runner()
            for future in [pool.submit(run_piece, j, session) for j in range(len(pieces))]:
                future.result()
        else:
            for j in range(len(pieces)):
                run_piece(j, self.session)

        totals = np.zeros((len(signals), outputs[0].shape[-1]))
        weights = np.zeros(len(signals))
        for (index, weight, _), out in zip(pieces, outputs):
            totals[index] += weight * out
            weights[index] += weight
        return totals / np.maximum(weights, 1e-12)[:, None]

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
