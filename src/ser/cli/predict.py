"""``ser predict`` (emotion of audio files, or over time with --timeline) and ``ser plot``.

    ser predict call.wav                       # a table: file, label, confidence, top 3
    ser predict calls/ --format json -o out.jsonl
    ser predict long.wav --timeline            # segments and the share of time per emotion
    ser plot long.wav -o long.png

Inputs are files, folders (searched recursively for audio) and glob patterns (expanded here too,
for shells that do not). A bad input gets its own line or record with the reason and the others
go on. Exit status: 0 all inputs predicted, 1 some failed, 2 a usage or model error.
Only numpy, soundfile, soxr, PyAV and onnxruntime run here; matplotlib only for plots.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import glob
import io
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, TextIO

ORDER = 10
STDIN = "-"
SHORT_CLIP_S = 4.0  # `ser plot` draws bars up to this length and a timeline beyond
ADAPT_MODES = ("none", "recording", "folder", "speaker", "collection", "auto")


def register(subparsers) -> None:
    predict = subparsers.add_parser(
        "predict",
        help="predict the emotion of audio files (or over time with --timeline)",
        description="Predict the emotion of audio files, folders (recursively) or glob patterns;\n"
        "'-' reads one file from stdin.\n"
        "Exit status: 0 all predicted, 1 some inputs failed, 2 usage or model error.",
        epilog="examples:\n  ser predict call.wav\n  ser predict calls/ --format json -o results.jsonl\n"
        "  ser predict 'calls/**/*.mp3' --format csv\n  ser predict interview.wav --timeline --plot interview.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("inputs", nargs="*", metavar="PATH", help="audio files, folders or glob patterns")
    _add_model_options(predict)
    predict.add_argument("--format", choices=("table", "json", "csv"), default="table", help="output format (json: one object per input per line)")
    predict.add_argument("-o", "--output", metavar="FILE", help="write the results to FILE (atomically) instead of stdout")
    predict.add_argument("--top-k", type=_positive_int, default=None, metavar="K", help="scores to list per input (table: 3; json/csv: all)")
    predict.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per model call (default 16)")
    predict.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None,
        help="progress bar on stderr (default: when stderr is a terminal and there are more than 10 inputs)",
    )
    predict.add_argument("--timeline", action="store_true", help="emotion over time: one row per segment, then a summary")
    predict.add_argument(
        "--speakers", metavar="auto|N", type=_speaker_count, default=None,
        help="with --timeline: cut at speaker turns (auto, or the number of voices); each segment names its voice",
    )
    predict.add_argument("--dimensions", action="store_true", help="table: add arousal and valence (derived from the scores, see docs/dimensions.md)")
    _add_timeline_options(predict)
    predict.add_argument("--plot", metavar="PNG", help="also draw the result of the (single) input into PNG")
    adapt = predict.add_argument_group("speaker adaptation (judge each voice against its own usual sound; docs/predict.md)")
    adapt.add_argument(
        "--adapt", choices=ADAPT_MODES, default="none",
        help="none: each clip alone (default); recording: with --timeline, the recording's own speech; "
        "folder: the clips of one folder are one speaker; speaker: --speaker-pattern names the speaker; "
        "collection: all inputs are one speaker; auto: clips grouped by the sound of their voices",
    )
    adapt.add_argument("--speaker-pattern", metavar="REGEX", help="with --adapt speaker: re.search(REGEX, file stem); its first group (else the whole match) names the speaker")
    adapt.add_argument("--profile", metavar="FILE", help="judge every input against this saved speaker profile (ser enroll)")
    _add_engine_options(predict)
    predict.set_defaults(func=run_predict)

    enroll = subparsers.add_parser(
        "enroll",
        help="make a speaker profile from unlabelled clips of one person (for --profile)",
        description="Average the voice of one person's clips into a profile (no audio is kept) that\n"
        "`ser predict --profile FILE` judges new clips against. Use ordinary speech of the person:\n"
        "a profile made only of angry clips makes everything else look less angry.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    enroll.add_argument("inputs", nargs="+", metavar="PATH", help="audio files, folders or glob patterns of one speaker")
    enroll.add_argument("-o", "--output", metavar="FILE", required=True, help="the profile to write (JSON)")
    _add_model_options(enroll)
    enroll.set_defaults(func=run_enroll)

    plot = subparsers.add_parser(
        "plot",
        help="draw the emotion of one audio file: probability bars, or a timeline for long audio",
        description=f"Probability bars for clips up to {SHORT_CLIP_S:g} s, stacked probabilities over time beyond (or with --timeline).",
    )
    plot.add_argument("input", metavar="FILE", help="an audio file")
    plot.add_argument("-o", "--output", metavar="PNG", required=True, help="the image to write")
    _add_model_options(plot)
    _add_timeline_options(plot)
    plot.add_argument("--timeline", action="store_true", help="draw a timeline even for a short clip")
    plot.set_defaults(func=run_plot)


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", metavar="PATH", default=os.environ.get("SER_MODEL"), help="model folder (default: $SER_MODEL or the shipped model)")
    parser.add_argument(
        "--max-duration", type=_positive_float, metavar="SECONDS", default=None,
        help="refuse audio longer than this (default: $SER_MAX_DURATION or 3 hours)",
    )


def _add_timeline_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=_positive_float, default=None, metavar="S", help="timeline window in seconds, with --no-vad (default 2)")
    parser.add_argument("--hop", type=_positive_float, default=None, metavar="S", help="timeline hop in seconds, with --no-vad (default 1)")
    parser.add_argument(
        "--no-vad", dest="vad", action="store_false",
        help="judge the whole audio, silence and noise included (timelines: sliding windows) instead of the detected speech",
    )


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("many files with Ray (pip install 'ser[ray]'; see docs/speed.md)")
    group.add_argument(
        "--engine", choices=("local", "ray"), default="local",
        help="local: this process on all cores (default); ray: Ray Data on a local Ray or a cluster, "
        "writing -o FILE.parquet or FILE.jsonl and skipping files already in it",
    )
    group.add_argument("--manifest", metavar="FILE", help="with --engine ray: also predict the paths listed in FILE (CSV/TSV with a 'path' column, or one path per line)")
    group.add_argument("--ray-address", metavar="ADDR", default=None, help="Ray cluster to use (auto, ray://head:10001; default $RAY_ADDRESS, else a local Ray)")
    group.add_argument("--overwrite", action="store_true", help="with --engine ray: start afresh instead of skipping the files already in the output")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _speaker_count(text: str) -> str | int:
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of voices >= 1, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


# ---------------------------------------------------------------------------------------------
# Inputs


def expand_inputs(arguments: list[str]) -> list[tuple[str, str | None]]:
    """``(path, problem)`` for every input: folders searched recursively, globs expanded.

    `problem` is None for a path to try, or a reason the argument yields nothing (an empty
    folder, a pattern matching no file). Duplicates are dropped, order kept.
    """
    from ser.corpora.base import AUDIO_EXTENSIONS, find_audio

    found: list[tuple[str, str | None]] = []
    for argument in arguments:
        path = Path(argument)
        if argument == STDIN:
            found.append((argument, None))
        elif path.is_dir():
            files = find_audio(path)
            found += [(str(f), None) for f in files]
            if not files:
                found.append((argument, f"no audio files in this folder (looked for {', '.join(sorted(AUDIO_EXTENSIONS))})"))
        elif not path.exists() and glob.has_magic(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            expanded = [str(f) for m in matches for f in (find_audio(m) if Path(m).is_dir() else [Path(m)])]
            found += [(f, None) for f in expanded]
            if not expanded:
                found.append((argument, "no files match this pattern"))
        else:
            found.append((argument, None))  # a missing path is reported by the loader
    seen: set[str] = set()
    unique = []
    for item in found:
        if item[0] not in seen:
            seen.add(item[0])
            unique.append(item)
    return unique


# ---------------------------------------------------------------------------------------------
# Commands


def run_predict(args: argparse.Namespace) -> int:
    from ser.errors import SerError

    if args.engine == "ray" or args.manifest or args.ray_address or args.overwrite:
        return run_predict_ray(args)
    if not args.inputs:
        raise SerError("nothing to predict: give audio files, folders or glob patterns")
    inputs = expand_inputs(args.inputs)
    if args.plot and len(inputs) != 1:
        raise SerError(f"--plot draws one input, but {len(inputs)} were given; use `ser plot FILE -o PNG` per file")
    if [p for p, _ in inputs].count(STDIN) and len(inputs) > 1:
        raise SerError("'-' (stdin) cannot be mixed with other inputs")
    _check_options(args)
    from ser.inference.profile import SpeakerProfile

    profile = SpeakerProfile.load(args.profile) if args.profile else None  # before any output is written
    recognizer = _recognizer(args)
    top_k = args.top_k or (3 if args.format == "table" else len(recognizer.labels))
    writer_class = {"table": TableWriter, "json": JsonWriter, "csv": CsvWriter}[args.format]

    failures, last = 0, None
    with _output(args.output) as stream, _progress(len(inputs), args.progress) as bar:
        writer = writer_class(stream, recognizer.labels, top_k, width=max(len(p) for p, _ in inputs), bar=bar,
                              dimensions=args.dimensions)
        writer.start(args.timeline)
        for path, result in _results(recognizer, inputs, args, profile):
            if isinstance(result, SerError):
                failures += 1
                writer.error(path, result)
            elif args.timeline:
                writer.timeline(path, result)
            else:
                writer.prediction(path, result)
            bar.update(1)
            last = result
        writer.finish()
    if args.plot and not failures:
        title = Path(inputs[0][0]).name
        if args.timeline:
            plot_timeline(last, args.plot, title=title)
        else:
            plot_prediction(last, args.plot, title=title)
    return 1 if failures else 0


def run_enroll(args: argparse.Namespace) -> int:
    from ser.errors import SerError

    inputs = expand_inputs(args.inputs)
    for path, problem in inputs:
        if problem:
            raise SerError(f"{path}: {problem}")
    recognizer = _recognizer(args)
    profile = recognizer.enroll([path for path, _ in inputs])
    profile.save(args.output)
    print(f"wrote {args.output}: {profile.clips} clips, {profile.speech_s:.1f} s of speech", file=sys.stderr)
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Refuse combinations that would silently do something else than asked."""
    from ser.errors import SerError

    if args.vad and (args.window is not None or args.hop is not None):
        raise SerError("--window and --hop set the sliding windows of --no-vad; with the speech detector, segments follow the speech")
    if args.adapt == "recording" and not args.timeline:
        raise SerError("--adapt recording adapts a --timeline to its own recording; for whole files use folder, speaker or collection")
    if args.adapt == "speaker" and not args.speaker_pattern:
        raise SerError("--adapt speaker needs --speaker-pattern REGEX (the speaker's name in each file stem)")
    if args.speaker_pattern and args.adapt != "speaker":
        raise SerError("--speaker-pattern goes with --adapt speaker")
    if args.profile and args.adapt != "none":
        raise SerError("--profile judges every input against one saved voice; it does not combine with --adapt")
    if args.speakers is not None and not args.timeline:
        raise SerError("--speakers cuts a --timeline at speaker turns; add --timeline")
    if args.speakers is not None and not args.vad:
        raise SerError("--speakers cuts the detected speech at speaker turns; it does not combine with --no-vad")
    if args.timeline and args.adapt in ("folder", "speaker", "collection", "auto"):
        raise SerError(f"--adapt {args.adapt} groups whole files; a --timeline adapts with --adapt recording or --profile")


