"""Expiry over long runs: login tokens past their hard limit, GST sessions kept alive, stored,
restored, and forgotten once the portal says they have lapsed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from flynn_async import (
    Credentials,
    FileSessionStore,
    FlynnClient,
    GstSessionExpired,
    InvalidInput,
    TooManyTokens,
)
from flynn_async.testing import USER_HANDLE, USER_PASSWORD, FlynnSimulator


class WallClock:
    """A wall clock (epoch seconds) shared by the simulator and the client; its ``sleep``
    moves it on. ``park_after`` sleeps, the next sleep parks for ever and sets ``parked``."""

    def __init__(self, now: float = 1_700_000_000.0, park_after: int | None = None) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self.park_after = park_after
        self.parked = asyncio.Event()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        if self.park_after is not None and len(self.sleeps) >= self.park_after:
            self.parked.set()
            await asyncio.Event().wait()  # until cancelled
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


async def test_a_run_past_the_tokens_hard_limit_logs_in_again_with_one_live_token(
    make_sim: Any, make_client: Any, open_gst: Any
) -> None:
    wall = WallClock()
    sim: FlynnSimulator = await make_sim(clock=wall)
    client: FlynnClient = await make_client(
        sim,
        credentials=Credentials(USER_HANDLE, USER_PASSWORD, token_minutes=1),
        clock=wall,  # the token is timed on the client's monotonic clock
        wall_clock=wall,
    )
    session = await open_gst(client, sim)
    expected = sim.expected_records(sim.gstin, "B2B")
    for _ in range(10):  # ten minutes: past 6 x the one-minute token
        assert expected == (await client.ims.download(session, section="B2B")).to_dict()["b2b"]
        wall.now += 60
        assert sim.live_tokens == 1
    assert sim.calls["login"] >= 2  # logged in again past the hard limit
    assert sim.calls["token_refresh"] >= 2  # refreshed before that


async def test_the_token_limit_error_gives_advice(sim: FlynnSimulator, make_client: Any) -> None:
    for _ in range(10):
        await make_client(sim)
    with pytest.raises(TooManyTokens) as info:
        await make_client(sim)
    assert "share one client per user" in str(info.value)


async def test_keep_alive_refreshes_before_the_session_lapses(
    make_sim: Any, make_client: Any, open_gst: Any
) -> None:
    wall = WallClock(park_after=2)
    sim: FlynnSimulator = await make_sim(clock=wall)
    client: FlynnClient = await make_client(sim, clock=wall, wall_clock=wall, sleep=wall.sleep)
    session = await open_gst(client, sim)
    opened = wall.now

    async with client.gst.keep_alive(session, margin=600) as keeper:
        await asyncio.wait_for(wall.parked.wait(), timeout=10)
        assert keeper.refreshes == 2
        assert keeper.error is None
        assert wall.sleeps == [6 * 3600 - 600] * 2  # refreshed 10 minutes before each lapse
        assert opened + 2 * (6 * 3600 - 600) == wall.now
        wall.park_after = None  # the keeper stays parked; the poller below sleeps normally
        # the old session object still works: the client uses the newest id
        result = await client.ims.download(session, section="B2B")
        assert sim.expected_records(sim.gstin, "B2B") == result.to_dict()["b2b"]
    assert sim.calls["gst_refresh"] == 2
    assert keeper.session != session


async def test_keep_alive_records_a_failed_refresh(
    sim: FlynnSimulator, client: FlynnClient, open_gst: Any
) -> None:
    session = await open_gst(client, sim)
    await client.gst.logout(session)
    async with client.gst.keep_alive(session, margin=6 * 3600) as keeper:
        await asyncio.wait_for(keeper.wait_stopped(), timeout=10)
    assert isinstance(keeper.error, GstSessionExpired)
    assert 0 == keeper.refreshes


async def test_keep_alive_checks_its_margin(
    sim: FlynnSimulator, client: FlynnClient, open_gst: Any
) -> None:
    session = await open_gst(client, sim)
    with pytest.raises(InvalidInput):
        async with client.gst.keep_alive(session, margin=-1):
            pass


async def test_refresh_if_due(sim: FlynnSimulator, client: FlynnClient, open_gst: Any) -> None:
    session = await open_gst(client, sim)
    assert session == await client.gst.refresh_if_due(session, margin=60)
    assert sim.calls["gst_refresh"] == 0
    fresh = await client.gst.refresh_if_due(session, margin=7 * 3600)
    assert sim.calls["gst_refresh"] == 1
    assert fresh.session_id != session.session_id


async def test_a_stored_session_serves_a_second_client(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, tmp_path: Path
) -> None:
    store = FileSessionStore(tmp_path)
    first: FlynnClient = await make_client(sim, session_store=store)
    opened = await open_gst(first, sim)
    assert (tmp_path / f"{sim.gstin}.json").exists()

    second: FlynnClient = await make_client(sim, session_store=store)
    restored = await second.gst.restore(sim.gstin)
    assert opened == restored
    assert restored is not None
    result = await second.ims.download(restored, section="B2B")
    assert sim.expected_records(sim.gstin, "B2B") == result.to_dict()["b2b"]
    assert sim.calls["otp_verify"] == 1  # no second OTP


async def test_a_refresh_is_stored_and_a_logout_forgotten(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, tmp_path: Path
) -> None:
    store = FileSessionStore(tmp_path)
    client: FlynnClient = await make_client(sim, session_store=store)
    session = await open_gst(client, sim)
    fresh = await client.gst.refresh(session)
    assert fresh == await store.load(sim.gstin)
    await client.gst.logout(fresh)
    assert await store.load(sim.gstin) is None
    assert await client.gst.restore(sim.gstin) is None


async def test_a_lapsed_session_raises_and_is_forgotten(
    make_sim: Any, make_client: Any, open_gst: Any, tmp_path: Path
) -> None:
    wall = WallClock()
    sim: FlynnSimulator = await make_sim(clock=wall)
    store = FileSessionStore(tmp_path)
    client: FlynnClient = await make_client(sim, clock=wall, wall_clock=wall, session_store=store)
    session = await open_gst(client, sim)
    wall.now += 6 * 3600 + 1  # the portal session lapses (the login token is renewed)
    with pytest.raises(GstSessionExpired) as info:
        await client.ims.download(session, section="B2B")
    assert "OTP" in str(info.value)
    assert not (tmp_path / f"{sim.gstin}.json").exists()
    assert sim.gstin not in client.gst._current


async def test_without_a_store_restore_finds_nothing(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    assert await client.gst.restore(sim.gstin) is None
    with pytest.raises(InvalidInput):
        await client.gst.restore("not-a-gstin")


def test_a_session_store_must_fit_the_protocol(sim: FlynnSimulator) -> None:
    with pytest.raises(InvalidInput, match="SessionStore"):
        FlynnClient(
            sim.credentials,
            base_url=sim.base_url,
            login_url=sim.login_url,
            session_store=object(),  # type: ignore[arg-type]
        )


class HeldStore:
    """A session store whose ``save`` parks, once ``hold`` is set, until ``release`` is set:
    a keep-alive refresh that the portal has answered is still being recorded."""

    def __init__(self) -> None:
        self.hold = False
        self.parked = asyncio.Event()
        self.release = asyncio.Event()
        self.saved: list[Any] = []

    async def load(self, gstin: str) -> Any:
        return None

    async def save(self, session: Any) -> None:
        if self.hold:
            self.parked.set()
            await self.release.wait()
        self.saved.append(session)

    async def delete(self, gstin: str) -> None:
        return None


async def test_a_cancellation_while_keep_alive_ends_is_not_swallowed(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    store = HeldStore()
    client: FlynnClient = await make_client(sim, session_store=store)
    session = await open_gst(client, sim)
    store.hold = True
    store.saved.clear()
    went_on = []

    async def body() -> None:
        async with client.gst.keep_alive(session, margin=6 * 3600):
            await store.parked.wait()  # a refresh is in flight: the block ends meanwhile
        went_on.append(True)  # must not run: the caller was cancelled

    outer = asyncio.create_task(body())
    await store.parked.wait()
    for _ in range(5):  # the block ends; its exit waits for the refresh
        await asyncio.sleep(0)
    outer.cancel()
    store.release.set()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert [] == went_on
    assert 1 == len(store.saved)  # the refresh ran to its end and was recorded
    assert client.gst.current(session).session_id == store.saved[0].session_id
