"""Bytes to typed values and back: JSON with exact decimals, IMS records, merging.

JSON is read with msgspec, every JSON number with a fraction or exponent becoming a
:class:`~decimal.Decimal` of exactly the digits sent (never a float). Records are built by a
specialised function generated once per record class (the fast path); when it meets data that
breaks the schema, the library's private cattrs converter structures the same record with
detailed validation to name the path to every bad field. The converter also turns records back
into server-shaped dictionaries (``to_dict``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from types import NoneType, UnionType
from typing import Any, Final, Union, get_args, get_origin

import attrs
import cattrs
import msgspec
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from . import _models as m
from ._errors import ResponseError, SectionMismatch

__all__ = ["decode_ims_page", "dumps", "loads"]

_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)
_encoder: Final = msgspec.json.Encoder(decimal_format="number")


def loads(body: bytes | str) -> Any:
    """Parse JSON; numbers with a fraction or exponent become exact ``Decimal`` values.

    Raises ``msgspec.DecodeError`` on malformed JSON.
    """
    return _decoder.decode(body)


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, date | datetime):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


_result_encoder: Final = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)


def dumps(obj: Any) -> bytes:
    """JSON bytes with ``Decimal`` amounts written as numbers with their exact digits."""
    return _result_encoder.encode(obj)


# ----------------------------------------------------------------------------------------------
# Scalar checks shared by the fast path and the cattrs hooks. Nothing is coerced: a string
# where a number belongs, or a number where text belongs, is an error.
# ----------------------------------------------------------------------------------------------


def _money(value: Any, _: Any = None) -> Decimal:
    if type(value) is Decimal:
        if not value.is_finite():
            raise ValueError(f"amount must be finite, got {value}")
        return value
    if type(value) is int:
        return Decimal(value)
    raise TypeError(f"expected a JSON number, got {_describe(value)}")


#: Whole-rupee amounts (zero above all) repeat: share one immutable Decimal per value.
_int_money: Final = functools.lru_cache(maxsize=4096)(Decimal)


def _text(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    raise TypeError(f"expected a string, got {_describe(value)}")


@functools.lru_cache(maxsize=8192)
def _parse_date(value: str, fmt: str) -> date:
    if len(value) != 10:
        raise ValueError(f"expected a date as {fmt.replace('%', '')}, got {value!r}")
    return datetime.strptime(value, fmt).date()


@functools.lru_cache(maxsize=8192)
def _ims_date_cached(value: str) -> date:
    if len(value) != 10:
        raise ValueError(f"expected a date as DD-MM-YYYY, got {value!r}")
    return datetime.strptime(value, m.IMS_DATE_FORMAT).date()


def _ims_date(value: Any, _: Any = None) -> date:
    if type(value) is not str:
        raise TypeError(f"expected a date string, got {_describe(value)}")
    try:
        return _parse_date(value, m.IMS_DATE_FORMAT)
    except ValueError:
        raise ValueError(f"expected a date as DD-MM-YYYY, got {value!r}") from None


def _period(value: Any, _: Any = None) -> m.ReturnPeriod:
    if type(value) is not str:
        raise TypeError(f"expected a return period string, got {_describe(value)}")
    return m.ReturnPeriod.parse(value)


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _open_enum_parser(enum_cls: type[m._OpenEnum]) -> Callable[[Any, Any], str]:
    members: dict[str, str] = {member.value: member for member in enum_cls}

    def parse(value: Any, _: Any = None) -> str:
        if type(value) is not str:
            raise TypeError(f"expected a {enum_cls.__name__} code, got {_describe(value)}")
        return members.get(value, value)

    parse.members = members  # type: ignore[attr-defined]
    return parse


def _open_enum_of(tp: Any) -> type[m._OpenEnum] | None:
    """``SomeEnum`` for ``SomeEnum | str`` (an open enum), else ``None``."""
    if get_origin(tp) not in (Union, UnionType):
        return None
    args = [a for a in get_args(tp) if a is not NoneType]
    if len(args) == 2 and str in args:
        other = args[0] if args[1] is str else args[1]
        if isinstance(other, type) and issubclass(other, m._OpenEnum):
            return other
    return None


# ----------------------------------------------------------------------------------------------
# Field tables
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class _Field:
    name: str
    wire: str
    required: bool
    parse: Callable[[Any, Any], Any] | None  # None: take the value as it is (never used yet)
    unparse: Callable[[Any], Any] | None


def _field_codec(
    f: attrs.Attribute[Any],
) -> tuple[Callable[[Any, Any], Any], Callable[[Any], Any] | None]:
    tp = f.type
    if m.DATE_FORMAT in f.metadata:
        fmt = f.metadata[m.DATE_FORMAT]
        return _ims_date, lambda d: d.strftime(fmt)
    enum_cls = _open_enum_of(tp)
    if enum_cls is not None:
        return _open_enum_parser(enum_cls), str
    args = set(get_args(tp)) - {NoneType} if get_origin(tp) in (Union, UnionType) else {tp}
    if args == {Decimal}:
        return _money, None
    if args == {str}:
        return _text, None
    if args == {m.ReturnPeriod}:
        return _period, str
    raise TypeError(f"no codec for {f.name}: {tp!r}")  # pragma: no cover - a models bug


_FIELD_CACHE: Final[dict[type[m.ImsRecord], tuple[_Field, ...]]] = {}


def _fields(cls: type[m.ImsRecord]) -> tuple[_Field, ...]:
    cached = _FIELD_CACHE.get(cls)
    if cached is not None:
        return cached
    attrs.resolve_types(cls)
    out = []
    for f in attrs.fields(cls):
        if f.name == "extra":
            continue
        parse, unparse = _field_codec(f)
        required = f.default is attrs.NOTHING
        out.append(_Field(f.name, f.metadata[m.WIRE], required, parse, unparse))
    _FIELD_CACHE[cls] = result = tuple(out)
    return result


# ----------------------------------------------------------------------------------------------
# The fast path: one generated function per record class.
# ----------------------------------------------------------------------------------------------

_ABSENT: Final = object()


#: How many distinct key layouts per record class get their own compiled function. Real pages
#: use a handful; past the limit, records take the generic compiled function.
_MAX_SHAPES: Final = 64


class _RecordCodec:
    """Structures dicts into one record class, fast.

    Records of a page nearly always share a few key layouts ("shapes": the keys in order). For
    each shape a straight-line function is generated once: it reads each present key directly,
    checks and converts the value inline, knows statically which keys are unknown (to keep them
    in ``extra``), and fills the instance's slots with plain stores through a builder subclass
    (:func:`_builder`) instead of the keyword-argument ``__init__`` (the class has no
    validators or post-init hook, so the result is the same object the constructor would
    build; a test holds the two paths equal).
    """

    def __init__(self, cls: type[m.ImsRecord]) -> None:
        self.cls = cls
        self.fields = _fields(cls)
        self.by_wire = {f.wire: f for f in self.fields}
        self.required = frozenset(f.wire for f in self.fields if f.required)
        self.shapes: dict[tuple[str, ...], Callable[[dict[str, Any]], m.ImsRecord]] = {}
        self.generic = self._compile(None)

    def __call__(self, d: Any) -> m.ImsRecord:
        """Structure one record."""
        if type(d) is not dict:
            raise TypeError("expected a JSON object")
        return (self.shapes.get(tuple(d)) or self._for_shape(d))(d)

    def many(self, items: list[Any]) -> tuple[m.ImsRecord, ...]:
        """Structure a section's records (the hot loop, without a call per record)."""
        shapes = self.shapes
        out: list[m.ImsRecord] = []
        append = out.append
        for d in items:
            if type(d) is not dict:
                raise TypeError("expected a JSON object")
            append((shapes.get(tuple(d)) or self._for_shape(d))(d))
        return tuple(out)

    def _for_shape(self, d: dict[str, Any]) -> Callable[[dict[str, Any]], m.ImsRecord]:
        if len(self.shapes) >= _MAX_SHAPES or not self.required <= d.keys():
            return self.generic
        fn = self.shapes[tuple(d)] = self._compile(tuple(d))
        return fn

    def _compile(self, shape: tuple[str, ...] | None) -> Callable[[dict[str, Any]], m.ImsRecord]:
        cls = self.cls
        ns: dict[str, Any] = {
            "_new": object.__new__,
            "_cls": cls,
            "_Builder": _builder(cls),
            "_Decimal": Decimal,
            "_money": _money,
            "_text": _text,
            "_proxy": m.FrozenMap,
            "_EMPTY": m.EMPTY,
            "_ABSENT": _ABSENT,
            "_known": frozenset(self.by_wire),
            "_ims_dates": _ims_date_cached,
            "_int_money": _int_money,
            "_periods": m._parse_return_period,
        }
        lines = ["def structure(d):"]
        nullable = []
        for i, f in enumerate(self.fields):
            members = getattr(f.parse, "members", None)
            if f.parse is _money:
                conv = (
                    "v if type(v) is _Decimal else _int_money(v) if type(v) is int else _money(v)"
                )
            elif f.parse is _text:
                conv = "v if type(v) is str else _text(v)"
            elif members is not None:  # an open enum: known codes to members, others kept
                ns[f"_p{i}"] = f.parse
                ns[f"_m{i}"] = members
                conv = f"_m{i}.get(v, v) if type(v) is str else _p{i}(v)"
            elif f.parse is _ims_date:
                ns[f"_p{i}"] = f.parse
                conv = f"_ims_dates(v) if type(v) is str else _p{i}(v)"
            elif f.parse is _period:
                ns[f"_p{i}"] = f.parse
                conv = f"_periods(v) if type(v) is str else _p{i}(v)"
            else:
                ns[f"_p{i}"] = f.parse
                conv = f"_p{i}(v)"
            wire = repr(f.wire)
            if shape is not None and f.wire not in shape:
                lines.append(f"    a{i} = None")  # absent from this shape
            elif f.required:
                lines.append(f"    v = d[{wire}]")
                lines.append(f"    a{i} = {conv}")
            elif shape is not None:
                lines.append(f"    v = d[{wire}]")
                lines.append(f"    a{i} = None if v is None else {conv}")
                nullable.append(f"a{i} is None")
            else:
                lines.append(f"    v = d.get({wire}, _ABSENT)")
                lines.append(f"    a{i} = None if v is None or v is _ABSENT else {conv}")
        if shape is None:
            lines.append("    if not d.keys() <= _known or None in d.values():")
            lines.append(
                "        extra = _proxy({k: v for k, v in d.items() "
                "if v is None or k not in _known})"
            )
            lines.append("    else:")
            lines.append("        extra = _EMPTY")
        else:
            unknown = [k for k in shape if k not in self.by_wire]
            ns["_unknown"] = tuple(unknown)
            keep = "{k: d[k] for k in _unknown}" if unknown else "{}"
            if nullable:
                lines.append(f"    if {' or '.join(nullable)}:")
                lines.append(
                    "        extra = _proxy({k: v for k, v in d.items() "
                    "if v is None or k not in _known})"
                )
                lines.append("    else:")
                lines.append(
                    f"        extra = _proxy({keep})" if unknown else "        extra = _EMPTY"
                )
            else:
                lines.append(f"    extra = _proxy({keep})" if unknown else "    extra = _EMPTY")
        lines.append("    o = _new(_Builder)")
        lines.extend(f"    o.{f.name} = a{i}" for i, f in enumerate(self.fields))
        lines.append("    o.extra = extra")
        lines.append("    o.__class__ = _cls")
        lines.append("    return o")
        source = "\n".join(lines)
        name = f"<flynn_async structure {cls.__name__}{'' if shape is None else ' shape'}>"
        exec(compile(source, name, "exec"), ns)
        fn: Callable[[dict[str, Any]], m.ImsRecord] = ns["structure"]
        return fn


