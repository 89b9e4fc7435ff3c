"""E-invoices: look them up by document details, verify their signatures, check their IRN.

::

    from flynn_async import FlynnClient, IrpCredentials
    from flynn_async.einvoice import compute_irn

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

from flynn_async._core._errors import (
    EInvoiceMismatch,
    EInvoiceNotFound,
    IrpError,
    IrpErrorDetail,
    IrpPasswordRequired,
    SignatureError,
)

from ._lookup import EInvoiceApi
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
    EInvoiceKeys,
    EInvoiceQrCode,
    EInvoiceStatus,
    EwayBillDetails,
    ExportDetails,
    InvoiceItem,
    IrpCredentials,
    ItemAttribute,
    KeyMaterial,
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
    "EInvoiceMismatch",
    "EInvoiceNotFound",
    "EInvoiceQrCode",
    "EInvoiceStatus",
    "EwayBillDetails",
    "ExportDetails",
    "InvoiceItem",
    "IrpCredentials",
    "IrpError",
    "IrpErrorDetail",
    "IrpPasswordRequired",
    "ItemAttribute",
    "KeyMaterial",
    "PaymentDetails",
    "PrecedingDocument",
    "ReferenceDetails",
    "SellerDetails",
    "ShipToDetails",
    "SignatureError",
    "SignedDocument",
    "SupplyType",
    "TransactionDetails",
    "TransportMode",
    "ValueDetails",
    "VehicleType",
    "compute_irn",
    "financial_year",
]
