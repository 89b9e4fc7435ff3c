"""Acting on IMS records: decisions, save, reset, request status (flynn-api.md section 11).

A decision is made on a downloaded record (:meth:`ImsInvoices.decide`); :meth:`ImsActions.save`
and :meth:`ImsActions.reset` check every decision against the rules (``_rules``, imported on
the first check, not with the package) before a single request, build the bodies from the
records exactly as downloaded, split them under the 4 MB limit, send the parts one after
another (one save or reset per taxpayer at a time), and poll each part's request status to its
end.

Save and reset change the portal and are billed: they are never repeated blindly (only a 403
``err-expired-token``, answered before anything is done, is repeated after renewal), they run
to their answer when the caller is cancelled, and each reference or task id is handed over as
soon as it exists (``on_submitted``, an INFO log line, and a note on any later error).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from flynn_async._core import _validate
from flynn_async._core._errors import (
    GstSessionExpired,
    ImsOutcomeUnknown,
    InvalidDecisions,
    InvalidInput,
    ResponseError,
    TaskTimeout,
    TransportError,
)
from flynn_async._core._json import dumps
from flynn_async._core._secrets import Secret
from flynn_async._http import _api
from flynn_async._tasks._task import Task, TaskContext, run_to_end
from flynn_async.gst._gst import GstApi
from flynn_async.gst._session import GstSession
from flynn_async.gst._taxpayer_locks import TaxpayerLocks

from ._counts import ImsCounts, goods_types, parse_counts
from ._decisions import CallKind, ImsDecision, ItcReduction
from ._models import ImsStatus

if TYPE_CHECKING:
    from ._models import ImsInvoices

__all__ = [
    "ADVICE",
    "ImsActionResult",
    "ImsActions",
    "ImsDecision",
    "ImsRecordError",
    "ImsRequestStatus",
    "ItcReduction",
    "note_reference_ids",
]

log: Final = logging.getLogger("flynn_async.ims")

#: ``on_submitted(kind, reference_id)``: ``kind`` is ``"save"`` or ``"reset"``.
ActionSubmittedCallback = Callable[[str, str], object]


def decide(
    invoices: ImsInvoices,
    record: Any,
    action: ImsStatus | str,
    *,
    remarks: str | None = None,
    itc_reduction: ItcReduction | None = None,
) -> ImsDecision:
    """The decision ``action`` on ``record`` of ``invoices`` (see :meth:`ImsInvoices.decide`)."""
    gstin = invoices.recipient_gstin
    if gstin is None:
        raise InvalidInput(
            "these invoices do not know their recipient GSTIN: decide on a result of "
            "download or download_all"
        )
    code = ImsStatus.parse(action).value
    if remarks is not None and not isinstance(remarks, str):
        raise InvalidInput(f"remarks must be a str, not {type(remarks).__name__}")
    if itc_reduction is not None and not isinstance(itc_reduction, ItcReduction):
        raise InvalidInput("itc_reduction must be an ItcReduction")
    section = _section_of(invoices, record)
    return ImsDecision(gstin, section, record, code, remarks, itc_reduction)


def _section_of(invoices: ImsInvoices, record: Any) -> str:
    # where each record sits, built once per result (the record itself is kept beside its
    # section, so an id reused after a pickle round trip never finds the wrong record)
    places: dict[int, tuple[str, Any]] | None = getattr(invoices, "_places", None)
    if places is None:
        places = {id(r): (name, r) for name, r in invoices.records()}
        object.__setattr__(invoices, "_places", places)
    found = places.get(id(record))
    if found is not None and found[1] is record:
        return found[0]
    for name, candidate in invoices.records():
        if candidate == record:
            return name
    raise InvalidInput("the record is not one of these invoices (decide on a downloaded record)")


# ---------------------------------------------------------------------------------------------
# Request status and results
# ---------------------------------------------------------------------------------------------

#: Readable advice for the portal's codes.
ADVICE: Final[dict[str, str]] = {
    _api.IMS_CODE_STALE: (
        "the record changed since it was downloaded (its action, or the supplier edited it): "
        "download again and decide again; it was not resent"
    ),
    _api.IMS_CODE_DECLARATION_MISSING: (
        "accepting this specified credit note needs an ITC-reduction declaration (full, "
        "partial or none)"
    ),
    _api.IMS_CODE_IN_PROGRESS: (
        "another save or reset was in progress for this taxpayer: wait for it to end (ims "
        "status), then send again if you still want to"
    ),
    _api.IMS_CODE_SCHEMA: "the portal's schema refused the record: a client bug, please report it",
    _api.IMS_CODE_PENDING_NOT_ALLOWED: "pending is not allowed on this record",
    _api.IMS_CODE_REJECT_NOT_ALLOWED: "reject is not allowed on this record",
    _api.IMS_CODE_MISSING_PARAMETERS: "the portal missed mandatory parameters: a client bug",
}


@attrs.frozen
class ImsRecordError:
    """One record the portal refused: where it sits, the code, the message and advice."""

    section: str
    supplier_gstin: str
    number: str
    period: str
    code: str
    message: str
    advice: str
    #: The decision it answers, when the request was sent by this client.
    decision: ImsDecision | None = attrs.field(default=None, repr=False, eq=False)


@attrs.frozen
class ImsRequestStatus:
    """One request's outcome (``REQSTS``, or a reset task's result).

    ``status`` is ``P`` processed, ``PE`` processed with errors, ``ER`` failed (unknown
    values are kept as sent); ``processed`` and ``failed`` are counts.
    """

    reference_id: str
    kind: str
    status: str
    processed: int
    failed: int
    error_code: str | None
    error_message: str | None
    errors: tuple[ImsRecordError, ...]
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)
    #: The decisions this request carried (empty when re-attached by id).
    decisions: tuple[ImsDecision, ...] = attrs.field(default=(), repr=False, eq=False)

    @property
    def in_progress(self) -> bool:
        """Is the request still in progress (``IP``)?"""
        return self.status == _api.IMS_STATUS_IN_PROGRESS

    @property
    def advice(self) -> str | None:
        """Advice on the request-level error, if any."""
        return None if self.error_code is None else ADVICE.get(self.error_code)


@attrs.frozen
class ImsActionResult:
    """What a save or reset did, request by request.

    ``errors`` are the per-record errors of every request; ``succeeded`` the decisions the
    portal applied; ``unchanged`` the decisions not sent because the record already matched;
    ``unsent`` the decisions of parts not sent (a part ended with ``IMSSAV0015``).
    """

    requests: tuple[ImsRequestStatus, ...] = ()
    succeeded: tuple[ImsDecision, ...] = attrs.field(default=(), repr=False)
    unchanged: tuple[ImsDecision, ...] = attrs.field(default=(), repr=False)
    unsent: tuple[ImsDecision, ...] = attrs.field(default=(), repr=False)

    @property
    def errors(self) -> tuple[ImsRecordError, ...]:
        """Every per-record error of every request."""
        return tuple(e for r in self.requests for e in r.errors)

    @property
    def reference_ids(self) -> tuple[str, ...]:
        """Every reference (or task) id, in sending order."""
        return tuple(r.reference_id for r in self.requests)

    @property
    def ok(self) -> bool:
        """Everything sent was applied and nothing was left unsent.

        A request the portal counts errors for (``err_cnt``) is not, even without a report.
        """
        return not self.unsent and all(
            r.status == _api.IMS_STATUS_PROCESSED and not r.errors and not r.failed
            for r in self.requests
        )


def _as_count(value: Any, name: str, route: str, ref: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or (isinstance(value, int) and value < 0):
        raise ResponseError(
            f"request status {name} is not a count: {value!r} (reference {ref})", route=route
        )
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ResponseError(
        f"request status {name} is not a count: {value!r:.40} (reference {ref})", route=route
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def parse_request_status(
    data: Any,
    reference_id: str,
    *,
    kind: str,
    route: str,
    decisions: Sequence[ImsDecision] = (),
) -> ImsRequestStatus:
    """Structure a request status payload; match its errors to ``decisions``.

    A broken payload is a ``ResponseError`` whose ``task_id`` is ``reference_id`` (the save's
    reference id or the reset's task id: the only handle on the outcome).
    """
    try:
        return _request_status(data, reference_id, kind=kind, route=route, decisions=decisions)
    except ResponseError as exc:
        exc.task_id = exc.task_id or reference_id
        raise


def _request_status(
    data: Any,
    reference_id: str,
    *,
    kind: str,
    route: str,
    decisions: Sequence[ImsDecision],
) -> ImsRequestStatus:
    if not isinstance(data, Mapping):
        raise ResponseError(f"request status for {reference_id} is not an object", route=route)
    status = data.get(_api.IMS_STATUS_CODE)
    if not isinstance(status, str) or not status:
        raise ResponseError(
            f"request status for {reference_id} has no {_api.IMS_STATUS_CODE!r}", route=route
        )
    by_key = {d.match_key: d for d in decisions}
    # a report without a supplier (imports carry a port code, not a GSTIN): match the rest
    by_rest = {(k[0], k[2], k[3]): d for k, d in by_key.items()}
    errors: list[ImsRecordError] = []
    report = data.get(_api.IMS_STATUS_ERROR_REPORT) or {}
    if not isinstance(report, Mapping):
        raise ResponseError(
            f"request status for {reference_id}: error_report is not an object", route=route
        )
    for raw_section, entries in report.items():
        section = _api.IMS_REPORT_SHORT_SECTIONS.get(raw_section.lower(), raw_section.lower())
        if not isinstance(entries, list):
            raise ResponseError(
                f"request status for {reference_id}: error_report.{raw_section} is not a list",
                route=route,
            )
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise ResponseError(
                    f"request status for {reference_id}: a {raw_section} error is not an object",
                    route=route,
                )
            supplier = str(entry.get(_api.IMS_REPORT_SUPPLIER) or "")
            code = str(entry.get(_api.IMS_REPORT_CODE) or "")
            message = str(entry.get(_api.IMS_REPORT_MESSAGE) or "")
            items = entry.get(_api.IMS_REPORT_RECORDS) or [{}]
            if not isinstance(items, list):
                items = [{}]
            for item in items:
                item = item if isinstance(item, Mapping) else {}
                number = str(item.get(_api.IMS_REPORT_NUMBER) or "")
                period = str(item.get(_api.IMS_REPORT_PERIOD) or "")
                decision = by_key.get((section, supplier, number, period))
                if decision is None and not supplier:
                    decision = by_rest.get((section, number, period))
                advice = ADVICE.get(code, "see the portal's message")
                if code == _api.IMS_CODE_DECLARATION_MISSING and decision is not None:
                    advice += f": {decision.describe()}"
                errors.append(
                    ImsRecordError(
                        section, supplier, number, period, code, message, advice, decision
                    )
                )
    return ImsRequestStatus(
        reference_id=reference_id,
        kind=kind,
        status=status,
        processed=_as_count(
            data.get(_api.IMS_STATUS_PROCESSED_COUNT), "proc_cnt", route, reference_id
        ),
        failed=_as_count(data.get(_api.IMS_STATUS_ERROR_COUNT), "err_cnt", route, reference_id),
        error_code=_text(data.get(_api.IMS_STATUS_ERROR_CODE)),
        error_message=_text(data.get(_api.IMS_STATUS_ERROR_MESSAGE)),
        errors=tuple(errors),
        raw=dict(data),
        decisions=tuple(decisions),
    )


def note_reference_ids(error: BaseException, kind: str, ids: Sequence[str]) -> None:
    """Hand the save/reset reference ids over on ``error`` (notes and ``reference_ids``)."""
    if not ids:
        return
    known: list[str] = list(getattr(error, "reference_ids", None) or ())
    notes = getattr(error, "__notes__", ())
    for ref in ids:
        note = f"IMS {kind} reference id: {ref} (follow it up with request_status / ims status)"
        if note not in notes:
            error.add_note(note)
        if ref not in known:
            known.append(ref)
    error.reference_ids = tuple(known)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------------------------


@attrs.frozen
class _Part:
    decisions: tuple[ImsDecision, ...]
    body: dict[str, Any] = attrs.field(repr=False)


def split_bodies(
    decisions: Sequence[ImsDecision], *, gstin: str, kind: CallKind, limit: int
) -> list[_Part]:
    """Bodies holding every decision once, each at most ``limit`` bytes of JSON."""
    reqtyp = _api.IMS_REQUEST_SAVE if kind == "save" else _api.IMS_REQUEST_RESET

    def envelope(data: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        return {
            _api.IMS_BODY_RECIPIENT: gstin,
            _api.IMS_BODY_REQUEST_TYPE: reqtyp,
            _api.IMS_BODY_DATA: data,
        }

    base = len(dumps(envelope({})))
    parts: list[_Part] = []
    data: dict[str, list[dict[str, Any]]] = {}
    chosen: list[ImsDecision] = []
    size = base
    for decision in decisions:
        record = decision.body_record(kind)
        cost = len(dumps(record)) + 1
        if decision.section not in data:
            cost += len(dumps(decision.section)) + 4
        if base + cost > limit:
            raise InvalidInput(f"one record alone is over the {limit}-byte body limit")
        if size + cost > limit and chosen:
            parts.append(_Part(tuple(chosen), envelope(data)))
            data, chosen, size = {}, [], base
            cost = len(dumps(record)) + 1 + len(dumps(decision.section)) + 4
        data.setdefault(decision.section, []).append(record)
        chosen.append(decision)
        size += cost
    if chosen:
        parts.append(_Part(tuple(chosen), envelope(data)))
    return parts


# ---------------------------------------------------------------------------------------------
# The calls
# ---------------------------------------------------------------------------------------------


class ImsActions:
    """Counts, save, reset and request status; reached through ``client.ims``."""

    def __init__(
        self, ctx: TaskContext, gst: GstApi, version: str, locks: TaxpayerLocks | None = None
    ) -> None:
        self._ctx = ctx
        self._gst = gst
        self._version = version
        # shared with GSTR-2B regeneration: one state-changing request per taxpayer at a time
        self._locks = TaxpayerLocks() if locks is None else locks

    def _path(self, template: str) -> str:
        return template.format(flynn=_api.IMS_RETURNS_FLYNN_VERSION, version=self._version)

    def _lock(self, gstin: str) -> asyncio.Lock:
        return self._locks.lock_for(gstin)

    @staticmethod
    def _session(session: object) -> GstSession:
        if not isinstance(session, GstSession):
            raise InvalidInput("session must be a GstSession (from verify_otp)")
        _validate.gstin(session.gstin, name="session.gstin")
        return session

    async def _get(self, session: GstSession, template: str, params: dict[str, str]) -> Any:
        current = self._gst.current(session)
        try:
            return await self._ctx.api.call(
                "GET", template, self._path(template), headers=_headers(current), params=params
            )
        except GstSessionExpired:
            await self._gst.forget(current.gstin)
            raise

    # -- counts -----------------------------------------------------------------------------

    async def counts(
        self, session: GstSession, *, goods_types_: Iterable[str] | str = ("ALL_OTH",)
    ) -> ImsCounts:
        """One ``GETCNT`` call per goods type, merged into one :class:`ImsCounts`."""
        session = self._session(session)
        chosen = goods_types(goods_types_)
        template = _api.IMS_COUNTS_ROUTE
        merged: ImsCounts | None = None
        for goods in chosen:
            params = {_api.IMS_QUERY_GSTIN: session.gstin, _api.IMS_QUERY_GOODS_TYPE: goods}
            data = await self._get(session, template, params)
            counts = parse_counts(session.gstin, data, route=template)
            if merged is None:
                merged = counts
            else:
                merged = ImsCounts(
                    gstin=session.gstin,
                    groups={**merged.groups, **counts.groups},
                    group_totals={**merged.group_totals, **counts.group_totals},
                    extra={**merged.extra, **counts.extra},
                )
        assert merged is not None
        return merged

    # -- save and reset ---------------------------------------------------------------------

    async def act(
        self,
        kind: CallKind,
        session: GstSession,
        decisions: Iterable[ImsDecision],
        *,
        on_submitted: ActionSubmittedCallback | None = None,
        max_body_bytes: int = _api.IMS_MAX_BODY_BYTES,
    ) -> ImsActionResult:
        """Check, split, send part after part, poll each to its end (see module docs)."""
        session = self._session(session)
        if on_submitted is not None and not callable(on_submitted):
            raise InvalidInput("on_submitted must be callable (given the kind and the id)")
        limit = _validate.positive_int(max_body_bytes, "max_body_bytes", minimum=1024)
        if isinstance(decisions, ImsDecision) or not isinstance(decisions, Iterable):
            raise InvalidInput("decisions must be an iterable of ImsDecision")
        listed = list(decisions)
        for item in listed:
            if not isinstance(item, ImsDecision):
                raise InvalidInput(f"decisions must be ImsDecision values, not {type(item)!r}")
        from ._rules import check  # imported on the first check, not with the package

        to_send, unchanged, problems = check(listed, call=kind, gstin=session.gstin)
        if problems:
            raise InvalidDecisions(
                f"{len(problems)} problem(s) in {len(listed)} decision(s); nothing was sent:\n"
                + "\n".join(f"  {p}" for p in problems),
                problems=problems,
            )
        if not to_send:
            return ImsActionResult(unchanged=tuple(unchanged))
        parts = split_bodies(to_send, gstin=session.gstin, kind=kind, limit=limit)
        requests: list[ImsRequestStatus] = []
        ids: list[str] = []
        unsent: list[ImsDecision] = []
        async with self._lock(session.gstin):
            try:
                for index, part in enumerate(parts):
                    if unsent:
                        unsent.extend(part.decisions)
                        continue
                    ref = await run_to_end(
                        self._send(
                            kind,
                            session,
                            part,
                            index=index,
                            count=len(parts),
                            on_submitted=on_submitted,
                            earlier=ids,
                        ),
                        lambda ref, cancelled: note_reference_ids(cancelled, kind, [*ids, ref]),
                    )
                    ids.append(ref)
                    status = await self._wait(kind, session, ref, part.decisions)
                    requests.append(status)
                    if status.error_code == _api.IMS_CODE_IN_PROGRESS:
                        log.warning(
                            "IMS %s %s for %s ended %s (%s): the other %d part(s) are not sent",
                            kind,
                            ref,
                            session.gstin,
                            status.status,
                            status.error_code,
                            len(parts) - index - 1,
                        )
                        unsent.extend(d for p in parts[index + 1 :] for d in p.decisions)
                        if index + 1 == len(parts):
                            break
            except BaseException as exc:
                note_reference_ids(exc, kind, ids)
                raise
        failed = {id(e.decision) for r in requests for e in r.errors if e.decision is not None}
        succeeded = [
            d
            for r in requests
            if r.status in (_api.IMS_STATUS_PROCESSED, _api.IMS_STATUS_PROCESSED_WITH_ERRORS)
            for d in r.decisions
            if id(d) not in failed
        ]
        return ImsActionResult(
            requests=tuple(requests),
            succeeded=tuple(succeeded),
            unchanged=tuple(unchanged),
            unsent=tuple(unsent),
        )

    async def _send(
        self,
        kind: CallKind,
        session: GstSession,
        part: _Part,
        *,
        index: int,
        count: int,
        on_submitted: ActionSubmittedCallback | None,
        earlier: Sequence[str],
    ) -> str:
        """Send one part once; returns its reference (save) or task id (reset).

        ``part`` is number ``index`` (from 0) of ``count``; ``earlier`` holds the references
        of the parts already sent (they go into the error if this one's outcome is unknown).
        """
        current = self._gst.current(session)
        if kind == "save":
            template = _api.IMS_SAVE_ROUTE
            path = self._path(template)
            key = _api.IMS_REFERENCE_KEY
        else:
            template = _api.IMS_RESET_ROUTE
            path = template.format(flynn=_api.IMS_FLYNN_VERSION)
            key = _api.TASK_ID_KEY
        try:
            data = await self._ctx.api.call(
                "PUT", template, path, headers=_headers(current), json=part.body
            )
        except GstSessionExpired:
            await self._gst.forget(current.gstin)
            raise
        except (TransportError, ResponseError) as exc:
            if exc.route != template:
                raise  # the token's renewal failed before the request was sent
            # A lost connection, a timeout, or an answer that is no answer (a 2xx that is not
            # the API's JSON, a gateway's 5xx page): the portal may have applied it.
            raise ImsOutcomeUnknown(
                f"the IMS {kind} of part {index + 1} of {count} ({len(part.decisions)} "
                f"records) for {current.gstin} was sent but no usable answer came ({exc}): its "
                "outcome is unknown. Do not resend it: count or download again to see what the "
                "portal holds",
                gstin=current.gstin,
                kind=kind,
                decisions=part.decisions,
                reference_ids=tuple(earlier),
                route=template,
            ) from exc
        ref = data.get(key) if isinstance(data, Mapping) else None
        if not isinstance(ref, str) or not ref:
            raise ImsOutcomeUnknown(
                f"the IMS {kind} answer has no usable {key!r}: the outcome is unknown",
                gstin=current.gstin,
                kind=kind,
                decisions=part.decisions,
                reference_ids=tuple(earlier),
                route=template,
            )
        if on_submitted is not None:
            try:
                on_submitted(kind, ref)
            except Exception:  # the request exists either way: its id is logged just below
                log.exception("the on_submitted callback failed for IMS %s %s", kind, ref)
        log.info(
            "IMS %s %s sent for %s (part %d of %d, %d records)",
            kind,
            ref,
            current.gstin,
            index + 1,
            count,
            len(part.decisions),
        )
        return ref

    async def _wait(
        self,
        kind: CallKind,
        session: GstSession,
        ref: str,
        decisions: Sequence[ImsDecision],
        *,
        fresh: bool = True,
    ) -> ImsRequestStatus:
        if kind == "reset":
            task = Task(self._ctx, _validate.task_id(ref), _NoPages(), label="reset", fresh=fresh)
            await task.wait()
            template = _api.TASK_RESULT_ROUTE
            path = template.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=ref)

            async def fetch_result() -> Any:
                return await self._ctx.api.call("GET", template, path, task_id=ref)

            return await self._poll(fetch_result, ref, kind, template, decisions, fresh=False)
        template = _api.IMS_REQUEST_STATUS_ROUTE
        params = {_api.IMS_QUERY_GSTIN: session.gstin, _api.IMS_QUERY_REFERENCE: ref}

        async def fetch() -> Any:
            return await self._get(session, template, params)

        return await self._poll(fetch, ref, kind, template, decisions, fresh=fresh)

    async def _poll(
        self,
        fetch: Callable[[], Any],
        ref: str,
        kind: str,
        route: str,
        decisions: Sequence[ImsDecision],
        *,
        fresh: bool,
    ) -> ImsRequestStatus:
        ctx = self._ctx
        policy = ctx.poll
        started = ctx.clock()
        delays = policy.delays(ctx.rng)
        last = False  # the sleep just made was clipped to the time left
        if fresh:
            await ctx.sleep(next(delays))
        while True:
            data = await fetch()
            status = parse_request_status(data, ref, kind=kind, route=route, decisions=decisions)
            if not status.in_progress:
                log.info(
                    "IMS %s %s: %s, %d processed, %d failed",
                    kind,
                    ref,
                    status.status,
                    status.processed,
                    status.failed,
                )
                return status
            delay = next(delays)
            if policy.deadline is not None:
                left = policy.deadline - (ctx.clock() - started)
                if left <= 0 or last:
                    error = TaskTimeout(
                        f"the IMS {kind} {ref} was still in progress after "
                        f"{policy.deadline:g}s; follow it up later by its id",
                        route=route,
                        task_id=ref,
                    )
                    error.reference_id = ref  # type: ignore[attr-defined]
                    raise error
                last = delay >= left
                delay = min(delay, left)
            await ctx.sleep(delay)

    async def request_status(self, session: GstSession, reference_id: str) -> ImsRequestStatus:
        """Follow a save up by its reference id (from any process), polling to its end."""
        session = self._session(session)
        ref = _validate.task_id(reference_id)
        return await self._wait("save", session, ref, (), fresh=False)

    async def reset_status(self, session: GstSession, task_id: str) -> ImsRequestStatus:
        """Follow a reset up by its task id (from any process), polling to its end."""
        session = self._session(session)
        ref = _validate.task_id(task_id)
        return await self._wait("reset", session, ref, (), fresh=False)


def _headers(session: GstSession) -> dict[str, str | Secret]:
    """The GSTN headers, the session id kept a :class:`Secret` (revealed only on the wire)."""
    names = _api.GSTN_HEADERS
    return {
        names["gstin"]: session.gstin,
        names["username"]: session.username,
        names["session_id"]: session.session_id,
        names["gsp_code"]: _api.GSP_CODE,
    }


class _NoPages:
    """A page codec for tasks whose result is not paged (a reset): never asked to decode."""

    def decode(self, data: Any, *, route: str, task_id: str, page: int) -> Any:
        raise ResponseError("a reset task has no pages", route=route, task_id=task_id)

    def merge(self, pages: Sequence[Any]) -> Any:
        raise ResponseError("a reset task has no pages")

    def hold(self, page: Any) -> None:
        raise ResponseError("a reset task has no pages")

    def records(self, page: Any) -> Any:
        return iter(())
