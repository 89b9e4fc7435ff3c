"""No frame of the library holds a plain secret in a local when an exception passes through it.

Crash reporters (Sentry, rich tracebacks, ``pytest -l``) print the locals of every frame of a
traceback. The failures below are walked, through ``__cause__`` and ``__context__``, and every
local of every ``flynn_async`` frame is searched (into containers, attrs classes, the library's
own objects and closures) for marker passwords and tokens. aiohttp's own frames are out of
reach and are not searched.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from aiohttp import web

import flynn_async
from flynn_async import AuthError, Credentials, FlynnClient, RequestTimeout, RetryPolicy, Secret
from flynn_async._http import _api
from flynn_async.testing import USER_HANDLE, FlynnSimulator

PACKAGE = str(Path(flynn_async.__file__).parent)
MARKER_PASSWORD = "pw-MARKER-5d0e1c"
TOKEN_PREFIX = "tok-MARKER-"
TASK_ID = "6f1c8d2e-0000-4000-8000-000000000002"


def _frames(error: BaseException) -> Iterator[types.FrameType]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [error]
    while todo:
        exc = todo.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        todo += [exc.__cause__, exc.__context__]


def _holds(
    value: Any, markers: tuple[str, ...], depth: int = 0, seen: set[int] | None = None
) -> str | None:
    """Where ``value`` holds a marker in plain form (``None``: nowhere)."""
    seen = set() if seen is None else seen
    if depth > 8 or id(value) in seen:
        return None
    seen.add(id(value))
    if isinstance(value, Secret):
        return None  # masked: revealed only where a request is built
    if isinstance(value, str | bytes | bytearray):
        text = value if isinstance(value, str) else bytes(value).decode("latin-1")
        return next((f"text {text[:60]!r}" for m in markers if m in text), None)
    children: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        children = [(f"[{k!r}]", v) for k, v in value.items()] + [("key", k) for k in value]
    elif isinstance(value, list | tuple | set | frozenset):
        children = [(f"[{i}]", v) for i, v in enumerate(value)]
    elif isinstance(value, types.FunctionType) and value.__module__.startswith("flynn_async"):
        cells = value.__closure__ or ()
        names = value.__code__.co_freevars
        children = [
            (f"<closure {n}>", c.cell_contents)
            for n, c in zip(names, cells, strict=False)
            if c.cell_contents is not None
        ]
    elif type(value).__module__.startswith("flynn_async"):
        if attrs.has(type(value)):
            children = [(f.name, getattr(value, f.name)) for f in attrs.fields(type(value))]
        else:
            children = list(getattr(value, "__dict__", {}).items())
        if isinstance(value, BaseException):
            children += [("args", value.args)]
    for name, child in children:
        found = _holds(child, markers, depth + 1, seen)
        if found is not None:
            return f"{name} -> {found}"
    return None


def leaks(error: BaseException, *markers: str) -> list[str]:
    """Every ``flynn_async`` frame local of ``error``'s tracebacks that holds a marker."""
    found = []
    for frame in _frames(error):
        if not frame.f_code.co_filename.startswith(PACKAGE):
            continue
        for name, value in frame.f_locals.items():
            where = _holds(value, markers)
            if where is not None:
                found.append(f"{frame.f_code.co_name}: {name} {where}")
    return found


def test_the_walk_finds_a_planted_secret() -> None:
    def plant() -> None:
        token = TOKEN_PREFIX + "planted"  # noqa: F841 - the local the walk must find
        raise RuntimeError("boom")

    try:
        plant()
    except RuntimeError as exc:
        error = exc
    planted = [f for f in _frames(error) if f.f_code.co_name == "plant"]
    assert planted
    assert "token" in planted[0].f_locals
    assert _holds(planted[0].f_locals, (TOKEN_PREFIX,)) is not None
    assert _holds(Secret(TOKEN_PREFIX), (TOKEN_PREFIX,)) is None


async def test_a_refused_password_leaves_no_secret_in_the_librarys_frames(
    sim: FlynnSimulator,
) -> None:
    client = FlynnClient(
        Credentials(USER_HANDLE, MARKER_PASSWORD), base_url=sim.base_url, login_url=sim.login_url
    )
    with pytest.raises(AuthError) as info:
        await client.start()
    assert [] == leaks(info.value, MARKER_PASSWORD)
    assert any(f.f_code.co_filename.startswith(PACKAGE) for f in _frames(info.value))


Serve = Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """A scripted login service handing out marker tokens, and ``handler`` on the status route."""
    runners: list[web.AppRunner] = []

    async def start(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> str:
        issued = 0

        async def login(request: web.Request) -> web.Response:
            nonlocal issued
            issued += 1
            org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
            data = {
                "token": f"{TOKEN_PREFIX}{issued}",
                "expiry": 4_000_000_000_000,
                "associatedOrgs": [org],
            }
            return web.json_response({"data": data})

        async def logout(request: web.Request) -> web.Response:
            return web.json_response({"data": {}})

        app = web.Application()
        app.router.add_post("/login" + _api.LOGIN_ROUTE, login)
        app.router.add_put("/login" + _api.LOGIN_ROUTE, login)
        app.router.add_post("/login" + _api.LOGOUT_ROUTE, logout)
        route = _api.TASK_STATUS_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id="{id}")
        app.router.add_get(route, handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_a_token_refused_three_times_leaves_no_secret_in_the_librarys_frames(
    serve: Serve,
) -> None:
    async def expired(request: web.Request) -> web.Response:
        error = {"message": _api.ERR_EXPIRED_TOKEN, "type": "Authorization", "args": {}}
        return web.json_response({"error": error}, status=403)

    base = await serve(expired)
    async with FlynnClient(
        Credentials(USER_HANDLE, MARKER_PASSWORD), base_url=base, login_url=base + "/login"
    ) as client:
        with pytest.raises(AuthError) as info:
            await client.ims.task(TASK_ID).status()
    assert info.value.code == _api.ERR_EXPIRED_TOKEN
    assert [] == leaks(info.value, MARKER_PASSWORD, TOKEN_PREFIX)


async def test_a_request_timeout_leaves_no_secret_in_the_librarys_frames(serve: Serve) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()  # until the test is over
        return web.json_response({"data": {}})

    base = await serve(hang)
    async with FlynnClient(
        Credentials(USER_HANDLE, MARKER_PASSWORD),
        base_url=base,
        login_url=base + "/login",
        request_timeout=0.05,
        retry=RetryPolicy.disabled(),
    ) as client:
        with pytest.raises(RequestTimeout) as info:
            await client.ims.task(TASK_ID).status()
    never.set()
    assert [] == leaks(info.value, MARKER_PASSWORD, TOKEN_PREFIX)
