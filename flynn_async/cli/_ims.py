"""The ``login``, ``gst`` and ``ims`` commands of ``flynn-async``.

``login`` checks the credentials. ``gst otp`` opens the taxpayer's GST session (the OTP is read
from the terminal without echo, or as one line from stdin) and keeps it in the session store
under the state directory; ``gst status`` and ``gst logout`` look at it and end it.
``ims download`` restores that session, downloads the chosen sections (one server task each,
with progress), merges them and writes the result with :mod:`flynn_async.export`.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from flynn_async import export
from flynn_async._client import FlynnClient
from flynn_async._core import _validate
from flynn_async._core._errors import GstError, GstSessionExpired, InvalidInput
from flynn_async._core._files import write_atomic
from flynn_async._core._policy import PollPolicy
from flynn_async._core._secrets import Secret
from flynn_async.gst._session import GstSession
from flynn_async.gst._store import FileSessionStore
from flynn_async.ims import _models
from flynn_async.ims._models import ImsInvoices, ImsSection, ImsStatus

from . import _act as _cli_act
from ._common import (
    EXIT_LOGIN_REFUSED,
    EXIT_NO_SESSION,
    EXIT_OK,
    CommandFailed,
    NoGstSession,
    Settings,
    Ui,
    add_api_options,
    add_verbose,
    add_verbosity,
    epilog,
    interruptible,
    make_client,
    parse_list,
)
from ._display import ProgressDisplay, format_summary

__all__ = [
    "FORMAT_SUFFIXES",
    "register",
    "run_gst_logout",
    "run_gst_otp",
    "run_gst_status",
    "run_ims_download",
    "run_login",
    "run_logout",
]

#: ``--format`` chosen from the ``--out`` file's suffix when not given.
FORMAT_SUFFIXES: Final = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".xlsx": "xlsx",
}
_FORMATS: Final = ("json", "jsonl", "csv", "xlsx")
_PROG: Final = "flynn-async"


def _gstin(settings: Settings) -> str:
    return _validate.gstin(settings.require("gst.gstin", "gstin").strip().upper())


def _local(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _no_session(gstin: str) -> NoGstSession:
    return NoGstSession(
        f"no GST session is stored for {gstin}, or it has lapsed: "
        f"run `{_PROG} gst otp --gstin {gstin}` first"
    )


# ----------------------------------------------------------------------------------------------
# login
# ----------------------------------------------------------------------------------------------


async def run_login(args: argparse.Namespace, ui: Ui) -> int:
    """``login``: log in with the configured credentials, say who and where, log out."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    client = make_client(settings, ui, token_store=None)  # a real login, logged out after
    async with client:
        print(
            f"logged in as {client.credentials.handle}: the credentials work\n"
            f"  organisation  {client.org_id}\n"
            f"  API           {client.base_url}",
            file=ui.out,
        )
    return EXIT_OK


async def run_logout(args: argparse.Namespace, ui: Ui) -> int:
    """``logout``: log out the login token the commands keep, and forget it."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    if settings.get("password") is None:  # not needed: nothing logs in
        settings = Settings(args, {**ui.environ, "FLYNN_PASSWORD": "-"}, warn=ui.warn)
    client = make_client(settings, ui)
    if await client.logout_stored_token():
        print(f"the stored login token of {client.credentials.handle} is logged out", file=ui.out)
    else:
        print(f"no login token of {client.credentials.handle} is stored", file=ui.out)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# gst otp / status / logout
# ----------------------------------------------------------------------------------------------


def read_otp(ui: Ui, gstin: str) -> Secret:
    """The OTP: typed without echo on a terminal, else the first line of stdin."""
    if ui.stdin.isatty():
        try:
            with interruptible(ui.err):
                text = getpass.getpass(f"OTP sent to the taxpayer of {gstin}: ", stream=ui.err)
        except EOFError:
            text = ""
    else:
        ui.note(f"OTP requested for {gstin}; reading it from stdin")
        with interruptible(ui.err):
            text = ui.stdin.readline()
    text = text.strip()
    if not text:
        raise InvalidInput("no OTP was given")
    return Secret(text)


async def run_gst_otp(args: argparse.Namespace, ui: Ui) -> int:
    """``gst otp``: request an OTP, read it, verify it and store the GST session."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    username = settings.require("gst.username", "username")
    store = settings.session_store()
    if not args.force:
        existing = await store.load(gstin)
        if existing is not None:
            print(
                f"a GST session for {gstin} is already stored, valid until "
                f"{_local(existing.expires_at)}; nothing to do (--force asks for a new OTP)",
                file=ui.out,
            )
            return EXIT_OK
    client = make_client(settings, ui, session_store=store)
    async with client, store.lock(gstin):
        otp_request = await client.gst.request_otp(gstin=gstin, username=username)
        otp = read_otp(ui, gstin)
        try:
            session = await client.gst.verify_otp(otp_request, otp)
        except GstSessionExpired:
            raise
        except GstError as exc:
            raise CommandFailed(EXIT_LOGIN_REFUSED, exc) from None
    print(
        f"GST session for {gstin} stored in {store.directory}, valid until "
        f"{_local(session.expires_at)} (refreshed while downloads run)",
        file=ui.out,
    )
    return EXIT_OK


