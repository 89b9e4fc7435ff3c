"""The public surface: exactly these names, sorted, documented, and typed."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import flynn_async

IMS_AND_CORE = {
    "ApiError",
    "AuthError",
    "Credentials",
    "FilingStatus",
    "FlynnClient",
    "FlynnError",
    "GstApi",
    "GstError",
    "GstSession",
    "GstSessionExpired",
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
    "InvoiceType",
    "NotFound",
    "OtpRequest",
    "PageCodec",
    "PagesMissing",
    "PollPolicy",
    "OutcomeUnknown",
    "Progress",
    "RequestTimeout",
    "ResponseError",
    "RetryPolicy",
    "ReturnPeriod",
    "Secret",
    "SectionMismatch",
    "SectionTotals",
    "SourceForm",
    "Stats",
    "Task",
    "TaskError",
    "TaskFailed",
    "TaskState",
    "TaskStatus",
    "TaskTimeout",
    "TooManyTokens",
    "TransportError",
    "YesNo",
    "__version__",
    "decode_ims_page",
}
EINVOICE = {
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
}
RELIABILITY = {"Checkpoint", "FileSessionStore", "FrozenMap", "KeepAlive", "SessionStore"}
TOKENS = {"FileTokenStore", "StoredToken", "TokenStore"}
BATCH = {
    "BatchError",
    "BatchProgress",
    "BatchResult",
    "DownloadJob",
    "GstSessionMissing",
    "JobResult",
    "JobState",
    "ManifestError",
}
EXPECTED = IMS_AND_CORE | EINVOICE | RELIABILITY | BATCH | TOKENS


def test_all_is_exactly_the_expected_names() -> None:
    actual = set(flynn_async.__all__)
    assert EXPECTED == actual, (
        f"missing: {sorted(EXPECTED - actual)}, unexpected: {sorted(actual - EXPECTED)}"
    )
    assert len(flynn_async.__all__) == len(actual)  # no duplicates


def test_all_is_sorted() -> None:
    assert sorted(flynn_async.__all__) == flynn_async.__all__


@pytest.mark.parametrize("name", sorted(EXPECTED - {"__version__"}))
def test_every_name_exists_and_has_its_own_docstring(name: str) -> None:
    obj = getattr(flynn_async, name)
    doc = obj.__doc__  # a class's own docstring: __doc__ is not inherited
    assert isinstance(doc, str)
    assert doc.strip()
    assert inspect.getmodule(obj) is not None


def test_version_is_a_string() -> None:
    assert isinstance(flynn_async.__version__, str)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", flynn_async.__version__)


def test_star_import_gives_the_public_names() -> None:
    namespace: dict[str, object] = {}
    exec("from flynn_async import *", namespace)
    assert EXPECTED == {name for name in namespace if name != "__builtins__"}


def test_package_is_typed() -> None:
    marker = Path(flynn_async.__file__).parent / "py.typed"
    assert marker.is_file()


def test_errors_form_one_tree() -> None:
    errors = [
        getattr(flynn_async, name)
        for name in flynn_async.__all__
        if isinstance(getattr(flynn_async, name), type)
        and issubclass(getattr(flynn_async, name), Exception)
    ]
    assert len(errors) >= 16
    for error in errors:
        assert issubclass(error, flynn_async.FlynnError)
    assert issubclass(flynn_async.InvalidInput, ValueError)
    assert issubclass(flynn_async.TaskTimeout, TimeoutError)
    assert issubclass(flynn_async.RequestTimeout, TimeoutError)
    assert issubclass(flynn_async.TooManyTokens, flynn_async.AuthError)
    assert issubclass(flynn_async.GstSessionExpired, flynn_async.GstError)
    assert issubclass(flynn_async.SectionMismatch, flynn_async.ResponseError)
