"""E-invoices: the INV-01 invoice, the QR summary, signed documents, lookup results.

Nothing here knows about HTTP or asyncio. The parts of the signed documents (the INV-01
invoice and the QR code summary) are *wire records*: frozen :class:`msgspec.Struct` classes
described by the one wire codec (:mod:`flynn_async._core._codec`), decoded in one typed call
when a document carries only what the models know, and by the lossless path otherwise.
Amounts are :class:`~decimal.Decimal` with exactly the digits the portal signed (``12.000``
stays ``Decimal("12.000")``), dates are :class:`datetime.date`, acknowledgement times are
:class:`datetime.datetime` in India time, codes are open enums (an unknown code stays text).
Every part keeps the fields the models don't know, known fields sent as ``null`` and flags in
another form in its ``extra`` mapping, and ``to_dict()`` gives back exactly the portal's keys
and values. A document that does not fit raises :class:`~flynn_async.ResponseError` naming
the path of the bad value.

The library's own values are attrs classes: :class:`EInvoiceDetails` (the lookup's answer put
together with its decoded documents and whether their signatures were verified),
:class:`SignedDocument` (a token, equal by its text), :class:`IrpCredentials`; the keys are in
:mod:`flynn_async.einvoice._keys`.

Signed documents (the signed invoice and the signed QR code) are RS256 JWTs. Decoding them is
parsing; :meth:`SignedDocument.verify` checks the signature with the ``cryptography`` library,
which is imported only then. Nothing is verified unless a key is given.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeAlias, TypeVar

import attrs
import msgspec

from flynn_async._core import _codec, _validate
from flynn_async._core._codec import DaySlashMonthYear, WallTime, WireRecord
from flynn_async._core._errors import InvalidInput, ResponseError, SignatureError
from flynn_async._core._json import describe, loads
from flynn_async._core._secrets import Secret
from flynn_async._core._values import EMPTY, FrozenMap, YesNo, _OpenEnum
from flynn_async._http import _api

from ._keys import EInvoiceKeys as EInvoiceKeys
from ._keys import KeyMaterial as KeyMaterial
from ._keys import KeyRing as KeyRing
from ._keys import load_keys as load_keys

__all__ = [
    "IST",
    "AdditionalDocument",
    "BatchDetails",
    "BuyerDetails",
    "ContractDetails",
    "DispatchDetails",
    "DocumentDetails",
    "DocumentPeriod",
    "DocumentType",
    "EInvoice",
    "EInvoiceDetails",
    "EInvoiceKeys",
    "EInvoiceQrCode",
    "EInvoiceStatus",
    "EwayBillDetails",
    "ExportDetails",
    "InvoiceItem",
    "IrpCredentials",
    "ItemAttribute",
    "KeyMaterial",
    "PaymentDetails",
    "PrecedingDocument",
    "ReferenceDetails",
    "SellerDetails",
    "ShipToDetails",
    "SignedDocument",
    "SupplyType",
    "TransactionDetails",
    "TransportMode",
    "ValueDetails",
    "VehicleType",
    "compute_irn",
    "financial_year",
]


def _india() -> tzinfo:
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(_api.EINVOICE_TIMEZONE)
    except Exception:  # no tz database on this machine: India has had no DST since 1945
        return timezone(timedelta(minutes=_api.EINVOICE_UTC_OFFSET_MINUTES), "IST")


IST: Final[tzinfo] = _india()
"""India Standard Time (``Asia/Kolkata``, or a fixed +05:30 when tzdata is missing)."""


# ----------------------------------------------------------------------------------------------
# Codes
# ----------------------------------------------------------------------------------------------


class EInvoiceStatus(_OpenEnum):
    """The e-invoice's status (``Status``): active or cancelled."""

    ACTIVE = "ACT"
    CANCELLED = "CNL"


class DocumentType(_OpenEnum):
    """The document type (``DocDtls.Typ``, ``doctype``): invoice, credit note, debit note."""

    INVOICE = "INV"
    CREDIT_NOTE = "CRN"
    DEBIT_NOTE = "DBN"


class SupplyType(_OpenEnum):
    """The supply type (``TranDtls.SupTyp``)."""

    B2B = "B2B"
    SEZ_WITH_PAYMENT = "SEZWP"
    SEZ_WITHOUT_PAYMENT = "SEZWOP"
    EXPORT_WITH_PAYMENT = "EXPWP"
    EXPORT_WITHOUT_PAYMENT = "EXPWOP"
    DEEMED_EXPORT = "DEXP"


