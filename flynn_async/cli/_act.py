"""``ims counts``, ``ims status``, ``ims act`` and ``ims download --decisions`` of ``flynn-async``.

A round trip through a spreadsheet: ``ims download --decisions --out FILE.csv`` writes one row
per record with empty decision columns and keeps the download itself beside it
(``FILE.csv.download.json``, named in each row with the GSTIN). ``ims act FILE.csv`` matches
each filled row to its record by identity (section, supplier GSTIN, number, date, period) in
the stored download, builds the bodies from those records (never from cell values: a
spreadsheet rounds), checks every rule, prints a summary, asks, saves (and resets), waits, and
writes each row's outcome beside it (``invoices.csv``: ``invoices.results.csv``). ``ims status
REF`` follows a request up.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from flynn_async import export
from flynn_async._core import _validate
from flynn_async._core._errors import InvalidInput
from flynn_async._core._files import atomic_writer
from flynn_async._core._json import dumps, loads
from flynn_async._core._policy import PollPolicy
from flynn_async._http import _api
from flynn_async.gst._session import GstSession
from flynn_async.ims import _rules as _ims_rules
from flynn_async.ims._actions import ImsActionResult, ImsDecision, ImsRequestStatus, ItcReduction
from flynn_async.ims._decoding import structure_invoices
from flynn_async.ims._models import ImsEntry, ImsInvoices

from ._common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandFailed,
    NoGstSession,
    Settings,
    Ui,
    add_api_options,
    add_verbose,
    epilog,
    interruptible,
    make_client,
)

__all__ = ["DECISION_COLUMNS", "register", "write_decisions"]

_PROG: Final = "flynn-async"
#: The record columns of a decisions file (identity first), then the columns to fill in.
RECORD_COLUMNS: Final = (
    "gstin",
    "download",
    "section",
    "supplier_gstin",
    "number",
    "date",
    "period",
    "current_action",
    "value",
    "igst",
    "cgst",
    "sgst",
    "cess",
    "pending_blocked",
    "specified",
    "current_remarks",
)
DECISION_COLUMNS: Final = (
    "decision",
    "remarks",
    "itc_reduction",
    "decl_igst",
    "decl_cgst",
    "decl_sgst",
    "decl_cess",
)
_ACTIONS: Final = {
    "A": "A",
    "ACCEPT": "A",
    "R": "R",
    "REJECT": "R",
    "P": "P",
    "PENDING": "P",
    "N": "N",
    "RESET": "N",
    "NO ACTION": "N",
}
_WORDS: Final = {"A": "accept", "R": "reject", "P": "pending", "N": "reset"}
#: A record's identity in a decisions file: section, supplier GSTIN, number, date, period.
_Identity = tuple[str, str, str, str, str]


def _identity(section: str, wire: dict[str, Any]) -> _Identity:
    number = wire.get("inum", wire.get("nt_num", wire.get("boenum", "")))
    day = wire.get("idt", wire.get("nt_dt", wire.get("boedt", "")))
    return (section, str(wire.get("stin", "")), str(number), str(day), str(wire.get("rtnprd", "")))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _decision_rows(result: ImsInvoices, gstin: str, stored: str) -> list[list[str]]:
    rows = []
    for section, record in result.records():
        wire = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        section_, stin, number, day, period = _identity(section, wire)
        newer = wire.get("ispendactblocked")
        blocked = newer if newer is not None else wire.get("ispendactnallwd")
        rows.append(
            [
                gstin,
                stored,
                section_,
                stin,
                number,
                day,
                period,
                _text(wire.get("action")),
                _text(wire.get("val")),
                _text(wire.get("iamt", wire.get("igst"))),
                _text(wire.get("camt")),
                _text(wire.get("samt")),
                _text(wire.get("cess")),
                "Y" if _ims_rules.flag_set(blocked) else "",
                "Y" if _ims_rules.is_specified(section, wire) else "",
                _text(wire.get("remarks")),
                *("" for _ in DECISION_COLUMNS),
            ]
        )
    return rows


def write_decisions(result: ImsInvoices, out: Path, gstin: str, fmt: str = "csv") -> list[Path]:
    """Write the decisions file (CSV or Excel) and keep the download beside it."""
    stored = out.with_name(out.name + ".download.json")
    payload = {
        "gstin": gstin,
        "downloaded": datetime.now().astimezone().isoformat(timespec="seconds"),
        "data": result.to_dict(),
    }
    # each file appears whole or not at all (a kill mid-write keeps the one before); the
    # download first: a decisions file is matched against the download beside it
    with atomic_writer(stored, mode=None) as handle:
        handle.write(dumps(payload))
    rows = _decision_rows(result, gstin, stored.name)
    names = (*RECORD_COLUMNS, *DECISION_COLUMNS)
    if fmt == "xlsx":
        _write_xlsx(out, names, rows)
    else:
        _write_csv(out, names, ([_guarded(v) for v in row] for row in rows))
    return [out, stored]


def _write_csv(out: Path, head: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A UTF-8 CSV file, written atomically."""
    with atomic_writer(out, mode=None) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            writer = csv.writer(text)
            writer.writerow(head)
            writer.writerows(rows)
            text.flush()
        finally:
            text.detach()  # the binary file is closed by atomic_writer


