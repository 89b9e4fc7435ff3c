"""The one wire codec: how each field of a wire record is named, typed and converted.

Wire records (IMS records, e-invoices, the GSTR-2B documents) are frozen
:class:`msgspec.Struct` classes that keep no reference cycles (``gc=False``), with readable
attribute names mapped to the wire names by ``rename``. This module describes each of their
fields once (:class:`WireField`: attribute, wire name, kind, required) and that one description
serves every direction:

* **decoding** in one typed call from bytes (:func:`typed_decoder`), for documents that carry
  only what the models know, and the **lossless** path (:func:`structure`), which keeps
  whatever else a record carries in its ``extra`` (unknown fields, a ``null`` sent for a value,
  a code or a flag in a form the models do not know) and names the path of every bad value;
* **encoding** back to the server's shape (:func:`to_wire`);
* **exports** and **error reports** (:func:`wire_fields` gives each field's wire name and kind).

Money is :class:`~decimal.Decimal` with exactly the digits sent (a JSON number: a string, a
float or a boolean where money is due is an error); dates are :class:`datetime.date`, times
(``YYYY-MM-DD HH:MM:SS`` in a zone the record's type names) aware :class:`datetime.datetime`;
codes are *open*: a known code is its enum member, an unknown one stays text. Nothing here
knows HTTP.
"""

from __future__ import annotations

import datetime as _dt
import functools
import itertools
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, TypeAlias, Union, get_args
from typing import get_origin as _origin

import attrs
import msgspec

from ._errors import ResponseError
from ._json import describe
from ._period import ReturnPeriod, _parse_return_period
from ._values import EMPTY, FrozenMap, YesNo, _OpenEnum, thaw

__all__ = [
    "DayMonthYear",
    "DaySlashMonthYear",
    "Kind",
    "WallTime",
    "WireField",
    "WireRecord",
    "decode_hook",
    "encoder",
    "structure",
    "structure_many",
    "to_wire",
    "typed_decoder",
    "wire_fields",
]

Kind = Literal["text", "money", "date", "time", "enum", "flag", "period", "int", "object", "list"]

if TYPE_CHECKING:
    #: A date sent as ``DD-MM-YYYY`` (a :class:`datetime.date` to every reader).
    DayMonthYear: TypeAlias = _dt.date
    #: A date sent as ``DD/MM/YYYY`` (a :class:`datetime.date` to every reader).
    DaySlashMonthYear: TypeAlias = _dt.date
else:

    class DayMonthYear(_dt.date):
        """A date sent as ``DD-MM-YYYY``: the decoder's type for such a field.

        It is a :class:`datetime.date` (its instances compare, hash and compute like one); it
        exists so that msgspec hands the text to :func:`decode_hook`, which parses it once per
        distinct date.
        """

        __slots__ = ()
        separator = "-"

        def __repr__(self) -> str:
            return f"datetime.date({self.year}, {self.month}, {self.day})"

        def __reduce__(self) -> tuple[Any, ...]:
            return (_dt.date, (self.year, self.month, self.day))

    class DaySlashMonthYear(DayMonthYear):
        """A date sent as ``DD/MM/YYYY`` (the e-invoice's form)."""

        __slots__ = ()
        separator = "/"

    class WallTime(_dt.datetime):
        """A time sent as ``YYYY-MM-DD HH:MM:SS`` on the clock of ``zone``: a field's type.

        A subclass names the zone (``zone = ...``); its instances are aware
        :class:`datetime.datetime` values in that zone. The decoder hands the text to
        :func:`decode_hook`, which parses it once per distinct time.
        """

        __slots__ = ()
        zone: ClassVar[_dt.tzinfo] = _dt.UTC

        def __repr__(self) -> str:
            return _dt.datetime.__repr__(_dt.datetime(*_fields_of(self)))

        def __reduce__(self) -> tuple[Any, ...]:
            return (_dt.datetime, _fields_of(self))

    def _fields_of(value: _dt.datetime) -> tuple[Any, ...]:
        return (
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
        )


if TYPE_CHECKING:
    #: A time sent as ``YYYY-MM-DD HH:MM:SS`` (an aware :class:`datetime.datetime` to readers).
    WallTime: TypeAlias = _dt.datetime


