"""``ser data corpora`` and ``ser data download`` (registered by ser.cli.data)."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    corpora = subparsers.add_parser(
        "corpora", help="list the corpus readers: layout, language, licence, whether ser can download it"
    )
    corpora.set_defaults(func=run_corpora)

    fetch = subparsers.add_parser(
        "download",
        help="download a public corpus, verify and unpack it (resumable)",
        description="Download CORPUS into DIR: fetch (resuming an interrupted transfer), verify the "
        "checksum where the publisher gives one, unpack safely, and print the `ser data index` "
        "command to run next. Corpora that need a registration print where to get them.",
    )
    fetch.add_argument("corpus", help="corpus name (see `ser data corpora`)")
    fetch.add_argument("dir", help="folder to download into (created if missing)")
    fetch.add_argument(
        "--accept-licence",
        action="store_true",
        help="agree to the corpus' licence (shown first); required, since downloads cannot ask",
    )
    fetch.add_argument("--mirror", metavar="URL", help="fetch <URL>/<archive name> instead (env SER_DOWNLOAD_BASE)")
    fetch.add_argument("--keep-archives", action="store_true", help="keep the archives after unpacking them")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    fetch.add_argument("--retries", type=int, default=3, help="resume attempts after a dropped connection (3)")
    fetch.set_defaults(func=run_download)


def run_corpora(args) -> int:
    """Print every reader with its layout, language, licence and how to get the corpus."""
    from ser.corpora import info, names

    width = max(map(len, names())) + 1
    for name in names():
        entry = info(name)
        if entry.download is not None:
            how = "download: ser data download " + name
        elif entry.apply:
            how = "download: registration or manual (ser data download " + name + " says how)"
        else:
            how = "download: -"
        try:
            entry.prepare  # noqa: B018  (imports the reader)
        except Exception as exc:  # a reader that fails to import must not hide the others
            print(f"{name:<{width}} unavailable ({type(exc).__name__}: {exc})\n")
            continue
        licence = entry.licence
        if entry.non_commercial and "non-commercial" not in licence.lower():
            licence += " [non-commercial]"
        print(f"{name:<{width}} {entry.title}")
        print(f"{'':<{width}} language: {entry.language or 'any'}   licence: {licence}")
        if entry.homepage:
            print(f"{'':<{width}} homepage: {entry.homepage}")
        print(f"{'':<{width}} layout: {entry.layout}")
        print(f"{'':<{width}} {how}\n")
    return 0


def run_download(args) -> int:
    """Show the licence, then download; print the index command (or where to apply for the corpus)."""
    from ser.corpora.catalog import CORPORA
    from ser.corpora.download import download, licence_notice

    entry = CORPORA.get(args.corpus)
    if entry is not None and entry.download is None and entry.apply:
        print(f"{args.corpus} cannot be downloaded automatically.\n{entry.apply}")
        return 1
    if entry is not None and entry.download is not None:
        print(licence_notice(entry))
    report = download(
        args.corpus,
        args.dir,
        accept_licence=args.accept_licence,
        mirror=args.mirror,
        progress=not args.no_progress,
        retries=args.retries,
        keep_archives=args.keep_archives,
    )
    if report.fetched:
        print(f"downloaded and unpacked {len(report.fetched)} archive(s); {report.audio_files} audio files")
    else:
        print(f"already downloaded: {report.root} ({report.audio_files} audio files); nothing to do")
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("next:")
    print(f"  {report.index_command}")
    return 0
