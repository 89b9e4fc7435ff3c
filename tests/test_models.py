"""Typed values: return periods, open enums, records, results, totals, task state."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import InvalidInput, Progress, ReturnPeriod, TaskState, TaskStatus, YesNo
from flynn_async._http import _api
from flynn_async.ims import (
    FilingStatus,
    ImsAmendedInvoice,
    ImsAmendedNote,
    ImsInvoice,
    ImsInvoices,
    ImsNote,
    ImsSection,
    ImsStatus,
    InvoiceType,
    SectionTotals,
    SourceForm,
)
from flynn_async.ims._models import KNOWN_SECTIONS, SECTION_RECORD_TYPES

STIN = "24MAYAS0100J1JD"
DAY = datetime.date(2023, 1, 23)


def invoice(number: str = "b1", value: str = "1000", **changes: object) -> ImsInvoice:
    fields: dict[str, object] = {
        "supplier_gstin": STIN,
        "value": Decimal(value),
        "number": number,
        "date": DAY,
    }
    fields.update(changes)
    return ImsInvoice(**fields)  # type: ignore[arg-type]


def note(number: str = "dn1", value: str = "10", **changes: object) -> ImsNote:
    fields: dict[str, object] = {
        "supplier_gstin": STIN,
        "value": Decimal(value),
        "number": number,
        "date": DAY,
    }
    fields.update(changes)
    return ImsNote(**fields)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# ReturnPeriod
# ------------------------------------------------------------------------------------------


def test_return_period_parse_and_str() -> None:
    assert ReturnPeriod(2023, 1) == ReturnPeriod.parse("012023")
    assert ReturnPeriod(year=2024, month=12) == ReturnPeriod.parse("122024")
    assert str(ReturnPeriod(2023, 1)) == "012023"
    assert str(ReturnPeriod(987, 3)) == "030987"


def test_return_periods_are_ordered_by_time() -> None:
    periods = [ReturnPeriod(2024, 1), ReturnPeriod(2023, 12), ReturnPeriod(2023, 2)]
    assert [ReturnPeriod(2023, 2), ReturnPeriod(2023, 12), ReturnPeriod(2024, 1)] == sorted(periods)


@pytest.mark.parametrize("text", ["132023", "002023", "12023", "0120234", "ab2023", "", "01-2023"])
def test_return_period_rejects_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match=r"return period|month"):
        ReturnPeriod.parse(text)


def test_return_period_rejects_a_bad_month() -> None:
    with pytest.raises(ValueError, match="month must be 1 to 12"):
        ReturnPeriod(2023, 13)
    with pytest.raises(ValueError, match="month must be 1 to 12"):
        ReturnPeriod(2023, 0)


@given(st.integers(0, 9999), st.integers(1, 12))
def test_return_period_round_trips(year: int, month: int) -> None:
    period = ReturnPeriod(year, month)
    text = str(period)
    assert 6 == len(text)
    assert period == ReturnPeriod.parse(text)


@given(
    st.tuples(st.integers(0, 9999), st.integers(1, 12)),
    st.tuples(st.integers(0, 9999), st.integers(1, 12)),
)
def test_return_period_order_is_year_then_month(a: tuple[int, int], b: tuple[int, int]) -> None:
    assert (a < b) == (ReturnPeriod(*a) < ReturnPeriod(*b))


# ------------------------------------------------------------------------------------------
# Open enums
# ------------------------------------------------------------------------------------------


def test_sections_follow_the_api_table() -> None:
    assert _api.IMS_SECTIONS == tuple(s.value for s in ImsSection)
    assert KNOWN_SECTIONS == tuple(s.key for s in ImsSection)
    assert "b2bdna" == ImsSection.B2BDNA.key
    assert _api.IMS_STATUSES == tuple(s.value for s in ImsStatus)


@pytest.mark.parametrize(
    ("cls", "given_value", "expected"),
    [
        (ImsSection, "B2B", ImsSection.B2B),
        (ImsSection, "b2b", ImsSection.B2B),
        (ImsSection, " b2Ba ", ImsSection.B2BA),
        (ImsSection, ImsSection.ECOMA, ImsSection.ECOMA),
        (ImsStatus, "a", ImsStatus.ACCEPTED),
        (ImsStatus, "R", ImsStatus.REJECTED),
        (ImsStatus, "pending", ImsStatus.PENDING),
        (ImsStatus, "NO_ACTION", ImsStatus.NO_ACTION),
        (InvoiceType, "sewop", InvoiceType.SEZ_WITHOUT_PAYMENT),
        (SourceForm, "iff", SourceForm.IFF),
        (FilingStatus, "not filed", FilingStatus.NOT_FILED),
        (YesNo, "y", YesNo.YES),
    ],
)
def test_open_enum_parse_accepts_code_or_name_in_any_case(
    cls: type[ImsSection], given_value: object, expected: ImsSection
) -> None:
    assert expected is cls.parse(given_value)


@pytest.mark.parametrize(
    ("cls", "bad"),
    [(ImsSection, "B2X"), (ImsSection, ""), (ImsSection, None), (ImsStatus, "Z"), (ImsStatus, 1)],
)
def test_open_enum_parse_rejects_unknown_values(cls: type[ImsSection], bad: object) -> None:
    with pytest.raises(InvalidInput, match="must be one of") as info:
        cls.parse(bad)
    assert isinstance(info.value, ValueError)


def test_open_enum_members_are_their_codes() -> None:
    assert "A" == ImsStatus.ACCEPTED  # type: ignore[comparison-overlap]  # a member is its code
    assert "Not Filed" == str(FilingStatus.NOT_FILED)
    assert "B2BCN" == f"{ImsSection.B2BCN}"


# ------------------------------------------------------------------------------------------
# Records
# ------------------------------------------------------------------------------------------


def test_section_record_types() -> None:
    assert {
        "b2b": ImsInvoice,
        "b2ba": ImsAmendedInvoice,
        "b2bdn": ImsNote,
        "b2bdna": ImsAmendedNote,
        "b2bcn": ImsNote,
        "b2bcna": ImsAmendedNote,
        "ecom": ImsInvoice,
        "ecoma": ImsAmendedInvoice,
    } == dict(SECTION_RECORD_TYPES)
    assert issubclass(ImsAmendedInvoice, ImsInvoice)
    assert issubclass(ImsAmendedNote, ImsNote)


def test_record_defaults_and_immutability() -> None:
    record = invoice()
    assert record.taxable_value is None
    assert record.return_period is None
    assert record.invoice_type is None
    assert {} == dict(record.extra)
    with pytest.raises(AttributeError, match="immutable"):
        record.value = Decimal(1)  # type: ignore[misc]


def test_record_equality_includes_extra() -> None:
    assert invoice() == invoice()
    assert invoice() != invoice(extra=MappingProxyType({"meta": 1}))


def test_record_to_dict_uses_wire_names_and_keeps_extra_last() -> None:
    record = ImsAmendedNote(
        supplier_gstin=STIN,
        value=Decimal("1000.10"),
        number="dn2",
        date=datetime.date(2023, 2, 24),
        original_number="ca2",
        original_date=datetime.date(2023, 2, 4),
        return_period=ReturnPeriod(2023, 1),
        action=ImsStatus.ACCEPTED,
        source_form="R9",  # an unknown code stays text
        igst=Decimal("0.00"),
        extra=MappingProxyType({"meta": {"n": 1}}),
    )
    expected = {
        "stin": STIN,
        "val": Decimal("1000.10"),
        "rtnprd": "012023",
        "srcform": "R9",
        "iamt": Decimal("0.00"),
        "action": "A",
        "nt_num": "dn2",
        "nt_dt": "24-02-2023",
        "ont_num": "ca2",
        "ont_dt": "04-02-2023",
        "meta": {"n": 1},
    }
    actual = record.to_dict()
    assert expected == actual
    assert "meta" == list(actual)[-1]
    assert "1000.10" == str(actual["val"])
    assert type(actual["action"]) is str


# ------------------------------------------------------------------------------------------
# Totals
# ------------------------------------------------------------------------------------------


def test_section_totals_are_exact_and_count_absent_amounts_as_zero() -> None:
    records = (
        invoice(value="0.10", taxable_value=Decimal("0.1"), igst=Decimal("0.02")),
        invoice(value="0.20", cgst=Decimal("0.01"), sgst=Decimal("0.01")),
        invoice(value="1000", cess=Decimal("12.345")),
    )
    expected = SectionTotals(
        records=3,
        value=Decimal("1000.30"),
        taxable_value=Decimal("0.1"),
        igst=Decimal("0.02"),
        cgst=Decimal("0.01"),
        sgst=Decimal("0.01"),
        cess=Decimal("12.345"),
    )
    actual = SectionTotals.of(records)
    assert expected == actual
    assert "1000.30" == str(actual.value)
    assert SectionTotals(0, *(Decimal(0),) * 6) == SectionTotals.of(())


# ------------------------------------------------------------------------------------------
# ImsInvoices
# ------------------------------------------------------------------------------------------


def sample_result() -> ImsInvoices:
    return ImsInvoices(
        b2b=(invoice("b1"), invoice("b2")),
        b2bcn=(note("cn1"),),
        other_sections=MappingProxyType({"impg": (MappingProxyType({"refnum": "I-1"}),)}),
        extra=MappingProxyType({"fp": "012023"}),
        present=frozenset({"b2b", "b2bcn", "ecom", "impg"}),
    )


def test_sections_by_name_enum_or_unknown_name() -> None:
    result = sample_result()
    assert result.b2b == result.section("b2b")
    assert result.b2b == result.section("B2B")
    assert result.b2b == result.section(ImsSection.B2B)
    assert ({"refnum": "I-1"},) == result.section("impg")
    assert () == result.section("nothing")


def test_an_unknown_section_with_capitals_is_found_by_its_exact_key() -> None:
    result = ImsInvoices(
        b2b=(invoice("b1"),),
        other_sections=MappingProxyType(
            {"IMPG": ({"n": 1},), "B2B": ({"n": 2},)}  # unknown keys, as sent
        ),
        present=frozenset({"b2b", "IMPG", "B2B"}),
    )
    assert ({"n": 1},) == result.section("IMPG")
    assert ({"n": 2},) == result.section("B2B")  # not the known b2b records
    assert (invoice("b1"),) == result.section("b2b")
    assert [
        ("b2b", invoice("b1")),
        ("IMPG", {"n": 1}),
        ("B2B", {"n": 2}),
    ] == list(result.records())
    assert {"b2b", "IMPG", "B2B"} == set(result.to_dict())
    assert [{"n": 2}] == result.to_dict()["B2B"]


def test_section_names_known_first_in_api_order_and_empty_ones_kept() -> None:
    assert ["b2b", "b2bcn", "ecom", "impg"] == sample_result().section_names()


def test_records_len_and_totals() -> None:
    result = sample_result()
    assert [
        ("b2b", invoice("b1")),
        ("b2b", invoice("b2")),
        ("b2bcn", note("cn1")),
        ("impg", {"refnum": "I-1"}),
    ] == list(result.records())
    assert 4 == len(result)
    totals = result.totals()
    assert ["b2b", "b2bcn", "ecom"] == list(totals)
    assert Decimal(2000) == totals["b2b"].value
    assert 0 == totals["ecom"].records


def test_to_dict_gives_back_every_present_section_and_extra() -> None:
    actual = sample_result().to_dict()
    assert ["b2b", "b2bcn", "ecom", "impg", "fp"] == list(actual)
    assert [] == actual["ecom"]
    assert [{"refnum": "I-1"}] == actual["impg"]
    assert "012023" == actual["fp"]
    assert ["b1", "b2"] == [r["inum"] for r in actual["b2b"]]


def test_merge_concatenates_in_order() -> None:
    first = ImsInvoices(
        b2b=(invoice("b1"),),
        other_sections=MappingProxyType({"impg": ({"n": 1},)}),
        extra=MappingProxyType({"fp": "012023"}),
        present=frozenset({"b2b", "impg"}),
    )
    second = ImsInvoices(
        b2b=(invoice("b2"),),
        ecom=(invoice("e1"),),
        other_sections=MappingProxyType({"impg": ({"n": 2},)}),
        extra=MappingProxyType({"fp": "012023"}),
        present=frozenset({"b2b", "ecom", "impg"}),
    )
    merged = ImsInvoices.merge([first, second])
    assert (invoice("b1"), invoice("b2")) == merged.b2b
    assert (invoice("e1"),) == merged.ecom
    assert ({"n": 1}, {"n": 2}) == merged.section("impg")
    assert {"fp": "012023"} == dict(merged.extra)
    assert frozenset({"b2b", "ecom", "impg"}) == merged.present
    assert first is ImsInvoices.merge([first])


def test_merge_refuses_conflicting_extra_keys() -> None:
    a = ImsInvoices(extra=MappingProxyType({"fp": "012023"}))
    b = ImsInvoices(extra=MappingProxyType({"fp": "022023"}))
    with pytest.raises(ValueError, match="disagree about 'fp'"):
        ImsInvoices.merge([a, b])


# ------------------------------------------------------------------------------------------
# Task state
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "done"),
    [(TaskState.PENDING, False), (TaskState.COMPLETED, True), (TaskState.FAILED, True)],
)
def test_task_status_done(state: TaskState, done: bool) -> None:
    assert done == TaskStatus("t-1", "x", state).done


def test_task_status_equality_ignores_the_raw_answer() -> None:
    a = TaskStatus("t-1", "processing", TaskState.PENDING, {"id": "t-1"})
    b = TaskStatus("t-1", "processing", TaskState.PENDING, {"jobs": {}})
    assert a == b


def test_progress_defaults() -> None:
    assert Progress("t-1", "waiting", 0, None, 0, None) == Progress("t-1", "waiting")
