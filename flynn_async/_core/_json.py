"""JSON with exact decimals: every number with a fraction or exponent is a ``Decimal``.

JSON is read with msgspec, every JSON number with a fraction or exponent becoming a
:class:`~decimal.Decimal` of exactly the digits sent (never a float); an object that repeats a
key and JSON nested deeper than :data:`MAX_DEPTH` are refused. Nothing here knows which API
sent the document.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

__all__ = ["MAX_DEPTH", "decode_problem", "describe", "dumps", "loads"]

_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)
_encoder: Final = msgspec.json.Encoder(decimal_format="number")


def loads(body: bytes | str) -> Any:
    """Parse JSON; numbers with a fraction or exponent become exact ``Decimal`` values.

    Raises ``msgspec.DecodeError`` on malformed JSON, on JSON nested too deeply to decode, and
    on an object that repeats a key (JSON leaves its meaning open: it is never guessed).
    """
    # counted first: the decoder then reads a body the count has just brought into the cache
    colons = body.count(":" if type(body) is str else b":")  # type: ignore[arg-type]
    try:
        document = _decoder.decode(body)
    except RecursionError:
        raise msgspec.DecodeError("JSON nested too deeply") from None
    if type(document) is dict or type(document) is list:
        _check_unique_keys(body, document, colons)
    return document


#: The deepest nesting of arrays and objects taken (the API's deepest documents, GSTR-2B, nest
#: about ten levels). Deeper JSON is refused, so that no code walking a document (freezing an
#: ``extra``, an error's text) can run out of stack.
MAX_DEPTH: Final = 100


def decode_problem(body: bytes | str) -> str:
    """Why ``body`` is refused, as ``"; <reason>"`` for an error text (empty if it is not)."""
    try:
        loads(body)
    except msgspec.DecodeError as exc:
        return f"; {exc}"
    return ""


_ONLY_DICTS: Final = frozenset({dict})
#: CPython keeps a dict that holds only atomic values (text, numbers, ``Decimal``, ``None``)
#: out of the cyclic collector's lists, and tracks it as soon as a container is put in it: so
#: ``gc.is_tracked`` tells, in C, which records may hold objects or arrays. Where that is not
#: so (another interpreter), every dict is tracked, and every value is looked at.
_may_nest: Final = gc.is_tracked


def _decoded_keys(document: Any) -> int:
    """The keys of the decoded objects in ``document`` (never more than there are).

    A list of objects (a page's records) is counted in C, and only the objects that may hold
    containers are looked into. Iterative, so no nesting depth can exhaust the stack; nesting
    deeper than :data:`MAX_DEPTH` raises ``msgspec.DecodeError``.
    """
    count = 0
    stack = [(document, 1)]
    pop, push = stack.pop, stack.extend
    while stack:
        item, depth = pop()
        if depth > MAX_DEPTH:
            raise msgspec.DecodeError(f"JSON nested too deeply (more than {MAX_DEPTH} levels)")
        inner = depth + 1
        if type(item) is dict:
            count += len(item)
            if _may_nest(item):
                push([(v, inner) for v in item.values() if type(v) is dict or type(v) is list])
        elif set(map(type, item)) == _ONLY_DICTS:
            count += sum(map(len, item))
            for record in filter(_may_nest, item):
                values = record.values()
                push([(v, inner + 1) for v in values if type(v) is dict or type(v) is list])
        else:
            push([(v, inner) for v in item if type(v) is dict or type(v) is list])
    return count


def _check_unique_keys(body: bytes | str, document: Any, colons: int) -> None:
    """Raise ``msgspec.DecodeError`` when an object of ``body`` repeats a key.

    Every key of the text is followed by exactly one ``:`` outside any string, so the body's
    ``colons`` are its keys plus the colons inside its strings; a repeated key is dropped from the
    decoded objects (the last one wins), with its value. Three steps, each taken only when the
    one before cannot decide:

    1. the decoded objects' keys equal the body's colons: no key can repeat (the usual case,
       about a tenth of the decoding's time);
    2. the document written back as JSON (in C) has as many colons as the body: its keys plus
       the colons inside its text, so no key was dropped. Only when no string escapes a colon
       (``\\u003a``), which would be a colon in the text that is not one in the body;
    3. the standard library's parser reports each object's keys in order.
    """
    if _decoded_keys(document) == colons:
        return
    escaped = ("\\u003a", "\\u003A") if type(body) is str else (b"\\u003a", b"\\u003A")
    plain = not any(e in body for e in escaped)  # type: ignore[operator]
    if plain and _encoder.encode(document).count(b":") == colons:
        return
    try:
        json.loads(body, object_pairs_hook=_unique_pairs, parse_int=str, parse_float=str)
    except RecursionError:
        raise msgspec.DecodeError("JSON nested too deeply") from None
    except msgspec.DecodeError:
        raise
    except ValueError as exc:  # JSON msgspec took but the reference parser does not
        raise msgspec.DecodeError(f"JSON that cannot be checked for repeated keys: {exc}") from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise msgspec.DecodeError(
                f"a JSON object repeats the key {key[:60]!r}: its meaning is ambiguous"
            )
        seen.add(key)


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


def describe(value: Any) -> str:
    """A value for an error text: its type and its repr, cut at 60 characters."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
