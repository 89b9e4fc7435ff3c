"""Checkpointed downloads: a download stopped part way resumes from its task id and its pages
on disk, fetching only what is missing, and returns the same result."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from flynn_async import FlynnClient, GstSession, InvalidInput, Progress, ResponseError
from flynn_async._tasks._checkpoint import Checkpoint
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

pytestmark = pytest.mark.sim(
    records=RecordSettings(per_section=40), paging=PagingSettings(size=4)
)  # 10 pages per section


async def _download_until(
    client: FlynnClient, session: GstSession, directory: Path, stop_after: int
) -> str:
    """Start a B2B download and cancel it once ``stop_after`` pages were handed on."""
    task_ids: list[str] = []
    runner: asyncio.Task[object] | None = None

    def progress(report: Progress) -> None:
        if report.task_id not in task_ids:
            task_ids.append(report.task_id)
        if report.phase == "fetching" and report.pages_done >= stop_after and runner:
            runner.cancel()

    runner = asyncio.create_task(
        client.ims.download(session, section="B2B", on_progress=progress, checkpoint_dir=directory)
    )
    with pytest.raises(asyncio.CancelledError):
        await runner
    return task_ids[0]


async def test_a_stopped_download_resumes_fetching_only_missing_pages(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    make_client: Any,
    tmp_path: Path,
) -> None:
    # one request at a time, so that pages are still missing when the download stops
    slow = await make_client(max_concurrency=1)
    task_id = await _download_until(slow, session, tmp_path, stop_after=3)
    stored = Checkpoint(tmp_path, task_id).stored_pages()
    assert len(stored) >= 3
    assert len(stored) < 10
    submitted = sim.calls["ims_submit"]
    fetched_before = sim.calls["task_page"]

    resumed = await client.ims.resume(session, task_id, checkpoint_dir=tmp_path)

    assert submitted == sim.calls["ims_submit"]  # no new task
    assert 10 - len(stored) == sim.calls["task_page"] - fetched_before
    assert sim.expected_records(sim.gstin, "B2B") == resumed.to_dict()["b2b"]
    assert list(range(10)) == Checkpoint(tmp_path, task_id).stored_pages()


async def test_a_second_process_resumes_from_the_checkpoint_alone(
    sim: FlynnSimulator,
    client: FlynnClient,
    session: GstSession,
    make_client: object,
    tmp_path: Path,
) -> None:
    full = await client.ims.download(session, section="B2B", checkpoint_dir=tmp_path)
    task_id = next(iter(sim.tasks))
    fetched = sim.calls["task_page"]

    other = await make_client()  # type: ignore[operator]
    task = other.ims.task(task_id, checkpoint_dir=tmp_path)
    again = await task.result()

    assert fetched == sim.calls["task_page"]  # every page came from disk
    assert task.pages_from_checkpoint == 10
    assert full == again


async def test_a_damaged_page_file_is_fetched_again(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, tmp_path: Path
) -> None:
    full = await client.ims.download(session, section="B2B", checkpoint_dir=tmp_path)
    task_id = next(iter(sim.tasks))
    checkpoint = Checkpoint(tmp_path, task_id)
    victim = next(p for p in checkpoint.path.iterdir() if p.name.startswith("page-000003"))
    victim.write_bytes(victim.read_bytes().replace(b'"b2b"', b'"b2c"'))  # same length, altered
    fetched = sim.calls["task_page"]

    task = client.ims.task(task_id, checkpoint_dir=tmp_path)
    again = await task.result()

    assert sim.calls["task_page"] - fetched == 1
    assert task.pages_from_checkpoint == 9
    assert full == again
    assert list(range(10)) == checkpoint.stored_pages()


async def test_checkpoint_files_are_private(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, tmp_path: Path
) -> None:
    await client.ims.download(session, section="B2B", checkpoint_dir=tmp_path)
    directory = Checkpoint(tmp_path, next(iter(sim.tasks))).path
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for entry in directory.iterdir():
        assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


async def test_a_changed_page_count_is_refused(tmp_path: Path) -> None:
    checkpoint = Checkpoint(tmp_path, "task-1")
    await checkpoint.set_page_count(5)
    await checkpoint.set_page_count(5)
    with pytest.raises(ResponseError, match="5"):
        await checkpoint.set_page_count(6)
    assert checkpoint.page_count() == 5


async def test_resume_checks_its_inputs_before_any_request(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession, tmp_path: Path
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput):
        await client.ims.resume(session, "../etc", checkpoint_dir=tmp_path)
    with pytest.raises(InvalidInput):
        await client.ims.resume("not a session", "abc")  # type: ignore[arg-type]
    assert before == dict(sim.calls)


async def test_reads_list_the_directory_once(tmp_path: Path) -> None:
    writer = Checkpoint(tmp_path, "task-1")
    bodies = [b'{"status": "1", "data": {"b2b": [], "n": %d}}' % i for i in range(5)]
    for index, body in enumerate(bodies):
        await writer.write(index, body)
    reader = Checkpoint(tmp_path, "task-1")
    scans: list[int] = []
    listing = reader._pages_on_disk

    def counting() -> dict[int, Path]:
        scans.append(1)
        return listing()

    reader._pages_on_disk = counting  # type: ignore[method-assign]
    assert bodies == [await reader.read(i) for i in range(5)]
    assert await reader.read(5) is None
    await reader.write(5, b"{}")
    assert b"{}" == await reader.read(5)  # its own write is known without a new listing
    assert 1 == len(scans)