def _guarded(value: str) -> str:
    """The export's formula guard: a cell a spreadsheet would run gets one leading ``'``."""

    return export._csv_text(value, True)


def _unguarded(value: str) -> str:
    """A cell read back: exactly one guard ``'`` is removed (``ims act`` matches the text)."""

    if value.startswith("'") and value[1:].startswith(export._FORMULA_START):
        return value[1:]
    return value


def _write_xlsx(out: Path, names: Sequence[str], rows: list[list[str]]) -> None:
    """One "Decisions" sheet through the Excel writer's sheet helper; every cell is text
    (identity cells must come back exactly as written)."""

    columns = [export._SheetColumn(n, n.replace("_", " ").capitalize(), n, "code") for n in names]
    cells = ([value or None for value in row] for row in rows)
    with (
        atomic_writer(out, mode=None) as handle,
        zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive,
    ):
        book = export._Book(archive, ["Decisions"])
        export._write_sheet(
            book, 0, columns, cells, count=len(rows), progress=export._Progress(None, len(rows))
        )
        book.finish()


_NS: Final = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _column_index(ref: str) -> int:
    letters = "".join(ch for ch in ref if ch.isalpha())
    index = 0
    for ch in letters:
        index = index * 26 + ord(ch.upper()) - 64
    return index - 1


def _read_xlsx(path: Path) -> list[dict[str, str]]:
    """The first sheet of a decisions workbook as rows (row 2 holds the column names)."""
    from xml.etree import ElementTree

    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
            for item in root.iter(f"{_NS}si"):
                shared.append("".join(t.text or "" for t in item.iter(f"{_NS}t")))
        sheet = "xl/worksheets/sheet1.xml"
        if sheet not in names:
            raise InvalidInput(f"{path} has no first sheet")
        root = ElementTree.fromstring(archive.read(sheet))
    table: list[dict[int, str]] = []
    for row in root.iter(f"{_NS}row"):
        values: dict[int, str] = {}
        for cell in row.iter(f"{_NS}c"):
            kind = cell.get("t")
            if kind == "inlineStr":
                text = "".join(t.text or "" for t in cell.iter(f"{_NS}t"))
            else:
                v = cell.find(f"{_NS}v")
                raw = "" if v is None or v.text is None else v.text
                text = shared[int(raw)] if kind == "s" and raw else raw
            values[_column_index(cell.get("r", ""))] = text
        table.append(values)
    if len(table) < 2:
        raise InvalidInput(f"{path} is not a decisions workbook")
    header = table[1]
    keys = [header.get(i, "") for i in range(max(header) + 1 if header else 0)]
    return [{k: r.get(i, "") for i, k in enumerate(keys) if k} for r in table[2:]]


# ----------------------------------------------------------------------------------------------
# ims act
# ----------------------------------------------------------------------------------------------


class _Row:
    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.decision: ImsDecision | None = None
        self.problem: str | None = None
        self.outcome = ""
        self.code = ""
        self.message = ""
        self.advice = ""
        self.reference = ""


def _amount(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip() or "0")
    except InvalidOperation:
        raise InvalidInput(f"{name} is not an amount: {text!r}") from None
    if not value.is_finite():
        raise InvalidInput(f"{name} is not an amount: {text!r}")
    return value


