"""``ser data index/stats/split/plot`` end to end, on manifests and audio written in tmp_path."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import soundfile as sf

from ser.cli import data as cli_data
from ser.cli.main import main
from ser.corpora import CorpusIndex
from ser.manifest import Utterance, read_manifest, write_manifest
from ser.splits import PROTOCOLS, folds_from_manifest, is_speaker_independent

EMOTIONS = ("neutral", "happy", "sad", "angry")


def make_rows(tmp_path, n_speakers=6, per_emotion=2, audio=False, corpus="emodb") -> list[Utterance]:
    rows = []
    for s in range(n_speakers):
        for e, emotion in enumerate(EMOTIONS):
            for c in range(per_emotion):
                path = tmp_path / "audio" / f"{corpus}_{s}_{emotion}_{c}.wav"
                if audio:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    t = np.arange(8000) / 16000
                    sf.write(path, (0.3 * np.sin(2 * np.pi * (150 + 50 * e) * t)).astype(np.float32), 16000)
                rows.append(
                    Utterance(
                        path=str(path),
                        corpus=corpus,
                        speaker=f"{corpus}_{s:02d}",
                        emotion=emotion,
                        native_label=emotion[0].upper(),
                        gender="female" if s % 2 else "male",
                        language="de",
                        intensity="strong" if c else "normal",
                        duration=0.5,
                    )
                )
    return rows


def test_index_writes_manifest_and_prints_counts(tmp_path, monkeypatch, capsys):
    rows = make_rows(tmp_path)
    calls = {}

    def fake_prepare(name, root, **options):
        calls.update(name=name, root=root, options=options)
        return CorpusIndex(rows, skipped=[("x/bad_name.wav", "name does not parse")])

    monkeypatch.setattr("ser.corpora.prepare", fake_prepare)
    out = tmp_path / "m" / "emodb.csv"
    assert main(["data", "index", "emodb", str(tmp_path), "-o", str(out), "--map", "A=angry,N=neutral"]) == 0
    assert calls == {"name": "emodb", "root": str(tmp_path), "options": {"label_map": {"a": "angry", "n": "neutral"}}}
    assert [r.path for r in read_manifest(out)] == [r.path for r in rows]
    text = capsys.readouterr().out
    assert "wrote 48 utterances (24.0 s)" in text
    assert "speakers: 6" in text and "female 24, male 24" in text
    assert ["neutral", "12"] in [line.split() for line in text.splitlines()]
    assert "skipped 1 file(s): bad_name.wav (name does not parse)" in text


def test_index_errors_are_clear(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("ser.corpora.prepare", lambda name, root, **o: CorpusIndex([], [("a.wav", "no label")]))
    out = tmp_path / "m.csv"
    assert main(["data", "index", "emodb", str(tmp_path), "-o", str(out)]) == 2
    assert "no emodb utterances found (skipped 1 file(s): a.wav (no label))" in capsys.readouterr().err
    assert not out.exists()
    assert main(["data", "index", "nosuch", str(tmp_path), "-o", str(out)]) == 2
    assert "unknown corpus 'nosuch'" in capsys.readouterr().err
    assert main(["data", "index", "emodb", str(tmp_path), "-o", str(out), "--map", "x=joy"]) == 2
    assert "--map" in capsys.readouterr().err
    assert main(["data", "index", "pattern", str(tmp_path), "-o", str(out)]) == 2
    assert "needs --regex" in capsys.readouterr().err


def test_index_pattern_passes_regex(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(
        "ser.corpora.prepare", lambda name, root, **o: seen.update(o) or CorpusIndex(make_rows(tmp_path, 2))
    )
    regex = r"(?P<speaker>\d+)_(?P<emotion>\w+)"
    assert main(["data", "index", "pattern", str(tmp_path), "-o", str(tmp_path / "p.csv"), "--regex", regex]) == 0
    assert seen == {"regex": regex}


def test_stats_prints_tables(tmp_path, capsys):
    rows = make_rows(tmp_path) + make_rows(tmp_path, n_speakers=2, corpus="tess")
    rows.append(Utterance(path="u.wav", corpus="tess", speaker="tess_00", emotion=""))
    path = write_manifest(rows, tmp_path / "m.csv")
    assert main(["data", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "65 utterances, 32.0 s, 2 corpora, 8 speakers" in out
    assert "1 rows have no duration" in out
    lines = out.splitlines()
    assert any(line.split() == ["happy", "12", "4", "16"] for line in lines)
    assert any(line.split() == ["(unlabelled)", "0", "1", "1"] for line in lines)
    assert any(line.split() == ["strong", "32"] for line in lines)
    assert any(line.split()[:4] == ["emodb_05", "emodb", "female", "8"] for line in lines)
    assert main(["data", "stats", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["corpus_emotions"]["tess"]["sad"] == 4 and stats["corpus_speakers"] == {"emodb": 6, "tess": 2}


def test_stats_on_bad_manifests_names_the_file(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    assert main(["data", "stats", str(missing)]) == 2
    assert f"{missing}: manifest not found" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.wav,happy\n")
    assert main(["data", "stats", str(bad)]) == 2
    assert f"{bad}: not a manifest" in capsys.readouterr().err


def test_split_writes_fold_column(tmp_path, capsys):
    path = write_manifest(make_rows(tmp_path, n_speakers=10), tmp_path / "m.csv")
    out = tmp_path / "folds.csv"
    assert main(["data", "split", str(path), "--protocol", "speaker-kfold", "--folds", "5", "--seed", "0", "-o", str(out)]) == 0
    rows = read_manifest(out)
    assert {r.extra["fold"] for r in rows} == {"1", "2", "3", "4", "5"}
    folds = folds_from_manifest(rows)
    assert len(folds) == 5 and all(is_speaker_independent(f, rows) for f in folds)
    text = capsys.readouterr().out
    assert "speaker-kfold 1/5" in text and "NO: optimistic" not in text
    # Same seed, same file.
    again = tmp_path / "again.csv"
    main(["data", "split", str(path), "--folds", "5", "--seed", "0", "-o", str(again)])
    assert again.read_text() == out.read_text()
    # The stats of a split manifest show the folds.
    main(["data", "stats", str(out)])
    assert any(line.split() == ["1", "16", "2"] for line in capsys.readouterr().out.splitlines())


def test_split_random_is_flagged_and_bad_options_refused(tmp_path, capsys):
    path = write_manifest(make_rows(tmp_path, n_speakers=3), tmp_path / "m.csv")
    out = tmp_path / "r.csv"
    assert main(["data", "split", str(path), "--protocol", "random", "--test-size", "0.25", "-o", str(out)]) == 0
    assert "NO: optimistic" in capsys.readouterr().out
    assert {r.extra["split"] for r in read_manifest(out)} == {"train", "test"}
    assert main(["data", "split", str(path), "--protocol", "loso", "--folds", "3", "-o", str(out)]) == 2
    assert "loso does not take --folds" in capsys.readouterr().err
    assert main(["data", "split", str(path), "--folds", "5", "-o", str(tmp_path / "x.csv")]) == 2
    assert "at least 5 speakers" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
    assert main(["data", "split", str(path), "--protocol", "holdout", "-o", str(out)]) == 2
    assert "unknown protocol" in capsys.readouterr().err


def test_split_cross_corpus(tmp_path, capsys):
    rows = make_rows(tmp_path, 3) + make_rows(tmp_path, 2, corpus="tess")
    path = write_manifest(rows, tmp_path / "m.csv")
    out = tmp_path / "x.csv"
    args = ["data", "split", str(path), "--protocol", "cross-corpus", "--train-corpora", "emodb", "--test-corpora", "tess"]
    assert main(args + ["-o", str(out)]) == 0
    assert {(r.corpus, r.extra["split"]) for r in read_manifest(out)} == {("emodb", "train"), ("tess", "test")}
    # Validation speakers come from the training corpus, whole.
    assert main(args + ["--val-fraction", "0.3", "--seed", "1", "-o", str(out)]) == 0
    written = read_manifest(out)
    val = {r.speaker for r in written if r.extra["split"] == "val"}
    train = {r.speaker for r in written if r.extra["split"] == "train"}
    assert val and train and not val & train and all(s.startswith("emodb") for s in val)
    # A two-speaker training side falls back to clips, with a warning on stderr.
    args = args[:-4] + ["--train-corpora", "tess", "--test-corpora", "emodb", "--val-fraction", "0.25"]
    assert main(args + ["-o", str(out)]) == 0
    assert "ser: warning: 2 known training speaker(s)" in capsys.readouterr().err
    assert main(["data", "split", str(path), "--protocol", "loso", "--val-fraction", "0.1", "-o", str(out)]) == 2
    assert "drawn at training time" in capsys.readouterr().err


def test_protocol_names_match_splits():
    assert cli_data.PROTOCOL_NAMES == PROTOCOLS


def test_plot_writes_pngs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rows = make_rows(tmp_path, n_speakers=2, per_emotion=1, audio=True)
    rows[0].path = str(tmp_path / "missing.wav")  # the first neutral clip is gone: the next one is used
    path = write_manifest(rows, tmp_path / "m.csv")
    out = tmp_path / "plots"
    assert main(["data", "plot", str(path), "-o", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    expected = ["class_counts.png", "durations.png"]
    expected += [f"{kind}_{e}.png" for e in EMOTIONS for kind in ("spectrogram", "waveform")]
    assert names == sorted(expected)
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(out / "class_counts.png") in capsys.readouterr().out


def test_plot_without_matplotlib_says_what_to_install(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kw):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    path = write_manifest(make_rows(tmp_path, 1), tmp_path / "m.csv")
    assert main(["data", "plot", str(path), "-o", str(tmp_path / "p")]) == 2
    assert "ser[plot]" in capsys.readouterr().err


@pytest.mark.corpora
def test_index_real_emodb(datasets_dir, tmp_path, capsys):
    if importlib.util.find_spec("ser.corpora.emodb") is None:
        pytest.skip("ser.corpora.emodb is not written yet")
    out = tmp_path / "emodb.csv"
    assert main(["data", "index", "emodb", str(datasets_dir / "EmoDB"), "-o", str(out)]) == 0
    rows = read_manifest(out)
    assert len(rows) == 535
    assert len({r.speaker for r in rows}) == 10
    assert "speakers: 10" in capsys.readouterr().out
    path = tmp_path / "folds.csv"
    assert main(["data", "split", str(out), "--folds", "5", "-o", str(path)]) == 0
    assert all(is_speaker_independent(f, rows) for f in folds_from_manifest(read_manifest(path)))


def test_index_csv_with_column_names_and_corpus_name(tmp_path):
    import soundfile as sf

    from ser.cli.main import main
    from ser.manifest import read_manifest

    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(1600, dtype=np.float32), 16000)
    table = tmp_path / "list.tsv"
    table.write_text("file\temotion\twho\na.wav\tmarah\tS1\nb.wav\tsedih\tS2\n", encoding="utf-8")
    out = tmp_path / "m.csv"
    argv = ["data", "index", "csv", str(table), "-o", str(out), "--name", "indo", "--language", "id",
            "--column", "path=file", "--column", "label=emotion", "--column", "speaker=who",
            "--map", "marah=angry,sedih=sad"]
    assert main(argv) == 0
    rows = read_manifest(out)
    assert [(r.corpus, r.language, r.emotion) for r in rows] == [("indo", "id", "angry"), ("indo", "id", "sad")]
    assert main(["data", "index", "ravdess", str(tmp_path), "-o", str(out), "--column", "path=x"]) == 2


def test_index_pattern_with_regex_and_map(tmp_path):
    for name in ("1_05420_sedih_no_data.wav", "2_07910_jijik_tinggi.wav", "test544.wav"):
        sf.write(tmp_path / name, np.zeros(1600, dtype=np.float32), 16000)
    out = tmp_path / "m.csv"
    regex = r"(?:(?P<speaker>\d+)_\d+_(?P<label>[a-z]+)_(?P<intensity>[a-z_]+)|test\d+)"
    argv = ["data", "index", "pattern", str(tmp_path), "-o", str(out), "--regex", regex,
            "--name", "indo", "--language", "id", "--map", "sedih=sad,jijik=disgust"]
    assert main(argv) == 0
    emotions = sorted(r.emotion for r in read_manifest(out))
    assert emotions == ["", "disgust", "sad"]


def test_stats_summarise_dimensions_and_refuse_out_of_range(tmp_path, capsys):
    rows = make_rows(tmp_path)
    for i, row in enumerate(rows):
        row.extra.update(arousal=f"{(i % 5) / 4 - 0.5:.4f}", dimension_scale="1..5")
    path = write_manifest(rows, tmp_path / "m.csv")
    assert main(["data", "stats", str(path)]) == 0
    out = capsys.readouterr().out
    assert "dimension (-1..1)" in out and "arousal" in out and "valence" not in out
    assert main(["data", "stats", str(path), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["dimensions"]["arousal"]["n"] == len(rows) and stats["dimensions"]["arousal"]["max"] == 0.5
    rows[3].extra["arousal"] = "1.7"
    write_manifest(rows, path)
    assert main(["data", "stats", str(path)]) == 2  # a SerError: the message, no traceback
    assert "m.csv, line 5: arousal 1.7 is outside -1..1" in capsys.readouterr().err


def test_split_emobox_folds_through_the_cli(tmp_path, capsys):
    rows = make_rows(tmp_path, n_speakers=4)
    path = write_manifest(rows, tmp_path / "m.csv")
    root = tmp_path / "EmoBox" / "data" / "emodb"
    for k, test_speaker in enumerate(("emodb_00", "emodb_01", "emodb_02", "emodb_03"), start=1):
        (root / f"fold_{k}").mkdir(parents=True)
        for side in ("train", "test"):
            members = [r for r in rows if (r.speaker == test_speaker) == (side == "test")]
            lines = [json.dumps({"key": f"emodb-{r.path.rsplit('/', 1)[-1][:-4]}",
                                 "wav": f"downloads/emodb/wav/{r.path.rsplit('/', 1)[-1]}", "emo": "x"}) for r in members]
            (root / f"fold_{k}" / f"emodb_{side}_fold_{k}.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "folds.csv"
    assert main(["data", "split", str(path), "--protocol", "emobox", "--folds-dir", str(root), "-o", str(out)]) == 0
    assert "emobox fold 4/4" in capsys.readouterr().out
    assert {r.speaker: r.extra["fold"] for r in read_manifest(out)}["emodb_02"] == "3"
    assert main(["data", "split", str(path), "--protocol", "emobox", "--folds", "3", "-o", str(out)]) == 2
    assert "does not take --folds" in capsys.readouterr().err
