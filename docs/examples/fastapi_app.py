"""A small FastAPI service that downloads IMS invoices with flynn-async.

One :class:`~flynn_async.FlynnClient` is created in the app's lifespan and shared by every
handler through dependency injection (one client holds one login token: the API allows a user
ten at most). A taxpayer's GST session is opened with an OTP (``POST /gst/otp``, then
``POST /gst/session``); ``POST /downloads`` starts downloading every IMS section in the
background and answers ``202`` with an id at once; ``GET /downloads/{id}`` reports the
progress of each section and, when done, the record counts; ``GET /downloads/{id}/result``
gives the invoices, with amounts exactly as the server sent them. Shutting down cancels the
downloads still running, then logs the client out.

Run it (``--factory``: the settings are read from the environment when the app is made)::

    FLYNN_HANDLE=me@example.com FLYNN_PASSWORD=... uvicorn --factory fastapi_app:create_app

Or against the built-in simulator: ``python fastapi_app.py --simulator [--port 8000]`` (needs
uvicorn; the port also comes from ``PORT``; ``--port 0`` picks a free one). Ctrl-C stops it
cleanly.

Every error is answered in ONE JSON shape, :class:`ErrorBody`: ``{"error", "message",
"task_id", "details"}``, whether it comes from flynn-async, from the app (404, 409) or from
request validation (422).

OTPs, passwords and session ids never appear in logs, in answers or in error texts.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, Final, Literal

import msgspec
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from flynn_async import (
    ApiError,
    AuthError,
    BatchError,
    Credentials,
    FileSessionStore,
    FlynnClient,
    FlynnError,
    GstError,
    Gstr2bRegenerationInProgress,
    GstSession,
    GstSessionExpired,
    GstSessionMissing,
    InvalidInput,
    ManifestError,
    NotFound,
    OtpRequest,
    OutcomeUnknown,
    Progress,
    RequestTimeout,
    ResponseError,
    Secret,
    SignatureError,
    TaskError,
    TaskTimeout,
    TooManyTokens,
    TransportError,
)
from flynn_async.ims import ImsInvoices, ImsSection, ImsStatus

__all__ = [
    "Download",
    "Downloads",
    "FlynnService",
    "Settings",
    "create_app",
    "error_status",
    "get_client",
    "get_downloads",
    "get_service",
]

log: Final = logging.getLogger("fastapi_app")

#: Writes results with exact amounts: ``Decimal("1000.10")`` becomes the JSON number 1000.10.
_EXACT_JSON: Final = msgspec.json.Encoder(decimal_format="number")


# -------------------------------------------------------------------------------------------
# Settings
# -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How the service reaches Flynn; :meth:`from_env` reads them from ``FLYNN_*`` variables.

    ``base_url`` and ``login_url`` (both or neither) replace the ``environment``'s hosts, for
    instance to point at the simulator. ``keep_sessions`` keeps GST sessions on disk (a
    :class:`~flynn_async.FileSessionStore` under the state directory, ``FLYNN_ASYNC_STATE_DIR``),
    so a restart needs no new OTP.
    """

    handle: str
    password: Secret
    org_id: str | None = None
    environment: Literal["sandbox", "production"] = "sandbox"
    base_url: str | None = None
    login_url: str | None = None
    max_concurrency: int = 8
    keep_sessions: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from ``FLYNN_HANDLE``, ``FLYNN_PASSWORD`` (both required),
        ``FLYNN_ORG_ID``, ``FLYNN_ENVIRONMENT``, ``FLYNN_BASE_URL``, ``FLYNN_LOGIN_URL``,
        ``FLYNN_MAX_CONCURRENCY`` and ``FLYNN_KEEP_SESSIONS`` (``1``, ``true`` or ``yes``)."""
        env = os.environ if environ is None else environ
        missing = [name for name in ("FLYNN_HANDLE", "FLYNN_PASSWORD") if not env.get(name)]
        if missing:
            raise RuntimeError(f"set {' and '.join(missing)} in the environment")
        environment = env.get("FLYNN_ENVIRONMENT", "sandbox")
        if environment not in ("sandbox", "production"):
            raise RuntimeError("FLYNN_ENVIRONMENT must be sandbox or production")
        return cls(
            handle=env["FLYNN_HANDLE"],
            password=Secret(env["FLYNN_PASSWORD"]),
            org_id=env.get("FLYNN_ORG_ID") or None,
            environment="production" if environment == "production" else "sandbox",
            base_url=env.get("FLYNN_BASE_URL") or None,
            login_url=env.get("FLYNN_LOGIN_URL") or None,
            max_concurrency=int(env.get("FLYNN_MAX_CONCURRENCY", "8")),
            keep_sessions=env.get("FLYNN_KEEP_SESSIONS", "").lower() in ("1", "true", "yes"),
        )

    def credentials(self) -> Credentials:
        """The login credentials (the password is kept as a secret)."""
        return Credentials(self.handle, self.password, org_id=self.org_id)


# -------------------------------------------------------------------------------------------
# Request and response bodies
# -------------------------------------------------------------------------------------------


class OtpStart(BaseModel):
    """``POST /gst/otp``: send an OTP to the taxpayer's registered mobile."""

    gstin: str
    username: str


