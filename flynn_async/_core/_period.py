"""A GST return period (``MMYYYY`` on the wire): shared by every GST return's records."""

from __future__ import annotations

import functools

import attrs

__all__ = ["ReturnPeriod"]


@attrs.frozen(order=True)
class ReturnPeriod:
    """A GST return period (``rtnprd``, ``MMYYYY`` on the wire), ordered by time."""

    year: int
    month: int = attrs.field()

    @month.validator
    def _check_month(self, _: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 12:
            raise ValueError(f"month must be 1 to 12, got {value}")

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
