"""The simulator's seeded faults, checked with a raw aiohttp client over loopback sockets.

No FlynnClient here: each test shows what a knob puts on the wire and how aiohttp sees it.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import attrs
import pytest

from flynn_async._http import _api
from flynn_async.testing import (
    USER_HANDLE,
    USER_PASSWORD,
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    SimulatorConfig,
    TaskSettings,
)
from flynn_async.testing._faults import FAULT_KINDS

from .conftest import T0, Clock

GSTN = _api.GSTN_HEADERS
IRP = _api.IRP_HEADERS
EINVOICE_QUERY = {"doctype": "INV", "docnum": "RAMIRNINA199", "docdate": "21/06/2021"}
SAFE_ROUTES = {"task_status", "task_result", "task_page", "einvoice"}
NO_FAULTS: dict[str, Any] = {
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "reset_rate": 0.0,
    "slow_rate": 0.0,
    "truncate_rate": 0.0,
    "malformed_rate": 0.0,
}


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    """Start simulators (small data, fake clock) that are closed at teardown."""
    started: list[FlynnSimulator] = []

    async def start(**overrides: Any) -> FlynnSimulator:
        overrides = {
            "records": RecordSettings(per_section=6),
            "paging": PagingSettings(size=2),
            **overrides,
        }
        simulator = FlynnSimulator(clock=Clock(), **overrides)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.close()


# ------------------------------------------------------------------------------------------
# Helpers: each is one raw HTTP exchange
# ------------------------------------------------------------------------------------------


async def call(
    http: aiohttp.ClientSession, url: str, method: str = "GET", **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        assert response.content_type == _api.ACCEPT_JSON, await response.text()
        return response.status, json.loads(await response.read(), parse_float=Decimal)


async def login(http: aiohttp.ClientSession, sim: FlynnSimulator) -> str:
    body = {"handle": USER_HANDLE, "handleType": "email", "password": USER_PASSWORD}
    status, answer = await call(http, sim.login_url + _api.LOGIN_ROUTE, "POST", json=body)
    assert status == 200, answer
    token: str = answer["data"]["token"]
    return token


async def refresh(http: aiohttp.ClientSession, sim: FlynnSimulator, token: str) -> str:
    url = sim.login_url + _api.LOGIN_ROUTE
    status, answer = await call(http, url, "PUT", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, answer
    new: str = answer["data"]["token"]
    return new


def api_headers(sim: FlynnSimulator, token: str) -> dict[str, str]:
    return {
        _api.HEADER_ORG_ID: sim.org_id,
        _api.HEADER_USER_TOKEN: token,
        "accept": _api.ACCEPT_JSON,
    }


def gst_headers(sim: FlynnSimulator, token: str, session_id: str | None = None) -> dict[str, str]:
    headers = api_headers(sim, token)
    headers[GSTN["gstin"]] = sim.gstin
    headers[GSTN["username"]] = sim.gst_username
    headers[GSTN["gsp_code"]] = _api.GSP_CODE
    if session_id is not None:
        headers[GSTN["session_id"]] = session_id
    return headers


def gst_url(sim: FlynnSimulator, action: str) -> str:
    route = _api.GST_AUTH_ROUTE.format(
        flynn=_api.GST_AUTH_FLYNN_VERSION, gstn=_api.DEFAULT_GSTN_API_VERSION, action=action
    )
    return sim.base_url + route


def ims_url(sim: FlynnSimulator) -> str:
    return sim.base_url + _api.IMS_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION)


def status_url(sim: FlynnSimulator, task_id: str) -> str:
    route = _api.TASK_STATUS_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=task_id)
    return sim.base_url + route


def result_url(sim: FlynnSimulator, task_id: str) -> str:
    route = _api.TASK_RESULT_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=task_id)
    return sim.base_url + route


def page_url(sim: FlynnSimulator, task_id: str, page: int) -> str:
    route = _api.TASK_PAGE_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=task_id, page=page)
    return sim.base_url + route


def einvoice_url(sim: FlynnSimulator) -> str:
    route = _api.EINVOICE_ROUTE.format(
        flynn=_api.EINVOICE_FLYNN_VERSION, irp="ni1", version=_api.DEFAULT_EINVOICE_API_VERSION
    )
    return sim.base_url + route


def einvoice_headers(sim: FlynnSimulator, token: str, *, password: bool) -> dict[str, str]:
    headers = api_headers(sim, token)
    headers[IRP["gsp_code"]] = _api.GSP_CODE
    headers[IRP["gstin"]] = sim.gstin
    headers[IRP["username"]] = "api-user"
    if password:
        headers[IRP["password"]] = "irp-password"
    return headers


async def gst_session(http: aiohttp.ClientSession, sim: FlynnSimulator, token: str) -> str:
    headers = gst_headers(sim, token)
    body = {"gstin": sim.gstin, "username": sim.gst_username}
    url = gst_url(sim, _api.GST_ACTION_OTP_REQUEST)
    status, answer = await call(http, url, "POST", headers=headers, json=body)
    assert status == 200, answer
    body = {
        _api.GST_KEY_OTP_REQUEST_ID: answer["data"][_api.GST_KEY_OTP_REQUEST_ID],
        "otp": sim.otp,
    }
    url = gst_url(sim, _api.GST_ACTION_VERIFY)
    status, answer = await call(http, url, "POST", headers=headers, json=body)
    assert status == 200, answer
    session_id: str = answer["data"][_api.GST_KEY_SESSION_ID]
    return session_id


async def submit(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, session_id: str
) -> tuple[int, Any]:
    headers = gst_headers(sim, token, session_id)
    return await call(http, ims_url(sim), headers=headers, params={"section": "B2B"})


async def new_task(http: aiohttp.ClientSession, sim: FlynnSimulator) -> tuple[str, str]:
    """Log in, open a GST session and submit (none of them is a default fault route)."""
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    status, answer = await submit(http, sim, token, session_id)
    assert status == 200, answer
    task_id: str = answer["data"][_api.TASK_ID_KEY]
    return token, task_id


async def outcome(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> str:
    """What one GET looks like from the client: status and body kind, or the exception."""
    try:
        async with http.get(url, headers=headers) as response:
            kind = "json" if response.content_type == _api.ACCEPT_JSON else "html"
            await response.read()
            return f"{response.status} {kind}"
    except aiohttp.ClientError as exc:
        return type(exc).__name__


async def read_get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> None:
    """One GET, read to the end: aiohttp's exceptions propagate."""
    async with http.get(url, headers=headers) as response:
        await response.read()


