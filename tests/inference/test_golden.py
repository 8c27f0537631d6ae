"""Golden test: the shipped model's verdicts on examples/ are pinned, and the README shows them.

`examples/expected.jsonl` holds ``ser predict examples/ --format json``; the README's example block
holds ``ser predict examples/``. Both are written by this file's own code after a deliberate
change of the model::

    .venv/bin/python tests/inference/test_golden.py --update

Labels must match exactly; scores within `TOLERANCE` (int8 kernels differ a little between CPUs).
"""

from __future__ import annotations

import json
import re
import sys
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "examples" / "expected.jsonl"
README = ROOT / "README.md"
BLOCK = re.compile(r"(\$ ser predict examples/\n)(.*?)(\n\$ )", re.S)
TOLERANCE = 0.02
DEFAULT = ROOT / "src" / "ser" / "pretrained" / "default"
pytestmark = pytest.mark.skipif(not (DEFAULT / "ser_model.json").is_file(), reason=f"no default model at {DEFAULT}")


def ser_predict(*options: str) -> str:
    """What ``ser predict examples/ OPTIONS`` prints, run from the repository root."""
    import os

    from ser.cli.main import main

    out = StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out):
            assert main(["predict", "examples/", "--no-progress", *options]) == 0
    finally:
        os.chdir(cwd)
    return out.getvalue()


def test_shipped_model_on_examples():
    got = [json.loads(line) for line in ser_predict("--format", "json").splitlines()]
    expected = [json.loads(line) for line in EXPECTED.read_text().splitlines()]
    assert [r["path"] for r in got] == [r["path"] for r in expected]
    for g, e in zip(got, expected):
        assert g["label"] == e["label"], g["path"]
        assert g["scores"] == pytest.approx(e["scores"], abs=TOLERANCE), g["path"]
        assert g["speech_s"] == pytest.approx(e["speech_s"], abs=0.1), g["path"]


def test_readme_shows_what_ser_predict_prints():
    block = BLOCK.search(README.read_text()).group(2).splitlines()
    printed = ser_predict().splitlines()
    assert block[0] == printed[0] and len(block) == len(printed)
    for shown, real in zip(block[1:], printed[1:]):
        shown_fields, real_fields = shown.split(), real.split()
        assert shown_fields[:2] == real_fields[:2]  # file and label
        assert float(shown_fields[2]) == pytest.approx(float(real_fields[2]), abs=TOLERANCE)


def test_tone_is_not_speech():
    import numpy as np

    from ser.inference.recognizer import Recognizer

    t = np.arange(32000) / 16000
    prediction = Recognizer.from_pretrained()((0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), sr=16000)
    assert prediction.label is None and prediction.scores == {} and "no speech detected" in prediction.warnings


def update() -> None:
    EXPECTED.write_text(ser_predict("--format", "json"))
    text = README.read_text()
    table = ser_predict().rstrip("\n")
    README.write_text(BLOCK.sub(lambda m: m.group(1) + table + m.group(3), text, count=1))
    print(f"wrote {EXPECTED} and the example block of {README}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        sys.exit("usage: python tests/inference/test_golden.py --update")
