"""Downloading GSTR-2B from the simulator: one file or several, errors, queued answers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from flynn_async import (
    Credentials,
    FlynnClient,
    GstError,
    Gstr2bNotGenerated,
    Gstr2bQueued,
    Gstr2bTooEarly,
    GstSession,
    InvalidInput,
    PollPolicy,
    ResponseError,
    ReturnPeriod,
    Secret,
)
from flynn_async._http import _api
from flynn_async.gstr2b import Gstr2b, Gstr2bSupplier, decode_gstr2b
from flynn_async.testing import FaultSettings, FlynnSimulator, RecordSettings, ShapeSettings
from tests.conftest import ClientFactory, FakeClock, GstOpener
from tests.loopback import serve_app

PERIOD = "102025"


async def test_download_gives_the_simulators_document_typed_and_whole(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.gstr2b.download(session, period=PERIOD)
    sent = sim.gstr2b.document(sim.gstin, PERIOD)
    assert sent is not None
    assert sent == result.to_dict()
    assert result == decode_gstr2b(sent)
    assert (result.gstin, result.period, result.files) == (sim.gstin, ReturnPeriod(2025, 10), 1)
    assert sim.gstr2b.calls["get"] == 1


@pytest.mark.parametrize("files", [2, 3, 7])
@pytest.mark.parametrize("carries_file_one", [True, False])
async def test_a_multi_file_2b_is_fetched_whole_and_merges_to_the_one_file_result(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    files: int,
    carries_file_one: bool,
) -> None:
    single = await client.gstr2b.download(session, period=PERIOD)
    sim.gstr2b.files = files
    sim.gstr2b.first_answer_carries_file_one = carries_file_one
    sim.gstr2b.calls.clear()
    merged = await client.gstr2b.download(session, period=ReturnPeriod(2025, 10))
    assert merged == single
    assert merged.to_dict() == single.to_dict()
    assert merged.files == files
    assert sim.gstr2b.calls["get"] == 1 + files


@pytest.mark.sim(records=RecordSettings(per_section=30))
async def test_ims_actions_show_after_regeneration(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    before = await client.gstr2b.download(session, period=PERIOD)
    records = dict(sim._ims_records_of(sim.gstin))
    pending = next(r for r in records["b2b"] if r["action"] == "P")
    accepted = next(r for r in records["b2b"] if r["action"] in ("A", "N"))
    sim.gstr2b.act(sim.gstin, "b2b", pending, "A")
    sim.gstr2b.act(sim.gstin, "b2b", accepted, "R")
    assert await client.gstr2b.download(session, period=PERIOD) == before  # not regenerated
    outcome = await client.gstr2b.regenerate(session, period=PERIOD)
    assert outcome.succeeded
    after = await client.gstr2b.download(session, period=PERIOD)
    assert inums(after, rejected=False) == inums(before, rejected=False) - {accepted["inum"]} | {
        pending["inum"]
    }
    assert accepted["inum"] in inums(after, rejected=True)
    check_the_ims_rules(sim, after)


def inums(result: Gstr2b, *, rejected: bool) -> set[str]:
    docs = result.rejected if rejected else result.documents
    assert docs is not None
    return {d.number for s, _, d in docs.documents() if s == "b2b"}


def check_the_ims_rules(sim: FlynnSimulator, result: Gstr2b) -> None:
    """Accepted and no-action records in docdata, rejected in docRejdata, pending in neither;
    every summary total equals the documents' sums (credit notes subtracted)."""
    assert result.documents is not None
    assert result.rejected is not None
    seen: dict[str, str] = {}
    for key, docs in (("docdata", result.documents), ("docRejdata", result.rejected)):
        for _, _, doc in docs.documents():
            seen[doc.number] = key
            assert doc.ims_status in (("R",) if key == "docRejdata" else ("A", "N"))
    counted = 0
    for section, records in sim._ims_records_of(sim.gstin):
        for record in records:
            number = record.get("inum", record.get("nt_num"))
            assert isinstance(number, str), record
            action = sim.gstr2b.action_of(sim.gstin, section, record)
            assert action is None or isinstance(action, str), action
            places = {"A": "docdata", "N": "docdata", "R": "docRejdata"}
            where = places.get(action) if isinstance(action, str) else None
            assert seen.get(number) == where, (section, number, action)
            counted += where is not None
    assert counted == len(seen)
    summary = result.itc_summary
    assert summary is not None
    for bucket, docs in (("itcavl", result.documents), ("itcRejected", result.rejected)):
        found = summary.buckets[bucket]
        group = found.groups["nonrevsup"]
        totals = dict.fromkeys(("igst", "cgst", "sgst", "cess"), Decimal(0))
        for name, amounts in group.sections.items():
            for tax in totals:
                expected = sum(
                    (signed(doc, tax) for s, _, doc in docs.documents() if s == name),
                    Decimal(0),
                )
                assert getattr(amounts, tax) == expected, (bucket, name, tax)
                totals[tax] += expected
        for tax, value in totals.items():
            assert getattr(group.totals, tax) == value
    assert result.supplier_summary is not None
    for name, rows in result.supplier_summary.items():
        for row in rows:
            entries = [e for e in result.documents.section(name) if isinstance(e, Gstr2bSupplier)]
            docs_of = [
                d for e in entries if e.supplier_gstin == row.supplier_gstin for d in e.documents
            ]
            assert row.document_count == len(docs_of)
            assert row.taxable_value == sum(
                (signed(d, "taxable_value") for d in docs_of), Decimal(0)
            )


