"""The Recognizer: audio in (a file, bytes, a file object or an array), emotion out.

    >>> from ser import Recognizer  # doctest: +SKIP
    >>> recognizer = Recognizer.from_pretrained()          # the shipped default model  # doctest: +SKIP
    >>> prediction = recognizer("call.wav")  # doctest: +SKIP
    >>> prediction.label, prediction.confidence  # doctest: +SKIP
    ('angry', 0.91)
    >>> prediction.top(3)  # doctest: +SKIP
    [('angry', 0.91), ('disgust', 0.04), ('neutral', 0.02)]

Everything here runs on numpy, soundfile, soxr, PyAV and onnxruntime: no torch, no librosa.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Sequence, TypeVar, Union

import numpy as np

from ser.audio import (
    DEFAULT_MAX_DURATION_S,
    MAX_PEAK,
    SAMPLE_RATE,
    AudioError,
    AudioTooLongError,
    InvalidSamplesError,
    NoSamplesError,
    Source,
    file_name,
    load,
)
from ser.audio import stream as stream_audio
from ser.dimensions import derive_dimensions
from ser.errors import ModelError
from ser.inference.backends import Backend, split_evenly
from ser.inference.prediction import MIN_SPEECH_S, Prediction
from ser.inference.profile import ProfileError, SpeakerProfile, model_fingerprint
from ser.inference.stream import Stream
from ser.inference.timeline import SILENCE, Segment, Timeline, sliding_windows
from ser.inference.vad import SpeechDetector, VadOptions, speech_regions
from ser.model_folder import CONFIG_NAME, load_model

AudioInput = Union[Source, np.ndarray, dict]

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def overlapped(batches: Iterable[Batch], predict: Callable[[Batch], Result], ahead: int = 2) -> Iterator[tuple[Batch, Result]]:
    """``(batch, predict(batch))`` for each batch, in order.

    Up to `ahead` batches are predicted at once on helper threads while the caller's iterator
    produces (decodes) the next one, so at most ``ahead + 1`` batches are held. Decoding is about
    a tenth of the work, and the cores would wait for it otherwise; and with two batches in
    flight the next one's clips fill the cores while the last clips of the previous one finish.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max(1, ahead), thread_name_prefix="ser-predict") as pool:
        in_flight: deque = deque()
        for batch in batches:
            in_flight.append((batch, pool.submit(predict, batch)))
            if len(in_flight) >= ahead:
                done, future = in_flight.popleft()
                yield done, future.result()
        while in_flight:
            done, future = in_flight.popleft()
            yield done, future.result()


def default_model_dir() -> Path:
    """Where the package keeps its default model (``ser/pretrained/default``)."""
    return Path(str(resources.files("ser").joinpath("pretrained", "default")))


@dataclass
class _Clip:
    """One input after the speech scan: where its speech is, and how to get the audio back."""

    name: str
    duration_s: float
    regions: list[tuple[float, float]]  # speech regions in seconds (everything with vad=False)
    spans: list[tuple[int, int]]  # sample spans of the pieces the model judges, in time order
    signal: np.ndarray | None  # the whole 16 kHz signal when short; None: read again when needed
    source: Any = None

    @property
    def speech_s(self) -> float:
        return float(sum(b - a for a, b in self.regions))


@dataclass
class _Judged:
    """The model's raw outputs for a clip's pieces: embeddings (adaptable models) or probabilities."""

    clip: _Clip
    outputs: np.ndarray  # [n_pieces, D or n_labels]
    weights: np.ndarray  # [n_pieces] seconds

    def mean_output(self) -> np.ndarray:
        return (self.weights[:, None] * self.outputs).sum(0) / max(self.weights.sum(), 1e-12)


