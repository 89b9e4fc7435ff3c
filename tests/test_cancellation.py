"""Cancelling a download at any moment leaves nothing behind: no task still running, nothing
reported to the loop's exception handler ("exception was never retrieved", "task was destroyed
but it is pending"), no unclosed-session warning (warnings are errors in this suite), and the
client still works afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from flynn_async import FileSessionStore, FlynnClient, FlynnError, GstSession
from flynn_async.ims import ImsInvoices, ImsSection
from flynn_async.testing import (
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)

SECTIONS = ("B2B", "B2BCN", "ECOMA")


@contextlib.contextmanager
def loop_reports() -> Iterator[list[dict[str, Any]]]:
    """Collect what reaches the running loop's exception handler."""
    loop = asyncio.get_running_loop()
    reports: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reports.append(context))
    try:
        yield reports
    finally:
        loop.set_exception_handler(previous)


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop but the simulator's (it serves from the same loop)."""
    return {
        t
        for t in asyncio.all_tasks()
        if not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    }


async def _cancel_after(steps: int, work: Any) -> Any:
    """Run ``work``, cancel it after ``steps`` turns of the loop; its result if it finished."""
    runner = asyncio.create_task(work)
    for _ in range(steps):
        if runner.done():
            break
        await asyncio.sleep(0)
    runner.cancel()
    try:
        return await runner
    except asyncio.CancelledError:
        return None


def _expected(sim: FlynnSimulator) -> dict[str, Any]:
    return {s.lower(): sim.expected_records(sim.gstin, s) for s in SECTIONS}


@pytest.mark.sim(
    records=RecordSettings(per_section=24),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=2),
)
async def test_cancelling_anywhere_leaves_nothing_behind(
    sim: FlynnSimulator,
    make_client: Any,
    open_gst: Any,
    tmp_path: Path,
) -> None:
    rng = random.Random(20261121)
    client: FlynnClient = await make_client(max_concurrency=3)
    session: GstSession = await open_gst(client, sim)
    before = client_tasks()
    finished = cancelled = 0
    with loop_reports() as reports:
        for run in range(60):
            steps = rng.randint(0, 400)
            kind = run % 3
            if kind == 0:
                work = client.ims.download_all(session, sections=SECTIONS)
            elif kind == 1:
                work = client.ims.download(
                    session, section="B2B", checkpoint_dir=tmp_path / str(run)
                )
            else:
                work = _stream(client, session)
            result = await _cancel_after(steps, work)
            if result is None:
                cancelled += 1
            else:
                finished += 1
            assert before == client_tasks(), f"run {run}: tasks left after {steps} steps"
        gc.collect()
        await asyncio.sleep(0)
    assert [] == reports
    assert cancelled > 20  # the sweep really cut downloads at many points
    assert finished > 5  # ... and some ran to the end
    # the client is still usable, and nothing got mixed up
    result = await client.ims.download_all(session, sections=SECTIONS)
    assert _expected(sim) == result.to_dict()


async def _stream(client: FlynnClient, session: GstSession) -> ImsInvoices:
    task = await client.ims.submit(session, section="ECOMA")
    pages = []
    async with contextlib.aclosing(task.pages()) as stream:
        async for page in stream:
            pages.append(page)
    return ImsInvoices.merge(pages)


