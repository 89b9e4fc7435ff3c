"""IMS pages to typed records and back, and merging.

A page body is decoded in one typed call straight into the record structs
(:func:`decode_page_fast`) when it carries only what the models know. When the typed call
refuses some of its records (an unknown field, a code or a flag in a form the models do not
know), the page is read a record at a time: the typed call for the records it takes, the
lossless path for the others (:func:`_decode_by_record`); a page refused at its first record
is read whole by the lossless path. A page with an unknown section, a ``null``, a repeated key
or an amount sent as text goes the general way (:func:`structure_invoices`), which keeps all
of it or names the path of any bad value. Every path is described by the one wire codec,
:mod:`flynn_async._core._codec`.

How the typed call's pages are checked: the record structs forbid unknown fields and refuse
unknown codes, and the decoded records must account for every colon and double quote of the
bytes they came from (:func:`_count_records`). Every key of a JSON text is followed by one
colon and written with two quotes, every text value has two quotes; so the counts differ
exactly when the body has a key the decoded records lost (a repeated key, a ``null`` read as
"absent"), a text where a number belongs (an amount sent as ``"1.50"``), or a colon or quote
inside a text (the page is then written back as JSON in C and compared; with an escape, the
lossless path decides).
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NamedTuple, cast

import msgspec

from flynn_async._core import _codec
from flynn_async._core._errors import FlynnError, ResponseError, SectionMismatch
from flynn_async._core._errors import PartsDisagree as _PartsDisagree
from flynn_async._core._json import describe, loads
from flynn_async._core._values import EMPTY, FrozenMap, thaw
from flynn_async._http import _api
from flynn_async._http._envelope import unwrap

from . import _models as m

__all__ = ["PageReader", "decode_ims_page"]


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


assert _Data.__struct_fields__ == m.KNOWN_SECTIONS
#: The page structs' configuration (``_Page`` and ``_Data`` are declared with it too).
_STRICT: Final[dict[str, Any]] = {
    "frozen": True,
    "gc": False,
    "forbid_unknown_fields": True,
    "omit_defaults": True,
}


@functools.cache
def _decoders() -> tuple[Callable[[bytes], _Page], Callable[[bytes], Any]]:
    """The page decoders (typed, and with the records left as JSON), built on first use: a
    decoder resolves every record class's annotations, which ``import flynn_async`` need not
    pay for."""
    return _codec.typed_decoder(_Page).decode, _codec.typed_decoder(_RawPage).decode


@functools.cache
def _record_decoder(cls: type[m.ImsRecord]) -> Callable[[msgspec.Raw], m.ImsRecord]:
    """One record class's typed decoder (built on first use)."""
    return _codec.typed_decoder(cls).decode


def typed_page(body: bytes) -> Any:
    """The typed call alone, without the count check (for the benchmarks)."""
    return _decoders()[0](body)


_EMPTY_DATA: Final = _Data()
_encoder: Final = _codec.encoder()
#: Writes a decoded page back for counting only: amounts as text (much faster than as numbers),
#: dates and periods as empty texts (theirs hold no colon and no quote).
_counting_encoder: Final = msgspec.json.Encoder(enc_hook=lambda _: "", decimal_format="string")


class _Layout(NamedTuple):
    """Where a record class's fields sit in :func:`msgspec.structs.astuple`, for the count
    check."""

    #: The tuple's width.
    width: int
    #: How many fields every record of the class has (the required ones), and how many of
    #: those are money (JSON numbers: no quotes).
    required: int
    required_money: int
    #: Optional fields compared to ``None`` cheaply (text, codes, dates).
    cheap: tuple[int, ...]
    #: Optional fields counted by identity (money: ``Decimal == None`` asks
    #: ``numbers.Rational``; periods: their ``__eq__`` is Python); and the money among them.
    slow: tuple[int, ...]
    money: tuple[int, ...]


@functools.cache
def _layout(cls: type[m.ImsRecord]) -> _Layout:
    """A record class's layout (worked out on first use)."""
    position = {info.name: i for i, info in enumerate(msgspec.structs.fields(cls))}
    fields = _codec.wire_fields(cls)
    optional = [f for f in fields if not f.required]
    required = [f for f in fields if f.required]
    slow = {"money", "period"}
    return _Layout(
        width=len(position),
        required=len(required),
        required_money=sum(f.kind == "money" for f in required),
        cheap=tuple(position[f.attr] for f in optional if f.kind not in slow),
        slow=tuple(position[f.attr] for f in optional if f.kind in slow),
        money=tuple(position[f.attr] for f in optional if f.kind == "money"),
    )


