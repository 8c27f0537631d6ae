"""The quantisation moved to ser.export; its former module and command keep working."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("onnx", reason="quantisation needs the onnx package (the train extra)")


def test_old_import_path_is_the_same_code():
    from ser.export import quantize as new
    from ser.training import quantize as old

    assert old.quantize_model is new.quantize_model and old.main is new.main


def test_old_command_still_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ser.training.quantize", str(tmp_path / "none"), str(tmp_path / "out")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "no such model folder" in result.stderr