def count_faults(sim: FlynnSimulator) -> dict[str, int]:
    return {kind: n for kind, n in sim.faults.items() if n}


# ------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------


def test_fault_settings_default_off_and_are_validated() -> None:
    faults = SimulatorConfig().faults
    assert faults == FaultSettings()
    assert faults.seed == 0
    assert faults.routes == frozenset(SAFE_ROUTES)
    assert "ims_submit" not in faults.routes
    assert all(getattr(faults, name) == 0.0 for name in NO_FAULTS)
    assert faults.error_statuses == (500, 502, 503)
    assert (faults.retry_after, faults.slow_seconds) == ("1", 1.0)
    assert (faults.token_expiry_every, SimulatorConfig().tasks.failing_first) == (None, 0)
    assert faults.page_not_found_once == 0.0
    assert attrs.evolve(faults, routes=["ims_submit"]).routes == frozenset({"ims_submit"})
    assert attrs.evolve(faults, error_rate=0.5, reset_rate=0.5).reset_rate == 0.5
    http_date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert attrs.evolve(faults, retry_after=http_date).retry_after == http_date
    for bad in (
        {"error_rate": -0.1},
        {"reset_rate": 1.5},
        {"page_not_found_once": 2.0},
        {"error_rate": 0.6, "slow_rate": 0.6},  # shares of one draw: at most 1 in all
        {"error_statuses": ()},
        {"error_statuses": (404,)},
        {"routes": ["task_stats"]},
        {"retry_after": "soon"},
        {"retry_after": "-1"},
        {"slow_seconds": -1.0},
        {"token_expiry_every": 0},
    ):
        with pytest.raises(ValueError):  # noqa: PT011
            FaultSettings(**bad)
    with pytest.raises(ValueError, match="failing_first"):
        TaskSettings(failing_first=-1)
    with pytest.raises(TypeError):
        FaultSettings(routes="task_page")