class OtpSent(BaseModel):
    """An OTP is on its way; verify it with ``POST /gst/session``."""

    gstin: str
    username: str
    requested_at: datetime


class OtpVerify(BaseModel):
    """``POST /gst/session``: the OTP the taxpayer received (a secret: never echoed)."""

    gstin: str
    otp: SecretStr


class SessionOpened(BaseModel):
    """A GST session is open for the GSTIN (its id stays inside the service)."""

    gstin: str
    username: str
    expires_at: datetime


class DownloadStart(BaseModel):
    """``POST /downloads``: which taxpayer, which sections (all by default), which status."""

    gstin: str
    sections: list[str] | None = Field(default=None, min_length=1)
    status: str | None = None


class DownloadStarted(BaseModel):
    """A download was started; follow it at ``url``."""

    id: str
    state: str
    url: str


class SectionProgress(BaseModel):
    """One section's task: its id and phase, pages fetched of the total once known."""

    task_id: str
    phase: str
    pages_done: int
    pages_total: int | None


class ErrorBody(BaseModel):
    """Every error the service answers, in one shape: the error's type (a flynn-async error
    type, ``InvalidRequest`` or the HTTP status's name such as ``NotFound``), its text (which
    never holds a secret), the task id when a task was involved (a resume token) and, for an
    invalid request, where it is invalid."""

    error: str
    message: str
    task_id: str | None = None
    details: list[dict[str, Any]] | None = None


class DownloadReport(BaseModel):
    """``GET /downloads/{id}``: the state, each section's progress, counts when done."""

    id: str
    gstin: str
    state: Literal["running", "done", "failed", "cancelled"]
    sections: dict[str, SectionProgress]
    records: dict[str, int] | None = None
    error: ErrorBody | None = None


# -------------------------------------------------------------------------------------------
# Errors
# -------------------------------------------------------------------------------------------

#: flynn-async errors and the HTTP status the service answers them with, first match wins.
_STATUS_BY_ERROR: Final[Sequence[tuple[type[FlynnError], HTTPStatus]]] = (
    (InvalidInput, HTTPStatus.UNPROCESSABLE_ENTITY),
    (GstSessionExpired, HTTPStatus.UNAUTHORIZED),  # verify a new OTP
    (GstError, HTTPStatus.BAD_REQUEST),  # e.g. the OTP was refused
    (NotFound, HTTPStatus.NOT_FOUND),
    (Gstr2bRegenerationInProgress, HTTPStatus.CONFLICT),  # one already runs
    (TooManyTokens, HTTPStatus.SERVICE_UNAVAILABLE),
    (AuthError, HTTPStatus.BAD_GATEWAY),  # the service's own Flynn login
    (TaskTimeout, HTTPStatus.GATEWAY_TIMEOUT),
    (RequestTimeout, HTTPStatus.GATEWAY_TIMEOUT),
    (TaskError, HTTPStatus.BAD_GATEWAY),  # TaskFailed, PagesMissing
    (OutcomeUnknown, HTTPStatus.GATEWAY_TIMEOUT),  # sent, no answer: count before resending
    (TransportError, HTTPStatus.BAD_GATEWAY),
    (ResponseError, HTTPStatus.BAD_GATEWAY),
    (SignatureError, HTTPStatus.BAD_GATEWAY),
    (ApiError, HTTPStatus.BAD_GATEWAY),
    # the batch errors (this app runs no batches; mapped so that none falls through to 500)
    (GstSessionMissing, HTTPStatus.UNAUTHORIZED),  # verify an OTP for that taxpayer
    (ManifestError, HTTPStatus.CONFLICT),  # in use by another batch, or damaged
    (BatchError, HTTPStatus.BAD_GATEWAY),
)


