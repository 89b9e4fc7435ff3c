"""Temporary files of interrupted atomic writes are removed when the library next writes in
their directory (state dir, checkpoints, export target), once older than an hour."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from flynn_async import FileSessionStore, GstSession, Secret, export
from flynn_async._core._files import STALE_TEMP_SECONDS, remove_stale_temporaries, write_atomic
from flynn_async._tasks._checkpoint import Checkpoint
from flynn_async.ims import ImsInvoices

TASK = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f"


def leave_temporaries(directory: Path) -> tuple[Path, Path, Path]:
    """A stale and a fresh temporary file as a killed write leaves them, and a user's file."""
    directory.mkdir(parents=True, exist_ok=True)
    stale = directory / ".out.json.0123456789abcdef.tmp"
    fresh = directory / ".out.json.fedcba9876543210.tmp"
    mine = directory / ".notes.tmp"  # not a name the library makes: never touched
    for path in (stale, fresh, mine):
        path.write_bytes(b"half")
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    return stale, fresh, mine


def test_old_temporaries_go_young_ones_and_other_files_stay(tmp_path: Path) -> None:
    stale, fresh, mine = leave_temporaries(tmp_path / "d")
    assert remove_stale_temporaries(tmp_path / "d") == [stale]
    assert not stale.exists()
    assert fresh.exists()
    assert mine.exists()
    # with a clock two hours on, the young one is stale too
    later = time.time() + 2 * STALE_TEMP_SECONDS
    assert remove_stale_temporaries(tmp_path / "d", wall_clock=lambda: later) == [fresh]
    assert mine.exists()
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_a_write_sweeps_its_directory(tmp_path: Path) -> None:
    stale, fresh, mine = leave_temporaries(tmp_path / "state")
    write_atomic(tmp_path / "state" / "x.json", b"{}")
    assert not stale.exists()
    assert fresh.exists()
    assert mine.exists()
    assert (tmp_path / "state" / "x.json").read_bytes() == b"{}"


def test_sessions_checkpoints_and_exports_sweep_where_they_write(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    pages = tmp_path / "pages"
    target = tmp_path / "out"
    left = [leave_temporaries(d)[0] for d in (sessions, pages / TASK, target)]

    async def write() -> None:
        store = FileSessionStore(sessions)
        await store.save(GstSession("24AAAPI3182M002", "u", Secret("s"), datetime.now(UTC)))
        await Checkpoint(pages, TASK).write(0, b"{}")

    asyncio.run(write())
    export.export(ImsInvoices(), target / "invoices.json", "json")
    assert [p.exists() for p in left] == [False, False, False]
