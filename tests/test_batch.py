"""Batch downloads (``client.ims.download_many``) against the simulator over real sockets.

Time never passes for real while tasks are polled: clients sleep on the suite's FakeClock.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import stat
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import (
    BatchError,
    FileSessionStore,
    FlynnClient,
    GstSession,
    GstSessionExpired,
    GstSessionMissing,
    InvalidInput,
    ManifestError,
    PagesMissing,
    Secret,
    TaskFailed,
)
from flynn_async._core._validate import gstin as check_gstin
from flynn_async._core._validate import gstin_check_digit
from flynn_async.batch import (
    BatchProgress,
    DownloadJob,
    JobResult,
    JobState,
    default_key,
    result_name,
)
from flynn_async.ims import ImsSection, ImsStatus
from flynn_async.testing import (
    DelaySettings,
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)
from flynn_async.testing._simulator import USER_HANDLE, USER_PASSWORD
from tests.lazy import check_every_name_resolves, modules_imported

SECTIONS = ("B2B", "B2BCN")
#: Few records, two pages per task: fast, and still more than one page.
BATCH_SIM: dict[str, Any] = {
    "records": RecordSettings(per_section=3),
    "paging": PagingSettings(size=2),
}


def taxpayers(count: int, state: int = 27) -> list[str]:
    """``count`` distinct GSTINs with the real structure and check digit."""
    made = []
    for i in range(count):
        first14 = f"{state:02d}ABCDE{i:04d}F1Z"
        made.append(first14 + gstin_check_digit(first14))
    for value in made:
        check_gstin(value, strict=True)
    return made


def expected(sim: FlynnSimulator, gstin: str, sections: tuple[str, ...] = SECTIONS) -> Any:
    return {s.lower(): sim.expected_records(gstin, s) for s in sections}


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of this loop but the simulator's (it serves from the same loop)."""
    return {
        t
        for t in asyncio.all_tasks()
        if not t.get_coro().__qualname__.startswith("RequestHandler.")  # type: ignore[union-attr]
    }


@pytest.fixture
def store(tmp_path: Path) -> FileSessionStore:
    return FileSessionStore(tmp_path / "sessions")


async def batch_client(
    make_sim: Any, make_client: Any, store: FileSessionStore, **sim_config: Any
) -> tuple[FlynnSimulator, FlynnClient]:
    sim = await make_sim(**{**BATCH_SIM, **sim_config})
    client = await make_client(sim, session_store=store)
    return sim, client


async def open_all(
    client: FlynnClient, sim: FlynnSimulator, open_gst: Any, gstins: list[str]
) -> list[GstSession]:
    """Open a GST session for each GSTIN (saved in the client's session store)."""
    return [await open_gst(client, sim, gstin=g) for g in gstins]


def read_manifest(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_bytes())
    return document


# ------------------------------------------------------------------------------------------
# The must-show: 50 taxpayers, some failing, a rerun that skips the finished ones
# ------------------------------------------------------------------------------------------