def run_predict_ray(args: argparse.Namespace) -> int:
    """``ser predict --engine ray``: Ray Data over every input, results into -o, restartable."""
    from ser.errors import SerError

    if args.engine != "ray":
        raise SerError("--manifest, --ray-address and --overwrite go with --engine ray")
    if args.timeline or args.plot:
        raise SerError("--engine ray predicts whole files; --timeline and --plot work with the local engine")
    if args.adapt != "none" or args.profile:
        raise SerError("--engine ray judges each file alone; --adapt and --profile work with the local engine")
    if not args.output:
        raise SerError("--engine ray writes its results to -o FILE.parquet or -o FILE.jsonl")
    from ser.inference.ray_engine import predict_with_ray, read_file_list

    if STDIN in args.inputs:
        raise SerError("--engine ray reads files, not stdin")
    if not args.inputs and not args.manifest:
        raise SerError("nothing to predict: give audio files, folders, glob patterns or --manifest FILE")
    inputs = expand_inputs(args.inputs)
    for path, problem in inputs:
        if problem:
            print(f"ser: {path}: {problem}", file=sys.stderr)
    paths = [path for path, problem in inputs if not problem]
    if args.manifest:
        paths += read_file_list(args.manifest)
    summary = predict_with_ray(
        paths, args.output, args.model, address=args.ray_address, batch_size=args.batch_size,
        overwrite=args.overwrite, max_duration=_max_duration(args),
    )
    print(
        f"{summary['predicted']} files predicted, {summary['failed']} failed, "
        f"{summary['skipped']} already in {args.output}",
        file=sys.stderr,
    )
    return 1 if summary["failed"] or any(problem for _, problem in inputs) else 0


