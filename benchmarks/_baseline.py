"""``python -m benchmarks --baseline REF``: the benchmarks of REF and of this tree, side by side.

REF (any git revision) is checked out into a temporary git worktree; a temporary virtual
environment runs it: its interpreter is this one's, its ``sys.path`` puts REF's tree first and
then this environment's packages (the same dependencies, no download). Each target is run in
child processes, alternately REF then this tree, so both meet the same machine at the same
hour, with the same sizes and seeds (so the same pages from the same simulated server). The
rows are read back from each child's result table and printed together.

Whose benchmark code runs on REF's library depends on the target:

- Targets whose code is library-agnostic, :data:`AGNOSTIC` (1, the fan-out, and 3, end to end):
  REF's library runs **this tree's** benchmark code. These benchmarks use only the public API,
  the route constants of ``flynn_async._http._api`` and the client's token manager (all in
  every tree compared), so the same code can measure both libraries, and it must: the rows a
  newer tree adds (the typed floor client of :mod:`benchmarks._floor`, the 8-section
  download) would otherwise have no baseline figure, and a change to how a row is measured
  would pass for a change of the library. The files of :data:`SHARED` are copied from this
  tree over a copy of REF's ``benchmarks/`` in a directory of their own (REF's tree itself is
  left as it is), and those targets run from there.
- The other targets (decoding, polling, memory, garbage collection, the Excel export) reach
  into the library's internals, which change from tree to tree: REF's own benchmark code runs
  on REF's library.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import venv
from collections.abc import Sequence
from pathlib import Path

__all__ = ["compare", "parse_table"]

ROOT = Path(__file__).resolve().parent.parent

#: The targets whose benchmark code is library-agnostic: REF runs this tree's code for them.
AGNOSTIC: frozenset[str] = frozenset({"1", "3"})
#: The files of ``benchmarks/`` those targets need, copied from this tree for REF's runs.
SHARED: tuple[str, ...] = (
    "_common.py",
    "_simserver.py",
    "_floor.py",
    "bench_fanout.py",
    "bench_end_to_end.py",
)
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


def _overlay(tree: Path, where: Path) -> Path:
    """A directory holding REF's ``benchmarks/`` with this tree's :data:`SHARED` files over it
    (no library: REF's comes from the environment's path)."""
    overlay = where / "agnostic"
    shutil.copytree(tree / "benchmarks", overlay / "benchmarks")
    for name in SHARED:
        shutil.copy2(ROOT / "benchmarks" / name, overlay / "benchmarks" / name)
    return overlay


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
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flynn-baseline-") as tmp:
        where = Path(tmp)
        tree = _worktree(ref, where)
        try:
            python = _environment(tree, where)
            overlay = _overlay(tree, where) if AGNOSTIC.intersection(chosen) else tree
            for number in chosen:
                args = [*(["--quick"] if quick else []), "--only", number]
                code = overlay if number in AGNOSTIC else tree
                output = _run(python, code, args)
                before = {r[1]: r for r in parse_table(output)}
                if not before:
                    failures.append(_failure(f"{ref}, target {number}", output))
                output = _run(sys.executable, ROOT, args)
                after = parse_table(output)
                if not after:
                    failures.append(_failure(f"this tree, target {number}", output))
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
    return "\n".join([*failures, line(head), rule, *(line(r) for r in rows)])


def _failure(who: str, output: str, lines: int = 20) -> str:
    """What a run that printed no result table said last (so a failure is not just ``?``)."""
    tail = "\n".join(f"    {text}" for text in output.rstrip().splitlines()[-lines:])
    return f"{who}: no result table; its output ended:\n{tail}\n"