class TransportMode(_OpenEnum):
    """The mode of transport of the e-way bill details (``EwbDtls.TransMode``)."""

    ROAD = "1"
    RAIL = "2"
    AIR = "3"
    SHIP = "4"


class VehicleType(_OpenEnum):
    """The vehicle type (``EwbDtls.VehType``): regular or over-dimensional cargo."""

    REGULAR = "R"
    OVER_DIMENSIONAL = "O"


assert tuple(t.value for t in DocumentType) == _api.EINVOICE_DOC_TYPES


if TYPE_CHECKING:
    #: A code of an open list: a known code is its enum member, an unknown one stays text.
    Flag: TypeAlias = YesNo | str
    Supply: TypeAlias = SupplyType | str
    DocType: TypeAlias = DocumentType | str
    Mode: TypeAlias = TransportMode | str
    Vehicle: TypeAlias = VehicleType | str
    #: A portal time, ``YYYY-MM-DD HH:MM:SS`` in India time (an aware ``datetime``).
    IndiaTime: TypeAlias = datetime
else:  # what the typed decoder reads: a code it does not know takes the lossless path
    Flag, Supply, DocType, Mode, Vehicle = (
        YesNo,
        SupplyType,
        DocumentType,
        TransportMode,
        VehicleType,
    )

    class IndiaTime(WallTime):
        """A portal time (``YYYY-MM-DD HH:MM:SS``) on India's clock."""

        __slots__ = ()
        zone = IST


# ----------------------------------------------------------------------------------------------
# Decoding: one typed call for documents of known fields, the lossless path for the rest
# ----------------------------------------------------------------------------------------------


_P = TypeVar("_P", bound="_Part")

_DECODERS: Final[dict[type, msgspec.json.Decoder[Any]]] = {}
_ENCODER: Final = _codec.encoder()


def decode_typed(cls: type[_P], body: bytes) -> _P | None:
    """``cls`` decoded from JSON ``body`` in one typed call, or ``None`` if it needs more.

    ``None`` when the document is not JSON, has a field or a code the models do not know, a
    ``null`` value, a repeated key or a text where a number belongs: the typed record written
    back as JSON must have exactly as many colons and double quotes as ``body`` (see
    :mod:`flynn_async.ims._decoding`). The lossless path then keeps all of it or names the
    bad value. Never raises.
    """
    decoder = _DECODERS.get(cls)
    if decoder is None:
        decoder = _DECODERS[cls] = _codec.typed_decoder(cls)
    try:
        value: _P = decoder.decode(body)
        again = _ENCODER.encode(value)
    except (msgspec.DecodeError, RecursionError, NotImplementedError):
        return None
    if again.count(b":") != body.count(b":") or again.count(b'"') != body.count(b'"'):
        return None
    return value


def decode_part(cls: type[_P], data: Any, path: str = "$", where: Mapping[str, Any] = EMPTY) -> _P:
    """``cls`` from a decoded JSON object (numbers as exact ``Decimal``/``int``), losslessly.

    Raises :class:`~flynn_async.ResponseError` naming the path of every value that does not
    fit (and ``where``: the route when it is known).
    """
    if isinstance(data, Mapping) and type(data) is not dict:
        data = dict(data)
    try:
        part: _P = _codec.structure(cls, data, path, where)
    except RecursionError:  # values too deeply nested to keep (frozen) in a record
        raise ResponseError(f"the document is nested too deeply @ {path}", **where) from None
    return part


def _w(name: str) -> Any:
    return msgspec.field(name=name)


def _o(name: str) -> Any:
    return msgspec.field(default=None, name=name)


class _Part(WireRecord, frozen=True, kw_only=True):
    """A part of an e-invoice: a wire record (typed fields, ``extra`` for everything else).

    Frozen: make a changed copy with :func:`msgspec.structs.replace`. Equality and hashing
    cover every field, ``extra`` included.
    """

    #: Whole amounts come back from ``to_dict()`` as ``int``, as they were sent.
    __wire_whole_ints__: ClassVar[bool] = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Build from the portal's JSON object (numbers as exact ``Decimal`` or ``int``).

        Raises :class:`~flynn_async.ResponseError` naming the path of every field that does
        not fit (``@ $.ItemList[1].GstRt``).
        """
        return decode_part(cls, data)


# ----------------------------------------------------------------------------------------------
# INV-01: the invoice
# ----------------------------------------------------------------------------------------------


class TransactionDetails(_Part, frozen=True, kw_only=True):
    """``TranDtls``: tax scheme, supply type, reverse charge, e-commerce operator."""

    tax_scheme: str = _w("TaxSch")
    supply_type: Supply = _w("SupTyp")
    reverse_charge: Flag | None = _o("RegRev")
    ecommerce_gstin: str | None = _o("EcmGstin")
    igst_on_intra: Flag | None = _o("IgstOnIntra")


class DocumentDetails(_Part, frozen=True, kw_only=True):
    """``DocDtls``: the document's type, number and date."""

    type: DocType = _w("Typ")
    number: str = _w("No")
    date: DaySlashMonthYear = _w("Dt")


