"""E-invoices: look them up by document details, verify their signatures, check their IRN.

::

    from flynn_async import FlynnClient
    from flynn_async.einvoice import IrpCredentials, compute_irn

    irp = IrpCredentials("24AAAPI3182M002", "api-user", password)  # password: first call only
    async with FlynnClient(credentials, einvoice_keys=portal_certificate_pem) as client:
        details = await client.einvoice.get_by_document(
            irp="ni1", doc_type="INV", doc_number="RAMIRNINA199",
            doc_date=date(2021, 6, 21), irp_credentials=irp,
        )
    details.invoice.value.total_invoice_value  # Decimal('32342.32'), exactly as signed

Signatures are verified only when keys are given (``einvoice_keys=`` on the client, or
:meth:`SignedDocument.verify`); without a key nothing is verified.
:func:`compute_irn` gives the IRN of a document from its details.
"""

from typing import TYPE_CHECKING, Final

# the e-invoice errors are top-level names (flynn_async.IrpError, ...); importable here too
from flynn_async._core._errors import EInvoiceMismatch as EInvoiceMismatch
from flynn_async._core._errors import EInvoiceNotFound as EInvoiceNotFound
from flynn_async._core._errors import IrpError as IrpError
from flynn_async._core._errors import (
    IrpErrorDetail,
)
from flynn_async._core._errors import IrpPasswordRequired as IrpPasswordRequired
from flynn_async._core._errors import SignatureError as SignatureError
from flynn_async._core._lazy import lazy_names

from ._keys import EInvoiceKeys, KeyMaterial
from ._lookup import EInvoiceApi

if TYPE_CHECKING:  # at run time these come from __getattr__ below, on first use
    from ._models import (
        IST,
        AdditionalDocument,
        BatchDetails,
        BuyerDetails,
        ContractDetails,
        DispatchDetails,
        DocumentDetails,
        DocumentPeriod,
        DocumentType,
        EInvoice,
        EInvoiceDetails,
        EInvoiceQrCode,
        EInvoiceStatus,
        EwayBillDetails,
        ExportDetails,
        InvoiceItem,
        IrpCredentials,
        ItemAttribute,
        PaymentDetails,
        PrecedingDocument,
        ReferenceDetails,
        SellerDetails,
        ShipToDetails,
        SignedDocument,
        SupplyType,
        TransactionDetails,
        TransportMode,
        ValueDetails,
        VehicleType,
        compute_irn,
        financial_year,
    )

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
    "EInvoiceApi",
    "EInvoiceDetails",
    "EInvoiceKeys",
    "EInvoiceQrCode",
    "EInvoiceStatus",
    "EwayBillDetails",
    "ExportDetails",
    "InvoiceItem",
    "IrpCredentials",
    "IrpErrorDetail",
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

#: The models' names: :mod:`._models` (the INV-01 wire records and the lookup's values) is
#: imported when one of them is first asked for, not with the package (it is the slower part
#: to import, and a program that never looks up an e-invoice never needs it).
_LAZY: Final = {name: "_models" for name in __all__ if name not in globals()}

__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY)
