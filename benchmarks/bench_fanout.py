"""Target 1: page fan-out at the ideal bound.

P = 200 pages, the simulator holding each page request L = 50 ms (``DelaySettings.page``), the
client at concurrency C. The time measured runs from task completion to the merged, typed result:
submit, ``await task.wait()``, then time ``await task.result()`` (the page count, every page
fetched, decoded and merged). With C requests in flight the floor is ceil(P / C) x L.

The simulator runs in a child process (so its work does not share the client's core); its page
bodies are rendered by a warm-up download before anything is timed.

Run alone: ``python -m benchmarks.bench_fanout [--quick]``.
"""

from __future__ import annotations

import gc
import math
import sys
import time

from benchmarks._common import RemoteSimulator, Row, SimInfo, best_of, connect, ms, say, standalone
from flynn_async.testing import DelaySettings, PagingSettings, RecordSettings, TaskSettings

LATENCY = 0.050
PAGES = 200
CURVE = (1, 4, 16, 64)
SIZES = (100, 500)
HEADLINE_C = 16
BOUND = 1.10
SPEEDUP = 12.0


async def timed_result(
    info: SimInfo, concurrency: int, runs: int, expect: int, *, gc_recipe: bool = False
) -> list[float]:
    """``runs`` downloads at ``concurrency``: seconds from task completion to the result.

    ``gc_recipe`` applies the batch-job recipe of docs/performance.md (the collector off
    around the download) to show what a host that chooses it gets.
    """
    async with connect(info, max_concurrency=concurrency) as (client, session):

        async def once() -> float:
            task = await client.ims.submit(session, section="B2B")
            await task.wait()
            if gc_recipe:
                gc.disable()
            started = time.perf_counter()
            try:
                result = await task.result()
                elapsed = time.perf_counter() - started
            finally:
                if gc_recipe:
                    gc.enable()
            if len(result) != expect:
                raise RuntimeError(f"expected {expect} records, got {len(result)}")
            return elapsed

        _, times = await best_of(runs, once)
        return times


async def run(quick: bool) -> list[Row]:
    """Measure the curve for every page size; judge C = 16 with pages of 100 records."""
    pages = 48 if quick else PAGES
    rows: list[Row] = []
    say(
        f"{pages} pages, {LATENCY * 1000:.0f} ms per page request, simulator in a child process;"
        " time from task completion to the merged result"
    )
    for size in SIZES:
        headline = size == SIZES[0]
        config = {
            "records": RecordSettings(per_section=pages * size),
            "paging": PagingSettings(size=size),
            "delays": DelaySettings(page=LATENCY),
            "tasks": TaskSettings(processing_polls=0),
        }
        async with RemoteSimulator(**config) as sim:
            await timed_result(sim.info, 64, 1, pages * size)  # warm-up: render every page
            say(f"\n  pages of {size} records ({pages * size:,} records)")
            say("       C |     ideal |      best |  ratio | runs")
            best: dict[int, float] = {}
            for concurrency in CURVE:
                if quick:
                    runs = 1
                elif concurrency == 1:
                    runs = 2 if headline else 1  # ~10 s a run
                else:
                    runs = 3
                times = await timed_result(sim.info, concurrency, runs, pages * size)
                ideal = math.ceil(pages / concurrency) * LATENCY
                best[concurrency] = min(times)
                say(
                    f"    {concurrency:4d} | {ms(ideal):>9} | {ms(min(times)):>9} |"
                    f" {min(times) / ideal:5.2f}x | " + ", ".join(ms(t) for t in times)
                )
        ideal16 = math.ceil(pages / HEADLINE_C) * LATENCY
        ratio = best[HEADLINE_C] / ideal16
        speedup = best[1] / best[HEADLINE_C]
        label = f"{pages} pages x {size} records"
        rows.append(
            Row(
                "1",
                f"C=16 time to merged result / the ideal,"
                f" rounds of {LATENCY * 1000:.0f} ms ({label})",
                f"{ratio:.2f}x ({ms(best[HEADLINE_C])} vs {ms(ideal16)})",
                f"<= {BOUND:.2f}x" if headline else "(shown)",
                ratio <= BOUND if headline else None,
                {
                    "pages": pages,
                    "records_per_page": size,
                    "c16_ms": best[HEADLINE_C] * 1000,
                    "ideal_ms": ideal16 * 1000,
                },
            )
        )
        rows.append(
            Row(
                "1",
                f"C=16 speed-up over C=1 ({label})",
                f"{speedup:.1f}x ({ms(best[1])} vs {ms(best[HEADLINE_C])})",
                f">= {SPEEDUP:.0f}x" if headline else "(shown)",
                speedup >= SPEEDUP if headline else None,
                {
                    "pages": pages,
                    "records_per_page": size,
                    "c1_ms": best[1] * 1000,
                    "c16_ms": best[HEADLINE_C] * 1000,
                },
            )
        )
    return rows


if __name__ == "__main__":
    sys.exit(standalone("Target 1: fan-out at the ideal bound", run))
