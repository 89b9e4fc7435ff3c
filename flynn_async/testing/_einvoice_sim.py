"""The simulator's e-invoice portal: documents, signing, the lookup route's checks.

The simulated portal signs invoices and QR codes as RS256 JWTs with its own RSA key (made
once per process), published as a PEM public key and a self-signed X.509 certificate; the
tokens' ``kid`` is the certificate's SHA-1 thumbprint and ``x5t`` its base64url form, as on
the real portal. It knows a few built-in documents (the seed sample among them) unless told
others, answers portal code 2154 for unknown documents, and can be told to answer any other
portal code. IRP sessions are opened by any non-empty IRP password and last 6 hours.

This module knows nothing of :class:`~flynn_async.testing.FlynnSimulator`: the simulator
checks the common API headers and turns a :class:`Refusal` into an error answer.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Final, Literal

import attrs
import msgspec
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from flynn_async._core import _json
from flynn_async._http import _api
from flynn_async.einvoice._models import IST, irn_of

__all__ = [
    "SIM_EINVOICE_ISSUER",
    "EInvoicePortal",
    "Refusal",
    "SigningIdentity",
    "SimEInvoice",
    "SimEInvoiceRequest",
    "sample_einvoices",
    "signing_identity",
]

SIM_EINVOICE_ISSUER: Final = "FlynnSimulator"
"""The ``iss`` claim of the simulator's signed documents."""

