"""``ser data``: index corpora into manifests, describe, split and plot them, list and download corpora.

    ser data index ravdess data/RAVDESS -o ravdess.csv
    ser data stats ravdess.csv
    ser data split ravdess.csv --protocol speaker-kfold --folds 5 -o ravdess-folds.csv
    ser data plot ravdess.csv -o plots/
"""

from __future__ import annotations

import sys
from pathlib import Path

from ser.errors import SerError

ORDER = 20

# Listed here rather than imported so that `ser --help` does not import numpy; a test keeps this
# equal to ser.splits.PROTOCOLS.
PROTOCOL_NAMES = (
    "random", "speaker-kfold", "ravdess-6fold", "loso", "cross-corpus", "leave-one-corpus-out",
    "leave-one-session-out", "official", "emobox",
)


def register(subparsers) -> None:
    data = subparsers.add_parser("data", help="index, describe, split, plot and download corpora")
    sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: data.print_help() or 2)

    from ser.corpora import names

    p = sub.add_parser("index", help="index a corpus folder into a manifest CSV")
    p.add_argument("corpus", metavar="CORPUS", help=f"reader: {', '.join(names())} (see `ser data corpora`)")
    p.add_argument("root", help="the corpus folder (for csv: the CSV file)")
    p.add_argument("-o", "--output", required=True, help="manifest CSV to write")
    p.add_argument(
        "--map",
        action="append",
        metavar="NATIVE=EMOTION",
        help="map a native label to an emotion, e.g. --map excited=happy (repeatable, or comma-separated)",
    )
    p.add_argument("--regex", help="for the pattern reader: a regex with named groups emotion, speaker, ...")
    p.add_argument("--name", help="folder, csv, pattern: the corpus name written in the manifest")
    p.add_argument("--language", help="folder, csv, pattern: ISO 639-1 code of the recordings' language")
    p.add_argument(
        "--column",
        action="append",
        metavar="FIELD=COLUMN",
        help="csv: which column holds a field, e.g. --column path=file --column label=emotion "
        "(fields: path, label, speaker, gender, language, text)",
    )
    p.add_argument("--speech-only", action="store_true", help="asvp: leave out non-speech clips")
    p.set_defaults(func=_index)

    p = sub.add_parser("stats", help="tables of a manifest: corpora, emotions, speakers, genders, hours")
    p.add_argument("manifest")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=_stats)

    p = sub.add_parser("split", help="assign speaker-independent folds (or a random split) to a manifest")
    p.add_argument("manifest")
    p.add_argument("--protocol", default="speaker-kfold", help=f"one of {', '.join(PROTOCOL_NAMES)}")
    p.add_argument("--folds", type=int, help="speaker-kfold: number of folds (default 5)")
    p.add_argument("--seed", type=int, help="speaker-kfold, random, --val-fraction: seed (default 0)")
    p.add_argument("--test-size", type=float, help="random: test fraction (default 0.25)")
    p.add_argument("--no-stratify", action="store_true", help="speaker-kfold, random: do not balance emotions")
    p.add_argument(
        "--val-fraction", type=float, help="random, cross-corpus: also draw validation speakers from the training side"
    )
    p.add_argument("--train-corpora", help="cross-corpus: comma-separated training corpora")
    p.add_argument("--test-corpora", help="cross-corpus: comma-separated test corpora")
    p.add_argument("--test-set", help="official (MSP-Podcast): the test partition(s), e.g. Test1 (default) or Test1,Test2")
    p.add_argument("--folds-dir", help="emobox: EmoBox's data/<corpus>/ folder (fold_1/, fold_2/, ...)")
    p.add_argument("-o", "--output", required=True, help="manifest CSV to write, with a fold or split column")
    p.set_defaults(func=_split)

    p = sub.add_parser("plot", help="exploratory PNGs: class counts, durations, waveform and spectrogram per emotion")
    p.add_argument("manifest")
    p.add_argument("-o", "--output", required=True, help="folder for the PNG files")
    p.set_defaults(func=_plot)

    # `data corpora` and `data download` live beside the download code.
    from ser.cli import _catalog

    _catalog.register(sub)


# --------------------------------------------------------------------------------------------
# index