def run_plot(args: argparse.Namespace) -> int:
    from ser.errors import SerError

    if args.vad and (args.window is not None or args.hop is not None):
        raise SerError("--window and --hop set the sliding windows of --no-vad; with the speech detector, segments follow the speech")
    recognizer = _recognizer(args)
    source = _source(args.input)
    title = Path(args.input).name
    windows = {"window": args.window or 2.0, "hop": args.hop or 1.0}
    # With the detector the file's prediction comes from the timeline's own pieces: one model pass.
    prediction, timeline = (recognizer.predict_with_timeline(source, **windows) if recognizer.vad
                            else (None, recognizer.timeline(source, **windows)))
    if args.timeline or timeline.duration_s > SHORT_CLIP_S:
        plot_timeline(timeline, args.output, title=title)
    else:
        plot_prediction(prediction or recognizer(source), args.output, title=title)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _recognizer(args: argparse.Namespace):
    from ser.inference.recognizer import Recognizer

    return Recognizer.from_pretrained(args.model, max_duration=_max_duration(args), vad=getattr(args, "vad", True))


def _max_duration(args: argparse.Namespace) -> float:
    """--max-duration, else $SER_MAX_DURATION, else the loader's default (3 hours)."""
    from ser.audio import DEFAULT_MAX_DURATION_S
    from ser.errors import SerError

    if args.max_duration is not None:
        return args.max_duration
    try:
        return float(os.environ.get("SER_MAX_DURATION", DEFAULT_MAX_DURATION_S))
    except ValueError:
        raise SerError(f"SER_MAX_DURATION must be a number of seconds, got {os.environ['SER_MAX_DURATION']!r}") from None


