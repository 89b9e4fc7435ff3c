"""Bytes to typed records and back: exact decimals, the seed page, round trips, bad data."""

from __future__ import annotations

import datetime
import gc
import json
import pickle
import sys
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast
from unittest import mock

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import (
    ApiError,
    Credentials,
    FlynnClient,
    FlynnError,
    FrozenMap,
    NotFound,
    PagesMissing,
    ResponseError,
    RetryPolicy,
    ReturnPeriod,
    YesNo,
)
from flynn_async._core import _codec
from flynn_async._core import _json as _core_json
from flynn_async._core._json import MAX_DEPTH, dumps, loads
from flynn_async._core._period import _parse_return_period
from flynn_async._http import _api
from flynn_async.ims import (
    FilingStatus,
    ImsAmendedInvoice,
    ImsAmendedNote,
    ImsInvoice,
    ImsNote,
    ImsStatus,
    InvoiceType,
    SourceForm,
    _decoding,
    decode_ims_page,
)
from flynn_async.ims._decoding import merge_invoices, structure_invoices
from flynn_async.ims._models import SECTION_RECORD_TYPES, ImsRecord
from tests.conftest import known_records
from tests.loopback import serve_app

SEED_BODY = (Path(__file__).parent / "data" / "seed_page.json").read_bytes()
HASH = "1f5fb5de9e491c24dcdee9ac01d3fa5f7889f20d3a8c923bfd2e3c7f0d0125f1"
STIN = "24MAYAS0100J1JD"


def parse_exact(body: bytes | str) -> Any:
    """The reference reading of JSON: the standard library with exact decimals."""
    return json.loads(body, parse_float=Decimal)


