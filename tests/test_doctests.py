"""The examples in ser's docstrings are true: every module with a ``>>>`` example is run by doctest.

An example that needs what the tests do not have (a corpus, a recording, a trained model) is
marked ``# doctest: +SKIP`` where it stands, so that it still reads as an example. Examples run
in an empty temporary folder, with ``...`` matching anything and whitespace runs compared loosely.
"""

from __future__ import annotations

import doctest
import importlib
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "ser"

# Modules whose examples are false today, each owned by other work in progress: module -> why.
# Each is still run (strict xfail: once true, the mark must go), except where running it would
# reach the network.
KNOWN_FALSE = {
    "ser.speakers": "encoder.embed_batch(clips), speaker_turns(signal, ...): clips and signal are never made (NameError)",
    "ser.speakers.clustering": "group_by_voice(embeddings): embeddings are never made (NameError)",
    "ser.speakers.embedding": "encoder.embed(clip_a): clip_a and clip_b are never made (NameError)",
    "ser.speakers.turns": "speaker_turns(signal, ...): signal is never made (NameError)",
}
NOT_RUN: set[str] = set()  # modules whose examples would reach the network if run

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _with_examples() -> list[str]:
    return sorted(_module_name(p) for p in ROOT.rglob("*.py")
                  if "pretrained" not in p.parts and ">>>" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", _with_examples())
def test_examples_are_true(name, tmp_path, monkeypatch, request):
    if name in KNOWN_FALSE:
        request.applymarker(pytest.mark.xfail(strict=True, run=name not in NOT_RUN, reason=f"{name}: {KNOWN_FALSE[name]}"))
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    tests = [t for t in finder.find(module, name) if t.examples]
    assert tests, f"{name} mentions >>> but doctest finds no example in it"
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