async def test_no_faults_by_default(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(tasks=TaskSettings(processing_polls=0))
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    for _ in range(20):
        assert await outcome(http, status_url(sim, task_id), headers) == "200 json"
        assert await outcome(http, page_url(sim, task_id, 0), headers) == "200 json"
    assert not sim.faults


# ------------------------------------------------------------------------------------------
# Each knob on the wire
# ------------------------------------------------------------------------------------------


async def test_error_answers_a_5xx_html_page(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(faults=FaultSettings(error_rate=1.0))
    token, task_id = await new_task(http, sim)
    seen = set()
    for _ in range(30):
        async with http.get(status_url(sim, task_id), headers=api_headers(sim, token)) as resp:
            body = await resp.read()
            assert resp.status in (500, 502, 503)
            assert resp.content_type == "text/html"
            assert body.startswith(b"<html>")
            assert f"{resp.status} {resp.reason}".encode() in body  # e.g. 502 Bad Gateway
            seen.add(resp.status)
    assert seen == {500, 502, 503}
    assert sim.calls["task_status"] == 30
    assert count_faults(sim) == {"error": 30}

    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, error_statuses=(504,)))
    assert await outcome(http, status_url(sim, task_id), api_headers(sim, token)) == "504 html"


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("7", "7"),
        ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 GMT"),
        ("date", email.utils.formatdate(T0 + 1, usegmt=True)),
    ],
)
async def test_rate_limit_sends_retry_after(
    http: aiohttp.ClientSession, make: Any, setting: str, expected: str
) -> None:
    sim = await make(faults=FaultSettings(rate_limit_rate=1.0, retry_after=setting))
    token, task_id = await new_task(http, sim)
    async with http.get(result_url(sim, task_id), headers=api_headers(sim, token)) as resp:
        assert resp.status == 429
        assert resp.headers["Retry-After"] == expected
        assert resp.content_type == "text/html"
        assert b"429 Too Many Requests" in await resp.read()
    assert count_faults(sim) == {"rate_limit": 1}


async def test_reset_drops_the_connection(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(faults=FaultSettings(reset_rate=1.0))
    token, task_id = await new_task(http, sim)
    with pytest.raises(aiohttp.ClientOSError) as caught:
        await read_get(http, status_url(sim, task_id), api_headers(sim, token))
    assert caught.value.errno == errno.ECONNRESET  # a TCP reset, not a clean close
    # aiohttp itself repeats an idempotent request once after a connection error, so the
    # simulator may have seen (and reset) the request twice; every one is counted.
    assert sim.calls["task_status"] == sim.faults["reset"] in (1, 2)
    assert sim.tasks[task_id].status_calls == 0


async def test_slow_answers_late_and_unchanged(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(tasks=TaskSettings(processing_polls=0))
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    status, expected = await call(http, page_url(sim, task_id, 0), headers=headers)
    assert status == 200

    sim.config = sim.config.replace(
        faults=attrs.evolve(sim.config.faults, slow_rate=1.0, slow_seconds=0.05)
    )
    started = time.monotonic()
    assert await call(http, page_url(sim, task_id, 0), headers=headers) == (200, expected)
    assert time.monotonic() - started >= 0.05

    # Slower than the client's timeout: the client gives up; closing does not wait it out.
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, slow_seconds=30.0))
    with pytest.raises(TimeoutError):
        await call(
            http, page_url(sim, task_id, 0), headers=headers, timeout=aiohttp.ClientTimeout(0.1)
        )
    assert sim.pages_in_flight == 1  # still "being answered"
    started = time.monotonic()
    await sim.close()
    assert time.monotonic() - started < 5
    assert sim.pages_in_flight == 0
    assert count_faults(sim) == {"slow": 2}