def digits(value: Any) -> Any:
    """``value`` with every number replaced by its exact text (so 1000.10 != 1000.1)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return ("number", str(value))
    if isinstance(value, dict):
        return {k: digits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [digits(v) for v in value]
    raise AssertionError(f"unexpected {type(value).__name__} in JSON data: {value!r}")


def no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(no_floats(v) for v in value)
    return True


# ------------------------------------------------------------------------------------------
# loads / dumps
# ------------------------------------------------------------------------------------------


def test_loads_reads_fractions_as_exact_decimals_and_whole_numbers_as_ints() -> None:
    data = loads(b'{"a": 1000.10, "b": 1000.1, "c": 7, "d": 1e2, "e": [0.30, -2.5]}')
    assert {
        "a": Decimal("1000.10"),
        "b": Decimal("1000.1"),
        "c": 7,
        "d": Decimal("1E+2"),
        "e": [Decimal("0.30"), Decimal("-2.5")],
    } == data
    assert "1000.10" == str(data["a"])
    assert type(data["c"]) is int
    assert no_floats(data)


def test_loads_rejects_malformed_json() -> None:
    with pytest.raises(msgspec.DecodeError):
        loads(b'{"a": }')


def test_dumps_writes_decimals_with_their_exact_digits() -> None:
    value = {"a": Decimal("1000.10"), "b": Decimal("0.00"), "c": 5, "d": Decimal("-3.1")}
    assert b'{"a":1000.10,"b":0.00,"c":5,"d":-3.1}' == dumps(value)


def test_dumps_writes_dates_and_mappings() -> None:
    value = {"d": datetime.date(2023, 1, 23), "m": MappingProxyType({"k": 1})}
    assert b'{"d":"2023-01-23","m":{"k":1}}' == dumps(value)


def test_dumps_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError, match="cannot encode object"):
        dumps({"x": object()})


# ------------------------------------------------------------------------------------------
# The seed's sample page
# ------------------------------------------------------------------------------------------


def test_seed_page_decodes_field_for_field() -> None:
    result = decode_ims_page(SEED_BODY)

    assert 8 == len(result)
    assert ["b2b", "b2ba", "b2bdn", "b2bdna", "b2bcn", "b2bcna", "ecom", "ecoma"] == (
        result.section_names()
    )

    b2b = result.b2b[0]
    assert (
        ImsInvoice(
            supplier_gstin=STIN,
            number="b1",
            invoice_type=InvoiceType.REGULAR,
            action=ImsStatus.ACCEPTED,
            pending_not_allowed=YesNo.NO,
            source_form=SourceForm.GSTR1,
            return_period=ReturnPeriod(2023, 1),
            source_filing_status=FilingStatus.NOT_FILED,
            date=datetime.date(2023, 1, 23),
            value=Decimal(1000),
            place_of_supply="24",
            taxable_value=Decimal(100),
            igst=Decimal(20),
            cgst=Decimal(20),
            sgst=Decimal(20),
            cess=Decimal(0),
            hash=HASH,
        )
        == b2b
    )
    assert b2b.action is ImsStatus.ACCEPTED
    assert b2b.invoice_type is InvoiceType.REGULAR
    assert b2b.source_form is SourceForm.GSTR1
    assert b2b.source_filing_status is FilingStatus.NOT_FILED
    assert b2b.pending_not_allowed is YesNo.NO
    assert b2b.pending_blocked is YesNo.NO
    assert b2b.pending_action_blocked is None
    assert {} == dict(b2b.extra)

    b2ba = result.b2ba[0]
    assert isinstance(b2ba, ImsAmendedInvoice)
    assert ("ab2", datetime.date(2023, 2, 24)) == (b2ba.original_number, b2ba.original_date)
    assert ("b1a", datetime.date(2023, 1, 23)) == (b2ba.number, b2ba.date)
    assert "07" == b2ba.place_of_supply

    b2bdn = result.b2bdn[0]
    assert type(b2bdn) is ImsNote
    assert Decimal("1000.1") == b2bdn.value
    assert "1000.1" == str(b2bdn.value)
    assert type(b2bdn.value) is Decimal
    assert Decimal("1000.1") == b2bdn.taxable_value
    assert Decimal("20") == b2bdn.igst
    assert ("dn2", datetime.date(2023, 2, 24)) == (b2bdn.number, b2bdn.date)
    assert ReturnPeriod(2023, 1) == b2bdn.return_period
    assert FilingStatus.FILED is b2bdn.source_filing_status

    for amended in (result.b2bdna[0], result.b2bcna[0]):
        assert type(amended) is ImsAmendedNote
        assert ("ca2", datetime.date(2023, 2, 24)) == (
            amended.original_number,
            amended.original_date,
        )
        assert "dn2" == amended.number
    assert type(result.b2bcn[0]) is ImsNote

    ecom = result.ecom[0]
    assert type(ecom) is ImsInvoice
    assert ("sd3", datetime.date(2023, 2, 24)) == (ecom.number, ecom.date)
    assert ecom.invoice_type is None
    assert Decimal(1000) == ecom.taxable_value
    ecoma = result.ecoma[0]
    assert ("get5", "sd3") == (ecoma.original_number, ecoma.number)

    for _, record in known_records(result):
        assert isinstance(record, (ImsInvoice, ImsNote))
        assert isinstance(record.date, datetime.date)
        for amount in (record.value, record.taxable_value, record.igst, record.cess):
            assert type(amount) is Decimal


def test_seed_page_to_dict_round_trips() -> None:
    data = parse_exact(SEED_BODY)["data"]
    actual = decode_ims_page(SEED_BODY).to_dict()
    assert data == actual
    assert digits(data) == digits(parse_exact(dumps(actual)))


def test_seed_page_totals() -> None:
    totals = decode_ims_page(SEED_BODY).totals()
    assert Decimal("1000.1") == totals["b2bdn"].value
    assert Decimal("100") == totals["b2b"].taxable_value
    assert 1 == totals["ecoma"].records


def test_decode_ims_page_raises_the_api_error_of_an_error_envelope() -> None:
    body = b'{"status": "0", "data": null, "error": {"message": "err-resource-not-found"}}'
    with pytest.raises(NotFound) as info:
        decode_ims_page(body)
    assert isinstance(info.value, ApiError)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>", "not valid JSON"),
        (b'{"status": "1", "data": [1, 2]}', "page data must be a JSON object"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_decode_ims_page_rejects_what_is_not_a_page(body: bytes, match: str) -> None:
    with pytest.raises(ResponseError, match=match):
        decode_ims_page(body)


# ------------------------------------------------------------------------------------------
# Lossless details
# ------------------------------------------------------------------------------------------


def base_invoice(**changes: Any) -> dict[str, Any]:
    record = {"stin": STIN, "inum": "b1", "idt": "23-01-2023", "val": 1000}
    record.update(changes)
    return record


def test_unknown_fields_and_nulls_are_kept_in_extra_and_written_back() -> None:
    record = base_invoice(txval=None, xtra_ref="XR-1", meta={"src": "x", "n": [1, Decimal("2.50")]})
    result = structure_invoices({"b2b": [record]})
    decoded = result.b2b[0]
    assert decoded.taxable_value is None
    # kept deeply read-only: the array as a tuple, the object as a FrozenMap
    assert {"txval": None, "xtra_ref": "XR-1", "meta": {"src": "x", "n": (1, Decimal("2.50"))}} == (
        dict(decoded.extra)
    )
    assert type(decoded.extra["meta"]) is FrozenMap
    assert {"b2b": [record]} == result.to_dict()


def test_unknown_codes_stay_text() -> None:
    record = base_invoice(
        action="X", inv_typ="NEW", srcform="R9", srcfilstatus="Partly", ispendactblocked="M"
    )
    decoded = structure_invoices({"b2b": [record]}).b2b[0]
    assert ("X", "NEW", "R9", "Partly", "M") == (
        decoded.action,
        decoded.invoice_type,
        decoded.source_form,
        decoded.source_filing_status,
        decoded.pending_action_blocked,
    )
    assert type(decoded.action) is str
    assert not isinstance(decoded.action, ImsStatus)


def test_unknown_sections_empty_sections_and_extra_keys_are_kept() -> None:
    data = {"b2b": [], "impg": [{"refnum": "I-1", "amt": Decimal("5.00")}], "fp": "012023"}
    result = structure_invoices(data)
    assert () == result.b2b
    assert frozenset({"b2b", "impg"}) == result.present
    assert ({"refnum": "I-1", "amt": Decimal("5.00")},) == result.other_sections["impg"]
    assert {"fp": "012023"} == dict(result.extra)
    assert data == result.to_dict()


def test_merge_invoices_keeps_page_order() -> None:
    pages = [
        structure_invoices({"b2b": [base_invoice(inum=f"b{i}")], "impg": [{"n": i}]})
        for i in range(3)
    ]
    merged = merge_invoices(pages)
    assert ["b0", "b1", "b2"] == [r.number for r in merged.b2b]
    assert ({"n": 0}, {"n": 1}, {"n": 2}) == merged.other_sections["impg"]


# ------------------------------------------------------------------------------------------
# Malformed records: the error names the path
# ------------------------------------------------------------------------------------------


def _set(section: str, index: int, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[section][index][key] = value

    return change


def _drop(section: str, key: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        del data[section][0][key]

    return change


def _append_bad_b2ba(data: dict[str, Any]) -> None:
    data["b2ba"].append({**data["b2ba"][0], "val": "x"})


MALFORMED = [
    pytest.param(
        _set("b2b", 0, "val", "1000"), "$.b2b[0].val", "expected a JSON number", id="string amount"
    ),
    pytest.param(
        _drop("b2b", "inum"), "$.b2b[0].inum", "required field is missing", id="missing inum"
    ),
    pytest.param(_drop("b2bcn", "nt_dt"), "$.b2bcn[0].nt_dt", "missing", id="missing nt_dt"),
    pytest.param(_set("b2b", 0, "idt", "2023-01-23"), "$.b2b[0].idt", "DD-MM-YYYY", id="bad date"),
    pytest.param(
        _set("b2ba", 0, "oidt", "31-02-2023"), "$.b2ba[0].oidt", "DD-MM-YYYY", id="impossible date"
    ),
    pytest.param(_set("b2b", 0, "stin", 24), "$.b2b[0].stin", "expected a string", id="int stin"),
    pytest.param(
        _set("b2b", 0, "stin", None), "$.b2b[0].stin", "expected a string", id="null stin"
    ),
    pytest.param(_set("ecom", 0, "txval", True), "$.ecom[0].txval", "got bool", id="bool amount"),
    pytest.param(
        _set("b2bdna", 0, "rtnprd", 132023), "$.b2bdna[0].rtnprd", "string", id="int period"
    ),
    pytest.param(_set("b2bcn", 0, "action", 1), "$.b2bcn[0].action", "ImsStatus", id="int action"),
    pytest.param(_append_bad_b2ba, "$.b2ba[1].val", "expected a JSON number", id="second record"),
    pytest.param(
        lambda d: d.__setitem__("b2b", {"x": 1}),
        "'b2b' must be a list",
        "got dict",
        id="section not a list",
    ),
    pytest.param(
        lambda d: d["b2b"].__setitem__(0, 5),
        "$.b2b[0]",
        "expected a JSON object, got int 5",
        id="record not an object",
    ),
    pytest.param(
        lambda d: d.__setitem__("impg", [1]),
        "$.impg[0]",
        "must be a JSON object",
        id="unknown section record",
    ),
]


@pytest.mark.parametrize(("change", "path", "text"), MALFORMED)
def test_malformed_pages_name_the_bad_path(
    change: Callable[[dict[str, Any]], None], path: str, text: str
) -> None:
    document = parse_exact(SEED_BODY)
    change(document["data"])
    with pytest.raises(ResponseError) as info:
        decode_ims_page(dumps(document))
    message = str(info.value)
    assert path in message
    assert text in message
    assert not isinstance(info.value, ApiError)


def test_every_bad_field_of_a_record_is_named() -> None:
    data = {"b2b": [base_invoice(val="1", iamt="2", idt="x")]}
    with pytest.raises(ResponseError) as info:
        structure_invoices(data)
    message = str(info.value)
    for path in ("$.b2b[0].val", "$.b2b[0].iamt", "$.b2b[0].idt"):
        assert path in message


def test_structure_errors_carry_route_task_and_page() -> None:
    with pytest.raises(ResponseError) as info:
        structure_invoices({"b2b": 1}, route="/r/{task_id}", task_id="t-1", page=3)
    assert ("/r/{task_id}", "t-1", 3) == (info.value.route, info.value.task_id, info.value.page)
    assert str(info.value).endswith("[route /r/{task_id}, task t-1, page 3]")


# ------------------------------------------------------------------------------------------
# Property: any valid page survives decode -> to_dict -> dumps unchanged
# ------------------------------------------------------------------------------------------

ABSENT = object()


@st.composite
def money(draw: st.DrawFn) -> Any:
    """An amount as a JSON number: a whole number, or 1 to 4 decimal places."""
    if draw(st.booleans()):
        return draw(st.integers(-(10**12), 10**12))
    places = draw(st.integers(1, 4))
    whole = draw(st.integers(0, 10**10))
    fraction = draw(st.integers(0, 10**places - 1))
    sign = draw(st.sampled_from(["", "", "-"]))
    return Decimal(f"{sign}{whole}.{fraction:0{places}d}")


IMS_DATES = st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)).map(
    lambda d: d.strftime("%d-%m-%Y")
)
PERIODS = st.builds(lambda y, m: f"{m:02d}{y}", st.integers(1900, 2099), st.integers(1, 12))
TEXT = st.text(max_size=8)


def codes(*known: str) -> st.SearchStrategy[str]:
    return st.sampled_from(known) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ ", min_size=1, max_size=6)


JSON_LEAVES = st.none() | st.booleans() | st.integers(-(10**6), 10**6) | money() | TEXT
SHORT_KEYS = st.text("abcxyz_", min_size=1, max_size=4)
#: Any JSON value, nested up to three levels.
JSON_VALUES = (
    JSON_LEAVES
    | st.lists(JSON_LEAVES, max_size=2)
    | st.dictionaries(SHORT_KEYS, JSON_LEAVES | st.lists(JSON_LEAVES, max_size=2), max_size=2)
)

COMMON_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "rtnprd": PERIODS,
    "srcform": codes("R1", "R1A", "IFF"),
    "pos": TEXT,
    "txval": money(),
    "iamt": money(),
    "camt": money(),
    "samt": money(),
    "cess": money(),
    "action": codes("A", "R", "P", "N"),
    "srcfilstatus": codes("Filed", "Not Filed"),
    "hash": TEXT,
    "ispendactnallwd": codes("Y", "N"),
    "ispendactblocked": codes("Y", "N"),
    "isRemarksBlocked": codes("Y", "N"),
    "itcRedReq": codes("Y", "N"),
    "declIgst": money(),
    "declCgst": money(),
    "declSgst": money(),
    "declCess": money(),
    "remarks": TEXT,
    "prev_status": codes("A", "R", "P", "N"),
    "inv_typ": codes("R", "DE", "SEWP", "SEWOP", "CBW"),
}
REQUIRED: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "invoice": {"stin": TEXT, "val": money(), "inum": TEXT, "idt": IMS_DATES},
    "amended_invoice": {
        "stin": TEXT,
        "val": money(),
        "inum": TEXT,
        "idt": IMS_DATES,
        "oinum": TEXT,
        "oidt": IMS_DATES,
    },
    "note": {"stin": TEXT, "val": money(), "nt_num": TEXT, "nt_dt": IMS_DATES},
    "amended_note": {
        "stin": TEXT,
        "val": money(),
        "nt_num": TEXT,
        "nt_dt": IMS_DATES,
        "ont_num": TEXT,
        "ont_dt": IMS_DATES,
    },
}
KIND_OF_SECTION = {
    "b2b": "invoice",
    "ecom": "invoice",
    "b2ba": "amended_invoice",
    "ecoma": "amended_invoice",
    "b2bdn": "note",
    "b2bcn": "note",
    "b2bdna": "amended_note",
    "b2bcna": "amended_note",
}
ALL_WIRE_NAMES = set(COMMON_OPTIONAL).union(*REQUIRED.values())


@st.composite
def records(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    record: dict[str, Any] = {key: draw(strategy) for key, strategy in REQUIRED[kind].items()}
    for key in draw(st.sets(st.sampled_from(sorted(COMMON_OPTIONAL)))):
        record[key] = None if draw(st.integers(0, 5)) == 0 else draw(COMMON_OPTIONAL[key])
    # unknown fields, nested ones included; a name known to another record kind is unknown here
    known = set(REQUIRED[kind]) | set(COMMON_OPTIONAL)
    foreign = [*sorted(ALL_WIRE_NAMES - known), "xtra_ref", "meta"]
    names = st.sampled_from(foreign) | SHORT_KEYS.map(lambda k: "x_" + k)
    record.update(draw(st.dictionaries(names, JSON_VALUES, max_size=2)))
    return record


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for section, kind in KIND_OF_SECTION.items():
        if draw(st.integers(0, 4)):  # mostly present, sometimes absent
            data[section] = draw(st.lists(records(kind), max_size=3))
    unknown_sections = st.sampled_from(["impg", "impgsez", "isd", "b2bx"])
    for name in draw(st.sets(unknown_sections, max_size=2)):
        data[name] = draw(
            st.lists(st.dictionaries(SHORT_KEYS, JSON_VALUES, max_size=3), max_size=2)
        )
    not_a_list = JSON_LEAVES | st.dictionaries(SHORT_KEYS, JSON_LEAVES, max_size=2)
    for name in draw(st.sets(st.sampled_from(["fp", "rtin", "meta"]), max_size=2)):
        data[name] = draw(not_a_list)
    return data


def envelope(data: dict[str, Any], new: bool) -> bytes:
    if new:
        return dumps({"status": "1", "data": data, "error": None, "info": None})
    return dumps({"data": data})


@given(pages(), st.booleans())
def test_any_valid_page_round_trips(data: dict[str, Any], new: bool) -> None:
    body = envelope(data, new)
    expected = parse_exact(body)["data"]

    result = decode_ims_page(body)
    as_dict = result.to_dict()
    assert expected == as_dict
    again = parse_exact(dumps(as_dict))
    assert expected == again
    assert digits(expected) == digits(again)  # the amounts' exact digits survive

    # the typed side: amounts are Decimal, dates are dates
    for _, record in result.records():
        if isinstance(record, ImsInvoice | ImsNote):
            assert type(record.value) is Decimal
            assert isinstance(record.date, datetime.date)


def split(data: dict[str, Any], at: int) -> tuple[dict[str, Any], dict[str, Any]]:
    head = {k: v[:at] if isinstance(v, list) else v for k, v in data.items()}
    tail = {k: v[at:] if isinstance(v, list) else v for k, v in data.items()}
    return head, tail


@given(pages(), st.integers(0, 3))
def test_merging_split_pages_equals_decoding_the_whole(data: dict[str, Any], at: int) -> None:
    head, tail = split(data, at)
    whole = decode_ims_page(dumps({"data": data}))
    merged = merge_invoices([decode_ims_page(dumps({"data": part})) for part in (head, tail)])
    assert whole == merged
    assert whole.to_dict() == merged.to_dict()


# ------------------------------------------------------------------------------------------
# Property: the typed fast path and the lossless path build the same records
# ------------------------------------------------------------------------------------------


def _by_constructor(record: dict[str, Any], cls: type[Any]) -> Any:
    """The record built by the class's own ``__init__`` from the record's known fields."""
    fields = {f.wire: f for f in _codec.wire_fields(cls)}
    values: dict[str, Any] = {}
    for wire, value in record.items():
        f = fields[wire]
        values[f.attr] = _codec._scalar(f, value)[0]
    return cls(**values)


@given(
    st.sampled_from(sorted(KIND_OF_SECTION)).flatmap(
        lambda s: st.tuples(st.just(s), records(KIND_OF_SECTION[s]))
    )
)
def test_fast_path_equals_the_lossless_path_and_the_constructor(
    case: tuple[str, dict[str, Any]],
) -> None:
    section, record = case
    cls = SECTION_RECORD_TYPES[section]
    body = dumps({"status": "1", "data": {section: [record]}})
    lossless = structure_invoices({section: [record]})
    fast = _decoding.decode_page_fast(body)
    (slow,) = cast(tuple[ImsRecord], lossless.section(section))
    if fast is not None:  # None: the record carries a null, a flag form, an unknown code...
        assert fast == lossless
        (shaped,) = fast.section(section)
        assert type(shaped) is cls
        assert hash(shaped) == hash(slow)
        assert repr(shaped) == repr(slow)
        if not slow.extra:
            assert _by_constructor(record, cls) == shaped
    assert record == slow.to_dict()
    assert pickle.loads(pickle.dumps(slow)) == slow
    with pytest.raises(AttributeError):
        slow.value = Decimal(0)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del slow.value


FAST_BASE = {"stin": "S", "val": 1, "inum": "N", "idt": "01-01-2024", "action": "A"}


#: Records the typed call refuses and the lossless path keeps: read a record at a time.
ODD_RECORDS = [
    pytest.param({"x_new": 1}, id="unknown field"),
    pytest.param({"x_new": {"deep": [1, {"k": None}]}}, id="unknown nested field"),
    pytest.param({"itcRedReq": True}, id="boolean flag"),
    pytest.param({"action": "Z"}, id="unknown code"),
    pytest.param({"rtnprd": "132023"}, id="period not MMYYYY"),
    pytest.param(
        {"x_new": 1, "action": "Z", "extra": {"e": 1}, "itcRedReq": True}, id="all of them"
    ),
]


@pytest.mark.parametrize("odd", ODD_RECORDS)
def test_the_fast_path_reads_records_it_cannot_take_the_lossless_way(odd: dict[str, Any]) -> None:
    plain = [{**FAST_BASE, "inum": f"N{i}", "pos": "27", "camt": 0} for i in range(4)]
    records = [plain[0], {**plain[1], **odd}, plain[2], {**plain[3], **odd}]
    data = {"b2b": records, "b2ba": [], "ecom": [plain[0]]}
    body = dumps({"status": "1", "data": data, "error": None})
    fast = _decoding.decode_page_fast(body)
    assert fast is not None
    assert fast == structure_invoices(data)
    assert fast.to_dict() == data
    assert {"b2b", "b2ba", "ecom"} == fast.present
    assert [bool(r.extra) for r in fast.b2b] == [False, set(odd) != {"action"}] * 2


@st.composite
def mixed_pages(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    """Records of known fields, some with an undocumented field (so the page is read a record
    at a time), and the index of one record to spoil."""
    count = draw(st.integers(min_value=1, max_value=30))
    odd = draw(st.sets(st.integers(min_value=0, max_value=count - 1), min_size=1))
    records = [
        {**FAST_BASE, "inum": f"N{i}", "pos": "27", "camt": 0, "remarks": "r"}
        | ({"x_new": {"i": i}} if i in odd else {})
        for i in range(count)
    ]
    return records, draw(st.integers(min_value=0, max_value=count - 1))


@given(mixed_pages(), st.sampled_from(["val", "stin", "remarks", "camt"]), st.booleans())
def test_a_repeated_key_in_a_page_read_a_record_at_a_time_is_refused(
    page: tuple[list[dict[str, Any]], int], key: str, spaced: bool
) -> None:
    records, spoiled = page
    body = dumps({"status": "1", "data": {"b2b": records}})
    assert decode_ims_page(body).to_dict() == {"b2b": records}
    inum = f'"inum":"N{spoiled}"'.encode()
    again = f'"{key}"{" :" if spaced else ":"}{dumps(records[spoiled][key]).decode()},'.encode()
    spoilt = body.replace(inum, again + inum)
    assert _decoding.decode_page_fast(spoilt) is None
    with pytest.raises(ResponseError, match=f"repeats the key '{key}'"):
        decode_ims_page(spoilt)


@given(mixed_pages(), st.sampled_from(["val", "camt"]))
def test_an_amount_sent_as_text_in_a_page_read_a_record_at_a_time_is_refused(
    page: tuple[list[dict[str, Any]], int], key: str
) -> None:
    records, spoiled = page
    records[spoiled] = {**records[spoiled], key: "1.50"}
    body = dumps({"status": "1", "data": {"b2b": records}})
    assert _decoding.decode_page_fast(body) is None
    with pytest.raises(ResponseError, match=rf"JSON number.*\$\.b2b\[{spoiled}\]\.{key}"):
        decode_ims_page(body)


@pytest.mark.parametrize(
    "odd",
    [
        {"x_new": 1},
        {"action": "Z"},
        {"itcRedReq": True},
        {"x_new": 1, "action": "Z", "extra": {"e": 1}, "itcRedReq": True},
    ],
    ids=str,
)
def test_a_page_refused_at_its_first_record_is_read_whole_by_the_lossless_path(
    odd: dict[str, Any],
) -> None:
    records = [{**FAST_BASE, "inum": "N0", **odd}, {**FAST_BASE, "inum": "N1", "remarks": None}]
    data = {"b2b": records, "impg": [{"k": 1}], "note": {"n": [1]}}
    body = dumps({"status": "1", "data": data, "error": None, "info": None})
    with mock.patch.object(_decoding, "_by_record", side_effect=AssertionError):
        fast = _decoding.decode_page_fast(body)
    assert fast == structure_invoices(data)
    assert fast is not None
    assert fast.to_dict() == data
    # a null among the records is found even where the envelope holds nulls too
    assert {"remarks": None} == fast.b2b[1].extra
    # an error envelope, a bad value or a repeated key: the general way names it
    bad = [
        dumps({"status": "0", "data": data, "error": {"message": "m", "error_cd": "E"}}),
        dumps({"status": "1", "data": {"b2b": [{**records[0], "idt": "31-02-2024"}]}}),
        body.replace(b'"inum":"N1"', b'"inum":"N1","inum":"N2"'),
    ]
    for body in bad:
        assert _decoding.decode_page_fast(body) is None


def test_a_record_read_field_by_field_keeps_its_extra_in_the_order_sent() -> None:
    # the first record is refused (a flag in another form): the page is read whole by the
    # lossless path, which sets the null apart in place before it reads the record field by
    # field; the record it reads is the one sent, keys in their places
    record = {**FAST_BASE, "action": None, "x": 1, "isRemarksBlocked": "FALSE", "y": 2}
    data = {"b2b": [record]}
    fast = _decoding.decode_page_fast(dumps({"status": "1", "data": data}))
    assert fast is not None
    (slow,) = structure_invoices(data).b2b
    assert ["action", "x", "isRemarksBlocked", "y"] == list(fast.b2b[0].extra)
    assert repr(slow) == repr(fast.b2b[0])


def test_after_many_refused_records_the_rest_of_the_section_is_read_the_lossless_way() -> None:
    tries = _decoding._TRIES
    odd = [{**FAST_BASE, "inum": f"O{i}", "x_new": i} for i in range(tries + 2)]
    plain = [{**FAST_BASE, "inum": f"P{i}", "pos": "27"} for i in range(3)]
    for records in (odd + plain, plain + odd + plain, odd[: tries - 1] + plain + odd):
        data = {"b2b": records}
        fast = _decoding.decode_page_fast(dumps({"status": "1", "data": data}))
        assert fast is not None
        assert fast == structure_invoices(data)
        assert fast.to_dict() == data


def _b2b(records: list[dict[str, Any]]) -> bytes:
    return dumps({"status": "1", "data": {"b2b": records}})


def test_a_reader_starts_a_page_a_record_at_a_time_after_one_with_refused_records() -> None:
    plain = [{**FAST_BASE, "inum": f"N{i}", "pos": "27"} for i in range(3)]
    mixed = [plain[0], {**plain[1], "x_new": 1}, plain[2]]
    first_odd = [{**plain[0], "x_new": 1}, plain[1]]
    repeated = _b2b(plain).replace(b'"inum":"N1"', b'"inum":"N1","inum":"N2"')
    reader = _decoding.PageReader()
    # (page, whether the reader then starts the next page a record at a time)
    steps = [
        (_b2b(plain), False),
        (_b2b(mixed), True),  # some records refused: the next page likely has some too
        (_b2b(mixed), True),
        (_b2b(plain), False),  # none refused: back to the whole typed call
        (_b2b(first_odd), False),  # refused at the first record: read whole, losslessly
        (_b2b(mixed), True),
        (_b2b(first_odd), True),  # read a record at a time this time
        (repeated, False),  # the general way names it
        (_b2b(mixed), True),
        (_b2b(plain), False),
    ]
    for body, after in steps:
        page = reader(body)
        assert page == _decoding.decode_page_fast(body)
        assert reader.by_record is after
    assert reader(repeated) is None
    # while it reads a record at a time, the whole typed call is not tried first
    expected = _decoding.decode_page_fast(_b2b(mixed))
    reader(_b2b(mixed))
    with mock.patch.object(_decoding, "_read", side_effect=AssertionError):
        assert reader(_b2b(mixed)) == expected


@given(st.lists(st.tuples(pages(), st.booleans()), max_size=3), mixed_pages())
def test_a_reader_reads_every_page_as_decode_page_fast_does(
    seq: list[tuple[dict[str, Any], bool]], mixed: tuple[list[dict[str, Any]], int]
) -> None:
    bodies = [envelope(data, new) for data, new in seq]
    bodies.insert(len(bodies) // 2, _b2b(mixed[0]))  # and one read a record at a time
    reader = _decoding.PageReader()
    assert [reader(body) for body in bodies] == list(map(_decoding.decode_page_fast, bodies))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024",'
            b'"pos":null}]}}',
            "null",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"val":2,"inum":"N",'
            b'"idt":"01-01-2024"}]}}',
            "repeated key",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024",'
            b'"x_new":1},{"stin":"S","val":1,"val":2,"inum":"N","idt":"01-01-2024"}]}}',
            "repeated key beside an unknown field",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024",'
            b'"x_new":1}],"b2b":[]}}',
            "repeated section beside an unknown field",
        ),
        (
            b'{"status":"1","status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N",'
            b'"idt":"01-01-2024","x_new":1}]}}',
            "repeated envelope key beside an unknown field",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":"1.50","inum":"N",'
            b'"idt":"01-01-2024"}]}}',
            "text amount",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024",'
            b'"x_new":1},{"stin":"S","val":"1.50","inum":"N","idt":"01-01-2024"}]}}',
            "text amount beside an unknown field",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"31-02-2024",'
            b'"x_new":1}]}}',
            "a bad value in a record the typed call refuses",
        ),
        (
            b'{"status":"1","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024"},'
            b'{"stin":"S","val":1,"inum":"N","idt":"01-01-2024","x_new":1}],"impg":[]}}',
            "unknown section",
        ),
        (b'{"status":"1","data":{"impg":[]}}', "unknown section alone"),
        (b'{"status":"1","data":{"b2b":[],"note":"x"}}', "unknown data key"),
        (b'{"status":"0","error":{"message":"m","error_cd":"E1"}}', "error envelope"),
        (
            b'{"status":"0","data":{"b2b":[{"stin":"S","val":1,"inum":"N","idt":"01-01-2024",'
            b'"x_new":1}]}}',
            "failed status around records the typed call refuses",
        ),
        (b'{"status":"1","data":{"b2b":[]},"more":1}', "unknown envelope key"),
        (b"[1]", "not a page"),
        (b"{", "not JSON"),
    ],
)
def test_the_fast_path_hands_a_page_that_needs_more_to_the_general_way(
    body: bytes, why: str
) -> None:
    assert _decoding.decode_page_fast(body) is None, why


def test_the_fast_path_takes_a_page_of_known_fields() -> None:
    records = [
        {**FAST_BASE, "inum": f"N{i}", "remarks": "seen at 10:30", "pos": "27"} for i in range(3)
    ]
    body = dumps({"status": "1", "data": {"b2b": records, "b2ba": []}, "error": None})
    fast = _decoding.decode_page_fast(body)
    assert fast is not None
    assert fast == structure_invoices({"b2b": records, "b2ba": []})
    assert {"b2b", "b2ba"} == fast.present
    # an escaped colon or quote inside a text: still the page the models know
    escaped = dumps({"status": "1", "data": {"b2b": records}}).replace(b"10:30", b"10\\u003a30")
    again = _decoding.decode_page_fast(escaped)
    assert again is not None
    assert "seen at 10:30" == again.b2b[0].remarks
    quoted = dumps({"status": "1", "data": {"b2b": [{**FAST_BASE, "remarks": 'say "hi": ok'}]}})
    assert _decoding.decode_page_fast(quoted) is None  # an escaped quote: the lossless path
    assert 'say "hi": ok' == decode_ims_page(quoted).b2b[0].remarks


def test_unknown_codes_and_new_dates_are_read_by_the_lossless_path() -> None:
    base = {"stin": "S", "val": 1, "inum": "N", "action": "A"}
    section = structure_invoices(
        {"b2b": [{**base, "idt": "02-02-2024"}, {**base, "idt": "01-01-2024", "action": "Z"}]}
    ).b2b
    assert [r.date for r in section] == [datetime.date(2024, 2, 2), datetime.date(2024, 1, 1)]
    assert section[0].action is ImsStatus.ACCEPTED
    assert section[1].action == "Z"
    assert type(section[1].action) is str
    # a return period that is not MMYYYY is an open value too: kept as the text sent
    (odd,) = structure_invoices({"b2b": [{**base, "idt": "02-02-2024", "rtnprd": "132023"}]}).b2b
    assert "132023" == odd.return_period
    assert "132023" == odd.to_dict()["rtnprd"]


def test_decoded_records_are_ordinary_objects_freed_at_once() -> None:
    body = dumps({"data": {"b2b": [{"stin": "S", "val": 1, "inum": "N", "idt": "01-01-2024"}]}})
    page = decode_ims_page(body)
    (record,) = page.b2b
    assert not gc.is_tracked(record)  # gc=False: it can hold no cycle, so it needs no collector
    del page
    assert 2 == sys.getrefcount(record)  # only this frame holds it: freed when it goes


def _deep_extra_record() -> ImsInvoice:
    extra = {"meta": {"tags": ["a", {"k": [1, 2]}], "n": Decimal("2.50")}, "list": [[1], []]}
    body = dumps({"data": {"b2b": [{**base_invoice(), **extra}]}})
    (record,) = decode_ims_page(body).b2b
    return record


def test_a_records_extra_is_deeply_immutable() -> None:
    record = _deep_extra_record()
    meta = record.extra["meta"]
    assert type(record.extra) is FrozenMap
    assert type(meta) is FrozenMap
    assert ("a", {"k": (1, 2)}) == meta["tags"]
    assert type(meta["tags"]) is tuple
    assert type(meta["tags"][1]) is FrozenMap
    assert ((1,), ()) == record.extra["list"]
    for mapping in (record.extra, meta, meta["tags"][1]):
        with pytest.raises(TypeError):
            mapping["new"] = 1  # type: ignore[index]
        with pytest.raises(AttributeError):
            mapping._data = {}  # type: ignore[assignment]  # refused at run time
        with pytest.raises(TypeError):
            mapping._data["new"] = 1  # type: ignore[index]  # refused at run time
    # to_dict gives back the JSON as sent: lists as lists, objects as dicts
    as_sent = record.to_dict()
    assert {"tags": ["a", {"k": [1, 2]}], "n": Decimal("2.50")} == as_sent["meta"]
    assert type(as_sent["meta"]["tags"]) is list
    assert [[1], []] == as_sent["list"]
    assert pickle.loads(pickle.dumps(record)) == record


def test_a_record_cannot_close_a_cycle_through_its_extra() -> None:
    # the reproduction of the leak: a record put into a mutable value of its own extra
    record = _deep_extra_record()
    with pytest.raises((TypeError, AttributeError)):
        record.extra["meta"]["tags"].append(record)
    built = ImsInvoice(
        supplier_gstin="S",
        value=Decimal(1),
        number="N",
        date=datetime.date(2024, 1, 1),
        extra={"refs": [], "more": {"x": []}},
    )
    assert type(built.extra) is FrozenMap  # the constructor freezes a given extra too
    assert () == built.extra["refs"]
    assert {"x": ()} == built.extra["more"]
    with pytest.raises(AttributeError):
        built.extra["refs"].append(built)
    assert not gc.is_tracked(built)
    assert 2 == sys.getrefcount(built)  # nothing refers back to it


def test_repeated_text_is_held_once() -> None:
    base = {"val": 1, "idt": "01-01-2024", "pos": "27"}
    records = [
        {**base, "stin": "".join(["29ABCDE", "1234F1Z5"]), "inum": f"N{i}"} for i in range(3)
    ]
    page = decode_ims_page(dumps({"data": {"b2b": records}}))
    assert page.b2b[0].supplier_gstin is not page.b2b[2].supplier_gstin  # as decoded
    _decoding.hold_invoices(page)  # what task.result() does with each page as it comes in
    section = merge_invoices([page]).b2b
    assert section[0].supplier_gstin is section[2].supplier_gstin
    assert section[0].place_of_supply is section[1].place_of_supply


def test_date_and_period_caches_are_bounded_and_never_keep_a_bad_value() -> None:
    parse = _codec._PARSE_DATE[_codec.DayMonthYear]
    assert 8192 == parse.cache_info().maxsize  # type: ignore[attr-defined]
    before = parse.cache_info().currsize  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="DD-MM-YYYY"):
        parse("31-02-2024")
    assert before == parse.cache_info().currsize  # type: ignore[attr-defined]
    assert parse("01-03-2024") is parse("01-03-2024")  # one shared date per value
    assert 4096 == _parse_return_period.cache_info().maxsize


def test_the_decode_hook_shares_each_value_and_its_memory_is_bounded() -> None:
    hook = _codec.decode_hook
    made = _codec._MADE[_codec.DayMonthYear]
    first = hook(_codec.DayMonthYear, "02-03-2024")
    assert first is hook(_codec.DayMonthYear, "02-03-2024")
    assert datetime.date(2024, 3, 2) == first
    with pytest.raises(ValueError, match="DD-MM-YYYY"):
        hook(_codec.DayMonthYear, "31-02-2024")
    assert "31-02-2024" not in made  # a bad value is never kept
    with pytest.raises(TypeError, match="no wire conversion"):
        hook(_codec.DayMonthYear, ["01-01-2024"])  # not text (and not hashable)
    day = datetime.date(2000, 1, 1)
    for i in range(_codec._MADE_LIMIT + 10):
        text = (day + datetime.timedelta(days=i)).strftime("%d-%m-%Y")
        assert hook(_codec.DayMonthYear, text) == day + datetime.timedelta(days=i)
        assert len(made) <= _codec._MADE_LIMIT


# ------------------------------------------------------------------------------------------
# Y/N flags: text in any case, or JSON booleans; kept as sent
# ------------------------------------------------------------------------------------------

FLAG_WIRES = [
    ("ispendactnallwd", "pending_not_allowed"),
    ("ispendactblocked", "pending_action_blocked"),
    ("isRemarksBlocked", "remarks_blocked"),
    ("isItcRedReqBlocked", "itc_reduction_not_allowed"),
    ("itcRedReqBlocked", "itc_reduction_request_blocked"),
    ("itcRedReq", "itc_reduction_required"),
]
FLAG_FORMS = [
    ("Y", YesNo.YES),
    ("N", YesNo.NO),
    ("y", YesNo.YES),
    ("n", YesNo.NO),
    (True, YesNo.YES),
    (False, YesNo.NO),
    ("true", YesNo.YES),
    ("FALSE", YesNo.NO),
    ("True", YesNo.YES),
]


@pytest.mark.parametrize(("wire", "name"), FLAG_WIRES)
@pytest.mark.parametrize(("sent", "read"), FLAG_FORMS)
def test_a_flag_reads_yes_or_no_from_any_form_and_is_given_back_as_sent(
    wire: str, name: str, sent: Any, read: YesNo
) -> None:
    data = {"b2b": [base_invoice(**{wire: sent})]}
    body = dumps({"status": "1", "data": data})
    for result in (decode_ims_page(body), structure_invoices(data)):
        (record,) = result.b2b
        assert read is getattr(record, name)
        assert {"b2b": [base_invoice(**{wire: sent})]} == result.to_dict()
        assert type(result.to_dict()["b2b"][0][wire]) is type(sent)  # true stays a boolean


def test_a_page_of_boolean_flags_is_read_by_the_lossless_path_a_record_at_a_time() -> None:
    records = [
        base_invoice(inum=f"b{i}", ispendactblocked=i % 2 == 0, isRemarksBlocked=False)
        for i in range(50)
    ]
    body = dumps({"status": "1", "data": {"b2b": records}})
    # booleans are not the models' form: the typed call takes none of the records
    assert _decoding.decode_page_fast(body) == structure_invoices({"b2b": records})
    result = decode_ims_page(body)
    assert [YesNo.YES, YesNo.NO] * 25 == [r.pending_blocked for r in result.b2b]
    assert {"b2b": records} == result.to_dict()
    assert result == structure_invoices({"b2b": records})


def test_a_missing_flag_is_unknown_and_other_text_is_kept() -> None:
    (record,) = structure_invoices({"b2b": [base_invoice(isRemarksBlocked="M")]}).b2b
    assert record.pending_blocked is None
    assert record.itc_reduction_blocked is None
    assert "M" == record.remarks_blocked
    assert type(record.remarks_blocked) is str


@pytest.mark.parametrize("value", [1, 0, Decimal(1), [], {}, "", Decimal("0.0")])
def test_a_flag_of_another_json_type_is_a_schema_error(value: Any) -> None:
    if value == "":  # empty text is an (unknown) code, kept as sent
        (record,) = structure_invoices({"b2b": [base_invoice(ispendactblocked="")]}).b2b
        assert "" == record.pending_action_blocked
        return
    with pytest.raises(ResponseError, match=r"Y/N flag .* @ \$\.b2b\[0\]\.ispendactblocked"):
        structure_invoices({"b2b": [base_invoice(ispendactblocked=value)]})


@pytest.mark.parametrize(
    ("older", "newer", "blocked"),
    [
        ("Y", None, YesNo.YES),
        (None, False, YesNo.NO),
        (True, "N", YesNo.NO),  # both sent: the newer name wins
        (None, None, None),
    ],
)
def test_pending_blocked_answers_from_either_wire_name(
    older: Any, newer: Any, blocked: YesNo | None
) -> None:
    fields = {"ispendactnallwd": older, "ispendactblocked": newer}
    sent = base_invoice(**{k: v for k, v in fields.items() if v is not None})
    (record,) = structure_invoices({"b2b": [sent]}).b2b
    assert blocked is record.pending_blocked
    itc = base_invoice(**{"isItcRedReqBlocked": older} if older is not None else {})
    (other,) = structure_invoices({"b2b": [itc]}).b2b
    expected = None if older is None else _codec._flag(older)[0]
    assert expected is other.itc_reduction_blocked


def test_the_old_pending_attribute_is_a_deprecated_alias() -> None:
    (record,) = structure_invoices({"b2b": [base_invoice(ispendactnallwd="Y")]}).b2b
    with pytest.warns(DeprecationWarning, match="pending_blocked") as caught:
        value = record.pending_action_allowed
    assert YesNo.YES is value
    assert __file__ == caught[0].filename  # the warning points at the caller


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from([w for w, _ in FLAG_WIRES]),
            st.sampled_from([s for s, _ in FLAG_FORMS] + ["M", "yes"]),
        ),
        max_size=8,
    )
)
def test_flags_round_trip_in_any_mix(flag_sets: list[dict[str, Any]]) -> None:
    records = [base_invoice(inum=f"b{i}", **flags) for i, flags in enumerate(flag_sets)]
    result = structure_invoices({"b2b": records})
    assert {"b2b": records} == result.to_dict()
    assert digits({"b2b": records}) == digits(result.to_dict())
    reads = dict(FLAG_WIRES)
    for record, flags in zip(result.b2b, flag_sets, strict=True):
        for wire, sent in flags.items():
            assert _codec._flag(sent)[0] == getattr(record, reads[wire])


# ------------------------------------------------------------------------------------------
# Repeated keys and deep nesting: never a silent choice, never a bare RecursionError
# ------------------------------------------------------------------------------------------


class _Obj(list[tuple[str, Any]]):
    """A JSON object as written: its pairs in order, repeats allowed."""


def _write(value: Any, sep: str, escape: bool = False) -> str:
    """JSON text of ``value``; ``escape`` writes every colon inside text as ``\\u003a``."""

    def text(s: str) -> str:
        out = json.dumps(s)
        return out.replace(":", "\\u003a") if escape else out

    if isinstance(value, _Obj):
        pairs = (text(k) + sep + _write(v, sep, escape) for k, v in value)
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_write(v, sep, escape) for v in value) + "]"
    return text(value) if isinstance(value, str) else json.dumps(value)


def _has_repeats(text: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        keys = [k for k, _ in pairs]
        found = found or len(set(keys)) != len(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return found


_keys = st.sampled_from(["a", "b", "val", "a:b", ':"', "\\:", "t 10:20"])
_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["x", "1:2", ':"'])
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.lists(st.tuples(_keys, inner), max_size=4).map(_Obj)
    ),
    max_leaves=25,
)


@given(
    _json.filter(lambda v: isinstance(v, _Obj | list)),
    st.sampled_from([":", ": ", " :"]),
    st.booleans(),
)
def test_repeated_keys_are_found_exactly_as_the_reference_finds_them(
    value: Any, sep: str, escape: bool
) -> None:
    text = _write(value, sep, escape)
    # also where gc.is_tracked cannot tell which dicts hold containers: every value looked at
    for may_nest in (gc.is_tracked, lambda _: True):
        with mock.patch.object(_core_json, "_may_nest", may_nest):
            if _has_repeats(text):
                with pytest.raises(msgspec.DecodeError, match="repeats the key"):
                    loads(text.encode())
                with pytest.raises(msgspec.DecodeError, match="repeats the key"):
                    loads(text)
            else:
                assert json.loads(text) == loads(text.encode())


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"data": {"b2b": [], "b2b": [{"x": 1}]}}', "b2b"),
        (b'{"data": {"b2b": [{"stin": "S", "val": 10, "val": 1000}]}}', "val"),
        (b'{"status": "1", "status": "0", "data": {}}', "status"),
        (b'{"data": {"b2b": [{"meta": {"k": 1, "k": 2}}]}}', "k"),
        (b'{"data": {"b2b": [{"remarks": "at 10:30", "val": 1, "val": 2}]}}', "val"),
    ],
)
def test_a_page_with_a_repeated_key_is_refused(body: bytes, key: str) -> None:
    with pytest.raises(ResponseError, match=f"repeats the key '{key}'"):
        decode_ims_page(body)


def test_colons_inside_text_are_no_repeat() -> None:
    records = [
        base_invoice(inum=f"b{i}", remarks="seen 10:30:00", url="https://x") for i in range(3)
    ]
    body = dumps({"status": "1", "data": {"b2b": records}})
    assert {"b2b": records} == decode_ims_page(body).to_dict()


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_a_decode_error(depth: int) -> None:
    body = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        loads(body)
    with pytest.raises(ResponseError, match="nested too deeply"):
        decode_ims_page(body)


def test_nesting_is_taken_to_max_depth_and_refused_beyond() -> None:
    def nested(levels: int) -> bytes:  # the document itself is the first level
        inner = levels - 2
        return b'{"data": {"b2b": [], "x": ' + b"[" * inner + b"]" * inner + b"}}"

    limit = MAX_DEPTH
    assert loads(nested(limit))["data"]["b2b"] == []
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        loads(nested(limit + 1))
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        loads(b"[" * (limit + 1) + b"]" * (limit + 1))  # no object at all
    deep_record = b'{"b2b": [{"x": ' + b"[" * (limit - 2) + b"]" * (limit - 2) + b"}]}"
    with pytest.raises(msgspec.DecodeError, match="nested too deeply"):
        loads(deep_record)  # the records' values are looked into too


def test_nesting_too_deep_to_keep_in_a_record_is_a_response_error() -> None:
    # msgspec decodes it, but a record's frozen extra cannot hold it within the stack
    depth = 900
    value: Any = 1
    for _ in range(depth):
        value = [value]
    with pytest.raises(ResponseError, match="nested too deeply") as info:
        structure_invoices({"b2b": [base_invoice(meta=value)]}, route="/r", task_id="t", page=3)
    assert ("/r", "t", 3) == (info.value.route, info.value.task_id, info.value.page)


# Over real sockets: a scripted server answers the login, status and page routes with the
# bodies a case gives, the way the faults were found.

_LOGIN_OK = (
    b'{"data": {"token": "T", "expiry": 4102444800000, '
    b'"associatedOrgs": [{"organisation": {"id": "org-1"}, "userAccessInfo": {}}]}}'
)
_STATUS_OK = b'{"data": {"task": {"id": "task-1", "status": "completed"}}}'
_DEEP = b"[" * 5000 + b"]" * 5000


@pytest.fixture
async def scripted_bodies() -> AsyncIterator[tuple[dict[str, bytes], str]]:
    from aiohttp import web

    bodies = {
        "login": _LOGIN_OK,
        "status": _STATUS_OK,
        "result": b'{"status": "1", "data": {"pages": 1}}',
        "page": b'{"status": "1", "data": {"b2b": []}}',
    }

    def answer(name: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = bodies.get(name + request.match_info.get("n", ""), bodies[name])  # "page1"
            return web.Response(body=body, content_type="application/json")

        return handle

    app = web.Application()
    tasks = "/enriched/tasks/v1.0"
    app.add_routes(
        [
            web.post("/login/authtokens", answer("login")),
            web.post("/login/logout", answer("login")),
            web.get(tasks + "/status/{id}", answer("status")),
            web.get(tasks + "/result/{id}", answer("result")),
            web.get(tasks + "/result/{id}/page/{n}", answer("page")),
        ]
    )
    runner, base = await serve_app(app)
    try:
        yield bodies, base
    finally:
        await runner.cleanup()


def _scripted_client(base: str, clock: Any) -> FlynnClient:
    return FlynnClient(
        Credentials("user@example.com", "PASSWORD-MARKER"),
        base_url=base,
        login_url=base + "/login",
        retry=RetryPolicy(max_tries=2),
        sleep=clock.sleep,
        clock=clock,
    )


@pytest.mark.parametrize(
    ("route_name", "body", "reason", "route", "page"),
    [
        ("status", b'{"data": {"task": ' + _DEEP + b"}}", "nested too deeply", "status", None),
        ("status", b'{"data": ' + _DEEP + b"}", "nested too deeply", "status", None),
        (
            "status",  # an error envelope whose args nest deeply (its text shows the args)
            b'{"error": {"message": "err-x", "type": "T", "args": {"a": '
            + b"[" * 400
            + b"]" * 400
            + b"}}}",
            "nested too deeply",
            "status",
            None,
        ),
        (
            "status",
            b'{"data": {"task": {"id": "task-1", "status": "processing", "status": "completed"}}}',
            "repeats the key 'status'",
            "status",
            None,
        ),
        (
            "page",
            b'{"status": "1", "data": {"b2b": [{"stin": "S", "val": 1, "inum": "1", '
            b'"idt": "01-01-2024"}], "b2b": []}}',
            "repeats the key 'b2b'",
            "page",
            0,
        ),
        (
            "page",
            b'{"status": "1", "data": {"b2b": [{"stin": "S", "val": 10, "val": 1000, "inum": "1", '
            b'"idt": "01-01-2024"}]}}',
            "repeats the key 'val'",
            "page",
            0,
        ),
        ("page", b'{"status": "1", "data": ' + _DEEP + b"}", "nested too deeply", "page", 0),
    ],
)
async def test_a_hostile_answer_is_a_typed_error_naming_where(
    scripted_bodies: tuple[dict[str, bytes], str],
    clock: Any,
    route_name: str,
    body: bytes,
    reason: str,
    route: str,
    page: int | None,
) -> None:
    bodies, base = scripted_bodies
    bodies[route_name] = body
    async with _scripted_client(base, clock) as client:
        with pytest.raises(FlynnError) as info:
            await client.ims.task("task-1").result()
    raised = info.value
    detail = raised.__cause__ if isinstance(raised, PagesMissing) else raised
    assert isinstance(detail, ResponseError)
    assert reason in str(detail)
    assert {"status": _api.TASK_STATUS_ROUTE, "page": _api.TASK_PAGE_ROUTE}[route] == detail.route
    assert "task-1" == detail.task_id
    assert page == detail.page


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"data": ' + _DEEP + b"}", "nested too deeply"),
        (b'{"data": {"token": "A", "token": "B", "expiry": 4102444800000}}', "repeats the key"),
    ],
)
async def test_a_hostile_login_answer_is_a_typed_error_naming_the_route(
    scripted_bodies: tuple[dict[str, bytes], str], clock: Any, body: bytes, reason: str
) -> None:
    bodies, base = scripted_bodies
    bodies["login"] = body
    client = _scripted_client(base, clock)
    with pytest.raises(FlynnError) as info:
        await client.start()
    await client.aclose()
    assert isinstance(info.value, ResponseError)
    assert reason in str(info.value)
    assert _api.LOGIN_ROUTE in str(info.value.route)


@pytest.mark.parametrize(
    ("body", "repeats"),
    [
        (b'{"a\\u003ab": 1, "a:b": 2}', True),  # the same key, its colon escaped once
        (b'{"t": "10\\u003a30", "x": {"y": 1, "y": 2}}', True),
        (b'{"t": "10\\u003A30", "x": {"y": 1, "z": 2}}', False),
        (b'{"t": "10:30", "x": [{"y": 1, "y": 2}]}', True),
        (b'{"t": "10:30", "x": [{"y": {"k": 1}, "z": 2}]}', False),
        (b'[{"a": 1}, {"b": {"c": ":", "c": ":"}}]', True),
    ],
)
def test_escaped_colons_and_nested_objects_take_the_exact_check(body: bytes, repeats: bool) -> None:
    if repeats:
        with pytest.raises(msgspec.DecodeError, match="repeats the key"):
            loads(body)
    else:
        assert json.loads(body) == loads(body)


async def test_pages_that_disagree_about_a_data_key_are_a_response_error(
    scripted_bodies: tuple[dict[str, bytes], str], clock: Any
) -> None:
    bodies, base = scripted_bodies
    bodies["result"] = b'{"status": "1", "data": {"pages": 2}}'
    bodies["page0"] = b'{"status": "1", "data": {"b2b": [], "fp": "012024"}}'
    bodies["page1"] = b'{"status": "1", "data": {"b2b": [], "fp": "022024"}}'
    async with _scripted_client(base, clock) as client:
        with pytest.raises(ResponseError, match="pages disagree about 'fp'") as info:
            await client.ims.task("task-1").result()  # was a bare ValueError
    assert isinstance(info.value, ValueError)  # what ImsInvoices.merge documents
    assert "index 1" in str(info.value)


def test_frozen_map_freezes_any_container_it_is_given() -> None:
    class Items(list[Any]):
        pass

    given = {"proxy": MappingProxyType({"a": [1]}), "items": Items([{"b": []}]), "n": 1}
    frozen = FrozenMap(given)
    assert {"proxy": {"a": (1,)}, "items": ({"b": ()},), "n": 1} == frozen
    assert type(frozen["proxy"]) is FrozenMap
    assert type(frozen["items"]) is tuple
    assert type(frozen["items"][0]["b"]) is tuple
    same = FrozenMap({"x": frozen})
    assert same["x"] is frozen  # already frozen: kept as it is


def test_a_plain_page_is_checked_by_counting_alone() -> None:
    records = [{**FAST_BASE, "inum": f"N{i}", "camt": 0, "iamt": Decimal("1.50")} for i in range(4)]
    body = dumps({"status": "1", "data": {"b2b": records, "ecom": []}, "error": None})
    slow_step = mock.Mock(encode=mock.Mock(side_effect=AssertionError("the slow step ran")))
    with mock.patch.object(_decoding, "_counting_encoder", slow_step):
        fast = _decoding.decode_page_fast(body)
    assert fast is not None
    assert {"b2b": records, "ecom": []} == fast.to_dict()


def test_zero_amounts_are_shared_and_other_zeros_keep_their_digits() -> None:
    records = [
        {**FAST_BASE, "inum": "A", "camt": 0, "samt": 0},
        {**FAST_BASE, "inum": "B", "camt": 0, "samt": Decimal("0.00"), "cess": Decimal("-0.0")},
    ]
    for result in (
        decode_ims_page(dumps({"status": "1", "data": {"b2b": records}})),
        structure_invoices({"b2b": records}),
    ):
        _decoding.hold_invoices(result)
        first, second = result.b2b
        assert first.cgst is second.cgst is first.sgst
        assert "0.00" == str(second.sgst)
        assert "-0.0" == str(second.cess)
        assert {"b2b": records} == result.to_dict()
