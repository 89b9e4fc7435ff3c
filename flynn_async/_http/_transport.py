"""One HTTP request: send, read, decode the envelope, map errors, retry when allowed.

The transport knows nothing of IMS or e-invoices. It sends a request with the headers it is
given, never follows redirects (credentials must not travel to another host), bounds each try
by the per-request timeout, and turns every outcome into data or a typed error that names the
route, task id and page. A call marked ``retryable`` is repeated under the
:class:`~flynn_async.RetryPolicy`; others (starting a task, token refresh) never are.

aiohttp itself resends an idempotent-method request (GET, PUT, ...) once when the connection
drops before the answer (a closed keep-alive connection, a reset). For a call that is sent at
most once that resend is refused before anything is written (see :func:`guard_session`), and
the caller gets :class:`~flynn_async.OutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit

import aiohttp
import attrs
import msgspec
from yarl import URL

from flynn_async._core._errors import (
    ApiError,
    FlynnError,
    InvalidInput,
    OutcomeUnknown,
    RequestTimeout,
    ResponseError,
    TransportError,
)
from flynn_async._core._json import decode_problem, dumps, loads
from flynn_async._core._policy import RandomSource, RetryPolicy
from flynn_async._core._secrets import Secret

from . import _api
from ._envelope import api_error, is_api_error_body, unwrap

log: Final = logging.getLogger("flynn_async.http")

Sleep = Callable[[float], Awaitable[None]]
HeaderValue = str | Secret

#: Default cap on an answer's body as it arrives on the wire (compressed or not).
DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
#: Default cap on an answer's body once decompressed.
DEFAULT_MAX_DECOMPRESSED_BYTES: Final = 128 * 1024 * 1024
#: The content codings the client asks for and decodes itself (under the caps above).
ACCEPT_ENCODING: Final = "gzip, deflate"
_CHUNK: Final = 64 * 1024


class _TooLarge(Exception):
    """An answer's body passed one of the size caps."""


class _ResendBlocked(Exception):
    """aiohttp was about to send, a second time, a call that is sent at most once.

    Raised from a connection hook, before the attempt's connection is used: nothing of the
    second attempt is written. Not an ``OSError`` nor an ``aiohttp.ClientError``, so aiohttp
    lets it through unchanged. (When the refused attempt was handed an idle pooled connection,
    aiohttp 3.14 drops that connection from its pool unused; the socket closes when the
    server ends it.)
    """


#: ``trace_request_ctx`` of a request that must reach the wire at most once.
_SEND_ONCE: Final = object()


async def _on_attempt(session: aiohttp.ClientSession, context: Any, params: object) -> None:
    """Count a request's connection attempts; refuse a second one for a send-once call.

    aiohttp takes a connection once per attempt, and fires exactly one of these hooks for it:
    ``on_connection_reuseconn`` (a pooled connection, also after waiting in the queue) or
    ``on_connection_create_start`` (a new one). ``context`` lives as long as the request.
    """
    if context.trace_request_ctx is not _SEND_ONCE:
        return
    attempts = getattr(context, "flynn_attempts", 0) + 1
    context.flynn_attempts = attempts
    if attempts > 1:
        raise _ResendBlocked


def _no_resend_trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_on_attempt)
    config.on_connection_reuseconn.append(_on_attempt)
    config.freeze()
    return config


_NO_RESEND: Final = _no_resend_trace_config()


def guard_session(session: aiohttp.ClientSession) -> None:
    """Give ``session`` the hooks that stop aiohttp's own resend of a send-once call.

    Appends one frozen ``aiohttp.TraceConfig`` to the public ``session.trace_configs`` (the
    list each request reads), once per session; it acts only on this client's send-once
    requests, never on the caller's own requests over the same session.
    """
    configs = session.trace_configs
    if any(config is _NO_RESEND for config in configs):
        return
    try:
        configs.append(_NO_RESEND)
    except AttributeError:  # pragma: no cover - an aiohttp whose list is not mutable
        raise InvalidInput(
            "this aiohttp's session does not accept trace configs after creation; "
            "let the client create its own session"
        ) from None
    if not any(config is _NO_RESEND for config in session.trace_configs):  # pragma: no cover
        raise InvalidInput("this aiohttp's session does not keep added trace configs")


