"""GSTR-2B: the statement of input tax credit, typed and exact (``client.gstr2b``).

:meth:`Gstr2bApi.download` returns a period's :class:`Gstr2b` (every file of a large 2B,
merged); :meth:`Gstr2bApi.regenerate` asks the portal to recompute it after IMS actions.
"""

from __future__ import annotations

from ._merge import merge_files
from ._models import (
    Gstr2b,
    Gstr2bBillOfEntry,
    Gstr2bDocuments,
    Gstr2bInvoice,
    Gstr2bIsdDocument,
    Gstr2bItem,
    Gstr2bNote,
    Gstr2bSupplier,
    Gstr2bSupplierSummary,
    ItcBucket,
    ItcGroup,
    ItcSummary,
    TaxAmounts,
    decode_gstr2b,
)
from ._service import Gstr2bApi, Gstr2bRegeneration, RegenerationCallback

__all__ = [
    "Gstr2b",
    "Gstr2bApi",
    "Gstr2bBillOfEntry",
    "Gstr2bDocuments",
    "Gstr2bInvoice",
    "Gstr2bIsdDocument",
    "Gstr2bItem",
    "Gstr2bNote",
    "Gstr2bRegeneration",
    "Gstr2bSupplier",
    "Gstr2bSupplierSummary",
    "ItcBucket",
    "ItcGroup",
    "ItcSummary",
    "RegenerationCallback",
    "TaxAmounts",
    "decode_gstr2b",
    "merge_files",
]
