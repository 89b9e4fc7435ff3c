"""The ``flynn-async`` command line.

``flynn-async demo`` runs the main job end to end against the built-in simulator: it logs in,
opens a GST session with the OTP flow, downloads every IMS section with a progress bar, prints
a per-section summary and, with ``--out``, writes the merged result as JSON with exact amounts.

``flynn-async einvoice get`` fetches one e-invoice by its document's type, number and date,
prints its details and, with ``--out``, writes the decoded invoice as JSON. Credentials come
from the environment or a TOML config file, never from the command line for passwords.

Exit codes: 0 success, 1 an API or network error, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from . import __version__, _api
from ._client import FlynnClient
from ._credentials import Credentials
from ._decoding import dumps
from ._einvoice_models import EInvoiceDetails, IrpCredentials
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


# ----------------------------------------------------------------------------------------------
# einvoice get
# ----------------------------------------------------------------------------------------------

#: Environment variables read by ``einvoice get`` (they win over the config file).
ENV_VARS = {
    "handle": "FLYNN_HANDLE",
    "password": "FLYNN_PASSWORD",
    "org_id": "FLYNN_ORG_ID",
    "environment": "FLYNN_ENVIRONMENT",
    "base_url": "FLYNN_BASE_URL",
    "login_url": "FLYNN_LOGIN_URL",
    "irp.gstin": "FLYNN_IRP_GSTIN",
    "irp.username": "FLYNN_IRP_USERNAME",
    "irp.password": "FLYNN_IRP_PASSWORD",
    "irp.keys": "FLYNN_EINVOICE_KEYS",
    "config": "FLYNN_CONFIG",
}


def _document_date(text: str) -> date:
    try:
        return datetime.strptime(text, _api.EINVOICE_DATE_FORMAT).date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date as DD/MM/YYYY: {text!r}") from None


def _load_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            config = tomllib.load(handle)
    except OSError as exc:
        raise InvalidInput(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"the config file {path} is not valid TOML: {exc}") from None
    return config


class _Settings:
    """Command line, then environment, then config file."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str]) -> None:
        self._environ = environ
        config_path = args.config or environ.get(ENV_VARS["config"])
        self.config_dir = Path(config_path).parent if config_path else Path.cwd()
        self._config = _load_config(Path(config_path)) if config_path else {}
        self._args = args

    def get(self, key: str, flag: str | None = None) -> str | None:
        if flag is not None and getattr(self._args, flag, None):
            value: Any = getattr(self._args, flag)
            return str(value)
        env = self._environ.get(ENV_VARS[key])
        if env:
            return env
        section: Any = self._config
        for part in key.split("."):
            section = section.get(part) if isinstance(section, dict) else None
        if section is None:
            return None
        if not isinstance(section, str):
            raise InvalidInput(f"config file: {key} must be a string")
        return section

    def keys(self) -> list[Path]:
        if self._args.key:
            return list(self._args.key)
        env = self._environ.get(ENV_VARS["irp.keys"])
        if env:
            return [Path(p) for p in env.split(os.pathsep) if p]
        irp = self._config.get("irp")
        listed = irp.get("keys") if isinstance(irp, dict) else None
        if listed is None:
            return []
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise InvalidInput("config file: irp.keys must be a list of file names")
        return [self.config_dir / p for p in listed]

    def require(self, key: str, flag: str | None = None) -> str:
        value = self.get(key, flag)
        if not value:
            where = f"--{flag.replace('_', '-')}, " if flag else ""
            raise InvalidInput(
                f"{key} is not set: give {where}{ENV_VARS[key]} or '{key}' in the config file"
            )
        return value


def _read_keys(paths: Sequence[Path]) -> Any:
    materials = []
    for path in paths:
        try:
            materials.append(path.read_bytes())
        except OSError as exc:
            raise InvalidInput(f"cannot read the key file {path}: {exc.strerror}") from None
    if not materials:
        return None
    return materials[0] if len(materials) == 1 else materials


