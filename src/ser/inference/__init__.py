"""Inference: the Recognizer over an exported model; needs neither torch nor librosa."""
