"""aiohttp never resends, on its own, a call that is sent at most once.

aiohttp resends an idempotent-method request (GET, PUT, ...) once when a reused keep-alive
connection drops after the request was written. The server here (raw asyncio over loopback)
answers the first request on a connection and keeps it alive, then reads the next request
and closes the connection without answering: the request may have been acted on. A billed
or state-changing call must reach the server exactly once and end in ``OutcomeUnknown``; a
read-only call is resent and succeeds.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
import pytest

from flynn_async import FlynnClient, OutcomeUnknown, RetryPolicy, Secret, TransportError
from flynn_async._http import _api
from flynn_async._http._transport import _NO_RESEND, Call, Transport, guard_session
from flynn_async.testing import FaultSettings, FlynnSimulator

TASK_ID = "6f1c8d2e-0000-4000-8000-000000000001"
IMS_PATH = _api.IMS_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION)
STATUS_PATH = _api.TASK_STATUS_ROUTE.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=TASK_ID)
WARM_PATH = "/warm"
HOLD_PATH = "/hold"  # answered once ``server.release`` is set


class ScriptedServer:
    """HTTP/1.1 over raw asyncio: ``drop(path, n)`` closes the connection, unanswered, on the
    first ``n`` requests for ``path``; every other request gets a JSON answer, kept alive."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, int]] = []  # method, path, connection number
        self.connections = 0
        self._drops: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self.port = 0
        self.release = asyncio.Event()
        self.holding = asyncio.Event()
        self._writers: set[asyncio.StreamWriter] = set()

    def drop(self, path: str, times: int = 1) -> None:
        self._drops[path] = times

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.seen if p == path)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        self.release.set()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                length = int(headers.get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0]
                self.seen.append((method, path, number))
                if self._drops.get(path, 0) > 0:
                    self._drops[path] -= 1
                    return  # read, acted on (perhaps), never answered
                if path == HOLD_PATH:
                    self.holding.set()
                    await self.release.wait()
                body = json.dumps({"data": {"task": {"id": TASK_ID, "status": "processing"}}})
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
                )
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _no_sleep(delay: float) -> None:
    raise AssertionError(f"the transport's own retry waited {delay}s")


def transport(session: aiohttp.ClientSession) -> Transport:
    return Transport(
        session,
        retry=RetryPolicy(),
        request_timeout=30.0,
        sleep=_no_sleep,
        rng=random.Random(7),
    )


def call(server: ScriptedServer, method: str, route: str, path: str, **fields: Any) -> Call:
    """A call built as the client builds it: retryable exactly when the route is read-only."""
    return Call(
        method,
        server.url(path),
        route=route,
        headers={"Accept": _api.ACCEPT_JSON},
        retryable=route in _api.RETRYABLE_ROUTES,
        **fields,
    )


async def warm_up(t: Transport, server: ScriptedServer) -> None:
    """One answered request, so the next one goes out on a reused keep-alive connection."""
    await t.call(call(server, "GET", _api.TASK_STATUS_ROUTE, WARM_PATH))
    assert server.connections == 1


