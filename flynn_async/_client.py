"""The public face: :class:`FlynnClient`, an async context manager tying the layers together."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import aiohttp

from ._core import _validate
from ._core._errors import InvalidInput
from ._core._policy import PollPolicy, RandomSource, RetryPolicy
from ._http import _api
from ._http._auth import DEFAULT_MAX_TOKEN_REFUSALS, Api, TokenManager
from ._http._credentials import Credentials
from ._http._token_store import TokenStore
from ._http._transport import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    Stats,
    Transport,
    check_base_url,
)
from ._tasks._task import TaskContext
from .batch import BatchImsApi
from .einvoice._keys import EInvoiceKeys, KeyRing, load_keys
from .einvoice._lookup import EInvoiceApi
from .gst._gst import GstApi
from .gst._store import SessionStore
from .gst._taxpayer_locks import TaxpayerLocks
from .gstr2b import Gstr2bApi

log: Final = logging.getLogger("flynn_async.client")

Environment = Literal["sandbox", "production"]
_T = TypeVar("_T")

#: Default number of page requests in flight across the whole client.
DEFAULT_MAX_CONCURRENCY: Final = 8
#: Default per-request timeout, in seconds (one try; retries come on top).
DEFAULT_REQUEST_TIMEOUT: Final = 60.0


class FlynnClient:
    """An asyncio client for the Flynn GST API.

    Use it as ``async with FlynnClient(credentials) as client:``; entering logs in, leaving
    logs the token out and closes the HTTP session the client created. ``await client.aclose()``
    does the same without ``async with``. Leaving never logs out a GST session (that would make
    its running download tasks fail).

    Args:
        credentials: who logs in.
        environment: ``"sandbox"`` (the default: production calls are billed and must be asked
            for) or ``"production"``.
        base_url, login_url: explicit API and login-service bases instead of ``environment``
            (both or neither); ``http://`` is accepted only for loopback hosts, unless
            ``allow_insecure_http`` is true.
        allow_insecure_http: accept plain ``http://`` ``base_url``/``login_url`` for any host
            (a simulator in another container); a warning is logged, as credentials then
            travel unencrypted. Off by default.
        trust_env: as aiohttp's ``ClientSession(trust_env=...)``: honour ``HTTPS_PROXY``,
            ``HTTP_PROXY``, ``NO_PROXY`` (and ``~/.netrc``) for the session the client
            creates. Off by default; the command line turns it on. With ``session=``, set it
            on that session instead.
        session: an ``aiohttp.ClientSession`` to use; the client never closes a session it was
            given. Its connector's limit should be at least ``max_concurrency``.
        poll: how task status is polled (:class:`PollPolicy`).
        retry: how failed safe-to-repeat requests are retried (:class:`RetryPolicy`).
        max_concurrency: page requests in flight at once across the whole client, however many
            downloads run together.
        request_timeout: seconds one request may take (each try); the poll deadline is separate.
        page_base: the API's first page number (unconfirmed: 0 by default).
        gstn_api_version, einvoice_api_version: the government API versions in routes.
        gstr2b_api_version: the GST API version of the GSTR-2B routes (default ``v4.0``,
            unconfirmed).
        ims_api_version: the GST API version of the IMS returns routes (counts, save, request
            status); unconfirmed, ``v0.3`` by default.
        einvoice_keys: the e-invoice portal's public key or certificate (PEM, text or bytes),
            a mapping from ``kid`` to such keys, or a list of certificates. When given, every
            fetched e-invoice's signatures are verified before it is returned; without keys,
            nothing is verified.
        session_store: where GST sessions are kept between processes (a
            :class:`SessionStore`, such as :class:`FileSessionStore`): every verified or
            refreshed session is saved there, and ``client.gst.restore(gstin)`` loads one.
        token_store: where the login token is kept between processes (a :class:`TokenStore`,
            such as :class:`FileTokenStore`): a live stored token is reused instead of logging
            in, every new or refreshed token is saved, and leaving keeps the stored token live
            for the next process instead of logging it out (``flynn-async logout`` ends it).
        max_token_refusals: a call that meets a refused login token renews it and is repeated
            as often as that helps; it gives up when tokens are refused right after their own
            renewal this many times running (default 3).
        max_body_bytes: the largest answer body accepted as it arrives on the wire (default
            32 MiB); a larger one is a :class:`ResponseError` naming route, task and page.
        max_decompressed_bytes: the largest answer body accepted once decompressed (default
            128 MiB).
        sleep, clock, wall_clock, rng: injectable time and randomness (for tests): an async
            sleep, a monotonic clock in seconds (also times the login token), a wall clock in
            epoch seconds (GST session expiry, stored token ages), and a ``random.Random``-like
            source.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        environment: Environment = "sandbox",
        base_url: str | None = None,
        login_url: str | None = None,
        session: aiohttp.ClientSession | None = None,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        page_base: int = _api.PAGE_BASE,
        gstn_api_version: str = _api.DEFAULT_GSTN_API_VERSION,
        ims_api_version: str = _api.DEFAULT_IMS_API_VERSION,
        einvoice_api_version: str = _api.DEFAULT_EINVOICE_API_VERSION,
        gstr2b_api_version: str = _api.DEFAULT_GSTR2B_API_VERSION,
        einvoice_keys: EInvoiceKeys | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: RandomSource | None = None,
        session_store: SessionStore | None = None,
        token_store: TokenStore | None = None,
        max_token_refusals: int = DEFAULT_MAX_TOKEN_REFUSALS,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
        allow_insecure_http: bool = False,
        trust_env: bool = False,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise InvalidInput("credentials must be a flynn_async.Credentials")
        if (base_url is None) != (login_url is None):
            raise InvalidInput("give both base_url and login_url, or neither")
        if base_url is None or login_url is None:
            if environment not in _api.ENVIRONMENTS:
                raise InvalidInput(
                    f"environment must be one of {', '.join(_api.ENVIRONMENTS)}, "
                    f"got {environment!r}"
                )
            base_url, login_url = _api.ENVIRONMENTS[environment]
        if not isinstance(allow_insecure_http, bool) or not isinstance(trust_env, bool):
            raise InvalidInput("allow_insecure_http and trust_env must be True or False")
        insecure = allow_insecure_http
        self.base_url = check_base_url(base_url, "base_url", allow_insecure_http=insecure)
        self.login_url = check_base_url(login_url, "login_url", allow_insecure_http=insecure)
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise InvalidInput("session must be an aiohttp.ClientSession")
        if session is not None and trust_env:
            raise InvalidInput("trust_env applies to the client's own session: set it on yours")
        self.trust_env = trust_env
        if poll is not None and not isinstance(poll, PollPolicy):
            raise InvalidInput("poll must be a PollPolicy")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise InvalidInput("retry must be a RetryPolicy")
        self.credentials = credentials
        self.poll = poll or PollPolicy()
        self.retry = retry or RetryPolicy()
        self.max_concurrency = _validate.positive_int(
            max_concurrency, "max_concurrency", maximum=1024
        )
        self.request_timeout = _validate.positive_number(request_timeout, "request_timeout")
        self.page_base = _validate.positive_int(page_base, "page_base", minimum=0, maximum=1)
        self.gstn_api_version = _validate.text(gstn_api_version, "gstn_api_version", max_len=16)
        self.gstr2b_api_version = _validate.text(
            gstr2b_api_version, "gstr2b_api_version", max_len=16
        )
        self.ims_api_version = _validate.text(ims_api_version, "ims_api_version", max_len=16)
        self.einvoice_api_version = _validate.text(
            einvoice_api_version, "einvoice_api_version", max_len=16
        )
        self._einvoice_keys: KeyRing | None = (
            None if einvoice_keys is None else load_keys(einvoice_keys)
        )
        self._given_session = session
        self._session: aiohttp.ClientSession | None = None
        if session_store is not None and not isinstance(session_store, SessionStore):
            raise InvalidInput("session_store must implement SessionStore (load, save, delete)")
        self._session_store = session_store
        if token_store is not None and not isinstance(token_store, TokenStore):
            raise InvalidInput("token_store must implement TokenStore (load, save, delete)")
        self._token_store = token_store
        self.max_token_refusals = _validate.positive_int(
            max_token_refusals, "max_token_refusals", maximum=100
        )
        self.max_body_bytes = _validate.positive_int(
            max_body_bytes, "max_body_bytes", maximum=2**40
        )
        self.max_decompressed_bytes = _validate.positive_int(
            max_decompressed_bytes, "max_decompressed_bytes", maximum=2**40
        )
        self._closing: asyncio.Task[None] | None = None
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._clock = clock
        self._rng: RandomSource = rng if rng is not None else random.Random()
        self._transport: Transport | None = None
        self._tokens: TokenManager | None = None
        self._gst: GstApi | None = None
        self._ims: BatchImsApi | None = None
        self._gstr2b: Gstr2bApi | None = None
        #: One lock per taxpayer GSTIN for the calls that change its state on the portal.
        self.taxpayer_locks = TaxpayerLocks()
        self._einvoice: EInvoiceApi | None = None
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._tokens else "not started"
        return f"<FlynnClient {self.credentials.handle} at {self.base_url} ({state})>"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Create the HTTP session (unless one was given) and log in."""
        if self._closed:
            raise RuntimeError("this FlynnClient is closed; create a new one")
        if self._tokens is not None:
            return
        if self._given_session is not None:
            session = self._given_session
            limit = session.connector.limit if session.connector is not None else 0
            if limit and limit < self.max_concurrency:
                log.warning(
                    "the session's connector limit (%d) is below max_concurrency (%d)",
                    limit,
                    self.max_concurrency,
                )
        else:
            connector = aiohttp.TCPConnector(limit=max(100, self.max_concurrency + 16))
            session = aiohttp.ClientSession(connector=connector, trust_env=self.trust_env)
            self._session = session
        transport = Transport(
            session,
            retry=self.retry,
            request_timeout=self.request_timeout,
            sleep=self._sleep,
            rng=self._rng,
            clock=self._clock,
            max_body_bytes=self.max_body_bytes,
            max_decompressed_bytes=self.max_decompressed_bytes,
        )
        tokens = TokenManager(
            transport,
            self.login_url,
            self.credentials,
            clock=self._clock,
            wall_clock=self._wall_clock,
            max_refusals=self.max_token_refusals,
            store=self._token_store,
        )
        self._transport = transport
        self._tokens = tokens
        try:
            await tokens.login()
        except BaseException:
            # Cancelled or failed: the login runs to its answer; its token is logged out.
            await self._close(keep_token=False)
            raise
        api = Api(transport, tokens, self.base_url)
        ctx = TaskContext(
            api=api,
            poll=self.poll,
            limiter=asyncio.Semaphore(self.max_concurrency),
            max_concurrency=self.max_concurrency,
            page_base=self.page_base,
            sleep=self._sleep,
            clock=self._clock,
            rng=self._rng,
        )
        self._gst = GstApi(
            api,
            self.gstn_api_version,
            store=self._session_store,
            sleep=self._sleep,
            wall_clock=self._wall_clock,
        )
        self._ims = BatchImsApi(ctx, self._gst, self.ims_api_version, self.taxpayer_locks)
        self._gstr2b = Gstr2bApi(ctx, self._gst, self.gstr2b_api_version, self.taxpayer_locks)
        self._einvoice = EInvoiceApi(api, self.einvoice_api_version, self._einvoice_keys)

    async def aclose(self) -> None:
        """Log the token out and close the HTTP session the client created. Idempotent.

        With a ``token_store`` the stored token is kept live for the next process instead.
        The work runs to its end even if the caller is cancelled (each server call bounded by
        the request timeout); a later ``aclose()`` waits for it.
        """
        await self._close(keep_token=True)

    async def _close(self, *, keep_token: bool) -> None:
        self._closed = True
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._closed_down(keep_token))
        await asyncio.shield(self._closing)

    async def _closed_down(self, keep_token: bool) -> None:
        try:
            if self._tokens is not None:
                await self._tokens.logout(keep=keep_token)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None

    async def logout_stored_token(self) -> bool:
        """Log out the login token kept in the ``token_store`` and remove it from there.

        Returns whether there was one. Works on a client that was never started (nothing
        else is called: no login). A started client that was using that token logs in again
        on its next call.
        """
        if self._token_store is None:
            return False
        if self._tokens is not None and not self._closed:
            return await self._tokens.revoke_stored()
        async with aiohttp.ClientSession() as session:
            transport = Transport(
                session,
                retry=self.retry,
                request_timeout=self.request_timeout,
                sleep=self._sleep,
                rng=self._rng,
                clock=self._clock,
                max_body_bytes=self.max_body_bytes,
                max_decompressed_bytes=self.max_decompressed_bytes,
            )
            tokens = TokenManager(
                transport,
                self.login_url,
                self.credentials,
                clock=self._clock,
                wall_clock=self._wall_clock,
                store=self._token_store,
            )
            return await tokens.revoke_stored()

    def _require(self, part: _T | None) -> _T:
        if self._closed:
            raise RuntimeError("this FlynnClient is closed")
        if part is None:
            raise RuntimeError("the client is not started: use 'async with FlynnClient(...)'")
        return part

    @property
    def gst(self) -> GstApi:
        """GST (OTP) session calls."""
        return self._require(self._gst)

    @property
    def ims(self) -> BatchImsApi:
        """IMS download calls."""
        return self._require(self._ims)

    @property
    def gstr2b(self) -> Gstr2bApi:
        """GSTR-2B calls: download, regenerate, regeneration status."""
        return self._require(self._gstr2b)

    @property
    def einvoice(self) -> EInvoiceApi:
        """E-invoice lookups."""
        return self._require(self._einvoice)

    @property
    def org_id(self) -> str | None:
        """The organisation the client acts for (known after login)."""
        return self._tokens.org_id if self._tokens is not None else None

    @property
    def stats(self) -> Stats:
        """Counters: requests sent, retries, faults seen (still readable after closing)."""
        if self._transport is None:
            raise RuntimeError("the client is not started: use 'async with FlynnClient(...)'")
        return self._transport.stats
