"""The ``flynn-async`` command line.

``flynn-async demo`` runs the main job end to end against the built-in simulator: it logs in,
opens a GST session with the OTP flow, downloads every IMS section with a progress bar, prints
a per-section summary and, with ``--out``, writes the merged result as JSON with exact amounts.

Exit codes: 0 success, 1 an API or network error, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from . import __version__
from ._client import FlynnClient
from ._decoding import dumps
from ._errors import FlynnError, InvalidInput
from ._models import ImsInvoices, Progress

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class ProgressDisplay:
    """Task progress on a terminal (one redrawn bar) or as plain lines elsewhere."""

    def __init__(self, stream: TextIO, *, enabled: bool = True) -> None:
        self._stream = stream
        self._enabled = enabled
        self._tty = stream.isatty()
        self._tasks: dict[str, Progress] = {}
        self._last_line = 0.0
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        if not self._enabled:
            return
        key = progress.section or progress.task_id
        previous = self._tasks.get(key)
        self._tasks[key] = progress
        if self._tty:
            self._draw()
        elif previous is None or previous.phase != progress.phase or progress.phase == "done":
            done = progress.pages_done
            total = "?" if progress.pages_total is None else progress.pages_total
            print(f"{key}: {progress.phase} ({done}/{total} pages)", file=self._stream)

    def _draw(self) -> None:
        done = sum(p.pages_done for p in self._tasks.values())
        totals = [p.pages_total for p in self._tasks.values()]
        known = sum(t for t in totals if t is not None)
        waiting = sum(1 for p in self._tasks.values() if p.phase in ("submitted", "waiting"))
        width = 30
        filled = int(width * done / known) if known else 0
        bar = "#" * filled + "-" * (width - filled)
        text = f"\r[{bar}] {done}/{known or '?'} pages"
        if waiting:
            text += f", {waiting} task(s) processing on the server"
        self._stream.write(text.ljust(78))
        self._stream.flush()
        self._drawn = True

    def finish(self) -> None:
        """End the bar's line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def format_summary(result: ImsInvoices) -> str:
    """A per-section table of record counts and exact tax totals."""
    headers = ("section", "records", "taxable value", "IGST", "CGST", "SGST", "cess")
    rows: list[tuple[str, ...]] = []
    sums = [Decimal(0)] * 5
    count = 0
    for name, totals in result.totals().items():
        amounts = (totals.taxable_value, totals.igst, totals.cgst, totals.sgst, totals.cess)
        sums = [a + b for a, b in zip(sums, amounts, strict=True)]
        count += totals.records
        rows.append((name, str(totals.records), *(f"{a:,.2f}" for a in amounts)))
    for name, records in result.other_sections.items():
        rows.append((name, str(len(records)), "", "", "", "", ""))
    rows.append(("total", str(count), *(f"{a:,.2f}" for a in sums)))
    widths = [max(len(r[i]) for r in (headers, *rows)) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join((first, *rest))

    rule = "  ".join("-" * w for w in widths)
    body = [line(r) for r in rows]
    return "\n".join([line(headers), rule, *body[:-1], rule, body[-1]])


async def run_demo(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The demo: simulator in-process, login, OTP, download of every section, summary."""
    from .testing import FlynnSimulator

    started = time.perf_counter()
    async with FlynnSimulator(
        seed=args.seed,
        records_per_section=args.records,
        page_size=args.page_size,
        processing_seconds=args.processing,
        latency=args.latency,
    ) as sim:
        print(f"simulator listening on {sim.base_url}", file=err)
        async with FlynnClient(
            sim.credentials,
            base_url=sim.base_url,
            login_url=sim.login_url,
            max_concurrency=args.concurrency,
        ) as client:
            print(f"logged in as {sim.credentials.handle} (organisation {client.org_id})", file=err)
            otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            session = await client.gst.verify_otp(otp_request, sim.otp)
            print(f"GST session open for {session.gstin}; downloading all sections", file=err)
            display = ProgressDisplay(err, enabled=not args.quiet)
            try:
                result = await client.ims.download_all(session, on_progress=display)
            finally:
                display.finish()
            stats = client.stats
    elapsed = time.perf_counter() - started
    print(format_summary(result), file=out)
    print(
        f"\n{len(result)} records in {elapsed:.2f}s ({stats.requests} requests, "
        f"{stats.retries} retries)",
        file=err,
    )
    if args.out is not None:
        args.out.write_bytes(dumps(result.to_dict()))
        print(f"wrote {args.out}", file=err)
    return EXIT_OK


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flynn-async``."""
    parser = argparse.ArgumentParser(
        prog="flynn-async",
        description="Asyncio client for Vayana's Flynn GST API (IMS downloads, e-invoices).",
    )
    parser.add_argument("--version", action="version", version=f"flynn-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="download every IMS section from the built-in simulator",
        description=(
            "Start the built-in simulator, log in, open a GST session with the OTP flow, "
            "download all eight IMS sections and print a summary. "
            "Example: flynn-async demo --out invoices.json"
        ),
    )
    demo.add_argument("--out", type=Path, help="write the merged result as JSON to this file")
    demo.add_argument("--records", type=_positive_int, default=500, help="records per section")
    demo.add_argument("--page-size", type=_positive_int, default=100, help="records per page")
    demo.add_argument(
        "--concurrency", type=_positive_int, default=8, help="page requests in flight at most"
    )
    demo.add_argument(
        "--processing",
        type=_non_negative,
        default=1.0,
        help="seconds each server task stays 'processing'",
    )
    demo.add_argument(
        "--latency", type=_non_negative, default=0.005, help="simulated seconds per request"
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the simulated data")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return asyncio.run(run_demo(args, sys.stdout, sys.stderr))
    except InvalidInput as exc:
        print(f"flynn-async: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FlynnError as exc:
        print(f"flynn-async: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("flynn-async: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return EXIT_USAGE  # pragma: no cover - parser.error exits


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
