"""The Ray engine: same predictions as the local path, Parquet and JSON Lines, restart skips done files.

One local Ray instance with 2 CPUs serves the whole module (starting Ray takes seconds).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from inference_helpers import SR, real_speech
from ser.cli.main import main
from ser.errors import SerError
from ser.inference.ray_engine import done_paths, output_kind, read_file_list

ray_test = pytest.mark.slow  # a local Ray instance takes about 10 s to start


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray", reason="the Ray engine needs the ray extra (pip install 'ser[ray]')")
    pytest.importorskip("pyarrow", reason="the Ray engine needs pyarrow (ray[data])")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def clips(tmp_path):
    folder = tmp_path / "audio" / "nested"
    folder.mkdir(parents=True)
    paths = []
    for i, seconds in enumerate((1.0, 1.5, 1.5, 2.2, 0.7)):
        path = folder / f"clip{i}.wav"
        sf.write(path, real_speech(seconds, seed=i), SR)
        paths.append(str(path))
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF....not really a wav file")
    return paths, str(broken)


def test_file_lists_and_output_names(tmp_path):
    listing = tmp_path / "files.txt"
    listing.write_text("# calls\na.wav\n\n  b.flac  \n")
    assert read_file_list(listing) == ["a.wav", "b.flac"]
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,emotion\nx.wav,angry\ny.wav,sad\n")
    assert read_file_list(manifest) == ["x.wav", "y.wav"]
    (tmp_path / "bad.csv").write_text("file\nx.wav\n")
    with pytest.raises(SerError, match="'path' column"):
        read_file_list(tmp_path / "bad.csv")
    assert output_kind("r.parquet") == "parquet" and output_kind("r.jsonl") == "jsonl"
    with pytest.raises(SerError, match=".parquet"):
        output_kind("r.csv")
    # A line cut short by an interrupted run does not count as done.
    partial = tmp_path / "r.jsonl"
    partial.write_text(json.dumps({"path": "a.wav", "label": "sad"}) + '\n{"path": "b.w')
    assert done_paths(partial) == {"a.wav"}


@ray_test
def test_parquet_matches_local_and_restarts(ray_local, clips, tiny_model_dir, tmp_path):
    import pandas as pd

    from ser.inference.ray_engine import predict_with_ray
    from ser.inference.recognizer import Recognizer

    paths, broken = clips
    output = tmp_path / "results.parquet"
    first = predict_with_ray(paths[:3] + [broken], output, tiny_model_dir, batch_size=2)
    assert first == {"total": 4, "skipped": 0, "predicted": 3, "failed": 1}

    # A rerun over more files predicts only the new ones.
    second = predict_with_ray(paths + [broken], output, tiny_model_dir, batch_size=2)
    assert second == {"total": 6, "skipped": 4, "predicted": 2, "failed": 0}

    table = pd.read_parquet(output).set_index("path")
    assert sorted(table.index) == sorted(paths + [broken])
    assert table.loc[broken, "error_type"].endswith("Error") and "broken.wav" not in table.loc[broken, "error_type"]
    assert isinstance(table.loc[broken, "error"], str) and table.loc[broken, "error"]
    assert np.isnan(table.loc[broken, "confidence"])
    local = Recognizer.from_pretrained(tiny_model_dir)
    for path, prediction in zip(paths, local.predict_batch(paths)):
        row = table.loc[path]
        assert row["label"] == prediction.label
        scores = [row[f"score_{label}"] for label in local.labels]
        np.testing.assert_allclose(scores, [prediction.scores[label] for label in local.labels], atol=2e-6)
        assert row["duration_s"] == pytest.approx(prediction.duration_s, abs=1e-3)


@ray_test
def test_cli_jsonl_and_manifest(ray_local, clips, tiny_model_dir, tmp_path, capsys):
    paths, broken = clips
    output = tmp_path / "results.jsonl"
    code = main(["predict", "--engine", "ray", paths[0], paths[1], broken, "--model", str(tiny_model_dir), "-o", str(output)])
    assert code == 1  # the broken file failed; the others are in the output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert sorted(r["path"] for r in records) == sorted([paths[0], paths[1], broken])
    good = [r for r in records if "error" not in r]
    assert len(good) == 2 and all(abs(sum(r["scores"].values()) - 1) < 1e-4 for r in good)

    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(paths) + "\n")
    capsys.readouterr()
    code = main(["predict", "--engine", "ray", "--manifest", str(listing), "--model", str(tiny_model_dir), "-o", str(output)])
    assert code == 0
    assert "3 files predicted, 0 failed, 2 already in" in capsys.readouterr().err
    assert len(output.read_text().splitlines()) == 6

    code = main(["predict", "--engine", "ray", paths[0], "--model", str(tiny_model_dir), "-o", str(output), "--overwrite"])
    assert code == 0 and len(output.read_text().splitlines()) == 1


def test_cli_ray_usage_errors(capsys, tiny_model_dir, clips):
    paths, _ = clips
    for extra, message in (
        ([], "-o FILE.parquet"),
        (["-o", "x.csv"], ".parquet"),
        (["--timeline", "-o", "x.jsonl"], "--timeline"),
    ):
        assert main(["predict", "--engine", "ray", paths[0], "--model", str(tiny_model_dir), *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["predict", paths[0], "--manifest", "files.txt"]) == 2
    assert "--engine ray" in capsys.readouterr().err
