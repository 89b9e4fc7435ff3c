"""IMS values: the records, the merged result (:class:`ImsInvoices`) and the IMS codes.

Nothing here knows about HTTP or asyncio (return periods live in :mod:`flynn_async.gst`, task
state in :mod:`flynn_async._tasks`, ``FrozenMap`` and ``YesNo`` in :mod:`flynn_async._core`).
Records are frozen :class:`msgspec.Struct` classes described by the one wire codec
(:mod:`flynn_async._core._codec`); money is :class:`decimal.Decimal` exactly as the server sent
it; dates are :class:`datetime.date`; codes are *open* enums: a code the models know becomes an
enum member, an unknown one stays a plain ``str`` so nothing the server says is lost. Fields the
models don't know are kept in each record's ``extra`` mapping and written back by
``to_dict()``. The merged result, :class:`ImsInvoices`, is the library's own value (attrs).
"""

from __future__ import annotations

import itertools
import operator
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs
import msgspec

from flynn_async._core._codec import DayMonthYear, WireRecord
from flynn_async._core._errors import InvalidInput
from flynn_async._core._values import EMPTY, YesNo, _OpenEnum
from flynn_async._http import _api
from flynn_async.gst._period import ReturnPeriod

__all__ = [
    "FilingStatus",
    "ImsAmendedInvoice",
    "ImsAmendedNote",
    "ImsInvoice",
    "ImsInvoices",
    "ImsNote",
    "ImsRecord",
    "ImsSection",
    "ImsStatus",
    "InvoiceType",
    "SectionTotals",
    "SourceForm",
]

IMS_DATE_FORMAT: Final = "%d-%m-%Y"


class ImsSection(_OpenEnum):
    """An IMS section, as ``ims-invoices`` takes it in ``section=``."""

    B2B = "B2B"
    B2BA = "B2BA"
    B2BDN = "B2BDN"
    B2BDNA = "B2BDNA"
    B2BCN = "B2BCN"
    B2BCNA = "B2BCNA"
    ECOM = "ECOM"
    ECOMA = "ECOMA"

    @property
    def key(self) -> str:
        """The section's key in result pages and in :class:`ImsInvoices` (lower case)."""
        return self.value.lower()


class ImsStatus(_OpenEnum):
    """The recipient's IMS action on a record, and the ``status=`` filter of a download."""

    ACCEPTED = "A"
    REJECTED = "R"
    PENDING = "P"
    NO_ACTION = "N"


class InvoiceType(_OpenEnum):
    """``inv_typ``: regular, deemed export, SEZ with/without payment, customs bonded warehouse."""

    REGULAR = "R"
    DEEMED_EXPORT = "DE"
    SEZ_WITH_PAYMENT = "SEWP"
    SEZ_WITHOUT_PAYMENT = "SEWOP"
    CUSTOMS_BONDED_WAREHOUSE = "CBW"


class SourceForm(_OpenEnum):
    """``srcform``: the return the supplier reported the record in."""

    GSTR1 = "R1"
    GSTR1A = "R1A"
    IFF = "IFF"


class FilingStatus(_OpenEnum):
    """``srcfilstatus``: whether the supplier's source return is filed."""

    FILED = "Filed"
    NOT_FILED = "Not Filed"


def parse_sections(value: object) -> list[ImsSection]:
    """One or several IMS sections (codes or members, any case) in the order given, each once.

    A single name is one section; an empty collection, a non-collection or an unknown name is
    :class:`~flynn_async.InvalidInput`.
    """
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise InvalidInput(f"sections must be IMS sections, not {type(value).__name__}")
    chosen: list[ImsSection] = []
    for item in items:
        section = ImsSection.parse(item)
        if section not in chosen:
            chosen.append(section)
    if not chosen:
        raise InvalidInput("sections must name at least one IMS section")
    return chosen


assert tuple(s.value for s in ImsSection) == _api.IMS_SECTIONS
assert tuple(s.value for s in ImsStatus) == _api.IMS_STATUSES


