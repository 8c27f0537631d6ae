"""Data augmentation: random waveform transforms (audiomentations) and SpecAugment masks.

The rule that keeps results honest: augmentation is applied ONLY to training examples, after
the split. The trainer calls the augmenter on training batches (or `augmented_copies` on the
training indices); validation and test clips are never augmented, and augmented copies of a
clip never cross to another side of the split, since they inherit its speaker.

Reproducible from a seed: `make_augmenter(config)` returns an `Augmenter` whose sequence of
outputs is fixed by ``config.seed``; ``augmenter(signal, sr, seed=n)`` gives one fixed output
per ``n`` (e.g. ``seed=epoch * n_clips + index``) whatever the call order.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ser.errors import SerError

try:  # audiomentations is in the `train` extra; this module is only used when training.
    from audiomentations.core.transforms_interface import BaseWaveformTransform
except ImportError:  # pragma: no cover - the module stays importable for documentation tools
    BaseWaveformTransform = object  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class AugmentConfig:
    """Which random transforms to apply to training waveforms, and how strongly.

    Each enabled transform applies independently with probability ``p``, in the order stretch,
    pitch, shift, reverb, gain, noise. A value of 0 (or None for ``stretch``) disables one.

    noise : Gaussian noise whose standard deviation is ``u * noise * peak``, ``u ~ U(0, 1)`` and
        ``peak`` the clip's largest absolute sample (the usual SER recipe's 0.035).
    shift : largest time shift, as a fraction of the clip's length, either way (zero-filled).
    stretch : range of time-stretch rates (<1 slower, >1 faster), pitch kept.
    pitch_semitones : largest pitch shift up or down, in semitones, tempo kept.
    gain_db : largest gain change up or down, in dB.
    reverb : longest RT60 in seconds of a synthetic room (exponentially decaying noise).
    keep_length : crop or zero-pad stretched clips back to their input length.
    seed : seeds the sequence of random draws.
    """

    noise: float = 0.035
    shift: float = 0.2
    stretch: tuple[float, float] | None = (0.8, 1.25)
    pitch_semitones: float = 4.0
    gain_db: float = 6.0
    reverb: float = 0.0
    p: float = 0.5
    keep_length: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.stretch is not None:
            stretch = tuple(float(v) for v in self.stretch)
            if len(stretch) != 2 or not 0.1 <= stretch[0] <= stretch[1] <= 10:
                raise SerError(f"augment config: stretch must be [min_rate, max_rate] within [0.1, 10], not {self.stretch}")
            object.__setattr__(self, "stretch", stretch)
        if not 0.0 <= self.p <= 1.0:
            raise SerError(f"augment config: p must lie in [0, 1], not {self.p}")
        if not 0.0 <= self.shift <= 1.0:
            raise SerError(f"augment config: shift must lie in [0, 1], not {self.shift}")
        if not 0.0 <= self.pitch_semitones <= 24:
            raise SerError(f"augment config: pitch_semitones must lie in [0, 24], not {self.pitch_semitones}")
        for name in ("noise", "gain_db", "reverb"):
            if getattr(self, name) < 0:
                raise SerError(f"augment config: {name} cannot be negative, not {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stretch"] = list(self.stretch) if self.stretch is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AugmentConfig":
        """Build from a dict such as a YAML section; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SerError(f"augment config: unknown key(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(data))


class PeakRelativeNoise(BaseWaveformTransform):
    """Gaussian noise with standard deviation ``U(0, max_fraction) * max|x|`` (audiomentations API)."""

    supports_multichannel = True

    def __init__(self, max_fraction: float = 0.035, p: float = 0.5):
        super().__init__(p)
        self.max_fraction = max_fraction

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["fraction"] = random.uniform(0.0, self.max_fraction)
            self.parameters["noise_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        scale = self.parameters["fraction"] * float(np.abs(samples).max(initial=0.0))
        noise = np.random.default_rng(self.parameters["noise_seed"]).standard_normal(samples.shape)
        return (samples + scale * noise).astype(np.float32)


class SyntheticReverb(BaseWaveformTransform):
    """Convolution with a synthetic room response: a direct path plus exponentially decaying noise.

    RT60 is drawn from ``U(max_rt60 / 5, max_rt60)`` seconds and the direct-to-reverberant energy
    ratio from ``U(0, 10)`` dB; the output keeps the input's length and peak.
    """

    supports_multichannel = False

    def __init__(self, max_rt60: float = 0.5, p: float = 0.5):
        super().__init__(p)
        self.max_rt60 = max_rt60

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["rt60"] = random.uniform(self.max_rt60 / 5, self.max_rt60)
            self.parameters["drr_db"] = random.uniform(0.0, 10.0)
            self.parameters["tail_seed"] = random.getrandbits(32)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        from scipy.signal import fftconvolve

        rt60 = self.parameters["rt60"]
        t = np.arange(1, max(2, int(rt60 * sample_rate))) / sample_rate
        # Amplitude falls by 60 dB (a factor of 1000) over rt60 seconds.
        tail = np.random.default_rng(self.parameters["tail_seed"]).standard_normal(t.shape)
        tail *= np.exp(-np.log(1000.0) * t / rt60)
        tail *= 10 ** (-self.parameters["drr_db"] / 20) / np.sqrt(np.sum(tail**2))
        response = np.concatenate([[1.0], tail])
        wet = fftconvolve(samples, response)[: samples.shape[0]]
        peak_in, peak_out = np.abs(samples).max(initial=0.0), np.abs(wet).max(initial=0.0)
        if peak_out > 0:
            wet *= peak_in / peak_out
        return wet.astype(np.float32)


class Augmenter:
    """Callable ``(signal (n_samples,) float32, sr) -> augmented float32 signal``; see `make_augmenter`.

    Each call draws fresh random parameters from a generator seeded by ``config.seed``; pass
    ``seed=`` to a call for an output that depends on that seed alone. The global ``random``
    and ``numpy.random`` states (which audiomentations draws from) are set for the call and
    restored afterwards, so the caller's random streams are untouched (not thread-safe: use one
    Augmenter per thread or process, e.g. re-seeded per DataLoader worker with `reseed`).
    """

    def __init__(self, config: AugmentConfig):
        from audiomentations import Compose, Gain, PitchShift, Shift, TimeStretch

        self.config = config
        c = config
        transforms: list = []
        if c.stretch is not None and c.stretch != (1.0, 1.0):
            transforms.append(TimeStretch(min_rate=c.stretch[0], max_rate=c.stretch[1],
                                          leave_length_unchanged=c.keep_length, p=c.p))
        if c.pitch_semitones > 0:
            transforms.append(PitchShift(min_semitones=-c.pitch_semitones, max_semitones=c.pitch_semitones, p=c.p))
        if c.shift > 0:
            transforms.append(Shift(min_shift=-c.shift, max_shift=c.shift, rollover=False, p=c.p))
        if c.reverb > 0:
            transforms.append(SyntheticReverb(max_rt60=c.reverb, p=c.p))
        if c.gain_db > 0:
            transforms.append(Gain(min_gain_db=-c.gain_db, max_gain_db=c.gain_db, p=c.p))
        if c.noise > 0:
            transforms.append(PeakRelativeNoise(max_fraction=c.noise, p=c.p))
        self.transforms = transforms
        self._compose = Compose(transforms, p=1.0, shuffle=False) if transforms else None
        self.reseed(c.seed)

    def reseed(self, seed: int) -> None:
        """Restart the sequence of random draws from `seed`."""
        self._rng = np.random.default_rng(seed)

    def __call__(self, signal: np.ndarray, sr: int = 16000, *, seed: int | None = None) -> np.ndarray:
        samples = np.array(signal, dtype=np.float32)  # a copy: transforms may work in place
        if samples.ndim != 1:
            raise ValueError(f"expected a mono signal of shape (n_samples,), got shape {samples.shape}")
        call_seed = int(self._rng.integers(1 << 32)) if seed is None else seed
        if self._compose is None or samples.shape[0] == 0:
            return samples
        with _seeded_globals(call_seed):
            out = self._compose(samples, sr)
        return np.ascontiguousarray(out, dtype=np.float32)


def make_augmenter(config: AugmentConfig = AugmentConfig()) -> Augmenter:
    """A seeded, reproducible waveform augmenter for training clips (see `Augmenter`)."""
    return Augmenter(config)


@contextlib.contextmanager
def _seeded_globals(seed: int) -> Iterator[None]:
    python_state, numpy_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


def augmented_copies(
    signals: Sequence[np.ndarray],
    indices: Sequence[int],
    augmenter: Callable[..., np.ndarray],
    n_copies: int = 1,
    sr: int = 16000,
) -> tuple[list[np.ndarray], list[int]]:
    """``n_copies`` augmented versions of ``signals[i]`` for every ``i`` in `indices` (training only).

    Returns
    -------
    (copies, sources): the new signals, and for each the index of the clip it came from, so that
    its label and speaker follow it. Originals are not included.
    """
    copies, sources = [], []
    for _ in range(n_copies):
        for index in indices:
            copies.append(augmenter(signals[index], sr))
            sources.append(int(index))
    return copies, sources


def spec_augment(
    features: np.ndarray,
    rng: np.random.Generator | int | None = None,
    n_time_masks: int = 2,
    max_time: int = 20,
    n_freq_masks: int = 2,
    max_freq: int = 8,
    value: float | None = None,
) -> np.ndarray:
    """SpecAugment masking (Park et al. 2019) of a (frames, dims) feature matrix.

    Each time mask hides ``w ~ U{0..max_time}`` consecutive frames and each frequency mask
    ``w ~ U{0..max_freq}`` consecutive columns (both capped by the matrix's size), at uniformly
    drawn positions; masks may overlap.

    Parameters
    ----------
    features : shape (n_frames, n_dims), e.g. log-mel frames.
    rng : a numpy Generator, or a seed.
    value : what masked cells become; None uses the matrix's mean (0 suits standardised input).

    Returns
    -------
    A masked copy, same shape and dtype; `features` is untouched.
    """
    x = np.array(features, copy=True)
    if x.ndim != 2:
        raise ValueError(f"expected features of shape (n_frames, n_dims), got shape {x.shape}")
    rng = np.random.default_rng(rng)
    fill = float(x.mean()) if value is None and x.size else (value or 0.0)
    for axis, count, widest in ((0, n_time_masks, max_time), (1, n_freq_masks, max_freq)):
        size = x.shape[axis]
        for _ in range(count):
            width = int(rng.integers(0, min(widest, size) + 1))
            start = int(rng.integers(0, size - width + 1))
            if axis == 0:
                x[start : start + width, :] = fill
            else:
                x[:, start : start + width] = fill
    return x
