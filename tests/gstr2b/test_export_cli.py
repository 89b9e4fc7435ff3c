"""GSTR-2B to JSON, JSON Lines, CSV and Excel through the command line, read back and compared
with the typed result (Excel to the paisa); ``gstr2b regenerate``."""

from __future__ import annotations

import csv
import datetime
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from flynn_async import InvalidInput, ReturnPeriod
from flynn_async._core._json import loads
from flynn_async.cli import _main as _cli
from flynn_async.cli._common import EXIT_OK, Ui
from flynn_async.export import GSTR2B_TABLES, export_gstr2b, gstr2b_rows
from flynn_async.gstr2b import Gstr2b, decode_gstr2b
from flynn_async.testing import FlynnSimulator, RecordSettings
from tests.test_cli import sim_ui, stored_session, written

PERIOD = "102025"
PAISE = Decimal("0.01")


async def typed(sim: FlynnSimulator, state: Path) -> Gstr2b:
    """The 2B as the library gives it (the simulator keeps it once generated)."""
    document = sim.gstr2b.document(sim.gstin, PERIOD)
    assert document is not None
    return decode_gstr2b(document)


def expected_rows(result: Gstr2b, table: str) -> list[dict[str, Any]]:
    return list(gstr2b_rows(result, table))


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


@pytest.fixture
async def downloaded(sim: FlynnSimulator, tmp_path: Path) -> tuple[FlynnSimulator, Path]:
    await stored_session(sim, tmp_path)
    sim.gstr2b.files = 3  # the command fetches and merges every file
    return sim, tmp_path


async def run(ui: Ui, *args: str) -> int:
    code = await _cli.run(list(args), ui)
    assert code == EXIT_OK, written(ui.err)
    return code


async def test_json_is_the_document_as_sent(downloaded: tuple[FlynnSimulator, Path]) -> None:
    sim, tmp = downloaded
    out = tmp / "2b.json"
    ui = sim_ui(sim, tmp)
    await run(ui, "gstr2b", "download", "--period", PERIOD, "--out", str(out))
    assert loads(out.read_bytes()) == sim.gstr2b.document(sim.gstin, PERIOD)
    assert "3 file(s)" in written(ui.out)
    assert f"wrote {out}" in written(ui.err)


@pytest.mark.sim(records=RecordSettings(per_section=12))
async def test_jsonl_and_csv_rows_equal_the_typed_result_exactly(
    downloaded: tuple[FlynnSimulator, Path],
) -> None:
    sim, tmp = downloaded
    for fmt in ("jsonl", "csv"):
        out = tmp / f"2b.{fmt}"
        await run(sim_ui(sim, tmp), "gstr2b", "download", "--period", PERIOD, "--out", str(out))
        result = await typed(sim, tmp)
        for table in GSTR2B_TABLES:
            path = out if table == "documents" else tmp / f"2b.{table}.{fmt}"
            want = [{k: as_text(v) for k, v in row.items()} for row in expected_rows(result, table)]
            if fmt == "csv":
                with path.open(newline="", encoding="utf-8") as handle:
                    got = list(csv.DictReader(handle))
            else:
                lines = path.read_bytes().splitlines()
                got = [{k: as_text(v) for k, v in loads(line).items()} for line in lines]
            assert want == got, (fmt, table)
            assert want, table
    # one row per document, the supplier's fields repeated, a rejected column
    rows = expected_rows(result, "documents")
    assert {r["rejected"] for r in rows} == {"Y", "N"}
    assert all(r["supplier_gstin"] and r["filing_date"] for r in rows)
    total = sum(len(list(d.documents())) for d in (result.documents, result.rejected) if d)
    assert len(rows) == total


@pytest.mark.sim(records=RecordSettings(per_section=12))
async def test_excel_equals_the_typed_result_to_the_paisa(
    downloaded: tuple[FlynnSimulator, Path],
) -> None:
    sim, tmp = downloaded
    out = tmp / "2b.xlsx"
    await run(sim_ui(sim, tmp), "gstr2b", "download", "--period", PERIOD, "--out", str(out))
    result = await typed(sim, tmp)
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["Documents", "ITC summary", "Supplier summary"]
    for sheet, table in zip(workbook.worksheets, GSTR2B_TABLES, strict=True):
        cells = list(sheet.iter_rows(values_only=True))
        header = list(expected_rows(result, table)[0])
        assert cells[1][header.index("section")] == "section"  # the wire-name row
        got = [dict(zip(header, row, strict=True)) for row in cells[2:]]
        want = expected_rows(result, table)
        assert len(want) == len(got)
        for w, g in zip(want, got, strict=True):
            for name, value in w.items():
                cell = g[name]
                if value is None:
                    assert cell is None, name
                elif isinstance(value, Decimal):
                    assert isinstance(cell, int | float), name
                    assert value.quantize(PAISE, ROUND_HALF_UP) == Decimal(str(cell)), name
                elif isinstance(value, datetime.date):
                    assert isinstance(cell, datetime.datetime), name
                    assert cell.date() == value, name
                elif name == "supplier_period":
                    assert isinstance(cell, datetime.datetime), name
                    period = ReturnPeriod.parse(value)
                    assert (cell.year, cell.month) == (period.year, period.month)
                else:
                    assert cell == value, name