_encoder: Final = msgspec.json.Encoder(decimal_format="number")
_DOC_NUMBER: Final = re.compile(_api.EINVOICE_DOC_NUMBER_PATTERN)
_GSTIN_CHARS: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SAMPLE_FILE: Final = "data/sample_einvoices.json"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# ----------------------------------------------------------------------------------------------
# The signing key
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class SigningIdentity:
    """The simulated portal's signing key: private key, certificate and their PEM forms.

    ``kid`` is the certificate's SHA-1 thumbprint (upper-case hex), ``x5t`` the same
    thumbprint base64url-encoded; both go into every token's header.
    """

    private_key: rsa.RSAPrivateKey = attrs.field(repr=False)
    certificate: x509.Certificate = attrs.field(repr=False)
    public_key_pem: str = attrs.field(repr=False)
    certificate_pem: str = attrs.field(repr=False)
    kid: str
    x5t: str

    def sign(self, claims: Mapping[str, Any], *, tamper: bool = False) -> str:
        """A compact RS256 JWT of ``claims``; ``tamper`` flips one bit of the signature."""
        header = {"alg": _api.EINVOICE_SIGNATURE_ALG, "kid": self.kid, "x5t": self.x5t}
        header["typ"] = "JWT"
        signing_input = f"{_b64url(_encoder.encode(header))}.{_b64url(_encoder.encode(claims))}"
        signature = bytearray(
            self.private_key.sign(
                signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
            )
        )
        if tamper:
            signature[len(signature) // 2] ^= 0x01
        return f"{signing_input}.{_b64url(bytes(signature))}"


def make_identity(
    common_name: str = "FlynnSimulator e-invoice signing (test only)",
) -> SigningIdentity:
    """A new RSA-2048 key with a self-signed certificate (valid 2020 to 2045)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1, tzinfo=IST))
        .not_valid_after(datetime(2045, 1, 1, tzinfo=IST))
        .sign(key, hashes.SHA256())
    )
    thumbprint = certificate.fingerprint(hashes.SHA1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningIdentity(
        private_key=key,
        certificate=certificate,
        public_key_pem=public_pem.decode("ascii"),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        kid=thumbprint.hex().upper(),
        x5t=_b64url(thumbprint),
    )


@functools.cache
def signing_identity() -> SigningIdentity:
    """The simulated portal's signing identity, made once per process (key generation is slow)."""
    return make_identity()


# ----------------------------------------------------------------------------------------------
# Documents
# ----------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SimEInvoice:
    """An e-invoice the simulated portal knows.

    ``invoice`` is the INV-01 document as the supplier reported it (``SellerDtls.Gstin`` and
    ``DocDtls`` find it; amounts as :class:`~decimal.Decimal` or ``int``). The portal adds
    ``AckNo``, ``AckDt`` and ``Irn``: ``irn`` overrides the computed IRN (to test integrity
    checks), ``ack_number`` and ``ack_date`` (India time) default to values derived from the
    IRN. ``qr_irn_date=False`` leaves ``IrnDt`` out of the QR code, like older tokens.
    """

    invoice: Mapping[str, Any] = attrs.field(eq=False)
    status: str = "ACT"
    irn: str | None = None
    ack_number: int | None = None
    ack_date: datetime | None = None
    ewb_number: int | None = None
    ewb_date: datetime | None = None
    ewb_valid_till: datetime | None = None
    remarks: str | None = None
    qr_irn_date: bool = True

    @property
    def key(self) -> tuple[str, str, str, str]:
        """(seller GSTIN, document type, document number upper-cased, date ``DD/MM/YYYY``)."""
        doc = self.invoice["DocDtls"]
        return (self.invoice["SellerDtls"]["Gstin"], doc["Typ"], doc["No"].upper(), doc["Dt"])

    def computed_irn(self) -> str:
        """The IRN the portal gives it (``irn`` when set)."""
        if self.irn is not None:
            return self.irn
        gstin, kind, _, day = self.key
        parsed = datetime.strptime(day, _api.EINVOICE_DATE_FORMAT).date()
        return irn_of(gstin, kind, self.invoice["DocDtls"]["No"], parsed)

    def acknowledged(self) -> tuple[int, datetime]:
        """The acknowledgement number and time (given, or derived from the IRN)."""
        irn = self.computed_irn()
        digest = int(irn[:16], 16)
        number = self.ack_number if self.ack_number is not None else 10**14 + digest % (9 * 10**14)
        when = self.ack_date
        if when is None:
            day = datetime.strptime(self.key[3], _api.EINVOICE_DATE_FORMAT)
            when = (day + timedelta(days=1, seconds=digest % 86400)).replace(tzinfo=IST)
        return number, when


def _time(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(IST)
    return value.strftime(_api.EINVOICE_DATETIME_FORMAT)


def _to_minute(value: datetime) -> datetime:
    """Rounded to the nearest minute, as the answer outside the token gives it."""
    return (value + timedelta(seconds=30)).replace(second=0, microsecond=0)


def _main_hsn(items: list[Mapping[str, Any]]) -> str:
    best = max(items, key=lambda item: Decimal(item.get("TotItemVal", 0)))
    return str(best["HsnCd"])


def answer_data(
    document: SimEInvoice, identity: SigningIdentity, *, tamper: bool = False
) -> dict[str, Any]:
    """The lookup answer's ``data`` for ``document``, signed by ``identity``."""
    invoice = dict(document.invoice)
    irn = document.computed_irn()
    ack_number, ack_date = document.acknowledged()
    signed = {"AckNo": ack_number, "AckDt": _time(ack_date), "Irn": irn, **invoice}
    items = list(invoice.get("ItemList") or [])
    qr: dict[str, Any] = {
        "SellerGstin": invoice["SellerDtls"]["Gstin"],
        "BuyerGstin": invoice["BuyerDtls"]["Gstin"],
        "DocNo": invoice["DocDtls"]["No"],
        "DocTyp": invoice["DocDtls"]["Typ"],
        "DocDt": invoice["DocDtls"]["Dt"],
        "TotInvVal": invoice["ValDtls"]["TotInvVal"],
        "ItemCnt": len(items),
        "MainHsnCode": _main_hsn(items) if items else "",
        "Irn": irn,
    }
    if document.qr_irn_date:
        qr["IrnDt"] = _time(ack_date)

    def token(data: Mapping[str, Any]) -> str:
        text = _encoder.encode(data).decode("utf-8")
        return identity.sign(
            {_api.EINVOICE_DATA_CLAIM: text, "iss": SIM_EINVOICE_ISSUER}, tamper=tamper
        )

    return {
        "AckNo": str(ack_number),
        "AckDt": _time(_to_minute(ack_date)),
        "Irn": irn,
        "SignedInvoice": token(signed),
        "SignedQRCode": token(qr),
        "Status": document.status,
        "EwbNo": document.ewb_number,
        "EwbDt": None if document.ewb_date is None else _time(document.ewb_date),
        "EwbValidTill": None if document.ewb_valid_till is None else _time(document.ewb_valid_till),
        "Remarks": document.remarks,
    }


@functools.cache
def _sample_data() -> Mapping[str, Any]:
    """The built-in documents as stored (``<GSTIN>``, ``<STATE>``, ``<SELLER>`` to fill in)."""
    text = resources.files("flynn_async.testing").joinpath(_SAMPLE_FILE).read_text(encoding="utf-8")
    data: Mapping[str, Any] = _json.loads(text)
    return data


def _at(text: str) -> datetime:
    return datetime.strptime(text, _api.EINVOICE_DATETIME_FORMAT).replace(tzinfo=IST)


def sample_einvoices(gstin: str = "24AAAPI3182M002") -> tuple[SimEInvoice, ...]:
    """The built-in documents of seller ``gstin``.

    - ``INV RAMIRNINA199`` of 21/06/2021: the seed sample's invoice, with its
      acknowledgement and e-way bill;
    - ``CRN CRN/2024/0042`` of 15/05/2024: an intra-state credit note with two items,
      dispatch and ship-to details, payment, a preceding invoice and exact three-decimal
      quantities;
    - ``INV EXP-7`` of 02/01/2025: an export (cancelled), with batch and export details;
    - ``DBN DBN12`` of 31/03/2025: a debit note whose QR code lacks ``IrnDt`` (an older token).
    """
    data = _sample_data()
    state = gstin[:2]

    def resolve(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [resolve(item) for item in value]
        if isinstance(value, str):
            return value.replace("<GSTIN>", gstin).replace("<STATE>", state)
        return value

    shared = {"<SELLER>": resolve(data["seller"]), "<BUYER_LOCAL>": resolve(data["buyer_local"])}

    def document(name: str) -> dict[str, Any]:
        invoice: dict[str, Any] = resolve(data["invoices"][name])
        for key, value in invoice.items():
            if isinstance(value, str) and value in shared:
                invoice[key] = shared[value]
        return invoice

    seed = document("seed")
    credit_note = document("credit_note")
    export = document("export")
    debit_note = document("debit_note")
    return (
        SimEInvoice(
            invoice=seed,
            ack_number=162310048427387,
            ack_date=_at("2023-07-06 16:42:38"),
            ewb_number=661010233323,
            ewb_date=_at("2023-07-06 16:44:00"),
            ewb_valid_till=_at("2023-07-13 23:59:00"),
        ),
        SimEInvoice(invoice=credit_note),
        SimEInvoice(invoice=export, status="CNL", remarks="Wrong buyer details"),
        SimEInvoice(invoice=debit_note, qr_irn_date=False),
    )


# ----------------------------------------------------------------------------------------------
# The route
# ----------------------------------------------------------------------------------------------


class Refusal(Exception):
    """An error answer of the e-invoice route; the simulator renders it in its envelope."""

    def __init__(
        self, http_status: int, message: str, type_: str, args: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.type = type_
        self.args_ = dict(args or {})


def _bad_request(*fields: str) -> Refusal:
    return Refusal(
        400,
        _api.ERR_INVALID_BODY,
        _api.ERR_TYPE_CLIENT_REQUEST,
        {_api.ERR_ARG_ERROR_LOCATION: list(fields)},
    )


def irp_refusal(code: str, *, shape: Literal["details", "irp-err"] = "details") -> Refusal:
    """``err-irp-returned-error`` carrying portal ``code``, in either shape of section 8."""
    message = _api.IRP_ERROR_MEANINGS.get(code, f"portal error {code}")
    if shape == "details":
        detail = {_api.IRP_DETAIL_CODE: code, _api.IRP_DETAIL_MESSAGE: message}
        args: dict[str, Any] = {_api.ERR_ARG_IRP_DETAILS: [detail]}
    else:
        legacy = {_api.IRP_LEGACY_DETAIL_CODE: code, _api.IRP_LEGACY_DETAIL_MESSAGE: message}
        args = {_api.ERR_ARG_IRP_LEGACY: {_api.ERR_ARG_IRP_DETAILS: [legacy]}}
    return Refusal(502, _api.ERR_IRP, _api.ERR_TYPE_IRP, args)


@attrs.frozen
class SimEInvoiceRequest:
    """One lookup the simulated portal received (after the common header checks)."""

    irp: str
    version: str
    gstin: str
    username: str
    password_sent: bool
    interop: str | None
    doc_type: str | None
    doc_number: str | None
    doc_date: str | None


class EInvoicePortal:
    """The simulated e-invoice portal of one simulator: sessions, documents, lookups.

    ``requests`` lists every lookup received; ``identity`` is the signing key
    (:attr:`public_key_pem`, :attr:`certificate_pem`, :attr:`kid`).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sessions: dict[tuple[str, str, str], float] = {}
        self.requests: list[SimEInvoiceRequest] = []

    @property
    def identity(self) -> SigningIdentity:
        """The signing identity (shared by every simulator of the process)."""
        return signing_identity()

    @property
    def public_key_pem(self) -> str:
        """The portal's public key, PEM."""
        return self.identity.public_key_pem

    @property
    def certificate_pem(self) -> str:
        """The portal's self-signed certificate, PEM."""
        return self.identity.certificate_pem

    @property
    def kid(self) -> str:
        """The ``kid`` of every token (the certificate's SHA-1 thumbprint, hex)."""
        return self.identity.kid

    def expire_sessions(self) -> None:
        """End every IRP session now: the next lookup needs the IRP password again."""
        self._sessions.clear()

    def lookup(
        self,
        request: web.Request,
        org_id: str,
        *,
        documents: tuple[SimEInvoice, ...],
        error_code: str | None,
        error_shape: Literal["details", "irp-err"],
        tamper: bool,
    ) -> dict[str, Any]:
        """Answer one lookup (``data``), or raise :class:`Refusal`."""
        gstin, username, password, interop = _check_headers(request.headers)
        irp = request.match_info["irp"]
        query = request.query
        doc_type = query.get(_api.EINVOICE_QUERY_DOC_TYPE)
        doc_number = query.get(_api.EINVOICE_QUERY_DOC_NUMBER)
        doc_date = query.get(_api.EINVOICE_QUERY_DOC_DATE)
        self.requests.append(
            SimEInvoiceRequest(
                irp=irp,
                version=request.match_info["version"],
                gstin=gstin,
                username=username,
                password_sent=password is not None,
                interop=interop,
                doc_type=doc_type,
                doc_number=doc_number,
                doc_date=doc_date,
            )
        )
        _check_query(irp, doc_type, doc_number, doc_date)
        assert doc_type is not None
        assert doc_number is not None
        assert doc_date is not None
        self._open_session((org_id, gstin, username), password)
        if error_code is not None:
            raise irp_refusal(error_code, shape=error_shape)
        wanted = (gstin, doc_type, doc_number.upper(), doc_date)
        for document in documents:
            if document.key == wanted:
                return answer_data(document, self.identity, tamper=tamper)
        raise irp_refusal(_api.IRP_CODE_NOT_FOUND, shape=error_shape)

    def _open_session(self, session: tuple[str, str, str], password: str | None) -> None:
        """Open (with a password) or check the IRP session; :class:`Refusal` when lapsed."""
        now = self._clock()
        if password is not None:
            self._sessions[session] = now
            return
        started = self._sessions.get(session)
        if started is None or now - started >= _api.IRP_SESSION_SECONDS:
            raise Refusal(
                _api.ERR_IRP_EMPTY_PASSWORD_HTTP_STATUS,
                _api.ERR_IRP_EMPTY_PASSWORD,
                _api.ERR_IRP_EMPTY_PASSWORD_TYPE,
            )


def _check_headers(headers: Mapping[str, str]) -> tuple[str, str, str | None, str | None]:
    """The lookup's GSTIN, IRP username, password and interop headers, checked."""
    names = _api.IRP_HEADERS
    if headers.get(names["gsp_code"]) != _api.GSP_CODE:
        raise _bad_request(names["gsp_code"])
    gstin = headers.get(names["gstin"], "")
    if len(gstin) != 15 or not set(gstin) <= _GSTIN_CHARS:
        raise Refusal(
            400,
            _api.ERR_INVALID_GSTIN,
            _api.ERR_TYPE_CLIENT_REQUEST,
            {_api.ERR_ARG_PARAMETER_NAME: names["gstin"]},
        )
    username = headers.get(names["username"], "")
    if not username.strip():
        raise _bad_request(names["username"])
    password = headers.get(names["password"])
    if password is not None and not password.strip():
        raise _bad_request(names["password"])  # send a password, or no header at all
    interop = headers.get(names["interop"])
    if interop is not None and interop not in _api.EINVOICE_INTEROP:
        raise _bad_request(names["interop"])
    return gstin, username, password, interop


def _check_query(
    irp: str, doc_type: str | None, doc_number: str | None, doc_date: str | None
) -> None:
    """:class:`Refusal` naming every bad part of the lookup's path and query."""
    bad = []
    if irp not in _api.EINVOICE_IRPS:
        bad.append("irp")
    if doc_type not in _api.EINVOICE_DOC_TYPES:
        bad.append(_api.EINVOICE_QUERY_DOC_TYPE)
    if doc_number is None or not _DOC_NUMBER.fullmatch(doc_number):
        bad.append(_api.EINVOICE_QUERY_DOC_NUMBER)
    if not _is_date(doc_date):
        bad.append(_api.EINVOICE_QUERY_DOC_DATE)
    if bad:
        raise _bad_request(*bad)


def _is_date(value: str | None) -> bool:
    if value is None or len(value) != 10:
        return False
    try:
        datetime.strptime(value, _api.EINVOICE_DATE_FORMAT)
    except ValueError:
        return False
    return True