class Recognizer:
    """Predict emotions with an exported model (see `from_pretrained`).

    Parameters
    ----------
    backend : a loaded model (`ser.model_folder.load_model`).
    max_duration : longest audio accepted, in seconds (None: no limit); longer inputs raise
        `ser.audio.AudioTooLongError` instead of using unbounded time.
    vad : judge only the speech a voice-activity detector finds (`ser.inference.vad`), so silence
        and noise around it never sway the label and a clip without speech gets none;
        False: judge the whole signal, as ser did before 0.2.
    vad_options : the detector's settings (`ser.inference.vad.VadOptions`).
    max_segment : speech regions longer than this (seconds) are judged in near-equal pieces,
        whose scores are averaged by duration; the timeline shows the same pieces, so a file's
        label is its timeline's summary label.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_duration: float | None = DEFAULT_MAX_DURATION_S,
        vad: bool = True,
        vad_options: VadOptions = VadOptions(),
        max_segment: float = 8.0,
    ):
        if max_segment <= 0:
            raise ValueError(f"max_segment must be positive, got {max_segment}")
        self.backend = backend
        self.max_duration = max_duration
        self.vad = vad
        self.vad_options = vad_options
        self.max_segment = max_segment
        self._detector = SpeechDetector.from_pretrained() if vad else None

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike | None = None,
        *,
        max_duration: float | None = DEFAULT_MAX_DURATION_S,
        vad: bool = True,
        vad_options: VadOptions = VadOptions(),
        max_segment: float = 8.0,
        **options,
    ) -> "Recognizer":
        """Load the model folder `path` (``ser_model.json`` + files); None: the shipped default model.

        `options` go to the backend (for ONNX: ``threads``).
        """
        if path is None:
            path = default_model_dir()
            if not (path / CONFIG_NAME).is_file():
                raise ModelError(
                    f"the default model is not installed (no {CONFIG_NAME} in {path}); "
                    "reinstall ser, or pass a model folder (--model PATH / Recognizer.from_pretrained(PATH))"
                )
        return cls(load_model(path, **options), max_duration=max_duration, vad=vad, vad_options=vad_options, max_segment=max_segment)

    @property
    def labels(self) -> list[str]:
        """The emotions the model tells apart, in its output order."""
        return list(self.backend.labels)

    @property
    def can_adapt(self) -> bool:
        """Whether the model can adapt to a speaker (`enroll`, ``speaker=``, ``groups=``, ``adapt=``)."""
        return bool(getattr(self.backend, "can_adapt", False))

    def __repr__(self) -> str:
        return f"Recognizer({self.backend!r}, vad={self.vad})"

    # -- input ----------------------------------------------------------------------------------

    def load(self, source: AudioInput, sr: int | None = None, *, name: str | None = None) -> np.ndarray:
        """`source` as a 16 kHz mono float32 signal, or an `AudioError` saying why it cannot be.

        Paths, bytes and binary file objects are decoded with `ser.audio.load`; a numpy array
        needs its sample rate `sr` (integer arrays of any width are scaled to [-1, 1), and
        channels averaged after scaling, (samples, channels) or (channels, samples)); a dict
        ``{"raw" or "array": samples, "sampling_rate": sr}`` is taken as Hugging Face's
        audio pipelines take it.
        """
        if isinstance(source, dict):
            source, sr = _from_hf_dict(source, sr)
        if isinstance(source, np.ndarray):
            if sr is None:
                raise TypeError("a numpy array needs its sample rate: recognizer(array, sr=...)")
            return self._from_array(source, int(sr), name or "<array>")
        if sr is not None:
            raise TypeError("sr is only for numpy arrays; files carry their own sample rate")
        return load(source, SAMPLE_RATE, max_duration=self.max_duration, name=name)

    # -- predictions ----------------------------------------------------------------------------

    def __call__(self, source: AudioInput, sr: int | None = None, *, speaker: SpeakerProfile | None = None) -> Prediction:
        """The prediction for one clip (a path, bytes, a binary file object, an array with `sr`,
        or a ``{"raw", "sampling_rate"}`` dict), from its speech only.

        `speaker` : a `SpeakerProfile` of the person speaking (`enroll`): the scores are judged
        against that voice's usual sound.
        """
        return self.predict_batch([source], sr=sr, speaker=speaker)[0]

    def predict_signals(self, signals: Sequence[np.ndarray]) -> list[Prediction]:
        """Predictions for 16 kHz mono float32 signals (already loaded)."""
        return self.predict_batch(list(signals), sr=SAMPLE_RATE)  # type: ignore[return-value]

    def predict_batch(
        self,
        sources: Iterable[AudioInput],
        *,
        sr: int | None = None,
        on_error: Literal["raise", "return"] = "raise",
        groups: Sequence[Any] | None = None,
        speaker: SpeakerProfile | None = None,
        batch_size: int = 16,
    ) -> list[Prediction | AudioError]:
        """Predictions for many clips, in order (see `predict_files`, which this collects)."""
        return [result for _, result in self.predict_files(
            sources, sr=sr, on_error=on_error, groups=groups, speaker=speaker, batch_size=batch_size
        )]

    def predict_files(
        self,
        sources: Iterable[AudioInput],
        *,
        sr: int | None = None,
        on_error: Literal["raise", "return"] = "return",
        groups: Sequence[Any] | str | None = None,
        speaker: SpeakerProfile | None = None,
        batch_size: int = 16,
        names: Sequence[str] | None = None,
    ) -> Iterator[tuple[int, Prediction | AudioError]]:
        """``(index, result)`` for each input, in order, as soon as it is known.

        Inputs are decoded one after another and judged in batches of up to `batch_size` clips
        (fewer when their speech adds up to more than `BATCH_AUDIO_S`), each batch on the
        model's threads while the next is decoded; a long file is read twice in blocks (once to
        find its speech, once to judge it), so memory stays bounded whatever the lengths.
        A clip's scores do not depend on which clips share its batch.

        on_error : "return" gives an unreadable input's `AudioError` as its result and goes on;
            "raise" raises the first.
        groups : one key per input; clips with the same key are one speaker, and each is judged
            against the group's mean voice (needs an adaptable model; every input is first
            scanned, so results come at the end). None keys are not adapted. ``"auto"``: clips are
            grouped by voice (`ser.speakers.group_by_voice` on their speech), keys "V1", "V2"...
        speaker : one `SpeakerProfile` for every input.
        names : how to name each input in error messages.
        """
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        sources = list(sources)
        by_voice = isinstance(groups, str)
        if by_voice and groups != "auto":
            raise ValueError(f"groups must be one key per input or 'auto', got {groups!r}")
        if groups is not None and not by_voice and len(groups) != len(sources):
            raise ValueError(f"groups has {len(groups)} keys for {len(sources)} inputs")
        if (groups is not None or speaker is not None) and not self.can_adapt:
            raise ModelError(f"{self.backend!r} cannot adapt to a speaker (its graph outputs scores, not an embedding); retrain or update it")
        centre = self._profile_centre(speaker) if speaker is not None else None
        adaptation = {"group": "profile", "clips": speaker.clips} if speaker is not None else None

        judged = self._judge_all(sources, sr, on_error, max(1, batch_size), names)
        if groups is None:
            for index, item in judged:
                yield index, item if isinstance(item, AudioError) else self._verdict(item, centre, adaptation)
            return
        done = list(judged)
        if by_voice:
            groups = self._voice_groups(done, len(sources))
        profiles: dict[Any, SpeakerProfile] = {}
        for index, item in done:
            if groups[index] is not None and not isinstance(item, AudioError) and len(item.outputs):
                profile = profiles.setdefault(groups[index], self._empty_profile())
                profile.add(item.mean_output(), item.clip.speech_s)
        for index, item in done:
            if isinstance(item, AudioError):
                yield index, item
                continue
            key = groups[index]
            if key is None or key not in profiles:
                yield index, self._verdict(item, None, None)
            else:
                profile = profiles[key]
                group_info = {"group": str(key), "clips": profile.clips}
                yield index, self._verdict(item, self._profile_centre(profile), group_info)

    def _voice_groups(self, judged: list[tuple[int, Any]], n: int) -> list[str | None]:
        """"V1", "V2"... per input by the voice of its speech (None: no speech, unreadable, or too
        long to hold); voices closer than `ser.speakers.DEFAULT_THRESHOLD` are one speaker."""
        from ser.speakers import VoiceEncoder, group_by_voice

        encoder = VoiceEncoder.from_pretrained()
        indices, embeddings = [], []
        for index, item in judged:
            if isinstance(item, AudioError) or item.clip.signal is None or item.clip.speech_s < MIN_SPEECH_S:
                continue
            speech = np.concatenate([item.clip.signal[a:b] for a, b in item.clip.spans])
            indices.append(index)
            embeddings.append(encoder.embed(speech))
        keys: list[str | None] = [None] * n
        if embeddings:
            for index, label in zip(indices, group_by_voice(np.stack(embeddings)).labels):
                keys[index] = f"V{int(label) + 1}"
        return keys

    def enroll(self, sources: Iterable[AudioInput], *, sr: int | None = None, names: Sequence[str] | None = None) -> SpeakerProfile:
        """A `SpeakerProfile` from unlabelled clips of one speaker (their speech; never stored).

        names : how to name each clip in error messages (default: its path or file name, else
            its position, e.g. ``<bytes #3>``).
        Raises `ProfileError` if no clip holds speech, `AudioError` for an unreadable clip.
        """
        if not self.can_adapt:
            raise ModelError(f"{self.backend!r} cannot adapt to a speaker (its graph outputs scores, not an embedding)")
        profile = self._empty_profile()
        for _, item in self._judge_all(list(sources), sr, "raise", 16, names):
            if len(item.outputs):
                profile.add(item.mean_output(), item.clip.speech_s)
        if profile.clips == 0:
            raise ProfileError("none of the clips holds speech; a profile needs the person's voice")
        return profile

    def timeline(
        self,
        source: AudioInput,
        sr: int | None = None,
        *,
        window: float = 2.0,
        hop: float = 1.0,
        vad: bool | None = None,
        max_segment: float | None = None,
        adapt: bool | None = None,
        speaker: SpeakerProfile | None = None,
        speakers: str | int | None = None,
    ) -> Timeline:
        """Emotion over time: detected speech segments, or sliding windows (``vad=False``).

        With the detector every speech region is one segment (longer ones are cut into
        near-equal pieces of at most `max_segment` seconds) and the gaps are silence segments;
        the timeline's summary label is the whole-file prediction's. `window` and `hop`
        (seconds) apply to ``vad=False`` only.

        speakers : ``"auto"`` or a number of voices: speech is also cut where the voice changes
            (`ser.speakers.speaker_turns`), every speech segment names its voice ("S1", ...), and
            the summary gives each voice's share of each emotion. The recording is held in memory
            for this (about 230 MB per hour of audio).
        adapt : judge each segment against its voice's own mean (every voice of `speakers`, or
            the one voice of the recording); default: True with `speakers` on an adaptable
            model, else False.
        speaker : judge every segment against this saved `SpeakerProfile` instead.
        """
        return self._timeline(source, sr, None, window, hop, vad, max_segment, adapt, speaker, speakers)[0]

    def predict_with_timeline(
        self, source: AudioInput, sr: int | None = None, *, name: str | None = None,
        speaker: SpeakerProfile | None = None, **options,
    ) -> tuple[Prediction, Timeline]:
        """``(self(source, sr, speaker=speaker), self.timeline(source, sr, speaker=speaker, **options))``
        with the model run once where both judge the same pieces of speech: the detector on (as
        this recognizer's own), no ``speakers``, ``adapt`` or other ``max_segment``; otherwise
        twice, as those two calls. `name` names the input in error messages.
        """
        if hasattr(source, "read"):  # read once, for both passes
            name = name or file_name(source) or "<stream>"
            source = _read_bytes(source, name)
        same_pieces = (
            self.vad and options.get("vad") in (None, True) and options.get("speakers") is None
            and not options.get("adapt") and options.get("max_segment") in (None, self.max_segment)
        )
        if not same_pieces:
            prediction = next(self.predict_files([source], sr=sr, on_error="raise", speaker=speaker, names=[name] if name else None))[1]
            return prediction, self._timeline(source, sr, name, speaker=speaker, **options)[0]
        centre = self._profile_centre(speaker) if speaker is not None else None  # before decoding, as __call__
        timeline, item = self._timeline(source, sr, name, speaker=speaker, **options)
        adaptation = {"group": "profile", "clips": speaker.clips} if speaker is not None else None
        return self._verdict(item, centre, adaptation), timeline

    def _timeline(
        self, source: AudioInput, sr: int | None, name: str | None, window: float = 2.0, hop: float = 1.0,
        vad: bool | None = None, max_segment: float | None = None, adapt: bool | None = None,
        speaker: SpeakerProfile | None = None, speakers: str | int | None = None,
    ) -> tuple[Timeline, _Judged]:
        """`timeline` and the model's outputs for its speech pieces."""
        if window <= 0 or hop <= 0:
            raise ValueError(f"window and hop must be positive, got window={window}, hop={hop}")
        use_vad = self.vad if vad is None else vad
        if speakers is not None and not use_vad:
            raise ValueError("speaker turns are cut within detected speech: speakers= needs the speech detector (vad=True)")
        if adapt is None:
            adapt = speakers is not None and self.can_adapt and speaker is None
        if (adapt or speaker is not None) and not self.can_adapt:
            raise ModelError(f"{self.backend!r} cannot adapt to a speaker (its graph outputs scores, not an embedding)")
        max_segment = max_segment or self.max_segment
        clip = self._scan(source, sr, name, use_vad, max_segment, windows=None if use_vad else (window, hop),
                          keep=speakers is not None)
        voices: list[str | None] = [None] * len(clip.spans)
        notes: list[str] = []
        if speakers is not None:
            from ser.speakers import speaker_turns

            found = speaker_turns(clip.signal, clip.regions, speakers)
            notes += found.warnings
            clip.spans, voices = [], []
            for turn in found.turns:
                first, last = int(round(turn.start_s * SAMPLE_RATE)), int(round(turn.end_s * SAMPLE_RATE))
                for a, b in split_evenly(last - first, int(max_segment * SAMPLE_RATE)):
                    if b > a:
                        clip.spans.append((first + a, first + b))
                        voices.append(turn.speaker)
        item = self._judge([clip])[0]
        labels = self.labels
        probs = item.outputs
        if self.can_adapt and len(item.outputs):
            probs = np.zeros((len(clip.spans), len(labels)))
            for voice in dict.fromkeys(voices):  # each voice (None: the one voice) in order
                mine = [k for k, v in enumerate(voices) if v == voice]
                centre = None
                if speaker is not None:
                    centre = self._profile_centre(speaker)
                elif adapt:
                    profile = self._empty_profile()
                    for k in mine:
                        profile.add(item.outputs[k], item.weights[k])
                    centre = self._profile_centre(profile)
                probs[mine] = self.backend.scores(item.outputs[mine], centre, adapted=centre is not None)
        arousal, valence = derive_dimensions(np.asarray(probs).reshape(len(clip.spans), len(labels)), labels)
        segments = [
            Segment(a / SAMPLE_RATE, b / SAMPLE_RATE, labels[int(np.argmax(p))], float(np.max(p)),
                    {label: float(v) for label, v in zip(labels, p)}, "speech", speaker=voice,
                    arousal=float(ar), valence=float(va))
            for (a, b), p, voice, ar, va in zip(clip.spans, probs, voices, arousal, valence)
        ]
        if use_vad:
            segments += [Segment(a, b, SILENCE, 1.0, {}, "silence") for a, b in _gaps(clip.regions, clip.duration_s)]
        segments.sort(key=lambda seg: (seg.start_s, seg.end_s))
        return Timeline(segments, clip.duration_s, labels, notes), item

    def stream(self, *, sr: int = SAMPLE_RATE, window: float = 2.0, hop: float = 1.0, adapt: bool = False) -> Stream:
        """A `ser.inference.stream.Stream` to feed live PCM chunks at `sr` Hz.

        ``adapt=True`` keeps a running profile of the session's speech windows and judges each
        window against it (needs an adaptable model).
        """
        if adapt and not self.can_adapt:
            raise ModelError(f"{self.backend!r} cannot adapt to a speaker (its graph outputs scores, not an embedding)")
        return Stream(self, sr=sr, window=window, hop=hop, adapt=adapt)

    # -- internals ------------------------------------------------------------------------------

    def _empty_profile(self) -> SpeakerProfile:
        return SpeakerProfile.empty(self.backend.population_mean.shape[0], model_fingerprint(self.backend))

    def _profile_centre(self, profile: SpeakerProfile) -> np.ndarray:
        if not self.can_adapt:
            raise ModelError(f"{self.backend!r} cannot adapt to a speaker (its graph outputs scores, not an embedding)")
        if profile.model != model_fingerprint(self.backend):
            raise ProfileError(f"the speaker profile belongs to model {profile.model!r}, not to {model_fingerprint(self.backend)!r}; enroll again with this model")
        if profile.embedding_sum.shape != self.backend.population_mean.shape:
            raise ProfileError(f"the speaker profile has {profile.embedding_sum.shape[0]} dimensions, the model {self.backend.population_mean.shape[0]}")
        if profile.clips < 1:
            raise ProfileError("the speaker profile is empty (made from no clip with speech)")
        return profile.centre(self.backend.population_mean, self.backend.shrinkage)

    def _verdict(self, item: _Judged, centre: np.ndarray | None, adaptation: dict | None) -> Prediction:
        clip = item.clip
        if clip.speech_s < MIN_SPEECH_S or not len(item.outputs):
            return Prediction.no_speech(clip.duration_s, clip.speech_s)
        if self.can_adapt:
            probs = self.backend.scores(item.outputs, centre, adapted=centre is not None)
            mean = (item.weights[:, None] * probs).sum(0) / max(item.weights.sum(), 1e-12)
        else:
            mean = item.mean_output()
        return Prediction.from_scores(self.labels, mean, clip.duration_s, clip.speech_s, adaptation=adaptation)

    def _judge_all(self, sources: list, sr: int | None, on_error: str, batch_size: int, names) -> Iterator[tuple[int, Any]]:
        """``(index, _Judged or AudioError)`` per source, in order; batches judged while the next decodes."""

        def scanned() -> Iterator[list[tuple[int, Any]]]:
            batch: list[tuple[int, Any]] = []
            audio_s = 0.0
            for index, source in enumerate(sources):
                try:
                    name = names[index] if names else _position_name(source, index, len(sources))
                    clip = self._scan(source, sr, name, self.vad, self.max_segment)
                except AudioError as exc:
                    if on_error == "raise":
                        raise
                    batch.append((index, exc))
                    continue
                batch.append((index, clip))
                audio_s += clip.speech_s
                if clip.signal is None or len(batch) >= batch_size or audio_s > BATCH_AUDIO_S:
                    yield batch
                    batch, audio_s = [], 0.0
            if batch:
                yield batch

        def judge(batch: list[tuple[int, Any]]) -> list[Any]:
            clips = [item for _, item in batch if isinstance(item, _Clip)]
            judged = iter(self._judge(clips))
            return [item if isinstance(item, AudioError) else next(judged) for _, item in batch]

        for batch, results in overlapped(scanned(), judge):
            for (index, _), result in zip(batch, results):
                yield index, result

    def _judge(self, clips: list[_Clip]) -> list[_Judged]:
        """The model's outputs for every piece of every clip (long clips read again, in parts)."""
        embed = self.can_adapt
        run = self.backend.embed if embed else self.backend.predict_proba
        results = []
        in_memory = [c for c in clips if c.signal is not None]
        pieces = [c.signal[a:b] for c in in_memory for a, b in c.spans]
        outputs = run(pieces) if pieces else np.zeros((0, 0))
        offset = 0
        for clip in clips:
            weights = np.array([(b - a) / SAMPLE_RATE for a, b in clip.spans], dtype=np.float64)
            if clip.signal is not None:
                out = outputs[offset : offset + len(clip.spans)]
                offset += len(clip.spans)
            else:
                parts = [run(batch) for batch in _batches(_cut(self._reread(clip), clip.spans), BATCH_AUDIO_S)]
                out = np.concatenate(parts) if parts else np.zeros((0, 0))
            results.append(_Judged(clip, np.asarray(out, dtype=np.float64), weights))
        return results

    def _scan(
        self, source: AudioInput, sr: int | None, name: str | None, vad: bool, max_segment: float,
        windows: tuple[float, float] | None = None, keep: bool = False,
    ) -> _Clip:
        """Decode `source` once: its length, its speech regions and the spans to judge.

        Files up to `KEEP_S` seconds (any length with `keep`) are kept in memory; longer ones
        are read again by `_judge`.
        """
        if isinstance(source, dict) or isinstance(source, np.ndarray):
            signal = self.load(source, sr, name=name)
            label, blocks, reread = name or "<array>", [signal], None
        else:
            if sr is not None:
                raise TypeError("sr is only for numpy arrays; files carry their own sample rate")
            if hasattr(source, "read"):  # a file object can be read once: keep its bytes (and name) to read again
                name = name or file_name(source) or "<stream>"
                source = _read_bytes(source, name)
            label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<bytes>")
            blocks = stream_audio(source, SAMPLE_RATE, max_duration=self.max_duration, name=name)
            reread = source
        tracker = self._detector.tracker(self.vad_options.max_gain_db) if vad else None
        kept: list[np.ndarray] | None = []
        probs: list[np.ndarray] = []
        n = 0
        for block in blocks:
            n += block.shape[0]
            if tracker is not None:
                probs.append(tracker.push(block))
            if kept is not None:
                kept.append(block)
                if n > KEEP_S * SAMPLE_RATE and reread is not None and not keep:
                    kept = None
        signal = None if kept is None else (kept[0] if len(kept) == 1 else np.concatenate(kept))
        duration = n / SAMPLE_RATE
        if tracker is not None:
            probs.append(tracker.finish())
            regions = speech_regions(np.concatenate(probs), duration, self.vad_options)
        else:
            regions = [(0.0, duration)]
        if windows is not None:
            window, hop = windows
            spans = sliding_windows(n, int(round(window * SAMPLE_RATE)), int(round(hop * SAMPLE_RATE)))
        else:
            spans = []
            for a, b in regions:
                first, last = int(round(a * SAMPLE_RATE)), min(n, int(round(b * SAMPLE_RATE)))
                limit = int(max_segment * SAMPLE_RATE) if vad else self._max_piece()
                spans += [(first + s, first + e) for s, e in split_evenly(last - first, limit) if e > s]
        return _Clip(label, duration, regions, spans, signal, reread)

    def _max_piece(self) -> int:
        # Without the detector a clip is judged as one piece up to the model's longest input,
        # as ser did before it had one.
        return int(getattr(self.backend, "max_frames", 3000)) * 160

    def _reread(self, clip: _Clip) -> Iterator[np.ndarray]:
        return stream_audio(clip.source, SAMPLE_RATE, max_duration=self.max_duration, name=clip.name)

    def _from_array(self, array: np.ndarray, sr: int, name: str) -> np.ndarray:
        if sr <= 0:
            raise ValueError(f"sr must be a positive sample rate, got {sr}")
        if array.dtype.kind not in "iuf":
            raise InvalidSamplesError(name, f"samples must be integers or floats, got dtype {array.dtype}")
        if array.ndim not in (1, 2):
            raise InvalidSamplesError(name, f"expected mono (n,) or multichannel (n, channels) samples, got shape {array.shape}")
        if array.size == 0:
            raise NoSamplesError(name, "the array holds zero samples")
        # Scale integers to [-1, 1) before averaging channels: averaging first would overflow or
        # round, and the scale depends on the type, not on the values.
        if array.dtype.kind == "u":
            half = (np.iinfo(array.dtype).max + 1) / 2
            signal = (array.astype(np.float64) - half) / half
        elif array.dtype.kind == "i":
            signal = array.astype(np.float64) / -float(np.iinfo(array.dtype).min)
        else:
            signal = array
        if signal.ndim == 2:
            # (samples, channels) as soundfile returns, or (channels, samples) as torchaudio does:
            # the shorter axis is the channels.
            signal = signal.mean(axis=1 if signal.shape[1] <= signal.shape[0] else 0)
        if not np.isfinite(signal).all():
            raise InvalidSamplesError(name, "the samples hold NaN or infinite values")
        peak = float(np.abs(signal).max())
        if peak > MAX_PEAK:
            raise InvalidSamplesError(name, f"sample values reach {peak:.3g}, far beyond full scale (±1)")
        if self.max_duration is not None and signal.shape[0] / sr > self.max_duration:
            raise AudioTooLongError(
                name, f"the audio lasts {signal.shape[0] / sr:.1f} s, longer than the limit of {self.max_duration:.0f} s"
            )
        signal = np.ascontiguousarray(signal, dtype=np.float32)
        if sr != SAMPLE_RATE:
            import soxr

            signal = soxr.resample(signal, sr, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
        return signal


# Speech judged per model call (seconds), and the longest file kept in memory between its scan
# and its judgement: together they bound memory for inputs of any length.
BATCH_AUDIO_S = 120.0
KEEP_S = 120.0


def _from_hf_dict(item: dict, sr: int | None) -> tuple[np.ndarray, int]:
    """``{"raw" or "array": samples, "sampling_rate": sr}`` (Hugging Face's audio input) as (array, sr)."""
    key = "raw" if "raw" in item else "array" if "array" in item else None
    if key is None or "sampling_rate" not in item:
        raise TypeError(f"an audio dict needs 'raw' (or 'array') and 'sampling_rate', got keys {sorted(item)}")
    if sr is not None and int(sr) != int(item["sampling_rate"]):
        raise TypeError(f"sr={sr} contradicts the dict's sampling_rate={item['sampling_rate']}")
    return np.asarray(item[key]), int(item["sampling_rate"])


def _read_bytes(handle, name: str) -> bytes:
    data = handle.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{name}: the file object must be opened in binary mode")
    return bytes(data)


def _position_name(source: AudioInput, index: int, count: int) -> str | None:
    """How messages name input `index` (0-based) of `count` given without names: None where the
    input names itself (a path, an opened file, or the only input), else its 1-based position,
    e.g. ``<bytes #3>``, so that one can tell which of several in-memory clips failed."""
    if count < 2 or isinstance(source, (str, os.PathLike)) or (hasattr(source, "read") and file_name(source)):
        return None
    kind = "array" if isinstance(source, (dict, np.ndarray)) else "stream" if hasattr(source, "read") else "bytes"
    return f"<{kind} #{index + 1}>"


def _cut(blocks: Iterator[np.ndarray], spans: list[tuple[int, int]]) -> Iterator[np.ndarray]:
    """The samples of each sorted span ``(start, end)`` from a signal given as consecutive blocks."""
    spans = iter(spans)
    span = next(spans, None)
    buffer = np.zeros(0, np.float32)
    offset = 0  # sample index of buffer[0]
    for block in blocks:
        buffer = np.concatenate([buffer, block])
        while span is not None and span[1] <= offset + buffer.shape[0]:
            yield buffer[span[0] - offset : span[1] - offset].copy()
            span = next(spans, None)
        # Keep only what a later span (they may overlap, as sliding windows do) can still need.
        keep_from = buffer.shape[0] if span is None else max(0, span[0] - offset)
        buffer, offset = buffer[keep_from:], offset + keep_from
    # Spans past the end (a header that overstated the length): what there is of them.
    while span is not None:
        yield buffer[max(0, span[0] - offset) : max(0, span[1] - offset)].copy()
        span = next(spans, None)


def _batches(pieces: Iterator[np.ndarray], max_s: float) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    total = 0
    for piece in pieces:
        batch.append(piece)
        total += piece.shape[0]
        if total >= max_s * SAMPLE_RATE:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def _gaps(regions: list[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """The parts of ``[0, duration_s)`` not covered by the sorted disjoint `regions` (seconds)."""
    gaps, cursor = [], 0.0
    for a, b in regions:
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < duration_s:
        gaps.append((cursor, duration_s))
    return gaps
