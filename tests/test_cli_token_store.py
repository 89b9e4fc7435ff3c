"""The CLI keeps one login token in the state directory: killed runs never lock a user out.

Real processes: ``simulator serve`` in one, then ``gst otp``, then ``ims download`` runs each
killed with SIGKILL mid-download (after it has its token), then ``login``: it works (the
simulator allows 10 live tokens per user). ``logout`` revokes the stored token.

The default run kills two downloads with the server one token short of its limit (the test
holds the other tokens itself): a killed run that had logged in anew would leave ``login`` no
token to take. The ``slow`` run kills ten, the limit, with no tokens held by the test.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import aiohttp
import pytest

from flynn_async import FileTokenStore, Secret, StoredToken
from flynn_async._http import _api

#: The most live login tokens the simulator (and Flynn) allows one user.
LIMIT = _api.MAX_LIVE_TOKENS


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("FLYNN_", "XDG_STATE"))}


def _readline(stream: IO[str] | None, what: str) -> str:
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], 60)  # a safety bound, not a wait
    line = stream.readline() if ready else ""
    if not line:
        raise AssertionError(f"no line from {what}")
    return line


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A simulator in a second process whose tasks stay 'processing' (downloads never end)."""
    command = [
        *(sys.executable, "-m", "flynn_async", "simulator", "serve", "--port", "0"),
        *("--records", "10", "--processing-polls", "1000000"),
    ]
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=_base_env()
        )
    try:
        line = _readline(proc.stdout, "simulator serve")
        yield dict(word.split("=", 1) for word in line.split())
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


def _cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flynn_async", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(server: dict[str, str], state: Path) -> dict[str, str]:
    keys = ("FLYNN_BASE_URL", "FLYNN_LOGIN_URL", "FLYNN_HANDLE", "FLYNN_PASSWORD")
    return {**_base_env(), **{k: server[k] for k in keys}, "FLYNN_ASYNC_STATE_DIR": str(state)}


def _otp_stores_one_token(server: dict[str, str], env: dict[str, str], state: Path) -> None:
    """``gst otp`` logs in once and keeps the token, private, without the password."""
    otp = _cli(
        *("gst", "otp", "--gstin", server["FLYNN_GSTIN"]),
        *("--username", server["FLYNN_GST_USERNAME"], "-v"),
        env=env,
        stdin=server["FLYNN_SIM_OTP"] + "\n",
    )
    assert 0 == otp.returncode, otp.stderr
    assert "logged in as" in otp.stderr
    tokens = list((state / "tokens").glob("*.json"))
    assert 1 == len(tokens)
    assert 0o600 == tokens[0].stat().st_mode & 0o777
    assert 0o700 == (state / "tokens").stat().st_mode & 0o777
    assert server["FLYNN_PASSWORD"] not in tokens[0].read_text()  # never the password
    stored = json.loads(tokens[0].read_text())["token"]
    assert stored not in otp.stderr  # never logged


def _killed_downloads(count: int, env: dict[str, str], gstin: str, out: Path) -> int:
    """Start ``ims download`` ``count`` times, SIGKILL each once it runs; how many reused."""
    reused = 0
    for _ in range(count):
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "flynn_async", "ims", "download", "--gstin", gstin),
                *("--out", str(out), "--poll-interval", "0.01", "-v"),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            while True:  # until it holds a token and has started the download
                line = _readline(proc.stderr, "ims download")
                if "reusing the stored login token" in line:
                    reused += 1
                if "logged in" in line or "reusing" in line:
                    break
            assert proc.stderr is not None
            _readline(proc.stderr, "ims download")  # one more line: the download is running
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
        assert -signal.SIGKILL == proc.returncode
    return reused


def _logout(env: dict[str, str], state: Path) -> None:
    """``logout`` revokes the stored token and removes it; then there is none."""
    logout = _cli("logout", env={k: v for k, v in env.items() if k != "FLYNN_PASSWORD"})
    assert 0 == logout.returncode, logout.stderr
    assert "is logged out" in logout.stdout
    assert [] == list((state / "tokens").glob("*.json"))
    again = _cli("logout", env=env)
    assert "no login token" in again.stdout


async def _logins(server: dict[str, str], count: int) -> list[str | None]:
    """Log in ``count`` times over HTTP: each new token, or None where the server refused."""
    body = {
        "handle": server["FLYNN_HANDLE"],
        "handleType": "email",
        "password": server["FLYNN_PASSWORD"],
    }
    tokens: list[str | None] = []
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            async with http.post(server["FLYNN_LOGIN_URL"] + _api.LOGIN_ROUTE, json=body) as got:
                answer = await got.json()
                if got.status == 401 and _api.ERR_TOKEN_LIMIT in str(answer):
                    tokens.append(None)
                else:
                    assert 200 == got.status, answer
                    tokens.append(answer["data"]["token"])
    return tokens


async def _logouts(server: dict[str, str], tokens: list[str | None]) -> None:
    """Log the given tokens out over HTTP."""
    async with aiohttp.ClientSession() as http:
        for token in tokens:
            if token is not None:
                url = server["FLYNN_LOGIN_URL"] + _api.LOGOUT_ROUTE
                headers = {"Authorization": f"Bearer {token}"}
                async with http.post(url, headers=headers) as got:
                    assert 200 == got.status, await got.text()


def test_killed_downloads_reuse_the_token_so_a_login_works_at_the_limit(
    server: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = _env(server, state)
    _otp_stores_one_token(server, env, state)
    # with the stored token, LIMIT - 1 live: one left for whichever run logs in next
    held = asyncio.run(_logins(server, LIMIT - 2))
    assert None not in held
    try:
        assert 2 == _killed_downloads(2, env, server["FLYNN_GSTIN"], tmp_path / "out.json")
        login = _cli("login", env=env)  # it takes the last token (and logs it out again)
        assert 0 == login.returncode, login.stderr
        # the count was exact: one token was free, and then none
        edge = asyncio.run(_logins(server, 2))
        held += edge
        assert [True, False] == [token is not None for token in edge]
    finally:
        asyncio.run(_logouts(server, held))
    _logout(env, state)


@pytest.mark.slow
def test_ten_killed_downloads_leave_the_user_able_to_log_in(
    server: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = _env(server, state)
    _otp_stores_one_token(server, env, state)
    reused = _killed_downloads(LIMIT, env, server["FLYNN_GSTIN"], tmp_path / "out.json")
    assert LIMIT == reused  # every killed run reused the one stored token
    login = _cli("login", env=env)  # a fresh login: not locked out
    assert 0 == login.returncode, login.stderr
    _logout(env, state)


async def test_the_file_store_round_trips_and_hides_the_token(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens")
    token = StoredToken(Secret("secret-token-value"), "org-1", 1200.0, 1.5e9, 1.5e9 - 60)
    assert await store.load("k") is None
    await store.save("k", token)
    assert token == await store.load("k")
    assert await store.load("other key") is None
    assert "secret-token-value" not in repr(token)
    assert "secret-token-value" not in repr(store)
    await store.delete("k")
    await store.delete("k")  # a no-op
    assert await store.load("k") is None
