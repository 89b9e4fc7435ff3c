"""IMS pages to typed records and back, and merging.

JSON comes from :mod:`flynn_async._core._json` (exact decimals). Records are built by a
specialised function generated once per record class (the fast path); when it meets data that
breaks the schema, the library's private cattrs converter structures the same record with
detailed validation to name the path to every bad field. The converter also turns records back
into server-shaped dictionaries (``to_dict``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from types import NoneType, UnionType
from typing import Any, Final, Union, get_args, get_origin

import attrs
import cattrs
import msgspec
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from flynn_async._core._errors import PartsDisagree as _PartsDisagree
from flynn_async._core._errors import ResponseError, SectionMismatch
from flynn_async._core._json import describe, loads
from flynn_async._core._values import EMPTY, FrozenMap, YesNo, _OpenEnum, thaw
from flynn_async._http._envelope import unwrap
from flynn_async.gst._period import ReturnPeriod, _parse_return_period

from . import _models as m

__all__ = ["decode_ims_page"]

# ----------------------------------------------------------------------------------------------
# Scalar checks shared by the fast path and the cattrs hooks. Nothing is coerced: a string
# where a number belongs, or a number where text belongs, is an error.
# ----------------------------------------------------------------------------------------------


class _Memo(dict[Any, Any]):
    """A bounded memo of immutable values: ``memo[key]`` makes and keeps the value on a miss.

    The fast path reads it with a plain subscript, so a known key costs no call. The maker
    validates: a bad key raises and is never kept. When full, the memo starts over.
    """

    __slots__ = ("_limit", "_make")

    def __init__(self, make: Callable[[Any], Any], limit: int) -> None:
        super().__init__()
        self._make = make
        self._limit = limit

    def __missing__(self, key: Any) -> Any:
        value = self._make(key)
        if len(self) >= self._limit:
            self.clear()
        self[key] = value
        return value


#: Whole-rupee amounts (zero above all) repeat: one shared immutable Decimal per value. Only
#: ever indexed with an exact ``int`` (never a ``bool``, which would find ``1``'s entry).
_INT_MONEY: Final = _Memo(Decimal, 4096)


def _money(value: Any, _: Any = None) -> Decimal:
    if type(value) is Decimal:
        if not value.is_finite():
            raise ValueError(f"amount must be finite, got {value}")
        return value
    if type(value) is int:
        return _INT_MONEY[value]  # type: ignore[no-any-return]
    raise TypeError(f"expected a JSON number, got {describe(value)}")


def _text(value: Any, _: Any = None) -> str:
    if type(value) is str:
        return value
    raise TypeError(f"expected a string, got {describe(value)}")


#: Text that repeats (the supplier's GSTIN, the place of supply): one ``str`` per value, so a
#: held result keeps each once. The maker checks the type, so any key is safe to try.
_SHARED_TEXT: Final = _Memo(_text, 4096)


def _ims_date_text(value: Any) -> date:
    if type(value) is not str:
        raise TypeError(f"expected a date string, got {describe(value)}")
    if len(value) == 10:
        try:
            return datetime.strptime(value, m.IMS_DATE_FORMAT).date()
        except ValueError:
            pass
    raise ValueError(f"expected a date as DD-MM-YYYY, got {value!r}")


#: ``DD-MM-YYYY`` text to dates: a month of invoices has a few dozen distinct dates.
_IMS_DATES: Final = _Memo(_ims_date_text, 8192)


def _text_memo_reader(memo: _Memo, what: str) -> Callable[[Any, Any], Any]:
    """A converter (and cattrs hook) reading text through ``memo``."""

    def read(value: Any, _: Any = None) -> Any:
        if type(value) is not str:  # checked first: an unhashable value can't be a memo key
            raise TypeError(f"expected {what}, got {describe(value)}")
        return memo[value]

    return read


_shared_text: Final = _text_memo_reader(_SHARED_TEXT, "a string")
_ims_date: Final = _text_memo_reader(_IMS_DATES, "a date string")


def _period(value: Any, _: Any = None) -> ReturnPeriod:
    if type(value) is not str:
        raise TypeError(f"expected a return period string, got {describe(value)}")
    return _parse_return_period(value)


#: ``MMYYYY`` text to return periods (the maker checks the type, so any key is safe to try).
_PERIODS: Final = _Memo(_period, 1024)


def _open_enum_parser(enum_cls: type[_OpenEnum]) -> Callable[[Any, Any], str]:
    members: dict[str, str] = {member.value: member for member in enum_cls}

    def parse(value: Any, _: Any = None) -> str:
        if type(value) is not str:
            raise TypeError(f"expected a {enum_cls.__name__} code, got {describe(value)}")
        return members.get(value, value)

    parse.members = members  # type: ignore[attr-defined]
    return parse


#: A flag's canonical text: read by a plain subscript, and nothing kept beside it.
_CANONICAL_FLAGS: Final[dict[str, YesNo]] = {"Y": YesNo.YES, "N": YesNo.NO}
#: A flag's other text, by its upper case (the portal's web API sends JSON ``true``/``false``).
_FLAG_TEXT: Final[dict[str, YesNo]] = {
    "Y": YesNo.YES,
    "N": YesNo.NO,
    "TRUE": YesNo.YES,
    "FALSE": YesNo.NO,
}


def _flag(value: Any, _: Any = None) -> YesNo | str:
    """A Y/N flag from ``"Y"``/``"N"``, ``true``/``false`` or their text in any case.

    Other text is kept as it is (an open code list); any other JSON value is an error.
    """
    if value is True:
        return YesNo.YES
    if value is False:
        return YesNo.NO
    if type(value) is not str:
        raise TypeError(f"expected a Y/N flag (text or a boolean), got {describe(value)}")
    member = _CANONICAL_FLAGS.get(value)
    if member is not None:
        return member
    return _FLAG_TEXT.get(value.upper(), value)


def _open_enum_of(tp: Any) -> type[_OpenEnum] | None:
    """``SomeEnum`` for ``SomeEnum | str`` (an open enum), else ``None``."""
    if get_origin(tp) not in (Union, UnionType):
        return None
    args = [a for a in get_args(tp) if a is not NoneType]
    if len(args) == 2 and str in args:
        other = args[0] if args[1] is str else args[1]
        if isinstance(other, type) and issubclass(other, _OpenEnum):
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
    kind: str  # "text", "shared", "money", "enum", "flag", "date", "period": fast-path conversion
    parse: Callable[[Any, Any], Any]  # the whole check and conversion of a non-null value
    unparse: Callable[[Any], Any] | None


def _field_codec(
    f: attrs.Attribute[Any],
) -> tuple[str, Callable[[Any, Any], Any], Callable[[Any], Any] | None]:
    tp = f.type
    if m.DATE_FORMAT in f.metadata:
        fmt = f.metadata[m.DATE_FORMAT]
        return "date", _ims_date, lambda d: d.strftime(fmt)
    enum_cls = _open_enum_of(tp)
    if enum_cls is YesNo:
        return "flag", _flag, str
    if enum_cls is not None:
        return "enum", _open_enum_parser(enum_cls), str
    args = set(get_args(tp)) - {NoneType} if get_origin(tp) in (Union, UnionType) else {tp}
    if args == {Decimal}:
        return "money", _money, None
    if args == {str}:
        if f.metadata.get(m.SHARED):
            return "shared", _shared_text, None
        return "text", _text, None
    if args == {ReturnPeriod}:
        return "period", _period, str
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
        kind, parse, unparse = _field_codec(f)
        required = f.default is attrs.NOTHING
        out.append(_Field(f.name, f.metadata[m.WIRE], required, kind, parse, unparse))
    _FIELD_CACHE[cls] = result = tuple(out)
    return result


# ----------------------------------------------------------------------------------------------
# The fast path: code generated per record class and per key layout.
# ----------------------------------------------------------------------------------------------


#: How many distinct key layouts per record class get their own compiled branch. Real pages
#: use a handful; past the limit, records take the generic compiled function.
_MAX_SHAPES: Final = 64


class _RecordCodec:
    """Structures dicts into one record class, fast.

    Records of a page nearly always share a few key layouts ("shapes": their sets of keys).
    For the shapes seen so far, one function is generated that structures a whole section: it
    tells the shapes apart by the record's length and a few ``in`` tests, then runs the
    shape's straight-line branch. A branch reads each present key with a plain subscript,
    checks and converts the value inline (known codes, dates, return periods and whole-rupee
    amounts through memos, so a known value costs no call), knows statically which keys are
    unknown (to keep them in ``extra``), and fills the instance's slots with plain stores
    through a builder subclass (:func:`_builder`) instead of the keyword-argument ``__init__``
    (the class has no validators or post-init hook, so the result is the same object the
    constructor would build; a test holds the paths equal).

    A record the branches don't cover (a new shape, an unknown code: any ``KeyError``) takes
    the generic function, which reads every field by name; a new shape gets its own branch
    from the next section on. Wrong data raises from either path; the caller then asks the
    cattrs converter for the detailed report.
    """

    def __init__(self, cls: type[m.ImsRecord]) -> None:
        self.cls = cls
        self.fields = _fields(cls)
        self.by_wire = {f.wire: f for f in self.fields}
        self.required = frozenset(f.wire for f in self.fields if f.required)
        #: The shapes that have a branch (or will, at the next :meth:`many`).
        self.shapes: set[frozenset[str]] = set()
        self._compiled: frozenset[frozenset[str]] = frozenset()
        self._ns = self._namespace()
        self.generic: Callable[[dict[str, Any]], m.ImsRecord] = self._compile_generic()
        self._many: Callable[[list[Any]], tuple[m.ImsRecord, ...]] = self._compile_many()

    def __call__(self, d: Any) -> m.ImsRecord:
        """Structure one record (learning its shape)."""
        if type(d) is not dict:
            raise TypeError("expected a JSON object")
        self._learn(d)
        return self.many([d])[0]

    def many(self, items: list[Any]) -> tuple[m.ImsRecord, ...]:
        """Structure a section's records."""
        if len(self._compiled) != len(self.shapes):  # a shape was learnt: add its branch
            self._many = self._compile_many()
        return self._many(items)

    def _learn(self, d: dict[str, Any]) -> None:
        if len(self.shapes) < _MAX_SHAPES and self.required <= d.keys():
            self.shapes.add(frozenset(d))

    def _miss(self, d: Any) -> m.ImsRecord:
        """A record no branch covers: the generic function; its shape gets a branch later."""
        if type(d) is not dict:
            raise TypeError("expected a JSON object")
        self._learn(d)
        return self.generic(d)

    def _namespace(self) -> dict[str, Any]:
        ns: dict[str, Any] = {
            "_cls": self.cls,
            "_Builder": _builder(self.cls),
            "_D": Decimal,
            "_ints": _INT_MONEY,
            "_dates": _IMS_DATES,
            "_periods": _PERIODS,
            "_shared": _SHARED_TEXT,
            "_money": _money,
            "_text": _text,
            "_proxy": FrozenMap._of_dict,
            "_flag": _flag,
            "_EMPTY": EMPTY,
            "_known": frozenset(self.by_wire),
            "_miss": self._miss,
            "_canon": _CANONICAL_FLAGS,
            "_flagwires": frozenset(f.wire for f in self.fields if f.kind == "flag"),
        }
        for i, f in enumerate(self.fields):
            ns[f"_p{i}"] = f.parse
            if f.kind == "enum":
                ns[f"_m{i}"] = f.parse.members  # type: ignore[attr-defined]
            elif f.kind == "flag":
                ns[f"_m{i}"] = _CANONICAL_FLAGS
        return ns

    def _compile_generic(self) -> Callable[[dict[str, Any]], m.ImsRecord]:
        """Any shape: every field read by name, converted by its whole check."""
        lines = ["def generic(d):", "    o = _Builder()", "    raw = 0"]
        for i, f in enumerate(self.fields):
            if f.required:
                lines.append(f"    o.{f.name} = _p{i}(d[{f.wire!r}])")
            else:
                lines.append(f"    v = d.get({f.wire!r})")
                lines.append(f"    o.{f.name} = None if v is None else _p{i}(v)")
                if f.kind == "flag":  # a flag in another form than "Y"/"N": kept as sent
                    lines += [
                        "    if v is not None and (type(v) is not str or v not in _canon):",
                        "        raw = 1",
                    ]
        keep = "v is None or k not in _known"
        raw_flag = "(k in _flagwires and (type(v) is not str or v not in _canon))"
        lines += [
            "    if not raw and d.keys() <= _known and None not in d.values():",
            "        o.extra = _EMPTY",
            "    elif raw:",
            f"        o.extra = _proxy({{k: v for k, v in d.items() if {keep} or {raw_flag}}})",
            "    else:",
            f"        o.extra = _proxy({{k: v for k, v in d.items() if {keep}}})",
            "    o.__class__ = _cls",
            "    return o",
        ]
        fn: Callable[[dict[str, Any]], m.ImsRecord] = self._exec(lines, "generic")["generic"]
        return fn

    def _compile_many(self) -> Callable[[list[Any]], tuple[m.ImsRecord, ...]]:
        shapes = frozenset(self.shapes)
        by_length: dict[int, list[frozenset[str]]] = {}
        for shape in sorted(shapes, key=sorted):
            by_length.setdefault(len(shape), []).append(shape)
        lines = [
            # the tables as defaults: read as fast locals, not globals
            f"def many(items, {', '.join(f'{k}={k}' for k in self._ns)}, type=type, str=str):",
            "    out = []",
            "    append = out.append",
            "    for d in items:",
            "        try:",
            "            n = len(d)",
        ]
        keyword = "if"
        for length, group in sorted(by_length.items()):
            lines.append(f"            {keyword} n == {length}:")
            lines.extend(self._tree(group, " " * 16))
            keyword = "elif"
        if by_length:
            lines.append("            else:")
            lines.append("                append(_miss(d))")
        else:
            lines.append("            append(_miss(d))")
        lines += [
            "        except KeyError:  # not the shape it looked like, or an unknown code",
            "            append(_miss(d))",
            "    return tuple(out)",
        ]
        fn: Callable[[list[Any]], tuple[m.ImsRecord, ...]] = self._exec(lines, "shapes")["many"]
        self._compiled = shapes
        return fn

    def _tree(self, shapes: list[frozenset[str]], pad: str) -> list[str]:
        """Branches telling same-length shapes apart by ``in`` tests, then each shape's body."""
        if len(shapes) == 1:
            return self._branch(shapes[0], pad)
        counts: dict[str, int] = {}
        for shape in shapes:
            for key in shape:
                counts[key] = counts.get(key, 0) + 1
        key = min(
            (k for k, c in counts.items() if c < len(shapes)),
            key=lambda k: (abs(2 * counts[k] - len(shapes)), k),
        )
        return [
            f"{pad}if {key!r} in d:",
            *self._tree([s for s in shapes if key in s], pad + "    "),
            f"{pad}else:",
            *self._tree([s for s in shapes if key not in s], pad + "    "),
        ]

    def _branch(self, shape: frozenset[str], pad: str) -> list[str]:
        """Straight-line code for one shape; ``nul`` notes a known field sent as ``null``."""
        out = [f"{pad}o = _Builder()"]
        nullable = any(not f.required and f.wire in shape for f in self.fields)
        if nullable:
            out.append(f"{pad}nul = 0")
        for i, f in enumerate(self.fields):
            if f.wire not in shape:
                out.append(f"{pad}o.{f.name} = None")
                continue
            out.append(f"{pad}v = d[{f.wire!r}]")
            out.extend(pad + line for line in _convert(i, f))
            out.append(f"{pad}o.{f.name} = v")
        # Every key of the shape must be read: with the length equal, that proves the record
        # has exactly these keys (an unknown key that is missing raises KeyError here).
        keep_unknown = not shape <= self.by_wire.keys()
        out.extend(f"{pad}d[{k!r}]" for k in sorted(shape - self.by_wire.keys()))
        unknown = "{k: v for k, v in d.items() if k not in _known}"
        with_nulls = (
            "{k: v for k, v in d.items() if v is None or k not in _known or type(v) is bool}"
        )
        plain = f"_proxy({unknown})" if keep_unknown else "_EMPTY"
        if nullable:
            out.append(f"{pad}o.extra = _proxy({with_nulls}) if nul else {plain}")
        else:
            out.append(f"{pad}o.extra = {plain}")
        out.append(f"{pad}o.__class__ = _cls")
        out.append(f"{pad}append(o)")
        return out

    def _exec(self, lines: list[str], what: str) -> dict[str, Any]:
        ns = dict(self._ns)
        name = f"<flynn_async structure {self.cls.__name__} {what}>"
        exec(compile("\n".join(lines), name, "exec"), ns)
        return ns


