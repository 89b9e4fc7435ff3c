"""GSTR-2B calls: download (every file, merged), regenerate, regeneration status.

Get and status calls are read-only: the transport retries them like any other read-only call.
Regenerate is billed and changes the portal's state: it is sent once (only a refused login
token, answered before anything is done, is renewed and the call repeated), it runs to its
answer even when the caller is cancelled, its reference id is handed over at once
(``on_submitted``, an INFO log line, a note on any error that follows), and a lost answer is a
:class:`~flynn_async.Gstr2bOutcomeUnknown`, never a second request.

The 2B models and their merging (:mod:`._models`, :mod:`._merge`) are imported on the first
download, not with the package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from flynn_async._core import _validate
from flynn_async._core._errors import (
    GstError,
    Gstr2bNotGenerated,
    Gstr2bOutcomeUnknown,
    Gstr2bQueued,
    Gstr2bRegenerationInProgress,
    Gstr2bTooEarly,
    GstSessionExpired,
    InvalidInput,
    ResponseError,
    TaskTimeout,
    TransportError,
    first_error,
)
from flynn_async._core._policy import PollPolicy
from flynn_async._core._values import EMPTY, FrozenMap
from flynn_async._http import _api
from flynn_async._tasks._task import TaskContext, run_group, run_to_end
from flynn_async.gst._gst import GstApi
from flynn_async.gst._period import ReturnPeriod
from flynn_async.gst._session import GstSession
from flynn_async.gst._taxpayer_locks import TaxpayerLocks

if TYPE_CHECKING:  # imported on the first download (import time), not with the package
    from ._models import Gstr2b

__all__ = ["Gstr2bApi", "Gstr2bRegeneration", "RegenerationCallback"]

log: Final = logging.getLogger("flynn_async.gstr2b")

#: ``on_submitted(reference_id)``: called as soon as the portal accepted a regeneration.
RegenerationCallback = Callable[[str], object]

#: A queued answer's wait is capped at this many minutes (a broken hint is not obeyed).
_MAX_QUEUE_MINUTES: Final = 24 * 60
_NO_DOCUMENTS: Final = object()


@attrs.frozen(kw_only=True)
class Gstr2bRegeneration:
    """The outcome of a GSTR-2B regeneration.

    ``status`` is the portal's ``status_cd`` (``P`` processed, ``PE`` processed with errors,
    ``ER`` failed, ``IP`` still in progress; other values kept as sent), or ``"unchanged"``
    when the portal answered that nothing changed since the last generation (``IMS2005``; then
    ``reference_id`` is ``None``). ``error_code`` and ``error_message`` are the portal's
    ``err_cd``/``err_msg`` when it gave them; ``details`` is the status answer as sent.
    """

    reference_id: str | None
    status: str
    error_code: str | None = None
    error_message: str | None = None
    details: Mapping[str, Any] = attrs.field(default=EMPTY, repr=False)

    @property
    def unchanged(self) -> bool:
        """True when nothing changed since the last generation: the 2B is already current
        (the regenerate call answered ``IMS2005``, or the status carries it as ``err_cd``)."""
        return self.status == "unchanged" or self.error_code == _api.GSTR2B_CODE_UNCHANGED

    @property
    def in_progress(self) -> bool:
        """True while the portal is still regenerating (``IP``)."""
        return self.status == _api.GSTR2B_STATUS_IN_PROGRESS

    @property
    def succeeded(self) -> bool:
        """True when the 2B is regenerated (``P``) or already current (``unchanged``)."""
        return self.status == _api.GSTR2B_STATUS_PROCESSED or self.unchanged


def _period(value: object) -> ReturnPeriod:
    if isinstance(value, ReturnPeriod):
        return value
    if isinstance(value, str):
        try:
            period = ReturnPeriod.parse(value)
        except ValueError:
            period = None
        if period is not None and 1 <= period.month <= 12 and period.year >= 2017:
            return period
    raise InvalidInput(
        f"period must be a ReturnPeriod or MMYYYY text (from 2017), got {value!r:.40}"
    )


def _session(session: object) -> GstSession:
    if not isinstance(session, GstSession):
        raise InvalidInput("session must be a GstSession (from verify_otp)")
    _validate.gstin(session.gstin, name="session.gstin")
    return session


def _note_reference(error: BaseException, reference_id: str) -> None:
    """Hand the billed regeneration's reference id over on ``error``."""
    note = f"GSTR-2B regeneration reference id: {reference_id}"
    if note not in getattr(error, "__notes__", ()):
        error.add_note(note)
    if getattr(error, "reference_id", None) is None:
        error.reference_id = reference_id  # type: ignore[attr-defined]


