"""Renewal until it stops helping: a call gives up only when tokens are refused right after
their own renewal ``max_token_refusals`` times running; a token that worked and then expired
is renewed every time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from flynn_async import AuthError, Credentials, FlynnClient, InvalidInput, ResponseError
from flynn_async._http import _api
from flynn_async.testing import USER_HANDLE, USER_PASSWORD

TASK_ID = "6f1c8d2e-0000-4000-8000-000000000003"


class Scripted:
    """A login service and a status route that refuses the next ``refusals`` calls."""

    def __init__(self) -> None:
        self.refusals = 0
        self.unavailable = 0  # the next calls answer 503 with an HTML page
        self.refresh_unavailable = 0  # the next token refreshes answer 502 with an HTML page
        self.same_token = False  # a login hands back the token of the last one (idempotent)
        self.logged_out: list[str] = []
        self.logins = 0
        self.refreshes = 0
        self.statuses: list[str] = []  # the token each status call carried

    async def login(self, request: web.Request) -> web.Response:
        if request.method == "PUT" and self.refresh_unavailable:
            self.refresh_unavailable -= 1
            return web.Response(body=b"<html>bad gateway</html>", status=502)
        if request.method == "PUT":
            self.refreshes += 1
        else:
            self.logins += 1
        org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
        token = "t1.0" if self.same_token else f"t{self.logins}.{self.refreshes}"
        data = {"token": token, "expiry": 4_000_000_000_000, "associatedOrgs": [org]}
        return web.json_response({"data": data})

    async def logout(self, request: web.Request) -> web.Response:
        self.logged_out.append(request.headers["Authorization"].removeprefix("Bearer "))
        return web.json_response({"data": {}})

    async def status(self, request: web.Request) -> web.Response:
        self.statuses.append(request.headers[_api.HEADER_USER_TOKEN])
        if self.unavailable:
            self.unavailable -= 1
            return web.Response(body=b"<html>busy</html>", status=503, content_type="text/html")
        if self.refusals:
            self.refusals -= 1
            error = {"message": _api.ERR_EXPIRED_TOKEN, "type": "Authorization", "args": {}}
            return web.json_response({"error": error}, status=403)
        return web.json_response({"data": {"task": {"id": TASK_ID, "status": "processing"}}})


Start = Callable[..., Awaitable[tuple[Scripted, FlynnClient]]]


@pytest.fixture
async def start() -> AsyncIterator[Start]:
    runners: list[web.AppRunner] = []
    clients: list[FlynnClient] = []

    async def make(**options: Any) -> tuple[Scripted, FlynnClient]:
        scripted = Scripted()
        app = web.Application()
        app.router.add_post("/login" + _api.LOGIN_ROUTE, scripted.login)
        app.router.add_put("/login" + _api.LOGIN_ROUTE, scripted.login)
        app.router.add_post("/login" + _api.LOGOUT_ROUTE, scripted.logout)
        route = _api.TASK_STATUS_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id="{id}")
        app.router.add_get(route, scripted.status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}"
        client = FlynnClient(
            Credentials(USER_HANDLE, USER_PASSWORD),
            base_url=base,
            login_url=base + "/login",
            **options,
        )
        clients.append(client)
        await client.start()
        return scripted, client

    yield make
    for client in clients:
        await client.aclose()
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("limit", [1, 3, 5])
async def test_a_call_gives_up_after_the_set_number_of_fruitless_renewals(
    start: Start, limit: int
) -> None:
    scripted, client = await start(max_token_refusals=limit)
    scripted.refusals = 100
    with pytest.raises(AuthError) as info:
        await client.ims.task(TASK_ID).status()
    assert info.value.code == _api.ERR_EXPIRED_TOKEN
    assert limit == len(scripted.statuses)  # each try with a fresh token
    assert limit == len(set(scripted.statuses))
    assert limit - 1 == scripted.refreshes
    # the next call renews once more before it is sent, then succeeds
    scripted.refusals = 0
    await client.ims.task(TASK_ID).status()
    assert limit == scripted.refreshes
    assert scripted.statuses[-1] not in scripted.statuses[:-1]


async def test_tokens_that_worked_are_renewed_however_often_they_expire(start: Start) -> None:
    scripted, client = await start()
    for _ in range(10):  # each token works once, then is refused: never "fruitless"
        await client.ims.task(TASK_ID).status()
        scripted.refusals = 1
    await client.ims.task(TASK_ID).status()
    assert 10 == scripted.refreshes
    assert 1 == scripted.logins


async def test_two_refusals_then_success_is_not_an_error(start: Start) -> None:
    scripted, client = await start()
    scripted.refusals = 2
    status = await client.ims.task(TASK_ID).status()
    assert TASK_ID == status.task_id
    assert 3 == len(set(scripted.statuses))
    assert 2 == scripted.refreshes


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_max_token_refusals_is_validated(value: Any) -> None:
    with pytest.raises(InvalidInput, match="max_token_refusals"):
        FlynnClient(Credentials(USER_HANDLE, USER_PASSWORD), max_token_refusals=value)


async def test_a_retry_carries_the_token_renewed_while_it_waited(start: Start) -> None:
    holder: list[Any] = []

    async def sleep(delay: float) -> None:  # the retry's wait: another call renews the token
        scripted, client = holder[0]
        scripted.refusals = 1
        await client.ims.task(TASK_ID).status()

    scripted, client = await start(sleep=sleep)
    holder.append((scripted, client))
    scripted.unavailable = 1
    await client.ims.task(TASK_ID).status()
    first, renewed = "t1.0", "t1.1"
    # the 503, the other call refused then repeated, the retry with the renewed token
    assert [first, first, renewed, renewed] == scripted.statuses
    assert 1 == scripted.refreshes


async def test_a_failed_early_refresh_leaves_the_call_to_the_token_still_valid(
    start: Start, clock: Any
) -> None:
    # The token is refreshed shortly before it ends; when that refresh gets no answer (a
    # gateway page), the call goes on with the token, still valid, and the next one refreshes.
    scripted, client = await start(sleep=clock.sleep, clock=clock)
    clock.now += 20 * 60 - 60  # a 20-minute token, a minute left: the refresh is due
    scripted.refresh_unavailable = 1
    tokens = client._tokens
    assert tokens is not None
    first = tokens.token
    await client.ims.task(TASK_ID).status()
    assert (scripted.refreshes, scripted.statuses[-1]) == (0, first.reveal())  # type: ignore[union-attr]
    await client.ims.task(TASK_ID).status()
    assert scripted.refreshes == 1
    assert scripted.statuses[-1] != scripted.statuses[-2]


async def test_a_failed_refresh_of_an_ended_token_fails_the_call(start: Start, clock: Any) -> None:
    scripted, client = await start(sleep=clock.sleep, clock=clock)
    clock.now += 20 * 60 + 1  # the token has ended
    scripted.refresh_unavailable = 1
    with pytest.raises(ResponseError) as caught:
        await client.ims.task(TASK_ID).status()
    assert caught.value.route == _api.LOGIN_ROUTE
    assert scripted.statuses == []


async def test_a_login_that_hands_back_the_same_token_keeps_it(start: Start) -> None:
    # An idempotent login service answers a new login with the user's live token: the client
    # must not log out, as "the old token", the one it has just received.
    scripted, client = await start()
    scripted.same_token = True
    tokens = client._tokens
    assert tokens is not None
    await tokens.renew(tokens.token, reason="the test", relogin=True)
    assert (scripted.logins, scripted.logged_out) == (2, [])
    await client.ims.task(TASK_ID).status()
    assert scripted.statuses == ["t1.0"]
