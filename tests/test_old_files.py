"""Files written by flynn-async 0.1 (the flat layout, before the layer packages) still load.

``tests/data/v0_1/`` was written by that version (``sessions/``, ``tokens/``, ``pages/`` for a
checkpoint, ``batch/`` for a batch manifest and its saved result) and is kept as it was.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flynn_async import Checkpoint, FileSessionStore, FileTokenStore, FlynnClient
from flynn_async.batch import JobState
from flynn_async.ims import ImsSection
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

OLD = Path(__file__).parent / "data" / "v0_1"
GSTIN = "27AAAPI3182M002"
TOKEN_KEY = "https://login.example/authtokens|me@example.com|org-1"
TASK_ID = "0f8a6a3e-1111-4222-8333-944445555666"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy of the old files (the code under test may write beside them)."""
    shutil.copytree(OLD, tmp_path / "v0_1")
    return tmp_path / "v0_1"


async def test_an_old_session_file_loads(old: Path) -> None:
    opened = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store = FileSessionStore(old / "sessions", wall_clock=lambda: opened.timestamp() + 60)
    session = await store.load(GSTIN)
    assert session is not None
    assert (GSTIN, "taxpayer-user", opened) == (
        session.gstin,
        session.username,
        session.created_at,
    )
    assert "old-format-session-id" == session.session_id.reveal()


async def test_an_old_session_file_lapses_by_the_injected_clock(old: Path) -> None:
    late = datetime(2026, 1, 2, 9, 5, tzinfo=UTC).timestamp()  # 6 hours and a minute on
    store = FileSessionStore(old / "sessions", wall_clock=lambda: late)
    assert await store.load(GSTIN) is None


async def test_an_old_token_file_loads(old: Path) -> None:
    stored = await FileTokenStore(old / "tokens").load(TOKEN_KEY)
    assert stored is not None
    assert "old-format-token" == stored.token.reveal()
    assert ("org-1", 1200.0, 1767323045.0, 1767323045.0) == (
        stored.org_id,
        stored.duration,
        stored.received_at,
        stored.login_at,
    )


async def test_an_old_checkpoint_loads(old: Path) -> None:
    checkpoint = Checkpoint(old / "pages", TASK_ID)
    assert 2 == checkpoint.page_count()
    assert [0, 1] == checkpoint.stored_pages()
    assert b'{"status":"1","data":{"b2b":[]}}' == await checkpoint.read(1)


async def test_an_old_batch_manifest_is_resumed_without_a_new_task(old: Path) -> None:
    # the manifest was written by a batch against this simulator (same seed and sizes)
    async with FlynnSimulator(
        records=RecordSettings(per_section=3, seed=7), paging=PagingSettings(size=2)
    ) as sim:
        async with FlynnClient(
            sim.credentials, base_url=sim.base_url, login_url=sim.login_url
        ) as client:
            otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
            session = await client.gst.verify_otp(otp_request, sim.otp)
            result = await client.ims.download_many(
                [session],
                sections=[ImsSection.B2B, ImsSection.ECOM],
                manifest=old / "batch",
                checkpoint_dir=False,
            )
        assert 0 == sim.calls["ims_submit"]  # the completed job is read back, not redone
        [job] = result.results
        assert JobState.SKIPPED == job.state  # done in the earlier run: its result is on disk
        invoices = job.load()
        assert sim.expected_records(sim.gstin, "B2B") == invoices.to_dict()["b2b"]
        assert sim.expected_records(sim.gstin, "ECOM") == invoices.to_dict()["ecom"]
