"""IMS pages to typed records and back, and merging.

A page body is decoded in one typed call straight into the record structs
(:func:`decode_page_fast`) when it carries only what the models know; a page that carries more
(unknown fields or sections, a ``null`` where a value is optional, a code or a flag in a form
the models do not know, a repeated key) is read by the lossless path
(:func:`structure_invoices`), which keeps all of it and names the path of any bad value. Both
paths are described by the one wire codec, :mod:`flynn_async._core._codec`.

How the fast path knows a page needs more: the record structs forbid unknown fields and refuse
unknown codes, and the decoded page written back as JSON (in C) must have as many colons and
double quotes as the body. Every key of a JSON text is followed by one colon and written with
two quotes, every text value has two quotes, and the texts themselves are written back as they
were read; so the counts differ exactly when the body has a key the decoded page lost (a
repeated key, a ``null`` read as "absent"), a text where a number belongs (an amount sent as
``"1.50"``), or writes a colon or quote inside a text as an escape (rare; the lossless path then
decides).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable
from typing import Any, Final

import msgspec

from flynn_async._core import _codec
from flynn_async._core._errors import PartsDisagree as _PartsDisagree
from flynn_async._core._errors import ResponseError, SectionMismatch
from flynn_async._core._json import describe, loads
from flynn_async._core._values import EMPTY, FrozenMap, thaw
from flynn_async._http import _api
from flynn_async._http._envelope import unwrap

from . import _models as m

__all__ = ["decode_ims_page"]


_UNSET: Final = msgspec.UNSET


class _Data(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    """A page's ``data`` when it holds only the known sections."""

    b2b: tuple[m.ImsInvoice, ...] | msgspec.UnsetType = _UNSET
    b2ba: tuple[m.ImsAmendedInvoice, ...] | msgspec.UnsetType = _UNSET
    b2bdn: tuple[m.ImsNote, ...] | msgspec.UnsetType = _UNSET
    b2bdna: tuple[m.ImsAmendedNote, ...] | msgspec.UnsetType = _UNSET
    b2bcn: tuple[m.ImsNote, ...] | msgspec.UnsetType = _UNSET
    b2bcna: tuple[m.ImsAmendedNote, ...] | msgspec.UnsetType = _UNSET
    ecom: tuple[m.ImsInvoice, ...] | msgspec.UnsetType = _UNSET
    ecoma: tuple[m.ImsAmendedInvoice, ...] | msgspec.UnsetType = _UNSET


class _Page(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True, omit_defaults=True):
    """A whole page body: the API's envelope around ``data`` (every member kept as sent)."""

    status: Any = _UNSET
    data: _Data | msgspec.UnsetType = _UNSET
    error: Any = _UNSET
    info: Any = _UNSET
    additionalInfo: Any = _UNSET
    alert: Any = _UNSET


assert tuple(msgspec.structs.fields(_Data)[i].name for i in range(8)) == m.KNOWN_SECTIONS

_page_decoder: Final = _codec.typed_decoder(_Page)
_EMPTY_DATA: Final = _Data()
_encoder: Final = _codec.encoder()
#: Writes a decoded page back for counting only: amounts as text (much faster than as numbers),
#: dates and periods as empty texts (theirs hold no colon and no quote).
_counting_encoder: Final = msgspec.json.Encoder(enc_hook=lambda _: "", decimal_format="string")