def _source(path: str):
    return sys.stdin.buffer.read() if path == STDIN else path


def _results(recognizer, inputs: list[tuple[str, str | None]], args: argparse.Namespace, profile=None) -> Iterator[tuple[str, object]]:
    """``(path, result)`` per input, in order; a result is a `SerError` (the input's problem), a
    Timeline (with --timeline) or a Prediction. The library does the work
    (`Recognizer.predict_files`, `Recognizer.timeline`); this only names inputs and groups."""
    from ser.audio import AudioError
    from ser.errors import SerError

    if args.timeline:
        for path, problem in inputs:
            try:
                if problem:
                    raise AudioError(path, problem)
                yield path, recognizer.timeline(
                    _source(path), window=args.window or 2.0, hop=args.hop or 1.0,
                    adapt=True if args.adapt == "recording" else None, speaker=profile, speakers=args.speakers,
                )
            except SerError as exc:
                yield path, exc
        return

    usable = [(path, problem) for path, problem in inputs]
    groups, notes = _groups([path for path, _ in usable], args)
    sources = [b"" if problem else _source(path) for path, problem in usable]
    names = ["<stdin>" if path == STDIN else path for path, _ in usable]
    results = recognizer.predict_files(sources, names=names, groups=groups, speaker=profile, batch_size=args.batch_size)
    for index, result in results:
        path, problem = usable[index]
        if problem:
            result = AudioError(path, problem)
        elif notes.get(index) and not isinstance(result, SerError):
            result = dataclasses.replace(result, warnings=(*result.warnings, notes[index]))
        yield path, result


