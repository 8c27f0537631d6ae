"""Timelines: the speech detector (silero), sliding windows, summaries, and segmentation of real speech."""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import LABELS, SR, real_speech
from ser.inference.timeline import Segment, Timeline, sliding_windows
from ser.inference.vad import SpeechDetector, VadOptions, speech_regions


def _recording(*parts: tuple[str, float]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Speech and silence parts in order; returns the signal and the speech spans in seconds."""
    chunks, spans, t = [], [], 0.0
    for i, (kind, seconds) in enumerate(parts):
        chunk = real_speech(seconds, seed=i) if kind == "speech" else np.zeros(int(seconds * SR), np.float32)
        if kind == "speech":
            spans.append((t, t + seconds))
        chunks.append(chunk)
        t += seconds
    return np.concatenate(chunks), spans


def _regions(signal: np.ndarray, **options) -> list[tuple[float, float]]:
    return SpeechDetector.from_pretrained().regions(signal, VadOptions(**options))


def test_speech_regions_find_speech():
    signal, spans = _recording(("silence", 1.0), ("speech", 1.5), ("silence", 2.0), ("speech", 0.8), ("silence", 0.5))
    regions = _regions(signal)
    assert len(regions) == 2
    for (start, end), (true_start, true_end) in zip(regions, spans):
        assert true_start - 0.2 <= start <= true_start + 0.3
        assert true_end - 0.3 <= end <= true_end + 0.3


def test_speech_regions_smoothing():
    # A 0.1 s pause inside speech is bridged; no region in silence of any length.
    signal, _ = _recording(("speech", 1.0), ("silence", 0.1), ("speech", 1.0), ("silence", 2.0))
    regions = _regions(signal)
    assert len(regions) == 1 and regions[0][1] < 2.4
    assert _regions(np.zeros(SR, np.float32)) == []
    assert _regions(np.zeros(10, np.float32)) == []


def test_hysteresis_and_min_speech_on_frame_probabilities():
    frame = 0.032
    probs = np.array([0.1] * 10 + [0.9] * 20 + [0.4] * 3 + [0.9] * 10 + [0.1] * 20 + [0.9] * 4 + [0.1] * 10, np.float32)
    regions = speech_regions(probs, len(probs) * frame, VadOptions(min_silence=0.3, min_speech=0.25, pad=0.0))
    # 0.4 is above the closing threshold (0.35): one region over frames 10-43; the 4-frame burst
    # (0.128 s) is shorter than min_speech and dropped.
    assert regions == [(round(10 * frame, 3), round(43 * frame, 3))]


def test_quiet_recording_is_still_found():
    signal, _ = _recording(("silence", 1.0), ("speech", 1.0), ("silence", 1.0))
    assert len(_regions(signal * 0.05)) == 1


def test_very_quiet_speech_is_found_through_the_detector_gain():
    # Speech 40 dB down (a quiet RAVDESS take 12 dB under its level is at about -50 dBFS): Silero
    # alone misses it; the detector's automatic gain finds it.
    signal, _ = _recording(("silence", 1.0), ("speech", 1.5), ("silence", 1.0))
    quiet = signal * 0.01
    assert len(_regions(quiet)) == 1
    assert _regions(quiet, max_gain_db=0.0) == []


def test_faint_noise_raised_by_the_detector_gain_is_not_speech():
    from ser.augment import coloured_noise

    rng = np.random.default_rng(1)
    for dbfs in (-75, -60, -45):
        for colour in (0.0, 1.0, 2.0):  # white, pink, brown
            noise = coloured_noise(5 * SR, colour, rng)
            noise = (noise / np.sqrt(np.mean(noise**2)) * 10 ** (dbfs / 20)).astype(np.float32)
            assert _regions(noise) == [], (dbfs, colour)


def test_noise_is_not_speech():
    rng = np.random.default_rng(0)
    for level in (0.003, 0.01, 0.05):
        noise = (level * rng.standard_normal(3 * SR)).astype(np.float32)
        assert _regions(noise) == [], level


def test_pieces_give_the_same_probabilities_as_the_whole():
    detector = SpeechDetector.from_pretrained()
    signal, _ = _recording(("silence", 0.5), ("speech", 2.0), ("silence", 0.7))
    whole = detector.probabilities(signal)
    tracker = detector.tracker()
    parts = [tracker.push(signal[a : a + 777]) for a in range(0, signal.shape[0], 777)] + [tracker.finish()]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


def test_sliding_windows():
    assert sliding_windows(5 * SR, 2 * SR, SR) == [(s * SR, (s + 2) * SR) for s in range(4)]
    assert sliding_windows(int(4.5 * SR), 2 * SR, SR)[-1] == (int(2.5 * SR), int(4.5 * SR))
    assert sliding_windows(SR, 2 * SR, SR) == [(0, SR)]
    assert sliding_windows(0, 2 * SR, SR) == []
    assert sliding_windows(10 * SR, SR, 3 * SR) == [(0, SR), (3 * SR, 4 * SR), (6 * SR, 7 * SR), (9 * SR, 10 * SR)]


def test_vad_timeline_covers_the_recording(recognizer):
    signal, spans = _recording(("silence", 1.0), ("speech", 2.0), ("silence", 2.0), ("speech", 1.0))
    timeline = recognizer.timeline(signal, sr=SR)
    assert timeline.duration_s == pytest.approx(6.0)
    # (a speech detector may end a region a few frames before a trailing word does)
    kinds = [s.kind for s in timeline.segments if s.kind == "speech" or s.duration_s > 0.3]
    assert kinds == ["silence", "speech", "silence", "speech"]
    # Contiguous, in order, from 0 to the end.
    assert timeline.segments[0].start_s == 0 and timeline.segments[-1].end_s == pytest.approx(6.0)
    for a, b in zip(timeline.segments, timeline.segments[1:]):
        assert a.end_s == pytest.approx(b.start_s)
    for segment in timeline.segments:
        if segment.kind == "silence":
            assert segment.label == "silence" and segment.scores == {}
        else:
            assert segment.label in LABELS and sum(segment.scores.values()) == pytest.approx(1, abs=1e-5)
    summary = timeline.summary()
    # 3 s of speech, widened by the 0.1 s pad at its edges inside the recording.
    assert 2.3 <= summary["speech_s"] <= 3.5
    assert 0.4 <= summary["silence_share"] <= 0.62
    assert summary["label"] == recognizer(signal, sr=SR).label
    assert sum(summary["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(summary["emotions"]) == set(LABELS)
    as_dict = timeline.to_dict()
    assert len(as_dict["segments"]) == len(timeline.segments) and as_dict["summary"] == summary


def test_long_speech_is_cut(recognizer):
    timeline = recognizer.timeline(real_speech(7.0), sr=SR, max_segment=3.0)
    speech = [s for s in timeline.segments if s.kind == "speech"]
    assert len(speech) == 3 and all(s.duration_s <= 3.0 for s in speech)


def test_sliding_timeline(recognizer):
    signal = real_speech(5.5)
    timeline = recognizer.timeline(signal, sr=SR, vad=False, window=2.0, hop=1.0)
    spans = [(s.start_s, s.end_s) for s in timeline.segments]
    assert spans == [(0, 2), (1, 3), (2, 4), (3, 5), (3.5, 5.5)]
    assert all(s.kind == "speech" for s in timeline.segments)
    third = recognizer(signal[2 * SR : 4 * SR], sr=SR)
    assert timeline.segments[2].scores == pytest.approx(third.scores, abs=1e-5)
    assert timeline.summary()["silence_share"] == 0


def test_summary_uses_mean_scores_where_windows_overlap():
    a = {"x": 0.9, "y": 0.1}
    b = {"x": 0.2, "y": 0.8}
    timeline = Timeline(
        [Segment(0, 2, "x", 0.9, a), Segment(1, 3, "y", 0.8, b), Segment(3, 4, "silence", 1.0, {}, "silence")], 4.0, ["x", "y"]
    )
    # 0-1 s x; 1-2 s mean (0.55, 0.45) -> x; 2-3 s y; 3-4 s silence.
    summary = timeline.summary()
    assert summary["emotions"] == {"x": pytest.approx(2 / 3, abs=1e-3), "y": pytest.approx(1 / 3, abs=1e-3)}
    assert summary["silence_share"] == pytest.approx(0.25)
    assert summary["speech_s"] == pytest.approx(3.0)


# Clips of known emotions from different actors; actor 20's calm clip is ~35 dB quieter than
# the angry one, the case a detector relative to the loudest voice must still catch.
RAVDESS_CLIPS = ["Actor_01/03-01-05-02-01-01-01", "Actor_20/03-01-02-01-02-01-20", "Actor_04/03-01-04-02-02-01-04"]


@pytest.mark.corpora
def test_segments_real_clips_separated_by_silence(recognizer, datasets_dir):
    from ser.audio import load

    root = datasets_dir / "RAVDESS" / "Audio_Speech_Actors_01-24"
    clips = []
    for name in RAVDESS_CLIPS:
        found = sorted(root.glob(f"{name}.*"))
        if not found:
            pytest.skip(f"{name} not in {root}")
        clips.append(load(found[0]))
    gap = np.zeros(2 * SR, np.float32)
    pieces, clip_spans, gap_spans, t = [], [], [], 0.0
    for i, clip in enumerate(clips):
        if i:
            pieces.append(gap)
            gap_spans.append((t, t + 2.0))
            t += 2.0
        pieces.append(clip)
        clip_spans.append((t, t + clip.shape[0] / SR))
        t += clip.shape[0] / SR
    timeline = recognizer.timeline(np.concatenate(pieces), sr=SR)

    speech = [s for s in timeline.segments if s.kind == "speech"]
    silence = [s for s in timeline.segments if s.kind == "silence"]
    pad = 0.1 + 0.02  # segments are widened by 0.1 s; a clip may start or end on speech
    for start, end in clip_spans:
        inside = [s for s in speech if start - pad <= s.start_s and s.end_s <= end + pad]
        assert sum(s.duration_s for s in inside) > 0.8, f"no speech found in the clip at {start:.2f}-{end:.2f} s"
    # Every speech segment lies within one clip; the middle of every gap is silence.
    for s in speech:
        assert any(start - pad <= s.start_s and s.end_s <= end + pad for start, end in clip_spans), s
    for start, end in gap_spans:
        assert any(s.start_s <= start + pad and end - pad <= s.end_s for s in silence), (start, end)
    summary = timeline.summary()
    assert 0.4 < summary["silence_share"] < 0.9
