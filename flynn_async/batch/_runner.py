"""The batch runner behind :meth:`~flynn_async.batch.BatchImsApi.download_many`: jobs,
results, progress, the manifest on disk, and the run itself (the package's docstring has the
batch rules and the manifest layout).

Imported when a batch name is first asked for or a batch first runs, not with the package:
the client only needs :class:`~flynn_async.batch.BatchImsApi`.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import hashlib
import inspect
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs
import msgspec

from flynn_async._core import _validate
from flynn_async._core._errors import (
    BatchError,
    FlynnError,
    GstSessionExpired,
    GstSessionMissing,
    InvalidInput,
    ManifestError,
    SectionMismatch,
    TaskFailed,
    first_error,
    note_task_ids,
)
from flynn_async._core._files import ensure_private_dir, write_atomic
from flynn_async._core._json import dumps, loads
from flynn_async._core._locks import FileLock
from flynn_async._core._values import FrozenMap
from flynn_async._http import _api
from flynn_async._tasks._checkpoint import Checkpoint
from flynn_async._tasks._task import run_group
from flynn_async._tasks._types import Progress
from flynn_async.gst._gst import GstApi
from flynn_async.gst._session import GstSession
from flynn_async.ims._decoding import structure_invoices
from flynn_async.ims._download import ImsApi, SubmittedCallback
from flynn_async.ims._models import ImsInvoices, ImsSection, ImsStatus, parse_sections

__all__ = [
    "BatchProgress",
    "BatchResult",
    "DownloadJob",
    "JobResult",
    "JobState",
]

log: Final = logging.getLogger("flynn_async.batch")
_T = TypeVar("_T")

#: Version of the manifest format.
MANIFEST_FORMAT: Final = 1
_MANIFEST_KIND: Final = "flynn-async batch manifest"
_MANIFEST_NAME: Final = "manifest.json"
_KEY_MAX: Final = 200
_ALL: Final = "ALL"
# patterns compiled by re on first use (a batch), not on import
_UNSAFE: Final = r"[^0-9A-Za-z._-]+"
_SHA256: Final = r"[0-9a-f]{64}"


# ----------------------------------------------------------------------------------------------
# Jobs
# ----------------------------------------------------------------------------------------------


def _check_taxpayer(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, GstSession):
        _validate.gstin(value.gstin, name="session.gstin")
    elif isinstance(value, str):
        _validate.gstin(value)
    else:
        raise InvalidInput(
            f"a job's taxpayer must be a GstSession or a GSTIN, not {type(value).__name__}"
        )


def _parse_sections(value: object) -> tuple[ImsSection, ...]:
    chosen = parse_sections(value)
    return tuple(s for s in ImsSection if s in chosen)  # one order, whatever order was given


def _optional_sections(
    value: Iterable[ImsSection | str] | ImsSection | str | None,
) -> tuple[ImsSection, ...] | None:
    return None if value is None else _parse_sections(value)


def _optional_status(value: ImsStatus | str | None) -> ImsStatus | None:
    return None if value is None else ImsStatus.parse(value)


def _check_key(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _validate.text(value, "key", max_len=_KEY_MAX)


@attrs.frozen
class DownloadJob:
    """One taxpayer's download in :meth:`~flynn_async.ims.ImsApi.download_many`.

    ``taxpayer`` is a :class:`~flynn_async.GstSession`, or a GSTIN whose session is restored
    from the client's session store when the job runs (a missing or lapsed one is that job's
    :class:`GstSessionMissing`). ``sections`` and ``status`` override the batch's defaults for
    this job (``None``: the batch's). ``key`` names the job in the manifest; by default it is
    ``"<GSTIN>:<sections>:<status>"`` (``ALL`` for all eight sections or no status filter),
    such as ``"24AAAPI3182M002:B2B+B2BCN:ALL"``. Values are checked when the job is made.

    In a :class:`JobResult`, ``job`` is the job as run: sections, status and key filled in.
    """

    taxpayer: GstSession | str = attrs.field(validator=_check_taxpayer)
    sections: tuple[ImsSection, ...] | None = attrs.field(
        default=None, converter=_optional_sections, kw_only=True
    )
    status: ImsStatus | None = attrs.field(default=None, converter=_optional_status, kw_only=True)
    key: str | None = attrs.field(default=None, validator=_check_key, kw_only=True)

    @property
    def gstin(self) -> str:
        """The taxpayer's GSTIN."""
        taxpayer = self.taxpayer
        return taxpayer.gstin if isinstance(taxpayer, GstSession) else taxpayer

    @property
    def session(self) -> GstSession | None:
        """The GST session given, or ``None`` when the job names a GSTIN."""
        return self.taxpayer if isinstance(self.taxpayer, GstSession) else None


def default_key(gstin: str, sections: Sequence[ImsSection], status: ImsStatus | None) -> str:
    """The manifest key of a job: ``"<GSTIN>:<sections>:<status>"``."""
    names = _ALL if set(sections) == set(ImsSection) else "+".join(s.value for s in sections)
    return f"{gstin}:{names}:{_ALL if status is None else status.value}"


class JobState(enum.StrEnum):
    """How a batch job ended."""

    COMPLETED = "completed"
    """Downloaded in this run."""
    FAILED = "failed"
    """Not downloaded: ``error`` says why. The manifest keeps the job's task ids: a rerun
    re-attaches to each of them (no new submit, no second payment) unless the server says the
    task failed or does not know it (404), or it is older than the 7 days results are kept;
    only those sections are submitted afresh."""
    SKIPPED = "skipped"
    """Completed by an earlier run with the same manifest; ``load()`` reads its result."""


@attrs.frozen
class JobResult:
    """The outcome of one job of a batch.

    ``key`` and ``gstin`` name it; ``job`` is the job as run (sections, status and key filled
    in); ``state`` is completed, failed or skipped. ``invoices`` is the merged result of a
    completed job when the batch keeps results (``keep_results=True``), else ``None``: then
    :meth:`load` reads it from ``path``, the JSON file saved next to the manifest. ``error`` is
    the original typed error of a failed job (its notes carry the task ids and the job);
    ``records`` counts the records per section; ``task_ids`` maps each section to its task.
    ``digest`` is the SHA-256 of the saved file.
    """

    key: str
    gstin: str
    job: DownloadJob
    state: JobState
    invoices: ImsInvoices | None = attrs.field(default=None, repr=False)
    error: Exception | None = None
    path: Path | None = None
    records: Mapping[str, int] = attrs.field(factory=FrozenMap, repr=False)
    task_ids: Mapping[str, str] = attrs.field(factory=FrozenMap, repr=False)
    digest: str | None = attrs.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True unless the job failed."""
        return self.state is not JobState.FAILED

    def _without_session(self) -> JobResult:
        """This result with its job naming the GSTIN instead of carrying the GST session."""
        if not isinstance(self.job.taxpayer, GstSession):
            return self
        return attrs.evolve(self, job=attrs.evolve(self.job, taxpayer=self.gstin))

    def load(self) -> ImsInvoices:
        """The job's merged result: ``invoices`` if kept, else read back from ``path``.

        The file is checked against its recorded SHA-256 (:class:`ManifestError` if it was
        changed or is missing). This reads the whole file at once, blocking: for a large
        result, call it in a thread (``await asyncio.to_thread(result.load)``).
        """
        if self.invoices is not None:
            return self.invoices
        if self.path is None:
            why = (
                "it failed"
                if self.state is JobState.FAILED
                else "it was not kept (keep_results=False) nor saved (no manifest)"
            )
            raise InvalidInput(f"job {self.key!r} has no result to load: {why}")
        try:
            body = self.path.read_bytes()
        except FileNotFoundError:
            raise ManifestError(
                f"the result of job {self.key!r} is missing: {self.path}", path=self.path
            ) from None
        if self.digest is not None and hashlib.sha256(body).hexdigest() != self.digest:
            raise ManifestError(
                f"the result of job {self.key!r} was changed since it was saved: {self.path}",
                path=self.path,
            )
        try:
            return structure_invoices(loads(body))
        except (msgspec.DecodeError, FlynnError) as exc:
            raise ManifestError(
                f"the result of job {self.key!r} is not an IMS result ({type(exc).__name__}): "
                f"{self.path}",
                path=self.path,
            ) from None


@attrs.frozen
class BatchResult:
    """What :meth:`~flynn_async.ims.ImsApi.download_many` did: one :class:`JobResult` per job.

    ``results`` are in the order the jobs were given; ``manifest`` is the manifest file, if any.
    """

    results: tuple[JobResult, ...]
    manifest: Path | None = None

    def _in(self, state: JobState) -> tuple[JobResult, ...]:
        return tuple(r for r in self.results if r.state is state)

    @property
    def completed(self) -> tuple[JobResult, ...]:
        """Jobs downloaded in this run."""
        return self._in(JobState.COMPLETED)

    @property
    def failed(self) -> tuple[JobResult, ...]:
        """Jobs that failed, each with its error."""
        return self._in(JobState.FAILED)

    @property
    def skipped(self) -> tuple[JobResult, ...]:
        """Jobs an earlier run with the same manifest completed."""
        return self._in(JobState.SKIPPED)

    def __getitem__(self, key: str) -> JobResult:
        """The result of the job with this key."""
        for result in self.results:
            if result.key == key:
                return result
        raise KeyError(key)

    def needs_otp(self) -> list[str]:
        """GSTINs whose jobs failed for want of a live GST session (a new OTP is needed)."""
        lost = (GstSessionMissing, GstSessionExpired)
        return sorted({r.gstin for r in self.failed if isinstance(r.error, lost)})

    def raise_for_failures(self) -> None:
        """Raise :class:`BatchError` listing every failed taxpayer, if any job failed."""
        failures = self.failed
        if not failures:
            return
        lines = [f"{len(failures)} of {len(self.results)} batch jobs failed:"]
        for failure in failures:
            error = failure.error
            what = f"{type(error).__name__}: {error}" if error is not None else "unknown error"
            lines.append(f"- {failure.gstin} (job {failure.key}): {what}")
        raise BatchError("\n".join(lines), failures)


@attrs.frozen
class BatchProgress:
    """A progress report of a batch, for a CLI or a web handler.

    Counts of jobs ``completed``, ``failed`` and ``skipped`` out of ``total``; ``running`` maps
    the key of each job running now to the latest :class:`~flynn_async.Progress` of each of its
    tasks (empty until its first task is submitted). ``job`` is the key of the job whose
    change caused this report (``None`` for the first report).
    """

    total: int
    completed: int
    failed: int
    skipped: int
    running: Mapping[str, tuple[Progress, ...]]
    job: str | None = None

    @property
    def done(self) -> int:
        """Jobs finished one way or another (completed, failed or skipped)."""
        return self.completed + self.failed + self.skipped


BatchProgressCallback = Callable[[BatchProgress], None]
ResultCallback = Callable[[JobResult], Awaitable[None] | None]


# ----------------------------------------------------------------------------------------------
# The manifest
# ----------------------------------------------------------------------------------------------


def manifest_path(manifest: str | os.PathLike[str]) -> Path:
    """The manifest file for ``manifest=``: a ``.json`` path is the file itself; anything
    else (an existing directory, or a path not ending in ``.json``) is a directory holding
    ``manifest.json``."""
    path = Path(manifest)
    if path.is_dir() or path.suffix.lower() != ".json":
        return path / _MANIFEST_NAME
    return path


def result_name(key: str) -> str:
    """The file name of a job's result: readable, safe, and distinct for distinct keys."""
    readable = re.sub(_UNSAFE, "-", key).strip("-.")[:80] or "job"
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{readable}.{digest}.json"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Manifest:
    """The manifest file of a batch: entries by job key, a lock, atomic rewrites."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.results_dir = path.parent / f"{path.stem}.results"
        self.pages_dir = path.parent / f"{path.stem}.pages"
        self.lock_path = path.with_suffix(".lock")
        self.created_at = _now()
        self.entries: dict[str, dict[str, Any]] = {}
        self._lock: FileLock | None = None
        self._write_lock = asyncio.Lock()

    def error(self, problem: str) -> ManifestError:
        return ManifestError(f"batch manifest {self.path}: {problem}", path=self.path)

    def acquire(self) -> None:
        """Take the manifest's lock (across processes) or fail at once."""
        lock = FileLock(self.lock_path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            taken = lock.try_acquire()
        except OSError as exc:
            raise self.error(f"cannot open its lock file ({exc.strerror})") from None
        if not taken:
            raise self.error("in use by another batch (its lock is held); wait for it to finish")
        self._lock = lock

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def read(self) -> None:
        """Load the entries of an earlier run (none if the file does not exist)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self.error(f"cannot be read ({exc.strerror})") from None
        try:
            document = json.loads(raw)
        except ValueError:
            raise self.error("is not valid JSON (damaged?); fix or remove it") from None
        if not isinstance(document, dict) or document.get("kind") != _MANIFEST_KIND:
            raise self.error("is not a flynn-async batch manifest")
        if document.get("format") != MANIFEST_FORMAT:
            raise self.error(f"has an unknown format {document.get('format')!r:.20}")
        jobs = document.get("jobs")
        if not isinstance(jobs, dict):
            raise self.error("has no 'jobs' object")
        created = document.get("created_at")
        if isinstance(created, str):
            self.created_at = created
        for key, entry in jobs.items():
            problem = self._check_entry(key, entry)
            if problem:
                raise self.error(f"job {key!r:.120}: {problem}")
        self.entries = jobs

    def _check_entry(self, key: str, entry: Any) -> str | None:
        if not isinstance(entry, dict):
            return "the entry is not an object"
        try:
            _validate.text(key, "key", max_len=_KEY_MAX)
            _validate.gstin(entry.get("gstin"))
            _parse_sections(entry.get("sections"))
            _optional_status(entry.get("status"))
        except InvalidInput as exc:
            return exc.message_text
        state = entry.get("state")
        if state not in ("running", "completed", "failed"):
            return f"unknown state {state!r:.40}"
        task_ids = entry.get("task_ids", {})
        if not isinstance(task_ids, dict):
            return "'task_ids' is not an object"
        for section, task_id in task_ids.items():
            try:
                ImsSection.parse(section)
                _validate.task_id(task_id)
            except InvalidInput as exc:
                return exc.message_text
        if state == "completed":
            result = entry.get("result")
            if not isinstance(result, str) or not self._inside(result):
                return "'result' is not a file name beside the manifest"
            size, digest = entry.get("size"), entry.get("sha256")
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                return "'size' is not a byte count"
            if not isinstance(digest, str) or not re.fullmatch(_SHA256, digest):
                return "'sha256' is not a SHA-256 digest"
            records = entry.get("records")
            if not isinstance(records, dict) or not all(
                isinstance(n, int) and not isinstance(n, bool) for n in records.values()
            ):
                return "'records' is not a map of counts"
        return None

    def _inside(self, relative: str) -> bool:
        path = Path(relative)
        return (
            not path.is_absolute()
            and ".." not in path.parts
            and path.parts[:1] == (self.results_dir.name,)
        )

    def result_path(self, key: str) -> Path:
        return self.results_dir / result_name(key)

    def finished_result(self, job: _Job) -> JobResult | None:
        """A skipped :class:`JobResult` if the manifest says ``job`` completed and its result
        file is still there, else ``None`` (run it)."""
        entry = self.entries.get(job.key)
        if entry is None or entry["state"] != "completed":
            return None
        path = self.path.parent / entry["result"]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = None
        if size != entry["size"]:
            log.warning("batch job %s: its saved result is missing or changed; running it", job.key)
            return None
        return JobResult(
            job.key,
            job.gstin,
            job.resolved,
            JobState.SKIPPED,
            path=path,
            records=FrozenMap(entry["records"]),
            task_ids=FrozenMap(entry.get("task_ids", {})),
            digest=entry["sha256"],
        )

    def check_job(self, job: _Job) -> None:
        """A job whose key was recorded for another download is an error, not a skip."""
        entry = self.entries.get(job.key)
        if entry is None:
            return
        recorded = (
            entry["gstin"],
            _parse_sections(entry["sections"]),
            _optional_status(entry.get("status")),
        )
        if recorded != (job.gstin, job.sections, job.status):
            raise self.error(
                f"job {job.key!r} was recorded for another download ({default_key(*recorded)}), "
                f"now {default_key(job.gstin, job.sections, job.status)}: use another key or "
                "another manifest"
            )

    def task_ids(self, key: str) -> dict[ImsSection, str]:
        """Tasks to re-attach to (running, completed and failed jobs keep theirs)."""
        entry = self.entries.get(key)
        if entry is None:
            return {}
        return {ImsSection.parse(s): t for s, t in entry.get("task_ids", {}).items()}

    def submitted_at(self, key: str) -> dict[str, str]:
        """When each recorded task was submitted (section value to ISO time), where known."""
        entry = self.entries.get(key)
        times = entry.get("submitted_at") if entry is not None else None
        if not isinstance(times, dict):
            return {}
        return {s: t for s, t in times.items() if isinstance(t, str)}

    async def record(self, job: _Job, state: str, **fields: Any) -> None:
        """Set the job's entry and rewrite the manifest (atomically, in a thread)."""
        entry = {
            "gstin": job.gstin,
            "sections": [s.value for s in job.sections],
            "status": None if job.status is None else job.status.value,
            "state": state,
            **fields,
        }
        await _finish_even_if_cancelled(self._write(job.key, entry))

    async def _write(self, key: str, entry: dict[str, Any]) -> None:
        async with self._write_lock:
            self.entries[key] = entry
            document = {
                "kind": _MANIFEST_KIND,
                "format": MANIFEST_FORMAT,
                "created_at": self.created_at,
                "updated_at": _now(),
                "jobs": self.entries,
            }
            data = json.dumps(document, indent=1).encode()
            try:
                await _in_thread(write_atomic, self.path, data)
            except OSError as exc:
                raise self.error(f"cannot be written ({exc.strerror})") from None

    async def save_result(self, key: str, invoices: ImsInvoices) -> tuple[Path, int, str]:
        """Write a job's result beside the manifest; its path, size and SHA-256."""
        path = self.result_path(key)
        data = dumps(invoices.to_dict())
        try:
            await _in_thread(_write_private, path, data)
        except OSError as exc:
            raise ManifestError(
                f"the result of job {key!r} cannot be written to {path} ({exc.strerror})",
                path=path,
            ) from None
        return path, len(data), hashlib.sha256(data).hexdigest()


async def _finish_even_if_cancelled(work: Coroutine[Any, Any, _T]) -> _T:
    """Run ``work`` to its end even if the caller is cancelled meanwhile, then let the
    cancellation go on: a task id handed out must reach the manifest, or a rerun pays again."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        if not task.cancelled():
            task.exception()  # retrieved: the cancellation goes on, not a write error
        raise


def _write_private(path: Path, data: bytes) -> None:
    ensure_private_dir(path.parent)
    write_atomic(path, data)


async def _in_thread(write: Callable[[Path, bytes], None], path: Path, data: bytes) -> None:
    """Run a blocking write in a thread; if cancelled meanwhile, wait for the write to end
    before the cancellation goes on (a thread cannot be stopped: no work outlives the call)."""
    future = asyncio.get_running_loop().run_in_executor(None, write, path, data)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


# ----------------------------------------------------------------------------------------------
# Running a batch
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class _Job:
    index: int
    key: str
    gstin: str
    session: GstSession | None
    sections: tuple[ImsSection, ...]
    status: ImsStatus | None
    resolved: DownloadJob


def _plan(jobs: object, sections: tuple[ImsSection, ...], status: ImsStatus | None) -> list[_Job]:
    """Check every job and fill in the defaults, before any request."""
    if isinstance(jobs, str | bytes | GstSession | DownloadJob) or not isinstance(jobs, Iterable):
        raise InvalidInput(
            "jobs must be a list of DownloadJob, GstSession or GSTIN values, "
            f"not {type(jobs).__name__}"
        )
    planned: list[_Job] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(jobs):
        try:
            job = item if isinstance(item, DownloadJob) else DownloadJob(item)
        except InvalidInput as exc:
            raise InvalidInput(f"jobs[{index}]: {exc.message_text}") from None
        chosen = job.sections if job.sections is not None else sections
        wanted = job.status if job.status is not None else status
        key = job.key if job.key is not None else default_key(job.gstin, chosen, wanted)
        if key in seen:
            raise InvalidInput(
                f"jobs[{seen[key]}] and jobs[{index}] have the same key {key!r}: each job "
                "must download something else (or be given its own key)"
            )
        seen[key] = index
        resolved = attrs.evolve(job, sections=chosen, status=wanted, key=key)
        planned.append(_Job(index, key, job.gstin, job.session, chosen, wanted, resolved))
    return planned


class _Batch:
    """One run of ``download_many``."""

    def __init__(
        self,
        ims: ImsApi,
        gst: GstApi,
        jobs: list[_Job],
        *,
        manifest: _Manifest | None,
        max_jobs: int,
        keep_results: bool,
        on_result: ResultCallback | None,
        on_progress: BatchProgressCallback | None,
        checkpoint_dir: str | os.PathLike[str] | None,
        refresh_margin: float | None,
        on_submitted: SubmittedCallback | None = None,
        skip_empty: bool = False,
    ) -> None:
        self.skip_empty = skip_empty
        self.ims = ims
        self.gst = gst
        self.jobs = jobs
        self.manifest = manifest
        self.max_jobs = max_jobs
        self.keep_results = keep_results
        self.on_result = on_result
        self.on_progress = on_progress
        self.checkpoint_dir = checkpoint_dir
        self.refresh_margin = refresh_margin
        self.on_submitted = on_submitted
        self.results: dict[int, JobResult] = {}
        self.counts = dict.fromkeys(JobState, 0)
        self.running: dict[str, dict[str, Progress]] = {}
        self.gstin_locks: dict[str, asyncio.Lock] = {}

    # -- progress -----------------------------------------------------------------------------

    def report(self, job: str | None) -> None:
        if self.on_progress is None:
            return
        progress = BatchProgress(
            total=len(self.jobs),
            completed=self.counts[JobState.COMPLETED],
            failed=self.counts[JobState.FAILED],
            skipped=self.counts[JobState.SKIPPED],
            running=FrozenMap({k: tuple(v.values()) for k, v in self.running.items()}),
            job=job,
        )
        try:
            self.on_progress(progress)
        except Exception:  # a display problem must not stop downloads
            log.exception("the batch's on_progress callback failed; going on")

    def finish(self, job: _Job, result: JobResult) -> None:
        self.results[job.index] = result
        self.counts[result.state] += 1
        self.report(job.key)

    # -- the run ------------------------------------------------------------------------------

    async def run(self) -> BatchResult:
        pending: list[_Job] = []
        for job in self.jobs:
            done = self.manifest.finished_result(job) if self.manifest is not None else None
            if done is not None:
                self.results[job.index] = done
                self.counts[JobState.SKIPPED] += 1
            else:
                pending.append(job)
        if self.counts[JobState.SKIPPED]:
            log.info("batch: %d jobs already completed, skipped", self.counts[JobState.SKIPPED])
        self.report(None)
        queue = iter(pending)

        async def worker() -> None:
            for job in queue:  # one shared iterator: each job goes to exactly one worker
                self.finish(job, await self.run_job(job))

        try:
            workers = min(self.max_jobs, len(pending))
            await run_group(lambda group: [group.create_task(worker()) for _ in range(workers)])
        except BaseExceptionGroup as group_error:  # only batch-level errors get here
            raise first_error(group_error) from None
        results = tuple(self.results[job.index] for job in self.jobs)
        return BatchResult(results, None if self.manifest is None else self.manifest.path)

    async def session_for(self, job: _Job) -> GstSession:
        """The job's GST session: given or restored, refreshed if it lapses soon."""
        lock = self.gstin_locks.setdefault(job.gstin, asyncio.Lock())
        async with lock:  # jobs of one taxpayer must not refresh its session twice
            session = job.session
            if session is None:
                session = await self.gst.restore(job.gstin)
                if session is None:
                    raise GstSessionMissing(
                        f"no usable GST session for {job.gstin} in the session store (none, "
                        "or lapsed): verify an OTP for this taxpayer",
                        gstin=job.gstin,
                    )
            if self.refresh_margin is not None:
                session = await self.gst.refresh_if_due(session, margin=self.refresh_margin)
            return session

    async def run_job(self, job: _Job) -> JobResult:
        """Run one job: its sections through ``download_sections``, the manifest kept up."""
        known = self.resumable(job)
        recorded_at = self.manifest.submitted_at(job.key) if self.manifest is not None else {}
        # every task id this job holds, by section value, as soon as it exists
        submitted = {s.value: t for s, t in known.items()}
        submitted_at = {s: recorded_at[s] for s in submitted if s in recorded_at}
        progress = self.running[job.key] = {}
        started = _now()
        log.info("batch job %s started", job.key)
        self.report(job.key)

        def on_task_progress(report: Progress) -> None:
            progress[report.task_id] = report
            self.report(job.key)

        def on_submitted(section: ImsSection, task_id: str) -> Awaitable[None]:
            # called by the submit before anything else is awaited: the id is ours now, and
            # the submit sees the manifest written (even if cancelled) before it goes on
            submitted[section.value] = task_id
            submitted_at[section.value] = _now()
            fields = {"task_ids": dict(submitted), "submitted_at": dict(submitted_at)}
            return self.handed_over(job, section, task_id, started_at=started, **fields)

        try:
            invoices = await self.ims.download_sections(
                functools.partial(self.session_for, job),
                sections=job.sections,
                status=job.status,
                resume=known,
                replace_lost=True,
                on_progress=on_task_progress,
                checkpoint_dir=self.checkpoint_dir,
                on_submitted=on_submitted,
                skip_empty=self.skip_empty,
            )
            return await self.deliver(job, invoices.for_recipient(job.gstin), dict(submitted))
        except ManifestError:
            raise  # the batch cannot keep its record: stop it
        except Exception as exc:
            return await self.fail(job, exc, submitted, submitted_at)
        except BaseException as exc:  # cancelled: the billed task ids go with it
            note_task_ids(exc, submitted)
            raise
        finally:
            del self.running[job.key]

    def resumable(self, job: _Job) -> dict[ImsSection, str]:
        """The job's recorded tasks a rerun re-attaches to: all but those too old to deliver.

        (``download_sections`` replaces those the server says failed or does not know.)
        """
        if self.manifest is None:
            return {}
        recorded_at = self.manifest.submitted_at(job.key)
        known = {}
        for section, task_id in self.manifest.task_ids(job.key).items():
            age = _age_days(recorded_at.get(section.value))
            if age is not None and age >= _api.TASK_RESULT_DAYS:
                log.info(
                    "batch job %s: task %s is %.0f days old; submitting afresh",
                    job.key,
                    task_id,
                    age,
                )
                continue
            known[section] = task_id
        return known

    async def handed_over(
        self, job: _Job, section: ImsSection, task_id: str, **fields: Any
    ) -> None:
        """A task was submitted for ``job``: tell the caller, record it in the manifest."""
        handed: object = None
        if self.on_submitted is not None:
            try:
                handed = self.on_submitted(section, task_id)
            except Exception:  # the task exists either way: the manifest records it
                log.exception("the on_submitted callback failed for task %s", task_id)
        if self.manifest is not None:
            await self.manifest.record(job, "running", **fields)
        if inspect.isawaitable(handed):
            await handed

    async def deliver(
        self, job: _Job, invoices: ImsInvoices, task_ids: dict[str, str]
    ) -> JobResult:
        """Save, hand on and record a completed job (``task_ids``: the tasks it came from)."""
        manifest = self.manifest
        records = {name: len(invoices.section(name)) for name in invoices.section_names()}
        result = JobResult(
            job.key,
            job.gstin,
            job.resolved,
            JobState.COMPLETED,
            invoices=invoices,
            records=FrozenMap(records),
            task_ids=FrozenMap(task_ids),
        )
        fields: dict[str, Any] = {}
        if manifest is not None:
            path, size, digest = await manifest.save_result(job.key, invoices)
            result = attrs.evolve(result, path=path, digest=digest)
            fields = {
                "result": str(path.relative_to(manifest.path.parent)),
                "size": size,
                "sha256": digest,
            }
        if self.on_result is not None:
            outcome = self.on_result(result)
            if inspect.isawaitable(outcome):
                await outcome
        if manifest is not None:
            await manifest.record(
                job,
                "completed",
                task_ids=task_ids,
                finished_at=_now(),
                records=records,
                total_records=len(invoices),
                **fields,
            )
            if self.checkpoint_dir is not None:  # the result is saved: its pages are not needed
                await asyncio.to_thread(_remove_checkpoints, self.checkpoint_dir, task_ids.values())
        log.info("batch job %s completed: %d records", job.key, len(invoices))
        return result if self.keep_results else attrs.evolve(result, invoices=None)

    async def fail(
        self,
        job: _Job,
        exc: Exception,
        submitted: Mapping[str, str],
        submitted_at: Mapping[str, str],
    ) -> JobResult:
        """Record a failed job with every task id it holds: a rerun re-attaches to them."""
        exc.add_note(f"batch job {job.key} (GSTIN {job.gstin})")
        log.warning("batch job %s failed: %s: %s", job.key, type(exc).__name__, exc)
        # A rerun re-attaches to every task (no second payment) unless the server says it
        # failed or no longer knows it, or it is older than the results are kept. A task the
        # server reported failed, and records that disagreed, are not worth asking again.
        kept = dict(submitted)
        if isinstance(exc, SectionMismatch):
            kept = {}
        elif isinstance(exc, TaskFailed):
            kept = {s: t for s, t in kept.items() if t != exc.task_id}
        if self.manifest is not None:
            await self.manifest.record(
                job,
                "failed",
                task_ids=kept,
                submitted_at={s: t for s, t in submitted_at.items() if s in kept},
                finished_at=_now(),
                error={"type": type(exc).__name__, "message": str(exc)},
            )
        return JobResult(
            job.key,
            job.gstin,
            job.resolved,
            JobState.FAILED,
            error=exc,
            task_ids=FrozenMap(dict(submitted)),
        )


def _remove_checkpoints(directory: str | os.PathLike[str], task_ids: Iterable[str]) -> None:
    for task_id in task_ids:
        Checkpoint(directory, task_id).remove()


def _age_days(when: str | None) -> float | None:
    """Days since the ISO time ``when`` (``None`` if unknown or unreadable)."""
    if when is None:
        return None
    try:
        then = datetime.fromisoformat(when)
    except ValueError:
        return None
    if then.tzinfo is None:
        return None
    return (datetime.now(UTC) - then).total_seconds() / 86400


async def run_batch(
    ims: ImsApi,
    gst: GstApi,
    jobs: Iterable[DownloadJob | GstSession | str],
    *,
    sections: Iterable[ImsSection | str] | ImsSection | str,
    status: ImsStatus | str | None,
    manifest: str | os.PathLike[str] | None,
    max_jobs: int,
    keep_results: bool,
    on_result: ResultCallback | None,
    on_progress: BatchProgressCallback | None,
    checkpoint_dir: str | os.PathLike[str] | bool | None,
    refresh_margin: float | None,
    on_submitted: SubmittedCallback | None = None,
    skip_empty: bool = False,
) -> BatchResult:
    """Check everything, take the manifest, run the jobs (see ``ImsApi.download_many``)."""
    for name, flag in (("skip_empty", skip_empty), ("keep_results", keep_results)):
        if not isinstance(flag, bool):
            raise InvalidInput(f"{name} must be True or False")
    chosen = _parse_sections(sections)
    wanted = _optional_status(status)
    max_jobs = _validate.positive_int(max_jobs, "max_jobs", maximum=1024)
    _check_callbacks(on_result=on_result, on_progress=on_progress, on_submitted=on_submitted)
    if refresh_margin is not None:
        refresh_margin = _validate.positive_number(refresh_margin, "refresh_margin")
    if not keep_results and manifest is None and on_result is None:
        raise InvalidInput(
            "keep_results=False needs a manifest or on_result: the results would go nowhere"
        )
    if manifest is not None and not isinstance(manifest, str | os.PathLike):
        raise InvalidInput(f"manifest must be a path, not {type(manifest).__name__}")
    planned = _plan(jobs, chosen, wanted)
    _check_restorable(planned, gst)
    record = None if manifest is None else _Manifest(manifest_path(manifest))
    batch = _Batch(
        ims,
        gst,
        planned,
        manifest=record,
        max_jobs=max_jobs,
        keep_results=keep_results,
        on_result=on_result,
        on_progress=on_progress,
        checkpoint_dir=_pages_dir(checkpoint_dir, record),
        refresh_margin=refresh_margin,
        on_submitted=on_submitted,
        skip_empty=skip_empty,
    )
    result = await _run_locked(batch, record)
    log.info(
        "batch done: %d completed, %d failed, %d skipped",
        len(result.completed),
        len(result.failed),
        len(result.skipped),
    )
    return result


def _check_callbacks(**callbacks: object) -> None:
    for name, callback in callbacks.items():
        if callback is not None and not callable(callback):
            raise InvalidInput(f"{name} must be callable")


def _check_restorable(planned: Iterable[_Job], gst: GstApi) -> None:
    """A job naming a GSTIN needs the client's session store to restore its session from."""
    if gst.store is not None:
        return
    for job in planned:
        if job.session is None:
            raise InvalidInput(
                f"jobs[{job.index}] names GSTIN {job.gstin} without a session, but the "
                "client has no session_store to restore it from"
            )


def _pages_dir(
    checkpoint_dir: str | os.PathLike[str] | bool | None, record: _Manifest | None
) -> str | os.PathLike[str] | None:
    """Where pages are checkpointed: by default a manifest's pages are kept beside it."""
    if checkpoint_dir is True or not (
        checkpoint_dir is None
        or checkpoint_dir is False
        or isinstance(checkpoint_dir, str | os.PathLike)
    ):
        raise InvalidInput("checkpoint_dir must be a directory, None (the default) or False")
    if checkpoint_dir is None:
        return None if record is None else record.pages_dir
    if checkpoint_dir is False:
        return None
    return checkpoint_dir


async def _run_locked(batch: _Batch, record: _Manifest | None) -> BatchResult:
    """Run the batch holding its manifest's lock (the manifest read and checked first)."""
    if record is None:
        return await batch.run()
    record.acquire()
    try:
        record.read()
        for job in batch.jobs:
            record.check_job(job)
        return await batch.run()
    finally:
        record.release()
