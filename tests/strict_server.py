"""A strict test server for the login token, written from ``shared/flynn-api.md`` alone.

Every fact it checks (routes, header names, error messages and types, HTTP statuses, the
token rules) is written out again here from the facts document, on purpose, and never
imported from ``flynn_async``: :data:`LITERALS` lists them under the names the client's
``_api`` table uses, and a test compares the two. The login service (login, refresh, logout,
the 10-token limit, the 6x hard limit, expiry) is its own; the API routes check their own
headers and tokens, inject their own faults on the read-only routes, and then forward the
request to the package simulator for its data (with the simulator's own token), which is all
the simulator is used for.

Time is a shared fake clock (:class:`Timeline`): the server's clock reads ``epoch + now``, and
every API request moves it on by ``step`` seconds, so short tokens run out during a test.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web

#: The facts, restated from the facts document (section numbers in comments).
LITERALS: Final[dict[str, Any]] = {
    # section 2: the login service
    "LOGIN_ROUTE": "/authtokens",
    "LOGOUT_ROUTE": "/logout",
    "TOKEN_MINUTES_DEFAULT": 20,
    "TOKEN_MINUTES_MAX": 360,
    "TOKEN_HARD_EXPIRY_FACTOR": 6,
    "EXPIRY_SECONDS_BELOW": 10**11,
    "MAX_LIVE_TOKENS": 10,
    "JWT_ISSUED_AT": "iat",
    # section 3: headers
    "HEADER_ORG_ID": "X-FLYNN-N-ORG-ID",
    "HEADER_USER_TOKEN": "X-FLYNN-N-USER-TOKEN",
    "ACCEPT_JSON": "application/json",
    "GSTN_HEADERS": {
        "gstin": "X-FLYNN-N-GSTIN",
        "username": "X-FLYNN-N-GSTN-USERNAME",
        "session_id": "X-FLYNN-N-GSTN-SESSION-ID",
        "gsp_code": "X-FLYNN-N-GSTN-GSP-CODE",
    },
    # section 4: the envelope and error codes
    "STATUS_OK": "1",
    "STATUS_ERROR": "0",
    "ERR_EXPIRED_TOKEN": "err-expired-token",
    "ERR_INVALID_TOKEN": "err-invalid-token",
    "ERR_INVALID_ORG": "err-invalid-org",
    "ERR_TOKEN_LIMIT": "err-active-tokens-limit-exceeded",
    "ERR_TYPE_AUTHORIZATION": "Authorization",
    # section 5: the GST session
    "GST_AUTH_ROUTE": "/basic/gstn/{flynn}/taxpayerapi/{gstn}/authenticate/{action}",
    "GST_AUTH_FLYNN_VERSION": "v1.0",
    "DEFAULT_GSTN_API_VERSION": "v0.2",
    # section 6: IMS
    "IMS_ROUTE": "/enriched/gstn/{flynn}/ims-invoices",
    "IMS_FLYNN_VERSION": "v1.0",
    "IMS_SECTIONS": ("B2B", "B2BA", "B2BDN", "B2BDNA", "B2BCN", "B2BCNA", "ECOM", "ECOMA"),
    "TASK_ID_KEY": "task-id",
    # section 7: tasks
    "TASKS_FLYNN_VERSION": "v1.0",
    "TASK_STATUS_ROUTE": "/enriched/tasks/{flynn}/status/{task_id}",
    "TASK_RESULT_ROUTE": "/enriched/tasks/{flynn}/result/{task_id}",
    "TASK_PAGE_ROUTE": "/enriched/tasks/{flynn}/result/{task_id}/page/{page}",
}

LOGIN_PREFIX: Final = "/strict/theodore/apis/v1"
EPOCH: Final = 1_780_000_000.0  # the server's clock at timeline zero (epoch seconds)
FORBIDDEN: Final = 403  # section 4: token errors
UNAUTHORIZED: Final = 401  # section 4: too many tokens


@dataclass
class Timeline:
    """Shared fake time: ``now`` seconds since the start; sleeping on it moves it on."""

    now: float = 0.0
    step: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        import asyncio

        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@dataclass
class _Token:
    login_at: float  # server clock of the login it descends from
    issued_at: float
    duration: float
    expired: bool = False  # expired by the every-N-calls rule


class StrictServer:
    """The login service and a checking, fault-injecting front of the simulator's API."""

    def __init__(
        self,
        upstream_base: str,
        upstream_login: str,
        upstream_credentials: tuple[str, str],
        *,
        timeline: Timeline,
        seed: int = 0,
        fault_rate: float = 0.15,
        expire_every: int | None = 25,
        token_seconds: float | None = None,
    ) -> None:
        self.timeline = timeline
        self.upstream_base = upstream_base
        self.upstream_login = upstream_login
        self.upstream_credentials = upstream_credentials
        self.fault_rate = fault_rate
        self.expire_every = expire_every
        self.token_seconds = token_seconds
        self.tokens: dict[str, _Token] = {}
        self.calls: dict[str, int] = {}
        self.faults = 0
        self.expiries = 0
        self.refused: dict[str, int] = {}
        self.problems: list[str] = []  # checks the client failed that are not token errors
        self._rng = random.Random(f"strict|{seed}")
        self._api_calls = 0
        self._orgs: list[Any] = []
        self._upstream_token = ""
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        user, password = self.upstream_credentials
        async with self._session.post(
            self.upstream_login + LITERALS["LOGIN_ROUTE"],
            json={
                "handle": user,
                "handleType": "email",
                "password": password,
                "tokenDurationInMins": LITERALS["TOKEN_MINUTES_MAX"],
            },
            headers={"accept": LITERALS["ACCEPT_JSON"]},
        ) as answer:
            data = (await answer.json())["data"]
        self._upstream_token = data["token"]
        self._orgs = data["associatedOrgs"]
        app = web.Application()
        app.router.add_post(LOGIN_PREFIX + LITERALS["LOGIN_ROUTE"], self._login)
        app.router.add_put(LOGIN_PREFIX + LITERALS["LOGIN_ROUTE"], self._refresh)
        app.router.add_post(LOGIN_PREFIX + LITERALS["LOGOUT_ROUTE"], self._logout)
        gst = LITERALS["GST_AUTH_ROUTE"].format(
            flynn=LITERALS["GST_AUTH_FLYNN_VERSION"],
            gstn=LITERALS["DEFAULT_GSTN_API_VERSION"],
            action="{action}",
        )
        tasks = LITERALS["TASKS_FLYNN_VERSION"]
        app.router.add_post(gst, self._api("gst", read_only=False))
        app.router.add_get(
            LITERALS["IMS_ROUTE"].format(flynn=LITERALS["IMS_FLYNN_VERSION"]),
            self._api("ims_submit", read_only=False),
        )
        for name, template in (
            ("task_status", "TASK_STATUS_ROUTE"),
            ("task_result", "TASK_RESULT_ROUTE"),
            ("task_page", "TASK_PAGE_ROUTE"),
        ):
            route = LITERALS[template].format(flynn=tasks, task_id="{task_id}", page="{page}")
            app.router.add_get(route, self._api(name, read_only=True))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    @property
    def login_url(self) -> str:
        return self.base_url + LOGIN_PREFIX

    def server_now(self) -> float:
        """The server's clock, epoch seconds."""
        return EPOCH + self.timeline.now

    @property
    def live_tokens(self) -> int:
        now = self.server_now()
        factor = LITERALS["TOKEN_HARD_EXPIRY_FACTOR"]
        return sum(1 for t in self.tokens.values() if now < t.login_at + factor * t.duration)

    # -- answers -----------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    @staticmethod
    def _error(message: str, status: int, *, new: bool) -> web.Response:
        error = {"message": message, "type": LITERALS["ERR_TYPE_AUTHORIZATION"], "args": {}}
        body: dict[str, Any] = {"error": error}
        if new:
            body = {"status": LITERALS["STATUS_ERROR"], "data": None, "error": error}
        return web.json_response(body, status=status)

    def _refuse(self, message: str, status: int = FORBIDDEN, *, new: bool = True) -> web.Response:
        self.refused[message] = self.refused.get(message, 0) + 1
        return self._error(message, status, new=new)

    def _issue(self, login_at: float, duration: float) -> dict[str, Any]:
        now = self.server_now()
        claims = {"sub": "strict-user", "jti": str(uuid.uuid4()), "iat": int(now)}
        claims["exp"] = int(now + duration)
        token = ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (b'{"alg":"HS256","typ":"JWT"}', json.dumps(claims).encode(), b"sig")
        )
        self.tokens[token] = _Token(login_at, float(int(now)), duration)
        return {
            "token": token,
            "expiry": int((int(now) + duration) * 1000),  # epoch milliseconds (section 2)
            "userId": "strict-user",
            "email": self.upstream_credentials[0],
            "associatedOrgs": self._orgs,
        }

    def _bearer(self, request: web.Request) -> tuple[str, _Token] | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = self.tokens.get(value) if scheme == "Bearer" else None
        factor = LITERALS["TOKEN_HARD_EXPIRY_FACTOR"]
        if token is None or self.server_now() >= token.login_at + factor * token.duration:
            return None
        return value, token

    async def _login(self, request: web.Request) -> web.Response:
        self._count("login")
        body = await request.json()
        minutes = body.get("tokenDurationInMins", LITERALS["TOKEN_MINUTES_DEFAULT"])
        if body.get("password") != self.upstream_credentials[1]:
            return self._refuse("err-invalid-credentials", UNAUTHORIZED, new=False)
        if self.live_tokens >= LITERALS["MAX_LIVE_TOKENS"]:
            return self._refuse(LITERALS["ERR_TOKEN_LIMIT"], UNAUTHORIZED, new=False)
        duration = minutes * 60.0
        if self.token_seconds is not None:
            duration = min(duration, self.token_seconds)
        return web.json_response({"data": self._issue(self.server_now(), duration)})

    async def _refresh(self, request: web.Request) -> web.Response:
        self._count("token_refresh")
        found = self._bearer(request)
        if found is None:
            return self._refuse(LITERALS["ERR_INVALID_TOKEN"], new=False)
        old, record = found
        del self.tokens[old]
        return web.json_response({"data": self._issue(record.login_at, record.duration)})

    async def _logout(self, request: web.Request) -> web.Response:
        self._count("token_logout")
        found = self._bearer(request)
        if found is None:
            return self._refuse(LITERALS["ERR_INVALID_TOKEN"], new=False)
        del self.tokens[found[0]]
        return web.json_response({"data": {}})

    def _check_token(self, request: web.Request) -> web.Response | None:
        """Section 3 and 4: the API headers, the token live, the organisation known."""
        if request.headers.get("accept") != LITERALS["ACCEPT_JSON"]:
            self.problems.append(f"accept header on {request.path}")
        token = self.tokens.get(request.headers.get(LITERALS["HEADER_USER_TOKEN"], ""))
        if token is None:
            return self._refuse(LITERALS["ERR_INVALID_TOKEN"])
        if token.expired or self.server_now() >= token.issued_at + token.duration:
            return self._refuse(LITERALS["ERR_EXPIRED_TOKEN"])
        org = request.headers.get(LITERALS["HEADER_ORG_ID"], "")
        if org not in {entry["organisation"]["id"] for entry in self._orgs}:
            return self._refuse(LITERALS["ERR_INVALID_ORG"])
        return None

    def _fault(self) -> web.Response | None:
        pick = self._rng.random()
        if pick >= self.fault_rate:
            return None
        self.faults += 1
        share = pick / self.fault_rate
        html = b"<html><body><h1>Gateway</h1></body></html>"
        if share < 0.4:
            status = (500, 502, 503)[int(share * 7.5) % 3]
            return web.Response(body=html, status=status, content_type="text/html")
        if share < 0.6:
            return web.Response(
                body=html, status=429, content_type="text/html", headers={"Retry-After": "1"}
            )
        if share < 0.8:
            return web.Response(body=html, status=200, content_type="text/html")
        return web.Response(  # a JSON body cut short
            body=b'{"status": "1", "data": {"b2b": [{"stin"', content_type="application/json"
        )

    def _api(self, name: str, *, read_only: bool) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            self._count(name)
            self.timeline.now += self.timeline.step
            self._api_calls += 1
            expire = self.expire_every is not None and self._api_calls % self.expire_every == 0
            try:
                fault = self._fault() if read_only else None
                if fault is not None:
                    return fault
                refusal = self._check_token(request)
                if refusal is not None:
                    return refusal
                return await self._forward(request)
            finally:
                if expire:  # once this call is answered, every live token is expired
                    self.expiries += 1
                    for token in self.tokens.values():
                        token.expired = True

        return handle

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in ("host", "content-length", "accept-encoding", "connection")
        }
        headers[LITERALS["HEADER_USER_TOKEN"]] = self._upstream_token
        async with self._session.request(
            request.method,
            self.upstream_base + request.rel_url.path_qs,
            headers=headers,
            data=await request.read() if request.can_read_body else None,
        ) as answer:
            body = await answer.read()
            return web.Response(body=body, status=answer.status, content_type=answer.content_type)
