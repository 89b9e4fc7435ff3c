"""The simulator's settings: immutable groups, one per thing a test wants to change.

:class:`SimulatorConfig` holds one of each group: :class:`RecordSettings` (the generated
data), :class:`PagingSettings` (how results are cut into pages), :class:`TaskSettings` (how
long tasks take and how they end), :class:`DelaySettings` (added latency),
:class:`ShapeSettings` (which of the documented answer shapes the simulator sends),
:class:`EInvoiceSettings` (the simulated e-invoice portal) and :class:`FaultSettings` (seeded
faults). Every group's defaults are the real service's plain behaviour, so a test names only
what it changes::

    FlynnSimulator(records=RecordSettings(per_section=6), paging=PagingSettings(size=4))

For one release (they go in the next) the flat keyword arguments of 0.1
(``FlynnSimulator(page_size=4)``, ``config.replace(error_rate=0.1)``, ``config.page_size``,
``@pytest.mark.flynn_simulator(page_size=4)``) still work, with a :class:`DeprecationWarning`
naming the new spelling; :data:`FLAT_NAMES` maps each to its group and field.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from flynn_async._http import _api
from flynn_async.testing import _einvoice_sim, _faults

__all__ = [
    "FLAT_NAMES",
    "GROUP_NAMES",
    "DelaySettings",
    "EInvoiceSettings",
    "FaultSettings",
    "GstErrorShape",
    "PagingSettings",
    "RecordSettings",
    "ShapeSettings",
    "SimulatorConfig",
    "TaskSettings",
]

Envelope = Literal["new", "old"]

#: Which envelope each route answers with in "mixed" mode (section 4 of the API notes); its
#: keys are the simulator's route names.
MIXED_ENVELOPES: Final[dict[str, Envelope]] = {
    "login": "old",
    "token_refresh": "old",
    "token_logout": "old",
    "otp_request": "old",
    "otp_verify": "old",
    "gst_refresh": "old",
    "gst_logout": "old",
    "task_status": "old",
    "ims_submit": "new",
    "einvoice": "new",
    "task_result": "new",
    "task_page": "new",
    "gstr2b_get": "new",
    "gstr2b_regenerate": "new",
    "gstr2b_status": "new",
    "ims_counts": "new",
    "ims_save": "new",
    "ims_request_status": "new",
    "ims_reset": "new",
}

#: How the simulated Flynn relays a GST portal error (sections 4 and 13).
GstErrorShape = Literal["error_cd", "gstn-err", "older"]

_GSTIN_CHARS: Final = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def is_gstin(value: str) -> bool:
    """Is ``value`` shaped like a GSTIN (15 upper-case letters and digits)?"""
    return len(value) == 15 and set(value) <= _GSTIN_CHARS


# -------------------------------------------------------------------------------------------
# Validators and converters
# -------------------------------------------------------------------------------------------


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be at least 0, got {value!r}")


def _optional_non_negative(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and value < 0:  # type: ignore[operator]
        raise ValueError(f"{attribute.name} must be at least 0, got {value!r}")


def _optional_positive(_: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be at least 1 or None, got {value!r}")


def _route_names(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        raise TypeError("routes takes a collection of route names, not one name")
    return frozenset(value)


def _known_routes(_: object, attribute: attrs.Attribute[Any], value: frozenset[str]) -> None:
    unknown = sorted(value - MIXED_ENVELOPES.keys())
    if unknown:
        raise ValueError(f"{attribute.name}: unknown route names {unknown}")


def _gstin_set(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        raise TypeError("failing_gstins takes a collection of GSTINs, not one GSTIN")
    return frozenset(value)


def _gstins(_: object, attribute: attrs.Attribute[Any], value: frozenset[str]) -> None:
    bad = sorted(repr(g) for g in value if not isinstance(g, str) or not is_gstin(g))
    if bad:
        raise ValueError(f"{attribute.name}: not GSTINs: {', '.join(bad)}")


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _statuses(value: Iterable[int]) -> tuple[int, ...]:
    return tuple(value)


def _documents(
    value: Iterable[_einvoice_sim.SimEInvoice] | None,
) -> tuple[_einvoice_sim.SimEInvoice, ...] | None:
    return None if value is None else tuple(value)


def _lower_names(_: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    known = {s.lower() for s in _api.IMS_SECTIONS}
    for name in value:
        if not name or name != name.lower() or name in known:
            raise ValueError(f"{attribute.name}: {name!r} must be a new lower-case section name")


# -------------------------------------------------------------------------------------------
# The groups
# -------------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RecordSettings:
    """The generated IMS records (``FlynnSimulator(records=...)``).

    ``seed`` fixes all generated data and ids; ``per_section`` records exist per (GSTIN,
    section) before status filtering. ``unknown_sections`` adds undocumented sections (new
    lower-case names such as ``"impg"``) to every task's pages; ``all_sections_in_every_task``
    makes every task's pages carry all eight sections (like the seed sample), and
    ``empty_other_sections`` makes every page also carry the known sections its task does not
    as empty lists (``"b2ba": []`` on a B2B task's pages), as real pages may.
    """

    seed: int = 0
    per_section: int = attrs.field(default=25, validator=_non_negative)
    unknown_sections: tuple[str, ...] = attrs.field(
        default=(), converter=_names, validator=_lower_names
    )
    all_sections_in_every_task: bool = False
    empty_other_sections: bool = False


@attrs.frozen(kw_only=True)
class PagingSettings:
    """How a task's result is cut into pages (``FlynnSimulator(paging=...)``).

    Pages hold at most ``size`` records and are numbered from ``base`` (the API's documented
    base unless set).
    """

    size: int = attrs.field(default=100, validator=attrs.validators.ge(1))
    base: int = attrs.field(default=_api.PAGE_BASE, validator=_non_negative)


@attrs.frozen(kw_only=True)
class TaskSettings:
    """How long tasks take and how they end (``FlynnSimulator(tasks=...)``).

    A task answers ``processing`` to its first ``processing_polls`` status calls and until
    ``processing_seconds`` have passed (by the simulator's clock), then ``terminal_status``
    (``"failed"`` or ``"error"`` make every task fail). ``failing_first`` makes the first N
    tasks of the simulator's life end ``failed``; ``failing_gstins`` makes every task
    submitted for those GSTINs end ``failed``.
    """

    processing_polls: int = attrs.field(default=1, validator=_non_negative)
    processing_seconds: float = attrs.field(default=0.0, validator=_non_negative)
    terminal_status: str = attrs.field(
        default=_api.TASK_STATUS_COMPLETED, validator=attrs.validators.min_len(1)
    )
    failing_first: int = attrs.field(default=0, validator=_non_negative)
    failing_gstins: frozenset[str] = attrs.field(
        default=frozenset(), converter=_gstin_set, validator=_gstins
    )


@attrs.frozen(kw_only=True)
class DelaySettings:
    """Latency added to answers, in seconds (``FlynnSimulator(delays=...)``).

    ``request`` is added to every request; ``page`` (when set) to page requests instead.
    """

    request: float = attrs.field(default=0.0, validator=_non_negative)
    page: float | None = attrs.field(default=None, validator=_optional_non_negative)


@attrs.frozen(kw_only=True)
class ShapeSettings:
    """Which of the documented answer shapes the simulator sends (``FlynnSimulator(shapes=...)``).

    ``envelope``: ``"mixed"`` as documented (login, GST session and task status answer the
    old ``{"data": ...}`` shape, the IMS route, result and pages the new one), or
    ``"new"``/``"old"`` for every route. ``status_shape``: ``{"task": {...}}`` or the wrapped
    ``{"id", "status", "jobs"}`` task status answer. ``expiry_unit``: the login answer's
    ``expiry`` in epoch milliseconds or seconds. ``flag_style``: Y/N flags as ``"text"``
    (``"Y"``/``"N"``, as in every API sample), ``"boolean"`` (JSON ``true``/``false``, as the
    portal's own web API sends them) or ``"mixed"`` (each record one of ``"Y"``, ``"y"``,
    ``true`` ... in turn). ``gst_error_shape``: how a GST portal error (an unknown or lapsed
    GST session) is relayed: ``"error_cd"`` (``args.error_cd``, HTTP 400), ``"gstn-err"``
    (``args["gstn-err"]["error-code"]``, HTTP 502) or ``"older"`` (``err-gstn-returned`` with
    ``args["gstn-err"]["code"]`` and ``args["status-code"]``, HTTP 502).
    """

    envelope: Literal["mixed", "new", "old"] = attrs.field(
        default="mixed", validator=attrs.validators.in_(("mixed", "new", "old"))
    )
    status_shape: Literal["task", "wrapped"] = attrs.field(
        default="task", validator=attrs.validators.in_(("task", "wrapped"))
    )
    expiry_unit: Literal["ms", "s"] = attrs.field(
        default="ms", validator=attrs.validators.in_(("ms", "s"))
    )
    flag_style: Literal["text", "boolean", "mixed"] = attrs.field(
        default="text", validator=attrs.validators.in_(("text", "boolean", "mixed"))
    )
    gst_error_shape: GstErrorShape = attrs.field(
        default="error_cd", validator=attrs.validators.in_(("error_cd", "gstn-err", "older"))
    )


@attrs.frozen(kw_only=True)
class EInvoiceSettings:
    """The simulated e-invoice portal (``FlynnSimulator(einvoice=...)``).

    ``documents`` are the documents it knows (``None``: the built-in
    :func:`~flynn_async.testing.sample_einvoices` of the default GSTIN); ``error_code`` makes
    every lookup answer that portal code, in the ``error_shape`` of the answer
    (``"details"``, or the older ``"irp-err"``); ``tamper`` flips a bit of every signature.
    """

    documents: tuple[_einvoice_sim.SimEInvoice, ...] | None = attrs.field(
        default=None, converter=_documents, hash=False
    )
    error_code: str | None = None
    error_shape: Literal["details", "irp-err"] = attrs.field(
        default="details", validator=attrs.validators.in_(("details", "irp-err"))
    )
    tamper: bool = False


@attrs.frozen(kw_only=True)
class FaultSettings:
    """Seeded faults, all off by default (``FlynnSimulator(faults=...)``).

    Faults come from their own random stream, seeded from ``seed`` alone (not the records'
    seed), so the same requests in the same order meet the same faults. They apply to the
    routes named in ``routes`` (by default the read-only, safe-to-repeat ``task_status``,
    ``task_result``, ``task_page`` and ``einvoice``; add ``ims_submit`` only on purpose: a
    client must never repeat a submit). Each request there draws at most one fault as it
    arrives, with these shares (their sum at most 1):

    - ``error_rate``: one of ``error_statuses`` (5xx) with an HTML gateway page, not an API
      error envelope;
    - ``rate_limit_rate``: 429 with ``Retry-After: <retry_after>`` (whole seconds or an HTTP
      date, sent as given; ``"date"`` sends an HTTP date 1 s ahead by the simulator's clock);
    - ``reset_rate``: the connection is reset (TCP RST) without an answer;
    - ``slow_rate``: the usual answer, sent ``slow_seconds`` late;
    - ``truncate_rate``: the usual answer with its full ``Content-Length`` but only the first
      half of its body, then the connection closes;
    - ``malformed_rate``: status 200 with an HTML proxy page instead of the JSON.

    A faulted request changes no state on the read-only routes: a faulted status call is not
    counted and does not move the task on, and a slow or cut lookup opens no IRP session. On
    other routes (only when named in ``routes``) ``error``, ``rate_limit``, ``reset`` and
    ``malformed`` never reach the route either, while ``slow`` and ``truncate`` answers come
    from the route as usual (a submit starts its task: the client cannot tell).

    Not drawn per request: ``page_not_found_once`` makes that share of pages (fixed per fault
    seed, task and page) answer 404 ``err-resource-not-found`` the first time they are asked
    for without another fault (only when ``task_page`` is a fault route);
    ``token_expiry_every`` expires every live login token once every N-th API call
    (login-service calls are not counted; counted since start or
    :meth:`FlynnSimulator.reset_counters`) has been answered.
    """

    seed: int = 0
    routes: frozenset[str] = attrs.field(
        default=_faults.DEFAULT_FAULT_ROUTES, converter=_route_names, validator=_known_routes
    )
    error_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    error_statuses: tuple[int, ...] = attrs.field(
        default=(500, 502, 503), converter=_statuses, validator=_faults.check_statuses
    )
    rate_limit_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    retry_after: str = attrs.field(default="1", validator=_faults.check_retry_after)
    reset_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    slow_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    slow_seconds: float = attrs.field(default=1.0, validator=_non_negative)
    truncate_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    malformed_rate: float = attrs.field(default=0.0, validator=_faults.check_rate)
    page_not_found_once: float = attrs.field(default=0.0, validator=_faults.check_rate)
    token_expiry_every: int | None = attrs.field(default=None, validator=_optional_positive)

    def __attrs_post_init__(self) -> None:
        total = sum(rate for _, rate in self.request_rates())
        if total > 1.0 + 1e-9:
            raise ValueError(f"the per-request fault rates add up to {total!r}, more than 1")

    def request_rates(self) -> tuple[tuple[_faults.RequestFault, float], ...]:
        """Each per-request fault kind with its rate, in the order draws are mapped to them."""
        return tuple((kind, getattr(self, f"{kind}_rate")) for kind in _faults.REQUEST_FAULTS)


# -------------------------------------------------------------------------------------------
# The whole configuration, and the flat names of earlier versions
# -------------------------------------------------------------------------------------------

#: Each group's keyword (and :class:`SimulatorConfig` attribute) and class.
_GROUPS: Final[dict[str, type]] = {
    "records": RecordSettings,
    "paging": PagingSettings,
    "tasks": TaskSettings,
    "delays": DelaySettings,
    "shapes": ShapeSettings,
    "einvoice": EInvoiceSettings,
    "faults": FaultSettings,
}

#: The settings groups' keywords, in order.
GROUP_NAMES: Final = tuple(_GROUPS)

#: The flat settings of earlier versions (deprecated): each old name's group and field.
FLAT_NAMES: Final[Mapping[str, tuple[str, str]]] = {
    "seed": ("records", "seed"),
    "records_per_section": ("records", "per_section"),
    "unknown_sections": ("records", "unknown_sections"),
    "all_sections_in_every_task": ("records", "all_sections_in_every_task"),
    "empty_other_sections": ("records", "empty_other_sections"),
    "page_size": ("paging", "size"),
    "page_base": ("paging", "base"),
    "processing_polls": ("tasks", "processing_polls"),
    "processing_seconds": ("tasks", "processing_seconds"),
    "terminal_status": ("tasks", "terminal_status"),
    "failing_tasks": ("tasks", "failing_first"),
    "failing_gstins": ("tasks", "failing_gstins"),
    "latency": ("delays", "request"),
    "page_latency": ("delays", "page"),
    "envelope": ("shapes", "envelope"),
    "status_shape": ("shapes", "status_shape"),
    "expiry_unit": ("shapes", "expiry_unit"),
    "flag_style": ("shapes", "flag_style"),
    "gst_error_shape": ("shapes", "gst_error_shape"),
    "einvoice_documents": ("einvoice", "documents"),
    "irp_error_code": ("einvoice", "error_code"),
    "irp_error_shape": ("einvoice", "error_shape"),
    "einvoice_tamper": ("einvoice", "tamper"),
    "fault_seed": ("faults", "seed"),
    "fault_routes": ("faults", "routes"),
    "error_rate": ("faults", "error_rate"),
    "error_statuses": ("faults", "error_statuses"),
    "rate_limit_rate": ("faults", "rate_limit_rate"),
    "retry_after": ("faults", "retry_after"),
    "reset_rate": ("faults", "reset_rate"),
    "slow_rate": ("faults", "slow_rate"),
    "slow_seconds": ("faults", "slow_seconds"),
    "truncate_rate": ("faults", "truncate_rate"),
    "malformed_rate": ("faults", "malformed_rate"),
    "page_not_found_once": ("faults", "page_not_found_once"),
    "token_expiry_every": ("faults", "token_expiry_every"),
}


def new_spelling(name: str) -> str:
    """How the flat setting ``name`` is spelled now, e.g. ``paging=PagingSettings(size=...)``."""
    group, field = FLAT_NAMES[name]
    return f"{group}={_GROUPS[group].__name__}({field}=...)"


def _warn_flat(name: str, where: str, stacklevel: int) -> None:
    warnings.warn(
        f"{where}: the flat setting {name}= is deprecated and will be removed in the next "
        f"release; use {new_spelling(name)}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def with_flat(
    groups: dict[str, Any], flat: Mapping[str, Any], *, where: str, stacklevel: int
) -> dict[str, Any]:
    """``groups`` (by keyword) with the deprecated flat settings ``flat`` applied on top.

    Each flat name warns (:class:`DeprecationWarning` naming the new spelling, attributed
    ``stacklevel`` frames up from the caller); an unknown name is a :class:`TypeError`.
    """
    unknown = sorted(name for name in flat if name not in FLAT_NAMES)
    if unknown:
        raise TypeError(f"{where}: unexpected keyword arguments {unknown} (not settings)")
    changes: dict[str, dict[str, Any]] = {}
    for name, value in flat.items():
        _warn_flat(name, where, stacklevel + 1)
        group, field = FLAT_NAMES[name]
        changes.setdefault(group, {})[field] = value
    out = dict(groups)
    for group, fields in changes.items():  # one evolve a group: checks see all its changes
        out[group] = attrs.evolve(out[group], **fields)
    return out


_DEFAULT_RECORDS: Final = RecordSettings()
_DEFAULT_PAGING: Final = PagingSettings()
_DEFAULT_TASKS: Final = TaskSettings()
_DEFAULT_DELAYS: Final = DelaySettings()
_DEFAULT_SHAPES: Final = ShapeSettings()
_DEFAULT_EINVOICE: Final = EInvoiceSettings()
_DEFAULT_FAULTS: Final = FaultSettings()


@attrs.frozen(init=False)
class SimulatorConfig:
    """How the simulator behaves: one immutable value of each settings group.

    Give only the groups that change (each defaults to its class's defaults)::

        SimulatorConfig(paging=PagingSettings(size=4), faults=FaultSettings(error_rate=0.1))

    Derive a changed copy with :meth:`replace`, and change one field of a group with
    :func:`attrs.evolve` (which mypy checks)::

        config.replace(faults=attrs.evolve(config.faults, error_rate=0.0))

    Deprecated: the flat keyword arguments of earlier versions (``page_size=4``, ...) are
    still accepted here and by :meth:`replace`, and the flat attributes still read
    (``config.page_size``), each with a :class:`DeprecationWarning` naming the new spelling;
    they go in the next release.
    """

    records: RecordSettings = attrs.field(validator=attrs.validators.instance_of(RecordSettings))
    """The generated records."""
    paging: PagingSettings = attrs.field(validator=attrs.validators.instance_of(PagingSettings))
    """Page size and numbering."""
    tasks: TaskSettings = attrs.field(validator=attrs.validators.instance_of(TaskSettings))
    """Task progress and outcome."""
    delays: DelaySettings = attrs.field(validator=attrs.validators.instance_of(DelaySettings))
    """Added latency."""
    shapes: ShapeSettings = attrs.field(validator=attrs.validators.instance_of(ShapeSettings))
    """The answer shapes sent."""
    einvoice: EInvoiceSettings = attrs.field(
        validator=attrs.validators.instance_of(EInvoiceSettings)
    )
    """The simulated e-invoice portal."""
    faults: FaultSettings = attrs.field(validator=attrs.validators.instance_of(FaultSettings))
    """Seeded faults."""

    def __init__(
        self,
        *,
        records: RecordSettings = _DEFAULT_RECORDS,
        paging: PagingSettings = _DEFAULT_PAGING,
        tasks: TaskSettings = _DEFAULT_TASKS,
        delays: DelaySettings = _DEFAULT_DELAYS,
        shapes: ShapeSettings = _DEFAULT_SHAPES,
        einvoice: EInvoiceSettings = _DEFAULT_EINVOICE,
        faults: FaultSettings = _DEFAULT_FAULTS,
        **deprecated: Any,
    ) -> None:
        groups: dict[str, Any] = {
            "records": records,
            "paging": paging,
            "tasks": tasks,
            "delays": delays,
            "shapes": shapes,
            "einvoice": einvoice,
            "faults": faults,
        }
        if deprecated:
            groups = with_flat(groups, deprecated, where="SimulatorConfig", stacklevel=2)
        self.__attrs_init__(**groups)

    def replace(
        self,
        *,
        records: RecordSettings | None = None,
        paging: PagingSettings | None = None,
        tasks: TaskSettings | None = None,
        delays: DelaySettings | None = None,
        shapes: ShapeSettings | None = None,
        einvoice: EInvoiceSettings | None = None,
        faults: FaultSettings | None = None,
        **deprecated: Any,
    ) -> SimulatorConfig:
        """A copy with the given groups replaced (whole; the others kept).

        Deprecated flat settings (``page_size=4``) change one field of their group, with a
        :class:`DeprecationWarning`.
        """
        given = {
            "records": records,
            "paging": paging,
            "tasks": tasks,
            "delays": delays,
            "shapes": shapes,
            "einvoice": einvoice,
            "faults": faults,
        }
        return self._replaced(given, deprecated, where="SimulatorConfig.replace", stacklevel=2)

    def _replaced(
        self,
        given: Mapping[str, Any],
        flat: Mapping[str, Any],
        *,
        where: str,
        stacklevel: int,
    ) -> SimulatorConfig:
        """A copy with the groups in ``given`` that are not ``None`` replaced, then the
        deprecated ``flat`` settings applied (warning ``stacklevel`` frames up)."""
        groups = {name: getattr(self, name) for name in _GROUPS}
        groups.update({name: value for name, value in given.items() if value is not None})
        if flat:
            groups = with_flat(groups, flat, where=where, stacklevel=stacklevel + 1)
        return SimulatorConfig(**groups)

    if not TYPE_CHECKING:  # at run time only: type checkers still see a typo as an error

        def __getattr__(self, name: str) -> Any:
            """The flat attributes of 0.1 (``config.page_size``), deprecated."""
            if name not in FLAT_NAMES:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            _warn_flat(name, "SimulatorConfig", 2)
            group, field = FLAT_NAMES[name]
            return getattr(getattr(self, group), field)
