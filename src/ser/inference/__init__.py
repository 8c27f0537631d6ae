"""Inference: the Recognizer over an exported model; needs neither torch nor librosa.

`Recognizer` (recognizer.py) wraps a backend (backends.py) loaded from a model folder, and adds
only the speech a detector finds (vad.py), adaptation to a speaker (profile.py), timelines over long
recordings (timeline.py) and live streams (stream.py); its verdicts are `Prediction`s (prediction.py).
"""

from ser.inference.backends import OnnxBackend
from ser.inference.prediction import Prediction
from ser.inference.profile import SpeakerProfile
from ser.inference.recognizer import Recognizer
from ser.inference.stream import Stream, StreamUpdate
from ser.inference.timeline import Segment, Timeline

__all__ = ["Recognizer", "Prediction", "SpeakerProfile", "Timeline", "Segment", "Stream", "StreamUpdate", "OnnxBackend"]
