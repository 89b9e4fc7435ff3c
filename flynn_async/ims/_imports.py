"""IMS import records (bills of entry): sections ``impg``, ``impga``, ``impgsez``, ``impgseza``.

Whether the download route takes these sections is **unconfirmed**, so they are never part of a
default download: :meth:`ImsApi.download_imports` asks for them by name. Their field names are
unconfirmed too (``_api.IMS_BODY_IMPORT_FIELDS``). An :class:`ImsImport` is typed and, at the
same time, a read-only mapping of its record as sent (so exports and decisions treat it like
any record), with every field kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from flynn_async._core import _validate
from flynn_async._core._errors import InvalidInput, ResponseError, first_error, note_task_ids
from flynn_async._core._values import FrozenMap, thaw
from flynn_async._http import _api
from flynn_async._tasks._task import Task, TaskContext, run_group, run_to_end
from flynn_async.gst._gst import GstApi
from flynn_async.gst._session import GstSession

from ._models import ImsInvoices, ImsStatus

__all__ = ["ImsImport", "download_imports", "parse_import_sections"]

log: Final = logging.getLogger("flynn_async.ims")


def _money(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    return None


class ImsImport(Mapping[str, Any]):
    """A bill of entry in IMS: typed attributes over the record as sent (a read-only mapping).

    ``port_code`` (``portcd``), ``bill_number`` (``boenum``), ``bill_date`` (``boedt``, text as
    sent), ``return_period`` (``rtnprd``), ``taxable_value`` (``txval``), ``igst`` (``igst``,
    not ``iamt``), ``cess``, ``action``, ``pending_blocked``, ``hash``; everything else stays
    in the mapping. Only Accept or Pending is allowed on imports (rule 3).
    """

    __slots__ = ("_data",)

    _data: FrozenMap

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", FrozenMap(data))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"ImsImport is read-only (cannot set {name!r})")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (
            f"ImsImport(port_code={self.port_code!r}, bill_number={self.bill_number!r}, "
            f"bill_date={self.bill_date!r}, action={self.action!r})"
        )

    def __reduce__(self) -> tuple[type[ImsImport], tuple[dict[str, Any]]]:
        return (ImsImport, (dict(self._data),))

    @property
    def port_code(self) -> str | None:
        """``portcd``."""
        value = self._data.get("portcd")
        return None if value is None else str(value)

    @property
    def bill_number(self) -> str | None:
        """``boenum``."""
        value = self._data.get("boenum")
        return None if value is None else str(value)

    @property
    def bill_date(self) -> str | None:
        """``boedt`` as sent (``DD-MM-YYYY``)."""
        value = self._data.get("boedt")
        return None if value is None else str(value)

    @property
    def return_period(self) -> str | None:
        """``rtnprd`` (``MMYYYY``)."""
        value = self._data.get("rtnprd")
        return None if value is None else str(value)

    @property
    def itc_period(self) -> str | None:
        """``itcprd`` (``MMYYYY``): the period whose ITC the bill of entry goes to."""
        value = self._data.get("itcprd")
        return None if value is None else str(value)

    @property
    def taxable_value(self) -> Decimal | None:
        """``txval``."""
        return _money(self._data.get("txval"))

    @property
    def igst(self) -> Decimal | None:
        """``igst``."""
        return _money(self._data.get("igst"))

    @property
    def cess(self) -> Decimal | None:
        """``cess``."""
        return _money(self._data.get("cess"))

    @property
    def action(self) -> ImsStatus | str | None:
        """``action``: an :class:`~flynn_async.ImsStatus` when known, else the text sent."""
        value = self._data.get("action")
        try:
            return ImsStatus.parse(value) if isinstance(value, str) else value
        except InvalidInput:
            return value

    @property
    def pending_blocked(self) -> bool | None:
        """Is pending NOT allowed (either flag name); ``None`` when not sent."""
        from ._rules import flag_set

        newer = self._data.get("ispendactblocked")
        value = newer if newer is not None else self._data.get("ispendactnallwd")
        return None if value is None else flag_set(value)

    @property
    def hash(self) -> str | None:
        """``hash``."""
        value = self._data.get("hash")
        return None if value is None else str(value)

    def to_dict(self) -> dict[str, Any]:
        """The record as sent (amounts as ``Decimal``)."""
        return {k: thaw(v) for k, v in self._data.items()}


_IMPORTS: Final = tuple(s.upper() for s in _api.IMS_IMPORT_SECTIONS)


def parse_import_sections(value: Iterable[str] | str) -> list[str]:
    """Import section names (any case), each once, in order; ``InvalidInput`` for others."""
    items = [value] if isinstance(value, str) else list(value)
    chosen: list[str] = []
    for item in items:
        if not isinstance(item, str) or item.strip().upper() not in _IMPORTS:
            raise InvalidInput(f"import sections are {', '.join(_IMPORTS)}; got {item!r}")
        name = item.strip().upper()
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise InvalidInput("sections must name at least one import section")
    return chosen


async def download_imports(
    ctx: TaskContext,
    gst: GstApi,
    session: GstSession,
    sections: Iterable[str] | str,
    status: ImsStatus | str | None,
) -> ImsInvoices:
    """Download import sections by name (a task each) into ``other_sections`` as
    :class:`ImsImport` records; the result knows its recipient."""
    from ._actions import _headers
    from ._download import _CODEC

    chosen = parse_import_sections(sections)
    wanted = None if status is None else ImsStatus.parse(status)
    if not isinstance(session, GstSession):
        raise InvalidInput("session must be a GstSession (from verify_otp)")
    _validate.gstin(session.gstin, name="session.gstin")
    submitted: dict[str, str] = {}
    results: dict[str, tuple[ImsImport, ...]] = {}

    async def start(section: str) -> str:
        current = gst.current(session)
        template = _api.IMS_ROUTE
        params = {"section": section}
        if wanted is not None:
            params["status"] = wanted.value
        data = await ctx.api.call(
            "GET",
            template,
            template.format(flynn=_api.IMS_FLYNN_VERSION),
            headers=_headers(current),
            params=params,
        )
        task_id = data.get(_api.TASK_ID_KEY) if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise ResponseError(f"submit answer has no {_api.TASK_ID_KEY!r}", route=template)
        submitted[section] = task_id
        log.info("IMS %s task %s started for %s", section, task_id, current.gstin)
        return task_id

    async def one(section: str) -> None:
        task_id = await run_to_end(
            start(section), lambda tid, cancelled: note_task_ids(cancelled, {section: tid})
        )
        task = Task(ctx, _validate.task_id(task_id), _CODEC, label=section.lower(), fresh=True)
        page = await task.result()
        records = page.other_sections.get(section.lower(), ())
        results[section.lower()] = tuple(ImsImport(r) for r in records)

    try:
        await run_group(lambda group: [group.create_task(one(s)) for s in chosen])
    except BaseExceptionGroup as errors:
        first = first_error(errors)
        note_task_ids(first, submitted)
        raise first from first.__cause__
    except BaseException as exc:
        note_task_ids(exc, submitted)
        raise
    other = {s.lower(): results[s.lower()] for s in chosen}
    sections_map = FrozenMap()  # kept as they are: ImsImport is read-only already
    object.__setattr__(sections_map, "_data", MappingProxyType(other))
    merged = ImsInvoices(other_sections=sections_map, present=frozenset(other))
    return merged.for_recipient(session.gstin)
