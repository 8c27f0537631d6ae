"""The architecture, checked from the source (no import is executed): layers, cycles, print, the model format.

ser's packages form layers. A module may import modules of its own layer and of the layers below
it, never of a layer above. Low to high, as the code imports (docs/architecture.md draws it):

1. foundation: ``errors``, ``files``, ``figures``, ``model_folder``, ``manifest``, ``labels``,
   ``dimensions``, ``audio`` (and the ``ser`` package itself, which only names lazy attributes).
   The words and formats everything else speaks.
2. data: ``corpora``, ``splits``, ``preprocess``, ``augment``: corpora to manifest rows, rows to
   speaker-independent folds, signals to cleaned or augmented signals.
3. ``features``: signals to arrays (the log-mel front end is numpy, shared with inference).
4. ``models``: torch and scikit-learn networks and classifiers.
5. ``inference``: the torch-free runtime (Recognizer, VAD, backends). It sits above models in
   the order but must not import them (nor training, export, evaluation, torch, scikit-learn or
   librosa): `test_inference_stays_torch_free`. Model folders of other backends are found by the
   string registry in ``model_folder.BACKENDS``, imported only when such a folder is loaded.
6. ``speakers``: voice embeddings and grouping, beside the Recognizer.
7. ``evaluation``: scores a Recognizer (or predictions) on manifest rows.
8. ``training``, ``export``: the orchestration on top: training runs folds, scores them with
   evaluation, exports them with export and checks the exported model with inference.
9. interfaces: ``serve``, ``cli``: parse, format, print.

This import order is not the data flow (audio -> VAD -> corpora -> features -> models ->
training/export -> evaluation -> inference -> interfaces): training produces what inference
loads, but inference never imports training; training imports inference to check its own output.

Imports are read from the syntax tree, at module level and inside functions alike. Known
violations owned by other work in progress are marked xfail (strict: fixing one turns its xfail
into a failure that asks to remove the mark) with the offending edges in the reason.
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "ser"

LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"ser", "errors", "files", "figures", "model_folder", "manifest", "labels", "dimensions", "audio"}),
    ("data", {"corpora", "splits", "preprocess", "augment"}),
    ("features", {"features"}),
    ("models", {"models"}),
    ("speakers", {"speakers"}),
    ("inference", {"inference"}),
    ("evaluation", {"evaluation"}),
    ("training", {"training", "export"}),
    ("interfaces", {"serve", "cli"}),
]
LEVEL = {part: level for level, (_, parts) in enumerate(LAYERS) for part in parts}

# What the torch-free runtime may never import, directly or through the modules it loads.
INFERENCE_FORBIDDEN_SER = ("ser.training", "ser.models", "ser.export", "ser.evaluation")
HEAVY = ("torch", "sklearn", "librosa", "transformers")

# print() outside ser.cli, allowed with a reason. Keep this empty unless it cannot be helped.
PRINT_ALLOWED: dict[str, str] = {}

# Known offenders, each owned by other work in progress: module -> what to change.
KNOWN_PRINTS = {
}


# --------------------------------------------------------------------------------------------
# The import graph


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    """Every module of the ser package: dotted name -> file."""
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "pretrained" not in p.parts}


@lru_cache(maxsize=None)
def imports(name: str) -> tuple[tuple[str, bool], ...]:
    """What module `name` imports: (absolute module name, at module level?) for each import,
    ``from ser.x import y`` naming ``ser.x.y`` when that is a module, else ``ser.x``. Imports
    under ``if TYPE_CHECKING:`` are for type checkers only and do not count."""
    path = modules()[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node.test)
                   for statement in node.body for inner in ast.walk(statement)}
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        at_top = id(node) in top_level or _in_top_level_block(tree, node)
        if isinstance(node, ast.Import):
            found += [(alias.name, at_top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.append((candidate if candidate in modules() else source, at_top))
    return tuple(found)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _in_top_level_block(tree: ast.Module, target: ast.AST) -> bool:
    """True when `target` runs at import time: inside a module-level if/try/with, not a def or class."""
    for statement in tree.body:
        if isinstance(statement, (ast.If, ast.Try, ast.With)):
            if any(node is target for node in ast.walk(statement)) and not _inside_def(statement, target):
                return True
    return False


def _inside_def(root: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(root):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            if any(inner is target for inner in ast.walk(node)):
                return True
    return False


def ser_edges() -> set[tuple[str, str]]:
    """(importer, imported) for every import of a ser module by a ser module."""
    return {(name, target) for name in modules() for target, _ in imports(name)
            if target in modules() and target != name}


def part(name: str) -> str:
    """The top-level part of ser a module belongs to (``ser.inference.vad`` -> ``inference``)."""
    pieces = name.split(".")
    return pieces[1] if len(pieces) > 1 else "ser"


# --------------------------------------------------------------------------------------------
# Checks


def test_every_part_of_ser_has_a_layer():
    unplaced = sorted({part(name) for name in modules()} - set(LEVEL))
    assert not unplaced, f"add these to LAYERS in {Path(__file__).name} (and docs/architecture.md): {unplaced}"


def _cycles() -> list[list[str]]:
    """The import cycles: strongly connected groups of two or more modules (Tarjan's algorithm)."""
    graph: dict[str, list[str]] = {name: [] for name in modules()}
    for source, target in ser_edges():
        graph[source].append(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for name in sorted(graph):
            if name not in index:
                visit(name)
    finally:
        sys.setrecursionlimit(limit)
    return groups


def test_no_import_cycles():
    described = []
    for group in _cycles():
        members = set(group)
        edges = sorted(f"{a} -> {b}" for a, b in ser_edges() if a in members and b in members)
        described.append(f"{', '.join(group)}: {'; '.join(edges)}")
    assert not described, "import cycles:\n" + "\n".join(described)


def layer_violations() -> list[str]:
    """Imports from a lower layer to a higher one, as ``importer -> imported (layer -> layer)``."""
    found = []
    for source, target in sorted(ser_edges()):
        low, high = LEVEL.get(part(source)), LEVEL.get(part(target))
        if low is not None and high is not None and high > low:
            found.append(f"{source} -> {target} ({LAYERS[low][0]} -> {LAYERS[high][0]})")
    return found


def test_no_import_from_a_lower_layer_to_a_higher_one():
    violations = layer_violations()
    assert not violations, "imports up the layers:\n" + "\n".join(violations)


def _reached_by_inference() -> dict[str, list[tuple[str, bool]]]:
    """Each ser module the inference package loads (its own modules with all their imports, the
    rest through module-level imports) -> its imports that count."""
    reached: dict[str, list[tuple[str, bool]]] = {}
    todo = [name for name in modules() if part(name) == "inference"]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        own = part(name) == "inference"
        counted = [(target, top) for target, top in imports(name) if own or top]
        reached[name] = counted
        todo += [target for target, _ in counted if target in modules()]
    return reached


def test_inference_stays_torch_free():
    bad = []
    for name, targets in sorted(_reached_by_inference().items()):
        for target, _ in targets:
            if target.startswith(INFERENCE_FORBIDDEN_SER) or target.split(".")[0] in HEAVY:
                bad.append(f"{name} -> {target}")
    assert not bad, "the inference path reaches the training stack:\n" + "\n".join(sorted(set(bad)))


def print_calls() -> dict[str, list[int]]:
    """Library modules (outside ser.cli) -> line numbers of their print() calls."""
    found: dict[str, list[int]] = {}
    for name, path in modules().items():
        if name == "ser.cli" or name.startswith("ser.cli."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = [node.lineno for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
        if lines:
            found[name] = lines
    return found


@pytest.mark.parametrize("owner", ["new", *sorted(KNOWN_PRINTS)])
def test_the_library_logs_instead_of_printing(owner, request):
    """Only ser.cli prints; library modules log (``logging.getLogger(__name__)``), so a program
    that uses ser decides what reaches its users. One case per known offender (xfail), one for the rest."""
    found = {name: lines for name, lines in print_calls().items() if name not in PRINT_ALLOWED}
    if owner == "new":
        rest = {name: lines for name, lines in found.items() if name not in KNOWN_PRINTS}
        assert not rest, f"print() in library modules (use logging): {rest}"
        return
    request.applymarker(pytest.mark.xfail(strict=True, reason=f"{owner}: {KNOWN_PRINTS[owner]}"))
    assert owner not in found, f"{owner} prints at lines {found[owner]}"


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string literal in the file that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_the_model_format_is_spelled_in_one_place():
    """Only ser.model_folder writes "ser-model/1"; everything else uses MODEL_FORMAT (or read/write_config)."""
    benchmarks = SRC.parent / "benchmarks"
    files = [*modules().values(), *sorted(benchmarks.glob("*.py"))]
    spelled = [f"{path.relative_to(SRC.parent)}:{line}" for path in files
               for line, text in _string_constants(path) if "ser-model/" in text]
    assert [s.split(":")[0] for s in spelled] == ["src/ser/model_folder.py"], spelled


def test_the_checks_see_real_imports():
    """The graph is not empty by mistake: known edges are found, at module level and in functions."""
    edges = ser_edges()
    assert ("ser.evaluation.report", "ser.evaluation.plots") in edges  # `from ser.evaluation import plots`
    assert ("ser.cli.evaluate", "ser.evaluation.evaluate") in edges  # inside a function
    assert ("ser.inference.recognizer", "ser.model_folder") in edges
    assert dict(imports("ser.evaluation.evaluate"))["ser.inference.recognizer"] is True
    assert dict(imports("ser.cli.evaluate"))["ser.evaluation.evaluate"] is False
