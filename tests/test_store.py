"""The GST session store: private files, atomic writes, per-GSTIN locks, expiry."""

from __future__ import annotations

import asyncio
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flynn_async import GstSession, InvalidInput, Secret
from flynn_async._core._files import STATE_DIR_ENV, state_dir
from flynn_async.gst._store import FileSessionStore, SessionStore

GSTIN = "24AAAPI3182M002"


def make_session(age: timedelta = timedelta(0), sid: str = "SESSION-MARKER-1") -> GstSession:
    return GstSession(GSTIN, "demo-user", Secret(sid), datetime.now(UTC) - age)


async def test_a_saved_session_loads_back_equal(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    assert isinstance(store, SessionStore)
    assert await store.load(GSTIN) is None
    session = make_session()
    await store.save(session)
    assert session == await store.load(GSTIN)


async def test_files_are_owner_only_and_written_whole(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path / "sessions")
    await store.save(make_session())
    await store.save(make_session(sid="SESSION-MARKER-2"))
    assert stat.S_IMODE(os.stat(tmp_path / "sessions").st_mode) == 0o700
    files = sorted(p.name for p in (tmp_path / "sessions").iterdir())
    assert [f"{GSTIN}.json"] == files  # no temporary file left behind
    assert stat.S_IMODE(os.stat(tmp_path / "sessions" / f"{GSTIN}.json").st_mode) == 0o600
    loaded = await store.load(GSTIN)
    assert loaded is not None
    assert loaded.session_id.reveal() == "SESSION-MARKER-2"


async def test_a_lapsed_session_is_not_returned(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.save(make_session(age=timedelta(hours=7)))
    assert await store.load(GSTIN) is None


async def test_delete_forgets_the_session(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.save(make_session())
    await store.delete(GSTIN)
    await store.delete(GSTIN)  # twice is fine
    assert await store.load(GSTIN) is None


async def test_a_damaged_file_is_refused_without_showing_its_content(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    (tmp_path / f"{GSTIN}.json").write_text('{"format": 1, "session_id": "SECRET-MARKER"')
    with pytest.raises(InvalidInput) as info:
        await store.load(GSTIN)
    assert "SECRET-MARKER" not in str(info.value)


async def test_bad_gstins_are_refused(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    for bad in ("../../etc/passwd", "24aaapi3182m002", ""):
        with pytest.raises(InvalidInput):
            await store.load(bad)


async def test_the_lock_serialises_holders(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    order: list[str] = []
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with store.lock(GSTIN):
            order.append("first in")
            first_in.set()
            await release.wait()
            order.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with store.lock(GSTIN):
            order.append("second in")

    holders = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_in.wait()
    for _ in range(5):  # the second holder polls and must not get in meanwhile
        await asyncio.sleep(0)
    assert order == ["first in"]
    release.set()
    await asyncio.gather(*holders)
    assert order == ["first in", "first out", "second in"]


async def test_the_repr_shows_no_secret(tmp_path: Path) -> None:
    store = FileSessionStore(tmp_path)
    await store.save(make_session())
    assert "SESSION-MARKER" not in repr(store)
    assert "SESSION-MARKER" not in repr(await store.load(GSTIN))


def test_state_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "state"))
    assert tmp_path / "state" == state_dir()
    assert tmp_path / "x" == state_dir(tmp_path / "x")
    monkeypatch.delenv(STATE_DIR_ENV)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert tmp_path / "xdg" / "flynn-async" == state_dir()
    assert tmp_path / "xdg" / "flynn-async" / "sessions" == FileSessionStore().directory