def error_status(error: FlynnError) -> HTTPStatus:
    """The HTTP status for a flynn-async error: the caller's fault is 4xx, Flynn's is 5xx."""
    for kind, code in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            return code
    return HTTPStatus.INTERNAL_SERVER_ERROR


def _error_body(error: FlynnError) -> ErrorBody:
    return ErrorBody(error=type(error).__name__, message=str(error), task_id=error.task_id)


async def _flynn_error(request: Request, error: Exception) -> Response:
    """A flynn-async error raised by a handler, as an :class:`ErrorBody`."""
    assert isinstance(error, FlynnError)
    return JSONResponse(_error_body(error).model_dump(), status_code=error_status(error))


async def _invalid_request(request: Request, error: Exception) -> Response:
    """422 without echoing the input: a request body may hold an OTP."""
    assert isinstance(error, RequestValidationError)
    details = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
        for e in error.errors()
    ]
    body = ErrorBody(
        error="InvalidRequest", message="the request is not valid; see details", details=details
    )
    return JSONResponse(body.model_dump(), status_code=HTTPStatus.UNPROCESSABLE_ENTITY)


async def _http_error(request: Request, error: Exception) -> Response:
    """An HTTP error of the app or of routing (404, 405, 409, 503) as an :class:`ErrorBody`."""
    assert isinstance(error, StarletteHTTPException)
    status = HTTPStatus(error.status_code)
    body = ErrorBody(error=status.phrase.title().replace(" ", ""), message=str(error.detail))
    return JSONResponse(body.model_dump(), status_code=status, headers=error.headers)


# -------------------------------------------------------------------------------------------
# Downloads running in the background
# -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Download:
    """One download: its state and each section's progress, fed by ``on_progress``."""

    id: str
    gstin: str
    sections: tuple[ImsSection, ...]
    state: Literal["running", "done", "failed", "cancelled"] = "running"
    progress: dict[str, SectionProgress] = field(default_factory=dict)
    result: ImsInvoices | None = None
    records: dict[str, int] | None = None
    """Records per section, once done."""
    error: ErrorBody | None = None
    error_status: HTTPStatus | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the download ends, however it ends."""

    def on_progress(self, report: Progress) -> None:
        """Record a progress report of one of the download's tasks."""
        self.progress[report.section or report.task_id] = SectionProgress(
            task_id=report.task_id,
            phase=report.phase,
            pages_done=report.pages_done,
            pages_total=report.pages_total,
        )

    def succeeded(self, result: ImsInvoices) -> None:
        """Keep the result and count its records."""
        self.result = result
        self.records = {key: totals.records for key, totals in result.totals().items()}
        self.state = "done"

    def failed(self, body: ErrorBody, http_status: HTTPStatus) -> None:
        """Keep what went wrong, as ``GET /downloads/{id}/result`` will answer it."""
        self.error, self.error_status = body, http_status
        self.state = "failed"

    def report(self) -> DownloadReport:
        """What ``GET /downloads/{id}`` answers."""
        return DownloadReport(
            id=self.id,
            gstin=self.gstin,
            state=self.state,
            sections=dict(self.progress),
            records=self.records,
            error=self.error,
        )


