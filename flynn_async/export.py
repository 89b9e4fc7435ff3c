"""Export a merged IMS result to JSON, JSON Lines, CSV or Excel.

::

    from flynn_async import export

    result = await client.ims.download_all(session)
    export.write_json(result, "ims.json")                      # exactly as the API shaped it
    export.write_jsonl(result, "ims.jsonl")                    # one record a line
    export.write_csv(result, "ims.csv")                        # one file, a "section" column
    export.write_csv(result, "ims-csv", per_section=True)      # ims-csv/b2b.csv, ...
    export.write_xlsx(result, "ims.xlsx")                      # needs the xlsx extra
    export.export(result, "ims.csv", "csv", formula_guard=False)  # by format name

JSON and JSON Lines keep the API's wire names and exact amounts. CSV and Excel have one column
per record attribute, under its readable name, in the fixed order of :func:`columns`; CSV keeps
amounts exact, Excel rounds them to paise. Every file is written atomically (a temporary file
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
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path
from types import NoneType, UnionType
from typing import IO, Any, BinaryIO, Final, Literal, Union, get_args, get_origin

import attrs
import msgspec

from . import _models as m
from ._decoding import dumps
from ._errors import InvalidInput
from ._state import atomic_writer

__all__ = [
    "FORMATS",
    "columns",
    "export",
    "write_csv",
    "write_json",
    "write_jsonl",
    "write_xlsx",
]

#: The format names :func:`export` takes.
FORMATS: Final[tuple[str, ...]] = ("json", "jsonl", "csv", "xlsx")

#: A path to write to.
PathArg = os.PathLike[str] | str

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
    "pending_action_allowed",
    "pending_action_blocked",
    "remarks_blocked",
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


def _kind(f: attrs.Attribute[Any]) -> _Kind:
    if m.DATE_FORMAT in f.metadata:
        return "date"
    tp = f.type
    args = set(get_args(tp)) - {NoneType} if get_origin(tp) in (Union, UnionType) else {tp}
    if args == {Decimal}:
        return "amount"
    if args == {m.ReturnPeriod}:
        return "period"
    if args == {str}:
        return "text"
    if str in args and any(isinstance(a, type) and issubclass(a, m._OpenEnum) for a in args):
        return "code"  # an open enum: a member or an unknown code, written as its wire code
    raise TypeError(f"no export column kind for {f.name}: {tp!r}")  # pragma: no cover


def _record_columns(cls: type[m.ImsRecord]) -> tuple[_Column, ...]:
    """The columns of one record class, in the fixed order (unlisted new fields last)."""
    attrs.resolve_types(cls)
    found = {
        f.name: _Column(f.name, f.metadata[m.WIRE], _kind(f))
        for f in attrs.fields(cls)
        if f.name != "extra"
    }
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
    ``"B2B"`` is not ``"b2b"``. An :class:`~flynn_async.ImsSection` member is also accepted.
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
            digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            name = f"{_UNSAFE_CHARS.sub('_', key)[: limit - 9]}~{digest}"
        used.add(name.casefold())
        names[key] = name
    return names


# ----------------------------------------------------------------------------------------------
# JSON and JSON Lines
# ----------------------------------------------------------------------------------------------


def write_json(
    result: m.ImsInvoices, out: PathArg | BinaryIO, *, indent: int | None = None
) -> None:
    """Write the merged result as one JSON document, exactly as the API shaped it.

    The document is :meth:`ImsInvoices.to_dict() <flynn_async.ImsInvoices.to_dict>`: section
    keys, wire field names, unknown sections and fields, and amounts as JSON numbers with the
    exact digits received (``12.10`` stays ``12.10``), encoded by msgspec, UTF-8, with a final
    newline. ``indent`` pretty-prints with that many spaces. ``out`` is a path (written
    atomically) or a binary stream.
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    if indent is not None and (type(indent) is not int or indent < 0):
        raise InvalidInput(f"indent must be a whole number >= 0 or None, got {indent!r}")
    body = dumps(_wire_data(result))
    if indent is not None:
        body = msgspec.json.format(body, indent=indent)
    with _binary_out(out) as f:
        f.write(body + b"\n")


