"""The 2B document decodes field for field, exactly, and ``to_dict()`` gives it back as sent."""

from __future__ import annotations

import datetime
import json
import pickle
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import ResponseError, ReturnPeriod
from flynn_async._core import _codec
from flynn_async.gstr2b import (
    Gstr2b,
    Gstr2bBillOfEntry,
    Gstr2bInvoice,
    Gstr2bIsdDocument,
    Gstr2bNote,
    Gstr2bSupplier,
    decode_gstr2b,
    merge_files,
)

DATA = Path(__file__).parent.parent / "data"
_decoder = msgspec.json.Decoder(float_hook=Decimal)
_encoder = msgspec.json.Encoder(decimal_format="number")


def load(name: str) -> Any:
    return _decoder.decode((DATA / name).read_bytes())


def text_of(value: Any) -> bytes:
    """Canonical JSON text: keys sorted, every number with the digits it has."""
    return _encoder.encode(_sorted(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


@pytest.mark.parametrize("name", ["gstr2b_v4.json", "gstr2b_items.json"])
def test_to_dict_gives_the_document_back_with_every_digit(name: str) -> None:
    document = load(name)["data"]
    result = decode_gstr2b(document)
    assert text_of(document) == text_of(result.to_dict())
    assert document == result.to_dict()


def test_every_part_is_typed_with_readable_names() -> None:
    result = decode_gstr2b(load("gstr2b_v4.json")["data"])
    assert result.gstin == "24AAAPI3182M002"
    assert result.period == ReturnPeriod(2025, 10)
    assert result.version == "4.0"
    assert result.generated == datetime.date(2025, 11, 14)
    summary = result.itc_summary
    assert summary is not None
    assert summary.available is not None
    nonrev = summary.available.groups["nonrevsup"]
    assert nonrev.totals.igst == Decimal("1800.50")
    assert str(nonrev.totals.igst) == "1800.50"
    assert nonrev.sections["cdnr"].igst == Decimal("-100.00")
    assert summary.rejected is not None
    assert summary.rejected.groups["nonrevsup"].sections["b2b"].igst == Decimal("540.75")
    assert summary.not_available is not None
    assert summary.reversal is not None
    assert result.supplier_summary is not None
    first = result.supplier_summary["b2b"][0]
    assert (first.supplier_gstin, first.document_count, first.taxable_value) == (
        "27AAACR5055K1Z5",
        2,
        Decimal("11002.80"),
    )
    assert result.supplier_summary["cdnr"][0].note_type == "C"
    assert result.supplier_summary["impgsez"][0].port_code == "INIXY1"

    docs = result.documents
    assert docs is not None
    supplier = docs.section("b2b")[0]
    assert isinstance(supplier, Gstr2bSupplier)
    assert supplier.trade_name == "Rao Steel Traders"
    assert supplier.filing_date == datetime.date(2025, 11, 11)
    invoice = supplier.invoices[0] if supplier.invoices else None
    assert isinstance(invoice, Gstr2bInvoice)
    assert invoice.number == "RST/25-26/0042"
    assert invoice.date == datetime.date(2025, 10, 3)
    assert invoice.irn_date == datetime.date(2025, 10, 3)
    assert invoice.taxable_value == Decimal("10001.70")
    assert str(invoice.taxable_value) == "10001.70"
    assert invoice.itc_available == "Y"
    assert invoice.ims_status == "A"
    assert supplier.invoices is not None
    assert supplier.invoices[1].differential_percentage == Decimal("0.65")
    assert supplier.invoices[1].type == "SEWP"
    amended = docs.section("b2ba")[0].invoices[0]
    assert (amended.original_number, amended.original_date) == (
        "RST/25-26/0041",
        datetime.date(2025, 9, 1),
    )
    note = docs.section("cdnr")[0].notes[0]
    assert isinstance(note, Gstr2bNote)
    assert (note.number, note.note_type, note.supply_type) == ("CN/0007", "C", "R")
    assert note.irn == ""
    assert note.irn_date is None
    assert note.extra == {"irngendate": ""}
    note_a = docs.section("cdnra")[0].notes[0]
    assert (note_a.original_note_type, note_a.original_number) == ("D", "DN/0002")
    isd = docs.section("isd")[0].isd_documents[0]
    assert isinstance(isd, Gstr2bIsdDocument)
    assert (isd.document_type, isd.number, isd.itc_eligible) == ("ISDI", "ISD/77", "Y")
    assert isd.original_invoice_date == datetime.date(2025, 10, 15)
    assert docs.section("isda")[0].isd_documents[0].original_number == "ISD/70"
    bill = docs.section("impg")[0]
    assert isinstance(bill, Gstr2bBillOfEntry)
    assert (bill.number, bill.port_code, bill.cess) == ("7654321", "INNSA1", Decimal("12.5"))
    sez = docs.section("impgsez")[0]
    assert sez.bills_of_entry is not None
    assert sez.bills_of_entry[0].number == "1234567"
    # sections of another shape and unknown ones are kept as sent
    assert set(docs.extra) == {"itcrev", "tcs"}
    assert docs.extra["tcs"][0]["amt"] == Decimal("1.05")
    assert result.extra == {"newsection_summary": {"note": "kept as sent", "amt": Decimal("10.10")}}
    # an unknown field of a document
    invoices = supplier_of(result, "b2b", 1).invoices
    assert invoices is not None
    assert invoices[0].extra == {"portalflag": "X1"}
    rejected = result.rejected
    assert rejected is not None
    assert rejected.section("b2b")[0].invoices[0].ims_status == "R"
    assert not result.empty
    assert len(list(docs.documents())) == 12


def supplier_of(result: Gstr2b, section: str, index: int) -> Gstr2bSupplier:
    assert result.documents is not None
    entry = result.documents.section(section)[index]
    assert isinstance(entry, Gstr2bSupplier)
    return entry


def test_the_older_shape_keeps_its_item_lines() -> None:
    result = decode_gstr2b(load("gstr2b_items.json")["data"])
    invoices = supplier_of(result, "b2b", 0).invoices
    assert invoices is not None
    invoice = invoices[0]
    assert invoice.items is not None
    assert [(i.number, i.rate, i.cgst) for i in invoice.items] == [
        (1, Decimal(18), Decimal("0")),
        (2, Decimal("9.5"), Decimal("45.00")),
    ]
    assert invoice.taxable_value is None  # the older shape has amounts on the items only
    assert result.itc_summary is not None
    assert result.itc_summary.available is not None
    totals = result.itc_summary.available.groups["nonrevsup"].totals
    assert totals.taxable_value == Decimal("2000.00")


def test_a_multi_file_answer_merges_to_the_one_file_document() -> None:
    multi = load("gstr2b_multifile.json")
    files = [f["data"] for f in multi["files"]]
    merged = merge_files(multi["first"]["data"], files)
    single = decode_gstr2b(load("gstr2b_v4.json")["data"])
    assert merged == single
    assert merged.files == 3
    assert "fc" not in merged.to_dict()
    assert text_of(merged.to_dict()) == text_of(single.to_dict())


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        (("docdata", "b2b", 0, "inv", 0, "txval"), "10001.70", "docdata.b2b[0].inv[0].txval"),
        (("docdata", "b2b", 0, "inv", 0, "igst"), 1.5, "docdata.b2b[0].inv[0].igst"),
        (("docdata", "b2b", 0, "inv", 0, "cgst"), True, "docdata.b2b[0].inv[0].cgst"),
        (("docdata", "b2b", 0, "inv", 0, "dt"), "2025-10-03", "docdata.b2b[0].inv[0].dt"),
        (("itcsumm", "itcavl", "nonrevsup", "igst"), "1800.50", "itcsumm.itcavl.nonrevsup.igst"),
        (("cpsumm", "b2b", 0, "ttldocs"), "2", "cpsumm.b2b[0].ttldocs"),
        (("gendt",), "14/11/2025", "gendt"),
        (("rtnprd",), "13-2025", "rtnprd"),
    ],
)
def test_a_wrong_type_is_refused_naming_the_path(
    path: tuple[Any, ...], value: Any, where: str
) -> None:
    document = load("gstr2b_v4.json")["data"]
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ResponseError, match=rf"GSTR-2B {__import__('re').escape(where)}:"):
        decode_gstr2b(document)