def _builder(cls: type) -> type:
    """A subclass of ``cls`` that can be filled with plain attribute stores.

    A frozen class's ``__setattr__`` raises, and calling each slot's descriptor costs a call
    per field. The builder adds no slots and takes back ``object``'s ``__setattr__`` and
    ``__delattr__`` (both, so that CPython uses its generic attribute setter and specialises
    each store), so a generated function fills it with one fast store per field, then sets
    ``__class__`` to ``cls``: the same layout, so the result is exactly the object the
    constructor would have built (a test holds the two equal), at about a quarter of the cost.
    """
    return type(
        f"_Build{cls.__name__}",
        (cls,),
        {
            "__slots__": (),
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": __name__,
            "__doc__": f"Private: fills a {cls.__name__} during decoding (never escapes).",
        },
    )


_FAST: Final[dict[type[m.ImsRecord], _RecordCodec]] = {
    cls: _RecordCodec(cls) for cls in set(m.SECTION_RECORD_TYPES.values())
}


# ----------------------------------------------------------------------------------------------
# The private cattrs converter: unstructuring, and detailed error reports.
# ----------------------------------------------------------------------------------------------


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=False)
    conv.register_structure_hook(Decimal, _money)
    conv.register_structure_hook(str, _text)
    conv.register_structure_hook(m.ReturnPeriod, _period)
    conv.register_unstructure_hook(Decimal, lambda d: d)
    conv.register_unstructure_hook(m.ReturnPeriod, str)
    conv.register_structure_hook_func(lambda t: _open_enum_of(t) is not None, _structure_open_enum)
    for cls in set(m.SECTION_RECORD_TYPES.values()):
        attrs.resolve_types(cls)
        struct: dict[str, Any] = {"extra": override(omit=True)}
        unstruct: dict[str, Any] = {"extra": override(omit=True)}
        for f in attrs.fields(cls):
            if f.name == "extra":
                continue
            wire = f.metadata[m.WIRE]
            if m.DATE_FORMAT in f.metadata:
                fmt = f.metadata[m.DATE_FORMAT]
                struct[f.name] = override(rename=wire, struct_hook=_ims_date)
                unstruct[f.name] = override(
                    rename=wire,
                    unstruct_hook=_date_formatter(fmt),
                )
            else:
                struct[f.name] = override(rename=wire)
                unstruct[f.name] = override(rename=wire, unstruct_hook=_plain)
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **struct))
        conv.register_unstructure_hook(
            cls, make_dict_unstructure_fn(cls, conv, _cattrs_omit_if_default=True, **unstruct)
        )
    return conv


