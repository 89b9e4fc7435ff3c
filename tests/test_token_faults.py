"""Token expiry under faults, clock skew and short tokens, against a strict test server.

The server (``strict_server.py``) restates the facts document's literals itself; the first
test lists where they differ from the client's constants (nowhere). The runs: 15 % faults on
the read-only routes, every login token expired once every 25 API calls, 1,200 records in
each of the 8 sections (9,600) at concurrency 8, every record exactly once. Four seeds in CI;
twenty in the ``slow`` job (``pytest -m slow tests/test_token_faults.py -s`` prints the
figure).
"""

from __future__ import annotations

import collections
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from flynn_async import Credentials, FlynnClient, RetryPolicy
from flynn_async._http import _api
from flynn_async.testing import (
    USER_HANDLE,
    USER_PASSWORD,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
)
from tests.strict_server import LITERALS, StrictServer, Timeline

SECTIONS = LITERALS["IMS_SECTIONS"]
RECORDS = 1_200
TOTALS: collections.Counter[str] = collections.Counter()


def test_the_servers_literals_agree_with_the_clients_constants() -> None:
    differences = [
        f"{name}: server {value!r}, client {getattr(_api, name, '<missing>')!r}"
        for name, value in LITERALS.items()
        if getattr(_api, name, None) != value
    ]
    assert [] == differences


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    if TOTALS:
        print(
            f"\nstrict token runs: {TOTALS['runs']} runs exact, {TOTALS['records']} records, "
            f"{TOTALS['faults']} faults, {TOTALS['expiries']} forced expiries, "
            f"{TOTALS['refused']} token refusals, {TOTALS['refreshes']} refreshes, "
            f"{TOTALS['logins']} logins"
        )


Run = Callable[..., Awaitable[StrictServer]]


@pytest.fixture
async def strict_run() -> AsyncIterator[Run]:
    """Start a simulator (data only) and a strict server in front of it; run a download."""
    opened: list[Any] = []

    async def run(
        seed: int,
        *,
        skew: float = 0.0,
        token_seconds: float | None = None,
        token_minutes: int = 20,
        step: float = 0.0,
        records: int = RECORDS,
    ) -> StrictServer:
        sim = FlynnSimulator(
            records=RecordSettings(per_section=records, seed=seed), paging=PagingSettings(size=100)
        )
        await sim.start()
        opened.append(sim)
        timeline = Timeline(step=step)
        server = StrictServer(
            sim.base_url,
            sim.login_url,
            (USER_HANDLE, USER_PASSWORD),
            timeline=timeline,
            seed=seed,
            token_seconds=token_seconds,
        )
        await server.start()
        opened.append(server)
        client = FlynnClient(
            Credentials(USER_HANDLE, USER_PASSWORD, token_minutes=token_minutes),
            base_url=server.base_url,
            login_url=server.login_url,
            max_concurrency=8,
            retry=RetryPolicy(max_tries=12),
            sleep=timeline.sleep,
            clock=timeline,
            wall_clock=lambda: server.server_now() + skew,
            rng=random.Random(seed),
        )
        async with client:
            otp = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            session = await client.gst.verify_otp(otp, sim.otp)
            result = await client.ims.download_all(session, sections=SECTIONS)
            assert server.live_tokens == 1  # one client, one token, whatever happened
        expected = {s.lower(): sim.expected_records(sim.gstin, s) for s in SECTIONS}
        assert expected == result.to_dict()  # every record, once, in order
        for section in SECTIONS:
            records_ = result.section(section.lower())
            assert len(records_) == len(set(records_)) == records
        assert [] == server.problems
        assert server.live_tokens == 0  # logged out on leaving
        TOTALS["runs"] += 1
        TOTALS["records"] += len(result)
        TOTALS["faults"] += server.faults
        TOTALS["expiries"] += server.expiries
        TOTALS["refused"] += sum(server.refused.values())
        TOTALS["refreshes"] += server.calls.get("token_refresh", 0)
        TOTALS["logins"] += server.calls.get("login", 0)
        return server

    yield run
    for item in reversed(opened):
        await item.close()


@pytest.mark.parametrize("seed", range(4))
async def test_expiry_every_25_calls_under_15_percent_faults_loses_nothing(
    strict_run: Run, seed: int
) -> None:
    server = await strict_run(seed)
    assert server.expiries >= 5
    assert server.faults > 0
    assert server.refused.get(LITERALS["ERR_EXPIRED_TOKEN"], 0) > 0


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4, 24))
async def test_twenty_more_seeds(strict_run: Run, seed: int) -> None:
    await strict_run(seed)


@pytest.mark.parametrize("skew", [3600.0, -3600.0])
async def test_a_client_clock_an_hour_off_still_downloads_exactly(
    strict_run: Run, skew: float
) -> None:
    # one-minute tokens and a second per API call: the run spans several refreshes and a
    # new login past the hard limit, all timed without the (wrong) wall clock
    server = await strict_run(1, skew=skew, token_minutes=1, step=5.0, records=400)
    assert server.calls.get("token_refresh", 0) >= 2
    assert server.calls.get("login", 0) >= 2


async def test_twenty_second_tokens_download_exactly(strict_run: Run) -> None:
    server = await strict_run(2, token_seconds=20, token_minutes=1, step=1.0)
    assert server.calls.get("token_refresh", 0) >= 2
    assert server.calls.get("login", 0) >= 2  # past 6 x 20 s, logged in again