def _groups(paths: list[str], args: argparse.Namespace) -> tuple[list | None, dict[int, str]]:
    """The speaker key of each input for --adapt (None: not adapted), and a note per unmatched input."""
    import re

    from ser.errors import SerError

    if args.adapt in ("none", "recording"):
        return None, {}
    if args.adapt == "collection":
        return ["all inputs"] * len(paths), {}
    if args.adapt == "auto":
        return "auto", {}
    if args.adapt == "folder":
        return [str(Path(path).parent) for path in paths], {}
    try:
        pattern = re.compile(args.speaker_pattern)
    except re.error as exc:
        raise SerError(f"--speaker-pattern {args.speaker_pattern!r} is not a regular expression ({exc})") from None
    groups: list[str | None] = []
    notes: dict[int, str] = {}
    for index, path in enumerate(paths):
        match = pattern.search(Path(path).stem)
        if match is None:
            groups.append(None)
            notes[index] = f"not adapted: --speaker-pattern does not match {Path(path).stem!r}"
        else:
            groups.append(match.group(1) if match.re.groups and match.group(1) is not None else match.group(0))
    if all(group is None for group in groups) and any(Path(path).is_file() for path in paths):
        # (with no readable input at all, each input's own error says more than the pattern's)
        raise SerError(f"--speaker-pattern {args.speaker_pattern!r} matches none of the {len(paths)} file names "
                       f"(the first: {Path(paths[0]).stem!r})")
    return groups, notes


# ---------------------------------------------------------------------------------------------
# Output


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    """stdout, or a temporary file beside `path` that replaces it only once complete."""
    if path is None or path == STDIN:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if not target.parent.is_dir():
        from ser.errors import SerError

        raise SerError(f"{path}: the folder {target.parent} does not exist")
    from ser.files import atomic_write

    with atomic_write(target, "w", newline="") as handle:
        yield handle


def _progress(total: int, wanted: bool | None):
    """The progress bar of `ser predict`: shown with --progress, or by default for more than 10
    inputs when stderr is a terminal."""
    from ser.files import Progress

    return Progress(total, unit="file", enabled=wanted if wanted is not None else (total > 10 and sys.stderr.isatty()))


class _Writer:
    """Writes results as they come; subclasses decide the format."""

    def __init__(self, stream: TextIO, labels: list[str], top_k: int, width: int, bar, dimensions: bool = False):
        self.stream, self.labels, self.top_k, self.width, self.bar = stream, labels, top_k, width, bar
        self.dimensions = dimensions

    def line(self, text: str) -> None:
        if self.stream is sys.stdout:
            self.bar.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")

    def start(self, timeline: bool) -> None:
        self.is_timeline = timeline

    def finish(self) -> None:
        pass


class JsonWriter(_Writer):
    """One JSON object per input per line (JSON Lines); ``"label": null`` for no speech."""

    def prediction(self, path, prediction) -> None:
        record = {"path": path, **prediction.to_dict()}
        record["scores"] = dict(prediction.top(self.top_k))
        self.line(json.dumps(record, ensure_ascii=False))

    def timeline(self, path, timeline) -> None:
        self.line(json.dumps({"path": path, **timeline.to_dict()}, ensure_ascii=False))

    def error(self, path, error) -> None:
        self.line(json.dumps({"path": path, "error": _reason(error), "error_type": type(error).__name__}, ensure_ascii=False))


class CsvWriter(_Writer):
    """A header, then one row per input (per segment with --timeline, then summary rows); an
    empty label for no speech."""

    def start(self, timeline: bool) -> None:
        super().start(timeline)
        if timeline:
            self.columns = ["path", "start_s", "end_s", "kind", "label", "confidence", "speaker", "error"]
        else:
            self.columns = ["path", "label", "confidence", "duration_s", "speech_s", "arousal", "valence", *self.labels,
                            "adapted_group", "adapted_clips", "warning", "error"]
        self.row(self.columns)

    def row(self, values: list) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(values)
        self.line(buffer.getvalue())

    def prediction(self, path, prediction) -> None:
        shown = dict(prediction.top(self.top_k))
        scores = [_num(shown[label]) if label in shown else "" for label in self.labels]
        adapted = prediction.adaptation or {}
        self.row([
            path, prediction.label or "", _num(prediction.confidence) if prediction.label else "",
            f"{prediction.duration_s:.3f}", f"{prediction.speech_s:.3f}",
            "" if prediction.arousal is None else f"{prediction.arousal:.4f}",
            "" if prediction.valence is None else f"{prediction.valence:.4f}", *scores,
            adapted.get("group", ""), adapted.get("clips", ""), "; ".join(prediction.warnings), "",
        ])

    def timeline(self, path, timeline) -> None:
        for s in timeline.segments:
            self.row([path, f"{s.start_s:.3f}", f"{s.end_s:.3f}", s.kind, s.label, _num(s.confidence), s.speaker or "", ""])
        summary = timeline.summary()
        # Summary rows: the share of speech time per emotion, and silence's share of the recording.
        for label, share in summary["emotions"].items():
            self.row([path, "0.000", f"{timeline.duration_s:.3f}", "summary", label, _num(share), "", ""])
        self.row([path, "0.000", f"{timeline.duration_s:.3f}", "summary", "silence", _num(summary["silence_share"]), "", ""])
        for name, voice in summary.get("speakers", {}).items():
            for label, share in voice["emotions"].items():
                self.row([path, "0.000", f"{timeline.duration_s:.3f}", "summary", label, _num(share), name, ""])

    def error(self, path, error) -> None:
        blanks = [""] * (len(self.columns) - 2)
        self.row([path, *blanks, _reason(error)])