async def test_regenerate_command_reports_the_outcome(sim: FlynnSimulator, tmp_path: Path) -> None:
    await stored_session(sim, tmp_path)
    ui = sim_ui(sim, tmp_path)
    await run(ui, "gstr2b", "download", "--period", PERIOD, "--out", str(tmp_path / "a.json"))
    records = dict(sim._ims_records_of(sim.gstin))
    record = next(r for r in records["b2b"] if r["action"] in ("A", "N"))
    sim.gstr2b.act(sim.gstin, "b2b", record, "R")
    ui = sim_ui(sim, tmp_path)
    await run(ui, "gstr2b", "regenerate", "--period", PERIOD, "--poll-interval", "0.01")
    (reference_id,) = sim.gstr2b.regenerations
    assert f"regeneration {reference_id} P" in written(ui.out)
    assert f"reference id {reference_id}" in written(ui.err)
    ui = sim_ui(sim, tmp_path)
    await run(ui, "gstr2b", "regenerate", "--period", PERIOD, "--poll-interval", "0.01")
    assert "nothing changed" in written(ui.out)


async def test_bad_input_is_refused_before_any_request(sim: FlynnSimulator, tmp_path: Path) -> None:
    await stored_session(sim, tmp_path)
    sim.reset_counters()
    for args in (
        ["gstr2b", "download", "--period", "13-2025", "--out", str(tmp_path / "x.json")],
        ["gstr2b", "download", "--period", PERIOD, "--out", str(tmp_path / "x.txt")],
        ["gstr2b", "regenerate", "--period", "2025"],
    ):
        ui = sim_ui(sim, tmp_path)
        assert await _cli.run(args, ui) == 2, args
    assert sum(sim.calls.values()) == 0


def test_export_refuses_what_it_cannot_write(tmp_path: Path) -> None:
    result = Gstr2b(gstin="24AAAPI3182M002", period=ReturnPeriod(2025, 10))
    with pytest.raises(InvalidInput, match="format"):
        export_gstr2b(result, tmp_path / "x", "pdf")
    with pytest.raises(InvalidInput, match="Gstr2b"):
        export_gstr2b({"gstin": "x"}, tmp_path / "x.json", "json")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="table"):
        list(gstr2b_rows(result, "nope"))
    paths = export_gstr2b(result, tmp_path / "empty.csv", "csv")
    assert [p.name for p in paths] == [
        "empty.csv",
        "empty.itc-summary.csv",
        "empty.supplier-summary.csv",
    ]
    export_gstr2b(result, tmp_path / "empty.json", "json")
    assert json.loads((tmp_path / "empty.json").read_text()) == {
        "gstin": "24AAAPI3182M002",
        "rtnprd": "102025",
    }


@pytest.mark.sim(records=RecordSettings(per_section=300))
async def test_the_summary_fits_80_columns_with_every_total_whole(
    downloaded: tuple[FlynnSimulator, Path],
) -> None:
    from flynn_async.cli._gstr2b import summary_lines

    sim, tmp = downloaded
    ui = sim_ui(sim, tmp)
    await run(ui, "gstr2b", "download", "--period", PERIOD, "--out", str(tmp / "2b.json"))
    result = await typed(sim, tmp)
    lines = summary_lines(result)
    assert written(ui.out).splitlines()[1:] == lines[1:]  # (the typed one is one file)
    assert [] == [line for line in lines if len(line) > 80]
    summary = result.itc_summary
    assert summary is not None
    for bucket in (summary.available, summary.rejected):
        assert bucket is not None
    for tax in ("igst", "cgst", "sgst", "cess"):
        available, rejected = (
            sum((getattr(g.totals, tax) or 0 for g in bucket.groups.values()), Decimal(0))
            for bucket in (summary.available, summary.rejected)
            if bucket is not None
        )
        [row] = [line for line in lines if line.split()[:1] == [tax.upper()]]
        assert row.split() == [tax.upper(), f"{available:,}", f"{rejected:,}"]
    assert result.documents is not None
    for section in {section for section, _, _ in result.documents.documents()}:
        count = sum(1 for s, _, _ in result.documents.documents() if s == section)
        [row] = [line for line in lines if line.split()[:1] == [section]]
        assert row.split()[1] == str(count)
