"""IMS actions over real sockets: decide, save, wait, reset; staleness, splitting, exactly once,
cancellation, the request status follow-up, and secrets kept out."""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections import Counter
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import (
    ApiError,
    FlynnClient,
    GstSession,
    ImsOutcomeUnknown,
    InvalidDecisions,
    InvalidInput,
    ResponseError,
    TaskTimeout,
)
from flynn_async._http import _api
from flynn_async.ims import (
    ImsActionResult,
    ImsDecision,
    ImsImport,
    ImsInvoices,
    ImsRequestStatus,
    ItcReduction,
)
from flynn_async.ims._actions import parse_request_status
from flynn_async.ims._rules import flag_set, is_specified
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings
from tests.conftest import CoarseClock, known_records, known_section

BIG = pytest.mark.sim(records=RecordSettings(per_section=60), paging=PagingSettings(size=50))


def pending_ok(decision_wire: Any) -> bool:
    newer = decision_wire.get("ispendactblocked")
    return not flag_set(newer if newer is not None else decision_wire.get("ispendactnallwd"))


def plan(invoices: ImsInvoices, count: int) -> list[ImsDecision]:
    """Decisions that pass every rule and change each record: a mix of every kind."""
    out: list[ImsDecision] = []
    kinds = ("A", "R", "P", "A-remark", "R-remark")
    for i, (section, record) in enumerate(invoices.records()):
        if len(out) == count:
            break
        probe = invoices.decide(record, "A")
        wire = probe.wire
        specified = is_specified(section, wire)
        other = wire.get("itcRedReqBlocked")
        blocked = flag_set(other if other is not None else wire.get("isItcRedReqBlocked"))
        kind = kinds[i % len(kinds)]
        remarks_ok = not flag_set(wire.get("isRemarksBlocked"))
        if kind.startswith("P") and not pending_ok(wire):
            kind = "R"
        action = kind[0]
        remarks = "Price mismatch" if kind.endswith("remark") and remarks_ok else None
        if action == "A":
            remarks = None
        declaration = None
        if action == "A" and specified and not blocked:
            declaration = (ItcReduction.full_reversal(), ItcReduction.no_reversal())[i % 2]
        decision = invoices.decide(record, action, remarks=remarks, itc_reduction=declaration)
        if decision.matches_record():
            continue
        out.append(decision)
    return out


def states(invoices: ImsInvoices) -> dict[tuple[str, str, str, str], str]:
    return {invoices.decide(r, "A").identity: str(r.action) for _, r in known_records(invoices)}


@BIG
async def test_save_200_decisions_then_reset_20(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session)
    assert invoices.recipient_gstin == sim.gstin
    decisions = plan(invoices, 220)
    assert len(decisions) >= 200
    assert {d.section for d in decisions} >= {"b2b", "b2ba", "b2bcn"}
    assert Counter(d.action for d in decisions).keys() == {"A", "R", "P"}
    assert any(d.declaration is not None for d in decisions)
    assert any(d.remarks for d in decisions)
    seen: list[tuple[str, str]] = []

    result = await client.ims.save(
        session, decisions, on_submitted=lambda kind, ref: seen.append((kind, ref))
    )

    assert isinstance(result, ImsActionResult)
    assert result.ok, result.errors
    assert len(result.succeeded) == len(decisions)
    assert seen == [("save", ref) for ref in result.reference_ids]
    assert sim.calls["ims_save"] == 1
    assert sim.calls["ims_request_status"] == 2  # in progress, then processed
    # a fresh download and the counts show exactly the new actions
    fresh = await client.ims.download_all(session)
    now = states(fresh)
    before = states(invoices)
    wanted = {d.identity: d.action for d in decisions}
    for identity, action in now.items():
        assert action == wanted.get(identity, before[identity])
    counts = await client.ims.counts(session)
    tally = Counter(now.values())
    all_sections = counts.sections()
    assert sum(c.accepted for c in all_sections.values()) == tally["A"]
    assert sum(c.rejected for c in all_sections.values()) == tally["R"]
    assert sum(c.pending for c in all_sections.values()) == tally["P"]
    assert sum(c.no_action for c in all_sections.values()) == tally["N"]
    assert counts.total == len(fresh)
    # records keep what was sent with them
    by_identity = {fresh.decide(r, "N").identity: r for _, r in known_records(fresh)}
    for decision in decisions:
        record = by_identity[decision.identity]
        assert record.previous_status == decision.wire["action"]
        assert record.remarks == decision.remarks
    # reset 20 of them
    resets = [fresh.decide(by_identity[d.identity], "N") for d in decisions[:20]]
    reset = await client.ims.reset(session, resets)
    assert reset.ok
    assert len(reset.succeeded) == 20
    assert sim.calls["ims_reset"] == 1
    after = states(await client.ims.download_all(session))
    for decision in decisions[:20]:
        assert after[decision.identity] == "N"
    for decision in decisions[20:]:
        assert after[decision.identity] == decision.action


