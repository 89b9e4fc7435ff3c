"""The login token: log in, pick the organisation, renew once for everyone, log out.

One client holds one token (a user may hold at most 10). Renewals are single-flight: every
caller that finds the token refused or ending soon shares one renewal of that token. A token is
refreshed shortly before it ends; past its hard limit (6 x its duration after login) the client
logs in again and logs the old token out, so it never holds two.

Time is counted on the monotonic clock from when a token was received, never by comparing the
server's ``expiry`` with the local wall clock (which may be hours off). The token's duration is
the one asked for (``token_minutes``), or, when shorter, the token's own ``exp - iat`` (a JWT's
claims, both on the server's clock).

Login, refresh and logout change state on the server, so each runs in a task of its own that
is awaited to its answer (bounded by the request timeout) even when the caller is cancelled,
and its outcome is recorded: a new token is kept, or logged out if the client is closing.

No frame of this module holds a plain secret in a local: tokens and the password stay
:class:`~flynn_async.Secret` values until the transport builds the request.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

from flynn_async._core._errors import (
    ApiError,
    AuthError,
    InvalidInput,
    ResponseError,
    TransportError,
)
from flynn_async._core._secrets import Secret

from . import _api
from ._credentials import Credentials
from ._token_store import StoredToken, TokenStore, token_key
from ._transport import Call, Transport

log: Final = logging.getLogger("flynn_async.auth")

#: Default number of tokens refused right after their own renewal, running, before giving up.
DEFAULT_MAX_TOKEN_REFUSALS: Final = 3


def _expiry_seconds(value: Any, route: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResponseError(f"login answer 'expiry' must be a number, got {value!r}", route=route)
    seconds = float(value)
    return seconds if seconds < _api.EXPIRY_SECONDS_BELOW else seconds / 1000.0


def _issued_at(token: Secret) -> float | None:
    """The JWT ``iat`` claim (epoch seconds on the server's clock), or ``None``."""
    try:
        payload = token.reveal().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        iat = claims.get(_api.JWT_ISSUED_AT) if isinstance(claims, dict) else None
    except Exception:  # not a JWT, or not one we can read: no issue time
        return None
    if isinstance(iat, bool) or not isinstance(iat, int | float):
        return None
    return float(iat)


def token_duration(token: Secret, expiry: float, requested: float) -> float:
    """Seconds the token lives: ``requested``, or the token's own ``expiry - iat`` if shorter.

    Both ``expiry`` and ``iat`` are on the server's clock, so the local wall clock never enters.
    """
    iat = _issued_at(token)
    if iat is not None:
        own = expiry - iat
        if 0 < own < requested:
            return own
    return requested


def choose_org(orgs: Any, wanted: str | None, route: str) -> str:
    """The organisation id: the caller's choice, else the primary one, else the only one."""
    if not isinstance(orgs, list):
        raise ResponseError("login answer 'associatedOrgs' must be a list", route=route)
    ids: list[str] = []
    primary: list[str] = []
    for entry in orgs:
        org = entry.get("organisation") if isinstance(entry, dict) else None
        org_id = org.get("id") if isinstance(org, dict) else None
        if not isinstance(org_id, str):
            raise ResponseError("login answer has an organisation without an id", route=route)
        ids.append(org_id)
        access = entry.get("userAccessInfo")
        if isinstance(access, dict) and access.get("primary") is True:
            primary.append(org_id)
    if wanted is not None:
        if ids and wanted not in ids:
            raise InvalidInput(f"org_id {wanted!r} is not one of the user's organisations")
        return wanted
    if len(primary) == 1:
        return primary[0]
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise InvalidInput("the user belongs to no organisation; pass Credentials(org_id=...)")
    marked = f"{len(primary)} are" if primary else "none is"
    raise InvalidInput(
        f"the user belongs to {len(ids)} organisations and {marked} primary; "
        "pass Credentials(org_id=...) to choose one"
    )


def _bearer(token: Secret) -> dict[str, str | Secret]:
    return {"Authorization": Secret("Bearer " + token.reveal()), "Accept": _api.ACCEPT_JSON}


class TokenManager:
    """Holds the login token and the organisation id."""

    def __init__(
        self,
        transport: Transport,
        login_url: str,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_refusals: int = DEFAULT_MAX_TOKEN_REFUSALS,
        store: TokenStore | None = None,
    ) -> None:
        self._transport = transport
        self._login_url = login_url
        self._credentials = credentials
        self._clock = clock
        self._wall = wall_clock
        self._max_refusals = max_refusals
        self._store = store
        self._store_key = token_key(login_url, credentials.handle, credentials.org_id)
        self._token: Secret | None = None
        self._received = 0.0  # monotonic time the token arrived
        self._duration = 0.0  # seconds it lives
        self._login_at = 0.0  # monotonic time of the login it descends from (hard limit)
        self._proven = False  # a call made with the current token succeeded
        self._counted = False  # the current token's refusal was counted already
        self._streak = 0  # tokens refused right after their own renewal, running
        self._stale = False  # gave up on the current token: the next call renews it first
        self._flight: asyncio.Task[None] | None = None  # the renewal in progress
        self._background: set[asyncio.Task[Any]] = set()
        self.org_id: str | None = credentials.org_id
        self.closed = False
        self.logins = 0
        self.refreshes = 0
        self.reused = 0

    @property
    def token(self) -> Secret | None:
        """The current token, ``None`` before login and after logout."""
        return self._token

    def auth_headers(self) -> dict[str, str | Secret]:
        """The headers every API call carries (section 3), the token still a :class:`Secret`."""
        if self._token is None or self.org_id is None:
            raise RuntimeError("not logged in: use the client as 'async with FlynnClient(...)'")
        return {
            _api.HEADER_ORG_ID: self.org_id,
            _api.HEADER_USER_TOKEN: self._token,
            "Accept": _api.ACCEPT_JSON,
        }

    # ---------------------------------------------------------------------------------------
    # Timing (monotonic)
    # ---------------------------------------------------------------------------------------

    def _refresh_margin(self) -> float:
        return min(max(30.0, self._duration * 0.1), self._duration / 2)

    def _due(self) -> bool:
        return self._clock() >= self._received + self._duration - self._refresh_margin()

    def _past_hard_limit(self) -> bool:
        """Whether a refresh now would give a token cut short by the hard limit (6 x its
        duration after login): then the client logs in again instead."""
        hard = self._login_at + _api.TOKEN_HARD_EXPIRY_FACTOR * self._duration
        return self._clock() >= hard - self._duration

    # ---------------------------------------------------------------------------------------
    # Shielded server calls
    # ---------------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in a task of its own that outlives a cancelled caller."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here; the callers awaiting it got the error

    async def settle(self) -> None:
        """Wait until no login, refresh or logout is in progress (each runs to its answer)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    # ---------------------------------------------------------------------------------------
    # Login and renewal
    # ---------------------------------------------------------------------------------------

    async def login(self) -> None:
        """Adopt the stored token if there is a live one, else log in."""
        await self.renew(None, reason="starting", relogin=True)

    async def ensure_fresh(self) -> None:
        """Refresh (or log in again) if the token ends soon; a no-op otherwise.

        A renewal made early that gets no usable answer (a timeout, a gateway's page) leaves
        the caller to the current token while it is still valid; the next call tries again.
        """
        self._check_open()
        if self._token is not None and not self._stale and not self._due():
            return
        seen = self._token
        try:
            await self.renew(seen, reason="token ends soon")
        except (TransportError, ResponseError, ApiError) as exc:  # no answer, a 5xx, a 429
            refused = isinstance(exc, AuthError)  # the token or credentials were refused
            if refused or seen is None or seen is not self._token or self._stale or self._ended():
                raise
            log.warning(
                "refreshing the login token early failed (%s); going on with the current one, "
                "valid for %.0fs more",
                exc,
                self._received + self._duration - self._clock(),
            )

    def _ended(self) -> bool:
        return self._clock() >= self._received + self._duration

    def worked(self, used: Secret | None) -> None:
        """A call made with ``used`` succeeded: the token is good."""
        if used is not None and used is self._token:
            self._proven = True
            self._streak = 0

    def refused(self, used: Secret) -> bool:
        """A call made with ``used`` was refused; ``True`` when renewing has stopped helping."""
        if used is not self._token:
            return False  # already renewed: repeat with the new token
        if not self._counted:
            self._counted = True
            self._streak = 0 if self._proven else self._streak + 1
        if self._streak < self._max_refusals:
            return False
        # Give up on this call; the next call renews once more before it is sent.
        self._stale = True
        return True

    async def renew(
        self,
        seen: Secret | None,
        *,
        reason: str,
        relogin: bool = False,
    ) -> None:
        """Replace the token ``seen`` by a fresh one: one renewal however many callers ask.

        A caller that saw an older token than the current one finds the work done. The renewal
        runs to its answer even if every caller is cancelled.
        """
        while True:
            self._check_open()
            if self._token is not None and self._token is not seen:
                return  # another caller already renewed it
            flight = self._flight
            if flight is None:
                flight = self._flight = self._spawn(self._renew_now(seen, reason, relogin))
            await asyncio.shield(flight)

    async def _renew_now(self, seen: Secret | None, reason: str, relogin: bool) -> None:
        try:
            if self._store is not None and await self._adopt_stored(seen):
                return
            if relogin or self._token is None or self._past_hard_limit():
                log.info("logging in: %s", reason)
                await self._login_now()
                return
            try:
                await self._refresh_now()
            except AuthError as exc:
                if self._store is not None and await self._adopt_stored(seen):
                    return  # another process refreshed it first
                log.info("token refresh refused (%s); logging in again", exc.code)
                await self._login_now()
        finally:
            self._flight = None

    async def _load_stored(self) -> StoredToken | None:
        assert self._store is not None
        try:
            return await self._store.load(self._store_key)
        except Exception as exc:
            log.warning("reading the token store failed: %s", exc)
            return None

    async def _adopt_stored(self, seen: Secret | None) -> bool:
        """Take the stored token if it is another than ``seen`` and not past its hard limit.

        A token past its refresh time is adopted too: refreshing it replaces it on the server,
        where a new login would add one more live token.
        """
        stored = await self._load_stored()
        if stored is None or stored.token == seen or stored.token == self._token:
            return False
        now_wall, now = self._wall(), self._clock()
        hard = _api.TOKEN_HARD_EXPIRY_FACTOR * stored.duration
        if now_wall - stored.login_at >= hard - min(60.0, stored.duration / 2):
            return False
        age = max(0.0, now_wall - stored.received_at)
        self._set_token(
            stored.token,
            stored.duration,
            received=now - age,
            login_at=now - max(0.0, now_wall - stored.login_at),
        )
        if self._credentials.org_id is None or self._credentials.org_id == stored.org_id:
            self.org_id = stored.org_id
        self.reused += 1
        log.info("reusing the stored login token (organisation %s)", self.org_id)
        return True

    def _set_token(
        self, token: Secret, duration: float, *, received: float, login_at: float
    ) -> None:
        self._token = token
        self._duration = duration
        self._received = received
        self._login_at = login_at
        self._proven = False
        self._counted = False
        self._stale = False

    async def _save(self) -> None:
        if self._store is None or self._token is None or self.org_id is None:
            return
        now, now_wall = self._clock(), self._wall()
        stored = StoredToken(
            token=self._token,
            org_id=self.org_id,
            duration=self._duration,
            received_at=now_wall - (now - self._received),
            login_at=now_wall - (now - self._login_at),
        )
        try:
            await self._store.save(self._store_key, stored)
        except Exception as exc:
            log.warning("saving the login token to the store failed: %s", exc)

    async def _login_now(self) -> None:
        old = self._token
        route = _api.LOGIN_ROUTE
        c = self._credentials
        call = Call(
            "POST",
            self._login_url + route,
            route=route,
            headers={"Accept": _api.ACCEPT_JSON},
            json={
                "handle": c.handle,
                "handleType": c.handle_type,
                "password": c.password,
                "tokenDurationInMins": c.token_minutes,
            },
            secret_fields=("token",),
        )
        data = await self._transport.call(call)
        received = self._clock()
        try:
            self._accept(data, route, choose=True, received=received, login_at=received)
        except (InvalidInput, ResponseError):
            # The server issued a token this client cannot use (no organisation to choose, or
            # an answer off the schema around it): log it out, don't leak it (10 at most).
            await self._drop_unusable(data)
            raise
        self.logins += 1
        log.info("logged in as %s (organisation %s)", c.handle, self.org_id)
        if not self.closed:  # closing: the new token is logged out, never stored
            await self._save()
        if old is not None and old != self._token:  # an idempotent login hands back the same
            await self._logout_token(old)

    async def _refresh_now(self) -> None:
        assert self._token is not None
        route = _api.LOGIN_ROUTE
        call = Call(
            "PUT",
            self._login_url + route,
            route=route,
            headers=_bearer(self._token),
            secret_fields=("token",),
        )
        data = await self._transport.call(call)
        try:
            self._accept(data, route, choose=False, received=self._clock(), login_at=self._login_at)
        except ResponseError:
            await self._drop_unusable(data)  # a new token the client cannot use: not leaked
            raise
        self.refreshes += 1
        log.info("login token refreshed")
        await self._save()

    async def _drop_unusable(self, data: Any) -> None:
        """Log out the token of a login or refresh answer the client could not accept."""
        token = data.get("token") if isinstance(data, dict) else None
        if isinstance(token, Secret) and token and token != self._token:
            await self._logout_token(token)

    def _accept(
        self, data: Any, route: str, *, choose: bool, received: float, login_at: float
    ) -> None:
        if not isinstance(data, dict):
            raise ResponseError("login answer 'data' must be an object", route=route)
        token = data.get("token")
        if not isinstance(token, Secret) or not token:
            raise ResponseError("login answer has no token", route=route)
        expiry = _expiry_seconds(data.get("expiry"), route)
        if choose:
            self.org_id = choose_org(
                data.get("associatedOrgs"), self._credentials.org_id or self.org_id, route
            )
        requested = self._credentials.token_minutes * 60.0
        self._set_token(
            token, token_duration(token, expiry, requested), received=received, login_at=login_at
        )

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this FlynnClient is closed: its login token was logged out")

    # ---------------------------------------------------------------------------------------
    # Logout
    # ---------------------------------------------------------------------------------------

    async def logout(self, *, keep: bool = False) -> None:
        """Close the manager: wait for a renewal in progress, then log the token out.

        With ``keep`` (a token store holds the token for the next process) the token is left
        live. Errors are logged, not raised: the token expires anyway. The work runs to its
        end even if the caller is cancelled.
        """
        if not self.closed:
            self.closed = True
            self._spawn(self._logout_now(keep))
        await asyncio.shield(asyncio.ensure_future(self.settle()))

    async def _logout_now(self, keep: bool) -> None:
        flight = self._flight
        if flight is not None:
            await asyncio.gather(flight, return_exceptions=True)
        token, self._token = self._token, None
        if token is None:
            return
        if keep and self._store is not None:
            stored = await self._load_stored()
            if stored is not None and stored.token == token:
                log.info("the login token is kept in the token store")
                return
        await self._logout_token(token)

    async def revoke_stored(self) -> bool:
        """Log out the token kept in the store (if any) and remove it; whether there was one."""
        if self._store is None:
            return False
        stored = await self._store.load(self._store_key)
        if stored is None:
            return False
        await self._logout_token(stored.token)
        await self._store.delete(self._store_key)
        return True

    async def _logout_token(self, token: Secret) -> None:
        route = _api.LOGOUT_ROUTE
        call = Call("POST", self._login_url + route, route=route, headers=_bearer(token))
        try:
            await self._transport.call(call)
        except Exception as exc:  # best effort: the token will expire by itself
            log.warning("logging the login token out failed: %s", exc)


class Api:
    """Authenticated calls: API headers read per try, proactive refresh, renewal on refusal."""

    def __init__(self, transport: Transport, tokens: TokenManager, base_url: str) -> None:
        self.transport = transport
        self.tokens = tokens
        self.base_url = base_url

    async def call(
        self,
        method: str,
        route: str,
        path: str,
        *,
        headers: Mapping[str, str | Secret] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        task_id: str | None = None,
        page: int | None = None,
        limiter: asyncio.Semaphore | None = None,
        raw: bool = False,
        retry_not_found: bool = False,
        fast: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Call ``path`` (under the API base); returns the envelope's ``data``.

        ``fast``, when given, is a typed decoder of a successful body (see
        :attr:`~flynn_async._http._transport.Call.fast`).

        Whether a failed try is repeated is decided by ``route`` alone, from the one table
        :data:`flynn_async._http._api.RETRYABLE_ROUTES`. Every try reads the token current at the
        moment it is sent (after waiting for a page slot).

        A refused token (``err-expired-token``: refreshed; ``err-invalid-token``: a new login)
        is renewed and the call repeated, as often as renewing helps: the server refused the
        call before doing anything, so this is safe even for calls that start a task. The
        call gives up when tokens are refused right after their own renewal
        ``max_token_refusals`` times running.
        """
        tokens = self.tokens
        await tokens.ensure_fresh()
        used: Secret | None = None

        def auth() -> dict[str, str | Secret]:
            nonlocal used
            found = tokens.auth_headers()
            used = tokens.token
            return found

        call = Call(
            method,
            self.base_url + path,
            route=route,
            headers=headers or {},
            auth=auth,
            params=params,
            json=json,
            retryable=route in _api.RETRYABLE_ROUTES,
            task_id=task_id,
            page=page,
            raw=raw,
            retry_not_found=retry_not_found,
            fast=fast,
        )
        while True:
            try:
                result = await self.transport.call(call, limiter=limiter)
            except AuthError as exc:
                refused = used
                if exc.code not in (_api.ERR_EXPIRED_TOKEN, _api.ERR_INVALID_TOKEN):
                    raise
                if refused is None or tokens.refused(refused):
                    raise
                await tokens.renew(
                    refused, reason=exc.code, relogin=exc.code == _api.ERR_INVALID_TOKEN
                )
                continue
            tokens.worked(used)
            return result
