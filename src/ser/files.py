"""Writing files so that a reader never sees half of one, and showing progress on long work.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target) as handle:
    ...     _ = handle.write("done\\n")
    >>> target.read_text()
    'done\\n'

A crash, Ctrl-C or a full disk inside the ``with`` block leaves the previous file (or none) in
place, never a truncated one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def _umask() -> int:
    # os.umask can only be read by setting it; put it back at once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """A file object that becomes `path` only when the block ends without an exception.

    The data goes to a hidden temporary file next to `path` (same file system, so the final
    ``os.replace`` is atomic), which gets the permissions a plain ``open`` would give (0666 less
    the umask; `tempfile` alone would make it 0600).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        binary = "b" in mode
        with os.fdopen(fd, mode, encoding=None if binary else encoding, newline=None if binary else newline) as handle:
            yield handle
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


class Progress:
    """A progress bar on stderr: tqdm when installed, else a counter line; silent when disabled.

    ``enabled=None`` shows it only when stderr is a terminal. Use as a context manager and call
    ``update(n)``.
    """

    def __init__(self, total: int | None, desc: str = "", unit: str = "it", enabled: bool | None = None, initial: int = 0):
        self.total, self.desc, self.unit, self.count = total, desc, unit, initial
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        if self.enabled:
            try:
                from tqdm import tqdm

                self._bar = tqdm(total=total, initial=initial, desc=desc or None, unit=unit, unit_scale=unit == "B",
                                 file=sys.stderr, dynamic_ncols=True)
            except ImportError:
                self._bar = None

    def update(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
        else:
            total = f"/{self.total}" if self.total else ""
            sys.stderr.write(f"\r{self.desc + ': ' if self.desc else ''}{self.count}{total} {self.unit}")
            sys.stderr.flush()

    def write(self, line: str, file) -> None:
        """Write a line of output to `file` (stdout, say) without tearing the bar on stderr."""
        if self._bar is not None:
            self._bar.write(line, file=file)
        else:
            file.write(line + "\n")

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