def write_jsonl(
    result: m.ImsInvoices, out: PathArg | BinaryIO, *, section_key: str = "section"
) -> int:
    """Write one JSON object per record and line; return the number of records written.

    Each line is ``{"section": "<key>", ...the record's wire fields...}``, sections in the
    result's order and records in received order, unknown sections and fields included,
    amounts exact. ``section_key`` names the section field; if a record has a field of that
    name, :class:`~flynn_async.InvalidInput` is raised before anything is written (pass
    another ``section_key``). Only records are written: the result's non-list keys
    (``result.extra``) are in the JSON export alone. ``out`` is a path (written atomically) or
    a binary stream.
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    if not isinstance(section_key, str) or not section_key:
        raise InvalidInput(f"section_key must be non-empty text, got {section_key!r}")
    if section_key in _KNOWN_WIRE_NAMES:
        raise InvalidInput(f"section_key {section_key!r} is a record field's wire name")
    sections = _sections(result)
    for key, records in sections:
        for i, record in enumerate(records):
            fields = record.extra if isinstance(record, m.ImsRecord) else record
            if section_key in fields:
                raise InvalidInput(
                    f"record {i} of section {key!r} has its own {section_key!r} field: "
                    f"pass another section_key"
                )
    count = 0
    with _binary_out(out) as f:
        for key, records in sections:
            known = key in m.SECTION_RECORD_TYPES
            for record in records:
                line: dict[str, Any] = {section_key: key}
                line.update(record.to_dict() if known else record)
                f.write(dumps(line) + b"\n")
                count += 1
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
    """
    result = _check_result(result)
    _check_out(out, streams=False)
    try:
        "".encode(encoding)
    except LookupError:
        raise InvalidInput(f"unknown text encoding {encoding!r}") from None
    guard = bool(formula_guard)
    sections = _sections(result)
    target = Path(out)
    if not per_section:
        header = columns(None)
        _write_csv_file(target, header, _csv_rows(sections, header, guard), encoding)
        return [target]
    target.mkdir(parents=True, exist_ok=True)
    names = _safe_names([key for key, _ in sections], 100, _WINDOWS_DEVICES)
    written = []
    for key, records in sections:
        header = columns(key)
        path = target / f"{names[key]}.csv"
        _write_csv_file(path, header, _csv_rows([(key, records)], header, guard), encoding)
        written.append(path)
    return written


# ----------------------------------------------------------------------------------------------
# Excel
# ----------------------------------------------------------------------------------------------

_XLSX_MAX_ROWS: Final = 1_048_576
_PAISE: Final = Decimal("0.01")
_WIDTHS: Final[Mapping[str, float]] = {
    "amount": 14,
    "date": 11,
    "period": 9,
    "code": 8,
    "text": 18,
    _SECTION: 9,
    _EXTRA: 30,
}


def _paise(value: Decimal) -> Decimal:
    """``value`` rounded half up to paise, with precision enough for any magnitude."""
    context = Context(prec=max(28, value.adjusted() + 4))
    return value.quantize(_PAISE, rounding=ROUND_HALF_UP, context=context)


def _load_openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError:
        raise InvalidInput(
            "the Excel export needs openpyxl: install flynn-async's xlsx extra (from a clone: "
            "pip install '.[xlsx]'), or pip install openpyxl"
        ) from None
    return openpyxl


