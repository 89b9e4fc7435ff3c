"""The GST (OTP) session: request, verify, refresh (the newest id wins), log out, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from flynn_async import (
    AuthError,
    Credentials,
    FlynnClient,
    GstError,
    GstSession,
    GstSessionExpired,
    InvalidInput,
    OtpRequest,
    Secret,
)
from flynn_async._http import _api
from flynn_async.testing import FlynnSimulator, ShapeSettings

GSTN = _api.GSTN_HEADERS


async def test_request_and_verify_otp(sim: FlynnSimulator, client: FlynnClient) -> None:
    before = datetime.now(UTC)
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    assert isinstance(otp_request, OtpRequest)
    assert (sim.gstin, sim.gst_username) == (otp_request.gstin, otp_request.username)
    assert otp_request.request_id.reveal()

    session = await client.gst.verify_otp(otp_request, sim.otp)

    assert isinstance(session, GstSession)
    assert (sim.gstin, sim.gst_username) == (session.gstin, session.username)
    assert before <= session.created_at <= datetime.now(UTC)
    assert session.created_at + timedelta(hours=6) == session.expires_at
    assert (1, 1) == (sim.calls["otp_request"], sim.calls["otp_verify"])
    assert {
        GSTN["gstin"]: sim.gstin,
        GSTN["username"]: sim.gst_username,
        GSTN["session_id"]: session.session_id.reveal(),
        GSTN["gsp_code"]: "vay",
    } == session.headers()


async def test_the_otp_may_be_a_secret(sim: FlynnSimulator, client: FlynnClient) -> None:
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    session = await client.gst.verify_otp(otp_request, Secret(sim.otp))
    assert session.session_id.reveal()


async def test_a_wrong_otp_is_refused_by_the_portal(
    sim: FlynnSimulator, client: FlynnClient
) -> None:
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    with pytest.raises(GstError, match="OTP was not accepted") as info:
        await client.gst.verify_otp(otp_request, "111111")
    assert "AUTH4033" == info.value.portal_code
    assert not isinstance(info.value, GstSessionExpired)  # a refused OTP, not a lapsed session
    # the request is still good for the right OTP
    session = await client.gst.verify_otp(otp_request, sim.otp)
    assert session.session_id.reveal()


async def test_refresh_hands_out_a_new_id_and_old_session_objects_follow(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    refreshed = await client.gst.refresh(session)

    assert session.session_id != refreshed.session_id
    assert (session.gstin, session.username) == (refreshed.gstin, refreshed.username)
    assert refreshed.created_at >= session.created_at
    assert refreshed is client.gst.current(session)
    assert 1 == sim.calls["gst_refresh"]

    # the simulator forgot the old id: only the newest one works, and the client uses it
    result = await client.ims.download(session, section="B2B")
    assert {"b2b": sim.expected_records(sim.gstin, "b2b")} == result.to_dict()
    again = await client.gst.refresh(session)  # refreshing via the old object too
    assert again.session_id not in (session.session_id, refreshed.session_id)
    await client.ims.download_all(session, sections=["ECOM"])
    assert 2 == sim.calls["ims_submit"]


async def test_logout_ends_the_session(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    await client.gst.logout(session)
    assert 1 == sim.calls["gst_logout"]
    with pytest.raises(GstSessionExpired) as info:
        await client.ims.submit(session, section="B2B")
    assert "AUTH4033" == info.value.portal_code
    assert 0 == len(sim.tasks)


async def test_adopt_a_stored_session(sim: FlynnSimulator, make_client: Any, open_gst: Any) -> None:
    first = await make_client()
    stored = await open_gst(first, sim)
    refreshed = await first.gst.refresh(stored)

    second = await make_client()
    # an older session object made later (as if restored from storage) would win on age alone
    restored = GstSession(stored.gstin, stored.username, refreshed.session_id, stored.created_at)
    second.gst.adopt(restored)
    result = await second.ims.download(restored, section="ECOM")
    assert {"ecom": sim.expected_records(sim.gstin, "ecom")} == result.to_dict()
    with pytest.raises(InvalidInput):
        second.gst.adopt("nope")


# ------------------------------------------------------------------------------------------
# Input checks: raised before any request
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gstin": "24aaapi3182m002"}, "gstin"),
        ({"gstin": "24AAAPI3182M00"}, "gstin"),
        ({"gstin": "24AAAPI3182M0021"}, "gstin"),
        ({"gstin": "24AAAPI3182M 02"}, "gstin"),
        ({"gstin": None}, "gstin"),
        ({"username": ""}, "username"),
        ({"username": " demo"}, "username"),
        ({"username": "de\nmo"}, "username"),
        ({"username": 7}, "username"),
    ],
)
async def test_request_otp_checks_its_arguments(
    sim: FlynnSimulator, client: FlynnClient, kwargs: dict[str, Any], match: str
) -> None:
    before = dict(sim.calls)
    arguments = {"gstin": sim.gstin, "username": sim.gst_username, **kwargs}
    with pytest.raises(InvalidInput, match=match):
        await client.gst.request_otp(**arguments)
    assert before == dict(sim.calls)


@pytest.mark.parametrize("otp", ["12345", "1234567", "12345a", "", " 575757", 575757, None])
async def test_verify_otp_wants_six_digits(
    sim: FlynnSimulator, client: FlynnClient, otp: Any
) -> None:
    otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match="6 digits"):
        await client.gst.verify_otp(otp_request, otp)
    assert before == dict(sim.calls)


async def test_verify_otp_wants_the_otp_request(sim: FlynnSimulator, client: FlynnClient) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match="OtpRequest"):
        await client.gst.verify_otp("request-id", sim.otp)  # type: ignore[arg-type]
    assert before == dict(sim.calls)


@pytest.mark.parametrize("method", ["refresh", "logout"])
async def test_session_calls_want_a_session(
    sim: FlynnSimulator, client: FlynnClient, method: str
) -> None:
    before = dict(sim.calls)
    with pytest.raises(InvalidInput, match="GstSession"):
        await getattr(client.gst, method)("session-id")
    with pytest.raises(InvalidInput, match="GstSession"):
        client.gst.current("session-id")  # type: ignore[arg-type]
    assert before == dict(sim.calls)


# ------------------------------------------------------------------------------------------
# Secrets never show
# ------------------------------------------------------------------------------------------

PASSWORD_MARKER = "pw-MARKER-7f3a1c"


async def test_no_secret_shows_in_reprs_or_error_texts(
    sim: FlynnSimulator, make_client: Any
) -> None:
    sent: list[dict[str, str]] = []

    async def on_request_start(
        _: aiohttp.ClientSession, __: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(dict(params.headers))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as http:
        client = await make_client(session=http)
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        session = await client.gst.verify_otp(otp_request, sim.otp)
        token = sent[-1][_api.HEADER_USER_TOKEN]
        secrets = {
            "password": sim.credentials.password.reveal(),
            "token": token,
            "otp": sim.otp,
            "session id": session.session_id.reveal(),
            "otp request id": otp_request.request_id.reveal(),
            "marker password": PASSWORD_MARKER,
        }

        texts = []
        marked = Credentials("demo@example.com", PASSWORD_MARKER)
        for value in (sim.credentials, marked, session, otp_request, client):
            texts += [repr(value), str(value), f"{value}"]
        texts += [repr(session.session_id), str(otp_request.request_id)]

        errors: list[BaseException] = []
        try:  # a wrong OTP (the request was used up: the portal refuses)
            await client.gst.verify_otp(otp_request, "111111")
        except GstError as exc:
            errors.append(exc)
        await client.gst.logout(session)
        try:  # a session that was logged out
            await client.ims.submit(session, section="B2B")
        except GstError as exc:
            errors.append(exc)
        try:  # a wrong password
            await make_client(credentials=marked)
        except AuthError as exc:
            errors.append(exc)
        for bad in ("12", "99999x"):
            try:
                await client.gst.verify_otp(otp_request, bad)
            except InvalidInput as exc:
                errors.append(exc)
        assert 5 == len(errors)
        for error in errors:
            texts += [str(error), repr(error), *getattr(error, "__notes__", [])]
        await client.aclose()  # before the session it was given closes

    assert sim.otp not in token  # the markers are distinct
    for text in texts:
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} shows in {text!r}"
    assert "***" in repr(sim.credentials)


# ------------------------------------------------------------------------------------------
# A session the portal no longer knows, in every shape of the relayed error
# ------------------------------------------------------------------------------------------


class MemoryStore:
    """A session store in memory (the SessionStore protocol), to see what is forgotten."""

    def __init__(self) -> None:
        self.sessions: dict[str, GstSession] = {}

    async def load(self, gstin: str) -> GstSession | None:
        return self.sessions.get(gstin)

    async def save(self, session: GstSession) -> None:
        self.sessions[session.gstin] = session

    async def delete(self, gstin: str) -> None:
        self.sessions.pop(gstin, None)


GST_SHAPES = ["error_cd", "gstn-err", "older"]


@pytest.mark.parametrize("shape", GST_SHAPES)
async def test_an_unknown_session_is_expired_in_every_error_shape_and_forgotten(
    make_sim: Any, make_client: Any, open_gst: Any, shape: Any
) -> None:
    simulator = await make_sim(shapes=ShapeSettings(gst_error_shape=shape))
    store = MemoryStore()
    client = await make_client(simulator, session_store=store)
    session = await open_gst(client, simulator)
    assert session == store.sessions[simulator.gstin]
    simulator._sessions.clear()  # the portal forgets it (as after its own restart)
    with pytest.raises(GstSessionExpired) as info:
        await client.ims.submit(session, section="B2B")
    assert _api.GST_CODE_INVALID_SESSION == info.value.portal_code
    assert {} == store.sessions
    assert await client.gst.restore(simulator.gstin) is None  # an OTP is needed


@pytest.mark.parametrize("shape", GST_SHAPES)
async def test_a_lapsed_session_is_expired_on_refresh_in_every_shape_and_forgotten(
    make_sim: Any, make_client: Any, open_gst: Any, shape: Any
) -> None:
    now = [1_000_000.0]
    simulator = await make_sim(clock=lambda: now[0], shapes=ShapeSettings(gst_error_shape=shape))
    store = MemoryStore()
    client = await make_client(simulator, session_store=store)
    session = await open_gst(client, simulator)
    now[0] += _api.GST_SESSION_SECONDS  # the portal's six hours are over
    with pytest.raises(GstSessionExpired) as info:
        await client.gst.refresh(session)
    assert _api.GST_CODE_SESSION_EXPIRED == info.value.portal_code
    assert _api.ERR_TYPE_GSTN == info.value.type
    assert {} == store.sessions
    assert 0 == len(simulator.tasks)


@pytest.mark.parametrize("shape", GST_SHAPES)
async def test_a_wrong_otp_is_a_refused_otp_in_every_shape(
    make_sim: Any, make_client: Any, shape: Any
) -> None:
    simulator = await make_sim(shapes=ShapeSettings(gst_error_shape=shape))
    client = await make_client(simulator)
    otp_request = await client.gst.request_otp(gstin=simulator.gstin, username="demo")
    wrong = "000000" if simulator.otp != "000000" else "111111"
    with pytest.raises(GstError, match="OTP was not accepted") as info:
        await client.gst.verify_otp(otp_request, wrong)
    assert not isinstance(info.value, GstSessionExpired)
    assert _api.GST_CODE_INVALID_SESSION == info.value.portal_code
