"""Streaming keeps memory flat: ``pages()`` and ``records()`` hold at most about C pages.

Counted, never timed. The consumer is slow on purpose: between two pages it makes two status
calls over the socket, which runs the event loop through many turns, so the page fetches run
as far ahead as the library lets them. Then, at every page handed on:

- the simulator has received at most ``k + 1 + C`` page requests (``k`` the page's index, ``C``
  the client's ``max_concurrency``): fetching runs at most C pages ahead of the consumer;
- at most ``C + 1`` decoded pages (``ImsInvoices``) are alive in the process: the one in the
  consumer's hands and at most C fetched ahead. They are counted among ``gc.get_objects()``
  (pages are tracked by the collector): the fetch loop keeps no reference to a page it has
  handed on, so the exact bound holds.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flynn_async import FlynnClient, Task
from flynn_async.ims import ImsInvoices
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

#: 20 pages of 2 records.
PAGED = {"records": RecordSettings(per_section=40), "paging": PagingSettings(size=2)}
PAGES = 20


def pages_alive() -> int:
    """Decoded pages (``ImsInvoices``) alive in the process right now."""
    return sum(1 for o in gc.get_objects() if type(o) is ImsInvoices)


async def slow(task: Task[Any]) -> None:
    """A slow consumer: two round trips to the server before it takes the next page."""
    await task.status()
    await task.status()


async def page_stream(task: Task[ImsInvoices], method: str) -> AsyncIterator[int]:
    """Walk ``task.pages()`` or ``task.records()``; yield the index of each page handed on.

    For ``records()`` a page counts as handed on with its first record.
    """
    if method == "pages":
        async with contextlib.aclosing(task.pages()) as pages:
            index = -1
            async for page in pages:
                index += 1
                assert 2 == len(page)
                del page
                yield index
    else:
        seen = 0
        async for _section, _record in task.records():
            if seen % 2 == 0:
                yield seen // 2
            seen += 1
        assert 2 * PAGES == seen


async def started(client: FlynnClient, sim: FlynnSimulator, open_gst: Any) -> Task[ImsInvoices]:
    task = await client.ims.submit(await open_gst(client, sim), section="B2B")
    assert PAGES == await task.page_count()
    return task


@pytest.mark.parametrize("method", ["pages", "records"])
@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.sim(**PAGED)
async def test_page_requests_run_at_most_c_pages_ahead_of_the_consumer(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, method: str, concurrency: int
) -> None:
    client = await make_client(max_concurrency=concurrency)
    task = await started(client, sim, open_gst)
    ahead = []
    async for index in page_stream(task, method):
        await slow(task)
        requested = sim.calls["task_page"]
        assert requested <= index + 1 + concurrency, (index, requested)
        ahead.append(requested - (index + 1))
    assert PAGES == sim.calls["task_page"]  # each page requested once
    assert 0 < max(ahead) <= concurrency  # fetching did run ahead, and no further than C
    assert concurrency >= sim.peak_pages_in_flight


async def alive_at_each_page(task: Task[ImsInvoices], method: str) -> list[int]:
    """Decoded pages alive at each page handed on to a slow consumer."""
    gc.collect()
    assert 0 == pages_alive()
    alive = []
    async for _index in page_stream(task, method):
        await slow(task)
        alive.append(pages_alive())
    assert PAGES == len(alive)
    gc.collect()
    assert 0 == pages_alive()  # nothing is kept once the stream is done
    return alive


@pytest.mark.parametrize("method", ["pages", "records"])
@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.sim(**PAGED)
async def test_decoded_pages_alive_at_once_stay_about_c(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, method: str, concurrency: int
) -> None:
    client = await make_client(max_concurrency=concurrency)
    alive = await alive_at_each_page(await started(client, sim, open_gst), method)
    # the page handed on and at most C fetched ahead
    assert max(alive) <= concurrency + 1, alive
    assert min(alive) >= 1  # the page being handed on is counted


@pytest.mark.parametrize("method", ["pages", "records"])
@pytest.mark.sim(**PAGED)
async def test_at_most_c_plus_one_decoded_pages_are_alive_at_once(
    sim: FlynnSimulator, make_client: Any, open_gst: Any, method: str
) -> None:
    client = await make_client(max_concurrency=3)
    alive = await alive_at_each_page(await started(client, sim, open_gst), method)
    assert max(alive) <= 3 + 1, alive  # the page handed on and at most C fetched ahead


@pytest.mark.sim(**PAGED)
async def test_the_count_sees_pages_a_consumer_keeps(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    # the counting method itself: a consumer that keeps its pages is seen keeping them all
    client = await make_client(max_concurrency=3)
    task = await started(client, sim, open_gst)
    kept = []
    async for page in task.pages():
        kept.append(page)
    assert PAGES == pages_alive()
    assert sim.expected_pages(task.id) == [page.to_dict() for page in kept]


@pytest.mark.sim(**PAGED)
async def test_leaving_a_stream_early_stops_its_page_requests(
    sim: FlynnSimulator, make_client: Any, open_gst: Any
) -> None:
    client = await make_client(max_concurrency=3)
    task = await started(client, sim, open_gst)
    async with contextlib.aclosing(task.pages()) as pages:
        async for _page in pages:
            break
    requested = sim.calls["task_page"]
    assert requested <= 1 + 3
    await slow(task)  # nothing left running could still send a request
    assert requested == sim.calls["task_page"]
    assert 0 == sim.pages_in_flight
