"""Long-running tasks: wait for completion, count pages, fetch them in bounded parallel.

A :class:`Task` is a handle on a server task by id; it does not care which route created it.
What a page decodes to is decided by a :class:`PageCodec`, so the same engine serves IMS
downloads and any later task-creating route.

Waiting polls the status route under a :class:`~flynn_async.PollPolicy` (growing, jittered,
capped delays under one deadline). Pages are fetched with at most ``max_concurrency`` requests
in flight across the whole client, each decoded as soon as it arrives and handed on in page
order; no more than about ``max_concurrency`` pages are fetched ahead of the one being handed
on, so a slow first page does not pile the rest up in memory. The first page that fails for
good cancels the others and raises :class:`~flynn_async.PagesMissing`, which names the task and
the pages not delivered. No asyncio task outlives the call that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Sequence,
)
from typing import Any, Final, Generic, Protocol

import attrs
import msgspec
from typing_extensions import TypeVar

from flynn_async._core._errors import (
    InvalidInput,
    PagesMissing,
    ResponseError,
    TaskFailed,
    TaskTimeout,
)
from flynn_async._core._json import loads
from flynn_async._core._policy import PollPolicy, RandomSource
from flynn_async._http import _api
from flynn_async._http._auth import Api
from flynn_async._http._envelope import unwrap
from flynn_async._http._transport import Decoded

from ._checkpoint import Checkpoint
from ._types import Phase, Progress, TaskState, TaskStatus

log: Final = logging.getLogger("flynn_async.tasks")

P = TypeVar("P")
#: A record of a page (what :meth:`Task.records` yields beside its section name).
R_co = TypeVar("R_co", covariant=True, default=object)
ProgressCallback = Callable[[Progress], None]


class PageCodec(Protocol[P, R_co]):
    """How one kind of task's pages are decoded, merged and walked record by record.

    ``P`` is what a page decodes to (and the merged result); ``R_co`` a record of a page.
    """

    def decode(self, data: Any, *, route: str, task_id: str, page: int) -> P:
        """One page's ``data`` to a typed page (raise ``ResponseError`` if malformed)."""
        ...

    def merge(self, pages: Sequence[P]) -> P:
        """Pages, in order, to one result."""
        ...

    def hold(self, page: P) -> None:
        """Ready a page that will be held (merged into a result) as soon as it is decoded,
        while it is still in the processor's cache (e.g. share its repeated values)."""
        ...

    def records(self, page: P) -> Iterator[tuple[str, R_co]]:
        """A page's records as ``(section, record)`` pairs."""
        ...


class FastPageCodec(PageCodec[P], Protocol[P]):
    """A codec that can also read a whole page body in one typed call."""

    def body_reader(self) -> Callable[[bytes], P | None]:
        """A reader of one task's page bodies: each body to its page, or ``None`` when the
        body needs :meth:`decode` (never raises). It may learn from one page how best to read
        the next (a choice of speed only), so each task has its own."""
        ...


T = TypeVar("T")


async def run_to_end(
    work: Coroutine[Any, Any, T],
    on_cancelled: Callable[[T, BaseException], None] | None = None,
) -> T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile (then re-raise).

    For calls that change state on the server (a submit, a GST session refresh): once on the
    wire their outcome must be seen and recorded, bounded by the request timeout. If the
    caller was cancelled and ``work`` succeeded, ``on_cancelled(result, cancellation)`` is
    called before the ``CancelledError`` goes on (to note a task id on it); repeated
    cancellations while waiting are absorbed into the first one.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError as cancelled:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        if not task.cancelled():
            error = task.exception()  # retrieved: the cancellation goes on, not this error
            if error is None and on_cancelled is not None:
                on_cancelled(task.result(), cancelled)
        raise


async def run_group(start: Callable[[asyncio.TaskGroup], object]) -> None:
    """Run an :class:`asyncio.TaskGroup` whose tasks ``start(group)`` creates, in a task of
    its own (cancelled with the caller, its error raised to the caller).

    On Python 3.11 a group whose task fails while the block waits at its end leaves a
    cancellation request on the task that ran it (``cancelling()`` stays 1 once the error is
    handled). In a task of its own that request ends with it, instead of staying on the
    caller's task, where ``asyncio.run`` or the caller's own timeouts and task groups would
    later take an error or a Ctrl-C for something else.
    """

    async def in_group() -> None:
        async with asyncio.TaskGroup() as group:
            start(group)

    await asyncio.ensure_future(in_group())


#: How many bytes at each end of a page body tell a repeated page (:meth:`Task._not_repeated`).
_EDGE: Final = 4096


