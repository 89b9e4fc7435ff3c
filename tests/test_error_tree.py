"""The one exception tree: every error lives in ``_core/_errors.py``, and its docstring draws all
of them, each under its real base class."""

from __future__ import annotations

import inspect
import re

import pytest

import flynn_async
import flynn_async.einvoice
from flynn_async import batch
from flynn_async._core import _errors


def drawn_tree() -> dict[str, str | None]:
    """``name -> parent name`` as the module docstring draws it (the root's parent is None)."""
    doc = _errors.__doc__
    assert doc is not None
    block = doc.split("::\n", 1)[1].strip("\n").split("\n\n", 1)[0]
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in block.splitlines():
        match = re.match(r"^ {4}(?P<branches>[│ ]*)(?:[├└]── )?(?P<name>[A-Z]\w+)", line)
        assert match, line
        name = match["name"]
        depth = len(match["branches"]) // 4 + (1 if re.search(r"[├└]── ", line) else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def public_errors() -> set[type[BaseException]]:
    found = set()
    for module in (flynn_async, flynn_async.einvoice, batch):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseException):
                found.add(value)
    return found


def test_every_public_error_is_drawn() -> None:
    drawn = drawn_tree()
    missing = sorted(e.__name__ for e in public_errors() if e.__name__ not in drawn)
    assert [] == missing


def test_every_error_lives_in_the_errors_module() -> None:
    assert {_errors.__name__} == {e.__module__ for e in public_errors()}


def test_every_error_class_of_the_module_is_drawn() -> None:
    classes = {
        name
        for name, value in vars(_errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == _errors.__name__
    }
    assert classes == set(drawn_tree())


@pytest.mark.parametrize(("name", "parent"), sorted(drawn_tree().items(), key=str))
def test_each_drawn_error_is_under_its_drawn_parent(name: str, parent: str | None) -> None:
    cls = getattr(_errors, name)
    if parent is None:
        assert cls is flynn_async.FlynnError
    else:
        assert getattr(_errors, parent) in cls.__bases__


def test_the_drawing_is_read_as_a_tree() -> None:
    tree = drawn_tree()
    assert tree["FlynnError"] is None
    assert tree["TooManyTokens"] == "AuthError"
    assert tree["EInvoiceNotFound"] == "IrpError"
    assert tree["BatchError"] == "FlynnError"
    assert len(tree) >= 26