def test_records_are_frozen_and_pickle() -> None:
    result = decode_gstr2b(load("gstr2b_v4.json")["data"])
    invoices = supplier_of(result, "b2b", 0).invoices
    assert invoices is not None
    invoice = invoices[0]
    with pytest.raises(AttributeError):
        invoice.number = "X"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(invoice)) == invoice
    assert pickle.loads(pickle.dumps(result)) == result  # a result crosses processes
    with pytest.raises(TypeError):
        result.documents.sections["b2b"] = ()  # type: ignore[index, union-attr]
    assert json.loads(_encoder.encode(result.to_dict()))["gstin"] == "24AAAPI3182M002"


# ------------------------------------------------------------------------------------------
# Property: any split over files merges back to the one-file Gstr2b.
# ------------------------------------------------------------------------------------------


def _split(document: dict[str, Any], cuts: list[int], files: int) -> tuple[Any, list[Any]]:
    """Deal each list of docdata/docRejdata out over ``files`` files, in order."""
    parts: list[dict[str, Any]] = [{"fc": files} for _ in range(files)]
    draw = iter(cuts)
    for key in ("docdata", "docRejdata"):
        for section, entries in document.get(key, {}).items():
            if not isinstance(entries, list):
                parts[0].setdefault(key, {})[section] = entries
                continue
            # contiguous runs: file i gets entries[bounds[i]:bounds[i+1]]
            bounds = sorted(next(draw, 0) % (len(entries) + 1) for _ in range(files - 1))
            bounds = [0, *bounds, len(entries)]
            for i in range(files):
                chunk = entries[bounds[i] : bounds[i + 1]]
                if chunk:
                    parts[i].setdefault(key, {})[section] = chunk
    first = {k: v for k, v in document.items() if k not in ("docdata", "docRejdata")}
    first["fc"] = files
    return first, parts


