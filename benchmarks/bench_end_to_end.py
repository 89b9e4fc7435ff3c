"""Target 3: end-to-end throughput.

Records per second through fetch, decode and merge: the simulator in a child process on
loopback, no injected latency, its pages rendered by a warm-up download; the client (default
settings) in this process. Each run submits a task, waits for it, then times
``await task.result()``: the page count, every page fetched over HTTP, decoded into typed
records and merged. Best of N runs, for pages of 500 records (the headline) and of 100.

The issue-14 rows: **8 sections**, ``download_all`` of all eight IMS sections (12,500 records
each, 100,000 in all, pages of 500, C = 8), timed whole (submit, wait, fetch, decode, merge),
beside the typed floor client of :mod:`benchmarks._floor` on the same server and the same kind
of tasks (eight tasks, one a section, submitted by the client and seen complete before the
floor's clock starts: the floor is timed from the page counts to its concatenated records).
The two are timed alternately, best of N each; the target is the ratio client / floor in
records a second, judged on pages of documented fields only (``documented_only``, see
:mod:`benchmarks._simserver`: the pages the typed path is for) and shown for the pages as the
simulator serves them (about 1 record in 20 with an undocumented field: nearly every page of
500 takes the client's lossless path, while the floor drops those fields). The client's time
also holds the eight submits and status calls (its first status call after 10 ms: a few
milliseconds more on loopback), the floor's does not.

Library-agnostic (``--baseline REF`` runs this module on REF's library, see
:mod:`benchmarks._baseline`): only the public API, the route constants and the client's token
manager are used, and the simulator's settings groups are given as plain mappings.

Run alone: ``python -m benchmarks.bench_end_to_end [--quick]``.
"""

from __future__ import annotations

import sys
import time

import aiohttp

from benchmarks import _floor
from benchmarks._common import RemoteSimulator, Row, SimInfo, connect, ms, say, standalone
from benchmarks.bench_fanout import QUICK_POLL, timed_result
from flynn_async._http import _api

RECORDS = 100_000
TARGET = 200_000
SIZES = (500, 100)
SECTIONS_RECORDS = 12_500  # a section: 8 x 12,500 = 100,000 records
SECTIONS_PAGE = 500
SECTIONS_C = 8
FLOOR_RATIO = 0.8


async def eight_sections(info: SimInfo, runs: int, expect: int) -> tuple[list[float], list[float]]:
    """``download_all`` of the eight sections and the typed floor client on eight tasks of the
    same sections, alternately: ``runs`` times each, in seconds."""
    async with (
        connect(info, max_concurrency=SECTIONS_C, poll=QUICK_POLL) as (client, session),
        aiohttp.ClientSession() as http,
    ):
        mine: list[float] = []
        floor: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            result = await client.ims.download_all(session)
            mine.append(time.perf_counter() - started)
            if len(result) != expect:
                raise RuntimeError(f"expected {expect} records, got {len(result)}")
            del result
            floor.append(
                await _floor.timed(
                    client,
                    session,
                    http,
                    info.base_url,
                    sections=_api.IMS_SECTIONS,
                    concurrency=SECTIONS_C,
                    expect=expect,
                )
            )
        return mine, floor


async def run_sections(quick: bool) -> list[Row]:
    """The issue-14 rows: 8 sections through the client, beside the typed floor client."""
    per_section = 2_500 if quick else SECTIONS_RECORDS
    records = per_section * len(_api.IMS_SECTIONS)
    runs = 2 if quick else 7
    say(
        f"\n  8 sections, {per_section:,} records each ({records:,}), pages of {SECTIONS_PAGE},"
        f" C={SECTIONS_C}: download_all and the typed floor client alternately, best of {runs}"
    )
    label = f"8 sections, pages of {SECTIONS_PAGE}, C={SECTIONS_C}, {records:,} records"
    rows: list[Row] = []
    for documented in (True, False):
        async with RemoteSimulator(
            records={"per_section": per_section},
            paging={"size": SECTIONS_PAGE},
            tasks={"processing_polls": 0},
            documented_only=documented,
        ) as sim:
            await eight_sections(sim.info, 1, records)  # warm-up: render every page
            mine, floor = await eight_sections(sim.info, runs, records)
        rate, floor_rate = records / min(mine), records / min(floor)
        ratio = rate / floor_rate
        kind = "documented fields only" if documented else "pages as served"
        say(f"  {kind}:")
        for who, best, times in (("download_all", rate, mine), ("typed floor", floor_rate, floor)):
            say(
                f"    {who:>12}: {best:9,.0f} records/s (best {ms(min(times))}; "
                + ", ".join(ms(t) for t in times)
                + ")"
            )
        values = {"records_per_page": SECTIONS_PAGE, "records": records}
        if documented:
            rows.append(
                Row(
                    "3",
                    f"records/s, download_all of {label} ({kind})",
                    f"{rate:,.0f}/s ({ms(min(mine))})",
                    "(shown; >= 1.5x the baseline's: --baseline)",
                    None,
                    {"records_per_s": rate, **values},
                )
            )
            rows.append(
                Row(
                    "3",
                    f"records/s, typed floor client, {label} ({kind})",
                    f"{floor_rate:,.0f}/s ({ms(min(floor))})",
                    "(shown)",
                    None,
                    {"records_per_s": floor_rate, **values},
                )
            )
        rows.append(
            Row(
                "3",
                f"client / typed floor client, records/s, {label} ({kind})",
                f"{ratio:.2f}x ({rate:,.0f}/s vs {floor_rate:,.0f}/s)",
                f">= {FLOOR_RATIO:.2f}x" if documented else "(shown)",
                ratio >= FLOOR_RATIO if documented else None,
                {
                    "ratio": ratio,
                    "client_records_per_s": rate,
                    "floor_records_per_s": floor_rate,
                    **values,
                },
            )
        )
    return rows


async def run(quick: bool) -> list[Row]:
    """Measure records per second for each page size; judge pages of 500 records."""
    records = 20_000 if quick else RECORDS
    runs = 2 if quick else 7
    rows = []
    say(f"{records:,} records, no injected latency, simulator in a child process, best of {runs}")
    for size in SIZES:
        config = {
            "records": {"per_section": records},
            "paging": {"size": size},
            "tasks": {"processing_polls": 0},
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
    rows.extend(await run_sections(quick))
    return rows


if __name__ == "__main__":
    sys.exit(standalone("Target 3: end-to-end throughput", run))
