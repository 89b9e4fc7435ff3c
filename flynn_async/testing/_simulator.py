"""A strict fake of the Flynn API served over real loopback sockets.

:class:`FlynnSimulator` runs an :mod:`aiohttp.web` application on ``127.0.0.1`` (a free port)
that answers the login service, the GST (OTP) session routes, the IMS download route and the
long-running task routes the way the real service does, and checks what the real service
checks (headers, tokens and their expiry, organisation, GST session, query values, page
range), so that a sloppy client fails against it. Every route, header name, status value and
error code comes from :mod:`flynn_async._http._api`, the module the client uses too. Seeded faults
(gateway errors, 429, resets, slow, cut and non-JSON answers, token expiry, failing tasks,
pages that 404 once) are switched on in :class:`~._settings.FaultSettings`; ``_faults`` decides
them. The settings groups and :class:`SimulatorConfig` live in ``_settings``.

The simulator never logs: tokens, passwords, OTPs and session ids stay out of every log.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import random
import socket
import struct
import time
import types
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Self

import attrs
import msgspec
from aiohttp import web

from flynn_async._http import _api
from flynn_async._http._credentials import Credentials
from flynn_async.testing import (
    _data,
    _einvoice_sim,
    _faults,
    _gstr2b_sim,
    _ims_state,
    _settings,
)
from flynn_async.testing._objects import GstSessionRecord as _GstSession
from flynn_async.testing._objects import Plan as _Plan
from flynn_async.testing._objects import SimTask
from flynn_async.testing._settings import (
    DelaySettings,
    EInvoiceSettings,
    FaultSettings,
    GstErrorShape,
    PagingSettings,
    RecordSettings,
    ShapeSettings,
    SimulatorConfig,
    TaskSettings,
)

__all__ = [
    "SIM_OTP",
    "USER_HANDLE",
    "USER_PASSWORD",
    "FlynnSimulator",
]

USER_HANDLE: Final = "demo@example.com"
"""The built-in user's login handle (an e-mail address)."""
USER_PASSWORD: Final = "demo-password"
"""The built-in user's password."""
SIM_OTP: Final = "575757"
"""The one OTP the simulated GST portal accepts."""

_USER_ID: Final = "5b0f4a43-3c55-4d8e-9d3f-8a7e0c61f2a1"
_ORG_ID: Final = "9c2d6a8e-1f47-4b3a-a6c5-2e8d7f9b0c14"
_OTHER_ORG_ID: Final = "3e7b1c90-6d2a-4f85-b4e1-7a9c0d5f8e26"
_ORGS: Final = (
    # The non-primary organisation comes first: a client must look at "primary".
    (_OTHER_ORG_ID, "Demo Traders (branch)", False),
    (_ORG_ID, "Demo Traders Pvt Ltd", True),
)
_GST_USERNAME: Final = "demo-user"
_GSTIN: Final = "24AAAPI3182M002"
_LOGIN_PREFIX: Final = "/theodore/apis/v1"
#: The simulator's own route (not the API's) answering its e-invoice signing certificate.
SIM_CERTIFICATE_ROUTE: Final = "/_simulator/einvoice-certificate.pem"
_HANDLE_TYPES: Final = ("email", "mobile")
_JWT_HEADER: Final = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")

Envelope = _settings.Envelope
#: Which envelope each route answers with in "mixed" mode (section 4 of the API notes).
_MIXED: Final = _settings.MIXED_ENVELOPES
_GST_ACTIONS: Final = {
    _api.GST_ACTION_OTP_REQUEST: "otp_request",
    _api.GST_ACTION_VERIFY: "otp_verify",
    _api.GST_ACTION_REFRESH: "gst_refresh",
    _api.GST_ACTION_LOGOUT: "gst_logout",
}
_GST_MESSAGES: Final = {
    _api.GST_CODE_INVALID_SESSION: "Invalid session or OTP",
    _api.GST_CODE_SESSION_EXPIRED: "Session expired",
}

#: Routes of the login service: they are not "API calls" for ``token_expiry_every``.
_LOGIN_ROUTES: Final = frozenset({"login", "token_refresh", "token_logout"})
#: Routes a client may repeat safely (they read): a faulted request on them is answered
#: without changing any state, not even moving a task on (see ``_peeking``).
_READ_ONLY_ROUTES: Final = frozenset(
    {"task_status", "task_result", "task_page", "einvoice", "gstr2b_get", "gstr2b_status"}
)

_encoder: Final = msgspec.json.Encoder(decimal_format="number")


@attrs.define
class _Token:
    login_at: float  # start of the login this token descends from (refresh keeps it)
    expires_at: float
    duration: float  # seconds

    def hard_expiry(self) -> float:
        return self.login_at + _api.TOKEN_HARD_EXPIRY_FACTOR * self.duration


