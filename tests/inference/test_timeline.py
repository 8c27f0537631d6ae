"""Timelines: the energy VAD, sliding windows, summaries, and segmentation of real speech."""

from __future__ import annotations

import numpy as np
import pytest

from inference_helpers import LABELS, SR, speechlike
from ser.inference.timeline import Segment, Timeline, sliding_windows, speech_regions


def _recording(*parts: tuple[str, float]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Speech and silence parts in order; returns the signal and the speech spans in seconds."""
    chunks, spans, t = [], [], 0.0
    for i, (kind, seconds) in enumerate(parts):
        chunk = speechlike(seconds, seed=i) if kind == "speech" else np.zeros(int(seconds * SR), np.float32)
        if kind == "speech":
            spans.append((t, t + seconds))
        chunks.append(chunk)
        t += seconds
    return np.concatenate(chunks), spans


def test_speech_regions_find_speech():
    signal, spans = _recording(("silence", 1.0), ("speech", 1.5), ("silence", 2.0), ("speech", 0.8), ("silence", 0.5))
    regions = [(a / SR, b / SR) for a, b in speech_regions(signal)]
    assert len(regions) == 2
    for (start, end), (true_start, true_end) in zip(regions, spans):
        assert true_start - 0.15 <= start <= true_start
        assert true_end <= end <= true_end + 0.15


def test_speech_regions_smoothing():
    # A 0.1 s pause inside speech is bridged; a 0.1 s blip alone is dropped.
    signal, _ = _recording(("speech", 1.0), ("silence", 0.1), ("speech", 1.0), ("silence", 2.0), ("speech", 0.1), ("silence", 1.0))
    regions = speech_regions(signal)
    assert len(regions) == 1 and regions[0][1] / SR < 2.3
    assert speech_regions(np.zeros(SR, np.float32)) == []
    assert speech_regions(np.zeros(10, np.float32)) == []


def test_quiet_recording_is_still_found():
    # Level is relative to the recording: speech at -45 dBFS in digital silence is speech.
    signal, _ = _recording(("silence", 1.0), ("speech", 1.0), ("silence", 1.0))
    assert len(speech_regions(signal * 0.02)) == 1


def test_steady_noise_is_not_speech():
    noise = (0.01 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)
    assert speech_regions(noise) == []


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
    kinds = [s.kind for s in timeline.segments]
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
    # 3 s of speech, widened by the 0.1 s pad at each of its three edges inside the recording.
    assert 3.0 <= summary["speech_s"] <= 3.45
    assert 0.42 <= summary["silence_share"] <= 0.5
    assert sum(summary["emotions"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(summary["emotions"]) == set(LABELS)
    as_dict = timeline.to_dict()
    assert len(as_dict["segments"]) == 4 and as_dict["summary"] == summary


def test_long_speech_is_cut(recognizer):
    timeline = recognizer.timeline(speechlike(7.0), sr=SR, max_segment=3.0)
    speech = [s for s in timeline.segments if s.kind == "speech"]
    assert len(speech) == 3 and all(s.duration_s <= 3.0 for s in speech)


def test_sliding_timeline(recognizer):
    signal = speechlike(5.5)
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


def test_percentiles_equal_numpys():
    from ser.inference.timeline import _percentiles

    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 1000):
        x = rng.standard_normal(n).astype(np.float32)
        np.testing.assert_allclose(_percentiles(x, (99, 10)), np.percentile(x, [99, 10]), rtol=1e-6)