@given(
    files=st.integers(min_value=1, max_value=6),
    cuts=st.lists(st.integers(min_value=0, max_value=50), max_size=120),
    first_carries_file_one=st.booleans(),
)
def test_any_split_merges_to_exactly_the_one_file_result(
    files: int, cuts: list[int], first_carries_file_one: bool
) -> None:
    document = load("gstr2b_v4.json")["data"]
    # more entries per section, so that splits can fall inside a section
    b2b = document["docdata"]["b2b"]
    document["docdata"]["b2b"] = b2b + [dict(b2b[0], ctin=f"27AAACR{n:04d}K1Z5") for n in range(5)]
    single = decode_gstr2b(document)
    first, parts = _split(document, cuts, files)
    if first_carries_file_one and "docdata" in parts[0]:
        first["docdata"] = parts[0]["docdata"]  # file 1 again: must not be added twice
    merged = merge_files(first, parts)
    assert merged.files == files
    assert merged == single
    assert text_of(merged.to_dict()) == text_of(single.to_dict())


def test_unchanged_also_when_the_status_carries_ims2005() -> None:
    from flynn_async.gstr2b import Gstr2bRegeneration

    ended = Gstr2bRegeneration(reference_id="R1", status="ER", error_code="IMS2005")
    assert ended.unchanged
    assert ended.succeeded
    failed = Gstr2bRegeneration(reference_id="R2", status="ER", error_code="IMS2B007")
    assert not failed.unchanged
    assert not failed.succeeded
    assert Gstr2bRegeneration(reference_id="R3", status="IP").in_progress


_amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), allow_nan=False, places=2
) | st.integers(min_value=-(10**12), max_value=10**12)
_dates = st.dates(min_value=datetime.date(2017, 7, 1), max_value=datetime.date(2099, 12, 31))


@given(
    amounts=st.lists(_amounts, min_size=6, max_size=6),
    day=_dates,
    extra=st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=8).filter(
            lambda k: k not in {f.wire for f in _codec.wire_fields(Gstr2bInvoice)}
        ),
        st.one_of(st.text(max_size=5), _amounts, st.none()),
        max_size=3,
    ),
)
def test_an_invoice_round_trips_with_every_digit(
    amounts: list[Decimal | int], day: datetime.date, extra: dict[str, Any]
) -> None:
    wire: dict[str, Any] = {
        "inum": "INV/1",
        "dt": day.strftime("%d-%m-%Y"),
        "typ": "R",
        **dict(zip(("val", "txval", "igst", "cgst", "sgst", "cess"), amounts, strict=True)),
        **extra,
    }
    body = _encoder.encode(wire)
    decoded = _decoder.decode(body)
    invoice = Gstr2bInvoice.decode(decoded, "inv[0]")
    assert invoice.date == day
    assert invoice.to_dict() == decoded
    assert text_of(invoice.to_dict()) == text_of(decoded)  # the same text: every digit kept
    assert len(_encoder.encode(invoice.to_dict())) == len(body)
