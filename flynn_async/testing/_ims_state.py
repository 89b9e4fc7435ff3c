"""The simulator's IMS state per taxpayer: counts, save, reset, request status, the rules.

Saves and resets change each taxpayer's records (downloads and counts reflect them); request
status goes from in progress (``IP``) to processed. The portal's rules are enforced record by
record with the portal's codes (flynn-api.md sections 10 to 12), a second request while one
is in progress ends ``ER`` with ``IMSSAV0015``, and a supplier's amendment between a download
and a save makes that record stale (``IMSSAV0010``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, Final, Protocol

import attrs
from aiohttp import web

from flynn_async._http import _api
from flynn_async.testing._objects import GstSessionRecord, SimTask
from flynn_async.testing._settings import SimulatorConfig

__all__ = ["ImsSimRequest", "ImsState", "Simulator"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Simulator(Protocol):
    """What the IMS state and its routes use of the simulator (``_simulator.FlynnSimulator``,
    which imports this module: a protocol, not an import, keeps the two apart)."""

    config: SimulatorConfig
    ims_state: ImsState
    _clock: Callable[[], float]

    def _new_id(self) -> str: ...

    def _section_records(
        self, gstin: str, key: str, status: str | None
    ) -> list[dict[str, Any]]: ...

    def _api_headers(self, request: web.Request) -> str: ...

    def _gstn_headers(self, request: web.Request) -> tuple[str, str]: ...

    def _live_session(self, session_id: object, gstin: str, username: str) -> GstSessionRecord: ...

    def _reset_task(self, received: ImsSimRequest, session: GstSessionRecord) -> SimTask: ...

    def _peeking(self, request: web.Request) -> bool: ...

    def _route(self, name: str, handler: Callable[[web.Request], Awaitable[Any]]) -> Handler: ...


_DOMESTIC: Final = frozenset(s.lower() for s in _api.IMS_SECTIONS)
_IMPORTS: Final = frozenset(_api.IMS_IMPORT_SECTIONS)
_DECL: Final = ("declIgst", "declCgst", "declSgst", "declCess")
_ACTION_FIELDS: Final = frozenset({"action", "prev_status", "remarks", "itcRedReq", *_DECL})
_SAVE_FIELDS: Final = frozenset(_api.IMS_BODY_RECORD_FIELDS) | _ACTION_FIELDS
_IMPORT_FIELDS: Final = frozenset(_api.IMS_BODY_IMPORT_FIELDS) | _ACTION_FIELDS
#: The error report names some sections by their short key (flynn-api.md section 11).
_SHORT: Final = {long: short for short, long in _api.IMS_REPORT_SHORT_SECTIONS.items()}
_MESSAGES: Final = {
    _api.IMS_CODE_STALE: "Invoice status changed or record modified by supplier",
    _api.IMS_CODE_DECLARATION_MISSING: "ITC reduction declaration is required",
    _api.IMS_CODE_IN_PROGRESS: "Another request is in progress",
    _api.IMS_CODE_SCHEMA: "Schema validation failed",
    _api.IMS_CODE_PENDING_NOT_ALLOWED: "Pending action is not allowed for this record",
    _api.IMS_CODE_REJECT_NOT_ALLOWED: "Reject action is not allowed for this record",
}


def is_import(section: object) -> bool:
    """Does the download route (in the simulator) take ``section`` as an import section?"""
    return isinstance(section, str) and section.lower() in _IMPORTS and section.isupper()


def import_records(seed: int, gstin: str, section: str, count: int) -> list[dict[str, Any]]:
    """``count`` bills of entry of an import section, from the October 2025 period on."""
    rng = random.Random(f"flynn-sim/1|{seed}|{gstin}|{section}|imports")
    records = []
    for n in range(count):
        year, month = rng.choice(((2025, 10), (2025, 11), (2025, 12), (2026, 1)))
        day = rng.randint(1, 28)
        txval = Decimal(rng.randint(10_000, 5_000_000)) / 100
        igst = (txval * Decimal("0.18")).quantize(Decimal("0.01"))
        record: dict[str, Any] = {
            "portcd": rng.choice(("INMAA1", "INNSA1", "INBOM4", "INDEL4")),
            "boenum": f"{rng.randrange(1_000_000, 9_999_999)}{n % 10}",
            "boedt": f"{day:02d}-{month:02d}-{year}",
            "itcprd": f"{month:02d}{year}",
            "txval": txval,
            "igst": igst,
            "cess": Decimal("0.00"),
            "action": rng.choice(("N", "N", "A", "P")),
            "ispendactblocked": "Y" if rng.random() < 0.2 else "N",
            "hash": f"{rng.getrandbits(256):064x}",
        }
        if section.endswith(("sez", "seza")):
            record["sgstin"] = "24AAAAA0000A1Z5"
        records.append(record)
    return records


def _set(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().upper() in ("Y", "TRUE"))


def identity(section: str, record: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Section, supplier, number and date of a record (wire names)."""
    number = record.get("inum", record.get("nt_num", record.get("boenum", "")))
    day = record.get("idt", record.get("nt_dt", record.get("boedt", "")))
    supplier = record.get("stin", record.get("portcd", ""))
    return (section, str(supplier), str(number), str(day))


