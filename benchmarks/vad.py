"""How well speech is told from silence and noise: Silero VAD (what ser uses) against an energy detector.

    python benchmarks/vad.py            # writes benchmarks/vad.md

Recordings are built as people make them: RAVDESS clips of random actors (gain -12..+6 dB)
separated by 1-3 s gaps holding only background sound, six clips per recording, 30 recordings
per condition. The gaps are known to hold no speech, so two things can be counted exactly:

- **false speech**: the share of gap time (0.3 s away from any clip) that a detector calls speech;
- **missed clips**: clips of which the detector finds less than 0.5 s of speech.

The energy detector is the one ser used before Silero (frame level above the recording's
99th percentile - 45 dB, its 10th percentile + 6 dB and -70 dBFS; 0.5 s pauses bridged,
0.25 s bursts dropped, 0.1 s pad), written out here as the baseline.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from _machine import cpu_name  # benchmarks/ is on sys.path when run as a script

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
SR = 16000
OUT = REPO / "benchmarks" / "vad.md"


def energy_regions(signal: np.ndarray) -> list[tuple[float, float]]:
    """The pre-Silero energy detector (see the module docstring), in seconds."""
    frames = np.lib.stride_tricks.sliding_window_view(signal, 400)[::160]
    levels = 10 * np.log10(np.mean(np.square(frames, dtype=np.float64), axis=1) + 1e-12)
    peak, noise = np.percentile(levels, [99, 10])
    active = levels > max(peak - 45.0, noise + 6.0, -70.0)
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    runs = list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))
    merged: list[list[int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < 50:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    out = []
    for a, b in merged:
        start, end = a * 0.01, (b - 1) * 0.01 + 0.025
        if end - start >= 0.25:
            out.append((max(0.0, start - 0.1), min(len(signal) / SR, end + 0.1)))
    return out


def background(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    if kind == "digital silence":
        return np.zeros(n, np.float32)
    if kind.startswith("white"):
        level = float(kind.split()[-2])
        return (10 ** (level / 20) * rng.standard_normal(n)).astype(np.float32)
    if kind.startswith("brown"):  # rumble: integrated white noise, normalised
        level = float(kind.split()[-2])
        x = np.cumsum(rng.standard_normal(n))
        x -= np.convolve(x, np.ones(1601) / 1601, mode="same")
        return (10 ** (level / 20) * x / (np.std(x) + 1e-9)).astype(np.float32)
    if kind.startswith("hum"):
        level = float(kind.split()[-2])
        x = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 6))
        return (10 ** (level / 20) * x / np.std(x)).astype(np.float32)
    raise ValueError(kind)


CONDITIONS = ["digital silence", "white -60 dBFS", "white -45 dBFS", "white -35 dBFS", "brown -40 dBFS", "hum -40 dBFS"]


def recording(clips: list[np.ndarray], kind: str, rng: np.random.Generator):
    """A signal and the (start, end) seconds of its clips."""
    parts, spans, t = [], [], 0.0
    for clip in clips:
        gap = int(rng.uniform(1, 3) * SR)
        bed = background(kind, gap + clip.shape[0], rng)
        parts.append(bed[:gap])
        spans.append((t + gap / SR, t + (gap + clip.shape[0]) / SR))
        parts.append(clip * 10 ** (rng.uniform(-12, 6) / 20) + bed[gap:])
        t += (gap + clip.shape[0]) / SR
    tail = int(rng.uniform(1, 3) * SR)
    parts.append(background(kind, tail, rng))
    return np.concatenate(parts).astype(np.float32), spans, t + tail / SR


def score(regions, spans, duration) -> tuple[float, float, float]:
    """(false speech seconds, gap seconds, clips missed) for one recording."""
    grid = np.arange(0, duration, 0.01)
    said = np.zeros(grid.shape, bool)
    for a, b in regions:
        said[(grid >= a) & (grid < b)] = True
    near = np.zeros(grid.shape, bool)
    inside = np.zeros(grid.shape, bool)
    for a, b in spans:
        near[(grid >= a - 0.3) & (grid < b + 0.3)] = True
        inside[(grid >= a) & (grid < b)] = True
    gap = ~near
    missed = sum(said[(grid >= a) & (grid < b)].sum() * 0.01 < 0.5 for a, b in spans)
    return float(said[gap].sum() * 0.01), float(gap.sum() * 0.01), float(missed)


def main() -> int:
    from ser.audio import load
    from ser.inference.vad import SpeechDetector

    files = sorted((REPO.parent / "shared" / "datasets" / "RAVDESS").rglob("*.flac"))
    detector = SpeechDetector.from_pretrained()
    rows = []
    cost = {"silero": 0.0, "energy": 0.0}
    audio_s = 0.0
    for kind in CONDITIONS:
        rng = np.random.default_rng(0)
        totals = {"silero": np.zeros(3), "energy": np.zeros(3)}
        n_clips = 0
        for _ in range(30):
            clips = [load(files[i]) for i in rng.choice(len(files), 6, replace=False)]
            signal, spans, duration = recording(clips, kind, rng)
            n_clips += len(spans)
            audio_s += duration
            for name, find in (("silero", detector.regions), ("energy", energy_regions)):
                started = time.perf_counter()
                regions = find(signal)
                cost[name] += time.perf_counter() - started
                totals[name] += score(regions, spans, duration)
        for name, (false_s, gap_s, missed) in totals.items():
            rows.append((kind, name, false_s / gap_s, missed / n_clips))
            print(f"{kind:>16} {name:>6}: false speech {false_s / gap_s:6.1%} of gap time, "
                  f"missed {missed / n_clips:6.1%} of clips", flush=True)
    table = ["| background in the gaps | detector | false speech (share of gap time) | clips missed |", "|---|---|---|---|"]
    table += [f"| {kind} | {name} | {false:.1%} | {missed:.1%} |" for kind, name, false, missed in rows]
    speed = {name: audio_s / max(seconds, 1e-9) for name, seconds in cost.items()}
    text = (
        "# Telling speech from silence and noise\n\n"
        f"`python benchmarks/vad.py` on {cpu_name()}, {time.strftime('%Y-%m-%d')}. {__doc__.split(chr(10), 2)[2].strip()}\n\n"
        + "\n".join(table)
        + f"\n\nCost on this machine (one thread, busy with other work): Silero {speed['silero']:.0f}x real time, "
        f"energy {speed['energy']:.0f}x real time.\n"
    )
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