#: Each record attribute's wire name (every record class takes the names it has).
WIRE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "supplier_gstin": "stin",
        "value": "val",
        "return_period": "rtnprd",
        "source_form": "srcform",
        "place_of_supply": "pos",
        "taxable_value": "txval",
        "igst": "iamt",
        "cgst": "camt",
        "sgst": "samt",
        "cess": "cess",
        "action": "action",
        "source_filing_status": "srcfilstatus",
        "hash": "hash",
        "pending_not_allowed": "ispendactnallwd",
        "pending_action_blocked": "ispendactblocked",
        "remarks_blocked": "isRemarksBlocked",
        "itc_reduction_not_allowed": "isItcRedReqBlocked",
        "itc_reduction_request_blocked": "itcRedReqBlocked",
        "itc_reduction_required": "itcRedReq",
        "declared_igst": "declIgst",
        "declared_cgst": "declCgst",
        "declared_sgst": "declSgst",
        "declared_cess": "declCess",
        "remarks": "remarks",
        "previous_status": "prev_status",
        "number": "inum",
        "date": "idt",
        "invoice_type": "inv_typ",
        "original_number": "oinum",
        "original_date": "oidt",
    }
)
_NOTE_NAMES: Final = MappingProxyType(
    {
        **WIRE_NAMES,
        "number": "nt_num",
        "date": "nt_dt",
        "original_number": "ont_num",
        "original_date": "ont_dt",
    }
)

if TYPE_CHECKING:
    #: A code of an open list: a known code is its enum member, an unknown one stays text.
    Status: TypeAlias = ImsStatus | str
    Form: TypeAlias = SourceForm | str
    Filing: TypeAlias = FilingStatus | str
    Flag: TypeAlias = YesNo | str
    InvType: TypeAlias = InvoiceType | str
    Period: TypeAlias = ReturnPeriod | str
else:  # what the typed decoder reads: a code it does not know takes the lossless path
    Status, Form, Filing, Flag, InvType, Period = (
        ImsStatus,
        SourceForm,
        FilingStatus,
        YesNo,
        InvoiceType,
        ReturnPeriod,
    )


#: The one shared zero amount (``0`` as sent: no fraction digits, no sign).
_ZERO: Final = Decimal(0)


#: The amounts that are zero on most records (the taxes that do not apply).
_MOSTLY_ZERO: Final = ("igst", "cgst", "sgst", "cess")
#: Text that repeats from record to record: one ``str`` per distinct value in held results.
_REPEATED_TEXT: Final = ("supplier_gstin", "place_of_supply")
_SHARED: Final[dict[str, str]] = {}
_SHARED_LIMIT: Final = 65536


def keep_once(records: Sequence[ImsRecord]) -> None:
    """Share the values of held records that repeat from record to record, in place.

    The typed decoder makes a new object for every value it reads; a kept result holds each
    supplier GSTIN and place of supply once, and the taxes that do not apply (sent as ``0``) as
    the one shared zero. The values are equal before and after, so nothing a reader can see
    changes; zeros written with fraction digits (``0.00``) keep their own object and digits.
    Each field is done a column at a time (found in C, set one by one).
    """
    put = msgspec.structs.force_setattr
    if len(_SHARED) > _SHARED_LIMIT:
        _SHARED.clear()
    for name in _REPEATED_TEXT:
        column = list(map(operator.attrgetter(name), records))
        shared = list(map(_SHARED.setdefault, column, column))
        for i in itertools.compress(range(len(column)), map(operator.is_not, shared, column)):
            if shared[i] is not None:
                put(records[i], name, shared[i])
    zero = _ZERO
    for name in _MOSTLY_ZERO:
        column = list(map(operator.attrgetter(name), records))
        for i in itertools.compress(range(len(column)), map(operator.not_, column)):
            amount = column[i]  # zero or None; shared if exactly ``0`` (not ``0.00``, ``-0``)
            if (
                amount is not None
                and amount is not zero
                and not amount.adjusted()
                and not amount.is_signed()
            ):
                put(records[i], name, zero)


