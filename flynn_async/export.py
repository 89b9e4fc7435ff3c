"""Export a merged IMS result to JSON, JSON Lines, CSV or Excel.

::

    from flynn_async import export

    result = await client.ims.download_all(session)
    export.write_json(result, "ims.json")                      # exactly as the API shaped it
    export.write_jsonl(result, "ims.jsonl")                    # one record a line
    export.write_csv(result, "ims.csv")                        # one file, a "section" column
    export.write_csv(result, "ims-csv", per_section=True)      # ims-csv/b2b.csv, ...
    export.write_xlsx(result, "ims.xlsx", info={"GSTIN": gstin})  # a Summary and a sheet each
    export.export(result, "ims.csv", "csv", formula_guard=False)  # by format name

JSON and JSON Lines keep the API's wire names and exact amounts. CSV and Excel have one column
per record attribute, in the fixed order of :func:`columns`; CSV keeps amounts exact, Excel
rounds them to paise and is laid out for people (readable titles over the wire names, number and
date formats, a filter, a frozen header, printing one page wide). Every writer takes
``on_progress(written, total)``. Every file is written atomically (a temporary file
in the same directory, then :func:`os.replace`): an interrupted export never leaves a half file
under the final name. Streams are written directly. See ``docs/export.md`` for the columns and
how to read each format back exactly.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import inspect
import io
import itertools
import os
import re
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from typing import IO, Any, BinaryIO, Final, Literal, TypeVar

import attrs
import msgspec

from ._core import _codec
from ._core._errors import InvalidInput
from ._core._files import atomic_writer
from ._core._json import dumps
from .gst._period import ReturnPeriod
from .gstr2b import Gstr2b
from .ims import _models as m

__all__ = [
    "FORMATS",
    "GSTR2B_TABLES",
    "ExportProgressCallback",
    "columns",
    "export",
    "export_gstr2b",
    "gstr2b_rows",
    "write_csv",
    "write_json",
    "write_jsonl",
    "write_xlsx",
]

#: The format names :func:`export` takes.
FORMATS: Final[tuple[str, ...]] = ("json", "jsonl", "csv", "xlsx")

#: A path to write to.
PathArg = os.PathLike[str] | str

#: ``on_progress(written, total)``: records written so far, out of all records (see
#: :func:`write_xlsx`). What it returns is ignored; what it raises propagates: raised before the
#: last call (``written == total``, made once the file is in place), it stops the export and
#: nothing is left under the final name.
ExportProgressCallback = Callable[[int, int], object]

_T = TypeVar("_T")

#: Progress is reported every this many records.
_PROGRESS_STEP: Final = 1_000


def _check_progress(on_progress: object) -> None:
    if on_progress is not None and not callable(on_progress):
        raise InvalidInput(f"on_progress must be callable or None, got {on_progress!r}")


# ----------------------------------------------------------------------------------------------
# Columns
# ----------------------------------------------------------------------------------------------

_Kind = Literal["text", "code", "period", "amount", "date"]

#: The fixed column order: identity, then amounts, then status, flags and remarks.
_IDENTITY: Final = (
    "supplier_gstin",
    "number",
    "date",
    "original_number",
    "original_date",
    "invoice_type",
    "place_of_supply",
    "return_period",
    "source_form",
)
_AMOUNTS: Final = (
    "value",
    "taxable_value",
    "igst",
    "cgst",
    "sgst",
    "cess",
    "declared_igst",
    "declared_cgst",
    "declared_sgst",
    "declared_cess",
)
_FLAGS: Final = (
    "action",
    "previous_status",
    "source_filing_status",
    "pending_not_allowed",
    "pending_action_blocked",
    "remarks_blocked",
    "itc_reduction_not_allowed",
    "itc_reduction_request_blocked",
    "itc_reduction_required",
    "remarks",
    "hash",
)
_ORDER: Final = (*_IDENTITY, *_AMOUNTS, *_FLAGS)
_SECTION: Final = "section"
_EXTRA: Final = "extra"


@attrs.frozen
class _Column:
    """One record attribute as a column: its readable name, wire name and kind of value."""

    name: str
    wire: str
    kind: _Kind


#: The export's kind of column for each of the codec's kinds of field.
_KINDS: Final[dict[str, _Kind]] = {
    "date": "date",
    "money": "amount",
    "period": "period",
    "text": "text",
    "enum": "code",  # an open enum: a member or an unknown code, written as its wire code
    "flag": "code",
}


def _record_columns(cls: type[m.ImsRecord]) -> tuple[_Column, ...]:
    """The columns of one record class, in the fixed order (unlisted new fields last).

    Read from the one wire codec's description of the class: the same names and kinds that
    decode and encode the records.
    """
    found = {f.attr: _Column(f.attr, f.wire, _KINDS[f.kind]) for f in _codec.wire_fields(cls)}
    ordered = [found[name] for name in _ORDER if name in found]
    ordered += [col for name, col in found.items() if name not in _ORDER]
    return tuple(ordered)


_RECORD_CLASSES: Final[list[type[m.ImsRecord]]] = [m.ImsRecord, *m.SECTION_RECORD_TYPES.values()]
_CLASS_COLUMNS: Final[dict[type[m.ImsRecord], tuple[_Column, ...]]] = {
    cls: _record_columns(cls) for cls in _RECORD_CLASSES
}
#: Columns of an unknown section: the fields every record kind has, under the same wire names.
_BASE: Final = _CLASS_COLUMNS[m.ImsRecord]
_BASE_BY_WIRE: Final = {col.wire: col for col in _BASE}
_KNOWN_WIRE_NAMES: Final = frozenset(col.wire for cols in _CLASS_COLUMNS.values() for col in cols)


def _class_columns(cls: type[m.ImsRecord]) -> tuple[_Column, ...]:
    cols = _CLASS_COLUMNS.get(cls)
    if cols is None:  # a subclass of a record kind, made by the caller
        cols = _CLASS_COLUMNS[cls] = _record_columns(cls)
    return cols


def _union() -> tuple[str, ...]:
    names = {col.name for cols in _CLASS_COLUMNS.values() for col in cols}
    ordered: list[str] = [name for name in _ORDER if name in names]
    for cols in _CLASS_COLUMNS.values():
        ordered += [c.name for c in cols if c.name not in ordered]
    return (_SECTION, *ordered, _EXTRA)


_ALL_COLUMNS: Final = _union()


def _section_key(section: object) -> str:
    if isinstance(section, m.ImsSection):
        return section.key
    if not isinstance(section, str):
        raise InvalidInput(f"section must be a section key such as 'b2b', got {section!r}")
    return section


def columns(section: str | None = None) -> tuple[str, ...]:
    """The stable column order of the CSV and Excel exports.

    For a section key (``"b2b"``, ``"b2bcna"``, or a section the models don't know) the columns
    of that section's file or sheet; with ``section=None`` the columns of the single-file CSV,
    whose first column is ``"section"``. The names are the records' readable attribute names,
    identity first (supplier, number, date, ...), then amounts, then status, flags and remarks;
    the last column is ``"extra"``: everything else about the record, as a JSON object.

    An unknown section has the columns every record kind shares (no ``number`` or ``date``:
    their wire names differ by section). Section keys are case-sensitive, as in the data:
    ``"B2B"`` is not ``"b2b"``. An :class:`~flynn_async.ims.ImsSection` member is also accepted.
    """
    if section is None:
        return _ALL_COLUMNS
    key = _section_key(section)
    cls = m.SECTION_RECORD_TYPES.get(key)
    cols = _CLASS_COLUMNS[cls] if cls is not None else _BASE
    return (*(col.name for col in cols), _EXTRA)


# ----------------------------------------------------------------------------------------------
# Records to cells
# ----------------------------------------------------------------------------------------------

#: A cell before formatting: text, an exact amount, a date, or nothing.
_CellValue = str | Decimal | date | None


def _check_result(result: object) -> m.ImsInvoices:
    if not isinstance(result, m.ImsInvoices):
        raise InvalidInput(
            f"result must be an ImsInvoices (from client.ims.download_all), "
            f"got {type(result).__name__}"
        )
    return result


def _sections(result: m.ImsInvoices) -> list[tuple[str, tuple[Any, ...]]]:
    """Every present section and its records, in the result's order.

    Unknown sections are read from ``other_sections`` by their exact key (``section()`` would
    lower-case it).
    """
    out: list[tuple[str, tuple[Any, ...]]] = []
    for key in result.section_names():
        if key in m.SECTION_RECORD_TYPES:
            out.append((key, getattr(result, key)))
        else:
            out.append((key, tuple(result.other_sections.get(key, ()))))
    return out


def _wire_data(result: m.ImsInvoices) -> dict[str, Any]:
    """``result.to_dict()``, reading unknown sections by their exact key.

    (``to_dict`` finds sections through ``ImsInvoices.section()``, which lower-cases the name:
    an unknown section whose key has capitals would come out empty.)
    """
    data: dict[str, Any] = {
        key: [
            record.to_dict() if isinstance(record, m.ImsRecord) else dict(record)
            for record in records
        ]
        for key, records in _sections(result)
    }
    data.update(result.extra)
    return data


def _wire_value(col: _Column, value: Any) -> Any:
    """An attribute's value as the server sent it (for the ``extra`` column)."""
    if col.kind == "date":
        return value.strftime(m.IMS_DATE_FORMAT)
    if col.kind in ("code", "period"):
        return str(value)
    return value


def _plain(col: _Column, value: Any) -> _CellValue:
    if col.kind in ("code", "period"):
        return str(value)  # an enum member's code, an unknown code, MMYYYY
    cell: _CellValue = value
    return cell


def _fits(col: _Column, value: Any) -> bool:
    """Can an unknown section's value go in this column and come back as it was?"""
    if col.kind == "amount":
        return type(value) is int or (type(value) is Decimal and value.is_finite())
    return type(value) is str and value != ""


def _cells(record: Any, allowed: frozenset[str]) -> tuple[dict[str, _CellValue], dict[str, Any]]:
    """A record's column cells, and the wire fields that go to the ``extra`` column.

    A known record fills its attribute columns; its ``extra``, and any text that is the empty
    string (an empty cell means ``None``), go to ``extra``. An unknown section's record (a
    plain mapping) fills the shared columns whose wire names it uses, when the value is of the
    column's type (a JSON number for amounts, non-empty text otherwise); every other key goes
    to ``extra``. Nothing is dropped.
    """
    cells: dict[str, _CellValue] = {}
    extra: dict[str, Any] = {}
    if isinstance(record, m.ImsRecord):
        for col in _class_columns(type(record)):
            value = getattr(record, col.name)
            if value is None:
                continue
            if (isinstance(value, str) and value == "") or col.name not in allowed:
                extra[col.wire] = _wire_value(col, value)
            else:
                cells[col.name] = _plain(col, value)
        extra.update(record.extra)
        return cells, extra
    if not isinstance(record, Mapping):
        raise InvalidInput(f"a record must be an IMS record or a mapping, got {record!r}")
    for key, value in record.items():
        shared = _BASE_BY_WIRE.get(key)
        if shared is not None and shared.name in allowed and _fits(shared, value):
            cells[shared.name] = Decimal(value) if type(value) is int else value
        else:
            extra[key] = value
    return cells, extra


def _extra_text(extra: Mapping[str, Any]) -> str:
    return dumps(extra).decode() if extra else ""


def _count(sections: list[tuple[str, tuple[Any, ...]]]) -> int:
    return sum(len(records) for _, records in sections)


class _Progress:
    """Reports records written: ``(0, total)`` first, then every 1,000 records, and
    ``(total, total)`` once the output is complete."""

    __slots__ = ("_callback", "done", "next_at", "total")

    def __init__(self, callback: ExportProgressCallback | None, total: int) -> None:
        self._callback = callback
        self.total = total
        self.done = 0
        #: the count of records at which to call :meth:`report` next
        self.next_at = _PROGRESS_STEP if callback is not None else sys.maxsize
        if callback is not None:
            callback(0, total)

    def report(self, done: int) -> int:
        """Report ``done`` records (unless that is all: :meth:`finish` says so); the next count."""
        if self._callback is not None and done < self.total:
            self._callback(done, self.total)
        self.next_at = (done // _PROGRESS_STEP + 1) * _PROGRESS_STEP
        return self.next_at

    def counted(self, rows: Iterator[_T]) -> Iterator[_T]:
        """``rows``, reporting as they are taken (one record a row)."""
        if self._callback is None:
            return rows
        return self._counting(rows)

    def _counting(self, rows: Iterator[_T]) -> Iterator[_T]:
        done, report = self.done, self.next_at
        for row in rows:
            yield row
            done += 1
            if done >= report:
                report = self.report(done)
        self.done = done

    def finish(self) -> None:
        """Report that every record is written and the output complete."""
        if self._callback is not None:
            self._callback(self.total, self.total)


# ----------------------------------------------------------------------------------------------
# Files: atomic writes, safe names
# ----------------------------------------------------------------------------------------------


def _is_path(out: object) -> bool:
    return isinstance(out, str | os.PathLike)


def _is_stream(out: object) -> bool:
    return callable(getattr(out, "write", None))


def _check_out(out: object, *, streams: bool) -> None:
    if _is_path(out) or (streams and _is_stream(out)):
        return
    wanted = "a path or a binary stream" if streams else "a path"
    raise InvalidInput(f"out must be {wanted}, got {type(out).__name__}")


@contextlib.contextmanager
def _binary_out(out: PathArg | BinaryIO) -> Iterator[IO[bytes]]:
    if _is_path(out):
        with atomic_writer(Path(out), mode=None) as f:  # type: ignore[arg-type]
            yield f
    else:
        yield out  # type: ignore[misc]


_SAFE_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_UNSAFE_CHARS: Final = re.compile(r"[^A-Za-z0-9_-]+")
_WINDOWS_DEVICES: Final = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)


def _safe_names(keys: list[str], limit: int, reserved: frozenset[str]) -> dict[str, str]:
    """A file or sheet name per section key: the key itself when it is safe, else a stand-in.

    Safe: letters, digits, ``_`` and ``-``, at most ``limit`` characters, not reserved, and
    unique ignoring case. Otherwise the key's safe characters, ``~`` and 8 hex digits of its
    SHA-256 (a safe key never contains ``~``, so the two kinds never collide).
    """
    used: set[str] = set()
    names: dict[str, str] = {}
    for key in keys:
        folded = key.casefold()
        if (
            _SAFE_NAME.fullmatch(key)
            and len(key) <= limit
            and folded not in reserved
            and folded not in used
        ):
            name = key
        else:
            digest = hashlib.sha256(key.encode()).hexdigest()[:8]
            name = f"{_UNSAFE_CHARS.sub('_', key)[: limit - 9]}~{digest}"
        used.add(name.casefold())
        names[key] = name
    return names


# ----------------------------------------------------------------------------------------------
# JSON and JSON Lines
# ----------------------------------------------------------------------------------------------


def write_json(
    result: m.ImsInvoices,
    out: PathArg | BinaryIO,
    *,
    indent: int | None = None,
    on_progress: ExportProgressCallback | None = None,
) -> None:
    """Write the merged result as one JSON document, exactly as the API shaped it.

    The document is :meth:`ImsInvoices.to_dict() <flynn_async.ims.ImsInvoices.to_dict>`: section
    keys, wire field names, unknown sections and fields, and amounts as JSON numbers with the
    exact digits received (``12.10`` stays ``12.10``), encoded by msgspec, UTF-8, with a final
    newline. ``indent`` pretty-prints with that many spaces. ``out`` is a path (written
    atomically) or a binary stream. ``on_progress(written, total)`` is called with
    ``(0, total)`` first and ``(total, total)`` once the file is complete (the document is
    encoded at once).
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    if indent is not None and (type(indent) is not int or indent < 0):
        raise InvalidInput(f"indent must be a whole number >= 0 or None, got {indent!r}")
    _check_progress(on_progress)
    progress = _Progress(on_progress, _count(_sections(result)))
    body = dumps(_wire_data(result))
    if indent is not None:
        body = msgspec.json.format(body, indent=indent)
    with _binary_out(out) as f:
        f.write(body + b"\n")
    progress.finish()


def write_jsonl(
    result: m.ImsInvoices,
    out: PathArg | BinaryIO,
    *,
    section_key: str = "section",
    on_progress: ExportProgressCallback | None = None,
) -> int:
    """Write one JSON object per record and line; return the number of records written.

    Each line is ``{"section": "<key>", ...the record's wire fields...}``, sections in the
    result's order and records in received order, unknown sections and fields included,
    amounts exact. ``section_key`` names the section field; if a record has a field of that
    name, :class:`~flynn_async.InvalidInput` is raised before anything is written (pass
    another ``section_key``). Only records are written: the result's non-list keys
    (``result.extra``) are in the JSON export alone. ``out`` is a path (written atomically) or
    a binary stream. ``on_progress(written, total)`` is called as :func:`write_xlsx` calls it.
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    if not isinstance(section_key, str) or not section_key:
        raise InvalidInput(f"section_key must be non-empty text, got {section_key!r}")
    if section_key in _KNOWN_WIRE_NAMES:
        raise InvalidInput(f"section_key {section_key!r} is a record field's wire name")
    _check_progress(on_progress)
    sections = _sections(result)
    for key, records in sections:
        for i, record in enumerate(records):
            fields = record.extra if isinstance(record, m.ImsRecord) else record
            if section_key in fields:
                raise InvalidInput(
                    f"record {i} of section {key!r} has its own {section_key!r} field: "
                    f"pass another section_key"
                )
    progress = _Progress(on_progress, _count(sections))
    count = 0
    report = progress.next_at
    with _binary_out(out) as f:
        for key, records in sections:
            known = key in m.SECTION_RECORD_TYPES
            for record in records:
                line: dict[str, Any] = {section_key: key}
                line.update(record.to_dict() if known else record)
                f.write(dumps(line) + b"\n")
                count += 1
                if count >= report:
                    report = progress.report(count)
    progress.finish()
    return count


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------

#: A text cell starting with one of these is prefixed with ``'`` by the formula guard (the
#: OWASP list, and ``'`` itself so that exactly one leading ``'`` can always be removed).
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r", "'")


def _csv_text(value: _CellValue, guard: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")  # exact digits, never an exponent: 1E+2 -> 100
    if isinstance(value, date):
        return value.isoformat()
    if guard and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_rows(
    sections: list[tuple[str, tuple[Any, ...]]], header: tuple[str, ...], guard: bool
) -> Iterator[list[str]]:
    """Rows of the single-file CSV (``header[0] == "section"``) or of one section's file."""
    with_section = header[0] == _SECTION
    data_columns = header[1:-1] if with_section else header[:-1]
    allowed = frozenset(data_columns)
    for key, records in sections:
        section_cell = [_csv_text(key, guard)] if with_section else []
        for record in records:
            cells, extra = _cells(record, allowed)
            yield [
                *section_cell,
                *(_csv_text(cells.get(name), guard) for name in data_columns),
                _extra_text(extra),
            ]


def _write_csv_file(
    path: Path,
    header: tuple[str, ...],
    rows: Iterator[list[str]],
    encoding: str,
) -> None:
    with atomic_writer(path, mode=None) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        try:
            writer = csv.writer(text)
            writer.writerow(header)
            writer.writerows(rows)
            text.flush()
        except UnicodeEncodeError as exc:
            raise InvalidInput(
                f"{exc.object[exc.start : exc.end]!r} cannot be written in {encoding}; use utf-8"
            ) from None
        finally:
            text.detach()  # the binary file is closed by atomic_writer


def write_csv(
    result: m.ImsInvoices,
    out: PathArg,
    *,
    per_section: bool = False,
    formula_guard: bool = True,
    encoding: str = "utf-8",
    on_progress: ExportProgressCallback | None = None,
) -> list[Path]:
    """Write CSV (the ``excel`` dialect of :mod:`csv`: commas, ``"`` quoting, CRLF rows).

    ``per_section=False``: one file, ``out``, with the columns ``columns(None)`` (the first one
    is ``section``). ``per_section=True``: ``out`` is a directory (created if needed) holding
    ``<section>.csv`` with ``columns(section)`` for every present section, empty ones
    included; a key that is not a safe file name gets a stand-in name (see
    ``docs/export.md``). Returns the paths written, in section order.

    Cells: amounts as exact decimal text without exponent, dates ISO (``YYYY-MM-DD``), codes as
    their wire code (``A``, ``R1``), the return period as on the wire (``MMYYYY``), ``None`` as
    an empty cell, ``extra`` as a JSON object with exact numbers (empty when there is none).

    ``formula_guard`` (on by default) prefixes ``'`` to a text cell starting with ``=``, ``+``,
    ``-``, ``@``, a tab, a carriage return or ``'``, so that a spreadsheet never runs it as a
    formula; remove one leading ``'`` from text cells to read the data back. Amounts, dates and
    ``extra`` are never changed (``-12.10`` stays a number). ``encoding`` is the files' text
    encoding (``"utf-8-sig"`` adds the byte-order mark some Excel versions want).
    ``on_progress(written, total)`` is called as :func:`write_xlsx` calls it.
    """
    result = _check_result(result)
    _check_out(out, streams=False)
    try:
        "".encode(encoding)
    except LookupError:
        raise InvalidInput(f"unknown text encoding {encoding!r}") from None
    _check_progress(on_progress)
    guard = bool(formula_guard)
    sections = _sections(result)
    progress = _Progress(on_progress, _count(sections))
    target = Path(out)
    if not per_section:
        header = columns(None)
        rows = progress.counted(_csv_rows(sections, header, guard))
        _write_csv_file(target, header, rows, encoding)
        progress.finish()
        return [target]
    target.mkdir(parents=True, exist_ok=True)
    names = _safe_names([key for key, _ in sections], 100, _WINDOWS_DEVICES)
    written = []
    for key, records in sections:
        header = columns(key)
        path = target / f"{names[key]}.csv"
        rows = progress.counted(_csv_rows([(key, records)], header, guard))
        _write_csv_file(path, header, rows, encoding)
        written.append(path)
    progress.finish()
    return written


# ----------------------------------------------------------------------------------------------
# Excel
# ----------------------------------------------------------------------------------------------

_XLSX_MAX_ROWS: Final = 1_048_576
#: Rows above the records on a section sheet: readable titles, then wire names.
_HEADER_ROWS: Final = 2
_PAISE: Final = Decimal("0.01")
_ZERO_PAISE: Final = Decimal("0.00")
_PAISE_CONTEXT: Final = Context(prec=100)
#: Column widths come from the column descriptions and at most this many records per sheet.
_WIDTH_SAMPLE: Final = 1_000
#: Excel's day 0 (dates are days since then).
_EXCEL_EPOCH: Final = date(1899, 12, 30).toordinal()
#: Excel counts a 29 February 1900 that never was: its dates are right from 1 March 1900.
_FIRST_SERIAL: Final = date(1900, 3, 1).toordinal() - _EXCEL_EPOCH
_AMOUNT_FORMAT: Final = "#,##0.00"
_DATE_FORMAT: Final = "dd-mm-yyyy"
_PERIOD_FORMAT: Final = "mmm yyyy"
_COUNT_FORMAT: Final = "#,##0"
#: Control characters XML cannot hold (tab and line breaks can), and carriage returns.
_BAD_TEXT: Final = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_TEXT: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CELL_TEXT_MAX: Final = 32_767  # UTF-16 code units

_XlsxKind = Literal["text", "code", "period", "amount", "date", "json"]

#: Readable column titles; ``{Doc}``/``{doc}`` is "Invoice"/"invoice" or "Note"/"note" by the
#: record kind of the sheet (nothing for an unknown section).
_TITLES: Final[Mapping[str, str]] = {
    "supplier_gstin": "Supplier GSTIN",
    "number": "{Doc} number",
    "date": "{Doc} date",
    "original_number": "Original {doc} number",
    "original_date": "Original {doc} date",
    "invoice_type": "Invoice type",
    "place_of_supply": "Place of supply",
    "return_period": "Return period",
    "source_form": "Source form",
    "value": "{Doc} value",
    "taxable_value": "Taxable value",
    "igst": "IGST",
    "cgst": "CGST",
    "sgst": "SGST",
    "cess": "Cess",
    "declared_igst": "Declared IGST",
    "declared_cgst": "Declared CGST",
    "declared_sgst": "Declared SGST",
    "declared_cess": "Declared cess",
    "action": "IMS action",
    "previous_status": "Previous action",
    "source_filing_status": "Source return filed",
    "pending_not_allowed": "Pending not allowed",
    "pending_action_blocked": "Pending blocked",
    "remarks_blocked": "Remarks blocked",
    "itc_reduction_not_allowed": "ITC reduction not allowed",
    "itc_reduction_request_blocked": "ITC reduction blocked",
    "itc_reduction_required": "ITC reduction required",
    "remarks": "Remarks",
    "hash": "Hash",
    _EXTRA: "Other fields (JSON)",
}
#: (smallest, largest) column width in characters by kind of value.
_WIDTH_LIMITS: Final[Mapping[_XlsxKind, tuple[float, float]]] = {
    "amount": (10, 22),
    "date": (11, 11),
    "period": (9, 11),
    "code": (6, 16),
    "text": (8, 40),
    "json": (12, 50),
}
#: Narrower bounds for some columns (a 64-digit hash is for programs, not to be read whole).
_WIDTH_CAPS: Final[Mapping[str, float]] = {"hash": 18}
#: Amount columns totalled on the Summary sheet, in order.
_SUMMARY_AMOUNTS: Final = ("value", "taxable_value", "igst", "cgst", "sgst", "cess")


@attrs.frozen
class _SheetColumn:
    """One column of a sheet: readable title, wire name (second header row), kind of value.

    The sheet writer is generic over a list of these (IMS sections now; other returns later).
    """

    name: str
    title: str
    wire: str
    kind: _XlsxKind


def _title(name: str, doc: str) -> str:
    template = _TITLES.get(name)
    if template is None:  # a field added to the models after this table
        return name.replace("_", " ").capitalize()
    text = template.format(Doc=doc.capitalize(), doc=doc).strip()
    return text[0].upper() + text[1:]


def _sheet_columns(key: str) -> tuple[_SheetColumn, ...]:
    """The columns of a section's sheet: ``columns(key)`` with titles and wire names."""
    cls = m.SECTION_RECORD_TYPES.get(key)
    cols = _CLASS_COLUMNS[cls] if cls is not None else _BASE
    wires = {col.wire for col in cols}
    doc = "note" if "nt_num" in wires else "invoice" if "inum" in wires else ""
    out = [_SheetColumn(col.name, _title(col.name, doc), col.wire, col.kind) for col in cols]
    out.append(_SheetColumn(_EXTRA, _title(_EXTRA, doc), _EXTRA, "json"))
    return tuple(out)


def _paise(value: Decimal) -> Decimal:
    """``value`` rounded half up to paise, with precision enough for any magnitude."""
    if value.adjusted() < 90:
        rounded = value.quantize(_PAISE, ROUND_HALF_UP, _PAISE_CONTEXT)
    else:  # pragma: no cover - an amount of more than 90 digits
        context = Context(prec=value.adjusted() + 4)
        rounded = value.quantize(_PAISE, rounding=ROUND_HALF_UP, context=context)
    return rounded if rounded else _ZERO_PAISE  # never -0.00


def _xlsx_text(value: str) -> str:
    """Text as a cell can hold it: no control characters, no CR, at most 32,767 units."""
    if _BAD_TEXT.search(value):
        value = _ILLEGAL_TEXT.sub("\ufffd", value)
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # XML keeps no CR
    if len(value) > _CELL_TEXT_MAX // 2:
        units = value.encode("utf-16-le", "surrogatepass")
        if len(units) > 2 * _CELL_TEXT_MAX:
            cut = units[: 2 * (_CELL_TEXT_MAX - 1)].decode("utf-16-le", "ignore")
            value = cut + "…"
    return value


def _period_serial(text: str) -> int | None:
    """The Excel date of a return period's first day, or ``None`` if ``text`` is no MMYYYY or
    its month is before Excel's calendar is right (before March 1900): it is then kept as
    text."""
    try:
        period = ReturnPeriod.parse(text)
    except ValueError:
        return None
    serial = date(period.year, period.month, 1).toordinal() - _EXCEL_EPOCH
    return serial if serial >= _FIRST_SERIAL else None


def _shown_width(kind: _XlsxKind, value: _CellValue) -> int:
    if value is None:
        return 0
    if kind == "amount":
        assert isinstance(value, Decimal)
        return len(f"{_paise(value):,}")
    if kind in ("date", "period"):
        return 10
    assert isinstance(value, str)
    return max(map(len, value.split("\n")))


def _widths(columns: Sequence[_SheetColumn], sample: Sequence[Sequence[_CellValue]]) -> list[float]:
    """Fitted widths from the titles, wire names and a bounded sample of rows."""
    widths = []
    for i, col in enumerate(columns):
        low, high = _WIDTH_LIMITS[col.kind]
        content = max((_shown_width(col.kind, row[i]) for row in sample), default=0)
        if col.kind in ("text", "code", "json"):
            content = round(content * 1.1)  # wider letters than the default font's digits
        high = _WIDTH_CAPS.get(col.name, high)
        fitted = min(high, max(low, len(col.wire) + 1, content + 2))
        widths.append(max(_title_width(col.title), fitted))
    return widths


def _title_width(title: str) -> int:
    """The width that shows ``title`` in bold on at most two lines, broken between words."""
    words = title.split()
    lines = min(
        max(len(" ".join(words[:cut])), len(" ".join(words[cut:])))
        for cut in range(1, len(words) + 1)
    )
    return -(-lines * 11 // 10) + 1  # bold letters are about a tenth wider


#: The workbook's cell styles (indexes into ``cellXfs`` of ``_STYLES_XML``).
_S_HEADER, _S_HEADER_NUMBER, _S_WIRE, _S_AMOUNT, _S_DATE, _S_PERIOD, _S_COUNT = range(1, 8)
_S_TITLE, _S_KEY, _S_TOTAL, _S_TOTAL_AMOUNT, _S_TOTAL_COUNT, _S_NOTE, _S_LINK = range(8, 15)
_S_CODE, _S_JSON = range(15, 17)

_MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_LINE: Final = 'style="thin"><color rgb="FF9BC2E6"/>'
_STYLES_XML: Final = (
    f'{_XML_DECL}<styleSheet xmlns="{_MAIN_NS}">'
    f'<numFmts count="3"><numFmt numFmtId="164" formatCode="{_DATE_FORMAT}"/>'
    f'<numFmt numFmtId="165" formatCode="{_PERIOD_FORMAT}"/>'
    f'<numFmt numFmtId="166" formatCode="{_AMOUNT_FORMAT}"/></numFmts>'
    '<fonts count="6">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="14"/><name val="Calibri"/><family val="2"/></font>'
    '<font><i/><sz val="8"/><color rgb="FF595959"/><name val="Calibri"/><family val="2"/></font>'
    '<font><i/><sz val="11"/><color rgb="FF595959"/><name val="Calibri"/><family val="2"/></font>'
    '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/><family val="2"/></font>'
    "</fonts>"
    '<fills count="4"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/>'
    "</patternFill></fill>"
    '<fill><patternFill patternType="solid"><fgColor rgb="FFF2F2F2"/><bgColor indexed="64"/>'
    "</patternFill></fill></fills>"
    '<borders count="4"><border><left/><right/><top/><bottom/><diagonal/></border>'
    f"<border><left {_LINE}</left><right {_LINE}</right><top {_LINE}</top>"
    f"<bottom {_LINE}</bottom><diagonal/></border>"
    f"<border><left/><right/><top/><bottom {_LINE}</bottom><diagonal/></border>"
    '<border><left/><right/><top style="thin"><color auto="1"/></top><bottom/><diagonal/>'
    "</border></borders>"
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="17">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1"'
    ' applyBorder="1" applyAlignment="1"><alignment vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1"'
    ' applyBorder="1" applyAlignment="1">'
    '<alignment horizontal="right" vertical="top" wrapText="1"/></xf>'
    '<xf numFmtId="0" fontId="3" fillId="3" borderId="2" xfId="0" applyFont="1" applyFill="1"'
    ' applyBorder="1"/>'
    '<xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyAlignment="1"><alignment horizontal="left"/></xf>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"'
    ' applyAlignment="1"><alignment horizontal="left"/></xf>'
    '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="3" xfId="0" applyFont="1"'
    ' applyBorder="1"/>'
    '<xf numFmtId="166" fontId="1" fillId="0" borderId="3" xfId="0" applyNumberFormat="1"'
    ' applyFont="1" applyBorder="1"/>'
    '<xf numFmtId="3" fontId="1" fillId="0" borderId="3" xfId="0" applyNumberFormat="1"'
    ' applyFont="1" applyBorder="1"/>'
    '<xf numFmtId="0" fontId="4" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="5" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment horizontal="center"/></xf>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" applyAlignment="1">'
    '<alignment horizontal="left" indent="1"/></xf>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
#: Above this many records a sheet's XML might pass 2 GiB: its zip entry is Zip64.
_ZIP64_ROWS: Final = 2**31 // 4_096
#: Rows are joined and compressed this many at a time.
_ROWS_PER_CHUNK: Final = 256


def _letter(index: int) -> str:
    """The column letters of a 0-based column index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _escape(text: str) -> str:
    """Text for XML content and attributes; ``_xHHHH_`` kept literal (Excel decodes it)."""
    if "&" in text or "<" in text or ">" in text or '"' in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        text = text.replace('"', "&quot;")
    if "_x" in text:
        text = _EXCEL_ESCAPE.sub(r"_x005F\1", text)
    return text


_EXCEL_ESCAPE: Final = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
#: Text that :func:`_text_cell` must clean, escape or mark as keeping its spaces.
_SPECIAL_TEXT: Final = re.compile('[\x00-\x1f&<>"\ud800-\udfff\ufffe\uffff]|_x|^\\s|\\s$')


def _text_cell(ref: str, text: str, style: int = 0) -> str:
    text = _escape(_xlsx_text(text))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _cell(ref: str, value: str | int | Decimal | None, style: int = 0) -> str:
    """One cell: text, a number (``int``/``Decimal``, written with its exact digits), or a
    styled blank."""
    if value is None:
        return f'<c r="{ref}" s="{style}"/>' if style else ""
    if isinstance(value, str):
        return _text_cell(ref, value, style)
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


def _sheet_start(widths: Sequence[float], frozen_rows: int, last_ref: str, selected: bool) -> str:
    view = ' tabSelected="1"' if selected else ""
    if frozen_rows:
        top = f"A{frozen_rows + 1}"
        pane = (
            f'<pane ySplit="{frozen_rows}" topLeftCell="{top}" activePane="bottomLeft"'
            f' state="frozen"/><selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>'
        )
    else:
        pane = ""
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
        for i, w in enumerate(widths, start=1)
    )
    return (
        f'{_XML_DECL}<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
        '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        f'<dimension ref="A1:{last_ref}"/>'
        f'<sheetViews><sheetView workbookViewId="0"{view}>{pane}</sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"<cols>{cols}</cols><sheetData>"
    )


def _sheet_end(autofilter: str | None, links: Sequence[tuple[str, str]]) -> str:
    """Close ``sheetData``; the filter, internal links, A4 landscape one page wide, a footer."""
    parts = ["</sheetData>"]
    if autofilter:
        parts.append(f'<autoFilter ref="{autofilter}"/>')
    if links:
        parts.append("<hyperlinks>")
        parts += [f'<hyperlink ref="{ref}" location="{_escape(target)}"/>' for ref, target in links]
        parts.append("</hyperlinks>")
    parts.append(
        '<pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>'
        '<pageSetup paperSize="9" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        "<headerFooter><oddFooter>&amp;L&amp;A&amp;RPage &amp;P of &amp;N</oddFooter>"
        "</headerFooter></worksheet>"
    )
    return "".join(parts)


class _Book:
    """A workbook streamed into a zip file: sheets are written one at a time, in any order."""

    def __init__(self, archive: zipfile.ZipFile, names: Sequence[str]) -> None:
        self._zip = archive
        self._names = list(names)  # in tab order; the first one is selected
        self._defined: list[str] = []

    def part(self, index: int) -> str:
        return f"xl/worksheets/sheet{index + 1}.xml"

    def define(self, index: int, name: str, ref: str, *, hidden: bool = False) -> None:
        """A sheet-local defined name (the filter range, the print titles)."""
        flag = ' hidden="1"' if hidden else ""
        quoted = _escape(self._names[index].replace("'", "''"))
        self._defined.append(
            f'<definedName name="{name}" localSheetId="{index}"{flag}>'
            f"'{quoted}'!{ref}</definedName>"
        )

    def finish(self) -> None:
        """Write the workbook, its relationships, styles and content types."""
        count = len(self._names)
        sheets = "".join(
            f'<sheet name="{_escape(name)}" sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i, name in enumerate(self._names)
        )
        defined = f"<definedNames>{''.join(self._defined)}</definedNames>" if self._defined else ""
        workbook = (
            f'{_XML_DECL}<workbook xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{sheets}</sheets>{defined}</workbook>"
        )
        rels = "".join(
            f'<Relationship Id="rId{i + 1}" Type="{_REL_NS}/worksheet"'
            f' Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(count)
        )
        rels += f'<Relationship Id="rId{count + 1}" Type="{_REL_NS}/styles" Target="styles.xml"/>'
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        overrides = "".join(
            f'<Override PartName="/{self.part(i)}" ContentType="{sheet_type}"/>'
            for i in range(count)
        )
        office = "application/vnd.openxmlformats-officedocument"
        write = self._zip.writestr
        write(
            "[Content_Types].xml",
            f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types">'
            f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{office}.spreadsheetml.'
            'sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{office}.spreadsheetml.'
            'styles+xml"/>'
            f"{overrides}</Types>",
        )
        write(
            "_rels/.rels",
            f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1"'
            f' Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        write("xl/workbook.xml", workbook)
        write(
            "xl/_rels/workbook.xml.rels",
            f'{_XML_DECL}<Relationships xmlns="{_PKG_REL_NS}">{rels}</Relationships>',
        )
        write("xl/styles.xml", _STYLES_XML)


class _RowCells:
    """The cells of a sheet's data rows as XML, adding up the amount columns as written."""

    __slots__ = ("kinds", "letters", "periods", "style_attrs", "sums", "text_styles")

    def __init__(self, columns: Sequence[_SheetColumn], letters: Sequence[str]) -> None:
        self.letters = letters
        self.kinds = [col.kind for col in columns]
        self.text_styles = [
            _S_CODE if k == "code" else _S_JSON if k == "json" else 0 for k in self.kinds
        ]
        self.style_attrs = [f' s="{style}"' if style else "" for style in self.text_styles]
        self.periods: dict[str, int | None] = {}  # return periods repeat: parse each once
        self.sums = [Decimal(0)] * len(columns)

    def row(self, r: int, row: Sequence[_CellValue]) -> str:
        """Row ``r``'s ``<row>`` element (empty cells left out); amounts added to the sums."""
        kinds, letters, cells = self.kinds, self.letters, []
        for c, value in enumerate(row):
            if value is None:
                continue
            kind = kinds[c]
            if kind == "amount":
                assert isinstance(value, Decimal)
                if value.adjusted() < 90:  # _paise(value), inline: the hottest line
                    rounded = value.quantize(_PAISE, ROUND_HALF_UP, _PAISE_CONTEXT)
                    if not rounded:
                        rounded = _ZERO_PAISE
                else:  # pragma: no cover - an amount of more than 90 digits
                    rounded = _paise(value)
                self.sums[c] += rounded
                cells.append(f'<c r="{letters[c]}{r}" s="{_S_AMOUNT}"><v>{rounded}</v></c>')
            elif kind == "date":
                assert isinstance(value, date)
                cells.append(self._date(f"{letters[c]}{r}", value))
            elif kind == "period":
                assert isinstance(value, str)
                cells.append(self._period(f"{letters[c]}{r}", value))
            else:
                assert isinstance(value, str)
                if len(value) > _CELL_TEXT_MAX // 2 or _SPECIAL_TEXT.search(value):
                    cells.append(_text_cell(f"{letters[c]}{r}", value, self.text_styles[c]))
                else:  # nothing to clean or escape: _text_cell, inline
                    cells.append(
                        f'<c r="{letters[c]}{r}"{self.style_attrs[c]} t="inlineStr"><is><t>'
                        f"{value}</t></is></c>"
                    )
        return f'<row r="{r}">{"".join(cells)}</row>'

    @staticmethod
    def _date(ref: str, value: date) -> str:
        serial = value.toordinal() - _EXCEL_EPOCH
        if serial < _FIRST_SERIAL:  # before Excel's calendar is right: ISO text
            return _text_cell(ref, value.isoformat())
        return f'<c r="{ref}" s="{_S_DATE}"><v>{serial}</v></c>'

    def _period(self, ref: str, value: str) -> str:
        periods = self.periods
        if value in periods:
            serial = periods[value]
        else:
            serial = periods[value] = _period_serial(value)
        if serial is None:  # an unknown section's text that is no period
            return _text_cell(ref, value)
        return f'<c r="{ref}" s="{_S_PERIOD}"><v>{serial}</v></c>'


def _sheet_head(
    columns: Sequence[_SheetColumn],
    letters: Sequence[str],
    sample: Sequence[Sequence[_CellValue]],
    last_row: int,
) -> str:
    """A data sheet's start: fitted widths, frozen header rows, the title and wire-name rows."""
    head = _sheet_start(_widths(columns, sample), _HEADER_ROWS, f"{letters[-1]}{last_row}", False)
    titles = "".join(
        _text_cell(
            f"{letters[i]}1", col.title, _S_HEADER_NUMBER if col.kind == "amount" else _S_HEADER
        )
        for i, col in enumerate(columns)
    )
    wires = "".join(
        _text_cell(f"{letters[i]}2", col.wire, _S_WIRE) for i, col in enumerate(columns)
    )
    return head + f'<row r="1" ht="31" customHeight="1">{titles}</row><row r="2">{wires}</row>'


def _write_sheet(
    book: _Book,
    index: int,
    columns: Sequence[_SheetColumn],
    rows: Iterator[Sequence[_CellValue]],
    *,
    count: int,
    progress: _Progress,
) -> dict[str, Decimal]:
    """Stream a sheet of ``count`` rows described by a column list; the amount totals.

    Before the rows: widths fitted to the titles and a sample of at most ``_WIDTH_SAMPLE``
    rows; titles (row 1) and wire names (row 2), frozen and printed on every page; a filter on
    row 2 over every row. Amount totals add the cells as written (rounded to paise).
    """
    sample = list(itertools.islice(rows, _WIDTH_SAMPLE))
    letters = [_letter(i) for i in range(len(columns))]
    last_row = _HEADER_ROWS + count
    filter_ref = f"$A${_HEADER_ROWS}:${letters[-1]}${last_row}"
    book.define(index, "_xlnm._FilterDatabase", filter_ref, hidden=True)
    book.define(index, "_xlnm.Print_Titles", f"$1:${_HEADER_ROWS}")
    cells = _RowCells(columns, letters)
    row_xml = cells.row
    # Zip64 only where a sheet might pass 2 GiB (some Excel versions refuse it otherwise)
    with book._zip.open(book.part(index), "w", force_zip64=count > _ZIP64_ROWS) as handle:
        handle.write(_sheet_head(columns, letters, sample, last_row).encode())
        chunk: list[str] = []
        done = progress.done
        report = progress.next_at
        r = _HEADER_ROWS
        for row in itertools.chain(sample, rows):
            r += 1
            chunk.append(row_xml(r, row))
            done += 1
            if done >= report:
                report = progress.report(done)
            if len(chunk) >= _ROWS_PER_CHUNK:
                handle.write("".join(chunk).encode())
                chunk.clear()
        chunk.append(_sheet_end(filter_ref.replace("$", ""), ()))
        handle.write("".join(chunk).encode())
        progress.done = done
    if r != last_row:  # pragma: no cover - the records changed under us
        raise RuntimeError(f"wrote {r - _HEADER_ROWS} rows, expected {count}")
    sums = cells.sums
    return {col.name: sums[c] for c, col in enumerate(columns) if col.kind == "amount"}


def _section_rows(key: str, records: tuple[Any, ...]) -> Iterator[list[_CellValue]]:
    """An IMS section's rows in the order of ``columns(key)``."""
    header = columns(key)
    data_columns = header[:-1]
    allowed = frozenset(data_columns)
    for record in records:
        cells, extra = _cells(record, allowed)
        row = [cells.get(name) for name in data_columns]
        row.append(_extra_text(extra) if extra else None)
        yield row


_SummaryCell = tuple[str | int | Decimal | None, int]


def _write_summary(
    book: _Book,
    title: str,
    info: Mapping[str, str],
    sections: list[tuple[str, str, int, dict[str, Decimal]]],
) -> None:
    """The Summary sheet (the first): the download's details, records and totals per section."""
    amounts_titles = [_title(name, "") for name in _SUMMARY_AMOUNTS]
    rows: list[list[_SummaryCell]] = [[(title, _S_TITLE)], []]
    rows += [[(key, _S_KEY), (value, 0)] for key, value in info.items()]
    rows.append([])
    head = ["Section", "Sheet", "Records", *amounts_titles]
    rows.append([(text, _S_HEADER_NUMBER if c >= 2 else _S_HEADER) for c, text in enumerate(head)])
    links: list[tuple[str, str]] = []
    grand = [Decimal(0)] * len(_SUMMARY_AMOUNTS)
    count = 0
    for key, name, records, totals in sections:
        label = key.upper() if key in m.SECTION_RECORD_TYPES else key
        amounts = [totals.get(a) for a in _SUMMARY_AMOUNTS]
        grand = [g + (a or 0) for g, a in zip(grand, amounts, strict=True)]
        count += records
        links.append((f"B{len(rows) + 1}", f"'{name}'!A1"))
        rows.append(
            [(label, 0), (name, _S_LINK), (records, _S_COUNT), *((a, _S_AMOUNT) for a in amounts)]
        )
    rows.append(
        [
            ("Total", _S_TOTAL),
            (None, _S_TOTAL),
            (count, _S_TOTAL_COUNT),
            *((a, _S_TOTAL_AMOUNT) for a in grand),
        ]
    )
    rows.append([])
    rows.append(
        [
            (
                "Totals add the amounts as each sheet shows them (rounded to the paisa); "
                "the JSON and CSV exports keep the exact amounts.",
                _S_NOTE,
            )
        ]
    )
    amount_width = max([len(f"{a:,}") + 3 for a in grand] + [14])
    widths = [
        max([16, *(len(k) + 2 for k in info)]),
        max([16, *(len(n) + 2 for _, n, _, _ in sections)]),
        10,
        *[amount_width] * len(_SUMMARY_AMOUNTS),
    ]
    last = f"{_letter(len(widths) - 1)}{len(rows)}"
    body = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(_cell(f"{_letter(c)}{r}", v, s) for c, (v, s) in enumerate(row))
        body.append(f'<row r="{r}">{cells}</row>' if cells else "")
    xml = _sheet_start(widths, 0, last, True) + "".join(body) + _sheet_end(None, links)
    book._zip.writestr(book.part(0), xml.encode())


def _check_info(info: object) -> Mapping[str, str]:
    if info is None:
        return {}
    if not isinstance(info, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in info.items()
    ):
        raise InvalidInput(f"info must be a mapping of text to text, got {info!r}")
    return info


def write_xlsx(
    result: m.ImsInvoices,
    out: PathArg | BinaryIO,
    *,
    info: Mapping[str, str] | None = None,
    on_progress: ExportProgressCallback | None = None,
) -> int:
    """Write an Excel workbook (``.xlsx``) made to be read by people; return the records written.

    The workbook is streamed straight into its zip file, a sheet at a time: memory does not
    grow with the records, and no other library is needed.

    Sheets: first **Summary** (the lines of ``info``, such as ``{"GSTIN": ...}``, then records
    and amount totals per section, each section linked to its sheet), then one sheet per
    present section, empty ones included, named after the section key (a key that is no valid
    sheet name, or is ``summary`` or ``history``, gets a stand-in). A section sheet has two
    header rows: readable titles (``Supplier GSTIN``, ``Invoice date``, ``Taxable value``) and
    below them, small and grey, the wire names (``stin``, ``idt``, ``txval``; ``extra`` for the
    last column). Both are frozen and repeated on every printed page; the filter buttons are on
    the wire-name row; columns are fitted to the titles and the first 1,000 records; print
    setup is A4 landscape, one page wide.

    Cells: amounts are numbers rounded half up to paise, shown ``#,##0.00``; dates are dates
    shown ``dd-mm-yyyy``; the return period is the date of its month's first day shown
    ``mmm yyyy`` (so it sorts and filters by time); codes and text are text cells (never
    formulas, so no formula guard is needed); ``extra`` is a JSON object. Excel's limits apply:
    numbers hold 15 significant digits (exact to the paisa below 10^13 rupees), a cell holds
    32,767 characters (a longer text is cut, ending in ``…``), control characters other than
    tab and line breaks become ``U+FFFD``, and a sheet holds 1,048,574 records (more raise
    :class:`~flynn_async.InvalidInput` before anything is written). Use CSV or JSON for an
    exact copy.

    ``on_progress(written, total)`` is called with ``(0, total)`` first, every 1,000 records,
    and ``(total, total)`` once the file is complete. ``out`` is a path (written atomically)
    or a binary stream.
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    details = _check_info(info)
    _check_progress(on_progress)
    sections = _sections(result)
    for key, records in sections:
        if len(records) > _XLSX_MAX_ROWS - _HEADER_ROWS:
            raise InvalidInput(
                f"section {key!r} has {len(records)} records; an Excel sheet holds "
                f"{_XLSX_MAX_ROWS - _HEADER_ROWS} below its two header rows: export it as CSV"
            )
    names = _safe_names([key for key, _ in sections], 31, frozenset({"history", "summary"}))
    progress = _Progress(on_progress, _count(sections))
    with (
        _binary_out(out) as f,
        zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        book = _Book(archive, ["Summary", *(names[key] for key, _ in sections)])
        written: list[tuple[str, str, int, dict[str, Decimal]]] = []
        for index, (key, records) in enumerate(sections, start=1):
            rows = _section_rows(key, records)
            totals = _write_sheet(
                book, index, _sheet_columns(key), rows, count=len(records), progress=progress
            )
            written.append((key, names[key], len(records), totals))
        _write_summary(book, "IMS invoices", details, written)
        book.finish()
    progress.finish()
    return progress.total


# ----------------------------------------------------------------------------------------------
# By format name
# ----------------------------------------------------------------------------------------------


def _write_json_file(result: m.ImsInvoices, out: PathArg, **options: Any) -> list[Path]:
    write_json(result, out, **options)
    return [Path(out)]


def _write_jsonl_file(result: m.ImsInvoices, out: PathArg, **options: Any) -> list[Path]:
    write_jsonl(result, out, **options)
    return [Path(out)]


def _write_xlsx_file(result: m.ImsInvoices, out: PathArg, **options: Any) -> list[Path]:
    write_xlsx(result, out, **options)
    return [Path(out)]


_WRITERS: Final[Mapping[str, tuple[Callable[..., Any], Callable[..., list[Path]]]]] = {
    "json": (write_json, _write_json_file),
    "jsonl": (write_jsonl, _write_jsonl_file),
    "csv": (write_csv, write_csv),
    "xlsx": (write_xlsx, _write_xlsx_file),
}
assert tuple(_WRITERS) == FORMATS


def export(result: m.ImsInvoices, out: PathArg, format: str, **options: Any) -> list[Path]:
    """Write ``result`` to ``out`` in ``format`` (one of :data:`FORMATS`); return the paths.

    ``options`` are the keyword options of that format's writer (``per_section`` and
    ``formula_guard`` for CSV, ``indent`` for JSON, ``info`` for Excel, ``on_progress`` for
    every format, ...). An unknown format or option, or an
    ``out`` that is not a path, raises :class:`~flynn_async.InvalidInput` before anything is
    written.
    """
    result = _check_result(result)
    _check_out(out, streams=False)
    name = format.strip().lower() if isinstance(format, str) else None
    if name not in _WRITERS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    public, write = _WRITERS[name]
    params = inspect.signature(public).parameters
    accepted = [p.name for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InvalidInput(
            f"the {name} export takes no option {', '.join(unknown)}; "
            f"it takes: {', '.join(accepted) or 'none'}"
        )
    return write(result, out, **options)


# ----------------------------------------------------------------------------------------------
# GSTR-2B (issue 17): one row per document, the summaries in their own file or sheet
# ----------------------------------------------------------------------------------------------

#: The columns of a 2B document row: (name, wire name, kind), the supplier's first.
_G2B_COLUMNS: Final[tuple[tuple[str, str, _XlsxKind], ...]] = (
    ("rejected", "docRejdata", "code"),
    ("section", "section", "code"),
    ("supplier_gstin", "ctin", "code"),
    ("trade_name", "trdnm", "text"),
    ("supplier_period", "supprd", "period"),
    ("filing_date", "supfildt", "date"),
    ("number", "inum", "text"),
    ("date", "dt", "date"),
    ("type", "typ", "code"),
    ("note_type", "typ", "code"),
    ("supply_type", "suptyp", "code"),
    ("document_type", "doctyp", "code"),
    ("original_number", "oinum", "text"),
    ("original_date", "oidt", "date"),
    ("original_note_type", "onttyp", "code"),
    ("original_document_type", "odoctyp", "code"),
    ("original_invoice_number", "oinvnum", "text"),
    ("original_invoice_date", "oinvdt", "date"),
    ("port_code", "portcode", "code"),
    ("reference_date", "refdt", "date"),
    ("received_date", "recdt", "date"),
    ("amended", "isamd", "code"),
    ("value", "val", "amount"),
    ("taxable_value", "txval", "amount"),
    ("igst", "igst", "amount"),
    ("cgst", "cgst", "amount"),
    ("sgst", "sgst", "amount"),
    ("cess", "cess", "amount"),
    ("place_of_supply", "pos", "code"),
    ("reverse_charge", "rev", "code"),
    ("itc_available", "itcavl", "code"),
    ("itc_eligible", "itcelg", "code"),
    ("reason", "rsn", "code"),
    ("differential_percentage", "diffprcnt", "amount"),
    ("source_type", "srctyp", "code"),
    ("irn", "irn", "text"),
    ("irn_date", "irngendate", "date"),
    ("ims_status", "imsStatus", "code"),
    (_EXTRA, _EXTRA, "json"),
)
#: The ITC summary's rows: bucket, group, section (``total`` for the group's totals).
_G2B_ITC_COLUMNS: Final[tuple[tuple[str, str, _XlsxKind], ...]] = (
    ("bucket", "bucket", "code"),
    ("group", "group", "code"),
    ("section", "section", "code"),
    ("taxable_value", "txval", "amount"),
    ("igst", "igst", "amount"),
    ("cgst", "cgst", "amount"),
    ("sgst", "sgst", "amount"),
    ("cess", "cess", "amount"),
)
#: The supplier summary's rows (``cpsumm``).
_G2B_SUPPLIER_COLUMNS: Final[tuple[tuple[str, str, _XlsxKind], ...]] = (
    ("section", "section", "code"),
    ("supplier_gstin", "ctin", "code"),
    ("trade_name", "trdnm", "text"),
    ("supplier_period", "supprd", "period"),
    ("filing_date", "supfildt", "date"),
    ("document_count", "ttldocs", "code"),
    ("note_type", "nttyp", "code"),
    ("document_type", "doctyp", "code"),
    ("port_code", "portcode", "code"),
    ("taxable_value", "txval", "amount"),
    ("igst", "igst", "amount"),
    ("cgst", "cgst", "amount"),
    ("sgst", "sgst", "amount"),
    ("cess", "cess", "amount"),
)
_G2B_TITLES: Final[Mapping[str, str]] = {
    "rejected": "Rejected in IMS",
    "supplier_gstin": "Supplier GSTIN",
    "trade_name": "Supplier trade name",
    "supplier_period": "Supplier return period",
    "filing_date": "Supplier filing date",
    "number": "Document number",
    "date": "Document date",
    "type": "Invoice type",
    "note_type": "Note type",
    "supply_type": "Supply type",
    "document_type": "ISD document type",
    "original_invoice_number": "Original invoice number",
    "original_invoice_date": "Original invoice date",
    "igst": "IGST",
    "cgst": "CGST",
    "sgst": "SGST",
    "itc_available": "ITC available",
    "itc_eligible": "ITC eligible",
    "differential_percentage": "Differential percentage",
    "irn": "IRN",
    "irn_date": "IRN date",
    "ims_status": "IMS status",
    "document_count": "Documents",
    _EXTRA: "Other fields (JSON)",
}

#: The 2B tables an export writes: documents, then the two summaries.
GSTR2B_TABLES: Final[tuple[str, ...]] = ("documents", "itc-summary", "supplier-summary")


def _g2b_value(kind: _XlsxKind, value: Any) -> _CellValue:
    if value is None:
        return None
    if kind == "amount":
        return value if isinstance(value, Decimal) else Decimal(value)
    if kind == "date":
        return value if isinstance(value, date) else None
    return value if isinstance(value, str) else str(value)


def _g2b_document_rows(result: Any) -> Iterator[list[_CellValue]]:
    """One row per 2B document, accepted then rejected, the supplier's fields repeated."""
    for rejected, docs in (("N", result.documents), ("Y", result.rejected)):
        if docs is None:
            continue
        for section, supplier, document in docs.documents():
            row: list[_CellValue] = []
            for name, _, kind in _G2B_COLUMNS:
                if name == "rejected":
                    row.append(rejected)
                elif name == "section":
                    row.append(section)
                elif name == _EXTRA:
                    extra = dict(document.to_dict())
                    for f in _codec.wire_fields(type(document)):
                        if f.kind != "list":  # item lines stay with what is not a column
                            extra.pop(f.wire, None)
                    row.append(_extra_text(extra) if extra else None)
                else:
                    value = getattr(document, name, None)
                    if value is None and supplier is not None:
                        value = getattr(supplier, name, None)
                    row.append(_g2b_value(kind, value))
            yield row


def _g2b_itc_rows(result: Any) -> Iterator[list[_CellValue]]:
    summary = result.itc_summary
    if summary is None:
        return
    for bucket_name, bucket in summary.buckets.items():
        for group_name, group in bucket.groups.items():
            parts = [("total", group.totals), *group.sections.items()]
            for section, amounts in parts:
                yield [
                    bucket_name,
                    group_name,
                    section,
                    *(getattr(amounts, n) for n in ("taxable_value", *_G2B_TAXES)),
                ]


_G2B_TAXES: Final = ("igst", "cgst", "sgst", "cess")


def _g2b_supplier_rows(result: Any) -> Iterator[list[_CellValue]]:
    for section, rows in (result.supplier_summary or {}).items():
        for row in rows:
            yield [section] + [
                _g2b_value(kind, getattr(row, name)) for name, _, kind in _G2B_SUPPLIER_COLUMNS[1:]
            ]


_G2B_TABLE_SPECS: Final = {
    "documents": (_G2B_COLUMNS, _g2b_document_rows),
    "itc-summary": (_G2B_ITC_COLUMNS, _g2b_itc_rows),
    "supplier-summary": (_G2B_SUPPLIER_COLUMNS, _g2b_supplier_rows),
}


def gstr2b_rows(result: Gstr2b, table: str = "documents") -> Iterator[dict[str, _CellValue]]:
    """The rows of a :class:`~flynn_async.Gstr2b` table as ``{column: value}`` dicts.

    ``table`` is one of :data:`GSTR2B_TABLES`: ``documents`` (one row per document, accepted
    ones then the ones rejected in IMS, with the supplier's fields repeated and a ``rejected``
    column ``Y``/``N``), ``itc-summary`` (bucket, group, section and the tax amounts; the
    group's own totals under section ``total``) or ``supplier-summary`` (``cpsumm``). Amounts
    are exact :class:`~decimal.Decimal` values, dates :class:`~datetime.date` values.
    """
    _check_gstr2b(result)
    if table not in _G2B_TABLE_SPECS:
        raise InvalidInput(f"table must be one of {', '.join(GSTR2B_TABLES)}, got {table!r}")
    columns, make = _G2B_TABLE_SPECS[table]
    names = [name for name, _, _ in columns]
    for row in make(result):
        yield dict(zip(names, row, strict=True))


def _check_gstr2b(result: object) -> None:
    if not isinstance(result, Gstr2b):
        raise InvalidInput(f"result must be a Gstr2b, got {type(result).__name__}")


def _g2b_paths(out: Path) -> dict[str, Path]:
    return {
        table: out if table == "documents" else out.with_name(f"{out.stem}.{table}{out.suffix}")
        for table in GSTR2B_TABLES
    }


def _g2b_json_value(value: _CellValue) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def export_gstr2b(
    result: Gstr2b,
    out: PathArg,
    format: str,
    *,
    info: Mapping[str, str] | None = None,
    formula_guard: bool = True,
) -> list[Path]:
    """Write a :class:`~flynn_async.Gstr2b` to ``out`` in ``format``; return the paths written.

    - ``json``: the 2B document as the server sent it (``to_dict()``), one file;
    - ``jsonl`` and ``csv``: the documents (one row per document, see :func:`gstr2b_rows`) in
      ``out``, the summaries in ``<stem>.itc-summary<ext>`` and
      ``<stem>.supplier-summary<ext>`` beside it; amounts with their exact digits, dates ISO
      (``YYYY-MM-DD``); CSV cells starting like a formula get a ``'`` unless
      ``formula_guard`` is false;
    - ``xlsx``: one workbook with the sheets ``Documents``, ``ITC summary`` and ``Supplier
      summary``, in the style of the IMS workbook (titles over wire names, amounts rounded to
      paise, dates as dates, filters, frozen headers); ``info`` lines go nowhere else, so
      they are ignored here.

    Every file is written atomically.
    """
    _check_gstr2b(result)
    _check_out(out, streams=False)
    _check_info(info)
    name = format.strip().lower() if isinstance(format, str) else None
    if name not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    path = Path(out)
    if name == "json":
        with atomic_writer(path, mode=None) as f:
            f.write(dumps(result.to_dict()))
        return [path]
    if name == "xlsx":
        _g2b_xlsx(result, path)
        return [path]
    paths = _g2b_paths(path)
    for table, target in paths.items():
        columns, make = _G2B_TABLE_SPECS[table]
        header = tuple(col for col, _, _ in columns)
        if name == "csv":
            rows = ([_csv_text(v, formula_guard) for v in row] for row in make(result))
            _write_csv_file(target, header, rows, "utf-8")
        else:
            with atomic_writer(target, mode=None) as f:
                for row in make(result):
                    record = {k: _g2b_json_value(v) for k, v in zip(header, row, strict=True)}
                    f.write(dumps(record) + b"\n")
    return list(paths.values())


def _g2b_sheet_columns(columns: Sequence[tuple[str, str, _XlsxKind]]) -> list[_SheetColumn]:
    return [
        _SheetColumn(name, _G2B_TITLES.get(name, name.replace("_", " ").capitalize()), wire, kind)
        for name, wire, kind in columns
    ]


def _g2b_xlsx(result: Any, path: Path) -> None:
    tables = [(table, *_G2B_TABLE_SPECS[table]) for table in GSTR2B_TABLES]
    sheet_names = ["Documents", "ITC summary", "Supplier summary"]
    data = {table: list(make(result)) for table, _, make in tables}
    for table, rows in data.items():
        if len(rows) > _XLSX_MAX_ROWS - _HEADER_ROWS:
            raise InvalidInput(f"the 2B {table} has {len(rows)} rows, more than a sheet holds")
    progress = _Progress(None, sum(len(rows) for rows in data.values()))
    with (
        atomic_writer(path, mode=None) as f,
        zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
    ):
        book = _Book(archive, sheet_names)
        for index, (table, columns, _) in enumerate(tables):
            rows = data[table]
            _write_sheet(
                book,
                index,
                _g2b_sheet_columns(columns),
                iter(rows),
                count=len(rows),
                progress=progress,
            )
        book.finish()
