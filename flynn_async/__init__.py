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

from ._client import FlynnClient
from ._core._errors import (
    ApiError,
    AuthError,
    BatchError,
    EInvoiceMismatch,
    EInvoiceNotFound,
    FlynnError,
    GstError,
    GstSessionExpired,
    GstSessionMissing,
    InvalidInput,
    IrpError,
    IrpErrorDetail,
    IrpPasswordRequired,
    ManifestError,
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
from ._core._policy import PollPolicy, RetryPolicy
from ._core._secrets import Secret
from ._core._values import FrozenMap, YesNo
from ._http._credentials import Credentials
from ._http._token_store import FileTokenStore, StoredToken, TokenStore
from ._http._transport import Stats
from ._tasks._checkpoint import Checkpoint
from ._tasks._task import PageCodec, Task
from ._tasks._types import Progress, TaskState, TaskStatus
from .batch import (
    BatchImsApi,
    BatchProgress,
    BatchResult,
    DownloadJob,
    JobResult,
    JobState,
)
from .einvoice._lookup import EInvoiceApi
from .einvoice._models import (
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
from .gst._gst import GstApi, KeepAlive
from .gst._period import ReturnPeriod
from .gst._session import GstSession, OtpRequest
from .gst._store import FileSessionStore, SessionStore
from .ims._decoding import decode_ims_page
from .ims._download import ImsApi
from .ims._models import (
    FilingStatus,
    ImsAmendedInvoice,
    ImsAmendedNote,
    ImsInvoice,
    ImsInvoices,
    ImsNote,
    ImsRecord,
    ImsSection,
    ImsStatus,
    InvoiceType,
    SectionTotals,
    SourceForm,
)

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
    "BatchImsApi",
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