def _specified(section: str, record: Mapping[str, Any]) -> bool:
    period = record.get("rtnprd")
    if section not in _api.IMS_SPECIFIED_SECTIONS or not isinstance(period, str):
        return False
    if len(period) != 6 or not period.isdigit():
        return False
    return (int(period[2:]), int(period[:2])) >= _api.IMS_SPECIFIED_FROM


@attrs.define
class ImsSimRequest:
    """One save or reset the simulator received: its taxpayer, payload and progress."""

    id: str
    gstin: str
    org_id: str
    kind: str
    created_at: float
    payload: dict[str, Any]
    status_calls: int = 0
    task: SimTask | None = None


class ImsState:
    """Each taxpayer's IMS actions, on top of the simulator's seeded records.

    ``requests`` holds every save and reset by reference (or task) id; ``bodies`` every body
    accepted, parsed, in order (to check that each decision is sent exactly once), and
    ``body_sizes`` the size of every body received.
    ``polls_in_progress`` request status calls answer ``IP`` before the outcome shows, and a
    request stays in progress at most ``seconds_in_progress`` by the simulator's clock.
    """

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self.version = 0
        """Moves on each change: the simulator's download plans depend on it."""
        self.requests: dict[str, ImsSimRequest] = {}
        self.bodies: list[dict[str, Any]] = []
        self.body_sizes: list[int] = []
        """The size in bytes of each save or reset body received, in order."""
        self.polls_in_progress = 1
        self.seconds_in_progress = 30.0
        self._changes: dict[tuple[str, str], dict[tuple[str, str, str, str], dict[str, Any]]] = {}

    # -- the records -----------------------------------------------------------------------

    def apply(self, gstin: str, key: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``records`` with this taxpayer's changes applied (the same list if none)."""
        changes = self._changes.get((gstin, key))
        if not changes:
            return records
        out = []
        for record in records:
            change = changes.get(identity(key, record))
            if change is None:
                out.append(record)
                continue
            merged = {k: v for k, v in record.items() if k not in change.get("_drop", ())}
            merged.update({k: v for k, v in change.items() if k != "_drop"})
            out.append(merged)
        return out

    def _current(self, gstin: str, key: str) -> dict[tuple[str, str, str, str], dict[str, Any]]:
        records = self._sim._section_records(gstin, key, None)
        return {identity(key, r): r for r in records}

    def _change(
        self, gstin: str, key: str, ident: tuple[str, str, str, str], **fields: Any
    ) -> None:
        change = self._changes.setdefault((gstin, key), {}).setdefault(ident, {})
        drop = set(change.get("_drop", ()))
        for name, value in fields.items():
            if value is None:
                change.pop(name, None)
                drop.add(name)
            else:
                change[name] = value
                drop.discard(name)
        change["_drop"] = tuple(drop)
        self.version += 1

    def amend(self, gstin: str, section: str, index: int) -> dict[str, Any]:
        """A supplier's amendment of the ``index``-th record of ``section``: a new hash and
        value (its action stays). A save made from an earlier download is then stale."""
        key = section.lower()
        record = self._sim._section_records(gstin, key, None)[index]
        digest = f"{int(record['hash'], 16) ^ 1:064x}"
        if "val" in record:
            value = Decimal(str(record["val"])) + 1
            self._change(gstin, key, identity(key, record), val=value, hash=digest)
        else:  # a bill of entry: its taxable value
            value = Decimal(str(record["txval"])) + 1
            self._change(gstin, key, identity(key, record), txval=value, hash=digest)
        return self._sim._section_records(gstin, key, None)[index]

    def counts(self, gstin: str, group: str) -> dict[str, Any]:
        """The ``GETCNT`` data of one group."""
        out: dict[str, Any] = {}
        total = 0
        for key in _api.IMS_COUNT_GROUPS[group]:
            known = key in _DOMESTIC or key in _IMPORTS
            if not known and key not in self._sim.config.records.unknown_sections:
                continue
            tally = dict.fromkeys(_api.IMS_COUNT_FIELDS.values(), 0)
            for record in self._sim._section_records(gstin, key, None):
                field = _api.IMS_COUNT_FIELDS.get(str(record.get("action")))
                if field is not None:
                    tally[field] += 1
            total += sum(tally.values())
            out[key] = tally
        return {_api.IMS_COUNT_TOTAL: total, **out}

    # -- requests ----------------------------------------------------------------------------

    def _in_progress(self, gstin: str) -> bool:
        now = self._sim._clock()
        for request in self.requests.values():
            if request.gstin != gstin:
                continue
            if request.task is not None:
                if request.task.state == _api.TASK_STATUS_PROCESSING:
                    return True
                continue
            if request.payload[_api.IMS_STATUS_CODE] == _api.IMS_STATUS_ERROR:
                continue  # a refused request holds nothing up
            if (
                request.status_calls <= self.polls_in_progress
                and now - request.created_at < self.seconds_in_progress
            ):
                return True
        return False

    def receive(self, kind: str, gstin: str, org_id: str, body: dict[str, Any]) -> ImsSimRequest:
        """Apply a save or reset body (already checked as a whole); record its outcome."""
        self.bodies.append(body)
        ref = self._sim._new_id()
        if self._in_progress(gstin):
            payload = self._payload(kind, "ER", 0, {}, code=_api.IMS_CODE_IN_PROGRESS)
        else:
            processed = 0
            failed: dict[tuple[str, str, str], list[dict[str, str]]] = {}
            for key, records in body[_api.IMS_BODY_DATA].items():
                current = self._current(gstin, key)
                for record in records:
                    code = self._one(kind, gstin, key, record, current)
                    if code is None:
                        processed += 1
                        continue
                    number = record.get("inum", record.get("nt_num", record.get("boenum", "")))
                    entry = {"rtnprd": str(record.get("rtnprd", "")), "inum": str(number)}
                    failed.setdefault((key, str(record.get("stin", "")), code), []).append(entry)
            status = "PE" if failed else "P"
            payload = self._payload(kind, status, processed, failed)
        request = ImsSimRequest(ref, gstin, org_id, kind, self._sim._clock(), payload)
        self.requests[ref] = request
        return request

    def _one(
        self,
        kind: str,
        gstin: str,
        key: str,
        sent: Mapping[str, Any],
        current: Mapping[tuple[str, str, str, str], dict[str, Any]],
    ) -> str | None:
        """Apply one record; the portal's error code, or ``None`` when applied."""
        action = _sent_action(kind, key, sent)
        if action is None:
            return _api.IMS_CODE_SCHEMA
        ident = identity(key, sent)
        record = current.get(ident)
        if record is None or _stale(sent, record):
            return _api.IMS_CODE_STALE
        code = _refusal(key, action, sent, record)
        if code is not None:
            return code
        fields: dict[str, Any] = {"action": action, "prev_status": record.get("action")}
        if kind == "save":
            fields["remarks"] = sent.get("remarks")
            fields["itcRedReq"] = sent.get("itcRedReq")
            for name in _DECL:
                fields[name] = sent.get(name)
        else:
            fields.update(dict.fromkeys(("remarks", "itcRedReq", *_DECL)))
        self._change(gstin, key, ident, **fields)
        return None

    @staticmethod
    def _payload(
        kind: str,
        status: str,
        processed: int,
        failed: Mapping[tuple[str, str, str], list[dict[str, str]]],
        *,
        code: str = "",
    ) -> dict[str, Any]:
        report: dict[str, list[dict[str, Any]]] = {}
        for (key, stin, error), items in failed.items():
            report.setdefault(_SHORT.get(key, key), []).append(
                {"stin": stin, "error_cd": error, "error_msg": _MESSAGES[error], "inv": items}
            )
        return {
            _api.IMS_STATUS_CODE: status,
            _api.IMS_STATUS_TRANSACTION: "SAV" if kind == "save" else "RST",
            _api.IMS_STATUS_PROCESSED_COUNT: str(processed),
            _api.IMS_STATUS_ERROR_COUNT: str(sum(len(v) for v in failed.values())),
            _api.IMS_STATUS_ERROR_CODE: code,
            _api.IMS_STATUS_ERROR_MESSAGE: _MESSAGES.get(code, ""),
            _api.IMS_STATUS_ERROR_REPORT: report,
        }

    def status_of(self, request: ImsSimRequest, *, count: bool) -> dict[str, Any]:
        """The request status payload now (``IP`` for the first polls)."""
        if count:
            request.status_calls += 1
        young = self._sim._clock() - request.created_at < self.seconds_in_progress
        if request.task is None and young and request.status_calls <= self.polls_in_progress:
            return {
                _api.IMS_STATUS_CODE: _api.IMS_STATUS_IN_PROGRESS,
                _api.IMS_STATUS_TRANSACTION: "SAV",
                _api.IMS_STATUS_PROCESSED_COUNT: "0",
                _api.IMS_STATUS_ERROR_COUNT: "0",
                _api.IMS_STATUS_ERROR_CODE: "",
                _api.IMS_STATUS_ERROR_MESSAGE: "",
            }
        return request.payload


def _sent_action(kind: str, key: str, sent: Mapping[str, Any]) -> str | None:
    """The action a sent record asks for, or ``None`` if it fails the schema."""
    allowed = _IMPORT_FIELDS if key in _IMPORTS else _SAVE_FIELDS
    if set(sent) - allowed or sent.get("prev_status") not in _api.IMS_STATUSES:
        return None
    if key not in _IMPORTS and not isinstance(sent.get("stin"), str):
        return None  # a domestic record names its supplier
    if sent.get("itcRedReq") not in (None, "Y", "N"):
        return None
    action = sent.get("action")
    if kind == "reset":
        if action is not None:
            return None
        action = _api.IMS_RESET_ACTION
    elif action not in _api.IMS_SAVE_ACTIONS:
        return None
    for name in (*_api.IMS_BODY_AMOUNTS, *_DECL):
        value = sent.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, Decimal | int) or value < 0:
            return None  # a number, never negative (a boolean is no number)
    remarks = sent.get("remarks")
    if remarks is not None and (not isinstance(remarks, str) or len(remarks) > 250):
        return None
    assert isinstance(action, str)
    return action


