"""Target 3: end-to-end throughput.

Records per second through fetch, decode and merge: the simulator in a child process on
loopback, no injected latency, its pages rendered by a warm-up download; the client (default
settings) in this process. Each run submits a task, waits for it, then times
``await task.result()``: the page count, every page fetched over HTTP, decoded into typed
records and merged. Best of N runs, for pages of 500 records (the headline) and of 100.

Run alone: ``python -m benchmarks.bench_end_to_end [--quick]``.
"""

from __future__ import annotations

import sys

from benchmarks._common import RemoteSimulator, Row, ms, say, standalone
from benchmarks.bench_fanout import timed_result
from flynn_async.testing import PagingSettings, RecordSettings, TaskSettings

RECORDS = 100_000
TARGET = 200_000
SIZES = (500, 100)


async def run(quick: bool) -> list[Row]:
    """Measure records per second for each page size; judge pages of 500 records."""
    records = 20_000 if quick else RECORDS
    runs = 2 if quick else 7
    rows = []
    say(f"{records:,} records, no injected latency, simulator in a child process, best of {runs}")
    for size in SIZES:
        config = {
            "records": RecordSettings(per_section=records),
            "paging": PagingSettings(size=size),
            "tasks": TaskSettings(processing_polls=0),
        }
        async with RemoteSimulator(**config) as sim:
            await timed_result(sim.info, 8, 1, records)  # warm-up: render every page
            times = await timed_result(sim.info, 8, runs, records)
        rate = records / min(times)
        say(
            f"  pages of {size:3d}: {rate:9,.0f} records/s (best {ms(min(times))}; "
            + ", ".join(ms(t) for t in times)
            + ")"
        )
        headline = size == SIZES[0]
        rows.append(
            Row(
                "3",
                f"records/s, fetch+decode+merge, pages of {size}, {records:,} records",
                f"{rate:,.0f}/s ({ms(min(times))})",
                f">= {TARGET:,}/s" if headline else "(shown)",
                rate >= TARGET if headline else None,
                {"records_per_s": rate, "records_per_page": size, "records": records},
            )
        )
        if headline:
            async with RemoteSimulator(**config) as sim:
                await timed_result(sim.info, 8, 1, records)
                times = await timed_result(sim.info, 8, runs, records, gc_recipe=True)
            recipe = records / min(times)
            say(
                f"  pages of {size:3d}, the host's GC recipe (gc.disable() around the download):"
                f" {recipe:9,.0f} records/s (best {ms(min(times))})"
            )
            rows.append(
                Row(
                    "3",
                    "the same with the GC recipe of docs/performance.md (host's choice)",
                    f"{recipe:,.0f}/s ({ms(min(times))})",
                    "(shown)",
                    None,
                    {"records_per_s": recipe, "records_per_page": size, "records": records},
                )
            )
    return rows


if __name__ == "__main__":
    sys.exit(standalone("Target 3: end-to-end throughput", run))
