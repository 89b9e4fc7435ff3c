"""What a new user reads first: the README's commands and scripts, the install text, and the
files the documented commands leave in the clone."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import flynn_async

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"


def python_blocks(text: str) -> list[tuple[str, str]]:
    """Each ```python block with the paragraph just before it."""
    blocks = []
    for found in re.finditer(r"((?:[^\n]+\n)*)\n```python\n(.*?)```", text, re.S):
        blocks.append((found.group(1), found.group(2)))
    return blocks


def test_the_demo_output_is_ignored_by_git() -> None:
    (demo,) = re.findall(r"flynn-async demo --out (\S+)", README.read_text())
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        ignored = (ROOT / ".gitignore").read_text().splitlines()
        assert f"/{demo}" in ignored or demo in ignored
        return
    done = subprocess.run(
        ["git", "check-ignore", "-q", demo], cwd=ROOT, capture_output=True, check=False
    )
    assert 0 == done.returncode, f"{demo} is not in .gitignore"


def test_every_readme_script_is_complete_or_says_it_is_a_fragment() -> None:
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 8
    for before, code in blocks:
        complete = "asyncio.run(main())" in code or code.startswith("import pytest")
        assert complete or "fragment" in before.lower(), code.splitlines()[0]


def test_the_readme_quick_start_runs_against_the_simulator(tmp_path: Path) -> None:
    (first_before, first), *_ = python_blocks(README.read_text())
    assert "FlynnSimulator" in first
    assert "simulator" in first_before
    script = tmp_path / "quick_start.py"
    script.write_text(first)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert 0 == done.returncode, done.stderr
    assert 8 == len(re.findall(r"^\w+\s+250 records, taxable \d", done.stdout, re.M))


@pytest.mark.parametrize("path", ["README.md", "docs/quickstart.md", "docs/export.md"])
def test_the_install_text_works_before_the_package_is_published(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "pip install 'flynn-async[" not in text
    assert any(how in text for how in ("pip install '.[", "pip install /path/to/", ".whl"))


@pytest.mark.parametrize("path", ["docs/usage.md", "docs/quickstart.md", "README.md"])
def test_doc_scripts_import_the_names_they_use(path: str) -> None:
    public = set(flynn_async.__all__)
    for _, code in python_blocks((ROOT / path).read_text()):
        imported = set()
        for names in re.findall(r"^from flynn_async import (.+)$", code, re.M):
            imported |= {n.strip() for n in names.strip("()").split(",") if n.strip()}
        if not imported:
            continue  # a fragment
        used = {n for n in re.findall(r"\b([A-Z]\w+)\(", code) if n in public}
        assert used <= imported, (path, sorted(used - imported))
