"""Secret values that never show themselves.

:class:`Secret` wraps a password, token, OTP or session id. Its ``repr`` and ``str`` are a
mask, so a secret that ends up in a log line, an exception text or a data class ``repr`` shows
``'***'`` rather than its value; the value is read with :meth:`Secret.reveal`, which the
client calls only where it builds a request. A secret refuses to be pickled (``TypeError``), so
it never reaches a pickle, a multiprocessing queue or a cache file by accident; ``copy`` and
``deepcopy`` return the secret itself.
"""

from __future__ import annotations

from typing import Final, NoReturn, final

MASK: Final = "***"


@final
class Secret:
    """A string that hides itself from ``repr``, ``str`` and formatting.

    Two secrets are equal when their values are; the hash is that of the value, so secrets can
    key a mapping. Use :meth:`reveal` to get the value. Pickling a secret raises
    ``TypeError`` (a pickle would hold the value in the clear).
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value._value
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """Return the secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __copy__(self) -> Secret:
        return self  # immutable: a copy is the secret itself

    def __deepcopy__(self, memo: object) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        # A pickle would carry the value in the clear (into a cache, a queue, a crash dump).
        raise TypeError(
            "a Secret cannot be pickled: its value would be written in the clear; pass "
            "secret.reveal() explicitly where a value must cross a process"
        )