def format_einvoice(details: EInvoiceDetails) -> str:
    """The e-invoice's main facts, one per line."""
    inv = details.invoice

    def when(value: datetime | None) -> str:
        return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S IST")

    status = str(details.status) if details.status is not None else "-"
    if details.cancelled:
        status += " (cancelled)"
    ack = f"{details.ack_number} at {when(details.signed_ack_date or details.ack_date)}"
    doc = inv.document
    rows = [
        ("IRN", details.irn),
        ("status", status),
        ("acknowledgement", ack),
        ("document", f"{doc.type} {doc.number} of {doc.date:%d/%m/%Y}"),
        ("seller", f"{inv.seller.gstin} {inv.seller.legal_name}"),
        ("buyer", f"{inv.buyer.gstin} {inv.buyer.legal_name}"),
        ("items", f"{len(inv.items)} (main HSN {details.qr_code.main_hsn_code})"),
        ("total value", f"{inv.value.total_invoice_value:,}"),
    ]
    if details.ewb_number is not None:
        rows.append(
            (
                "e-way bill",
                f"{details.ewb_number} of {when(details.ewb_date)}, "
                f"valid till {when(details.ewb_valid_till)}",
            )
        )
    if details.remarks:
        rows.append(("remarks", details.remarks))
    if details.verified:
        rows.append(("signatures", f"verified (key {details.signed_invoice.kid})"))
    else:
        rows.append(("signatures", "NOT verified: no portal key was given (--key)"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


async def run_einvoice_get(
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``einvoice get``: one lookup, printed; the decoded invoice written with ``--out``."""
    env = os.environ if environ is None else environ
    if args.simulator:
        from .testing import FlynnSimulator

        async with FlynnSimulator() as sim:
            print(f"simulator listening on {sim.base_url}", file=err)
            keys = _read_keys(args.key or []) or sim.einvoice.certificate_pem
            irp = IrpCredentials(args.gstin or sim.gstin, args.irp_username or "demo-irp-user", "x")
            client = FlynnClient(
                sim.credentials,
                base_url=sim.base_url,
                login_url=sim.login_url,
                einvoice_keys=keys,
            )
            return await _einvoice_get(client, irp, args, out, err)
    settings = _Settings(args, env)
    credentials = Credentials(
        settings.require("handle", "handle"),
        settings.require("password"),
        org_id=settings.get("org_id"),
        handle_type="mobile" if settings.require("handle", "handle").isdigit() else "email",
    )
    irp = IrpCredentials(
        settings.require("irp.gstin", "gstin"),
        settings.require("irp.username", "irp_username"),
        settings.get("irp.password"),
    )
    base_url, login_url = settings.get("base_url"), settings.get("login_url")
    environment = args.environment or settings.get("environment") or _api.DEFAULT_ENVIRONMENT
    if environment not in _api.ENVIRONMENTS:
        raise InvalidInput(f"environment must be sandbox or production, got {environment!r}")
    client = FlynnClient(
        credentials,
        environment="production" if environment == "production" else "sandbox",
        base_url=base_url,
        login_url=login_url,
        einvoice_keys=_read_keys(settings.keys()),
    )
    return await _einvoice_get(client, irp, args, out, err)


async def _einvoice_get(
    client: FlynnClient,
    irp: IrpCredentials,
    args: argparse.Namespace,
    out: TextIO,
    err: TextIO,
) -> int:
    async with client:
        details = await client.einvoice.get_by_document(
            irp=args.irp,
            doc_type=args.type,
            doc_number=args.number,
            doc_date=args.date,
            irp_credentials=irp,
            interop=args.interop,
        )
    print(format_einvoice(details), file=out)
    if args.out is not None:
        args.out.write_bytes(dumps(details.invoice.to_dict()))
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

    einvoice = commands.add_parser("einvoice", help="e-invoice lookups")
    einvoice_commands = einvoice.add_subparsers(dest="einvoice_command", required=True)
    get = einvoice_commands.add_parser(
        "get",
        help="fetch an e-invoice by document type, number and date",
        description=(
            "Fetch one e-invoice by its document's type, number and date, print its details "
            "and, with --out, write the decoded invoice as JSON. Login and IRP credentials "
            "come from the environment (FLYNN_HANDLE, FLYNN_PASSWORD, FLYNN_ORG_ID, "
            "FLYNN_IRP_GSTIN, FLYNN_IRP_USERNAME, FLYNN_IRP_PASSWORD, FLYNN_BASE_URL, "
            "FLYNN_LOGIN_URL, FLYNN_EINVOICE_KEYS) or a TOML config file (--config or "
            "FLYNN_CONFIG); passwords are never taken from the command line. Signatures are "
            "verified only when the portal's key or certificate is given (--key). Example: "
            "flynn-async einvoice get --irp ni1 --type INV --number RAMIRNINA199 "
            "--date 21/06/2021 --out invoice.json"
        ),
    )
    get.add_argument("--irp", required=True, choices=_api.EINVOICE_IRPS, help="the IRP portal")
    get.add_argument(
        "--type",
        required=True,
        type=str.upper,
        choices=_api.EINVOICE_DOC_TYPES,
        help="document type",
    )
    get.add_argument("--number", required=True, help="document number, as on the document")
    get.add_argument("--date", required=True, type=_document_date, help="document date, DD/MM/YYYY")
    get.add_argument(
        "--interop",
        type=str.upper,
        choices=_api.EINVOICE_INTEROP,
        help="ask the other portal (interoperability)",
    )
    get.add_argument("--out", type=Path, help="write the decoded invoice as JSON to this file")
    get.add_argument("--config", help="TOML config file (default: $FLYNN_CONFIG)")
    get.add_argument("--handle", help="login e-mail or mobile (default: $FLYNN_HANDLE)")
    get.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_IRP_GSTIN)")
    get.add_argument("--irp-username", help="IRP API username (default: $FLYNN_IRP_USERNAME)")
    get.add_argument(
        "--key",
        type=Path,
        action="append",
        help="PEM public key or certificate of the portal, to verify signatures (repeatable)",
    )
    where = get.add_mutually_exclusive_group()
    where.add_argument(
        "--sandbox",
        dest="environment",
        action="store_const",
        const="sandbox",
        help="use the sandbox (the default)",
    )
    where.add_argument(
        "--production",
        dest="environment",
        action="store_const",
        const="production",
        help="use the billed production service",
    )
    where.add_argument(
        "--simulator",
        action="store_true",
        help="run against the built-in simulator (its sample documents and key)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return asyncio.run(run_demo(args, sys.stdout, sys.stderr))
        if args.command == "einvoice":
            return asyncio.run(run_einvoice_get(args, sys.stdout, sys.stderr))
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
