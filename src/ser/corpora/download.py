"""Download a public corpus, verify it and unpack it, safely and resumably (``ser data download``).

    >>> from ser.corpora.download import download  # doctest: +SKIP
    >>> report = download("emodb", "data", accept_licence=True)  # doctest: +SKIP
    >>> report.index_command  # doctest: +SKIP
    'ser data index emodb data/EmoDB -o manifest.csv'

Every corpus with a stable public download has a `ser.corpora.catalog.Download` in its catalogue
entry: its archives (URL, file name, and the checksum and size where the publisher gives them)
and the folder to index; the licence and homepage are the entry's. Each
archive is fetched into ``DIR/.ser-download/<name>.part`` with HTTP Range requests, so an
interrupted transfer resumes where it stopped; it is then checked (size and checksum where
published; for every archive, that it opens and reads whole) and unpacked into a temporary folder
inside DIR that is renamed into place only when complete. Members that would land outside DIR
(``../``, absolute paths, links pointing out) make the whole archive refused. A marker file per
archive makes a second call a no-op. For corpora released on request, the entry's ``apply`` says
where and how to get them.

Only the standard library touches the network (urllib); ``--mirror URL`` or ``SER_DOWNLOAD_BASE``
replaces every URL by ``<mirror>/<archive file name>`` (tests serve archives from 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import stat
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ser.corpora.base import find_audio
from ser.corpora.catalog import CORPORA, Archive, CorpusInfo, FileSet
from ser.errors import SerError

MIRROR_ENV = "SER_DOWNLOAD_BASE"
_STATE_DIR = ".ser-download"
_CHUNK = 1 << 20


class DownloadError(SerError):
    """A download, its verification or its unpacking failed; the message says what to do."""


class LicenceNotAccepted(DownloadError):
    """The corpus' licence must be accepted (``--accept-licence``) before downloading."""


class UnsafeArchive(DownloadError):
    """An archive member would be written outside the target folder."""


@dataclass
class DownloadReport:
    """What `download` did."""

    corpus: str
    root: Path  # the folder to index
    fetched: list[str] = field(default_factory=list)  # archive names downloaded now
    reused: list[str] = field(default_factory=list)  # archive names already in place
    audio_files: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def index_command(self) -> str:
        return f"ser data index {self.corpus} {shlex.quote(str(self.root))} -o manifest.csv"


def licence_notice(corpus: CorpusInfo) -> str:
    """The lines shown before a download: what, under which licence, how big."""
    kind = "NON-COMMERCIAL licence" if corpus.non_commercial else "licence"
    lines = [f"{corpus.title}", f"  {kind}: {corpus.licence}", f"  homepage: {corpus.homepage}"]
    source = corpus.download
    for archive in source.archives[:3]:
        size = archive.size_note or (f"{archive.size} bytes" if archive.size else "size not published")
        check = "md5" if archive.md5 else "sha256" if archive.sha256 else "no checksum published"
        lines.append(f"  {archive.filename}: {size} [{check}]")
    if len(source.archives) > 3:
        lines.append(f"  ... and {len(source.archives) - 3} more archives")
    if source.note:
        lines.append(f"  note: {source.note}")
    return "\n".join(lines)


def download(
    corpus: str,
    dest: str | os.PathLike,
    *,
    accept_licence: bool = False,
    mirror: str | None = None,
    progress: bool = True,
    retries: int = 3,
    retry_wait_s: float = 2.0,
    keep_archives: bool = False,
    timeout_s: float = 60.0,
) -> DownloadReport:
    """Fetch, verify and unpack `corpus` under `dest`; returns what to index next.

    Raises `LicenceNotAccepted` unless `accept_licence`, `DownloadError` for anything that goes
    wrong on the way (with what to do about it), `UnsafeArchive` for an archive that would write
    outside `dest`. A second call after a complete one does nothing.
    """
    entry = CORPORA.get(corpus)
    source = entry.download if entry is not None else None
    if source is None:
        if entry is not None and entry.apply:
            raise DownloadError(f"{corpus} cannot be downloaded automatically:\n{entry.apply}")
        downloadable = [name for name, e in CORPORA.items() if e.download]
        raise DownloadError(f"no download known for {corpus!r}; downloadable: {', '.join(downloadable)}")
    if not accept_licence:
        raise LicenceNotAccepted(
            f"{corpus} is distributed under: {entry.licence}. Read it at {entry.homepage} and "
            "re-run with --accept-licence to agree to it."
        )
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    state = dest / _STATE_DIR
    state.mkdir(exist_ok=True)
    report = DownloadReport(corpus=corpus, root=dest / source.index_root)
    for archive in source.archives:
        target = dest / archive.into
        marker = state / (archive.into.replace("/", "__") + ".done.json")
        if marker.is_file() and target.is_dir():
            report.reused.append(archive.filename)
            continue
        if target.exists():
            raise DownloadError(
                f"{target} exists but was not made by a finished download; move it away or choose another folder"
            )
        url = f"{mirror.rstrip('/')}/{archive.filename}" if mirror else archive.url
        path = state / archive.filename
        if not path.is_file():  # a file under its final name has been verified already
            part = state / (archive.filename + ".part")
            _fetch_with_retries(url, part, archive, progress, retries, retry_wait_s, timeout_s)
            _verify(part, archive)
            os.replace(part, path)
        files = _extract(path, target, state)
        marker.write_text(json.dumps({"url": url, "md5": archive.md5, "sha256": archive.sha256, "files": files}))
        if not keep_archives:
            path.unlink(missing_ok=True)
        report.fetched.append(archive.filename)
    if source.files is not None:
        fetched = _download_fileset(source.files, dest, state, mirror, progress, retries, retry_wait_s, timeout_s)
        (report.fetched if fetched else report.reused).append(source.files.into)
    report.audio_files = len(find_audio(report.root)) if report.root.is_dir() else 0
    if report.audio_files == 0:
        raise DownloadError(
            f"{report.root}: the archives unpacked but hold no audio files; the source may have changed"
        )
    if source.expected_audio and report.audio_files != source.expected_audio:
        report.warnings.append(
            f"found {report.audio_files} audio files where {corpus} has {source.expected_audio}"
        )
    return report


