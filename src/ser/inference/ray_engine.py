"""Predict very many files in parallel with Ray Data, on one machine or a cluster, restartably.

    ser predict --engine ray corpus/ -o results.parquet           # a local Ray on all cores
    ser predict --engine ray --manifest files.csv -o results.jsonl --ray-address auto

    from ser.inference.ray_engine import predict_with_ray
    summary = predict_with_ray(paths, "results.parquet", num_cpus=2)

Ray Data spreads the paths over a pool of actors (one CPU each, each holding the model once);
every actor decodes its files, computes the log-mel front end and runs the model, and the driver
writes the results as they arrive:

* ``.jsonl`` (or ``.json``): one JSON object per file per line, as ``ser predict --format json``;
  appended and flushed chunk by chunk.
* ``.parquet``: a folder of ``part-NNNNN.parquet`` files (read it whole with
  ``pandas.read_parquet(path)``); columns ``path, label, confidence, duration_s``, one
  ``score_<label>`` column per label, ``warning, error, error_type``. Each part is written aside
  and renamed, so an interrupted run leaves only whole parts.

A rerun with the same output skips every path already in it (predicted or failed), so a job
killed halfway resumes where it stopped; ``overwrite=True`` starts afresh. The model folder is
sent to the workers through Ray's object store, so cluster nodes need only the audio paths.

Needs the ``ray`` extra (``pip install 'ser[ray]'``); nothing else in ser imports Ray.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Sequence

from ser.errors import SerError

logger = logging.getLogger(__name__)

PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CHUNK_ROWS = 256  # results written per part file / flush


def read_file_list(path: str | os.PathLike) -> list[str]:
    """The audio paths listed in `path`: a CSV/TSV with a ``path`` column (a ser manifest) or
    plain text with one path per line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise SerError(f"{path}: no such file list")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".csv", ".tsv"):
        reader = csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise SerError(f"{path}: a CSV/TSV file list needs a 'path' column (found {reader.fieldnames})")
        return [row["path"] for row in reader if row.get("path")]
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def output_kind(output: str | os.PathLike) -> str:
    """``"parquet"`` or ``"jsonl"``, from the output's name; raises `SerError` for anything else."""
    suffix = Path(output).suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise SerError(f"{output}: the Ray engine writes .parquet (a folder of parts) or .jsonl; name the output so")


def done_paths(output: str | os.PathLike) -> set[str]:
    """The paths already in `output` (a JSON Lines file or a folder of Parquet parts)."""
    output = Path(output)
    if not output.exists():
        return set()
    if output_kind(output) == "jsonl":
        done = set()
        with output.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    done.add(json.loads(line)["path"])
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by an interrupted run: its file is redone
        return done
    import pyarrow.parquet as pq

    if not output.is_dir():
        raise SerError(f"{output}: expected a folder of Parquet parts (written by the Ray engine)")
    done = set()
    for part in sorted(output.glob("part-*.parquet")):
        done.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())
    return done


class _Predictor:
    """A Ray actor: holds one model and predicts batches of paths (one CPU, one thread)."""

    def __init__(self, model_files, model_dir: str | None, threads: int, max_duration):
        from ser.inference.recognizer import Recognizer

        if model_files is not None:  # the model travelled through the object store
            import ray

            model_files = ray.get(model_files)  # nested references are not resolved for us
            self._tmp = tempfile.mkdtemp(prefix="ser-model-")
            for name, data in model_files.items():
                Path(self._tmp, name).write_bytes(data)
            model_dir = self._tmp
        self.recognizer = Recognizer.from_pretrained(model_dir, max_duration=max_duration, threads=threads)
        self.labels = self.recognizer.labels

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        from ser.audio import AudioError

        paths = [str(p) for p in batch["path"]]
        rows = {key: [] for key in ("path", "label", "confidence", "duration_s", "speech_s", "warning", "error", "error_type")}
        scores = {label: [] for label in self.labels}
        for index, result in self.recognizer.predict_files(paths):
            rows["path"].append(paths[index])
            failed = isinstance(result, AudioError)
            no_label = failed or result.label is None
            rows["label"].append(None if failed else result.label)
            rows["confidence"].append(None if no_label else round(result.confidence, 6))
            rows["duration_s"].append(None if failed else round(result.duration_s, 3))
            rows["speech_s"].append(None if failed else round(result.speech_s, 3))
            rows["warning"].append(None if failed or not result.warnings else "; ".join(result.warnings))
            rows["error"].append(result.reason if failed else None)
            rows["error_type"].append(type(result).__name__ if failed else None)
            for label in self.labels:
                scores[label].append(None if no_label else round(result.scores[label], 6))
        rows.update({f"score_{label}": values for label, values in scores.items()})
        return rows