class SellerDetails(_Part, frozen=True, kw_only=True):
    """``SellerDtls``: the supplier."""

    gstin: str = _w("Gstin")
    legal_name: str = _w("LglNm")
    trade_name: str | None = _o("TrdNm")
    address1: str | None = _o("Addr1")
    address2: str | None = _o("Addr2")
    location: str | None = _o("Loc")
    pin: int | None = _o("Pin")
    state_code: str | None = _o("Stcd")
    phone: str | None = _o("Ph")
    email: str | None = _o("Em")


class BuyerDetails(_Part, frozen=True, kw_only=True):
    """``BuyerDtls``: the recipient, with the place of supply."""

    gstin: str = _w("Gstin")
    legal_name: str = _w("LglNm")
    trade_name: str | None = _o("TrdNm")
    place_of_supply: str = _w("Pos")
    address1: str | None = _o("Addr1")
    address2: str | None = _o("Addr2")
    location: str | None = _o("Loc")
    pin: int | None = _o("Pin")
    phone: str | None = _o("Ph")
    state_code: str | None = _o("Stcd")
    email: str | None = _o("Em")


class DispatchDetails(_Part, frozen=True, kw_only=True):
    """``DispDtls``: where the goods are dispatched from."""

    name: str | None = _o("Nm")
    address1: str | None = _o("Addr1")
    address2: str | None = _o("Addr2")
    location: str | None = _o("Loc")
    pin: int | None = _o("Pin")
    state_code: str | None = _o("Stcd")


class ShipToDetails(_Part, frozen=True, kw_only=True):
    """``ShipDtls``: where the goods are shipped to."""

    gstin: str | None = _o("Gstin")
    legal_name: str | None = _o("LglNm")
    trade_name: str | None = _o("TrdNm")
    address1: str | None = _o("Addr1")
    address2: str | None = _o("Addr2")
    location: str | None = _o("Loc")
    pin: int | None = _o("Pin")
    state_code: str | None = _o("Stcd")


class BatchDetails(_Part, frozen=True, kw_only=True):
    """``BchDtls``: an item's batch, expiry and warranty dates."""

    name: str | None = _o("Nm")
    expiry_date: DaySlashMonthYear | None = _o("ExpDt")
    warranty_date: DaySlashMonthYear | None = _o("WrDt")


class ItemAttribute(_Part, frozen=True, kw_only=True):
    """One of ``AttribDtls``: a named attribute of an item."""

    name: str | None = _o("Nm")
    value: str | None = _o("Val")


class InvoiceItem(_Part, frozen=True, kw_only=True):
    """One of ``ItemList``: a line of the invoice, amounts as exact ``Decimal``."""

    item_number: int | None = _o("ItemNo")
    serial_number: str = _w("SlNo")
    is_service: Flag = _w("IsServc")
    description: str | None = _o("PrdDesc")
    hsn_code: str = _w("HsnCd")
    barcode: str | None = _o("Barcde")
    quantity: Decimal | None = _o("Qty")
    free_quantity: Decimal | None = _o("FreeQty")
    unit: str | None = _o("Unit")
    unit_price: Decimal = _w("UnitPrice")
    total_amount: Decimal = _w("TotAmt")
    discount: Decimal | None = _o("Discount")
    pre_tax_value: Decimal | None = _o("PreTaxVal")
    assessable_amount: Decimal = _w("AssAmt")
    gst_rate: Decimal = _w("GstRt")
    igst_amount: Decimal | None = _o("IgstAmt")
    cgst_amount: Decimal | None = _o("CgstAmt")
    sgst_amount: Decimal | None = _o("SgstAmt")
    cess_rate: Decimal | None = _o("CesRt")
    cess_amount: Decimal | None = _o("CesAmt")
    cess_non_advol_amount: Decimal | None = _o("CesNonAdvlAmt")
    state_cess_rate: Decimal | None = _o("StateCesRt")
    state_cess_amount: Decimal | None = _o("StateCesAmt")
    state_cess_non_advol_amount: Decimal | None = _o("StateCesNonAdvlAmt")
    other_charges: Decimal | None = _o("OthChrg")
    total_item_value: Decimal = _w("TotItemVal")
    order_line_reference: str | None = _o("OrdLineRef")
    origin_country: str | None = _o("OrgCntry")
    product_serial_number: str | None = _o("PrdSlNo")
    batch: BatchDetails | None = _o("BchDtls")
    attributes: tuple[ItemAttribute, ...] | None = _o("AttribDtls")


