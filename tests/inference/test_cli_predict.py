"""``ser predict`` and ``ser plot`` end to end: formats, bad inputs, outputs, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest
import soundfile as sf

from inference_helpers import LABELS, SR, real_speech
from ser.cli.main import main


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _write_mp3_with_av(path, signal):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=SR, layout="mono")
        frame = av.AudioFrame.from_ndarray(signal[None, :], format="flt", layout="mono")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    """One clip in each common format, plus a subfolder, under official-looking names."""
    root = tmp_path_factory.mktemp("audio")
    signal = real_speech(1.5)
    sf.write(root / "clip.wav", signal, SR)
    sf.write(root / "clip.flac", signal, SR)
    sf.write(root / "clip.ogg", signal, SR, format="OGG", subtype="VORBIS")
    _write_mp3_with_av(root / "clip.mp3", signal)
    (root / "sub").mkdir()
    sf.write(root / "sub" / "other.wav", real_speech(2.0, seed=5), 22050)
    (root / "notes.txt").write_text("not audio, and not picked up from a folder")
    return root


def test_every_format_decodes(capsys, tiny_model_dir, audio_dir):
    code, out, _ = run(capsys, "predict", str(audio_dir), "--model", str(tiny_model_dir), "--format", "json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(os.path.relpath(r["path"], audio_dir) for r in records) == [
        "clip.flac", "clip.mp3", "clip.ogg", "clip.wav", os.path.join("sub", "other.wav")
    ]
    by_name = {os.path.basename(r["path"]): r for r in records}
    for name in ("clip.flac", "clip.ogg", "clip.mp3"):
        assert by_name[name]["duration_s"] == pytest.approx(1.5, abs=0.06)  # codec priming may add a frame
    # Lossless formats give identical scores; lossy ones nearly.
    assert by_name["clip.flac"]["scores"] == pytest.approx(by_name["clip.wav"]["scores"], abs=1e-4)
    assert by_name["clip.ogg"]["label"] in LABELS and set(by_name["clip.mp3"]["scores"]) == set(LABELS)


@pytest.fixture
def mixed_inputs(tmp_path):
    """Good and bad inputs side by side; returns (paths, names of the failing ones)."""
    good = tmp_path / "good.wav"
    sf.write(good, real_speech(1.0), SR)
    sf.write(tmp_path / "silence.wav", np.zeros(SR, np.float32), SR)
    sf.write(tmp_path / "short.wav", real_speech(0.01), SR)
    sf.write(tmp_path / "long.wav", real_speech(3.0), SR)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_text("this is a text file\n")
    (tmp_path / "corrupt.wav").write_bytes(good.read_bytes()[:20] + os.urandom(2000))
    names = ["good.wav", "silence.wav", "short.wav", "long.wav", "empty.wav", "text.mp3", "corrupt.wav", "missing.wav"]
    return [str(tmp_path / n) for n in names], {"long.wav", "empty.wav", "text.mp3", "corrupt.wav", "missing.wav"}


def test_mixed_inputs_json(capsys, tiny_model_dir, mixed_inputs):
    paths, failing = mixed_inputs
    code, out, err = run(capsys, "predict", *paths, "--model", str(tiny_model_dir), "--format", "json", "--max-duration", "2")
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == len(paths)
    records = [json.loads(line) for line in lines]  # every line is valid JSON
    assert [r["path"] for r in records] == paths
    for record in records:
        name = os.path.basename(record["path"])
        if name in failing:
            assert set(record) == {"path", "error", "error_type"} and record["error"]
        elif name in ("silence.wav", "short.wav"):
            # No speech is a result, not an error: no label, and it says why.
            assert record["label"] is None and record["scores"] == {} and "no speech detected" in record["warnings"]
        else:
            assert record["label"] in LABELS and sum(record["scores"].values()) == pytest.approx(1, abs=1e-4)
            assert record["warnings"] == [] and 0.5 < record["speech_s"] <= record["duration_s"]
    errors = {os.path.basename(r["path"]): r["error"] for r in records if "error" in r}
    assert "longer than the limit of 2 s" in errors["long.wav"]
    assert "empty" in errors["empty.wav"]
    assert "not an audio file" in errors["text.mp3"]
    assert "no such file" in errors["missing.wav"]
    warnings = {os.path.basename(r["path"]) for r in records if r.get("warnings")}
    assert warnings == {"silence.wav", "short.wav"}
    assert err == ""


def test_small_batches_give_the_same_records_in_order(capsys, tiny_model_dir, mixed_inputs):
    # With --batch-size 2 each batch is predicted while the next one is decoded.
    paths, _ = mixed_inputs
    common = ["predict", *paths, "--model", str(tiny_model_dir), "--format", "json", "--max-duration", "2"]
    _, one_batch, _ = run(capsys, *common)
    code, small_batches, _ = run(capsys, *common, "--batch-size", "2")
    assert code == 1
    records = [json.loads(line) for line in small_batches.splitlines()]
    assert [r["path"] for r in records] == paths
    expected = [json.loads(line) for line in one_batch.splitlines()]
    for got, want in zip(records, expected):
        assert got.keys() == want.keys() and got.get("label") == want.get("label")
        if "scores" in want:
            assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)


def test_max_duration_from_environment(capsys, tiny_model_dir, mixed_inputs, monkeypatch):
    monkeypatch.setenv("SER_MAX_DURATION", "2")
    paths, _ = mixed_inputs
    code, out, _ = run(capsys, "predict", paths[3], "--model", str(tiny_model_dir), "--format", "json")
    assert code == 1 and "longer than the limit" in json.loads(out)["error"]


def test_mixed_inputs_table_and_csv(capsys, tiny_model_dir, mixed_inputs):
    paths, failing = mixed_inputs
    code, out, _ = run(capsys, "predict", *paths, "--model", str(tiny_model_dir), "--max-duration", "2")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["file", "label", "conf"] and len(lines) == len(paths) + 1
    for path, line in zip(paths, lines[1:]):
        assert ("error:" in line) == (os.path.basename(path) in failing)
        assert ("no speech" in line) == (os.path.basename(path) in ("silence.wav", "short.wav"))
    code, out, _ = run(capsys, "predict", *paths, "--model", str(tiny_model_dir), "--max-duration", "2", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(paths) and list(rows[0])[:4] == ["path", "label", "confidence", "duration_s"]
    for row in rows:
        assert bool(row["error"]) == (os.path.basename(row["path"]) in failing)
        if not row["error"] and row["label"]:
            assert sum(float(row[label]) for label in LABELS) == pytest.approx(1, abs=1e-4)
        elif not row["error"]:  # no speech: an empty label, no scores, and the reason
            assert os.path.basename(row["path"]) in ("silence.wav", "short.wav") and "no speech" in row["warning"]


def test_globs_folders_and_empty_matches(capsys, tiny_model_dir, audio_dir, tmp_path):
    (tmp_path / "nothing").mkdir()
    code, out, _ = run(
        capsys, "predict", str(audio_dir / "*.wav"), str(audio_dir / "**" / "*.wav"), str(tmp_path / "nothing"),
        str(tmp_path / "*.opus"), "--model", str(tiny_model_dir), "--format", "json",
    )
    records = [json.loads(line) for line in out.splitlines()]
    good = [r["path"] for r in records if "error" not in r]
    assert sorted(os.path.basename(p) for p in good) == ["clip.wav", "other.wav"]  # duplicates dropped
    errors = [r["error"] for r in records if "error" in r]
    assert any("no audio files in this folder" in e for e in errors)
    assert any("no files match this pattern" in e for e in errors)
    assert code == 1


def test_output_file_is_atomic_and_top_k(capsys, tiny_model_dir, audio_dir, tmp_path):
    target = tmp_path / "out.jsonl"
    code, out, _ = run(
        capsys, "predict", str(audio_dir / "clip.wav"), "--model", str(tiny_model_dir), "--format", "json",
        "--top-k", "2", "-o", str(target),
    )
    assert code == 0 and out == ""
    record = json.loads(target.read_text())
    assert len(record["scores"]) == 2 and record["label"] == next(iter(record["scores"]))
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary left behind


def test_usage_and_model_errors_exit_2(capsys, tiny_model_dir, audio_dir, tmp_path):
    clip = str(audio_dir / "clip.wav")
    code, out, err = run(capsys, "predict", clip, "--model", str(tmp_path / "none"))
    assert code == 2 and out == "" and "no such model folder" in err
    code, out, err = run(capsys, "predict", clip, "--model", str(tmp_path))
    assert code == 2 and "no ser_model.json" in err
    code, out, err = run(capsys, "predict", clip, "--model", str(tiny_model_dir), "-o", str(tmp_path / "x" / "y.txt"))
    assert code == 2 and "does not exist" in err and not (tmp_path / "x").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", clip, "--top-k", "0"])
    assert exit_info.value.code == 2


def test_progress_goes_to_stderr(capsys, tiny_model_dir, audio_dir):
    files = [str(audio_dir / "clip.wav")] * 1 + [str(audio_dir / f"missing{i}.wav") for i in range(11)]
    code, out, err = run(capsys, "predict", *files, "--model", str(tiny_model_dir), "--format", "json", "--progress")
    assert code == 1 and len(out.splitlines()) == 12
    assert "12/12" in err
    code, out, err = run(capsys, "predict", *files, "--model", str(tiny_model_dir), "--format", "json")
    assert err == ""  # not a terminal: no bar unless asked


def test_timeline_formats(capsys, tiny_model_dir, tmp_path):
    recording = np.concatenate([np.zeros(SR, np.float32), real_speech(2.0), np.zeros(2 * SR, np.float32), real_speech(1.5, seed=1)])
    path = tmp_path / "call.wav"
    sf.write(path, recording, SR)
    model = ["--model", str(tiny_model_dir)]
    code, out, _ = run(capsys, "predict", str(path), "--timeline", "--format", "json", *model)
    assert code == 0
    record = json.loads(out)
    assert [s["kind"] for s in record["segments"]] == ["silence", "speech", "silence", "speech"]
    assert record["segments"][2]["label"] == "silence"
    assert record["summary"]["silence_share"] == pytest.approx(0.45, abs=0.06)

    code, out, _ = run(capsys, "predict", str(path), "--timeline", "--no-vad", "--window", "1.5", "--hop", "0.5", "--format", "json", *model)
    segments = json.loads(out)["segments"]
    assert segments[1]["start_s"] == 0.5 and segments[1]["end_s"] == 2.0 and len(segments) == 11

    code, out, _ = run(capsys, "predict", str(path), "--timeline", "--format", "csv", *model)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["kind"] for r in rows[:4]] == ["silence", "speech", "silence", "speech"]
    summary = [r for r in rows if r["kind"] == "summary"]
    assert len(summary) == len(LABELS) + 1 and summary[-1]["label"] == "silence"

    code, out, _ = run(capsys, "predict", str(path), "--timeline", *model)
    assert "summary:" in out and "silence" in out


def test_plots(capsys, tiny_model_dir, tmp_path):
    pytest.importorskip("matplotlib")
    sf.write(tmp_path / "short.wav", real_speech(1.0), SR)
    sf.write(tmp_path / "long.wav", np.concatenate([real_speech(3.0), np.zeros(SR, np.float32), real_speech(2.0)]), SR)
    model = ["--model", str(tiny_model_dir)]
    assert run(capsys, "plot", str(tmp_path / "short.wav"), "-o", str(tmp_path / "bars.png"), *model)[0] == 0
    assert run(capsys, "plot", str(tmp_path / "long.wav"), "-o", str(tmp_path / "time.png"), *model)[0] == 0
    code, out, _ = run(capsys, "predict", str(tmp_path / "long.wav"), "--timeline", "--plot", str(tmp_path / "p.png"), *model)
    assert code == 0 and "summary" in out
    for name in ("bars.png", "time.png", "p.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(capsys, "predict", str(tmp_path / "short.wav"), str(tmp_path / "long.wav"), "--plot", "x.png", *model)
    assert code == 2 and "--plot draws one input" in err


def test_missing_matplotlib_is_explained(capsys, tiny_model_dir, tmp_path, monkeypatch):
    import sys

    sf.write(tmp_path / "short.wav", real_speech(1.0), SR)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, "plot", str(tmp_path / "short.wav"), "-o", str(tmp_path / "bars.png"), "--model", str(tiny_model_dir))
    assert code == 2 and "ser[plot]" in err


def test_stdin(tiny_model_dir, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    sf.write(tmp_path / "clip.wav", real_speech(1.0), SR)
    src = Path(__file__).resolve().parents[2] / "src"
    result = subprocess.run(
        [sys.executable, "-m", "ser.cli.main", "predict", "-", "--model", str(tiny_model_dir), "--format", "json"],
        input=(tmp_path / "clip.wav").read_bytes(), capture_output=True, env={**os.environ, "PYTHONPATH": str(src)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == "-"
