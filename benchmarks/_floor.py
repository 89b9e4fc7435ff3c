"""The typed floor client: the least a client can do to download IMS pages into typed records.

Issue 14 judges the library against it: for tasks a :class:`~flynn_async.FlynnClient` has
already submitted and seen complete, :func:`fetch` asks the page count of each task and every
page with plain ``aiohttp`` GETs, at most ``concurrency`` requests in flight (a semaphore held
for the request and the reading of its body only), decodes each page body in one
``msgspec.json`` call straight into the minimal :class:`msgspec.Struct` types below (the wire
names as fields, money :class:`~decimal.Decimal` through the decoder, dates left as text, fields
they do not name ignored), then concatenates each section's records in page order. No retries,
no checks, no merging rules: the floor.

The client is used only to log in, open the GST session, submit and wait (:func:`completed`);
the floor sends the headers the client would send for a page (its token manager's
``auth_headers()``, the ``Secret`` values revealed here only). Only what exists in every tree
the benchmarks compare is used (the public API, ``client._tokens.auth_headers()`` and the route
constants of ``flynn_async._http._api``), so ``python -m benchmarks --baseline REF`` can run
this module against an older library.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import aiohttp
import msgspec

from flynn_async import FlynnClient, GstSession
from flynn_async._http import _api

__all__ = ["FloorResult", "completed", "fetch", "page_headers", "timed"]


# ------------------------------------------------------------------------------------------
# The minimal typed records (wire names, Decimal money, dates as text)
# ------------------------------------------------------------------------------------------


class _Record(msgspec.Struct, frozen=True, gc=False):
    """What every IMS record carries, and the optional flags and declarations."""

    stin: str
    rtnprd: str
    srcform: str
    pos: str
    val: Decimal
    txval: Decimal
    iamt: Decimal
    camt: Decimal
    samt: Decimal
    cess: Decimal
    action: str
    srcfilstatus: str
    hash: str
    ispendactnallwd: str | bool | None = None
    ispendactblocked: str | bool | None = None
    isItcRedReqBlocked: str | bool | None = None
    itcRedReqBlocked: str | bool | None = None
    isRemarksBlocked: str | bool | None = None
    itcRedReq: str | None = None
    declIgst: Decimal | None = None
    declCgst: Decimal | None = None
    declSgst: Decimal | None = None
    declCess: Decimal | None = None
    remarks: str | None = None
    prev_status: str | None = None


class Invoice(_Record, frozen=True, gc=False):
    """A ``b2b`` or ``ecom`` record."""

    inum: str = ""
    idt: str = ""
    inv_typ: str | None = None


class AmendedInvoice(Invoice, frozen=True, gc=False):
    """A ``b2ba`` or ``ecoma`` record."""

    oinum: str = ""
    oidt: str = ""


class Note(_Record, frozen=True, gc=False):
    """A ``b2bdn`` or ``b2bcn`` record."""

    nt_num: str = ""
    nt_dt: str = ""
    inv_typ: str | None = None


class AmendedNote(Note, frozen=True, gc=False):
    """A ``b2bdna`` or ``b2bcna`` record."""

    ont_num: str = ""
    ont_dt: str = ""


class _Sections(msgspec.Struct, frozen=True, gc=False):
    b2b: list[Invoice] = []
    b2ba: list[AmendedInvoice] = []
    b2bdn: list[Note] = []
    b2bdna: list[AmendedNote] = []
    b2bcn: list[Note] = []
    b2bcna: list[AmendedNote] = []
    ecom: list[Invoice] = []
    ecoma: list[AmendedInvoice] = []


class _Page(msgspec.Struct, frozen=True, gc=False):
    data: _Sections


class _Count(msgspec.Struct, frozen=True, gc=False):
    pages: int


class _Result(msgspec.Struct, frozen=True, gc=False):
    data: _Count


_PAGE = msgspec.json.Decoder(_Page)
_RESULT = msgspec.json.Decoder(_Result)
SECTION_KEYS: tuple[str, ...] = _Sections.__struct_fields__
"""The lower-case section keys of a page, in the API's order."""
DOCUMENTED_FIELDS: frozenset[str] = frozenset(
    name for cls in (AmendedInvoice, AmendedNote) for name in cls.__struct_fields__
)
"""The record fields the API documents (``shared/flynn-api.md`` section 6): those the floor's
types name."""


