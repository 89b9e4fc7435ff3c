"""Target 5: memory.

Holding: a fresh client process downloads 100,000 records (1,000 pages of 100) with
``task.result()`` under ``tracemalloc``; the memory still allocated once the merged result is
built (garbage collected, the result held) is divided by the record count. It includes what the
records share (cached dates and whole-rupee amounts), so it is what holding the result costs.

Streaming: fresh client processes walk ``task.pages()`` and ``task.records()`` over 10 and over
1,000 pages, keeping nothing, and report their peak RSS; after every page handed on they ask the
simulator how many page requests it has received, so the figure "pages requested ahead of the
consumer" is counted, not timed. ``task.result()`` over the same pages is shown for contrast.

The simulator runs in a child process (its memory is not the client's); every client process
is started fresh so that its peak RSS is its own.

Run alone: ``python -m benchmarks.bench_memory [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tracemalloc
from typing import Any

import aiohttp

from benchmarks._common import (
    RemoteSimulator,
    Row,
    SimInfo,
    connect,
    current_rss,
    mb,
    peak_rss,
    run_worker,
    say,
    sim_stats,
    standalone,
    worker_reply,
)
from flynn_async.testing import PagingSettings, RecordSettings, TaskSettings

PAGE = 100
FEW, MANY = 10, 1_000
CONCURRENCY = 8
PER_RECORD = 1_000  # bytes held per record (issue 14: at most 1.0 KB)
FLAT = 1.10


# ------------------------------------------------------------------------------------------
# In the client process
# ------------------------------------------------------------------------------------------


async def hold(info: SimInfo) -> dict[str, Any]:
    """Download everything with ``result()`` under tracemalloc; memory held per record."""
    async with connect(info, max_concurrency=CONCURRENCY) as (client, session):
        task = await client.ims.submit(session, section="B2B")
        await task.wait()
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            result = await task.result()
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        return {"records": len(result), "held": after - before}


async def stream(info: SimInfo, mode: str) -> dict[str, Any]:
    """Walk ``pages()``/``records()`` keeping nothing (or hold ``result()``): peak RSS, pages
    requested ahead of the consumer."""
    async with (
        connect(info, max_concurrency=CONCURRENCY) as (client, session),
        aiohttp.ClientSession() as control,
    ):
        task = await client.ims.submit(session, section="B2B")
        await task.wait()
        await sim_stats(info, control, reset=True)
        gc.collect()
        rss_before = current_rss()
        handed = records = ahead = 0

        async def check() -> None:
            nonlocal ahead
            requested = (await sim_stats(info, control))["calls"].get("task_page", 0)
            ahead = max(ahead, requested - handed)

        if mode == "pages":
            async for page in task.pages():
                handed += 1
                records += len(page)
                await check()
        elif mode == "records":
            async for _section, _record in task.records():
                if records % PAGE == 0:  # the first record of a page
                    handed += 1
                    await check()
                records += 1
        else:
            result = await task.result()
            handed = await task.page_count()
            records = len(result)
        return {
            "records": records,
            "pages": handed,
            "rss_before": rss_before,
            "peak_rss": peak_rss(),
            "ahead": ahead,
        }


def worker(payload: dict[str, Any]) -> None:
    """The client-process side: run one measurement and reply."""
    info = SimInfo.from_json(payload["sim"])
    if payload["mode"] == "hold":
        worker_reply(asyncio.run(hold(info)))
    else:
        worker_reply(asyncio.run(stream(info, payload["mode"])))


# ------------------------------------------------------------------------------------------
# In the benchmark process
# ------------------------------------------------------------------------------------------


async def run(quick: bool) -> list[Row]:
    """Start the simulators, run each measurement in a fresh client process."""
    many = 200 if quick else MANY
    few = FEW
    rows: list[Row] = []
    paged = {"paging": PagingSettings(size=PAGE), "tasks": TaskSettings(processing_polls=0)}
    async with (
        RemoteSimulator(records=RecordSettings(per_section=few * PAGE), **paged) as s1,
        RemoteSimulator(records=RecordSettings(per_section=many * PAGE), **paged) as s2,
    ):
        sims = {few: s1.info.to_json(), many: s2.info.to_json()}
        held = await run_worker("bench_memory", {"mode": "hold", "sim": sims[many]})
        per_record = held["held"] / held["records"]
        say(
            f"holding a merged result of {held['records']:,} records: {mb(held['held'])} traced"
            f" ({per_record:,.0f} bytes/record)"
        )
        rows.append(
            Row(
                "5",
                f"memory held by a merged result ({held['records']:,} records, tracemalloc)",
                f"{per_record / 1000:.2f} KB/record ({mb(held['held'])})",
                f"<= {PER_RECORD / 1000:.1f} KB/record",
                per_record <= PER_RECORD,
                {"bytes_per_record": per_record, "records": held["records"]},
            )
        )
        say(f"pages of {PAGE} records, max_concurrency={CONCURRENCY}, a fresh process each:")
        say("   method    | pages | records | RSS before | peak RSS | growth   | pages ahead")
        peaks: dict[tuple[str, int], int] = {}
        ahead: dict[str, int] = {}
        for mode in ("pages", "records", "result"):
            for count in (few, many):
                got = await run_worker("bench_memory", {"mode": mode, "sim": sims[count]})
                if got["records"] != count * PAGE:
                    raise RuntimeError(f"{mode}: expected {count * PAGE} records, got {got}")
                peaks[mode, count] = got["peak_rss"]
                ahead[mode] = max(ahead.get(mode, 0), got["ahead"])
                say(
                    f"   {mode:9} | {count:5} | {got['records']:7,} | {mb(got['rss_before']):>10} |"
                    f" {mb(got['peak_rss']):>8} | {mb(got['peak_rss'] - got['rss_before']):>8} |"
                    f" {got['ahead'] if mode != 'result' else '-':>5}"
                )
    for mode in ("pages", "records", "result"):
        ratio = peaks[mode, many] / peaks[mode, few]
        streaming = mode != "result"
        rows.append(
            Row(
                "5",
                f"peak RSS, task.{mode}(): {many:,} pages vs {few}",
                f"{mb(peaks[mode, many])} vs {mb(peaks[mode, few])} ({ratio:.2f}x)",
                f"<= {FLAT:.2f}x" if streaming else "(contrast)",
                ratio <= FLAT if streaming else None,
                {
                    "pages_many": many,
                    "pages_few": few,
                    "peak_rss_many_mb": peaks[mode, many] / 1e6,
                    "peak_rss_few_mb": peaks[mode, few] / 1e6,
                },
            )
        )
    worst = max(ahead["pages"], ahead["records"])
    rows.append(
        Row(
            "5",
            f"pages requested ahead of the consumer, pages()/records() (C={CONCURRENCY})",
            f"{ahead['pages']} / {ahead['records']}",
            f"<= C = {CONCURRENCY}",
            worst <= CONCURRENCY,
            {"ahead_pages": ahead["pages"], "ahead_records": ahead["records"]},
        )
    )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(json.loads(sys.argv[2]))
    else:
        sys.exit(standalone("Target 5: memory", run))
