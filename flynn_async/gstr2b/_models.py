"""The GSTR-2B document as typed records, decoded exactly and given back as sent.

Each record is a frozen :class:`msgspec.Struct` with readable attribute names; a small table per
class maps them to the wire names of GSTN's 2B schema (``flynn-api.md`` section 13). Money is
:class:`~decimal.Decimal` with the digits sent (a JSON number; a string, a float or a boolean
where money is due is a :class:`~flynn_async.ResponseError` naming the path), dates are
:class:`~datetime.date` from ``DD-MM-YYYY``, codes stay open text. Whatever a record does not
know (a field, a section, a value of an unexpected type, a ``null`` or an empty text where a
date or amount is due) is kept in its ``extra`` and comes back out of ``to_dict()``, so
``Gstr2b.to_dict()`` is the document as the server sent it.
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal, NamedTuple

import attrs
import msgspec

from flynn_async._core._errors import ResponseError
from flynn_async._core._values import EMPTY, FrozenMap, thaw
from flynn_async.gst._period import ReturnPeriod

__all__ = [
    "Gstr2b",
    "Gstr2bBillOfEntry",
    "Gstr2bDocuments",
    "Gstr2bInvoice",
    "Gstr2bIsdDocument",
    "Gstr2bItem",
    "Gstr2bNote",
    "Gstr2bSupplier",
    "Gstr2bSupplierSummary",
    "ItcBucket",
    "ItcGroup",
    "ItcSummary",
    "TaxAmounts",
]

Kind = Literal["text", "money", "date", "int", "number"]


class Where(NamedTuple):
    """Where a document is being decoded, for error messages."""

    route: str | None = None
    page: int | None = None


#: No route or file known (decoding a document given by the caller).
NOWHERE: Final = Where()


def _fail(message: str, path: str, where: Where) -> ResponseError:
    return ResponseError(f"GSTR-2B {path}: {message}", route=where.route, page=where.page)


def _money(value: Any, path: str, where: Where) -> Decimal:
    if type(value) is Decimal:
        return value
    if type(value) is int:
        return Decimal(value)
    raise _fail(f"amount must be a JSON number, got {value!r:.60}", path, where)


@functools.lru_cache(maxsize=8192)
def _parse_date(text: str) -> _dt.date | None:
    """``DD-MM-YYYY`` as a date (``None`` if it is not one); dates repeat: cached."""
    if len(text) != 10 or text[2] != "-" or text[5] != "-":
        return None
    day, month, year = text[:2], text[3:5], text[6:]
    if not (day.isdigit() and month.isdigit() and year.isdigit() and text.isascii()):
        return None
    try:
        return _dt.date(int(year), int(month), int(day))
    except ValueError:
        return None


def _date(value: Any, path: str, where: Where) -> _dt.date:
    found = _parse_date(value) if type(value) is str else None
    if found is None:
        raise _fail(f"date must be DD-MM-YYYY, got {value!r:.60}", path, where)
    return found


def _int(value: Any, path: str, where: Where) -> int:
    if type(value) is int:
        return value
    raise _fail(f"count must be a whole JSON number, got {value!r:.60}", path, where)


def _convert(kind: Kind, value: Any, path: str, where: Where) -> Any:
    if kind == "money" or kind == "number":
        return _money(value, path, where)
    if kind == "date":
        return _date(value, path, where)
    if kind == "int":
        return _int(value, path, where)
    return value


@functools.lru_cache(maxsize=8192)
def _date_text(value: _dt.date) -> str:
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def _encode(kind: Kind, value: Any) -> Any:
    return _date_text(value) if kind == "date" else value


class _Record(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A flat record: scalar fields by the table ``_FIELDS``, lists by ``_LISTS``."""

    #: (attribute, wire name, kind) of the scalar fields, in wire order.
    _FIELDS: ClassVar[tuple[tuple[str, str, Kind], ...]] = ()
    #: (attribute, wire name, record class) of the nested lists.
    _LISTS: ClassVar[tuple[tuple[str, str, type[_Record]], ...]] = ()
    _BY_WIRE: ClassVar[dict[str, tuple[str, Kind | type[_Record], bool]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[str, tuple[str, Kind | type[_Record], bool]] = {}
        for attr, wire, kind in cls._FIELDS:
            table[wire] = (attr, kind, False)
        for attr, wire, record in cls._LISTS:
            table[wire] = (attr, record, True)
        cls._BY_WIRE = table

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> Any:
        """Build the record from its wire object (``path`` names it in errors)."""
        if not isinstance(raw, dict):
            raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        table = cls._BY_WIRE
        for key, value in raw.items():
            spec = table.get(key)
            if spec is None or value is None:
                extra[key] = value
                continue
            attr, kind, is_list = spec
            if is_list:
                if not isinstance(value, list):
                    raise _fail(
                        f"expected a list, got {type(value).__name__}", f"{path}.{key}", where
                    )
                assert isinstance(kind, type)
                values[attr] = tuple(
                    kind.decode(item, f"{path}.{key}[{i}]", where) for i, item in enumerate(value)
                )
            elif kind == "text":
                if isinstance(value, str):
                    values[attr] = value
                else:
                    extra[key] = value  # an open text sent as another type: kept as sent
            elif value == "":
                extra[key] = value  # an empty date or amount: no value, kept as sent
            else:
                assert isinstance(kind, str)
                values[attr] = _convert(kind, value, f"{path}.{key}", where)
        return cls(**values, extra=FrozenMap(extra) if extra else EMPTY)

    def to_dict(self) -> dict[str, Any]:
        """The record as the server sent it (wire names, amounts with their digits)."""
        out: dict[str, Any] = {}
        for attr, wire, kind in self._FIELDS:
            value = getattr(self, attr)
            if value is not None:
                out[wire] = _encode(kind, value)
        for attr, wire, _ in self._LISTS:
            items = getattr(self, attr)
            if items is not None:
                out[wire] = [item.to_dict() for item in items]
        extra: Mapping[str, Any] = getattr(self, "extra")  # noqa: B009
        if extra:
            out.update(thaw(extra))
        return out


_TAX: Final[tuple[tuple[str, str, Kind], ...]] = (
    ("igst", "igst", "money"),
    ("cgst", "cgst", "money"),
    ("sgst", "sgst", "money"),
    ("cess", "cess", "money"),
)


class TaxAmounts(_Record, frozen=True, gc=False, kw_only=True):
    """The four tax amounts of one ITC summary section (may be negative)."""

    _FIELDS = (("taxable_value", "txval", "money"), *_TAX)

    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    extra: Mapping[str, Any] = EMPTY


class Gstr2bItem(_Record, frozen=True, gc=False, kw_only=True):
    """An item line of the older 2B versions (``items``): rate and amounts."""

    _FIELDS = (
        ("number", "num", "int"),
        ("rate", "rt", "number"),
        ("taxable_value", "txval", "money"),
        *_TAX,
    )

    number: int | None = None
    rate: Decimal | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    extra: Mapping[str, Any] = EMPTY


_DOC_COMMON: Final[tuple[tuple[str, str, Kind], ...]] = (
    ("value", "val", "money"),
    ("place_of_supply", "pos", "text"),
    ("reverse_charge", "rev", "text"),
    ("itc_available", "itcavl", "text"),
    ("reason", "rsn", "text"),
    ("differential_percentage", "diffprcnt", "number"),
    ("source_type", "srctyp", "text"),
    ("irn", "irn", "text"),
    ("irn_date", "irngendate", "date"),
    ("taxable_value", "txval", "money"),
    *_TAX,
    ("ims_status", "imsStatus", "text"),
)


class Gstr2bInvoice(_Record, frozen=True, gc=False, kw_only=True):
    """An invoice of ``b2b``, ``b2ba``, ``ecom``, ``ecoma`` (amendments add the original's
    number and date). ``itc_available`` is ``Y``, ``N`` or ``T``; ``reason`` ``P`` or ``C``."""

    _FIELDS = (
        ("number", "inum", "text"),
        ("type", "typ", "text"),
        ("date", "dt", "date"),
        ("original_number", "oinum", "text"),
        ("original_date", "oidt", "date"),
        *_DOC_COMMON,
    )
    _LISTS = (("items", "items", Gstr2bItem),)

    number: str | None = None
    type: str | None = None
    date: _dt.date | None = None
    original_number: str | None = None
    original_date: _dt.date | None = None
    value: Decimal | None = None
    place_of_supply: str | None = None
    reverse_charge: str | None = None
    itc_available: str | None = None
    reason: str | None = None
    differential_percentage: Decimal | None = None
    source_type: str | None = None
    irn: str | None = None
    irn_date: _dt.date | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    ims_status: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None
    extra: Mapping[str, Any] = EMPTY


class Gstr2bNote(_Record, frozen=True, gc=False, kw_only=True):
    """A credit or debit note of ``cdnr``/``cdnra`` (``note_type`` ``C`` or ``D``)."""

    _FIELDS = (
        ("number", "ntnum", "text"),
        ("note_type", "typ", "text"),
        ("supply_type", "suptyp", "text"),
        ("date", "dt", "date"),
        ("original_note_type", "onttyp", "text"),
        ("original_number", "ontnum", "text"),
        ("original_date", "ontdt", "date"),
        *_DOC_COMMON,
    )
    _LISTS = (("items", "items", Gstr2bItem),)

    number: str | None = None
    note_type: str | None = None
    supply_type: str | None = None
    date: _dt.date | None = None
    original_note_type: str | None = None
    original_number: str | None = None
    original_date: _dt.date | None = None
    value: Decimal | None = None
    place_of_supply: str | None = None
    reverse_charge: str | None = None
    itc_available: str | None = None
    reason: str | None = None
    differential_percentage: Decimal | None = None
    source_type: str | None = None
    irn: str | None = None
    irn_date: _dt.date | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    ims_status: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None
    extra: Mapping[str, Any] = EMPTY


class Gstr2bIsdDocument(_Record, frozen=True, gc=False, kw_only=True):
    """A document of an input service distributor (``isd``, ``isda``; ``ISDI``/``ISDC``)."""

    _FIELDS = (
        ("document_type", "doctyp", "text"),
        ("number", "docnum", "text"),
        ("date", "docdt", "date"),
        ("original_document_type", "odoctyp", "text"),
        ("original_number", "odocnum", "text"),
        ("original_date", "odocdt", "date"),
        ("original_invoice_number", "oinvnum", "text"),
        ("original_invoice_date", "oinvdt", "date"),
        *_TAX,
        ("itc_eligible", "itcelg", "text"),
    )
    _LISTS = (("items", "items", Gstr2bItem),)

    document_type: str | None = None
    number: str | None = None
    date: _dt.date | None = None
    original_document_type: str | None = None
    original_number: str | None = None
    original_date: _dt.date | None = None
    original_invoice_number: str | None = None
    original_invoice_date: _dt.date | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    itc_eligible: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None
    extra: Mapping[str, Any] = EMPTY


class Gstr2bBillOfEntry(_Record, frozen=True, gc=False, kw_only=True):
    """A bill of entry of imported goods (``impg``, and under a supplier in ``impgsez``)."""

    _FIELDS = (
        ("reference_date", "refdt", "date"),
        ("received_date", "recdt", "date"),
        ("port_code", "portcode", "text"),
        ("number", "boenum", "text"),
        ("date", "boedt", "date"),
        ("amended", "isamd", "text"),
        ("taxable_value", "txval", "money"),
        *_TAX,
    )
    _LISTS = (("items", "items", Gstr2bItem),)

    reference_date: _dt.date | None = None
    received_date: _dt.date | None = None
    port_code: str | None = None
    number: str | None = None
    date: _dt.date | None = None
    amended: str | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    items: tuple[Gstr2bItem, ...] | None = None
    extra: Mapping[str, Any] = EMPTY


_SUPPLIER: Final[tuple[tuple[str, str, Kind], ...]] = (
    ("supplier_gstin", "ctin", "text"),
    ("trade_name", "trdnm", "text"),
    ("supplier_period", "supprd", "text"),
    ("filing_date", "supfildt", "date"),
)


class Gstr2bSupplier(_Record, frozen=True, gc=False, kw_only=True):
    """One supplier's documents in a section: invoices, notes, ISD documents or bills of entry.

    ``supplier_gstin`` (``ctin``) may be a non-resident id: it is not checked as a GSTIN.
    """

    _FIELDS = _SUPPLIER
    _LISTS = (
        ("invoices", "inv", Gstr2bInvoice),
        ("notes", "nt", Gstr2bNote),
        ("isd_documents", "doclist", Gstr2bIsdDocument),
        ("bills_of_entry", "boe", Gstr2bBillOfEntry),
    )

    supplier_gstin: str | None = None
    trade_name: str | None = None
    supplier_period: str | None = None
    filing_date: _dt.date | None = None
    invoices: tuple[Gstr2bInvoice, ...] | None = None
    notes: tuple[Gstr2bNote, ...] | None = None
    isd_documents: tuple[Gstr2bIsdDocument, ...] | None = None
    bills_of_entry: tuple[Gstr2bBillOfEntry, ...] | None = None
    extra: Mapping[str, Any] = EMPTY

    @property
    def documents(self) -> tuple[Any, ...]:
        """Every document of the supplier, of whichever kind the section holds."""
        found: tuple[Any, ...] = ()
        for attr, _, _ in self._LISTS:
            found += getattr(self, attr) or ()
        return found


class Gstr2bSupplierSummary(_Record, frozen=True, gc=False, kw_only=True):
    """One supplier's totals in a section of ``cpsumm``."""

    _FIELDS = (
        *_SUPPLIER,
        ("document_count", "ttldocs", "int"),
        ("note_type", "nttyp", "text"),
        ("document_type", "doctyp", "text"),
        ("port_code", "portcode", "text"),
        ("taxable_value", "txval", "money"),
        *_TAX,
    )

    supplier_gstin: str | None = None
    trade_name: str | None = None
    supplier_period: str | None = None
    filing_date: _dt.date | None = None
    document_count: int | None = None
    note_type: str | None = None
    document_type: str | None = None
    port_code: str | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    extra: Mapping[str, Any] = EMPTY


# ------------------------------------------------------------------------------------------
# Keyed containers: sections and summary groups under names the portal may add to.
# ------------------------------------------------------------------------------------------

#: Document sections whose entries are suppliers; ``impg`` and ``impga`` are flat bills.
SUPPLIER_SECTIONS: Final = frozenset(
    {
        "b2b",
        "b2ba",
        "cdnr",
        "cdnra",
        "ecom",
        "ecoma",
        "isd",
        "isda",
        "impgsez",
        "impgasez",
        "impgseza",
    }
)
FLAT_SECTIONS: Final = frozenset({"impg", "impga"})


def _proxy(values: dict[str, Any]) -> Mapping[str, Any]:
    """A read-only mapping of records that pickles (records stay as they are inside)."""
    return FrozenMap(values) if values else EMPTY


class ItcGroup(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A group of an ITC bucket (``nonrevsup``, ``revsup``, ``imports``, ...): its totals and
    one :class:`TaxAmounts` per section."""

    totals: TaxAmounts
    sections: Mapping[str, TaxAmounts] = EMPTY
    extra: Mapping[str, Any] = EMPTY

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> ItcGroup:
        """Build the group from its wire object."""
        if not isinstance(raw, dict):
            raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
        flat = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        sections = {
            k: TaxAmounts.decode(v, f"{path}.{k}", where)
            for k, v in raw.items()
            if isinstance(v, dict)
        }
        totals = TaxAmounts.decode(flat, path, where)
        return cls(totals=totals, sections=_proxy(sections))

    def to_dict(self) -> dict[str, Any]:
        """The group as sent."""
        out = self.totals.to_dict()
        out.update({k: v.to_dict() for k, v in self.sections.items()})
        return out


class ItcBucket(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A bucket of the ITC summary: its groups by wire name; anything else in ``extra``."""

    groups: Mapping[str, ItcGroup] = EMPTY
    extra: Mapping[str, Any] = EMPTY

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> ItcBucket:
        """Build the bucket from its wire object."""
        if not isinstance(raw, dict):
            raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
        groups = {
            k: ItcGroup.decode(v, f"{path}.{k}", where)
            for k, v in raw.items()
            if isinstance(v, dict)
        }
        extra = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        return cls(groups=_proxy(groups), extra=FrozenMap(extra) if extra else EMPTY)

    def to_dict(self) -> dict[str, Any]:
        """The bucket as sent."""
        out: dict[str, Any] = {k: v.to_dict() for k, v in self.groups.items()}
        out.update(thaw(self.extra))
        return out


class ItcSummary(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """``itcsumm``: buckets by wire name (``itcavl``, ``itcunavl``, ``itcrev``, ``itcRejected``
    and any other), each holding groups of per-section :class:`TaxAmounts`."""

    buckets: Mapping[str, ItcBucket] = EMPTY
    extra: Mapping[str, Any] = EMPTY

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> ItcSummary:
        """Build the summary from its wire object."""
        if not isinstance(raw, dict):
            raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
        buckets = {
            k: ItcBucket.decode(v, f"{path}.{k}", where)
            for k, v in raw.items()
            if isinstance(v, dict)
        }
        extra = {k: v for k, v in raw.items() if not isinstance(v, dict)}
        return cls(buckets=_proxy(buckets), extra=FrozenMap(extra) if extra else EMPTY)

    def to_dict(self) -> dict[str, Any]:
        """The summary as sent."""
        out: dict[str, Any] = {k: v.to_dict() for k, v in self.buckets.items()}
        out.update(thaw(self.extra))
        return out

    def _bucket(self, name: str) -> ItcBucket | None:
        return self.buckets.get(name)

    @property
    def available(self) -> ItcBucket | None:
        """``itcavl``: ITC available."""
        return self._bucket("itcavl")

    @property
    def not_available(self) -> ItcBucket | None:
        """``itcunavl``: ITC not available."""
        return self._bucket("itcunavl")

    @property
    def reversal(self) -> ItcBucket | None:
        """``itcrev``: ITC to be reversed."""
        return self._bucket("itcrev")

    @property
    def rejected(self) -> ItcBucket | None:
        """``itcRejected``: ITC of the documents rejected in IMS."""
        return self._bucket("itcRejected")


class Gstr2bDocuments(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """``docdata`` or ``docRejdata``: the entries of each section, by wire section name.

    Entries are :class:`Gstr2bSupplier` values (bills of entry for ``impg``, ``impga``).
    Sections of another shape (``itcrev``, sections the portal adds) are kept as sent in
    ``extra``.
    """

    sections: Mapping[str, tuple[Any, ...]] = EMPTY
    extra: Mapping[str, Any] = EMPTY

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> Gstr2bDocuments:
        """Build the documents from their wire object."""
        if not isinstance(raw, dict):
            raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
        sections: dict[str, tuple[Any, ...]] = {}
        extra: dict[str, Any] = {}
        for key, value in raw.items():
            record: type[_Record] | None = (
                Gstr2bSupplier
                if key in SUPPLIER_SECTIONS
                else Gstr2bBillOfEntry
                if key in FLAT_SECTIONS
                else None
            )
            if record is None or not isinstance(value, list):
                extra[key] = value
                continue
            sections[key] = tuple(
                record.decode(item, f"{path}.{key}[{i}]", where) for i, item in enumerate(value)
            )
        return cls(sections=_proxy(sections), extra=FrozenMap(extra) if extra else EMPTY)

    def to_dict(self) -> dict[str, Any]:
        """The documents as sent."""
        out: dict[str, Any] = {k: [e.to_dict() for e in v] for k, v in self.sections.items()}
        out.update(thaw(self.extra))
        return out

    def section(self, name: str) -> tuple[Any, ...]:
        """The entries of section ``name`` (``b2b``, ``cdnr``, ...), empty when absent."""
        return self.sections.get(name, ())

    def documents(self) -> Iterator[tuple[str, Gstr2bSupplier | None, Any]]:
        """Every document as ``(section, supplier or None, document)``, in order."""
        for name, entries in self.sections.items():
            for entry in entries:
                if isinstance(entry, Gstr2bSupplier):
                    for document in entry.documents:
                        yield name, entry, document
                else:
                    yield name, None, entry

    @staticmethod
    def merge(parts: list[Gstr2bDocuments]) -> Gstr2bDocuments:
        """The parts of a multi-file 2B, each section's lists appended in file order."""
        sections: dict[str, tuple[Any, ...]] = {}
        extra: dict[str, Any] = {}
        for part in parts:
            for key, entries in part.sections.items():
                sections[key] = sections.get(key, ()) + entries
            for key, value in part.extra.items():
                if key in extra and isinstance(value, tuple) and isinstance(extra[key], tuple):
                    extra[key] = extra[key] + value
                else:
                    extra[key] = value
        return Gstr2bDocuments(
            sections=_proxy(sections), extra=FrozenMap(extra) if extra else EMPTY
        )


_SUMMARY_LISTS: Final = "cpsumm"


def _decode_cpsumm(
    raw: Any, path: str, where: Where
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    if not isinstance(raw, dict):
        raise _fail(f"expected an object, got {type(raw).__name__}", path, where)
    sections: dict[str, tuple[Gstr2bSupplierSummary, ...]] = {}
    extra: dict[str, Any] = {}
    for key, value in raw.items():
        if not isinstance(value, list):
            extra[key] = value
            continue
        sections[key] = tuple(
            Gstr2bSupplierSummary.decode(item, f"{path}.{key}[{i}]", where)
            for i, item in enumerate(value)
        )
    return _proxy(sections), FrozenMap(extra) if extra else EMPTY


@attrs.frozen(kw_only=True)
class Gstr2b:
    """A taxpayer's GSTR-2B for one period: header, ITC summary, supplier summary, documents.

    ``documents`` (``docdata``) holds the documents whose ITC the statement counts (accepted
    in IMS, or no action), ``rejected`` (``docRejdata``) the ones rejected in IMS; pending ones
    are in neither. ``files`` is how many files the portal sent it in (0 for a period without
    documents; not part of the document: ``to_dict()`` has no file count, and two results
    compare equal whatever their file counts). A period without documents gives a ``Gstr2b``
    with only ``gstin`` and ``period`` set (``empty`` is true).
    """

    gstin: str | None = None
    period: ReturnPeriod | None = None
    version: str | None = None
    generated: _dt.date | None = None
    itc_summary: ItcSummary | None = None
    supplier_summary: Mapping[str, tuple[Gstr2bSupplierSummary, ...]] | None = None
    documents: Gstr2bDocuments | None = None
    rejected: Gstr2bDocuments | None = None
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, repr=False)
    files: int = attrs.field(default=1, eq=False)
    _supplier_summary_extra: Mapping[str, Any] = attrs.field(
        default=EMPTY, repr=False, alias="supplier_summary_extra"
    )

    @property
    def empty(self) -> bool:
        """True when the period has no documents at all (accepted or rejected)."""
        return not any(
            True
            for docs in (self.documents, self.rejected)
            if docs is not None
            for _ in docs.documents()
        )

    def to_dict(self) -> dict[str, Any]:
        """The 2B document as the server sent it (the object beside ``chksum``), no ``fc``."""
        out: dict[str, Any] = {}
        if self.gstin is not None:
            out["gstin"] = self.gstin
        if self.period is not None:
            out["rtnprd"] = str(self.period)
        if self.version is not None:
            out["version"] = self.version
        if self.generated is not None:
            out["gendt"] = _date_text(self.generated)
        if self.itc_summary is not None:
            out["itcsumm"] = self.itc_summary.to_dict()
        if self.supplier_summary is not None:
            summary: dict[str, Any] = {
                k: [e.to_dict() for e in v] for k, v in self.supplier_summary.items()
            }
            summary.update(thaw(self._supplier_summary_extra))
            out[_SUMMARY_LISTS] = summary
        if self.documents is not None:
            out["docdata"] = self.documents.to_dict()
        if self.rejected is not None:
            out["docRejdata"] = self.rejected.to_dict()
        out.update(thaw(self.extra))
        return out


_HEADER_KEYS: Final = frozenset(
    {"gstin", "rtnprd", "version", "gendt", "itcsumm", "cpsumm", "docdata", "docRejdata", "fc"}
)


def decode_header(raw: Any, where: Where = NOWHERE) -> dict[str, Any]:
    """The ``Gstr2b`` fields of a document other than its documents (and ``fc``)."""
    if not isinstance(raw, dict):
        raise _fail(f"the document must be an object, got {type(raw).__name__}", "data", where)
    fields: dict[str, Any] = {}
    gstin = raw.get("gstin")
    if gstin is not None:
        if not isinstance(gstin, str):
            raise _fail(f"gstin must be text, got {gstin!r:.40}", "gstin", where)
        fields["gstin"] = gstin
    period = raw.get("rtnprd")
    if period is not None:
        try:
            fields["period"] = ReturnPeriod.parse(period) if isinstance(period, str) else None
        except ValueError:
            fields["period"] = None
        if fields["period"] is None or str(fields["period"]) != period:
            raise _fail(f"rtnprd must be MMYYYY, got {period!r:.40}", "rtnprd", where)
    version = raw.get("version")
    if version is not None:
        if not isinstance(version, str):
            raise _fail(f"version must be text, got {version!r:.40}", "version", where)
        fields["version"] = version
    if raw.get("gendt") is not None:
        fields["generated"] = _date(raw["gendt"], "gendt", where)
    if raw.get("itcsumm") is not None:
        fields["itc_summary"] = ItcSummary.decode(raw["itcsumm"], "itcsumm", where)
    if raw.get(_SUMMARY_LISTS) is not None:
        summary, summary_extra = _decode_cpsumm(raw[_SUMMARY_LISTS], _SUMMARY_LISTS, where)
        fields["supplier_summary"] = summary
        fields["supplier_summary_extra"] = summary_extra
    extra = {
        k: v for k, v in raw.items() if k not in _HEADER_KEYS or (v is None and k not in ("fc",))
    }
    fields["extra"] = FrozenMap(extra) if extra else EMPTY
    return fields


def decode_documents(raw: Any, key: str, where: Where = NOWHERE) -> Gstr2bDocuments | None:
    """``raw[key]`` (``docdata`` or ``docRejdata``) as documents, ``None`` when absent."""
    value = raw.get(key) if isinstance(raw, dict) else None
    return None if value is None else Gstr2bDocuments.decode(value, key, where)


def decode_gstr2b(raw: Any, where: Where = NOWHERE, *, files: int = 1) -> Gstr2b:
    """A one-file 2B document (``data.data``) as a :class:`Gstr2b`."""
    fields = decode_header(raw, where)
    return Gstr2b(
        **fields,
        documents=decode_documents(raw, "docdata", where),
        rejected=decode_documents(raw, "docRejdata", where),
        files=files,
    )