def _convert(i: int, f: _Field) -> list[str]:
    """Lines that check and convert ``v`` (the value of field ``i``) in place.

    A ``null`` in an optional field stays ``None`` and sets ``nul``; in a required field it
    fails like any value of the wrong type. Unknown codes raise ``KeyError`` (the record then
    takes the generic path, which keeps them as text). A flag sent as a JSON boolean is read
    here and sets ``nul`` too, so that the value as sent is kept in ``extra``; flag text other
    than ``"Y"``/``"N"`` takes the generic path.
    """
    opt = not f.required
    if f.kind == "flag":
        return [
            "if type(v) is str:",
            f"    v = _m{i}[v]",
            "elif v is None:",
            "    nul = 1",
            "else:",
            "    v = _flag(v)",
            "    nul = 1",
        ]
    if f.kind == "text":
        if opt:
            return [
                "if type(v) is not str:",
                "    if v is not None:",
                "        _text(v)",
                "    nul = 1",
            ]
        return ["if type(v) is not str:", "    _text(v)"]
    if f.kind == "money":
        if opt:
            return [
                "if type(v) is not _D:",
                "    if type(v) is int:",
                "        v = _ints[v]",
                "    elif v is None:",
                "        nul = 1",
                "    else:",
                "        _money(v)",
            ]
        return ["if type(v) is not _D:", "    v = _ints[v] if type(v) is int else _money(v)"]
    table = {"enum": f"_m{i}", "shared": "_shared", "date": "_dates", "period": "_periods"}[f.kind]
    if opt:
        return ["if v is None:", "    nul = 1", "else:", f"    v = {table}[v]"]
    return [f"v = {table}[v]"]


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
            "__init__": object.__init__,  # ``_Builder()``: an empty instance, in C
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
    conv.register_structure_hook(ReturnPeriod, _period)
    conv.register_unstructure_hook(Decimal, lambda d: d)
    conv.register_unstructure_hook(ReturnPeriod, str)
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
    if enum_cls is YesNo:
        return _flag(value)
    return _open_enum_parser(enum_cls)(value, tp)


