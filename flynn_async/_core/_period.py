"""A GST return period (``MMYYYY`` on the wire): shared by every GST return's records."""

from __future__ import annotations

import functools

__all__ = ["ReturnPeriod"]


@functools.total_ordering
class ReturnPeriod:
    """A GST return period (``rtnprd``, ``MMYYYY`` on the wire), ordered by time.

    An immutable value (a plain class rather than attrs, so that the wire codec's decoder
    reads it from its ``MMYYYY`` text instead of taking it for a JSON object).
    """

    __slots__ = ("month", "year")

    year: int
    month: int

    def __init__(self, year: int, month: int) -> None:
        if not 1 <= month <= 12:
            raise ValueError(f"month must be 1 to 12, got {month}")
        object.__setattr__(self, "year", year)
        object.__setattr__(self, "month", month)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ReturnPeriod is immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"ReturnPeriod is immutable (cannot delete {name!r})")

    def __eq__(self, other: object) -> bool:
        if type(other) is not ReturnPeriod:
            return NotImplemented
        return (self.year, self.month) == (other.year, other.month)

    def __lt__(self, other: object) -> bool:
        if type(other) is not ReturnPeriod:
            return NotImplemented
        return (self.year, self.month) < (other.year, other.month)

    def __hash__(self) -> int:
        return hash((ReturnPeriod, self.year, self.month))

    def __repr__(self) -> str:
        return f"ReturnPeriod(year={self.year}, month={self.month})"

    def __reduce__(self) -> tuple[type[ReturnPeriod], tuple[int, int]]:
        return (ReturnPeriod, (self.year, self.month))

    @classmethod
    def parse(cls, text: str) -> ReturnPeriod:
        """Parse ``MMYYYY`` (such as ``012023``)."""
        return _parse_return_period(text)

    def __str__(self) -> str:
        return f"{self.month:02d}{self.year:04d}"


@functools.lru_cache(maxsize=4096)
def _parse_return_period(text: str) -> ReturnPeriod:
    if len(text) != 6 or not text.isascii() or not text.isdigit():
        raise ValueError(f"return period must be MMYYYY, got {text!r}")
    return ReturnPeriod(year=int(text[2:]), month=int(text[:2]))
