"""flynn_async: an asyncio client for Vayana Network's Flynn GST API.

Log in, hold a taxpayer's GST (OTP) session, download IMS invoices with exact ``Decimal``
money into typed records, and test it all against the built-in simulator
(:mod:`flynn_async.testing`)::

    async with FlynnClient(Credentials("me@example.com", password)) as client:
        otp_request = await client.gst.request_otp(gstin=gstin, username=username)
        session = await client.gst.verify_otp(otp_request, otp)
        invoices = await client.ims.download_all(session)
"""

from importlib.metadata import PackageNotFoundError, version

from ._batch import (
    BatchError,
    BatchProgress,
    BatchResult,
    DownloadJob,
    GstSessionMissing,
    JobResult,
    JobState,
    ManifestError,
)
from ._checkpoint import Checkpoint
from ._client import FlynnClient
from ._credentials import Credentials
from ._decoding import decode_ims_page
from ._einvoice import EInvoiceApi
from ._einvoice_models import (
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
)
from ._errors import (
    ApiError,
    AuthError,
    EInvoiceMismatch,
    EInvoiceNotFound,
    FlynnError,
    GstError,
    GstSessionExpired,
    InvalidInput,
    IrpError,
    IrpErrorDetail,
    IrpPasswordRequired,
    NotFound,
    PagesMissing,
    RequestTimeout,
    ResponseError,
    SectionMismatch,
    SignatureError,
    TaskError,
    TaskFailed,
    TaskTimeout,
    TooManyTokens,
    TransportError,
)
from ._gst import GstApi, GstSession, KeepAlive, OtpRequest
from ._ims import ImsApi
from ._models import (
    FilingStatus,
    FrozenMap,
    ImsAmendedInvoice,
    ImsAmendedNote,
    ImsInvoice,
    ImsInvoices,
    ImsNote,
    ImsRecord,
    ImsSection,
    ImsStatus,
    InvoiceType,
    Progress,
    ReturnPeriod,
    SectionTotals,
    SourceForm,
    TaskState,
    TaskStatus,
    YesNo,
)
from ._policy import PollPolicy, RetryPolicy
from ._secrets import Secret
from ._store import FileSessionStore, SessionStore
from ._tasks import PageCodec, Task
from ._token_store import FileTokenStore, StoredToken, TokenStore
from ._transport import Stats

try:
    __version__ = version("flynn-async")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AdditionalDocument",
    "ApiError",
    "AuthError",
    "BatchDetails",
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "BuyerDetails",
    "Checkpoint",
    "ContractDetails",
    "Credentials",
    "DispatchDetails",
    "DocumentDetails",
    "DocumentPeriod",
    "DocumentType",
    "DownloadJob",
    "EInvoice",
    "EInvoiceApi",
    "EInvoiceDetails",
    "EInvoiceMismatch",
    "EInvoiceNotFound",
    "EInvoiceQrCode",
    "EInvoiceStatus",
    "EwayBillDetails",
    "ExportDetails",
    "FileSessionStore",
    "FileTokenStore",
    "FilingStatus",
    "FlynnClient",
    "FlynnError",
    "FrozenMap",
    "GstApi",
    "GstError",
    "GstSession",
    "GstSessionExpired",
    "GstSessionMissing",
    "ImsAmendedInvoice",
    "ImsAmendedNote",
    "ImsApi",
    "ImsInvoice",
    "ImsInvoices",
    "ImsNote",
    "ImsRecord",
    "ImsSection",
    "ImsStatus",
    "InvalidInput",
    "InvoiceItem",
    "InvoiceType",
    "IrpCredentials",
    "IrpError",
    "IrpErrorDetail",
    "IrpPasswordRequired",
    "ItemAttribute",
    "JobResult",
    "JobState",
    "KeepAlive",
    "ManifestError",
    "NotFound",
    "OtpRequest",
    "PageCodec",
    "PagesMissing",
    "PaymentDetails",
    "PollPolicy",
    "PrecedingDocument",
    "Progress",
    "ReferenceDetails",
    "RequestTimeout",
    "ResponseError",
    "RetryPolicy",
    "ReturnPeriod",
    "Secret",
    "SectionMismatch",
    "SectionTotals",
    "SellerDetails",
    "SessionStore",
    "ShipToDetails",
    "SignatureError",
    "SignedDocument",
    "SourceForm",
    "Stats",
    "StoredToken",
    "SupplyType",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskState",
    "TaskStatus",
    "TaskTimeout",
    "TokenStore",
    "TooManyTokens",
    "TransactionDetails",
    "TransportError",
    "TransportMode",
    "ValueDetails",
    "VehicleType",
    "YesNo",
    "__version__",
    "compute_irn",
    "decode_ims_page",
]
