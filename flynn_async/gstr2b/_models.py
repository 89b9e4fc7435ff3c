"""The GSTR-2B document as typed records, decoded exactly and given back as sent.

Each record is a wire record of the one codec (:mod:`flynn_async._core._codec`): a frozen
:class:`msgspec.Struct` with readable attribute names, a small ``rename`` table per class giving
the wire names of GSTN's 2B schema (``flynn-api.md`` section 13), read by the same lossless path,
``to_dict()`` and export columns as the IMS records. Money is
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
from typing import Any, Final, NamedTuple

import attrs
import msgspec

from flynn_async._core import _codec
from flynn_async._core._codec import DayMonthYear, WireRecord
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


class Where(NamedTuple):
    """Where a document is being decoded, for error messages."""

    route: str | None = None
    page: int | None = None

    def fields(self) -> dict[str, Any]:
        """As an error's keyword arguments."""
        return {"route": self.route, "page": self.page}


#: No route or file known (decoding a document given by the caller).
NOWHERE: Final = Where()


def _fail(message: str, path: str, where: Where) -> ResponseError:
    return ResponseError(f"GSTR-2B {path}: {message}", route=where.route, page=where.page)


def _parse_date(text: str) -> _dt.date | None:
    """``DD-MM-YYYY`` as a date (``None`` if it is not one); the codec's parser caches."""
    try:
        return _codec.decode_hook(DayMonthYear, text)  # type: ignore[no-any-return]
    except (TypeError, ValueError):
        return None


def _date(value: Any, path: str, where: Where) -> _dt.date:
    found = _parse_date(value) if type(value) is str else None
    if found is None:
        raise _fail(f"date must be DD-MM-YYYY, got {value!r:.60}", path, where)
    return found


@functools.lru_cache(maxsize=8192)
def _date_text(value: _dt.date) -> str:
    return f"{value.day:02d}-{value.month:02d}-{value.year:04d}"


def _wire_names(
    fields: tuple[tuple[str, str], ...], lists: tuple[tuple[str, str, type], ...]
) -> dict[str, str]:
    """A record class's ``rename`` table: attribute name to wire name."""
    return dict(fields) | {attr: wire for attr, wire, _ in lists}


class _Record(WireRecord, frozen=True, kw_only=True):
    """A 2B record on the one wire codec: every field optional, open texts kept as sent.

    Whatever a record does not know is kept in ``extra`` (``__wire_lenient__``): an unknown
    field, a ``null``, a text field sent as another type, an empty text where a date or an
    amount is due. Money must still be a JSON number and a date ``DD-MM-YYYY``: anything else is
    a :class:`~flynn_async.ResponseError` naming the path. Whole amounts come back out of
    ``to_dict()`` as they were sent, as JSON integers.
    """

    __wire_lenient__ = True
    __wire_whole_ints__ = True
    __wire_label__ = "GSTR-2B"

    @classmethod
    def decode(cls, raw: Any, path: str, where: Where = NOWHERE) -> Any:
        """Build the record from its wire object (``path`` names it in errors)."""
        return _codec.structure(cls, raw, path, where.fields())


_TAX: Final[tuple[tuple[str, str], ...]] = (
    ("igst", "igst"),
    ("cgst", "cgst"),
    ("sgst", "sgst"),
    ("cess", "cess"),
)


#: TaxAmounts's wire names (scalar fields, then lists of records).
_TAX_AMOUNTS_WIRE: Final = _wire_names((("taxable_value", "txval"), *_TAX), ())


class TaxAmounts(_Record, frozen=True, kw_only=True, rename=_TAX_AMOUNTS_WIRE):
    """The four tax amounts of one ITC summary section (may be negative)."""

    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None


#: Gstr2bItem's wire names (scalar fields, then lists of records).
_GSTR2B_ITEM_WIRE: Final = _wire_names(
    (
        ("number", "num"),
        ("rate", "rt"),
        ("taxable_value", "txval"),
        *_TAX,
    ),
    (),
)