def write_xlsx(result: m.ImsInvoices, out: PathArg | BinaryIO) -> None:
    """Write an Excel workbook (``.xlsx``): one sheet per present section, empty ones included.

    Needs the optional extra ``xlsx`` (openpyxl); without it,
    :class:`~flynn_async.InvalidInput` says how to install it. The workbook
    is streamed in openpyxl's write-only mode, so memory does not grow with the rows.

    A sheet is named after its section key (a key that is no valid sheet name gets a stand-in)
    and has a bold, frozen header row with ``columns(section)``. Amounts are numbers rounded
    half up to paise, shown as ``0.00``; dates are Excel dates shown as ``yyyy-mm-dd``;
    everything else is text cells (never formulas, so no formula guard is needed), ``extra``
    as JSON. Excel's limits apply: numbers hold 15 significant digits (exact to the paisa
    below 10^13 rupees), a cell holds 32,767 characters (a longer text is cut, ending in
    ``…``), control characters other than tab and line breaks become ``U+FFFD``, and a sheet
    holds 1,048,575 records (more raise :class:`~flynn_async.InvalidInput` before anything is
    written). Use CSV or JSON for an exact copy. ``out`` is a path (written atomically) or a
    binary stream.
    """
    result = _check_result(result)
    _check_out(out, streams=True)
    openpyxl = _load_openpyxl()
    sections = _sections(result)
    for key, records in sections:
        if len(records) >= _XLSX_MAX_ROWS:
            raise InvalidInput(
                f"section {key!r} has {len(records)} records; an Excel sheet holds "
                f"{_XLSX_MAX_ROWS - 1} below its header: export it as CSV"
            )
    workbook = openpyxl.Workbook(write_only=True)
    names = _safe_names([key for key, _ in sections], 31, frozenset({"history"}))
    try:
        for key, records in sections:
            sheet = workbook.create_sheet(names[key])
            _fill_sheet(sheet, key, records)
        if not sections:
            workbook.create_sheet("Sheet")  # a workbook needs a sheet: an empty one
        with _binary_out(out) as f:
            workbook.save(f)
    except BaseException:
        _discard(workbook)
        raise


def _discard(workbook: Any) -> None:
    """Remove the temporary files of an unsaved write-only workbook, as far as possible.

    openpyxl streams each sheet to a temporary file and removes it on save (or at exit);
    after a failure they would stay until the process ends.
    """
    for sheet in workbook.worksheets:
        with contextlib.suppress(Exception):
            sheet.close()  # ends the sheet's row stream and closes its temporary file
        writer = getattr(sheet, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()  # removes the temporary file


def _fill_sheet(sheet: Any, key: str, records: tuple[Any, ...]) -> None:
    """Write one section's sheet (``sheet``: an openpyxl write-only worksheet).

    Column widths and frozen panes are set before the first row, as write-only mode requires.
    """
    from openpyxl.cell import WriteOnlyCell as _make_cell
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    make_cell: Any = _make_cell  # takes Decimal and date values too (openpyxl's stubs say not)

    header = columns(key)
    data_columns = header[:-1]
    allowed = frozenset(data_columns)
    cls = m.SECTION_RECORD_TYPES.get(key)
    kinds = {col.name: col.kind for col in (_CLASS_COLUMNS[cls] if cls else _BASE)}
    for i, name in enumerate(header, start=1):
        width = _WIDTHS.get(name) or _WIDTHS[kinds[name]]
        sheet.column_dimensions[get_column_letter(i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def heading(name: str) -> Any:
        cell = make_cell(sheet, value=name)
        cell.font = bold
        return cell

    sheet.append([heading(name) for name in header])

    def text(value: str) -> Any:
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        value = value.replace("\r\n", "\n").replace("\r", "\n")  # XML keeps no CR
        if len(value) > 32_767:
            value = value[:32_766] + "…"
        if value.startswith("=") or value in ERROR_CODES:  # openpyxl would make a formula
            cell = make_cell(sheet, value=value)
            cell.data_type = "s"
            return cell
        return value

    def to_cell(value: _CellValue) -> Any:
        if value is None:
            return None
        if isinstance(value, Decimal):
            cell = make_cell(sheet, value=_paise(value))
            cell.number_format = "0.00"
            return cell
        if isinstance(value, date):
            cell = make_cell(sheet, value=value)
            cell.number_format = "yyyy-mm-dd"
            return cell
        return text(value)

    for record in records:
        cells, extra = _cells(record, allowed)
        row = [to_cell(cells.get(name)) for name in data_columns]
        row.append(text(_extra_text(extra)) if extra else None)
        sheet.append(row)


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
    ``formula_guard`` for CSV, ``indent`` for JSON, ...). An unknown format or option, or an
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