if TYPE_CHECKING:
    #: What a record's ``extra`` is to readers and callers (any mapping, frozen on the way in).
    Extra: TypeAlias = Mapping[str, Any]
else:
    Extra = FrozenMap


def _date_parser(cls: type[_dt.date], separator: str) -> Callable[[str], _dt.date]:
    @functools.lru_cache(maxsize=8192)
    def parse(text: str) -> _dt.date:
        if (
            len(text) == 10
            and text[2] == separator
            and text[5] == separator
            and text.isascii()
            and text[:2].isdigit()
            and text[3:5].isdigit()
            and text[6:].isdigit()
        ):
            try:
                return cls(int(text[6:]), int(text[3:5]), int(text[:2]))
            except ValueError:
                pass
        raise ValueError(f"expected a date as DD{separator}MM{separator}YYYY, got {text!r:.40}")

    return parse


_PARSE_DATE: Final[dict[type, Callable[[str], _dt.date]]] = {
    DayMonthYear: _date_parser(DayMonthYear, "-"),
    DaySlashMonthYear: _date_parser(DaySlashMonthYear, "/"),
}


@functools.lru_cache(maxsize=4096)
def _time_fields(text: str) -> tuple[int, int, int, int, int, int]:
    if (
        len(text) == 19
        and text.isascii()
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == " "
        and text[13] == ":"
        and text[16] == ":"
        and (text[:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:]).isdigit()
    ):
        fields = (
            int(text[:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:]),
        )
        try:
            _dt.datetime(*fields)
        except ValueError:
            pass
        else:
            return fields
    raise ValueError(f"expected a time as YYYY-MM-DD HH:MM:SS, got {text!r:.40}")


def _time(cls: Any, text: str) -> _dt.datetime:
    """A :class:`WallTime` subclass's value of ``text``."""
    value: _dt.datetime = cls(*_time_fields(text), tzinfo=cls.zone)
    return value


def _time_text(value: _dt.datetime, zone: _dt.tzinfo) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(zone)
    return value.strftime("%Y-%m-%d %H:%M:%S")


#: The values :func:`decode_hook` has made, by type and by the text they were made of: a page
#: of records repeats a few dozen dates and periods, each found here with one lookup.
_MADE: Final[dict[type, dict[str, Any]]] = {
    DayMonthYear: {},
    DaySlashMonthYear: {},
    ReturnPeriod: {},
}
_MADE_LIMIT: Final = 8192


def decode_hook(tp: type, value: Any) -> Any:
    """msgspec's hook for the codec's own wire types (dates by form, return periods, times).

    Each distinct value is parsed once and shared (a month of invoices has a few dozen dates).
    Anything else is refused, so that a document the models do not describe takes the lossless
    path instead of being guessed at.
    """
    try:
        return _MADE[tp][value]
    except (KeyError, TypeError):  # not seen yet, not a type made here, or not text at all
        return _make(tp, value)


def _make(tp: type, value: Any) -> Any:
    if type(value) is str:
        parse = _PARSE_DATE.get(tp)
        if parse is not None:
            made: Any = parse(value)
        elif tp is ReturnPeriod:
            made = _parse_return_period(value)
        elif isinstance(tp, type) and issubclass(tp, WallTime):
            return _time(tp, value)
        else:
            raise TypeError(f"no wire conversion to {tp.__name__} from {describe(value)}")
        seen = _MADE[tp]
        if len(seen) >= _MADE_LIMIT:
            seen.clear()
        seen[value] = made
        return made
    raise TypeError(f"no wire conversion to {tp.__name__} from {describe(value)}")


def typed_decoder(tp: Any) -> msgspec.json.Decoder[Any]:
    """A decoder of ``tp`` from JSON bytes, exact decimals and the codec's wire types."""
    return msgspec.json.Decoder(tp, dec_hook=decode_hook, float_hook=Decimal)


# ----------------------------------------------------------------------------------------------
# Records and their field descriptions
# ----------------------------------------------------------------------------------------------


