"""Every error the client raises, under one base class.

::

    FlynnError
    ├── InvalidInput (ValueError)       bad arguments, raised before any request
    │   └── InvalidDecisions            IMS decisions that break the rules (.problems)
    ├── ApiError                        the API answered an error envelope
    │   ├── AuthError                   login token, organisation, credentials
    │   │   └── TooManyTokens           more than 10 live login tokens for the user
    │   ├── NotFound                    unknown task id, page out of range
    │   ├── GstError                    the GST portal refused (AUTH4033, ...)
    │   │   ├── GstSessionExpired       the GST session is gone: a new OTP is needed
    │   │   ├── Gstr2bNotGenerated      GSTR-2B not generated yet: regenerate it, or wait
    │   │   └── Gstr2bTooEarly          GSTR-2B asked before the period's cut-off
    │   └── IrpError                    the e-invoice portal (IRP) refused; codes in .details
    │       ├── EInvoiceNotFound        no e-invoice for those document details (2154, 2148)
    │       └── IrpPasswordRequired     no live IRP session: give the IRP password once
    ├── ResponseError                   an answer that breaks the API's promises
    │   ├── SectionMismatch             two tasks disagree about one section's records
    │   ├── EInvoiceMismatch            a fetched e-invoice is not the one asked for
    │   └── PartsDisagree (ValueError)  (internal) pages to merge disagree about a key
    ├── SignatureError                  a signed e-invoice or QR code failed verification
    ├── Gstr2bRegenerationInProgress    this client already regenerates 2B for the taxpayer
    ├── TransportError                  no usable answer: connection failed, timed out
    │   ├── RequestTimeout (TimeoutError)
    │   └── OutcomeUnknown              sent once, may have reached the server; not resent
    │       ├── ImsOutcomeUnknown       an IMS save or reset was sent; its answer was lost
    │       └── Gstr2bOutcomeUnknown    a regeneration's answer was lost: not resent
    ├── TaskError                       a long-running task did not give its result
    │   ├── TaskFailed                  the server says the task ended without success
    │   ├── TaskTimeout (TimeoutError)  the wait's deadline passed; the task may still finish
    │   │   └── Gstr2bQueued            GSTR-2B still queued at the deadline (request_id)
    │   └── PagesMissing                some result pages could not be fetched
    ├── GstSessionMissing               a batch job's GSTIN has no stored GST session
    ├── ManifestError                   a batch manifest cannot be used
    └── BatchError (ExceptionGroup)     some jobs of a batch failed; the jobs' errors inside

``IrpErrorDetail`` (one code and message of an :class:`IrpError`) is a value, not an error.
Every error raised while talking to the API names the ``route`` it called and, once a task
exists, the ``task_id`` (a resume token: results live for 7 days) and the ``page``. No error
text ever contains a password, token, OTP or session id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol, Self

__all__ = [
    "ApiError",
    "AuthError",
    "BatchError",
    "EInvoiceMismatch",
    "EInvoiceNotFound",
    "FlynnError",
    "GstError",
    "GstSessionExpired",
    "GstSessionMissing",
    "Gstr2bNotGenerated",
    "Gstr2bOutcomeUnknown",
    "Gstr2bQueued",
    "Gstr2bRegenerationInProgress",
    "Gstr2bTooEarly",
    "ImsOutcomeUnknown",
    "InvalidDecisions",
    "InvalidInput",
    "IrpError",
    "IrpErrorDetail",
    "IrpPasswordRequired",
    "ManifestError",
    "NotFound",
    "OutcomeUnknown",
    "PagesMissing",
    "RequestTimeout",
    "ResponseError",
    "SectionMismatch",
    "SignatureError",
    "TaskError",
    "TaskFailed",
    "TaskTimeout",
    "TooManyTokens",
    "TransportError",
]


class FlynnError(Exception):
    """Base class of every error raised by ``flynn_async``.

    ``route``, ``task_id`` and ``page`` say where the error happened when that is known; they
    are ``None`` otherwise. ``str(error)`` ends with them.
    """

    def __init__(
        self,
        message: str,
        *,
        route: str | None = None,
        task_id: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message_text = message
        self.route = route
        self.task_id = task_id
        self.page = page

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle by state, not by calling ``__init__`` again with ``args`` (most subclasses
        # take keyword-only arguments): the type, ``args``, every attribute and the notes
        # come back as they were, so an error crosses a process (``ProcessPoolExecutor``).
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def where(self) -> str:
        """The ``route``/``task_id``/``page`` context as text, empty when none is known."""
        parts = []
        if self.route is not None:
            parts.append(f"route {self.route}")
        if self.task_id is not None:
            parts.append(f"task {self.task_id}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.message_text} [{where}]" if where else self.message_text


class InvalidInput(FlynnError, ValueError):
    """An argument is not acceptable; raised before any request is made."""


class InvalidDecisions(InvalidInput):
    """IMS decisions that break the rules; nothing was sent.

    ``problems`` lists every offending decision with its rule and a message (see
    ``docs/actions.md``).
    """

    def __init__(self, message: str, *, problems: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.problems = tuple(problems)


class ApiError(FlynnError):
    """The API answered with an error.

    ``http_status`` is the HTTP status code, ``code`` the API's ``error.message`` (such as
    ``err-resource-not-found``), ``type`` the API's ``error.type`` and ``args`` its ``error.args``.
    """

    def __init__(
        self,
        message: str,
        *,
        http_status: int,
        code: str | None,
        type: str | None = None,
        args: Mapping[str, Any] | None = None,
        route: str | None = None,
        task_id: str | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message, route=route, task_id=task_id, page=page)
        self.http_status = http_status
        self.code = code
        self.type = type
        self.error_args: Mapping[str, Any] = dict(args or {})


class AuthError(ApiError):
    """The login token, the organisation id or the credentials were refused."""


class TooManyTokens(AuthError):
    """The user already holds the maximum number of live login tokens (10).

    Reuse one client (one token) per user, and let old tokens expire or log them out.
    """


class NotFound(ApiError):
    """The API does not know the task id, or the page is out of range."""


class GstError(ApiError):
    """The GST portal refused the call. ``portal_code`` holds its code (``AUTH4033``, ...)."""

    def __init__(self, message: str, *, portal_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.portal_code = portal_code


class GstSessionExpired(GstError):
    """The taxpayer's GST session is no longer valid: request and verify a new OTP."""