def _declaration(cells: dict[str, str]) -> ItcReduction | None:
    kind = cells.get("itc_reduction", "").strip().lower()
    if not kind:
        return None
    if kind == "full":
        return ItcReduction.full_reversal()
    if kind == "none":
        return ItcReduction.no_reversal()
    if kind == "partial":
        return ItcReduction.partial_reversal(
            igst=_amount(cells.get("decl_igst", ""), "decl_igst"),
            cgst=_amount(cells.get("decl_cgst", ""), "decl_cgst"),
            sgst=_amount(cells.get("decl_sgst", ""), "decl_sgst"),
            cess=_amount(cells.get("decl_cess", ""), "decl_cess"),
        )
    raise InvalidInput(f"itc_reduction must be full, partial or none, not {kind!r}")


def _load_download(folder: Path, name: str, gstin: str) -> ImsInvoices:
    path = folder / name
    if Path(name).name != name or not path.is_file():
        raise InvalidInput(f"the stored download {name!r} is not beside the decisions file")
    stored = loads(path.read_bytes())
    if not isinstance(stored, dict) or stored.get("gstin") != gstin:
        raise InvalidInput(f"{path} is not the download of {gstin}")
    return structure_invoices(stored["data"]).for_recipient(gstin)


def _read_rows(path: Path) -> list[_Row]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InvalidInput(f"{path}: ims act reads the .csv or .xlsx of ims download --decisions")
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    missing = set(RECORD_COLUMNS[:7]) | {"decision"}
    if suffix == ".xlsx":
        try:
            table = _read_xlsx(path)
        except (zipfile.BadZipFile, ValueError, KeyError) as exc:
            raise InvalidInput(f"{path} is not a decisions workbook: {exc}") from None
        if not table or missing - set(table[0]):
            raise InvalidInput(f"{path} is not a decisions file (written by --decisions)")
        return [_Row(i, dict(r)) for i, r in enumerate(table, 3)]
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or missing - set(reader.fieldnames):
                raise InvalidInput(f"{path} is not a decisions file (written by --decisions)")
            return [
                _Row(i, {k: _unguarded(v or "") for k, v in r.items()})
                for i, r in enumerate(reader, 2)
            ]
    except UnicodeDecodeError:
        raise InvalidInput(
            f'{path} is not UTF-8 text: save it as "CSV UTF-8" (Excel) or as a workbook (.xlsx)'
        ) from None


def _decide(rows: list[_Row]) -> tuple[str, list[_Row]]:
    """Match each filled row to its record and make its decision; returns (gstin, filled)."""
    filled = [r for r in rows if r.cells["decision"].strip()]
    if not filled:
        raise InvalidInput("no row has a decision: fill the decision column (A, R, P or N)")
    gstins = {r.cells["gstin"] for r in filled}
    downloads = {r.cells["download"] for r in filled}
    if len(gstins) != 1 or len(downloads) != 1:
        raise InvalidInput("the filled rows come from more than one download or GSTIN")
    return gstins.pop(), filled


#: How a spreadsheet may write back a date cell read from ``DD-MM-YYYY``.
_DATE_FORMATS: Final = ("%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d")
_NOT_FOUND: Final = (
    "no such record in the stored download (if a spreadsheet changed its number, date or "
    "period, keep those cells as they were written)"
)


def _loose_identity(identity: _Identity) -> _Identity:
    """An identity as a spreadsheet may have rewritten it, brought back to one form.

    Excel and LibreOffice read a period ``082024`` or a number ``000123`` as a number (the
    leading zeros go), a date cell as a date (saved back as ``5/1/2024``, ``2024-01-05``...),
    and may change case or spacing; ``ims act`` still finds the record when exactly one
    matches this form.
    """
    section, supplier, number, day, period = (cell.strip() for cell in identity)
    if number.isdigit():
        number = number.lstrip("0") or "0"
    for pattern in _DATE_FORMATS:
        try:
            day = datetime.strptime(day, pattern).date().isoformat()
            break
        except ValueError:
            continue
    if period.isdigit():
        period = period.zfill(6)
    return (section.lower(), supplier.upper(), number, day, period)