def _structure_open_enum(value: Any, tp: Any) -> Any:
    enum_cls = _open_enum_of(tp)
    assert enum_cls is not None
    if value is None and NoneType in get_args(tp):
        return None
    return _open_enum_parser(enum_cls)(value, tp)


def _date_formatter(fmt: str) -> Callable[[date], str]:
    def unparse(value: date) -> str:
        return value.strftime(fmt)

    return unparse


def _plain(value: Any) -> Any:
    """Open-enum members back to their text; everything else as it is."""
    if isinstance(value, m._OpenEnum):
        return value.value
    if isinstance(value, m.ReturnPeriod):
        return str(value)
    return value


_converter: Final = _make_converter()


def _format(exc: BaseException, tp: type | None) -> str:
    if isinstance(exc, KeyError):
        return "required field is missing"
    return str(exc) or type(exc).__name__


def _explain(record: Any, cls: type[m.ImsRecord], path: str, fast_error: Exception) -> list[str]:
    """Messages naming every bad field of ``record``, by cattrs' detailed validation."""
    if type(record) is not dict:
        return [f"expected a JSON object, got {_describe(record)} @ {path}"]
    try:
        _converter.structure(record, cls)
    except Exception as exc:  # the detailed report of the same failure
        wire = {f.name: f.wire for f in _fields(cls)}
        messages = []
        for message in cattrs.transform_error(exc, path=path, format_exception=_format):
            text, _, where = message.rpartition(" @ ")
            head, _, name = where.rpartition(".")
            if name in wire:
                where = f"{head}.{wire[name]}"
            messages.append(f"{text} @ {where}")
        return messages
    if isinstance(fast_error, KeyError):
        return [f"required field {fast_error.args[0]!r} is missing @ {path}"]
    return [f"{fast_error} @ {path}"]  # pragma: no cover - both paths must fail alike


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
    """Turn a page's ``data`` into :class:`~flynn_async.ImsInvoices` (typed, lossless)."""
    where: dict[str, Any] = {"route": route, "task_id": task_id, "page": page}
    if type(data) is not dict:
        raise ResponseError(f"page data must be a JSON object, got {_describe(data)}", **where)
    known: dict[str, tuple[Any, ...]] = {}
    other: dict[str, tuple[Any, ...]] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        cls = m.SECTION_RECORD_TYPES.get(key)
        if type(value) is not list:
            if cls is not None:
                raise ResponseError(
                    f"section {key!r} must be a list, got {_describe(value)}", **where
                )
            extra[key] = value
            continue
        if cls is None:
            for i, item in enumerate(value):
                if type(item) is not dict:
                    raise ResponseError(
                        f"record must be a JSON object, got {_describe(item)} @ $.{key}[{i}]",
                        **where,
                    )
            other[key] = tuple(m.FrozenMap(item) for item in value)
            continue
        fast = _FAST[cls]
        try:
            known[key] = fast.many(value)
        except Exception:
            for i, item in enumerate(value):
                try:
                    fast(item)
                except Exception as exc:
                    messages = _explain(item, cls, f"$.{key}[{i}]", exc)
                    raise ResponseError(
                        "page does not match the IMS schema: " + "; ".join(messages), **where
                    ) from None
            raise  # pragma: no cover - the loop above re-finds the failure
    return m.ImsInvoices(
        **known,
        other_sections=m.FrozenMap(other) if other else m.EMPTY,
        extra=m.FrozenMap(extra) if extra else m.EMPTY,
        present=frozenset(key for key, value in data.items() if type(value) is list),
    )


