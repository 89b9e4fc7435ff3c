"""Hostile answers: a gzip bomb, an endless body, a huge declared length. Each ends in a
``ResponseError`` naming route, task and page, and the client's memory stays bounded (traced
with ``tracemalloc``, loosely: the cap plus buffers, never the bomb's size)."""

from __future__ import annotations

import asyncio
import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import pytest
from aiohttp import web

from flynn_async import Credentials, FlynnClient, InvalidInput, ResponseError, RetryPolicy
from flynn_async._http import _api
from flynn_async.testing import USER_HANDLE, USER_PASSWORD

MIB = 1024 * 1024
TASK_ID = "6f1c8d2e-0000-4000-8000-000000000001"
TASKS = _api.TASKS_FLYNN_VERSION


def gzip_bomb(mebibytes: int) -> bytes:
    """About 1 KiB per MiB of zeros once inflated (1 MiB of gzip: 1 GiB), built in ms.

    Each MiB is compressed and then fully flushed, so every block after the first is the same
    bytes; the trailer is never reached by a client that keeps to its caps.
    """
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    first = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    block = packer.compress(zeros) + packer.flush(zlib.Z_FULL_FLUSH)
    return first + block * (mebibytes - 1) + packer.flush()


def _status_body() -> bytes:
    return json.dumps({"data": {"task": {"id": TASK_ID, "status": "processing"}}}).encode()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Serve(Protocol):
    """The ``serve`` fixture: a client of a scripted server running ``handler`` on ``on``."""

    def __call__(
        self, handler: Handler, *, on: str = ..., **options: Any
    ) -> Awaitable[FlynnClient]: ...


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """A scripted server: the login service, and ``handler`` on the status and page routes."""
    runners: list[web.AppRunner] = []
    clients: list[FlynnClient] = []

    async def start(handler: Handler, *, on: str = "status", **options: Any) -> FlynnClient:
        async def login(request: web.Request) -> web.Response:
            org = {"organisation": {"id": "org-1"}, "userAccessInfo": {"primary": True}}
            data = {"token": "t0k3n", "expiry": 4_000_000_000_000, "associatedOrgs": [org]}
            return web.json_response({"data": data})

        async def logout(request: web.Request) -> web.Response:
            return web.json_response({"data": {}})

        async def completed(request: web.Request) -> web.Response:
            return web.json_response({"data": {"task": {"id": TASK_ID, "status": "completed"}}})

        async def result(request: web.Request) -> web.Response:
            return web.json_response({"status": "1", "data": {"pages": 5}, "error": None})

        app = web.Application()
        app.router.add_post("/login" + _api.LOGIN_ROUTE, login)
        app.router.add_post("/login" + _api.LOGOUT_ROUTE, logout)
        app.router.add_get(
            _api.TASK_STATUS_ROUTE.format(flynn=TASKS, task_id="{id}"),
            handler if on == "status" else completed,
        )
        app.router.add_get(_api.TASK_RESULT_ROUTE.format(flynn=TASKS, task_id="{id}"), result)
        app.router.add_get(
            _api.TASK_PAGE_ROUTE.format(flynn=TASKS, task_id="{id}", page="{page}"), handler
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        client = FlynnClient(
            Credentials(USER_HANDLE, USER_PASSWORD),
            base_url=f"http://{host}:{port}",
            login_url=f"http://{host}:{port}/login",
            retry=RetryPolicy(max_tries=3, initial_delay=0.001, max_delay=0.001),
            **options,
        )
        clients.append(client)
        await client.start()
        return client

    yield start
    for client in clients:
        await client.aclose()
    for runner in runners:
        await runner.cleanup()


async def _peak_while(work: Awaitable[Any]) -> tuple[BaseException | None, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            await work
        except Exception as exc:
            error: BaseException | None = exc
        else:
            error = None
        return error, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_one_mib_gzip_bomb_stops_at_the_decompressed_cap(serve: Serve) -> None:
    bomb = gzip_bomb(1024)  # 1 MiB on the wire, 1 GiB inflated
    assert len(bomb) < 1.1 * MIB
    sent = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        sent.set()
        return web.Response(
            body=bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    client = await serve(handler, on="page", max_decompressed_bytes=16 * MIB)
    error, peak = await _peak_while(client.ims.task(TASK_ID).page(3))
    assert sent.is_set()
    assert isinstance(error, ResponseError)
    assert "max_decompressed_bytes" in str(error)
    assert (error.route, error.task_id, error.page) == (_api.TASK_PAGE_ROUTE, TASK_ID, 3)
    assert peak < 48 * MIB  # the cap and its buffers, not the gigabyte


async def test_the_default_caps_bound_the_same_bomb(serve: Serve) -> None:
    bomb = gzip_bomb(1024)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    client = await serve(handler)
    assert (32 * MIB, 128 * MIB) == (client.max_body_bytes, client.max_decompressed_bytes)
    error, peak = await _peak_while(client.ims.task(TASK_ID).status())
    assert isinstance(error, ResponseError)
    assert (error.route, error.task_id) == (_api.TASK_STATUS_ROUTE, TASK_ID)
    assert peak < 300 * MIB  # was past 2 GiB


async def test_an_endless_body_stops_at_max_body_bytes(serve: Serve) -> None:
    written = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal written
        answer = web.StreamResponse(headers={"Content-Type": "application/json"})
        answer.enable_chunked_encoding()
        await answer.prepare(request)
        chunk = b" " * (256 * 1024)
        try:
            while True:  # until the client hangs up
                await answer.write(chunk)
                written += len(chunk)
        except (ConnectionError, RuntimeError):
            return answer

    client = await serve(handler, on="page", max_body_bytes=4 * MIB)
    error, peak = await _peak_while(client.ims.task(TASK_ID).page(0))
    assert isinstance(error, ResponseError)
    assert "max_body_bytes" in str(error)
    assert (error.route, error.task_id, error.page) == (_api.TASK_PAGE_ROUTE, TASK_ID, 0)
    assert peak < 24 * MIB


async def test_a_huge_declared_length_is_refused_before_reading(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(
            headers={"Content-Type": "application/json", "Content-Length": str(10**12)}
        )
        await answer.prepare(request)
        await answer.write(b"{")
        return answer

    client = await serve(handler)
    with pytest.raises(ResponseError, match="Content-Length 1000000000000") as info:
        await client.ims.task(TASK_ID).status()
    assert info.value.task_id == TASK_ID


@pytest.mark.parametrize("coding", ["gzip", "gzip-members", "deflate", None])
async def test_compressed_answers_within_the_caps_decode(serve: Serve, coding: str | None) -> None:
    body = _status_body()
    if coding == "gzip":
        body = gzip.compress(body)
    elif coding == "gzip-members":  # two gzip members, one after the other (RFC 1952)
        body = gzip.compress(body[:10]) + gzip.compress(body[10:])
        coding = "gzip"
    elif coding == "deflate":
        body = zlib.compress(body)
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Accept-Encoding", ""))
        headers = {"Content-Encoding": coding} if coding else {}
        return web.Response(body=body, content_type="application/json", headers=headers)

    client = await serve(handler)
    status = await client.ims.task(TASK_ID).status()
    assert TASK_ID == status.task_id
    assert ["gzip, deflate"] == seen


async def test_data_after_a_deflate_stream_is_not_dropped_silently(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = zlib.compress(_status_body()) + b"more"
        headers = {"Content-Encoding": "deflate"}
        return web.Response(body=body, content_type="application/json", headers=headers)

    client = await serve(handler)
    with pytest.raises(ResponseError, match="corrupt compressed body"):
        await client.ims.task(TASK_ID).status()


async def test_a_corrupt_compressed_body_is_a_typed_error(serve: Serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=b"\x1f\x8b not gzip at all",
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
        )

    client = await serve(handler)
    with pytest.raises(ResponseError, match="corrupt compressed body") as info:
        await client.ims.task(TASK_ID).status()
    assert info.value.task_id == TASK_ID
    assert 3 == client.stats.requests - 1  # a read-only call: retried like a cut body


@pytest.mark.parametrize("name", ["max_body_bytes", "max_decompressed_bytes"])
def test_the_caps_are_validated(name: str) -> None:
    options: dict[str, Any] = {name: 0}
    with pytest.raises(InvalidInput, match=name):
        FlynnClient(Credentials(USER_HANDLE, USER_PASSWORD), **options)