async def test_truncate_cuts_the_body_short(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(
        tasks=TaskSettings(processing_polls=0), faults=FaultSettings(truncate_rate=1.0)
    )
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    async with http.get(page_url(sim, task_id, 0), headers=headers) as resp:
        assert resp.status == 200
        assert resp.content_type == _api.ACCEPT_JSON
        announced = int(resp.headers["Content-Length"])
        with pytest.raises(aiohttp.ClientPayloadError, match="Not enough data"):
            await resp.read()
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, truncate_rate=0.0))
    async with http.get(page_url(sim, task_id, 0), headers=headers) as resp:
        assert len(await resp.read()) == announced  # the real body's length was announced
    assert count_faults(sim) == {"truncate": 1}
    assert sim.calls["task_page"] == 2
    assert sim.pages_in_flight == 0


async def test_malformed_answers_200_html(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(faults=FaultSettings(malformed_rate=1.0))
    token, task_id = await new_task(http, sim)
    async with http.get(status_url(sim, task_id), headers=api_headers(sim, token)) as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        body = await resp.read()
    with pytest.raises(ValueError):  # noqa: PT011
        json.loads(body)
    assert count_faults(sim) == {"malformed": 1}


async def test_token_expiry_every_n_api_calls(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(tasks=TaskSettings(processing_polls=100))
    token, task_id = await new_task(http, sim)
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, token_expiry_every=3))
    sim.reset_counters()  # API calls are counted from here
    url = status_url(sim, task_id)
    seen = []
    for _ in range(8):
        status, body = await call(http, url, headers=api_headers(sim, token))
        if status == 403:
            assert body["error"]["message"] == _api.ERR_EXPIRED_TOKEN
            token = await refresh(http, sim, token)  # the login service: not an API call
        seen.append(status)
    # After calls 3 and 6 every token expired: calls 4 and 7 are refused.
    assert seen == [200, 200, 200, 403, 200, 200, 403, 200]
    assert sim.faults["token_expiry"] == 2
    assert sim.calls["token_refresh"] == 2
    assert sim.live_tokens == 1


