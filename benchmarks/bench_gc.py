"""Target 6: garbage collection.

A fresh client process downloads 100,000 records (200 pages of 500) with ``task.result()``
while a ``gc.callbacks`` hook times every collection; the share is collection time over the
download's wall time. The process then checks that:

- the download leaves no cyclic garbage: with collection paused, a second download's result is
  dropped and ``gc.collect()`` must find nothing unreachable (everything was freed by reference
  counting);
- the library never changes the host's ``gc`` settings (enabled, thresholds, debug flags,
  frozen objects) on import or while downloading.

The batch-job recipe of ``docs/performance.md`` (``gc.disable()`` around the download, then
``gc.enable()``; or ``gc.freeze()`` after it to keep a held result out of later collections) is
measured in the same process. The simulator runs in a child process.

Run alone: ``python -m benchmarks.bench_gc [--quick]``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from benchmarks._common import (
    RemoteSimulator,
    Row,
    SimInfo,
    connect,
    ms,
    run_worker,
    say,
    standalone,
)
from flynn_async.testing import PagingSettings, RecordSettings, TaskSettings

RECORDS = 100_000
PAGE = 500


def _settings() -> tuple[Any, ...]:
    return (gc.isenabled(), gc.get_threshold(), gc.get_debug(), gc.get_freeze_count())


class GcTimer:
    """Time spent in collections, and their count by generation, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections: Counter[int] = Counter()
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self)


async def measure(info: SimInfo, runs: int) -> dict[str, Any]:
    """The client-process side (see the module docstring)."""
    before = _settings()
    out: dict[str, Any] = {}
    async with connect(info) as (client, session):

        async def download(recipe: str) -> tuple[float, GcTimer, int]:
            task = await client.ims.submit(session, section="B2B")
            await task.wait()
            gc.collect()
            with GcTimer() as timer:
                started = time.perf_counter()
                if recipe == "disable":
                    gc.disable()
                    try:
                        result = await task.result()
                    finally:
                        gc.enable()
                else:
                    result = await task.result()
                elapsed = time.perf_counter() - started
            count = len(result)
            del result
            return elapsed, timer, count

        # Alternately, so that the machine's slow and fast spells fall on both alike.
        best: dict[str, tuple[float, GcTimer, int]] = {}
        for _ in range(runs):
            for recipe in ("default", "disable"):
                got = await download(recipe)
                if recipe not in best or got[0] < best[recipe][0]:
                    best[recipe] = got
        for recipe, (elapsed, timer, count) in best.items():
            out[recipe] = {
                "seconds": elapsed,
                "gc_seconds": timer.seconds,
                "collections": [timer.collections[g] for g in range(3)],
                "records": count,
            }

        # Cyclic garbage: pause collection, drop a result, see what only the collector frees.
        task = await client.ims.submit(session, section="B2B")
        await task.wait()
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            result = await task.result()
            del result
            unreachable = gc.collect()
            kinds = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
            gc.garbage.clear()
        finally:
            gc.set_debug(0)
            gc.enable()
        out["unreachable"] = unreachable
        out["garbage_kinds"] = kinds.most_common(8)

        # gc.freeze(): a held result no longer walked by later full collections.
        task = await client.ims.submit(session, section="B2B")
        await task.wait()
        held = await task.result()
        gc.collect()
        started = time.perf_counter()
        gc.collect()
        walk = time.perf_counter() - started
        gc.freeze()
        started = time.perf_counter()
        gc.collect()
        frozen_walk = time.perf_counter() - started
        gc.unfreeze()
        tracked = sum(gc.is_tracked(record) for _, record in held.records())
        out["full_collection"] = {
            "held": walk,
            "frozen": frozen_walk,
            "records": len(held),
            "tracked": tracked,
        }
        del held
    out["settings_unchanged"] = before == _settings() and _import_leaves_gc_alone()
    return out


_IMPORT_CHECK = """
import gc
before = (gc.isenabled(), gc.get_threshold(), gc.get_debug(), gc.get_freeze_count())
import flynn_async, flynn_async.testing
after = (gc.isenabled(), gc.get_threshold(), gc.get_debug(), gc.get_freeze_count())
print(before == after)
"""


def _import_leaves_gc_alone() -> bool:
    """Whether importing the library in a fresh interpreter leaves the gc settings alone."""
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK], capture_output=True, text=True, check=True
    )
    return done.stdout.strip() == "True"


async def run(quick: bool) -> list[Row]:
    """Run the measurement in a fresh client process and tabulate it."""
    records = 20_000 if quick else RECORDS
    runs = 1 if quick else 5
    config = {
        "records": RecordSettings(per_section=records),
        "paging": PagingSettings(size=PAGE),
        "tasks": TaskSettings(processing_polls=0),
    }
    async with RemoteSimulator(**config) as sim:
        got = await run_worker("bench_gc", {"sim": sim.info.to_json(), "runs": runs})
    default, disabled = got["default"], got["disable"]
    share = default["gc_seconds"] / default["seconds"]
    gen0, gen1, gen2 = default["collections"]
    say(f"{records:,} records in pages of {PAGE}, simulator in a child process, best of {runs}:")
    say(
        f"  host defaults {gc.get_threshold()}: {ms(default['seconds'])}, of which"
        f" {ms(default['gc_seconds'])} in {gen0 + gen1 + gen2} collections"
        f" ({gen0}/{gen1}/{gen2} of generations 0/1/2): {share:.1%}"
    )
    saved = 1 - disabled["seconds"] / default["seconds"]
    say(f"  gc.disable() around the download: {ms(disabled['seconds'])} ({saved:.0%} less time)")
    full = got["full_collection"]
    say(
        f"  a full collection while holding {full['records']:,} records: {ms(full['held'])};"
        f" after gc.freeze(): {ms(full['frozen'])}"
    )
    say(f"  cyclic garbage after a download: {got['unreachable']} objects {got['garbage_kinds']}")
    say(f"  records the collector tracks: {full['tracked']:,} of {full['records']:,}")
    return [
        Row(
            "6",
            f"share of time in GC, fetch+decode+merge of {records:,} records (host defaults)",
            f"{share:.1%} ({ms(default['gc_seconds'])} of {ms(default['seconds'])};"
            f" {gen2} full collection{'' if gen2 == 1 else 's'})",
            "report",
            None,
            {"gc_share": share, "seconds": default["seconds"]},
        ),
        Row(
            "6",
            "records the cyclic collector walks, of a held result",
            f"{full['tracked']:,} of {full['records']:,}",
            "report",
            None,
        ),
        Row(
            "6",
            "the same with the recipe: gc.disable() around the download",
            f"{ms(disabled['seconds'])} ({saved:.0%} less time)",
            "report",
            None,
            {"seconds": disabled["seconds"]},
        ),
        Row(
            "6",
            "cyclic garbage left by a download (unreachable objects)",
            str(got["unreachable"]),
            "0",
            got["unreachable"] == 0,
        ),
        Row(
            "6",
            "host gc settings after import and downloads",
            "unchanged" if got["settings_unchanged"] else "CHANGED",
            "unchanged",
            bool(got["settings_unchanged"]),
        ),
    ]


def worker(payload: dict[str, Any]) -> None:
    """The client-process side."""
    from benchmarks._common import worker_reply

    info = SimInfo.from_json(payload["sim"])
    worker_reply(asyncio.run(measure(info, payload["runs"])))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(json.loads(sys.argv[2]))
    else:
        sys.exit(standalone("Target 6: garbage collection", run))