async def test_fifty_taxpayers_some_fail_and_a_rerun_skips_the_finished(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(50)
    doomed = frozenset(gstins[3::10])  # 5 taxpayers whose every task fails
    sim, client = await batch_client(
        make_sim, make_client, store, tasks=TaskSettings(failing_gstins=doomed)
    )
    await open_all(client, sim, open_gst, gstins)
    manifest = tmp_path / "nightly"

    # Jobs named by GSTIN only: each session is restored from the session store.
    first = await client.ims.download_many(gstins, sections=SECTIONS, manifest=manifest)

    assert (len(first.completed), len(first.failed), len(first.skipped)) == (45, 5, 0)
    assert [r.gstin for r in first.results] == gstins  # in the order given
    assert {r.gstin for r in first.failed} == doomed
    assert {r.state for r in first.failed} == {JobState.FAILED}
    assert not any(r.ok for r in first.failed)
    for failure in first.failed:
        assert isinstance(failure.error, TaskFailed)
        task = sim.tasks[failure.error.task_id or ""]
        assert task.gstin == failure.gstin  # the error names this taxpayer's own task
        notes = "\n".join(failure.error.__notes__)
        assert f"batch job {failure.key} (GSTIN {failure.gstin})" in notes
        assert "task id: " in notes
        assert failure.invoices is None
    for done in first.completed:
        assert done.invoices is not None
        assert done.invoices.to_dict() == expected(sim, done.gstin)
        assert dict(done.records) == {"b2b": 3, "b2bcn": 3}
        assert done.path is not None
        assert done.path.is_file()
        assert done.key == f"{done.gstin}:B2B+B2BCN:ALL"
    assert sim.calls["ims_submit"] == 100  # 50 taxpayers x 2 sections, each submitted once

    # Failures are reported per taxpayer, as a typed error and as an exception group.
    with pytest.raises(BatchError) as raised:
        first.raise_for_failures()
    error = raised.value
    assert str(error).startswith("5 of 50 batch jobs failed:")
    for gstin in doomed:
        assert gstin in str(error)
    assert all(isinstance(f, JobResult) for f in error.failures)
    assert [cast(JobResult, f).key for f in error.failures] == [f.key for f in first.failed]
    assert list(error.exceptions) == [f.error for f in first.failed]
    caught: list[BaseException] = []
    try:
        first.raise_for_failures()
    except* TaskFailed as group:
        caught.extend(group.exceptions)
    assert len(caught) == 5

    document = read_manifest(manifest / "manifest.json")
    states = {key: entry["state"] for key, entry in document["jobs"].items()}
    assert sorted(states.values()) == ["completed"] * 45 + ["failed"] * 5
    failed_entry = document["jobs"][first.failed[0].key]
    assert failed_entry["error"]["type"] == "TaskFailed"
    # the task the server said failed is dropped; the other is kept: a rerun asks about it
    # (it failed too, so it is submitted afresh: see the submit count below)
    assert isinstance(first.failed[0].error, TaskFailed)
    assert first.failed[0].error.task_id not in failed_entry["task_ids"].values()
    done_entry = document["jobs"][first.completed[0].key]
    assert done_entry["records"] == {"b2b": 3, "b2bcn": 3}
    assert done_entry["total_records"] == 6
    assert (manifest / done_entry["result"]) == first.completed[0].path
    assert done_entry["finished_at"]

    # The failing taxpayers are fixed; a rerun submits for them only.
    sim.config = sim.config.replace(
        tasks=attrs.evolve(sim.config.tasks, failing_gstins=frozenset())
    )
    sim.reset_counters()
    second = await client.ims.download_many(gstins, sections=SECTIONS, manifest=manifest)
    assert (len(second.completed), len(second.failed), len(second.skipped)) == (5, 0, 45)
    assert {r.gstin for r in second.completed} == doomed
    assert sim.calls["ims_submit"] == 10  # only the 5 failed taxpayers, 2 sections each
    assert sim.calls["task_page"] == 20  # and only their pages
    for skipped in second.skipped:
        assert skipped.invoices is None
        assert skipped.load() == first[skipped.key].invoices
    for done in second.completed:
        assert done.invoices is not None
        assert done.invoices.to_dict() == expected(sim, done.gstin)
    second.raise_for_failures()  # nothing failed: no error

    # A third run has nothing left to do: no request at all.
    sim.reset_counters()
    third = await client.ims.download_many(gstins, sections=SECTIONS, manifest=manifest)
    assert len(third.skipped) == 50
    assert sum(sim.calls.values()) == 0


# ------------------------------------------------------------------------------------------
# Sessions
# ------------------------------------------------------------------------------------------


async def test_a_missing_or_expired_session_is_that_jobs_error(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore
) -> None:
    gstins = taxpayers(5)
    sim, client = await batch_client(make_sim, make_client, store)
    await open_all(client, sim, open_gst, gstins[:3])
    lapsed, rejected = gstins[3], gstins[4]
    old = datetime.now(UTC) - timedelta(hours=7)  # past the portal's 6 hours: not restored
    await store.save(GstSession(lapsed, "someone", Secret("gone"), old))
    # restored, but the portal does not know it: it answers "invalid session"
    await store.save(GstSession(rejected, "someone", Secret("unknown"), datetime.now(UTC)))

    result = await client.ims.download_many(gstins, sections="B2B")

    assert [r.gstin for r in result.completed] == gstins[:3]
    assert [r.gstin for r in result.failed] == [lapsed, rejected]
    missing = result[f"{lapsed}:B2B:ALL"].error
    assert isinstance(missing, GstSessionMissing)
    assert missing.gstin == lapsed
    assert "verify an OTP" in str(missing)
    assert isinstance(result[f"{rejected}:B2B:ALL"].error, GstSessionExpired)
    assert result.needs_otp() == sorted([lapsed, rejected])
    assert sim.calls["ims_submit"] == 4  # 3 good, 1 refused by the portal, 0 for the lapsed
    assert await store.load(rejected) is None  # the refused session was forgotten


async def test_sessions_due_are_refreshed_once_per_taxpayer(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore
) -> None:
    wall = [time.time()]
    sim = await make_sim(**BATCH_SIM)
    client = await make_client(sim, session_store=store, wall_clock=lambda: wall[0])
    gstins = taxpayers(2)
    sessions = await open_all(client, sim, open_gst, gstins)
    wall[0] += 5.8 * 3600  # 12 minutes left of the portal's 6 hours
    jobs = [DownloadJob(s, sections=[section]) for s in sessions for section in SECTIONS]

    result = await client.ims.download_many(jobs, max_jobs=4)

    assert len(result.completed) == 4
    assert sim.calls["gst_refresh"] == 2  # one per taxpayer, though two jobs each
    for gstin in gstins:
        saved = await store.load(gstin)
        assert saved is not None
        assert saved.created_at.timestamp() == pytest.approx(wall[0])


# ------------------------------------------------------------------------------------------
# Jobs and validation
# ------------------------------------------------------------------------------------------


async def test_jobs_mix_sessions_gstins_and_per_job_settings(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore
) -> None:
    gstins = taxpayers(3)
    sim, client = await batch_client(make_sim, make_client, store)
    sessions = await open_all(client, sim, open_gst, gstins)
    jobs: list[DownloadJob | GstSession | str] = [
        sessions[0],
        gstins[1],
        DownloadJob(gstins[2], sections=["b2bcn", "B2B"], status="p", key="third"),
        DownloadJob(sessions[0], sections=ImsSection.ECOM),
    ]

    result = await client.ims.download_many(jobs, sections=["B2B"], status=ImsStatus.ACCEPTED)

    assert [r.key for r in result.results] == [
        f"{gstins[0]}:B2B:A",
        f"{gstins[1]}:B2B:A",
        "third",
        f"{gstins[0]}:ECOM:A",
    ]
    third = result["third"]
    assert third.job == DownloadJob(gstins[2], sections=SECTIONS, status="P", key="third")
    assert third.invoices is not None
    assert third.invoices.to_dict() == {
        s.lower(): sim.expected_records(gstins[2], s, "P") for s in SECTIONS
    }
    asked = sorted((t.gstin, t.section, t.status) for t in sim.tasks.values())
    assert asked == sorted(
        [
            (gstins[0], "B2B", "A"),
            (gstins[1], "B2B", "A"),
            (gstins[2], "B2B", "P"),
            (gstins[2], "B2BCN", "P"),
            (gstins[0], "ECOM", "A"),
        ]
    )
    assert result.manifest is None
    assert all(r.path is None for r in result.results)
    empty = await client.ims.download_many([])
    assert empty.results == ()


def test_a_job_is_checked_when_made() -> None:
    gstin = taxpayers(1)[0]
    job = DownloadJob(gstin, sections=["ecom", "B2B", "b2b"])
    assert job.sections == (ImsSection.B2B, ImsSection.ECOM)  # one order, no repeats
    assert (job.gstin, job.session, job.status, job.key) == (gstin, None, None, None)
    makers: list[Callable[[], object]] = [
        lambda: DownloadJob(42),  # type: ignore[arg-type]
        lambda: DownloadJob("24aaapi3182m002"),
        lambda: DownloadJob(gstin, sections=[]),
        lambda: DownloadJob(gstin, sections=["IMPG"]),
        lambda: DownloadJob(gstin, sections=7),  # type: ignore[arg-type]
        lambda: DownloadJob(gstin, status="X"),
        lambda: DownloadJob(gstin, key=" padded"),
        lambda: DownloadJob(gstin, key="x" * 201),
    ]
    for make in makers:
        with pytest.raises(InvalidInput):
            make()


async def test_every_job_is_checked_before_any_request(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    sim, client = await batch_client(make_sim, make_client, store)
    session = await open_gst(client, sim)
    no_store = await make_client(sim)
    before = dict(sim.calls)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: client.ims.download_many(sim.gstin), "not str"),
        (lambda: client.ims.download_many(session), "not GstSession"),
        (lambda: client.ims.download_many([session, 42]), r"jobs\[1\]: .*int"),  # type: ignore[list-item]
        (lambda: client.ims.download_many([session, "nope"]), r"jobs\[1\]: gstin"),
        (
            lambda: client.ims.download_many([DownloadJob(session), sim.gstin]),
            r"jobs\[0\] and jobs\[1\] have the same key '24AAAPI3182M002:ALL:ALL'",
        ),
        (
            lambda: client.ims.download_many(
                [DownloadJob(session, key="k"), DownloadJob(sim.gstin, key="k")]
            ),
            "same key 'k'",
        ),
        (lambda: client.ims.download_many([session], sections="IMPG"), "ImsSection"),
        (lambda: client.ims.download_many([session], status="Z"), "ImsStatus"),
        (lambda: client.ims.download_many([session], max_jobs=0), "max_jobs"),
        (lambda: client.ims.download_many([session], keep_results=False), "go nowhere"),
        (lambda: client.ims.download_many([session], on_progress="x"), "on_progress"),  # type: ignore[arg-type]
        (lambda: client.ims.download_many([session], refresh_margin=-1), "refresh_margin"),
        (lambda: client.ims.download_many([session], manifest=3), "manifest"),  # type: ignore[arg-type]
        (
            lambda: no_store.ims.download_many([session, taxpayers(1)[0]]),
            r"jobs\[1\].*session_store",
        ),
    ]
    for call, message in cases:
        with pytest.raises(InvalidInput, match=message):
            await call()
    assert dict(sim.calls) == before  # not one request
    assert not sim.tasks
    assert not (tmp_path / "manifest.json").exists()