async def test_unchanged_decisions_are_not_sent(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session)
    same = [
        invoices.decide(r, r.action, remarks=r.remarks)
        for _, r in known_records(invoices)
        if r.action in ("A", "R", "P") and r.itc_reduction_required is None
    ]
    assert same
    sim.reset_counters()
    result = await client.ims.save(session, same)
    assert result.unchanged == tuple(same)
    assert result.requests == ()
    assert sum(sim.calls.values()) == 0


async def test_stale_records_are_reported_with_advice(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"][:5]
    assert len(decisions) == 5
    # the supplier amends two records between the download and the save
    index = {r["hash"]: i for i, r in enumerate(sim.expected_records(sim.gstin, "b2b"))}
    for decision in decisions[:2]:
        sim.ims_state.amend(sim.gstin, "b2b", index[decision.wire["hash"]])

    result = await client.ims.save(session, decisions)

    assert [e.decision for e in result.errors] == decisions[:2]
    for error in result.errors:
        assert error.code == "IMSSAV0010"
        assert "download again" in error.advice
        assert error.section == "b2b"
        assert error.number == error.decision.wire["inum"]  # type: ignore[union-attr]
    assert result.requests[0].status == "PE"
    assert result.requests[0].processed == 3
    assert result.requests[0].failed == 2
    assert list(result.succeeded) == decisions[2:]


@pytest.mark.sim(records=RecordSettings(per_section=2400), paging=PagingSettings(size=5000))
async def test_a_save_over_4_mb_is_split_and_each_record_sent_once(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session)
    decisions = [
        invoices.decide(r, "R")
        for section, r in known_records(invoices)
        if r.action != "R" and not is_specified(section, r.to_dict())
    ]

    result = await client.ims.save(session, decisions)

    assert sum(sim.ims_state.body_sizes) > 4 * 1024 * 1024
    assert max(sim.ims_state.body_sizes) <= 4 * 1024 * 1024
    assert len(result.requests) >= 2
    assert result.ok
    assert sim.calls["ims_save"] == len(result.requests)
    sent = Counter(
        (key, r["stin"], r.get("inum", r.get("nt_num")), r.get("idt", r.get("nt_dt")))
        for body in sim.ims_state.bodies
        for key, records in body["invdata"].items()
        for r in records
    )
    assert set(sent.values()) == {1}
    assert set(sent) == {d.identity for d in decisions}
    # never two requests in progress for one taxpayer: no part ended with IMSSAV0015
    assert all(r.error_code is None for r in result.requests)


async def test_small_body_limit_splits_in_order(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session)
    decisions = [invoices.decide(r, "R") for _, r in known_records(invoices) if r.action != "R"]
    result = await client.ims.save(session, decisions, max_body_bytes=2048)
    assert len(result.requests) > 3
    assert [d for r in result.requests for d in r.decisions] == decisions
    assert result.ok


async def test_cancellation_mid_save_reports_every_reference_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    invoices = await client.ims.download_all(session)
    decisions = [invoices.decide(r, "R") for _, r in known_records(invoices) if r.action != "R"]
    seen: list[str] = []
    second_sent = asyncio.Event()

    def submitted(kind: str, ref: str) -> None:
        seen.append(ref)
        if len(seen) == 2:
            second_sent.set()

    caplog.set_level(logging.INFO, logger="flynn_async")
    saving = asyncio.create_task(
        client.ims.save(session, decisions, on_submitted=submitted, max_body_bytes=2048)
    )
    await second_sent.wait()
    saving.cancel()
    with pytest.raises(asyncio.CancelledError) as caught:
        await saving
    assert caught.value.reference_ids == tuple(seen)  # type: ignore[attr-defined]
    notes = "\n".join(caught.value.__notes__)
    for ref in seen:
        assert ref in notes
        assert ref in caplog.text
    assert len(seen) == sim.calls["ims_save"] == 2
    # the follow-up by id, as another process would
    status = await client.ims.request_status(session, seen[-1])
    assert status.status == "P"
    assert status.processed > 0


async def test_a_second_request_in_progress_stops_the_rest(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, make_client: Any, open_gst: Any
) -> None:
    invoices = await client.ims.download_all(session)
    decisions = [invoices.decide(r, "R") for _, r in known_records(invoices) if r.action != "R"]
    # another process's save is in progress for this taxpayer
    other_client = await make_client()
    other_session = await open_gst(other_client, sim)
    other_invoices = await other_client.ims.download_all(other_session, sections="B2B")
    never = asyncio.Event()

    async def blocked(delay: float) -> None:  # the other process waits between its polls
        await never.wait()

    other_client.ims._ctx = attrs.evolve(other_client.ims._ctx, sleep=blocked)
    other_client.ims._actions._ctx = other_client.ims._ctx
    sent = asyncio.Event()
    other = asyncio.create_task(
        other_client.ims.save(
            other_session,
            [other_invoices.decide(other_invoices.b2b[0], "P", remarks="held")],
            on_submitted=lambda kind, ref: sent.set(),
        )
    )
    await sent.wait()

    result = await client.ims.save(session, decisions, max_body_bytes=2048)

    other.cancel()
    with pytest.raises(asyncio.CancelledError):
        await other
    assert len(result.requests) == 1
    assert result.requests[0].status == "ER"
    assert result.requests[0].error_code == "IMSSAV0015"
    assert "wait" in (result.requests[0].advice or "")
    assert result.unsent
    assert not result.ok
    assert sim.calls["ims_save"] == 2


async def test_request_status_times_out_with_the_id(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    from flynn_async import PollPolicy

    client = await make_client(poll=PollPolicy(deadline=5.0, initial_delay=1.0))
    session = await open_gst(client, sim)
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    sim.ims_state.polls_in_progress = 10**6
    with pytest.raises(TaskTimeout) as caught:
        await client.ims.save(session, decisions)
    ref = caught.value.task_id
    assert ref is not None
    assert ref in str(caught.value)
    assert caught.value.reference_ids == (ref,)  # type: ignore[attr-defined]
    assert sim.calls["ims_save"] == 1


async def test_the_request_status_deadline_ends_the_wait_whatever_the_clocks_resolution(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    from flynn_async import PollPolicy

    coarse = CoarseClock()
    policy = PollPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0, deadline=7.0009)
    client = await make_client(poll=policy, sleep=coarse.sleep, clock=coarse)
    session = await open_gst(client, sim)
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    sim.ims_state.polls_in_progress = 10**6
    coarse.sleeps.clear()
    with pytest.raises(TaskTimeout):
        await client.ims.save(session, decisions)
    assert coarse.sleeps[:3] == [1, 2, 4]
    assert len(coarse.sleeps) == 4  # the last one clipped, then one more status call


async def test_a_lost_answer_is_an_unknown_outcome_and_not_resent(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    sim.config = sim.config.replace(
        faults=attrs.evolve(
            sim.config.faults, routes=frozenset({"ims_save"}), reset_rate=1.0, seed=3
        )
    )
    with pytest.raises(ImsOutcomeUnknown) as caught:
        await client.ims.save(session, decisions)
    error = caught.value
    assert error.gstin == sim.gstin
    assert error.kind == "save"
    assert error.decisions == tuple(decisions)
    assert "unknown" in str(error)
    assert "Do not resend" in str(error)
    assert sim.calls["ims_save"] == 1


@pytest.mark.parametrize(
    "fault",
    [{"malformed_rate": 1.0}, {"error_rate": 1.0, "error_statuses": (502,)}],
    ids=["200-html-page", "502-gateway-page"],
)
@pytest.mark.parametrize("kind", ["save", "reset"])
async def test_an_unusable_answer_is_an_unknown_outcome_and_not_resent(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, kind: str, fault: Any
) -> None:
    # A 200 whose body is a proxy's page, or a gateway's 5xx page, is no answer: the save (or
    # reset) may have been applied, so its outcome is unknown, as for a lost connection.
    invoices = await client.ims.download_all(session, sections="B2B")
    route = "ims_save" if kind == "save" else "ims_reset"
    if kind == "save":
        decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"][:3]
    else:
        decisions = [invoices.decide(r, "N") for r in invoices.b2b if r.action != "N"][:3]
    assert decisions
    sim.config = sim.config.replace(
        faults=attrs.evolve(sim.config.faults, routes=frozenset({route}), seed=3, **fault)
    )
    with pytest.raises(ImsOutcomeUnknown) as caught:
        await getattr(client.ims, kind)(session, decisions)
    error = caught.value
    assert error.kind == kind
    assert error.decisions == tuple(decisions)
    assert "Do not resend" in str(error)
    assert sim.calls[route] == 1


def test_a_request_whose_error_count_has_no_report_is_not_ok() -> None:
    # REQSTS said "processed" but counted an error it did not report: not all was applied.
    def status(code: str, failed: int) -> ImsRequestStatus:
        return ImsRequestStatus("ref-1", "save", code, 2 - failed, failed, None, None, ())

    assert ImsActionResult(requests=(status("P", 0),)).ok
    assert not ImsActionResult(requests=(status("P", 1),)).ok
    assert not ImsActionResult(requests=(status("PE", 1),)).ok


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"proc_cnt": "1"},
        {"status_cd": "P", "err_cnt": "x"},
        {"status_cd": "P", "proc_cnt": -1},
        {"status_cd": "P", "error_report": "none"},
    ],
)
def test_a_broken_request_status_names_its_reference(data: Any) -> None:
    # The reference (or reset task) id is the only handle on the outcome: every error names it.
    with pytest.raises(ResponseError) as caught:
        parse_request_status(data, "REF-7", kind="save", route=_api.IMS_REQUEST_STATUS_ROUTE)
    assert caught.value.task_id == "REF-7"
    assert "REF-7" in str(caught.value)
    assert caught.value.route == _api.IMS_REQUEST_STATUS_ROUTE