def decode_ims_page(body: bytes) -> m.ImsInvoices:
    """Decode one whole IMS result page body (the envelope included) into typed records.

    Raises :class:`~flynn_async.ResponseError` when the body is not JSON or not a page, and an
    :class:`~flynn_async.ApiError` when it is an error envelope.
    """
    from ._envelope import unwrap

    try:
        document = loads(body)
    except msgspec.DecodeError as exc:
        raise ResponseError(f"page body is not valid JSON: {exc}") from None
    return structure_invoices(unwrap(document, http_status=200))


def unstructure_record(record: m.ImsRecord) -> dict[str, Any]:
    """A record as the server shaped it (wire names; ``Decimal`` amounts; extras last)."""
    out: dict[str, Any] = _converter.unstructure(record, type(record))
    if record.extra:
        out.update(record.extra)
    return out


def unstructure_invoices(result: m.ImsInvoices) -> dict[str, Any]:
    """An :class:`~flynn_async.ImsInvoices` as page ``data`` (lower-case section keys)."""
    out: dict[str, Any] = {}
    for name in result.section_names():
        records = result.section(name)
        if name in m.SECTION_RECORD_TYPES:
            out[name] = [unstructure_record(r) for r in records]
        else:
            out[name] = [dict(r) for r in records]
    out.update(result.extra)
    return out


def merge_invoices(parts: Iterable[m.ImsInvoices]) -> m.ImsInvoices:
    """Concatenate results section by section, in the order given."""
    parts = list(parts)
    if len(parts) == 1:
        return parts[0]
    known: dict[str, list[Any]] = {k: [] for k in m.KNOWN_SECTIONS}
    other: dict[str, list[Any]] = {}
    extra: dict[str, Any] = {}
    present: set[str] = set()
    for part in parts:
        for key in m.KNOWN_SECTIONS:
            records = getattr(part, key)
            if records:
                known[key].extend(records)
        for key, records in part.other_sections.items():
            other.setdefault(key, []).extend(records)
        for key, value in part.extra.items():
            if key in extra and extra[key] != value:
                raise ValueError(f"pages disagree about {key!r}: {extra[key]!r} != {value!r}")
            extra[key] = value
        present |= part.present
    return m.ImsInvoices(
        **{k: tuple(v) for k, v in known.items()},
        other_sections=m.FrozenMap({k: tuple(v) for k, v in other.items()}) if other else m.EMPTY,
        extra=m.FrozenMap(extra) if extra else m.EMPTY,
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
        other_sections=m.FrozenMap(other),
        extra=m.FrozenMap(extra),
        present=frozenset(present),
    )
