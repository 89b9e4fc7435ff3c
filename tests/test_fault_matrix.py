"""The fault matrix: many seeded runs under mixed faults (5xx, 429 with Retry-After, connection
resets, answers slower than the request timeout, pages that 404 once, login tokens expiring)
each end with exactly the fault-free records: every section equal, in order, nothing missing,
nothing doubled. The figures are summed in ``TOTALS`` and reported in docs/reliability.md
(run with ``-s`` to print them)."""

from __future__ import annotations

import collections
import random
from typing import Any

import attrs
import pytest

from flynn_async import (
    ApiError,
    FlynnClient,
    OutcomeUnknown,
    PagesMissing,
    ResponseError,
    RetryPolicy,
)
from flynn_async.testing import (
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)

RUNS = 24
SECTIONS = ("B2B", "B2BA", "B2BCN", "ECOM")
MIXED_FAULTS = FaultSettings(
    error_rate=0.10,
    rate_limit_rate=0.05,
    reset_rate=0.02,
    slow_rate=0.01,
    slow_seconds=0.25,
    page_not_found_once=0.05,
    token_expiry_every=60,
)
TOTALS: collections.Counter[str] = collections.Counter()
FAULTS_BY_KIND: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Any:
    yield
    if TOTALS:
        print(
            f"\nfault matrix: {TOTALS['runs']} runs, {TOTALS['requests']} requests served, "
            f"{TOTALS['faults']} faults injected ({dict(sorted(FAULTS_BY_KIND.items()))}), "
            f"{TOTALS['retries']} retries, {TOTALS['refreshes']} token refreshes, "
            f"{TOTALS['records']} records, all exact"
        )


@pytest.mark.parametrize("run", range(RUNS))
async def test_mixed_faults_end_with_exactly_the_fault_free_records(
    make_sim: Any, make_client: Any, open_gst: Any, run: int
) -> None:
    sim: FlynnSimulator = await make_sim(
        records=RecordSettings(per_section=30),
        paging=PagingSettings(size=5),
        tasks=TaskSettings(processing_polls=2),
        faults=attrs.evolve(MIXED_FAULTS, seed=run),
    )
    expected = {s.lower(): sim.expected_records(sim.gstin, s) for s in SECTIONS}
    client: FlynnClient = await make_client(
        sim,
        max_concurrency=4,
        request_timeout=0.2,
        retry=RetryPolicy(max_tries=10),
        rng=random.Random(run),
    )
    session = await open_gst(client, sim)

    result = await client.ims.download_all(session, sections=SECTIONS)

    assert expected == result.to_dict()  # same records, same order, once each
    for section in SECTIONS:
        records = result.section(section.lower())
        assert len(records) == len(set(records))  # no duplicates
    TOTALS["runs"] += 1
    TOTALS["requests"] += sum(sim.calls.values())
    TOTALS["faults"] += sum(sim.faults.values())
    TOTALS["retries"] += client.stats.retries
    TOTALS["refreshes"] += sim.calls["token_refresh"]
    TOTALS["records"] += len(result)
    FAULTS_BY_KIND.update(sim.faults)
    assert client.stats.retries >= sum(  # every fault on the way was retried, none hidden
        sim.faults[kind] for kind in ("error", "rate_limit", "page_not_found")
    )


async def test_faults_on_every_page_request_eventually_give_a_typed_error(
    make_sim: Any, make_client: Any, open_gst: Any
) -> None:
    sim: FlynnSimulator = await make_sim(
        records=RecordSettings(per_section=10),
        paging=PagingSettings(size=5),
        faults=FaultSettings(error_rate=1.0, routes=frozenset({"task_page"})),
    )
    client: FlynnClient = await make_client(sim, retry=RetryPolicy(max_tries=3))
    session = await open_gst(client, sim)
    with pytest.raises(PagesMissing) as info:
        await client.ims.download(session, section="B2B")
    assert (0, 1) == info.value.missing
    assert isinstance(info.value.__cause__, ResponseError)
    assert "HTTP 5" in str(info.value.__cause__)
    assert 1 == sim.calls["ims_submit"]  # the submit is never repeated


async def test_a_submit_is_never_repeated_even_when_it_fails(
    make_sim: Any, make_client: Any, open_gst: Any
) -> None:
    sim: FlynnSimulator = await make_sim(
        faults=FaultSettings(error_rate=1.0, routes=frozenset({"ims_submit"}))
    )
    client: FlynnClient = await make_client(sim, retry=RetryPolicy(max_tries=5))
    session = await open_gst(client, sim)
    # a gateway's page is no answer: a task may have started, so the outcome is unknown
    with pytest.raises(OutcomeUnknown, match="HTTP 5"):
        await client.ims.submit(session, section="B2B")
    assert 1 == sim.calls["ims_submit"]
    assert 0 == client.stats.retries


async def test_retry_after_is_honoured_as_given(
    make_sim: Any, make_client: Any, open_gst: Any, clock: Any
) -> None:
    sim: FlynnSimulator = await make_sim(
        faults=FaultSettings(
            rate_limit_rate=1.0, retry_after="7", routes=frozenset({"task_result"})
        )
    )
    client: FlynnClient = await make_client(sim, retry=RetryPolicy(max_tries=3))
    session = await open_gst(client, sim)
    task = await client.ims.submit(session, section="B2B")
    await task.wait()
    clock.sleeps.clear()
    with pytest.raises((ApiError, ResponseError)) as info:
        await task.page_count()
    assert [7.0, 7.0] == clock.sleeps  # exactly the hint, no jitter, between three tries
    assert "429" in str(info.value)
    assert task.id == info.value.task_id