class Downloads:
    """The app's downloads by id. Every running download's asyncio task is kept here (an
    unreferenced task may be garbage-collected mid-way) and cancelled by :meth:`aclose`.

    Finished downloads are kept until shutdown; a real service would expire them.
    ``on_session_expired(gstin)`` is called when the portal has dropped a download's GST
    session (a new OTP is needed).
    """

    def __init__(self, on_session_expired: Callable[[str], None] | None = None) -> None:
        self._downloads: dict[str, Download] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._on_session_expired = on_session_expired

    def get(self, download_id: str) -> Download | None:
        """The download with that id, if any."""
        return self._downloads.get(download_id)

    def start(
        self,
        client: FlynnClient,
        session: GstSession,
        sections: tuple[ImsSection, ...],
        status_filter: ImsStatus | None,
    ) -> Download:
        """Start ``client.ims.download_all`` in the background; return its record."""
        download = Download(uuid.uuid4().hex, session.gstin, sections)
        self._downloads[download.id] = download
        task = asyncio.create_task(
            self._run(download, client, session, status_filter),
            name=f"download {download.id}",
        )
        self._tasks[download.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(download.id, None))
        log.info("download %s started for %s", download.id, session.gstin)
        return download

    async def _run(
        self,
        download: Download,
        client: FlynnClient,
        session: GstSession,
        status_filter: ImsStatus | None,
    ) -> None:
        try:
            result = await client.ims.download_all(
                session,
                sections=download.sections,
                status=status_filter,
                on_progress=download.on_progress,
            )
        except asyncio.CancelledError:
            download.state = "cancelled"
            raise
        except FlynnError as error:  # its text names route, task and page, never a secret
            download.failed(_error_body(error), error_status(error))
            log.warning("download %s failed: %s", download.id, error)
            if isinstance(error, GstSessionExpired) and self._on_session_expired is not None:
                self._on_session_expired(session.gstin)
        except Exception:
            unexpected = ErrorBody(error="InternalError", message="see the service's log")
            download.failed(unexpected, HTTPStatus.INTERNAL_SERVER_ERROR)
            log.exception("download %s failed", download.id)
        else:
            download.succeeded(result)
            log.info("download %s done", download.id)
        finally:
            download.finished.set()

    async def aclose(self) -> None:
        """Cancel the downloads still running and wait until they have stopped."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# -------------------------------------------------------------------------------------------
# The app's resources and the dependencies that hand them out
# -------------------------------------------------------------------------------------------


@dataclass(eq=False)
class FlynnService:
    """What the lifespan owns: the shared client, OTPs waiting, sessions open, downloads."""

    client: FlynnClient
    otp_requests: dict[str, OtpRequest] = field(default_factory=dict)
    sessions: dict[str, GstSession] = field(default_factory=dict)
    downloads: Downloads = field(init=False)

    def __post_init__(self) -> None:
        self.downloads = Downloads(on_session_expired=self.forget_session)

    def forget_session(self, gstin: str) -> None:
        """Drop the GSTIN's session: the portal no longer knows it."""
        self.sessions.pop(gstin, None)

    async def session_for(self, gstin: str) -> GstSession | None:
        """The GST session verified here, or one kept in the client's session store."""
        session = self.sessions.get(gstin)
        if session is None:
            session = await self.client.gst.restore(gstin)  # InvalidInput for a bad GSTIN
        return session


def get_service(request: Request) -> FlynnService:
    """The service's resources (set up by the lifespan)."""
    service = getattr(request.app.state, "flynn", None)
    if not isinstance(service, FlynnService):
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, "the service is not started")
    return service


def get_client(service: Annotated[FlynnService, Depends(get_service)]) -> FlynnClient:
    """The one client every handler shares."""
    return service.client


def get_downloads(service: Annotated[FlynnService, Depends(get_service)]) -> Downloads:
    """The registry of downloads."""
    return service.downloads


Service = Annotated[FlynnService, Depends(get_service)]
Client = Annotated[FlynnClient, Depends(get_client)]
Registry = Annotated[Downloads, Depends(get_downloads)]


