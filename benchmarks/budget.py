"""Where a download's time goes, part by part, beside the typed floor client (issue 14).

Not a target: a diagnostic that shows what the end-to-end targets of issue 14 leave for each
part of the work. On the pages of target 3's 8-section rows (documented fields only, pages of
500, 12,500 records a section, 100,000 in all), it times in CPU seconds (best of N, the parts
alternately, the simulator in a child process):

- **decoding alone**, over the same page bodies fetched once: the floor's one ``msgspec.json``
  call (:mod:`benchmarks._floor`: dates left as text, nothing checked); the library's typed call
  alone (dates as :class:`~datetime.date`, periods and codes typed); the typed call with its
  check (repeated keys, ``null`` told from absent, amounts sent as text); and the sharing of
  repeated values in a held result;
- **the plumbing alone**: ``download_all`` of the eight sections with decoding replaced by a
  constant (submit, poll, page count, every page over HTTP with the bounded fan-out, merge),
  beside the floor's fetch with its decode replaced the same way.

It then prints the client / floor ratio the library would reach if the check and the sharing
cost nothing (plumbing + typed call alone), the one it reaches with them, and the ratio target 3
asks for (0.8x). Run: ``python -m benchmarks.budget [--quick]``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiohttp

from benchmarks import _floor
from benchmarks._common import RemoteSimulator, Row, SimInfo, connect, say, standalone
from benchmarks.bench_end_to_end import FLOOR_RATIO, SECTIONS_C, SECTIONS_PAGE, SECTIONS_RECORDS
from benchmarks.bench_fanout import QUICK_POLL
from flynn_async._http import _api
from flynn_async.ims import _decoding, _download
from flynn_async.ims._models import ImsInvoices


async def page_bodies(info: SimInfo) -> list[bytes]:
    """Every page body of the eight sections' tasks, as served."""
    async with (
        connect(info, max_concurrency=SECTIONS_C, poll=QUICK_POLL) as (client, session),
        aiohttp.ClientSession() as http,
    ):
        task_ids = await _floor.completed(client, session, _api.IMS_SECTIONS)
        headers = _floor.page_headers(client)
        flynn = _api.TASKS_FLYNN_VERSION
        bodies: list[bytes] = []
        for task_id in task_ids:
            route = _api.TASK_RESULT_ROUTE.format(flynn=flynn, task_id=task_id)
            async with http.get(info.base_url + route, headers=headers) as answer:
                count = _floor._RESULT.decode(await answer.read()).data.pages
            for number in range(_api.PAGE_BASE, _api.PAGE_BASE + count):
                route = _api.TASK_PAGE_ROUTE.format(flynn=flynn, task_id=task_id, page=number)
                async with http.get(info.base_url + route, headers=headers) as answer:
                    bodies.append(await answer.read())
        return bodies


