"""Helpers shared by the corpus reader tests."""

from __future__ import annotations

from pathlib import Path


def by_name(index) -> dict:
    """The index's utterances keyed by file name."""
    return {Path(u.path).name: u for u in index.utterances}


def skipped_names(index) -> set[str]:
    """The names of the files an index skipped."""
    return {Path(p).name for p, _ in index.skipped}