# ------------------------------------------------------------------------------------------
# Concurrency
# ------------------------------------------------------------------------------------------


async def test_one_page_bound_for_the_whole_batch_and_max_jobs(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore
) -> None:
    # 8 taxpayers x 2 sections x 4 pages; each page answer takes 2 ms (real time)
    sim = await make_sim(
        records=RecordSettings(per_section=8),
        paging=PagingSettings(size=2),
        delays=DelaySettings(page=0.002),
    )
    client = await make_client(sim, session_store=store, max_concurrency=3)
    gstins = taxpayers(8)
    await open_all(client, sim, open_gst, gstins)
    sim.reset_counters()
    running_at_once: list[int] = []

    def watch(progress: BatchProgress) -> None:
        running_at_once.append(len(progress.running))

    result = await client.ims.download_many(
        gstins, sections=SECTIONS, max_jobs=3, on_progress=watch
    )

    assert len(result.completed) == 8
    assert sim.calls["task_page"] == 64
    assert sim.peak_pages_in_flight == 3  # reached, never exceeded, over the whole batch
    assert max(running_at_once) == 3  # max_jobs taxpayers at once, no more


# ------------------------------------------------------------------------------------------
# Progress and results
# ------------------------------------------------------------------------------------------


async def test_progress_reports_jobs_and_their_tasks(
    make_sim: Any,
    make_client: Any,
    open_gst: Any,
    store: FileSessionStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gstins = taxpayers(4)
    sim, client = await batch_client(
        make_sim, make_client, store, tasks=TaskSettings(failing_gstins={gstins[1]})
    )
    await open_all(client, sim, open_gst, gstins)
    reports: list[BatchProgress] = []

    def show(progress: BatchProgress) -> None:
        reports.append(progress)
        if len(reports) == 5:
            raise RuntimeError("a broken progress display")

    result = await client.ims.download_many(gstins, sections=SECTIONS, on_progress=show)

    assert len(result.completed) == 3  # the broken display stopped nothing
    assert "on_progress callback failed" in caplog.text
    assert (reports[0].job, reports[0].done, reports[0].total) == (None, 0, 4)
    done = [r.done for r in reports]
    assert done == sorted(done)
    last = reports[-1]
    assert (last.completed, last.failed, last.skipped, last.done) == (3, 1, 0, 4)
    assert not last.running
    seen = {p.task_id: p for r in reports for ps in r.running.values() for p in ps}
    assert set(seen) == set(sim.tasks)  # every task's progress was shown
    phases = {(p.section, p.phase) for r in reports for ps in r.running.values() for p in ps}
    assert {("b2b", "submitted"), ("b2bcn", "waiting"), ("b2b", "fetching")} <= phases
    for report in reports:
        for key, progresses in report.running.items():
            gstin = key.split(":")[0]
            assert all(sim.tasks[p.task_id].gstin == gstin for p in progresses)


async def test_results_only_on_disk_and_on_result(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(3)
    sim, client = await batch_client(make_sim, make_client, store)
    await open_all(client, sim, open_gst, gstins)
    handed: dict[str, int] = {}

    async def save(result: JobResult) -> None:
        await asyncio.sleep(0)
        assert result.invoices is not None  # the callback sees the records
        handed[result.gstin] = len(result.invoices)

    manifest = tmp_path / "run-1.json"  # a .json path is the manifest file itself
    result = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=manifest, keep_results=False, on_result=save
    )

    assert handed == dict.fromkeys(gstins, 6)
    assert manifest.is_file()
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600
    for done in result.completed:
        assert done.invoices is None  # not held in memory
        assert done.path is not None
        assert done.path.parent == tmp_path / "run-1.results"
        assert stat.S_IMODE(done.path.stat().st_mode) == 0o600
        assert done.load().to_dict() == expected(sim, done.gstin)

    # A result changed on disk is detected when loaded.
    damaged = result.completed[0]
    assert damaged.path is not None
    damaged.path.write_bytes(damaged.path.read_bytes().replace(b'"b2b"', b'"b2bx"'))
    with pytest.raises(ManifestError, match="changed since it was saved"):
        damaged.load()
    # A missing result makes a rerun fetch it again, from the same tasks (no new submit).
    gone = result.completed[1]
    assert gone.path is not None
    gone.path.unlink()
    sim.reset_counters()
    seen: list[str] = []
    rerun = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=manifest, on_result=lambda r: seen.append(r.gstin)
    )
    # (the damaged file changed size: a rerun checks sizes; load() checks the SHA-256)
    assert [r.gstin for r in rerun.completed] == [damaged.gstin, gone.gstin]  # job order
    assert sorted(seen) == sorted([gone.gstin, damaged.gstin])
    assert sim.calls["ims_submit"] == 0
    assert set(rerun[gone.key].task_ids.values()) == set(gone.task_ids.values())
    assert rerun[damaged.key].load().to_dict() == expected(sim, damaged.gstin)


