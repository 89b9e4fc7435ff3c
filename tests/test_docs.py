"""The documentation site: the API reference covers every public name, pages are reachable.

The Sphinx build itself (``sphinx-build -W``) runs in the test command; these checks are the
ones the build cannot make: a public name nobody added to the reference, a required page left
out of the table of contents, a quick-start example that no longer runs.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

import flynn_async
import flynn_async.batch
import flynn_async.einvoice
import flynn_async.gstr2b
import flynn_async.ims
import flynn_async.testing
import flynn_async.testing.pytest_plugin

DOCS = Path(__file__).resolve().parent.parent / "docs"
REFERENCE = DOCS / "reference"

# ".. autoclass:: flynn_async.FlynnClient", ".. py:data:: flynn_async.__version__", ...
_DIRECTIVE = re.compile(r"^\s*\.\. (?:auto\w+|py:\w+):: ([A-Za-z_][\w.]*)", re.MULTILINE)
_TOCTREE = re.compile(r"```\{toctree\}\n(.*?)```", re.DOTALL)


def documented() -> list[str]:
    """Every dotted name an autodoc or py directive of the reference documents, in order."""
    names: list[str] = []
    for page in sorted(REFERENCE.glob("*.md")):
        names += _DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    return names


def public_modules() -> list[ModuleType]:
    """The modules whose ``__all__`` the reference must cover (``export`` once it exists)."""
    modules: list[ModuleType] = [
        flynn_async,
        flynn_async.einvoice,
        flynn_async.gstr2b,
        flynn_async.ims,
        flynn_async.batch,
        flynn_async.testing,
        flynn_async.testing.pytest_plugin,
    ]
    for optional in ("flynn_async.export", "flynn_async.ims"):
        with contextlib.suppress(ModuleNotFoundError):
            modules.append(importlib.import_module(optional))
    return modules


def resolve(dotted: str) -> object:
    """The object a documented name stands for: a module, or an attribute of one."""
    try:
        return importlib.import_module(dotted)
    except ModuleNotFoundError:
        module_name, _, attribute = dotted.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)


def test_the_directive_pattern_reads_both_forms() -> None:
    text = ".. autoclass:: flynn_async.FlynnClient\n   .. py:data:: flynn_async.__version__\n"
    assert ["flynn_async.FlynnClient", "flynn_async.__version__"] == _DIRECTIVE.findall(text)


def missing_names(module: ModuleType, names: list[str]) -> list[str]:
    """The names of ``module.__all__`` that none of the documented ``names`` covers."""
    objects = [resolve(name) for name in names]
    missing = []
    for name in module.__all__:
        if f"{module.__name__}.{name}" in names:
            continue
        # a re-export (flynn_async.einvoice.IrpError is flynn_async.IrpError) counts once
        value = getattr(module, name)
        reexported = isinstance(value, type) or callable(value)
        if not (reexported and any(value is documented for documented in objects)):
            missing.append(name)
    return missing


@pytest.mark.parametrize("module", public_modules(), ids=lambda m: m.__name__)
def test_every_public_name_is_in_the_reference(module: ModuleType) -> None:
    missing = missing_names(module, documented())
    assert [] == missing, f"add these names of {module.__name__} to docs/reference/*.md"


def test_a_forgotten_name_is_reported() -> None:
    fake = ModuleType("flynn_async")
    fake.__all__ = ["FlynnClient", "Forgotten", "compute_irn"]  # type: ignore[attr-defined]
    fake.FlynnClient = flynn_async.FlynnClient  # type: ignore[attr-defined]
    fake.Forgotten = type("Forgotten", (), {})  # type: ignore[attr-defined]
    fake.compute_irn = flynn_async.einvoice.compute_irn  # type: ignore[attr-defined]
    names = ["flynn_async.FlynnClient", "flynn_async.einvoice.compute_irn"]
    assert ["Forgotten"] == missing_names(fake, names)


def test_no_name_is_documented_twice() -> None:
    names = documented()
    assert sorted({n for n in names if names.count(n) > 1}) == []
    by_identity: dict[int, str] = {}
    for name in names:
        value = resolve(name)
        if isinstance(value, type) or callable(value):
            assert id(value) not in by_identity, f"{name} is {by_identity[id(value)]} again"
            by_identity[id(value)] = name


def test_every_documented_name_exists_and_is_public() -> None:
    for name in documented():
        assert not any(part.startswith("_") and part != "__version__" for part in name.split("."))
        resolve(name)  # raises if the name went away


def toctree_entries(page: Path) -> list[str]:
    entries: list[str] = []
    for block in _TOCTREE.findall(page.read_text(encoding="utf-8")):
        entries += [line.strip() for line in block.splitlines() if line and line[0] != ":"]
    return entries


def test_the_home_page_lists_the_pages_in_order() -> None:
    expected = [
        "quickstart",
        "pipeline",
        "configuration",
        "usage",
        "errors",
        "reliability",
        "performance",
        "einvoice",
        "export",
        "cli",
        "batch",
        "fastapi",
        "simulator",
        "testing",
        "api-facts",
        "reference/index",
        "changelog",
    ]
    entries = [entry for entry in toctree_entries(DOCS / "index.md") if entry in expected]
    assert expected == entries


def test_every_page_is_reachable() -> None:
    listed = set(toctree_entries(DOCS / "index.md"))
    listed |= {f"reference/{e}" for e in toctree_entries(REFERENCE / "index.md")}
    listed |= {f"development/{e}" for e in toctree_entries(DOCS / "development" / "index.md")}
    pages = {p.relative_to(DOCS).with_suffix("").as_posix() for p in DOCS.rglob("*.md")}
    pages = {p for p in pages if not p.startswith(("_build/", "examples/"))}
    assert set() == pages - listed - {"index"}


@pytest.mark.parametrize("name", ["pipeline.svg", "pipeline-narrow.svg"])
def test_the_pipeline_picture_is_self_contained_svg_with_text(name: str) -> None:
    svg = (DOCS / "_static" / name).read_text(encoding="utf-8")
    root = ET.fromstring(svg)
    assert "{http://www.w3.org/2000/svg}svg" == root.tag
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    joined = " ".join(texts)
    for step in ("Log in", "GST session", "Submit", "Poll", "Fetch", "Decode", "Merge"):
        assert step in joined
    for side in ("Retries", "Checkpoints", "max_concurrency", "Decimal", "ImsInvoices"):
        assert side in joined
    assert "<image" not in svg
    assert "@import" not in svg
    assert "https://" not in svg
    assert "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_the_quick_start_simulator_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    page = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    section = page.split("## Try it against the simulator", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    exec(compile(code.group(1), "docs/quickstart.md", "exec"), {"__name__": "quickstart"})
    lines = capsys.readouterr().out.splitlines()
    assert 9 == len(lines)
    assert lines[0].startswith("b2b ")
    assert "250 records" in lines[0]
