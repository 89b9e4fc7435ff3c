"""The taxpayer's GST (OTP) session: request an OTP, verify it, refresh, log out.

Every IMS call needs a live GST session for the taxpayer. The client remembers the newest
session per GSTIN: when a refresh hands out a new session id, every later call uses it, even
one made with an older :class:`GstSession` object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from flynn_async._core import _validate
from flynn_async._core._errors import GstError, GstSessionExpired, InvalidInput, ResponseError
from flynn_async._core._secrets import Secret
from flynn_async._http import _api
from flynn_async._http._auth import Api
from flynn_async._tasks._task import run_to_end
from flynn_async.gst._session import GstSession, OtpRequest
from flynn_async.gst._store import SessionStore

log: Final = logging.getLogger("flynn_async.gst")

_OTP: Final = r"[0-9]{6}"  # compiled by re on first use (an OTP)


@attrs.define
class KeepAlive:
    """What :meth:`GstApi.keep_alive` did: the newest session, refreshes made, any error."""

    session: GstSession
    refreshes: int = 0
    error: Exception | None = None
    _stopped: asyncio.Event = attrs.field(factory=asyncio.Event, init=False, repr=False)

    async def wait_stopped(self) -> None:
        """Wait until the keeping stops on its own (a refresh failed: see ``error``)."""
        await self._stopped.wait()


def _session_id(data: Any, key: str, route: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise ResponseError(f"answer has no {key!r}", route=route)
    return value


def _gstn_headers(gstin: str, username: str, session_id: Secret | None) -> dict[str, str]:
    h = _api.GSTN_HEADERS
    headers = {h["gstin"]: gstin, h["username"]: username, h["gsp_code"]: _api.GSP_CODE}
    if session_id is not None:
        headers[h["session_id"]] = session_id.reveal()
    return headers


def _revealed(body: dict[str, str | Secret]) -> dict[str, str]:
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in body.items()}


def _secret_field(data: Any, key: str, route: str) -> Secret:
    """``data[key]`` as a secret (the answer itself is not kept in any local)."""
    return Secret(_session_id(data, key, route))


class GstApi:
    """GST session calls; reach it as ``client.gst``."""

    def __init__(
        self,
        api: Api,
        gstn_api_version: str,
        *,
        store: SessionStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._api = api
        self._version = gstn_api_version
        self._current: dict[str, GstSession] = {}
        self._store = store
        self._sleep = sleep
        self._wall = wall_clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)

    async def _remember(self, session: GstSession) -> None:
        self._current[session.gstin] = session
        if self._store is not None:
            await self._store.save(session)

    def _route(self, action: str) -> tuple[str, str]:
        template = _api.GST_AUTH_ROUTE
        path = template.format(flynn=_api.GST_AUTH_FLYNN_VERSION, gstn=self._version, action=action)
        return template.replace("{action}", action), path

    async def _post(
        self,
        action: str,
        gstin: str,
        username: str,
        body: dict[str, str | Secret],
        session_id: Secret | None = None,
    ) -> Any:
        # Secrets stay wrapped in this frame's locals and are revealed only inside the call
        # expression: a traceback's locals (Sentry, ``pytest -l``) never show them here.
        route, path = self._route(action)
        call = self._api.call(
            "POST",
            route,
            path,
            headers=_gstn_headers(gstin, username, session_id),
            json=_revealed(body),
        )
        if session_id is None:
            return await call
        try:
            return await call
        except GstSessionExpired:  # the portal no longer knows the session: nor do we
            await self.forget(gstin)
            raise

    async def request_otp(self, *, gstin: str, username: str) -> OtpRequest:
        """Ask the GST portal to send an OTP to the taxpayer."""
        gstin = _validate.gstin(gstin)
        username = _validate.text(username, "username")
        route, _ = self._route(_api.GST_ACTION_OTP_REQUEST)
        request_id = _secret_field(
            await self._post(
                _api.GST_ACTION_OTP_REQUEST,
                gstin,
                username,
                {"gstin": gstin, "username": username},
            ),
            _api.GST_KEY_OTP_REQUEST_ID,
            route,
        )
        log.info("OTP requested for %s", gstin)
        return OtpRequest(gstin, username, request_id, self._now())

    async def verify_otp(self, otp_request: OtpRequest, otp: str | Secret) -> GstSession:
        """Verify the OTP the taxpayer received; returns the new GST session."""
        if not isinstance(otp_request, OtpRequest):
            raise InvalidInput("otp_request must be the OtpRequest that request_otp returned")
        if not isinstance(otp, str | Secret):
            raise InvalidInput("otp must be the 6 digits the taxpayer received")
        otp = Secret(otp)  # the plain OTP is not kept in this frame's locals
        if not re.fullmatch(_OTP, otp.reveal()):
            raise InvalidInput("otp must be the 6 digits the taxpayer received")
        route, _ = self._route(_api.GST_ACTION_VERIFY)
        body: dict[str, str | Secret] = {
            _api.GST_KEY_OTP_REQUEST_ID: otp_request.request_id,
            "otp": otp,
        }
        try:
            session_id = _secret_field(
                await self._post(
                    _api.GST_ACTION_VERIFY, otp_request.gstin, otp_request.username, body
                ),
                _api.GST_KEY_SESSION_ID,
                route,
            )
        except GstSessionExpired as exc:
            # The portal answers AUTH4033 ("invalid session or OTP") for a wrong OTP: that is
            # a refused OTP, not a lapsed session.
            raise GstError(
                f"the OTP was not accepted (portal code {exc.portal_code}); check it, or "
                "request a new one",
                portal_code=exc.portal_code,
                http_status=exc.http_status,
                code=exc.code,
                type=exc.type,
                args=exc.error_args,
                route=exc.route,
            ) from None
        session = GstSession(otp_request.gstin, otp_request.username, session_id, self._now())
        await self._remember(session)
        log.info("GST session opened for %s", session.gstin)
        return session

    @property
    def store(self) -> SessionStore | None:
        """The client's session store (``session_store=``), or ``None`` without one."""
        return self._store

    def current(self, session: GstSession) -> GstSession:
        """The newest session known for ``session``'s GSTIN (itself if none is newer)."""
        if not isinstance(session, GstSession):
            raise InvalidInput("session must be a GstSession (from verify_otp)")
        latest = self._current.get(session.gstin)
        if latest is None or latest.created_at < session.created_at:
            self._current[session.gstin] = session
            return session
        return latest

    def adopt(self, session: GstSession) -> None:
        """Use ``session`` for its GSTIN from now on (for a session restored from storage)."""
        if not isinstance(session, GstSession):
            raise InvalidInput("session must be a GstSession")
        self._current[session.gstin] = session

    async def refresh(self, session: GstSession) -> GstSession:
        """Extend the session; returns it with the id the server hands back (keep that one).

        The portal retires the old id as it answers, so once sent the call runs to its answer
        even if the caller is cancelled (bounded by the request timeout): the new session is
        kept, and saved to the session store, before the cancellation goes on.
        """
        return await run_to_end(self._refresh(self.current(session)))

    async def _refresh(self, current: GstSession) -> GstSession:
        route, _ = self._route(_api.GST_ACTION_REFRESH)
        try:
            answer = await self._post(
                _api.GST_ACTION_REFRESH,
                current.gstin,
                current.username,
                {_api.GST_KEY_SESSION_ID: current.session_id},
                session_id=current.session_id,
            )
        except GstSessionExpired:
            await self.forget(current.gstin)  # dead: a new OTP is needed, keep it no longer
            raise
        session_id = _secret_field(answer, _api.GST_KEY_SESSION_ID, route)
        del answer  # it holds the new session id in plain text
        new = GstSession(current.gstin, current.username, session_id, self._now())
        await self._remember(new)
        log.info("GST session refreshed for %s", new.gstin)
        return new

    async def logout(self, session: GstSession) -> None:
        """End the session. Download tasks still running for this taxpayer will fail."""
        current = self.current(session)
        await self._post(
            _api.GST_ACTION_LOGOUT,
            current.gstin,
            current.username,
            {_api.GST_KEY_SESSION_ID: current.session_id},
            session_id=current.session_id,
        )
        await self.forget(current.gstin)
        log.info("GST session closed for %s", current.gstin)

    async def forget(self, gstin: str) -> None:
        """Drop the session of ``gstin`` from memory and from the session store."""
        self._current.pop(gstin, None)
        if self._store is not None:
            await self._store.delete(gstin)

    async def restore(self, gstin: str) -> GstSession | None:
        """The session the session store holds for ``gstin`` (now used for it), or ``None``.

        ``None`` means an OTP is needed: there is no store, no session, or it has lapsed.
        """
        gstin = _validate.gstin(gstin)
        if self._store is None:
            return None
        session = await self._store.load(gstin)
        if session is not None:
            self.adopt(session)
        return session

    async def refresh_if_due(self, session: GstSession, *, margin: float = 1800.0) -> GstSession:
        """Refresh the session if it lapses within ``margin`` seconds; return the current one."""
        current = self.current(session)
        left = (current.expires_at - self._now()).total_seconds()
        return await self.refresh(current) if left <= margin else current

    @contextlib.asynccontextmanager
    async def keep_alive(
        self, session: GstSession, *, margin: float = 1800.0
    ) -> AsyncIterator[KeepAlive]:
        """Keep the session refreshed in the background for the ``async with`` block.

        The session is refreshed ``margin`` seconds before it would lapse (portal sessions
        last about 6 hours), again and again, until the block ends. A refresh that fails is
        recorded on the yielded :class:`KeepAlive` (``error``) and ends the keeping; the next
        call that needs the session then raises the portal's error.
        """
        _validate.positive_number(margin, "margin")
        keeper = KeepAlive(self.current(session))

        async def run() -> None:
            while True:
                current = self.current(keeper.session)
                left = (current.expires_at - self._now()).total_seconds() - margin
                if left > 0:
                    await self._sleep(left)
                try:
                    keeper.session = await self.refresh(current)
                except Exception as exc:  # recorded for the caller; CancelledError passes
                    log.warning(
                        "keeping the GST session of %s alive failed: %s", current.gstin, exc
                    )
                    keeper.error = exc
                    keeper._stopped.set()
                    return
                keeper.refreshes += 1

        runner = asyncio.create_task(run(), name=f"flynn-async keep-alive {session.gstin}")
        try:
            yield keeper
        finally:
            runner.cancel()
            # A refresh in flight runs to its end (its new id must be kept): wait for it. Only
            # the keeper's own cancellation is absorbed here, never one of the caller's.
            await run_to_end(asyncio.wait([runner]))