class Gstr2bNotGenerated(GstError):
    """GSTR-2B is not generated yet for the period (``RET2B1023``, ``GTR2B-002``).

    Regenerate it (``client.gstr2b.regenerate``), or wait for the portal's own generation.
    """


class Gstr2bTooEarly(GstError):
    """GSTR-2B was asked for before the period's cut-off (``RET2B1018``): try later."""


class Gstr2bRegenerationInProgress(FlynnError):
    """This client is already regenerating GSTR-2B for the taxpayer; refused before sending.

    Wait for the running :meth:`~flynn_async.Gstr2bApi.regenerate` to end.
    """


class IrpErrorDetail(NamedTuple):
    """One error of the e-invoice portal: its ``code`` (``"2154"``) and ``message``."""

    code: str
    message: str


class IrpError(ApiError):
    """The e-invoice portal (IRP) refused the call (``err-irp-returned-error``).

    ``details`` holds the portal's errors as :class:`IrpErrorDetail` values (``codes`` just
    their codes); ``portal_code`` is the first code, ``None`` when the portal gave none.
    """

    def __init__(
        self, message: str, *, details: Sequence[IrpErrorDetail] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.details = tuple(details)

    @property
    def codes(self) -> tuple[str, ...]:
        """The portal's error codes, in the order given."""
        return tuple(d.code for d in self.details)

    @property
    def portal_code(self) -> str | None:
        """The first portal error code, if any."""
        return self.details[0].code if self.details else None


class EInvoiceNotFound(IrpError):
    """The portal has no e-invoice for the document details (codes 2154 and 2148)."""


class IrpPasswordRequired(IrpError):
    """No live IRP session for the GSTIN and username, and no IRP password was sent.

    Pass ``IrpCredentials(..., password=...)``: the server opens a session with it (sessions
    last 6 hours), after which calls without the password work again.
    """


class ResponseError(FlynnError):
    """The server's answer breaks the API's promises (not JSON, wrong shape, wrong types)."""


class SectionMismatch(ResponseError):
    """Two tasks of one :meth:`~flynn_async.ims.ImsApi.download_all` disagree about a section."""


class EInvoiceMismatch(ResponseError):
    """A fetched e-invoice does not agree with itself or with the document asked for.

    ``differences`` names each disagreement (IRN, document number, date, ...).
    """

    def __init__(self, message: str, *, differences: Sequence[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.differences = tuple(differences)


class PartsDisagree(ResponseError, ValueError):
    """Internal: pages (or results) to merge disagree about a non-list key of their ``data``.

    A ``ResponseError`` (the server's pages contradict each other) that is also the
    ``ValueError`` :meth:`~flynn_async.ims.ImsInvoices.merge` documents.
    """


class SignatureError(FlynnError):
    """A signed e-invoice or QR code failed verification.

    The signature does not match the key, the algorithm is not RS256, or no key is known for
    the token's ``kid`` (the portal has rotated its signing key several times). ``kid`` is the
    token's key id when it has one.
    """

    def __init__(self, message: str, *, kid: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.kid = kid


class TransportError(FlynnError):
    """No usable answer was received: the connection failed, or retries ran out."""


class RequestTimeout(TransportError, TimeoutError):
    """A single request took longer than the per-request timeout (after any retries)."""


class OutcomeUnknown(TransportError):
    """A call that is sent at most once (it starts a billed task, changes state) lost its
    connection after its request may have reached the server, and was not sent again.

    The server may or may not have acted on it (a submit may have started, and billed, a
    task): decide before making the call again. ``route`` (and ``task_id`` when known) name
    the call.
    """


class ImsOutcomeUnknown(OutcomeUnknown):
    """An IMS save or reset was sent but no usable answer came: its outcome is unknown.

    It is not resent. ``gstin`` and ``kind`` (``"save"``/``"reset"``) say what was sent,
    ``decisions`` the records it carried, ``reference_ids`` the ids of earlier parts of the
    same call. Count or download again to see what the portal holds before a new request.
    """

    def __init__(
        self,
        message: str,
        *,
        gstin: str,
        kind: str,
        decisions: Sequence[Any] = (),
        reference_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.gstin = gstin
        self.kind = kind
        self.decisions = tuple(decisions)
        self.reference_ids = tuple(reference_ids)


class Gstr2bOutcomeUnknown(OutcomeUnknown):
    """A GSTR-2B regeneration was sent but its outcome could not be read.

    The request may have reached the portal (it is billed and changes state): it is not sent
    again. ``reference_id`` is the regeneration's id when the portal's answer got through
    (re-attach with :meth:`~flynn_async.Gstr2bApi.regeneration_status`), ``None`` when the
    answer to the regenerate call itself was lost: then download 2B, or ask the portal,
    before regenerating again. The underlying error is chained as ``__cause__``.
    """

    def __init__(self, message: str, *, reference_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reference_id = reference_id


class TaskError(FlynnError):
    """A long-running task did not deliver; ``task_id`` can be used to resume it."""


class TaskFailed(TaskError):
    """The server reports the task ended without success; ``status`` is its raw status."""

    def __init__(self, message: str, *, status: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status


class TaskTimeout(TaskError, TimeoutError):
    """The wait's deadline passed while the task was still processing.

    The server task is not cancelled: resume it later with its ``task_id``.
    """


class Gstr2bQueued(TaskTimeout):
    """The portal still queued the GSTR-2B request when the poll deadline passed.

    ``request_id`` is the portal's request id; ask again later.
    """

    def __init__(self, message: str, *, request_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_id = request_id


class PagesMissing(TaskError):
    """Some result pages could not be fetched.

    ``missing`` lists the page numbers (as the API numbers them) that were not handed on: every
    page from the first one not yet handed on, fetched or not. ``page`` is the page that failed;
    its error (the last try's, after the retries) is chained as ``__cause__`` and named in the
    message (a pickled copy keeps the message, not the cause). Resume with the task id: pages
    already delivered need not be fetched again when a checkpoint is used.
    """

    def __init__(self, message: str, *, missing: Sequence[int], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.missing = tuple(missing)


class GstSessionMissing(FlynnError):
    """A job names a GSTIN whose session the session store does not hold (none, or lapsed).

    An OTP is needed for that taxpayer (``request_otp`` and ``verify_otp``); ``gstin`` names it.
    """

    def __init__(self, message: str, *, gstin: str) -> None:
        super().__init__(message)
        self.gstin = gstin


class ManifestError(FlynnError):
    """A batch manifest cannot be used: damaged, from another job list, in use, unwritable.

    ``path`` names the file. A damaged manifest is never reset: fix or remove it yourself.
    """

    def __init__(self, message: str, *, path: Path) -> None:
        super().__init__(message)
        self.path = path


class BatchError(FlynnError, ExceptionGroup[Exception]):
    """Some jobs of a batch failed (from :meth:`~flynn_async.batch.BatchResult.raise_for_failures`).

    ``failures`` holds the failed :class:`~flynn_async.batch.JobResult` values; the message lists
    each taxpayer with its error. It is also an ``ExceptionGroup`` of the jobs' errors, so
    ``except* GstSessionExpired:`` picks out the taxpayers who need a new OTP.
    """

    def __new__(cls, message: str, failures: Sequence[_Failure]) -> Self:
        errors = [f.error for f in failures if f.error is not None]
        return super().__new__(cls, message, errors)

    def __init__(self, message: str, failures: Sequence[_Failure]) -> None:
        FlynnError.__init__(self, message)
        self.failures = tuple(failures)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled without the jobs' GST sessions (their ids are secrets): each job keeps its
        # GSTIN, and the errors, notes and task ids come back as they were.
        failures = tuple(f._without_session() for f in self.failures)
        state = {k: v for k, v in self.__dict__.items() if k != "failures"}
        return (type(self), (self.message, failures), state)


class _Failure(Protocol):
    """A failed job of a batch, as :class:`BatchError` needs it (``batch.JobResult``)."""

    @property
    def error(self) -> Exception | None: ...

    def _without_session(self) -> Any: ...


def _restore(
    cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]
) -> BaseException:
    """Rebuild a pickled error without calling its ``__init__`` (see ``FlynnError.__reduce__``)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def note_task_ids(error: BaseException, task_ids: Mapping[str, str]) -> None:
    """Hand billed task ids over on ``error`` (any error, ``CancelledError`` included).

    Each ``section -> task id`` becomes a note (``IMS B2B task id: ...``, shown in the
    traceback) and an entry of the error's ``task_ids`` attribute (a dict, merged with ids an
    inner call noted already), so a caller that catches the error can resume the tasks instead
    of paying for new ones.
    """
    if not task_ids:
        return
    known: dict[str, str] = dict(getattr(error, "task_ids", None) or {})
    notes = getattr(error, "__notes__", ())
    for section, task_id in task_ids.items():
        note = f"IMS {section} task id: {task_id}"
        if note not in notes:
            error.add_note(note)
        known[section] = task_id
    error.task_ids = known  # type: ignore[attr-defined]


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error to raise for a failed task group: its first FlynnError, else its first error.

    Nested groups are flattened first, so a caller gets one typed error (with the notes its
    raiser added) instead of a group, and a FlynnError wins over an unrelated error anywhere.
    """
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for exc in g.exceptions:
            if isinstance(exc, BaseExceptionGroup):
                walk(exc)
            else:
                leaves.append(exc)

    walk(group)
    for exc in leaves:
        if isinstance(exc, FlynnError):
            return exc
    return leaves[0]