async def test_a_failing_on_result_fails_only_that_job_and_the_rerun_reattaches(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(3)
    sim, client = await batch_client(make_sim, make_client, store)
    await open_all(client, sim, open_gst, gstins)

    def store_rows(result: JobResult) -> None:
        if result.gstin == gstins[1]:
            raise ConnectionError("the warehouse is down")

    first = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=tmp_path, on_result=store_rows
    )
    assert [r.gstin for r in first.failed] == [gstins[1]]
    assert isinstance(first.failed[0].error, ConnectionError)
    sim.reset_counters()
    second = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path)
    assert [r.gstin for r in second.completed] == [gstins[1]]
    assert sim.calls["ims_submit"] == 0  # its tasks had delivered: re-attached, not re-paid


# ------------------------------------------------------------------------------------------
# The manifest
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"kind": "flynn-async batch manifest", "format": 1, "jobs": ', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"jobs": {}}', "not a flynn-async batch manifest"),
        (b'{"kind": "flynn-async batch manifest", "format": 9, "jobs": {}}', "unknown format"),
        (b'{"kind": "flynn-async batch manifest", "format": 1, "jobs": []}', "no 'jobs'"),
        (
            b'{"kind": "flynn-async batch manifest", "format": 1, "jobs": {"k": {"gstin": '
            b'"24AAAPI3182M002", "sections": ["B2B"], "status": null, "state": "odd"}}}',
            "unknown state",
        ),
        (
            b'{"kind": "flynn-async batch manifest", "format": 1, "jobs": {"k": {"gstin": '
            b'"24AAAPI3182M002", "sections": ["B2B"], "status": null, "state": "completed", '
            b'"result": "../../etc/passwd", "size": 1, "sha256": "00", "records": {}}}}',
            "not a file name beside the manifest",
        ),
    ],
)
async def test_a_damaged_manifest_is_an_error_never_reset(
    make_sim: Any,
    make_client: Any,
    open_gst: Any,
    store: FileSessionStore,
    tmp_path: Path,
    content: bytes,
    message: str,
) -> None:
    sim, client = await batch_client(make_sim, make_client, store)
    session = await open_gst(client, sim)
    path = tmp_path / "manifest.json"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=message) as raised:
        await client.ims.download_many([session], manifest=tmp_path)
    assert raised.value.path == path
    assert str(path) in str(raised.value)
    assert path.read_bytes() == content  # left as it was
    assert sim.calls["ims_submit"] == 0


