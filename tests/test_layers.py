"""The package's layers: imports point down only, none hide in functions, no import cycles.

The layers, lowest first (a module may import its own layer-package and any lower layer)::

    _core <- _http <- _tasks <- gst <- ims | einvoice <- batch | export <- _client
          <- flynn_async (the package's __init__) <- testing <- cli <- __main__

Siblings on one rung (``ims`` and ``einvoice``, ``batch`` and ``export``) do not import each
other. An import inside a function (lazy) or under ``if TYPE_CHECKING:`` is allowed within a
layer-package only: across layers it would hide a wrong-way dependency from Python's import
order. The checker reads the source with :mod:`ast`; nothing is imported.
"""

from __future__ import annotations

import ast
import functools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import flynn_async

PACKAGE = Path(flynn_async.__file__).parent
ROOT = "flynn_async"

#: Each layer-package (first component after ``flynn_async``; ``""`` is the package's own
#: ``__init__``) and its rung. Equal rungs are siblings.
RUNGS: dict[str, int] = {
    "_core": 0,
    "_http": 1,
    "_tasks": 2,
    "gst": 3,
    "ims": 4,
    "einvoice": 4,
    "gstr2b": 4,
    "batch": 5,
    "export": 5,
    "_client": 6,
    "": 7,
    "testing": 8,
    "cli": 9,
    "__main__": 10,
}


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([ROOT, *parts])


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


class _Imports(ast.NodeVisitor):
    """Every import of ``flynn_async`` in one module: (target, line, lazy, type-only)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, int, bool, bool]] = []
        self._depth = 0
        self._type_only = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            self._type_only += 1
            for child in node.body:
                self.visit(child)
            self._type_only -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _add(self, target: str, line: int) -> None:
        if target == ROOT or target.startswith(ROOT + "."):
            self.found.append((target, line, self._depth > 0, self._type_only > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            target = ".".join([*base, *([node.module] if node.module else [])])
        else:
            target = node.module or ""
        for alias in node.names:
            # `from flynn_async import batch` imports the module flynn_async.batch
            self._add(
                f"{target}.{alias.name}" if _is_module(f"{target}.{alias.name}") else target,
                node.lineno,
            )


_MODULES: set[str] = set()


def _is_module(name: str) -> bool:
    return name in _MODULES


def _modules(package: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*.py")):
        yield _module_name(path, package), path


@functools.cache
def _imports_of(
    module: str, is_package: bool, source: str, modules: frozenset[str]
) -> tuple[tuple[str, int, bool, bool], ...]:
    """The imports one module's source makes, given the package's modules.

    Cached on exactly what the answer depends on: the tests that plant an import in a copy of
    the package read every file afresh, and parse only the one whose text changed.
    """
    _MODULES.clear()
    _MODULES.update(modules)
    visitor = _Imports(module, is_package)
    visitor.visit(ast.parse(source, module))
    return tuple(visitor.found)


def import_edges(package: Path) -> list[tuple[str, str, int, bool, bool]]:
    """(importer, imported, line, lazy, type-only) for every import inside the package."""
    modules = dict(_modules(package))
    names = frozenset(modules)
    edges = []
    for module, path in modules.items():
        source = path.read_text(encoding="utf-8")
        found = _imports_of(module, path.name == "__init__.py", source, names)
        for target, line, lazy, type_only in found:
            edges.append((module, target, line, lazy, type_only))
    return edges


def layer_violations(package: Path) -> list[str]:
    """Each import that points up or sideways, or hides across layers; empty when clean."""
    problems = []
    for module, target, line, lazy, type_only in import_edges(package):
        source, dest = _layer(module), _layer(target)
        where = f"{module}:{line} imports {target}"
        if source not in RUNGS or dest not in RUNGS:
            problems.append(f"{where}: a layer the test does not know (add it to RUNGS)")
            continue
        if source == dest:
            continue
        if RUNGS[dest] >= RUNGS[source]:
            problems.append(f"{where}: points up or sideways ({source or ROOT} -> {dest or ROOT})")
        elif lazy or type_only:
            kind = "inside a function" if lazy else "under TYPE_CHECKING"
            problems.append(f"{where}: a cross-layer import {kind}")
    return problems


def import_cycles(package: Path) -> list[list[str]]:
    """Cycles among module-level imports (lazy ones are left out: they run later)."""
    graph: dict[str, set[str]] = {}
    for module, target, _, lazy, _type_only in import_edges(package):
        if not lazy and target != module:
            graph.setdefault(module, set()).add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_imports_point_down_only() -> None:
    assert [] == layer_violations(PACKAGE)


def test_no_import_cycles() -> None:
    assert [] == import_cycles(PACKAGE)


def test_every_layer_package_is_known() -> None:
    layers = {_layer(m) for m, _ in _modules(PACKAGE)}
    assert set() == layers - set(RUNGS)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / ROOT
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _plant(package: Path, relative: str, code: str) -> None:
    path = package / relative
    path.write_text(path.read_text(encoding="utf-8") + "\n" + code + "\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("relative", "code", "expected"),
    [
        # the transport reaching up into IMS
        (
            "_http/_transport.py",
            "from flynn_async.ims._decoding import structure_invoices",
            "flynn_async._http._transport:",
        ),
        # the IMS API importing the batch runner above it
        ("ims/_download.py", "from flynn_async import batch", "points up"),
        # siblings: e-invoice models borrowing IMS names
        ("einvoice/_models.py", "from flynn_async.ims._models import ImsSection", "sideways"),
        # a relative import reaching up
        ("_core/_values.py", "from .._client import FlynnClient", "points up"),
        # the package's __init__ pulls in everything: nothing below it may import it
        ("gst/_gst.py", "import flynn_async", "points up"),
        # a downward import hidden inside a function
        (
            "cli/_common.py",
            "def later():\n    from flynn_async.export import export\n    return export",
            "inside a function",
        ),
        # a downward import hidden from Python under TYPE_CHECKING
        (
            "batch/_runner.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from flynn_async._tasks._task import Task",
            "under TYPE_CHECKING",
        ),
    ],
)
def test_a_planted_wrong_way_import_is_reported(
    copy: Path, relative: str, code: str, expected: str
) -> None:
    assert [] == layer_violations(copy)
    _plant(copy, relative, code)
    problems = layer_violations(copy)
    assert 1 == len(problems), problems
    assert expected in problems[0]


def test_a_planted_cycle_is_reported(copy: Path) -> None:
    _plant(copy, "gst/_session.py", "from flynn_async.gst import _gst")
    cycles = import_cycles(copy)
    assert cycles
    assert any("flynn_async.gst._session" in c and "flynn_async.gst._gst" in c for c in cycles)


def test_a_lazy_import_within_a_layer_is_allowed(copy: Path) -> None:
    _plant(copy, "gst/_session.py", "def later():\n    from flynn_async.gst import _store")
    assert [] == layer_violations(copy)
