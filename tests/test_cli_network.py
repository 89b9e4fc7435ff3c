"""Real networks: proxies from the environment, plain ``http://`` by explicit choice only, and
the request timeout, for :class:`~flynn_async.FlynnClient` and the command line.

A tiny forward proxy (an ``aiohttp.web`` app on loopback that counts what passes through it
and forwards it to the simulator) shows whether ``HTTP_PROXY``/``NO_PROXY`` were honoured; a
server that accepts requests and never answers shows the request timeout (a small one: the
test waits for it, not for a sleep).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from flynn_async import FlynnClient, InvalidInput, RequestTimeout
from flynn_async.cli import _main as _cli
from flynn_async.cli._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Ui
from flynn_async.testing import FlynnSimulator

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
_HOP_BY_HOP = frozenset(
    {"connection", "content-length", "content-encoding", "host", "transfer-encoding"}
)


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variable of the machine leaks in; each test sets its own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name in ("FLYNN_REQUEST_TIMEOUT", "FLYNN_ALLOW_HTTP"):
        monkeypatch.delenv(name, raising=False)


class CountingProxy:
    """A forward proxy for plain ``http://``: it records every URL asked of it and forwards
    the request to ``target`` (whatever host the URL names)."""

    def __init__(self, target: URL) -> None:
        self.target = target
        self.seen: list[str] = []
        self.url = ""
        self._session: aiohttp.ClientSession | None = None

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(str(request.url))
        assert self._session is not None
        url = request.url.with_scheme("http").with_host(self.target.host or "")
        url = url.with_port(self.target.port)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(
            request.method, url, headers=headers, data=await request.read()
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=answer.status, body=body, headers=kept)

    async def __aenter__(self) -> CountingProxy:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
        assert self._session is not None
        await self._session.close()


@pytest.fixture
async def proxy(sim: FlynnSimulator) -> AsyncIterator[CountingProxy]:
    async with CountingProxy(URL(sim.base_url)) as running:
        yield running


class SilentServer:
    """Accepts every request and answers none until it is closed."""

    def __init__(self) -> None:
        self.requests = 0
        self.url = ""
        self._release = asyncio.Event()

    async def _hold(self, request: web.Request) -> web.Response:
        self.requests += 1
        await self._release.wait()
        return web.Response(status=503)

    async def __aenter__(self) -> SilentServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._hold)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        await self._runner.cleanup()


def cli_ui(environ: dict[str, str]) -> tuple[Ui, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Ui(out, err, io.StringIO(), environ), out, err


def sim_environ(sim: FlynnSimulator, **more: str) -> dict[str, str]:
    return {
        "FLYNN_BASE_URL": sim.base_url,
        "FLYNN_LOGIN_URL": sim.login_url,
        "FLYNN_HANDLE": sim.credentials.handle,
        "FLYNN_PASSWORD": sim.credentials.password.reveal(),
        **more,
    }


# ----------------------------------------------------------------------------------------------
# Proxies: trust_env
# ----------------------------------------------------------------------------------------------


async def test_trust_env_sends_requests_through_the_proxy_of_the_environment(
    sim: FlynnSimulator, proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, trust_env=True
    ) as client:
        assert client.org_id is not None
    assert proxy.seen  # the login and the logout went through it
    assert all(url.startswith(sim.base_url) for url in proxy.seen)


async def test_no_proxy_and_the_default_leave_the_proxy_alone(
    sim: FlynnSimulator, proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    async with FlynnClient(sim.credentials, base_url=sim.base_url, login_url=sim.login_url):
        pass  # trust_env is off by default, as in aiohttp
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, trust_env=True
    ):
        pass
    assert [] == proxy.seen


async def test_the_cli_honours_the_proxy_of_the_environment(
    sim: FlynnSimulator, proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    ui, out, err = cli_ui(sim_environ(sim))
    assert EXIT_OK == await _cli.run(["login"], ui), err.getvalue()
    assert "the credentials work" in out.getvalue()
    assert len(proxy.seen) >= 2  # login and logout


def test_trust_env_is_for_the_clients_own_session(sim_credentials: Any) -> None:
    async def check() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(InvalidInput, match="trust_env"):
                FlynnClient(sim_credentials, session=session, trust_env=True)

    asyncio.run(check())


@pytest.fixture
def sim_credentials() -> Any:
    from flynn_async import Credentials

    return Credentials("me@example.com", "pw")


# ----------------------------------------------------------------------------------------------
# Plain http:// to another host: only when asked for
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("option", [{}, {"allow_insecure_http": False}])
def test_plain_http_to_another_host_is_refused_by_default(
    sim_credentials: Any, option: dict[str, Any]
) -> None:
    with pytest.raises(InvalidInput, match="allow_insecure_http=True") as caught:
        FlynnClient(
            sim_credentials,
            base_url="http://simulator.test:8700",
            login_url="http://simulator.test:8700/theodore/apis/v1",
            **option,
        )
    assert "--allow-http" in str(caught.value)


def test_plain_http_to_another_host_is_accepted_when_asked_with_a_warning(
    sim_credentials: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="flynn_async"):
        client = FlynnClient(
            sim_credentials,
            base_url="http://simulator.test:8700",
            login_url="http://simulator.test:8700/theodore/apis/v1",
            allow_insecure_http=True,
        )
    assert "http://simulator.test:8700" == client.base_url
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert 2 == len(warnings)
    assert all("unencrypted" in text and "simulator.test" in text for text in warnings)


async def test_the_cli_reaches_a_simulator_on_another_host_with_allow_http(
    sim: FlynnSimulator, proxy: CountingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "simulator.test" stands for another container; the proxy routes it to the simulator
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    port = URL(sim.base_url).port
    environ = sim_environ(
        sim,
        FLYNN_BASE_URL=f"http://simulator.test:{port}",
        FLYNN_LOGIN_URL=f"http://simulator.test:{port}{URL(sim.login_url).path}",
    )
    ui, _, err = cli_ui(environ)
    assert EXIT_USAGE == await _cli.run(["login"], ui)
    assert "--allow-http" in err.getvalue()
    assert [] == proxy.seen

    ui, out, err = cli_ui(environ)
    assert EXIT_OK == await _cli.run(["login", "--allow-http"], ui), err.getvalue()
    assert "the credentials work" in out.getvalue()
    assert "unencrypted" in err.getvalue()  # never silently
    assert proxy.seen
    assert all(u.startswith("http://simulator.test:") for u in proxy.seen)

    ui, out, err = cli_ui({**environ, "FLYNN_ALLOW_HTTP": "1"})
    assert EXIT_OK == await _cli.run(["login"], ui), err.getvalue()

    ui, out, err = cli_ui({**environ, "FLYNN_ALLOW_HTTP": "maybe"})
    assert EXIT_USAGE == await _cli.run(["login"], ui)
    assert "FLYNN_ALLOW_HTTP" in err.getvalue()


# ----------------------------------------------------------------------------------------------
# The request timeout
# ----------------------------------------------------------------------------------------------


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    async with SilentServer() as server:
        yield server


async def test_a_server_that_never_answers_ends_in_request_timeout(
    silent: SilentServer, sim_credentials: Any
) -> None:
    client = FlynnClient(
        sim_credentials,
        base_url=silent.url,
        login_url=silent.url + "/theodore/apis/v1",
        request_timeout=0.2,
    )
    with pytest.raises(RequestTimeout, match=r"0\.2"):
        await client.start()
    assert 1 == silent.requests  # a login is never repeated blindly
    await client.aclose()


@pytest.mark.parametrize(
    ("args", "environ"),
    [(["--request-timeout", "0.2"], {}), ([], {"FLYNN_REQUEST_TIMEOUT": "0.2"})],
)
async def test_the_cli_request_timeout(
    silent: SilentServer, args: list[str], environ: dict[str, str]
) -> None:
    settings = {
        "FLYNN_BASE_URL": silent.url,
        "FLYNN_LOGIN_URL": silent.url + "/theodore/apis/v1",
        "FLYNN_HANDLE": "me@example.com",
        "FLYNN_PASSWORD": "pw",
        **environ,
    }
    ui, _, err = cli_ui(settings)
    assert EXIT_ERROR == await _cli.run(["login", *args], ui)
    text = err.getvalue()
    assert "RequestTimeout" in text
    assert "0.2s" in text
    assert "--request-timeout" in text
    assert "route" not in text  # only with -v
    assert 1 == silent.requests


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf", "nan"])
def test_a_bad_request_timeout_is_a_usage_error(value: str) -> None:
    parser = _cli.build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["login", "--request-timeout", value])


async def test_a_bad_request_timeout_setting_is_a_usage_error() -> None:
    ui, _, err = cli_ui({"FLYNN_REQUEST_TIMEOUT": "soon", "FLYNN_HANDLE": "a@b.c"})
    ui.environ = {**ui.environ, "FLYNN_PASSWORD": "pw"}
    assert EXIT_USAGE == await _cli.run(["login"], ui)
    assert "request timeout" in err.getvalue()


def test_the_network_settings_from_a_config_file(tmp_path: Any) -> None:
    import argparse

    from flynn_async.cli._common import Settings

    config = tmp_path / "flynn.toml"
    config.write_text("allow_http = true\nrequest_timeout = 7.5\n")
    args = argparse.Namespace(config=str(config), allow_http=False, request_timeout=None)
    settings = Settings(args, {})
    assert settings.flag("allow_http", "allow_http") is True
    assert 7.5 == settings.request_timeout()
    flags = argparse.Namespace(config=str(config), allow_http=True, request_timeout=2.0)
    assert 2.0 == Settings(flags, {}).request_timeout()  # a flag wins
    assert 30.0 == Settings(args, {"FLYNN_REQUEST_TIMEOUT": "30"}).request_timeout()
    assert Settings(args, {"FLYNN_ALLOW_HTTP": "0"}).flag("allow_http", "allow_http") is False
