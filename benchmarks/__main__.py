"""Run every benchmark and print one table: ``python -m benchmarks [--quick] [--only N ...]``.

``--baseline REF`` runs git revision REF too, target by target, and prints both side by side.

Exits 0 only if every target is met. ``--quick`` is a short smoke run (smaller sizes, fewer
repetitions: its figures are not the ones the targets are judged on). See
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from benchmarks import (
    bench_decode,
    bench_end_to_end,
    bench_excel,
    bench_fanout,
    bench_gc,
    bench_import,
    bench_memory,
    bench_polling,
)
from benchmarks._baseline import compare
from benchmarks._common import Bench, Row, all_met, machine, say, table
from benchmarks._docs_data import DOCS_DATA, docs_data, write

#: (target number, title, benchmark, time limit in seconds). The limits catch a hang, not a
#: slow machine: they allow about twice what a run takes on a shared, loaded 2-core machine.
BENCHMARKS: tuple[tuple[str, str, Bench, float], ...] = (
    ("1", "fan-out at the ideal bound", bench_fanout.run, 360),
    ("2", "typed decoding near the floor", bench_decode.run, 60),
    ("3", "end-to-end throughput", bench_end_to_end.run, 600),
    ("4", "polling", bench_polling.run, 90),
    ("5", "memory", bench_memory.run, 180),
    ("6", "garbage collection", bench_gc.run, 120),
    ("7", "the Excel export", bench_excel.run, 600),
    ("8", "import time", bench_import.run, 120),
)


async def run_all(quick: bool, only: Sequence[str]) -> list[Row]:
    """Run the chosen benchmarks in turn; a failure or overrun becomes a row that is not met."""
    rows: list[Row] = []
    for number, title, bench, limit in BENCHMARKS:
        if only and number not in only:
            continue
        say(f"\n== {number}. {title}{' (quick)' if quick else ''}")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                rows.extend(await bench(quick))
        except Exception as exc:
            traceback.print_exc()
            why = "over its time limit" if isinstance(exc, TimeoutError) else type(exc).__name__
            rows.append(Row(number, f"{title}: did not finish", why, "finishes", False))
        say(f"   ({time.perf_counter() - started:.1f} s)")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument(
        "--only", nargs="*", default=(), metavar="N", help="run only these targets (1-8)"
    )
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="run git revision REF too (a temporary worktree and venv), side by side",
    )
    parser.add_argument(
        "--write-docs-data",
        nargs="?",
        const=str(DOCS_DATA),
        default=None,
        metavar="PATH",
        help="after a full run, write the results for the docs' charts (default: %(const)s)",
    )
    args = parser.parse_args(argv)
    if args.baseline:
        targets = [number for number, *_ in BENCHMARKS]
        say(compare(args.baseline, quick=args.quick, only=args.only, targets=targets))
        return 0
    if args.write_docs_data and (args.quick or args.only):
        parser.error("--write-docs-data needs a full run (no --quick, no --only)")
    started = time.perf_counter()
    for text in machine():
        say(text)
    rows = asyncio.run(run_all(args.quick, args.only))
    elapsed = time.perf_counter() - started
    met = all_met(rows)
    say()
    say(table(rows))
    say()
    verdict = "every target met" if met else "SOME TARGETS NOT MET"
    say(f"{verdict}; {elapsed:.0f} s{' (quick run: smaller sizes)' if args.quick else ''}")
    if args.write_docs_data:
        command = "python -m benchmarks --write-docs-data"
        write(docs_data(rows, machine(), elapsed, command), Path(args.write_docs_data))
        say(f"wrote {args.write_docs_data}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