async def test_failing_tasks(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(tasks=TaskSettings(failing_first=1))
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    headers = api_headers(sim, token)
    states = []
    for _ in range(2):
        status, body = await submit(http, sim, token, session_id)
        task_id = body["data"][_api.TASK_ID_KEY]
        for _ in range(2):
            _, body = await call(http, status_url(sim, task_id), headers=headers)
        states.append(body["data"]["task"]["status"])
    assert states == [_api.TASK_STATUS_FAILED, _api.TASK_STATUS_COMPLETED]
    assert count_faults(sim) == {"task_failed": 1}
    first = next(iter(sim.tasks))
    status, body = await call(http, result_url(sim, first), headers=headers)
    assert (status, body["error"]["message"]) == (400, _api.ERR_TASK_NOT_COMPLETED)


async def test_pages_not_found_once(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(
        tasks=TaskSettings(processing_polls=0), faults=FaultSettings(page_not_found_once=1.0)
    )
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    assert sim.tasks[task_id].pages == 3
    for page in range(3):
        status, body = await call(http, page_url(sim, task_id, page), headers=headers)
        assert status == 404
        assert body["error"]["message"] == _api.ERR_NOT_FOUND
        assert body["error"]["args"] == {_api.TASK_ID_KEY: task_id, _api.ERR_ARG_PAGE: page}
        status, body = await call(http, page_url(sim, task_id, page), headers=headers)
        assert status == 200
        assert body["data"] == sim.expected_pages(task_id)[page]
    assert count_faults(sim) == {"page_not_found": 3}
    assert sim.calls["task_page"] == 6
    # An out-of-range page is a real 404, every time, and no fault.
    assert (await call(http, page_url(sim, task_id, 3), headers=headers))[0] == 404
    assert sim.faults["page_not_found"] == 3


async def test_pages_not_found_once_by_seed(http: aiohttp.ClientSession, make: Any) -> None:
    async def missed(**faults: Any) -> list[int]:
        sim = await make(
            tasks=TaskSettings(processing_polls=0),
            paging=PagingSettings(size=1),
            faults=FaultSettings(page_not_found_once=0.5, **faults),
        )
        token, task_id = await new_task(http, sim)
        headers = api_headers(sim, token)
        statuses = [
            (await call(http, page_url(sim, task_id, page), headers=headers))[0]
            for page in range(sim.tasks[task_id].pages)
        ]
        assert sim.faults["page_not_found"] == statuses.count(404)
        return [page for page, status in enumerate(statuses) if status == 404]

    first = await missed(seed=1)
    assert 0 < len(first) < 6
    assert await missed(seed=1) == first
    assert await missed(seed=2) != first
    assert await missed(seed=1, routes=["task_status"]) == []


# ------------------------------------------------------------------------------------------
# Determinism, routes, counters and state
# ------------------------------------------------------------------------------------------


async def fault_sequence(http: aiohttp.ClientSession, sim: FlynnSimulator) -> list[str]:
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    seen = []
    for n in range(60):
        url = status_url(sim, task_id) if n % 2 else page_url(sim, task_id, 0)
        seen.append(await outcome(http, url, headers))
    return seen


NO_WAIT = TaskSettings(processing_polls=0)
MIXED_FAULTS = FaultSettings(
    error_rate=0.15,
    rate_limit_rate=0.1,
    reset_rate=0.05,
    truncate_rate=0.1,
    malformed_rate=0.1,
)


async def test_same_fault_seed_same_faults(http: aiohttp.ClientSession, make: Any) -> None:
    one = await make(tasks=NO_WAIT, faults=attrs.evolve(MIXED_FAULTS, seed=5))
    first = await fault_sequence(http, one)
    assert len(set(first)) >= 5  # a real mix of outcomes
    # Same fault seed, other data seed: the same faults in the same order.
    two = await make(
        tasks=NO_WAIT,
        faults=attrs.evolve(MIXED_FAULTS, seed=5),
        records=RecordSettings(per_section=6, seed=99),
    )
    assert await fault_sequence(http, two) == first
    assert two.faults == one.faults
    assert set(one.faults) <= set(FAULT_KINDS)
    assert sum(one.faults.values()) > 10
    other = await make(tasks=NO_WAIT, faults=attrs.evolve(MIXED_FAULTS, seed=6))
    assert await fault_sequence(http, other) != first


async def test_faults_only_on_fault_routes(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(tasks=TaskSettings(processing_polls=0), faults=FaultSettings(error_rate=1.0))
    token, task_id = await new_task(http, sim)  # login, OTP, submit: not fault routes
    assert not sim.faults
    headers = api_headers(sim, token)
    server_errors = {"500 html", "502 html", "503 html"}
    assert await outcome(http, status_url(sim, task_id), headers) in server_errors
    assert await outcome(http, page_url(sim, task_id, 0), headers) in server_errors
    async with http.get(
        einvoice_url(sim),
        params=EINVOICE_QUERY,
        headers=einvoice_headers(sim, token, password=True),
    ) as resp:
        assert resp.status in (500, 502, 503)
        assert resp.content_type == "text/html"
    assert sim.faults["error"] == 3

    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, routes=["task_page"]))
    assert await outcome(http, status_url(sim, task_id), headers) == "200 json"
    assert await outcome(http, result_url(sim, task_id), headers) == "200 json"
    assert await outcome(http, page_url(sim, task_id, 0), headers) in server_errors

    # A faulted submit never reaches the route: no task is started.
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, routes=["ims_submit"]))
    session_id = await gst_session(http, sim, token)
    async with http.get(
        ims_url(sim), headers=gst_headers(sim, token, session_id), params={"section": "B2B"}
    ) as resp:
        assert resp.status in (500, 502, 503)
    assert list(sim.tasks) == [task_id]
    assert sim.faults["error"] == 5
    # A cut answer to a submit is the route's own: the task was started all the same.
    sim.config = sim.config.replace(
        faults=attrs.evolve(sim.config.faults, error_rate=0.0, truncate_rate=1.0)
    )
    async with http.get(
        ims_url(sim), headers=gst_headers(sim, token, session_id), params={"section": "B2B"}
    ) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert len(sim.tasks) == 2


