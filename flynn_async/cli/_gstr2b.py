"""The ``gstr2b`` commands of ``flynn-async``: download a period's GSTR-2B, regenerate it.

Both use the GST session stored by ``gst otp``. ``gstr2b download`` writes the statement with
:func:`flynn_async.export.export_gstr2b` (JSON, JSON Lines, CSV or Excel); ``gstr2b
regenerate`` asks the portal to recompute it after IMS actions and waits for the outcome.
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import Final

from flynn_async import export
from flynn_async._core import _validate
from flynn_async._core._errors import GstSessionExpired
from flynn_async._core._policy import PollPolicy
from flynn_async.gst._period import ReturnPeriod
from flynn_async.gstr2b import Gstr2b

from ._common import (
    EXIT_NO_SESSION,
    EXIT_OK,
    CommandFailed,
    NoGstSession,
    Settings,
    Ui,
    add_api_options,
    add_verbose,
    epilog,
    make_client,
)
from ._ims import FORMAT_SUFFIXES, check_output, choose_format

__all__ = ["EXIT_REGENERATION_FAILED", "register", "run_gstr2b_download", "run_gstr2b_regenerate"]

_PROG: Final = "flynn-async"
_FORMATS: Final = ("json", "jsonl", "csv", "xlsx")
#: ``gstr2b regenerate``: the portal answered that the regeneration failed (``ER``, ``PE``).
EXIT_REGENERATION_FAILED: Final = 1


def _gstin(settings: Settings) -> str:
    return _validate.gstin(settings.require("gst.gstin", "gstin").strip().upper())


def _period(text: str) -> ReturnPeriod:
    try:
        period = ReturnPeriod.parse(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a period MMYYYY: {text!r}") from None
    if period.year < 2017:
        raise argparse.ArgumentTypeError(f"GSTR-2B starts in 2017, got {text!r}")
    return period


def _no_session(gstin: str) -> NoGstSession:
    return NoGstSession(
        f"no GST session is stored for {gstin}, or it has lapsed: "
        f"run `{_PROG} gst otp --gstin {gstin}` first"
    )


def summary_lines(result: Gstr2b) -> list[str]:
    """A short account of a 2B, narrow enough for an 80-column terminal: documents and
    rejected documents per section, then the ITC available and rejected per tax (exact)."""
    lines = [f"GSTR-2B {result.period} of {result.gstin}: {result.files} file(s)"]
    counts: dict[str, list[int]] = {}
    for column, docs in enumerate((result.documents, result.rejected)):
        for section, _, _ in docs.documents() if docs is not None else ():
            counts.setdefault(section, [0, 0])[column] += 1
    lines += _table(
        ("section", "documents", "rejected"),
        [(section, str(kept), str(rejected)) for section, (kept, rejected) in counts.items()],
    )
    summary = result.itc_summary
    buckets = [
        (label, bucket)
        for label, bucket in (
            ("ITC available", summary.available if summary else None),
            ("ITC rejected", summary.rejected if summary else None),
        )
        if bucket is not None
    ]
    if buckets:
        rows = []
        for tax in ("igst", "cgst", "sgst", "cess"):
            sums = (
                sum((getattr(g.totals, tax) or 0 for g in bucket.groups.values()), Decimal(0))
                for _, bucket in buckets
            )
            rows.append((tax.upper(), *(f"{amount:,}" for amount in sums)))
        lines += _table(("tax", *(label for label, _ in buckets)), rows)
    return lines


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """A plain table: the first column to the left, the others to the right, a rule under
    the head."""
    widths = [max(len(cell) for cell in column) for column in zip(head, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        first, *rest = cells
        right = (cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))
        parts = [first.ljust(widths[0]), *right]
        return "  ".join(parts).rstrip()

    return [line(head), line(tuple("-" * w for w in widths)), *(line(row) for row in rows)]


async def run_gstr2b_download(args: argparse.Namespace, ui: Ui) -> int:
    """``gstr2b download``: get the period's 2B (every file) and write it."""

    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    fmt = choose_format(args.format, args.out)
    check_output(args.out, fmt, False)
    store = settings.session_store()
    if await store.load(gstin) is None:
        raise _no_session(gstin)
    poll = PollPolicy(deadline=args.timeout)
    client = make_client(settings, ui, session_store=store, poll=poll)
    try:
        async with client:
            session = await client.gst.restore(gstin)
            if session is None:
                raise _no_session(gstin)
            result = await client.gstr2b.download(session, period=args.period)
    except GstSessionExpired as exc:
        ui.note(f"{_PROG}: run `{_PROG} gst otp --gstin {gstin}` for a new GST session")
        raise CommandFailed(EXIT_NO_SESSION, exc) from None
    written = export.export_gstr2b(result, args.out, fmt)
    for line in summary_lines(result):
        print(line, file=ui.out)
    for path in written:
        ui.note(f"wrote {path}")
    return EXIT_OK


