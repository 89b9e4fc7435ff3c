"""The login token: log in, pick the organisation, refresh under one lock, log out.

One client holds one token (a user may hold at most 10). Refreshes are serialised: concurrent
requests that find the token expired share one refresh. A token is refreshed shortly before it
expires; past its hard limit (6 x its duration after login) the client logs in again and logs
the old token out, so it never holds two.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import _api
from ._credentials import Credentials
from ._errors import AuthError, InvalidInput, ResponseError
from ._secrets import Secret
from ._transport import Call, Transport

log: Final = logging.getLogger("flynn_async.auth")


def _expiry_seconds(value: Any, route: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResponseError(f"login answer 'expiry' must be a number, got {value!r}", route=route)
    seconds = float(value)
    return seconds if seconds < _api.EXPIRY_SECONDS_BELOW else seconds / 1000.0


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
    raise InvalidInput(
        f"the user belongs to {len(ids)} organisations and none is primary; "
        "pass Credentials(org_id=...) to choose one"
    )


class TokenManager:
    """Holds the login token and the organisation id."""

    def __init__(
        self,
        transport: Transport,
        login_url: str,
        credentials: Credentials,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._login_url = login_url
        self._credentials = credentials
        self._wall = wall_clock
        self._lock = asyncio.Lock()
        self._token: Secret | None = None
        self._expires_at = 0.0
        self._hard_expiry = 0.0
        self.org_id: str | None = credentials.org_id
        self.closed = False
        self.logins = 0
        self.refreshes = 0

    @property
    def token(self) -> Secret | None:
        """The current token, ``None`` before login and after logout."""
        return self._token

    def headers(self) -> dict[str, str]:
        """The headers every API call carries (section 3)."""
        if self._token is None or self.org_id is None:
            raise RuntimeError("not logged in: use the client as 'async with FlynnClient(...)'")
        return {
            _api.HEADER_ORG_ID: self.org_id,
            _api.HEADER_USER_TOKEN: self._token.reveal(),
            "Accept": _api.ACCEPT_JSON,
        }

    def _refresh_margin(self) -> float:
        return max(30.0, self._credentials.token_minutes * 60 * 0.1)

    async def login(self) -> None:
        """Log in (again), logging the previous token out so only one is ever live."""
        async with self._lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        old = self._token
        route = _api.LOGIN_ROUTE
        c = self._credentials
        body = {
            "handle": c.handle,
            "handleType": c.handle_type,
            "password": c.password.reveal(),
            "tokenDurationInMins": c.token_minutes,
        }
        call = Call(
            "POST",
            self._login_url + route,
            route=route,
            headers={"Accept": _api.ACCEPT_JSON},
            json=body,
        )
        data = await self._transport.call(call)
        try:
            self._accept(data, route, choose=True)
        except InvalidInput:
            # The server issued a token this client cannot use: log it out, don't leak it.
            token = data.get("token") if isinstance(data, dict) else None
            if isinstance(token, str) and token:
                await self._logout_token(Secret(token))
            raise
        self._hard_expiry = self._wall() + _api.TOKEN_HARD_EXPIRY_FACTOR * c.token_minutes * 60
        self.logins += 1
        log.info("logged in as %s (organisation %s)", c.handle, self.org_id)
        if old is not None:
            await self._logout_token(old)

    def _accept(self, data: Any, route: str, *, choose: bool) -> None:
        if not isinstance(data, dict):
            raise ResponseError("login answer 'data' must be an object", route=route)
        token = data.get("token")
        if not isinstance(token, str) or not token:
            raise ResponseError("login answer has no token", route=route)
        expires_at = _expiry_seconds(data.get("expiry"), route)
        if choose:
            self.org_id = choose_org(
                data.get("associatedOrgs"), self._credentials.org_id or self.org_id, route
            )
        self._token = Secret(token)
        self._expires_at = expires_at

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this FlynnClient is closed: its login token was logged out")

    async def ensure_fresh(self) -> None:
        """Refresh (or log in again) if the token ends soon; a no-op otherwise."""
        self._check_open()
        if self._token is not None and self._wall() < self._expires_at - self._refresh_margin():
            return
        await self.renew(self._token, reason="token ends soon")

    async def renew(self, seen: Secret | None, *, reason: str, relogin: bool = False) -> None:
        """Replace the token ``seen`` by a fresh one, once, however many callers ask.

        A caller that saw an older token than the current one finds the work done.
        """
        async with self._lock:
            self._check_open()
            if self._token is not seen and self._token is not None:
                return  # another request already renewed it
            if relogin or self._token is None or self._wall() >= self._hard_expiry - 60:
                log.info("logging in again: %s", reason)
                await self._login_locked()
                return
            try:
                await self._refresh_locked()
            except AuthError as exc:
                log.info("token refresh refused (%s); logging in again", exc.code)
                await self._login_locked()

    async def _refresh_locked(self) -> None:
        assert self._token is not None
        route = _api.LOGIN_ROUTE
        call = Call(
            "PUT",
            self._login_url + route,
            route=route,
            headers={
                "Authorization": f"Bearer {self._token.reveal()}",
                "Accept": _api.ACCEPT_JSON,
            },
        )
        data = await self._transport.call(call)
        self._accept(data, route, choose=False)
        self.refreshes += 1
        log.info("login token refreshed")

    async def logout(self) -> None:
        """Log the token out (errors are logged, not raised: the token expires anyway).

        The manager is closed from then on: it never logs in again.
        """
        async with self._lock:
            self.closed = True
            token, self._token = self._token, None
            if token is not None:
                await self._logout_token(token)

    async def _logout_token(self, token: Secret) -> None:
        route = _api.LOGOUT_ROUTE
        call = Call(
            "POST",
            self._login_url + route,
            route=route,
            headers={"Authorization": f"Bearer {token.reveal()}", "Accept": _api.ACCEPT_JSON},
        )
        try:
            await self._transport.call(call)
        except Exception as exc:  # best effort: the token will expire by itself
            log.warning("logging the login token out failed: %s", exc)


class Api:
    """Authenticated calls: API headers, proactive refresh, one repeat after expiry."""

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
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        task_id: str | None = None,
        page: int | None = None,
        limiter: asyncio.Semaphore | None = None,
        raw: bool = False,
        retry_not_found: bool = False,
    ) -> Any:
        """Call ``path`` (under the API base); returns the envelope's ``data``.

        Whether a failed try is repeated is decided by ``route`` alone, from the one table
        :data:`flynn_async._api.RETRYABLE_ROUTES`.

        An expired token is refreshed once and the call repeated (the server refused it before
        doing anything, so this is safe even for calls that start a task); an invalid token
        leads to a new login and one repeat.
        """
        await self.tokens.ensure_fresh()
        for repeat in (False, True):
            seen = self.tokens.token
            call = Call(
                method,
                self.base_url + path,
                route=route,
                headers={**self.tokens.headers(), **(headers or {})},
                params=params,
                json=json,
                retryable=route in _api.RETRYABLE_ROUTES,
                task_id=task_id,
                page=page,
                raw=raw,
                retry_not_found=retry_not_found,
            )
            try:
                return await self.transport.call(call, limiter=limiter)
            except AuthError as exc:
                if repeat or exc.code not in (_api.ERR_EXPIRED_TOKEN, _api.ERR_INVALID_TOKEN):
                    raise
                await self.tokens.renew(
                    seen, reason=exc.code, relogin=exc.code == _api.ERR_INVALID_TOKEN
                )
        raise AssertionError("unreachable")  # pragma: no cover
