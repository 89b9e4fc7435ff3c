"""Cancellation at random points never leaves a login token behind.

Login, token refresh and logout run to their answer even when the caller is cancelled, and
their outcome is recorded: the new token kept by a client that stays open, logged out by one
that is closing. After many cancellations (with faults and token expiry), the server is asked:
live tokens are at most the clients still open.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from flynn_async import FlynnClient, RetryPolicy
from flynn_async.testing import FaultSettings, FlynnSimulator, PagingSettings, RecordSettings
from tests.conftest import FakeClock

SECTIONS = ("B2B", "B2BA", "ECOM")


@pytest.fixture
def threaded_sim() -> Iterator[Callable[..., FlynnSimulator]]:
    """Start simulators on a loop of their own in a thread, so that the test's loop holds
    only the clients' tasks (and waiting for them all waits for no server connection)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    started: list[FlynnSimulator] = []

    def make(**config: Any) -> FlynnSimulator:
        sim = FlynnSimulator(**config)
        asyncio.run_coroutine_threadsafe(sim.start(), loop).result()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        asyncio.run_coroutine_threadsafe(sim.close(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


async def _settle() -> None:
    """Wait until every other task (the shielded server calls among them) has finished."""
    current = asyncio.current_task()
    while pending := [t for t in asyncio.all_tasks() if t is not current and not t.done()]:
        await asyncio.gather(*pending, return_exceptions=True)


def _client(
    sim: FlynnSimulator, clock: FakeClock, seed: int, session: aiohttp.ClientSession | None = None
) -> FlynnClient:
    return FlynnClient(
        sim.credentials,
        base_url=sim.base_url,
        login_url=sim.login_url,
        retry=RetryPolicy(max_tries=10),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(seed),
        session=session,
    )


def _sent(route: str, method: str) -> tuple[aiohttp.ClientSession, asyncio.Event]:
    """A session whose event is set once a ``method`` request to ``route`` has been sent."""
    event = asyncio.Event()

    async def on_sent(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestHeadersSentParams
    ) -> None:
        if params.method == method and params.url.path.endswith(route):
            event.set()

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(on_sent)
    return aiohttp.ClientSession(trace_configs=[trace]), event


@pytest.mark.parametrize("seed", range(2))
async def test_random_cancellations_leave_no_token_beyond_the_open_clients(
    threaded_sim: Callable[..., FlynnSimulator], seed: int
) -> None:
    sim = threaded_sim(
        records=RecordSettings(per_section=12),
        paging=PagingSettings(size=3),
        faults=FaultSettings(seed=seed, error_rate=0.1, rate_limit_rate=0.05, token_expiry_every=7),
    )
    clock = FakeClock()
    rng = random.Random(f"cancel|{seed}")
    owner = _client(sim, clock, seed)
    await owner.start()
    otp_request = await owner.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    session = await owner.gst.verify_otp(otp_request, sim.otp)
    kept_open: list[FlynnClient] = [owner]
    cancellations = 0
    where: dict[str, int] = {}

    for run in range(40):
        client = _client(sim, clock, run)
        style = rng.choice(("async-with", "async-with", "keep-open"))
        if style == "keep-open" and len(kept_open) >= 4:
            style = "async-with"

        async def work(client: FlynnClient = client, style: str = style) -> None:
            if style == "async-with":
                async with client:
                    await client.ims.download(session, section=rng.choice(SECTIONS))
            else:
                await client.start()
                await client.ims.download(session, section=rng.choice(SECTIONS))

        task = asyncio.create_task(work())
        for _ in range(rng.randrange(0, 120)):
            if task.done():
                break
            await asyncio.sleep(0)  # a random point in the run, not a wait for anything
        if not task.done():
            cancellations += 1
            task.cancel()
            phase = "start" if client.org_id is None else "download"
            if rng.random() < 0.5:  # cancel again while it is cleaning up
                for _ in range(rng.randrange(0, 20)):
                    await asyncio.sleep(0)
                cancellations += 1
                task.cancel()
                phase += "+close"
            where[phase] = where.get(phase, 0) + 1
        await asyncio.gather(task, return_exceptions=True)
        if style == "keep-open" and "closed" not in repr(client):
            kept_open.append(client)
        if sim.live_tokens > len(kept_open):  # checked as we go, once settled
            await _settle()
        assert sim.live_tokens <= len(kept_open), (run, style, where)

    try:
        await _settle()
        assert cancellations >= 30, where  # 60+ over the two seeds
        assert len(where) >= 3, where  # cancelled while starting, downloading and closing
        assert sim.live_tokens <= len(kept_open)
        # how far the cancelled runs got depends on the server thread's pace: make sure expiry
        # was met (every 7th call) by two whole downloads of the client kept open throughout
        for section in SECTIONS[:2]:
            await owner.ims.download(session, section=section)
        assert sim.calls["token_refresh"] > 0
        assert sim.live_tokens <= len(kept_open)
    finally:  # a failed assertion must not leave clients open for the next test to trip on
        for client in kept_open:
            await client.aclose()
        await _settle()
    assert 0 == sim.live_tokens
    print(f"\nseed {seed}: {cancellations} cancellations {where}")


async def test_a_cancelled_start_logs_the_new_token_out(
    threaded_sim: Callable[..., FlynnSimulator],
) -> None:
    sim = threaded_sim()
    http, sent = _sent("/authtokens", "POST")
    async with http:
        client = _client(sim, FakeClock(), 0, http)
        task = asyncio.create_task(client.start())
        await sent.wait()  # the login request is on the wire
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _settle()
    assert 1 == sim.calls["login"]  # the login ran to its answer...
    assert 1 == sim.calls["token_logout"]  # ...and its token was logged out
    assert 0 == sim.live_tokens
    assert "closed" in repr(client)


async def test_a_cancelled_refresh_keeps_the_new_token(
    threaded_sim: Callable[..., FlynnSimulator],
) -> None:
    sim = threaded_sim()
    http, sent = _sent("/authtokens", "PUT")
    async with http:
        client = _client(sim, FakeClock(), 0, http)
        await client.start()
        try:
            sim.expire_tokens()
            otp = asyncio.create_task(
                client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            )
            await sent.wait()  # the refresh is on the wire
            otp.cancel()
            with pytest.raises(asyncio.CancelledError):
                await otp
            await _settle()
            assert 1 == sim.calls["token_refresh"]
            assert 1 == sim.live_tokens  # the refreshed token, kept by the open client
            await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            assert 1 == sim.calls["token_refresh"]  # no second refresh: the first was kept
        finally:
            await client.aclose()
    assert 0 == sim.live_tokens


async def test_a_cancelled_close_still_logs_out(
    threaded_sim: Callable[..., FlynnSimulator],
) -> None:
    sim = threaded_sim()
    http, sent = _sent("/logout", "POST")
    async with http:
        client = _client(sim, FakeClock(), 0, http)
        await client.start()
        closing = asyncio.create_task(client.aclose())
        await sent.wait()
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing
        await client.aclose()  # waits for the first close to finish
        assert 1 == sim.calls["token_logout"]
    assert 0 == sim.live_tokens