def _download_fileset(files: FileSet, dest, state, mirror, progress, retries, retry_wait_s, timeout_s) -> bool:
    """Fetch every file of `files` (resuming: finished files are kept), then move them into place.

    Returns False when a finished earlier download made this a no-op.
    """
    target = dest / files.into
    marker = state / (files.into.replace("/", "__") + ".done.json")
    if marker.is_file() and target.is_dir():
        return False
    if target.exists():
        raise DownloadError(
            f"{target} exists but was not made by a finished download; move it away or choose another folder"
        )
    base = f"{mirror.rstrip('/')}/" if mirror else files.raw_base
    listing = state / files.listing_filename
    if not listing.is_file():
        part = state / (files.listing_filename + ".part")
        url = f"{base}{files.listing_filename}" if mirror else files.listing_url
        listing_archive = Archive(url, files.listing_filename, "")
        _fetch_with_retries(url, part, listing_archive, False, retries, retry_wait_s, timeout_s)
        os.replace(part, listing)
    try:
        tree = json.loads(listing.read_text(encoding="utf-8"))
        paths = [e["path"] for e in tree["tree"] if e.get("type") == "blob" and re.fullmatch(files.select, e["path"])]
    except (ValueError, KeyError, TypeError) as exc:
        listing.unlink()
        raise DownloadError(
            f"{files.listing_filename}: not a repository listing ({exc}); it was deleted, run again"
        ) from None
    if tree.get("truncated"):
        raise DownloadError(f"{files.listing_filename}: the listing is truncated; cannot tell which files to fetch")
    if not paths:
        raise DownloadError(
            f"{files.listing_filename}: no file matches {files.select!r}; the repository may have changed"
        )
    work = state / (files.into.replace("/", "__") + ".files")
    with _progress_bar(files.into, len(paths) + len(files.extra_paths), 0, progress, unit="files") as bar:
        for path in (*paths, *files.extra_paths):
            out = work / path
            if not out.is_file():  # under its final name a file is complete and checked
                out.parent.mkdir(parents=True, exist_ok=True)
                part = out.with_name(out.name + ".part")
                url = base + path
                _fetch_with_retries(url, part, Archive(url, path, ""), False, retries, retry_wait_s, timeout_s)
                if path.lower().endswith(".wav"):
                    with part.open("rb") as f:
                        head = f.read(12)
                    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                        part.unlink()
                        raise DownloadError(
                            f"{path}: not a WAV file (a Git LFS pointer or an error page?); it was deleted, run again"
                        )
                os.replace(part, out)
            bar.update(1)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(work, target)
    marker.write_text(json.dumps({"url": files.listing_url, "files": len(paths) + len(files.extra_paths)}))
    return True


def _fetch_with_retries(url, part, archive, progress, retries, retry_wait_s, timeout_s) -> None:
    for attempt in range(retries + 1):
        try:
            _fetch(url, part, archive.size, progress, timeout_s)
            return
        except _Interrupted as exc:
            if attempt == retries:
                raise DownloadError(
                    f"{archive.filename}: the connection dropped at {exc.received} of {exc.total or '?'} bytes "
                    f"(after {attempt + 1} attempt(s)); run the same command again to resume from {part}"
                ) from None
            time.sleep(retry_wait_s * (attempt + 1))


class _Interrupted(Exception):
    def __init__(self, received: int, total: int | None):
        self.received, self.total = received, total