# -------------------------------------------------------------------------------------------
# The app
# -------------------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None, *, client_options: Mapping[str, Any] | None = None
) -> FastAPI:
    """The FastAPI app. ``settings`` default to :meth:`Settings.from_env`; ``client_options``
    are extra :class:`~flynn_async.FlynnClient` keyword arguments (tests pass an instant
    ``sleep`` here)."""
    config = settings if settings is not None else Settings.from_env()
    options: dict[str, Any] = {"max_concurrency": config.max_concurrency}
    if config.base_url is not None or config.login_url is not None:
        options.update(base_url=config.base_url, login_url=config.login_url)
    else:
        options["environment"] = config.environment
    if config.keep_sessions:
        options["session_store"] = FileSessionStore()
    options.update(client_options or {})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with FlynnClient(config.credentials(), **options) as client:
            service = FlynnService(client)
            app.state.flynn = service
            try:
                yield
            finally:
                del app.state.flynn
                await service.downloads.aclose()  # before the client logs out

    app = FastAPI(title="IMS downloads", lifespan=lifespan)
    app.add_exception_handler(FlynnError, _flynn_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.post("/gst/otp", status_code=HTTPStatus.ACCEPTED)
    async def request_otp(body: OtpStart, service: Service, client: Client) -> OtpSent:
        """Ask the GST portal to send the taxpayer an OTP."""
        otp_request = await client.gst.request_otp(gstin=body.gstin, username=body.username)
        service.otp_requests[otp_request.gstin] = otp_request
        return OtpSent(
            gstin=otp_request.gstin,
            username=otp_request.username,
            requested_at=otp_request.requested_at,
        )

    @app.post("/gst/session", status_code=HTTPStatus.CREATED)
    async def verify_otp(body: OtpVerify, service: Service, client: Client) -> SessionOpened:
        """Verify the OTP; the session is kept for the downloads of that GSTIN."""
        otp_request = service.otp_requests.get(body.gstin)
        if otp_request is None:
            raise HTTPException(HTTPStatus.CONFLICT, f"no OTP was requested for {body.gstin!r}")
        session = await client.gst.verify_otp(otp_request, body.otp.get_secret_value())
        del service.otp_requests[body.gstin]
        service.sessions[session.gstin] = session
        return SessionOpened(
            gstin=session.gstin, username=session.username, expires_at=session.expires_at
        )

    @app.post("/downloads", status_code=HTTPStatus.ACCEPTED)
    async def start_download(
        body: DownloadStart, response: Response, service: Service, client: Client
    ) -> DownloadStarted:
        """Start downloading the GSTIN's IMS sections in the background."""
        sections = tuple(ImsSection.parse(s) for s in body.sections or list(ImsSection))
        status_filter = None if body.status is None else ImsStatus.parse(body.status)
        session = await service.session_for(body.gstin)
        if session is None:
            raise HTTPException(
                HTTPStatus.CONFLICT,
                f"no GST session for {body.gstin}: request and verify an OTP first",
            )
        download = service.downloads.start(client, session, sections, status_filter)
        url = f"/downloads/{download.id}"
        response.headers["Location"] = url
        return DownloadStarted(id=download.id, state=download.state, url=url)

    @app.get("/downloads/{download_id}")
    async def download_progress(download_id: str, downloads: Registry) -> DownloadReport:
        """The download's state, each section's progress, and record counts once done."""
        return _find(downloads, download_id).report()

    @app.get(
        "/downloads/{download_id}/result",
        responses={200: {"content": {"application/json": {}}}},
    )
    async def download_result(download_id: str, downloads: Registry) -> Response:
        """The downloaded invoices as the server shaped them, amounts exact."""
        download = _find(downloads, download_id)
        if download.error is not None and download.error_status is not None:
            return JSONResponse(download.error.model_dump(), status_code=download.error_status)
        if download.result is None:
            raise HTTPException(HTTPStatus.CONFLICT, f"the download is {download.state}")
        body = _EXACT_JSON.encode(download.result.to_dict())
        return Response(body, media_type="application/json")

    return app


def _find(downloads: Downloads, download_id: str) -> Download:
    download = downloads.get(download_id)
    if download is None:
        raise HTTPException(HTTPStatus.NOT_FOUND, "no such download")
    return download


def _serve_with_simulator(host: str, port: int) -> None:  # pragma: no cover - a manual demo
    """Serve the app against the built-in simulator on http://HOST:PORT until Ctrl-C."""
    import uvicorn

    from flynn_async.testing import USER_HANDLE, USER_PASSWORD, FlynnSimulator

    async def main() -> None:
        async with FlynnSimulator() as sim:
            settings = Settings(
                handle=USER_HANDLE,
                password=Secret(USER_PASSWORD),
                base_url=sim.base_url,
                login_url=sim.login_url,
            )
            print(f"simulated taxpayer {sim.gstin}, username {sim.gst_username}, OTP {sim.otp}")
            config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="info")
            await uvicorn.Server(config).serve()  # it logs the URL it serves (port 0: the one
            # it picked); Ctrl-C stops it

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn shut down; no traceback
        asyncio.run(main())
    print("stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> None:  # pragma: no cover - a manual demo
    """``python fastapi_app.py --simulator [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--simulator", action="store_true", help="serve against the simulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8000")),
        help="port to bind; 0 picks a free one (default: $PORT, else 8000)",
    )
    args = parser.parse_args(argv)
    if not args.simulator:
        parser.error("use uvicorn --factory fastapi_app:create_app, or --simulator")
    _serve_with_simulator(args.host, args.port)


if __name__ == "__main__":  # pragma: no cover
    main()
