"""Processes sharing a login token through a TokenStore: reused, refreshed in place, kept live
on leaving, revoked by ``logout_stored_token``; never a second token when one is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flynn_async import FileTokenStore, FlynnClient, InvalidInput, TokenStore
from flynn_async.testing import FlynnSimulator


async def test_a_second_client_reuses_the_stored_token(
    sim: FlynnSimulator, make_client: Any, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    assert isinstance(store, TokenStore)
    first: FlynnClient = await make_client(token_store=store)
    second: FlynnClient = await make_client(token_store=store)
    assert 1 == sim.calls["login"]  # the second one took the stored token
    assert 1 == sim.live_tokens
    assert first.org_id == second.org_id
    await first.aclose()
    await second.aclose()
    assert 1 == sim.live_tokens  # kept live in the store for the next process
    assert 0 == sim.calls["token_logout"]

    third: FlynnClient = await make_client(token_store=store, start=False)
    assert await third.logout_stored_token()  # without starting: no login
    assert 1 == sim.calls["login"]
    assert 0 == sim.live_tokens
    assert not await third.logout_stored_token()


async def test_a_token_refreshed_by_another_process_is_taken_from_the_store(
    sim: FlynnSimulator, make_client: Any, tmp_path: Path, open_gst: Any
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    first: FlynnClient = await make_client(token_store=store)
    second: FlynnClient = await make_client(token_store=store)
    sim.expire_tokens()
    await open_gst(first, sim)  # refreshes: the shared token is replaced on the server
    assert 1 == sim.calls["token_refresh"]
    await open_gst(second, sim)  # its token is now invalid: it takes the refreshed one
    assert 1 == sim.calls["login"]
    assert 1 == sim.calls["token_refresh"]
    assert 1 == sim.live_tokens


async def test_a_revoked_stored_token_leads_to_one_new_login(
    sim: FlynnSimulator, make_client: Any, tmp_path: Path, open_gst: Any
) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    client: FlynnClient = await make_client(token_store=store)
    other: FlynnClient = await make_client(token_store=store, start=False)
    assert await other.logout_stored_token()
    assert 0 == sim.live_tokens
    await open_gst(client, sim)  # err-invalid-token: a new login, saved
    assert 2 == sim.calls["login"]
    assert 1 == sim.live_tokens
    await client.aclose()
    assert 1 == sim.live_tokens  # the new token is the stored one: kept


async def test_without_a_store_leaving_logs_out(sim: FlynnSimulator, make_client: Any) -> None:
    client: FlynnClient = await make_client()
    assert not await client.logout_stored_token()
    await client.aclose()
    assert 0 == sim.live_tokens


def test_a_store_must_implement_the_protocol(sim: FlynnSimulator) -> None:
    with pytest.raises(InvalidInput, match="token_store"):
        FlynnClient(
            sim.credentials,
            base_url=sim.base_url,
            login_url=sim.login_url,
            token_store=object(),  # type: ignore[arg-type]
        )


async def test_a_damaged_token_file_is_a_clear_error_without_its_content(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    path = store._path("k", ".json")
    path.write_text('{"format": 1, "key": "k", "token": 12345}')
    with pytest.raises(InvalidInput, match="not a valid token file") as info:
        await store.load("k")
    assert "12345" not in str(info.value)


async def test_a_damaged_token_file_leaves_no_token_in_traceback_locals(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path)
    document = {"format": 1, "key": "k", "token": "tok-MARKER-77", "org_id": "o"}
    store._path("k", ".json").write_text(json.dumps(document))  # no duration
    with pytest.raises(InvalidInput) as info:
        await store.load("k")
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    assert any(f.f_code.co_name == "_decode" for f in frames)
    for frame in frames:
        if "flynn_async" in frame.f_code.co_filename:
            assert "tok-MARKER-77" not in repr(frame.f_locals)
