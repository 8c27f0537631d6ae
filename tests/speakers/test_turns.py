"""speaker_turns on real voices: one voice is one speaker, two alternating voices are found, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from ser.speakers import SpeakerError, SpeakerTurns, Turn, speaker_turns
from ser.speakers.nuisance import Nuisance
from ser.speakers.turns import speaker_windows, turns_from_windows
from speaker_helpers import voice

SR = 16000
GAP = np.zeros(int(0.5 * SR), np.float32)


def _conversation(actors: list[int]) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """The example clips of `actors`, in that order, 0.5 s apart; and the true (start, end, actor)."""
    pieces, truth, cursor = [], [], 0.0
    for actor in actors:
        signal = voice(actor)
        pieces += [signal, GAP]
        truth.append((cursor, cursor + signal.shape[0] / SR, actor))
        cursor += (signal.shape[0] + GAP.shape[0]) / SR
    return np.concatenate(pieces), truth


def _attributed(result: SpeakerTurns, truth) -> float:
    """Share of the true speech time given to the voice that the majority of each actor's time got."""
    speech = correct = 0.0
    for actor in {a for _, _, a in truth}:
        time_by_voice: dict[str, float] = {}
        for a, b, who in truth:
            if who != actor:
                continue
            for turn in result.turns:
                overlap = min(b, turn.end_s) - max(a, turn.start_s)
                if overlap > 0:
                    time_by_voice[turn.speaker] = time_by_voice.get(turn.speaker, 0.0) + overlap
            speech += b - a
        correct += max(time_by_voice.values(), default=0.0)
    return correct / speech


def test_two_voices_alternating_are_two_speakers():
    signal, truth = _conversation([3, 10, 3, 10, 3, 10])  # a man and a woman
    result = speaker_turns(signal, [(a, b) for a, b, _ in truth])
    assert result.n_speakers == result.n_found == 2 and not result.warnings
    assert [t.speaker for t in result.turns] == ["S1", "S2"] * 3
    assert _attributed(result, truth) > 0.95


def test_one_region_holding_both_voices_is_cut_at_the_change():
    signal, truth = _conversation([3, 10, 3, 10])
    result = speaker_turns(signal, [(0.0, signal.shape[0] / SR)], n_speakers=2)
    assert result.n_speakers == 2
    assert _attributed(result, truth) > 0.85
    # Each change lies in the 0.5 s gap between two turns, give or take the 0.8 s that a window
    # straddling the change blurs.
    changes = [t.start_s for t in result.turns[1:]]
    assert len(changes) == 3
    for change, (_, end, _), (start, _, _) in zip(changes, truth, truth[1:]):
        assert end - 0.8 < change < start + 0.8


def test_one_voice_is_one_speaker():
    signal, truth = _conversation([3, 3, 3, 3])
    result = speaker_turns(signal, [(a, b) for a, b, _ in truth])
    assert result.n_speakers == 1 and {t.speaker for t in result.turns} == {"S1"}


def test_more_speakers_asked_than_voices_says_how_many_were_found():
    signal, truth = _conversation([3, 10, 3, 10])
    result = speaker_turns(signal, [(a, b) for a, b, _ in truth], n_speakers=3)
    assert result.n_found == 2 and result.n_speakers == 3
    assert result.warnings == ["asked for 3 speakers; the voices suggest 2"]


def test_no_speech_is_a_result():
    result = speaker_turns(np.zeros(SR * 3, np.float32), [])
    assert result == SpeakerTurns([], 0, 0) and result.speaking_time() == {}


def test_regions_shorter_than_a_word_join_the_nearest_voice():
    signal, truth = _conversation([3, 10, 3])
    regions = [(a, b) for a, b, _ in truth]
    blip = (truth[1][1] + 0.1, truth[1][1] + 0.3)  # 0.2 s just after the woman's turn
    result = speaker_turns(signal, regions + [blip])
    blip_turn = next(t for t in result.turns if abs(t.start_s - blip[0]) < 1e-6)
    assert blip_turn.speaker == "S2" and result.n_speakers == 2


