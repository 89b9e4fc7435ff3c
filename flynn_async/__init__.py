"""flynn_async: an asyncio client for Vayana Network's Flynn GST API.

Log in, hold a taxpayer's GST (OTP) session, download IMS invoices with exact ``Decimal``
money into typed records, and test it all against the built-in simulator
(:mod:`flynn_async.testing`)::

    async with FlynnClient(Credentials("me@example.com", password)) as client:
        otp_request = await client.gst.request_otp(gstin=gstin, username=username)
        session = await client.gst.verify_otp(otp_request, otp)
        invoices = await client.ims.download_all(session)
"""

import importlib
import warnings
from typing import Any, Final

from ._client import FlynnClient
from ._core._errors import (
    ApiError,
    AuthError,
    BatchError,
    EInvoiceMismatch,
    EInvoiceNotFound,
    FlynnError,
    GstError,
    Gstr2bNotGenerated,
    Gstr2bOutcomeUnknown,
    Gstr2bQueued,
    Gstr2bRegenerationInProgress,
    Gstr2bTooEarly,
    GstSessionExpired,
    GstSessionMissing,
    ImsOutcomeUnknown,
    InvalidDecisions,
    InvalidInput,
    IrpError,
    IrpPasswordRequired,
    ManifestError,
    NotFound,
    OutcomeUnknown,
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
from ._tasks._task import Task
from ._tasks._types import Progress, TaskState, TaskStatus
from .gst._gst import GstApi, KeepAlive
from .gst._period import ReturnPeriod
from .gst._session import GstSession, OtpRequest
from .gst._store import FileSessionStore, SessionStore

#: The installed version (read from the distribution's metadata on first use).
__version__: str

__all__ = [
    "ApiError",
    "AuthError",
    "BatchError",
    "Checkpoint",
    "Credentials",
    "EInvoiceMismatch",
    "EInvoiceNotFound",
    "FileSessionStore",
    "FileTokenStore",
    "FlynnClient",
    "FlynnError",
    "FrozenMap",
    "GstApi",
    "GstError",
    "GstSession",
    "GstSessionExpired",
    "GstSessionMissing",
    "Gstr2bNotGenerated",
    "Gstr2bOutcomeUnknown",
    "Gstr2bQueued",
    "Gstr2bRegenerationInProgress",
    "Gstr2bTooEarly",
    "ImsOutcomeUnknown",
    "InvalidDecisions",
    "InvalidInput",
    "IrpError",
    "IrpPasswordRequired",
    "KeepAlive",
    "ManifestError",
    "NotFound",
    "OtpRequest",
    "OutcomeUnknown",
    "PagesMissing",
    "PollPolicy",
    "Progress",
    "RequestTimeout",
    "ResponseError",
    "RetryPolicy",
    "ReturnPeriod",
    "Secret",
    "SectionMismatch",
    "SessionStore",
    "SignatureError",
    "Stats",
    "StoredToken",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskState",
    "TaskStatus",
    "TaskTimeout",
    "TokenStore",
    "TooManyTokens",
    "TransportError",
    "YesNo",
    "__version__",
]

#: Names that left the top level in 0.2, and their new home; ``flynn_async.<name>`` still works
#: for one release, with a ``DeprecationWarning``.
_MOVED: Final[dict[str, str]] = {
    "BatchImsApi": "flynn_async.batch",
    "BatchProgress": "flynn_async.batch",
    "BatchResult": "flynn_async.batch",
    "DownloadJob": "flynn_async.batch",
    "JobResult": "flynn_async.batch",
    "JobState": "flynn_async.batch",
    "AdditionalDocument": "flynn_async.einvoice",
    "BatchDetails": "flynn_async.einvoice",
    "BuyerDetails": "flynn_async.einvoice",
    "ContractDetails": "flynn_async.einvoice",
    "DispatchDetails": "flynn_async.einvoice",
    "DocumentDetails": "flynn_async.einvoice",
    "DocumentPeriod": "flynn_async.einvoice",
    "DocumentType": "flynn_async.einvoice",
    "EInvoice": "flynn_async.einvoice",
    "EInvoiceApi": "flynn_async.einvoice",
    "EInvoiceDetails": "flynn_async.einvoice",
    "EInvoiceQrCode": "flynn_async.einvoice",
    "EInvoiceStatus": "flynn_async.einvoice",
    "EwayBillDetails": "flynn_async.einvoice",
    "ExportDetails": "flynn_async.einvoice",
    "InvoiceItem": "flynn_async.einvoice",
    "IrpCredentials": "flynn_async.einvoice",
    "IrpErrorDetail": "flynn_async.einvoice",
    "ItemAttribute": "flynn_async.einvoice",
    "PaymentDetails": "flynn_async.einvoice",
    "PrecedingDocument": "flynn_async.einvoice",
    "ReferenceDetails": "flynn_async.einvoice",
    "SellerDetails": "flynn_async.einvoice",
    "ShipToDetails": "flynn_async.einvoice",
    "SignedDocument": "flynn_async.einvoice",
    "SupplyType": "flynn_async.einvoice",
    "TransactionDetails": "flynn_async.einvoice",
    "TransportMode": "flynn_async.einvoice",
    "ValueDetails": "flynn_async.einvoice",
    "VehicleType": "flynn_async.einvoice",
    "compute_irn": "flynn_async.einvoice",
    "FilingStatus": "flynn_async.ims",
    "ImsAmendedInvoice": "flynn_async.ims",
    "ImsAmendedNote": "flynn_async.ims",
    "ImsApi": "flynn_async.ims",
    "ImsInvoice": "flynn_async.ims",
    "ImsInvoices": "flynn_async.ims",
    "ImsNote": "flynn_async.ims",
    "ImsRecord": "flynn_async.ims",
    "ImsSection": "flynn_async.ims",
    "ImsStatus": "flynn_async.ims",
    "InvoiceType": "flynn_async.ims",
    "SectionTotals": "flynn_async.ims",
    "SourceForm": "flynn_async.ims",
    "decode_ims_page": "flynn_async.ims",
}
#: Names that are no longer public at all (the object is still handed out, with a warning).
_PRIVATE: Final[dict[str, str]] = {
    "PageCodec": "flynn_async._tasks._task",
}


def _version() -> str:
    """The installed distribution's version (read on first use: the metadata reader is slow
    to import, and most programs never ask)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flynn-async")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def __getattr__(name: str) -> Any:
    """``__version__``, and old top-level names: the object from its new home, with a
    ``DeprecationWarning``."""
    if name == "__version__":
        global __version__
        __version__ = _version()
        return __version__
    if name in _MOVED:
        home = _MOVED[name]
        warnings.warn(
            f"flynn_async.{name} moved to {home}.{name}: import it from there "
            "(the old name goes in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
    elif name in _PRIVATE:
        home = _PRIVATE[name]
        warnings.warn(
            f"flynn_async.{name} is no longer public (it is internal to the task engine); "
            "the name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
    else:
        raise AttributeError(f"module 'flynn_async' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
