"""Features computed from 16 kHz mono signals.

`logmel` (Whisper's front end) is numpy-only and sits on the prediction path; the hand-crafted
features for the classic pipeline (spectral statistics, eGeMAPS) need the ``train`` extra.
"""