def _retyped(exc: GstError, period: ReturnPeriod) -> GstError:
    """The typed 2B error for a portal code, with the same fields as ``exc``."""
    fields: dict[str, Any] = {
        "portal_code": exc.portal_code,
        "http_status": exc.http_status,
        "code": exc.code,
        "type": exc.type,
        "args": exc.error_args,
        "route": exc.route,
        "task_id": exc.task_id,
        "page": exc.page,
    }
    code = exc.portal_code
    meaning = _api.GSTR2B_CODE_MEANINGS.get(code or "")
    text = exc.message_text + (f"; GSTR-2B {period}: {meaning}" if meaning else "")
    if code in _api.GSTR2B_CODES_NOT_GENERATED:
        return Gstr2bNotGenerated(
            text + " (client.gstr2b.regenerate asks the portal to generate it)", **fields
        )
    if code == _api.GSTR2B_CODE_TOO_EARLY:
        return Gstr2bTooEarly(text, **fields)
    return GstError(text, **fields) if meaning else exc


def _minutes(value: Any, route: str) -> Decimal:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)  # GSTN sends numbers as text in places ("10")
    if type(value) is int or type(value) is Decimal:
        minutes = Decimal(value)
        if 0 <= minutes <= _MAX_QUEUE_MINUTES:
            return minutes
    raise ResponseError(
        f"queued GSTR-2B answer: {_api.GSTR2B_QUEUED_MINUTES_KEY} must be 0 to "
        f"{_MAX_QUEUE_MINUTES} minutes, got {value!r:.40}",
        route=route,
    )