# ------------------------------------------------------------------------------------------
# The client's part: log in, submit, wait; the headers of a page request
# ------------------------------------------------------------------------------------------


async def completed(client: FlynnClient, session: GstSession, sections: Iterable[str]) -> list[str]:
    """Submit one task per section with the client, wait for all: their task ids."""

    async def one(section: str) -> str:
        task = await client.ims.submit(session, section=section)
        await task.wait()
        return task.id

    return list(await asyncio.gather(*(one(section) for section in sections)))


def page_headers(client: FlynnClient) -> dict[str, str]:
    """The headers the client sends with a page request, secrets revealed (here only)."""
    tokens = client._tokens  # the same name in every tree compared
    if tokens is None:
        raise RuntimeError("the client is not started")
    return {
        name: value if isinstance(value, str) else value.reveal()
        for name, value in tokens.auth_headers().items()
    }


# ------------------------------------------------------------------------------------------
# The floor itself
# ------------------------------------------------------------------------------------------


class FloorResult(msgspec.Struct, frozen=True):
    """Each section's records (concatenated in task, then page order) and the page count."""

    sections: dict[str, list[_Record]]
    pages: int

    def __len__(self) -> int:
        return sum(len(records) for records in self.sections.values())


async def fetch(
    base_url: str,
    headers: Mapping[str, str],
    task_ids: Sequence[str],
    concurrency: int,
    *,
    http: aiohttp.ClientSession | None = None,
) -> FloorResult:
    """Every page of every task, decoded into the minimal types, at most ``concurrency``
    requests in flight; the records concatenated by section."""
    slots = asyncio.Semaphore(concurrency)
    flynn = _api.TASKS_FLYNN_VERSION

    async def get(session: aiohttp.ClientSession, path: str) -> bytes:
        async with slots, session.get(base_url + path, headers=headers) as answer:
            return await answer.read()

    async def task_pages(session: aiohttp.ClientSession, task_id: str) -> list[_Page]:
        body = await get(session, _api.TASK_RESULT_ROUTE.format(flynn=flynn, task_id=task_id))
        count = _RESULT.decode(body).data.pages

        async def page(number: int) -> _Page:
            path = _api.TASK_PAGE_ROUTE.format(flynn=flynn, task_id=task_id, page=number)
            return _PAGE.decode(await get(session, path))

        base = _api.PAGE_BASE
        return list(await asyncio.gather(*(page(base + i) for i in range(count))))

    async def run(session: aiohttp.ClientSession) -> FloorResult:
        per_task = await asyncio.gather(*(task_pages(session, t) for t in task_ids))
        sections: dict[str, list[_Record]] = {key: [] for key in SECTION_KEYS}
        pages = 0
        for task in per_task:
            pages += len(task)
            for one in task:
                for key in SECTION_KEYS:
                    records = getattr(one.data, key)
                    if records:
                        sections[key].extend(records)
        return FloorResult(sections, pages)

    if http is not None:
        return await run(http)
    async with aiohttp.ClientSession() as session:
        return await run(session)


async def timed(
    client: FlynnClient,
    session: GstSession,
    http: aiohttp.ClientSession,
    base_url: str,
    *,
    sections: Sequence[str],
    concurrency: int,
    expect: int,
) -> float:
    """One floor download: the client submits and waits (not timed), then the seconds from
    the tasks' completion to the floor's concatenated records (checked to be ``expect``)."""
    task_ids = await completed(client, session, sections)
    headers = page_headers(client)
    started = time.perf_counter()
    result = await fetch(base_url, headers, task_ids, concurrency, http=http)
    elapsed = time.perf_counter() - started
    if len(result) != expect:
        raise RuntimeError(f"the floor expected {expect} records, got {len(result)}")
    return elapsed
