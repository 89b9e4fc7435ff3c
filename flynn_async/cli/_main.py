"""The ``flynn-async`` command line.

Commands (``flynn-async COMMAND --help`` explains each, with an example):

- ``login``: check the login credentials;
- ``gst otp`` / ``gst status`` / ``gst logout``: the taxpayer's GST (OTP) session, kept in
  the session store under the state directory;
- ``ims download``: IMS sections to JSON, JSON Lines, CSV or Excel, with progress;
- ``einvoice get``: one e-invoice by its document's type, number and date;
- ``simulator serve``: the built-in simulator as a standalone server;
- ``demo``: the whole job end to end against an in-process simulator.

Settings come from flags, the environment or a TOML config file (one table:
:data:`flynn_async.cli._common.SETTINGS`); passwords and OTPs never from the command line.
Exit codes are module constants (``EXIT_*``); errors print one line,
``flynn-async: <ErrorType>: message``, without secrets and without a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from rich.console import Console

from flynn_async import __version__, export
from flynn_async._client import FlynnClient
from flynn_async._core._errors import (
    ApiError,
    AuthError,
    FlynnError,
    InvalidInput,
    IrpPasswordRequired,
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
    TooManyTokens,
    TransportError,
)
from flynn_async._core._files import atomic_writer
from flynn_async._core._json import dumps
from flynn_async._http import _api
from flynn_async.einvoice._models import EInvoiceDetails, IrpCredentials
from flynn_async.testing import (
    DelaySettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)

from . import _gstr2b as _cli_gstr2b
from . import _ims as _cli_ims
from . import _sim as _cli_sim
from ._common import (
    EXIT_CODES,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOGIN_REFUSED,
    EXIT_NO_SESSION,
    EXIT_OK,
    EXIT_TASK_FAILED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    SETTINGS,
    CommandFailed,
    HelpFormatter,
    Settings,
    TerminatedAtPrompt,
    Ui,
    add_network_options,
    add_verbose,
    add_verbosity,
    epilog,
    exit_code,
    exit_codes_text,
    log_levels,
    settings_text,
)
from ._display import ProgressDisplay, format_summary, log_handler

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_LOGIN_REFUSED",
    "EXIT_NO_SESSION",
    "EXIT_OK",
    "EXIT_TASK_FAILED",
    "EXIT_USAGE",
    "SETTINGS",
    "ProgressDisplay",
    "build_parser",
    "describe",
    "format_einvoice",
    "format_summary",
    "main",
    "run",
    "run_demo",
    "run_einvoice_get",
    "run_help",
]

_PROG: Final = "flynn-async"
_FORMATTER: Final = HelpFormatter
_LOGGER: Final = "flynn_async"


def _write_file(path: Path, data: bytes) -> None:
    """``--out``: the file appears whole or not at all (a kill mid-write keeps the old one)."""
    with atomic_writer(path, mode=None) as handle:
        handle.write(data)


# ----------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------


async def run_demo(args: argparse.Namespace, ui: Ui) -> int:
    """The demo: simulator in-process, login, OTP, download of every section, summary."""
    err = ui.err
    fmt = None
    if args.out is not None:  # refused before anything starts, as `ims download` does
        fmt = _cli_ims.FORMAT_SUFFIXES.get(args.out.suffix.lower())
        if fmt is None:
            raise InvalidInput(
                f"--out {args.out.name!r}: the demo writes .json, .jsonl, .csv or .xlsx"
            )
        _cli_ims.check_output(args.out, fmt, False)
    started = time.perf_counter()
    async with FlynnSimulator(
        records=RecordSettings(seed=args.seed, per_section=args.records),
        paging=PagingSettings(size=args.page_size),
        tasks=TaskSettings(processing_seconds=args.processing),
        delays=DelaySettings(request=args.latency),
    ) as sim:
        print(f"simulator listening on {sim.base_url}", file=err)
        async with FlynnClient(
            sim.credentials,
            base_url=sim.base_url,
            login_url=sim.login_url,
            max_concurrency=args.concurrency,
        ) as client:
            print(f"logged in as {sim.credentials.handle} (org {client.org_id})", file=err)
            otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            session = await client.gst.verify_otp(otp_request, sim.otp)
            print(f"GST session open for {session.gstin}; downloading all sections", file=err)
            with ProgressDisplay(err, enabled=not ui.quiet, console=ui.console) as display:
                result = await client.ims.download_all(session, on_progress=display)
            stats = client.stats
    elapsed = time.perf_counter() - started
    print(format_summary(result), file=ui.out)
    print(
        f"\n{len(result)} records in {elapsed:.2f}s ({stats.requests} requests, "
        f"{stats.retries} retries)",
        file=err,
    )
    if args.out is not None and fmt is not None:
        for path in export.export(result, args.out, fmt):
            print(f"wrote {path}", file=err)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# einvoice get
# ----------------------------------------------------------------------------------------------


def _document_date(text: str) -> date:
    try:
        return datetime.strptime(text, _api.EINVOICE_DATE_FORMAT).date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date as DD/MM/YYYY: {text!r}") from None


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
        ("ack", ack),  # number and date; a longer label would push the IRN past 80 columns
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
    settings = Settings(args, env)
    credentials = settings.credentials()
    irp = IrpCredentials(
        settings.require("irp.gstin", "gstin"),
        settings.require("irp.username", "irp_username"),
        settings.get("irp.password"),
    )
    base_url, login_url = settings.urls()
    environment = settings.environment()
    client = FlynnClient(
        credentials,
        environment="production" if environment == "production" else "sandbox",
        base_url=base_url,
        login_url=login_url,
        einvoice_keys=_read_keys(settings.paths("irp.keys", "key")),
        **settings.client_options(Ui(out, err, sys.stdin, env)),
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
        _write_file(args.out, dumps(details.invoice.to_dict()))
        print(f"wrote {args.out}", file=err)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# The parser
# ----------------------------------------------------------------------------------------------


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


_OVERVIEW: Final = """\
Commands, in the order a first session uses them:

  flynn-async login
      check the credentials
  flynn-async gst otp --gstin G --username U
      open the taxpayer's GST session (asks for the OTP)
  flynn-async ims download --gstin G --out invoices.xlsx
      download every IMS section and write a file
  flynn-async gst status
      the stored GST sessions
  flynn-async simulator serve --port 0
      a local simulator to try it all against