async def test_a_key_recorded_for_another_download_is_refused(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    sim, client = await batch_client(make_sim, make_client, store)
    session = await open_gst(client, sim)
    await client.ims.download_many([DownloadJob(session, key="mine")], manifest=tmp_path)
    sim.reset_counters()
    with pytest.raises(ManifestError, match="'mine' was recorded for another download"):
        await client.ims.download_many(
            [DownloadJob(session, key="mine", status="A")], manifest=tmp_path
        )
    assert sim.calls["ims_submit"] == 0


async def test_a_manifest_in_use_by_another_process_is_refused(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    sim, client = await batch_client(make_sim, make_client, store)
    session = await open_gst(client, sim)
    fd = os.open(tmp_path / "manifest.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another batch would hold it
        with pytest.raises(ManifestError, match="in use by another batch"):
            await client.ims.download_many([session], manifest=tmp_path)
        assert sim.calls["ims_submit"] == 0
    finally:
        os.close(fd)
    result = await client.ims.download_many([session], manifest=tmp_path, sections="B2B")
    assert len(result.completed) == 1


async def test_cancelling_the_batch_leaves_a_manifest_a_rerun_continues_from(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(8)
    sim, client = await batch_client(make_sim, make_client, store)
    await open_all(client, sim, open_gst, gstins)
    before = client_tasks()
    batch: asyncio.Task[Any] | None = None
    cut: list[BatchProgress] = []

    def cancel_part_way(progress: BatchProgress) -> None:
        # a job waiting for the server has its tasks on record (recorded before they are
        # polled) and cannot finish before the cancellation reaches it
        waiting = [t for ts in progress.running.values() for t in ts if t.phase == "waiting"]
        if not cut and progress.completed >= 3 and waiting:
            cut.append(progress)
            assert batch is not None
            batch.cancel()

    batch = asyncio.create_task(
        client.ims.download_many(
            gstins, sections=SECTIONS, manifest=tmp_path, max_jobs=3, on_progress=cancel_part_way
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await batch
    assert client_tasks() == before  # nothing left running
    assert cut
    assert len(cut[0].running) > 0  # jobs were cut in the middle

    document = read_manifest(tmp_path / "manifest.json")
    entries = document["jobs"]
    completed = {k for k, e in entries.items() if e["state"] == "completed"}
    interrupted = {k for k, e in entries.items() if e["state"] == "running"}
    assert len(completed) >= 3
    assert interrupted  # jobs were cut part way: their tasks are on record
    assert {key for key, tasks in cut[0].running.items() if tasks} <= interrupted | completed
    recorded = sum(len(e["task_ids"]) for e in entries.values())
    # Every task the simulator started is on record, even a submit that was on the wire
    # when the batch was cancelled (it is seen through first).
    assert recorded == len(sim.tasks)

    sim.reset_counters()
    rerun = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path, max_jobs=3)
    assert {r.key for r in rerun.skipped} == completed
    assert len(rerun.completed) == 8 - len(completed)
    assert sim.calls["ims_submit"] == 2 * 8 - recorded  # interrupted tasks were re-attached
    assert len(sim.tasks) == 2 * 8  # no task was ever paid for twice
    for done in rerun.results:
        assert done.load().to_dict() == expected(sim, done.gstin)


# ------------------------------------------------------------------------------------------
# Keys and file names
# ------------------------------------------------------------------------------------------


def test_default_keys() -> None:
    gstin = "24AAAPI3182M002"
    assert default_key(gstin, tuple(ImsSection), None) == f"{gstin}:ALL:ALL"
    assert default_key(gstin, (ImsSection.B2B, ImsSection.ECOMA), ImsStatus.PENDING) == (
        f"{gstin}:B2B+ECOMA:P"
    )


@given(st.lists(st.sampled_from([s.value.lower() for s in ImsSection]), min_size=1))
def test_a_jobs_sections_do_not_depend_on_their_order(names: list[str]) -> None:
    forward = DownloadJob("24AAAPI3182M002", sections=names)
    backward = DownloadJob("24AAAPI3182M002", sections=list(reversed(names)))
    assert forward == backward
    assert forward.sections is not None
    assert len(forward.sections) == len(set(names))


any_text = st.text(st.characters(exclude_categories=()), min_size=1, max_size=200)  # surrogates too


@given(any_text, any_text)
def test_result_file_names_are_safe_and_distinct(first: str, second: str) -> None:
    name = result_name(first)
    assert "/" not in name
    assert "\x00" not in name
    assert not name.startswith(".")
    assert name.endswith(".json")
    assert len(name.encode()) < 255
    assert name == result_name(first)
    if first != second:
        assert result_name(second) != name


async def test_no_session_id_in_logs_manifest_reprs_or_errors(
    make_sim: Any,
    make_client: Any,
    open_gst: Any,
    store: FileSessionStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gstins = taxpayers(3)
    sim, client = await batch_client(
        make_sim, make_client, store, tasks=TaskSettings(failing_gstins={gstins[0]})
    )
    sessions = await open_all(client, sim, open_gst, gstins)
    secrets = [s.session_id.reveal() for s in sessions]
    caplog.set_level("DEBUG", logger="flynn_async")
    jobs: list[DownloadJob | GstSession | str] = [DownloadJob(sessions[0]), sessions[1], gstins[2]]
    result = await client.ims.download_many(jobs, sections="B2B", manifest=tmp_path)
    with pytest.raises(BatchError) as raised:
        result.raise_for_failures()
    seen = [
        caplog.text,
        (tmp_path / "manifest.json").read_text(),
        repr(result),
        str(raised.value),
        repr(raised.value),
        *(repr(r.job) for r in result.results),
    ]
    assert "batch job" in caplog.text
    for secret in secrets:
        for text in seen:
            assert secret not in text


async def test_a_session_found_dead_when_refreshed_fails_its_jobs_as_needing_an_otp(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore
) -> None:
    wall = [time.time()]
    sim = await make_sim(**BATCH_SIM)
    client = await make_client(sim, session_store=store, wall_clock=lambda: wall[0])
    gstins = taxpayers(3)
    sessions = await open_all(client, sim, open_gst, gstins)
    dead = sessions[1]
    await client.gst.logout(dead)  # the portal ends it; the client is told nothing ...
    client.gst.adopt(dead)
    await store.save(dead)  # ... and the store still holds it
    wall[0] += 5.8 * 3600  # due for a refresh: the refresh finds it dead
    jobs = [DownloadJob(s, sections=[section]) for s in sessions for section in SECTIONS]

    result = await client.ims.download_many(jobs, max_jobs=2)

    assert len(result.completed) == 4
    assert {r.gstin for r in result.failed} == {dead.gstin}
    assert {type(r.error) for r in result.failed} == {GstSessionExpired}
    assert result.needs_otp() == [dead.gstin]
    assert await store.load(dead.gstin) is None  # a dead session is not kept
    assert not [t for t in sim.tasks.values() if t.gstin == dead.gstin]


# ------------------------------------------------------------------------------------------
# Reruns of failed jobs: no task paid for twice, no page fetched twice
# ------------------------------------------------------------------------------------------


async def test_a_rerun_of_jobs_that_failed_after_their_tasks_completed_submits_nothing(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(6)
    # every page request fails: each job's tasks complete, then its page retries run out
    sim, client = await batch_client(
        make_sim, make_client, store, faults=FaultSettings(routes=["task_page"], error_rate=1.0)
    )
    await open_all(client, sim, open_gst, gstins)
    handed: list[tuple[ImsSection, str]] = []
    first = await client.ims.download_many(
        gstins,
        sections=SECTIONS,
        manifest=tmp_path,
        on_submitted=lambda section, task_id: handed.append((section, task_id)),
    )
    assert len(first.failed) == 6
    assert {type(r.error) for r in first.failed} == {PagesMissing}
    assert {t for _, t in handed} == set(sim.tasks)  # the batch handed every task id over
    # a job stops at its first failed section: its other task may still be processing then
    states = [t.state for t in sim.tasks.values()]
    assert set(states) <= {"completed", "processing"}
    assert "completed" in states
    for failure in first.failed:
        assert failure.error is not None
        assert set(getattr(failure.error, "task_ids", {}).values()) <= set(sim.tasks)
    entries = read_manifest(tmp_path / "manifest.json")["jobs"]
    assert sum(len(e["task_ids"]) for e in entries.values()) == 12  # every task kept
    assert all(len(e["submitted_at"]) == 2 for e in entries.values())

    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, error_rate=0.0))
    sim.reset_counters()
    second = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path)
    assert len(second.completed) == 6
    assert sim.calls["ims_submit"] == 0  # re-attached to the completed tasks: nothing re-paid
    assert len(sim.tasks) == 12
    for done in second.completed:
        assert done.load().to_dict() == expected(sim, done.gstin)


async def test_a_rerun_submits_afresh_only_tasks_that_failed_are_unknown_or_too_old(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(4)
    sim, client = await batch_client(
        make_sim, make_client, store, faults=FaultSettings(routes=["task_page"], error_rate=1.0)
    )
    await open_all(client, sim, open_gst, gstins)
    first = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path)
    assert len(first.failed) == 4
    path = tmp_path / "manifest.json"
    document = read_manifest(path)
    entries = document["jobs"]
    keys = sorted(entries)
    # job 0: its B2B task failed on the server since; job 1: the server does not know its B2B
    # task (404); job 2: its B2B task is 8 days old; job 3: untouched
    sim.tasks[entries[keys[0]]["task_ids"]["B2B"]].state = "failed"
    entries[keys[1]]["task_ids"]["B2B"] = "0b0e0f00-0000-4000-8000-000000000000"
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat(timespec="seconds")
    entries[keys[2]]["submitted_at"]["B2B"] = old
    path.write_text(json.dumps(document))

    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, error_rate=0.0))
    sim.reset_counters()
    second = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path)
    assert len(second.completed) == 4
    assert sim.calls["ims_submit"] == 3  # one B2B each for jobs 0, 1 and 2
    new_b2b = {t.gstin for t in list(sim.tasks.values())[8:]}
    assert new_b2b == {entries[k]["gstin"] for k in keys[:3]}
    for done in second.completed:
        assert done.load().to_dict() == expected(sim, done.gstin)
    assert second[keys[3]].task_ids == first[keys[3]].task_ids


async def test_a_batch_with_a_manifest_checkpoints_pages_beside_it(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(2)
    sim, client = await batch_client(make_sim, make_client, store)
    await open_all(client, sim, open_gst, gstins)
    seen: list[Path] = []

    def look(progress: BatchProgress) -> None:
        pages = tmp_path / "manifest.pages"
        if pages.is_dir():
            seen.extend(pages.rglob("page-*.json"))

    result = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=tmp_path, on_progress=look
    )
    assert len(result.completed) == 2
    assert seen  # pages were written under <manifest>.pages while jobs ran ...
    assert not list((tmp_path / "manifest.pages").rglob("page-*.json"))  # ... and cleared
    off = tmp_path / "off"
    await client.ims.download_many(gstins, sections=SECTIONS, manifest=off, checkpoint_dir=False)
    assert not (off / "manifest.pages").exists()
    with pytest.raises(InvalidInput, match="checkpoint_dir"):
        await client.ims.download_many(gstins, manifest=off, checkpoint_dir=True)


#: A batch in its own process: prints the pages handed on so far after every progress report.
KILLED_BATCH = """
import asyncio, sys
from flynn_async import Credentials, FileSessionStore, FlynnClient, PollPolicy

base_url, login_url, handle, password, sessions, manifest, *gstins = sys.argv[1:]

def progress(report):
    done = sum(p.pages_done for tasks in report.running.values() for p in tasks)
    print(report.completed, done, flush=True)

async def main():
    client = FlynnClient(
        Credentials(handle=handle, password=password),
        base_url=base_url,
        login_url=login_url,
        session_store=FileSessionStore(sessions),
        poll=PollPolicy(initial_delay=0.01, max_delay=0.05),
        max_concurrency=2,
    )
    async with client:
        await client.ims.download_many(
            gstins, sections=["B2B", "B2BCN"], manifest=manifest, max_jobs=2,
            on_progress=progress,
        )

asyncio.run(main())
"""


async def test_a_batch_killed_mid_run_fetches_only_the_missing_pages_on_rerun(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(4)
    # 10 pages a task, 20 a job; pages come slowly so that the kill lands while jobs fetch
    sim, client = await batch_client(
        make_sim,
        make_client,
        store,
        records=RecordSettings(per_section=40),
        paging=PagingSettings(size=4),
        tasks=TaskSettings(processing_polls=0),
        delays=DelaySettings(page=0.01),
    )
    await open_all(client, sim, open_gst, gstins)
    script = tmp_path / "batch.py"
    script.write_text(KILLED_BATCH)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        sim.base_url,
        sim.login_url,
        USER_HANDLE,
        USER_PASSWORD,
        str(store.directory),
        str(tmp_path / "run"),
        *gstins,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    fetched = 0
    try:
        while fetched < 12:  # well into the first two jobs, none of them done (20 pages each)
            line = await proc.stdout.readline()
            assert line, (await proc.stderr.read()).decode() if proc.stderr else ""
            completed, fetched = map(int, line.split())
        proc.kill()  # SIGKILL: no cleanup at all
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        await proc.communicate()
    # killed before its batch ended; once under load the status read back as 255 rather than
    # -SIGKILL (asyncio's report when it cannot collect a child's status), so any failure counts
    assert proc.returncode != 0
    assert completed == 0
    pages_dir = tmp_path / "run" / "manifest.pages"
    kept = len(list(pages_dir.rglob("page-*.json")))
    assert kept >= 12  # every page handed on was on disk first
    submitted = len(sim.tasks)

    sim.reset_counters()
    rerun = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=tmp_path / "run", max_jobs=2
    )
    assert len(rerun.completed) == 4
    assert sim.calls["ims_submit"] == 8 - submitted  # the killed run's tasks re-attached
    assert sim.calls["task_page"] == 8 * 10 - kept  # only the pages not on disk
    for done in rerun.completed:
        assert done.load().to_dict() == expected(sim, done.gstin)


async def test_a_rerun_whose_tasks_are_all_recorded_needs_no_gst_session(
    make_sim: Any, make_client: Any, open_gst: Any, store: FileSessionStore, tmp_path: Path
) -> None:
    gstins = taxpayers(2)
    sim, client = await batch_client(
        make_sim, make_client, store, faults=FaultSettings(routes=["task_page"], error_rate=1.0)
    )
    await open_all(client, sim, open_gst, gstins)
    stored: list[str] = []

    async def store_id(section: ImsSection, task_id: str) -> None:  # an async on_submitted
        stored.append(task_id)

    first = await client.ims.download_many(
        gstins, sections=SECTIONS, manifest=tmp_path, on_submitted=store_id
    )
    assert len(first.failed) == 2
    assert sorted(stored) == sorted(sim.tasks)  # awaited for every task
    for gstin in gstins:
        await client.gst.forget(gstin)  # no session to restore any more
        assert await store.load(gstin) is None

    sim.config = sim.config.replace(faults=attrs.evolve(sim.config.faults, error_rate=0.0))
    sim.reset_counters()
    second = await client.ims.download_many(gstins, sections=SECTIONS, manifest=tmp_path)
    assert len(second.completed) == 2  # re-attached to every task: no session was needed
    assert sim.calls["ims_submit"] == 0
    for done in second.completed:
        assert done.load().to_dict() == expected(sim, done.gstin)


# ----------------------------------------------------------------------------------------------
# The package loads its runner on first use (import time)
# ----------------------------------------------------------------------------------------------


def test_the_runner_is_imported_on_first_use_not_with_the_package() -> None:
    first, after = modules_imported("from flynn_async.batch import DownloadJob")
    assert "flynn_async.batch" in first
    assert "flynn_async.batch._runner" not in first
    assert "flynn_async.batch._runner" in after


def test_every_public_name_of_the_package_resolves() -> None:
    from flynn_async import batch
    from flynn_async.batch import _runner

    assert set(batch._LAZY.values()) == {"_runner"}
    homes = dict.fromkeys(batch._LAZY, _runner)
    assert set(batch.__all__) - {"BatchImsApi", "DEFAULT_MAX_JOBS"} <= set(batch._LAZY)
    check_every_name_resolves(batch, homes)
