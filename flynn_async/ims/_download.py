"""IMS invoice downloads: submit a task per section, wait, fetch every page, merge.

``submit`` starts a server task (it is never repeated blindly: the route takes no idempotency
key); ``task`` re-attaches to one by id; ``download`` does the whole pipeline for a section.
``download_sections`` is the one orchestration of several sections (a task each, submitted or
resumed by a known id, merged into one typed result); ``download_all``, the batch runner
(``flynn_async.batch``, on top of this module) and the CLI's ``ims download`` all run it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from flynn_async._core import _validate
from flynn_async._core._errors import (
    GstSessionExpired,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    RequestTimeout,
    ResponseError,
    TaskFailed,
    first_error,
    note_task_ids,
)
from flynn_async._http import _api
from flynn_async._tasks._checkpoint import Checkpoint
from flynn_async._tasks._task import ProgressCallback, Task, TaskContext, run_group, run_to_end
from flynn_async.gst._gst import GstApi
from flynn_async.gst._session import GstSession
from flynn_async.gst._taxpayer_locks import TaxpayerLocks

from ._decoding import (
    PageReader,
    combine_sections,
    hold_invoices,
    merge_invoices,
    structure_invoices,
)
from ._models import ImsEntry, ImsInvoices, ImsSection, ImsStatus, parse_sections

if TYPE_CHECKING:  # the counts and actions load on first use (import time)
    from ._actions import (
        ActionSubmittedCallback,
        ImsActionResult,
        ImsActions,
        ImsDecision,
        ImsRequestStatus,
    )
    from ._counts import ImsCounts

log: Final = logging.getLogger("flynn_async.ims")

ALL_SECTIONS: Final = tuple(ImsSection)

#: ``on_submitted(section, task_id)``: called as soon as a billed task exists; an awaitable it
#: returns is awaited before the task is polled (see :meth:`ImsApi.download_sections`).
SubmittedCallback = Callable[[ImsSection, str], object]


class ImsCodec:
    """IMS result pages: section lists to :class:`~flynn_async.ims.ImsInvoices`."""

    def decode(self, data: Any, *, route: str, task_id: str, page: int) -> ImsInvoices:
        """Structure one page's ``data``."""
        return structure_invoices(data, route=route, task_id=task_id, page=page)

    def body_reader(self) -> PageReader:
        """A reader of one task's whole page bodies in one typed call each (``None`` for a
        page that needs :meth:`decode`)."""
        return PageReader()

    def merge(self, pages: Sequence[ImsInvoices]) -> ImsInvoices:
        """Concatenate the pages in order."""
        return merge_invoices(pages) if pages else ImsInvoices()

    def hold(self, page: ImsInvoices) -> None:
        """Share the repeated values of a page that will be held, as it is decoded."""
        hold_invoices(page)

    def records(self, page: ImsInvoices) -> Iterator[tuple[str, ImsEntry]]:
        """The page's ``(section, record)`` pairs."""
        return page.records()


_CODEC: Final = ImsCodec()


class _StatusCodec(ImsCodec):
    """The pages of a download with a ``status`` filter: every record that carries an action
    carries that one; one that does not is the server breaking the filter (``ResponseError``
    naming the route, task and page), never handed on as if it matched."""

    def __init__(self, status: ImsStatus) -> None:
        self._status = status

    def _stray(self, page: ImsInvoices) -> tuple[str, Any] | None:
        for section, record in page.records():
            action = record.get("action") if isinstance(record, Mapping) else record.action
            if action is not None and action != self._status:
                return section, action
        return None

    def decode(self, data: Any, *, route: str, task_id: str, page: int) -> ImsInvoices:
        decoded = super().decode(data, route=route, task_id=task_id, page=page)
        stray = self._stray(decoded)
        if stray is not None:
            section, action = stray
            raise ResponseError(
                f"a {section} record on the page has action {str(action)!r:.20}, but the download "
                f"asked for status {self._status.value!r} only",
                route=route,
                task_id=task_id,
                page=page,
            )
        return decoded

    def body_reader(self) -> PageReader:
        return _CheckedReader(self)


