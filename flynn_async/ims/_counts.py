"""IMS counts (``GETCNT``): how many records each section holds, by action.

One cheap, read-only call before any download: a section with no records needs no task. The
counts are a snapshot: a supplier may add records before a download runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from flynn_async._core import _validate
from flynn_async._core._errors import InvalidInput, ResponseError
from flynn_async._core._values import EMPTY, FrozenMap
from flynn_async._http import _api

from ._models import ImsSection, ImsStatus

__all__ = ["ImsCounts", "SectionCounts", "parse_counts"]


@attrs.frozen(kw_only=True)
class SectionCounts:
    """One section's records by action (``noaction``, ``accept``, ``reject``, ``pending``).

    ``extra`` keeps the fields the models don't know, as sent.
    """

    #: Records with no action yet (``noaction``).
    no_action: int = 0
    #: Accepted records (``accept``).
    accepted: int = 0
    #: Rejected records (``reject``).
    rejected: int = 0
    #: Pending records (``pending``).
    pending: int = 0
    #: Fields the models don't know.
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, repr=False)

    @property
    def total(self) -> int:
        """Every record of the section, whatever its action."""
        return self.no_action + self.accepted + self.rejected + self.pending

    def with_status(self, status: ImsStatus | str | None) -> int:
        """The records a download with ``status`` (``None``: all) would return."""
        if status is None:
            return self.total
        wanted = ImsStatus.parse(status)
        return {
            ImsStatus.NO_ACTION: self.no_action,
            ImsStatus.ACCEPTED: self.accepted,
            ImsStatus.REJECTED: self.rejected,
            ImsStatus.PENDING: self.pending,
        }[wanted]


_ZERO: Final = SectionCounts()


@attrs.frozen(kw_only=True)
class ImsCounts:
    """The counts answer: per group (``all_oth``...), its ``ttl_cnt`` and its sections.

    A snapshot: a supplier may add records before a download runs. Unknown groups, sections
    and fields are kept (``groups`` holds every group's sections; ``extra`` the non-group
    keys of the answer, such as ``gstin`` or ``tradenm``).
    """

    #: The taxpayer the counts are for.
    gstin: str
    #: Group name -> section key (lower case) -> counts.
    groups: Mapping[str, Mapping[str, SectionCounts]] = attrs.field(factory=dict)
    #: Group name -> the group's ``ttl_cnt`` as sent (``None`` when absent).
    group_totals: Mapping[str, int | None] = attrs.field(factory=dict)
    #: Keys of the answer that are not groups, as sent.
    extra: Mapping[str, Any] = attrs.field(default=EMPTY, repr=False)

    def section(self, name: ImsSection | str) -> SectionCounts:
        """A section's counts (``"b2b"``, ``ImsSection.B2B``, ``"impg"``); zeros if absent."""
        key = name.key if isinstance(name, ImsSection) else str(name).lower()
        for sections in self.groups.values():
            if key in sections:
                return sections[key]
        return _ZERO

    def sections(self) -> dict[str, SectionCounts]:
        """Every section of every group, by section key."""
        return {k: v for group in self.groups.values() for k, v in group.items()}

    @property
    def total(self) -> int:
        """Every record counted, in every section of every group."""
        return sum(c.total for c in self.sections().values())


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ResponseError(f"counts: {where} is not a count: {value!r:.40}")
    if isinstance(value, str):
        if not value.isascii() or not value.isdigit():
            raise ResponseError(f"counts: {where} is not a count: {value!r:.40}")
        value = int(value)
    if value < 0:
        raise ResponseError(f"counts: {where} is negative: {value}")
    return int(value)


def _section(data: Mapping[str, Any], where: str) -> SectionCounts:
    fields = _api.IMS_COUNT_FIELDS
    known = set(fields.values())
    values = {
        name: _count(data[wire], f"{where}.{wire}") if data.get(wire) is not None else 0
        for name, wire in zip(
            ("no_action", "accepted", "rejected", "pending"),
            (fields["N"], fields["A"], fields["R"], fields["P"]),
            strict=True,
        )
    }
    extra = {k: v for k, v in data.items() if k not in known}
    return SectionCounts(**values, extra=FrozenMap(extra) if extra else EMPTY)


def parse_counts(gstin: str, data: Any, *, route: str = _api.IMS_COUNTS_ROUTE) -> ImsCounts:
    """Structure the counts answer's ``data``; a broken answer is a ``ResponseError``."""
    if not isinstance(data, Mapping):
        raise ResponseError("the counts answer is not an object", route=route)
    sent = data.get(_api.IMS_COUNT_GSTIN)  # the portal's web version names the taxpayer
    if sent is not None and sent != gstin:
        raise ResponseError(f"the counts are for {sent!r:.40}, not {gstin}", route=route)
    groups: dict[str, dict[str, SectionCounts]] = {}
    totals: dict[str, int | None] = {}
    extra: dict[str, Any] = {}
    try:
        for name, value in data.items():
            is_group = name in _api.IMS_COUNT_GROUPS or (
                isinstance(value, Mapping) and any(isinstance(v, Mapping) for v in value.values())
            )
            if not is_group or not isinstance(value, Mapping):
                extra[name] = value
                continue
            sections: dict[str, SectionCounts] = {}
            for key, item in value.items():
                if key == _api.IMS_COUNT_TOTAL:
                    continue
                if not isinstance(item, Mapping):
                    raise ResponseError(f"counts: {name}.{key} is not an object")
                sections[key.lower()] = _section(item, f"{name}.{key}")
            groups[name] = sections
            total = value.get(_api.IMS_COUNT_TOTAL)
            totals[name] = None if total is None else _count(total, f"{name}.ttl_cnt")
    except ResponseError as exc:
        exc.route = route
        raise
    return ImsCounts(
        gstin=gstin, groups=groups, group_totals=totals, extra=FrozenMap(extra) if extra else EMPTY
    )


def goods_types(value: Iterable[str] | str) -> tuple[str, ...]:
    """Checked ``goods_typ`` values (one or several), each once, in order."""
    items = [value] if isinstance(value, str) else list(value)
    chosen: list[str] = []
    for item in items:
        text = _validate.text(item, "goods_types", max_len=32).upper()
        if text not in _api.IMS_GOODS_TYPES:
            raise InvalidInput(
                f"goods_types must be among {', '.join(_api.IMS_GOODS_TYPES)}; got {item!r}"
            )
        if text not in chosen:
            chosen.append(text)
    if not chosen:
        raise InvalidInput("goods_types must name at least one goods type")
    return tuple(chosen)