def _stored_gstins(store: FileSessionStore) -> list[str]:
    found = []
    for path in sorted(store.directory.glob("*.json")):
        try:
            found.append(_validate.gstin(path.stem))
        except InvalidInput:
            continue
    return found


async def run_gst_status(args: argparse.Namespace, ui: Ui) -> int:
    """``gst status``: the stored GST sessions and when they lapse (no network call)."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    store = settings.session_store()
    given = settings.get("gst.gstin", "gstin")
    gstins = [_validate.gstin(given.strip().upper())] if given else _stored_gstins(store)
    if not gstins:
        print(f"no GST sessions are stored in {store.directory}", file=ui.out)
        return EXIT_NO_SESSION
    now = datetime.now(UTC)
    rows: list[tuple[str, str, str, str] | str] = []  # a table row, or a line of its own
    for gstin in gstins:
        session = await store.load(gstin)
        if session is None:
            rows.append(f"{gstin}  none (run `{_PROG} gst otp --gstin {gstin}`)")
            continue
        minutes = int((session.expires_at - now).total_seconds() // 60)
        left = f"{minutes // 60}h {minutes % 60:02d}m"
        rows.append((gstin, session.username, _local(session.expires_at), left))
    table = [row for row in rows if isinstance(row, tuple)]
    head = ("GSTIN", "user", "valid until", "left")
    widths = [max(len(cell) for cell in column) for column in zip(head, *table, strict=True)]
    for row in [head, *rows] if table else rows:
        if isinstance(row, str):
            print(row, file=ui.out)
        else:
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            print(line.rstrip(), file=ui.out)
    return EXIT_OK if len(table) == len(gstins) else EXIT_NO_SESSION


async def run_gst_logout(args: argparse.Namespace, ui: Ui) -> int:
    """``gst logout``: end the stored GST session on the portal and delete it."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    store = settings.session_store()
    if await store.load(gstin) is None:
        raise _no_session(gstin)
    client = make_client(settings, ui, session_store=store)
    async with client:
        session = await client.gst.restore(gstin)
        if session is None:  # lapsed since the check above
            raise _no_session(gstin)
        try:
            await client.gst.logout(session)
        except GstSessionExpired:
            await client.gst.forget(gstin)
            print(f"the GST session of {gstin} had already expired; deleted it", file=ui.out)
            return EXIT_OK
    print(f"logged out the GST session of {gstin} and deleted it", file=ui.out)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# ims download
# ----------------------------------------------------------------------------------------------


def parse_sections(values: Sequence[str] | None) -> list[ImsSection]:
    """``--section`` values: repeated or comma-separated, any case, or ``all`` (the default)."""
    names = parse_list(values)
    if not names or any(name.lower() == "all" for name in names):
        if len(names) > 1:
            raise InvalidInput("--section all cannot be combined with other sections")
        return list(ImsSection)
    return _models.parse_sections(names)


def parse_resume(
    values: Sequence[str] | None, sections: Sequence[ImsSection]
) -> dict[ImsSection, str]:
    """``--resume SECTION=TASK_ID`` values, each for one of the chosen sections."""
    resumes: dict[ImsSection, str] = {}
    for value in values or ():
        name, sep, task_id = value.partition("=")
        if not sep:
            raise InvalidInput(f"--resume takes SECTION=TASK_ID, got {value!r}")
        section = ImsSection.parse(name.strip())
        if section not in sections:
            raise InvalidInput(f"--resume {section}: that section is not being downloaded")
        if section in resumes:
            raise InvalidInput(f"--resume {section} is given twice")
        resumes[section] = _validate.task_id(task_id.strip())
    return resumes


