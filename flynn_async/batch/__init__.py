"""Batch IMS downloads for many taxpayers: ``client.ims.download_many``.

A batch runs one :class:`DownloadJob` per taxpayer (a GST session, or a GSTIN whose session is
restored from the client's session store). Every job downloads its sections the way
``download_all`` does (one task per section, merged and checked), with these batch rules:

- **One bound for the whole batch.** Page requests go through the client's one limiter
  (``max_concurrency``, shared by every download of the client); ``max_jobs`` bounds how many
  jobs run at once, so that 50 taxpayers do not poll 400 tasks together.
- **Per-job outcomes.** A job that fails is recorded with its typed error and never cancels
  another. Cancellation (``CancelledError``, ``KeyboardInterrupt``) stops the whole batch.
- **A manifest on disk** (``manifest=``) records each job as its tasks are submitted and when it
  ends; a rerun with the same manifest skips the completed jobs, re-attaches to the tasks of
  jobs that were interrupted (no task is paid for twice) and starts failed jobs afresh.

Manifest layout (``<dir>/manifest.json`` when ``manifest`` names a directory)::

    <dir>/manifest.json              the manifest (JSON, written atomically, mode 0600)
    <dir>/manifest.lock              held (a file lock) by the process running the batch
    <dir>/manifest.results/<job>.json   each completed job's merged result (``to_dict()``)

The package holds :class:`BatchImsApi` (the client's IMS API); the runner, its jobs and
results (``_runner``) are imported when one of their names is first asked for or a batch first
runs, not with the package.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from flynn_async._core._lazy import lazy_names
from flynn_async.gst._session import GstSession
from flynn_async.ims._download import ALL_SECTIONS, ImsApi, SubmittedCallback
from flynn_async.ims._models import ImsSection, ImsStatus

if TYPE_CHECKING:  # at run time these come from __getattr__ below, on first use
    from ._runner import (
        BatchProgress,
        BatchProgressCallback,
        BatchResult,
        DownloadJob,
        JobResult,
        JobState,
        ResultCallback,
    )

__all__ = [
    "BatchImsApi",
    "BatchProgress",
    "BatchResult",
    "DownloadJob",
    "JobResult",
    "JobState",
]

#: Jobs (taxpayers) running at once unless ``max_jobs`` says otherwise.
DEFAULT_MAX_JOBS: Final = 4


class BatchImsApi(ImsApi):
    """The IMS API of a client (``client.ims``): :class:`ImsApi` and downloads for many taxpayers.

    The batch runner sits on top of the IMS API, which knows nothing of it; the client wires the
    two together by handing out this class.
    """

    async def download_many(
        self,
        jobs: Iterable[DownloadJob | GstSession | str],
        *,
        sections: Iterable[ImsSection | str] | ImsSection | str = ALL_SECTIONS,
        status: ImsStatus | str | None = None,
        manifest: str | os.PathLike[str] | None = None,
        max_jobs: int = DEFAULT_MAX_JOBS,
        keep_results: bool = True,
        on_result: ResultCallback | None = None,
        on_progress: BatchProgressCallback | None = None,
        checkpoint_dir: str | os.PathLike[str] | bool | None = None,
        refresh_margin: float | None = 1800.0,
        on_submitted: SubmittedCallback | None = None,
        skip_empty: bool = False,
    ) -> BatchResult:
        """Download for many taxpayers: one ``download_all`` per job, ``max_jobs`` at once.

        ``jobs`` are :class:`~flynn_async.batch.DownloadJob` values, or GST sessions, or GSTINs
        (sessions restored from the client's session store); ``sections`` and ``status`` are
        the defaults of jobs that set none. Every job is checked before any request
        (``InvalidInput`` naming the job). Page requests of all jobs share the client's
        ``max_concurrency``. A job that fails is recorded in the
        :class:`~flynn_async.batch.BatchResult` with its error and does not stop the others; call
        ``raise_for_failures()`` to raise them. With ``manifest`` (a directory, or a ``.json``
        file), each job is recorded on disk with its result saved beside it, and a rerun skips
        the completed jobs. ``keep_results=False`` keeps results only on disk (and for
        ``on_result``, a sync or async callback given each completed
        :class:`~flynn_async.batch.JobResult`); ``on_progress`` receives
        :class:`~flynn_async.batch.BatchProgress` reports. Each job's session is refreshed
        before its submits if it lapses within ``refresh_margin`` seconds (``None``: never).
        ``on_submitted(section, task_id)`` is called as each billed task is created. With a
        manifest, pages are checkpointed under ``<manifest>.pages/`` unless ``checkpoint_dir``
        names another directory (``False``: no checkpoints), so a rerun after a kill fetches
        only the missing pages. With ``skip_empty=True`` each job asks for the counts first
        and starts no task for a section counted empty (see ``download_all``). See
        ``docs/batch.md``.
        """
        from ._runner import run_batch

        return await run_batch(
            self,
            self._gst,
            jobs,
            sections=sections,
            status=status,
            manifest=manifest,
            max_jobs=max_jobs,
            keep_results=keep_results,
            on_result=on_result,
            on_progress=on_progress,
            checkpoint_dir=checkpoint_dir,
            refresh_margin=refresh_margin,
            on_submitted=on_submitted,
            skip_empty=skip_empty,
        )


#: The runner's names served here (those of ``__all__`` and the helpers the batch module had):
#: imported from ``_runner`` when one is first asked for.
_LAZY: Final = dict.fromkeys(
    (
        "BatchProgress",
        "BatchProgressCallback",
        "BatchResult",
        "DownloadJob",
        "JobResult",
        "JobState",
        "MANIFEST_FORMAT",
        "ResultCallback",
        "default_key",
        "manifest_path",
        "result_name",
        "run_batch",
    ),
    "_runner",
)
__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY)
