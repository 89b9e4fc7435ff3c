"""GSTR-2B regeneration: billed and state-changing, so never repeated blindly."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from flynn_async import (
    FlynnClient,
    GstError,
    Gstr2bOutcomeUnknown,
    Gstr2bRegenerationInProgress,
    GstSession,
    PollPolicy,
    TaskTimeout,
)
from flynn_async.testing import FaultSettings, FlynnSimulator
from tests.conftest import ClientFactory, FakeClock, GstOpener

PERIOD = "102025"


async def act_on_one(sim: FlynnSimulator) -> None:
    """Reject one accepted record, so that a regeneration has something to change."""
    records = dict(sim._ims_records_of(sim.gstin))
    record = next(r for r in records["b2b"] if r["action"] in ("A", "N"))
    sim.gstr2b.act(sim.gstin, "b2b", record, "R")


async def test_regenerate_polls_until_processed_and_hands_the_id_over_at_once(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    await client.gstr2b.download(session, period=PERIOD)
    await act_on_one(sim)
    sim.gstr2b.regeneration_polls = 3
    seen: list[tuple[str, int]] = []

    def on_submitted(reference_id: str) -> None:
        seen.append((reference_id, sim.gstr2b.calls["status"]))

    with caplog.at_level(logging.INFO, logger="flynn_async.gstr2b"):
        outcome = await client.gstr2b.regenerate(session, period=PERIOD, on_submitted=on_submitted)
    assert outcome.status == "P"
    assert outcome.succeeded
    assert not outcome.unchanged
    assert outcome.reference_id is not None
    assert seen == [(outcome.reference_id, 0)]  # handed over before any status call
    assert sim.gstr2b.calls["regenerate"] == 1
    assert sim.gstr2b.calls["status"] == 4  # IP three times, then P
    assert f"GSTR-2B regeneration {outcome.reference_id} started for {sim.gstin}" in caplog.text
    again = await client.gstr2b.regeneration_status(session, outcome.reference_id)
    assert (again.reference_id, again.status) == (outcome.reference_id, "P")


async def test_nothing_changed_is_an_outcome_not_an_error(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await client.gstr2b.download(session, period=PERIOD)
    outcome = await client.gstr2b.regenerate(session, period=PERIOD)
    assert outcome.unchanged
    assert outcome.succeeded
    assert outcome.reference_id is None
    assert sim.gstr2b.calls["status"] == 0


@pytest.mark.parametrize("code", ["IMS2B007", "IMS2B009", "XYZ123"])
async def test_a_refused_regeneration_gives_the_portal_code(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, code: str
) -> None:
    sim.gstr2b.regenerate_error_code = code
    with pytest.raises(GstError) as caught:
        await client.gstr2b.regenerate(session, period=PERIOD)
    assert caught.value.portal_code == code
    assert sim.gstr2b.calls["regenerate"] == 1


async def test_a_second_regeneration_for_the_taxpayer_is_refused_while_one_runs(
    sim: FlynnSimulator, make_client: ClientFactory, open_gst: GstOpener, clock: FakeClock
) -> None:
    polling = asyncio.Event()
    release = asyncio.Event()

    async def sleep(delay: float) -> None:
        polling.set()
        await release.wait()
        await clock.sleep(delay)

    client = await make_client(sleep=sleep)
    session = await open_gst(client, sim)
    await act_on_one(sim)
    first = asyncio.create_task(client.gstr2b.regenerate(session, period=PERIOD))
    await polling.wait()
    with pytest.raises(Gstr2bRegenerationInProgress):
        await client.gstr2b.regenerate(session, period=PERIOD)
    assert sim.gstr2b.calls["regenerate"] == 1
    release.set()
    assert (await first).status == "P"
    assert (await client.gstr2b.regenerate(session, period=PERIOD)).unchanged  # free again


async def test_it_waits_for_the_clients_own_save_or_reset_in_progress(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    lock = client.taxpayer_locks.lock_for(sim.gstin)
    assert client.taxpayer_locks.lock_for(sim.gstin) is lock
    await lock.acquire()  # a save or reset of the taxpayer runs
    task = asyncio.create_task(client.gstr2b.regenerate(session, period=PERIOD))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    assert sim.gstr2b.calls["regenerate"] == 0
    lock.release()
    assert (await task).status == "P"
    assert sim.gstr2b.calls["regenerate"] == 1
    assert not client.taxpayer_locks.busy(sim.gstin)


async def test_a_cancelled_regeneration_runs_to_its_answer_and_carries_the_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    task: asyncio.Task[Any]

    def cancel_now(reference_id: str) -> None:
        task.cancel()  # while the regenerate call has not returned yet

    task = asyncio.create_task(
        client.gstr2b.regenerate(session, period=PERIOD, on_submitted=cancel_now)
    )
    with pytest.raises(asyncio.CancelledError) as caught:
        await task
    (reference_id,) = sim.gstr2b.regenerations
    assert f"GSTR-2B regeneration reference id: {reference_id}" in caught.value.__notes__
    assert caught.value.reference_id == reference_id  # type: ignore[attr-defined]
    assert sim.gstr2b.calls["regenerate"] == 1


@pytest.mark.sim(faults=FaultSettings(routes={"gstr2b_regenerate"}, truncate_rate=1.0))
async def test_a_lost_answer_is_outcome_unknown_and_never_resent(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    with pytest.raises(Gstr2bOutcomeUnknown) as caught:
        await client.gstr2b.regenerate(session, period=PERIOD)
    assert caught.value.reference_id is None
    assert "download 2B before regenerating again" in str(caught.value)
    assert sim.calls["gstr2b_regenerate"] == 1
    assert len(sim.gstr2b.regenerations) == 1  # it did start on the portal


@pytest.mark.sim(faults=FaultSettings(routes={"gstr2b_status"}, reset_rate=1.0))
async def test_a_lost_connection_while_polling_gives_outcome_unknown_with_the_id(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    with pytest.raises(Gstr2bOutcomeUnknown) as caught:
        await client.gstr2b.regenerate(session, period=PERIOD)
    (reference_id,) = sim.gstr2b.regenerations
    assert caught.value.reference_id == reference_id
    assert reference_id in str(caught.value)
    assert sim.calls["gstr2b_regenerate"] == 1
    assert sim.calls["gstr2b_status"] >= client.retry.max_tries  # status calls are retried


async def test_an_expired_login_token_is_renewed_and_the_call_repeated(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    sim.expire_tokens()
    outcome = await client.gstr2b.regenerate(session, period=PERIOD)
    assert outcome.status == "P"
    assert sim.calls["gstr2b_regenerate"] == 2  # refused before anything was done, then sent
    assert sim.gstr2b.calls["regenerate"] == 1
    assert len(sim.gstr2b.regenerations) == 1


async def test_a_regeneration_past_the_deadline_names_its_reference(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, clock: FakeClock
) -> None:
    await act_on_one(sim)
    sim.gstr2b.regeneration_polls = 1000
    with pytest.raises(TaskTimeout) as caught:
        await client.gstr2b.regenerate(
            session, period=PERIOD, poll=PollPolicy(initial_delay=1.0, deadline=10.0)
        )
    (reference_id,) = sim.gstr2b.regenerations
    assert caught.value.task_id == reference_id
    assert sum(clock.sleeps) == pytest.approx(10.0)


async def test_secrets_stay_out_of_regeneration_errors_and_logs(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, caplog: Any
) -> None:
    secret = session.session_id.reveal()
    sim.gstr2b.regenerate_error_code = "IMS2B007"
    with caplog.at_level(logging.DEBUG), pytest.raises(GstError) as caught:
        await client.gstr2b.regenerate(session, period=PERIOD)
    assert secret not in caplog.text
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.__dict__)
    tb = caught.tb.tb_next  # the frames below this test's own
    while tb is not None:  # no frame of the call keeps the session id in a local
        for value in tb.tb_frame.f_locals.values():
            assert not (isinstance(value, str) and secret in value)
        tb = tb.tb_next


@pytest.mark.sim(faults=FaultSettings(routes={"gstr2b_regenerate"}, reset_rate=1.0))
async def test_a_reset_connection_on_regenerate_is_outcome_unknown_and_not_resent(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await act_on_one(sim)
    await client.gstr2b.download(session, period=PERIOD)  # a kept-alive connection to reuse
    with pytest.raises(Gstr2bOutcomeUnknown):
        await client.gstr2b.regenerate(session, period=PERIOD)
    assert sim.calls["gstr2b_regenerate"] == 1