def _index(args) -> int:
    from ser import corpora
    from ser.errors import CorpusError
    from ser.labels import parse_label_map
    from ser.manifest import describe, write_manifest

    if args.corpus not in corpora.names():
        raise CorpusError(f"unknown corpus {args.corpus!r}; known: {', '.join(corpora.names())}")
    try:
        label_map = parse_label_map(args.map)
    except ValueError as exc:
        raise SerError(f"--map: {exc}") from None
    options: dict = {}
    if label_map:
        options["label_map"] = label_map
    if args.corpus == "pattern":
        if not args.regex:
            raise SerError("the pattern reader needs --regex, e.g. --regex '(?P<speaker>\\d+)_(?P<emotion>[a-z]+)'")
        options["regex"] = args.regex
    elif args.regex:
        raise SerError(f"--regex is for the pattern reader, not {args.corpus}")
    generic = ("folder", "csv", "pattern")
    for flag, value, key in (("--name", args.name, "corpus"), ("--language", args.language, "language")):
        if value and args.corpus not in generic:
            raise SerError(f"{flag} is for the {', '.join(generic)} readers, not {args.corpus}")
        if value:
            options[key] = value
    if args.speech_only:
        if args.corpus != "asvp":
            raise SerError(f"--speech-only is for the asvp reader, not {args.corpus}")
        options["speech_only"] = True
    if args.column:
        if args.corpus != "csv":
            raise SerError(f"--column is for the csv reader, not {args.corpus}")
        fields = ("path", "label", "speaker", "gender", "language", "text")
        for item in args.column:
            field, _, column = item.partition("=")
            if field not in fields or not column:
                raise SerError(f"--column {item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(fields)}")
            options[f"{field}_column"] = column

    index = corpora.prepare(args.corpus, args.root, **options)
    report = index.skipped_report()
    if not index.utterances:
        raise CorpusError(f"{args.root}: no {args.corpus} utterances found" + (f" ({report})" if report else ""))
    path = write_manifest(index.utterances, args.output)
    stats = describe(index.utterances)
    print(f"wrote {stats['utterances']} utterances ({_hours(stats['duration_s'])}) to {path}")
    print(_table(["emotion", "utterances"], _ordered_counts(stats["emotions"])))
    print(_speaker_count(stats, "speakers: {}"))
    print("genders: " + ", ".join(f"{g} {n}" for g, n in sorted(stats["genders"].items())))
    if report:
        print(report)
    return 0


# --------------------------------------------------------------------------------------------
# stats


def _stats(args) -> int:
    from ser.manifest import describe, read_manifest

    rows = read_manifest(args.manifest)
    stats = describe(rows)
    if args.json:
        import json

        print(json.dumps(stats, indent=2, sort_keys=True))
        return 0
    print(
        f"{args.manifest}: {stats['utterances']} utterances, {_hours(stats['duration_s'])}, "
        f"{len(stats['corpora'])} corpora, " + _speaker_count(stats, "{} speakers")
    )
    if stats["missing_duration"]:
        print(f"({stats['missing_duration']} rows have no duration and are not in the totals)")

    corpora = sorted(stats["corpora"])
    print("\n" + _table(
        ["corpus", "utterances", "speakers", "duration"],
        [[c, stats["corpora"][c], stats["corpus_speakers"][c], _hours(stats["corpus_duration_s"][c])] for c in corpora],
    ))
    emotions = [e for e, _ in _ordered_counts(stats["emotions"])]
    print("\n" + _table(
        ["emotion"] + corpora + ["total"],
        [[e] + [stats["corpus_emotions"][c].get(e, 0) for c in corpora] + [stats["emotions"][e]] for e in emotions],
    ))
    print("\n" + _table(["gender", "utterances"], sorted(stats["genders"].items())))
    print("\n" + _table(["intensity", "utterances"], sorted(stats["intensities"].items())))
    if stats["dimensions"]:
        print("\n" + _table(
            ["dimension (-1..1)", "rated", "mean", "std", "min", "max"],
            [[name, d["n"], round(d["mean"], 3), round(d["std"], 3), round(d["min"], 3), round(d["max"], 3)]
             for name, d in stats["dimensions"].items()],
        ))
    info = stats["speaker_info"]
    print("\n" + _table(
        ["speaker", "corpus", "gender", "utterances", "duration"],
        [[s, i["corpus"], i["gender"], i["utterances"], _hours(i["duration_s"])] for s, i in sorted(info.items())],
    ))
    for column in ("fold", "split"):
        # Numbers in numeric order (fold 2 before fold 10), empty values first.
        values = sorted({r.extra[column] for r in rows if column in r.extra}, key=lambda v: (len(v), v))
        if values:
            print("\n" + _table(
                [column, "utterances", "speakers"],
                [
                    [v or "(none)", sum(r.extra.get(column) == v for r in rows),
                     len({r.speaker for r in rows if r.extra.get(column) == v})]
                    for v in values
                ],
            ))
    return 0


