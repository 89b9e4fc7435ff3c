"""A multi-file GSTR-2B put together (``flynn-api.md`` section 13).

A large 2B answers with ``fc`` (the file count K) in its document and no ``docdata``, or only
the first file's. The client then gets files 1 to K and appends each section's lists of
``docdata`` and ``docRejdata`` in file order; the first answer's own lists are file 1 again,
so they are not added twice. The header and the summaries are taken from the first answer.
"""

from __future__ import annotations

from typing import Any

from flynn_async._core._errors import ResponseError
from flynn_async._http import _api

from ._models import Gstr2b, Gstr2bDocuments, Where, decode_documents, decode_header

__all__ = ["check_document", "file_count", "merge_files"]


def file_count(document: Any, route: str | None = None) -> int | None:
    """The document's file count ``fc``, ``None`` for a one-file 2B."""
    if not isinstance(document, dict):
        return None
    value = document.get(_api.GSTR2B_FILE_COUNT_KEY)
    if value is None:
        return None
    if type(value) is not int or not 1 <= value <= 10_000:
        raise ResponseError(
            f"GSTR-2B file count must be 1 to 10000, got {value!r:.40}", route=route
        )
    return value


def check_document(
    document: Any,
    *,
    gstin: str,
    period: str,
    count: int | None,
    route: str | None = None,
    file_num: int | None = None,
) -> None:
    """Refuse a document (or file ``file_num``) that is not of the 2B asked for.

    Its ``gstin`` and ``rtnprd`` must be the taxpayer's and the period asked for (the first
    answer must send them; a file may leave them out); a file's ``fc``, when sent, must be
    the first answer's ``count``.
    """
    if not isinstance(document, dict):
        return  # the decoder names it
    which = "GSTR-2B answer" if file_num is None else f"GSTR-2B file {file_num}"
    for key, wanted in (("gstin", gstin), ("rtnprd", period)):
        sent = document.get(key)
        if sent is None and file_num is None:  # every 2B document has its header
            raise ResponseError(
                f"{which} has no {key!r}: it is not a GSTR-2B document (keys: "
                f"{', '.join(sorted(map(str, document)))[:120]})",
                route=route,
            )
        if sent is not None and sent != wanted:
            raise ResponseError(
                f"{which} is for {key} {sent!r:.40}, not the {key} asked for ({wanted})",
                route=route,
                page=file_num,
            )
    sent = document.get(_api.GSTR2B_FILE_COUNT_KEY)
    if file_num is not None and sent is not None and sent != count:
        raise ResponseError(
            f"{which} gives a file count of {sent!r:.40}, the first answer {count}: the "
            "files changed while they were fetched",
            route=route,
            page=file_num,
        )


def merge_files(first: Any, files: list[Any], route: str | None = None) -> Gstr2b:
    """One :class:`Gstr2b` from the first answer's document and files 1 to K, in order."""
    fields = decode_header(first, Where(route))
    parts: dict[str, list[Gstr2bDocuments]] = {key: [] for key in _api.GSTR2B_DOCUMENT_LISTS}
    for number, document in enumerate(files, start=1):
        where = Where(route, number)
        if not isinstance(document, dict):
            raise ResponseError(f"GSTR-2B file {number} is not an object", route=route, page=number)
        for key in _api.GSTR2B_DOCUMENT_LISTS:
            decoded = decode_documents(document, key, where)
            if decoded is not None:
                parts[key].append(decoded)
    merged = {key: Gstr2bDocuments.merge(found) if found else None for key, found in parts.items()}
    return Gstr2b(
        **fields,
        documents=merged["docdata"],
        rejected=merged["docRejdata"],
        files=len(files),
    )