def choose_format(fmt: str | None, out: Path) -> str:
    """``--format``, else the one ``--out``'s suffix names."""
    if fmt is not None:
        return fmt
    chosen = FORMAT_SUFFIXES.get(out.suffix.lower())
    if chosen is None:
        raise InvalidInput(
            f"cannot tell the format from {out.name!r}: give --format {'|'.join(_FORMATS)}"
        )
    return chosen


def check_output(out: Path, fmt: str, per_section: bool) -> None:
    """Refuse, before any request, an output that could not be written afterwards."""
    parent = out.absolute().parent
    if not parent.is_dir():
        raise InvalidInput(f"--out: the directory {parent} does not exist")
    if per_section:
        if out.exists() and not out.is_dir():
            raise InvalidInput(f"--out {out}: with --csv-layout per-section it must be a directory")
    elif out.is_dir():
        raise InvalidInput(f"--out {out} is a directory; give a file name")


#: Tasks an ``ims download --checkpoint-dir`` recorded are re-attached for this long: a rerun
#: the same day finishes the download, the next night's run starts afresh (IMS data changes
#: from day to day; the server keeps results 7 days, for ``--resume``).
RECORD_HOURS: Final = 12


class _TaskRecord:
    """The tasks an ``ims download --checkpoint-dir`` started, written to that directory as
    each one starts (before it is polled).

    A run that was killed (SIGKILL, a crash, a reboot: nothing could print the task ids) and
    is started again with the same directory re-attaches to them instead of paying for new
    tasks; entries older than :data:`RECORD_HOURS` are left out. The file is
    per taxpayer and status filter; the sections delivered leave it once the output file is
    written, so the next download starts afresh.
    """

    KIND: Final = "flynn-async ims download tasks"

    def __init__(self, directory: Path, gstin: str, status: ImsStatus | None) -> None:
        which = "ALL" if status is None else status.value
        self.path = directory / f"ims-download-{gstin}-{which}.json"
        self._gstin = gstin
        self._status = None if status is None else status.value
        self._tasks: dict[str, dict[str, str]] = {}

    def load(self) -> dict[ImsSection, str]:
        """The recorded tasks that may still deliver (read before any request)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InvalidInput(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document = json.loads(data)
            if document.get("kind") != self.KIND or document.get("gstin") != self._gstin:
                raise ValueError("not this download's record")
            tasks = {
                ImsSection.parse(name).value: {
                    "task_id": _validate.task_id(entry["task_id"]),
                    "submitted_at": str(entry["submitted_at"]),
                }
                for name, entry in document["tasks"].items()
            }
            ages = {k: datetime.fromisoformat(v["submitted_at"]) for k, v in tasks.items()}
        except (ValueError, KeyError, TypeError, AttributeError, InvalidInput) as exc:
            raise InvalidInput(
                f"{self.path} is damaged ({exc}); move it away to start afresh (the tasks it "
                "names are then not re-attached)"
            ) from None
        self._tasks = tasks
        oldest = datetime.now(UTC) - timedelta(hours=RECORD_HOURS)
        return {
            ImsSection.parse(name): entry["task_id"]
            for name, entry in tasks.items()
            if ages[name] > oldest
        }

    def record(self, section: ImsSection, task_id: str) -> None:
        """Keep a new task, before the download polls it. Written here and now (a small
        file): writes from threads could land out of order and drop a task."""
        self._tasks[section.value] = {
            "task_id": task_id,
            "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write(self._document())

    def _document(self) -> bytes:
        document = {
            "kind": self.KIND,
            "gstin": self._gstin,
            "status": self._status,
            "tasks": self._tasks,
        }
        return json.dumps(document, indent=1).encode()

    def _write(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)  # the caller's: left as it is
        write_atomic(self.path, data)  # owner-only, as the pages beside it

    def done(self, sections: Sequence[ImsSection]) -> None:
        """The output is written: forget the tasks of ``sections``."""
        for section in sections:
            self._tasks.pop(section.value, None)
        if self._tasks:
            self._write(self._document())
        else:
            self.path.unlink(missing_ok=True)


class _Download:
    """The sections of one ``ims download`` run, through ``client.ims.download_sections``."""

    def __init__(
        self,
        client: FlynnClient,
        session: GstSession,
        sections: Sequence[ImsSection],
        *,
        status: ImsStatus | None,
        resumes: dict[ImsSection, str],
        display: ProgressDisplay,
        checkpoint_dir: Path | None,
        skip_empty: bool = False,
        record: _TaskRecord | None = None,
        replace_lost: bool = False,
    ) -> None:
        self._skip_empty = skip_empty
        self._record = record
        self._replace_lost = replace_lost
        self._client = client
        self._session = session
        self._sections = list(sections)
        self._status = status
        self._resumes = resumes
        self._display = display
        self._checkpoint_dir = checkpoint_dir
        #: every section's task id as soon as it exists (a submit cut by Ctrl-C or SIGTERM
        #: is seen through, and its id lands here before the cancellation goes on)
        self.ids: dict[ImsSection, str] = dict(resumes)

    @property
    def task_ids(self) -> dict[ImsSection, str]:
        """The task of every section that has one so far, in section order."""
        return {s: self.ids[s] for s in self._sections if s in self.ids}

    def _submitted(self, section: ImsSection, task_id: str) -> None:
        self.ids[section] = task_id
        if self._record is not None:
            self._record.record(section, task_id)

    async def run(self) -> ImsInvoices:
        """Every section's result, merged (each section from its own task)."""
        return await self._client.ims.download_sections(
            self._session,
            sections=self._sections,
            status=self._status,
            resume=self._resumes,
            replace_lost=self._replace_lost,
            on_progress=self._display,
            checkpoint_dir=self._checkpoint_dir,
            on_submitted=self._submitted,
            skip_empty=self._skip_empty,
        )


