"""Every IMS rule refuses a bad decision before any request: the simulator's request counter
does not move, and the error names every offending decision with its rule."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from flynn_async import FlynnClient, GstSession, InvalidDecisions, InvalidInput
from flynn_async.ims import ImsDecision, ImsInvoices, ImsRecord, ItcReduction
from flynn_async.ims._rules import RULES, check, flag_set, is_specified
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings, ShapeSettings
from tests.conftest import known_records, known_section

pytestmark = pytest.mark.sim(
    records=RecordSettings(per_section=60), paging=PagingSettings(size=100)
)

Maker = Callable[..., ImsDecision]


def wire_of(invoices: ImsInvoices, section: str, **changes: Any) -> dict[str, Any]:
    """A downloaded record of ``section`` (as sent), with ``changes`` applied."""
    record = known_section(invoices, section, ImsRecord)[0].to_dict()
    for key in list(record):
        if key.lower().startswith(("ispend", "isitc", "itcred", "isremarks", "decl")):
            del record[key]
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


@pytest.fixture
async def invoices(client: FlynnClient, session: GstSession) -> ImsInvoices:
    return await client.ims.download_all(session)


async def refused(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    decisions: list[ImsDecision],
    *,
    call: str = "save",
) -> InvalidDecisions:
    before = sum(sim.calls.values())
    act = client.ims.save if call == "save" else client.ims.reset
    with pytest.raises(InvalidDecisions) as caught:
        await act(session, decisions)
    assert sum(sim.calls.values()) == before  # nothing was sent, not even a status call
    assert isinstance(caught.value, InvalidInput)
    return caught.value


def rules_of(error: InvalidDecisions) -> list[tuple[int, ImsDecision]]:
    return [(p.rule.number, p.decision) for p in error.problems]


def test_the_table_has_every_rule_with_a_source() -> None:
    assert [r.number for r in RULES] == list(range(1, 9))
    for rule in RULES:
        assert rule.text
        assert rule.reason
        assert rule.source


async def test_rule_1_the_action_fits_the_call(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    record = invoices.b2b[0]
    to_none = invoices.decide(record, "N")
    error = await refused(sim, client, session, [to_none])
    assert rules_of(error) == [(1, to_none)]
    assert "rule 1" in str(error)
    assert to_none.describe() in str(error)
    accept = invoices.decide(record, "A" if record.action != "A" else "R")
    error = await refused(sim, client, session, [accept], call="reset")
    assert rules_of(error) == [(1, accept)]


@pytest.mark.parametrize("flag", ["ispendactblocked", "ispendactnallwd"])
@pytest.mark.parametrize("value", ["Y", "y", True, "TRUE"])
async def test_rule_2_no_pending_when_blocked(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    invoices: ImsInvoices,
    flag: str,
    value: Any,
) -> None:
    wire = wire_of(invoices, "b2b", action="N", **{flag: value})
    decision = ImsDecision(session.gstin, "b2b", wire, "P")
    assert rules_of(await refused(sim, client, session, [decision])) == [(2, decision)]
    # the newer name wins when both are sent
    allowed = ImsDecision(
        session.gstin,
        "b2b",
        {**wire, "ispendactnallwd": "Y", "ispendactblocked": False},
        "P",
    )
    assert check([allowed], call="save", gstin=session.gstin)[2] == []


@pytest.mark.sim(
    records=RecordSettings(per_section=60),
    paging=PagingSettings(size=100),
    shapes=ShapeSettings(flag_style="boolean"),
)
async def test_rule_2_on_downloaded_boolean_flags(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    blocked = [
        invoices.decide(r, "P")
        for _, r in known_records(invoices)
        if str(r.pending_blocked) == "Y" and r.action != "P"
    ]
    assert blocked
    error = await refused(sim, client, session, blocked)
    assert rules_of(error) == [(2, d) for d in blocked]


@pytest.mark.parametrize("section", ["impg", "impga", "impgsez", "impgseza"])
async def test_rule_3_no_reject_on_imports(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, section: str
) -> None:
    bill = {
        "portcd": "INMAA1",
        "boenum": "7654321",
        "boedt": "05-11-2025",
        "rtnprd": "112025",
        "txval": Decimal("1000.00"),
        "igst": Decimal("180.00"),
        "cess": 0,
        "action": "N",
        "hash": "ab" * 32,
    }
    reject = ImsDecision(session.gstin, section, bill, "R")
    assert rules_of(await refused(sim, client, session, [reject])) == [(3, reject)]
    accept = ImsDecision(session.gstin, section, bill, "A")
    assert check([accept], call="save", gstin=session.gstin)[2] == []


async def test_rule_4_a_specified_accept_needs_a_declaration(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    specified = wire_of(invoices, "b2bcn", rtnprd="102025", action="N")
    older = wire_of(invoices, "b2bcn", rtnprd="092025", action="N")
    assert is_specified("b2bcn", specified)
    assert not is_specified("b2bcn", older)
    assert not is_specified("b2bcn", {**specified, "rtnprd": "012026"[:2] + "2024"})
    assert is_specified("b2bcna", {**specified, "rtnprd": "012026"})  # year before month
    bare = ImsDecision(session.gstin, "b2bcn", specified, "A")
    error = await refused(sim, client, session, [bare])
    assert rules_of(error) == [(4, bare)]
    assert "needs an ITC-reduction declaration" in str(error)
    for declaration in (ItcReduction.full_reversal(), ItcReduction.no_reversal()):
        fine = ImsDecision(session.gstin, "b2bcn", specified, "A", declaration=declaration)
        assert check([fine], call="save", gstin=session.gstin)[2] == []
    assert (
        check([ImsDecision(session.gstin, "b2bcn", older, "A")], call="save", gstin="x")[2][
            0
        ].rule.number
        == 8
    )  # only the recipient is wrong: no declaration asked before Oct 2025
    for flag in ("itcRedReqBlocked", "isItcRedReqBlocked"):
        blocked = {**specified, flag: True}
        needless = ImsDecision(
            session.gstin, "b2bcn", blocked, "A", declaration=ItcReduction.full_reversal()
        )
        assert rules_of(await refused(sim, client, session, [needless])) == [(4, needless)]
        plain = ImsDecision(session.gstin, "b2bcn", blocked, "A")
        assert check([plain], call="save", gstin=session.gstin)[2] == []


async def test_rule_5_the_declarations_shape(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    specified = wire_of(
        invoices,
        "b2bcn",
        rtnprd="112025",
        action="N",
        iamt=Decimal("0"),
        camt=Decimal("9.00"),
        samt=Decimal("9.00"),
        cess=Decimal("1.00"),
    )
    plain = wire_of(invoices, "b2b", action="N")

    def partial(igst: str, cgst: str, sgst: str, cess: str) -> ItcReduction:
        return ItcReduction.partial_reversal(
            igst=Decimal(igst), cgst=Decimal(cgst), sgst=Decimal(sgst), cess=Decimal(cess)
        )

    on_plain = ImsDecision(
        session.gstin, "b2b", plain, "A", declaration=ItcReduction.full_reversal()
    )
    on_reject = ImsDecision(
        session.gstin,
        "b2bcn",
        {**specified, "nt_num": "X-3"},
        "R",
        declaration=ItcReduction.no_reversal(),
    )
    uneven = ImsDecision(
        session.gstin, "b2bcn", specified, "A", declaration=partial("0", "4", "5", "0")
    )
    too_much = ImsDecision(
        session.gstin, "b2bcna", specified, "A", declaration=partial("0.01", "9", "9", "2")
    )
    negative = ImsDecision(
        session.gstin,
        "b2bcn",
        {**specified, "nt_num": "X-1"},
        "A",
        declaration=partial("0", "-1", "-1", "0"),
    )
    good = ImsDecision(
        session.gstin,
        "b2bcn",
        {**specified, "nt_num": "X-2"},
        "A",
        declaration=partial("0", "9.00", "9", "0"),
    )
    error = await refused(
        sim, client, session, [on_plain, on_reject, uneven, too_much, good, negative]
    )
    found = rules_of(error)
    assert {n for n, _ in found} == {5}
    assert [d for _, d in found].count(too_much) == 2  # igst and cess over the record's
    offenders = [d for _, d in found]
    for decision in (on_plain, on_reject, uneven, too_much, negative):
        assert decision in offenders
    assert good not in [d for _, d in found]
    assert "CGST must equal its SGST" in str(error)


async def test_rule_6_remarks(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    wire = wire_of(invoices, "b2b", action="N")
    with_accept = ImsDecision(session.gstin, "b2b", wire, "A", remarks="fine")
    too_long = ImsDecision(
        session.gstin, "b2bdn", wire_of(invoices, "b2bdn", action="N"), "R", remarks="x" * 251
    )
    blocked = ImsDecision(
        session.gstin,
        "b2ba",
        wire_of(invoices, "b2ba", action="N", isRemarksBlocked="y"),
        "R",
        remarks="no",
    )
    longest = ImsDecision(
        session.gstin, "ecom", wire_of(invoices, "ecom", action="N"), "P", remarks="x" * 250
    )
    error = await refused(sim, client, session, [with_accept, too_long, blocked, longest])
    assert rules_of(error) == [(6, with_accept), (6, too_long), (6, blocked)]


async def test_rule_7_one_decision_per_record(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    record = next(r for r in invoices.b2b if r.action == "N")
    first = invoices.decide(record, "A")
    second = invoices.decide(record, "R")
    error = await refused(sim, client, session, [first, second])
    assert rules_of(error) == [(7, second)]


async def test_rule_8_the_recipient_and_the_section(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    record = next(r for r in invoices.b2b if r.action == "N")
    wire = record.to_dict()
    stranger = ImsDecision("27AAAAA0000A1Z5", "b2b", wire, "A")
    odd_section = ImsDecision(session.gstin, "isd", wire, "A")
    no_action = ImsDecision(
        session.gstin, "b2b", {k: v for k, v in wire.items() if k not in ("action", "inum")}, "A"
    )
    error = await refused(sim, client, session, [stranger, odd_section, no_action])
    assert rules_of(error) == [(8, stranger), (8, odd_section), (8, no_action)]


async def test_every_problem_is_listed_at_once(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, invoices: ImsInvoices
) -> None:
    wire = wire_of(invoices, "b2b", action="N", ispendactblocked="Y")
    bad = ImsDecision(session.gstin, "b2b", wire, "P", remarks="y" * 300)
    good = [invoices.decide(r, "R") for r in invoices.b2ba if r.action != "R"]
    error = await refused(sim, client, session, [*good, bad])
    assert sorted(n for n, _ in rules_of(error)) == [2, 6]
    assert len(error.problems) == 2
    assert str(error).count(bad.describe()) == 2


def test_constructing_a_decision_never_raises_for_a_rule() -> None:
    wire = {"stin": "24AAAAA0000A1Z5", "inum": "1", "idt": "01-01-2025", "action": "R"}
    ImsDecision(
        "X", "nowhere", wire, "N", remarks="z" * 1000, declaration=ItcReduction.no_reversal()
    )


@pytest.mark.parametrize("value", ["Y", "y", " Y ", True, "true", "TRUE"])
def test_flags_set(value: Any) -> None:
    assert flag_set(value)


@pytest.mark.parametrize("value", ["N", "n", False, None, "", 1, "yes"])
def test_flags_not_set(value: Any) -> None:
    assert not flag_set(value)
