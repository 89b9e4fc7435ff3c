"""Target 7: the Excel export.

Time: 100,000 ``b2b`` records as the simulator makes them (decoded into a merged result
first, not timed) are written to Excel and to CSV in turn, best of N each, alternating so that
a slow spell of the machine lands on both; the target is Excel at most 3x the CSV time.

Memory: fresh processes build 10,000 and 100,000 records, then start ``tracemalloc`` and write
the Excel file: the traced peak is what the export itself allocates (the records it reads are
not counted; they are the caller's). The target is the peak at 100,000 records within 1.1x of
the peak at 10,000. The processes' peak RSS growth during the export is shown for information.

Run alone: ``python -m benchmarks.bench_excel [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks._common import (
    Row,
    current_rss,
    mb,
    peak_rss,
    run_worker,
    say,
    standalone,
    worker_reply,
)
from flynn_async import export
from flynn_async.ims import ImsInvoices
from flynn_async.ims._decoding import structure_invoices
from flynn_async.testing import _data

GSTIN = "24AAAPI3182M002"
MANY, FEW = 100_000, 10_000
RUNS = 3
SLOWER = 3.0
FLAT = 1.10


def make_result(count: int) -> ImsInvoices:
    """``count`` b2b records as the simulator makes them, decoded."""
    return structure_invoices({"b2b": _data.ims_records(7, GSTIN, "b2b", count)})


# ------------------------------------------------------------------------------------------
# In a fresh process: the export's own memory
# ------------------------------------------------------------------------------------------


def worker(payload: dict[str, Any]) -> None:
    """Build the records, then write Excel under tracemalloc; report the peaks."""
    result = make_result(payload["records"])
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        rss_before = current_rss()
        tracemalloc.start()
        try:
            written = export.write_xlsx(result, Path(tmp) / "ims.xlsx")
            traced = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        size = (Path(tmp) / "ims.xlsx").stat().st_size
    worker_reply(
        {
            "records": written,
            "traced_peak": traced,
            "rss_before": rss_before,
            "peak_rss": peak_rss(),
            "size": size,
        }
    )


# ------------------------------------------------------------------------------------------
# In the benchmark process
# ------------------------------------------------------------------------------------------


async def _side_by_side(
    result: ImsInvoices, runs: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """CSV and Excel written in turn ``runs`` times: the times, and the files' sizes."""
    times: dict[str, list[float]] = {"csv": [], "xlsx": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for fmt in ("csv", "xlsx"):
                path = Path(tmp) / f"ims.{fmt}"
                gc.collect()
                started = time.perf_counter()
                export.export(result, path, fmt)
                times[fmt].append(time.perf_counter() - started)
                await asyncio.sleep(0)
        sizes = {fmt: (Path(tmp) / f"ims.{fmt}").stat().st_size for fmt in times}
    return times, sizes


async def run(quick: bool) -> list[Row]:
    """Time Excel against CSV side by side, then the memory of two fresh processes."""
    many = 20_000 if quick else MANY
    few = 2_000 if quick else FEW
    runs = 2 if quick else RUNS
    rows: list[Row] = []
    times, sizes = await _side_by_side(make_result(many), runs)
    best = {fmt: min(values) for fmt, values in times.items()}
    for fmt in ("csv", "xlsx"):
        say(
            f"   {fmt:4} {many:,} records: best {best[fmt]:.2f} s "
            f"({many / best[fmt]:,.0f} records/s; runs {', '.join(f'{t:.2f}' for t in times[fmt])}"
            f"), {mb(sizes[fmt])}"
        )
    ratio = best["xlsx"] / best["csv"]
    rows.append(
        Row(
            "7",
            f"Excel vs CSV time, {many:,} records (best of {runs})",
            f"{best['xlsx']:.2f} s vs {best['csv']:.2f} s ({ratio:.2f}x)",
            f"<= {SLOWER:.0f}x",
            ratio <= SLOWER,
            {"xlsx_s": best["xlsx"], "csv_s": best["csv"], "records": many},
        )
    )
    peaks: dict[int, dict[str, Any]] = {}
    for count in (few, many):
        got = await run_worker("bench_excel", {"records": count})
        if got["records"] != count:
            raise RuntimeError(f"expected {count} records written, got {got}")
        peaks[count] = got
        say(
            f"   fresh process, {count:7,} records: export traced peak {mb(got['traced_peak'])},"
            f" RSS {mb(got['rss_before'])} -> peak {mb(got['peak_rss'])}"
            f" (+{mb(got['peak_rss'] - got['rss_before'])}), file {mb(got['size'])}"
        )
    flat = peaks[many]["traced_peak"] / peaks[few]["traced_peak"]
    rows.append(
        Row(
            "7",
            f"Excel export peak memory (tracemalloc), {many:,} vs {few:,} records",
            f"{mb(peaks[many]['traced_peak'])} vs {mb(peaks[few]['traced_peak'])} ({flat:.2f}x)",
            f"<= {FLAT:.2f}x",
            flat <= FLAT,
            {
                "peak_many_mb": peaks[many]["traced_peak"] / 1e6,
                "peak_few_mb": peaks[few]["traced_peak"] / 1e6,
            },
        )
    )
    growth = {n: p["peak_rss"] - p["rss_before"] for n, p in peaks.items()}
    rows.append(
        Row(
            "7",
            f"peak RSS growth while writing Excel, {many:,} vs {few:,} records",
            f"+{mb(growth[many])} vs +{mb(growth[few])}",
            "(shown)",
            None,
        )
    )
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(json.loads(sys.argv[2]))
    else:
        sys.exit(standalone("Target 7: the Excel export", run))
