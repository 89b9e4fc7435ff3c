"""Exports: JSON, JSON Lines, CSV and Excel, each read back with its own library.

The readers below follow docs/export.md: they know the columns only from the models (readable
attribute names, wire names in field metadata) and the documented cell rules, not from the
exporter's tables.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
import tracemalloc
from collections.abc import Mapping
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import attrs
import msgspec
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import Cell
from openpyxl.utils import get_column_letter

from flynn_async import FlynnClient, FrozenMap, GstSession, InvalidInput, export
from flynn_async._core import _codec
from flynn_async._core._json import loads
from flynn_async.ims import ImsInvoice, ImsInvoices, ImsRecord, ImsSection, decode_ims_page
from flynn_async.ims import _models as m
from flynn_async.ims._decoding import structure_invoices
from flynn_async.ims._models import ImsEntry
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

ROOT = Path(__file__).resolve().parent.parent
PAISE = Decimal("0.01")
WIRE_DATE = "%d-%m-%Y"

# ----------------------------------------------------------------------------------------------
# Readers, written from the documented contract
# ----------------------------------------------------------------------------------------------


def _type_args(f: attrs.Attribute[Any]) -> set[Any]:
    """The types a field holds besides ``None`` (``Decimal | None`` -> ``{Decimal}``)."""
    if get_origin(f.type) in (Union, UnionType):
        return set(get_args(f.type)) - {NoneType}
    return {f.type}


def _kinds(cls: type[ImsRecord]) -> dict[str, tuple[str, str]]:
    """Column name -> (wire name, "amount" | "date" | "text") from the wire codec."""
    plain = {"date": "date", "money": "amount"}
    return {f.attr: (f.wire, plain.get(f.kind, "text")) for f in _codec.wire_fields(cls)}


def _columns_for(section: str) -> dict[str, tuple[str, str]]:
    return _kinds(m.SECTION_RECORD_TYPES.get(section, ImsRecord))


def _unguard(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _wire_record(
    section: str, cells: Mapping[str, Any], extra: Mapping[str, Any], *, guarded: bool
) -> dict[str, Any]:
    """One CSV or Excel row back to the record's wire dict (cells already typed)."""
    kinds = _columns_for(section)
    record: dict[str, Any] = {}
    for name, value in cells.items():
        if value is None or value == "":
            continue
        wire, kind = kinds[name]
        if kind == "date":
            record[wire] = value.strftime(WIRE_DATE)
        elif kind == "text" and guarded:
            record[wire] = _unguard(value)
        else:
            record[wire] = value
    record.update(extra)
    return record


def _csv_cells(section: str, row: dict[str, str]) -> dict[str, Any]:
    kinds = _columns_for(section)
    out: dict[str, Any] = {}
    for name, text in row.items():
        if text == "":
            continue
        kind = kinds[name][1]
        if kind == "amount":
            out[name] = Decimal(text)
        elif kind == "date":
            out[name] = date.fromisoformat(text)
        else:
            out[name] = text
    return out


def read_json(body: bytes) -> ImsInvoices:
    return structure_invoices(json.loads(body, parse_float=Decimal))


def read_jsonl(body: bytes) -> ImsInvoices:
    data: dict[str, list[Any]] = {}
    for line in body.split(b"\n")[:-1]:  # not str.splitlines(): text may hold U+2028
        record = json.loads(line, parse_float=Decimal)
        data.setdefault(record.pop("section"), []).append(record)
    return structure_invoices(data)


def _read_csv_rows(
    path: Path, section: str | None, guarded: bool, data: dict[str, list[Any]]
) -> list[str]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        for row in reader:
            key = section if section is not None else row.pop("section")
            if section is None and guarded:
                key = _unguard(key)
            text = row.pop("extra")
            extra = json.loads(text, parse_float=Decimal) if text else {}
            record = _wire_record(key, _csv_cells(key, row), extra, guarded=guarded)
            data.setdefault(key, []).append(record)
    return header


def read_csv(path: Path, *, guarded: bool = True) -> ImsInvoices:
    data: dict[str, list[Any]] = {}
    _read_csv_rows(path, None, guarded, data)
    return structure_invoices(data)


def read_csv_files(paths: list[Path], sections: list[str], *, guarded: bool = True) -> ImsInvoices:
    data: dict[str, list[Any]] = {}
    for path, section in zip(paths, sections, strict=True):
        data[section] = []
        header = _read_csv_rows(path, section, guarded, data)
        assert tuple(header) == export.columns(section)
    return structure_invoices(data)


def read_xlsx(source: Path | io.BytesIO, sections: list[str]) -> ImsInvoices:
    workbook = openpyxl.load_workbook(source, read_only=True)
    try:
        assert workbook.sheetnames[0] == "Summary"
        assert len(workbook.sheetnames) == 1 + len(sections)
        data = {
            section: _read_sheet(workbook[name], section)
            for name, section in zip(workbook.sheetnames[1:], sections, strict=True)
        }
    finally:
        workbook.close()
    return structure_invoices(data)


def _read_sheet(sheet: Any, section: str) -> list[dict[str, Any]]:
    kinds = _columns_for(section)
    by_wire = {wire: name for name, (wire, _) in kinds.items()} | {"extra": "extra"}
    rows = sheet.iter_rows(values_only=True)
    next(rows)  # the readable titles
    header = tuple(by_wire[wire] for wire in next(rows))  # the wire names
    assert header == export.columns(section)
    records = []
    for values in rows:
        # a row ends at its last non-empty cell
        row = dict(zip(header, values + (None,) * (len(header) - len(values)), strict=True))
        text = row.pop("extra")
        extra = json.loads(text, parse_float=Decimal) if text else {}
        cells: dict[str, Any] = {}
        for name, value in row.items():
            if value is None:
                continue
            kind = kinds[name][1]
            if kind == "amount":
                cells[name] = Decimal(str(value))
            elif kind == "date":
                assert isinstance(value, datetime)
                cells[name] = value.date()
            elif isinstance(value, datetime):  # the return period: its month's first day
                assert name == "return_period"
                assert value.day == 1
                cells[name] = f"{value.month:02d}{value.year:04d}"
            else:
                cells[name] = value
        records.append(_wire_record(section, cells, extra, guarded=False))
    return records


def sections_of(result: ImsInvoices) -> list[tuple[str, list[Any]]]:
    """Every present section and its records (unknown keys exactly, whatever their case)."""
    return [
        (
            key,
            list(
                getattr(result, key)
                if key in m.SECTION_RECORD_TYPES
                else result.other_sections[key]
            ),
        )
        for key in result.section_names()
    ]