class WireRecord(
    msgspec.Struct,
    frozen=True,
    gc=False,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    repr_omit_defaults=True,
):
    """The base of every wire record: frozen, no reference cycles, wire names by ``rename``.

    ``extra`` holds, exactly as sent and deeply read-only (arrays as tuples, objects as
    :class:`~flynn_async.FrozenMap`), whatever the record carried that the models do not
    describe: unknown fields, known fields sent as ``null``, and codes or flags in a form the
    models do not know. It takes part in equality and hashing.
    """

    extra: Extra = EMPTY

    #: Wire names of the fields whose values the lossless path keeps, as sent, in ``extra``
    #: too (a flag sent as ``true``: the field reads ``YesNo.YES``, ``to_dict()`` gives
    #: ``true`` back). Set per class by :func:`wire_fields`.
    __wire_fields__: ClassVar[tuple[WireField, ...]]
    #: Whether :func:`to_wire` gives a whole amount (a ``Decimal`` without fraction digits, as
    #: a JSON integer decodes) back as an ``int``, as it was sent.
    __wire_whole_ints__: ClassVar[bool] = False
    #: Whether the lossless path keeps, in ``extra``, a text field sent as another JSON type
    #: and an empty text sent where a date, an amount or a count is due (the GSTR-2B
    #: document's open fields), instead of refusing the record.
    __wire_lenient__: ClassVar[bool] = False
    #: What error messages call the document (``"GSTR-2B"``: ``"GSTR-2B <path>: <problem>"``);
    #: ``None``: ``"<problem> @ <path>"``.
    __wire_label__: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        extra = self.extra
        if type(extra) is not FrozenMap:  # given by a caller: frozen deeply, as decoding does
            msgspec.structs.force_setattr(self, "extra", FrozenMap(extra))

    def to_dict(self) -> dict[str, Any]:
        """The record as the server shaped it: wire names, ``Decimal`` amounts, extras last."""
        return to_wire(self)


@attrs.frozen
class WireField:
    """One field of a wire record: the single description every direction uses."""

    #: The attribute's name.
    attr: str
    #: The field's name on the wire.
    wire: str
    #: How the value is checked and converted.
    kind: Kind
    #: Must the server send it?
    required: bool
    #: The open enum of an ``enum``/``flag`` field, the record class of an ``object``/``list``
    #: field, the date or time type of a ``date``/``time`` field.
    type: Any = None


def _kind_of(tp: Any) -> tuple[Kind, Any, bool]:
    """(kind, type, optional) of a field's annotation."""
    optional = False
    if _origin(tp) in (Union, UnionType):
        args = [a for a in get_args(tp) if a is not NoneType and a is not msgspec.UnsetType]
        optional = len(args) != len(get_args(tp))
        (tp,) = args
    if tp is Decimal:
        return "money", None, optional
    if tp is str:
        return "text", None, optional
    if tp is bool or tp is int:
        return "int", tp, optional
    if tp is ReturnPeriod:
        return "period", None, optional
    if isinstance(tp, type) and issubclass(tp, WallTime):
        return "time", tp, optional
    if isinstance(tp, type) and issubclass(tp, _dt.date):
        return "date", tp, optional
    if isinstance(tp, type) and issubclass(tp, _OpenEnum):
        return ("flag" if tp is YesNo else "enum"), tp, optional
    if isinstance(tp, type) and issubclass(tp, WireRecord):
        return "object", tp, optional
    if _origin(tp) is tuple:
        return "list", get_args(tp)[0], optional
    raise TypeError(f"no wire codec for {tp!r}")  # pragma: no cover - a models bug


def wire_fields(cls: type[WireRecord]) -> tuple[WireField, ...]:
    """The field descriptions of a wire record class (``extra`` left out), in field order."""
    found = cls.__dict__.get("__wire_fields__")
    if found is not None:
        return found  # type: ignore[no-any-return]
    out = []
    for info in msgspec.structs.fields(cls):
        if info.name == "extra":
            continue
        kind, tp, optional = _kind_of(info.type)
        required = info.required
        out.append(WireField(info.name, info.encode_name, kind, required and not optional, tp))
    result = tuple(out)
    cls.__wire_fields__ = result
    return result


