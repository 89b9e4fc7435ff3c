"""IMS counts: parsing (unknown groups, sections and fields kept; broken answers refused) and
the call over real sockets."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import FlynnClient, GstSession, InvalidInput, ResponseError
from flynn_async.ims import ImsCounts, ImsSection
from flynn_async.ims._counts import parse_counts
from flynn_async.testing import FaultSettings, FlynnSimulator, RecordSettings


def test_groups_sections_and_unknowns_are_kept() -> None:
    data = {
        "all_oth": {
            "ttl_cnt": 7,
            "b2b": {"noaction": 1, "accept": 2, "reject": 0, "pending": 3, "newfield": "x"},
            "b2bcn": {"noaction": "1", "accept": 0, "reject": 0, "pending": 0},
        },
        "imp_gds": {"ttl_cnt": 0, "impg": {"noaction": 0, "accept": 0, "reject": 0, "pending": 0}},
        "brand_new": {"zzz": {"noaction": 4}},
        "gstin": "24AAAPI3182M002",
        "tradenm": "Demo",
    }
    counts = parse_counts("24AAAPI3182M002", data)
    assert counts.section("b2b").pending == 3
    assert counts.section(ImsSection.B2B).total == 6
    assert counts.section("B2BCN").no_action == 1
    assert counts.section("b2b").extra == {"newfield": "x"}
    assert counts.section("zzz").no_action == 4
    assert counts.section("ecoma").total == 0  # absent: zeros
    assert counts.group_totals == {"all_oth": 7, "imp_gds": 0, "brand_new": None}
    assert counts.extra == {"gstin": "24AAAPI3182M002", "tradenm": "Demo"}
    assert counts.total == 11
    assert counts.section("b2b").with_status("P") == 3
    assert counts.section("b2b").with_status(None) == 6
    with pytest.raises(InvalidInput):
        counts.section("b2b").with_status("X")


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"all_oth": {"b2b": {"noaction": -1}}},
        {"all_oth": {"b2b": {"noaction": 1.5}}},
        {"all_oth": {"b2b": {"noaction": True}}},
        {"all_oth": {"b2b": {"noaction": "one"}}},
        {"all_oth": {"b2b": 3}},
        {"all_oth": {"ttl_cnt": "many", "b2b": {"noaction": 1}}},
        {"gstin": "27AAAAA0000A1Z5", "all_oth": {"ttl_cnt": 0}},  # another taxpayer's counts
    ],
)
def test_broken_answers_are_response_errors(data: Any) -> None:
    with pytest.raises(ResponseError) as caught:
        parse_counts("24AAAPI3182M002", data)
    assert caught.value.route is not None


@given(
    st.dictionaries(
        st.sampled_from(["b2b", "b2ba", "ecom", "impg", "odd"]),
        st.fixed_dictionaries(
            {k: st.integers(0, 10**6) for k in ("noaction", "accept", "reject", "pending")}
        ),
    )
)
def test_counts_round_trip(sections: dict[str, dict[str, int]]) -> None:
    counts = parse_counts("X", {"all_oth": {"ttl_cnt": 0, **sections}})
    for key, values in sections.items():
        got = counts.section(key)
        wanted = (values["noaction"], values["accept"], values["reject"], values["pending"])
        assert (got.no_action, got.accepted, got.rejected, got.pending) == wanted
    assert counts.total == sum(sum(v.values()) for v in sections.values())


@pytest.mark.sim(records=RecordSettings(per_section=25))
async def test_counts_over_sockets(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    counts = await client.ims.counts(session)
    assert isinstance(counts, ImsCounts)
    assert counts.gstin == sim.gstin
    for section in ImsSection:
        records = sim.expected_records(sim.gstin, section.value)
        got = counts.section(section)
        assert got.total == len(records)
        assert got.accepted == sum(r["action"] == "A" for r in records)
        assert got.no_action == sum(r["action"] == "N" for r in records)
    assert counts.group_totals["all_oth"] == counts.total == 8 * 25
    assert sim.calls["ims_counts"] == 1
    with pytest.raises(InvalidInput):
        await client.ims.counts(session, goods_types="NOPE")
    assert sim.calls["ims_counts"] == 1


async def test_counts_are_retried_as_a_read(make_sim: Any, make_client: Any, open_gst: Any) -> None:
    sim = await make_sim(
        faults=FaultSettings(routes=frozenset({"ims_counts"}), error_rate=0.25, seed=11)
    )
    client = await make_client(sim)
    session = await open_gst(client, sim)
    for _ in range(12):
        counts = await client.ims.counts(session)
        assert counts.total == 8 * 6
    assert sim.faults["error"] > 0