def _resume_hint(args: argparse.Namespace, gstin: str, task_ids: dict[ImsSection, str]) -> str:
    sections = ",".join(s.value for s in parse_sections(args.section))
    words = [_PROG, "ims", "download", "--gstin", gstin, "--section", sections]
    if args.status is not None:
        words += ["--status", args.status]
    if args.skip_empty:  # a section counted empty has no task: it is not paid for on resume
        words += ["--skip-empty"]
    for section, task_id in task_ids.items():
        words += ["--resume", f"{section.value}={task_id}"]
    if args.checkpoint_dir is not None:
        words += ["--checkpoint-dir", str(args.checkpoint_dir)]
    if args.format is not None:
        words += ["--format", args.format]
    if args.csv_layout is not None:
        words += ["--csv-layout", args.csv_layout]
    if getattr(args, "decisions", False):  # the same files: the decisions file and download
        words += ["--decisions"]
    # where the tasks live: a resume against another service or login knows none of them
    for option, name in (("--config", "config"), ("--handle", "handle")):
        value = getattr(args, name, None)
        if value is not None:
            words += [option, str(value)]
    environment = getattr(args, "environment", None)
    if environment is not None:
        words += [f"--{environment}"]
    if getattr(args, "allow_http", False):
        words += ["--allow-http"]
    words += ["--out", str(args.out)]
    return " ".join(shlex.quote(w) for w in words)