def non_empty(result: ImsInvoices) -> list[tuple[str, list[Any]]]:
    return [(key, records) for key, records in sections_of(result) if records]


def _paise(value: Decimal) -> Decimal:
    return value.quantize(PAISE, rounding=ROUND_HALF_UP)


def rounded(result: ImsInvoices) -> list[tuple[str, list[Any]]]:
    """The result as Excel holds it: amounts in columns rounded to paise."""
    base = _kinds(ImsRecord)
    shared_amounts = {wire for wire, kind in base.values() if kind == "amount"}
    out = []
    for key, records in sections_of(result):
        new: list[ImsEntry] = []
        for record in records:
            if isinstance(record, ImsRecord):
                changes: dict[str, Any] = {
                    name: _paise(getattr(record, name))
                    for name, (_, kind) in _kinds(type(record)).items()
                    if kind == "amount" and getattr(record, name) is not None
                }
                new.append(msgspec.structs.replace(record, **changes))
            else:
                new.append(
                    FrozenMap(
                        {
                            k: _paise(Decimal(v))
                            if k in shared_amounts and type(v) in (int, Decimal)
                            else v
                            for k, v in record.items()
                        }
                    )
                )
        out.append((key, new))
    return out


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def rec(**fields: Any) -> dict[str, Any]:
    """A b2b record on the wire, with the required fields filled in."""
    base: dict[str, Any] = {
        "stin": "24MAYAS0100J1JD",
        "inum": "INV-1",
        "idt": "05-01-2023",
        "val": 100,
    }
    base.update(fields)
    return base


SAMPLE: dict[str, Any] = {
    "b2b": [
        rec(
            inum="INV-1",
            val=Decimal("12.10"),
            txval=Decimal("1E+2"),
            iamt=Decimal("-0.50"),
            camt=0,
            action="A",
            srcform="R1",
            rtnprd="012023",
            inv_typ="ZZ",  # a code the models don't know
            remarks="",
            newfield=Decimal("1.50"),
            pos=None,
        ),
        rec(inum="=2+3", val=-7, remarks="-not a number", hash="@x"),
    ],
    "b2bcn": [],
    "b2bdna": [
        {
            "stin": "27AAAAA0000A1Z5",
            "nt_num": "CN-9",
            "nt_dt": "31-12-2024",
            "ont_num": "CN-8",
            "ont_dt": "30-11-2024",
            "val": Decimal("99.999"),
            "prev_status": "R",
        }
    ],
    "impg": [
        {
            "stin": "24MAYAS0100J1JD",
            "refnum": "IMPG-1",
            "val": Decimal("1.5"),
            "rtnprd": "022024",
            "action": 5,  # not text: stays in extra
            "idt": "01-02-2024",
            "hash": "",
        }
    ],
    "summary": {"count": 4},
}


def sample() -> ImsInvoices:
    return structure_invoices(SAMPLE)


# ----------------------------------------------------------------------------------------------
# columns()
# ----------------------------------------------------------------------------------------------

B2B_COLUMNS = (
    "supplier_gstin",
    "number",
    "date",
    "invoice_type",
    "place_of_supply",
    "return_period",
    "source_form",
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
    "extra",
)


def test_columns_of_b2b_in_the_documented_order() -> None:
    assert B2B_COLUMNS == export.columns("b2b")
    assert B2B_COLUMNS == export.columns(ImsSection.B2B)
    assert export.columns("ecom") == export.columns("b2b")


def test_amendments_add_the_original_number_and_date_after_the_date() -> None:
    cols = export.columns("b2bcna")
    assert cols[:5] == ("supplier_gstin", "number", "date", "original_number", "original_date")
    assert export.columns("ecoma") == cols == export.columns("b2ba")
    assert export.columns("b2bdn") == export.columns("b2b")


@pytest.mark.parametrize("section", m.KNOWN_SECTIONS)
def test_every_model_field_is_a_column_once(section: str) -> None:
    cls = m.SECTION_RECORD_TYPES[section]
    fields = [*(f.attr for f in _codec.wire_fields(cls)), "extra"]
    cols = export.columns(section)
    assert sorted(fields) == sorted(cols)
    assert cols[-1] == "extra"


def test_single_file_columns_are_the_union_in_the_same_order() -> None:
    union = export.columns(None)
    assert union[0] == "section"
    assert union[-1] == "extra"
    assert len(set(union)) == len(union)
    for section in (*m.KNOWN_SECTIONS, "impg"):
        cols = export.columns(section)
        assert [c for c in union if c in cols] == list(cols)
    assert set(union) == {"section"} | {c for s in m.KNOWN_SECTIONS for c in export.columns(s)}


def test_unknown_sections_get_the_shared_columns_and_keys_are_case_sensitive() -> None:
    cols = export.columns("impg")
    assert cols == export.columns("B2B")  # "B2B" is not the section "b2b"
    assert sorted(cols) == sorted([*(f.attr for f in _codec.wire_fields(ImsRecord)), "extra"])
    assert "number" not in cols
    assert "date" not in cols


def test_columns_refuses_a_non_text_section() -> None:
    with pytest.raises(InvalidInput, match="section key"):
        export.columns(3)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# JSON
# ----------------------------------------------------------------------------------------------


def test_json_keeps_the_exact_digits_and_reads_back_equal(tmp_path: Path) -> None:
    result = sample()
    path = tmp_path / "ims.json"
    export.write_json(result, path)
    body = path.read_bytes()
    assert body.endswith(b"}\n")
    assert b'"val":12.10' in body
    assert b'"txval":1E+2' in body
    assert b'"newfield":1.50' in body
    assert b'"val":99.999' in body
    assert b'"summary":{"count":4}' in body
    assert read_json(body) == result
    assert json.loads(body, parse_float=Decimal) == result.to_dict()


def test_json_reads_back_with_decode_ims_page(tmp_path: Path) -> None:
    result = sample()
    export.write_json(result, tmp_path / "ims.json")
    assert decode_ims_page(b'{"data":' + (tmp_path / "ims.json").read_bytes() + b"}") == result