class _Fail(Exception):
    """An error answer: raised by checks, rendered in the route's envelope by the wrapper."""

    def __init__(
        self, http_status: int, message: str, type_: str, args: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error = {"message": message, "type": type_, "args": dict(args or {})}


def _bad_request(*fields: str) -> _Fail:
    return _Fail(
        400,
        _api.ERR_INVALID_BODY,
        _api.ERR_TYPE_CLIENT_REQUEST,
        {_api.ERR_ARG_ERROR_LOCATION: list(fields)},
    )


def _gst_error(code: str, shape: GstErrorShape = "error_cd") -> _Fail:
    """A GST portal error relayed by Flynn, in one of the shapes of sections 4 and 13."""
    message = _GST_MESSAGES[code]
    if shape == "gstn-err":
        nested = {
            _api.ERR_ARG_GSTN_STATUS_CODE: 0,
            _api.ERR_ARG_GSTN_ERROR_CODE: code,
            _api.ERR_ARG_GSTN_MESSAGE: message,
        }
        return _Fail(502, _api.ERR_GSTN, _api.ERR_TYPE_GSTN, {_api.ERR_ARG_GSTN_ERR: nested})
    if shape == "older":
        older = {_api.ERR_ARG_GSTN_OLDER_CODE: code, _api.ERR_ARG_GSTN_MESSAGE: message}
        args = {_api.ERR_ARG_GSTN_STATUS_CODE: 0, _api.ERR_ARG_GSTN_ERR: older}
        return _Fail(502, _api.ERR_GSTN_OLDER, _api.ERR_TYPE_GSTN, args)
    return _Fail(
        400,
        _api.ERR_GSTN,
        _api.ERR_TYPE_GSTN,
        {_api.ERR_ARG_GSTN_CODE: code, _api.ERR_ARG_GSTN_MESSAGE: message},
    )


def _auth_error(message: str, http_status: int = 403) -> _Fail:
    return _Fail(http_status, message, _api.ERR_TYPE_AUTHORIZATION)


_is_gstin = _settings.is_gstin


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FlynnSimulator:
    """The Flynn API on a local port, for tests, benchmarks and demos.

    Use it as an async context manager (or call :meth:`start` and :meth:`close`)::

        async with FlynnSimulator(records=RecordSettings(per_section=500)) as sim:
            client = FlynnClient(sim.credentials, base_url=sim.base_url,
                                 login_url=sim.login_url)
            ...

    The behaviour is ``config`` (a :class:`SimulatorConfig`, by default every default) with
    the settings groups given by keyword replacing its own: ``records``
    (:class:`RecordSettings`), ``paging`` (:class:`PagingSettings`), ``tasks``
    (:class:`TaskSettings`), ``delays`` (:class:`DelaySettings`), ``shapes``
    (:class:`ShapeSettings`), ``einvoice`` (:class:`EInvoiceSettings`) and ``faults``
    (:class:`FaultSettings`). The flat keyword arguments of 0.1 (``page_size=4``, ...) still
    work for one release, with a :class:`DeprecationWarning` naming the new spelling.
    ``clock`` (wall seconds) drives token expiry, GST session age and
    ``processing_seconds``, so tests can move time without sleeping. The built-in user logs
    in with :attr:`credentials`, acts for :attr:`org_id` and opens GST sessions with
    :attr:`otp`; any non-empty GST username and any 15-character upper-case alphanumeric
    GSTIN are accepted.

    Inspection: :attr:`calls` counts handled requests by route name (``login``,
    ``token_refresh``, ``token_logout``, ``otp_request``, ``otp_verify``, ``gst_refresh``,
    ``gst_logout``, ``ims_submit``, ``ims_counts``, ``ims_save``, ``ims_request_status``,
    ``ims_reset``, ``einvoice``, ``task_status``, ``task_result``,
    ``task_page``, and ``unknown`` for routes the API does not have; faulted requests
    included); :attr:`faults` counts injected faults by kind (``error``, ``rate_limit``,
    ``reset``, ``slow``, ``truncate``, ``malformed``, ``token_expiry``, ``task_failed``,
    ``page_not_found``); :attr:`pages_in_flight` and :attr:`peak_pages_in_flight` measure page
    concurrency; :attr:`tasks` holds every task; :attr:`einvoice` is the simulated e-invoice
    portal.
    """

    org_id: str = _ORG_ID
    """The built-in user's primary organisation (the user has a second, non-primary one)."""
    otp: str = SIM_OTP
    """The OTP the simulated GST portal accepts."""
    gst_username: str = _GST_USERNAME
    """A GST portal username to use (any non-empty username is accepted)."""
    gstin: str = _GSTIN
    """A default taxpayer GSTIN (a sandbox-style one)."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        records: RecordSettings | None = None,
        paging: PagingSettings | None = None,
        tasks: TaskSettings | None = None,
        delays: DelaySettings | None = None,
        shapes: ShapeSettings | None = None,
        einvoice: EInvoiceSettings | None = None,
        faults: FaultSettings | None = None,
        **deprecated: Any,
    ) -> None:
        base = config if config is not None else SimulatorConfig()
        given = {
            "records": records,
            "paging": paging,
            "tasks": tasks,
            "delays": delays,
            "shapes": shapes,
            "einvoice": einvoice,
            "faults": faults,
        }
        self.config: SimulatorConfig = base._replaced(
            given, deprecated, where="FlynnSimulator", stacklevel=2
        )
        """The behaviour; may be replaced between requests (existing tasks keep their data)."""
        self.calls: collections.Counter[str] = collections.Counter()
        """Handled requests by route name."""
        self.faults: collections.Counter[str] = collections.Counter()
        """Injected faults by kind (see :class:`SimulatorConfig`)."""
        self.pages_in_flight = 0
        """Page requests being handled right now."""
        self.peak_pages_in_flight = 0
        """The most page requests handled at once since start or :meth:`reset_counters`."""
        self._clock = clock
        self._ids = random.Random(f"flynn-sim/1|{self.config.records.seed}|ids")
        self._tokens: dict[str, _Token] = {}
        self._otp_requests: dict[str, tuple[str, str]] = {}
        self._sessions: dict[str, _GstSession] = {}
        self._tasks: dict[str, SimTask] = {}
        self._records: dict[tuple[int, int, str, str, str], list[dict[str, Any]]] = {}
        self._plans: dict[tuple[Any, ...], _Plan] = {}
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._fault_stream = _faults.FaultStream(self.config.faults.seed)
        self._api_calls = 0  # API calls since start or reset_counters, for token_expiry_every
        self._missed_pages: set[tuple[str, int]] = set()  # pages that answered 404 once
        self._peeks: set[int] = set()  # id() of faulted read-only requests being answered
        self._closing: asyncio.Event | None = None  # set on close: slow answers stop waiting
        self.ims_state = _ims_state.ImsState(self)
        """Each taxpayer's IMS actions: saves, resets, request status (``_ims_state``)."""
        self.einvoice = _einvoice_sim.EInvoicePortal(clock)
        """The simulated e-invoice portal: signing key (``public_key_pem``,
        ``certificate_pem``, ``kid``), IRP sessions, the ``requests`` it received."""
        self.gstr2b = _gstr2b_sim.Gstr2bPortal(
            records=self._ims_records_of,
            fail=_Fail,
            error_shape=lambda: self.config.shapes.gst_error_shape,
            new_id=self._new_id,
        )
        """The simulated portal's GSTR-2B: settings (``files``, ``error_code``, ``queued``
        ...), IMS actions (``act``), generated documents and regenerations."""

    # ---------------------------------------------------------------------------------------
    # Lifecycle
    # ---------------------------------------------------------------------------------------

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind ``host`` (default ``127.0.0.1``) on ``port`` (default 0: a free port) and serve."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        runner = web.AppRunner(self._make_app(), access_log=None)
        self._closing = asyncio.Event()
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            host, port = runner.addresses[0][:2]
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        """Stop serving and release the port; safe to call more than once."""
        runner, self._runner = self._runner, None
        if self._closing is not None:
            self._closing.set()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---------------------------------------------------------------------------------------
    # What tests read
    # ---------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The API base, ``http://127.0.0.1:PORT`` (only while running)."""
        if self._base_url is None:
            raise RuntimeError("the simulator has not been started")
        return self._base_url

    @property
    def login_url(self) -> str:
        """The login service base, :attr:`base_url` + ``/theodore/apis/v1``."""
        return self.base_url + _LOGIN_PREFIX

    @property
    def credentials(self) -> Credentials:
        """Credentials of the built-in user (organisation left to the client to choose)."""
        return Credentials(handle=USER_HANDLE, password=USER_PASSWORD)

    @property
    def live_tokens(self) -> int:
        """Login tokens currently live: not logged out, not replaced, not past hard expiry."""
        now = self._clock()
        return sum(1 for t in self._tokens.values() if now < t.hard_expiry())

    @property
    def tasks(self) -> Mapping[str, SimTask]:
        """Every task handed out, by task id (a read-only view)."""
        return types.MappingProxyType(self._tasks)

    def reset_counters(self) -> None:
        """Forget the call and fault counts and restart the in-flight peak from the current
        level; ``token_expiry_every`` counts API calls from here."""
        self.calls.clear()
        self.faults.clear()
        self._api_calls = 0
        self.peak_pages_in_flight = self.pages_in_flight

    def expire_tokens(self) -> None:
        """Make every live login token expired now; refreshing stays allowed as usual."""
        now = self._clock()
        for token in self._tokens.values():
            token.expires_at = min(token.expires_at, now)

    def expected_records(
        self, gstin: str, section: str, status: str | None = None
    ) -> list[dict[str, Any]]:
        """The records a task for (``gstin``, ``section``, ``status``) returns for ``section``.

        They are shaped as on the wire: lower-case keys, money as :class:`~decimal.Decimal`
        with the digits sent (or ``int`` where an int is sent). ``section`` may be an IMS
        section in any case or one of the configured unknown sections. The list is a copy.
        """
        return _data.copy_records(self._section_records(gstin, section.lower(), status))

    def expected_pages(self, task_id: str) -> list[dict[str, Any]]:
        """Each page's ``data`` for the task, as the page route serves it (a copy)."""
        return [
            {key: _data.copy_records(records) for key, records in page.items()}
            for page in self._tasks[task_id]._plan.pages
        ]

    # ---------------------------------------------------------------------------------------
    # Data
    # ---------------------------------------------------------------------------------------

    def _section_records(self, gstin: str, key: str, status: str | None) -> list[dict[str, Any]]:
        cfg = self.config
        cache_key = (cfg.records.seed, cfg.records.per_section, gstin, key, cfg.shapes.flag_style)
        records = self._records.get(cache_key)
        if records is None:
            make = _data.ims_records if key.upper() in _api.IMS_SECTIONS else _data.unknown_records
            if key in _api.IMS_IMPORT_SECTIONS:
                make = _ims_state.import_records
            records = make(cfg.records.seed, gstin, key, cfg.records.per_section)
            if cfg.shapes.flag_style != "text":
                _data.flags_as(records, cfg.shapes.flag_style)
            self._records[cache_key] = records
        records = self.ims_state.apply(gstin, key, records)
        if status is None:
            return records
        return [r for r in records if r["action"] == status]

    def _plan_for(self, gstin: str, section: str, status: str | None) -> _Plan:
        cfg = self.config
        plan_key = (
            cfg.records,
            cfg.paging.size,
            cfg.shapes.flag_style,
            gstin,
            section,
            status,
            self.ims_state.version,
        )
        plan = self._plans.get(plan_key)
        if plan is None:
            keys = [section.lower()]
            if cfg.records.all_sections_in_every_task:
                keys += [s.lower() for s in _api.IMS_SECTIONS if s != section]
            keys += cfg.records.unknown_sections
            carried = [(key, self._section_records(gstin, key, status)) for key in keys]
            pages = _data.paginate(carried, cfg.paging.size)
            if cfg.records.empty_other_sections:
                empty = [s.lower() for s in _api.IMS_SECTIONS if s.lower() not in keys]
                pages = [{**page, **{key: [] for key in empty}} for page in pages]
            plan = _Plan(pages)
            self._plans[plan_key] = plan
        return plan

    def _ims_records_of(self, gstin: str) -> list[tuple[str, list[dict[str, Any]]]]:
        """Every IMS section's records of ``gstin`` (the source of its GSTR-2B)."""
        return [
            (s.lower(), self._section_records(gstin, s.lower(), None)) for s in _api.IMS_SECTIONS
        ]

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def _new_token(self) -> str:
        claims = json.dumps({"sub": _USER_ID, "jti": self._new_id()}, separators=(",", ":"))
        parts = (
            _JWT_HEADER,
            base64.urlsafe_b64encode(claims.encode()).rstrip(b"="),
            base64.urlsafe_b64encode(self._ids.randbytes(32)).rstrip(b"="),
        )
        return b".".join(parts).decode()

    # ---------------------------------------------------------------------------------------
    # The web application
    # ---------------------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        # IMS save and reset bodies may be 4 MB; a larger one is the route's own 400 answer
        app = web.Application(
            middlewares=[self._unknown_routes], client_max_size=2 * _api.IMS_MAX_BODY_BYTES
        )
        gst_route = _api.GST_AUTH_ROUTE.format(
            flynn=_api.GST_AUTH_FLYNN_VERSION, gstn="{gstn}", action="{action}"
        )
        tasks = _api.TASKS_FLYNN_VERSION
        app.add_routes(
            [
                web.post(_LOGIN_PREFIX + _api.LOGIN_ROUTE, self._route("login", self._login)),
                web.put(
                    _LOGIN_PREFIX + _api.LOGIN_ROUTE,
                    self._route("token_refresh", self._token_refresh),
                ),
                web.post(
                    _LOGIN_PREFIX + _api.LOGOUT_ROUTE,
                    self._route("token_logout", self._token_logout),
                ),
                web.post(gst_route, self._gst_auth),
                web.get(
                    _api.IMS_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION),
                    self._route("ims_submit", self._ims_submit),
                ),
                web.get(
                    _api.EINVOICE_ROUTE.format(
                        flynn=_api.EINVOICE_FLYNN_VERSION, irp="{irp}", version="{version}"
                    ),
                    self._route("einvoice", self._einvoice),
                ),
                web.get(
                    _api.TASK_STATUS_ROUTE.format(flynn=tasks, task_id="{task_id}"),
                    self._route("task_status", self._task_status),
                ),
                web.get(
                    _api.TASK_RESULT_ROUTE.format(flynn=tasks, task_id="{task_id}"),
                    self._route("task_result", self._task_result),
                ),
                web.get(
                    _api.TASK_PAGE_ROUTE.format(flynn=tasks, task_id="{task_id}", page="{page}"),
                    self._task_page,
                ),
                web.get(
                    _api.GSTR2B_ROUTE.format(flynn=_api.GSTR2B_FLYNN_VERSION, v2b="{v2b}"),
                    self._route("gstr2b_get", self._gstr2b_get),
                ),
                web.put(
                    _api.GSTR2B_REGENERATE_ROUTE.format(
                        flynn=_api.GSTR2B_FLYNN_VERSION, v2b="{v2b}"
                    ),
                    self._route("gstr2b_regenerate", self._gstr2b_regenerate),
                ),
                web.get(
                    _api.GSTR2B_STATUS_ROUTE.format(flynn=_api.GSTR2B_FLYNN_VERSION, v2b="{v2b}"),
                    self._route("gstr2b_status", self._gstr2b_status),
                ),
                *_ims_state.routes(self, bad_request=_bad_request, fail=_Fail),
                # not the API: the simulator's own, for `flynn-async simulator key`
                web.get(SIM_CERTIFICATE_ROUTE, self._certificate),
            ]
        )
        return app

    async def _certificate(self, request: web.Request) -> web.Response:
        """The e-invoice portal's signing certificate (PEM), to verify signatures with."""
        return web.Response(
            text=self.einvoice.certificate_pem, content_type="application/x-pem-file"
        )

    def _envelope(self, route: str) -> Envelope:
        mode = self.config.shapes.envelope
        return _MIXED[route] if mode == "mixed" else mode

    @staticmethod
    def _body(envelope: Envelope, data: Any = None, error: Any = None) -> bytes:
        if envelope == "old":
            return _encoder.encode({"error": error} if error is not None else {"data": data})
        return _encoder.encode(
            {
                "status": _api.STATUS_ERROR if error is not None else _api.STATUS_OK,
                "data": data,
                "error": error,
                "info": None,
                "additionalInfo": None,
                "alert": None,
            }
        )

    @staticmethod
    def _json(body: bytes, http_status: int = 200) -> web.Response:
        return web.Response(body=body, status=http_status, content_type=_api.ACCEPT_JSON)

    @staticmethod
    def _html(body: bytes, http_status: int) -> web.Response:
        return web.Response(body=body, status=http_status, content_type="text/html")

    def _route(self, name: str, handler: Callable[[web.Request], Awaitable[Any]]) -> Handler:
        """Wrap ``handler`` (which returns the answer's ``data`` or raises :class:`_Fail`)."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(name, handler, request)

        return handle

    async def _handle(
        self,
        name: str,
        handler: Callable[[web.Request], Awaitable[Any]],
        request: web.Request,
        latency: float | None = None,
    ) -> web.StreamResponse:
        self.calls[name] += 1
        # Decided as the request arrives, before any await: arrival order fixes the faults.
        fault = self._draw_fault(name)
        expire_after = self._count_api_call(name)
        try:
            delay = self.config.delays.request if latency is None else latency
            if delay > 0:
                await asyncio.sleep(delay)
            if fault is None:
                return await self._answer(name, handler, request)
            return await self._faulted(fault, name, handler, request)
        finally:
            if expire_after:  # before the answer goes out: the client's next call sees it
                self.expire_tokens()
                self.faults["token_expiry"] += 1

    async def _answer(
        self, name: str, handler: Callable[[web.Request], Awaitable[Any]], request: web.Request
    ) -> web.StreamResponse:
        """The route's own answer: ``handler``'s data or error in the route's envelope."""
        envelope = self._envelope(name)
        try:
            data = await handler(request)
        except _Fail as fail:
            return self._json(self._body(envelope, error=fail.error), fail.http_status)
        if isinstance(data, web.StreamResponse):
            return data
        return self._json(self._body(envelope, data=data))

    # ---------------------------------------------------------------------------------------
    # Faults
    # ---------------------------------------------------------------------------------------

    def _draw_fault(self, name: str) -> _faults.Fault | None:
        """The request's fault from the fault stream (two draws per request on a fault route)."""
        faults = self.config.faults
        if name not in faults.routes:
            return None
        if self._fault_stream.seed != faults.seed:  # a replaced config restarts the stream
            self._fault_stream = _faults.FaultStream(faults.seed)
        fault = self._fault_stream.draw(faults.request_rates(), faults.error_statuses)
        if fault is not None:
            self.faults[fault.kind] += 1
        return fault

    def _count_api_call(self, name: str) -> bool:
        """Count an API call; whether the tokens expire once it has been answered."""
        if name in _LOGIN_ROUTES:
            return False
        self._api_calls += 1
        every = self.config.faults.token_expiry_every
        return every is not None and self._api_calls % every == 0

    async def _faulted(
        self,
        fault: _faults.Fault,
        name: str,
        handler: Callable[[web.Request], Awaitable[Any]],
        request: web.Request,
    ) -> web.StreamResponse:
        kind = fault.kind
        if kind == "error":
            return self._html(_faults.error_page(fault.status), fault.status)
        if kind == "rate_limit":
            response = self._html(_faults.error_page(429), 429)
            retry_after = _faults.retry_after_value(self.config.faults.retry_after, self._clock())
            response.headers["Retry-After"] = retry_after
            return response
        if kind == "malformed":
            return self._html(_faults.proxy_page(), 200)
        if kind == "reset":
            self._reset(request)
            return web.Response(status=204)  # never sent: the connection is gone
        # "slow" and "truncate" send the route's own answer, late or cut short.
        peek = name in _READ_ONLY_ROUTES  # answer as usual, without changing state
        if peek:
            self._peeks.add(id(request))
        try:
            answer = await self._answer(name, handler, request)
        finally:
            self._peeks.discard(id(request))
        if kind == "slow":
            await self._wait(self.config.faults.slow_seconds)
            return answer
        return await self._truncated(request, answer)

    def _peeking(self, request: web.Request) -> bool:
        """Whether ``request`` is a faulted read-only request: it must change no state."""
        return id(request) in self._peeks

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the simulator closes meanwhile."""
        closing = self._closing
        if closing is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), seconds)

    @staticmethod
    def _reset(request: web.Request) -> None:
        """Drop the connection with a TCP reset (no answer, not even a clean close)."""
        transport = request.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # linger 0: close() sends RST, not FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    @staticmethod
    async def _truncated(request: web.Request, answer: web.StreamResponse) -> web.StreamResponse:
        """Send ``answer``'s status and full ``Content-Length``, half its body, then close."""
        assert isinstance(answer, web.Response)
        body = answer.body
        assert isinstance(body, bytes)
        cut = web.StreamResponse(status=answer.status)
        cut.content_type = answer.content_type
        cut.content_length = len(body)
        with contextlib.suppress(ConnectionError):
            await cut.prepare(request)
            await cut.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()  # flushes what was written, then a clean close
        return cut

    @web.middleware
    async def _unknown_routes(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status not in (404, 405):
                raise
            self.calls["unknown"] += 1
            old = request.path.startswith(_LOGIN_PREFIX)
            mode = self.config.shapes.envelope
            envelope: Envelope = ("old" if old else "new") if mode == "mixed" else mode
            error = {
                "message": _api.ERR_NOT_FOUND,
                "type": _api.ERR_TYPE_NOT_FOUND,
                "args": {"path": request.path, "method": request.method},
            }
            return self._json(self._body(envelope, error=error), exc.status)

    # ---------------------------------------------------------------------------------------
    # Checks shared by routes
    # ---------------------------------------------------------------------------------------

    async def _json_object(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _bad_request("body")
        return body

    def _bearer(self, request: web.Request) -> tuple[str, _Token]:
        """The live-or-refreshable login token of the ``Authorization: Bearer`` header."""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        token = self._tokens.get(value) if scheme.lower() == "bearer" else None
        if token is None or self._clock() >= token.hard_expiry():
            raise _auth_error(_api.ERR_INVALID_TOKEN)
        return value, token

    def _api_headers(self, request: web.Request) -> str:
        """Check the headers of every API call (section 3); return the organisation id."""
        if request.headers.get("accept") != _api.ACCEPT_JSON:
            raise _bad_request("accept")
        token = self._tokens.get(request.headers.get(_api.HEADER_USER_TOKEN, ""))
        if token is None:
            raise _auth_error(_api.ERR_INVALID_TOKEN)
        if self._clock() >= token.expires_at:
            raise _auth_error(_api.ERR_EXPIRED_TOKEN)
        org_id = request.headers.get(_api.HEADER_ORG_ID, "")
        if org_id not in {org for org, _, _ in _ORGS}:
            raise _auth_error(_api.ERR_INVALID_ORG)
        return org_id

    def _gstn_headers(self, request: web.Request) -> tuple[str, str]:
        """Check the common GSTN headers; return (gstin, username)."""
        names = _api.GSTN_HEADERS
        gstin = request.headers.get(names["gstin"], "")
        if not _is_gstin(gstin):
            raise _Fail(
                400,
                _api.ERR_INVALID_GSTIN,
                _api.ERR_TYPE_CLIENT_REQUEST,
                {_api.ERR_ARG_PARAMETER_NAME: names["gstin"]},
            )
        username = request.headers.get(names["username"], "")
        if not username.strip():
            raise _bad_request(names["username"])
        if request.headers.get(names["gsp_code"]) != _api.GSP_CODE:  # one of the common headers
            raise _bad_request(names["gsp_code"])
        return gstin, username

    def _live_session(self, session_id: object, gstin: str, username: str) -> _GstSession:
        session = self._sessions.get(session_id) if isinstance(session_id, str) else None
        if session is None or session.gstin != gstin or session.username != username:
            raise _gst_error(_api.GST_CODE_INVALID_SESSION, self.config.shapes.gst_error_shape)
        if self._clock() - session.started_at >= _api.GST_SESSION_SECONDS:
            raise _gst_error(_api.GST_CODE_SESSION_EXPIRED, self.config.shapes.gst_error_shape)
        return session

    # ---------------------------------------------------------------------------------------
    # Login service
    # ---------------------------------------------------------------------------------------

    def _login_answer(self, token: str, record: _Token) -> dict[str, Any]:
        expiry = record.expires_at
        return {
            "token": token,
            "expiry": round(expiry * 1000)
            if self.config.shapes.expiry_unit == "ms"
            else round(expiry),
            "userId": _USER_ID,
            "email": USER_HANDLE,
            "associatedOrgs": [
                {
                    "organisation": {"id": org, "name": name},
                    "userAccessInfo": {"primary": primary},
                }
                for org, name, primary in _ORGS
            ],
        }

    def _issue(self, login_at: float, duration: float) -> dict[str, Any]:
        token = self._new_token()
        record = _Token(login_at=login_at, expires_at=self._clock() + duration, duration=duration)
        self._tokens[token] = record
        return self._login_answer(token, record)

    async def _login(self, request: web.Request) -> dict[str, Any]:
        body = await self._json_object(request)
        minutes = body.get("tokenDurationInMins", _api.TOKEN_MINUTES_DEFAULT)
        checks = {
            "handle": _is_text(body.get("handle")),
            "handleType": body.get("handleType") in _HANDLE_TYPES,
            "password": _is_text(body.get("password")),
            "tokenDurationInMins": type(minutes) is int and 1 <= minutes <= _api.TOKEN_MINUTES_MAX,
        }
        bad = [key for key, ok in checks.items() if not ok]
        if bad:
            raise _bad_request(*bad)
        if (body["handle"], body["handleType"], body["password"]) != (
            USER_HANDLE,
            "email",
            USER_PASSWORD,
        ):
            raise _auth_error(_api.ERR_BAD_CREDENTIALS, 401)
        if self.live_tokens >= _api.MAX_LIVE_TOKENS:
            raise _auth_error(_api.ERR_TOKEN_LIMIT, 401)
        return self._issue(self._clock(), minutes * 60.0)

    async def _token_refresh(self, request: web.Request) -> dict[str, Any]:
        old, record = self._bearer(request)
        if await request.read():  # PUT with the Bearer token and no body
            raise _bad_request("body")
        del self._tokens[old]
        return self._issue(record.login_at, record.duration)

    async def _token_logout(self, request: web.Request) -> dict[str, Any]:
        token, _ = self._bearer(request)
        del self._tokens[token]
        return {}

    # ---------------------------------------------------------------------------------------
    # GST (OTP) session
    # ---------------------------------------------------------------------------------------

    async def _gst_auth(self, request: web.Request) -> web.StreamResponse:
        name = _GST_ACTIONS.get(request.match_info["action"])
        if name is None:
            raise web.HTTPNotFound()
        action = {
            "otp_request": self._otp_request,
            "otp_verify": self._otp_verify,
            "gst_refresh": self._gst_refresh,
            "gst_logout": self._gst_logout,
        }[name]
        return await self._handle(name, action, request)

    async def _otp_request(self, request: web.Request) -> dict[str, Any]:
        self._api_headers(request)
        gstin, username = self._gstn_headers(request)
        body = await self._json_object(request)
        bad = [
            key for key, want in (("gstin", gstin), ("username", username)) if body.get(key) != want
        ]
        if bad:
            raise _bad_request(*bad)
        request_id = self._new_id()
        self._otp_requests[request_id] = (gstin, username)
        return {_api.GST_KEY_OTP_REQUEST_ID: request_id}

    async def _otp_verify(self, request: web.Request) -> dict[str, Any]:
        self._api_headers(request)
        gstin, username = self._gstn_headers(request)
        body = await self._json_object(request)
        request_id, otp = body.get(_api.GST_KEY_OTP_REQUEST_ID), body.get("otp")
        bad = [
            key
            for key, value in ((_api.GST_KEY_OTP_REQUEST_ID, request_id), ("otp", otp))
            if not _is_text(value)
        ]
        if bad:
            raise _bad_request(*bad)
        assert isinstance(request_id, str)
        if self._otp_requests.get(request_id) != (gstin, username) or otp != self.otp:
            raise _gst_error(_api.GST_CODE_INVALID_SESSION, self.config.shapes.gst_error_shape)
        del self._otp_requests[request_id]
        session = _GstSession(self._new_id(), gstin, username, self._clock())
        self._sessions[session.id] = session
        return {_api.GST_KEY_SESSION_ID: session.id}

    async def _session_body(self, request: web.Request) -> _GstSession:
        self._api_headers(request)
        gstin, username = self._gstn_headers(request)
        body = await self._json_object(request)
        session_id = body.get(_api.GST_KEY_SESSION_ID)
        if not _is_text(session_id):
            raise _bad_request(_api.GST_KEY_SESSION_ID)
        return self._live_session(session_id, gstin, username)

    async def _gst_refresh(self, request: web.Request) -> dict[str, Any]:
        session = await self._session_body(request)
        del self._sessions[session.id]
        session.id = self._new_id()
        session.started_at = self._clock()
        self._sessions[session.id] = session
        return {_api.GST_KEY_SESSION_ID: session.id}

    async def _gst_logout(self, request: web.Request) -> dict[str, Any]:
        session = await self._session_body(request)
        del self._sessions[session.id]
        session.logged_out = True  # tasks still running on it will fail
        return {}

    # ---------------------------------------------------------------------------------------
    # IMS and tasks
    # ---------------------------------------------------------------------------------------

    async def _ims_submit(self, request: web.Request) -> dict[str, Any]:
        org_id = self._api_headers(request)
        gstin, username = self._gstn_headers(request)
        session_header = _api.GSTN_HEADERS["session_id"]
        session_id = request.headers.get(session_header, "")
        if not session_id:
            raise _bad_request(session_header)
        session = self._live_session(session_id, gstin, username)
        section = request.query.get("section")
        status = request.query.get("status")
        bad = []
        if section not in _api.IMS_SECTIONS and not _ims_state.is_import(section):
            bad.append("section")
        if status is not None and status not in _api.IMS_STATUSES:
            bad.append("status")
        if bad or section is None:
            raise _bad_request(*bad)
        plan = self._plan_for(gstin, section, status)
        tasks = self.config.tasks
        doomed = len(self._tasks) < tasks.failing_first or gstin in tasks.failing_gstins
        if doomed:
            self.faults["task_failed"] += 1
        task = SimTask(
            id=self._new_id(),
            gstin=gstin,
            section=section,
            status=status,
            pages=len(plan.pages),
            org_id=org_id,
            created_at=self._clock(),
            plan=plan,
            session=session,
            doomed=doomed,
        )
        self._tasks[task.id] = task
        self._advance(task, status_call=False)
        return {_api.TASK_ID_KEY: task.id}

    def _gst_caller(self, request: web.Request) -> str:
        """Check the API and GSTN headers and the live GST session; the taxpayer's GSTIN."""
        self._api_headers(request)
        gstin, username = self._gstn_headers(request)
        session_header = _api.GSTN_HEADERS["session_id"]
        session_id = request.headers.get(session_header, "")
        if not session_id:
            raise _bad_request(session_header)
        self._live_session(session_id, gstin, username)
        return gstin

    async def _gstr2b_get(self, request: web.Request) -> dict[str, Any]:
        gstin = self._gst_caller(request)
        return self.gstr2b.get(gstin, request.query, peek=self._peeking(request))

    async def _gstr2b_regenerate(self, request: web.Request) -> dict[str, Any]:
        gstin = self._gst_caller(request)
        return self.gstr2b.regenerate(gstin, await self._json_object(request))

    async def _gstr2b_status(self, request: web.Request) -> dict[str, Any]:
        gstin = self._gst_caller(request)
        return self.gstr2b.status(gstin, request.query, peek=self._peeking(request))

    def _advance(self, task: SimTask, *, status_call: bool) -> None:
        """Move ``task`` on: count a status call, and reach the terminal status when due."""
        if status_call:
            task.status_calls += 1
        if task.state != _api.TASK_STATUS_PROCESSING:
            return
        if task._session.logged_out:
            task.state = _api.TASK_STATUS_FAILED
            return
        cfg = self.config.tasks
        if cfg.processing_polls and not (status_call and task.status_calls > cfg.processing_polls):
            return  # it takes a status call past the "processing" answers to see it finish
        if self._clock() - task.created_at >= cfg.processing_seconds:
            task.state = _api.TASK_STATUS_FAILED if task._doomed else cfg.terminal_status

    async def _einvoice(self, request: web.Request) -> dict[str, Any]:
        org_id = self._api_headers(request)
        cfg = self.config.einvoice
        documents = cfg.documents
        if documents is None:
            documents = _einvoice_sim.sample_einvoices(self.gstin)
        portal = self.einvoice
        sessions = dict(portal._sessions) if self._peeking(request) else None
        try:
            return portal.lookup(
                request,
                org_id,
                documents=documents,
                error_code=cfg.error_code,
                error_shape=cfg.error_shape,
                tamper=cfg.tamper,
            )
        except _einvoice_sim.Refusal as refusal:
            raise _Fail(refusal.http_status, refusal.message, refusal.type, refusal.args_) from None
        finally:
            if sessions is not None:  # a faulted lookup opens no IRP session
                portal._sessions = sessions

    def _task(self, request: web.Request) -> SimTask:
        org_id = self._api_headers(request)
        task_id = request.match_info["task_id"]
        task = self._tasks.get(task_id)
        if task is None or task.org_id != org_id:
            raise _Fail(
                404, _api.ERR_NOT_FOUND, _api.ERR_TYPE_NOT_FOUND, {_api.TASK_ID_KEY: task_id}
            )
        return task

    def _completed_task(self, request: web.Request) -> SimTask:
        task = self._task(request)
        if not self._peeking(request):
            self._advance(task, status_call=False)
        if task.state != _api.TASK_STATUS_COMPLETED:
            raise _Fail(
                400,
                _api.ERR_TASK_NOT_COMPLETED,
                _api.ERR_TYPE_CLIENT_REQUEST,
                {_api.TASK_ID_KEY: task.id, "status": task.state},
            )
        return task

    async def _task_status(self, request: web.Request) -> dict[str, Any]:
        task = self._task(request)
        if not self._peeking(request):  # a faulted status call is not counted, moves nothing
            self._advance(task, status_call=True)
        if self.config.shapes.status_shape == "task":
            return {"task": {"id": task.id, "status": task.state}}
        done = task.state != _api.TASK_STATUS_PROCESSING
        failed = done and task.state != _api.TASK_STATUS_COMPLETED
        jobs = {"total": 1, "completed": int(done and not failed), "failed": int(failed)}
        return {"id": task.id, "status": task.state, "jobs": jobs}

    async def _task_result(self, request: web.Request) -> dict[str, Any]:
        task = self._completed_task(request)
        reset = self.ims_state.requests.get(task.id)
        if reset is not None and reset.task is task:  # a reset's result: its request status
            return reset.payload
        return {"pages": task.pages}

    def _reset_task(self, received: _ims_state.ImsSimRequest, session: _GstSession) -> SimTask:
        """The task that answers an IMS reset (its result is the request status)."""
        task = SimTask(
            id=received.id,
            gstin=received.gstin,
            section=_api.IMS_REQUEST_RESET,
            status=None,
            pages=0,
            org_id=received.org_id,
            created_at=self._clock(),
            plan=_Plan([]),
            session=session,
        )
        self._tasks[task.id] = task
        self._advance(task, status_call=False)
        return task

    async def _task_page(self, request: web.Request) -> web.StreamResponse:
        self.pages_in_flight += 1
        self.peak_pages_in_flight = max(self.peak_pages_in_flight, self.pages_in_flight)
        try:
            return await self._handle(
                "task_page", self._page, request, latency=self.config.delays.page
            )
        finally:
            self.pages_in_flight -= 1

    def _misses_once(self, task_id: str, index: int) -> bool:
        """Whether this page answers 404 now: ``page_not_found_once``, first asking only."""
        faults = self.config.faults
        key = (task_id, index)
        if "task_page" not in faults.routes or key in self._missed_pages:
            return False
        if not _faults.page_misses_once(faults.seed, faults.page_not_found_once, task_id, index):
            return False
        self._missed_pages.add(key)
        return True

    async def _page(self, request: web.Request) -> web.StreamResponse:
        task = self._completed_task(request)
        raw = request.match_info["page"]
        try:
            number = int(raw)
        except ValueError:
            raise _bad_request("page") from None
        index = number - self.config.paging.base
        if not 0 <= index < task.pages:
            raise _Fail(
                404,
                _api.ERR_NOT_FOUND,
                _api.ERR_TYPE_NOT_FOUND,
                {_api.TASK_ID_KEY: task.id, _api.ERR_ARG_PAGE: number},
            )
        if not self._peeking(request) and self._misses_once(task.id, index):
            self.faults["page_not_found"] += 1
            raise _Fail(
                404,
                _api.ERR_NOT_FOUND,
                _api.ERR_TYPE_NOT_FOUND,
                {_api.TASK_ID_KEY: task.id, _api.ERR_ARG_PAGE: number},
            )
        plan = task._plan
        envelope = self._envelope("task_page")
        body = plan.bodies.get((index, envelope))
        if body is None:
            body = plan.bodies[index, envelope] = self._body(envelope, data=plan.pages[index])
        return self._json(body)