class Gstr2bItem(_Record, frozen=True, kw_only=True, rename=_GSTR2B_ITEM_WIRE):
    """An item line of the older 2B versions (``items``): rate and amounts."""

    number: int | None = None
    rate: Decimal | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None


_DOC_COMMON: Final[tuple[tuple[str, str], ...]] = (
    ("value", "val"),
    ("place_of_supply", "pos"),
    ("reverse_charge", "rev"),
    ("itc_available", "itcavl"),
    ("reason", "rsn"),
    ("differential_percentage", "diffprcnt"),
    ("source_type", "srctyp"),
    ("irn", "irn"),
    ("irn_date", "irngendate"),
    ("taxable_value", "txval"),
    *_TAX,
    ("ims_status", "imsStatus"),
)


#: Gstr2bInvoice's wire names (scalar fields, then lists of records).
_GSTR2B_INVOICE_WIRE: Final = _wire_names(
    (
        ("number", "inum"),
        ("type", "typ"),
        ("date", "dt"),
        ("original_number", "oinum"),
        ("original_date", "oidt"),
        *_DOC_COMMON,
    ),
    (("items", "items", Gstr2bItem),),
)


class Gstr2bInvoice(_Record, frozen=True, kw_only=True, rename=_GSTR2B_INVOICE_WIRE):
    """An invoice of ``b2b``, ``b2ba``, ``ecom``, ``ecoma`` (amendments add the original's
    number and date). ``itc_available`` is ``Y``, ``N`` or ``T``; ``reason`` ``P`` or ``C``."""

    number: str | None = None
    type: str | None = None
    date: DayMonthYear | None = None
    original_number: str | None = None
    original_date: DayMonthYear | None = None
    value: Decimal | None = None
    place_of_supply: str | None = None
    reverse_charge: str | None = None
    itc_available: str | None = None
    reason: str | None = None
    differential_percentage: Decimal | None = None
    source_type: str | None = None
    irn: str | None = None
    irn_date: DayMonthYear | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    ims_status: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None


#: Gstr2bNote's wire names (scalar fields, then lists of records).
_GSTR2B_NOTE_WIRE: Final = _wire_names(
    (
        ("number", "ntnum"),
        ("note_type", "typ"),
        ("supply_type", "suptyp"),
        ("date", "dt"),
        ("original_note_type", "onttyp"),
        ("original_number", "ontnum"),
        ("original_date", "ontdt"),
        *_DOC_COMMON,
    ),
    (("items", "items", Gstr2bItem),),
)


class Gstr2bNote(_Record, frozen=True, kw_only=True, rename=_GSTR2B_NOTE_WIRE):
    """A credit or debit note of ``cdnr``/``cdnra`` (``note_type`` ``C`` or ``D``)."""

    number: str | None = None
    note_type: str | None = None
    supply_type: str | None = None
    date: DayMonthYear | None = None
    original_note_type: str | None = None
    original_number: str | None = None
    original_date: DayMonthYear | None = None
    value: Decimal | None = None
    place_of_supply: str | None = None
    reverse_charge: str | None = None
    itc_available: str | None = None
    reason: str | None = None
    differential_percentage: Decimal | None = None
    source_type: str | None = None
    irn: str | None = None
    irn_date: DayMonthYear | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    ims_status: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None


#: Gstr2bIsdDocument's wire names (scalar fields, then lists of records).
_ISD_DOCUMENT_WIRE: Final = _wire_names(
    (
        ("document_type", "doctyp"),
        ("number", "docnum"),
        ("date", "docdt"),
        ("original_document_type", "odoctyp"),
        ("original_number", "odocnum"),
        ("original_date", "odocdt"),
        ("original_invoice_number", "oinvnum"),
        ("original_invoice_date", "oinvdt"),
        *_TAX,
        ("itc_eligible", "itcelg"),
    ),
    (("items", "items", Gstr2bItem),),
)


class Gstr2bIsdDocument(_Record, frozen=True, kw_only=True, rename=_ISD_DOCUMENT_WIRE):
    """A document of an input service distributor (``isd``, ``isda``; ``ISDI``/``ISDC``)."""

    document_type: str | None = None
    number: str | None = None
    date: DayMonthYear | None = None
    original_document_type: str | None = None
    original_number: str | None = None
    original_date: DayMonthYear | None = None
    original_invoice_number: str | None = None
    original_invoice_date: DayMonthYear | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    itc_eligible: str | None = None
    items: tuple[Gstr2bItem, ...] | None = None


