"""Fixtures shared by the simulator's own tests: a wall clock that moves only when told, a raw
aiohttp session (these tests speak HTTP to the simulator directly, not through the client),
and a simulator on that clock."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from flynn_async.testing import FlynnSimulator

#: Where the fake wall clock starts (epoch seconds).
T0 = 1_700_000_000.0


class Clock:
    """A wall clock that moves only when told."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim(clock: Clock) -> AsyncIterator[FlynnSimulator]:
    async with FlynnSimulator(clock=clock) as simulator:
        yield simulator