async def run_gstr2b_regenerate(args: argparse.Namespace, ui: Ui) -> int:
    """``gstr2b regenerate``: ask the portal to recompute the period's 2B and wait."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    store = settings.session_store()
    if await store.load(gstin) is None:
        raise _no_session(gstin)
    poll = PollPolicy(initial_delay=args.poll_interval, deadline=args.timeout)
    client = make_client(settings, ui, session_store=store, poll=poll)

    def submitted(reference_id: str) -> None:
        ui.note(f"{_PROG}: regeneration reference id {reference_id}")

    try:
        async with client:
            session = await client.gst.restore(gstin)
            if session is None:
                raise _no_session(gstin)
            outcome = await client.gstr2b.regenerate(
                session, period=args.period, on_submitted=submitted
            )
    except GstSessionExpired as exc:
        ui.note(f"{_PROG}: run `{_PROG} gst otp --gstin {gstin}` for a new GST session")
        raise CommandFailed(EXIT_NO_SESSION, exc) from None
    if outcome.unchanged:
        print(
            f"GSTR-2B {args.period} of {gstin}: nothing changed since the last generation",
            file=ui.out,
        )
        return EXIT_OK
    text = f"GSTR-2B {args.period} of {gstin}: regeneration {outcome.reference_id} {outcome.status}"
    if outcome.error_code or outcome.error_message:
        text += f" ({outcome.error_code or ''} {outcome.error_message or ''})".replace("  ", " ")
    print(text, file=ui.out)
    return EXIT_OK if outcome.succeeded else EXIT_REGENERATION_FAILED


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number above 0")
    return value


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``gstr2b download`` and ``gstr2b regenerate`` to the command parser."""
    gstr2b = commands.add_parser(
        "gstr2b",
        help="GSTR-2B: download a period's ITC statement, regenerate it",
        description="Download or regenerate the taxpayer's GSTR-2B (needs `gst otp` first).",
        epilog=epilog(
            "flynn-async gstr2b download --gstin 24AAAPI3182M002 --period 102025 --out 2b.xlsx",
            settings=False,
        ),
        formatter_class=formatter,
    )
    sub = gstr2b.add_subparsers(dest="gstr2b_command", required=True, metavar="COMMAND")
    download = sub.add_parser(
        "download",
        help="download a period's GSTR-2B and write it as JSON, JSON Lines, CSV or Excel",
        description=(
            "Download the period's GSTR-2B (every file of a large one, merged) with the GST "
            "session stored by `gst otp`. JSON keeps the document as sent; JSON Lines and CSV "
            "write one row per document (with a `rejected` column) and the summaries to "
            "<name>.itc-summary and <name>.supplier-summary beside it; Excel has a sheet each."
        ),
        epilog=epilog(
            "flynn-async gstr2b download --gstin 24AAAPI3182M002 --period 102025 --out 2b.csv",
        ),
        formatter_class=formatter,
    )
    download.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    download.add_argument("--period", type=_period, required=True, help="the period, MMYYYY")
    download.add_argument(
        "--format",
        choices=_FORMATS,
        help=f"output format (default: from the --out suffix: {' '.join(FORMAT_SUFFIXES)})",
    )
    download.add_argument("--out", type=Path, required=True, help="the file to write")
    download.add_argument(
        "--timeout",
        type=_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="how long to wait out queued answers (default 1800)",
    )
    add_api_options(download)
    add_verbose(download)
    download.set_defaults(handler=run_gstr2b_download)

    regenerate = sub.add_parser(
        "regenerate",
        help="ask the portal to recompute a period's GSTR-2B after IMS actions",
        description=(
            "Regenerate the period's GSTR-2B and wait for the outcome. The request is billed "
            "and sent once: if its answer is lost, download 2B before trying again. Exit code "
            "1 when the portal reports the regeneration failed."
        ),
        epilog=epilog(
            "flynn-async gstr2b regenerate --gstin 24AAAPI3182M002 --period 102025",
        ),
        formatter_class=formatter,
    )
    regenerate.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    regenerate.add_argument("--period", type=_period, required=True, help="the period, MMYYYY")
    regenerate.add_argument(
        "--poll-interval",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="first wait between status checks; it grows by 1.25x (default 2)",
    )
    regenerate.add_argument(
        "--timeout",
        type=_seconds,
        default=900.0,
        metavar="SECONDS",
        help="how long to wait for the outcome (default 900)",
    )
    add_api_options(regenerate)
    add_verbose(regenerate)
    regenerate.set_defaults(handler=run_gstr2b_regenerate)