def _cpu(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def decoding_parts(bodies: Sequence[bytes], rounds: int) -> dict[str, float]:
    """CPU seconds of each decoding part over ``bodies``, best of ``rounds``, alternately."""

    def held() -> float:
        pages = [_decoding.decode_page_fast(body) for body in bodies]
        started = time.process_time()
        for page in pages:
            assert page is not None
            _decoding.hold_invoices(page)
        return time.process_time() - started

    parts: dict[str, Callable[[], float]] = {
        "floor decode": lambda: _cpu(lambda: [_floor._PAGE.decode(b) for b in bodies]),
        "typed call alone": lambda: _cpu(lambda: [_decoding.typed_page(b) for b in bodies]),
        "typed call + check": lambda: _cpu(lambda: [_decoding.decode_page_fast(b) for b in bodies]),
        "sharing (held)": held,
    }
    best = dict.fromkeys(parts, float("inf"))
    for _ in range(rounds):
        for name, part in parts.items():
            best[name] = min(best[name], part())
    return best


class _NoDecode:
    """The floor's page decoder replaced by a constant (plumbing only)."""

    page = _floor._Page(data=_floor._Sections())

    def decode(self, body: bytes) -> Any:
        return self.page


@contextmanager
def _decoding_stubbed() -> Iterator[None]:
    """Decoding replaced by a constant in the client and the floor, for the plumbing alone."""
    empty = ImsInvoices(b2b=(), present=frozenset({"b2b"}))
    codec = _download.ImsCodec
    saved = codec.body_reader, codec.hold, _floor._PAGE
    codec.body_reader = lambda self: lambda body: empty  # type: ignore[method-assign,assignment,return-value]
    codec.hold = lambda self, page: None  # type: ignore[method-assign]
    _floor._PAGE = _NoDecode()  # type: ignore[assignment]
    try:
        yield
    finally:
        codec.body_reader, codec.hold, _floor._PAGE = saved  # type: ignore[method-assign]


async def plumbing(info: SimInfo, rounds: int) -> tuple[float, float]:
    """CPU seconds of the client's and the floor's plumbing (decoding stubbed), best of N."""
    mine: list[float] = []
    floor: list[float] = []
    async with (
        connect(info, max_concurrency=SECTIONS_C, poll=QUICK_POLL) as (client, session),
        aiohttp.ClientSession() as http,
    ):
        with _decoding_stubbed():
            for _ in range(rounds):
                started = time.process_time()
                await client.ims.download_all(session)
                mine.append(time.process_time() - started)
                task_ids = await _floor.completed(client, session, _api.IMS_SECTIONS)
                headers = _floor.page_headers(client)
                started = time.process_time()
                await _floor.fetch(info.base_url, headers, task_ids, SECTIONS_C, http=http)
                floor.append(time.process_time() - started)
    return min(mine), min(floor)


async def run(quick: bool) -> list[Row]:
    """Time each part; print the budget the end-to-end targets leave."""
    per_section = 2_500 if quick else SECTIONS_RECORDS
    records = per_section * len(_api.IMS_SECTIONS)
    rounds = 3 if quick else 9
    async with RemoteSimulator(
        records={"per_section": per_section},
        paging={"size": SECTIONS_PAGE},
        tasks={"processing_polls": 0},
        documented_only=True,
    ) as sim:
        bodies = await page_bodies(sim.info)
        client_plumbing, floor_plumbing = await plumbing(sim.info, rounds)
    parts = decoding_parts(bodies, rounds)
    per = 100_000 / records  # figures per 100,000 records

    def show(name: str, seconds: float) -> None:
        say(f"  {name:34} {seconds * per:6.3f} s")

    say(
        f"{len(bodies)} pages, {records:,} records (documented fields, pages of {SECTIONS_PAGE},"
        f" C={SECTIONS_C}); CPU seconds per 100,000 records, best of {rounds}"
    )
    show("floor: plumbing", floor_plumbing)
    show("floor: decode", parts["floor decode"])
    floor = floor_plumbing + parts["floor decode"]
    show("floor: in all", floor)
    show("client: plumbing", client_plumbing)
    show("client: typed call alone", parts["typed call alone"])
    show("client: the check", parts["typed call + check"] - parts["typed call alone"])
    show("client: sharing (held)", parts["sharing (held)"])
    bound = client_plumbing + parts["typed call alone"]
    full = client_plumbing + parts["typed call + check"] + parts["sharing (held)"]
    show("client: in all", full)
    say(
        f"  client / floor if the check and the sharing were free: {floor / bound:.2f}x;"
        f" with them: {floor / full:.2f}x; target 3 asks >= {FLOOR_RATIO:.2f}x, a budget of"
        f" {floor / FLOOR_RATIO * per:.3f} s per 100,000 records"
    )
    return [
        Row(
            "3",
            "client / floor, plumbing + typed call alone (check, sharing free: the bound)",
            f"{floor / bound:.2f}x",
            "(shown)",
            None,
            {"bound_ratio": floor / bound, "full_ratio": floor / full},
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone("Issue 14: where a download's time goes (a diagnostic)", run, sys.argv[1:]))