# --------------------------------------------------------------------------------------------
# split


def _split(args) -> int:
    import warnings

    from ser.manifest import read_manifest, write_manifest
    from ser.splits import assign_folds, is_speaker_independent, make_folds, protocol_options, with_validation

    flags = {
        "n_folds": ("--folds", args.folds),
        "seed": ("--seed", args.seed),
        "test_size": ("--test-size", args.test_size),
        "stratify": ("--no-stratify", False if args.no_stratify else None),
        "train": ("--train-corpora", _names(args.train_corpora)),
        "test": ("--test-corpora", _names(args.test_corpora)),
        "test_set": ("--test-set", args.test_set),
        "folds_dir": ("--folds-dir", args.folds_dir),
    }
    accepted = protocol_options(args.protocol)
    given = {key: value for key, (_, value) in flags.items() if value is not None}
    # --seed also seeds the validation draw, so it is welcome with --val-fraction.
    unused = [flags[k][0] for k in given if k not in accepted and not (k == "seed" and args.val_fraction)]
    if unused:
        raise SerError(f"protocol {args.protocol} does not take {', '.join(unused)}")

    rows = read_manifest(args.manifest)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        folds = make_folds(rows, args.protocol, **{k: v for k, v in given.items() if k in accepted})
        if args.val_fraction:
            if len(folds) != 1:
                raise SerError(
                    f"--val-fraction is for single splits (random, cross-corpus, official); {args.protocol} has "
                    f"{len(folds)} folds, whose validation speakers are drawn at training time"
                )
            folds = [with_validation(rows, folds[0], fraction=args.val_fraction, seed=args.seed or 0)]
    for warning in caught:
        print(f"ser: warning: {warning.message}", file=sys.stderr)
    path = write_manifest(assign_folds(rows, folds), args.output)

    def count(index) -> str:
        return "-" if index is None else f"{len(index)} ({len({rows[i].speaker for i in index})})"

    table = [
        [f.name, count(f.train), count(f.val), count(f.test), "yes" if is_speaker_independent(f, rows) else "NO: optimistic"]
        for f in folds
    ]
    print(_table(["fold", "train (speakers)", "val (speakers)", "test (speakers)", "speaker-independent"], table))
    unlabelled = sum(1 for r in rows if not r.emotion)
    if unlabelled:
        print(f"{unlabelled} unlabelled rows are in no fold")
    print(f"wrote {path}")
    return 0


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


# --------------------------------------------------------------------------------------------
# plot

SECONDS_SHOWN = 10.0  # long clips are cut for the example plots


