"""Target 2: typed decoding near the floor.

One realistic page of 500 records, as the simulator serves it (the newer fields on about one
record in ten, undocumented fields on one in twenty, amounts with their exact digits), is decoded
from bytes into the typed result with ``flynn_async.ims.decode_ims_page`` (``Decimal`` money, dates,
open enums, unknown fields kept), and the same bytes with the standard library's ``json.loads``.
The two are timed alternately, best of N rounds each; ``msgspec`` without typing is shown as the
parser's own floor.

Every JSON object the client decodes is checked for a repeated key (JSON leaves its meaning
open, so it is refused, never guessed). ``decode_ims_page`` includes that check; the same
decoding without it is timed beside it, and the check's cost is reported as a row (at most
15 %, issue 11). A page with a colon in every record's remarks (a time of day) takes the
check's slower exact path, and is shown too.

The page's records come from an in-process simulator (no timing involves it).

Run alone: ``python -m benchmarks.bench_decode [--quick]``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from benchmarks._common import Row, say, standalone
from flynn_async import FlynnClient
from flynn_async._core import _codec
from flynn_async._core._json import loads
from flynn_async.ims import _decoding, decode_ims_page
from flynn_async.ims._models import ImsInvoice
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings, TaskSettings

RECORDS = 500
TARGET = 1.0
#: The lossless path's bound (issue 14): a page where every record carries unknown fields.
LOSSLESS_TARGET = 2.5
#: The most the repeated-key check may add to ``decode_ims_page`` (issue 11).
CHECK_TARGET = 0.15

#: The API's newer response envelope (docs/api-facts.md), as the simulator writes it.
_ENVELOPE = {"status": "1", "error": None, "info": None, "additionalInfo": None, "alert": None}


async def page_body(records: int = RECORDS, seed: int = 0) -> bytes:
    """A page of ``records`` B2B records as served (bytes), checked to decode to its data."""
    async with (
        FlynnSimulator(
            records=RecordSettings(per_section=records, seed=seed),
            paging=PagingSettings(size=records),
            tasks=TaskSettings(processing_polls=0),
        ) as sim,
        FlynnClient(sim.credentials, base_url=sim.base_url, login_url=sim.login_url) as client,
    ):
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        session = await client.gst.verify_otp(otp_request, sim.otp)
        task = await client.ims.submit(session, section="B2B")
        served = await task.page(0)
        (data,) = sim.expected_pages(task.id)
    body = msgspec.json.Encoder(decimal_format="number").encode({**_ENVELOPE, "data": data})
    decoded = decode_ims_page(body)
    if decoded.to_dict() != data or decoded != served:
        raise RuntimeError("the page body does not decode to the page the client fetched")
    return body


def _unchecked(body: bytes) -> Any:
    """The typed call alone: no written-back comparison, so no repeated-key or null check."""
    return _decoding.typed_page(body)


def _whole_page_lossless(body: bytes) -> Any:
    """The lossless path over the whole page (what a page with an unknown section takes)."""
    return _decoding.structure_invoices(loads(body)["data"])


def _reshape(body: bytes, change: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes:
    document = msgspec.json.Decoder(float_hook=Decimal).decode(body)
    document["data"]["b2b"] = [change(record) for record in document["data"]["b2b"]]
    return msgspec.json.Encoder(decimal_format="number").encode(document)


def _known_only(body: bytes) -> bytes:
    """The page with only the fields the models know (what the typed call takes whole)."""
    known = {f.wire for f in _codec.wire_fields(ImsInvoice)}
    return _reshape(body, lambda r: {k: v for k, v in r.items() if k in known})


def _all_unknown(body: bytes) -> bytes:
    """The page with an unknown field in every record (what the lossless path reads)."""
    return _reshape(body, lambda r: {**r, "x_new_field": "kept as sent"})


def _with_colons(body: bytes) -> bytes:
    """The page with a time of day in every record's remarks (colons inside text)."""
    return _reshape(_known_only(body), lambda r: {**r, "remarks": "seen at 10:30:00"})


def _round(fn: Callable[[bytes], Any], body: bytes, loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        fn(body)
    return (time.perf_counter() - started) / loops


async def run(quick: bool) -> list[Row]:
    """Time the decoders on the same records, alternately, best of N."""
    served = await page_body()
    known, unknown, colons = _known_only(served), _all_unknown(served), _with_colons(served)
    if _decoding.decode_page_fast(known) is None or _decoding.decode_page_fast(colons) is None:
        raise RuntimeError("a page of known fields did not take the typed call")
    if decode_ims_page(unknown) != _whole_page_lossless(unknown):
        raise RuntimeError(
            "a page of unknown fields did not decode to what the lossless path keeps"
        )
    contenders: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
        "json.loads": (json.loads, known),
        "msgspec (untyped, Decimal)": (msgspec.json.Decoder(float_hook=Decimal).decode, known),
        "decode_ims_page": (decode_ims_page, known),
        "  typed call alone": (_unchecked, known),
        "colons in text": (decode_ims_page, colons),
        "json.loads, unknown fields": (json.loads, unknown),
        "lossless: unknown fields": (decode_ims_page, unknown),
        "  whole page lossless": (_whole_page_lossless, unknown),
        "json.loads, as served": (json.loads, served),
        "as served (mixed)": (decode_ims_page, served),
    }
    rounds, loops = (5, 20) if quick else (15, 60)
    best = dict.fromkeys(contenders, float("inf"))
    for fn, page in contenders.values():  # warm-up
        _round(fn, page, 5)
    for _ in range(rounds):
        for name, (fn, page) in contenders.items():
            best[name] = min(best[name], _round(fn, page, loops))
    say(f"one page of {RECORDS} records, {len(known):,} bytes; best of {rounds} x {loops} decodes")
    for name, seconds in best.items():
        say(
            f"  {name:28} {seconds * 1e6 / RECORDS:6.2f} us/record"
            f"  ({seconds * 1e3:.2f} ms/page, {seconds / best['json.loads']:.2f}x json.loads)"
        )
    ratio = best["decode_ims_page"] / best["json.loads"]
    per_record = best["decode_ims_page"] * 1e6 / RECORDS
    floor = best["json.loads"] * 1e6 / RECORDS
    check = best["decode_ims_page"] / best["  typed call alone"] - 1
    lossless = best["lossless: unknown fields"] / best["json.loads, unknown fields"]
    mixed = best["as served (mixed)"] / best["json.loads, as served"]
    say(f"  the written-back check (repeated keys, nulls, text amounts) adds {check:+.1%}")
    return [
        Row(
            "2",
            f"decode_ims_page / json.loads, {RECORDS} records of known fields",
            f"{ratio:.2f}x ({per_record:.2f} vs {floor:.2f} us/record)",
            f"<= {TARGET:.1f}x",
            ratio <= TARGET,
            {"typed_us_per_record": per_record, "json_loads_us_per_record": floor},
        ),
        Row(
            "2",
            "lossless path / json.loads, an unknown field in every record",
            f"{lossless:.2f}x",
            f"<= {LOSSLESS_TARGET:.1f}x",
            lossless <= LOSSLESS_TARGET,
            {"lossless_ratio": lossless, "served_page_ratio": mixed},
        ),
        Row(
            "2",
            "repeated-key and null check, added to the typed call",
            f"{check:+.1%} (the page as served: {mixed:.2f}x json.loads)",
            f"<= {CHECK_TARGET:.0%}",
            check <= CHECK_TARGET,
            {"added_fraction": check},
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone("Targets 2, 14.1: typed decoding, the lossless path", run))
