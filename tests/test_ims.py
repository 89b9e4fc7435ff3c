"""IMS downloads against the simulator: every record exactly once, exact money, resuming,
filters, sections the models don't know, input checks, and the simulator's alternative forms.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web

from flynn_async import (
    Credentials,
    FlynnClient,
    GstSession,
    InvalidInput,
    OutcomeUnknown,
    PagesMissing,
    Progress,
    ResponseError,
    RetryPolicy,
    Secret,
    Task,
    YesNo,
)
from flynn_async._http import _api
from flynn_async.ims import (
    ImsAmendedInvoice,
    ImsInvoices,
    ImsSection,
    ImsStatus,
    SectionTotals,
)
from flynn_async.ims._decoding import combine_sections
from flynn_async.ims._models import KNOWN_SECTIONS
from flynn_async.testing import (
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
    TaskSettings,
)
from tests.conftest import known_records
from tests.lazy import check_every_name_resolves, modules_imported
from tests.loopback import serve_app

MANY_PAGES = pytest.mark.sim(
    records=RecordSettings(per_section=120), paging=PagingSettings(size=25)
)
AMOUNTS = ("val", "txval", "iamt", "camt", "samt", "cess")


def expected_totals(records: list[dict[str, Any]]) -> SectionTotals:
    """Totals computed independently, with Decimal, from the simulator's wire records."""
    sums = {key: Decimal(0) for key in AMOUNTS}
    for record in records:
        for key in AMOUNTS:
            amount = record.get(key)
            assert not isinstance(amount, float)
            sums[key] += Decimal(amount if amount is not None else 0)
    return SectionTotals(len(records), *(sums[key] for key in AMOUNTS))


# ------------------------------------------------------------------------------------------
# Whole downloads
# ------------------------------------------------------------------------------------------