def test_only_tiny_regions_are_one_voice_with_a_warning():
    signal, _ = _conversation([3])
    result = speaker_turns(signal, [(0.5, 0.7), (1.0, 1.2)])
    assert result.turns == [Turn(0.5, 0.7, "S1"), Turn(1.0, 1.2, "S1")]
    assert result.warnings and "too short" in result.warnings[0]


def test_regions_are_sorted_joined_and_clipped():
    signal, _ = _conversation([3])
    duration = signal.shape[0] / SR
    result = speaker_turns(signal, [(1.0, 2.5), (-1.0, 0.8), (0.5, 1.2), (2.0, duration + 5)])
    assert result.turns[0].start_s == 0.0 and result.turns[-1].end_s == pytest.approx(duration, abs=1e-3)
    assert sum(t.end_s - t.start_s for t in result.turns) == pytest.approx(duration, abs=0.02)


@pytest.mark.parametrize(
    "regions, n, message",
    [
        ([(1.0,)], "auto", "speech region 0"),
        ([(0.0, 1.0), (2.0, 1.0)], "auto", "speech region 1"),
        ([(0.0, float("nan"))], "auto", "speech region 0"),
        ([(0.0, 1.0)], 0, "n_speakers"),
        ([(0.0, 1.0)], "two", "n_speakers"),
        ([(0.0, 1.0)], 2.0, "n_speakers"),
    ],
)
def test_bad_input_is_a_clear_error(regions, n, message):
    with pytest.raises(SpeakerError, match=message):
        speaker_turns(voice(3), regions, n)


def test_turns_from_windows_cuts_one_embedding_with_any_count():
    signal, truth = _conversation([3, 10, 3, 10])
    regions = [(a, b) for a, b, _ in truth]
    windows = speaker_windows(signal, regions)
    assert windows.embeddings.shape == (windows.times.shape[0], 256) and windows.embedded == regions
    for count in ("auto", 1, 2, 3):
        assert turns_from_windows(windows, count) == speaker_turns(signal, regions, count)
    assert turns_from_windows(windows, 1).n_speakers == 1


def test_a_voice_with_too_little_of_the_speech_is_not_counted():
    signal, truth = _conversation([3, 10, 3, 10])  # the woman holds about a third of the speech
    windows = speaker_windows(signal, [(a, b) for a, b, _ in truth])
    assert turns_from_windows(windows, "auto").n_speakers == 2
    assert turns_from_windows(windows, "auto", min_share=0.45).n_speakers == 1
    assert turns_from_windows(windows, "auto", min_speaker_s=4.0).n_speakers == 1
    # A second voice must also stand out from a further split: asking for an unreachable gap keeps one.
    assert turns_from_windows(windows, "auto", min_gap=1000.0).n_speakers == 1
    # A count given is kept, and the warning says what the voices suggest.
    given = turns_from_windows(windows, 2, min_share=0.45)
    assert given.n_speakers == 2 and given.n_found == 1 and "suggest 1" in given.warnings[0]


def test_the_projection_can_be_left_out_or_replaced():
    signal, truth = _conversation([3, 10, 3, 10, 3, 10])
    windows = speaker_windows(signal, [(a, b) for a, b, _ in truth])
    shipped = Nuisance.shipped()
    fewer = Nuisance(shipped.mean, shipped.directions[:, :2], {"k": 2})
    # Raw embeddings lie closer together: their merge distance is smaller (benchmarks/speakers.md, 2a).
    for nuisance, merge_distance in ((True, 0.5), (fewer, 0.5), (False, 0.25)):
        result = turns_from_windows(windows, "auto", nuisance=nuisance, merge_distance=merge_distance)
        assert result.n_speakers == 2 and _attributed(result, truth) > 0.95
