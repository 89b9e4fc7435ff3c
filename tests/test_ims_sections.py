"""``client.ims.download_sections``, the one download orchestration, against the simulator:
resuming known task ids beside new submits, replacing lost tasks, ``on_submitted`` (plain and
async) before anything else, task ids on a cancelled download, a session asked for only when
needed, and the input checks before any request.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, assert_type

import aiohttp
import pytest
from aiohttp import web

from flynn_async import (
    FlynnClient,
    GstSession,
    InvalidInput,
    NotFound,
    TaskFailed,
)
from flynn_async._http import _api
from flynn_async.ims import ImsInvoices, ImsSection
from flynn_async.ims._models import ImsEntry
from flynn_async.testing import FlynnSimulator, RecordSettings, TaskSettings

SECTIONS = ("B2B", "ECOM")
UNKNOWN_TASK = "0b0e0f00-0000-4000-8000-000000000000"


def expected(sim: FlynnSimulator, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    return {s.lower(): sim.expected_records(sim.gstin, s) for s in sections}


async def submitted_b2b(client: FlynnClient, session: GstSession, sim: FlynnSimulator) -> str:
    """A B2B task submitted by an earlier run; the simulator's counters reset after it."""
    task = await client.ims.submit(session, section="B2B")
    sim.reset_counters()
    return task.id