def test_json_to_a_stream_and_indented() -> None:
    result = sample()
    compact, pretty = io.BytesIO(), io.BytesIO()
    export.write_json(result, compact)
    export.write_json(result, pretty, indent=2)
    assert b"\n  " in pretty.getvalue()
    assert b'"val": 12.10' in pretty.getvalue()
    assert read_json(pretty.getvalue()) == read_json(compact.getvalue()) == result


@pytest.mark.parametrize("indent", [-1, 1.5, "2", True])
def test_json_refuses_a_bad_indent(indent: Any) -> None:
    with pytest.raises(InvalidInput, match="indent"):
        export.write_json(sample(), io.BytesIO(), indent=indent)


# ----------------------------------------------------------------------------------------------
# JSON Lines
# ----------------------------------------------------------------------------------------------


def test_jsonl_one_record_a_line_with_its_section_first(tmp_path: Path) -> None:
    result = sample()
    path = tmp_path / "ims.jsonl"
    assert export.write_jsonl(result, path) == 4
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4
    parsed = [json.loads(line, parse_float=Decimal) for line in lines]
    assert [p["section"] for p in parsed] == ["b2b", "b2b", "b2bdna", "impg"]
    assert all(next(iter(p)) == "section" for p in parsed)
    assert lines[0].startswith(b'{"section":"b2b","stin":')
    assert b'"val":12.10' in lines[0]
    assert b'"newfield":1.50' in lines[0]
    assert parsed[3] == {"section": "impg", **SAMPLE["impg"][0]}
    back = read_jsonl(path.read_bytes())
    assert non_empty(back) == non_empty(result)


def test_jsonl_refuses_a_record_with_its_own_section_field(tmp_path: Path) -> None:
    result = structure_invoices({"b2b": [rec()], "impg": [{"section": "mine"}]})
    path = tmp_path / "ims.jsonl"
    with pytest.raises(InvalidInput, match="section_key"):
        export.write_jsonl(result, path)
    assert list(tmp_path.iterdir()) == []
    stream = io.BytesIO()
    assert export.write_jsonl(result, stream, section_key="ims_section") == 2
    last = json.loads(stream.getvalue().splitlines()[1])
    assert last == {"ims_section": "impg", "section": "mine"}


@pytest.mark.parametrize("key", ["stin", "", 5])
def test_jsonl_refuses_a_section_key_that_is_a_wire_name_or_not_text(key: Any) -> None:
    with pytest.raises(InvalidInput, match="section_key"):
        export.write_jsonl(sample(), io.BytesIO(), section_key=key)


# ----------------------------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------------------------


