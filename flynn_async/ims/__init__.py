"""IMS (Invoice Management System) invoices: the records, the merged result, the downloads.

``from flynn_async.ims import ImsInvoices, ImsSection`` (these names left the top level in
0.2; the old names still work for one release, with a ``DeprecationWarning``).

``_models`` holds the records and the merged :class:`~flynn_async.ims.ImsInvoices`; ``_decoding``
turns pages into records (and back); ``_download`` is the IMS API (submit, resume, download
sections). Imports only the layers below (``_core``, ``_http``, ``_tasks``, ``gst``); the
batch runner sits above it and this package never imports it.
"""

from ._decoding import decode_ims_page
from ._download import ImsApi
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

__all__ = [
    "FilingStatus",
    "ImsAmendedInvoice",
    "ImsAmendedNote",
    "ImsApi",
    "ImsInvoice",
    "ImsInvoices",
    "ImsNote",
    "ImsRecord",
    "ImsSection",
    "ImsStatus",
    "InvoiceType",
    "SectionTotals",
    "SourceForm",
    "decode_ims_page",
]