class _CheckedReader(PageReader):
    """A task's page reader that leaves a page with a record off the status filter to
    :meth:`_StatusCodec.decode`, which names the route, task and page."""

    __slots__ = ("_codec",)

    def __init__(self, codec: _StatusCodec) -> None:
        super().__init__()
        self._codec = codec

    def __call__(self, body: bytes) -> ImsInvoices | None:
        decoded = super().__call__(body)
        if decoded is not None and self._codec._stray(decoded) is not None:
            return None
        return decoded


def _codec_for(status: ImsStatus | None) -> ImsCodec:
    """The codec of a download's pages: with a status filter, one that checks it."""
    return _CODEC if status is None else _StatusCodec(status)


class ImsApi:
    """IMS calls; reach it as ``client.ims``."""

    def __init__(
        self,
        ctx: TaskContext,
        gst: GstApi,
        ims_api_version: str = _api.DEFAULT_IMS_API_VERSION,
        locks: TaxpayerLocks | None = None,
    ) -> None:
        self._ctx = ctx
        self._gst = gst
        self._ims_api_version = ims_api_version
        self._locks = locks
        self._actions_api: ImsActions | None = None

    @property
    def _actions(self) -> ImsActions:
        """The counts and actions, loaded and made on first use (``import flynn_async`` does
        not pay for them)."""
        actions = self._actions_api
        if actions is None:
            from ._actions import ImsActions

            actions = ImsActions(self._ctx, self._gst, self._ims_api_version, self._locks)
            self._actions_api = actions
        return actions

    # -- counts and actions (see _ims_actions and docs/actions.md) ----------------------------

    async def counts(
        self, session: GstSession, *, goods_types: Iterable[str] | str = ("ALL_OTH",)
    ) -> ImsCounts:
        """How many records each section holds, by action (one read-only call per goods type).

        A snapshot: a supplier may add records before a download runs. Only ``ALL_OTH`` is a
        documented goods type (``INV_SUPP_ISD`` and ``IMP_GDS`` are unconfirmed).
        """
        return await self._actions.counts(session, goods_types_=goods_types)

    async def save(
        self,
        session: GstSession,
        decisions: Iterable[ImsDecision],
        *,
        on_submitted: ActionSubmittedCallback | None = None,
        max_body_bytes: int = _api.IMS_MAX_BODY_BYTES,
    ) -> ImsActionResult:
        """Save accept/reject/pending decisions; wait for each request's status.

        Every decision is checked against the IMS rules first: any problem raises
        :class:`~flynn_async.InvalidDecisions` (listing them all) and nothing is sent.
        Decisions that already match their record are not sent (``result.unchanged``).
        Bodies over ``max_body_bytes`` (4 MB) are split and sent one after another, one
        save or reset per taxpayer at a time. Billed and state-changing: never repeated
        blindly, run to its answer when cancelled; each reference id goes to
        ``on_submitted("save", reference_id)`` and the log as soon as it exists, and onto any
        later error (``reference_ids`` and notes). A lost answer raises
        :class:`~flynn_async.ImsOutcomeUnknown`.
        """
        return await self._actions.act(
            "save", session, decisions, on_submitted=on_submitted, max_body_bytes=max_body_bytes
        )

    async def reset(
        self,
        session: GstSession,
        decisions: Iterable[ImsDecision],
        *,
        on_submitted: ActionSubmittedCallback | None = None,
        max_body_bytes: int = _api.IMS_MAX_BODY_BYTES,
    ) -> ImsActionResult:
        """Reset records back to no action (decisions with action ``N``), as :meth:`save`.

        The reset route answers a task id: it goes to ``on_submitted("reset", task_id)``.
        """
        return await self._actions.act(
            "reset", session, decisions, on_submitted=on_submitted, max_body_bytes=max_body_bytes
        )

    async def download_imports(
        self,
        session: GstSession,
        *,
        sections: Iterable[str] | str = _api.IMS_IMPORT_SECTIONS,
        status: ImsStatus | str | None = None,
    ) -> ImsInvoices:
        """Download import sections (``IMPG``, ``IMPGA``, ``IMPGSEZ``, ``IMPGSEZA``) by name.

        Never part of a default download: whether the route takes them is unconfirmed. Their
        records come as typed :class:`~flynn_async.ims.ImsImport` values in
        ``other_sections`` and can be decided on (Accept or Pending only).
        """
        from ._imports import download_imports

        return await download_imports(self._ctx, self._gst, session, sections, status)

    async def request_status(self, session: GstSession, reference_id: str) -> ImsRequestStatus:
        """Follow a save up by its reference id (from any process), polling to its end.

        At the poll policy's deadline a :class:`~flynn_async.TaskTimeout` carries the id.
        """
        return await self._actions.request_status(session, reference_id)

    async def reset_status(self, session: GstSession, task_id: str) -> ImsRequestStatus:
        """Follow a reset up by its task id (from any process), polling to its end."""
        return await self._actions.reset_status(session, task_id)

    async def submit(
        self,
        session: GstSession,
        *,
        section: ImsSection | str,
        status: ImsStatus | str | None = None,
        on_progress: ProgressCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        on_submitted: SubmittedCallback | None = None,
    ) -> Task[ImsInvoices, ImsEntry]:
        """Start a download task for one section (and optionally one action status).

        Returns the :class:`~flynn_async.Task`; keep its ``id`` to resume later. The call is
        made once: it starts a billable server task, so it is never retried automatically.
        With ``checkpoint_dir``, pages are written there as they arrive (see :meth:`resume`).

        Once sent, the call runs to its answer even if the caller is cancelled (bounded by the
        request timeout), and the task id is handed over at once: ``on_submitted(section,
        task_id)`` is called before anything else is awaited, an INFO line is logged, and a
        ``CancelledError`` that follows carries the id in a note and in ``task_ids``. An
        awaitable ``on_submitted`` returns is awaited before the task is handed back, to its
        end even if cancelled (see :meth:`download_sections`).
        """
        chosen = ImsSection.parse(section)
        wanted = None if status is None else ImsStatus.parse(status)
        if not isinstance(session, GstSession):
            raise InvalidInput("session must be a GstSession (from verify_otp)")
        _validate.gstin(session.gstin, name="session.gstin")
        _check_callback(on_submitted)
        _check_checkpoint_dir(checkpoint_dir)
        current = self._gst.current(session)
        params = {"section": chosen.value}
        if wanted is not None:
            params["status"] = wanted.value
        task_id = await run_to_end(
            self._start(current, chosen, params, on_submitted),
            lambda task_id, cancelled: note_task_ids(cancelled, {chosen.value: task_id}),
        )
        task = self._attach(
            task_id,
            on_progress,
            chosen.key,
            checkpoint_dir=checkpoint_dir,
            fresh=True,
            codec=_codec_for(wanted),
        )
        try:
            task._report("submitted")
        except BaseException as exc:  # the caller's callback: the billed task exists
            note_task_ids(exc, {chosen.value: task_id})
            raise
        return task

    async def _start(
        self,
        current: GstSession,
        section: ImsSection,
        params: dict[str, str],
        on_submitted: SubmittedCallback | None,
    ) -> str:
        """Send the submit and hand its task id over (run to its end even if cancelled)."""
        template = _api.IMS_ROUTE
        path = template.format(flynn=_api.IMS_FLYNN_VERSION)
        try:
            data = await self._ctx.api.call(
                "GET", template, path, headers=current.headers(), params=params
            )
        except GstSessionExpired:
            await self._gst.forget(current.gstin)  # the stored session is no use any more
            raise
        except (OutcomeUnknown, RequestTimeout, ResponseError) as exc:
            if exc.route != template:
                raise  # the token's renewal failed before the submit was sent
            # No usable answer (a lost connection, a timeout, a 2xx that is not the API's JSON,
            # a gateway's 5xx page): the server may have started, and billed, a task.
            raise _unknown_submit(section, exc.message_text, template) from exc
        task_id = data.get(_api.TASK_ID_KEY) if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise _unknown_submit(section, f"the answer has no {_api.TASK_ID_KEY!r}", template)
        _check_task_id(task_id, template)
        handed: object = None
        if on_submitted is not None:
            try:
                handed = on_submitted(section, task_id)
            except Exception:  # the task exists either way: its id is logged just below
                log.exception("the on_submitted callback failed for task %s", task_id)
        log.info("IMS %s task %s started for %s", section.value, task_id, current.gstin)
        if inspect.isawaitable(handed):  # e.g. storing the id durably: before the task goes on
            try:
                await handed
            except BaseException as exc:
                note_task_ids(exc, {section.value: task_id})
                raise
        return task_id

    def task(
        self,
        task_id: str,
        *,
        on_progress: ProgressCallback | None = None,
        label: str | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
    ) -> Task[ImsInvoices, ImsEntry]:
        """Re-attach to an existing IMS task by id (no new task is started).

        Results are kept 7 days after the task was created. With ``checkpoint_dir``, pages
        already stored there for this task are read back instead of fetched, and fetched
        pages are stored.
        """
        return self._attach(task_id, on_progress, label, checkpoint_dir=checkpoint_dir)

    def _attach(
        self,
        task_id: str,
        on_progress: ProgressCallback | None,
        label: str | None,
        *,
        checkpoint_dir: str | os.PathLike[str] | None,
        fresh: bool = False,
        codec: ImsCodec = _CODEC,
    ) -> Task[ImsInvoices, ImsEntry]:
        task_id = _validate.task_id(task_id)
        return Task(
            self._ctx,
            task_id,
            codec,
            on_progress=on_progress,
            label=label,
            checkpoint=None if checkpoint_dir is None else Checkpoint(checkpoint_dir, task_id),
            fresh=fresh,
        )

    async def resume(
        self,
        session: GstSession,
        task_id: str,
        *,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> ImsInvoices:
        """Finish a download that stopped part way, without submitting a new task.

        Waits for the task if it is still processing, then fetches only the pages that the
        checkpoint (if given) does not already hold intact, and returns the merged result.
        ``session`` names the taxpayer the task was started for; it is checked like any input
        (the task routes themselves need only the login).
        """
        if not isinstance(session, GstSession):
            raise InvalidInput("session must be a GstSession (from verify_otp)")
        _validate.gstin(session.gstin, name="session.gstin")
        task = self.task(task_id, on_progress=on_progress, checkpoint_dir=checkpoint_dir)
        return await task.result()

    async def download(
        self,
        session: GstSession,
        *,
        section: ImsSection | str,
        status: ImsStatus | str | None = None,
        on_progress: ProgressCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        on_submitted: SubmittedCallback | None = None,
    ) -> ImsInvoices:
        """Submit, wait, fetch every page and return the merged, typed records.

        Any error raised after submission (``CancelledError`` too) carries the task id, in
        ``task_ids`` and a note: pass it to :meth:`resume`. ``on_submitted(section, task_id)``
        is called as soon as the task exists (see :meth:`submit`).
        """
        task = await self.submit(
            session,
            section=section,
            status=status,
            on_progress=on_progress,
            checkpoint_dir=checkpoint_dir,
            on_submitted=on_submitted,
        )
        try:
            result = await task.result()
        except BaseException as exc:
            note_task_ids(exc, {ImsSection.parse(section).value: task.id})
            raise
        return result.for_recipient(session.gstin)

    async def download_all(
        self,
        session: GstSession,
        *,
        sections: Iterable[ImsSection | str] | ImsSection | str = ALL_SECTIONS,
        status: ImsStatus | str | None = None,
        on_progress: ProgressCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        on_submitted: SubmittedCallback | None = None,
        skip_empty: bool = False,
    ) -> ImsInvoices:
        """Download several sections at once (one task each) and merge them.

        :meth:`download_sections` without tasks to resume: with ``skip_empty=True`` the counts
        are asked first (one read-only call) and no task is started for a section whose count
        (for ``status``, if given) is zero: such a section is present and empty in the result.
        Counts are a snapshot: a record a supplier adds between the counts and the download is
        missed by a skipped section.

        Each section is taken from its own task. If a task's pages also carry another
        requested section, those records must equal the ones from that section's own task, or
        :class:`~flynn_async.SectionMismatch` is raised; sections nobody asked for, and sections
        the models don't know, are kept once (all tasks carrying them must agree). If a task
        fails, the others are cancelled and the first error is raised (its own cause kept), with
        every task id submitted so far noted on it (``task_ids`` and notes) so the work can be
        resumed; a ``CancelledError`` carries them too. ``on_submitted(section, task_id)`` is
        called as soon as each task exists (see :meth:`submit`).
        """
        return await self.download_sections(
            session,
            sections=sections,
            status=status,
            on_progress=on_progress,
            checkpoint_dir=checkpoint_dir,
            on_submitted=on_submitted,
            skip_empty=skip_empty,
        )

    async def download_sections(
        self,
        session: GstSession | Callable[[], Awaitable[GstSession]],
        *,
        sections: Iterable[ImsSection | str] | ImsSection | str = ALL_SECTIONS,
        status: ImsStatus | str | None = None,
        resume: Mapping[ImsSection, str] | Mapping[str, str] | None = None,
        replace_lost: bool = False,
        on_progress: ProgressCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        on_submitted: SubmittedCallback | None = None,
        skip_empty: bool = False,
    ) -> ImsInvoices:
        """Download several sections for one taxpayer, a task each, resuming known tasks.

        The one download orchestration (``download_all``, ``download_many`` and the CLI's
        ``ims download`` all run it). For each section in ``sections``: re-attach to its task
        in ``resume`` (section to task id, from an earlier run: nothing is submitted, nothing
        paid again), else submit a new task (billed; see :meth:`submit`); then wait, fetch
        every page (bounded by ``max_concurrency``, read back from ``checkpoint_dir`` where
        kept) and merge the sections, each from its own task, checked as in
        :meth:`download_all`.

        - ``on_submitted(section, task_id)`` hears of each new task before anything else is
          awaited, and an INFO line logs it. If it returns an awaitable (an ``async def``),
          that is awaited before the task is polled, to its end even if the download is
          cancelled meanwhile (to store the id somewhere durable); an error it raises fails the
          download (the task id on it). An error the call itself raises is logged, not raised.
        - Any error, ``CancelledError`` too, carries every task id this download holds
          (resumed and submitted) in ``task_ids`` and notes: pass them back as ``resume``.
        - ``replace_lost=True``: a resumed task the server reports failed, or does not know
          (404), is replaced by a new task (reported to ``on_submitted``) instead of raising
          :class:`~flynn_async.TaskFailed` or :class:`~flynn_async.NotFound`.
        - ``skip_empty=True``: the counts are asked first (one read-only call, unless every
          section is resumed) and no task is started for a section counted empty for
          ``status``; it is present and empty in the result.
        - ``session`` is the :class:`~flynn_async.GstSession`, or an async function that gives
          it, called once, when a submit or the counts first need it: a download whose tasks
          are all resumed needs no live session. The result knows its recipient GSTIN (for
          ``decide``) when a session was given or needed.

        Everything is checked before any request (:class:`~flynn_async.InvalidInput`).
        """
        chosen = parse_sections(sections)
        wanted = None if status is None else ImsStatus.parse(status)
        _check_session(session)
        _check_callback(on_submitted)
        _check_checkpoint_dir(checkpoint_dir)
        resumed = _check_resume(resume, chosen)
        for name, flag in (("skip_empty", skip_empty), ("replace_lost", replace_lost)):
            if not isinstance(flag, bool):
                raise InvalidInput(f"{name} must be True or False")
        download = _SectionsDownload(
            self,
            session,
            chosen,
            wanted,
            resumed,
            replace_lost=replace_lost,
            on_progress=on_progress,
            checkpoint_dir=checkpoint_dir,
            on_submitted=on_submitted,
        )
        return await download.run(skip_empty=skip_empty)


class _SectionsDownload:
    """One run of :meth:`ImsApi.download_sections`: a task per section, then one result."""

    def __init__(
        self,
        ims: ImsApi,
        session: GstSession | Callable[[], Awaitable[GstSession]],
        sections: Sequence[ImsSection],
        status: ImsStatus | None,
        resume: Mapping[ImsSection, str],
        *,
        replace_lost: bool,
        on_progress: ProgressCallback | None,
        checkpoint_dir: str | os.PathLike[str] | None,
        on_submitted: SubmittedCallback | None,
    ) -> None:
        self._ims = ims
        self._given = session
        self._session: GstSession | None = session if isinstance(session, GstSession) else None
        self._session_lock = asyncio.Lock()
        self._sections = sections
        self._status = status
        self._resume = resume
        self._replace_lost = replace_lost
        self._on_progress = on_progress
        self._checkpoint_dir = checkpoint_dir
        self._on_submitted = on_submitted
        #: every task id this download holds, by section value, as soon as it exists
        self._held = {s.value: t for s, t in resume.items()}
        self._results: dict[ImsSection, ImsInvoices] = {}
        self._delivered: dict[ImsSection, str] = {}  # the task each section's records are from

    async def run(self, *, skip_empty: bool) -> ImsInvoices:
        try:
            skipped = await self._counted_empty() if skip_empty else ()
            await run_group(
                lambda group: [
                    group.create_task(self._one(s)) for s in self._sections if s not in skipped
                ]
            )
        except BaseExceptionGroup as group_error:
            first = first_error(group_error)
            note_task_ids(first, self._held)
            raise first from first.__cause__
        except BaseException as exc:  # cancelled: hand the billed task ids over all the same
            note_task_ids(exc, self._held)
            raise
        ids = {s: self._delivered.get(s, "(none: counted empty)") for s in self._sections}
        merged = combine_sections({s: self._results[s] for s in self._sections}, ids)
        session = self._session
        return merged if session is None else merged.for_recipient(session.gstin)

    async def _gst_session(self) -> GstSession:
        """The session given, or the one the given function gives (asked once, when needed)."""
        async with self._session_lock:
            if self._session is None:
                given = self._given
                session = given if isinstance(given, GstSession) else await given()
                if not isinstance(session, GstSession):
                    raise InvalidInput("session must be a GstSession (from verify_otp)")
                _validate.gstin(session.gstin, name="session.gstin")
                self._session = session
            return self._session

    async def _counted_empty(self) -> tuple[ImsSection, ...]:
        """``skip_empty``: sections to submit that are counted empty (one read-only call)."""
        to_submit = [s for s in self._sections if s not in self._resume]
        if not to_submit:
            return ()
        session = await self._gst_session()
        counts = await self._ims.counts(session)
        # Only a section the counts show, in a group whose total its sections add up to, is
        # known to be empty: one left out (or a group that does not add up) is downloaded.
        shown = {
            key: section
            for group, sections in counts.groups.items()
            if counts.group_totals.get(group) in (None, sum(c.total for c in sections.values()))
            for key, section in sections.items()
        }
        skipped = tuple(
            s for s in to_submit if s.key in shown and not shown[s.key].with_status(self._status)
        )
        for section in skipped:
            log.info("IMS %s: no records counted for %s, no task", section.value, session.gstin)
            self._results[section] = ImsInvoices(present=frozenset({section.key}))
        return skipped

    async def _one(self, section: ImsSection) -> None:
        task_id = self._resume.get(section)
        task = None if task_id is None else await self._resumed(section, task_id)
        if task is None:
            task = await self._ims.submit(
                await self._gst_session(),
                section=section,
                status=self._status,
                on_progress=self._on_progress,
                checkpoint_dir=self._checkpoint_dir,
                on_submitted=self._submitted,
            )
        self._results[section] = await task.result()
        self._delivered[section] = task.id

    async def _resumed(
        self, section: ImsSection, task_id: str
    ) -> Task[ImsInvoices, ImsEntry] | None:
        """The known task of ``section``; ``None`` if it is lost and may be replaced."""
        task = self._ims._attach(  # with the status filter's check, as a new task's
            task_id,
            self._on_progress,
            section.key,
            checkpoint_dir=self._checkpoint_dir,
            codec=_codec_for(self._status),
        )
        if not self._replace_lost:
            return task
        try:
            await task.wait()
        except (TaskFailed, NotFound) as exc:
            log.info(
                "IMS %s task %s cannot deliver (%s); submitting a new one",
                section.value,
                task_id,
                type(exc).__name__,
            )
            del self._held[section.value]
            return None
        return task

    def _submitted(self, section: ImsSection, task_id: str) -> object:
        self._held[section.value] = task_id
        return None if self._on_submitted is None else self._on_submitted(section, task_id)


def _check_session(session: object) -> None:
    """A GST session (its GSTIN checked at once), or an async function giving one."""
    if isinstance(session, GstSession):
        _validate.gstin(session.gstin, name="session.gstin")
    elif not callable(session):
        raise InvalidInput(
            "session must be a GstSession (from verify_otp) or an async function giving one"
        )


def _check_resume(
    resume: Mapping[ImsSection, str] | Mapping[str, str] | None, sections: Sequence[ImsSection]
) -> dict[ImsSection, str]:
    """``resume``: a task id for some of the sections being downloaded."""
    if resume is None:
        return {}
    if not isinstance(resume, Mapping):
        raise InvalidInput(f"resume must map sections to task ids, not {type(resume).__name__}")
    checked: dict[ImsSection, str] = {}
    for name, task_id in resume.items():
        section = ImsSection.parse(name)
        if section not in sections:
            raise InvalidInput(f"resume names {section.value}, a section not being downloaded")
        if section in checked:
            raise InvalidInput(f"resume names {section.value} twice")
        checked[section] = _validate.task_id(task_id)
    return checked


def _check_checkpoint_dir(directory: object) -> None:
    """``checkpoint_dir``: ``None``, or a path that is, or can become, a directory (checked
    before the submit, which is billed: a file in the way would fail at the first page)."""
    if directory is None:
        return
    if not isinstance(directory, str | os.PathLike):
        raise InvalidInput(f"checkpoint_dir must be a path, not {type(directory).__name__}")
    path = Path(os.fspath(directory))
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise InvalidInput(f"checkpoint_dir {str(path)!r}: {str(place)!r} is a file")
            return


def _check_callback(callback: object) -> None:
    if callback is not None and not callable(callback):
        raise InvalidInput("on_submitted must be callable (given the section and the task id)")


def _unknown_submit(section: ImsSection, why: str, route: str) -> OutcomeUnknown:
    """The error of a submit sent once whose answer gave no task id."""
    return OutcomeUnknown(
        f"the IMS {section.value} submit was sent but no usable answer came ({why}): a task "
        "may have started, and been billed, with an id that is lost; it was not sent again. "
        "Check the server's state (or wait for its results to age out) before submitting again",
        route=route,
    )


def _check_task_id(task_id: str, route: str) -> None:
    try:
        _validate.task_id(task_id)
    except InvalidInput:
        raise ResponseError(
            f"submit answer has an unusable task id {task_id!r:.80}", route=route
        ) from None