def _layout(
    cls: type[m.ImsRecord],
) -> tuple[int, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Where a record class's wire fields sit in :func:`msgspec.structs.astuple`: its width,
    the positions of fields compared to ``None`` cheaply (text, codes, dates), of those
    counted by identity (money: ``Decimal == None`` asks ``numbers.Rational``; periods), and
    of its money fields (a subset of those)."""
    position = {info.name: i for i, info in enumerate(msgspec.structs.fields(cls))}
    fields = _codec.wire_fields(cls)
    slow = {"money", "period"}
    return (
        len(position),
        tuple(position[f.attr] for f in fields if f.kind not in slow),
        tuple(position[f.attr] for f in fields if f.kind in slow),
        tuple(position[f.attr] for f in fields if f.kind == "money"),
    )


_LAYOUT: Final = {cls: _layout(cls) for cls in set(m.SECTION_RECORD_TYPES.values())}


def _nones(values: list[Any]) -> int:
    """How many of ``values`` are ``None``, by identity (``Decimal == None`` is slow)."""
    return sum(map(operator.is_, values, itertools.repeat(None)))


def _same_keys_and_texts(body: bytes, page: _Page, data: _Data) -> bool:
    """Does ``page`` hold every key and text of ``body``, no more, no less?

    Every key of a JSON text is followed by one colon and written with two double quotes, and
    every text value has two quotes; so when no text holds a colon and no backslash escapes a
    quote, the body's colons are its keys and its quotes two per key and two per text. The
    decoded page's keys are its envelope's, its sections' and its records' set fields; its
    texts are the set fields other than money. A key sent twice, a ``null`` read as "absent"
    and an amount sent as text all change a count. When the counts differ (a colon inside a
    text), the page is written back as JSON in C and the two compared the same way, the
    written-back texts holding the same colons and quotes as the body's; a body with an escape
    (a backslash) is then left to the lossless path. Counting can only err towards that path:
    the body's colons and quotes are never fewer than the keys and texts it really holds.
    """
    envelope = _encoder.encode(msgspec.structs.replace(page, data=_EMPTY_DATA))
    keys = envelope.count(b":")
    quotes = envelope.count(b'"')
    money = 0
    for name in m.KNOWN_SECTIONS:
        records = getattr(data, name)
        if records is _UNSET:
            continue
        keys += 1
        quotes += 2
        if not records:
            continue
        width, cheap_at, slow_at, money_at = _LAYOUT[type(records[0])]
        n = len(records)
        values = list(itertools.chain.from_iterable(map(_astuple, records)))
        set_cheap = sum(n - values[i::width].count(None) for i in cheap_at)
        set_by_slot = {i: n - _nones(values[i::width]) for i in slow_at}
        set_slow = sum(set_by_slot.values())
        set_money = sum(set_by_slot[i] for i in money_at)
        money += set_money
        keys += set_cheap + set_slow
        quotes += 4 * (set_cheap + set_slow) - 2 * set_money
    colons = body.count(b":")
    if colons == keys and body.count(b'"') == quotes:
        return True
    if b"\\" in body:  # an escape could make a text's colons differ once written back
        return False
    again = _counting_encoder.encode(page)  # amounts written as text: 2 quotes each
    return again.count(b":") == colons and again.count(b'"') - 2 * money == body.count(b'"')


_astuple: Final = msgspec.structs.astuple


def decode_page_fast(body: bytes) -> m.ImsInvoices | None:
    """A successful page's records in one typed call, or ``None`` if the page needs more.

    ``None`` means only "not this way": the body may be an error envelope, carry what the
    models do not know, repeat a key, or not be JSON at all. The caller then reads it the
    general way (:func:`structure_invoices` after the envelope is checked), which keeps
    everything or raises the precise error. Never raises.
    """
    try:
        page = _page_decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    data = page.data
    if data is _UNSET:
        return None
    status = page.status
    if status is _UNSET:
        if page.error is not _UNSET and page.error is not None:
            return None
    elif status != _api.STATUS_OK:
        return None
    if not _same_keys_and_texts(body, page, data):
        return None
    sections = {
        name: records for name in m.KNOWN_SECTIONS if (records := getattr(data, name)) is not _UNSET
    }
    return m.ImsInvoices(**sections, present=frozenset(sections))


# ----------------------------------------------------------------------------------------------
# Pages and results
# ----------------------------------------------------------------------------------------------


def structure_invoices(
    data: Any,
    *,
    route: str | None = None,
    task_id: str | None = None,
    page: int | None = None,
) -> m.ImsInvoices:
    """Turn a page's ``data`` into :class:`~flynn_async.ims.ImsInvoices` (typed, lossless)."""
    where: dict[str, Any] = {"route": route, "task_id": task_id, "page": page}
    try:
        return _structure_invoices(data, where)
    except RecursionError:  # values too deeply nested to keep (frozen) in a record
        raise ResponseError("page data is nested too deeply", **where) from None


def _structure_invoices(data: Any, where: dict[str, Any]) -> m.ImsInvoices:
    if type(data) is not dict:
        raise ResponseError(f"page data must be a JSON object, got {describe(data)}", **where)
    known: dict[str, tuple[Any, ...]] = {}
    other: dict[str, tuple[Any, ...]] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        cls = m.SECTION_RECORD_TYPES.get(key)
        if type(value) is not list:
            if cls is not None:
                raise ResponseError(
                    f"section {key!r} must be a list, got {describe(value)}", **where
                )
            extra[key] = value
            continue
        if cls is None:
            for i, item in enumerate(value):
                if type(item) is not dict:
                    raise ResponseError(
                        f"record must be a JSON object, got {describe(item)} @ $.{key}[{i}]",
                        **where,
                    )
            other[key] = tuple(FrozenMap(item) for item in value)
            continue
        known[key] = _codec.structure_many(cls, value, f"$.{key}", where)
    return m.ImsInvoices(
        **known,
        other_sections=FrozenMap(other) if other else EMPTY,
        extra=FrozenMap(extra) if extra else EMPTY,
        present=frozenset(key for key, value in data.items() if type(value) is list),
    )


def decode_ims_page(body: bytes) -> m.ImsInvoices:
    """Decode one whole IMS result page body (the envelope included) into typed records.

    Raises :class:`~flynn_async.ResponseError` when the body is not JSON or not a page, and an
    :class:`~flynn_async.ApiError` when it is an error envelope.
    """
    fast = decode_page_fast(body)
    if fast is not None:
        return fast
    try:
        document = loads(body)
    except msgspec.DecodeError as exc:
        raise ResponseError(f"page body is not valid JSON: {exc}") from None
    return structure_invoices(unwrap(document, http_status=200))


def unstructure_invoices(result: m.ImsInvoices) -> dict[str, Any]:
    """An :class:`~flynn_async.ims.ImsInvoices` as page ``data`` (lower-case section keys)."""
    out: dict[str, Any] = {}
    for name in result.section_names():
        if name in m.SECTION_RECORD_TYPES:
            known: tuple[m.ImsRecord, ...] = getattr(result, name)
            out[name] = [_codec.to_wire(r) for r in known]
        else:
            out[name] = [thaw(r) for r in result.other_sections[name]]
    out.update(thaw(result.extra))
    return out


def merge_invoices(parts: Iterable[m.ImsInvoices]) -> m.ImsInvoices:
    """Concatenate results section by section, in the order given.

    The result is what is held: values that repeat from record to record are shared
    (:func:`~flynn_async.ims._models.keep_once`).
    """
    parts = list(parts)
    for part in parts:
        for key in m.KNOWN_SECTIONS:
            m.keep_once(getattr(part, key))
    if len(parts) == 1:
        return parts[0]
    known: dict[str, list[Any]] = {k: [] for k in m.KNOWN_SECTIONS}
    other: dict[str, list[Any]] = {}
    extra: dict[str, Any] = {}
    present: set[str] = set()
    for index, part in enumerate(parts):
        for key in m.KNOWN_SECTIONS:
            records = getattr(part, key)
            if records:
                known[key].extend(records)
        for key, records in part.other_sections.items():
            other.setdefault(key, []).extend(records)
        for key, value in part.extra.items():
            if key in extra and extra[key] != value:
                raise _PartsDisagree(
                    f"pages disagree about {key!r}: {extra[key]!r:.60} before, {value!r:.60} "
                    f"in the page at index {index} (from 0)"
                )
            extra[key] = value
        present |= part.present
    return m.ImsInvoices(
        **{k: tuple(v) for k, v in known.items()},
        other_sections=FrozenMap({k: tuple(v) for k, v in other.items()}) if other else EMPTY,
        extra=FrozenMap(extra) if extra else EMPTY,
        present=frozenset(present),
    )


def combine_sections(
    results: dict[m.ImsSection, m.ImsInvoices], task_ids: dict[m.ImsSection, str]
) -> m.ImsInvoices:
    """Merge per-section task results, each section from its own task, checked for agreement."""
    known: dict[str, tuple[Any, ...]] = {}
    owner: dict[str, str] = {}
    for section, result in results.items():
        known[section.key] = result.section(section.key)
        owner[section.key] = task_ids[section]
    other: dict[str, tuple[Any, ...]] = {}
    extra: dict[str, Any] = {}
    present: set[str] = {s.key for s in results}
    for section, result in results.items():
        tid = task_ids[section]
        for name in result.section_names():
            if name == section.key:
                continue
            records = result.section(name)
            present.add(name)
            if not records:
                continue  # an empty list claims nothing: the section's own task speaks for it
            target = known if name in m.KNOWN_SECTIONS else other
            if name in target:
                if target[name] != records:
                    raise SectionMismatch(
                        f"section {name!r} differs between task {owner[name]} "
                        f"({len(target[name])} records) and task {tid} ({len(records)} records)",
                        task_id=tid,
                    )
            else:
                target[name] = records
                owner[name] = tid
        for key, value in result.extra.items():
            if key in extra and extra[key] != value:
                raise SectionMismatch(f"tasks disagree about {key!r}", task_id=tid)
            extra[key] = value
    return m.ImsInvoices(
        **known,
        other_sections=FrozenMap(other),
        extra=FrozenMap(extra),
        present=frozenset(present),
    )