def _build(rows: list[_Row], invoices: ImsInvoices) -> None:
    index: dict[_Identity, ImsEntry] = {}
    loose: dict[_Identity, list[ImsEntry]] = {}
    for section, record in invoices.records():
        wire = record.to_dict() if hasattr(record, "to_dict") else dict(record)
        identity = _identity(section, wire)
        index[identity] = record
        loose.setdefault(_loose_identity(identity), []).append(record)
    for row in rows:
        cells = row.cells
        key = (
            cells["section"].strip().lower(),
            cells["supplier_gstin"].strip(),
            cells["number"],
            cells["date"].strip(),
            cells["period"].strip(),
        )
        found = index.get(key)
        if found is None:
            candidates = loose.get(_loose_identity(key), [])
            if len(candidates) != 1:
                row.problem = _NOT_FOUND if not candidates else "matches more than one record"
                continue
            found = candidates[0]
        record = found
        action = _ACTIONS.get(cells["decision"].strip().upper())
        if action is None:
            row.problem = f"decision must be A, R, P or N, not {cells['decision']!r}"
            continue
        remarks = cells.get("remarks", "") or None
        try:
            declaration = _declaration(cells)
        except InvalidInput as exc:
            row.problem = str(exc)
            continue
        row.decision = invoices.decide(record, action, remarks=remarks, itc_reduction=declaration)


def _check(rows: list[_Row], gstin: str) -> tuple[list[_Row], list[_Row], list[_Row]]:
    """Rows to save, to reset and unchanged; problems are set on the rows."""
    by_decision = {id(r.decision): r for r in rows if r.decision is not None}
    groups: dict[str, list[_Row]] = {"save": [], "reset": []}
    unchanged: list[_Row] = []
    for kind in ("save", "reset"):
        wanted = [
            r.decision
            for r in rows
            if r.decision is not None and (r.decision.action == "N") == (kind == "reset")
        ]
        to_send, same, problems = _ims_rules.check(wanted, call=kind, gstin=gstin)
        for problem in problems:
            row = by_decision[id(problem.decision)]
            text = f"rule {problem.rule.number} ({problem.rule.name}): {problem.message}"
            row.problem = text if row.problem is None else f"{row.problem}; {text}"
        for decision in same:
            by_decision[id(decision)].outcome = "unchanged"
            unchanged.append(by_decision[id(decision)])
        groups[kind] = [by_decision[id(d)] for d in to_send]
    return groups["save"], groups["reset"], unchanged


def _summary(
    ui: Ui, save: list[_Row], reset: list[_Row], same: list[_Row], bad: list[_Row]
) -> None:
    actions = Counter(r.decision.action for r in save if r.decision is not None)
    print(
        f"accept {actions['A']}, reject {actions['R']}, pending {actions['P']}, "
        f"reset {len(reset)}, unchanged {len(same)}, invalid {len(bad)}",
        file=ui.out,
    )
    for row in bad:
        print(f"  row {row.line}: {row.problem}", file=ui.out)


def _confirm(ui: Ui, yes: bool, count: int) -> None:
    if yes:
        return
    isatty = getattr(ui.stdin, "isatty", None)
    if not (callable(isatty) and isatty()):
        raise CommandFailed(
            EXIT_USAGE,
            InvalidInput("not sent: confirm with --yes (no terminal to ask on)"),
        )
    print(
        f"Send {count} decision(s) to the portal (billed)? [y/N] ", end="", file=ui.err, flush=True
    )
    with interruptible(ui.err):
        answer = ui.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CommandFailed(EXIT_USAGE, InvalidInput("not sent: not confirmed"))


def _record_outcomes(rows: Iterable[_Row], result: ImsActionResult) -> None:
    by_decision = {id(r.decision): r for r in rows}
    for request in result.requests:
        for decision in request.decisions:
            row = by_decision.get(id(decision))
            if row is not None:
                row.reference = request.reference_id
                if request.status == _api.IMS_STATUS_ERROR:
                    row.outcome = "failed"
                    row.code = request.error_code or ""
                    row.message = request.error_message or ""
                    row.advice = request.advice or ""
    for error in result.errors:
        row = by_decision.get(id(error.decision))
        if row is not None:
            row.outcome, row.code, row.message, row.advice = (
                "failed",
                error.code,
                error.message,
                error.advice,
            )
    for decision in result.succeeded:
        row = by_decision.get(id(decision))
        if row is not None:
            row.outcome = "saved" if decision.action != "N" else "reset"
    for decision in result.unsent:
        row = by_decision.get(id(decision))
        if row is not None:
            row.outcome = "unsent"