class ValueDetails(_Part, frozen=True, kw_only=True):
    """``ValDtls``: the invoice's totals."""

    assessable_value: Decimal = _w("AssVal")
    cgst_value: Decimal | None = _o("CgstVal")
    sgst_value: Decimal | None = _o("SgstVal")
    igst_value: Decimal | None = _o("IgstVal")
    cess_value: Decimal | None = _o("CesVal")
    state_cess_value: Decimal | None = _o("StCesVal")
    discount: Decimal | None = _o("Discount")
    other_charges: Decimal | None = _o("OthChrg")
    round_off_amount: Decimal | None = _o("RndOffAmt")
    total_invoice_value: Decimal = _w("TotInvVal")
    total_invoice_value_fc: Decimal | None = _o("TotInvValFc")


class PaymentDetails(_Part, frozen=True, kw_only=True):
    """``PayDtls``: payee, mode and terms of payment."""

    payee_name: str | None = _o("Nm")
    account_details: str | None = _o("AccDet")
    mode: str | None = _o("Mode")
    branch_ifsc: str | None = _o("FinInsBr")
    payment_terms: str | None = _o("PayTerm")
    payment_instruction: str | None = _o("PayInstr")
    credit_transfer: str | None = _o("CrTrn")
    direct_debit: str | None = _o("DirDr")
    credit_days: int | None = _o("CrDay")
    paid_amount: Decimal | None = _o("PaidAmt")
    payment_due: Decimal | None = _o("PaymtDue")


class DocumentPeriod(_Part, frozen=True, kw_only=True):
    """``DocPerdDtls``: the period the invoice covers."""

    start_date: DaySlashMonthYear | None = _o("InvStDt")
    end_date: DaySlashMonthYear | None = _o("InvEndDt")


class PrecedingDocument(_Part, frozen=True, kw_only=True):
    """One of ``PrecDocDtls``: an earlier document this one refers to."""

    number: str | None = _o("InvNo")
    date: DaySlashMonthYear | None = _o("InvDt")
    other_reference: str | None = _o("OthRefNo")


class ContractDetails(_Part, frozen=True, kw_only=True):
    """One of ``ContrDtls``: receipt advice, tender, contract, project and PO references."""

    receipt_advice_reference: str | None = _o("RecAdvRefr")
    receipt_advice_date: DaySlashMonthYear | None = _o("RecAdvDt")
    tender_reference: str | None = _o("TendRefr")
    contract_reference: str | None = _o("ContrRefr")
    external_reference: str | None = _o("ExtRefr")
    project_reference: str | None = _o("ProjRefr")
    po_reference: str | None = _o("PORefr")
    po_reference_date: DaySlashMonthYear | None = _o("PORefDt")


class ReferenceDetails(_Part, frozen=True, kw_only=True):
    """``RefDtls``: remarks, the period, preceding documents, contract references."""

    remarks: str | None = _o("InvRm")
    document_period: DocumentPeriod | None = _o("DocPerdDtls")
    preceding_documents: tuple[PrecedingDocument, ...] | None = _o("PrecDocDtls")
    contracts: tuple[ContractDetails, ...] | None = _o("ContrDtls")


class AdditionalDocument(_Part, frozen=True, kw_only=True):
    """One of ``AddlDocDtls``: a supporting document."""

    url: str | None = _o("Url")
    document: str | None = _o("Docs")
    info: str | None = _o("Info")


class ExportDetails(_Part, frozen=True, kw_only=True):
    """``ExpDtls``: shipping bill, port, currency and country of an export."""

    shipping_bill_number: str | None = _o("ShipBNo")
    shipping_bill_date: DaySlashMonthYear | None = _o("ShipBDt")
    port: str | None = _o("Port")
    refund_claim: Flag | None = _o("RefClm")
    foreign_currency: str | None = _o("ForCur")
    country_code: str | None = _o("CntCode")
    export_duty: Decimal | None = _o("ExpDuty")


class EwayBillDetails(_Part, frozen=True, kw_only=True):
    """``EwbDtls``: transporter and vehicle details for the e-way bill."""

    transporter_id: str | None = _o("TransId")
    transporter_name: str | None = _o("TransName")
    transport_mode: Mode | None = _o("TransMode")
    distance: int | None = _o("Distance")
    transport_document_number: str | None = _o("TransDocNo")
    transport_document_date: DaySlashMonthYear | None = _o("TransDocDt")
    vehicle_number: str | None = _o("VehNo")
    vehicle_type: Vehicle | None = _o("VehType")