def predict_with_ray(
    paths: Sequence[str],
    output: str | os.PathLike,
    model_dir: str | os.PathLike | None = None,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    batch_size: int = 16,
    overwrite: bool = False,
    max_duration: float | None = None,
    log=None,
) -> dict[str, int]:
    """Predict every file of `paths` with Ray Data and write the results to `output`.

    Parameters
    ----------
    paths : audio files (each readable by the workers: a local or shared file system).
    output : ``*.jsonl`` or ``*.parquet`` (see the module docstring); paths already in it are
        skipped unless `overwrite`.
    model_dir : a model folder (None: the shipped default model).
    address : the Ray cluster (``"auto"``, ``"ray://head:10001"``); None: ``$RAY_ADDRESS`` if
        set, else a local Ray instance with `num_cpus` CPUs (default: all).
    batch_size : files per actor call.

    Returns
    -------
    ``{"total", "skipped", "predicted", "failed"}``: counts of files.
    """
    kind = output_kind(output)
    try:
        import ray
    except ImportError:
        raise SerError("the Ray engine needs Ray: pip install 'ser[ray]'") from None
    from ser.audio import DEFAULT_MAX_DURATION_S
    from ser.inference.recognizer import default_model_dir

    log = log or logger.info
    output = Path(output)
    if not output.parent.is_dir():
        raise SerError(f"{output}: the folder {output.parent} does not exist")
    if overwrite and output.exists():
        shutil.rmtree(output) if output.is_dir() else output.unlink()
    unique = list(dict.fromkeys(str(p) for p in paths))
    done = done_paths(output)
    todo = [p for p in unique if p not in done]
    summary = {"total": len(unique), "skipped": len(unique) - len(todo), "predicted": 0, "failed": 0}
    if summary["skipped"]:
        log(f"{summary['skipped']} of {len(unique)} files are already in {output}; predicting the other {len(todo)}")
    if not todo:
        return summary

    model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
    from ser.model_folder import read_config

    read_config(model_dir)  # a broken model folder fails here, not in every worker
    model_files = {item.name: item.read_bytes() for item in model_dir.iterdir() if item.is_file()}

    started_here = not ray.is_initialized()
    if started_here:
        if address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        dataset = ray.data.from_items([{"path": p} for p in todo], override_num_blocks=min(len(todo), workers * 4))
        results = dataset.map_batches(
            _Predictor,
            fn_constructor_kwargs={
                "model_files": ray.put(model_files),
                "model_dir": None,
                "threads": 1,
                "max_duration": DEFAULT_MAX_DURATION_S if max_duration is None else max_duration,
            },
            batch_size=batch_size,
            num_cpus=1,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=workers),
        )
        with _Writer(output, kind) as writer:
            for batch in results.iter_batches(batch_size=CHUNK_ROWS, batch_format="pyarrow"):
                writer.write(batch)
                succeeded = batch.column("error").null_count
                summary["predicted"] += succeeded
                summary["failed"] += batch.num_rows - succeeded
    finally:
        if started_here:
            ray.shutdown()
    return summary


class _Writer:
    """Appends result tables to a JSON Lines file or to a folder of Parquet parts."""

    def __init__(self, output: Path, kind: str):
        self.output, self.kind = output, kind

    def __enter__(self) -> "_Writer":
        if self.kind == "jsonl":
            self.handle = self.output.open("a", encoding="utf-8")
            if self.handle.tell():
                self._end_last_line()
        else:
            self.output.mkdir(exist_ok=True)
            parts = [int(p.stem.split("-")[1]) for p in self.output.glob("part-*.parquet") if p.stem.split("-")[1].isdigit()]
            self.next_part = max(parts, default=-1) + 1
        return self

    def __exit__(self, *exc) -> None:
        if self.kind == "jsonl":
            self.handle.close()

    def _end_last_line(self) -> None:
        # An interrupted run may have left half a line: start on a fresh one.
        with self.output.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                self.handle.write("\n")

    def write(self, table) -> None:
        table = _fixed_schema(table)
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            target = self.output / f"part-{self.next_part:05d}.parquet"
            temp = self.output / f".{target.name}.tmp"
            pq.write_table(table, temp)
            os.replace(temp, target)
            self.next_part += 1
            return
        for row in table.to_pylist():
            self.handle.write(json.dumps(_json_record(row), ensure_ascii=False) + "\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())


def _fixed_schema(table):
    """`table` with string and float64 columns, whatever Ray inferred for this block (a block in
    which every file succeeded has an all-null ``error`` column), so that every part agrees."""
    import pyarrow as pa

    strings = ("path", "label", "warning", "error", "error_type")
    schema = pa.schema([(name, pa.string() if name in strings else pa.float64()) for name in table.column_names])
    return table.cast(schema)


def _json_record(row: dict[str, Any]) -> dict[str, Any]:
    """A result row in ``ser predict --format json``'s layout."""
    if row.get("error") is not None:
        return {"path": row["path"], "error": row["error"], "error_type": row["error_type"]}
    record = {k: row[k] for k in ("path", "label", "confidence")}
    record["scores"] = {k[len("score_") :]: v for k, v in row.items() if k.startswith("score_")}
    record["duration_s"] = row["duration_s"]
    if row.get("warning"):
        record["warning"] = row["warning"]
    return record