#: Gstr2bBillOfEntry's wire names (scalar fields, then lists of records).
_BILL_OF_ENTRY_WIRE: Final = _wire_names(
    (
        ("reference_date", "refdt"),
        ("received_date", "recdt"),
        ("port_code", "portcode"),
        ("number", "boenum"),
        ("date", "boedt"),
        ("amended", "isamd"),
        ("taxable_value", "txval"),
        *_TAX,
    ),
    (("items", "items", Gstr2bItem),),
)


class Gstr2bBillOfEntry(_Record, frozen=True, kw_only=True, rename=_BILL_OF_ENTRY_WIRE):
    """A bill of entry of imported goods (``impg``, and under a supplier in ``impgsez``)."""

    reference_date: DayMonthYear | None = None
    received_date: DayMonthYear | None = None
    port_code: str | None = None
    number: str | None = None
    date: DayMonthYear | None = None
    amended: str | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None
    items: tuple[Gstr2bItem, ...] | None = None


_SUPPLIER: Final[tuple[tuple[str, str], ...]] = (
    ("supplier_gstin", "ctin"),
    ("trade_name", "trdnm"),
    ("supplier_period", "supprd"),
    ("filing_date", "supfildt"),
)


#: Gstr2bSupplier's wire names (scalar fields, then lists of records).
_GSTR2B_SUPPLIER_WIRE: Final = _wire_names(
    _SUPPLIER,
    (
        ("invoices", "inv", Gstr2bInvoice),
        ("notes", "nt", Gstr2bNote),
        ("isd_documents", "doclist", Gstr2bIsdDocument),
        ("bills_of_entry", "boe", Gstr2bBillOfEntry),
    ),
)


class Gstr2bSupplier(_Record, frozen=True, kw_only=True, rename=_GSTR2B_SUPPLIER_WIRE):
    """One supplier's documents in a section: invoices, notes, ISD documents or bills of entry.

    ``supplier_gstin`` (``ctin``) may be a non-resident id: it is not checked as a GSTIN.
    """

    supplier_gstin: str | None = None
    trade_name: str | None = None
    supplier_period: str | None = None
    filing_date: DayMonthYear | None = None
    invoices: tuple[Gstr2bInvoice, ...] | None = None
    notes: tuple[Gstr2bNote, ...] | None = None
    isd_documents: tuple[Gstr2bIsdDocument, ...] | None = None
    bills_of_entry: tuple[Gstr2bBillOfEntry, ...] | None = None

    @property
    def documents(self) -> tuple[Any, ...]:
        """Every document of the supplier, of whichever kind the section holds."""
        return (
            (self.invoices or ())
            + (self.notes or ())
            + (self.isd_documents or ())
            + (self.bills_of_entry or ())
        )


#: Gstr2bSupplierSummary's wire names (scalar fields, then lists of records).
_SUPPLIER_SUMMARY_WIRE: Final = _wire_names(
    (
        *_SUPPLIER,
        ("document_count", "ttldocs"),
        ("note_type", "nttyp"),
        ("document_type", "doctyp"),
        ("port_code", "portcode"),
        ("taxable_value", "txval"),
        *_TAX,
    ),
    (),
)


class Gstr2bSupplierSummary(_Record, frozen=True, kw_only=True, rename=_SUPPLIER_SUMMARY_WIRE):
    """One supplier's totals in a section of ``cpsumm``."""

    supplier_gstin: str | None = None
    trade_name: str | None = None
    supplier_period: str | None = None
    filing_date: DayMonthYear | None = None
    document_count: int | None = None
    note_type: str | None = None
    document_type: str | None = None
    port_code: str | None = None
    taxable_value: Decimal | None = None
    igst: Decimal | None = None
    cgst: Decimal | None = None
    sgst: Decimal | None = None
    cess: Decimal | None = None


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