async def test_a_save_not_sent_is_not_an_unknown_outcome(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, clock: Any
) -> None:
    # The login token had ended and its refresh got a gateway's page: the save never left.
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"][:2]
    sim.config = sim.config.replace(
        faults=attrs.evolve(
            sim.config.faults, routes=frozenset({"token_refresh"}), error_rate=1.0, seed=3
        )
    )
    clock.now += _api.TOKEN_MINUTES_DEFAULT * 60 + 1
    with pytest.raises(ResponseError) as caught:
        await client.ims.save(session, decisions)
    assert not isinstance(caught.value, ImsOutcomeUnknown)
    assert caught.value.route == _api.LOGIN_ROUTE
    assert sim.calls["ims_save"] == 0


async def test_a_rate_limited_save_is_refused_not_unknown(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    # A 429 (here a gateway's page with Retry-After) is the server refusing the call before
    # doing anything: not an unknown outcome, and not repeated by the client either.
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"][:2]
    sim.config = sim.config.replace(
        faults=attrs.evolve(
            sim.config.faults, routes=frozenset({"ims_save"}), rate_limit_rate=1.0, seed=3
        )
    )
    with pytest.raises(ApiError) as caught:
        await client.ims.save(session, decisions)
    assert caught.value.http_status == 429
    assert "Retry-After" in str(caught.value)
    assert sim.calls["ims_save"] == 1


async def test_decide_needs_a_downloaded_record(client: FlynnClient, session: GstSession) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    with pytest.raises(InvalidInput, match="not one of these"):
        invoices.decide(object(), "A")
    with pytest.raises(InvalidInput, match="recipient"):
        ImsInvoices().decide(invoices.b2b[0], "A")
    with pytest.raises(InvalidInput):
        invoices.decide(invoices.b2b[0], "X")
    with pytest.raises(InvalidInput):
        ItcReduction.partial_reversal(igst=1.5, cgst=0, sgst=0, cess=0)  # type: ignore[arg-type]
    # a pickled download still decides (its record index is rebuilt, never misplaced)
    copy = pickle.loads(pickle.dumps(invoices))
    assert copy.decide(copy.b2b[0], "A").section == "b2b"


async def test_secrets_stay_out_of_errors_reprs_logs_and_locals(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = session.session_id.reveal()
    token = client._tokens.token.reveal()  # type: ignore[union-attr]
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    result = await client.ims.save(session, decisions)
    await client.ims.counts(session)
    sim.config = sim.config.replace(
        faults=attrs.evolve(
            sim.config.faults, routes=frozenset({"ims_save"}), reset_rate=1.0, seed=3
        )
    )
    with pytest.raises(ImsOutcomeUnknown) as caught:
        await client.ims.save(session, [invoices.decide(invoices.b2b[0], "P", remarks="x")])
    texts = [
        caplog.text,
        repr(result),
        repr(decisions),
        str(caught.value),
        library_locals(caught.value),
        repr(pickle.loads(pickle.dumps(caught.value)).__dict__),
    ]
    for text in texts:
        assert secret not in text
        assert token not in text


def library_locals(error: BaseException) -> str:
    """The locals of every library frame the error passed through, as text."""
    texts = []
    tb = error.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if "flynn_async" in frame.f_code.co_filename:
            texts.append(repr(frame.f_locals))
        tb = tb.tb_next
    assert texts
    return "\n".join(texts)


def test_itc_reduction_wire() -> None:
    assert ItcReduction.full_reversal().wire() == {"itcRedReq": "Y"}
    assert ItcReduction.no_reversal().wire() == {"itcRedReq": "N"}
    partial = ItcReduction.partial_reversal(
        igst=Decimal("1.10"), cgst=Decimal(0), sgst=Decimal(0), cess=Decimal("0.5")
    )
    assert partial.wire() == {
        "itcRedReq": "Y",
        "declIgst": Decimal("1.10"),
        "declCgst": Decimal(0),
        "declSgst": Decimal(0),
        "declCess": Decimal("0.5"),
    }


async def test_an_expired_token_is_the_one_refusal_repeated(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    sim.expire_tokens()  # refused with 403 err-expired-token before anything is done
    result = await client.ims.save(session, decisions)
    assert result.ok
    assert sim.calls["ims_save"] == 2  # the refused try and the one after renewal
    assert len(sim.ims_state.bodies) == 1  # applied once
    assert sim.calls["token_refresh"] == 1


async def test_a_reset_is_followed_up_by_its_task_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session, sections="B2BA")
    resets = [invoices.decide(r, "N") for r in invoices.b2ba if r.action != "N"]
    ids: list[tuple[str, str]] = []
    result = await client.ims.reset(
        session, resets, on_submitted=lambda kind, ref: ids.append((kind, ref))
    )
    assert result.ok
    assert ids == [("reset", result.reference_ids[0])]
    again = await client.ims.reset_status(session, ids[0][1])
    assert again.status == "P"
    assert again.processed == len(resets)
    with pytest.raises(InvalidInput):
        await client.ims.reset_status(session, "")


@given(
    sizes=st.lists(st.integers(0, 400), min_size=1, max_size=40),
    limit=st.integers(1500, 6000),
)
def test_split_bodies_holds_every_decision_once_under_the_limit(
    sizes: list[int], limit: int
) -> None:
    from flynn_async._core._json import dumps
    from flynn_async.ims._actions import split_bodies

    sections = ("b2b", "b2bcn", "ecoma")
    decisions = [
        ImsDecision(
            "24AAAPI3182M002",
            sections[i % 3],
            {
                "stin": "24AAAAA0000A1Z5",
                "inum": f"N{i}",
                "idt": "01-01-2025",
                "action": "N",
                "hash": "h" * size,
                "val": Decimal("1.10"),
            },
            "R",
        )
        for i, size in enumerate(sizes)
    ]
    parts = split_bodies(decisions, gstin="24AAAPI3182M002", kind="save", limit=limit)
    assert [d for p in parts for d in p.decisions] == decisions
    for part in parts:
        assert len(dumps(part.body)) <= limit
        sent = [r for records in part.body["invdata"].values() for r in records]
        assert len(sent) == len(part.decisions)


async def test_imports_by_name_typed_and_decided_on(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:

    default = await client.ims.download_all(session)
    assert not any(t.section.startswith("IMPG") for t in sim.tasks.values())
    assert "impg" not in default.section_names()
    imports = await client.ims.download_imports(session, sections=["impg", "IMPGSEZ"])
    assert imports.section_names() == ["impg", "impgsez"]
    records = known_section(imports, "impg", ImsImport)
    assert records
    assert all(isinstance(r, ImsImport) for r in records)
    first = records[0]
    assert first.igst == Decimal(str(sim.expected_records(sim.gstin, "impg")[0]["igst"]))
    assert first.to_dict() == sim.expected_records(sim.gstin, "impg")[0]
    with pytest.raises(InvalidInput):
        await client.ims.download_imports(session, sections="B2B")
    # Accept or Pending only (rule 3): a reject is refused before any request
    rejects = [imports.decide(r, "R") for r in records]
    before = sum(sim.calls.values())
    with pytest.raises(InvalidDecisions) as caught:
        await client.ims.save(session, rejects)
    assert {p.rule.number for p in caught.value.problems} == {3}
    assert sum(sim.calls.values()) == before
    accepts = [imports.decide(r, "A") for r in records if r.action != "A"]
    result = await client.ims.save(session, accepts)
    assert result.ok
    again = await client.ims.download_imports(session, sections="IMPG")
    assert all(r.action == "A" for r in known_section(again, "impg", ImsImport))
    counts = await client.ims.counts(session, goods_types="IMP_GDS")
    assert counts.section("impg").accepted == len(records)


async def test_a_cancellation_while_sending_runs_the_send_to_its_answer(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    decisions = [invoices.decide(r, "R") for r in invoices.b2b if r.action != "R"]
    seen: list[str] = []
    saving: asyncio.Task[Any] | None = None

    def submitted(kind: str, ref: str) -> None:
        seen.append(ref)
        assert saving is not None
        saving.cancel()  # the caller gives up while the send is still being seen through

    saving = asyncio.create_task(client.ims.save(session, decisions, on_submitted=submitted))
    with pytest.raises(asyncio.CancelledError) as caught:
        await saving
    assert len(seen) == 1
    assert caught.value.reference_ids == tuple(seen)  # type: ignore[attr-defined]
    assert seen[0] in "\n".join(caught.value.__notes__)
    assert sim.calls["ims_save"] == 1
    assert sim.calls["ims_request_status"] == 0
    assert len(sim.ims_state.bodies) == 1


async def test_a_stale_import_is_matched_to_its_decision(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    imports = await client.ims.download_imports(session, sections="IMPGA")
    records = [r for r in known_section(imports, "impga", ImsImport) if r.action != "A"]
    assert len(records) >= 2
    decisions = [imports.decide(r, "A") for r in records]
    index = {r["hash"]: i for i, r in enumerate(sim.expected_records(sim.gstin, "impga"))}
    sim.ims_state.amend(sim.gstin, "impga", index[records[0].hash])
    result = await client.ims.save(session, decisions)
    [error] = result.errors
    assert error.decision == decisions[0]
    assert error.code == "IMSSAV0010"
    assert error.number == records[0].bill_number
    assert list(result.succeeded) == decisions[1:]
