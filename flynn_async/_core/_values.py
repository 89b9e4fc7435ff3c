"""Immutable values shared by every layer: frozen mappings and open code lists.

:class:`FrozenMap` holds what the server sent that the models don't know (deeply read-only,
picklable); an *open* enum keeps a code the library does not know as plain text, so nothing the
server says is lost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, Self

from ._errors import InvalidInput

__all__ = ["EMPTY", "FrozenMap", "YesNo", "freeze", "thaw"]


class FrozenMap(Mapping[str, Any]):
    """A deeply read-only mapping that pickles: what the server sent that the models don't know.

    Its values are frozen as it is made: JSON arrays become tuples and JSON objects become
    ``FrozenMap`` values in turn, so nothing inside can be changed (and nothing inside can
    ever refer back to the record that holds it). ``to_dict()`` gives lists and dicts back.
    Compares equal to any mapping with the same items, and hashes by its items (every value
    inside is immutable), so a record that holds one can be hashed and kept in a set.
    """

    __slots__ = ("_data",)

    _data: MappingProxyType[str, Any]

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        items = dict(data) if data else {}
        if not _FROZEN_TYPES.issuperset(map(type, items.values())):  # (in C) all frozen already?
            items = {k: freeze(v) for k, v in items.items()}
        object.__setattr__(self, "_data", MappingProxyType(items))

    @classmethod
    def _of_dict(cls, data: dict[str, Any]) -> FrozenMap:
        """Private: wrap ``data`` (a fresh dict nobody else holds) after freezing its values."""
        self = object.__new__(cls)
        if not _FROZEN_TYPES.issuperset(map(type, data.values())):
            for key, value in data.items():
                data[key] = freeze(value)
        object.__setattr__(self, "_data", MappingProxyType(data))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"FrozenMap is read-only (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"FrozenMap is read-only (cannot delete {name!r})")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __repr__(self) -> str:
        return f"FrozenMap({dict(self._data)!r})"

    def __eq__(self, other: object) -> bool:
        return Mapping.__eq__(self, other)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __reduce__(self) -> tuple[type[FrozenMap], tuple[dict[str, Any]]]:
        return (FrozenMap, (dict(self._data),))


#: Values kept as they are: immutable, and holding nothing that could change.
_FROZEN_TYPES: Final = frozenset({str, int, float, bool, Decimal, type(None), FrozenMap})


def freeze(value: Any) -> Any:
    """``value`` made deeply immutable: lists (and tuples) as tuples, mappings as ``FrozenMap``.

    Other values (text, numbers, ``Decimal``, ``None``, booleans) are returned as they are.
    """
    kind = type(value)
    if kind is list or kind is tuple:
        return tuple(freeze(item) for item in value)
    if kind is FrozenMap:
        return value
    if kind is dict or isinstance(value, Mapping):
        return FrozenMap(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The JSON shape of a frozen value: tuples as lists, mappings as dicts (deeply)."""
    if isinstance(value, tuple):
        return [thaw(item) for item in value]
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    return value


EMPTY: Final[Mapping[str, Any]] = FrozenMap()


class _OpenEnum(enum.StrEnum):
    """A code list that may grow: unknown codes are kept as plain text by the decoder."""

    @classmethod
    def parse(cls, value: object) -> Self:
        """The member for ``value`` (its code or its name, any case); ``InvalidInput`` if none."""
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            wanted = value.strip().upper()
            for member in cls:
                if member.value.upper() == wanted or member.name == wanted:
                    return member
        codes = ", ".join(m.value for m in cls)
        raise InvalidInput(f"{cls.__name__} must be one of {codes}; got {value!r}")


class YesNo(_OpenEnum):
    """A ``Y``/``N`` flag (also read from JSON ``true``/``false`` and any letter case)."""

    YES = "Y"
    NO = "N"