def signed(doc: Any, name: str) -> Decimal:
    value = getattr(doc, name)
    return -value if getattr(doc, "note_type", None) == "C" else value


async def test_the_first_2b_follows_the_ims_rules(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    check_the_ims_rules(sim, await client.gstr2b.download(session, period=PERIOD))


@pytest.mark.parametrize("shape", ["error_cd", "gstn-err", "older"])
@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("RET2B1023", Gstr2bNotGenerated),
        ("GTR2B-002", Gstr2bNotGenerated),
        ("RET2B1018", Gstr2bTooEarly),
        ("RET2B9999", GstError),
    ],
)
async def test_each_portal_code_gives_its_typed_error(
    make_sim: Any,
    make_client: ClientFactory,
    open_gst: GstOpener,
    shape: Any,
    code: str,
    error: type[GstError],
) -> None:
    simulator = await make_sim(shapes=ShapeSettings(gst_error_shape=shape))
    client = await make_client(simulator)
    session = await open_gst(client, simulator)
    simulator.gstr2b.error_code = code
    with pytest.raises(error) as caught:
        await client.gstr2b.download(session, period=PERIOD)
    assert type(caught.value) is error
    assert caught.value.portal_code == code
    assert caught.value.route is not None
    assert "returns" in caught.value.route
    if error is Gstr2bNotGenerated:
        assert "regenerate" in str(caught.value)


@pytest.mark.parametrize("shape", ["error_cd", "gstn-err", "older"])
async def test_no_documents_is_an_empty_2b(
    make_sim: Any, make_client: ClientFactory, open_gst: GstOpener, shape: Any
) -> None:
    simulator = await make_sim(shapes=ShapeSettings(gst_error_shape=shape))
    client = await make_client(simulator)
    session = await open_gst(client, simulator)
    simulator.gstr2b.error_code = "RET2B1016"
    result = await client.gstr2b.download(session, period=PERIOD)
    assert (result.gstin, result.period, result.empty) == (
        simulator.gstin,
        ReturnPeriod(2025, 10),
        True,
    )
    assert result.documents is None
    assert result.to_dict() == {"gstin": simulator.gstin, "rtnprd": PERIOD}


