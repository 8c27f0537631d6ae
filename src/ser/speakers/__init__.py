"""Who speaks when: speaker embeddings, grouping clips by voice, and speaker turns.

    >>> from ser.speakers import VoiceEncoder, group_by_voice, speaker_turns
    >>> encoder = VoiceEncoder.from_pretrained()
    >>> grouping = group_by_voice(encoder.embed_batch(clips))          # clips: 16 kHz speech
    >>> grouping = group_clips(clips)                                  # the same, in one call
    >>> result = speaker_turns(signal, speech_regions, n_speakers="auto")
    >>> result.turns[0]
    Turn(start_s=0.31, end_s=2.9, speaker='S1')

numpy and onnxruntime only (no torch, scipy or scikit-learn); see docs/speakers.md.
"""

from ser.speakers.clustering import DEFAULT_THRESHOLD, Grouping, group_by_voice, group_clips
from ser.speakers.embedding import SpeakerError, VoiceEncoder, shared_encoder
from ser.speakers.nuisance import Nuisance
from ser.speakers.turns import SpeakerTurns, SpeakerWindows, Turn, speaker_turns, speaker_windows, turns_from_windows

__all__ = [
    "DEFAULT_THRESHOLD", "Grouping", "Nuisance", "SpeakerError", "SpeakerTurns", "SpeakerWindows", "Turn",
    "VoiceEncoder", "group_by_voice", "group_clips", "shared_encoder", "speaker_turns", "speaker_windows",
    "turns_from_windows",
]