async def run_ims_download(args: argparse.Namespace, ui: Ui) -> int:
    """``ims download``: download sections with the stored GST session and write a file."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    sections = parse_sections(args.section)
    status = None if args.status is None else ImsStatus.parse(args.status)
    resumes = parse_resume(args.resume, sections)
    fmt = choose_format(args.format, args.out)
    if args.csv_layout is not None and fmt != "csv":
        raise InvalidInput("--csv-layout applies to --format csv only")
    per_section = args.csv_layout == "per-section"
    check_output(args.out, fmt, per_section)
    if args.decisions and (fmt not in ("csv", "xlsx") or per_section):
        raise InvalidInput("--decisions writes one CSV or Excel file (single layout)")
    poll = PollPolicy(initial_delay=args.poll_interval, deadline=args.timeout)
    store = settings.session_store()
    if await store.load(gstin) is None:
        raise _no_session(gstin)
    record, resumes, replace_lost = _recorded(
        args, ui, gstin, sections=sections, status=status, resumes=resumes
    )
    client = make_client(settings, ui, session_store=store, poll=poll, max_concurrency=args.jobs)
    display = ProgressDisplay(ui.err, enabled=not ui.quiet, console=ui.console)
    download: _Download | None = None
    interrupts = _cancel_requests()
    try:
        async with client:
            session = await client.gst.restore(gstin)
            if session is None:
                raise _no_session(gstin)
            download = _Download(
                client,
                session,
                sections,
                status=status,
                resumes=resumes,
                display=display,
                checkpoint_dir=args.checkpoint_dir,
                skip_empty=args.skip_empty,
                record=record,
                replace_lost=replace_lost,
            )
            async with client.gst.keep_alive(session):
                with display:
                    result = await download.run()
        options: dict[str, Any] = {"per_section": per_section} if fmt == "csv" else {}
        if fmt == "xlsx":  # the Summary sheet's details
            options["info"] = _workbook_info(gstin, sections, status)
        if args.decisions:  # a file to fill in for `ims act`, the download kept beside it
            written = _cli_act.write_decisions(result, args.out, gstin, fmt)
        else:
            with display.writing(str(args.out)) as shown:

                def on_progress(done: int, total: int) -> None:
                    _stop_if_interrupted(interrupts)  # a long write stops, leaving no file
                    shown(done, total)

                written = export.export(result, args.out, fmt, on_progress=on_progress, **options)
        _stop_if_interrupted(interrupts)
        if record is not None:
            record.done(sections)
    except BaseException as exc:
        if isinstance(exc, GstSessionExpired):
            ui.note(f"{_PROG}: run `{_PROG} gst otp --gstin {gstin}` for a new GST session")
        if download is not None and download.task_ids:
            _report_tasks(ui, args, gstin, download.task_ids)
        if isinstance(exc, GstSessionExpired):
            raise CommandFailed(EXIT_NO_SESSION, exc) from None
        raise
    print(format_summary(result), file=ui.out)
    for path in written:
        ui.note(f"wrote {path}")
    return EXIT_OK


def _recorded(
    args: argparse.Namespace,
    ui: Ui,
    gstin: str,
    *,
    sections: Sequence[ImsSection],
    status: ImsStatus | None,
    resumes: dict[ImsSection, str],
) -> tuple[_TaskRecord | None, dict[ImsSection, str], bool]:
    """With ``--checkpoint-dir``: the task record, the tasks to resume and whether a lost one
    may be replaced. A section no ``--resume`` names re-attaches to the task a run that
    stopped part way recorded; one the server lost is then replaced, unless ``--resume`` is
    given (a ``--resume`` task the server lost stays an error)."""
    if args.checkpoint_dir is None:
        return None, resumes, False
    record = _TaskRecord(args.checkpoint_dir, gstin, status)
    recorded = record.load()
    found = {s: recorded[s] for s in sections if s in recorded and s not in resumes}
    if found:
        ids = ", ".join(f"{s.value}={t}" for s, t in found.items())
        ui.note(f"{_PROG}: re-attaching to the tasks recorded in {record.path}: {ids}")
    return record, {**resumes, **found}, not resumes


def _cancel_requests() -> int:
    """The cancellations requested of the running task and not yet taken back."""
    task = asyncio.current_task()
    return 0 if task is None else task.cancelling()


def _stop_if_interrupted(before: int) -> None:
    """Raise ``CancelledError`` if Ctrl-C or SIGTERM came while synchronous work ran.

    Writing the output has no ``await``, so the cancellation they request would only take
    effect once the command had returned: exit 130 without the task ids and the resume
    command. Raised here, the command reports them like any interruption. ``before`` is the
    count of requests when the command started (only newer ones are an interruption).
    """
    if _cancel_requests() > before:
        raise asyncio.CancelledError


def _workbook_info(
    gstin: str, sections: Sequence[ImsSection], status: ImsStatus | None
) -> dict[str, str]:
    """What the Excel Summary sheet says about the download."""
    return {
        "GSTIN": gstin,
        "Sections": ", ".join(s.value for s in sections),
        "Status": "all" if status is None else f"{status.name.replace('_', ' ').lower()} only",
        "Downloaded": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z"),
    }


def _report_tasks(
    ui: Ui, args: argparse.Namespace, gstin: str, task_ids: dict[ImsSection, str]
) -> None:
    ids = ", ".join(f"{s.value}={t}" for s, t in task_ids.items())
    ui.note(f"{_PROG}: server task ids: {ids}")
    ui.note(f"{_PROG}: the server keeps results for 7 days; finish without starting new tasks:")
    ui.command(_resume_hint(args, gstin, task_ids))


# ----------------------------------------------------------------------------------------------
# The parsers
# ----------------------------------------------------------------------------------------------


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number above 0")
    return value


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1024:
        raise argparse.ArgumentTypeError("must be between 1 and 1024")
    return value


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``login``, ``gst`` and ``ims`` to the top-level subcommands."""
    _register_login(commands, formatter)
    _register_logout(commands, formatter)
    _register_gst(commands, formatter)
    _register_ims(commands, formatter)