# ----------------------------------------------------------------------------------------------
# The lossless path: a record from a decoded JSON object, naming the path of any bad value
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class _Plan:
    """What the lossless path needs of one record class, worked out once."""

    cls: type[WireRecord]
    fields: tuple[WireField, ...]
    by_wire: Mapping[str, WireField]
    #: Wire names the typed conversion accepts (``extra`` is never taken from the wire).
    known: frozenset[str]
    #: Wire names of money fields (the typed conversion would take text for them).
    money: frozenset[str]
    #: Wire names of fields that are records or lists of records (converted one by one).
    nested: frozenset[str]
    #: The class's ``__wire_lenient__``: a text field sent as another JSON type, or an empty
    #: text where a date, an amount or a count is due, is kept in ``extra`` as sent.
    lenient: bool
    #: The class's ``__wire_label__``: errors read ``"<label> <path>: <problem>"``.
    label: str | None


#: What the typed conversion may take for money (it would also take text and floats).
_MONEY_TYPES: Final = frozenset({Decimal, int, NoneType})

#: Kinds whose field an empty text leaves unset on a lenient record (the value is kept as sent).
_EMPTY_IS_UNSET: Final = frozenset({"money", "date", "time", "int", "period"})


@functools.cache
def _plan(cls: type[WireRecord]) -> _Plan:
    fields = wire_fields(cls)
    by_wire = {f.wire: f for f in fields}
    return _Plan(
        cls,
        fields,
        by_wire,
        frozenset(by_wire),
        frozenset(f.wire for f in fields if f.kind == "money"),
        frozenset(f.wire for f in fields if f.kind in ("object", "list")),
        cls.__wire_lenient__,
        cls.__wire_label__,
    )


def _problem(plan: _Plan, message: str, path: str) -> str:
    return (
        f"{plan.label} {path.removeprefix('$.')}: {message}"
        if plan.label
        else f"{message} @ {path}"
    )


def _fail(message: str, path: str, where: Mapping[str, Any]) -> ResponseError:
    return ResponseError(f"{message} @ {path}", **where)


def _money(value: Any) -> Decimal:
    if type(value) is Decimal:
        if not value.is_finite():
            raise ValueError(f"amount must be finite, got {value}")
        return value
    if type(value) is int:
        return _INT_MONEY(value)
    raise TypeError(f"expected a JSON number, got {describe(value)}")


@functools.lru_cache(maxsize=4096)
def _INT_MONEY(value: int) -> Decimal:
    """Whole-rupee amounts repeat (zero above all): one shared ``Decimal`` per value."""
    return Decimal(value)


_FLAGS: Final[dict[Any, YesNo]] = {"Y": YesNo.YES, "N": YesNo.NO}
_FLAG_FORMS: Final[dict[str, YesNo]] = {
    "Y": YesNo.YES,
    "N": YesNo.NO,
    "TRUE": YesNo.YES,
    "FALSE": YesNo.NO,
}


def _flag(value: Any) -> tuple[YesNo | str, bool]:
    """(the flag, whether its form as sent must be kept in ``extra``)."""
    if value is True:
        return YesNo.YES, True
    if value is False:
        return YesNo.NO, True
    if type(value) is not str:
        raise TypeError(f"expected a Y/N flag (text or a boolean), got {describe(value)}")
    member = _FLAGS.get(value)
    if member is not None:
        return member, False
    other = _FLAG_FORMS.get(value.upper())
    return (value, False) if other is None else (other, True)


def _scalar(f: WireField, value: Any) -> tuple[Any, bool]:
    """(the converted value, whether the value as sent is also kept in ``extra``)."""
    kind = f.kind
    if kind == "money":
        return _money(value), False
    if kind == "flag":
        return _flag(value)
    if type(value) is not str and kind != "int":
        what = {
            "enum": f"a {getattr(f.type, '__name__', '')} code",
            "date": "a date string",
            "time": "a time string",
        }
        raise TypeError(f"expected {what.get(kind, 'a string')}, got {describe(value)}")
    if kind == "text":
        return value, False
    if kind == "enum":
        try:
            return f.type(value), False
        except ValueError:
            return value, False  # an open code list: unknown codes stay text
    if kind == "date":
        return _PARSE_DATE[f.type](value), False
    if kind == "time":
        return _time(f.type, value), False
    if kind == "period":
        try:
            return _parse_return_period(value), False
        except ValueError:
            return value, True  # kept as sent; the field reads it as text
    if type(value) is not f.type or (f.type is int and type(value) is bool):
        raise TypeError(f"expected a JSON {f.type.__name__}, got {describe(value)}")
    return value, False