def _nones(values: list[Any]) -> int:
    """How many of ``values`` are ``None``, by identity (``Decimal == None`` is slow)."""
    return sum(map(operator.is_, values, itertools.repeat(None)))


#: Bytes the count check counts: colons and double quotes (deleted to count both in one pass).
_COUNTED: Final = b':"'


def _counted(body: bytes) -> int:
    """The colons and double quotes of ``body``, in one pass (in C)."""
    return len(body) - len(body.translate(None, _COUNTED))


class _Counted(NamedTuple):
    """What typed records hold, for the count check."""

    #: The colons and double quotes they would be written with.
    expected: int
    #: Their set amounts (JSON numbers: no quotes).
    money: int


def _count_records(records: Sequence[m.ImsRecord]) -> _Counted:
    """The colons and quotes ``records`` (of one class) would be written with, and their set
    amounts.

    Every key of a JSON text is followed by one colon and written with two double quotes, and
    every text value has two quotes: three per set field, two more per set field other than
    money.
    """
    layout = _layout(type(records[0]))
    n = len(records)
    values = list(itertools.chain.from_iterable(map(_astuple, records)))
    width = layout.width
    cheap = sum(n - values[i::width].count(None) for i in layout.cheap)
    slow = {i: n - _nones(values[i::width]) for i in layout.slow}
    money = n * layout.required_money + sum(slow[i] for i in layout.money)
    keys = n * layout.required + cheap + sum(slow.values())
    return _Counted(3 * keys + 2 * (keys - money), money)


def _skeleton(page: Any, sections: int) -> int:
    """The colons and quotes of a page outside its records: its envelope (written back) and
    its sections' keys."""
    envelope = _encoder.encode(msgspec.structs.replace(page, data=_EMPTY_DATA))
    return _counted(envelope) + 3 * sections


def _same_keys_and_texts(body: bytes, page: _Page, data: _Data) -> bool:
    """Does ``page`` hold every key and text of ``body``, no more, no less?

    When no text holds a colon and no backslash escapes a quote, the body's colons and quotes
    number three per key and two per text (:func:`_count_records`). The decoded page's keys
    are its envelope's, its sections' and its records' set fields; its texts are the set
    fields other than money. A key sent twice, a ``null`` read as "absent" and an amount sent
    as text each leave the decoded page with fewer, never more: so the two sums are equal
    exactly when nothing was lost. When they differ (a colon inside a text), the page is
    written back as JSON in C and the two compared the same way, the written-back texts
    holding the same colons and quotes as the body's; a body with an escape (a backslash) is
    then left to the lossless path. Counting can only err towards that path.
    """
    present = [r for name in m.KNOWN_SECTIONS if (r := getattr(data, name)) is not _UNSET]
    sections = [records for records in present if records]
    tables = list(map(_count_records, sections))
    expected = _skeleton(page, len(present)) + sum(t.expected for t in tables)
    counted = _counted(body)
    if counted != expected:
        if b"\\" in body:  # an escape could make a text's colons differ once written back
            return False
        again = _counting_encoder.encode(page)  # amounts as texts: two quotes each, taken off
        if _counted(again) - 2 * sum(t.money for t in tables) != counted:
            return False
    return True


_astuple: Final = msgspec.structs.astuple


def _success_data(page: Any) -> Any:
    """The ``data`` of ``page`` if it is a success envelope around it, else ``None``."""
    data = page.data
    if data is _UNSET:
        return None
    status = page.status
    if status is _UNSET:
        return data if page.error is _UNSET or page.error is None else None
    return data if status == _api.STATUS_OK else None


def decode_page_fast(body: bytes) -> m.ImsInvoices | None:
    """A successful page's records, in one typed call when the page carries only what the
    models know, or ``None`` if the page needs the general way.

    A page whose typed call fails (a record with an unknown field, a ``null``, a code or a
    flag in a form the models do not know) is read a record at a time
    (:func:`_decode_by_record`): the typed call for every record it takes, the lossless path
    for the others.

    ``None`` means only "not this way": the body may be an error envelope, carry a section the
    models do not know, repeat a key, or not be JSON at all. The caller then reads it the
    general way (:func:`structure_invoices` after the envelope is checked), which keeps
    everything or raises the precise error. Never raises.
    """
    return _read(body)[0]


