"""IMS (Invoice Management System) invoices: the records, the merged result, the downloads.

``from flynn_async.ims import ImsInvoices, ImsSection`` (these names left the top level in
0.2; the old names still work for one release, with a ``DeprecationWarning``).

``_models`` holds the records and the merged :class:`~flynn_async.ims.ImsInvoices`; ``_decoding``
turns pages into records (and back); ``_download`` is the IMS API (submit, resume, download
sections); ``_counts``, ``_rules`` and ``_actions`` are the counts, the rules table and the
save, reset and request-status calls (acting on invoices, see ``docs/actions.md``); ``_imports``
the bills of entry. Imports only the layers below (``_core``, ``_http``, ``_tasks``, ``gst``); the
batch runner sits above it and this package never imports it.
"""

from ._actions import (
    ADVICE,
    ImsActionResult,
    ImsDecision,
    ImsRecordError,
    ImsRequestStatus,
    ItcReduction,
)
from ._counts import ImsCounts, SectionCounts
from ._decoding import decode_ims_page
from ._download import ImsApi
from ._imports import ImsImport
from ._models import (
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
from ._rules import RULES, DecisionProblem, Rule

__all__ = [
    "ADVICE",
    "RULES",
    "DecisionProblem",
    "FilingStatus",
    "ImsActionResult",
    "ImsAmendedInvoice",
    "ImsAmendedNote",
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
]