"""


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="download every IMS section from an in-process simulator",
        description=(
            "Start the built-in simulator, log in, open a GST session with the OTP flow, "
            "download all eight IMS sections with progress and print a summary. No settings "
            "are read: everything runs locally."
        ),
        epilog=epilog("flynn-async demo --out invoices.json", settings=False),
        formatter_class=_FORMATTER,
    )
    demo.add_argument(
        "--out", type=Path, help="write the result to this file: .json, .jsonl, .csv or .xlsx"
    )
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
    add_verbosity(demo)
    demo.set_defaults(handler=run_demo)


def _add_einvoice(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    einvoice = commands.add_parser(
        "einvoice",
        help="e-invoice lookups",
        description="Look up e-invoices on the IRP through Flynn.",
        epilog=epilog(
            "flynn-async einvoice get --irp ni1 --type INV --number RAMIRNINA199 --date 21/06/2021",
            settings=False,
        ),
        formatter_class=_FORMATTER,
    )
    einvoice_commands = einvoice.add_subparsers(
        dest="einvoice_command", required=True, metavar="COMMAND"
    )
    get = einvoice_commands.add_parser(
        "get",
        help="fetch an e-invoice by document type, number and date",
        description=(
            "Fetch one e-invoice by its document's type, number and date, print its details "
            "and, with --out, write the decoded invoice as JSON. Login and IRP credentials "
            "come from the settings below; passwords are never taken from the command line. "
            "Signatures are verified only when the portal's key or certificate is given "
            "(--key or FLYNN_EINVOICE_KEYS). --simulator runs against an in-process simulator "
            "with its sample documents and key."
        ),
        epilog=epilog(
            "flynn-async einvoice get --irp ni1 --type INV --number RAMIRNINA199 "
            "--date 21/06/2021 --out invoice.json",
            "flynn-async einvoice get --simulator --irp ni1 --type CRN --number CRN/2024/0042 "
            "--date 15/05/2024",
        ),
        formatter_class=_FORMATTER,
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
    add_network_options(get)
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
        help="run against an in-process simulator (its sample documents and key)",
    )
    add_verbose(get)

    async def handler(args: argparse.Namespace, ui: Ui) -> int:
        return await run_einvoice_get(args, ui.out, ui.err, ui.environ)

    get.set_defaults(handler=handler)


_HELP_TOPICS: Final = ("settings", "exit-codes")


async def run_help(args: argparse.Namespace, ui: Ui) -> int:
    """``help [TOPIC]``: the settings or exit codes (explained here once), or a command."""
    topic = args.topic or []
    if topic == ["settings"]:
        print(settings_text(), file=ui.out)
    elif topic == ["exit-codes"]:
        print(f"Exit codes:\n{exit_codes_text()}", file=ui.out)
    else:
        parser = build_parser()
        try:
            parser.parse_args([*topic, "--help"])
        except SystemExit as exc:  # argparse printed the help, or why it could not
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return EXIT_OK


def _add_help(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helper = commands.add_parser(
        "help",
        help="the settings, the exit codes, or a command's help",
        description=(
            "`flynn-async help settings` lists every setting (flag, environment variable, "
            "config-file key); `flynn-async help exit-codes` the exit codes; `flynn-async "
            "help COMMAND...` is `flynn-async COMMAND... --help`."
        ),
        epilog=epilog("flynn-async help settings", "flynn-async help ims download", settings=False),
        formatter_class=_FORMATTER,
    )
    helper.add_argument(
        "topic", nargs="*", metavar="TOPIC", help="settings, exit-codes, or a command"
    )
    helper.set_defaults(handler=run_help)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``flynn-async``."""
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Asyncio client for Vayana's Flynn GST API: IMS invoice downloads and e-invoice "
            "lookups, exact to the paisa. `flynn-async COMMAND --help` explains each command."
        ),
        epilog=(
            f"{_OVERVIEW}\n"
            "Example:\n  flynn-async ims download --gstin 24AAAPI3182M002 --out invoices.json\n\n"
            "Settings (flags, environment, config file; passwords and OTPs never flags):\n"
            "  flynn-async help settings\n"
            "Exit codes:\n"
            "  flynn-async help exit-codes"
        ),
        formatter_class=_FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _cli_ims.register(commands, _FORMATTER)
    _cli_gstr2b.register(commands, _FORMATTER)
    _add_einvoice(commands)
    _cli_sim.register(commands, _FORMATTER)
    _add_demo(commands)
    _add_help(commands)
    return parser


