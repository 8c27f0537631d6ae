"""Defects seen in ``ser train`` and ``ser data`` (issue 16, item 6): each is a clear result now."""

from __future__ import annotations

import pytest
import yaml
from conftest import make_corpus, tiny_config

from ser.cli.main import build_parser, main
from ser.cli.train import overrides_from_args
from ser.errors import SerError
from ser.manifest import read_manifest, write_manifest
from ser.training.config import from_dict, load_config
from ser.training.experiment import run_experiment

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _run(raw, out, **kw):
    return run_experiment(from_dict(raw), out, progress=False, log=lambda line: None, **kw)


def test_manifest_flag_replaces_the_recipes_corpora(tmp_path, tiny_manifest):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg")
    raw["data"] = {"corpora": {"folder": str(tiny_manifest.parent)}}
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(raw))
    args = build_parser().parse_args(["train", "-c", str(recipe), "--manifest", str(tiny_manifest), "-o", "x"])
    config = load_config(recipe, overrides_from_args(args))
    assert config.data.manifest == str(tiny_manifest) and config.data.corpora == {}
    args = build_parser().parse_args(["train", "-c", str(recipe), "--corpus", "folder=d", "-o", "x"])
    config = load_config(recipe, overrides_from_args(args))
    assert config.data.manifest is None and config.data.corpora == {"folder": "d"}


def test_a_clip_in_both_the_manifest_and_the_corpora_is_refused(tmp_path):
    manifest = make_corpus(tmp_path / "c", n_speakers=2, takes=1)
    raw = tiny_config(manifest, tmp_path / "cache", "logreg")
    raw["data"]["corpora"] = {"folder": str(tmp_path / "c")}  # the same clips, indexed again
    with pytest.raises(SerError, match=r"angry_0.wav is listed twice"):
        _run(raw, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_class_with_one_clip_is_named(tmp_path):
    manifest = make_corpus(tmp_path / "c")
    rows = read_manifest(manifest)
    rows[5].emotion = "fearful"
    write_manifest(rows, manifest)
    raw = tiny_config(manifest, tmp_path / "cache", "svm")
    with pytest.raises(SerError, match=r"single clip: 'fearful' \(.*sad_1.wav\).*data.relabel"):
        _run(raw, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # checked before anything is written


def test_svm_with_one_training_clip_of_a_class_says_which(tmp_path):
    manifest = make_corpus(tmp_path / "c")
    rows = read_manifest(manifest)
    for i, row in enumerate(rows):  # folds by speaker: 0-2 and 3-5; a rare class spoken by 0 and 3
        row.extra["fold"] = "1" if int(row.speaker[-1]) < 3 else "2"
    rows[0].emotion = rows[18].emotion = "fearful"
    write_manifest(rows, manifest)
    raw = tiny_config(manifest, tmp_path / "cache", "svm", protocol={"name": "manifest"})
    raw["protocol"].pop("n_folds")
    with pytest.raises(SerError, match=r"svm cannot be fitted .*training clips per class: .*fearful 1"):
        _run(raw, tmp_path / "run")


def test_a_failed_run_does_not_block_the_corrected_rerun(tmp_path, tiny_manifest, monkeypatch):
    raw = tiny_config(tiny_manifest, tmp_path / "cache", "logreg")
    out = tmp_path / "run"
    import ser.training.experiment as experiment

    def broken(*args, **kwargs):
        raise SerError("simulated failure in the first fold")

    with monkeypatch.context() as patch:
        patch.setattr(experiment, "run_fold", broken)
        with pytest.raises(SerError, match="simulated"):
            _run(raw, out)
    assert (out / "config.yaml").is_file()  # the failed run's leftovers
    raw["model"]["C"] = 0.5  # the corrected recipe
    summary = _run(raw, out)
    assert summary["n_folds"] == 2
    assert yaml.safe_load((out / "config.yaml").read_text())["model"]["C"] == 0.5
    with pytest.raises(SerError, match="a run is already there .*2 fold"):
        _run(raw, out)  # a finished run is still protected


def test_folder_import_without_speakers_says_unknown(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    for label in ("angry", "sad"):
        (tmp_path / "c" / label).mkdir(parents=True)
        sf.write(tmp_path / "c" / label / "a.wav", np.zeros(1600, np.float32) + 0.1, 16000)
    assert main(["data", "index", "folder", str(tmp_path / "c"), "-o", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "speakers: unknown" in out and "speakers: 1" not in out
    assert main(["data", "stats", str(tmp_path / "m.csv")]) == 0
    assert "speakers: unknown" in capsys.readouterr().out