class EInvoice(_Part, frozen=True, kw_only=True):
    """The signed invoice's data: an INV-01 invoice with the portal's IRN and acknowledgement.

    Parts the invoice does not have are ``None``. ``to_dict()`` gives back the signed data
    exactly (the portal's keys and values, unknown fields included).
    """

    ack_number: int | None = _o("AckNo")
    #: The acknowledgement time as signed (to the second), India time.
    ack_date: IndiaTime | None = _o("AckDt")
    irn: str | None = _o("Irn")
    version: str = _w("Version")
    transaction: TransactionDetails = _w("TranDtls")
    document: DocumentDetails = _w("DocDtls")
    seller: SellerDetails = _w("SellerDtls")
    buyer: BuyerDetails = _w("BuyerDtls")
    dispatch: DispatchDetails | None = _o("DispDtls")
    ship_to: ShipToDetails | None = _o("ShipDtls")
    items: tuple[InvoiceItem, ...] = _w("ItemList")
    value: ValueDetails = _w("ValDtls")
    payment: PaymentDetails | None = _o("PayDtls")
    reference: ReferenceDetails | None = _o("RefDtls")
    additional_documents: tuple[AdditionalDocument, ...] | None = _o("AddlDocDtls")
    export: ExportDetails | None = _o("ExpDtls")
    eway_bill: EwayBillDetails | None = _o("EwbDtls")


class EInvoiceQrCode(_Part, frozen=True, kw_only=True):
    """The signed QR code's data: a summary of the invoice.

    ``irn_date`` is ``None`` for older tokens, which lack ``IrnDt``.
    """

    seller_gstin: str = _w("SellerGstin")
    buyer_gstin: str = _w("BuyerGstin")
    doc_number: str = _w("DocNo")
    doc_type: DocType = _w("DocTyp")
    doc_date: DaySlashMonthYear = _w("DocDt")
    total_invoice_value: Decimal = _w("TotInvVal")
    item_count: int = _w("ItemCnt")
    main_hsn_code: str = _w("MainHsnCode")
    irn: str = _w("Irn")
    irn_date: IndiaTime | None = _o("IrnDt")


# ----------------------------------------------------------------------------------------------
# The IRN
# ----------------------------------------------------------------------------------------------

_DOC_NUMBER: Final = re.compile(_api.EINVOICE_DOC_NUMBER_PATTERN)


def financial_year(day: date) -> str:
    """The Indian financial year of ``day`` as ``YYYY-YY`` (April to March): ``2021-22``."""
    start = day.year if day.month >= _api.FINANCIAL_YEAR_START_MONTH else day.year - 1
    return f"{start:04d}-{(start + 1) % 100:02d}"


def irn_of(
    gstin: str,
    doc_type: str,
    doc_number: str,
    doc_date: date,
    *,
    uppercase: bool = _api.IRN_UPPERCASE_DOC_NUMBER,
) -> str:
    """The IRN of already-checked values (no validation; see :func:`compute_irn`)."""
    number = doc_number.upper() if uppercase else doc_number
    text = f"{gstin}{financial_year(doc_date)}{doc_type}{number}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_doc_type(value: object) -> DocumentType:
    """``INV``, ``CRN`` or ``DBN`` (any case, or a :class:`DocumentType`)."""
    return DocumentType.parse(value)


def check_doc_number(value: object) -> str:
    """A document number the portal's schema allows (1 to 16 characters, no leading zero)."""
    if not isinstance(value, str):
        raise InvalidInput(f"doc_number must be a str, not {type(value).__name__}")
    if not _DOC_NUMBER.fullmatch(value):
        raise InvalidInput(
            f"doc_number {value!r} is not a valid document number: 1 to 16 letters, digits, "
            "'/' and '-', not starting with 0, '/' or '-'"
        )
    return value