async def test_a_known_task_is_resumed_and_the_other_section_submitted(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    known = await submitted_b2b(client, session, sim)
    heard: list[tuple[ImsSection, str]] = []

    result = await client.ims.download_sections(
        session,
        sections=SECTIONS,
        resume={ImsSection.B2B: known},
        on_submitted=lambda section, task_id: heard.append((section, task_id)),
    )

    assert sim.calls["ims_submit"] == 1  # ECOM only: the B2B task was not paid for twice
    ((section, new),) = heard
    assert section is ImsSection.ECOM
    assert set(sim.tasks) == {known, new}
    assert expected(sim) == result.to_dict()
    assert result.recipient_gstin == session.gstin


async def test_resume_by_section_name_and_every_section_resumed_submits_nothing(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    ids = {name: (await client.ims.submit(session, section=name)).id for name in SECTIONS}
    sim.reset_counters()
    asked: list[str] = []

    async def no_session() -> GstSession:
        asked.append("session")
        raise AssertionError("a download whose tasks are all resumed needs no session")

    result = await client.ims.download_sections(
        no_session, sections=SECTIONS, resume={"b2b": ids["B2B"], "Ecom": ids["ECOM"]}
    )
    assert sim.calls["ims_submit"] == 0
    assert asked == []
    assert expected(sim) == result.to_dict()
    assert result.recipient_gstin is None  # no session was needed, so none is known


async def test_a_given_session_names_the_recipient_even_when_every_task_is_resumed(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    known = await submitted_b2b(client, session, sim)
    result = await client.ims.download_sections(session, sections=["B2B"], resume={"B2B": known})
    assert sim.calls["ims_submit"] == 0
    assert result.recipient_gstin == session.gstin
    assert expected(sim, ("B2B",)) == result.to_dict()


async def test_a_session_function_is_called_once_when_a_submit_needs_it(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    calls: list[int] = []

    async def give() -> GstSession:
        calls.append(sim.calls["ims_submit"])
        return session

    result = await client.ims.download_sections(give, sections=SECTIONS)
    assert calls == [0]  # once for both submits, before the first
    assert sim.calls["ims_submit"] == 2
    assert expected(sim) == result.to_dict()
    assert result.recipient_gstin == session.gstin


async def test_on_submitted_comes_before_anything_else_and_an_async_one_is_awaited_first(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    steps: list[tuple[str, str, int]] = []

    def asked() -> int:
        return sim.calls["task_status"] + sim.calls["task_result"] + sim.calls["task_page"]

    async def store_durably(section: ImsSection, task_id: str) -> None:
        steps.append(("called", task_id, asked()))
        stored = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(stored.set_result, None)
        await stored  # suspended: the task must not be polled meanwhile
        steps.append(("stored", task_id, asked()))

    result = await client.ims.download_sections(
        session, sections=["B2B"], on_submitted=store_durably
    )
    (task_id,) = sim.tasks
    assert steps == [("called", task_id, 0), ("stored", task_id, 0)]
    assert sim.calls["task_status"] > 0
    assert expected(sim, ("B2B",)) == result.to_dict()


async def test_an_async_on_submitted_that_fails_fails_the_download_with_the_task_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    async def disk_full(section: ImsSection, task_id: str) -> None:
        raise OSError("no space left on device")

    with pytest.raises(OSError, match="no space") as raised:
        await client.ims.download_sections(session, sections=["B2B"], on_submitted=disk_full)
    (task_id,) = sim.tasks
    assert {"B2B": task_id} == raised.value.task_ids  # type: ignore[attr-defined]
    assert sim.calls["task_page"] == 0


@pytest.mark.sim(tasks=TaskSettings(processing_polls=3))
async def test_a_cancelled_download_carries_its_resumed_and_submitted_task_ids(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    parked = asyncio.Event()

    async def park(_: float) -> None:
        parked.set()
        await asyncio.Event().wait()

    client: FlynnClient = await make_client(sleep=park)
    session = await open_gst(client, sim)
    known = (await client.ims.submit(session, section="B2B")).id
    handed: list[str] = []
    running = asyncio.create_task(
        client.ims.download_sections(
            session,
            sections=SECTIONS,
            resume={"B2B": known},
            on_submitted=lambda _, task_id: handed.append(task_id),
        )
    )
    await parked.wait()  # both tasks are waiting between status calls
    running.cancel()
    with pytest.raises(asyncio.CancelledError) as raised:
        await running
    (new,) = handed
    assert set(sim.tasks) == {known, new}
    assert {"B2B": known, "ECOM": new} == raised.value.task_ids  # type: ignore[attr-defined]
    notes = raised.value.__notes__
    assert f"IMS B2B task id: {known}" in notes
    assert f"IMS ECOM task id: {new}" in notes


@pytest.mark.parametrize("lost", ["failed", "unknown"])
async def test_a_lost_task_is_an_error_unless_it_may_be_replaced(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, lost: str
) -> None:
    if lost == "failed":
        known = await submitted_b2b(client, session, sim)
        sim.tasks[known].state = "failed"
    else:
        known = UNKNOWN_TASK
    error = TaskFailed if lost == "failed" else NotFound

    with pytest.raises(error) as raised:
        await client.ims.download_sections(session, sections=SECTIONS, resume={"B2B": known})
    assert raised.value.task_id == known
    assert known == raised.value.task_ids["B2B"]  # type: ignore[attr-defined]
    me = asyncio.current_task()
    assert me is not None
    assert 0 == me.cancelling()  # the failed download left no cancellation on its caller

    sim.reset_counters()
    heard: list[tuple[ImsSection, str]] = []
    result = await client.ims.download_sections(
        session,
        sections=SECTIONS,
        resume={"B2B": known},
        replace_lost=True,
        on_submitted=lambda section, task_id: heard.append((section, task_id)),
    )
    assert sim.calls["ims_submit"] == 2  # a new B2B task beside the ECOM one
    assert {s for s, _ in heard} == {ImsSection.B2B, ImsSection.ECOM}
    assert known not in {t for _, t in heard}
    assert expected(sim) == result.to_dict()


@pytest.mark.sim(records=RecordSettings(per_section=3))
async def test_skip_empty_counts_only_the_sections_it_would_submit(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    known = await submitted_b2b(client, session, sim)
    result = await client.ims.download_sections(
        session, sections=["B2B"], resume={"B2B": known}, skip_empty=True
    )
    assert sim.calls["ims_counts"] == 0  # nothing to submit: nothing to count
    assert expected(sim, ("B2B",)) == result.to_dict()


CountsProxy = Callable[[dict[str, Any]], Any]


@pytest.fixture
async def counts_proxy(sim: FlynnSimulator, clock: Any) -> AsyncIterator[CountsProxy]:
    """A client whose API calls go through a proxy to ``sim`` that answers the counts itself."""
    runners: list[web.AppRunner] = []
    clients: list[FlynnClient] = []
    http = aiohttp.ClientSession(auto_decompress=False)

    async def make(counts: dict[str, Any]) -> Any:
        async def answer(request: web.Request) -> web.StreamResponse:
            if request.path.endswith("/returns/ims/GETCNT"):
                sim.calls["ims_counts"] += 1
                return web.json_response({"status": "1", "data": counts})
            headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
            async with http.request(
                request.method,
                sim.base_url + request.path_qs,
                headers=headers,
                data=await request.read(),
            ) as upstream:
                body = await upstream.read()
                kept = ("Content-Type", "Content-Encoding")
                out = {k: v for k, v in upstream.headers.items() if k in kept}
                return web.Response(status=upstream.status, body=body, headers=out)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        client = FlynnClient(
            sim.credentials,
            base_url=f"http://{host}:{port}",
            login_url=sim.login_url,
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(1),
        )
        clients.append(client)
        await client.start()
        return client

    yield make
    for client in clients:
        await client.aclose()
    await http.close()
    for runner in runners:
        await runner.cleanup()


def zeros() -> dict[str, int]:
    return dict.fromkeys(_api.IMS_COUNT_FIELDS.values(), 0)


UNSURE_COUNTS = {
    "no group": ({}, ("B2B", "ECOM")),
    "the group is null": ({"all_oth": None}, ("B2B", "ECOM")),
    "a section left out": ({"all_oth": {"ttl_cnt": 0, "b2b": zeros()}}, ("ECOM",)),
    "a total the sections do not add up to": (
        {"all_oth": {"ttl_cnt": 4, **{key: zeros() for key in ("b2b", "ecom")}}},
        ("B2B", "ECOM"),
    ),
}


@pytest.mark.sim(records=RecordSettings(per_section=3))
@pytest.mark.parametrize(("counts", "submitted"), UNSURE_COUNTS.values(), ids=UNSURE_COUNTS)
async def test_skip_empty_skips_only_sections_the_counts_show_empty(
    sim: FlynnSimulator,
    counts_proxy: CountsProxy,
    open_gst: Any,
    counts: dict[str, Any],
    submitted: tuple[str, ...],
) -> None:
    # A section the counts leave out, or a group whose total its sections do not add up to,
    # is not known to be empty: it is downloaded, never silently skipped.
    client = await counts_proxy(counts)
    session = await open_gst(client, sim)
    sim.reset_counters()
    result = await client.ims.download_sections(session, sections=SECTIONS, skip_empty=True)
    assert sim.calls["ims_counts"] == 1
    assert sorted(sim.tasks[t].section for t in sim.tasks) == list(submitted)
    skipped: dict[str, Any] = {s.lower(): [] for s in SECTIONS if s not in submitted}
    assert {**expected(sim, submitted), **skipped} == result.to_dict()


async def test_records_of_an_ims_task_are_typed(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await client.ims.submit(session, section="B2B")
    seen = 0
    async for section, record in task.records():
        assert_type(record, ImsEntry)  # checked by mypy: not Any, not object
        assert section == "b2b"
        seen += 1
    assert_type(await task.result(), ImsInvoices)
    assert seen == len(sim.expected_records(sim.gstin, "B2B"))


BAD_CALLS = [
    pytest.param({"resume": {"ECOM": UNKNOWN_TASK}}, "not being downloaded", id="other section"),
    pytest.param({"resume": {"B2B": "a/b"}}, "task id", id="bad task id"),
    pytest.param({"resume": {"B2B": UNKNOWN_TASK, "b2b": UNKNOWN_TASK}}, "twice", id="twice"),
    pytest.param({"resume": {"B2X": UNKNOWN_TASK}}, "ImsSection", id="bad section"),
    pytest.param({"resume": [("B2B", UNKNOWN_TASK)]}, "map sections", id="not a mapping"),
    pytest.param({"replace_lost": "yes"}, "replace_lost", id="replace_lost"),
    pytest.param({"skip_empty": 1}, "skip_empty", id="skip_empty"),
    pytest.param({"on_submitted": 3}, "on_submitted", id="callback"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_CALLS)
async def test_bad_arguments_raise_before_any_request(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match=match):
        await client.ims.download_sections(session, sections=["B2B"], **kwargs)
    assert before == dict(sim.calls)


async def test_something_else_than_a_session_or_a_function_is_refused(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match="GstSession"):
        await client.ims.download_sections("session-id", sections=["B2B"])  # type: ignore[arg-type]

    async def not_a_session() -> Any:
        return "session-id"

    with pytest.raises(InvalidInput, match="GstSession"):
        await client.ims.download_sections(not_a_session, sections=["B2B"])
    assert before == dict(sim.calls)
