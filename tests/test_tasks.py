"""Long-running tasks: exact poll sleeps, the deadline, failures, pages, streaming, progress.

Every poll sleep goes through the fake clock of ``conftest``: its ``sleeps`` list is exactly
what the poller asked for, and the clock moves only by those sleeps.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest

from flynn_async import (
    FlynnClient,
    GstSession,
    InvalidInput,
    NotFound,
    PagesMissing,
    PollPolicy,
    Progress,
    ResponseError,
    TaskError,
    TaskFailed,
    TaskState,
    TaskTimeout,
)
from flynn_async._http import _api
from flynn_async._tasks._task import parse_page_count, parse_status, run_group
from flynn_async.ims import ImsInvoice, ImsRecord
from flynn_async.ims._decoding import PageReader
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings, TaskSettings
from tests.conftest import CoarseClock

STEADY = PollPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0, deadline=1000)


async def submitted(client: FlynnClient, session: GstSession, **kwargs: Any) -> Any:
    """A task re-attached by id right after submission: its first status call is immediate,
    so these tests see the poll schedule itself (a task fresh from ``submit`` sleeps first)."""
    task = await client.ims.submit(session, section="B2B")
    return client.ims.task(task.id, **kwargs)


# ------------------------------------------------------------------------------------------
# Poll sleeps
# ------------------------------------------------------------------------------------------


@pytest.mark.sim(tasks=TaskSettings(processing_polls=7))
async def test_poll_sleeps_grow_exactly_and_are_capped(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    client = await make_client(poll=STEADY)
    task = await submitted(client, await open_gst(client, sim))

    status = await task.wait()

    assert [1, 2, 4, 5, 5, 5, 5] == clock.sleeps
    assert TaskState.COMPLETED is status.state
    assert "completed" == status.status
    assert 8 == task.polls == sim.tasks[task.id].status_calls


@pytest.mark.sim(tasks=TaskSettings(processing_polls=6))
async def test_a_fresh_task_sleeps_before_its_first_status_call(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    calls_at_sleep: list[int] = []

    async def watching(delay: float) -> None:
        calls_at_sleep.append(sum(t.status_calls for t in sim.tasks.values()))
        await clock.sleep(delay)

    client = await make_client(poll=STEADY, sleep=watching)
    task = await client.ims.submit(await open_gst(client, sim), section="B2B")
    await task.wait()
    # a task just submitted is certainly processing: no status call before the first sleep
    assert [1, 2, 4, 5, 5, 5, 5] == clock.sleeps
    assert [0, 1, 2, 3, 4, 5, 6] == calls_at_sleep
    assert 7 == sim.tasks[task.id].status_calls


@pytest.mark.sim(tasks=TaskSettings(processing_polls=0))
async def test_a_task_done_at_once_is_not_slept_on(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    client = await make_client(poll=STEADY)
    task = await submitted(client, await open_gst(client, sim))
    await task.wait()
    assert [] == clock.sleeps
    assert 1 == sim.tasks[task.id].status_calls


@pytest.mark.sim(tasks=TaskSettings(processing_polls=1))
async def test_wait_is_done_once(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    client = await make_client(poll=STEADY)
    task = await submitted(client, await open_gst(client, sim))
    first = await task.wait()
    again = await task.wait()
    assert first == again
    assert 2 == sim.tasks[task.id].status_calls
    assert [1] == clock.sleeps


@pytest.mark.sim(tasks=TaskSettings(processing_polls=8))
async def test_poll_jitter_comes_from_the_injected_random_source(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    policy = STEADY.replace(jitter=0.3)
    client = await make_client(poll=policy, rng=random.Random(42))
    task = await submitted(client, await open_gst(client, sim))
    await task.wait()

    expected = list(itertools.islice(policy.delays(random.Random(42)), 8))
    assert expected == clock.sleeps
    nominal = [1, 2, 4, 5, 5, 5, 5, 5]
    for base, slept in zip(nominal, clock.sleeps, strict=True):
        assert base * 0.7 <= slept <= min(5, base * 1.3)
    assert len(set(clock.sleeps[3:])) > 1  # capped delays are still spread


@pytest.mark.parametrize(
    ("deadline", "sleeps"),
    [(10, [1, 2, 4, 3]), (7.5, [1, 2, 4, 0.5]), (7, [1, 2, 4]), (0.25, [0.25])],
)
@pytest.mark.sim(tasks=TaskSettings(processing_polls=1000))
async def test_the_deadline_clips_the_last_sleep_then_times_out(
    sim: FlynnSimulator,
    make_client: Any,
    open_gst: Any,
    clock: Any,
    deadline: float,
    sleeps: list[float],
) -> None:
    client = await make_client(poll=STEADY.replace(deadline=deadline))
    task = await submitted(client, await open_gst(client, sim))
    started = clock.now

    with pytest.raises(TaskTimeout) as info:
        await task.wait()

    assert sleeps == clock.sleeps
    assert deadline == clock.now - started
    error = info.value
    assert task.id == error.task_id
    assert isinstance(error, TimeoutError)
    assert isinstance(error, TaskError)
    assert task.id in str(error)
    # one status call before each sleep, and a last one at the deadline
    assert len(sleeps) + 1 == sim.tasks[task.id].status_calls


@pytest.mark.sim(tasks=TaskSettings(processing_polls=1000))
async def test_the_deadline_ends_the_wait_whatever_the_clocks_resolution(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    # After the last sleep, clipped to the time left, one more status call, then the
    # timeout: even when that sleep did not move the clock all the way (0.9 ms here).
    coarse = CoarseClock()
    client = await make_client(
        poll=STEADY.replace(deadline=7.0009), sleep=coarse.sleep, clock=coarse
    )
    task = await submitted(client, await open_gst(client, sim))
    with pytest.raises(TaskTimeout):
        await task.wait()
    assert coarse.sleeps[:3] == [1, 2, 4]
    assert len(coarse.sleeps) == 4  # the last one clipped
    assert len(coarse.sleeps) + 1 == sim.tasks[task.id].status_calls


@pytest.mark.sim(tasks=TaskSettings(processing_polls=9))
async def test_no_deadline_waits_as_long_as_it_takes(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any
) -> None:
    client = await make_client(poll=STEADY.replace(deadline=None))
    task = await submitted(client, await open_gst(client, sim))
    await task.wait()
    assert [1, 2, 4, 5, 5, 5, 5, 5, 5] == clock.sleeps


# ------------------------------------------------------------------------------------------
# Failed tasks
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "terminal",
    [
        pytest.param(
            "failed",
            marks=pytest.mark.sim(tasks=TaskSettings(terminal_status="failed", processing_polls=2)),
        ),
        pytest.param(
            "error",
            marks=pytest.mark.sim(tasks=TaskSettings(terminal_status="error", processing_polls=2)),
        ),
        pytest.param(
            "cancelled",
            marks=pytest.mark.sim(
                tasks=TaskSettings(terminal_status="cancelled", processing_polls=2)
            ),
        ),
    ],
)
async def test_a_failed_terminal_status_raises_task_failed(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, clock: Any, terminal: str
) -> None:
    client = await make_client(poll=STEADY)
    task = await submitted(client, await open_gst(client, sim))

    with pytest.raises(TaskFailed) as info:
        await task.result()

    error = info.value
    assert task.id == error.task_id
    assert terminal == error.status
    assert repr(terminal) in str(error)
    assert [1, 2] == clock.sleeps  # no polling after the terminal status
    assert 3 == sim.tasks[task.id].status_calls
    assert 0 == sim.calls["task_result"]
    assert 0 == sim.calls["task_page"]


@pytest.mark.sim(tasks=TaskSettings(processing_polls=1))
async def test_logging_the_gst_session_out_fails_the_running_task(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    client = await make_client(poll=STEADY)
    session = await open_gst(client, sim)
    task = await submitted(client, session)
    await client.gst.logout(session)
    with pytest.raises(TaskFailed) as info:
        await task.wait()
    assert "failed" == info.value.status


# ------------------------------------------------------------------------------------------
# Pages
# ------------------------------------------------------------------------------------------


@pytest.mark.sim(
    records=RecordSettings(per_section=10, unknown_sections=("impg",)),
    paging=PagingSettings(size=3),
)
async def test_pages_stream_in_order(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await submitted(client, session)
    pages = [page async for page in task.pages()]
    expected = sim.expected_pages(task.id)
    assert 7 == len(expected)  # 20 records in pages of 3
    assert expected == [page.to_dict() for page in pages]
    assert 7 == sim.calls["task_page"]


@pytest.mark.sim(
    records=RecordSettings(per_section=10, unknown_sections=("impg",)),
    paging=PagingSettings(size=3),
)
async def test_records_stream_as_section_record_pairs(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await submitted(client, session)
    pairs = [(name, record) async for name, record in task.records()]
    expected = [
        (name, record)
        for page in sim.expected_pages(task.id)
        for name, records in page.items()
        for record in records
    ]
    assert expected == [
        (name, record.to_dict() if isinstance(record, ImsRecord) else dict(record))
        for name, record in pairs
    ]
    assert ["b2b"] * 10 + ["impg"] * 10 == [name for name, _ in pairs]
    assert all(isinstance(record, ImsInvoice) for name, record in pairs if name == "b2b")


@pytest.mark.sim(records=RecordSettings(per_section=60), paging=PagingSettings(size=7))
async def test_a_held_result_shares_repeated_values_and_streamed_pages_are_as_decoded(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await submitted(client, session)
    held = await task.result()
    streamed = [record async for _, record in task.records()]
    assert [r.to_dict() for r in held.b2b] == [r.to_dict() for r in streamed]

    def distinct(records: Any, name: str) -> int:
        return len({id(getattr(r, name)) for r in records})

    zeros = [r for r in held.b2b if r.cgst is not None and str(r.cgst) == "0"]
    assert len(zeros) > 10
    assert 1 == distinct(zeros, "cgst")  # one shared zero across the pages
    places = {r.place_of_supply for r in held.b2b}
    assert len(places) == distinct(held.b2b, "place_of_supply")  # each text held once
    assert distinct(streamed, "place_of_supply") > len(places)  # pages handed on: as decoded


@pytest.mark.sim(records=RecordSettings(per_section=60), paging=PagingSettings(size=20))
async def test_each_task_reads_its_page_bodies_with_its_own_reader(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    # a reader learns from one page how to start the next: tasks must not share one
    one, two = await submitted(client, session), await submitted(client, session)
    assert isinstance(one._fast, PageReader)
    assert isinstance(two._fast, PageReader)
    assert one._fast is not two._fast
    held = await one.result()
    assert [r.to_dict() for r in held.b2b] == [
        record for page in sim.expected_pages(one.id) for record in page["b2b"]
    ]


@pytest.mark.sim(records=RecordSettings(per_section=10), paging=PagingSettings(size=3))
async def test_page_count_and_single_pages(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await submitted(client, session)
    assert 4 == await task.page_count()
    assert 4 == await task.page_count()
    assert 1 == sim.calls["task_result"]
    expected = sim.expected_pages(task.id)
    assert expected[3] == (await task.page(3)).to_dict()
    assert expected[0] == (await task.page(0)).to_dict()
    with pytest.raises(InvalidInput, match="page index must be 0 to 3"):
        await task.page(4)
    fresh = client.ims.task(task.id)
    before = dict(sim.calls)
    for bad in (-1, True, "1", 1.0):
        with pytest.raises(InvalidInput, match="page index must be a whole number"):
            await fresh.page(bad)  # type: ignore[arg-type]
    assert before == dict(sim.calls)  # refused before any request, even the page count
    assert 2 == sim.calls["task_page"]


@pytest.mark.sim(records=RecordSettings(per_section=0))
async def test_a_task_without_records_has_no_pages(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await submitted(client, session)
    assert [] == [page async for page in task.pages()]
    result = await task.result()
    assert 0 == len(result)
    assert {} == result.to_dict()
    assert 0 == sim.calls["task_page"]


@pytest.mark.sim(paging=PagingSettings(size=4, base=1))
async def test_a_page_that_cannot_be_fetched_raises_pages_missing(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    # the client numbers pages from 0, this server from 1: page 0 does not exist
    task = await submitted(client, session)
    with pytest.raises(PagesMissing) as info:
        await task.result()
    error = info.value
    assert task.id == error.task_id
    assert 0 == error.page
    assert (0, 1) == error.missing
    assert isinstance(error.__cause__, NotFound)
    assert "resume" in str(error)


@pytest.mark.sim(paging=PagingSettings(size=4, base=0))
async def test_pages_delivered_before_a_failure_are_kept_by_the_stream(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    # the client numbers pages from 1, this server from 0: the last page does not exist
    client = await make_client(page_base=1, max_concurrency=1)
    task = await submitted(client, await open_gst(client, sim))
    delivered = []

    async def consume() -> None:
        async for page in task.pages():
            delivered.append(page.to_dict())

    with pytest.raises(PagesMissing) as info:
        await consume()
    assert sim.expected_pages(task.id)[1:] == delivered
    assert (2,) == info.value.missing
    assert 2 == info.value.page


async def test_an_unknown_task_id_is_not_found(client: FlynnClient) -> None:
    task = client.ims.task("0b9d2a47-0000-4000-8000-000000000000")
    with pytest.raises(NotFound) as info:
        await task.status()
    assert task.id == info.value.task_id
    assert _api.ERR_NOT_FOUND == info.value.code


async def test_task_repr_names_the_id(client: FlynnClient) -> None:
    task = client.ims.task("abc-123", label="b2b")
    assert "<Task abc-123 b2b>" == repr(task)
    assert "abc-123" == task.id


# ------------------------------------------------------------------------------------------
# Progress
# ------------------------------------------------------------------------------------------


@pytest.mark.sim(
    records=RecordSettings(per_section=8),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=1),
)
async def test_progress_reports_every_phase(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    seen: list[Progress] = []
    task = await client.ims.submit(session, section="ECOM", on_progress=seen.append)
    await task.result()
    assert [
        ("submitted", 0, None, 0),
        ("waiting", 0, None, 1),
        ("waiting", 0, None, 2),
        ("fetching", 0, 2, 2),
        ("fetching", 1, 2, 2),
        ("fetching", 2, 2, 2),
        ("done", 2, 2, 2),
    ] == [(p.phase, p.pages_done, p.pages_total, p.polls) for p in seen]
    assert {task.id} == {p.task_id for p in seen}
    assert {"ecom"} == {p.section for p in seen}


# ------------------------------------------------------------------------------------------
# Status and result answers (unit)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"task": {"id": "t-1", "status": "processing"}}, TaskState.PENDING),
        ({"task": {"id": "t-1", "status": "completed"}}, TaskState.COMPLETED),
        ({"task": {"status": " Completed "}}, TaskState.COMPLETED),
        ({"id": "t-1", "status": "processing", "jobs": {"total": 1}}, TaskState.PENDING),
        ({"id": "t-1", "status": "completed", "jobs": {"total": 1}}, TaskState.COMPLETED),
        ({"task": {"id": "t-1", "status": "failed"}}, TaskState.FAILED),
        ({"task": {"id": "t-1", "status": "error"}}, TaskState.FAILED),
        ({"id": "t-1", "status": "paused-by-operator"}, TaskState.FAILED),
    ],
)
def test_parse_status_reads_both_shapes(data: dict[str, Any], state: TaskState) -> None:
    status = parse_status(data, "t-1", "/status")
    assert state is status.state
    body = data.get("task", data)
    assert body["status"] == status.status  # the raw text is kept
    assert "t-1" == status.task_id
    assert body == dict(status.raw)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([], "not an object"),
        ({"task": "processing"}, "not an object"),
        ({"task": {"id": "t-1"}}, "no status text"),
        ({"id": "t-1", "status": ""}, "no status text"),
        ({"id": "t-1", "status": 1}, "no status text"),
        ({"task": {"id": "t-2", "status": "completed"}}, "for task 't-2'"),
    ],
)
def test_parse_status_rejects_broken_answers(data: Any, match: str) -> None:
    with pytest.raises(ResponseError, match=match):
        parse_status(data, "t-1", "/status")


@pytest.mark.parametrize(("data", "pages"), [({"pages": 0}, 0), ({"pages": 12}, 12)])
def test_parse_page_count(data: dict[str, Any], pages: int) -> None:
    assert pages == parse_page_count(data, "t-1", "/result")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"pages": "3"},
        {"pages": True},
        {"pages": 2.0},
        {"pages": -1},
        {"pages": _api.MAX_PAGE_COUNT + 1},
        [3],
    ],
)
def test_parse_page_count_rejects_broken_answers(data: Any) -> None:
    with pytest.raises(ResponseError) as info:
        parse_page_count(data, "t-1", "/result")
    assert "t-1" == info.value.task_id


async def test_a_group_that_fails_leaves_no_cancellation_on_its_caller() -> None:
    me = asyncio.current_task()
    assert me is not None
    started = asyncio.Event()

    async def fails() -> None:
        await started.wait()
        raise ValueError("one task failed")

    async def waits() -> None:
        started.set()
        await asyncio.Event().wait()  # until the group cancels it

    with pytest.raises(ExceptionGroup) as raised:
        await run_group(lambda group: (group.create_task(fails()), group.create_task(waits())))
    assert [ValueError] == [type(e) for e in raised.value.exceptions]
    assert 0 == me.cancelling()  # Python 3.11's TaskGroup leaves 1 on the task that ran it


async def test_a_cancelled_caller_cancels_the_group() -> None:
    running = asyncio.Event()
    cancelled: list[bool] = []

    async def waits() -> None:
        running.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    outer = asyncio.create_task(run_group(lambda group: group.create_task(waits())))
    await running.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert [True] == cancelled