class Gstr2bApi:
    """GSTR-2B calls; reach it as ``client.gstr2b``."""

    def __init__(
        self, ctx: TaskContext, gst: GstApi, api_version: str, locks: TaxpayerLocks
    ) -> None:
        self._ctx = ctx
        self._gst = gst
        self._version = api_version
        self._locks = locks
        self._running: set[str] = set()

    def _path(self, template: str) -> str:
        return template.format(flynn=_api.GSTR2B_FLYNN_VERSION, v2b=self._version)

    # ------------------------------------------------------------------------------------
    # Download
    # ------------------------------------------------------------------------------------

    async def download(self, session: GstSession, *, period: ReturnPeriod | str) -> Gstr2b:
        """The taxpayer's GSTR-2B for ``period`` (a :class:`ReturnPeriod` or ``"MMYYYY"``).

        A 2B sent in several files is fetched file by file (under the client's concurrency
        bound and retry policy) and merged; ``Gstr2b.files`` says how many there were. A queued
        answer is waited out within the poll deadline (past it: :class:`Gstr2bQueued` with the
        request id). A period without documents gives an empty :class:`Gstr2b`. Raises
        :class:`Gstr2bNotGenerated`, :class:`Gstr2bTooEarly`, or a :class:`GstError` with the
        portal's code.
        """
        from ._merge import check_document, file_count, merge_files
        from ._models import Gstr2b, Where, decode_gstr2b

        chosen = _period(period)
        current = self._gst.current(_session(session))
        route = _api.GSTR2B_ROUTE
        first = await self._get(current, chosen, None)
        if first is _NO_DOCUMENTS:
            log.info("GSTR-2B %s of %s has no documents", chosen, current.gstin)
            return Gstr2b(gstin=current.gstin, period=chosen, files=0)
        count = file_count(first, route)
        gstin, asked = current.gstin, str(chosen)
        check_document(first, gstin=gstin, period=asked, count=count, route=route)
        if count is None:
            result = decode_gstr2b(first, Where(route))
        else:
            files: list[Any] = [None] * count

            async def fetch(number: int) -> None:
                files[number - 1] = await self._get(current, chosen, number)
                check_document(
                    files[number - 1],
                    gstin=gstin,
                    period=asked,
                    count=count,
                    route=route,
                    file_num=number,
                )

            try:
                await run_group(
                    lambda group: [group.create_task(fetch(n)) for n in range(1, count + 1)]
                )
            except BaseExceptionGroup as group_error:
                error = first_error(group_error)
                raise error from error.__cause__
            result = merge_files(first, files, route)
        log.info(
            "GSTR-2B %s of %s downloaded (%d file%s)",
            chosen,
            current.gstin,
            result.files,
            "" if result.files == 1 else "s",
        )
        return result

    async def _get(self, current: GstSession, period: ReturnPeriod, file_num: int | None) -> Any:
        """The document of one get (``file_num`` or the first answer), queued answers waited."""
        ctx = self._ctx
        route = _api.GSTR2B_ROUTE
        params = {
            _api.GSTR2B_QUERY_RETURN_TYPE: _api.GSTR2B_RETURN_TYPE,
            _api.GSTR2B_QUERY_PERIOD: str(period),
        }
        if file_num is not None:
            params[_api.GSTR2B_QUERY_FILE] = str(file_num)
        deadline = ctx.poll.deadline
        started = ctx.clock()
        while True:
            try:
                data = await ctx.api.call(
                    "GET",
                    route,
                    self._path(route),
                    headers=current.headers(),
                    params=params,
                    limiter=ctx.limiter,
                    page=file_num,
                )
            except GstSessionExpired:
                await self._gst.forget(current.gstin)
                raise
            except GstError as exc:
                if exc.portal_code == _api.GSTR2B_CODE_NO_DOCUMENTS and file_num is None:
                    return _NO_DOCUMENTS
                raise _retyped(exc, period) from None
            if not isinstance(data, dict):
                raise ResponseError("GSTR-2B answer is not an object", route=route, page=file_num)
            request_id = data.get(_api.GSTR2B_QUEUED_ID_KEY)
            if request_id is not None and _api.GSTR2B_DOCUMENT_KEY not in data:
                wait = float(_minutes(data.get(_api.GSTR2B_QUEUED_MINUTES_KEY), route) * 60)
                spent = ctx.clock() - started
                if deadline is not None and spent + wait > deadline:
                    raise Gstr2bQueued(
                        f"GSTR-2B {period} is still queued by the portal (request "
                        f"{request_id}); the poll deadline of {deadline:g}s does not allow "
                        f"the {wait:g}s it asks to wait: ask again later",
                        request_id=str(request_id),
                        route=route,
                        page=file_num,
                    )
                log.info(
                    "GSTR-2B %s of %s queued by the portal (request %s): asking again in %gs",
                    period,
                    current.gstin,
                    request_id,
                    wait,
                )
                await ctx.sleep(wait)
                continue
            document = data.get(_api.GSTR2B_DOCUMENT_KEY)
            if not isinstance(document, dict):
                keys = ", ".join(sorted(map(str, data)))[:120]
                raise ResponseError(
                    f"GSTR-2B answer has no document object under "
                    f"{_api.GSTR2B_DOCUMENT_KEY!r} (keys: {keys})",
                    route=route,
                    page=file_num,
                )
            return document

    # ------------------------------------------------------------------------------------
    # Regeneration
    # ------------------------------------------------------------------------------------

    async def regenerate(
        self,
        session: GstSession,
        *,
        period: ReturnPeriod | str,
        poll: PollPolicy | None = None,
        on_submitted: RegenerationCallback | None = None,
    ) -> Gstr2bRegeneration:
        """Ask the portal to recompute GSTR-2B for ``period`` (after IMS actions) and wait.

        Billed and state-changing: sent once, never repeated blindly; it waits for this
        client's own save, reset or regeneration in progress for the taxpayer, and a second
        regeneration for the taxpayer while one runs is refused
        (:class:`Gstr2bRegenerationInProgress`). Once sent it runs to its answer even if the
        caller is cancelled; the reference id goes to ``on_submitted(reference_id)`` and the
        log at once, and any error that follows (``CancelledError`` too) carries it in a note
        and ``reference_id``. The status is then polled (``poll``, by default the client's
        :class:`PollPolicy`) until it leaves ``IP``. A lost answer is a
        :class:`Gstr2bOutcomeUnknown`; "nothing changed since the last generation" is an
        outcome (``unchanged``), not an error.
        """
        chosen = _period(period)
        current = self._gst.current(_session(session))
        if poll is not None and not isinstance(poll, PollPolicy):
            raise InvalidInput("poll must be a PollPolicy")
        if on_submitted is not None and not callable(on_submitted):
            raise InvalidInput("on_submitted must be a callable taking the reference id")
        gstin = current.gstin
        if gstin in self._running:
            raise Gstr2bRegenerationInProgress(
                f"a GSTR-2B regeneration for {gstin} is already running in this client; "
                "wait for it to end"
            )
        self._running.add(gstin)
        try:
            async with self._locks.lock_for(gstin):
                current = self._gst.current(current)
                reference = await run_to_end(
                    self._send(current, chosen, on_submitted),
                    lambda ref, cancelled: _note_reference(cancelled, ref) if ref else None,
                )
                if reference is None:
                    return Gstr2bRegeneration(reference_id=None, status="unchanged")
                try:
                    return await self._poll(current, reference, poll or self._ctx.poll)
                except BaseException as exc:
                    _note_reference(exc, reference)
                    raise
        finally:
            self._running.discard(gstin)

    async def _send(
        self,
        current: GstSession,
        period: ReturnPeriod,
        on_submitted: RegenerationCallback | None,
    ) -> str | None:
        """Send the regenerate once; its reference id, ``None`` when nothing changed."""
        route = _api.GSTR2B_REGENERATE_ROUTE
        body = {_api.GSTR2B_BODY_GSTIN: current.gstin, _api.GSTR2B_BODY_PERIOD: str(period)}
        try:
            data = await self._ctx.api.call(
                "PUT", route, self._path(route), headers=current.headers(), json=body
            )
        except GstSessionExpired:
            await self._gst.forget(current.gstin)
            raise
        except GstError as exc:
            if exc.portal_code == _api.GSTR2B_CODE_UNCHANGED:
                log.info(
                    "GSTR-2B %s of %s: nothing changed since the last generation",
                    period,
                    current.gstin,
                )
                return None
            raise _retyped(exc, period) from None
        except (TransportError, ResponseError) as exc:
            if exc.route != route:
                raise  # the token's renewal failed before the regeneration was sent
            raise Gstr2bOutcomeUnknown(
                f"the GSTR-2B regeneration for {current.gstin} {period} was sent but its "
                f"answer was lost ({exc.message_text}); it may have started on the portal: "
                "download 2B before regenerating again",
                route=route,
            ) from exc
        reference = data.get(_api.GSTR2B_REFERENCE_KEY) if isinstance(data, dict) else None
        if not isinstance(reference, str) or not reference.strip():
            raise Gstr2bOutcomeUnknown(
                f"the GSTR-2B regeneration answer has no {_api.GSTR2B_REFERENCE_KEY!r}; it "
                "may have started on the portal: download 2B before regenerating again",
                route=route,
            )
        if on_submitted is not None:
            try:
                on_submitted(reference)
            except Exception:  # the regeneration runs either way: its id is logged below
                log.exception("the on_submitted callback failed for reference %s", reference)
        log.info(
            "GSTR-2B regeneration %s started for %s period %s", reference, current.gstin, period
        )
        return reference

    async def _poll(
        self, current: GstSession, reference: str, poll: PollPolicy
    ) -> Gstr2bRegeneration:
        ctx = self._ctx
        delays = poll.delays(ctx.rng)
        started = ctx.clock()
        last = False  # the sleep just made was clipped to the time left
        while True:
            try:
                outcome = await self._status(current, reference)
            except (TransportError, ResponseError) as exc:
                raise Gstr2bOutcomeUnknown(
                    f"the status of GSTR-2B regeneration {reference} could not be read "
                    f"({exc.message_text}); re-attach with regeneration_status",
                    reference_id=reference,
                    route=exc.route,
                ) from exc
            if not outcome.in_progress:
                log.info(
                    "GSTR-2B regeneration %s for %s ended: %s",
                    reference,
                    current.gstin,
                    outcome.status,
                )
                return outcome
            delay = next(delays)
            if poll.deadline is not None:
                left = poll.deadline - (ctx.clock() - started)
                if left <= 0 or last:
                    raise TaskTimeout(
                        f"GSTR-2B regeneration {reference} still in progress after "
                        f"{poll.deadline:g}s; re-attach with regeneration_status",
                        route=_api.GSTR2B_STATUS_ROUTE,
                        task_id=reference,
                    )
                last = delay >= left
                delay = min(delay, left)
            await ctx.sleep(delay)

    async def regeneration_status(
        self, session: GstSession, reference_id: str
    ) -> Gstr2bRegeneration:
        """The current status of a regeneration, by its reference id (read-only)."""
        current = self._gst.current(_session(session))
        reference = _validate.text(reference_id, "reference_id", max_len=128)
        return await self._status(current, reference)

    async def _status(self, current: GstSession, reference: str) -> Gstr2bRegeneration:
        route = _api.GSTR2B_STATUS_ROUTE
        params = {_api.GSTR2B_QUERY_GSTIN: current.gstin, _api.GSTR2B_QUERY_REFERENCE: reference}
        try:
            data = await self._ctx.api.call(
                "GET", route, self._path(route), headers=current.headers(), params=params
            )
        except GstSessionExpired:
            await self._gst.forget(current.gstin)
            raise
        status = data.get(_api.GSTR2B_STATUS_KEY) if isinstance(data, dict) else None
        if not isinstance(status, str) or not status.strip():
            raise ResponseError(
                f"GSTR-2B regeneration status answer has no {_api.GSTR2B_STATUS_KEY!r}",
                route=route,
                task_id=reference,
            )
        assert isinstance(data, dict)
        code = data.get("err_cd")
        message = data.get("err_msg")
        return Gstr2bRegeneration(
            reference_id=reference,
            status=status.strip(),
            error_code=code if isinstance(code, str) and code else None,
            error_message=message if isinstance(message, str) and message else None,
            details=FrozenMap(data),
        )
