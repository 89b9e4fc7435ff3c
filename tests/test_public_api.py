"""The public surface: exactly these names, sorted, documented, and typed."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

import flynn_async

#: the client, credentials, policies, Secret, session and task types, ReturnPeriod, every error
TOP_LEVEL = {
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
}
#: flynn_async.ims
IMS = {
    "ADVICE",
    "RULES",
    "DecisionProblem",
    "FilingStatus",
    "ImsAmendedInvoice",
    "ImsAmendedNote",
    "ImsActionResult",
    "ImsApi",
    "ImsCounts",
    "ImsDecision",
    "ImsImport",
    "ImsInvoice",
    "ImsInvoices",
    "ImsNote",
    "ImsRecord",
    "ImsRecordError",
    "ImsRequestStatus",
    "ImsSection",
    "ImsStatus",
    "InvoiceType",
    "ItcReduction",
    "Rule",
    "SectionCounts",
    "SectionTotals",
    "SourceForm",
    "decode_ims_page",
}
#: flynn_async.batch
BATCH = {
    "BatchImsApi",
    "BatchProgress",
    "BatchResult",
    "DownloadJob",
    "JobResult",
    "JobState",
}
#: flynn_async.einvoice: the e-invoice names live only there
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
    "EInvoiceKeys",
    "EInvoiceQrCode",
    "EInvoiceStatus",
    "EwayBillDetails",
    "ExportDetails",
    "IST",
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
}
#: the names that left the top level in 0.2 (each still works, with a DeprecationWarning)
MOVED = {
    "AdditionalDocument": "flynn_async.einvoice",
    "BatchDetails": "flynn_async.einvoice",
    "BatchImsApi": "flynn_async.batch",
    "BatchProgress": "flynn_async.batch",
    "BatchResult": "flynn_async.batch",
    "BuyerDetails": "flynn_async.einvoice",
    "ContractDetails": "flynn_async.einvoice",
    "DispatchDetails": "flynn_async.einvoice",
    "DocumentDetails": "flynn_async.einvoice",
    "DocumentPeriod": "flynn_async.einvoice",
    "DocumentType": "flynn_async.einvoice",
    "DownloadJob": "flynn_async.batch",
    "EInvoice": "flynn_async.einvoice",
    "EInvoiceApi": "flynn_async.einvoice",
    "EInvoiceDetails": "flynn_async.einvoice",
    "EInvoiceQrCode": "flynn_async.einvoice",
    "EInvoiceStatus": "flynn_async.einvoice",
    "EwayBillDetails": "flynn_async.einvoice",
    "ExportDetails": "flynn_async.einvoice",
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
    "InvoiceItem": "flynn_async.einvoice",
    "InvoiceType": "flynn_async.ims",
    "IrpCredentials": "flynn_async.einvoice",
    "IrpErrorDetail": "flynn_async.einvoice",
    "ItemAttribute": "flynn_async.einvoice",
    "JobResult": "flynn_async.batch",
    "JobState": "flynn_async.batch",
    "PaymentDetails": "flynn_async.einvoice",
    "PrecedingDocument": "flynn_async.einvoice",
    "ReferenceDetails": "flynn_async.einvoice",
    "SectionTotals": "flynn_async.ims",
    "SellerDetails": "flynn_async.einvoice",
    "ShipToDetails": "flynn_async.einvoice",
    "SignedDocument": "flynn_async.einvoice",
    "SourceForm": "flynn_async.ims",
    "SupplyType": "flynn_async.einvoice",
    "TransactionDetails": "flynn_async.einvoice",
    "TransportMode": "flynn_async.einvoice",
    "ValueDetails": "flynn_async.einvoice",
    "VehicleType": "flynn_async.einvoice",
    "compute_irn": "flynn_async.einvoice",
    "decode_ims_page": "flynn_async.ims",
}
EXPECTED = TOP_LEVEL


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


@pytest.mark.parametrize(
    ("module", "expected"),
    [("flynn_async.ims", IMS), ("flynn_async.batch", BATCH), ("flynn_async.einvoice", EINVOICE)],
)
def test_each_public_module_exports_exactly_its_names(module: str, expected: set[str]) -> None:
    actual = importlib.import_module(module).__all__
    assert expected == set(actual)
    assert sorted(actual, key=str.casefold) == sorted(set(actual), key=str.casefold)


def test_no_name_is_exported_twice() -> None:
    modules = ["flynn_async", "flynn_async.ims", "flynn_async.batch", "flynn_async.einvoice"]
    seen: dict[str, str] = {}
    for module in modules:
        for name in importlib.import_module(module).__all__:
            assert name not in seen, f"{name} in {seen.get(name)} and {module}"
            seen[name] = module


@pytest.mark.parametrize(("name", "home"), sorted(MOVED.items()))
def test_an_old_top_level_name_warns_and_is_the_same_object(name: str, home: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"flynn_async\.{name} moved to {home}\.{name}"):
        old = getattr(flynn_async, name)
    assert old is getattr(importlib.import_module(home), name)
    assert name not in flynn_async.__all__


def test_an_old_name_warns_from_a_from_import() -> None:
    with pytest.warns(DeprecationWarning, match="flynn_async.ims.ImsInvoices"):
        from flynn_async import ImsInvoices
    assert ImsInvoices is importlib.import_module("flynn_async.ims").ImsInvoices


def test_page_codec_is_no_longer_public_and_warns() -> None:
    assert "PageCodec" not in flynn_async.__all__
    with pytest.warns(DeprecationWarning, match="no longer public"):
        codec = flynn_async.PageCodec
    assert codec is importlib.import_module("flynn_async._tasks._task").PageCodec


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        _ = flynn_async.Nonexistent