def _csv_dicts(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_cells(tmp_path: Path) -> None:
    path = tmp_path / "ims.csv"
    assert export.write_csv(sample(), path) == [path]
    assert path.read_bytes().startswith(b"section,supplier_gstin,number,date,original_number,")
    assert b"\r\n" in path.read_bytes()  # the excel dialect
    rows = _csv_dicts(path)
    assert len(rows) == 4
    first = rows[0]
    assert first["section"] == "b2b"
    assert first["value"] == "12.10"
    assert first["taxable_value"] == "100"  # 1E+2, no exponent
    assert first["igst"] == "-0.50"  # a negative amount is a number, not guarded
    assert first["cgst"] == "0"
    assert first["date"] == "2023-01-05"
    assert first["action"] == "A"
    assert first["source_form"] == "R1"
    assert first["invoice_type"] == "ZZ"
    assert first["return_period"] == "012023"
    assert first["place_of_supply"] == ""  # sent as null: None
    assert first["sgst"] == ""  # absent: None
    assert first["remarks"] == ""
    # the empty text (not None), the unknown field and the null go to extra, exactly
    assert loads(first["extra"]) == {"remarks": "", "newfield": Decimal("1.50"), "pos": None}
    assert '"newfield":1.50' in first["extra"]
    assert rows[1]["extra"] == ""
    note = rows[2]
    assert note["section"] == "b2bdna"
    assert (note["number"], note["date"]) == ("CN-9", "2024-12-31")
    assert (note["original_number"], note["original_date"]) == ("CN-8", "2024-11-30")
    assert note["value"] == "99.999"
    assert note["previous_status"] == "R"


def test_csv_unknown_section_fills_the_shared_columns_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "ims.csv"
    export.write_csv(sample(), path)
    impg = _csv_dicts(path)[3]
    assert impg["section"] == "impg"
    assert impg["supplier_gstin"] == "24MAYAS0100J1JD"
    assert impg["value"] == "1.5"
    assert impg["return_period"] == "022024"
    assert impg["action"] == ""  # a number where a code belongs: kept in extra
    assert impg["hash"] == ""  # the empty text: kept in extra
    assert impg["number"] == impg["date"] == ""  # per-section wire names: kept in extra
    assert loads(impg["extra"]) == {
        "refnum": "IMPG-1",
        "action": 5,
        "idt": "01-02-2024",
        "hash": "",
    }


def test_csv_formula_guard(tmp_path: Path) -> None:
    result = structure_invoices(
        {
            "b2b": [
                rec(inum="=2+3", remarks="-x", hash="@SUM(A1)", val=Decimal("-12.10")),
                rec(inum="+91", remarks="'quoted", hash="\tx", pos="\rx"),
                rec(inum="a=b", remarks="x-", hash="plain"),
            ],
            "=evil": [{"note": "=1+1"}],
        }
    )
    guarded, raw = tmp_path / "guarded.csv", tmp_path / "raw.csv"
    export.write_csv(result, guarded)
    export.write_csv(result, raw, formula_guard=False)
    g, r = _csv_dicts(guarded), _csv_dicts(raw)
    assert (g[0]["number"], g[0]["remarks"], g[0]["hash"]) == ("'=2+3", "'-x", "'@SUM(A1)")
    assert g[0]["value"] == r[0]["value"] == "-12.10"
    assert (g[1]["number"], g[1]["remarks"], g[1]["hash"]) == ("'+91", "''quoted", "'\tx")
    assert g[1]["place_of_supply"] == "'\rx"
    assert (g[2]["number"], g[2]["remarks"], g[2]["hash"]) == ("a=b", "x-", "plain")
    assert g[3]["section"] == "'=evil"
    assert g[3]["extra"] == r[3]["extra"] == '{"note":"=1+1"}'  # JSON starts with "{"
    assert (r[0]["number"], r[1]["remarks"], r[3]["section"]) == ("=2+3", "'quoted", "=evil")
    assert non_empty(read_csv(guarded)) == non_empty(result)
    assert non_empty(read_csv(raw, guarded=False)) == non_empty(result)


def test_csv_per_section_files(tmp_path: Path) -> None:
    result = sample()
    out = tmp_path / "deep" / "csv"
    paths = export.write_csv(result, out, per_section=True)
    names = ["b2b", "b2bdna", "b2bcn", "impg"]
    assert result.section_names() == ["b2b", "b2bdna", "b2bcn", "impg"]
    assert paths == [out / f"{name}.csv" for name in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.csv" for n in names)
    empty = (out / "b2bcn.csv").read_bytes()
    assert (
        empty == ",".join(export.columns("b2bcn")).encode() + b"\r\n"
    )  # present but empty: a header
    with (out / "b2b.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == export.columns("b2b")
    back = read_csv_files(paths, names)
    assert sections_of(back) == sections_of(result)


def test_csv_per_section_names_stay_safe_and_distinct(tmp_path: Path) -> None:
    keys = ["B2B", "../evil", "con", "x" * 120, "", "impg", "IMPG", "a b"]
    result = structure_invoices({"b2b": [rec()], **{k: [{"k": i}] for i, k in enumerate(keys)}})
    out = tmp_path / "csv"
    paths = export.write_csv(result, out, per_section=True)
    assert len(paths) == 1 + len(keys)
    assert all(p.parent == out for p in paths)
    assert len({p.name.casefold() for p in paths}) == len(paths)
    assert all(re.fullmatch(r"[A-Za-z0-9_~-]{1,100}\.csv", p.name) for p in paths)
    assert paths[0].name == "b2b.csv"
    assert paths[6].name == "impg.csv"
    assert paths[1].name.startswith("B2B~")
    assert paths[7].name.startswith("IMPG~")
    assert sorted(out.iterdir()) == sorted(paths)
    back = read_csv_files(paths, result.section_names())
    assert sections_of(back) == sections_of(result)


def test_csv_encoding_option(tmp_path: Path) -> None:
    result = structure_invoices({"b2b": [rec(remarks="₹ बिल")]})
    path = tmp_path / "ims.csv"
    export.write_csv(result, path, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfsection,")
    with path.open(newline="", encoding="utf-8-sig") as f:
        assert next(csv.DictReader(f))["remarks"] == "₹ बिल"
    with pytest.raises(InvalidInput, match="encoding"):
        export.write_csv(result, tmp_path / "x.csv", encoding="no-such-codec")
    with pytest.raises(InvalidInput, match="cannot be written in latin-1; use utf-8"):
        export.write_csv(result, tmp_path / "x.csv", encoding="latin-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ims.csv"]


# ----------------------------------------------------------------------------------------------
# Excel
# ----------------------------------------------------------------------------------------------


def test_xlsx_sheets_cells_and_formats(tmp_path: Path) -> None:
    result = structure_invoices(
        {
            **SAMPLE,
            "b2b": [
                *SAMPLE["b2b"],
                rec(
                    val=Decimal("0.125"),
                    txval=Decimal("-0.125"),
                    iamt=Decimal("2.675"),
                    remarks="#N/A",
                ),
                rec(remarks="bell\x07here", hash="x" * 40_000, inum="a\r\nb\rc"),
                rec(remarks=" _x0041_ <&> ", val=Decimal("1234567.891"), camt=Decimal("-0.001")),
                rec(idt="28-02-1900"),
            ],
        }
    )
    path = tmp_path / "ims.xlsx"
    export.write_xlsx(result, path)
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Summary", "b2b", "b2bdna", "b2bcn", "impg"]
    sheet = workbook["b2b"]
    titles = [c.value for c in sheet[1]]
    assert titles[:3] == ["Supplier GSTIN", "Invoice number", "Invoice date"]
    assert titles[8] == "Taxable value"
    assert titles[-1] == "Other fields (JSON)"
    assert all(c.font.b for c in sheet[1])
    wires = [c.value for c in sheet[2]]
    assert wires == [_columns_for("b2b")[n][0] for n in export.columns("b2b")[:-1]] + ["extra"]
    col = {name: i for i, name in enumerate(export.columns("b2b"))}
    row = sheet[3]
    value = row[col["value"]]
    assert (value.value, value.data_type, value.number_format) == (12.1, "n", "#,##0.00")
    assert row[col["taxable_value"]].value == 100
    assert row[col["igst"]].value == -0.5
    when = row[col["date"]]
    assert isinstance(when, Cell)
    assert when.is_date
    assert when.number_format == "dd-mm-yyyy"
    assert when.value == datetime(2023, 1, 5)
    period = row[col["return_period"]]
    assert isinstance(period, Cell)
    assert (period.value, period.number_format) == (datetime(2023, 1, 1), "mmm yyyy")
    assert period.is_date
    assert row[col["action"]].value == "A"
    assert row[col["place_of_supply"]].value is None
    extra = row[col["extra"]].value
    assert isinstance(extra, str)
    assert loads(extra) == {
        "remarks": "",
        "newfield": Decimal("1.50"),
        "pos": None,
    }
    formula_like = sheet[4][col["number"]]
    assert (formula_like.value, formula_like.data_type) == ("=2+3", "s")  # text, never a formula
    assert sheet[4][col["value"]].value == -7
    halves = sheet[5]
    assert halves[col["value"]].value == 0.13  # half up
    assert halves[col["taxable_value"]].value == -0.13  # half away from zero
    assert halves[col["igst"]].value == 2.68  # rounded from the exact decimal, not a float
    assert (halves[col["remarks"]].value, halves[col["remarks"]].data_type) == ("#N/A", "s")
    odd = sheet[6]
    assert odd[col["remarks"]].value == "bell\ufffdhere"
    assert odd[col["number"]].value == "a\nb\nc"
    long_text = odd[col["hash"]].value
    assert isinstance(long_text, str)
    assert len(long_text) == 32_767
    assert long_text.endswith("x…")
    marks = sheet[7]
    # spaces kept; a literal _xHHHH_ is escaped for Excel (which decodes it), openpyxl does not
    assert marks[col["remarks"]].value == " _x005F_x0041_ <&> "
    assert marks[col["value"]].value == 1234567.89
    assert marks[col["cgst"]].value == 0  # -0.001 rounds to 0.00, never -0.00
    early = sheet[8][col["date"]]
    assert (early.value, early.data_type) == ("1900-02-28", "s")  # Excel's calendar is wrong
    empty = workbook["b2bcn"]
    assert [[c.value for c in r] for r in empty.iter_rows(min_row=2)] == [
        [_columns_for("b2bcn")[n][0] for n in export.columns("b2bcn")[:-1]] + ["extra"]
    ]
    assert [c.value for c in empty[1]][1:3] == ["Note number", "Note date"]
    impg = workbook["impg"]
    assert [c.value for c in impg[1]][:2] == ["Supplier GSTIN", "Place of supply"]
    assert impg[3][export.columns("impg").index("value")].value == 1.5
    assert impg[3][export.columns("impg").index("return_period")].value == datetime(2024, 2, 1)


def test_xlsx_layout_for_people(tmp_path: Path) -> None:
    records = [rec(inum=f"INV-{i}", val=Decimal("1234567.5"), remarks="r" * 80) for i in range(5)]
    result = structure_invoices({"b2b": records, "b2bcn": []})
    path = tmp_path / "ims.xlsx"
    export.write_xlsx(result, path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["b2b"]
    assert sheet.freeze_panes == "A3"  # titles and wire names stay in view
    last = get_column_letter(len(export.columns("b2b")))
    assert sheet.auto_filter.ref == f"A2:{last}7"  # the buttons on the wire-name row, every record
    assert sheet.print_title_rows == "$1:$2"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.page_setup.paperSize == 9  # A4
    assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
    assert sheet.sheet_properties.pageSetUpPr is not None
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
    assert sheet.row_dimensions[1].height == 31
    assert sheet[1][0].alignment.wrap_text
    width = {
        name: sheet.column_dimensions[get_column_letter(i)].width
        for i, name in enumerate(export.columns("b2b"), start=1)
    }
    assert width["supplier_gstin"] >= len("24MAYAS0100J1JD") + 1  # the content fits
    assert width["value"] >= len("1,234,567.50") + 1
    assert width["remarks"] == 40  # long text is capped
    assert width["igst"] >= 5  # the title fits
    assert width["itc_reduction_required"] >= len("ITC reduction") + 1  # two lines of title
    assert width["action"] >= len("action") + 1  # "IMS" over "action"
    assert width["date"] >= len("05-01-2023")
    empty = workbook["b2bcn"]
    assert empty.auto_filter.ref == f"A2:{get_column_letter(len(export.columns('b2bcn')))}2"
    assert workbook.sheetnames.index("b2bcn") == 2


def test_xlsx_titles_fit_on_two_lines(tmp_path: Path) -> None:
    path = tmp_path / "ims.xlsx"
    export.write_xlsx(structure_invoices({"b2ba": [], "b2bcna": []}), path)
    workbook = openpyxl.load_workbook(path)
    for sheet in workbook.worksheets[1:]:
        for cell in sheet[1]:
            assert isinstance(cell, Cell)
            width = sheet.column_dimensions[cell.column_letter].width
            words, lines = str(cell.value).split(), [""]
            for word in words:  # greedy wrapping, as a spreadsheet does
                joined = f"{lines[-1]} {word}".strip()
                if len(joined) * 1.1 > width and lines[-1]:
                    lines.append(word)
                else:
                    lines[-1] = joined
            assert len(lines) <= 2, (sheet.title, cell.value, width)


def test_xlsx_summary_sheet(tmp_path: Path) -> None:
    result = structure_invoices(
        {
            **SAMPLE,
            "b2b": [*SAMPLE["b2b"], rec(val=Decimal("0.125"), txval=Decimal("0.125"))],
        }
    )
    path = tmp_path / "ims.xlsx"
    info = {"GSTIN": "24AAAPI3182M002", "Downloaded": "2026-12-06 12:40 +05:30"}
    assert export.write_xlsx(result, path, info=info) == 5
    workbook = openpyxl.load_workbook(path)
    assert workbook.active is not None
    assert workbook.active.title == "Summary"
    sheet = workbook["Summary"]
    rows = [list(row) for row in sheet.iter_rows()]
    values = [[c.value for c in row] for row in rows]
    assert values[0][0] == "IMS invoices"
    assert values[2][:2] == ["GSTIN", "24AAAPI3182M002"]
    assert values[3][:2] == ["Downloaded", "2026-12-06 12:40 +05:30"]
    head = values.index(
        ["Section", "Sheet", "Records", "Value", "Taxable value", "IGST", "CGST", "SGST", "Cess"]
    )
    body = values[head + 1 : head + 6]
    assert [r[:3] for r in body] == [
        ["B2B", "b2b", 3],
        ["B2BDNA", "b2bdna", 1],
        ["B2BCN", "b2bcn", 0],
        ["impg", "impg", 1],
        ["Total", None, 5],
    ]
    # the cells as shown, rounded to paise, added exactly: 12.10 - 7 + 0.13
    assert Decimal(str(body[0][3])) == Decimal("5.23")
    assert Decimal(str(body[0][4])) == Decimal("100.13")
    assert Decimal(str(body[0][5])) == Decimal("-0.50")
    assert Decimal(str(body[1][3])) == Decimal("100.00")  # 99.999
    assert Decimal(str(body[3][3])) == Decimal("1.50")  # an unknown section's shared amount
    assert Decimal(str(body[4][3])) == Decimal("106.73")
    assert rows[head + 1][3].number_format == "#,##0.00"
    assert rows[head + 5][0].font.b
    link = sheet.cell(head + 2, 2).hyperlink
    assert link is not None
    assert link.location == "'b2b'!A1"
    assert sheet.page_setup.orientation == "landscape"


def test_xlsx_refuses_bad_info_and_progress(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="info must be a mapping of text to text"):
        export.write_xlsx(sample(), tmp_path / "a.xlsx", info={"GSTIN": 1})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="on_progress must be callable"):
        export.write_xlsx(sample(), tmp_path / "a.xlsx", on_progress=5)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_progress_counts_every_record(tmp_path: Path, fmt: str) -> None:
    record = sample().b2b[0]
    result = ImsInvoices(b2b=(record,) * 1500, b2bcn=(), ecom=(record,) * 1200)
    calls: list[tuple[int, int]] = []
    out = tmp_path / f"ims.{fmt}"

    def seen(done: int, total: int) -> None:
        calls.append((done, total))
        if done == total:  # the last call comes once the file is complete
            assert out.exists()

    export.export(result, out, fmt, on_progress=seen)
    if fmt == "json":
        assert calls == [(0, 2700), (2700, 2700)]
    else:
        assert calls == [(0, 2700), (1000, 2700), (2000, 2700), (2700, 2700)]


def test_progress_callback_failure_stops_the_export(tmp_path: Path) -> None:
    record = sample().b2b[0]
    result = ImsInvoices(b2b=(record,) * 2500)

    def stop(done: int, total: int) -> None:
        if done == 2000:
            raise KeyboardInterrupt

    path = tmp_path / "ims.xlsx"
    with pytest.raises(KeyboardInterrupt):
        export.write_xlsx(result, path, on_progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_xlsx_to_a_stream_reads_back_rounded() -> None:
    result = sample()
    stream = io.BytesIO()
    export.write_xlsx(result, stream)
    back = read_xlsx(io.BytesIO(stream.getvalue()), result.section_names())
    assert sections_of(back) == rounded(result)


class _Pipe(io.RawIOBase):
    """A binary stream that cannot seek or tell (a pipe, a socket, an HTTP response)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)


def test_xlsx_to_a_stream_that_cannot_seek() -> None:
    pipe = _Pipe()
    export.write_xlsx(sample(), pipe)  # type: ignore[arg-type]
    assert not pipe.closed
    back = read_xlsx(io.BytesIO(bytes(pipe.data)), sample().section_names())
    assert sections_of(back) == rounded(sample())


def test_xlsx_parts_are_well_formed_and_all_declared() -> None:
    import zipfile
    from xml.etree import ElementTree

    result = structure_invoices({**SAMPLE, "x'y": [{"remarks": 'a<b&c>"d" _x0041_'}], "b2ba": []})
    stream = io.BytesIO()
    export.write_xlsx(result, stream, info={"<&>": "\"'"})
    with zipfile.ZipFile(io.BytesIO(stream.getvalue())) as archive:
        names = archive.namelist()
        for name in names:
            ElementTree.fromstring(archive.read(name))  # raises if not well-formed
        types = ElementTree.fromstring(archive.read("[Content_Types].xml"))
        declared = {e.get("PartName") for e in types if e.get("PartName")}
        assert declared == {f"/{n}" for n in names if n.startswith("xl/") and "_rels" not in n}
        workbook = archive.read("xl/workbook.xml").decode()
        assert '<definedName name="_xlnm._FilterDatabase" localSheetId="1"' in workbook
        last = get_column_letter(len(export.columns("b2b")))
        assert f"'b2b'!$A$2:${last}$4</definedName>" in workbook
    # content types, two relationship parts, workbook, styles; Summary and six sections
    assert len(names) == 5 + 7


def test_xlsx_of_no_sections_is_the_summary_alone() -> None:
    stream = io.BytesIO()
    assert export.write_xlsx(ImsInvoices(), stream) == 0
    workbook = openpyxl.load_workbook(io.BytesIO(stream.getvalue()))
    assert workbook.sheetnames == ["Summary"]
    rows = [[c.value for c in row] for row in workbook["Summary"].iter_rows()]
    assert ["Total", None, 0, 0, 0, 0, 0, 0, 0] in rows


def test_xlsx_sheet_names_stay_valid_and_distinct() -> None:
    keys = ["B2B", "a/b", "History", "y" * 40, "", "[x]", "impg", "IMPG", "summary"]
    result = structure_invoices({"b2b": [rec()], **{k: [{"k": i}] for i, k in enumerate(keys)}})
    stream = io.BytesIO()
    export.write_xlsx(result, stream)
    names = openpyxl.load_workbook(io.BytesIO(stream.getvalue()), read_only=True).sheetnames
    assert len(names) == 2 + len(keys)
    assert len({n.casefold() for n in names}) == len(names)
    assert all(re.fullmatch(r"[A-Za-z0-9_~-]{1,31}", n) for n in names)
    assert (names[0], names[1], names[8]) == ("Summary", "b2b", "impg")
    assert names[4].startswith("History~")
    assert names[-1].startswith("summary~")
    back = read_xlsx(io.BytesIO(stream.getvalue()), result.section_names())
    assert sections_of(back) == rounded(result)


def test_xlsx_needs_no_other_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # `import openpyxl` fails
    monkeypatch.setitem(sys.modules, "xlsxwriter", None)
    stream = io.BytesIO()
    export.write_xlsx(sample(), stream)
    monkeypatch.undo()
    back = read_xlsx(io.BytesIO(stream.getvalue()), sample().section_names())
    assert sections_of(back) == rounded(sample())


def test_xlsx_refuses_a_section_over_the_sheet_limit_before_writing(tmp_path: Path) -> None:
    record = sample().b2b[0]
    result = ImsInvoices(b2b=(record,) * 1_048_575)  # the two header rows take two
    with pytest.raises(InvalidInput, match="export it as CSV"):
        export.write_xlsx(result, tmp_path / "ims.xlsx")
    assert list(tmp_path.iterdir()) == []


def _xlsx_peak(rows: int) -> int:
    record = sample().b2b[0]
    result = ImsInvoices(b2b=(record,) * rows)  # one record object: the input costs ~nothing
    tracemalloc.start()
    try:
        export.write_xlsx(result, io.BytesIO())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_xlsx_memory_does_not_grow_with_the_rows() -> None:
    small, large = _xlsx_peak(1_200), _xlsx_peak(3_000)  # widths sample the first 1,000
    # rows are streamed into the zip file; a workbook in memory would keep ~30 k more cells
    assert large - small < 200_000, (small, large)


# ----------------------------------------------------------------------------------------------
# Atomic files
# ----------------------------------------------------------------------------------------------


def _broken_result() -> ImsInvoices:
    good = sample().b2b[0]
    bad = ImsInvoice(
        supplier_gstin="X",
        number="2",
        date=date(2024, 1, 1),
        value=Decimal(1),
        extra=FrozenMap({"x": object()}),
    )
    return ImsInvoices(b2b=(good,) * 50 + (bad,))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "xlsx", "json"])
def test_a_failed_export_leaves_the_old_file_and_no_temporary(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"ims.{fmt}"
    path.write_bytes(b"old")
    with pytest.raises(TypeError, match="object"):
        export.export(_broken_result(), path, fmt)
    assert path.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_per_section_export_keeps_the_sections_written_before(tmp_path: Path) -> None:
    broken = _broken_result()
    result = ImsInvoices(b2b=sample().b2b, ecom=broken.b2b)
    with pytest.raises(TypeError):
        export.write_csv(result, tmp_path, per_section=True)
    assert [p.name for p in tmp_path.iterdir()] == ["b2b.csv"]  # no ecom.csv, no temporary
    assert sections_of(read_csv_files([tmp_path / "b2b.csv"], ["b2b"]))[0][1] == list(result.b2b)


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_export_replaces_an_existing_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"ims.{fmt}"
    path.write_bytes(b"old")
    assert export.export(sample(), path, fmt) == [path]
    assert path.read_bytes() != b"old"
    assert list(tmp_path.iterdir()) == [path]


# ----------------------------------------------------------------------------------------------
# export()
# ----------------------------------------------------------------------------------------------


def test_formats() -> None:
    assert export.FORMATS == ("json", "jsonl", "csv", "xlsx")


def test_export_dispatches_by_format(tmp_path: Path) -> None:
    result = sample()
    assert export.export(result, tmp_path / "a.json", "json", indent=1) == [tmp_path / "a.json"]
    assert read_json((tmp_path / "a.json").read_bytes()) == result
    assert export.export(result, str(tmp_path / "a.jsonl"), "JSONL") == [tmp_path / "a.jsonl"]
    paths = export.export(result, tmp_path / "dir", "csv", per_section=True, formula_guard=False)
    assert [p.name for p in paths] == ["b2b.csv", "b2bdna.csv", "b2bcn.csv", "impg.csv"]
    assert export.export(result, tmp_path / "a.xlsx", "xlsx") == [tmp_path / "a.xlsx"]
    sheets = openpyxl.load_workbook(tmp_path / "a.xlsx").sheetnames
    assert sheets == ["Summary", *result.section_names()]


def test_export_refuses_bad_input_before_writing(tmp_path: Path) -> None:
    result = sample()
    with pytest.raises(InvalidInput, match="format must be one of json, jsonl, csv, xlsx"):
        export.export(result, tmp_path / "a.xml", "xml")
    with pytest.raises(InvalidInput, match="format must be one of"):
        export.export(result, tmp_path / "a.json", ["json"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="no option per_section"):
        export.export(result, tmp_path / "a.json", "json", per_section=True)
    with pytest.raises(InvalidInput, match="out must be a path"):
        export.export(result, io.BytesIO(), "json")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="ImsInvoices"):
        export.export({"b2b": []}, tmp_path / "a.json", "json")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="out must be a path or a binary stream"):
        export.write_json(result, 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="out must be a path"):
        export.write_csv(result, io.BytesIO())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# Property tests: random records through every format and back
# ----------------------------------------------------------------------------------------------

_ALL_WIRES = {wire for cls in m.SECTION_RECORD_TYPES.values() for wire, _ in _kinds(cls).values()}
_PLAIN_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=8)
_FORMULAS = ["", "=1+1", "+91", "-5", "@A1", "\tx", "'q", "#N/A", ' a,b"c\n']
_TRICKY_TEXT = st.sampled_from([*_FORMULAS, "\rx", "a\r\nb"])
_TEXT = st.one_of(_PLAIN_TEXT, _TRICKY_TEXT)
# Excel cannot hold most control characters (they become U+FFFD: tested above)
# and line breaks become "\n" (also tested above)
_XLSX_TEXT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
    st.sampled_from(_FORMULAS),
)
_AMOUNT = st.one_of(
    st.integers(-(10**12), 10**12),
    st.integers(0, 4).flatmap(
        lambda places: st.decimals(
            min_value=-(10**12),
            max_value=10**12,
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    ),
    st.sampled_from([Decimal("1E+2"), Decimal("12.10"), Decimal("0.125"), Decimal("-0.005")]),
)
_DATE = st.dates(date(1900, 3, 1), date(9999, 12, 31)).map(lambda d: d.strftime(WIRE_DATE))
_PERIOD = st.builds(lambda mo, y: f"{mo:02d}{y:04d}", st.integers(1, 12), st.integers(1000, 9999))
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**20), 10**20), _AMOUNT, _PLAIN_TEXT),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_PLAIN_TEXT, inner, max_size=2),
    max_leaves=4,
)
_UNKNOWN_KEY = st.text("abcdefgh_", min_size=1, max_size=6).filter(
    lambda k: k not in _ALL_WIRES and k != "section"
)


def _value_strategy(f: _codec.WireField, text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    if f.kind == "date":
        return _DATE
    if f.kind == "money":
        return _AMOUNT
    if f.kind == "period":
        return _PERIOD
    if f.kind in ("enum", "flag"):
        return st.sampled_from([c.value for c in f.type]) | text
    return text


@st.composite
def _known_record(
    draw: st.DrawFn, cls: type[ImsRecord], text: st.SearchStrategy[str]
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in _codec.wire_fields(cls):
        wire = f.wire
        if f.required:
            record[wire] = draw(_value_strategy(f, text))
        else:
            choice = draw(st.integers(0, 3))
            if choice == 1:
                record[wire] = None
            elif choice >= 2:
                record[wire] = draw(_value_strategy(f, text))
    record.update(draw(st.dictionaries(_UNKNOWN_KEY, _JSON, max_size=2)))
    keys = draw(st.permutations(list(record)))
    return {k: record[k] for k in keys}


@st.composite
def _unknown_record(draw: st.DrawFn, text: st.SearchStrategy[str]) -> dict[str, Any]:
    shared = st.sampled_from(["stin", "val", "rtnprd", "action", "txval", "hash", "inum", "idt"])
    value = st.one_of(text, _AMOUNT, st.none(), st.booleans())
    record: dict[str, Any] = draw(st.dictionaries(shared, value, max_size=5))
    record.update(draw(st.dictionaries(_UNKNOWN_KEY, _JSON, max_size=2)))
    return record


@st.composite
def results(draw: st.DrawFn, text: st.SearchStrategy[str] = _TEXT) -> ImsInvoices:
    data: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(m.KNOWN_SECTIONS), unique=True, max_size=4)):
        cls = m.SECTION_RECORD_TYPES[key]
        data[key] = draw(st.lists(_known_record(cls, text), max_size=3))
    for key in draw(
        st.lists(st.sampled_from(["impg", "IMPG", "x y", "../z"]), unique=True, max_size=2)
    ):
        data[key] = draw(st.lists(_unknown_record(text), max_size=3))
    if draw(st.booleans()):  # a non-list key of the data: the result's extra
        data["summary"] = draw(_JSON.filter(lambda v: type(v) is not list))
    return structure_invoices(data)


_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(results())
def test_property_json_round_trip(result: ImsInvoices) -> None:
    stream = io.BytesIO()
    export.write_json(result, stream)
    assert read_json(stream.getvalue()) == result


@_PROPERTY
@given(results())
def test_property_jsonl_round_trip(result: ImsInvoices) -> None:
    stream = io.BytesIO()
    count = export.write_jsonl(result, stream)
    assert count == len(result)
    assert non_empty(read_jsonl(stream.getvalue())) == non_empty(result)


@_PROPERTY
@given(results(), st.booleans())
def test_property_csv_round_trip(result: ImsInvoices, guard: bool) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "ims.csv"
        export.write_csv(result, one, formula_guard=guard)
        assert non_empty(read_csv(one, guarded=guard)) == non_empty(result)
        paths = export.write_csv(result, Path(tmp) / "split", per_section=True, formula_guard=guard)
        back = read_csv_files(paths, result.section_names(), guarded=guard)
        assert sections_of(back) == sections_of(result)


def test_a_return_period_before_march_1900_is_kept_as_text_in_excel() -> None:
    # Excel counts a 29 February 1900 that never was: before March 1900 its dates are a day
    # off, so such a period is written as its text (found by the slow Hypothesis profile)
    base = {"stin": "S", "val": 1, "inum": "N", "idt": "01-01-2000"}
    result = structure_invoices(
        {"b2b": [{**base, "rtnprd": "011900"}, {**base, "rtnprd": "031900"}]}
    )
    stream = io.BytesIO()
    export.write_xlsx(result, stream)
    back = read_xlsx(io.BytesIO(stream.getvalue()), result.section_names())
    assert sections_of(back) == rounded(result)
    assert ["011900", "031900"] == [str(r.return_period) for r in back.b2b]


@given(results(_XLSX_TEXT))
def test_property_xlsx_round_trip_to_the_paisa(result: ImsInvoices) -> None:
    stream = io.BytesIO()
    export.write_xlsx(result, stream)
    back = read_xlsx(io.BytesIO(stream.getvalue()), result.section_names())
    assert sections_of(back) == rounded(result)


# ----------------------------------------------------------------------------------------------
# End to end: a simulator download of all eight sections
# ----------------------------------------------------------------------------------------------


@pytest.mark.sim(
    records=RecordSettings(per_section=9, unknown_sections=("impg",)), paging=PagingSettings(size=4)
)
async def test_simulator_download_exports_in_every_format(
    client: FlynnClient, session: GstSession, sim: FlynnSimulator, tmp_path: Path
) -> None:
    result = await client.ims.download_all(session)
    assert result.section_names() == [*m.KNOWN_SECTIONS, "impg"]
    assert all(len(records) > 0 for _, records in sections_of(result))

    paths = {
        fmt: export.export(result, tmp_path / f"ims.{fmt}", fmt)
        for fmt in ("json", "jsonl", "xlsx")
    }
    paths["csv"] = export.export(result, tmp_path / "ims.csv", "csv")
    split = export.export(result, tmp_path / "csv", "csv", per_section=True)

    data = json.loads(paths["json"][0].read_bytes(), parse_float=Decimal)
    for section in ImsSection:
        assert data[section.key] == sim.expected_records(sim.gstin, section.value)
    assert data["impg"] == sim.expected_records(sim.gstin, "impg")
    assert read_json(paths["json"][0].read_bytes()) == result
    assert sections_of(read_jsonl(paths["jsonl"][0].read_bytes())) == sections_of(result)
    assert sections_of(read_csv(paths["csv"][0])) == sections_of(result)
    assert sections_of(read_csv_files(split, result.section_names())) == sections_of(result)
    assert [p.name for p in split] == [f"{k}.csv" for k in result.section_names()]
    back = read_xlsx(paths["xlsx"][0], result.section_names())
    assert sections_of(back) == rounded(result)
    # the simulator's amounts have at most two decimals: Excel holds them exactly
    assert sections_of(back) == sections_of(result)


# ----------------------------------------------------------------------------------------------
# docs/export.md lists the columns as the code does
# ----------------------------------------------------------------------------------------------


def _cell_kind(section_cls: type[ImsRecord], name: str) -> str:
    (f,) = [f for f in _codec.wire_fields(section_cls) if f.attr == name]
    cells = {"date": "date `YYYY-MM-DD`", "money": "amount", "period": "text `MMYYYY`"}
    return cells.get(f.kind, "code" if f.kind in ("enum", "flag") else "text")


def columns_table() -> str:
    """The Markdown table of docs/export.md, generated from ``columns()`` and the models."""
    lines = ["| # | column | cell | wire name | sections |", "| --- | --- | --- | --- | --- |"]
    unknown = export.columns("an-unknown-section")
    for i, name in enumerate(export.columns(None), start=1):
        if name == "section":
            lines.append(f"| {i} | `section` | text | | single-file CSV only |")
            continue
        if name == "extra":
            lines.append(f"| {i} | `extra` | JSON object | every other field | every section |")
            continue
        sections = [k for k in m.KNOWN_SECTIONS if name in export.columns(k)]
        classes = [m.SECTION_RECORD_TYPES[k] for k in sections]
        wires: list[str] = []
        for cls in classes:
            wire = f"`{ {f.attr: f.wire for f in _codec.wire_fields(cls)}[name] }`"
            if wire not in wires:
                wires.append(wire)
        wire_text = wires[0] if len(wires) == 1 else f"{wires[0]} (invoices), {wires[1]} (notes)"
        if name in unknown:
            where = "every section, unknown ones too"
        elif len(sections) == len(m.KNOWN_SECTIONS):
            where = "every known section"
        else:
            where = ", ".join(f"`{k}`" for k in sections)
        lines.append(f"| {i} | `{name}` | {_cell_kind(classes[0], name)} | {wire_text} | {where} |")
    return "\n".join(lines)


def test_docs_list_the_columns_in_order() -> None:
    text = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- columns: start -->\n(.*?)\n<!-- columns: end -->", text, re.S)
    assert found is not None, "docs/export.md lacks the columns table markers"
    expected = columns_table()
    assert found.group(1) == expected, "regenerate the table in docs/export.md:\n" + expected


def test_docs_cover_every_format() -> None:
    text = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    headings = " ".join(re.findall(r"^## (.+)$", text, re.M)).lower()
    for word in ("json", "json lines", "csv", "excel"):
        assert word in headings
    assert "pip install '.[xlsx]'" in text
    assert "formula_guard" in text
    assert "dtype=str" in text