def _register_login(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``login``."""
    login = commands.add_parser(
        "login",
        help="check the login credentials",
        description=(
            "Log in with the configured credentials, print the user and organisation, and log "
            "the token out again. Nothing else is called: a quick check of the settings."
        ),
        epilog=epilog("FLYNN_HANDLE=me@example.com FLYNN_PASSWORD=... flynn-async login"),
        formatter_class=formatter,
    )
    add_api_options(login)
    add_verbose(login)
    login.set_defaults(handler=run_login)


def _register_logout(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``logout`` (of the login token)."""
    logout = commands.add_parser(
        "logout",
        help="log out the stored login token",
        description=(
            "Every command keeps its login token in the state directory and the next run "
            "reuses it (a user may hold at most 10 live tokens). This logs that token out and "
            "removes it. It does not end a GST session: that is `gst logout`."
        ),
        epilog=epilog("FLYNN_HANDLE=me@example.com flynn-async logout"),
        formatter_class=formatter,
    )
    add_api_options(logout)
    add_verbose(logout)
    logout.set_defaults(handler=run_logout)


def _register_gst(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``gst`` and its subcommands."""
    gst = commands.add_parser(
        "gst",
        help="the taxpayer's GST (OTP) session: otp, status, logout",
        description=(
            "Open, inspect and end the taxpayer's GST session. `gst otp` keeps the session in "
            "the session store (<state dir>/sessions, mode 0600) for `ims download`."
        ),
        epilog=epilog(
            "flynn-async gst otp --gstin 24AAAPI3182M002 --username taxpayer",
            "flynn-async gst status",
            "flynn-async gst logout --gstin 24AAAPI3182M002",
            settings=False,
        ),
        formatter_class=formatter,
    )
    gst_commands = gst.add_subparsers(dest="gst_command", required=True, metavar="COMMAND")
    _register_gst_otp(gst_commands, formatter)
    _register_gst_status(gst_commands, formatter)
    _register_gst_logout(gst_commands, formatter)


def _register_gst_otp(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``gst otp``."""
    otp = commands.add_parser(
        "otp",
        help="request and verify an OTP; store the GST session",
        description=(
            "Ask the GST portal to send an OTP to the taxpayer's registered mobile, read it "
            "(typed without echo on a terminal; otherwise the first line of stdin, so scripts "
            "can pipe it), verify it and store the GST session. Never give the OTP as a flag. "
            "If a live session is already stored, nothing is done unless --force is given."
        ),
        epilog=epilog(
            "flynn-async gst otp --gstin 24AAAPI3182M002 --username taxpayer",
            "echo 575757 | flynn-async gst otp --gstin 24AAAPI3182M002 --username taxpayer",
        ),
        formatter_class=formatter,
    )
    otp.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    otp.add_argument(
        "--username", help="the taxpayer's GST portal username (default: $FLYNN_GST_USERNAME)"
    )
    otp.add_argument(
        "--force", action="store_true", help="ask for a new OTP even if a session is stored"
    )
    add_api_options(otp)
    add_verbose(otp)
    otp.set_defaults(handler=run_gst_otp)


def _register_gst_status(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``gst status``."""
    status = commands.add_parser(
        "status",
        help="show the stored GST sessions (no network call)",
        description=(
            "List the GST sessions in the session store and when each lapses unless refreshed. "
            "Exit code 0 if every session shown is live, 4 otherwise."
        ),
        epilog=epilog("flynn-async gst status --gstin 24AAAPI3182M002"),
        formatter_class=formatter,
    )
    status.add_argument("--gstin", help="only this GSTIN (default: $FLYNN_GSTIN, else all)")
    status.add_argument("--config", type=Path, help="TOML config file (default: $FLYNN_CONFIG)")
    status.set_defaults(handler=run_gst_status)


def _register_gst_logout(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``gst logout``."""
    logout = commands.add_parser(
        "logout",
        help="end the stored GST session and delete it",
        description=(
            "Log the stored GST session out on the portal and delete it from the store. "
            "Download tasks still running for the taxpayer will fail."
        ),
        epilog=epilog("flynn-async gst logout --gstin 24AAAPI3182M002"),
        formatter_class=formatter,
    )
    logout.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    add_api_options(logout)
    add_verbose(logout)
    logout.set_defaults(handler=run_gst_logout)


def _register_ims(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``ims`` and its subcommands."""
    ims = commands.add_parser(
        "ims",
        help="IMS invoice downloads",
        description="Download the taxpayer's IMS records (needs `gst otp` first).",
        epilog=epilog(
            "flynn-async ims download --gstin 24AAAPI3182M002 --out invoices.xlsx",
            settings=False,
        ),
        formatter_class=formatter,
    )
    ims_commands = ims.add_subparsers(dest="ims_command", required=True, metavar="COMMAND")
    _register_ims_download(ims_commands, formatter)
    _cli_act.register(ims_commands, formatter)


def _register_ims_download(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``ims download``."""
    download = commands.add_parser(
        "download",
        help="download IMS sections and write them as JSON, JSON Lines, CSV or Excel",
        description=(
            "Download IMS sections for the taxpayer with the GST session stored by `gst otp`: "
            "one server task per section, run together, merged, then written to --out. "
            "Amounts are exact (Excel: rounded to the paisa). A short per-section summary "
            "(records and tax totals) is printed at the end. If the download fails after the "
            "tasks were started, their ids are printed with the command that finishes them "
            "(--resume) without starting and paying for new tasks; --checkpoint-dir keeps "
            "pages already fetched so that only the missing ones are fetched again."
        ),
        epilog=epilog(
            "flynn-async ims download --gstin 24AAAPI3182M002 --out invoices.json",
            "flynn-async ims download --gstin 24AAAPI3182M002 --section B2B,B2BA --status P "
            "--format csv --csv-layout per-section --out pending/",
            "flynn-async ims download --gstin 24AAAPI3182M002 --section B2B "
            "--resume B2B=<task id> --checkpoint-dir pages --out b2b.xlsx",
        ),
        formatter_class=formatter,
    )
    download.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    download.add_argument(
        "--section",
        action="append",
        metavar="SECTION",
        help=(f"{', '.join(ImsSection)} or all (the default); repeat it or separate with commas"),
    )
    download.add_argument(
        "--status",
        type=str.upper,
        choices=[s.value for s in ImsStatus],
        help="only records with this IMS action: A accepted, R rejected, P pending, N none",
    )
    download.add_argument(
        "--format",
        choices=_FORMATS,
        help="output format (default: from the --out suffix: .json .jsonl .csv .xlsx)",
    )
    download.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the file to write (a directory with --csv-layout per-section)",
    )
    download.add_argument(
        "--csv-layout",
        choices=("single", "per-section"),
        help="CSV: one file with a section column (single, the default) or a file per section",
    )
    download.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="keep fetched pages here, so a resumed download fetches only missing ones",
    )
    download.add_argument(
        "--resume",
        action="append",
        metavar="SECTION=TASK_ID",
        help="re-attach SECTION to an existing server task instead of starting one (repeatable)",
    )
    download.add_argument(
        "--poll-interval",
        type=_positive_seconds,
        default=1.0,
        metavar="SECONDS",
        help="first wait between status checks of a task; it grows by 1.25x (default 1)",
    )
    download.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="how long to wait for each task to be ready (default 1800)",
    )
    download.add_argument(
        "--jobs",
        type=_jobs,
        default=8,
        metavar="N",
        help="result pages fetched at once (default 8)",
    )
    _cli_act.add_download_options(download)
    add_api_options(download)
    add_verbosity(download)
    download.set_defaults(handler=run_ims_download)
