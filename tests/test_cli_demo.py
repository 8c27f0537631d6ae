"""ser demo: a readable table of the clips in a folder, with RAVDESS labels parsed from the names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser.cli.demo import parse_ravdess_name
from ser.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def _sine(rate: int, seconds: float, amplitude: float) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def _lines(out: str) -> dict[str, str]:
    """Table lines keyed by their first cell (the file)."""
    return {line.split()[0]: line for line in out.splitlines() if line.strip()}


def test_demo_table(tmp_path, capsys):
    # A RAVDESS-named stereo clip at 44.1 kHz: angry, strong, actor 04 (even: female).
    stereo = np.stack([_sine(44100, 1.5, 0.5)] * 2, axis=1)
    sf.write(tmp_path / "03-01-05-02-01-01-04.wav", stereo, 44100, subtype="PCM_16")
    sf.write(tmp_path / "my_recording.flac", _sine(16000, 2.0, 0.1), 16000)
    sf.write(tmp_path / "silence.wav", np.zeros(8000, np.float32), 8000)
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "readme.txt").write_text("ignored: not an audio extension")

    assert main(["demo", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "4 audio files" in out
    rows = _lines(out)
    # 0.5 amplitude sine: peak 20 log10(0.5) = -6.0 dBFS, RMS 20 log10(0.5 / sqrt 2) = -9.0 dBFS.
    assert rows["03-01-05-02-01-01-04.wav"].split() == [
        "03-01-05-02-01-01-04.wav", "1.50", "s", "44100", "Hz", "-6.0", "dBFS", "-9.0", "dBFS", "angry", "04", "female"
    ]
    assert rows["my_recording.flac"].split()[1:9] == ["2.00", "s", "16000", "Hz", "-20.0", "dBFS", "-23.0", "dBFS"]
    assert rows["my_recording.flac"].split()[9:] == ["-", "-", "-"]
    assert "-inf dBFS" in rows["silence.wav"] and "8000 Hz" in rows["silence.wav"]
    assert "error: not an audio file" in rows["notes.wav"]
    assert "readme.txt" not in out
    assert "1 file could not be read" in out


def test_demo_on_the_shipped_examples(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert main(["demo"]) == 0
    rows = _lines(capsys.readouterr().out)
    clips = sorted(name for name in rows if name.endswith(".flac"))
    assert len(clips) == 6
    emotions = {rows[name].split()[-3] for name in clips}
    assert emotions == {"neutral", "happy", "sad", "angry", "fearful", "surprised"}
    assert {rows[name].split()[-1] for name in clips} == {"male", "female"}


def test_demo_errors(tmp_path, capsys):
    assert main(["demo", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such folder" in capsys.readouterr().err
    assert main(["demo", str(tmp_path)]) == 2
    assert "no audio files" in capsys.readouterr().err
    (tmp_path / "broken.flac").write_bytes(b"fLaC" + bytes(40))
    assert main(["demo", str(tmp_path)]) == 1  # nothing readable
    assert "broken.flac  error: " in capsys.readouterr().out
    # One file works as well as a folder.
    sf.write(tmp_path / "one.wav", _sine(16000, 1.0, 0.5), 16000)
    assert main(["demo", str(tmp_path / "one.wav")]) == 0
    assert "1 audio file in" in capsys.readouterr().out


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("03-01-01-01-01-01-01", {"emotion": "neutral", "actor": "01", "gender": "male"}),
        ("03-01-08-02-02-02-24", {"emotion": "surprised", "actor": "24", "gender": "female"}),
        ("03-01-09-01-01-01-01", {}),  # no emotion 09
        ("03-01-01-01-01-01-25", {}),  # no actor 25
        ("1001_DFA_ANG_XX", {}),
    ],
)
def test_parse_ravdess_name(stem, expected):
    assert parse_ravdess_name(stem) == expected
