"""Inference: the Recognizer over an exported model; needs neither torch nor librosa.

`Recognizer` (recognizer.py) wraps a backend (backends.py) loaded from a model folder, and adds
timelines over long recordings (timeline.py) and live streams (stream.py).
"""

from ser.inference.backends import OnnxBackend
from ser.inference.recognizer import Prediction, Recognizer
from ser.inference.stream import Stream, StreamUpdate
from ser.inference.timeline import Segment, Timeline

__all__ = ["Recognizer", "Prediction", "Timeline", "Segment", "Stream", "StreamUpdate", "OnnxBackend"]
