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
from flynn_async._core import _json
from flynn_async._http._envelope import unwrap
from flynn_async.ims import decode_ims_page
from flynn_async.ims._decoding import structure_invoices
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings, TaskSettings

RECORDS = 500
TARGET = 2.0
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
    """``decode_ims_page`` without the repeated-key check (the same steps, for comparison)."""
    return structure_invoices(unwrap(_json._decoder.decode(body), http_status=200))


def _with_colons(body: bytes) -> bytes:
    """The same page with a time of day in every record's remarks (colons inside text)."""
    document = msgspec.json.Decoder(float_hook=Decimal).decode(body)
    for record in document["data"]["b2b"]:
        record["remarks"] = "seen at 10:30:00"
    return msgspec.json.Encoder(decimal_format="number").encode(document)


def _round(fn: Callable[[bytes], Any], body: bytes, loops: int) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        fn(body)
    return (time.perf_counter() - started) / loops


async def run(quick: bool) -> list[Row]:
    """Time the three decoders on one page, alternately, best of N."""
    body = await page_body()
    colons = _with_colons(body)
    if _unchecked(colons) != decode_ims_page(colons) or _unchecked(body) != decode_ims_page(body):
        raise RuntimeError("decoding with and without the check differ")
    contenders: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
        "json.loads": (json.loads, body),
        "msgspec (untyped, Decimal)": (msgspec.json.Decoder(float_hook=Decimal).decode, body),
        "decode_ims_page": (decode_ims_page, body),
        "  without the key check": (_unchecked, body),
        "colons in text, checked": (decode_ims_page, colons),
        "  without the key check ": (_unchecked, colons),
    }
    rounds, loops = (5, 20) if quick else (15, 60)
    best = dict.fromkeys(contenders, float("inf"))
    for fn, page in contenders.values():  # warm-up
        _round(fn, page, 5)
    for _ in range(rounds):
        for name, (fn, page) in contenders.items():
            best[name] = min(best[name], _round(fn, page, loops))
    say(f"one page of {RECORDS} records, {len(body):,} bytes; best of {rounds} x {loops} decodes")
    for name, seconds in best.items():
        say(
            f"  {name:28} {seconds * 1e6 / RECORDS:6.2f} us/record"
            f"  ({seconds * 1e3:.2f} ms/page, {seconds / best['json.loads']:.2f}x json.loads)"
        )
    ratio = best["decode_ims_page"] / best["json.loads"]
    per_record = best["decode_ims_page"] * 1e6 / RECORDS
    floor = best["json.loads"] * 1e6 / RECORDS
    check = best["decode_ims_page"] / best["  without the key check"] - 1
    slow = best["colons in text, checked"] / best["  without the key check "] - 1
    say(f"  the repeated-key check adds {check:+.1%} ({slow:+.1%} with colons in every record)")
    return [
        Row(
            "2",
            f"decode_ims_page / json.loads, same {RECORDS}-record page",
            f"{ratio:.2f}x ({per_record:.2f} vs {floor:.2f} us/record)",
            f"<= {TARGET:.1f}x",
            ratio <= TARGET,
            {"typed_us_per_record": per_record, "json_loads_us_per_record": floor},
        ),
        Row(
            "2",
            "repeated-key check, added to decode_ims_page",
            f"{check:+.1%} (colons in text: {slow:+.1%})",
            f"<= {CHECK_TARGET:.0%}",
            check <= CHECK_TARGET,
            {"added_fraction": check, "added_fraction_colons": slow},
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone("Target 2: typed decoding near the floor", run))