def _read(body: bytes) -> tuple[m.ImsInvoices | None, bool]:
    """:func:`decode_page_fast`, and whether the page was read a record at a time with some
    of its records refused by the typed call (so the next page of its kind likely will be)."""
    try:
        page = _decoders()[0](body)
    except msgspec.ValidationError as exc:
        if _FIRST_RECORD.search(str(exc)):  # likely every record: the whole page losslessly
            return _decode_whole(body), False
        return _by_record(body)
    except (msgspec.DecodeError, RecursionError):
        return None, False
    data = _success_data(page)
    if data is None:
        return None, False
    if not _same_keys_and_texts(body, page, data):
        return _decode_by_record(body), False
    sections = {
        name: records for name in m.KNOWN_SECTIONS if (records := getattr(data, name)) is not _UNSET
    }
    return m.ImsInvoices(**sections, present=frozenset(sections)), False


class PageReader:
    """Reads the page bodies of one task in one typed call each (:func:`decode_page_fast`),
    learning from one page how to start the next.

    The pages of one download share a shape: when the typed call refused some of a page's
    records (an undocumented field in one record of twenty is enough), the next page is read a
    record at a time at once, without first trying it whole (which would be refused too, after
    decoding up to the refused record for nothing); a page with no record refused sends the
    next one back to the whole typed call, and so does a page that cannot be read a record at a
    time (an unknown section: it is then read as :func:`decode_page_fast` reads it). A choice
    of speed only: every page decodes to the same result either way.
    """

    __slots__ = ("_by_record",)

    def __init__(self) -> None:
        self._by_record = False

    @property
    def by_record(self) -> bool:
        """Will the next page be read a record at a time from the start?"""
        return self._by_record

    def __call__(self, body: bytes) -> m.ImsInvoices | None:
        """The page, or ``None`` when it needs the general way (never raises)."""
        if self._by_record:
            page, self._by_record = _by_record(body)
            if page is not None:
                return page
        page, self._by_record = _read(body)  # (again, if a record at a time would not do)
        return page


#: Where the typed call refused a page when it was the first record of a section. Records of
#: one page share a shape, so such a page is likely refused record after record: it is read
#: whole by the lossless path at once (a choice of speed only; any page is read right
#: either way).
_FIRST_RECORD: Final = re.compile(r"\$\.data\.\w+\[0\][.`]")


def _decode_whole(body: bytes) -> m.ImsInvoices | None:
    """A whole page by the lossless path, or ``None`` for the general way to name the problem.

    The records are looked at for ``null`` values only when the body holds more ``null``
    than the envelope's top level (which the new envelope always has).
    """
    try:
        document = loads(body)
        data = unwrap(document, http_status=200)
    except (msgspec.DecodeError, FlynnError):
        return None
    envelope_nulls = sum(value is None for value in document.values())
    try:
        nulls = body.count(b"null") != envelope_nulls
        return _structure_invoices(data, {}, nulls=nulls, fresh=True)
    except (ResponseError, RecursionError):
        return None


#: The page again with each record left as its JSON (``msgspec.Raw``): the same sections and
#: envelope as :class:`_Data` and :class:`_Page`, made from their fields.
_RawData: Final = msgspec.defstruct(
    "_RawData",
    [(key, tuple[msgspec.Raw, ...] | msgspec.UnsetType, _UNSET) for key in _Data.__struct_fields__],
    **_STRICT,
)
_RawPage: Final = msgspec.defstruct(
    "_RawPage",
    [
        (name, _RawData | msgspec.UnsetType if name == "data" else Any, _UNSET)
        for name in _Page.__struct_fields__
    ],
    **_STRICT,
)


class _NotThisWay(Exception):
    """A record the lossless path refuses: the general way names the problem."""