# ----------------------------------------------------------------------------------------------
# Running a command
# ----------------------------------------------------------------------------------------------


_NETWORK_HINT: Final = (
    "check the network, the URLs (FLYNN_BASE_URL, FLYNN_LOGIN_URL) and the proxy settings "
    "(HTTPS_PROXY, NO_PROXY)"
)


def describe(error: BaseException, *, verbose: bool = False) -> str:
    """What the command line says about an error: a sentence and what to do, on one line.

    The API's code and the route, task and page the error carries are added with ``-v``
    (``verbose``); an error of the client keeps its own text.
    """
    if not isinstance(error, FlynnError):
        return " ".join(str(error).split()) or "(no details)"
    text = error.message_text
    if isinstance(error, TooManyTokens):
        text = (
            "the login service refused a new login: the user already holds the most live "
            "login tokens it allows; wait for old ones to expire, then try again"
        )
    elif isinstance(error, AuthError) and error.code == _api.ERR_BAD_CREDENTIALS:
        text = (
            "The login was refused: check the handle and password (FLYNN_HANDLE or --handle, "
            "FLYNN_PASSWORD, or the config file)."
        )
    elif isinstance(error, AuthError):
        text = (
            "the login service refused the request: check the handle, the password and the "
            "organisation (FLYNN_ORG_ID)"
        )
    elif isinstance(error, IrpPasswordRequired):
        text = (
            "there is no live IRP session for this GSTIN and IRP username: give the IRP "
            "password once (FLYNN_IRP_PASSWORD or irp.password in the config file); the "
            "session it opens lasts 6 hours"
        )
    elif isinstance(error, RequestTimeout):
        text = (
            f"{text}: the server did not answer in time; {_NETWORK_HINT}, or allow more time "
            "with --request-timeout (FLYNN_REQUEST_TIMEOUT)"
        )
    elif isinstance(error, TransportError) and not isinstance(error, OutcomeUnknown):
        text = f"{text}; {_NETWORK_HINT}"  # an unknown outcome says what to do itself
    elif isinstance(error, NotFound) and error.page is None:  # a task or reference id
        text = f"{text}; check the id: the server keeps results for 7 days"
    if verbose:
        details = []
        if isinstance(error, ApiError) and text != error.message_text:
            details.append(f"HTTP {error.http_status} {error.code}")
        if error.where():
            details.append(error.where())
        if details:
            text += f" [{'; '.join(details)}]"
    return " ".join(text.split())


def _report(ui: Ui, error: BaseException) -> None:
    shown = error.error if isinstance(error, CommandFailed) else error
    text = describe(shown, verbose=ui.verbosity >= 1)
    ui.note(f"{_PROG}: {type(shown).__name__}: {text}")


