"""``python -m benchmarks --baseline REF``: the benchmarks of REF and of this tree, side by side.

REF (any git revision) is checked out into a temporary git worktree; a temporary virtual
environment runs it: its interpreter is this one's, its ``sys.path`` puts REF's tree first and
then this environment's packages (the same dependencies, no download). Each target is run in
child processes, alternately REF then this tree, so both meet the same machine at the same
hour; each child runs REF's or this tree's own benchmark code on its own library, with the same
sizes and seeds (so the same pages from the same simulated server). The rows are read back
from each child's result table and printed together.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tempfile
import venv
from collections.abc import Sequence
from pathlib import Path

__all__ = ["compare", "parse_table"]

ROOT = Path(__file__).resolve().parent.parent
_ROW = re.compile(r"^\| (?P<cells>.*) \|$")


def parse_table(output: str) -> list[tuple[str, str, str, str, str]]:
    """The rows of the result table a ``python -m benchmarks`` run printed (header left out)."""
    rows = []
    for line in output.splitlines():
        match = _ROW.match(line.strip())
        if not match:
            continue
        cells = tuple(c.strip() for c in match["cells"].split(" | "))
        if len(cells) != 5 or cells[0] == "#":
            continue
        rows.append((cells[0], cells[1], cells[2], cells[3], cells[4]))
    return rows


def _worktree(ref: str, where: Path) -> Path:
    tree = where / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(tree), ref],
        check=True,
    )
    return tree


def _environment(tree: Path, where: Path) -> Path:
    """A virtual environment whose path is REF's tree, then this environment's packages."""
    env = where / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env)
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(env), "platbase": str(env)}))
    here = sysconfig.get_path("purelib")
    # first REF's tree (before this environment's editable install of this tree), then the rest
    (purelib / "00-baseline.pth").write_text(f"{tree}\n{here}\n", encoding="utf-8")
    return env / ("Scripts" if os.name == "nt" else "bin") / "python"


def _run(python: Path | str, cwd: Path, args: Sequence[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    done = subprocess.run(
        [str(python), "-m", "benchmarks", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout + done.stderr


def compare(ref: str, *, quick: bool, only: Sequence[str], targets: Sequence[str]) -> str:
    """Run each target for REF and for this tree in turn; the side-by-side table."""
    chosen = list(only) or list(targets)
    rows: list[tuple[str, str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="flynn-baseline-") as tmp:
        where = Path(tmp)
        tree = _worktree(ref, where)
        try:
            python = _environment(tree, where)
            for number in chosen:
                args = [*(["--quick"] if quick else []), "--only", number]
                before = {r[1]: r for r in parse_table(_run(python, tree, args))}
                after = parse_table(_run(sys.executable, ROOT, args))
                for _, figure, measured, goal, met in after:
                    old = before.get(figure)
                    rows.append((number, figure, old[2] if old else "?", measured, goal, met))
                for figure, old in before.items():
                    if figure not in {r[1] for r in after}:
                        rows.append((number, figure, old[2], "?", old[3], "?"))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    head = ("#", "figure", f"baseline {ref}", "this tree", "target", "met")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(r) for r in rows)])