@attrs.frozen
class TaskContext:
    """What tasks need from the client: calls, policies, the shared page limiter, time."""

    api: Api
    poll: PollPolicy
    limiter: asyncio.Semaphore
    max_concurrency: int
    page_base: int
    sleep: Callable[[float], Awaitable[None]]
    clock: Callable[[], float]
    rng: RandomSource


def parse_status(data: Any, task_id: str, route: str) -> TaskStatus:
    """Read either status shape: ``{"task": {"id", "status"}}`` or ``{"id", "status", ...}``."""
    body = data.get("task") if isinstance(data, dict) and "task" in data else data
    if not isinstance(body, dict):
        raise ResponseError(f"status answer is not an object: {data!r:.200}", route=route)
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise ResponseError(
            f"status answer has no status text: {body!r:.200}", route=route, task_id=task_id
        )
    answered_id = body.get("id")
    if answered_id is not None and answered_id != task_id:
        raise ResponseError(
            f"status answer is for task {answered_id!r}", route=route, task_id=task_id
        )
    folded = status.strip().lower()
    if folded in _api.TASK_PENDING_STATUSES:
        state = TaskState.PENDING
    elif folded in _api.TASK_COMPLETED_STATUSES:
        state = TaskState.COMPLETED
    else:  # "failed", "error" and anything unknown are terminal
        state = TaskState.FAILED
    return TaskStatus(task_id, status, state, body)


def parse_page_count(data: Any, task_id: str, route: str) -> int:
    """The ``pages`` of a result answer, checked to be a sane whole number."""
    pages = data.get("pages") if isinstance(data, dict) else None
    if isinstance(pages, bool) or not isinstance(pages, int):
        raise ResponseError(
            f"result answer has no whole-number 'pages': {data!r:.200}",
            route=route,
            task_id=task_id,
        )
    if not 0 <= pages <= _api.MAX_PAGE_COUNT:
        raise ResponseError(
            f"result answer has an impossible page count {pages}", route=route, task_id=task_id
        )
    return pages