def _date_formatter(fmt: str) -> Callable[[date], str]:
    def unparse(value: date) -> str:
        return value.strftime(fmt)

    return unparse


def _plain(value: Any) -> Any:
    """Open-enum members back to their text; everything else as it is."""
    if isinstance(value, _OpenEnum):
        return value.value
    if isinstance(value, ReturnPeriod):
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
        return [f"expected a JSON object, got {describe(record)} @ {path}"]
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
        fast = _FAST[cls]
        try:
            known[key] = fast.many(value)
        except Exception:
            for i, item in enumerate(value):
                try:
                    fast(item)
                except RecursionError:
                    raise
                except Exception as exc:
                    messages = _explain(item, cls, f"$.{key}[{i}]", exc)
                    raise ResponseError(
                        "page does not match the IMS schema: " + "; ".join(messages), **where
                    ) from None
            raise  # pragma: no cover - the loop above re-finds the failure
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
    try:
        document = loads(body)
    except msgspec.DecodeError as exc:
        raise ResponseError(f"page body is not valid JSON: {exc}") from None
    return structure_invoices(unwrap(document, http_status=200))


def unstructure_record(record: m.ImsRecord) -> dict[str, Any]:
    """A record as the server shaped it (wire names; ``Decimal`` amounts; extras last)."""
    out: dict[str, Any] = _converter.unstructure(record, type(record))
    if record.extra:
        out.update(thaw(record.extra))
    return out


def unstructure_invoices(result: m.ImsInvoices) -> dict[str, Any]:
    """An :class:`~flynn_async.ims.ImsInvoices` as page ``data`` (lower-case section keys)."""
    out: dict[str, Any] = {}
    for name in result.section_names():
        if name in m.SECTION_RECORD_TYPES:
            known: tuple[m.ImsRecord, ...] = getattr(result, name)
            out[name] = [unstructure_record(r) for r in known]
        else:
            out[name] = [thaw(r) for r in result.other_sections[name]]
    out.update(thaw(result.extra))
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
