"""What the simulator hands out and keeps: tasks, their results, GST sessions.

A small module of its own so that the simulator (``_simulator``) and its IMS state
(``_ims_state``, which makes the tasks that answer a reset) share these types without
importing each other.
"""

from __future__ import annotations

from typing import Any

import attrs

from flynn_async._http import _api
from flynn_async.testing._settings import Envelope

__all__ = ["GstSessionRecord", "Plan", "SimTask"]


@attrs.define(kw_only=True)
class SimTask:
    """A task the simulator handed out.

    ``id`` is the task id, ``gstin``/``section``/``status`` the IMS request that made it
    (``status`` is the filter asked for, ``None`` for all records), ``pages`` the page count
    of its result, ``status_calls`` how many status calls it has answered, ``state`` its
    current status (``processing`` until it reaches its terminal status), ``org_id`` the
    organisation it belongs to and ``created_at`` its submission time by the simulator's clock.
    """

    id: str
    gstin: str
    section: str
    status: str | None
    pages: int
    org_id: str = attrs.field(repr=False)
    created_at: float = attrs.field(repr=False)
    status_calls: int = 0
    state: str = _api.TASK_STATUS_PROCESSING
    _plan: Plan = attrs.field(repr=False, alias="plan")
    _session: GstSessionRecord = attrs.field(repr=False, alias="session")
    _doomed: bool = attrs.field(default=False, repr=False, alias="doomed")  # failing_*


@attrs.define
class Plan:
    """A task result: the pages' data and, once rendered, their bodies by envelope."""

    pages: list[dict[str, list[dict[str, Any]]]]
    bodies: dict[tuple[int, Envelope], bytes] = attrs.Factory(dict)


@attrs.define(eq=False)
class GstSessionRecord:
    """A GST session the simulated portal opened (its id changes on each refresh)."""

    id: str
    gstin: str
    username: str
    started_at: float
    logged_out: bool = False