async def run(argv: Sequence[str], ui: Ui) -> int:
    """Parse ``argv`` and run the command with ``ui``'s streams; returns the exit code.

    Every error ends as one line on ``ui.err`` and its exit code (see :data:`EXIT_CODES`);
    ``--help`` and usage errors are answered by argparse (exit codes 0 and 2); no command at
    all prints the help on ``ui.err`` (exit code 2).
    """
    parser = build_parser()
    if not argv:  # no command: what there is to run, not only argparse's one-line complaint
        parser.print_help(ui.err)
        return EXIT_USAGE
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        given = exc.code
        return given if isinstance(given, int) else (EXIT_OK if given is None else EXIT_USAGE)
    ui.quiet = bool(getattr(args, "quiet", False))
    ui.verbosity = int(getattr(args, "verbose", 0))
    if ui.console is None and ui.err.isatty():
        ui.console = Console(file=ui.err)
    logger = logging.getLogger(_LOGGER)
    level = log_levels(ui.verbosity)
    handler: logging.Handler | None = None
    old_level = logger.level
    if level is not None:
        handler = log_handler(ui.err, ui.console)
        logger.addHandler(handler)
        logger.setLevel(level)
    try:
        code: int = await args.handler(args, ui)
        return code
    except BrokenPipeError:
        # the reader of the output went away (`| head`): stop quietly, as other tools do
        return EXIT_ERROR
    except (CommandFailed, FlynnError, OSError) as exc:
        _report(ui, exc)
        return exit_code(exc)
    except Exception as exc:  # a bug: still one line, the traceback only with -vv
        _report(ui, exc)
        if ui.verbosity >= 2:
            traceback.print_exception(exc, file=ui.err)
        return EXIT_ERROR
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(old_level)


#: Seconds a SIGTERM'd command may take to finish its cleanup before it exits anyway.
TERM_GRACE_SECONDS: Final = 10.0
#: The environment variable that sets that grace period.
TERM_GRACE_ENV: Final = "FLYNN_TERM_GRACE"


class _Terminated:
    """SIGTERM, handled like Ctrl-C: the command is cancelled (so it prints its task ids and
    resume command), and the process exits 143 within the grace period whatever happens."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.received = False
        #: the command's exit code once it has returned (a signal may come after that)
        self.code: int | None = None

    def install(self, task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()

        def on_term() -> None:
            if self.received:
                return
            self.received = True
            deadline = threading.Timer(self.grace, _exit_now)
            deadline.daemon = True
            deadline.start()
            task.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals here
            loop.add_signal_handler(signal.SIGTERM, on_term)

    async def run(self, argv: Sequence[str], ui: Ui) -> int:
        task = asyncio.current_task()
        assert task is not None
        self.install(task)
        try:
            self.code = await run(argv, ui)
            return self.code
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


def _exit_now() -> None:  # pragma: no cover - runs only when cleanup outlasts the grace
    print(f"{_PROG}: terminated (cleanup took too long)", file=sys.stderr, flush=True)
    os._exit(EXIT_TERMINATED)


def _term_grace(environ: Mapping[str, str]) -> float:
    text = environ.get(TERM_GRACE_ENV)
    try:
        value = float(text) if text else TERM_GRACE_SECONDS
    except ValueError:
        return TERM_GRACE_SECONDS
    return value if 0 < value < float("inf") else TERM_GRACE_SECONDS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the ``flynn-async`` script exits with it).

    Ctrl-C exits 130 and SIGTERM (sent by ``timeout``, systemd, Docker, Kubernetes) 143, both
    after the command has printed the task ids it started and the ``--resume`` command;
    after SIGTERM the process exits within ``FLYNN_TERM_GRACE`` seconds (default 10).
    """
    ui = Ui(sys.stdout, sys.stderr, sys.stdin, os.environ)
    terminated = _Terminated(_term_grace(os.environ))
    try:
        code = asyncio.run(terminated.run(sys.argv[1:] if argv is None else argv, ui))
    except KeyboardInterrupt as interrupt:
        if terminated.code is not None:  # it came after the command had finished its work
            return terminated.code
        if isinstance(interrupt, TerminatedAtPrompt):  # SIGTERM while it read a line
            print(f"{_PROG}: terminated (SIGTERM)", file=sys.stderr, flush=True)
            return EXIT_TERMINATED
        print(f"{_PROG}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except asyncio.CancelledError:
        if not terminated.received:
            raise
        code = EXIT_TERMINATED if terminated.code is None else terminated.code
    if terminated.received and terminated.code is None:
        print(f"{_PROG}: terminated (SIGTERM)", file=sys.stderr, flush=True)
        return EXIT_TERMINATED
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed it: no flush at exit may complain of it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