async def test_aiohttp_resends_an_unguarded_get(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """The fault this guards against is real: plain aiohttp sends the request twice."""
    async with http.get(server.url(WARM_PATH)) as response:
        await response.read()
    server.drop(IMS_PATH)
    async with http.get(server.url(IMS_PATH)) as response:
        assert response.status == 200
        await response.read()
    assert server.count(IMS_PATH) == 2
    assert server.connections == 2


async def test_ims_submit_get_is_sent_once_and_outcome_unknown(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    t = transport(http)
    await warm_up(t, server)
    server.drop(IMS_PATH)
    submit = call(server, "GET", _api.IMS_ROUTE, IMS_PATH, params={"section": "B2B"})
    assert not submit.retryable
    with pytest.raises(OutcomeUnknown) as caught:
        await t.call(submit)
    assert server.count(IMS_PATH) == 1
    error = caught.value
    assert isinstance(error, TransportError)
    assert error.route == _api.IMS_ROUTE
    assert "may have reached the server" in str(error)
    assert _api.IMS_ROUTE in str(error)
    assert t.stats.requests == 2  # the warm-up and the submit, nothing more
    # The client stays usable: the next call goes out on a new connection.
    await t.call(call(server, "GET", _api.TASK_STATUS_ROUTE, STATUS_PATH))
    assert server.connections == 2


async def test_state_changing_put_is_sent_once(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """The token refresh (``PUT /authtokens``) and a PUT that names a task id."""
    t = transport(http)
    await warm_up(t, server)
    refresh_path = "/login" + _api.LOGIN_ROUTE
    server.drop(refresh_path)
    refresh = call(server, "PUT", _api.LOGIN_ROUTE, refresh_path)
    with pytest.raises(OutcomeUnknown) as caught:
        await t.call(refresh)
    assert server.count(refresh_path) == 1
    assert caught.value.route == _api.LOGIN_ROUTE

    route = "/enriched/gstn/{flynn}/ims-invoices/save/{task_id}"  # any non-retryable PUT
    path = f"/save/{TASK_ID}"
    server.drop(path)
    save = call(server, "PUT", route, path, json={"action": "A"}, task_id=TASK_ID)
    with pytest.raises(OutcomeUnknown) as caught:
        await t.call(save)
    assert server.count(path) == 1
    assert caught.value.task_id == TASK_ID
    assert f"task {TASK_ID}" in str(caught.value)


async def test_read_only_call_is_still_resent(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    t = transport(http)
    await warm_up(t, server)
    server.drop(STATUS_PATH)
    status = call(server, "GET", _api.TASK_STATUS_ROUTE, STATUS_PATH, task_id=TASK_ID)
    assert status.retryable
    data = await t.call(status)
    assert data["task"]["id"] == TASK_ID
    assert server.count(STATUS_PATH) == 2  # aiohttp's own resend, no wait of the transport
    assert t.stats.retries == 0


async def test_first_attempt_on_a_new_connection_is_not_blocked(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """Only the second attempt is refused: a fresh session's first submit goes out."""
    t = transport(http)
    data = await t.call(call(server, "GET", _api.IMS_ROUTE, IMS_PATH))
    assert data["task"]["id"] == TASK_ID
    assert server.count(IMS_PATH) == 1


async def test_drop_on_a_new_connection_is_not_resent_either(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """aiohttp resends after a drop on a fresh connection too; the guard stops it all the same."""
    t = transport(http)
    server.drop(IMS_PATH)
    with pytest.raises(OutcomeUnknown) as caught:
        await t.call(call(server, "GET", _api.IMS_ROUTE, IMS_PATH))
    assert server.count(IMS_PATH) == 1
    assert server.connections == 1
    assert caught.value.route == _api.IMS_ROUTE


async def test_queued_request_is_guarded(server: ScriptedServer) -> None:
    """With one connection allowed, the submit waits in aiohttp's queue, then takes the pooled
    connection; that connection drops, and the resend (on a new connection) is refused."""
    queued = asyncio.Event()

    async def on_queued(session: object, context: object, params: object) -> None:
        queued.set()

    watch = aiohttp.TraceConfig()
    watch.on_connection_queued_start.append(on_queued)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[watch]) as http:
        t = transport(http)
        await warm_up(t, server)
        server.drop(IMS_PATH)

        async def hold() -> None:  # holds the only connection until the server answers
            async with http.get(server.url(HOLD_PATH)) as response:
                await response.read()

        holder = asyncio.create_task(hold())
        await server.holding.wait()
        submit = asyncio.create_task(t.call(call(server, "GET", _api.IMS_ROUTE, IMS_PATH)))
        await queued.wait()
        server.release.set()
        await holder
        with pytest.raises(OutcomeUnknown):
            await submit
        assert server.count(IMS_PATH) == 1
        assert server.connections == 1  # the resend never even opened a connection


async def test_resend_on_another_pooled_connection_is_refused(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """Two idle keep-alive connections: the resend would take the other one; it is refused
    when aiohttp hands it over, before anything is written on it."""
    t = transport(http)

    async def hold() -> None:
        async with http.get(server.url(HOLD_PATH)) as response:
            await response.read()

    holder = asyncio.create_task(hold())
    await server.holding.wait()
    await t.call(call(server, "GET", _api.TASK_STATUS_ROUTE, WARM_PATH))  # a second connection
    server.release.set()
    await holder
    assert server.connections == 2
    server.drop(IMS_PATH)
    with pytest.raises(OutcomeUnknown):
        await t.call(call(server, "GET", _api.IMS_ROUTE, IMS_PATH))
    assert server.count(IMS_PATH) == 1
    assert len(server.seen) == 3  # hold, warm, the submit: nothing on the other connection
    assert server.connections == 2


async def test_guard_is_added_once_to_a_callers_session(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    before = list(http.trace_configs)
    guard_session(http)
    guard_session(http)
    transport(http)
    assert len(http.trace_configs) == len(before) + 1


async def test_callers_own_requests_keep_aiohttp_behaviour(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """The guard acts on the client's send-once calls only, not on the caller's requests."""
    guard_session(http)
    async with http.get(server.url(WARM_PATH)) as response:
        await response.read()
    server.drop(IMS_PATH)
    async with http.get(server.url(IMS_PATH)) as response:
        assert response.status == 200
    assert server.count(IMS_PATH) == 2


async def test_ims_submit_end_to_end_is_never_resent(
    make_sim: Any, make_client: Any, open_gst: Any
) -> None:
    """A real client and the simulator: the submit goes out on the keep-alive connection the
    GST OTP calls used, the simulator resets it after reading the submit."""
    sim: FlynnSimulator = await make_sim(
        faults=FaultSettings(reset_rate=1.0, routes=frozenset({"ims_submit"}))
    )
    client: FlynnClient = await make_client(sim, retry=RetryPolicy(max_tries=5))
    session = await open_gst(client, sim)
    with pytest.raises(OutcomeUnknown) as caught:
        await client.ims.submit(session, section="B2B")
    assert sim.calls["ims_submit"] == 1
    assert caught.value.route == _api.IMS_ROUTE
    assert client.stats.retries == 0


async def test_given_session_is_guarded(
    make_sim: Any, make_client: Any, open_gst: Any, http: aiohttp.ClientSession
) -> None:
    """``FlynnClient(session=...)``: the caller's session gets the guard when the client
    starts (once, however many clients share it), and the submit is sent once."""
    sim: FlynnSimulator = await make_sim(
        faults=FaultSettings(reset_rate=1.0, routes=frozenset({"ims_submit"}))
    )
    assert guard_count(http) == 0
    client: FlynnClient = await make_client(sim, session=http)
    other: FlynnClient = await make_client(sim, session=http)
    assert guard_count(http) == 1
    session = await open_gst(client, sim)
    with pytest.raises(OutcomeUnknown):
        await client.ims.submit(session, section="B2B")
    assert sim.calls["ims_submit"] == 1
    await other.aclose()
    await client.aclose()  # before the fixture closes the caller's session


def guard_count(session: aiohttp.ClientSession) -> int:
    return sum(1 for config in session.trace_configs if config is _NO_RESEND)


async def test_outcome_unknown_holds_no_secret(
    server: ScriptedServer, http: aiohttp.ClientSession
) -> None:
    """The token sent with the call is in neither the error's text nor any local of a
    ``flynn_async`` frame of its traceback (the refused resend's included)."""
    token = "tok-MARKER-no-resend"
    t = transport(http)
    await warm_up(t, server)
    server.drop(IMS_PATH)
    submit = attrs.evolve(
        call(server, "GET", _api.IMS_ROUTE, IMS_PATH),
        auth=lambda: {"Authorization": Secret(f"Bearer {token}")},
    )
    with pytest.raises(OutcomeUnknown) as caught:
        await t.call(submit)
    error: BaseException | None = caught.value
    assert token not in str(error)
    assert token not in repr(error)
    searched = 0
    while error is not None:
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if "flynn_async" in frame.f_code.co_filename:
                for value in frame.f_locals.values():
                    searched += 1
                    assert token not in repr(value)
            tb = tb.tb_next
        error = error.__cause__ or error.__context__
    assert searched > 0
