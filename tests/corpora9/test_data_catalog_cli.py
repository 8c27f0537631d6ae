"""``ser data corpora``: every reader listed, with licence and how to get the corpus."""

from __future__ import annotations

import importlib

from ser.cli.main import main
from ser.corpora import names
from ser.corpora.catalog import CORPORA, is_non_commercial


def test_lists_every_reader_and_how_to_get_it(capsys):
    assert main(["data", "corpora"]) == 0
    out = capsys.readouterr().out
    blocks = {block.split()[0]: block for block in out.strip().split("\n\n")}
    assert set(blocks) == set(names())
    for name, block in blocks.items():
        module = importlib.util.find_spec(f"ser.corpora.{'generic' if name in ('folder', 'csv') else name}")
        if module is None:  # a foundation reader not merged into this branch yet
            assert "unavailable" in block
            continue
        assert "licence:" in block and "layout:" in block
        if CORPORA[name].download:
            assert f"ser data download {name}" in block
        elif CORPORA[name].apply:
            assert "registration or manual" in block
    assert "[non-commercial]" in blocks["emovdb"]
    assert "female1_angry_1a_1.wav" in blocks["jl"]


def test_non_commercial_detection():
    assert is_non_commercial("CC BY-NC-SA 4.0")
    assert is_non_commercial("free for research use")
    assert is_non_commercial("research use only")
    assert not is_non_commercial("CC BY 4.0")
    assert not is_non_commercial("ODbL")
