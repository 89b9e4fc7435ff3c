"""GSTR-2B: the statement of input tax credit, typed and exact (``client.gstr2b``).

:meth:`Gstr2bApi.download` returns a period's :class:`Gstr2b` (every file of a large 2B,
merged); :meth:`Gstr2bApi.regenerate` asks the portal to recompute it after IMS actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from flynn_async._core._lazy import lazy_names

from ._service import Gstr2bApi, Gstr2bRegeneration, RegenerationCallback

if TYPE_CHECKING:  # at run time these come from __getattr__ below, on first use
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

#: The models' names and their module: the 2B models (:mod:`._models`, :mod:`._merge`) are
#: imported when one of them is first asked for (or on the first download), not with the
#: package.
_LAZY: Final = {
    "merge_files": "_merge",
    "Gstr2b": "_models",
    "Gstr2bBillOfEntry": "_models",
    "Gstr2bDocuments": "_models",
    "Gstr2bInvoice": "_models",
    "Gstr2bIsdDocument": "_models",
    "Gstr2bItem": "_models",
    "Gstr2bNote": "_models",
    "Gstr2bSupplier": "_models",
    "Gstr2bSupplierSummary": "_models",
    "ItcBucket": "_models",
    "ItcGroup": "_models",
    "ItcSummary": "_models",
    "TaxAmounts": "_models",
    "decode_gstr2b": "_models",
}


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY)