def _plot(args) -> int:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SerError("ser data plot needs matplotlib: pip install 'ser[plot]'") from None
    import numpy as np

    from ser.audio import SAMPLE_RATE, AudioError, load
    from ser.features.logmel import HOP_LENGTH, log_mel_spectrogram
    from ser.labels import EMOTIONS
    from ser.manifest import audio_path, describe, read_manifest

    manifest = Path(args.manifest)
    rows = read_manifest(manifest)
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise SerError(f"{out}: not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = []

    # Class counts, one stacked segment per corpus.
    stats = describe(rows)
    emotions = [e for e, _ in _ordered_counts(stats["emotions"])]
    fig = Figure(figsize=(max(6, 0.8 * len(emotions) + 2), 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = np.zeros(len(emotions))
    for corpus, counts in sorted(stats["corpus_emotions"].items()):
        heights = np.array([counts.get(e, 0) for e in emotions])
        ax.bar(emotions, heights, bottom=bottom, label=corpus or "(no corpus)")
        bottom += heights
    ax.set_ylabel("utterances")
    ax.set_title(f"{manifest.name}: utterances per emotion")
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(title="corpus", fontsize="small")
    written.append(_save(fig, out / "class_counts.png"))

    durations = [r.duration for r in rows if r.duration is not None]
    if durations:
        fig = Figure(figsize=(6, 4), layout="constrained")
        ax = fig.add_subplot()
        ax.hist(durations, bins=40)
        ax.set_xlabel("duration (s)")
        ax.set_ylabel("utterances")
        ax.set_title(f"{manifest.name}: clip durations")
        written.append(_save(fig, out / "durations.png"))

    # One example per emotion: the first clip of that emotion that decodes.
    order = [e for e in EMOTIONS if e in stats["emotions"]] + sorted(set(emotions) - set(EMOTIONS) - {"(unlabelled)"})
    for emotion in order:
        candidates = [r for r in rows if r.emotion == emotion][:5]
        signal, row, error = None, None, None
        for candidate in candidates:
            try:
                signal = load(audio_path(candidate.path, manifest.parent), max_duration=None)
                row = candidate
                break
            except AudioError as exc:
                error = exc
        if signal is None:
            print(f"no readable {emotion} example ({error})", file=sys.stderr)
            continue
        signal = signal[: int(SECONDS_SHOWN * SAMPLE_RATE)]
        seconds = len(signal) / SAMPLE_RATE
        title = f"{emotion}: {Path(row.path).name} ({row.speaker})"

        fig = Figure(figsize=(8, 2.5), layout="constrained")
        ax = fig.add_subplot()
        ax.plot(np.arange(len(signal)) / SAMPLE_RATE, signal, linewidth=0.5)
        ax.set_xlim(0, seconds)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("amplitude")
        ax.set_title(title)
        written.append(_save(fig, out / f"waveform_{emotion}.png"))

        fig = Figure(figsize=(8, 3), layout="constrained")
        ax = fig.add_subplot()
        mel = log_mel_spectrogram(signal)  # (80, frames), Whisper's scaled log10 mel power
        image = ax.imshow(
            mel, origin="lower", aspect="auto", extent=(0, mel.shape[1] * HOP_LENGTH / SAMPLE_RATE, 0, mel.shape[0])
        )
        fig.colorbar(image, ax=ax, label="scaled log mel power")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("mel band")
        ax.set_title(title)
        written.append(_save(fig, out / f"spectrogram_{emotion}.png"))

    for path in written:
        print(path)
    return 0


def _save(fig, path: Path) -> Path:
    """Write the figure as PNG; the file appears whole or not at all."""
    from ser.figures import save_png

    return save_png(fig, path, dpi=100, tight=False)


# --------------------------------------------------------------------------------------------
# Text output


def _ordered_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Emotion counts in vocabulary order, then other labels alphabetically, unlabelled last."""
    from ser.labels import EMOTIONS

    rank = {e: i for i, e in enumerate(EMOTIONS)}
    key = lambda item: (item[0] == "(unlabelled)", rank.get(item[0], len(rank)), item[0])  # noqa: E731
    return sorted(counts.items(), key=key)


def _speaker_count(stats: dict, template: str) -> str:
    """`template` filled with the number of speakers, or the words "speakers: unknown" when no row
    names one (an empty speaker is not a speaker); rows without a speaker are counted aside."""
    known = sum(1 for speaker in stats["speakers"] if speaker)
    missing = stats["speakers"].get("", 0)
    if not known:
        return "speakers: unknown (no row names a speaker; speaker-independent splits need them)"
    return template.format(known) + (f" ({missing} rows name no speaker)" if missing else "")


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def _table(headers: list[str], rows: list) -> str:
    """A plain-text table: left-aligned text, right-aligned numbers."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]
    numeric = [bool(rows) and all(isinstance(row[j], (int, float)) for row in rows) for j in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(v.rjust(w) if numeric[j] else v.ljust(w) for j, (v, w) in enumerate(zip(row, widths))).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
