"""FlynnClient: logging in and out, the organisation, sessions it owns or was given, token
refresh, the client-wide page concurrency limit, and constructor checks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from flynn_async import (
    AuthError,
    Credentials,
    FlynnClient,
    GstSession,
    InvalidInput,
    PollPolicy,
    ResponseError,
    RetryPolicy,
    Stats,
)
from flynn_async._http import _api
from flynn_async.testing import (
    DelaySettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
)
from tests.loopback import serve_app

# ------------------------------------------------------------------------------------------
# Logging in
# ------------------------------------------------------------------------------------------


async def other_org_id(sim: FlynnSimulator) -> str:
    """The user's non-primary organisation, read from a raw login answer."""
    url = sim.login_url + _api.LOGIN_ROUTE
    body = {"handle": sim.credentials.handle, "handleType": "email"}
    body["password"] = sim.credentials.password.reveal()
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=body) as response:
            data = (await response.json())["data"]
        headers = {"Authorization": f"Bearer {data['token']}"}
        async with http.post(sim.login_url + _api.LOGOUT_ROUTE, headers=headers) as response:
            assert 200 == response.status
    (other,) = [
        org["organisation"]["id"]
        for org in data["associatedOrgs"]
        if not org["userAccessInfo"]["primary"]
    ]
    return str(other)


async def test_entering_logs_in_and_picks_the_primary_org(
    sim: FlynnSimulator, make_client: Any
) -> None:
    client = await make_client(start=False)
    assert client.org_id is None
    assert "not started" in repr(client)
    async with client:
        assert sim.org_id == client.org_id
        assert 1 == sim.calls["login"]
        assert 1 == sim.live_tokens
        assert "open" in repr(client)
    assert "closed" in repr(client)