class Task(Generic[P, R_co]):
    """A handle on one server task. Create it with a route's ``submit`` or ``task(task_id)``.

    ``Task[P, R]``: its pages and merged result are ``P``, its records ``R`` (an IMS download
    task is ``Task[ImsInvoices, ImsEntry]``; ``Task[ImsInvoices]`` leaves ``R`` ``object``).

    The id is a resume token: the server keeps results for 7 days, so a process that stopped
    can re-attach with the id instead of starting a new task (and paying for it again).
    """

    def __init__(
        self,
        ctx: TaskContext,
        task_id: str,
        codec: PageCodec[P, R_co],
        *,
        on_progress: ProgressCallback | None = None,
        label: str | None = None,
        checkpoint: Checkpoint | None = None,
        fresh: bool = False,
    ) -> None:
        self._ctx = ctx
        self._checkpoint = checkpoint
        #: Pages read back from the checkpoint instead of fetched.
        self.pages_from_checkpoint = 0
        self._id = task_id
        self._codec = codec
        #: The codec's typed reader of this task's whole page bodies, if it has one.
        reader = getattr(codec, "body_reader", None)
        self._fast: Callable[[bytes], P | None] | None = None if reader is None else reader()
        self.on_progress = on_progress
        self.label = label
        self._completed: TaskStatus | None = None
        self._fresh = fresh
        self._pages: int | None = None
        self._wait_lock = asyncio.Lock()
        self._seen: TaskState | None = None  # the state last seen, for the INFO log
        self.polls = 0

    @property
    def id(self) -> str:
        """The server's task id."""
        return self._id

    def __repr__(self) -> str:
        label = f" {self.label}" if self.label else ""
        return f"<Task {self._id}{label}>"

    def _label_text(self) -> str:
        return f" ({self.label})" if self.label else ""

    def _report(self, phase: Phase, done: int = 0, total: int | None = None) -> None:
        if self.on_progress is not None:
            self.on_progress(Progress(self._id, phase, done, total, self.polls, self.label))

    # -- status -------------------------------------------------------------------------------

    async def status(self) -> TaskStatus:
        """Ask the server once where the task stands."""
        template = _api.TASK_STATUS_ROUTE
        path = template.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=self._id)
        data = await self._ctx.api.call("GET", template, path, task_id=self._id)
        self.polls += 1
        return parse_status(data, self._id, template)

    async def wait(self) -> TaskStatus:
        """Poll until the task completes; returns its final status.

        Raises :class:`~flynn_async.TaskFailed` for a failed or unknown terminal status and
        :class:`~flynn_async.TaskTimeout` when the policy's deadline passes; both carry the task
        id. Cancelling the wait does not cancel the server's task.
        """
        if self._completed is not None:
            return self._completed
        async with self._wait_lock:
            if self._completed is not None:
                return self._completed
            return await self._poll()

    async def _poll(self) -> TaskStatus:
        ctx = self._ctx
        policy = ctx.poll
        started = ctx.clock()
        delays = policy.delays(ctx.rng)
        last = False  # the sleep just made was clipped to the time left: this was the last call
        if self._fresh:
            # A task just submitted is certainly still processing: asking at once would
            # only cost a status call. A re-attached task may be done already: ask at once.
            self._fresh = False
            await ctx.sleep(next(delays))
        while True:
            status = await self.status()
            self._report("waiting")
            if status.state is not self._seen:
                self._seen = status.state
                log.info(
                    "task %s%s is %s (%r) after %d status call%s",
                    self._id,
                    self._label_text(),
                    status.state.value,
                    status.status,
                    self.polls,
                    "" if self.polls == 1 else "s",
                )
            if status.state is TaskState.COMPLETED:
                self._completed = status
                return status
            if status.state is TaskState.FAILED:
                raise TaskFailed(
                    f"the task ended with status {status.status!r}",
                    status=status.status,
                    route=_api.TASK_STATUS_ROUTE,
                    task_id=self._id,
                )
            delay = next(delays)
            if policy.deadline is not None:
                left = policy.deadline - (ctx.clock() - started)
                if left <= 0 or last:  # not the clock alone: it may move in coarse ticks
                    log.info(
                        "task %s%s timed out: still %r after %gs",
                        self._id,
                        self._label_text(),
                        status.status,
                        policy.deadline,
                    )
                    raise TaskTimeout(
                        f"the task was still {status.status!r} after {policy.deadline:g}s; "
                        "it may still finish: resume it later by its id",
                        route=_api.TASK_STATUS_ROUTE,
                        task_id=self._id,
                    )
                last = delay >= left
                delay = min(delay, left)
            await ctx.sleep(delay)

    # -- pages --------------------------------------------------------------------------------

    async def page_count(self) -> int:
        """The number of result pages (waits for completion first)."""
        if self._pages is None:
            await self.wait()
            template = _api.TASK_RESULT_ROUTE
            path = template.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=self._id)
            data = await self._ctx.api.call("GET", template, path, task_id=self._id)
            count = parse_page_count(data, self._id, template)
            if self._checkpoint is not None:
                await self._checkpoint.set_page_count(count)
            self._pages = count
        return self._pages

    async def page(self, index: int) -> P:
        """Fetch and decode one page by index (0 is the first page, whatever the API's base)."""
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise InvalidInput(f"page index must be a whole number from 0, got {index!r}")
        count = await self.page_count()
        if index >= count:
            raise InvalidInput(f"page index must be 0 to {count - 1}, got {index}")
        return await self._fetch(index)

    async def _fetch(
        self,
        index: int,
        *,
        hold: bool = False,
        seen: dict[tuple[int, int, int], int] | None = None,
    ) -> P:
        ctx = self._ctx
        number = ctx.page_base + index
        template = _api.TASK_PAGE_ROUTE
        checkpoint = self._checkpoint
        if checkpoint is not None:
            stored = await checkpoint.read(index)
            if stored is not None:
                self.pages_from_checkpoint += 1
                kept = self._decode_stored(stored, template, number)
                self._not_repeated(seen, index, stored, kept)
                if hold:
                    self._codec.hold(kept)
                return kept
        path = template.format(flynn=_api.TASKS_FLYNN_VERSION, task_id=self._id, page=number)
        data, body = await ctx.api.call(
            "GET",
            template,
            path,
            task_id=self._id,
            page=number,
            limiter=ctx.limiter,
            raw=True,
            # the result route promised this page: a 404 for it is the result store
            # catching up, retried like any fault, then given up
            retry_not_found=True,
            fast=self._fast,
        )
        if type(data) is Decoded:
            page: P = data.value
        else:
            page = self._codec.decode(data, route=template, task_id=self._id, page=number)
        self._not_repeated(seen, index, body, page)
        if hold:
            self._codec.hold(page)
        if checkpoint is not None:  # only a page that decoded (and is no repeat) is kept
            await checkpoint.write(index, body)
        return page

    def _not_repeated(
        self, seen: dict[tuple[int, int, int], int] | None, index: int, body: bytes, page: P
    ) -> None:
        """Refuse a page with records that is an earlier page of this pass again: the server
        repeating a page (a page number it ignores), whose records would otherwise be counted
        twice. ``seen`` maps each body's length and the hashes of its first and last
        :data:`_EDGE` bytes (its first and last few records: hashing whole bodies would cost
        about 2 % of a download) to its page's index."""
        if seen is None:
            return
        key = (len(body), hash(body[:_EDGE]), hash(body[-_EDGE:]))
        first = seen.setdefault(key, index)
        if first != index and next(iter(self._codec.records(page)), None) is not None:
            base = self._ctx.page_base
            raise ResponseError(
                f"page {base + index} is page {base + first} again (the same length, the same "
                "first and last records): the server repeated a page, whose records would be "
                "counted twice",
                route=_api.TASK_PAGE_ROUTE,
                task_id=self._id,
                page=base + index,
            )

    def _decode_stored(self, body: bytes, route: str, number: int) -> P:
        where: dict[str, Any] = {"route": route, "task_id": self._id, "page": number}
        if self._fast is not None:
            page = self._fast(body)
            if page is not None:
                return page
        try:
            document = loads(body)
        except msgspec.DecodeError as exc:  # pragma: no cover - the digest was checked
            raise ResponseError(f"checkpointed page is not JSON: {exc}", **where) from None
        data = unwrap(document, http_status=200, **where)
        return self._codec.decode(data, **where)

    async def _iter_pages(self, window: int, *, hold: bool = False) -> AsyncGenerator[P, None]:
        count = await self.page_count()
        log.info("task %s%s: fetching %d pages", self._id, self._label_text(), count)
        self._report("fetching", 0, count)
        pending: dict[int, asyncio.Task[P]] = {}
        seen: dict[tuple[int, int, int], int] = {}  # a page body's ends: its index
        started = 0
        try:
            for index in range(count):
                while started < count and started <= index + window:
                    fetch = self._fetch(started, hold=hold, seen=seen)
                    pending[started] = asyncio.create_task(fetch)
                    started += 1
                current = pending[index]
                while not current.done():
                    await asyncio.wait(pending.values(), return_when=asyncio.FIRST_COMPLETED)
                    for failed_index, other in sorted(pending.items()):
                        if other.done() and not other.cancelled() and other.exception():
                            self._raise_missing(failed_index, index, count, other)
                    del other  # a page handed on later must not be held alive from here
                if current.exception() is not None:
                    self._raise_missing(index, index, count, current)
                page = current.result()
                del pending[index]
                self._report("fetching", index + 1, count)
                yield page
            log.info("task %s%s: all %d pages fetched", self._id, self._label_text(), count)
            self._report("done", count, count)
        finally:
            for other in pending.values():
                other.cancel()
            if pending:
                await asyncio.gather(*pending.values(), return_exceptions=True)

    def _raise_missing(
        self, failed_index: int, next_index: int, count: int, failed: asyncio.Task[P]
    ) -> None:
        base = self._ctx.page_base
        cause = failed.exception()
        missing = [base + i for i in range(next_index, count)]
        raise PagesMissing(
            f"page {base + failed_index} could not be fetched ({cause}); "
            f"{len(missing)} of {count} pages not delivered; resume with the task id",
            missing=missing,
            route=_api.TASK_PAGE_ROUTE,
            task_id=self._id,
            page=base + failed_index,
        ) from cause

    def pages(self) -> AsyncGenerator[P, None]:
        """Every page, decoded, in page order (waits for completion first).

        At most about ``max_concurrency`` pages are fetched ahead of the one being handed on,
        so memory stays flat whatever the page count. Close the iterator when leaving early
        (``contextlib.aclosing``) to stop outstanding fetches at once.
        """
        return self._iter_pages(self._ctx.max_concurrency)

    async def records(self) -> AsyncIterator[tuple[str, R_co]]:
        """Every record as ``(section, record)``, page by page, streaming like :meth:`pages`."""
        pages = self._iter_pages(self._ctx.max_concurrency)
        try:
            async for page in pages:
                for item in self._codec.records(page):
                    yield item
        finally:
            await pages.aclose()

    async def result(self) -> P:
        """Wait, fetch every page, and merge them into one result."""
        window = 4 * self._ctx.max_concurrency
        pages = self._iter_pages(window, hold=True)
        try:
            collected = [page async for page in pages]
        finally:
            await pages.aclose()
        return self._codec.merge(collected)


__all__ = [
    "FastPageCodec",
    "PageCodec",
    "ProgressCallback",
    "Task",
    "TaskContext",
    "parse_status",
    "run_group",
    "run_to_end",
]