def structure(cls: type[WireRecord], item: Any, path: str, where: Mapping[str, Any] = EMPTY) -> Any:
    """One record from a decoded JSON object, keeping everything it carries.

    Raises :class:`~flynn_async.ResponseError` naming the path of every bad value of the
    record (a value of the wrong type, a required field missing or ``null``).
    """
    plan = _plan(cls)
    if type(item) is not dict:
        message = f"expected a JSON object, got {describe(item)}"
        raise ResponseError(_problem(plan, message, path), **where)
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in item.items():
        f = plan.by_wire.get(key)
        if f is None or (value is None and not f.required):
            extra[key] = value
            continue
        if plan.lenient and (
            (f.kind == "text" and type(value) is not str)
            or (value == "" and f.kind in _EMPTY_IS_UNSET)
        ):
            extra[key] = value
            continue
        here = f"{path}.{key}"
        if value is None:
            message = f"{_null(f)}: required field must not be null"
            problems.append(_problem(plan, message, here))
            continue
        try:
            converted, keep = _value(f, value, here, where)
        except (TypeError, ValueError) as exc:
            problems.append(_problem(plan, str(exc), here))
            continue
        values[f.attr] = converted
        if keep:
            extra[key] = value
    problems += [
        _problem(plan, "required field is missing", f"{path}.{f.wire}")
        for f in plan.fields
        if f.required and f.wire not in item
    ]
    if problems:
        raise ResponseError("; ".join(problems), **where)
    if extra:
        values["extra"] = FrozenMap._of_dict(extra)
    return cls(**values)


def _null(f: WireField) -> str:
    """What a required field sent as ``null`` should have been."""
    if f.kind == "object":
        return "expected a JSON object, got null"
    if f.kind == "list":
        return "expected a list, got null"
    try:
        _scalar(f, None)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return "got null"  # pragma: no cover - every scalar kind refuses null


def _value(f: WireField, value: Any, path: str, where: Mapping[str, Any]) -> tuple[Any, bool]:
    if f.kind == "object":
        return structure(f.type, value, path, where), False
    if f.kind == "list":
        return structure_many(f.type, value, path, where), False
    return _scalar(f, value)


def structure_many(
    cls: type[WireRecord],
    items: Any,
    path: str,
    where: Mapping[str, Any] = EMPTY,
    *,
    nulls: bool = True,
    fresh: bool = False,
) -> tuple[Any, ...]:
    """A list of records from decoded JSON objects (see :func:`structure`), in order.

    Each record's known, non-null fields are set apart from the rest (kept in its ``extra``),
    and the records are then converted together in one typed call. Records the typed call
    cannot take (a flag or code in another form, a text where money is due, a nested record)
    are read one by one by :func:`structure`, which keeps or names everything.

    ``nulls=False`` says that no record holds a ``null`` (the caller has looked at the JSON):
    the records' values are then not looked at one by one for it. ``fresh=True`` says that the
    caller has just decoded ``items`` and holds them nowhere else: they are then changed in
    place instead of copied.
    """
    plan = _plan(cls)
    if type(items) is not list:
        raise ResponseError(
            _problem(plan, f"expected a list, got {describe(items)}", path), **where
        )
    known = plan.known
    ready: list[Any] = []
    #: A record's keys as sent, where it was changed in place (to rebuild it, if need be).
    sent: dict[int, tuple[str, ...]] = {}
    for i, item in enumerate(items):
        if type(item) is not dict:
            message = f"expected a JSON object, got {describe(item)}"
            raise ResponseError(_problem(plan, message, f"{path}[{i}]"), **where)
        if nulls:  # every value looked at: a null is kept in extra
            odd_keys: Any = [k for k, v in item.items() if v is None or k not in known]
        else:
            odd_keys = item.keys() - known  # in C: the fields the models do not know
            if len(odd_keys) > 1:
                odd_keys = [k for k in item if k in odd_keys]  # in the order sent
        if odd_keys:
            if fresh:
                sent[i] = tuple(item)
            else:
                item = dict(item)  # the caller's dict is left as it is
            item["extra"] = {key: item.pop(key) for key in odd_keys}
        ready.append(item)
    odd = _odd(plan, ready)  # records for the one-by-one path
    for i in odd:
        ready[i] = None
    if not odd:
        try:
            return msgspec.convert(ready, tuple[cls, ...], dec_hook=_lossless_hook)  # type: ignore[valid-type]
        except msgspec.ValidationError:  # a code or flag in a form the typed call refuses
            pass
    out: list[Any] = []
    for i, item in enumerate(ready):
        if item is not None:
            try:
                out.append(msgspec.convert(item, cls, dec_hook=_lossless_hook))
                continue
            except msgspec.ValidationError:
                pass
        out.append(structure(cls, _as_sent(items[i], sent.get(i)), f"{path}[{i}]", where))
    return tuple(out)


