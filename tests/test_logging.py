"""The logger hierarchy: a DEBUG line per request, an INFO line per task state change."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from flynn_async import FlynnClient, GstSession, PagesMissing, TaskFailed
from flynn_async.testing import (
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)


def _requests(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "flynn_async.http" and r.levelno == 10]


@pytest.mark.sim(
    records=RecordSettings(per_section=9),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=1),
)
async def test_one_debug_line_per_request_with_route_status_duration_and_retries(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="flynn_async")
    sim.reset_counters()
    task = await client.ims.submit(session, section="B2B")
    await task.result()
    lines = _requests(caplog)
    assert len(lines) == sum(sim.calls.values())  # submit, 2 status, result, 3 pages
    assert len(lines) == 7
    routes = Counter(r.flynn_route for r in lines)  # type: ignore[attr-defined]
    assert sorted(routes.values()) == [1, 1, 2, 3]  # submit, result, status, page
    for record in lines:
        assert record.flynn_status == 200  # type: ignore[attr-defined]
        assert record.flynn_retries == 0  # type: ignore[attr-defined]
        assert record.flynn_duration >= 0  # type: ignore[attr-defined]
        assert "{" in record.flynn_route  # type: ignore[attr-defined]  # a template, no ids
        assert "-> 200 in" in record.getMessage()
        assert record.getMessage().endswith(", 0 retries")
    pages = [r for r in lines if r.flynn_page is not None]  # type: ignore[attr-defined]
    assert [r.flynn_page for r in pages] == [0, 1, 2]  # type: ignore[attr-defined]
    assert all(r.flynn_task_id == task.id for r in pages)  # type: ignore[attr-defined]
    assert f"(task {task.id} page 2)" in pages[-1].getMessage()


@pytest.mark.sim(
    records=RecordSettings(per_section=4),
    paging=PagingSettings(size=4),
    faults=FaultSettings(error_rate=1.0, routes=["task_page"]),
)
async def test_the_retry_count_is_logged_on_each_try(
    client: FlynnClient, session: GstSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flynn_async")
    task = await client.ims.submit(session, section="B2B")
    with pytest.raises(PagesMissing):
        await task.result()
    pages = [r for r in _requests(caplog) if getattr(r, "flynn_page", None) is not None]
    tries = client.retry.max_tries
    assert [r.flynn_retries for r in pages] == list(range(tries))  # type: ignore[attr-defined]
    assert all(r.flynn_status >= 500 for r in pages)  # type: ignore[attr-defined]


@pytest.mark.sim(
    records=RecordSettings(per_section=9),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(processing_polls=2),
)
async def test_one_info_line_per_task_state_change(
    client: FlynnClient, session: GstSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flynn_async")
    task = await client.ims.submit(session, section="B2B")
    await task.result()
    mine = [r.getMessage() for r in caplog.records if task.id in r.getMessage()]
    assert [r.levelno for r in caplog.records if task.id in r.getMessage()] == [20] * len(mine)
    assert len(mine) == 5, mine
    assert "started" in mine[0]
    assert "is pending" in mine[1]  # seen once, although it was polled twice as pending
    assert "is completed" in mine[2]
    assert "fetching 3 pages" in mine[3]
    assert "all 3 pages fetched" in mine[4]


@pytest.mark.sim(
    records=RecordSettings(per_section=4),
    paging=PagingSettings(size=4),
    tasks=TaskSettings(failing_first=1),
)
async def test_a_failed_task_is_logged_once(
    client: FlynnClient, session: GstSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flynn_async.tasks")
    task = await client.ims.submit(session, section="B2B")
    with pytest.raises(TaskFailed):
        await task.wait()
    lines = [r.getMessage() for r in caplog.records if r.name == "flynn_async.tasks"]
    assert lines[-1].startswith(f"task {task.id} (b2b) is failed")
    assert sum("is failed" in line for line in lines) == 1


def test_every_logger_is_under_flynn_async() -> None:
    import flynn_async  # noqa: F401 - importing creates the module loggers

    names = [n for n in logging.root.manager.loggerDict if "flynn" in n]
    assert names
    assert all(n == "flynn_async" or n.startswith("flynn_async.") for n in names)