class TableWriter(_Writer):
    """Aligned columns for people."""

    def start(self, timeline: bool) -> None:
        super().start(timeline)
        self.width = max(4, min(self.width, 60))
        if not timeline:
            dims = f" {'arous':>6} {'valen':>6}" if self.dimensions else ""
            self.line(f"{'file':<{self.width}}  {'label':<10} {'conf':>5}{dims}  top {self.top_k}")

    def _name(self, path: str) -> str:
        return path if len(path) <= self.width else "…" + path[-(self.width - 1) :]

    def prediction(self, path, prediction) -> None:
        notes = [w for w in prediction.warnings if prediction.label or w != "no speech detected"]
        if prediction.adaptation:
            notes.append(f"adapted to {prediction.adaptation['group']}, {prediction.adaptation['clips']} clips")
        note = f"  ({'; '.join(notes)})" if notes else ""
        if prediction.label is None:
            self.line(f"{self._name(path):<{self.width}}  {'no speech':<10} {'-':>5}{note}")
            return
        top = ", ".join(f"{label} {p:.2f}" for label, p in prediction.top(self.top_k))
        dims = f" {prediction.arousal:>+6.2f} {prediction.valence:>+6.2f}" if self.dimensions else ""
        self.line(f"{self._name(path):<{self.width}}  {prediction.label:<10} {prediction.confidence:>5.2f}{dims}  {top}{note}")

    def timeline(self, path, timeline) -> None:
        self.line(f"{path}  ({timeline.duration_s:.1f} s)")
        voices = any(s.speaker for s in timeline.segments)
        self.line(f"  {'start':>8} {'end':>8}  {'kind':<8} {'label':<10} {'conf':>5}" + ("  voice" if voices else ""))
        for s in timeline.segments:
            confidence = f"{s.confidence:>5.2f}" if s.kind == "speech" else f"{'-':>5}"
            voice = f"  {s.speaker or '-'}" if voices else ""
            self.line(f"  {s.start_s:>8.2f} {s.end_s:>8.2f}  {s.kind:<8} {s.label:<10} {confidence}{voice}")
        summary = timeline.summary()
        shares = ", ".join(f"{label} {share:.0%}" for label, share in summary["emotions"].items() if share > 0)
        overall = f"{summary['label']} {summary['confidence']:.2f}; " if summary["label"] else ""
        self.line(
            f"  summary: {overall}{shares or 'no speech'} of {summary['speech_s']:.1f} s of speech; "
            f"silence {summary['silence_share']:.0%} of the recording"
        )
        for name, voice in summary.get("speakers", {}).items():
            shares = ", ".join(f"{label} {share:.0%}" for label, share in voice["emotions"].items() if share > 0)
            self.line(f"  {name}: {voice['label']}; {shares} of {voice['speech_s']:.1f} s of speech")
        for warning in timeline.warnings:
            self.line(f"  note: {warning}")
        self.line("")

    def error(self, path, error) -> None:
        self.line(f"{self._name(path):<{self.width}}  error: {_reason(error)}")


def _reason(error) -> str:
    """What is wrong with an input: an AudioError's reason, else the error's message."""
    return getattr(error, "reason", None) or str(error)


def _runs_of(values, mask) -> list[tuple[int, int]]:
    """(start, end) index spans where `mask` holds and `values` stays the same."""
    runs, start = [], None
    for i in range(len(values) + 1):
        if start is not None and (i == len(values) or not mask[i] or values[i] != values[start]):
            runs.append((start, i))
            start = None
        if i < len(values) and mask[i] and start is None:
            start = i
    return runs


def _num(value: float) -> str:
    return f"{value:.6f}"