def _as_sent(item: Any, keys: tuple[str, ...] | None) -> Any:
    """A record as it was sent: when it was changed in place (``keys``: its keys as sent), its
    set-apart fields back, every key in its place (a field the models do not know, ``extra``
    among them, is always set apart)."""
    if keys is None:
        return item
    apart = item["extra"]
    return {key: apart[key] if key in apart else item[key] for key in keys}


def _odd(plan: _Plan, ready: list[dict[str, Any]]) -> list[int]:
    """The records the typed conversion must not take: money sent as anything but a JSON number
    (it would read text and floats), or a nested record (converted one by one)."""
    odd: set[int] = set()
    for wire in plan.money:
        column = list(map(dict.get, ready, itertools.repeat(wire)))
        if not _MONEY_TYPES.issuperset(map(type, column)):
            odd.update(i for i, v in enumerate(column) if type(v) not in _MONEY_TYPES)
    if plan.nested:
        odd.update(i for i, item in enumerate(ready) if item.keys() & plan.nested)
    return sorted(odd)


def _lossless_hook(tp: type, value: Any) -> Any:
    """:func:`decode_hook`, and a record's ``extra`` from what the lossless path set apart."""
    if tp is FrozenMap and type(value) is dict:
        return FrozenMap._of_dict(value) if value else EMPTY
    try:
        return _MADE[tp][value]
    except (KeyError, TypeError):
        return _make(tp, value)


# ----------------------------------------------------------------------------------------------
# Encoding
# ----------------------------------------------------------------------------------------------


def _encode_value(value: Any) -> Any:
    if isinstance(value, WallTime):
        return _time_text(value, type(value).zone)  # type: ignore[attr-defined]
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, ReturnPeriod):
        return str(value)
    if isinstance(value, FrozenMap):
        return thaw(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def _date_text(value: _dt.date, separator: str) -> str:
    return f"{value.day:02d}{separator}{value.month:02d}{separator}{value.year:04d}"


def to_wire(record: WireRecord) -> dict[str, Any]:
    """A record as the server shaped it: wire names, ``Decimal`` amounts, extras last."""
    out: dict[str, Any] = {}
    whole_ints = record.__wire_whole_ints__
    for f in wire_fields(type(record)):
        value = getattr(record, f.attr)
        if value is None:
            continue
        kind = f.kind
        if kind == "money":
            if whole_ints and value.as_tuple().exponent == 0:
                value = int(value)
        elif kind == "date":
            value = _date_text(value, f.type.separator)
        elif kind == "time":
            value = _time_text(value, f.type.zone)
        elif kind == "enum" or kind == "flag":
            value = str(value.value if isinstance(value, _OpenEnum) else value)
        elif kind == "period":
            value = str(value)
        elif kind == "object":
            value = to_wire(value)
        elif kind == "list":
            value = [to_wire(item) for item in value]
        out[f.wire] = value
    if record.extra:
        out.update(thaw(record.extra))
    return out


def encoder() -> msgspec.json.Encoder:
    """An encoder of decoded documents (for comparing a document with the bytes it came from)."""
    return msgspec.json.Encoder(enc_hook=_encode_value, decimal_format="number")