class _Inflater:
    """Decompresses a body as it arrives, never more than asked at once (gzip: all members)."""

    def __init__(self, wbits: int, *, members: bool) -> None:
        self._wbits = wbits
        self._members = members
        self._inflate = zlib.decompressobj(wbits)

    def feed(self, data: bytes, room: int) -> list[bytes]:
        """What ``data`` inflates to, stopping once more than ``room`` bytes came out."""
        parts: list[bytes] = []
        while data and room >= 0:
            if self._inflate.eof:  # a gzip body may hold several members, one after another
                if not self._members:
                    raise zlib.error("data after the end of the compressed body")
                self._inflate = zlib.decompressobj(self._wbits)
            part = self._inflate.decompress(data, room + 1)
            parts.append(part)
            room -= len(part)
            inflate = self._inflate
            data = inflate.unused_data if inflate.eof else inflate.unconsumed_tail
        return parts

    def finish(self) -> bytes:
        """The end of the body: the compressed stream must be complete."""
        rest = self._inflate.flush()
        if not self._inflate.eof:
            raise zlib.error("compressed body cut short")
        return rest


def check_base_url(url: object, name: str, *, allow_insecure_http: bool = False) -> str:
    """An ``https://`` URL, or ``http://`` to a loopback host (the simulator); no query.

    ``allow_insecure_http`` accepts ``http://`` to any host (a simulator in another container),
    with a warning logged: credentials and tokens then travel unencrypted.
    """
    if not isinstance(url, str):
        raise InvalidInput(f"{name} must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"{name} must be an absolute https:// URL, got {url!r}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{name} must not carry a query, fragment or user info")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        if not allow_insecure_http:
            raise InvalidInput(
                f"{name} must use https:// (plain http:// is accepted for loopback hosts, "
                f"or for any host with allow_insecure_http=True: CLI --allow-http)"
            )
        log.warning(
            "%s uses plain http:// to %s: credentials and tokens travel unencrypted",
            name,
            parts.hostname,
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@attrs.define
class Stats:
    """Counters of the requests a client made (read them from ``client.stats``)."""

    requests: int = 0
    retries: int = 0
    faults: int = 0


@attrs.frozen
class Call:
    """One logical API call (it may take several tries)."""

    method: str
    url: str
    route: str  # the route template, for messages and logs
    headers: Mapping[str, HeaderValue]
    params: Mapping[str, str] | None = None
    json: Any = None  # may hold Secret values: revealed only while encoding the body
    #: Headers read afresh for every try (the login token), merged over ``headers``.
    auth: Callable[[], Mapping[str, HeaderValue]] | None = None
    #: Keys of the answer's ``data`` object whose text values are returned as ``Secret``.
    secret_fields: tuple[str, ...] = ()
    retryable: bool = False
    task_id: str | None = None
    page: int | None = None
    raw: bool = False  # return (data, body bytes) instead of the envelope's data
    #: A typed decoder of a 2xx body, tried before the body is read the general way: its
    #: result comes back as :class:`Decoded`; ``None`` from it means "read it the general way"
    #: (an error envelope, or a body the typed models do not describe). It never raises.
    fast: Callable[[bytes], Any] | None = None
    #: A 404 API error is a passing fault, not an answer (a page the result route promised).
    retry_not_found: bool = False

    def where(self) -> dict[str, Any]:
        return {"route": self.route, "task_id": self.task_id, "page": self.page}


@attrs.frozen
class Decoded:
    """A body a call's ``fast`` decoder read whole (``value``), returned in place of ``data``."""

    value: Any


class _Retry(Exception):
    """An outcome that may be retried; ``error`` is raised when tries run out."""

    def __init__(self, error: FlynnError, retry_after: str | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class Transport:
    """Sends calls over one ``aiohttp.ClientSession``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        retry: RetryPolicy,
        request_timeout: float,
        sleep: Sleep,
        rng: RandomSource,
        clock: Callable[[], float] = time.monotonic,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    ) -> None:
        guard_session(session)
        self._session = session
        self.max_body_bytes = max_body_bytes
        self.max_decompressed_bytes = max_decompressed_bytes
        self.retry = retry
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self.stats = Stats()

    async def call(self, call: Call, *, limiter: asyncio.Semaphore | None = None) -> Any:
        """Make ``call``; returns the envelope's ``data`` (``(data, body)`` if ``call.raw``).

        ``limiter``, when given, is held for each try's request only, not during waits.
        """
        sent: list[Secret] = []  # the secret header values each try carried
        try:
            return await self._call(call, limiter, sent)
        except FlynnError as error:  # before it leaves: no secret the call sent echoed back
            redact_sent(error, call, sent)
            raise

    async def _call(self, call: Call, limiter: asyncio.Semaphore | None, sent: list[Secret]) -> Any:
        tries = self.retry.max_tries if call.retryable else 1
        delays = self.retry.delays(self._rng)
        attempt = 0
        while True:
            attempt += 1
            try:
                if limiter is None:
                    answer = await self._send(call, attempt, sent)
                else:
                    async with limiter:  # held for the request only, not while decoding
                        answer = await self._send(call, attempt, sent)
                    # The slot was just released: let the call waiting for it put its request
                    # on the wire before this one spends CPU parsing (and its caller decoding,
                    # right after, while the parsed body is still in the CPU's caches).
                    await asyncio.sleep(0)
                return self._interpret(call, *answer)
            except _Retry as outcome:
                redact_sent(outcome.error, call, sent)  # before it is logged
                self.stats.faults += 1
                if attempt >= tries:
                    raise outcome.error from outcome.error.__cause__
                delay = self.retry.hinted_delay(outcome.retry_after)
                if delay is None:
                    delay = next(delays)
                self.stats.retries += 1
                log.info(
                    "retrying %s %s in %.2fs (try %d of %d): %s",
                    call.method,
                    call.route,
                    delay,
                    attempt + 1,
                    tries,
                    outcome.error,
                )
                await self._sleep(delay)

    async def _send(
        self, call: Call, attempt: int, sent: list[Secret]
    ) -> tuple[int, str, bytes, str | None]:
        where = call.where()
        started = self._clock()
        self.stats.requests += 1
        try:
            # Headers and body are built by helpers whose frames have returned before the
            # await: no frame here holds the plain token or password in a local.
            async with self._session.request(
                call.method,
                _url(call),
                **_request_parts(call, sent),
                allow_redirects=False,
                timeout=self._timeout,
                auto_decompress=False,
                trace_request_ctx=None if call.retryable else _SEND_ONCE,
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                content_type = response.headers.get("Content-Type", "")
                body = await self._read(response)
        except _TooLarge as exc:
            raise ResponseError(f"{call.method} answer too large: {exc}", **where) from None
        except _ResendBlocked:
            log.warning(
                "%s %s%s: the connection dropped after the request was sent; not resent",
                call.method,
                call.route,
                _where_text(call),
            )
            raise OutcomeUnknown(
                f"{call.method} lost its connection after the request may have reached the "
                "server; it is sent at most once, so it was not resent: check the server's "
                "state before making it again",
                **where,
            ) from None
        except zlib.error:
            error: FlynnError = ResponseError(
                f"{call.method} answer has a corrupt compressed body", **where
            )
            raise _Retry(error) from None
        except TimeoutError:
            error = RequestTimeout(f"{call.method} timed out after {self._timeout.total}s", **where)
            log.debug(
                "%s %s%s timed out, %d retries",
                call.method,
                call.route,
                _where_text(call),
                attempt - 1,
            )
            raise _Retry(error) from None
        except aiohttp.ClientError as exc:
            if not call.retryable and _maybe_sent(exc):
                raise OutcomeUnknown(
                    f"{call.method} lost its connection after the request may have reached the "
                    f"server ({type(exc).__name__}); it is sent at most once, so it was not "
                    "resent: check the server's state before making it again",
                    **where,
                ) from None
            error = TransportError(f"{call.method} failed: {type(exc).__name__}: {exc}", **where)
            log.debug(
                "%s %s%s failed, %d retries: %s: %s",
                call.method,
                call.route,
                _where_text(call),
                attempt - 1,
                type(exc).__name__,
                exc,
            )
            raise _Retry(error) from None
        elapsed = self._clock() - started
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s%s -> %d in %.3fs, %d bytes, %d retries",
                call.method,
                call.route,
                _where_text(call),
                status,
                elapsed,
                len(body),
                attempt - 1,
                extra={
                    "flynn_route": call.route,
                    "flynn_status": status,
                    "flynn_duration": elapsed,
                    "flynn_retries": attempt - 1,
                    "flynn_task_id": call.task_id,
                    "flynn_page": call.page,
                },
            )
        return status, content_type, body, retry_after

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The body, decompressed, within ``max_body_bytes`` on the wire and
        ``max_decompressed_bytes`` decoded; :class:`_TooLarge` past either."""
        wire_cap, cap = self.max_body_bytes, self.max_decompressed_bytes
        declared = response.content_length
        if declared is not None and declared > wire_cap:
            response.close()
            raise _TooLarge(f"Content-Length {declared} is over max_body_bytes ({wire_cap})")
        coding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if coding in ("", "identity"):
            inflate = None
        elif coding in ("gzip", "x-gzip"):
            inflate = _Inflater(16 + zlib.MAX_WBITS, members=True)
        elif coding == "deflate":
            inflate = _Inflater(zlib.MAX_WBITS, members=False)
        else:
            response.close()
            raise zlib.error(f"unsupported Content-Encoding {coding!r}")
        parts: list[bytes] = []
        size = wire = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            wire += len(chunk)
            if wire > wire_cap:
                response.close()
                raise _TooLarge(f"over max_body_bytes ({wire_cap}) on the wire")
            if inflate is None:
                parts.append(chunk)
                size += len(chunk)
            else:
                for part in inflate.feed(chunk, cap - size):
                    parts.append(part)
                    size += len(part)
            if size > cap:
                response.close()
                raise _TooLarge(f"over max_decompressed_bytes ({cap}) once decompressed")
        if inflate is not None:
            parts.append(inflate.finish())
            size += len(parts[-1])
            if size > cap:
                raise _TooLarge(f"over max_decompressed_bytes ({cap}) once decompressed")
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _interpret(
        self, call: Call, status: int, content_type: str, body: bytes, retry_after: str | None
    ) -> Any:
        where = call.where()
        if 300 <= status < 400:
            raise ResponseError(f"HTTP {status}: redirects are not followed", **where)
        if call.fast is not None and 200 <= status < 300:
            typed = call.fast(body)
            if typed is not None:
                return (Decoded(typed), body) if call.raw else Decoded(typed)
        try:
            document = loads(body)
        except msgspec.DecodeError:
            document = _NOT_JSON
        if document is _NOT_JSON and 200 <= status < 300:
            # a proxy's HTML page or a body cut short: a fault, worth another try if safe
            raise _Retry(_unusable(status, content_type, body, where))
        if status in self.retry.statuses:
            if not is_api_error_body(document):
                if status == 429 and not call.retryable:
                    raise _rate_limited(retry_after, where)  # refused: not an unknown outcome
                raise _Retry(_unusable(status, content_type, body, where), retry_after)
            if status == 429:  # a rate limit is never final, whatever the body says
                raise _Retry(api_error(document["error"], http_status=status, **where), retry_after)
        if status == 404 and call.retry_not_found and is_api_error_body(document):
            raise _Retry(api_error(document["error"], http_status=status, **where))
        if document is _NOT_JSON:
            raise _unusable(status, content_type, body, where)
        data = unwrap(document, http_status=status, **where)
        if call.secret_fields and isinstance(data, dict):
            for key in call.secret_fields:
                value = data.get(key)
                if isinstance(value, str):
                    data[key] = Secret(value)
        return (data, body) if call.raw else data


_NOT_JSON: Final = object()

#: Request headers whose values are secrets, whether given as ``Secret`` or as text.
_SECRET_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        _api.HEADER_USER_TOKEN,
        _api.GSTN_HEADERS["session_id"],
        _api.IRP_HEADERS["password"],
        "Authorization",
    )
)
_REDACTED: Final = "<redacted>"


def _sent_secrets(call: Call, sent: list[Secret]) -> list[str]:
    """The secret texts ``call`` sent (token, password, session id, OTP...), longest first.

    ``sent`` holds the secret header values of its tries (``call.auth`` is not called again:
    it records the token it hands out).
    """
    found: set[str] = set()
    headers: list[tuple[str, HeaderValue]] = [*call.headers.items(), *(("", s) for s in sent)]
    for name, value in headers:
        if isinstance(value, Secret):
            text = value.reveal()
        elif name.lower() in _SECRET_HEADERS:
            text = value
        else:
            continue
        found.add(text)
        found.add(text.removeprefix("Bearer "))
    stack: list[Any] = [call.json]
    while stack:
        value = stack.pop()
        if isinstance(value, Secret):
            found.add(value.reveal())
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return sorted((t for t in found if len(t) >= 4), key=len, reverse=True)


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, _REDACTED)
        return value
    if isinstance(value, dict):
        return {_redacted(k, secrets): _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    if isinstance(value, tuple):
        items = [_redacted(v, secrets) for v in value]
        return type(value)._make(items) if hasattr(value, "_make") else tuple(items)
    return value


def redact_sent(error: FlynnError, call: Call, sent: list[Secret]) -> None:
    """Replace, in ``error``'s text, arguments and details, every secret ``call`` sent.

    A server may echo what it was sent (a request body in ``error.args``, a gateway page
    showing the headers): the client's own password, token, session id or OTP must not come
    back out in an exception text, a log line or a pickle. (This frame returns before the
    error is raised: no local of a raising frame holds the secrets.)
    """
    secrets = _sent_secrets(call, sent)
    if not secrets:
        return
    for name in ("message_text", "error_args", "details"):
        if name in error.__dict__:
            setattr(error, name, _redacted(error.__dict__[name], secrets))
    error.args = tuple(_redacted(arg, secrets) for arg in error.args)


def _request_headers(call: Call, sent: list[Secret]) -> dict[str, str]:
    """The try's headers, secrets revealed (this frame returns before the request's await);
    their secret values, still wrapped, are added to ``sent``."""
    merged: dict[str, HeaderValue] = dict(call.headers)
    if call.auth is not None:
        merged.update(call.auth())  # read per try: the token current now
    sent.extend(v for v in merged.values() if isinstance(v, Secret) and v not in sent)
    if call.json is not None:
        merged["Content-Type"] = _api.ACCEPT_JSON
    merged["Accept-Encoding"] = ACCEPT_ENCODING
    return {k: v.reveal() if isinstance(v, Secret) else v for k, v in merged.items()}


def _reveal(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reveal(v) for v in value]
    return value


def _request_parts(call: Call, sent: list[Secret]) -> dict[str, Any]:
    """The try's ``headers`` and ``data`` (secrets revealed only inside these frames).

    A body over 1 MiB (an IMS save of thousands of records) goes as a stream, as aiohttp
    asks, so sending it does not hold the event loop. (A call that must not be repeated is
    kept from aiohttp's own resend by the ``_NO_RESEND`` trace guard, whatever its body.)
    """
    headers = _request_headers(call, sent)
    if call.json is None:
        return {"headers": headers, "data": None}
    body = dumps(_reveal(call.json))
    return {"headers": headers, "data": io.BytesIO(body) if len(body) > _LARGE_BODY else body}


_LARGE_BODY: Final = 1024 * 1024


def _maybe_sent(exc: aiohttp.ClientError) -> bool:
    """Whether the request may have reached the server before ``exc`` (not a refused connect)."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False  # no connection was made: nothing was sent
    # ClientPayloadError: the answer's head came, its body was cut short (the server got it).
    return isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError | aiohttp.ClientPayloadError
    )


def _where_text(call: Call) -> str:
    """`` (task T page N)`` for log lines; the route is a template, so it holds no secrets."""
    if call.task_id is None:
        return ""
    if call.page is None:
        return f" (task {call.task_id})"
    return f" (task {call.task_id} page {call.page})"


def _url(call: Call) -> URL:
    """The request URL, its query encoded strictly (``/`` as ``%2F``, as the API asks)."""
    if not call.params:
        return URL(call.url, encoded=True)
    query = urlencode(call.params, quote_via=quote, safe="")
    return URL(f"{call.url}?{query}", encoded=True)


def _rate_limited(retry_after: str | None, where: Mapping[str, Any]) -> ApiError:
    """A 429 without an API error body for a call that is sent once: the server refused it
    before doing anything (a rate limit), so it is an answer, not a lost one."""
    hint = f"; Retry-After: {retry_after.strip()[:40]!r}" if retry_after else ""
    return ApiError(
        f"HTTP 429 Too Many Requests: the server refused the call (a rate limit) before "
        f"doing anything; it is not repeated by the client{hint}",
        http_status=429,
        code=None,
        **where,
    )


def _unusable(
    status: int, content_type: str, body: bytes, where: Mapping[str, Any]
) -> ResponseError:
    snippet = body[:120].decode("utf-8", "replace").replace("\n", " ")
    kind = content_type.split(";")[0] or "no content type"
    if not body:
        what = "an empty body"
    else:
        with contextlib.suppress(msgspec.DecodeError):
            loads(body)
            return ResponseError(f"HTTP {status} without an API error body", **where)
        what = f"a body that is not JSON ({kind}): {snippet!r}{decode_problem(body)}"
    return ResponseError(f"HTTP {status} with {what}", **where)