def _fetch(url: str, part: Path, expected_size: int | None, progress: bool, timeout_s: float) -> None:
    """Append the rest of `url` to `part`, asking the server for the missing range only."""
    offset = part.stat().st_size if part.exists() else 0
    if expected_size is not None and offset >= expected_size:
        if offset == expected_size:
            return
        part.unlink()  # longer than the file can be: start again
        offset = 0
    headers = {"User-Agent": "ser-corpus-download (python urllib)", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left past what we have: the .part is whole
            return
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: cannot connect ({reason}); check the network or use --mirror") from None
    with response:
        mode = "ab"
        if offset and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise DownloadError(f"{url}: the server answered range {content_range!r} to bytes={offset}-")
        else:  # the server ignored the range (or there was none): start from the beginning
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else expected_size
        received = offset
        with part.open(mode) as out, _progress_bar(part.name.removesuffix(".part"), total, offset, progress) as bar:
            try:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (http.client.IncompleteRead, ConnectionError, TimeoutError, OSError):
                raise _Interrupted(received, total) from None
    if total is not None and received < total:
        raise _Interrupted(received, total)


def _progress_bar(name: str, total: int | None, initial: int, enabled: bool, unit: str = "B"):
    """The progress of a download (bytes) or of a file set (files) on stderr; nothing when disabled."""
    from ser.files import Progress

    return Progress(total, desc=name, unit=unit, enabled=enabled, initial=initial)


def _verify(path: Path, archive: Archive) -> None:
    """Check size and checksum where published; delete the file and explain when they differ."""
    size = path.stat().st_size
    if archive.size is not None and size != archive.size:
        path.unlink()
        raise DownloadError(
            f"{archive.filename}: {size} bytes where {archive.size} were expected; the file was deleted, "
            "run the same command again to download it afresh"
        )
    for algorithm, expected in (("md5", archive.md5), ("sha256", archive.sha256)):
        if not expected:
            continue
        digest = hashlib.new(algorithm)
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != expected.lower():
            path.unlink()
            raise DownloadError(
                f"{archive.filename}: {algorithm} is {digest.hexdigest()} where the publisher states {expected}; "
                "the corrupt file was deleted. Run the same command again to download it afresh; if it fails "
                "again the mirror or the upstream file has changed"
            )


def _extract(path: Path, target: Path, state: Path) -> int:
    """Unpack `path` into `target` all at once (via a temporary folder); returns the file count."""
    tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=state))
    try:
        if zipfile.is_zipfile(path):
            count = _extract_zip(path, tmp)
        elif tarfile.is_tarfile(path):
            count = _extract_tar(path, tmp)
        else:
            path.unlink()
            raise DownloadError(f"{path.name}: neither a zip nor a tar archive; it was deleted, run again to retry")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(tmp, target)
        return count
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _check_member_name(archive: Path, name: str) -> None:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix) or ".." in PurePosixPath(posix).parts:
        raise UnsafeArchive(
            f"{archive.name}: member {name!r} would be written outside the folder; refusing the archive"
        )


def _extract_zip(path: Path, tmp: Path) -> int:
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            for info in members:
                _check_member_name(path, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsafeArchive(
                        f"{path.name}: member {info.filename!r} is a symbolic link; refusing the archive"
                    )
            zf.extractall(tmp)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        path.unlink(missing_ok=True)
        raise DownloadError(f"{path.name}: corrupt zip archive ({exc}); it was deleted, run again to retry") from None
    return sum(1 for m in members if not m.is_dir())


def _extract_tar(path: Path, tmp: Path) -> int:
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()  # reads the whole archive: a truncated one fails here
            for member in members:
                _check_member_name(path, member.name)
                if member.issym() or member.islnk():
                    base = PurePosixPath(member.name).parent if member.issym() else PurePosixPath()
                    link = PurePosixPath(member.linkname)
                    if link.is_absolute() or ".." in (base / link).parts:
                        raise UnsafeArchive(
                            f"{path.name}: link {member.name!r} -> {member.linkname!r} points outside the folder; "
                            "refusing the archive"
                        )
                elif not (member.isfile() or member.isdir()):
                    raise UnsafeArchive(
                        f"{path.name}: member {member.name!r} is a device or pipe; refusing the archive"
                    )
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the library's own check as well
                tar.extractall(tmp, members=members, filter="data")
            else:  # pragma: no cover
                tar.extractall(tmp, members=members)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, getattr(tarfile, "FilterError", ())):
            raise UnsafeArchive(f"{path.name}: {exc}; refusing the archive") from None
        path.unlink(missing_ok=True)
        raise DownloadError(f"{path.name}: corrupt tar archive ({exc}); it was deleted, run again to retry") from None
    return sum(1 for m in members if m.isfile())