@MANY_PAGES
async def test_download_all_returns_exactly_the_simulators_records(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download_all(session)

    as_dict = result.to_dict()
    assert list(KNOWN_SECTIONS) == list(as_dict)
    for key in KNOWN_SECTIONS:
        # each record once, in page order, field for field
        assert sim.expected_records(sim.gstin, key) == as_dict[key]
    assert 8 * 120 == len(result)
    assert 8 * 120 == len({record.hash for _, record in known_records(result)})

    # one task per section, every page fetched once
    assert 8 == sim.calls["ims_submit"] == len(sim.tasks)
    assert {s.value for s in ImsSection} == {t.section for t in sim.tasks.values()}
    assert 8 * 5 == sum(t.pages for t in sim.tasks.values()) == sim.calls["task_page"]
    assert 8 == sim.calls["task_result"]


@MANY_PAGES
async def test_download_all_totals_are_exact_decimal_sums(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download_all(session)
    totals = result.totals()
    assert list(KNOWN_SECTIONS) == list(totals)
    for key in KNOWN_SECTIONS:
        expected = expected_totals(sim.expected_records(sim.gstin, key))
        assert expected == totals[key]
        assert str(expected.value) == str(totals[key].value)  # same digits, not just equal
    for _, record in known_records(result):
        for amount in (record.value, record.taxable_value, record.igst, record.cess):
            assert type(amount) is Decimal


@MANY_PAGES
async def test_download_one_section(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download(session, section=ImsSection.B2BA)
    assert {"b2ba": sim.expected_records(sim.gstin, "b2ba")} == result.to_dict()
    assert 120 == len(result.b2ba)
    assert all(type(r) is ImsAmendedInvoice for r in result.b2ba)
    assert () == result.b2b
    assert 1 == sim.calls["ims_submit"]
    assert 5 == sim.calls["task_page"]


@MANY_PAGES
async def test_submit_then_resume_from_another_client(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    first = await make_client()
    task = await first.ims.submit(await open_gst(first, sim), section="B2BDN")
    await first.aclose()

    second = await make_client()
    resumed = second.ims.task(task.id)
    assert isinstance(resumed, Task)
    assert task.id == resumed.id
    result = await resumed.result()

    assert {"b2bdn": sim.expected_records(sim.gstin, "b2bdn")} == result.to_dict()
    assert 1 == sim.calls["ims_submit"]  # re-attaching starts no new task
    assert 1 == len(sim.tasks)


async def test_status_filter(sim: FlynnSimulator, client: FlynnClient, session: GstSession) -> None:
    sim.config = sim.config.replace(records=attrs.evolve(sim.config.records, per_section=40))
    expected = sim.expected_records(sim.gstin, "b2b", "P")
    assert 0 < len(expected) < 40

    result = await client.ims.download(session, section="B2B", status=ImsStatus.PENDING)

    assert {"b2b": expected} == result.to_dict()
    assert {ImsStatus.PENDING} == {r.action for r in result.b2b}
    (task,) = sim.tasks.values()
    assert "P" == task.status


async def test_sections_and_statuses_are_accepted_in_any_case(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download(session, section="b2bCn", status="a")
    (task,) = sim.tasks.values()
    assert ("B2BCN", "A") == (task.section, task.status)
    assert sim.expected_records(sim.gstin, "b2bcn", "A") == result.to_dict().get("b2bcn", [])

    result = await client.ims.download_all(session, sections=["ecom", " EcomA"], status="n")
    assert {"ECOM", "ECOMA"} == {t.section for t in list(sim.tasks.values())[1:]}
    assert {"N"} == {t.status for t in list(sim.tasks.values())[1:]}
    assert sim.expected_records(sim.gstin, "ecoma", "N") == result.to_dict()["ecoma"]


async def test_download_all_of_chosen_sections_keeps_them_once(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download_all(session, sections=["B2B", "b2b", ImsSection.ECOM])
    assert ["b2b", "ecom"] == result.section_names()
    assert 2 == sim.calls["ims_submit"]
    assert sim.expected_records(sim.gstin, "ecom") == result.to_dict()["ecom"]


@pytest.mark.sim(
    records=RecordSettings(per_section=30, all_sections_in_every_task=True),
    paging=PagingSettings(size=7),
)
async def test_download_all_when_every_task_carries_every_section(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.ims.download_all(session)
    as_dict = result.to_dict()
    assert list(KNOWN_SECTIONS) == list(as_dict)
    for key in KNOWN_SECTIONS:
        assert sim.expected_records(sim.gstin, key) == as_dict[key]
    assert 8 * 30 == len(result)


@pytest.mark.sim(
    records=RecordSettings(per_section=12, unknown_sections=("impg",)),
    paging=PagingSettings(size=5),
)
async def test_unknown_sections_are_kept(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    expected = sim.expected_records(sim.gstin, "impg")

    one = await client.ims.download(session, section="B2B")
    assert ["impg"] == list(one.other_sections)
    assert expected == [dict(r) for r in one.other_sections["impg"]]
    assert {"b2b": sim.expected_records(sim.gstin, "b2b"), "impg": expected} == one.to_dict()

    every = await client.ims.download_all(session)
    assert expected == [dict(r) for r in every.other_sections["impg"]]  # once, not per task
    as_dict = every.to_dict()
    assert [*KNOWN_SECTIONS, "impg"] == list(as_dict)
    assert expected == as_dict["impg"]
    assert 8 * 12 + 12 == len(every)


@MANY_PAGES
async def test_progress_of_a_download_all(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    seen: list[Progress] = []
    await client.ims.download_all(session, on_progress=seen.append)

    assert 8 == len({p.task_id for p in seen})
    assert set(KNOWN_SECTIONS) == {p.section for p in seen}
    for task_id in {p.task_id for p in seen}:
        mine = [p for p in seen if p.task_id == task_id]
        phases = [p.phase for p in mine]
        assert "submitted" == phases[0]
        assert "waiting" in phases
        assert "done" == phases[-1]
        fetching = [p for p in mine if p.phase == "fetching"]
        assert list(range(6)) == [p.pages_done for p in fetching]
        assert {5} == {p.pages_total for p in fetching}
        assert (5, 5) == (mine[-1].pages_done, mine[-1].pages_total)


# ------------------------------------------------------------------------------------------
# Input checks: raised before any request
# ------------------------------------------------------------------------------------------


def foreign_session(gstin: str) -> GstSession:
    return GstSession(gstin, "demo-user", Secret("session-id"), datetime.now(UTC))


BAD_CALLS = [
    pytest.param("submit", {"section": "B2X"}, "ImsSection", id="submit bad section"),
    pytest.param("submit", {"section": "B2B", "status": "Z"}, "ImsStatus", id="submit bad status"),
    pytest.param("submit", {"section": None}, "ImsSection", id="submit no section"),
    pytest.param("download", {"section": "B2X"}, "ImsSection", id="download bad section"),
    pytest.param(
        "download", {"section": "B2B", "status": "Z"}, "ImsStatus", id="download bad status"
    ),
    pytest.param("download_all", {"sections": ["B2B", "B2X"]}, "ImsSection", id="all bad section"),
    pytest.param("download_all", {"sections": "B2X"}, "ImsSection", id="all bad single section"),
    pytest.param("download_all", {"sections": []}, "at least one", id="all no section"),
    pytest.param("download_all", {"status": "Z"}, "ImsStatus", id="all bad status"),
    pytest.param(
        "submit", {"section": "B2B", "on_submitted": "x"}, "on_submitted", id="submit callback"
    ),
    pytest.param("download_all", {"on_submitted": 3}, "on_submitted", id="all callback"),
]


@pytest.mark.parametrize(("method", "kwargs", "match"), BAD_CALLS)
async def test_bad_arguments_raise_before_any_request(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    method: str,
    kwargs: dict[str, Any],
    match: str,
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match=match) as info:
        await getattr(client.ims, method)(session, **kwargs)
    assert isinstance(info.value, ValueError)
    assert before == dict(sim.calls)


@pytest.mark.parametrize("method", ["submit", "download", "download_all"])
@pytest.mark.parametrize("where", ["a file", "under a file", "not a path"])
async def test_a_checkpoint_dir_that_cannot_be_one_is_refused_before_any_request(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    tmp_path: Path,
    method: str,
    where: str,
) -> None:
    # the submit is billed: a directory the pages could never be written to fails first
    (tmp_path / "invoices.csv").write_text("x")
    checkpoint_dir: object = {
        "a file": tmp_path / "invoices.csv",
        "under a file": tmp_path / "invoices.csv" / "pages",
        "not a path": 42,
    }[where]
    before = dict(sim.calls)
    kwargs = {} if method == "download_all" else {"section": "B2B"}
    with pytest.raises(InvalidInput, match="checkpoint_dir"):
        await getattr(client.ims, method)(session, checkpoint_dir=checkpoint_dir, **kwargs)
    assert before == dict(sim.calls)


@pytest.mark.parametrize("method", ["submit", "download", "download_all"])
@pytest.mark.parametrize("gstin", ["24aaapi3182m002", "24AAAPI3182M02", "24AAAPI3182M0023", ""])
async def test_a_session_with_a_bad_gstin_is_refused_before_any_request(
    sim: FlynnSimulator, client: FlynnClient, method: str, gstin: str
) -> None:
    before = dict(sim.calls)
    kwargs = {} if method == "download_all" else {"section": "B2B"}
    with pytest.raises(InvalidInput, match="gstin"):
        await getattr(client.ims, method)(foreign_session(gstin), **kwargs)
    assert before == dict(sim.calls)
    assert gstin not in client.gst._current  # a refused session is not remembered


@pytest.mark.parametrize("method", ["submit", "download", "download_all"])
async def test_something_else_than_a_session_is_refused(
    sim: FlynnSimulator, client: FlynnClient, method: str
) -> None:
    before = dict(sim.calls)
    kwargs = {} if method == "download_all" else {"section": "B2B"}
    with pytest.raises(InvalidInput, match="GstSession"):
        await getattr(client.ims, method)("session-id", **kwargs)
    assert before == dict(sim.calls)


@pytest.mark.parametrize(
    "task_id", ["a/b", "../status", "", " abc", "abc?x=1", "x" * 200, "-abc", 123]
)
async def test_task_refuses_a_bad_id(
    sim: FlynnSimulator, client: FlynnClient, task_id: Any
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match="task id"):
        client.ims.task(task_id)
    assert before == dict(sim.calls)


# ------------------------------------------------------------------------------------------
# The simulator's alternative forms, end to end
# ------------------------------------------------------------------------------------------

VARIANTS = [
    pytest.param({}, marks=pytest.mark.sim(), id="mixed envelopes"),
    pytest.param(
        {}, marks=pytest.mark.sim(shapes=ShapeSettings(envelope="old")), id="old envelope"
    ),
    pytest.param(
        {}, marks=pytest.mark.sim(shapes=ShapeSettings(envelope="new")), id="new envelope"
    ),
    pytest.param(
        {},
        marks=pytest.mark.sim(
            shapes=ShapeSettings(status_shape="wrapped"), tasks=TaskSettings(processing_polls=3)
        ),
        id="wrapped status",
    ),
    pytest.param(
        {}, marks=pytest.mark.sim(shapes=ShapeSettings(expiry_unit="s")), id="expiry in seconds"
    ),
    pytest.param(
        {"page_base": 1},
        marks=pytest.mark.sim(paging=PagingSettings(size=4, base=1)),
        id="pages from 1",
    ),
    pytest.param(
        {"page_base": 1},
        marks=pytest.mark.sim(
            paging=PagingSettings(size=4, base=1),
            shapes=ShapeSettings(envelope="old", status_shape="wrapped"),
        ),
        id="all old",
    ),
]


@pytest.mark.parametrize("client_options", VARIANTS)
async def test_every_simulator_form_downloads_end_to_end(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, client_options: dict[str, Any]
) -> None:
    sim.config = sim.config.replace(
        records=attrs.evolve(sim.config.records, per_section=11),
        paging=attrs.evolve(sim.config.paging, size=3),
    )
    client = await make_client(**client_options)
    session = await open_gst(client, sim)
    session = await client.gst.refresh(session)

    one = await client.ims.download(session, section="B2BCNA", status="A")
    every = await client.ims.download_all(session, sections=["B2B", "ECOMA"])

    assert {"b2bcna": sim.expected_records(sim.gstin, "b2bcna", "A")} == one.to_dict()
    assert {
        "b2b": sim.expected_records(sim.gstin, "b2b"),
        "ecoma": sim.expected_records(sim.gstin, "ecoma"),
    } == every.to_dict()
    assert 0 == sim.calls["token_refresh"]  # the token's expiry was read in the right unit
    assert 0 == sim.calls["unknown"]


# ------------------------------------------------------------------------------------------
# combine_sections (unit)
# ------------------------------------------------------------------------------------------


def test_combine_sections_refuses_tasks_that_disagree() -> None:
    from flynn_async import SectionMismatch
    from flynn_async.ims._decoding import structure_invoices

    def page(**sections: list[dict[str, Any]]) -> ImsInvoices:
        return structure_invoices(sections)

    record = {"stin": "24MAYAS0100J1JD", "inum": "b1", "idt": "23-01-2023", "val": 1}
    other = {**record, "val": 2}
    results = {
        ImsSection.B2B: page(b2b=[record]),
        ImsSection.ECOM: page(ecom=[record], b2b=[other]),
    }
    with pytest.raises(SectionMismatch) as info:
        combine_sections(results, {ImsSection.B2B: "t-b2b", ImsSection.ECOM: "t-ecom"})
    assert "t-ecom" == info.value.task_id
    assert "'b2b'" in str(info.value)

    agreeing = {ImsSection.B2B: page(b2b=[record]), ImsSection.ECOM: page(ecom=[], b2b=[record])}
    combined = combine_sections(agreeing, {ImsSection.B2B: "t-1", ImsSection.ECOM: "t-2"})
    assert {"b2b": [record], "ecom": []} == combined.to_dict()


# ------------------------------------------------------------------------------------------
# Billed task ids are handed over at once, and ride on whatever error follows
# ------------------------------------------------------------------------------------------


async def test_on_submitted_hears_of_each_task_before_anything_else_is_awaited(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    heard: list[tuple[ImsSection, str, int]] = []

    def on_submitted(section: ImsSection, task_id: str) -> None:
        # nothing of the task was asked yet: no status call, no page, no progress report
        heard.append((section, task_id, sim.calls["task_status"] + sim.calls["task_page"]))

    with caplog.at_level(logging.INFO, logger="flynn_async.ims"):
        await client.ims.download_all(session, sections=["B2B", "ECOM"], on_submitted=on_submitted)
    assert {(s, t) for s, t, _ in heard} == {
        (ImsSection(sim.tasks[t].section), t) for t in sim.tasks
    }
    assert [asked for _, _, asked in heard] == [0, 0]
    for task_id in sim.tasks:
        assert any(f"task {task_id} started for {sim.gstin}" in m for m in caplog.messages)


@pytest.mark.parametrize(
    "fault",
    [
        {"malformed_rate": 1.0},
        {"error_rate": 1.0, "error_statuses": (504,)},
        {"truncate_rate": 1.0},
        {"slow_rate": 1.0, "slow_seconds": 5.0},
    ],
    ids=["200-html-page", "504-gateway-page", "cut-short", "timeout"],
)
async def test_a_submit_without_a_usable_answer_is_an_unknown_outcome_not_resent(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, fault: dict[str, Any]
) -> None:
    # The task may have started (and been billed) though no task id came back: the caller is
    # told the outcome is unknown, as for a lost connection, and nothing is sent again.
    client = await make_client(request_timeout=0.5, retry=RetryPolicy(max_tries=3))
    session = await open_gst(client, sim)
    sim.config = sim.config.replace(
        faults=attrs.evolve(sim.config.faults, routes=frozenset({"ims_submit"}), **fault)
    )
    with pytest.raises(OutcomeUnknown) as caught:
        await client.ims.download(session, section="B2B")
    assert caught.value.route == _api.IMS_ROUTE
    assert "task" in str(caught.value)
    assert sim.calls["ims_submit"] == 1


TASK = "0d9c4a6e-0000-4000-8000-00000000000a"


def b2b_record(number: str, action: str) -> dict[str, Any]:
    amounts = dict.fromkeys(AMOUNTS, 0)
    return {
        "stin": "27AAACB1234C1Z5",
        "inum": number,
        "idt": "01-11-2025",
        "inv_typ": "R",
        "rtnprd": "112025",
        "srcform": "R1",
        "pos": "24",
        **amounts,
        "action": action,
        "srcfilstatus": "Filed",
        "hash": "h",
    }


async def ims_answering(
    records: list[dict[str, Any]], clock: Any, submits: list[str] | None = None
) -> tuple[Any, FlynnClient]:
    """A login service (its token refresh answers 502) and the IMS routes of one task whose
    one page holds ``records``; ``submits`` hears of each submit."""
    submits = [] if submits is None else submits

    async def login(_: web.Request) -> web.Response:
        org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
        data = {"token": "t", "expiry": 4_000_000_000_000, "associatedOrgs": [org]}
        return web.json_response({"data": data})

    def ok(data: Any) -> Any:
        async def answer(_: web.Request) -> web.Response:
            return web.json_response({"status": "1", "data": data})

        return answer

    async def refresh(_: web.Request) -> web.Response:  # a gateway's page
        return web.Response(body=b"<html>bad gateway</html>", status=502)

    async def submit(request: web.Request) -> web.Response:
        submits.append(request.path)
        return await ok({"task-id": TASK})(request)

    tasks = _api.TASKS_FLYNN_VERSION
    app = web.Application()
    app.router.add_post("/login" + _api.LOGIN_ROUTE, login)
    app.router.add_put("/login" + _api.LOGIN_ROUTE, refresh)
    app.router.add_post("/login" + _api.LOGOUT_ROUTE, login)
    app.router.add_get(_api.IMS_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION), submit)
    status = {"task": {"id": TASK, "status": "completed"}}
    for route, data in (
        (_api.TASK_STATUS_ROUTE, status),
        (_api.TASK_RESULT_ROUTE, {"pages": 1}),
        (_api.TASK_PAGE_ROUTE, {"b2b": records}),
    ):
        app.router.add_get(route.format(flynn=tasks, task_id=TASK, page=0), ok(data))
    runner, base = await serve_app(app)
    client = FlynnClient(
        Credentials("me@example.com", "pw"),
        base_url=base,
        login_url=base + "/login",
        sleep=clock.sleep,
        clock=clock,
        retry=RetryPolicy(max_tries=2),
    )
    await client.start()
    return runner, client


async def test_a_record_off_the_status_filter_is_a_response_error(clock: Any) -> None:
    # Asked for pending records only, the server sent one with no action: never handed on as
    # if it were pending.
    records = [b2b_record("I-1", "P"), b2b_record("I-2", "N")]
    runner, client = await ims_answering(records, clock)
    session = GstSession("24AAAPI3182M002", "u", Secret("s"), datetime.now(UTC))
    try:
        with pytest.raises(PagesMissing) as caught:
            await client.ims.download(session, section="B2B", status="P")
        cause = caught.value.__cause__
        assert isinstance(cause, ResponseError)
        assert "'N'" in str(cause)
        assert (cause.task_id, cause.page) == (TASK, 0)
        # a resumed task of a download with the filter is held to it too
        with pytest.raises(PagesMissing) as resumed:
            await client.ims.download_sections(
                session, sections=["B2B"], status="P", resume={"B2B": TASK}
            )
        assert isinstance(resumed.value.__cause__, ResponseError)
        assert "'N'" in str(resumed.value.__cause__)
        # without a filter, or with the matching one, the same records are taken as sent
        invoices = await client.ims.download(session, section="B2B")
        assert [r.number for r in invoices.b2b] == ["I-1", "I-2"]
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_a_submit_not_sent_is_not_an_unknown_outcome(clock: Any) -> None:
    # The token had ended and its refresh got a gateway's page: the submit never left, so
    # the error is the refresh's own, not "a task may have started".
    submits: list[str] = []
    runner, client = await ims_answering([], clock, submits)
    session = GstSession("24AAAPI3182M002", "u", Secret("s"), datetime.now(UTC))
    clock.now += _api.TOKEN_MINUTES_DEFAULT * 60 + 1
    try:
        with pytest.raises(ResponseError) as caught:
            await client.ims.submit(session, section="B2B")
    finally:
        await client.aclose()
        await runner.cleanup()
    assert not isinstance(caught.value, OutcomeUnknown)
    assert caught.value.route == _api.LOGIN_ROUTE
    assert submits == []


@pytest.mark.sim(tasks=TaskSettings(processing_polls=3))
async def test_a_cancelled_download_carries_its_task_ids(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    parked = asyncio.Event()

    async def park(_: float) -> None:
        parked.set()
        await asyncio.Event().wait()

    client: FlynnClient = await make_client(sleep=park)
    session = await open_gst(client, sim)
    for work in (
        client.ims.download(session, section="B2B"),
        client.ims.download_all(session, sections=["B2B", "ECOM"]),
    ):
        parked.clear()
        before = set(sim.tasks)
        running = asyncio.create_task(work)
        await parked.wait()  # submitted, now waiting between status calls
        running.cancel()
        with pytest.raises(asyncio.CancelledError) as raised:
            await running
        started = set(sim.tasks) - before
        assert started
        task_ids = getattr(raised.value, "task_ids", {})
        assert set(task_ids.values()) == started
        for section, task_id in task_ids.items():
            assert f"IMS {section} task id: {task_id}" in raised.value.__notes__


async def test_a_progress_callback_that_fails_at_once_fails_the_download_with_the_task_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    def broken(progress: Progress) -> None:
        raise ValueError(f"display broke at {progress.phase}")

    with pytest.raises(ValueError, match="submitted") as raised:
        await client.ims.download(session, section="B2B", on_progress=broken)
    [task_id] = sim.tasks  # billed: the error must say which task, to resume it
    assert {"B2B": task_id} == getattr(raised.value, "task_ids", None)


@pytest.mark.sim(
    paging=PagingSettings(size=2), faults=FaultSettings(routes=["task_page"], error_rate=1.0)
)
async def test_download_all_keeps_the_cause_of_its_error(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    with pytest.raises(PagesMissing) as one:
        await client.ims.download(session, section="B2B")
    with pytest.raises(PagesMissing) as many:
        await client.ims.download_all(session, sections=["B2B", "ECOM"])
    assert one.value.__cause__ is not None
    assert many.value.__cause__ is not None
    assert type(many.value.__cause__) is type(one.value.__cause__)
    assert set(getattr(many.value, "task_ids", {}).values()) <= set(sim.tasks)


@pytest.mark.sim(
    records=RecordSettings(per_section=9, empty_other_sections=True), paging=PagingSettings(size=4)
)
async def test_download_all_takes_an_empty_list_of_another_section_as_no_claim(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    # every B2B page carries "b2ba": [] (and the other sections) while the B2BA task has records
    one = await client.ims.download(session, section="B2B")
    assert set(KNOWN_SECTIONS) == set(one.present)
    result = await client.ims.download_all(session, sections=["B2B", "B2BA", "ECOM"])
    as_dict = result.to_dict()
    for key in ("b2b", "b2ba", "ecom"):
        assert sim.expected_records(sim.gstin, key) == as_dict[key]
        assert 9 == len(as_dict[key])
    for key in set(KNOWN_SECTIONS) - {"b2b", "b2ba", "ecom"}:
        assert [] == as_dict[key]  # sent empty by every task, given back empty
    assert 27 == len(result)


def test_combine_sections_still_refuses_records_that_disagree_with_an_empty_own_task() -> None:
    from flynn_async import SectionMismatch
    from flynn_async.ims._decoding import structure_invoices

    record = {"stin": "24MAYAS0100J1JD", "inum": "b1", "idt": "23-01-2023", "val": 1}
    # B2BA's own task says it has no records; the B2B task's pages carry one: a disagreement
    results = {
        ImsSection.B2B: structure_invoices(
            {"b2b": [record], "b2ba": [{**record, "oinum": "o", "oidt": "01-01-2023"}]}
        ),
        ImsSection.B2BA: structure_invoices({"b2ba": []}),
    }
    with pytest.raises(SectionMismatch, match="'b2ba'") as info:
        combine_sections(results, {ImsSection.B2B: "t-b2b", ImsSection.B2BA: "t-b2ba"})
    assert "t-b2b" == info.value.task_id
    # and an empty list on one task does not hide records of an unrequested section on another
    carried = {**record, "inum": "e1"}
    results = {
        ImsSection.B2B: structure_invoices({"b2b": [record], "ecom": []}),
        ImsSection.B2BA: structure_invoices({"b2ba": [], "ecom": [carried]}),
    }
    combined = combine_sections(results, {ImsSection.B2B: "t-1", ImsSection.B2BA: "t-2"})
    assert [carried] == combined.to_dict()["ecom"]


@pytest.mark.parametrize("style", ["boolean", "mixed"])
async def test_pages_with_flags_as_booleans_or_any_case_download_whole(
    make_sim: Any, make_client: Any, open_gst: Any, style: Any
) -> None:
    simulator = await make_sim(
        records=RecordSettings(per_section=40),
        paging=PagingSettings(size=9),
        shapes=ShapeSettings(flag_style=style),
    )
    client = await make_client(simulator)
    session = await open_gst(client, simulator)
    result = await client.ims.download(session, section="B2B")
    expected = simulator.expected_records(simulator.gstin, "b2b")
    assert 40 == len(result.b2b)
    assert expected == result.to_dict()["b2b"]  # each flag given back in the form sent
    sent = [r.get("ispendactblocked", r.get("ispendactnallwd")) for r in expected]
    assert any(type(v) is bool for v in sent)
    yes = {True, "Y", "y", "TRUE"}
    read = [None if v is None else (YesNo.YES if v in yes else YesNo.NO) for v in sent]
    assert read == [r.pending_blocked for r in result.b2b]


# ----------------------------------------------------------------------------------------------
# The package loads the rules table and the bills of entry on first use (import time)
# ----------------------------------------------------------------------------------------------


def test_the_actions_rules_and_imports_are_imported_on_first_use_not_with_the_package() -> None:
    lazy = {
        "flynn_async.ims._rules",
        "flynn_async.ims._imports",
        "flynn_async.ims._actions",
        "flynn_async.ims._counts",
    }
    first, after = modules_imported(
        "from flynn_async.ims import RULES, ImsImport, ImsCounts, ImsDecision"
    )
    assert "flynn_async.ims" in first
    assert set() == lazy & first
    assert lazy <= after


def test_every_public_name_of_the_package_resolves() -> None:
    from flynn_async import ims

    homes = {
        name: importlib.import_module(f"flynn_async.ims.{home}") for name, home in ims._LAZY.items()
    }
    assert set(ims._LAZY) <= set(ims.__all__)
    check_every_name_resolves(ims, homes)