def _write_results(path: Path, rows: list[_Row]) -> Path:
    xlsx = path.suffix.lower() == ".xlsx"
    out = path.with_name(path.stem + (".results.xlsx" if xlsx else ".results.csv"))
    head = [*(rows[0].cells if rows else ()), "outcome", "code", "message", "advice"]
    head.append("reference_id")
    table = []
    for row in rows:
        outcome = row.outcome or ("invalid" if row.problem else "")
        message = row.message or (row.problem or "")
        table.append([*row.cells.values(), outcome, row.code, message, row.advice, row.reference])
    if xlsx:
        _write_xlsx(out, head, table)
        return out
    _write_csv(out, head, table)
    return out


async def run_ims_act(args: argparse.Namespace, ui: Ui) -> int:
    """``ims act FILE``: check, confirm, save/reset, wait, write ``<stem>.results.csv``."""
    path: Path = args.file
    rows = _read_rows(path)
    gstin, filled = _decide(rows)
    invoices = _load_download(path.parent, filled[0].cells["download"], gstin)
    _build(filled, invoices)
    save, reset, same = _check(filled, gstin)
    bad = [r for r in filled if r.problem is not None]
    _summary(ui, save, reset, same, bad)
    if bad:
        _write_results(path, filled)
        raise CommandFailed(
            EXIT_USAGE, InvalidInput(f"{len(bad)} row(s) are invalid: nothing was sent")
        )
    if not save and not reset:
        ui.note(f"{_PROG}: nothing to send")
        ui.note(f"wrote {_write_results(path, filled)}")
        return EXIT_OK
    _confirm(ui, args.yes, len(save) + len(reset))
    settings = Settings(args, ui.environ, warn=ui.warn)
    store = settings.session_store()
    poll = PollPolicy(initial_delay=args.poll_interval, deadline=args.timeout)
    client = make_client(settings, ui, session_store=store, poll=poll)

    def submitted(kind: str, ref: str) -> None:
        ui.note(
            f"{_PROG}: {kind} sent, reference id {ref} "
            f"(follow it up: {_PROG} ims status {ref}{' --reset' if kind == 'reset' else ''})"
        )

    async with client:
        session = await _session(client.gst, gstin)
        if save:
            decisions = [r.decision for r in save if r.decision is not None]
            result = await client.ims.save(session, decisions, on_submitted=submitted)
            _record_outcomes(save, result)
        if reset:
            decisions = [r.decision for r in reset if r.decision is not None]
            result = await client.ims.reset(session, decisions, on_submitted=submitted)
            _record_outcomes(reset, result)
    outcomes = Counter(r.outcome for r in filled)
    print(", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())), file=ui.out)
    ui.note(f"wrote {_write_results(path, filled)}")
    return EXIT_OK


async def _session(gst: Any, gstin: str) -> GstSession:
    session: GstSession | None = await gst.restore(gstin)
    if session is None:
        raise NoGstSession(f"no GST session for {gstin}: run `{_PROG} gst otp --gstin {gstin}`")
    return session


# ----------------------------------------------------------------------------------------------
# ims status, ims counts
# ----------------------------------------------------------------------------------------------


def _print_status(ui: Ui, status: ImsRequestStatus) -> None:
    print(
        f"{status.kind} {status.reference_id}: {status.status}, {status.processed} processed, "
        f"{status.failed} failed",
        file=ui.out,
    )
    if status.error_code:
        print(f"  {status.error_code}: {status.error_message or ''} ({status.advice})", file=ui.out)
    for error in status.errors:
        print(
            f"  {error.section} {error.supplier_gstin} {error.number} {error.period}: "
            f"{error.code} {error.message} ({error.advice})",
            file=ui.out,
        )


def _gstin(settings: Settings) -> str:
    return _validate.gstin(settings.require("gst.gstin", "gstin").strip().upper())


async def run_ims_status(args: argparse.Namespace, ui: Ui) -> int:
    """``ims status REF``: follow a save (or ``--reset`` task) up by its id, to its end."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    poll = PollPolicy(initial_delay=args.poll_interval, deadline=args.timeout)
    client = make_client(settings, ui, session_store=settings.session_store(), poll=poll)
    async with client:
        session = await _session(client.gst, gstin)
        if args.reset:
            status = await client.ims.reset_status(session, args.reference)
        else:
            status = await client.ims.request_status(session, args.reference)
    _print_status(ui, status)
    return EXIT_OK


async def run_ims_counts(args: argparse.Namespace, ui: Ui) -> int:
    """``ims counts``: records per section and action (one read-only call)."""
    settings = Settings(args, ui.environ, warn=ui.warn)
    gstin = _gstin(settings)
    client = make_client(settings, ui, session_store=settings.session_store())
    async with client:
        session = await _session(client.gst, gstin)
        counts = await client.ims.counts(session, goods_types=args.goods_type or ("ALL_OTH",))
    ui.note(f"{_PROG}: counts are a snapshot: suppliers may add records before a download")
    if args.json:
        data = {
            k: {
                "no_action": c.no_action,
                "accepted": c.accepted,
                "rejected": c.rejected,
                "pending": c.pending,
                "total": c.total,
            }
            for k, c in counts.sections().items()
        }
        print(json.dumps({"gstin": gstin, "sections": data, "total": counts.total}), file=ui.out)
        return EXIT_OK
    print(
        f"{'section':<10}{'no action':>10}{'accepted':>10}{'rejected':>10}{'pending':>10}"
        f"{'total':>10}",
        file=ui.out,
    )
    for key, c in counts.sections().items():
        print(
            f"{key:<10}{c.no_action:>10}{c.accepted:>10}{c.rejected:>10}{c.pending:>10}"
            f"{c.total:>10}",
            file=ui.out,
        )
    print(f"{'total':<10}{counts.total:>50}", file=ui.out)
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# The parsers
# ----------------------------------------------------------------------------------------------


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number above 0")
    return value


def _waits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="first wait between request status checks; it grows by 1.25x (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="how long to wait for each request to be processed (default 1800)",
    )


def add_download_options(download: argparse.ArgumentParser) -> None:
    """``--decisions`` and ``--skip-empty`` of ``ims download``."""
    download.add_argument(
        "--decisions",
        action="store_true",
        help="write a decisions CSV to fill in for `ims act` (keeps the download beside it)",
    )
    download.add_argument(
        "--skip-empty",
        action="store_true",
        help="ask the counts first; start no task for a section counted empty",
    )


def register(
    ims_commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``act``, ``status`` and ``counts`` to ``ims``."""
    act = ims_commands.add_parser(
        "act",
        help="send the decisions filled in a --decisions file (accept, reject, pending, reset)",
        description=(
            "Match each filled row of FILE to its record in the stored download, check every "
            "IMS rule, print a summary and ask before sending (--yes: do not ask; without a "
            "terminal and without --yes nothing is sent, exit 2). Then save (and reset), wait "
            "for each request and write each row's outcome beside FILE (invoices.csv: "
            "invoices.results.csv; a workbook: .results.xlsx). Reference ids "
            "are printed as soon as they exist: follow one up with `ims status`."
        ),
        epilog=epilog("flynn-async ims act invoices.csv --yes"),
        formatter_class=formatter,
    )
    act.add_argument(
        "file", type=Path, metavar="FILE", help="the filled decisions file, .csv or .xlsx"
    )
    act.add_argument("--yes", action="store_true", help="send without asking")
    _waits(act)
    add_api_options(act)
    add_verbose(act)
    act.set_defaults(handler=run_ims_act)

    status = ims_commands.add_parser(
        "status",
        help="follow a save (or --reset) up by its reference id, to its end",
        description="Poll the request status of a save (or the task of a reset) by its id.",
        epilog=epilog("flynn-async ims status 6f1c8d2e-0000-4000-8000-000000000002"),
        formatter_class=formatter,
    )
    status.add_argument("reference", metavar="REF", help="the reference (or reset task) id")
    status.add_argument("--reset", action="store_true", help="REF is a reset's task id")
    status.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    _waits(status)
    add_api_options(status)
    add_verbose(status)
    status.set_defaults(handler=run_ims_status)

    counts = ims_commands.add_parser(
        "counts",
        help="records per section and action (a snapshot, one read-only call)",
        description="Print the IMS counts: per section, no action, accepted, rejected, pending.",
        epilog=epilog("flynn-async ims counts --gstin 24AAAPI3182M002"),
        formatter_class=formatter,
    )
    counts.add_argument("--gstin", help="the taxpayer's GSTIN (default: $FLYNN_GSTIN)")
    counts.add_argument(
        "--goods-type",
        action="append",
        choices=_api.IMS_GOODS_TYPES,
        help="ALL_OTH (the default; the others are unconfirmed); repeatable",
    )
    counts.add_argument("--json", action="store_true", help="print JSON")
    add_api_options(counts)
    add_verbose(counts)
    counts.set_defaults(handler=run_ims_counts)
