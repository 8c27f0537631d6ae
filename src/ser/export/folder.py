"""Writing a whole model folder so that a reader never sees half of one."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def staged_folder(target: str | os.PathLike) -> Iterator[Path]:
    """A fresh folder beside `target` that replaces it when the block ends without an exception.

    The block writes the model's files into the yielded folder; on an exception it is removed
    and `target` (if any) is left as it was. `target` may be the folder the block reads from:
    it is replaced only at the end.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ser-model-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a model folder is package data that anyone reads
    try:
        yield staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
