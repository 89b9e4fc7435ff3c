"""Input checks shared by the public entry points.

Each function returns the normalised value or raises :class:`~flynn_async.InvalidInput`, and is
called before any request is made.
"""

from __future__ import annotations

import re
from typing import Final

from ._errors import InvalidInput

_GSTIN_LOOSE: Final = re.compile(r"[0-9A-Z]{15}")
_GSTIN_STRICT: Final = re.compile(r"[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]")
_GSTIN_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TASK_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")


def gstin_check_digit(first14: str) -> str:
    """The GSTIN check character for the first 14 characters (the GSTN's base-36 Luhn)."""
    total = 0
    for i, ch in enumerate(first14):
        value = _GSTIN_ALPHABET.index(ch) * (2 if i % 2 else 1)
        total += value // 36 + value % 36
    return _GSTIN_ALPHABET[(36 - total % 36) % 36]


def gstin(value: object, *, strict: bool = False, name: str = "gstin") -> str:
    """Check a GSTIN given by the caller.

    By default any 15 upper-case letters and digits pass (sandbox GSTINs fail the real pattern).
    With ``strict=True`` the structure and the check digit are verified too.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a str, not {type(value).__name__}")
    if not _GSTIN_LOOSE.fullmatch(value):
        raise InvalidInput(f"{name} must be 15 upper-case letters and digits, got {value!r}")
    if strict:
        if not _GSTIN_STRICT.fullmatch(value):
            raise InvalidInput(f"{name} {value!r} does not follow the GSTIN structure")
        if gstin_check_digit(value[:14]) != value[14]:
            raise InvalidInput(f"{name} {value!r} has a wrong check digit")
    return value


def text(value: object, name: str, *, max_len: int = 256) -> str:
    """A non-empty string without surrounding whitespace or control characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a str, not {type(value).__name__}")
    if not value or value.strip() != value:
        raise InvalidInput(f"{name} must be non-empty without surrounding spaces")
    if len(value) > max_len:
        raise InvalidInput(f"{name} is longer than {max_len} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"{name} must not contain control characters")
    return value


def task_id(value: object) -> str:
    """A task id as the API hands them out (a UUID; any URL-safe token is accepted)."""
    if not isinstance(value, str):
        raise InvalidInput(f"task id must be a str, not {type(value).__name__}")
    if not _TASK_ID.fullmatch(value):
        raise InvalidInput(f"task id {value!r} is not a valid task id")
    return value


def positive_number(value: object, name: str, *, allow_zero: bool = False) -> float:
    """A finite real number above zero (or at least zero)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number, not {type(value).__name__}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput(f"{name} must be finite")
    if number < 0 or (number == 0 and not allow_zero):
        raise InvalidInput(f"{name} must be {'at least' if allow_zero else 'above'} zero")
    return number


def positive_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise InvalidInput(f"{name} must be {bound}, got {value}")
    return value
