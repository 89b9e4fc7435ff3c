"""E-invoice lookups: details of an e-invoice by its document's type, number and date.

One read-only call (safe to retry) on the route of section 8 of the API notes. Inputs are
checked before anything is sent; the answer's signed documents are decoded, verified when the
client has keys, and checked against each other and against the document asked for. The
models (:mod:`._models`) are imported on the first lookup, not with the package.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any, Final

from flynn_async._core import _validate
from flynn_async._core._errors import (
    EInvoiceMismatch,
    InvalidInput,
    SignatureError,
)
from flynn_async._http import _api
from flynn_async._http._auth import Api

from ._keys import KeyRing

if TYPE_CHECKING:  # the models are imported on first use (import time), not with the package
    from ._models import DocumentType, EInvoiceDetails, IrpCredentials

log: Final = logging.getLogger("flynn_async.einvoice")


def _choice(value: object, name: str, allowed: tuple[str, ...], *, upper: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a str, not {type(value).__name__}")
    wanted = value.strip().upper() if upper else value.strip().lower()
    if wanted not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return wanted


def check_irp(value: object) -> str:
    """``ni1`` or ``ni2`` (``nic`` is deprecated by the API)."""
    return _choice(value, "irp", _api.EINVOICE_IRPS, upper=False)


def check_interop(value: object) -> str | None:
    """``NIC1``, ``NIC2`` or ``None``."""
    return None if value is None else _choice(value, "interop", _api.EINVOICE_INTEROP, upper=True)


def irp_headers(credentials: IrpCredentials, interop: str | None) -> dict[str, str]:
    """The e-invoice headers (section 3); the password only when given."""
    names = _api.IRP_HEADERS
    headers = {
        names["gsp_code"]: _api.GSP_CODE,
        names["gstin"]: credentials.gstin,
        names["username"]: credentials.username,
    }
    if credentials.password is not None:
        headers[names["password"]] = credentials.password.reveal()
    if interop is not None:
        headers[names["interop"]] = interop
    return headers


def find_mismatches(
    details: EInvoiceDetails, *, doc_type: DocumentType, doc_number: str, doc_date: date
) -> list[str]:
    """What disagrees in ``details``: between its IRNs, and with the document asked for.

    The IRN of the answer, of the signed invoice and of the QR code must be one (hex: compared
    ignoring the case of its letters), and equal to
    the IRN computed from the signed invoice's seller GSTIN and the requested document type,
    number and date (the number upper-cased, as the portal does; an older IRN of a number
    with lower-case letters may hash it as given, and is accepted too). The signed invoice's
    and the QR code's document details must be the requested ones (numbers compared ignoring
    case, as the portal does). The acknowledgement time outside the token is often rounded to
    the minute, so it is not compared; the acknowledgement number is.
    """
    from ._models import irn_of

    invoice, qr = details.invoice, details.qr_code
    found: list[str] = []

    def differ(what: str, a_name: str, a: Any, b_name: str, b: Any) -> None:
        if a != b:
            found.append(f"{what}: {a_name} {a!s} != {b_name} {b!s}")

    irn = details.irn.lower()  # hex: its letters' case carries nothing
    for name, other in (("signed invoice", invoice.irn), ("signed QR code", qr.irn)):
        if str(other).lower() != irn:
            found.append(f"IRN: answer {details.irn} != {name} {other}")
    seller = invoice.seller.gstin
    want = irn_of(seller, doc_type.value, doc_number, doc_date)
    as_given = irn_of(seller, doc_type.value, doc_number, doc_date, uppercase=False)
    if irn not in (want, as_given):
        found.append(
            f"IRN: answer {details.irn} != computed {want} (seller {seller}, "
            f"{doc_type.value} {doc_number} of {_show(doc_date)})"
        )
    requested: dict[str, str] = {
        "type": doc_type.value,
        "number": doc_number,
        "date": _show(doc_date),
    }
    signed_docs = {
        "signed invoice": (invoice.document.type, invoice.document.number, invoice.document.date),
        "signed QR code": (qr.doc_type, qr.doc_number, qr.doc_date),
    }
    for source, (kind, number, day) in signed_docs.items():
        got = {"type": str(kind), "number": number, "date": _show(day)}
        for key, wanted in requested.items():
            if got[key].upper() != wanted.upper():  # numbers: the portal ignores case
                found.append(f"document {key}: requested {wanted} != {source} {got[key]}")
    differ("seller GSTIN", "signed invoice", seller, "signed QR code", qr.seller_gstin)
    differ("buyer GSTIN", "signed invoice", invoice.buyer.gstin, "signed QR code", qr.buyer_gstin)
    if invoice.ack_number is not None:
        differ("ack number", "answer", details.ack_number, "signed invoice", invoice.ack_number)
    return found


def _show(value: date) -> str:
    return value.strftime(_api.EINVOICE_DATE_FORMAT)


class EInvoiceApi:
    """E-invoice calls; reach it as ``client.einvoice``."""

    def __init__(self, api: Api, api_version: str, keys: KeyRing | None = None) -> None:
        self._api = api
        self._version = api_version
        self._keys = keys

    @property
    def verifies(self) -> bool:
        """True when fetched e-invoices are verified (the client was given keys)."""
        return self._keys is not None

    async def get_by_document(
        self,
        *,
        irp: str,
        doc_type: DocumentType | str,
        doc_number: str,
        doc_date: date,
        irp_credentials: IrpCredentials,
        interop: str | None = None,
    ) -> EInvoiceDetails:
        """Fetch the e-invoice of a document by its type, number and date.

        ``irp`` is the portal the taxpayer is registered with (``ni1`` or ``ni2``);
        ``interop`` (``"NIC1"`` or ``"NIC2"``) asks the other portal instead. ``doc_type`` is
        ``INV``, ``CRN`` or ``DBN``; ``doc_number`` is used as given; ``doc_date`` is a
        ``datetime.date``. Every input is checked before the call (``InvalidInput``, a
        ``ValueError``).

        The call is read-only and retried on connection faults and 5xx answers. When the
        client was given ``einvoice_keys``, both signatures are verified before the answer is
        decoded (``SignatureError``); without keys nothing is verified. The answer must agree
        with itself and with the document asked for (``EInvoiceMismatch``). Portal errors
        raise ``EInvoiceNotFound`` (codes 2154, 2148), ``IrpPasswordRequired`` or
        ``IrpError``.
        """
        from ._models import (
            IrpCredentials,
            check_doc_date,
            check_doc_number,
            check_doc_type,
            decode_details,
        )

        chosen_irp = check_irp(irp)
        kind = check_doc_type(doc_type)
        number = check_doc_number(doc_number)
        day = check_doc_date(doc_date)
        chosen_interop = check_interop(interop)
        if not isinstance(irp_credentials, IrpCredentials):
            raise InvalidInput("irp_credentials must be a flynn_async.IrpCredentials")
        _validate.gstin(irp_credentials.gstin, name="irp_credentials.gstin")
        route = _api.EINVOICE_ROUTE
        path = route.format(
            flynn=_api.EINVOICE_FLYNN_VERSION, irp=chosen_irp, version=self._version
        )
        params = {
            _api.EINVOICE_QUERY_DOC_TYPE: kind.value,
            _api.EINVOICE_QUERY_DOC_NUMBER: number,
            _api.EINVOICE_QUERY_DOC_DATE: day.strftime(_api.EINVOICE_DATE_FORMAT),
        }
        data = await self._api.call(
            "GET",
            route,
            path,
            headers=irp_headers(irp_credentials, chosen_interop),
            params=params,
        )
        try:
            details = decode_details(data, keys=self._keys, route=route)
        except SignatureError as exc:
            exc.route = route
            raise
        differences = find_mismatches(details, doc_type=kind, doc_number=number, doc_date=day)
        if differences:
            raise EInvoiceMismatch(
                f"the e-invoice returned for {kind.value} {number} of {day:%d/%m/%Y} is not "
                "consistent: " + "; ".join(differences),
                differences=differences,
                route=route,
            )
        log.info(
            "e-invoice %s %s of %s: IRN %s, status %s%s",
            kind.value,
            number,
            day.isoformat(),
            details.irn,
            details.status,
            " (signatures verified)" if details.verified else "",
        )
        return details