def _decode_by_record(body: bytes) -> m.ImsInvoices | None:
    """A page's records a record at a time: the typed call for each record it takes, the
    lossless path (:func:`~flynn_async._core._codec.structure_many`) for the others.

    The records the typed call took, and the page's envelope and section keys, are counted as
    a whole page is (:func:`_count_records`), against the body less the other records' bytes;
    the others keep everything by construction (their JSON is read with the repeated-key
    check). ``None`` when the count does not add up, when a record is bad (the general way
    names it), or when the page is not a success envelope of known sections.
    """
    return _by_record(body)[0]


def _by_record(body: bytes) -> tuple[m.ImsInvoices | None, bool]:
    """:func:`_decode_by_record`, and whether the typed call refused any record."""
    try:
        page = _decoders()[1](body)
    except (msgspec.DecodeError, RecursionError):
        return None, False
    data = _success_data(page)
    if data is None:
        return None, False
    decoded: dict[str, Any] = {}
    other_raws: list[msgspec.Raw] = []
    tables: list[_Counted] = []
    try:
        for name in m.KNOWN_SECTIONS:
            raws = getattr(data, name)
            if raws is _UNSET:
                continue
            records, typed = _records_of(m.SECTION_RECORD_TYPES[name], raws)
            decoded[name] = tuple(records)
            other_raws += itertools.compress(raws, map(operator.not_, typed))
            taken = list(itertools.compress(records, typed))
            if taken:
                tables.append(_count_records(taken))
    except _NotThisWay:
        return None, True
    # The body is its skeleton, the typed records' bytes and the others' (commas and brackets
    # between them count nothing); the typed records and the skeleton can each only be found
    # short of their bytes, never over: so one sum checks both.
    expected = _skeleton(page, len(decoded)) + sum(t.expected for t in tables)
    refused = bool(other_raws)
    if _counted(body) - _counted(b"".join(other_raws)) != expected:
        return None, refused
    return m.ImsInvoices(**decoded, present=frozenset(decoded)), refused


#: After this many records in a row that the typed call refuses, the rest of the section is
#: read the lossless way without trying (the page's records share one shape).
_TRIES: Final = 8


def _records_of(
    cls: type[m.ImsRecord], raws: tuple[msgspec.Raw, ...]
) -> tuple[list[m.ImsRecord], list[bool]]:
    """A section's records from their JSON, and which of them the typed call took.

    The others are read together by the lossless path (one JSON document of their bytes).
    """
    decode = _record_decoder(cls)
    records: list[m.ImsRecord | None] = []
    remaining = iter(raws)
    refused = 0  # records refused in a row
    while True:
        before = len(records)
        try:
            records.extend(map(decode, remaining))  # in C, up to a record it refuses
            break
        except (msgspec.DecodeError, RecursionError):
            refused = 1 if len(records) > before else refused + 1
            records.append(None)  # the refused one, already taken from ``remaining``
        if refused >= _TRIES:
            records += [None] * (len(raws) - len(records))
            break
    if None not in records:
        return cast("list[m.ImsRecord]", records), [True] * len(records)
    typed = [record is not None for record in records]
    odd = b",".join(raw for raw, ok in zip(raws, typed, strict=True) if not ok)
    try:
        items = loads(b"[" + odd + b"]")
        kept = iter(_codec.structure_many(cls, items, "$", nulls=b"null" in odd, fresh=True))
    except (msgspec.DecodeError, RecursionError, ResponseError):
        raise _NotThisWay from None
    return [record if record is not None else next(kept) for record in records], typed


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


def _structure_invoices(
    data: Any, where: dict[str, Any], *, nulls: bool = True, fresh: bool = False
) -> m.ImsInvoices:
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
        known[key] = _codec.structure_many(cls, value, f"$.{key}", where, nulls=nulls, fresh=fresh)
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


def hold_invoices(page: m.ImsInvoices) -> None:
    """Share, in place, the values of a page's records that repeat from record to record
    (:func:`~flynn_async.ims._models.keep_once`): for a page that will be held, done as soon
    as it is decoded, while its records are still in the processor's cache (about half the
    time of doing it once all pages are in)."""
    for key in m.KNOWN_SECTIONS:
        records = getattr(page, key)
        if records:
            m.keep_once(records)


def merge_invoices(parts: Iterable[m.ImsInvoices]) -> m.ImsInvoices:
    """Concatenate results section by section, in the order given.

    A task's result shares the values that repeat from record to record: each page is
    readied to be held as it is decoded (:func:`hold_invoices`).
    """
    parts = list(parts)
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
