"""The simulator, checked with a raw aiohttp client over real loopback sockets."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from decimal import Decimal
from typing import Any

import aiohttp
import attrs
import pytest

from flynn_async._http import _api
from flynn_async.testing import (
    SIM_OTP,
    USER_HANDLE,
    USER_PASSWORD,
    DelaySettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
    SimulatorConfig,
    TaskSettings,
    _data,
)

from .conftest import T0, Clock

GSTN = _api.GSTN_HEADERS
NEW_KEYS = {"status", "data", "error", "info", "additionalInfo", "alert"}
MONEY = ("val", "txval", "iamt", "camt", "samt", "cess")


# ------------------------------------------------------------------------------------------
# Helpers: each is one raw HTTP exchange
# ------------------------------------------------------------------------------------------


def decode(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


async def call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, url, **kwargs) as response:
        assert response.content_type == "application/json"
        return response.status, decode(await response.text())


def login_body(**changes: Any) -> dict[str, Any]:
    return {"handle": USER_HANDLE, "handleType": "email", "password": USER_PASSWORD, **changes}


async def login(http: aiohttp.ClientSession, sim: FlynnSimulator, **changes: Any) -> str:
    status, body = await call(
        http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=login_body(**changes)
    )
    assert status == 200, body
    token: str = body["data"]["token"]
    return token


def api_headers(sim: FlynnSimulator, token: str, org: str | None = None) -> dict[str, str]:
    return {
        _api.HEADER_ORG_ID: org or sim.org_id,
        _api.HEADER_USER_TOKEN: token,
        "accept": _api.ACCEPT_JSON,
    }


def gst_headers(
    sim: FlynnSimulator, token: str, session_id: str | None = None, gstin: str | None = None
) -> dict[str, str]:
    headers = api_headers(sim, token)
    headers[GSTN["gstin"]] = gstin or sim.gstin
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


def task_url(sim: FlynnSimulator, route: str, task_id: str, page: int | None = None) -> str:
    flynn = _api.TASKS_FLYNN_VERSION
    return sim.base_url + route.format(flynn=flynn, task_id=task_id, page=page)


async def gst_session(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, gstin: str | None = None
) -> str:
    gstin = gstin or sim.gstin
    headers = gst_headers(sim, token, gstin=gstin)
    status, body = await call(
        http,
        "POST",
        gst_url(sim, _api.GST_ACTION_OTP_REQUEST),
        headers=headers,
        json={"gstin": gstin, "username": sim.gst_username},
    )
    assert status == 200, body
    request_id = body["data"][_api.GST_KEY_OTP_REQUEST_ID]
    status, body = await call(
        http,
        "POST",
        gst_url(sim, _api.GST_ACTION_VERIFY),
        headers=headers,
        json={_api.GST_KEY_OTP_REQUEST_ID: request_id, "otp": sim.otp},
    )
    assert status == 200, body
    session_id: str = body["data"][_api.GST_KEY_SESSION_ID]
    return session_id


async def submit(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    token: str,
    session_id: str,
    section: str = "B2B",
    status: str | None = None,
    gstin: str | None = None,
) -> str:
    params = {"section": section} if status is None else {"section": section, "status": status}
    code, body = await call(
        http,
        "GET",
        ims_url(sim),
        headers=gst_headers(sim, token, session_id, gstin),
        params=params,
    )
    assert code == 200, body
    task_id: str = body["data"][_api.TASK_ID_KEY]
    return task_id


async def task_status(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, task_id: str
) -> Any:
    url = task_url(sim, _api.TASK_STATUS_ROUTE, task_id)
    code, body = await call(http, "GET", url, headers=api_headers(sim, token))
    assert code == 200, body
    return body["data"]


async def ready_task(
    http: aiohttp.ClientSession,
    sim: FlynnSimulator,
    section: str = "B2B",
    status: str | None = None,
) -> tuple[str, str]:
    """Log in, open a GST session, submit, poll to the end; return (token, task id)."""
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    task_id = await submit(http, sim, token, session_id, section, status)
    for _ in range(sim.config.tasks.processing_polls + 1):
        data = await task_status(http, sim, token, task_id)
    assert data["task"]["status"] == sim.config.tasks.terminal_status
    return token, task_id


async def pages_of(
    http: aiohttp.ClientSession, sim: FlynnSimulator, token: str, task_id: str
) -> list[Any]:
    url = task_url(sim, _api.TASK_RESULT_ROUTE, task_id)
    code, body = await call(http, "GET", url, headers=api_headers(sim, token))
    assert code == 200, body
    count = body["data"]["pages"]
    base = sim.config.paging.base
    pages = []
    for number in range(base, base + count):
        url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, number)
        code, body = await call(http, "GET", url, headers=api_headers(sim, token))
        assert code == 200, body
        pages.append(body["data"])
    return pages


def error_of(body: Any) -> dict[str, Any]:
    error: dict[str, Any] = body["error"]
    return error


# ------------------------------------------------------------------------------------------
# Lifecycle and configuration
# ------------------------------------------------------------------------------------------


async def test_binds_a_free_loopback_port_and_closes_twice() -> None:
    simulator = FlynnSimulator()
    with pytest.raises(RuntimeError):
        _ = simulator.base_url
    async with simulator, FlynnSimulator() as other:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", simulator.base_url)
        assert simulator.base_url != other.base_url
        assert simulator.login_url == simulator.base_url + "/theodore/apis/v1"
    await simulator.close()


def test_config_defaults_replace_and_validation() -> None:
    config = SimulatorConfig()
    assert config.paging.base == _api.PAGE_BASE
    assert config.tasks.terminal_status == _api.TASK_STATUS_COMPLETED
    assert config.replace(paging=PagingSettings(size=7)).paging.size == 7
    assert config.replace(paging=PagingSettings(size=7)).records is config.records
    assert FlynnSimulator(
        config, paging=PagingSettings(size=3), records=RecordSettings(seed=9)
    ).config == config.replace(
        paging=attrs.evolve(config.paging, size=3), records=attrs.evolve(config.records, seed=9)
    )
    bad: list[tuple[type, dict[str, Any]]] = [
        (PagingSettings, {"size": 0}),
        (RecordSettings, {"per_section": -1}),
        (DelaySettings, {"request": -0.1}),
        (ShapeSettings, {"envelope": "newest"}),
        (RecordSettings, {"unknown_sections": ("IMPG",)}),
        (RecordSettings, {"unknown_sections": ("b2b",)}),
        (TaskSettings, {"terminal_status": ""}),
    ]
    for group, fields in bad:
        with pytest.raises(ValueError):  # noqa: PT011
            group(**fields)
    with pytest.raises(TypeError, match="records"):  # a group, not a dict of its fields
        SimulatorConfig(records={"per_section": 3})  # type: ignore[arg-type]


def test_identity() -> None:
    simulator = FlynnSimulator()
    assert simulator.credentials.handle == USER_HANDLE
    assert simulator.credentials.password.reveal() == USER_PASSWORD
    assert simulator.otp == SIM_OTP == "575757"
    assert simulator.gstin == "24AAAPI3182M002"
    assert simulator.gst_username == "demo-user"


# ------------------------------------------------------------------------------------------
# Login service
# ------------------------------------------------------------------------------------------


async def test_login_answers_token_expiry_and_orgs(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    status, body = await call(
        http,
        "POST",
        sim.login_url + _api.LOGIN_ROUTE,
        json=login_body(tokenDurationInMins=30),
    )
    assert status == 200
    assert set(body) == {"data"}  # the old envelope
    data = body["data"]
    assert data["token"].count(".") == 2
    assert data["expiry"] == round((T0 + 30 * 60) * 1000)
    assert data["email"] == USER_HANDLE
    assert data["userId"]
    orgs = data["associatedOrgs"]
    assert len(orgs) == 2
    primary = [o["organisation"]["id"] for o in orgs if o["userAccessInfo"]["primary"]]
    assert primary == [sim.org_id]
    assert sim.live_tokens == 1
    assert sim.calls["login"] == 1


async def test_expiry_in_seconds(http: aiohttp.ClientSession, clock: Clock) -> None:
    async with FlynnSimulator(clock=clock, shapes=ShapeSettings(expiry_unit="s")) as sim:
        _, body = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=login_body())
    expiry = body["data"]["expiry"]
    assert expiry == round(T0 + _api.TOKEN_MINUTES_DEFAULT * 60)
    assert expiry < _api.EXPIRY_SECONDS_BELOW


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"handle": USER_HANDLE, "password": USER_PASSWORD}, ["handleType"]),
        (login_body(handleType="phone", password=""), ["handleType", "password"]),
        (login_body(tokenDurationInMins=0), ["tokenDurationInMins"]),
        (login_body(tokenDurationInMins=_api.TOKEN_MINUTES_MAX + 1), ["tokenDurationInMins"]),
        (login_body(tokenDurationInMins=True), ["tokenDurationInMins"]),
        (login_body(tokenDurationInMins="20"), ["tokenDurationInMins"]),
        ([1, 2], ["body"]),
    ],
)
async def test_login_rejects_a_bad_body(
    http: aiohttp.ClientSession, sim: FlynnSimulator, body: Any, fields: list[str]
) -> None:
    status, answer = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=body)
    assert status == 400
    assert error_of(answer)["message"] == _api.ERR_INVALID_BODY
    assert error_of(answer)["args"][_api.ERR_ARG_ERROR_LOCATION] == fields
    assert sim.live_tokens == 0


async def test_login_rejects_bad_credentials(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    for body in (login_body(password="nope"), login_body(handle="x@example.com")):
        status, answer = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=body)
        assert status == 401
        assert set(answer) == {"error"}
        assert error_of(answer)["message"] == _api.ERR_BAD_CREDENTIALS
    status, answer = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, data=b"not json")
    assert status == 400


async def test_refresh_rotates_the_token(
    http: aiohttp.ClientSession, sim: FlynnSimulator, clock: Clock
) -> None:
    old = await login(http, sim)
    clock.now += 60
    status, body = await call(
        http,
        "PUT",
        sim.login_url + _api.LOGIN_ROUTE,
        headers={"Authorization": f"Bearer {old}"},
    )
    assert status == 200
    new = body["data"]["token"]
    assert new != old
    assert body["data"]["expiry"] == round((clock.now + 20 * 60) * 1000)
    assert sim.live_tokens == 1
    assert sim.calls["token_refresh"] == 1
    url = task_url(sim, _api.TASK_STATUS_ROUTE, "no-such-task")
    status, body = await call(http, "GET", url, headers=api_headers(sim, old))
    assert (status, error_of(body)["message"]) == (403, _api.ERR_INVALID_TOKEN)
    status, body = await call(http, "GET", url, headers=api_headers(sim, new))
    assert status == 404  # the token works: the task is what is unknown
    status, body = await call(
        http, "PUT", sim.login_url + _api.LOGIN_ROUTE, headers={"Authorization": f"Bearer {old}"}
    )
    assert (status, error_of(body)["message"]) == (403, _api.ERR_INVALID_TOKEN)


async def test_refresh_takes_no_body(http: aiohttp.ClientSession, sim: FlynnSimulator) -> None:
    # The facts: PUT with the Bearer token, no body. A body is refused; the token stays good.
    old = await login(http, sim)
    status, body = await call(
        http,
        "PUT",
        sim.login_url + _api.LOGIN_ROUTE,
        headers={"Authorization": f"Bearer {old}"},
        json={"token": old},
    )
    assert (status, error_of(body)["message"]) == (400, _api.ERR_INVALID_BODY)
    assert error_of(body)["args"] == {_api.ERR_ARG_ERROR_LOCATION: ["body"]}
    url = task_url(sim, _api.TASK_STATUS_ROUTE, "no-such-task")
    status, body = await call(http, "GET", url, headers=api_headers(sim, old))
    assert status == 404  # still the live token


async def test_the_gsp_code_header_is_required_on_gstn_routes(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    token = await login(http, sim)
    headers = gst_headers(sim, token)
    del headers[GSTN["gsp_code"]]
    status, body = await call(
        http,
        "POST",
        gst_url(sim, _api.GST_ACTION_OTP_REQUEST),
        headers=headers,
        json={"gstin": sim.gstin, "username": sim.gst_username},
    )
    assert (status, error_of(body)["message"]) == (400, _api.ERR_INVALID_BODY)
    assert error_of(body)["args"] == {_api.ERR_ARG_ERROR_LOCATION: [GSTN["gsp_code"]]}


async def test_refresh_allowed_until_the_hard_expiry(
    http: aiohttp.ClientSession, sim: FlynnSimulator, clock: Clock
) -> None:
    token = await login(http, sim, tokenDurationInMins=10)
    hard = _api.TOKEN_HARD_EXPIRY_FACTOR * 10 * 60
    refresh = {"Authorization": f"Bearer {token}"}
    clock.now += hard - 1  # long expired, still refreshable
    status, body = await call(http, "PUT", sim.login_url + _api.LOGIN_ROUTE, headers=refresh)
    assert status == 200
    clock.now += 1  # the refreshed token descends from the same login
    refresh = {"Authorization": f"Bearer {body['data']['token']}"}
    status, body = await call(http, "PUT", sim.login_url + _api.LOGIN_ROUTE, headers=refresh)
    assert (status, error_of(body)["message"]) == (403, _api.ERR_INVALID_TOKEN)
    assert sim.live_tokens == 0


async def test_logout_ends_the_token(http: aiohttp.ClientSession, sim: FlynnSimulator) -> None:
    token = await login(http, sim)
    bearer = {"Authorization": f"Bearer {token}"}
    status, _ = await call(http, "POST", sim.login_url + _api.LOGOUT_ROUTE, headers=bearer)
    assert status == 200
    assert sim.live_tokens == 0
    status, body = await call(http, "POST", sim.login_url + _api.LOGOUT_ROUTE, headers=bearer)
    assert (status, error_of(body)["message"]) == (403, _api.ERR_INVALID_TOKEN)


async def test_token_limit(http: aiohttp.ClientSession, sim: FlynnSimulator) -> None:
    tokens = [await login(http, sim) for _ in range(_api.MAX_LIVE_TOKENS)]
    assert sim.live_tokens == _api.MAX_LIVE_TOKENS
    status, body = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=login_body())
    assert (status, error_of(body)["message"]) == (401, _api.ERR_TOKEN_LIMIT)
    bearer = {"Authorization": f"Bearer {tokens[0]}"}
    await call(http, "POST", sim.login_url + _api.LOGOUT_ROUTE, headers=bearer)
    await login(http, sim)


async def test_expire_tokens(http: aiohttp.ClientSession, sim: FlynnSimulator) -> None:
    token = await login(http, sim)
    url = task_url(sim, _api.TASK_STATUS_ROUTE, "no-such-task")
    sim.expire_tokens()
    assert sim.live_tokens == 1  # expired, but still refreshable
    status, body = await call(http, "GET", url, headers=api_headers(sim, token))
    assert (status, error_of(body)["message"]) == (403, _api.ERR_EXPIRED_TOKEN)
    assert error_of(body)["type"] == _api.ERR_TYPE_AUTHORIZATION
    status, body = await call(
        http, "PUT", sim.login_url + _api.LOGIN_ROUTE, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    status, _ = await call(http, "GET", url, headers=api_headers(sim, body["data"]["token"]))
    assert status == 404


# ------------------------------------------------------------------------------------------
# Headers of every API call
# ------------------------------------------------------------------------------------------


async def test_api_headers_are_enforced(
    http: aiohttp.ClientSession, sim: FlynnSimulator, clock: Clock
) -> None:
    token = await login(http, sim)
    url = task_url(sim, _api.TASK_STATUS_ROUTE, "no-such-task")

    async def attempt(headers: dict[str, str]) -> tuple[int, str, dict[str, Any]]:
        status, body = await call(http, "GET", url, headers=headers)
        return status, error_of(body)["message"], error_of(body)["args"]

    good = api_headers(sim, token)
    assert (await attempt(good))[:2] == (404, _api.ERR_NOT_FOUND)
    other_org = next(o for o in (await _orgs(http, sim)) if o != sim.org_id)
    assert (await attempt({**good, _api.HEADER_ORG_ID: other_org}))[0] == 404
    assert (await attempt({**good, _api.HEADER_ORG_ID: "not-an-org"}))[:2] == (
        403,
        _api.ERR_INVALID_ORG,
    )
    no_org = {k: v for k, v in good.items() if k != _api.HEADER_ORG_ID}
    assert (await attempt(no_org))[:2] == (403, _api.ERR_INVALID_ORG)
    no_token = {k: v for k, v in good.items() if k != _api.HEADER_USER_TOKEN}
    assert (await attempt(no_token))[:2] == (403, _api.ERR_INVALID_TOKEN)
    assert (await attempt({**good, _api.HEADER_USER_TOKEN: "a.b.c"}))[:2] == (
        403,
        _api.ERR_INVALID_TOKEN,
    )
    no_accept = {k: v for k, v in good.items() if k != "accept"}  # aiohttp sends */*
    assert await attempt(no_accept) == (
        400,
        _api.ERR_INVALID_BODY,
        {_api.ERR_ARG_ERROR_LOCATION: ["accept"]},
    )
    assert (await attempt({**good, "accept": "application/json, */*"}))[0] == 400
    clock.now += _api.TOKEN_MINUTES_DEFAULT * 60
    assert (await attempt(good))[:2] == (403, _api.ERR_EXPIRED_TOKEN)


async def _orgs(http: aiohttp.ClientSession, sim: FlynnSimulator) -> list[str]:
    _, body = await call(http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=login_body())
    return [o["organisation"]["id"] for o in body["data"]["associatedOrgs"]]


async def test_unknown_routes_answer_json_errors(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    status, body = await call(http, "GET", sim.base_url + "/enriched/nothing/here")
    assert (status, error_of(body)["message"]) == (404, _api.ERR_NOT_FOUND)
    assert body["status"] == _api.STATUS_ERROR
    status, body = await call(http, "GET", sim.login_url + _api.LOGIN_ROUTE)
    assert status == 405
    assert set(body) == {"error"}
    token = await login(http, sim)
    status, body = await call(
        http, "POST", gst_url(sim, "NOSUCHACTION"), headers=gst_headers(sim, token), json={}
    )
    assert status == 404
    assert sim.calls["unknown"] == 3


# ------------------------------------------------------------------------------------------
# GST session
# ------------------------------------------------------------------------------------------


async def test_otp_flow_checks(http: aiohttp.ClientSession, sim: FlynnSimulator) -> None:
    token = await login(http, sim)
    headers = gst_headers(sim, token)
    otp_url = gst_url(sim, _api.GST_ACTION_OTP_REQUEST)
    verify_url = gst_url(sim, _api.GST_ACTION_VERIFY)

    status, body = await call(
        http, "POST", otp_url, headers=headers, json={"gstin": "24AAAPI3182M003", "username": "x"}
    )
    assert status == 400
    assert error_of(body)["args"][_api.ERR_ARG_ERROR_LOCATION] == ["gstin", "username"]

    for bad in ("24aaapi3182m002", "24AAAPI3182M00", ""):
        status, body = await call(
            http,
            "POST",
            otp_url,
            headers={**headers, GSTN["gstin"]: bad},
            json={"gstin": bad, "username": sim.gst_username},
        )
        assert (status, error_of(body)["message"]) == (400, _api.ERR_INVALID_GSTIN)
        assert error_of(body)["args"] == {_api.ERR_ARG_PARAMETER_NAME: GSTN["gstin"]}

    no_user = {k: v for k, v in headers.items() if k != GSTN["username"]}
    status, body = await call(
        http, "POST", otp_url, headers=no_user, json={"gstin": sim.gstin, "username": ""}
    )
    assert status == 400
    assert error_of(body)["args"][_api.ERR_ARG_ERROR_LOCATION] == [GSTN["username"]]

    status, body = await call(
        http,
        "POST",
        otp_url,
        headers=headers,
        json={"gstin": sim.gstin, "username": sim.gst_username},
    )
    assert status == 200
    assert set(body) == {"data"}
    request_id = body["data"][_api.GST_KEY_OTP_REQUEST_ID]

    for wrong in (
        {_api.GST_KEY_OTP_REQUEST_ID: request_id, "otp": "000000"},
        {_api.GST_KEY_OTP_REQUEST_ID: "unknown", "otp": sim.otp},
    ):
        status, body = await call(http, "POST", verify_url, headers=headers, json=wrong)
        assert status == 400
        assert error_of(body) == {
            "message": _api.ERR_GSTN,
            "type": _api.ERR_TYPE_GSTN,
            "args": {
                _api.ERR_ARG_GSTN_CODE: _api.GST_CODE_INVALID_SESSION,
                _api.ERR_ARG_GSTN_MESSAGE: "Invalid session or OTP",
            },
        }
    status, body = await call(
        http,
        "POST",
        verify_url,
        headers=headers,
        json={_api.GST_KEY_OTP_REQUEST_ID: request_id, "otp": sim.otp},
    )
    assert status == 200
    assert body["data"][_api.GST_KEY_SESSION_ID]
    assert sim.calls["otp_request"] == 6
    assert sim.calls["otp_verify"] == 3


async def test_gst_session_refresh_rotates_and_expires(
    http: aiohttp.ClientSession, sim: FlynnSimulator, clock: Clock
) -> None:
    token = await login(http, sim)
    old = await gst_session(http, sim, token)
    clock.now += 3600
    token = await login(http, sim)  # the first login token has expired by now
    status, body = await call(
        http,
        "POST",
        gst_url(sim, _api.GST_ACTION_REFRESH),
        headers=gst_headers(sim, token),
        json={_api.GST_KEY_SESSION_ID: old},
    )
    assert status == 200
    new = body["data"][_api.GST_KEY_SESSION_ID]
    assert new != old

    async def submit_with(session_id: str) -> tuple[int, Any]:
        return await call(
            http,
            "GET",
            ims_url(sim),
            headers=gst_headers(sim, token, session_id),
            params={"section": "B2B"},
        )

    status, body = await submit_with(old)
    assert status == 400
    assert error_of(body)["args"][_api.ERR_ARG_GSTN_CODE] == _api.GST_CODE_INVALID_SESSION
    status, body = await submit_with(new)
    assert status == 200
    clock.now += _api.GST_SESSION_SECONDS
    token = await login(http, sim)
    status, body = await submit_with(new)
    assert (status, error_of(body)["message"]) == (400, _api.ERR_GSTN)
    assert error_of(body)["args"][_api.ERR_ARG_GSTN_CODE] == _api.GST_CODE_SESSION_EXPIRED


async def test_gst_logout_fails_running_tasks(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    task_id = await submit(http, sim, token, session_id)
    status, _ = await call(
        http,
        "POST",
        gst_url(sim, _api.GST_ACTION_LOGOUT),
        headers=gst_headers(sim, token),
        json={_api.GST_KEY_SESSION_ID: session_id},
    )
    assert status == 200
    for _ in range(3):
        data = await task_status(http, sim, token, task_id)
    assert data["task"]["status"] == _api.TASK_STATUS_FAILED
    status, _ = await call(
        http,
        "GET",
        ims_url(sim),
        headers=gst_headers(sim, token, session_id),
        params={"section": "B2B"},
    )
    assert status == 400


# ------------------------------------------------------------------------------------------
# IMS submit and tasks
# ------------------------------------------------------------------------------------------


async def test_submit_checks_query_and_session(
    http: aiohttp.ClientSession, sim: FlynnSimulator
) -> None:
    token = await login(http, sim)
    session_id = await gst_session(http, sim, token)
    headers = gst_headers(sim, token, session_id)
    for params, fields in (
        ({"section": "b2b"}, ["section"]),
        ({}, ["section"]),
        ({"section": "B2B", "status": "X"}, ["status"]),
        ({"section": "B2B", "status": ""}, ["status"]),
        ({"section": "ISD", "status": "a"}, ["section", "status"]),
    ):
        status, body = await call(http, "GET", ims_url(sim), headers=headers, params=params)
        assert status == 400
        assert body["status"] == _api.STATUS_ERROR
        assert error_of(body)["args"][_api.ERR_ARG_ERROR_LOCATION] == fields
    no_session = gst_headers(sim, token)
    status, body = await call(
        http, "GET", ims_url(sim), headers=no_session, params={"section": "B2B"}
    )
    assert error_of(body)["args"][_api.ERR_ARG_ERROR_LOCATION] == [GSTN["session_id"]]
    other = "24MAYAS0100J1JD"  # a live session belongs to one GSTIN
    status, body = await call(
        http,
        "GET",
        ims_url(sim),
        headers=gst_headers(sim, token, session_id, gstin=other),
        params={"section": "B2B"},
    )
    assert error_of(body)["args"][_api.ERR_ARG_GSTN_CODE] == _api.GST_CODE_INVALID_SESSION
    assert not sim.tasks


async def test_task_lifecycle(http: aiohttp.ClientSession, clock: Clock) -> None:
    async with FlynnSimulator(
        clock=clock,
        tasks=TaskSettings(processing_polls=2),
        records=RecordSettings(per_section=60),
        paging=PagingSettings(size=25),
    ) as sim:
        token = await login(http, sim)
        session_id = await gst_session(http, sim, token)
        task_id = await submit(http, sim, token, session_id, "B2BCN", "A")
        result_url = task_url(sim, _api.TASK_RESULT_ROUTE, task_id)
        page_url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, 0)

        status, body = await call(http, "GET", result_url, headers=api_headers(sim, token))
        assert (status, error_of(body)["message"]) == (400, _api.ERR_TASK_NOT_COMPLETED)
        seen = [(await task_status(http, sim, token, task_id))["task"] for _ in range(3)]
        assert seen == [
            {"id": task_id, "status": _api.TASK_STATUS_PROCESSING},
            {"id": task_id, "status": _api.TASK_STATUS_PROCESSING},
            {"id": task_id, "status": _api.TASK_STATUS_COMPLETED},
        ]
        task = sim.tasks[task_id]
        assert (task.gstin, task.section, task.status) == (sim.gstin, "B2BCN", "A")
        assert task.status_calls == 3
        assert task.state == _api.TASK_STATUS_COMPLETED

        pages = await pages_of(http, sim, token, task_id)
        assert pages == sim.expected_pages(task_id)
        assert len(pages) == task.pages
        expected = sim.expected_records(sim.gstin, "B2BCN", "A")
        assert 0 < len(expected) < 60
        assert [r for page in pages for r in page["b2bcn"]] == expected
        assert all(len(r) <= 25 for page in pages for r in page.values())
        assert sim.calls["task_page"] == len(pages)
        status, _ = await call(http, "GET", page_url, headers=api_headers(sim, token))
        assert status == 200


async def test_processing_seconds_follow_the_clock(
    http: aiohttp.ClientSession, clock: Clock
) -> None:
    async with FlynnSimulator(
        clock=clock, tasks=TaskSettings(processing_polls=0, processing_seconds=30)
    ) as sim:
        token = await login(http, sim)
        session_id = await gst_session(http, sim, token)
        task_id = await submit(http, sim, token, session_id)
        for _ in range(3):
            data = await task_status(http, sim, token, task_id)
            assert data["task"]["status"] == _api.TASK_STATUS_PROCESSING
        clock.now += 30
        url = task_url(sim, _api.TASK_RESULT_ROUTE, task_id)
        status, body = await call(http, "GET", url, headers=api_headers(sim, token))
        assert status == 200
        assert body["data"] == {"pages": 1}


@pytest.mark.parametrize("page_base", [0, 1])
async def test_not_found(http: aiohttp.ClientSession, page_base: int) -> None:
    async with FlynnSimulator(paging=PagingSettings(base=page_base, size=10)) as sim:
        token, task_id = await ready_task(http, sim)
        headers = api_headers(sim, token)
        pages = sim.tasks[task_id].pages
        assert pages == 3
        for number in range(page_base, page_base + pages):
            url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, number)
            assert (await call(http, "GET", url, headers=headers))[0] == 200
        for number in (page_base - 1, page_base + pages):
            url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, number)
            status, body = await call(http, "GET", url, headers=headers)
            assert status == 404
            assert body["status"] == _api.STATUS_ERROR
            assert error_of(body) == {
                "message": _api.ERR_NOT_FOUND,
                "type": _api.ERR_TYPE_NOT_FOUND,
                "args": {_api.TASK_ID_KEY: task_id, _api.ERR_ARG_PAGE: number},
            }
        for route in (_api.TASK_STATUS_ROUTE, _api.TASK_RESULT_ROUTE, _api.TASK_PAGE_ROUTE):
            url = task_url(sim, route, "0b6a5c1e-0000-4000-8000-000000000000", page_base)
            status, body = await call(http, "GET", url, headers=headers)
            assert status == 404
            assert error_of(body)["args"] == {
                _api.TASK_ID_KEY: "0b6a5c1e-0000-4000-8000-000000000000"
            }


async def test_failed_terminal_status(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(tasks=TaskSettings(terminal_status="error")) as sim:
        token, task_id = await ready_task(http, sim)
        for route in (_api.TASK_RESULT_ROUTE, _api.TASK_PAGE_ROUTE):
            url = task_url(sim, route, task_id, 0)
            status, body = await call(http, "GET", url, headers=api_headers(sim, token))
            assert (status, error_of(body)["message"]) == (400, _api.ERR_TASK_NOT_COMPLETED)


async def test_failing_gstins_fail_every_task_of_those_taxpayers(
    http: aiohttp.ClientSession,
) -> None:
    doomed, healthy = "27AAPFU0939F1ZV", "24AAAPI3182M002"
    with pytest.raises(TypeError):
        SimulatorConfig(
            tasks=TaskSettings(failing_gstins=doomed)
        )  # one string is not a set of GSTINs
    with pytest.raises(ValueError, match="not GSTINs"):
        SimulatorConfig(tasks=TaskSettings(failing_gstins={"27aapfu0939f1zv"}))
    async with FlynnSimulator(tasks=TaskSettings(failing_gstins=[doomed])) as sim:
        assert sim.config.tasks.failing_gstins == frozenset({doomed})
        token = await login(http, sim)
        states = {}
        for gstin in (doomed, healthy, doomed):
            session_id = await gst_session(http, sim, token, gstin)
            for section in ("B2B", "B2BCN"):
                task_id = await submit(http, sim, token, session_id, section, gstin=gstin)
                for _ in range(sim.config.tasks.processing_polls + 1):
                    data = await task_status(http, sim, token, task_id)
                states[task_id] = (gstin, data["task"]["status"])
        assert sorted(states.values()) == sorted(
            [(doomed, _api.TASK_STATUS_FAILED)] * 4 + [(healthy, _api.TASK_STATUS_COMPLETED)] * 2
        )
        assert sim.faults["task_failed"] == 4
        failed = next(t for t, (g, _) in states.items() if g == doomed)
        url = task_url(sim, _api.TASK_RESULT_ROUTE, failed)
        status, body = await call(http, "GET", url, headers=api_headers(sim, token))
        assert (status, error_of(body)["message"]) == (400, _api.ERR_TASK_NOT_COMPLETED)


async def test_wrapped_status_shape(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(shapes=ShapeSettings(status_shape="wrapped")) as sim:
        token = await login(http, sim)
        session_id = await gst_session(http, sim, token)
        task_id = await submit(http, sim, token, session_id)
        first = await task_status(http, sim, token, task_id)
        second = await task_status(http, sim, token, task_id)
    assert first["id"] == second["id"] == task_id
    assert first["status"] == _api.TASK_STATUS_PROCESSING
    assert second["status"] == _api.TASK_STATUS_COMPLETED
    assert isinstance(first["jobs"], dict)
    assert "task" not in first


@pytest.mark.parametrize("mode", ["mixed", "new", "old"])
async def test_envelope_modes(http: aiohttp.ClientSession, mode: Any) -> None:
    async with FlynnSimulator(shapes=ShapeSettings(envelope=mode)) as sim:
        token = await login(http, sim)
        session_id = await gst_session(http, sim, token)
        headers = api_headers(sim, token)
        _, login_answer = await call(
            http, "POST", sim.login_url + _api.LOGIN_ROUTE, json=login_body()
        )
        _, submit_answer = await call(
            http,
            "GET",
            ims_url(sim),
            headers=gst_headers(sim, token, session_id),
            params={"section": "B2B"},
        )
        task_id = submit_answer["data"][_api.TASK_ID_KEY]
        for _ in range(2):  # "processing", then "completed"
            _, status_answer = await call(
                http, "GET", task_url(sim, _api.TASK_STATUS_ROUTE, task_id), headers=headers
            )
        _, result_answer = await call(
            http, "GET", task_url(sim, _api.TASK_RESULT_ROUTE, task_id), headers=headers
        )
        _, missing = await call(
            http, "GET", task_url(sim, _api.TASK_RESULT_ROUTE, "nope"), headers=headers
        )
    old_routes = (login_answer, status_answer)
    new_routes = (submit_answer, result_answer)
    if mode == "mixed":
        assert all(set(a) == {"data"} for a in old_routes)
        assert all(set(a) == NEW_KEYS for a in new_routes)
    elif mode == "new":
        assert all(set(a) == NEW_KEYS for a in (*old_routes, *new_routes))
        assert all(a["status"] == _api.STATUS_OK and a["error"] is None for a in new_routes)
    else:
        assert all(set(a) == {"data"} for a in (*old_routes, *new_routes))
    assert result_answer["data"] == {"pages": 1}
    if mode == "old":
        assert set(missing) == {"error"}
    else:
        assert missing["status"] == _api.STATUS_ERROR
        assert missing["data"] is None


async def test_all_and_unknown_sections(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(
        records=RecordSettings(
            all_sections_in_every_task=True, unknown_sections=("impg",), per_section=7
        ),
        paging=PagingSettings(size=20),
    ) as sim:
        token, task_id = await ready_task(http, sim, "ECOM", "P")
        pages = await pages_of(http, sim, token, task_id)
        assert pages == sim.expected_pages(task_id)
    merged: dict[str, list[Any]] = {}
    for page in pages:
        assert sum(len(records) for records in page.values()) <= 20
        for key, records in page.items():
            merged.setdefault(key, []).extend(records)
    order = ["ecom"] + [s.lower() for s in _api.IMS_SECTIONS if s != "ECOM"] + ["impg"]
    assert list(merged) == [k for k in order if sim.expected_records(sim.gstin, k, "P")]
    for key in order:
        assert merged.get(key, []) == sim.expected_records(sim.gstin, key, "P")
    assert all(r["action"] == "P" for records in merged.values() for r in records)


async def test_zero_records_make_zero_pages(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(records=RecordSettings(per_section=0)) as sim:
        token, task_id = await ready_task(http, sim)
        url = task_url(sim, _api.TASK_RESULT_ROUTE, task_id)
        _, body = await call(http, "GET", url, headers=api_headers(sim, token))
        assert body["data"] == {"pages": 0}
        url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, 0)
        status, _ = await call(http, "GET", url, headers=api_headers(sim, token))
        assert status == 404


async def test_same_seed_same_bytes_other_seed_other_bytes(
    http: aiohttp.ClientSession,
) -> None:
    async def run(seed: int) -> tuple[str, list[bytes]]:
        async with FlynnSimulator(
            records=RecordSettings(seed=seed, per_section=40), paging=PagingSettings(size=15)
        ) as sim:
            token, task_id = await ready_task(http, sim, "B2BA")
            bodies = []
            for number in range(sim.tasks[task_id].pages):
                url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, number)
                async with http.get(url, headers=api_headers(sim, token)) as response:
                    bodies.append(await response.read())
            return task_id, bodies

    first, again, other = await run(1), await run(1), await run(2)
    assert first == again
    assert first[0] != other[0]
    assert first[1] != other[1]


async def test_money_is_exact_on_the_wire(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(
        records=RecordSettings(per_section=300), paging=PagingSettings(size=300)
    ) as sim:
        token, task_id = await ready_task(http, sim, "B2BDNA")
        url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, 0)
        async with http.get(url, headers=api_headers(sim, token)) as response:
            text = await response.text()
        expected = sim.expected_records(sim.gstin, "B2BDNA")
    records = decode(text)["data"]["b2bdna"]
    assert records == expected
    for got, want in zip(records, expected, strict=True):
        for key in MONEY:
            assert type(got[key]) is type(want[key])
            assert str(got[key]) == str(want[key])  # the same digits, not just the same value
    amounts = [r[key] for r in records for key in MONEY]
    assert any(isinstance(a, int) and a for a in amounts)
    assert any(isinstance(a, Decimal) and a.as_tuple().exponent == -1 for a in amounts)
    assert any(isinstance(a, Decimal) and str(a).endswith("0") and "." in str(a) for a in amounts)


async def test_page_counters_and_latency(http: aiohttp.ClientSession) -> None:
    async with FlynnSimulator(paging=PagingSettings(size=5), delays=DelaySettings(page=0.1)) as sim:
        token, task_id = await ready_task(http, sim)
        sim.reset_counters()
        assert not sim.calls
        headers = api_headers(sim, token)

        async def page(number: int) -> int:
            url = task_url(sim, _api.TASK_PAGE_ROUTE, task_id, number)
            async with http.get(url, headers=headers) as response:
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(page(n) for n in range(5)))
        assert statuses == [200] * 5
        assert sim.calls == {"task_page": 5}
        assert 1 < sim.peak_pages_in_flight <= 5
        assert sim.pages_in_flight == 0
        sim.reset_counters()
        assert sim.peak_pages_in_flight == 0


# ------------------------------------------------------------------------------------------
# Generated data
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", _api.IMS_SECTIONS)
def test_records_are_realistic(section: str) -> None:
    records = _data.ims_records(3, "24AAAPI3182M002", section, 200)
    key = section.lower()
    assert records == _data.ims_records(3, "24AAAPI3182M002", section, 200)
    assert records[:50] == _data.ims_records(3, "24AAAPI3182M002", section, 50)
    for r in records:
        assert r["stin"] in _data.suppliers()
        assert r["action"] in _api.IMS_STATUSES
        assert r["srcform"] in ("R1", "R1A", "IFF")
        assert r["srcfilstatus"] in ("Filed", "Not Filed")
        assert re.fullmatch(r"[0-9a-f]{64}", r["hash"])
        assert re.fullmatch(r"\d\d", r["pos"])
        assert ("ispendactnallwd" in r) != ("ispendactblocked" in r)
        month, year = int(r["rtnprd"][:2]), int(r["rtnprd"][2:])
        assert 1 <= month <= 12
        assert 2023 <= year <= 2025
        amounts = {k: Decimal(r[k]) for k in MONEY}
        assert amounts["val"] == sum(amounts[k] for k in MONEY if k != "val")
        if amounts["iamt"]:
            assert amounts["camt"] == 0
        assert amounts["camt"] == amounts["samt"]
        number, date = (
            ("inum", "idt")
            if key in ("b2b", "b2ba", "ecom", "ecoma")
            else (
                "nt_num",
                "nt_dt",
            )
        )
        assert 1 <= len(r[number]) <= 16
        day = datetime.datetime.strptime(r[date], "%d-%m-%Y").date()
        assert day <= datetime.date(year + month // 12, month % 12 + 1, 1)
        assert ("inv_typ" in r) == key.startswith("b2b")
        if key in ("b2ba", "ecoma"):
            assert {"oinum", "oidt"} <= set(r)
        if key in ("b2bdna", "b2bcna"):
            assert {"ont_num", "ont_dt"} <= set(r)
    newer = sum("itcRedReq" in r for r in records)
    odd = sum("xtra_ref" in r or "meta" in r for r in records)
    assert 5 <= newer <= 40
    assert 1 <= odd <= 25


def test_supplier_pool_mixes_real_and_sandbox_gstins() -> None:
    pool = _data.suppliers()
    assert len(pool) == len(set(pool)) == 40
    assert "24MAYAS0100J1JD" in pool
    assert all(re.fullmatch(r"[0-9A-Z]{15}", s) for s in pool)
    real = [s for s in pool if s[13] == "Z"]
    assert 20 <= len(real) < 40


def test_paginate() -> None:
    pages = _data.paginate([("a", [{"n": 1}, {"n": 2}, {"n": 3}]), ("b", [{"n": 4}])], 2)
    assert pages == [{"a": [{"n": 1}, {"n": 2}]}, {"a": [{"n": 3}], "b": [{"n": 4}]}]
    assert _data.paginate([("a", [])], 5) == []