def _stale(sent: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Has the record changed since the download the sent one came from?"""
    return (
        record.get("action") != sent["prev_status"]
        or sent.get("hash") != record.get("hash")
        or _amount(sent.get("val")) != _amount(record.get("val"))
    )


def _refusal(
    key: str, action: str, sent: Mapping[str, Any], record: Mapping[str, Any]
) -> str | None:
    """The portal's code for an action the record does not allow, or ``None``."""
    if action == "P":
        newer = record.get("ispendactblocked")
        if _set(newer if newer is not None else record.get("ispendactnallwd")):
            return _api.IMS_CODE_PENDING_NOT_ALLOWED
    if action == "R" and key in _IMPORTS:
        return _api.IMS_CODE_REJECT_NOT_ALLOWED
    other = record.get("itcRedReqBlocked")
    blocked = _set(other if other is not None else record.get("isItcRedReqBlocked"))
    specified = action == "A" and _specified(key, record) and not blocked
    if specified and sent.get("itcRedReq") not in ("Y", "N"):
        return _api.IMS_CODE_DECLARATION_MISSING
    return None


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def _parse_body(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_float=Decimal) if raw else None
    except ValueError:
        return None


def routes(
    sim: Simulator,
    *,
    bad_request: Callable[..., Exception],
    fail: Callable[..., Exception],
) -> list[web.RouteDef]:
    """The IMS returns routes, registered by the simulator (which hands its error makers)."""
    return _ImsRoutes(sim, bad_request=bad_request, fail=fail).defs()


class _ImsRoutes:
    """The handlers of the IMS returns routes: counts, save, request status and reset."""

    def __init__(
        self,
        sim: Simulator,
        *,
        bad_request: Callable[..., Exception],
        fail: Callable[..., Exception],
    ) -> None:
        self._sim = sim
        self._state = sim.ims_state
        self._bad_request = bad_request
        self._fail = fail

    def defs(self) -> list[web.RouteDef]:
        sim = self._sim

        def returns(template: str) -> str:
            return template.format(flynn=_api.IMS_RETURNS_FLYNN_VERSION, version="{version}")

        return [
            web.get(returns(_api.IMS_COUNTS_ROUTE), sim._route("ims_counts", self.counts)),
            web.put(returns(_api.IMS_SAVE_ROUTE), sim._route("ims_save", self.save)),
            web.get(
                returns(_api.IMS_REQUEST_STATUS_ROUTE),
                sim._route("ims_request_status", self.request_status),
            ),
            web.put(
                _api.IMS_RESET_ROUTE.format(flynn=_api.IMS_FLYNN_VERSION),
                sim._route("ims_reset", self.reset),
            ),
        ]

    def _session(self, request: web.Request) -> tuple[str, str, GstSessionRecord]:
        """Check the headers, the live GST session and the API version: (org, GSTIN, session)."""
        sim = self._sim
        org_id = sim._api_headers(request)
        gstin, username = sim._gstn_headers(request)
        header = _api.GSTN_HEADERS["session_id"]
        session_id = request.headers.get(header, "")
        if not session_id:
            raise self._bad_request(header)
        live = sim._live_session(session_id, gstin, username)
        version = request.match_info.get("version")
        if version is not None and version != _api.DEFAULT_IMS_API_VERSION:
            raise self._fail(
                400,
                "err-invalid-gst-returns-api-version",
                _api.ERR_TYPE_CLIENT_REQUEST,
                {"version": version},
            )
        return org_id, gstin, live

    def _query_gstin(self, request: web.Request) -> tuple[str, str]:
        """The session's organisation and GSTIN, which the query must name too."""
        org_id, gstin, _ = self._session(request)
        if request.query.get(_api.IMS_QUERY_GSTIN) != gstin:
            raise self._bad_request(_api.IMS_QUERY_GSTIN)
        return org_id, gstin

    async def counts(self, request: web.Request) -> dict[str, Any]:
        _, gstin = self._query_gstin(request)
        goods = request.query.get(_api.IMS_QUERY_GOODS_TYPE)
        if goods not in _api.IMS_GOODS_TYPES:
            raise self._bad_request(_api.IMS_QUERY_GOODS_TYPE)
        group = goods.lower()
        return {group: self._state.counts(gstin, group)}

    async def _body(
        self, request: web.Request, kind: str
    ) -> tuple[str, str, GstSessionRecord, dict[str, Any]]:
        """Check a save or reset: (org, GSTIN, session, the parsed body)."""
        org_id, gstin, live = self._session(request)
        raw = await request.read()
        self._state.body_sizes.append(len(raw))
        if len(raw) > _api.IMS_MAX_BODY_BYTES:
            raise self._bad_request("body")
        data = _parse_body(raw)
        if not isinstance(data, dict):
            raise self._bad_request("body")
        bad = _body_problems(data, gstin, kind)
        if bad:
            raise self._bad_request(*bad)
        return org_id, gstin, live, data

    async def save(self, request: web.Request) -> dict[str, Any]:
        org_id, gstin, _, data = await self._body(request, "save")
        return {_api.IMS_REFERENCE_KEY: self._state.receive("save", gstin, org_id, data).id}

    async def reset(self, request: web.Request) -> dict[str, Any]:
        org_id, gstin, live, data = await self._body(request, "reset")
        received = self._state.receive("reset", gstin, org_id, data)
        received.task = self._sim._reset_task(received, live)
        return {_api.TASK_ID_KEY: received.id}

    async def request_status(self, request: web.Request) -> dict[str, Any]:
        org_id, gstin = self._query_gstin(request)
        ref = request.query.get(_api.IMS_QUERY_REFERENCE, "")
        found = self._state.requests.get(ref)
        if found is None or found.gstin != gstin or found.org_id != org_id or found.task:
            raise self._fail(404, _api.ERR_NOT_FOUND, _api.ERR_TYPE_NOT_FOUND, {"int_tran_id": ref})
        return self._state.status_of(found, count=not self._sim._peeking(request))


def _body_problems(data: Mapping[str, Any], gstin: str, kind: str) -> list[str]:
    """The fields of a save or reset body that are wrong (the 400 answer's error location)."""
    reqtyp = _api.IMS_REQUEST_SAVE if kind == "save" else _api.IMS_REQUEST_RESET
    bad = []
    if data.get(_api.IMS_BODY_RECIPIENT) != gstin:
        bad.append(_api.IMS_BODY_RECIPIENT)
    if data.get(_api.IMS_BODY_REQUEST_TYPE) != reqtyp:
        bad.append(_api.IMS_BODY_REQUEST_TYPE)
    invdata = data.get(_api.IMS_BODY_DATA)
    if not isinstance(invdata, dict) or not invdata:
        bad.append(_api.IMS_BODY_DATA)
    else:
        bad += [
            f"{_api.IMS_BODY_DATA}.{key}"
            for key, records in invdata.items()
            if (key not in _DOMESTIC and key not in _IMPORTS)
            or not isinstance(records, list)
            or not all(isinstance(r, dict) for r in records)
        ]
    if set(data) - {_api.IMS_BODY_RECIPIENT, _api.IMS_BODY_REQUEST_TYPE, _api.IMS_BODY_DATA}:
        bad.append("body")
    return bad