async def test_the_org_given_in_the_credentials_is_used(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    other = await other_org_id(sim)
    assert sim.org_id != other
    credentials = Credentials(sim.credentials.handle, sim.credentials.password, org_id=other)
    client = await make_client(credentials=credentials)
    assert other == client.org_id

    task = await client.ims.submit(await open_gst(client, sim), section="B2B")
    assert other == sim.tasks[task.id].org_id  # the server saw the chosen organisation


async def test_an_org_that_is_not_the_users_is_refused(
    sim: FlynnSimulator, make_client: Any
) -> None:
    credentials = Credentials(
        sim.credentials.handle,
        sim.credentials.password,
        org_id="00000000-0000-4000-8000-000000000000",
    )
    with pytest.raises(InvalidInput, match="not one of the user's organisations"):
        await make_client(credentials=credentials)
    assert 1 == sim.calls["login"]
    assert 0 == sim.live_tokens  # the token it could not use was logged out, not leaked


UNUSABLE_LOGIN_ANSWERS = {
    "login, expiry as text": ("login", {"expiry": "4000000000000"}),
    "login, no expiry": ("login", {"expiry": None}),
    "login, an organisation without an id": ("login", {"associatedOrgs": [{"organisation": {}}]}),
    "login, organisations not a list": ("login", {"associatedOrgs": {"id": "org-1"}}),
    "refresh, expiry as text": ("refresh", {"expiry": "4000000000000"}),
    "refresh, no expiry": ("refresh", {"expiry": None}),
}


@pytest.mark.parametrize(
    ("method", "change"), UNUSABLE_LOGIN_ANSWERS.values(), ids=UNUSABLE_LOGIN_ANSWERS
)
async def test_a_token_in_an_answer_off_the_schema_is_logged_out_not_leaked(
    method: str, change: dict[str, Any]
) -> None:
    # The server issued a token (a user may hold 10 at most) in an answer the client cannot
    # use: the client raises ResponseError, and logs that token out first.
    tokens = iter(["first", "second"])
    logged_out: list[str] = []

    async def login(request: web.Request) -> web.Response:
        org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
        data = {"token": next(tokens), "expiry": 4_000_000_000_000, "associatedOrgs": [org]}
        if request.method == ("POST" if method == "login" else "PUT"):
            data.update(change)
            data = {k: v for k, v in data.items() if v is not None}
        return web.json_response({"data": data})

    async def logout(request: web.Request) -> web.Response:
        logged_out.append(request.headers["Authorization"].removeprefix("Bearer "))
        return web.json_response({"data": {}})

    app = web.Application()
    app.router.add_post("/login" + _api.LOGIN_ROUTE, login)
    app.router.add_put("/login" + _api.LOGIN_ROUTE, login)
    app.router.add_post("/login" + _api.LOGOUT_ROUTE, logout)
    runner, base = await serve_app(app)
    client = FlynnClient(
        Credentials("me@example.com", "pw"), base_url=base, login_url=base + "/login"
    )
    try:
        if method == "login":
            with pytest.raises(ResponseError) as caught:
                await client.start()
            unusable = "first"
        else:
            await client.start()
            held = client._tokens
            assert held is not None
            with pytest.raises(ResponseError) as caught:
                await held.renew(held.token, reason="the test")  # a refresh
            unusable = "second"
        assert caught.value.route == _api.LOGIN_ROUTE
        assert [unusable] == logged_out
        assert unusable not in str(caught.value)
    finally:
        await client.aclose()
        await runner.cleanup()


def test_several_primary_organisations_are_named_as_such() -> None:
    from flynn_async._http._auth import choose_org

    def org(org_id: str, primary: bool) -> dict[str, Any]:
        return {"organisation": {"id": org_id}, "userAccessInfo": {"primary": primary}}

    with pytest.raises(InvalidInput, match="3 organisations and 2 are primary"):
        choose_org([org("a", True), org("b", True), org("c", False)], None, "/authtokens")
    with pytest.raises(InvalidInput, match="2 organisations and none is primary"):
        choose_org([org("a", False), org("b", False)], None, "/authtokens")
    assert "b" == choose_org([org("a", True), org("b", True)], "b", "/authtokens")


async def test_a_wrong_password_is_an_auth_error(sim: FlynnSimulator, make_client: Any) -> None:
    credentials = Credentials(sim.credentials.handle, "not-the-password")
    with pytest.raises(AuthError) as info:
        await make_client(credentials=credentials)
    assert 401 == info.value.http_status
    assert 0 == sim.live_tokens
    assert 1 == sim.calls["login"]  # never retried


async def test_token_expiry_in_seconds_is_understood(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim(shapes=ShapeSettings(expiry_unit="s"))
    client = await make_client(sim)
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    await client.gst.verify_otp(otp_request, sim.otp)
    assert 0 == sim.calls["token_refresh"]
    assert 1 == sim.calls["login"]


# ------------------------------------------------------------------------------------------
# Leaving
# ------------------------------------------------------------------------------------------


async def test_leaving_logs_the_token_out(sim: FlynnSimulator, make_client: Any) -> None:
    async with await make_client():
        pass
    assert 1 == sim.calls["token_logout"]
    assert 0 == sim.live_tokens


async def test_leaving_on_an_error_still_logs_out(sim: FlynnSimulator, make_client: Any) -> None:
    with pytest.raises(KeyError):
        async with await make_client():
            raise KeyError("boom")
    assert 1 == sim.calls["token_logout"]
    assert 0 == sim.live_tokens


async def test_aclose_is_idempotent(sim: FlynnSimulator, make_client: Any) -> None:
    client = await make_client()
    await client.aclose()
    await client.aclose()
    assert 1 == sim.calls["token_logout"]
    assert 0 == sim.live_tokens


@pytest.mark.parametrize("given_session", [False, True])
async def test_a_closed_client_refuses_to_work(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, given_session: bool
) -> None:
    async with aiohttp.ClientSession() as http:
        client = await make_client(session=http if given_session else None)
        session = await open_gst(client, sim)
        ims = client.ims  # a reference kept from before closing
        task = await ims.submit(session, section="B2B")
        await client.aclose()

        with pytest.raises(RuntimeError, match="closed"):
            client.ims  # noqa: B018
        with pytest.raises(RuntimeError, match="closed"):
            client.gst  # noqa: B018
        with pytest.raises(RuntimeError, match="closed"):
            await client.start()
        with pytest.raises(RuntimeError, match="closed"):
            async with client:
                pass
        with pytest.raises(RuntimeError, match="closed"):
            await ims.download(session, section="B2B")
        with pytest.raises(RuntimeError, match="closed"):
            await task.result()
        assert client.stats.requests > 0  # counters stay readable

    assert 1 == sim.calls["login"]  # never logged in again behind the caller's back
    assert 0 == sim.live_tokens
    assert 1 == sim.calls["ims_submit"]


async def test_a_client_not_started_refuses_to_work(sim: FlynnSimulator) -> None:
    client = FlynnClient(sim.credentials, base_url=sim.base_url, login_url=sim.login_url)
    with pytest.raises(RuntimeError, match="not started"):
        client.ims  # noqa: B018
    with pytest.raises(RuntimeError, match="not started"):
        client.stats  # noqa: B018
    await client.aclose()  # closing a client never started makes no request
    assert {} == dict(sim.calls)


async def test_a_given_session_is_used_and_not_closed(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    async with aiohttp.ClientSession() as http:
        async with await make_client(session=http) as client:
            await client.ims.download(await open_gst(client, sim), section="B2B")
        assert not http.closed
        assert 1 == sim.calls["token_logout"]
        async with http.get(sim.base_url + "/nowhere") as response:  # still usable
            assert 404 == response.status


async def test_closing_after_the_callers_session_closed_does_not_raise(
    sim: FlynnSimulator, make_client: Any
) -> None:
    async with aiohttp.ClientSession() as http:
        client = await make_client(session=http)
    assert http.closed
    await client.aclose()  # logout is best effort: the token expires by itself
    with pytest.raises(RuntimeError, match="closed"):
        client.ims  # noqa: B018


async def test_start_twice_logs_in_once(sim: FlynnSimulator, make_client: Any) -> None:
    client = await make_client()
    await client.start()
    assert 1 == sim.calls["login"]


async def test_stats_count_requests(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await client.ims.download(session, section="B2B")
    stats = client.stats
    assert isinstance(stats, Stats)
    assert sum(sim.calls.values()) == stats.requests
    assert (0, 0) == (stats.retries, stats.faults)


# ------------------------------------------------------------------------------------------
# Token refresh
# ------------------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_and_the_call_repeated(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    sim.expire_tokens()
    result = await client.ims.download(session, section="B2BA")
    assert {"b2ba": sim.expected_records(sim.gstin, "b2ba")} == result.to_dict()
    assert 1 == sim.calls["token_refresh"]
    assert 1 == sim.calls["login"]
    assert 2 == sim.calls["ims_submit"]  # refused as expired, then repeated once
    assert 1 == len(sim.tasks)
    assert 1 == sim.live_tokens


async def test_concurrent_calls_seeing_expiry_share_one_refresh(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    task = await client.ims.submit(session, section="B2B")
    sim.expire_tokens()
    statuses = await asyncio.gather(*(client.ims.task(task.id).status() for _ in range(8)))
    assert 8 == len(statuses)
    assert {task.id} == {s.task_id for s in statuses}
    assert 1 == sim.calls["token_refresh"]
    assert 1 == sim.calls["login"]
    assert sim.calls["task_status"] > 8  # some calls were refused and repeated
    assert 1 == sim.live_tokens


async def test_gst_calls_refresh_the_token_too(sim: FlynnSimulator, client: FlynnClient) -> None:
    sim.expire_tokens()
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    await client.gst.verify_otp(otp_request, sim.otp)
    assert 1 == sim.calls["token_refresh"]
    assert 2 == sim.calls["otp_request"]


# ------------------------------------------------------------------------------------------
# Page concurrency across the whole client
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
@pytest.mark.sim(
    records=RecordSettings(per_section=20),
    paging=PagingSettings(size=5),
    delays=DelaySettings(page=0.02),
)
async def test_max_concurrency_bounds_page_requests_across_the_client(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, limit: int
) -> None:
    client = await make_client(max_concurrency=limit)
    session = await open_gst(client, sim)
    result = await client.ims.download_all(session)  # eight tasks, 32 pages, at once
    assert 8 * 20 == len(result)
    assert 32 == sim.calls["task_page"]
    assert limit == sim.peak_pages_in_flight


@pytest.mark.sim(
    records=RecordSettings(per_section=20),
    paging=PagingSettings(size=5),
    delays=DelaySettings(page=0.02),
)
async def test_the_limit_holds_for_separate_downloads_together(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    client = await make_client(max_concurrency=2)
    session = await open_gst(client, sim)
    await asyncio.gather(
        client.ims.download(session, section="B2B"),
        client.ims.download(session, section="ECOM"),
        client.ims.download_all(session, sections=["B2BA", "B2BCN"]),
    )
    assert 16 == sim.calls["task_page"]
    assert 2 == sim.peak_pages_in_flight


# ------------------------------------------------------------------------------------------
# Constructor checks (no request is made)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "http://example.com"}, "https://"),
        ({"base_url": "http://10.0.0.1:8080"}, "https://"),
        ({"base_url": "ftp://127.0.0.1"}, "https://"),
        ({"base_url": "https://x.example?debug=1"}, "query"),
        ({"base_url": "https://user:pw@x.example"}, "user info"),
        ({"base_url": "/relative"}, "absolute"),
        ({"login_url": "http://login.example.com"}, "https://"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"max_concurrency": -3}, "max_concurrency"),
        ({"max_concurrency": 2.5}, "max_concurrency"),
        ({"max_concurrency": True}, "max_concurrency"),
        ({"max_concurrency": 100_000}, "max_concurrency"),
        ({"request_timeout": 0}, "request_timeout"),
        ({"page_base": 2}, "page_base"),
        ({"poll": {"deadline": 5}}, "PollPolicy"),
        ({"retry": 3}, "RetryPolicy"),
        ({"session": "http"}, "ClientSession"),
        ({"gstn_api_version": ""}, "gstn_api_version"),
    ],
)
def test_constructor_checks(sim: FlynnSimulator, kwargs: dict[str, Any], match: str) -> None:
    options: dict[str, Any] = {"base_url": sim.base_url, "login_url": sim.login_url, **kwargs}
    with pytest.raises(InvalidInput, match=match) as info:
        FlynnClient(sim.credentials, **options)
    assert isinstance(info.value, ValueError)
    assert {} == dict(sim.calls)


@pytest.mark.parametrize("which", ["base_url", "login_url"])
def test_base_url_and_login_url_go_together(sim: FlynnSimulator, which: str) -> None:
    with pytest.raises(InvalidInput, match="both base_url and login_url"):
        FlynnClient(sim.credentials, **{which: getattr(sim, which)})


def test_constructor_wants_credentials_and_a_known_environment() -> None:
    with pytest.raises(InvalidInput, match="Credentials"):
        FlynnClient(("demo@example.com", "pw"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="environment"):
        FlynnClient(Credentials("a@example.com", "pw"), environment="staging")  # type: ignore[arg-type]


def test_environments_and_defaults() -> None:
    credentials = Credentials("a@example.com", "pw")
    sandbox = FlynnClient(credentials)
    assert _api.ENVIRONMENTS["sandbox"] == (sandbox.base_url, sandbox.login_url)
    production = FlynnClient(credentials, environment="production")
    assert _api.ENVIRONMENTS["production"] == (production.base_url, production.login_url)
    assert (PollPolicy(), RetryPolicy(), 8, 0) == (
        sandbox.poll,
        sandbox.retry,
        sandbox.max_concurrency,
        sandbox.page_base,
    )


def test_loopback_http_and_trailing_slashes_are_accepted() -> None:
    client = FlynnClient(
        Credentials("a@example.com", "pw"),
        base_url="http://localhost:8080/",
        login_url="http://[::1]:9/theodore/apis/v1/",
    )
    assert ("http://localhost:8080", "http://[::1]:9/theodore/apis/v1") == (
        client.base_url,
        client.login_url,
    )


# ------------------------------------------------------------------------------------------
# Credentials
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("", "pw"), {}, "handle"),
        (("a@example.com", ""), {}, "password"),
        (("a@example.com", None), {}, "password"),
        (("a@example.com", "pw"), {"handle_type": "phone"}, "handle_type"),
        (("a@example.com", "pw"), {"token_minutes": 0}, "token_minutes"),
        (("a@example.com", "pw"), {"token_minutes": 361}, "token_minutes"),
        (("a@example.com", "pw"), {"org_id": ""}, "org_id"),
    ],
)
def test_credentials_checks(args: tuple[Any, ...], kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Credentials(*args, **kwargs)


def test_credentials_hold_the_password_as_a_secret() -> None:
    credentials = Credentials("9876543210", "pw-secret", handle_type="mobile", token_minutes=360)
    assert "pw-secret" == credentials.password.reveal()
    assert "pw-secret" not in repr(credentials)
    assert ("9876543210", "mobile", 360, None) == (
        credentials.handle,
        credentials.handle_type,
        credentials.token_minutes,
        credentials.org_id,
    )
