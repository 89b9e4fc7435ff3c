"""The package runs the code that is written down: no ``exec``/``eval``/``compile``, no
``ctypes``, no assignment to ``__class__`` (issue 14). The source is read with :mod:`ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import flynn_async

PACKAGE = Path(flynn_async.__file__).parent
FORBIDDEN_CALLS = frozenset({"exec", "eval", "compile", "__import__"})
FORBIDDEN_MODULES = frozenset({"ctypes", "_ctypes"})


def tricks(source: str, name: str) -> list[str]:
    """Every forbidden construct in ``source``, as ``file:line what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_CALLS:
                found.append(f"{where} calls {node.func.id}()")
        elif isinstance(node, ast.Import):
            found += [
                f"{where} imports {a.name}"
                for a in node.names
                if a.name.split(".")[0] in FORBIDDEN_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(f"{where} imports {node.module}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                f"{where} assigns __class__"
                for t in targets
                if isinstance(t, ast.Attribute) and t.attr == "__class__"
            ]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            is_setattr = node.func.attr in ("__setattr__", "force_setattr") or (
                isinstance(node.func, ast.Attribute) and node.func.attr == "setattr"
            )
            if is_setattr and len(node.args) >= 2:
                key = node.args[1]
                if isinstance(key, ast.Constant) and key.value == "__class__":
                    found.append(f"{where} sets __class__")
    return found


def test_the_package_has_no_interpreter_tricks() -> None:
    found = [
        trick
        for path in sorted(PACKAGE.rglob("*.py"))
        for trick in tricks(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE)))
    ]
    assert [] == found


@pytest.mark.parametrize(
    "planted",
    [
        "exec('x = 1')",
        "import ctypes",
        "from ctypes import pythonapi",
        "obj.__class__ = Other",
        "object.__setattr__(obj, '__class__', Other)",
        "code = compile('1', 'f', 'eval')",
    ],
)
def test_the_check_finds_a_planted_trick(planted: str) -> None:
    assert len(tricks(planted, "planted.py")) == 1