@pytest.mark.sim(
    records=RecordSettings(per_section=24),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=3),
)
async def test_cancelling_during_a_poll_sleep_does_not_cancel_the_server_task(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    parked = asyncio.Event()

    async def park(_: float) -> None:
        parked.set()
        await asyncio.Event().wait()

    client: FlynnClient = await make_client(sleep=park)
    session = await open_gst(client, sim)
    task = await client.ims.submit(session, section="B2B")
    waiting = asyncio.create_task(task.wait())
    await parked.wait()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    # the server task is untouched and can be re-attached later
    assert "processing" == sim.tasks[task.id].state
    other: FlynnClient = await make_client()
    result = await other.ims.task(task.id).result()
    assert sim.expected_records(sim.gstin, "B2B") == result.to_dict()["b2b"]


# ------------------------------------------------------------------------------------------
# What cancellation leaves on the server: every GST session usable, every task id handed over
# ------------------------------------------------------------------------------------------


@pytest.mark.sim(
    records=RecordSettings(per_section=12),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=1),
    faults=FaultSettings(
        seed=7,
        routes=["task_status", "task_result", "task_page", "gst_refresh"],
        error_rate=0.08,
        reset_rate=0.05,
        token_expiry_every=9,
    ),
)
async def test_cancelling_at_random_leaves_the_server_accounted_for(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, tmp_path: Path
) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    client: FlynnClient = await make_client(max_concurrency=3, session_store=store)
    session: GstSession = await open_gst(client, sim)
    assert not sim.tasks
    rng = random.Random(20261206)
    reported: set[str] = set()
    handed_over: list[str] = []  # by on_submitted, in order
    outcomes: Counter[str] = Counter()

    by_run: dict[int, set[str]] = {}

    def on_submitted(section: ImsSection, task_id: str) -> None:
        assert isinstance(section, ImsSection)
        handed_over.append(task_id)
        by_run.setdefault(run, set()).add(task_id)

    manifests: dict[int, Path] = {}
    run = 0
    for run in range(80):
        kind = run % 4
        if kind == 3:
            manifests[run] = tmp_path / f"batch-{run}"
            work: Any = client.ims.download_many(
                [session],
                sections=SECTIONS,
                manifest=manifests[run],
                on_submitted=on_submitted,
            )
        elif kind == 0:
            work = client.ims.download_all(session, sections=SECTIONS, on_submitted=on_submitted)
        elif kind == 1:
            work = client.ims.download(session, section="B2B", on_submitted=on_submitted)
        else:
            work = client.gst.refresh(session)
        runner = asyncio.create_task(work)
        for _ in range(rng.randint(0, 120)):
            if runner.done():
                break
            await asyncio.sleep(0)
        runner.cancel()
        try:
            await runner
            outcomes["finished"] += 1
        except asyncio.CancelledError as exc:
            outcomes["cancelled"] += 1
            reported.update(getattr(exc, "task_ids", {}).values())
        except FlynnError as exc:  # faults that outlasted the retries
            outcomes[type(exc).__name__] += 1
            reported.update(getattr(exc, "task_ids", {}).values())
            if exc.task_id is not None:
                reported.add(exc.task_id)

    assert outcomes["cancelled"] >= 20, outcomes
    assert outcomes["finished"] >= 5, outcomes
    # every task the server created (and bills) was handed to the caller by on_submitted ...
    assert set(handed_over) == set(sim.tasks)
    assert len(handed_over) == len(sim.tasks)  # ... once each
    # ... and every cancelled or failed call named the tasks it had started
    assert reported <= set(sim.tasks)
    assert reported  # some cancellations came after a submit
    # a batch records every task it started in its manifest, cancelled or not
    batches_with_tasks = 0
    for number, manifest in manifests.items():
        started = by_run.get(number, set())
        if not started:
            continue
        batches_with_tasks += 1
        document = json.loads((manifest / "manifest.json").read_bytes())
        (entry,) = document["jobs"].values()
        assert set(entry["task_ids"].values()) == started, f"run {number}"
    assert batches_with_tasks >= 5
    # the GST session is usable after all those cancelled refreshes: the client and the store
    # hold the id the server handed out last
    current = client.gst.current(session)
    stored = await store.load(sim.gstin)
    assert stored is not None
    assert stored.session_id == current.session_id
    sim.config = sim.config.replace(
        faults=attrs.evolve(
            sim.config.faults, error_rate=0.0, reset_rate=0.0, token_expiry_every=None
        )
    )
    result = await client.ims.download_all(current, sections=SECTIONS)
    assert _expected(sim) == result.to_dict()
    other: FlynnClient = await make_client(session_store=store)
    restored = await other.gst.restore(sim.gstin)
    assert restored is not None
    await other.gst.refresh(restored)  # the stored session is the live one