# ---------------------------------------------------------------------------------------------
# Plots


def _save(fig, path: str) -> None:
    """Write a figure as a PNG, whole or not at all."""
    from ser.errors import SerError
    from ser.figures import save_png

    if not Path(path).parent.is_dir():
        raise SerError(f"{path}: the folder {Path(path).parent} does not exist")
    save_png(fig, path)


def plot_prediction(prediction, path: str, title: str = "") -> None:
    """Horizontal bars of every label's probability for one clip, the winner highlighted."""
    from ser.errors import SerError

    if prediction.label is None:
        raise SerError(f"{path}: nothing to draw: no speech detected in the input")
    from ser.figures import figure

    items = prediction.top(len(prediction.scores))[::-1]
    fig = figure(figsize=(6, 0.4 * len(items) + 1.2))
    axis = fig.subplots()
    colours = ["tab:red" if label == prediction.label else "tab:gray" for label, _ in items]
    axis.barh([label for label, _ in items], [p for _, p in items], color=colours)
    axis.set_xlim(0, 1)
    axis.set_xlabel("probability")
    axis.set_title(f"{title}  ({prediction.duration_s:.1f} s): {prediction.label} {prediction.confidence:.0%}")
    _save(fig, path)


def plot_timeline(timeline, path: str, title: str = "") -> None:
    """Stacked probabilities over time (speech segments), silence shaded grey, labels as a band,
    and the derived arousal of each speech segment as a line under it."""
    import numpy as np

    from ser.figures import figure

    fig = figure(figsize=(10, 5))
    import matplotlib

    labels = timeline.labels
    colours = {label: matplotlib.colormaps["tab10"](i % 10) for i, label in enumerate(labels)}
    axis, band, line = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1, 1.5]})
    # Mean scores per 10 ms (overlapping windows averaged), zero in silence.
    times, scores, speech = timeline.scores_over_time(0.01)
    if speech.any():
        axis.stackplot(
            np.append(times, timeline.duration_s),
            np.vstack([scores, scores[-1:]]).T,
            labels=labels,
            colors=[colours[label] for label in labels],
            step="post",
            alpha=0.85,
        )
    for s in timeline.segments:
        if s.kind == "silence":
            band.axvspan(s.start_s, s.end_s, color="lightgray", alpha=0.6, linewidth=0)
            axis.axvspan(s.start_s, s.end_s, color="lightgray", alpha=0.6, linewidth=0)
    # The band: the winning label of each 10 ms.
    winners = scores.argmax(axis=1)
    voices = sorted({seg.speaker for seg in timeline.segments if seg.speaker}, key=lambda v: (len(v), v))
    if voices:  # one lane per voice, each segment in the colour of its label
        for seg in timeline.segments:
            if seg.kind == "speech" and seg.speaker:
                lane = voices.index(seg.speaker)
                band.axvspan(seg.start_s, seg.end_s, ymin=1 - (lane + 1) / len(voices), ymax=1 - lane / len(voices),
                             color=colours[seg.label], linewidth=0)
    else:
        for start, end in _runs_of(winners, speech):
            band.axvspan(times[start], times[end - 1] + 0.01, color=colours[labels[winners[start]]], linewidth=0)
    axis.set_xlim(0, max(timeline.duration_s, 1e-3))
    axis.set_ylim(0, 1)
    axis.set_ylabel("probability")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    summary = timeline.summary()
    top = ", ".join(f"{k} {v:.0%}" for k, v in list(summary["emotions"].items())[:3] if v > 0)
    axis.set_title(f"{title}  ({timeline.duration_s:.1f} s): {top or 'no speech'}")
    if voices:
        band.set_ylim(0, 1)
        band.set_yticks([1 - (k + 0.5) / len(voices) for k in range(len(voices))], voices, fontsize="small")
    else:
        band.set_yticks([])
    # Derived arousal (ser.dimensions), a step per speech segment; gaps in silence.
    for s in timeline.segments:
        if s.kind == "speech" and s.arousal is not None:
            line.plot([s.start_s, s.end_s], [s.arousal, s.arousal], color="black", linewidth=1.5)
    line.axhline(0, color="lightgray", linewidth=0.8)
    line.set_ylim(-1, 1)
    line.set_ylabel("arousal\n(derived)", fontsize="small")
    line.set_xlabel("time (s)")
    _save(fig, path)