def check_doc_date(value: object) -> date:
    """A ``datetime.date`` (not a ``datetime``: a document has a date, not a time)."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"doc_date must be a datetime.date, not {type(value).__name__}")
    return value


def compute_irn(gstin: str, doc_type: DocumentType | str, doc_number: str, doc_date: date) -> str:
    """The Invoice Reference Number of a document, from its details.

    The IRN is the SHA-256 hex digest of supplier GSTIN + financial year (``2021-22``) +
    document type + document number, concatenated. The document number is upper-cased first,
    as the portal does (GSTN advisory, in force from 1 June 2025). Raises ``InvalidInput`` (a
    ``ValueError``) for a GSTIN that is not 15 upper-case letters and digits, an unknown
    document type, a document number outside the portal's pattern, or a date that is not a
    ``datetime.date``.
    """
    _validate.gstin(gstin)
    kind = check_doc_type(doc_type)
    number = check_doc_number(doc_number)
    day = check_doc_date(doc_date)
    return irn_of(gstin, kind.value, number, day)


# ----------------------------------------------------------------------------------------------
# Signed documents (the keys they are verified with: :mod:`._keys`)
# ----------------------------------------------------------------------------------------------


def _b64url(part: str, what: str) -> bytes:
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except ValueError:
        raise ResponseError(f"the token's {what} is not base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = loads(raw)
    except msgspec.DecodeError:
        raise ResponseError(f"the token's {what} is not JSON") from None
    if type(value) is not dict:
        raise ResponseError(f"the token's {what} is not a JSON object")
    return value


@attrs.frozen(repr=False, eq=False)
class SignedDocument:
    """A document signed by the e-invoice portal: an RS256 JWT, decoded but not trusted.

    ``header`` is the JWT header (``alg``, ``kid``, ``x5t``), ``claims`` its payload
    (``iss``, ``data``, ...), and ``data`` the ``data`` claim decoded from its JSON string
    (numbers as exact ``Decimal``). Decoding checks nothing: call :meth:`verify` with the
    portal's key or certificate to know the portal signed it.
    """

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    data: Any

    @classmethod
    def parse(cls, token: str) -> SignedDocument:
        """Decode a compact JWT (``header.payload.signature``).

        The ``data`` claim, a JSON string, is decoded too (``None`` when absent). A token
        that is not a JWT raises :class:`~flynn_async.ResponseError`; one that is not a
        ``str`` raises :class:`~flynn_async.InvalidInput`.
        """
        if not isinstance(token, str):
            raise InvalidInput(f"a signed document must be a str, not {type(token).__name__}")
        parts = token.split(".")
        if len(parts) != 3 or not all(parts[:2]):
            raise ResponseError("a signed document must be a JWT: header.payload.signature")
        header = _json_object(_b64url(parts[0], "header"), "header")
        claims = _json_object(_b64url(parts[1], "payload"), "payload")
        _b64url(parts[2], "signature")
        raw = claims.get(_api.EINVOICE_DATA_CLAIM)
        data: Any
        if isinstance(raw, str):
            try:
                data = loads(raw)
            except msgspec.DecodeError:
                raise ResponseError("the token's data claim is not a JSON document") from None
        else:
            data = raw
        return cls(token, FrozenMap(header), FrozenMap(claims), data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SignedDocument):
            return self.token == other.token
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return (
            f"SignedDocument(alg={self.alg!r}, kid={self.kid!r}, x5t={self.x5t!r}, "
            f"iss={self.issuer!r})"
        )

    @property
    def alg(self) -> str | None:
        """The signature algorithm named in the header (``RS256``)."""
        value = self.header.get("alg")
        return value if isinstance(value, str) else None

    @property
    def kid(self) -> str | None:
        """The signing key's id (the certificate's SHA-1 thumbprint as hex)."""
        value = self.header.get("kid")
        return value if isinstance(value, str) else None

    @property
    def x5t(self) -> str | None:
        """The signing certificate's SHA-1 thumbprint, base64url."""
        value = self.header.get("x5t")
        return value if isinstance(value, str) else None

    @property
    def issuer(self) -> str | None:
        """The ``iss`` claim (``NIC Sandbox``, ...)."""
        value = self.claims.get("iss")
        return value if isinstance(value, str) else None

    @property
    def signing_input(self) -> bytes:
        """The signed bytes: ``header.payload`` as sent."""
        head, payload, _ = self.token.split(".")
        return f"{head}.{payload}".encode("ascii")

    @property
    def signature(self) -> bytes:
        """The signature bytes."""
        return _b64url(self.token.rsplit(".", 1)[1], "signature")

    def verify(self, keys: EInvoiceKeys | KeyRing) -> None:
        """Check the RS256 signature; raise :class:`~flynn_async.SignatureError` if it fails.

        ``keys`` is a PEM public key or PEM X.509 certificate (text or bytes), a mapping from
        ``kid`` to such keys, or a list of certificates (matched by thumbprint). A signature
        that does not match, an algorithm other than RS256, or a ``kid`` with no key raises
        ``SignatureError``; unusable key material raises ``InvalidInput``.
        """
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        ring = load_keys(keys)
        kid = self.kid
        if self.alg != _api.EINVOICE_SIGNATURE_ALG:
            raise SignatureError(
                f"the signed document uses alg {self.alg!r}, not "
                f"{_api.EINVOICE_SIGNATURE_ALG}: refused",
                kid=kid,
            )
        key = ring.key_for(kid)
        try:
            key.public_key.verify(
                self.signature, self.signing_input, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            text = f"the signature of the signed document (kid {kid!r}) does not verify"
            if kid and key.thumbprint and kid.upper() != key.thumbprint:
                text += (
                    f"; it was signed with key {kid}, the certificate given is "
                    f"{key.thumbprint}: the portal may have rotated its key"
                )
            raise SignatureError(text, kid=kid) from None


# ----------------------------------------------------------------------------------------------
# Credentials and the lookup's result
# ----------------------------------------------------------------------------------------------


def _optional_secret(value: str | Secret | None) -> Secret | None:
    return None if value is None else Secret(value)


@attrs.frozen(init=False)
class IrpCredentials:
    """Who calls the e-invoice portal: the taxpayer's GSTIN and IRP API username.

    ``password`` (the IRP API password) is needed only when the server must open a new IRP
    session (they last 6 hours); it is sent only when given, and held as a
    :class:`~flynn_async.Secret` that never shows in ``repr``. Any 15 upper-case letters and
    digits pass as a GSTIN (sandbox GSTINs fail the real pattern); ``strict_gstin=True``
    checks the structure and check digit too.
    """

    gstin: str
    username: str
    password: Secret | None

    def __init__(
        self,
        gstin: str,
        username: str,
        password: str | Secret | None = None,
        *,
        strict_gstin: bool = False,
    ) -> None:
        if password is not None and (not isinstance(password, str | Secret) or not password):
            raise InvalidInput("password must be a non-empty str, or None")
        password = _optional_secret(password)  # no plain password left in this frame's locals
        _validate.gstin(gstin, strict=strict_gstin)
        _validate.text(username, "username")
        self.__attrs_init__(gstin, username, password)


def _flexible_int(value: Any, path: str) -> int:
    """A number that arrives as a JSON number or as a string of digits."""
    if type(value) is int:
        return value
    if type(value) is str and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError(f"expected a number or a string of digits, got {describe(value)} @ {path}")


def _text(value: Any, path: str) -> str:
    if type(value) is str:
        return value
    raise ValueError(f"expected a string, got {describe(value)} @ {path}")


def _time(value: Any, path: str) -> datetime:
    if type(value) is not str:
        raise ValueError(f"expected a time string, got {describe(value)} @ {path}")
    try:
        return _codec.decode_hook(IndiaTime, value)  # type: ignore[no-any-return]
    except ValueError as exc:
        raise ValueError(f"{exc} @ {path}") from None


def _status(value: Any, path: str) -> EInvoiceStatus | str:
    if type(value) is not str:
        raise ValueError(f"expected an EInvoiceStatus code, got {describe(value)} @ {path}")
    try:
        return EInvoiceStatus(value)
    except ValueError:
        return value  # an open code list: unknown codes stay text


_DETAIL_KEYS: Final = frozenset(
    {
        "AckNo",
        "AckDt",
        "Irn",
        "SignedInvoice",
        "SignedQRCode",
        "Status",
        "EwbNo",
        "EwbDt",
        "EwbValidTill",
        "Remarks",
    }
)


def _signed(data: Mapping[str, Any], key: str, where: Mapping[str, Any]) -> SignedDocument:
    value = data.get(key)
    if type(value) is not str:
        raise ResponseError(
            f"expected a signed document (a JWT string), got {describe(value)} @ $.{key}", **where
        )
    try:
        return SignedDocument.parse(value)
    except ResponseError as exc:
        raise ResponseError(f"{exc.message_text} @ $.{key}", **where) from None


@attrs.frozen(kw_only=True)
class EInvoiceDetails:
    """An e-invoice fetched from the portal.

    ``ack_date`` is the acknowledgement time as the answer gives it (often rounded to the
    minute); :attr:`signed_ack_date` is the time inside the signed invoice (to the second).
    Both are India time. ``signed_invoice`` and ``signed_qr_code`` are the signed documents;
    ``invoice`` and ``qr_code`` their decoded data. ``verified`` is true only when the client
    checked both signatures with a key given to it (``einvoice_keys=``); without a key nothing
    is verified. ``extra`` holds answer fields the models don't know.

    The library's own value (an attrs class, not a wire record): it puts the answer together
    with its decoded documents and whether they were verified; :func:`attrs.evolve` makes a
    changed copy.
    """

    irn: str
    ack_number: int
    ack_date: datetime | None
    status: EInvoiceStatus | str | None
    ewb_number: int | None = None
    ewb_date: datetime | None = None
    ewb_valid_till: datetime | None = None
    remarks: str | None = None
    signed_invoice: SignedDocument
    signed_qr_code: SignedDocument
    invoice: EInvoice = attrs.field(repr=False)
    qr_code: EInvoiceQrCode = attrs.field(repr=False)
    verified: bool = False
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, repr=False, hash=False)

    @property
    def signed_ack_date(self) -> datetime | None:
        """The acknowledgement time inside the signed invoice (to the second, India time)."""
        return self.invoice.ack_date

    @property
    def cancelled(self) -> bool:
        """True when the e-invoice has been cancelled (status ``CNL``)."""
        return self.status == EInvoiceStatus.CANCELLED

    def verify(self, keys: EInvoiceKeys | KeyRing) -> EInvoiceDetails:
        """Verify both signed documents; returns a copy with ``verified=True``.

        Raises :class:`~flynn_async.SignatureError` if either signature fails.
        """
        ring = load_keys(keys)
        self.signed_invoice.verify(ring)
        self.signed_qr_code.verify(ring)
        return attrs.evolve(self, verified=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EInvoiceDetails:
        """Decode the lookup answer's ``data`` (signed documents included); nothing verified.

        Raises :class:`~flynn_async.ResponseError` naming the part and the path of what does
        not fit.
        """
        return decode_details(data)


def _document(cls: type[_P], signed: SignedDocument, what: str, where: Mapping[str, Any]) -> _P:
    """A signed document's data as ``cls``: typed from the claim's text if it can be."""
    raw = signed.claims.get(_api.EINVOICE_DATA_CLAIM)
    if isinstance(raw, str):
        typed = decode_typed(cls, raw.encode("utf-8", "surrogatepass"))
        if typed is not None:
            return typed
    try:
        return decode_part(cls, signed.data)
    except ResponseError as exc:
        raise ResponseError(f"{what}: {exc.message_text}", **where) from None


def decode_details(
    data: Any, *, keys: KeyRing | None = None, route: str | None = None
) -> EInvoiceDetails:
    """The answer's ``data`` as :class:`EInvoiceDetails`.

    With ``keys``, both signatures are verified before anything inside them is decoded
    (``SignatureError``); a shape that does not fit raises :class:`~flynn_async.ResponseError`
    naming ``route`` (when given), the part and the path of the bad value.
    """
    where: Mapping[str, Any] = {"route": route} if route is not None else EMPTY
    if not isinstance(data, Mapping):
        raise ResponseError(f"expected a JSON object, got {describe(data)} @ $", **where)
    signed_invoice = _signed(data, "SignedInvoice", where)
    signed_qr_code = _signed(data, "SignedQRCode", where)
    if keys is not None:
        signed_invoice.verify(keys)
        signed_qr_code.verify(keys)
    invoice = _document(EInvoice, signed_invoice, "signed invoice", where)
    qr_code = _document(EInvoiceQrCode, signed_qr_code, "signed QR code", where)
    problems: list[str] = []

    def get(key: str, parse: Any) -> Any:
        value = data.get(key)
        if value is None:
            return None
        try:
            return parse(value, f"$.{key}")
        except ValueError as exc:
            problems.append(str(exc))
            return None

    irn: Any = data.get("Irn")
    if type(irn) is not str:
        problems.append(f"expected the IRN as a string, got {describe(irn)} @ $.Irn")
    ack_number = get("AckNo", _flexible_int)
    if data.get("AckNo") is None:
        ack_number = invoice.ack_number
        if ack_number is None:
            problems.append("the answer has no acknowledgement number @ $.AckNo")
    fields = {
        "ack_date": get("AckDt", _time),
        "status": get("Status", _status),
        "ewb_number": get("EwbNo", _flexible_int),
        "ewb_date": get("EwbDt", _time),
        "ewb_valid_till": get("EwbValidTill", _time),
        "remarks": get("Remarks", _text),
    }
    if problems:
        raise ResponseError("; ".join(problems), **where)
    extra = {k: v for k, v in data.items() if k not in _DETAIL_KEYS}
    return EInvoiceDetails(
        irn=irn,
        ack_number=ack_number,
        **fields,
        signed_invoice=signed_invoice,
        signed_qr_code=signed_qr_code,
        invoice=invoice,
        qr_code=qr_code,
        verified=keys is not None,
        extra=FrozenMap(extra) if extra else EMPTY,
    )
