"""The FastAPI example (docs/examples/fastapi_app.py), driven over ASGI against the simulator.

The app runs its lifespan in the test's loop; its one FlynnClient talks to the plugin's
``flynn_simulator`` over loopback sockets and sleeps on ``flynn_clock`` (no real waiting).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import random
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from flynn_async import (
    FlynnError,
    GstSessionExpired,
    ImsOutcomeUnknown,
    InvalidInput,
    OutcomeUnknown,
    PagesMissing,
    RequestTimeout,
    Secret,
    TaskFailed,
    TaskTimeout,
    TooManyTokens,
)
from flynn_async._core import _errors
from flynn_async.ims import ImsSection
from flynn_async.testing import (
    USER_HANDLE,
    USER_PASSWORD,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)
from flynn_async.testing.pytest_plugin import FlynnTestClock

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "fastapi_app.py"
SECTIONS = [section.value for section in ImsSection]

# 6 records per section, in 2 pages of up to 4
pytestmark = pytest.mark.flynn_simulator(
    records=RecordSettings(per_section=6), paging=PagingSettings(size=4)
)


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flynn_fastapi_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # typing and pydantic look a class's module up by name
    spec.loader.exec_module(module)
    return module


example = load_example()
Sleep = Callable[[float], Awaitable[None]]


def make_app(
    sim: FlynnSimulator, clock: FlynnTestClock, sleep: Sleep | None = None, **extra: Any
) -> FastAPI:
    settings = example.Settings(
        handle=USER_HANDLE,
        password=Secret(USER_PASSWORD),
        base_url=sim.base_url,
        login_url=sim.login_url,
        **extra,
    )
    options = {"sleep": sleep or clock.sleep, "clock": clock, "wall_clock": clock}
    app: FastAPI = example.create_app(settings, client_options={**options, "rng": random.Random(0)})
    return app


def http_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def app(
    flynn_simulator: FlynnSimulator, flynn_clock: FlynnTestClock
) -> AsyncIterator[FastAPI]:
    app = make_app(flynn_simulator, flynn_clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as client:
        yield client


async def open_session(http: httpx.AsyncClient, sim: FlynnSimulator) -> None:
    sent = await http.post("/gst/otp", json={"gstin": sim.gstin, "username": sim.gst_username})
    assert 202 == sent.status_code, sent.text
    opened = await http.post("/gst/session", json={"gstin": sim.gstin, "otp": sim.otp})
    assert 201 == opened.status_code, opened.text


async def finish(app: FastAPI, download_id: str) -> Any:
    download = app.state.flynn.downloads.get(download_id)
    async with asyncio.timeout(10):
        await download.finished.wait()
    return download


# -------------------------------------------------------------------------------------------
# GST session
# -------------------------------------------------------------------------------------------


async def test_the_otp_flow_opens_a_session_and_never_shows_a_secret(
    app: FastAPI,
    http: httpx.AsyncClient,
    flynn_simulator: FlynnSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = flynn_simulator
    sent = await http.post("/gst/otp", json={"gstin": sim.gstin, "username": sim.gst_username})
    assert 202 == sent.status_code
    assert {"gstin": sim.gstin, "username": sim.gst_username} == {
        key: sent.json()[key] for key in ("gstin", "username")
    }
    opened = await http.post("/gst/session", json={"gstin": sim.gstin, "otp": sim.otp})
    assert 201 == opened.status_code
    assert {"gstin", "username", "expires_at"} == set(opened.json())

    session = app.state.flynn.sessions[sim.gstin]
    secrets = [sim.otp, session.session_id.reveal(), USER_PASSWORD]
    for text in (sent.text, opened.text, caplog.text):
        for secret in secrets:
            assert secret not in text
    assert 1 == sim.calls["otp_verify"]
    assert not app.state.flynn.otp_requests  # used up


async def test_verifying_without_an_otp_request_is_409(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    answer = await http.post(
        "/gst/session", json={"gstin": flynn_simulator.gstin, "otp": flynn_simulator.otp}
    )
    assert 409 == answer.status_code
    assert "no OTP was requested" in answer.json()["message"]
    assert 0 == flynn_simulator.calls["otp_verify"]


async def test_a_refused_otp_is_400_and_not_echoed(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    sim = flynn_simulator
    await http.post("/gst/otp", json={"gstin": sim.gstin, "username": sim.gst_username})
    answer = await http.post("/gst/session", json={"gstin": sim.gstin, "otp": "123450"})
    assert 400 == answer.status_code
    assert "GstError" == answer.json()["error"]
    assert "123450" not in answer.text


@pytest.mark.parametrize("otp", ["12a456", 123456, None])
async def test_a_malformed_otp_is_422_and_not_echoed(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator, otp: object
) -> None:
    sim = flynn_simulator
    await http.post("/gst/otp", json={"gstin": sim.gstin, "username": sim.gst_username})
    answer = await http.post("/gst/session", json={"gstin": sim.gstin, "otp": otp})
    assert 422 == answer.status_code
    assert str(otp) not in answer.text
    assert 0 == sim.calls["otp_verify"]  # refused before any request


async def test_a_bad_gstin_is_422_before_any_request(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    answer = await http.post("/gst/otp", json={"gstin": "not-a-gstin", "username": "someone"})
    assert 422 == answer.status_code
    assert "InvalidInput" == answer.json()["error"]
    assert "gstin" in answer.json()["message"]
    answer = await http.post("/downloads", json={"gstin": "24aaapi3182m002"})
    assert 422 == answer.status_code
    assert "InvalidInput" == answer.json()["error"]
    assert 0 == flynn_simulator.calls["otp_request"] + flynn_simulator.calls["ims_submit"]


# -------------------------------------------------------------------------------------------
# Downloads
# -------------------------------------------------------------------------------------------


async def test_a_download_reports_progress_until_done_with_exact_counts(
    app: FastAPI, http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    sim = flynn_simulator
    await open_session(http, sim)
    started = await http.post("/downloads", json={"gstin": sim.gstin})
    assert 202 == started.status_code
    download_id = started.json()["id"]
    url = f"/downloads/{download_id}"
    assert url == started.headers["location"] == started.json()["url"]

    reports: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not reports or reports[-1]["state"] == "running":
            answer = await http.get(url)
            assert 200 == answer.status_code
            reports.append(answer.json())
            await asyncio.sleep(0)
    assert "running" == reports[0]["state"]
    assert any(report["sections"] for report in reports[:-1])  # progress seen on the way
    done = reports[-1]
    assert "done" == done["state"], done
    assert done["error"] is None

    expected = {s.lower(): sim.expected_records(sim.gstin, s) for s in SECTIONS}
    assert {key: len(records) for key, records in expected.items()} == done["records"]
    assert set(expected) == set(done["sections"])
    for progress in done["sections"].values():
        assert ("done", 2, 2) == (
            progress["phase"],
            progress["pages_done"],
            progress["pages_total"],
        )
        assert progress["task_id"] in sim.tasks
    assert 8 == len(sim.tasks)

    result = await http.get(f"{url}/result")
    assert 200 == result.status_code
    body = json.loads(result.text, parse_float=Decimal)  # exact amounts, as sent
    for key, records in expected.items():
        assert records == body[key]


async def test_a_section_and_status_can_be_chosen(
    app: FastAPI, http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    sim = flynn_simulator
    await open_session(http, sim)
    started = await http.post(
        "/downloads", json={"gstin": sim.gstin, "sections": ["b2bcn"], "status": "P"}
    )
    assert 202 == started.status_code
    await finish(app, started.json()["id"])
    done = (await http.get(started.json()["url"])).json()
    expected = sim.expected_records(sim.gstin, "B2BCN", "P")
    assert {"b2bcn": len(expected)} == done["records"]
    ((task),) = sim.tasks.values()
    assert ("B2BCN", "P") == (task.section, task.status)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"sections": ["B2X"]}, "ImsSection must be one of"),
        ({"status": "Z"}, "ImsStatus must be one of"),
    ],
)
async def test_bad_download_options_are_422(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator, body: dict[str, Any], message: str
) -> None:
    answer = await http.post("/downloads", json={"gstin": flynn_simulator.gstin, **body})
    assert 422 == answer.status_code
    assert message in answer.json()["message"]


async def test_a_download_needs_a_session(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    answer = await http.post("/downloads", json={"gstin": flynn_simulator.gstin})
    assert 409 == answer.status_code
    assert "verify an OTP first" in answer.json()["message"]
    assert 0 == flynn_simulator.calls["ims_submit"]


async def test_unknown_downloads_are_404(http: httpx.AsyncClient) -> None:
    assert 404 == (await http.get("/downloads/nope")).status_code
    assert 404 == (await http.get("/downloads/nope/result")).status_code


@pytest.mark.flynn_simulator(tasks=TaskSettings(failing_first=1))
async def test_a_failing_task_is_reported_with_its_id(
    app: FastAPI, http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    sim = flynn_simulator
    await open_session(http, sim)
    started = await http.post("/downloads", json={"gstin": sim.gstin, "sections": ["B2B"]})
    await finish(app, started.json()["id"])

    report = (await http.get(started.json()["url"])).json()
    ((task),) = sim.tasks.values()
    assert "failed" == task.state
    assert "failed" == report["state"]
    assert "TaskFailed" == report["error"]["error"]
    assert task.id == report["error"]["task_id"]
    assert task.id in report["error"]["message"]
    assert report["records"] is None

    result = await http.get(started.json()["url"] + "/result")
    assert 502 == result.status_code
    assert report["error"] == result.json()


async def test_the_result_of_a_running_download_is_409_and_shutdown_cancels_it(
    flynn_simulator: FlynnSimulator, flynn_clock: FlynnTestClock
) -> None:
    sim = flynn_simulator
    sleeping = asyncio.Event()

    async def sleep_for_ever(delay: float) -> None:
        sleeping.set()  # every task sleeps before its first status call
        await asyncio.Event().wait()

    app = make_app(sim, flynn_clock, sleep=sleep_for_ever)
    async with app.router.lifespan_context(app), http_client(app) as http:
        await open_session(http, sim)
        started = await http.post("/downloads", json={"gstin": sim.gstin})
        download = app.state.flynn.downloads.get(started.json()["id"])
        async with asyncio.timeout(10):
            await sleeping.wait()
        answer = await http.get(started.json()["url"] + "/result")
        assert 409 == answer.status_code
        assert "running" in answer.json()["message"]
        assert 1 == sim.live_tokens

    assert "cancelled" == download.state
    assert download.finished.is_set()
    assert 0 == sim.live_tokens  # the client logged out after the downloads stopped
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("download ")]
    assert not hasattr(app.state, "flynn")


async def test_a_lapsed_gst_session_fails_the_download_and_asks_for_a_new_otp(
    app: FastAPI,
    http: httpx.AsyncClient,
    flynn_simulator: FlynnSimulator,
    flynn_clock: FlynnTestClock,
) -> None:
    sim = flynn_simulator
    await open_session(http, sim)
    flynn_clock.advance(7 * 3600)  # portal sessions last about 6 hours
    started = await http.post("/downloads", json={"gstin": sim.gstin, "sections": ["B2B"]})
    assert 202 == started.status_code
    await finish(app, started.json()["id"])
    report = (await http.get(started.json()["url"])).json()
    assert ("failed", "GstSessionExpired") == (report["state"], report["error"]["error"])
    assert 401 == (await http.get(started.json()["url"] + "/result")).status_code

    again = await http.post("/downloads", json={"gstin": sim.gstin})
    assert 409 == again.status_code  # the service forgot the session: verify a new OTP
    await open_session(http, sim)
    assert 202 == (await http.post("/downloads", json={"gstin": sim.gstin})).status_code


async def test_a_restarted_service_finds_the_session_in_the_store(
    flynn_simulator: FlynnSimulator,
    flynn_clock: FlynnTestClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = flynn_simulator
    monkeypatch.setenv("FLYNN_ASYNC_STATE_DIR", str(tmp_path))
    first = make_app(sim, flynn_clock, keep_sessions=True)
    async with first.router.lifespan_context(first), http_client(first) as http:
        await open_session(http, sim)
    assert (tmp_path / "sessions" / f"{sim.gstin}.json").is_file()

    second = make_app(sim, flynn_clock, keep_sessions=True)
    async with second.router.lifespan_context(second), http_client(second) as http:
        started = await http.post("/downloads", json={"gstin": sim.gstin, "sections": ["B2B"]})
        assert 202 == started.status_code, started.text
        download = await finish(second, started.json()["id"])
    assert "done" == download.state
    assert 1 == sim.calls["otp_verify"]  # no new OTP after the restart


# -------------------------------------------------------------------------------------------
# Settings and the error table
# -------------------------------------------------------------------------------------------


def test_settings_come_from_the_environment_and_hide_the_password() -> None:
    settings = example.Settings.from_env(
        {
            "FLYNN_HANDLE": "me@example.com",
            "FLYNN_PASSWORD": "hunter2-secret",
            "FLYNN_ENVIRONMENT": "production",
            "FLYNN_MAX_CONCURRENCY": "16",
        }
    )
    assert ("me@example.com", "production", 16) == (
        settings.handle,
        settings.environment,
        settings.max_concurrency,
    )
    assert "hunter2-secret" == settings.password.reveal()
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in repr(settings.credentials())
    with pytest.raises(RuntimeError, match="FLYNN_PASSWORD") as caught:
        example.Settings.from_env({"FLYNN_HANDLE": "me@example.com"})
    assert "me@example.com" not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidInput("bad"), 422),
        (
            GstSessionExpired("gone", http_status=400, code="err-gstn", portal_code="AUTH4033"),
            401,
        ),
        (TooManyTokens("too many", http_status=401, code="err-active-tokens-limit-exceeded"), 503),
        (TaskFailed("failed", status="failed", task_id="t"), 502),
        (PagesMissing("missing", missing=[1], task_id="t"), 502),
        (TaskTimeout("slow", task_id="t"), 504),
        (RequestTimeout("slow"), 504),
        # sent once, no usable answer: not a plain transport failure (it was shadowed by it)
        (ImsOutcomeUnknown("lost", gstin="24AAAPI3182M002", kind="save"), 504),
        (OutcomeUnknown("lost"), 504),
    ],
)
def test_errors_map_to_http_statuses(error: Exception, status: int) -> None:
    assert status == example.error_status(error)


@pytest.mark.parametrize(
    "kind",
    [
        getattr(_errors, name)
        for name in _errors.__all__
        if isinstance(getattr(_errors, name), type)
        and issubclass(getattr(_errors, name), FlynnError)
        and name != "FlynnError"
        and name != "BatchError"  # an ExceptionGroup: made below, with a failure inside
    ],
    ids=lambda kind: kind.__name__,
)
def test_every_client_error_has_a_status_of_its_own(kind: type[Exception]) -> None:
    # the caller's mistakes are 4xx, Flynn's failures 5xx; none falls through to a bare 500
    error = kind.__new__(kind)
    status = example.error_status(error)
    assert 400 <= status < 600
    assert 500 != status
    if issubclass(kind, InvalidInput):
        assert 422 == status


# -------------------------------------------------------------------------------------------
# One error shape; the simulator demo's port and Ctrl-C
# -------------------------------------------------------------------------------------------


async def test_every_error_has_one_json_shape(
    http: httpx.AsyncClient, flynn_simulator: FlynnSimulator
) -> None:
    sim = flynn_simulator
    answers = {
        "route not found": await http.get("/no/such/route"),
        "method not allowed": await http.delete("/gst/otp"),
        "download not found": await http.get("/downloads/nope"),
        "conflict": await http.post("/gst/session", json={"gstin": sim.gstin, "otp": "575757"}),
        "invalid request": await http.post("/gst/otp", json={"gstin": 5}),
        "flynn-async error": await http.post(
            "/gst/otp", json={"gstin": "not-a-gstin", "username": "someone"}
        ),
    }
    expected = {"route not found": 404, "method not allowed": 405, "download not found": 404}
    expected |= {"conflict": 409, "invalid request": 422, "flynn-async error": 422}
    for name, answer in answers.items():
        assert expected[name] == answer.status_code, name
        body = answer.json()
        assert {"error", "message", "task_id", "details"} == set(body), name
        assert body["error"]
        assert body["message"]
    assert "NotFound" == answers["download not found"].json()["error"]
    assert "Conflict" == answers["conflict"].json()["error"]
    invalid = answers["invalid request"].json()
    assert "InvalidRequest" == invalid["error"]
    assert ["body", "gstin"] in [d["loc"] for d in invalid["details"]]
    assert "InvalidInput" == answers["flynn-async error"].json()["error"]


def read_until(fd: int, marker: str, seconds: float = 60) -> str:
    """What the process wrote on ``fd`` up to the first line holding ``marker``."""
    import os
    import select

    seen = b""
    while marker.encode() not in seen:
        readable, _, _ = select.select([fd], [], [], seconds)
        chunk = os.read(fd, 65536) if readable else b""
        assert chunk, f"no {marker!r}; got {seen.decode(errors='replace')!r}"
        seen += chunk
    return seen.decode()


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs uvicorn")
def test_the_simulator_demo_takes_a_port_and_stops_on_ctrl_c_without_a_traceback(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import urllib.error
    import urllib.request

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYNN_")}
    env["PORT"] = "0"  # a free port, from the environment
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--simulator"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        logged = read_until(proc.stderr.fileno(), "(Press CTRL+C to quit)")
        (url,) = re.findall(r"Uvicorn running on (http://\S+)", logged)
        assert not url.endswith(":0")
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{url}/downloads/nope", timeout=30)
        assert 404 == answer.value.code
        assert "NotFound" == json.loads(answer.value.read())["error"]
        answer.value.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert 0 == proc.returncode, err
    text = logged + err.decode()
    assert "Traceback" not in text
    assert "KeyboardInterrupt" not in text
    assert "stopped" in out.decode()


def test_a_batch_error_has_a_status_of_its_own() -> None:
    job = SimpleNamespace(error=_errors.TransportError("connection refused"))
    error = _errors.BatchError("1 job failed", [job])
    assert 500 != example.error_status(error)
