"""The module map in ``docs/about.md`` lists exactly the package's modules, in its tree."""

from __future__ import annotations

import re
from pathlib import Path

import flynn_async

PACKAGE = Path(flynn_async.__file__).parent
ABOUT = Path(__file__).parent.parent / "docs" / "about.md"


def mapped_files() -> set[str]:
    """The files the map names, as paths relative to the package (``_core/_json.py``)."""
    text = ABOUT.read_text(encoding="utf-8")
    block = text.split("## The package, module by module", 1)[1].split("```text\n", 1)[1]
    block = block.split("```", 1)[0]
    found: set[str] = set()
    folders: list[tuple[int, str]] = []
    for line in block.splitlines()[1:]:  # the first line is "flynn_async/"
        match = re.match(r"^( *)(\S+)", line)
        assert match, line
        indent, name = len(match[1]), match[2]
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if name.endswith("/"):
            folders.append((indent, name.rstrip("/")))
        else:
            found.add("/".join([*(f for _, f in folders), name]))
    return found


def package_files() -> set[str]:
    return {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")} - {
        f"{p.relative_to(PACKAGE).parent.as_posix()}/__init__.py"
        for p in PACKAGE.rglob("__init__.py")
        if p.parent != PACKAGE
    }


def test_the_module_map_matches_the_tree() -> None:
    assert package_files() == mapped_files()