@pytest.mark.sim(records=RecordSettings(per_section=0))
async def test_a_taxpayer_without_records_gets_an_empty_2b(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result = await client.gstr2b.download(session, period=PERIOD)
    assert result.empty
    assert result.gstin == sim.gstin


async def test_a_queued_answer_is_waited_out_then_asked_again(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, clock: FakeClock
) -> None:
    sim.gstr2b.queued = 2
    sim.gstr2b.queue_minutes = 2
    result = await client.gstr2b.download(session, period=PERIOD)
    assert not result.empty
    assert clock.sleeps == [120.0, 120.0]
    assert sim.gstr2b.calls["get"] == 3


async def test_a_queue_past_the_deadline_gives_the_request_id(
    sim: FlynnSimulator, make_client: ClientFactory, open_gst: GstOpener, clock: FakeClock
) -> None:
    client = await make_client(poll=PollPolicy(deadline=150.0))
    session = await open_gst(client, sim)
    sim.gstr2b.queued = 5
    sim.gstr2b.queue_minutes = 1
    with pytest.raises(Gstr2bQueued) as caught:
        await client.gstr2b.download(session, period=PERIOD)
    assert caught.value.request_id
    assert caught.value.request_id in str(caught.value)
    assert clock.sleeps == [60.0, 60.0]  # a third wait would pass the 150 s deadline


@pytest.mark.sim(
    faults=FaultSettings(routes={"gstr2b_get"}, error_rate=0.4, reset_rate=0.2, seed=3)
)
async def test_gets_are_retried_like_other_read_only_calls(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    sim.gstr2b.files = 4
    result = await client.gstr2b.download(session, period=PERIOD)
    assert result.files == 4
    assert sum(sim.faults.values()) > 0
    assert client.stats.retries > 0
    sent = sim.gstr2b.document(sim.gstin, PERIOD)
    assert sent == result.to_dict()


@pytest.mark.parametrize("period", ["13-2025", "132025", "2025-10", "", 102025, None, "001999"])
async def test_a_bad_period_is_refused_before_any_request(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, period: Any
) -> None:
    sim.reset_counters()
    with pytest.raises(InvalidInput, match="period"):
        await client.gstr2b.download(session, period=period)
    with pytest.raises(InvalidInput, match="period"):
        await client.gstr2b.regenerate(session, period=period)
    assert sum(sim.calls.values()) == 0


async def test_the_session_id_stays_out_of_logs_and_errors(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    secret = session.session_id.reveal()
    sim.gstr2b.error_code = "RET2B1023"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(Gstr2bNotGenerated) as caught:
            await client.gstr2b.download(session, period=PERIOD)
        sim.gstr2b.error_code = None
        result = await client.gstr2b.download(session, period=PERIOD)
    assert secret not in caplog.text
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert secret not in repr(result)
    assert "GSTR-2B 102025 of" in caplog.text


async def test_the_api_version_is_a_setting(
    sim: FlynnSimulator, make_client: ClientFactory, open_gst: GstOpener
) -> None:
    client = await make_client(gstr2b_api_version="v3.0")
    session = await open_gst(client, sim)
    await client.gstr2b.download(session, period=PERIOD)
    assert client.gstr2b_api_version == "v3.0"
    with pytest.raises(InvalidInput):
        FlynnClient(sim.credentials, gstr2b_api_version="")


# ------------------------------------------------------------------------------------------
# Answers for another taxpayer, another period, or a file count that changes
# ------------------------------------------------------------------------------------------

GSTIN = "24AAAPI3182M002"


def document(number: int | None, **changes: Any) -> dict[str, Any]:
    """A small 2B document (file ``number``, or the first answer) of GSTIN for PERIOD."""
    invoice = {"inum": f"F{number or 1}", "typ": "R", "dt": "01-10-2025", "val": 118}
    supplier = {"ctin": "27AAACB1234C1Z5", "trdnm": "X", "supprd": PERIOD, "inv": [invoice]}
    doc: dict[str, Any] = {"gstin": GSTIN, "rtnprd": PERIOD, "version": "4.0"}
    doc["gendt"] = "14-11-2025"
    doc.update({"itcsumm": {}, "cpsumm": {}, "docdata": {"b2b": [supplier]}})
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


async def scripted_2b(
    answer: Any, clock: FakeClock
) -> tuple[web.AppRunner, FlynnClient, list[int | None]]:
    """A login service and the 2B route answering ``answer(file_num)``; the files asked."""
    asked: list[int | None] = []

    async def login(_: web.Request) -> web.Response:
        org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
        data = {"token": "t", "expiry": 4_000_000_000_000, "associatedOrgs": [org]}
        return web.json_response({"data": data})

    async def get(request: web.Request) -> web.Response:
        number = request.query.get("file_num")
        asked.append(None if number is None else int(number))
        document = answer(asked[-1])
        queued = "requestid" in document  # a queued answer comes instead of the document
        data = document if queued else {"chksum": "x", "data": document}
        return web.json_response({"status": "1", "data": data})

    app = web.Application()
    app.router.add_post("/login/authtokens", login)
    app.router.add_post("/login/logout", login)
    route = _api.GSTR2B_ROUTE.format(
        flynn=_api.GSTR2B_FLYNN_VERSION, v2b=_api.DEFAULT_GSTR2B_API_VERSION
    )
    app.router.add_get(route, get)
    runner, base = await serve_app(app)
    client = FlynnClient(
        Credentials("me@example.com", "pw"),
        base_url=base,
        login_url=base + "/login",
        sleep=clock.sleep,
        clock=clock,
    )
    await client.start()
    return runner, client, asked


OFF_ANSWERS = {
    "another period": (lambda n: document(n, rtnprd="092025"), "rtnprd", None),
    "another taxpayer": (lambda n: document(n, gstin="27AAAAA0000A1Z5"), "gstin", None),
    "file 2 of another period": (
        lambda n: document(n, fc=3, rtnprd="092025" if n == 2 else PERIOD),
        "rtnprd",
        2,
    ),
    "file 2 of another taxpayer": (
        lambda n: document(n, fc=3, gstin="27AAAAA0000A1Z5" if n == 2 else GSTIN),
        "gstin",
        2,
    ),
    "a file count that changes": (lambda n: document(n, fc=4 if n == 3 else 3), "file count", 3),
}


@pytest.mark.parametrize(("answer", "named", "file"), OFF_ANSWERS.values(), ids=OFF_ANSWERS)
async def test_an_answer_that_is_not_the_2b_asked_for_is_a_response_error(
    clock: FakeClock, answer: Any, named: str, file: int | None
) -> None:
    # Never merged silently: a document (or one file of several) of another period or
    # another taxpayer, or a file whose count differs from the first answer's.
    runner, client, _ = await scripted_2b(answer, clock)
    session = GstSession(GSTIN, "u", Secret("s"), datetime.now(UTC))
    try:
        with pytest.raises(ResponseError, match=named) as caught:
            await client.gstr2b.download(session, period=PERIOD)
        assert caught.value.route == _api.GSTR2B_ROUTE
        assert caught.value.page == file
    finally:
        await client.aclose()
        await runner.cleanup()


async def test_files_that_agree_are_merged(clock: FakeClock) -> None:
    runner, client, asked = await scripted_2b(lambda n: document(n, fc=3), clock)
    session = GstSession(GSTIN, "u", Secret("s"), datetime.now(UTC))
    try:
        result = await client.gstr2b.download(session, period=PERIOD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert sorted(asked, key=lambda n: n or 0) == [None, 1, 2, 3]
    assert result.files == 3
    assert result.documents is not None
    numbers = [i.number for s in result.documents.sections["b2b"] for i in s.invoices]
    assert numbers == ["F1", "F2", "F3"]


@pytest.mark.parametrize("minutes", ["2", 2])
async def test_a_queue_time_sent_as_digits_is_waited_out(clock: FakeClock, minutes: Any) -> None:
    # GSTN sends counts as text ("10") elsewhere; a wait in minutes as digits is read the same
    answers = iter([{"requestid": "RQ-1", "retryTimeInMinutes": minutes}, document(None)])
    runner, client, asked = await scripted_2b(lambda n: next(answers), clock)
    session = GstSession(GSTIN, "u", Secret("s"), datetime.now(UTC))
    try:
        result = await client.gstr2b.download(session, period=PERIOD)
    finally:
        await client.aclose()
        await runner.cleanup()
    assert result.gstin == GSTIN
    assert asked == [None, None]
    assert 120.0 in clock.sleeps


@pytest.mark.parametrize("missing", ["gstin", "rtnprd"])
async def test_a_document_without_its_taxpayer_or_period_is_a_response_error(
    clock: FakeClock, missing: str
) -> None:
    # A "document" without the header every 2B has (a status object, an empty object) is not
    # an empty 2B
    runner, client, _ = await scripted_2b(lambda n: document(n, **{missing: None}), clock)
    session = GstSession(GSTIN, "u", Secret("s"), datetime.now(UTC))
    try:
        with pytest.raises(ResponseError, match=missing):
            await client.gstr2b.download(session, period=PERIOD)
    finally:
        await client.aclose()
        await runner.cleanup()