async def test_rate_zero_and_one(http: aiohttp.ClientSession, make: Any) -> None:
    for kind in ("error", "rate_limit", "reset", "slow", "truncate", "malformed"):
        sim = await make(
            tasks=TaskSettings(processing_polls=0),
            faults=attrs.evolve(
                FaultSettings(slow_seconds=0.0), **{**NO_FAULTS, f"{kind}_rate": 1.0}
            ),
        )
        token, task_id = await new_task(http, sim)
        headers = api_headers(sim, token)
        for _ in range(3):
            await outcome(http, page_url(sim, task_id, 0), headers)
        assert set(sim.faults) == {kind}
        assert sim.faults[kind] == sim.calls["task_page"] >= 3
        assert sim.pages_in_flight == 0
        sim.config = sim.config.replace(
            faults=attrs.evolve(sim.config.faults, **{f"{kind}_rate": 0.0})
        )
        sim.reset_counters()
        for _ in range(10):
            assert await outcome(http, page_url(sim, task_id, 0), headers) == "200 json"
        assert not sim.faults
        assert sim.calls["task_page"] == 10


async def test_counters_and_reset(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(
        tasks=TaskSettings(processing_polls=0), faults=FaultSettings(error_rate=0.5, seed=3)
    )
    token, task_id = await new_task(http, sim)
    for _ in range(10):
        await outcome(http, status_url(sim, task_id), api_headers(sim, token))
    assert sim.calls["task_status"] == 10
    assert 0 < sim.faults["error"] < 10
    sim.reset_counters()
    assert not sim.faults
    assert not sim.calls


async def test_faulted_status_calls_do_not_move_the_task(
    http: aiohttp.ClientSession, make: Any
) -> None:
    sim = await make(tasks=TaskSettings(processing_polls=1), faults=FaultSettings(slow_seconds=0.0))
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    url = status_url(sim, task_id)
    task = sim.tasks[task_id]
    for kind in ("error", "rate_limit", "reset", "malformed", "truncate"):
        faults = attrs.evolve(sim.config.faults, **{**NO_FAULTS, f"{kind}_rate": 1.0})
        sim.config = sim.config.replace(faults=faults)
        await outcome(http, url, headers)
    faults = attrs.evolve(sim.config.faults, **{**NO_FAULTS, "slow_rate": 1.0})
    sim.config = sim.config.replace(faults=faults)
    for _ in range(3):  # a slow answer arrives, showing the state without moving it
        status, body = await call(http, url, headers=headers)
        assert status == 200
        assert body["data"]["task"]["status"] == _api.TASK_STATUS_PROCESSING
    assert (task.status_calls, task.state) == (0, _api.TASK_STATUS_PROCESSING)
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, **NO_FAULTS))
    states = [(await call(http, url, headers=headers))[1]["data"]["task"]["status"] for _ in "ab"]
    assert states == [_api.TASK_STATUS_PROCESSING, _api.TASK_STATUS_COMPLETED]
    assert task.status_calls == 2


async def test_faulted_lookups_open_no_irp_session(http: aiohttp.ClientSession, make: Any) -> None:
    sim = await make(faults=FaultSettings(truncate_rate=1.0))
    token = await login(http, sim)
    url = einvoice_url(sim)
    async with http.get(
        url, params=EINVOICE_QUERY, headers=einvoice_headers(sim, token, password=True)
    ) as resp:
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, truncate_rate=0.0))
    headers = einvoice_headers(sim, token, password=False)
    status, body = await call(http, url, params=EINVOICE_QUERY, headers=headers)
    assert (status, body["error"]["message"]) == (
        _api.ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS,
        _api.ERR_IRP_EMPTY_PASSWORD,
    )


async def test_concurrent_faulted_pages_keep_the_in_flight_count(
    http: aiohttp.ClientSession, make: Any
) -> None:
    sim = await make(
        tasks=TaskSettings(processing_polls=0),
        faults=FaultSettings(slow_rate=0.5, reset_rate=0.25, slow_seconds=0.2),
    )
    token, task_id = await new_task(http, sim)
    headers = api_headers(sim, token)
    urls = [page_url(sim, task_id, n % 3) for n in range(12)]
    await asyncio.gather(*(outcome(http, url, headers) for url in urls))
    assert sim.faults["slow"] > 1
    assert sim.peak_pages_in_flight > 1
    assert sim.pages_in_flight == 0