class ImsRecord(WireRecord, frozen=True, kw_only=True, rename=WIRE_NAMES):
    """Fields every IMS record carries; the base of the four record kinds.

    A frozen :class:`msgspec.Struct`: attribute names are readable, each one's wire name is
    given in brackets. Only the supplier, the document number and date, and the invoice value
    are required; every other field is ``None`` when the server left it out. ``extra`` holds,
    unchanged, every field the models don't know, and known optional fields that the server
    sent as ``null``. Make a changed copy with :func:`msgspec.structs.replace`.

    Codes are open: a known code is its enum member (``record.action is ImsStatus.ACCEPTED``),
    an unknown one stays text; both compare equal to their code (``record.action == "A"``).
    Y/N flags read ``YesNo.YES``/``YesNo.NO`` whether the server sent ``"Y"``/``"N"`` or
    JSON ``true``/``false`` (any letter case for text); ``to_dict()`` gives back the form sent.
    """

    #: Supplier GSTIN (``stin``). Kept as sent: sandbox GSTINs are not validated.
    supplier_gstin: str
    #: Invoice or note value (``val``).
    value: Decimal
    #: Return period of the supplier's return (``rtnprd``); text if it is not ``MMYYYY``.
    return_period: Period | None = None
    #: Source return (``srcform``).
    source_form: Form | None = None
    #: Place of supply, two-digit state code (``pos``).
    place_of_supply: str | None = None
    #: Taxable value (``txval``).
    taxable_value: Decimal | None = None
    #: Integrated tax (``iamt``).
    igst: Decimal | None = None
    #: Central tax (``camt``).
    cgst: Decimal | None = None
    #: State/UT tax (``samt``).
    sgst: Decimal | None = None
    #: Cess (``cess``).
    cess: Decimal | None = None
    #: The recipient's IMS action (``action``).
    action: Status | None = None
    #: Whether the source return is filed (``srcfilstatus``).
    source_filing_status: Filing | None = None
    #: Record hash (``hash``).
    hash: str | None = None
    #: Pending not allowed, under its older wire name (``ispendactnallwd``). Read
    #: :attr:`pending_blocked`, which answers from either name.
    pending_not_allowed: Flag | None = None
    #: Pending blocked, under its newer wire name (``ispendactblocked``). Read
    #: :attr:`pending_blocked`, which answers from either name.
    pending_action_blocked: Flag | None = None
    #: Are remarks blocked (``isRemarksBlocked``).
    remarks_blocked: Flag | None = None
    #: No ITC-reduction declaration allowed, one wire name (``isItcRedReqBlocked``). Read
    #: :attr:`itc_reduction_blocked`, which answers from either name.
    itc_reduction_not_allowed: Flag | None = None
    #: No ITC-reduction declaration allowed, the other wire name (``itcRedReqBlocked``). Read
    #: :attr:`itc_reduction_blocked`, which answers from either name.
    itc_reduction_request_blocked: Flag | None = None
    #: Is an ITC reduction required (``itcRedReq``).
    itc_reduction_required: Flag | None = None
    #: Declared IGST (``declIgst``).
    declared_igst: Decimal | None = None
    #: Declared CGST (``declCgst``).
    declared_cgst: Decimal | None = None
    #: Declared SGST (``declSgst``).
    declared_sgst: Decimal | None = None
    #: Declared cess (``declCess``).
    declared_cess: Decimal | None = None
    #: Recipient's remarks (``remarks``).
    remarks: str | None = None
    #: The action before the last change (``prev_status``).
    previous_status: Status | None = None

    @property
    def pending_blocked(self) -> YesNo | str | None:
        """May the record NOT be kept pending: ``YesNo.YES`` means "pending" is not allowed.

        Answers from either wire name (``ispendactblocked``, newer, wins when both are
        sent; else ``ispendactnallwd``) and either form (``"Y"``/``"N"`` or ``true``/``false``,
        any case). ``None`` when the server sent neither: unknown, not "allowed".
        """
        newer = self.pending_action_blocked
        return self.pending_not_allowed if newer is None else newer

    @property
    def itc_reduction_blocked(self) -> YesNo | str | None:
        """Is an ITC-reduction declaration NOT allowed (``YesNo.YES``: none may be made).

        Answers from either wire name (``itcRedReqBlocked`` wins when both are sent; else
        ``isItcRedReqBlocked``) and either form. ``None`` when the server sent neither.
        """
        other = self.itc_reduction_request_blocked
        return self.itc_reduction_not_allowed if other is None else other

    @property
    def pending_action_allowed(self) -> YesNo | str | None:
        """Deprecated: the ``ispendactnallwd`` flag, which means pending NOT allowed.

        The name said the opposite of the flag; read :attr:`pending_blocked` instead. This
        alias gives the same value as :attr:`pending_not_allowed` and goes in a later release.
        """
        warnings.warn(
            "ImsRecord.pending_action_allowed is deprecated: the flag it holds "
            "(ispendactnallwd) means pending NOT allowed; use ImsRecord.pending_blocked",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.pending_not_allowed


class ImsInvoice(ImsRecord, frozen=True, kw_only=True, rename=WIRE_NAMES):
    """A supplier invoice (sections ``b2b`` and ``ecom``)."""

    #: Invoice number (``inum``).
    number: str
    #: Invoice date (``idt``, ``DD-MM-YYYY``).
    date: DayMonthYear
    #: Invoice type (``inv_typ``); absent on ``ecom``.
    invoice_type: InvType | None = None


class ImsAmendedInvoice(ImsInvoice, frozen=True, kw_only=True, rename=WIRE_NAMES):
    """An amendment of an invoice (sections ``b2ba`` and ``ecoma``)."""

    #: The original invoice's number (``oinum``).
    original_number: str
    #: The original invoice's date (``oidt``).
    original_date: DayMonthYear


class ImsNote(ImsRecord, frozen=True, kw_only=True, rename=_NOTE_NAMES):
    """A debit or credit note (sections ``b2bdn`` and ``b2bcn``)."""

    #: Note number (``nt_num``).
    number: str
    #: Note date (``nt_dt``).
    date: DayMonthYear
    #: Invoice type (``inv_typ``).
    invoice_type: InvType | None = None


class ImsAmendedNote(ImsNote, frozen=True, kw_only=True, rename=_NOTE_NAMES):
    """An amendment of a note (sections ``b2bdna`` and ``b2bcna``)."""

    #: The original note's number (``ont_num``).
    original_number: str
    #: The original note's date (``ont_dt``).
    original_date: DayMonthYear


#: The record class of each known section key.
#: One record of a result: an :class:`ImsRecord` of a known section, or the mapping the
#: server sent for a section the models do not know (kept as a read-only ``FrozenMap``).
ImsEntry: TypeAlias = "ImsRecord | Mapping[str, Any]"

SECTION_RECORD_TYPES: Final[Mapping[str, type[ImsRecord]]] = MappingProxyType(
    {
        "b2b": ImsInvoice,
        "b2ba": ImsAmendedInvoice,
        "b2bdn": ImsNote,
        "b2bdna": ImsAmendedNote,
        "b2bcn": ImsNote,
        "b2bcna": ImsAmendedNote,
        "ecom": ImsInvoice,
        "ecoma": ImsAmendedInvoice,
    }
)
KNOWN_SECTIONS: Final = tuple(SECTION_RECORD_TYPES)
assert tuple(s.key for s in ImsSection) == KNOWN_SECTIONS


@attrs.frozen
class SectionTotals:
    """Record count and summed amounts of one section (absent amounts count as zero)."""

    records: int
    value: Decimal
    taxable_value: Decimal
    igst: Decimal
    cgst: Decimal
    sgst: Decimal
    cess: Decimal

    @classmethod
    def of(cls, records: tuple[ImsRecord, ...]) -> SectionTotals:
        """Sum ``records`` exactly."""
        value = taxable = igst = cgst = sgst = cess = _ZERO
        for r in records:
            value += r.value
            taxable += r.taxable_value or _ZERO
            igst += r.igst or _ZERO
            cgst += r.cgst or _ZERO
            sgst += r.sgst or _ZERO
            cess += r.cess or _ZERO
        return cls(len(records), value, taxable, igst, cgst, sgst, cess)


@attrs.frozen(kw_only=True)
class ImsInvoices:
    """IMS records of one page, one task or several tasks, by section.

    Each known section is a tuple of typed records in the order the server sent them.
    ``other_sections`` holds sections the models don't know, their records as plain mappings
    (amounts as ``Decimal``); ``extra`` holds non-list keys of the pages' ``data``.
    ``present`` names every section the server sent, including empty ones, so that
    :meth:`to_dict` gives back exactly what was received.
    """

    b2b: tuple[ImsInvoice, ...] = ()
    b2ba: tuple[ImsAmendedInvoice, ...] = ()
    b2bdn: tuple[ImsNote, ...] = ()
    b2bdna: tuple[ImsAmendedNote, ...] = ()
    b2bcn: tuple[ImsNote, ...] = ()
    b2bcna: tuple[ImsAmendedNote, ...] = ()
    ecom: tuple[ImsInvoice, ...] = ()
    ecoma: tuple[ImsAmendedInvoice, ...] = ()
    other_sections: Mapping[str, tuple[Mapping[str, Any], ...]] = EMPTY
    extra: Mapping[str, Any] = EMPTY
    present: frozenset[str] = frozenset()
    #: The taxpayer the records are addressed to (set by ``download``/``download_all``);
    #: needed to :meth:`decide` on them. Not part of equality.
    recipient_gstin: str | None = attrs.field(default=None, init=False, eq=False)
    _places: Any = attrs.field(default=None, init=False, eq=False, repr=False)

    def for_recipient(self, gstin: str) -> ImsInvoices:
        """A copy that knows its recipient GSTIN (what :meth:`decide` needs)."""
        copy = attrs.evolve(self)
        object.__setattr__(copy, "recipient_gstin", gstin)
        return copy

    def decide(
        self,
        record: Any,
        action: ImsStatus | str,
        *,
        remarks: str | None = None,
        itc_reduction: Any = None,
    ) -> Any:
        """An :class:`~flynn_async.ims.ImsDecision` on one of these records.

        ``action`` is ``A``, ``R`` or ``P`` (for ``client.ims.save``) or ``N`` (for
        ``client.ims.reset``); ``itc_reduction`` an :class:`~flynn_async.ims.ItcReduction`.
        Never raises for a rule: the rules are checked, all at once, by save and reset.
        """
        from ._actions import decide

        return decide(self, record, action, remarks=remarks, itc_reduction=itc_reduction)

    def section(self, name: str | ImsSection) -> tuple[ImsEntry, ...]:
        """The records of a section by name (``"b2b"``, ``ImsSection.B2B``, or an unknown one).

        An unknown section is found by its exact key first (the server's keys are kept as
        sent, so an unknown ``"IMPG"`` is not confused with anything else); other names are
        matched without regard to case.
        """
        if isinstance(name, ImsSection):
            key = name.key
        elif name in self.other_sections:
            return self.other_sections[name]
        else:
            key = name.lower()
        if key in SECTION_RECORD_TYPES:
            records: tuple[ImsRecord, ...] = getattr(self, key)
            return records
        return self.other_sections.get(key, ())

    def section_names(self) -> list[str]:
        """Every section present, known ones first in API order, then the others as received."""
        known = [k for k in KNOWN_SECTIONS if k in self.present or getattr(self, k)]
        return known + [k for k in self.other_sections if k not in known]

    def records(self) -> Iterator[tuple[str, ImsEntry]]:
        """Every record as ``(section, record)``, section by section, in received order.

        A record of a known section is an :class:`ImsRecord`; one of a section the models do
        not know is kept as the read-only mapping the server sent.
        """
        for name in self.section_names():
            for record in self.section(name):
                yield name, record

    def __len__(self) -> int:
        return sum(len(getattr(self, k)) for k in KNOWN_SECTIONS) + sum(
            len(v) for v in self.other_sections.values()
        )

    def totals(self) -> dict[str, SectionTotals]:
        """Exact per-section totals of the known sections that are present."""
        return {
            k: SectionTotals.of(getattr(self, k))
            for k in self.section_names()
            if k in SECTION_RECORD_TYPES
        }

    def to_dict(self) -> dict[str, Any]:
        """The data as the server shaped it (lower-case section keys, wire field names)."""
        from ._decoding import unstructure_invoices

        return unstructure_invoices(self)

    @classmethod
    def merge(cls, parts: Any) -> ImsInvoices:
        """Concatenate results in order (pages of one task, or tasks of distinct sections).

        Non-list ``extra`` keys must agree where they repeat; a conflict raises ``ValueError``.
        """
        from ._decoding import merge_invoices

        return merge_invoices(list(parts))
