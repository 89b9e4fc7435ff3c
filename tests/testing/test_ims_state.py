"""The simulator's IMS state and its own rule checks, spoken to with raw HTTP requests."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from flynn_async._http import _api
from flynn_async.testing import FlynnSimulator

from .conftest import Clock
from .test_simulator import call, gst_headers, gst_session, login

VERSION = _api.DEFAULT_IMS_API_VERSION
FLYNN = _api.IMS_RETURNS_FLYNN_VERSION
KEEP = (*_api.IMS_BODY_RECORD_FIELDS,)


def url(sim: FlynnSimulator, template: str) -> str:
    return sim.base_url + template.format(flynn=FLYNN, version=VERSION)


def sent(record: dict[str, Any], action: str | None, **extra: Any) -> dict[str, Any]:
    """A body record built from a simulator record as a client would."""
    out = {k: v for k, v in record.items() if k in KEEP}
    if action is not None:
        out["action"] = action
    out["prev_status"] = record["action"]
    out.update(extra)
    return out


def body(sim: FlynnSimulator, data: dict[str, list[dict[str, Any]]], reqtyp: str = "SAVE") -> Any:
    return {"rtin": sim.gstin, "reqtyp": reqtyp, "invdata": data}


def encode(value: Any) -> bytes:
    from flynn_async._core._json import dumps

    return dumps(value)


@pytest.fixture
async def headers(http: aiohttp.ClientSession, sim: FlynnSimulator) -> dict[str, str]:
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    return {**gst_headers(sim, token, session_id), "Content-Type": "application/json"}


async def save(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str], payload: Any
) -> tuple[int, Any]:
    data = encode(payload)  # a large body as a stream, as aiohttp asks
    return await call(
        http,
        "PUT",
        url(sim, _api.IMS_SAVE_ROUTE),
        headers=headers,
        data=io.BytesIO(data) if len(data) > 1024 * 1024 else data,
    )


async def status(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str], ref: str
) -> tuple[int, Any]:
    params = {"gstin": sim.gstin, "int_tran_id": ref}
    return await call(
        http, "GET", url(sim, _api.IMS_REQUEST_STATUS_ROUTE), headers=headers, params=params
    )


async def test_counts_reflect_the_records(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str]
) -> None:
    code, answer = await call(
        http,
        "GET",
        url(sim, _api.IMS_COUNTS_ROUTE),
        headers=headers,
        params={"gstin": sim.gstin, "goods_typ": "ALL_OTH"},
    )
    assert code == 200, answer
    group = answer["data"]["all_oth"]
    total = 0
    for key in _api.IMS_COUNT_GROUPS["all_oth"]:
        records = sim.expected_records(sim.gstin, key)
        for action, field in _api.IMS_COUNT_FIELDS.items():
            assert group[key][field] == sum(r["action"] == action for r in records)
        total += len(records)
    assert group["ttl_cnt"] == total
    code, answer = await call(
        http,
        "GET",
        url(sim, _api.IMS_COUNTS_ROUTE),
        headers=headers,
        params={"gstin": sim.gstin, "goods_typ": "NOPE"},
    )
    assert code == 400
    assert answer["error"]["message"] == _api.ERR_INVALID_BODY


async def test_a_save_goes_in_progress_then_processed_and_changes_the_records(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str]
) -> None:
    records = sim.expected_records(sim.gstin, "b2b")
    target = next(r for r in records if r["action"] == "N")
    code, answer = await save(
        http, sim, headers, body(sim, {"b2b": [sent(target, "R", remarks="short")]})
    )
    assert code == 200, answer
    ref = answer["data"][_api.IMS_REFERENCE_KEY]
    code, first = await status(http, sim, headers, ref)
    assert first["data"]["status_cd"] == "IP"
    code, second = await status(http, sim, headers, ref)
    assert second["data"]["status_cd"] == "P"
    assert second["data"]["proc_cnt"] == "1"
    assert second["data"]["err_cnt"] == "0"
    after = next(r for r in sim.expected_records(sim.gstin, "b2b") if r["hash"] == target["hash"])
    assert after["action"] == "R"
    assert after["prev_status"] == "N"
    assert after["remarks"] == "short"
    assert sim.expected_records(sim.gstin, "b2b", "R").count(after) == 1
    code, missing = await status(http, sim, headers, "no-such-reference")
    assert code == 404
    assert missing["error"]["message"] == _api.ERR_NOT_FOUND


async def test_the_portals_codes_record_by_record(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str], clock: Clock
) -> None:
    b2b = sim.expected_records(sim.gstin, "b2b")
    stale = next(r for r in b2b if r["action"] != "N")
    blocked = next(
        r
        for r in b2b
        if "Y" in (r.get("ispendactblocked"), r.get("ispendactnallwd")) and r is not stale
    )
    note = {
        "stin": "24AAAPI3182M002",
        "nt_num": "CN-9",
        "nt_dt": "02-11-2025",
        "rtnprd": "112025",
        "val": Decimal("10.00"),
        "action": "N",
    }
    payload = body(
        sim,
        {
            "b2b": [
                sent({**stale, "action": "N"}, "A"),  # prev_status says N, the record is not
                sent(blocked, "P"),
                sent(b2b[-1], "A", xtra="no"),  # schema: unknown field
            ],
            "b2bcn": [sent(note, "A")],  # not a record of this taxpayer: stale
        },
    )
    _, answer = await save(http, sim, headers, payload)
    ref = answer["data"][_api.IMS_REFERENCE_KEY]
    clock.now += 60  # past the time a request stays in progress
    _, answer = await status(http, sim, headers, ref)
    data = answer["data"]
    assert data["status_cd"] == "PE"
    assert data["err_cnt"] == "4"
    codes = {
        (section, entry["error_cd"], item["inum"])
        for section, entries in data["error_report"].items()
        for entry in entries
        for item in entry["inv"]
    }
    assert codes == {
        ("b2b", "IMSSAV0010", stale["inum"]),
        ("b2b", "IMSSAV0020", blocked["inum"]),
        ("b2b", "IMSSAV005", b2b[-1]["inum"]),
        ("cn", "IMSSAV0010", "CN-9"),  # the short key, as the portal sometimes sends
    }


@pytest.mark.parametrize(
    "change",
    [
        {"val": True},  # an amount must be a number, and a boolean is none
        {"prev_status": "X"},  # prev_status is A, R, P or N
        {"itcRedReq": "yes"},  # Y or N
        {"declIgst": Decimal("-1")},  # a declared amount is a number, never negative
        {"declCgst": "5"},
        {"stin": None},  # a domestic record names its supplier
    ],
    ids=["amount bool", "prev_status", "itcRedReq", "decl negative", "decl text", "no stin"],
)
async def test_a_record_off_the_save_schema_is_refused_as_such(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    headers: dict[str, str],
    clock: Clock,
    change: dict[str, Any],
) -> None:
    record = sim.expected_records(sim.gstin, "b2b")[0]
    out = sent(record, "R" if record["action"] != "R" else "A")
    out.update(change)
    out = {k: v for k, v in out.items() if v is not None}
    _, answer = await save(http, sim, headers, body(sim, {"b2b": [out]}))
    ref = answer["data"][_api.IMS_REFERENCE_KEY]
    clock.now += 60
    _, answer = await status(http, sim, headers, ref)
    (entry,) = answer["data"]["error_report"]["b2b"]
    assert entry["error_cd"] == _api.IMS_CODE_SCHEMA


async def test_a_specified_accept_without_declaration_is_refused(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str], clock: Clock
) -> None:
    from flynn_async.ims._rules import flag_set, is_specified

    records = sim.expected_records(sim.gstin, "b2bcn")
    specified = [
        r
        for r in records
        if is_specified("b2bcn", r)
        and not flag_set(r.get("itcRedReqBlocked", r.get("isItcRedReqBlocked")))
        and r["action"] != "A"
    ]
    assert len(specified) >= 2
    payload = body(
        sim, {"b2bcn": [sent(specified[0], "A"), sent(specified[1], "A", itcRedReq="N")]}
    )
    _, answer = await save(http, sim, headers, payload)
    clock.now += 60
    _, answer = await status(http, sim, headers, answer["data"]["reference_id"])
    report = answer["data"]["error_report"]
    assert [(e["error_cd"], e["inv"][0]["inum"]) for e in report["cn"]] == [
        ("IMSSAV0054", specified[0]["nt_num"])
    ]
    assert answer["data"]["proc_cnt"] == "1"


async def test_a_second_request_while_one_is_in_progress_ends_er(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str], clock: Clock
) -> None:
    records = [r for r in sim.expected_records(sim.gstin, "b2ba") if r["action"] != "R"]
    _, first = await save(http, sim, headers, body(sim, {"b2ba": [sent(records[0], "R")]}))
    _, second = await save(http, sim, headers, body(sim, {"b2ba": [sent(records[1], "R")]}))
    clock.now += 60
    _, answer = await status(http, sim, headers, second["data"]["reference_id"])
    assert answer["data"]["status_cd"] == "ER"
    assert answer["data"]["err_cd"] == "IMSSAV0015"
    _, answer = await status(http, sim, headers, first["data"]["reference_id"])
    assert answer["data"]["status_cd"] == "P"
    current = {r["hash"]: r["action"] for r in sim.expected_records(sim.gstin, "b2ba")}
    assert current[records[0]["hash"]] == "R"
    assert current[records[1]["hash"]] == records[1]["action"]  # the refused one: unchanged


async def test_bodies_are_checked_whole(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str]
) -> None:
    record = sim.expected_records(sim.gstin, "b2b")[0]
    wrong_rtin = {**body(sim, {"b2b": [sent(record, "A")]}), "rtin": "27AAAAA0000A1Z5"}
    code, answer = await save(http, sim, headers, wrong_rtin)
    assert code == 400
    assert answer["error"]["args"]["errorLocation"] == ["rtin"]
    code, answer = await save(http, sim, headers, body(sim, {"xyz": [sent(record, "A")]}))
    assert code == 400
    big = body(sim, {"b2b": [sent(record, "A", remarks="x" * 200)] * 11_000})
    code, answer = await save(http, sim, headers, big)
    assert code == 400
    assert answer["error"]["message"] == _api.ERR_INVALID_BODY
    assert sim.calls["ims_save"] == 3
    assert sim.ims_state.requests == {}
    assert max(sim.ims_state.body_sizes) > _api.IMS_MAX_BODY_BYTES


async def test_a_reset_is_a_task_whose_result_is_the_request_status(
    http: aiohttp.ClientSession, sim: FlynnSimulator, headers: dict[str, str]
) -> None:
    records = [r for r in sim.expected_records(sim.gstin, "ecom") if r["action"] != "N"][:3]
    code, answer = await call(
        http,
        "PUT",
        sim.base_url + _api.IMS_RESET_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION),
        headers=headers,
        data=encode(body(sim, {"ecom": [sent(r, None) for r in records]}, "RESET")),
    )
    assert code == 200, answer
    task_id = answer["data"][_api.TASK_ID_KEY]
    tasks = _api.TASKS_FLYNN_VERSION
    status_url = sim.base_url + _api.TASK_STATUS_ROUTE.format(flynn=tasks, task_id=task_id)
    result_url = sim.base_url + _api.TASK_RESULT_ROUTE.format(flynn=tasks, task_id=task_id)
    for _ in range(3):
        _, answer = await call(http, "GET", status_url, headers=headers)
    code, answer = await call(http, "GET", result_url, headers=headers)
    assert code == 200, answer
    assert answer["data"]["status_cd"] == "P"
    assert answer["data"]["proc_cnt"] == "3"
    now = {r["hash"]: r for r in sim.expected_records(sim.gstin, "ecom")}
    for record in records:
        assert now[record["hash"]]["action"] == "N"
        assert now[record["hash"]]["prev_status"] == record["action"]
        assert "remarks" not in now[record["hash"]]
