"""The response envelope, decoded in one place.

Newer routes answer ``{"status": "1"|"0", "data": ..., "error": ...}``; older ones answer just
``{"data": ...}`` or ``{"error": {...}}``. The body decides, not only the HTTP status: an HTTP
200 with ``"status": "0"`` is an error. Every error body becomes a typed exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from flynn_async._core._errors import (
    ApiError,
    AuthError,
    EInvoiceNotFound,
    FlynnError,
    GstError,
    GstSessionExpired,
    IrpError,
    IrpErrorDetail,
    IrpPasswordRequired,
    NotFound,
    ResponseError,
    TooManyTokens,
)

from . import _api

_ADVICE: Final[dict[str, str]] = {
    _api.ERR_TOKEN_LIMIT: (
        "the user already holds the maximum number of live login tokens; share one client per "
        "user, and let old tokens expire or log them out"
    ),
    _api.ERR_INVALID_ORG: "the organisation id is not one of the user's organisations",
    _api.ERR_EXPIRED_TOKEN: "the login token has expired",
    _api.ERR_INVALID_TOKEN: "the login token is not valid; log in again",
}


def _summary(args: Mapping[str, Any]) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return text if len(text) <= 300 else text[:297] + "..."


def _portal_code(args: Mapping[str, Any]) -> str | None:
    """The GST portal's code from any shape of the relayed error (sections 4 and 13).

    ``args.error_cd`` (and its spellings), ``args["gstn-err"]["error-code"]``, or the older
    ``args["gstn-err"]["code"]``; a number is read as its text.
    """
    nested = args.get(_api.ERR_ARG_GSTN_ERR)
    places: list[tuple[Mapping[str, Any], tuple[str, ...]]] = [
        (args, (_api.ERR_ARG_GSTN_CODE, "errorCode", "ErrorCode", "code"))
    ]
    if isinstance(nested, dict):
        keys = (_api.ERR_ARG_GSTN_ERROR_CODE, _api.ERR_ARG_GSTN_OLDER_CODE, _api.ERR_ARG_GSTN_CODE)
        places.append((nested, keys))
    for mapping, names in places:
        for key in names:
            value = mapping.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
            if type(value) is int:
                return str(value)
    return None


def _irp_key(key: object) -> str:
    return str(key).lower().replace("_", "").replace("-", "")


_IRP_CODE_KEYS: Final = frozenset({"errorcode", "code", "errorcd"})
_IRP_MESSAGE_KEYS: Final = frozenset({"errormessage", "message", "errormsg", "errordesc"})


def irp_details(args: Mapping[str, Any]) -> tuple[IrpErrorDetail, ...]:
    """The portal's errors of ``err-irp-returned-error``, from either shape (section 8).

    ``args.details[{ErrorCode, ErrorMessage}]``, or the older ``args["irp-err"].details`` with
    lower-case keys; keys are matched ignoring case, ``_`` and ``-``. Codes become text.
    """
    raw = args.get(_api.ERR_ARG_IRP_DETAILS)
    legacy = args.get(_api.ERR_ARG_IRP_LEGACY)
    if raw is None and isinstance(legacy, dict):
        raw = legacy.get(_api.ERR_ARG_IRP_DETAILS)
    entries = [raw] if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    details = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        code = message = None
        for key, value in entry.items():
            name = _irp_key(key)
            if name in _IRP_CODE_KEYS and isinstance(value, str | int) and code is None:
                code = str(value).strip()
            elif name in _IRP_MESSAGE_KEYS and isinstance(value, str) and message is None:
                message = value.strip()
        if code:
            details.append(IrpErrorDetail(code, message or _api.IRP_ERROR_MEANINGS.get(code, "")))
    return tuple(details)


def _irp_text(details: tuple[IrpErrorDetail, ...]) -> str:
    if not details:
        return "the e-invoice portal answered an error without codes"
    parts = []
    for code, message in details:
        meaning = _api.IRP_ERROR_MEANINGS.get(code)
        text = f"{code} {message}" if message else code
        if meaning and message and meaning.lower() != message.lower():
            text += f" ({meaning})"
        parts.append(text)
    return "the e-invoice portal answered " + "; ".join(parts)


def api_error(
    error: Any,
    *,
    http_status: int,
    route: str | None = None,
    task_id: str | None = None,
    page: int | None = None,
) -> FlynnError:
    """The typed exception for an API ``error`` object (a ``ResponseError`` if malformed)."""
    where: dict[str, Any] = {"route": route, "task_id": task_id, "page": page}
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return ResponseError(
            f"HTTP {http_status}: error envelope without an error message: {error!r:.200}",
            **where,
        )
    code: str = error["message"]
    type_ = error.get("type") if isinstance(error.get("type"), str) else None
    raw_args = error.get("args")
    args: dict[str, Any] = raw_args if isinstance(raw_args, dict) else {}
    text = f"HTTP {http_status} {code}"
    if type_:
        text += f" ({type_})"
    advice = _ADVICE.get(code)
    if advice:
        text += f": {advice}"
    if args:
        text += f"; {_summary(args)}"
    fields: dict[str, Any] = {
        "http_status": http_status,
        "code": code,
        "type": type_,
        "args": args,
        **where,
    }
    if code == _api.ERR_IRP_EMPTY_PASSWORD:
        text = (
            f"HTTP {http_status} {code}: there is no live IRP session for this GSTIN and "
            "username; pass IrpCredentials(..., password=...) once to open one (it lasts 6 hours)"
        )
        return IrpPasswordRequired(text, **fields)
    if code == _api.ERR_IRP:
        details = irp_details(args)
        text = f"HTTP {http_status} {code}: {_irp_text(details)}"
        if any(d.code in _api.IRP_NOT_FOUND_CODES for d in details):
            return EInvoiceNotFound(text, details=details, **fields)
        return IrpError(text, details=details, **fields)
    if code == _api.ERR_TOKEN_LIMIT:
        return TooManyTokens(text, **fields)
    if code in _api.AUTH_ERROR_MESSAGES or type_ == "Authorization":
        return AuthError(text, **fields)
    if code == _api.ERR_NOT_FOUND:
        return NotFound(text, **fields)
    if code in _api.GSTN_ERROR_MESSAGES or type_ == _api.ERR_TYPE_GSTN:
        portal = _portal_code(args)
        if portal in _api.GST_SESSION_EXPIRED_CODES:
            text += "; the GST session is no longer valid: request and verify a new OTP"
            return GstSessionExpired(text, portal_code=portal, **fields)
        return GstError(text, portal_code=portal, **fields)
    return ApiError(text, **fields)


def unwrap(
    document: Any,
    *,
    http_status: int,
    route: str | None = None,
    task_id: str | None = None,
    page: int | None = None,
) -> Any:
    """The ``data`` of a successful answer; raises the typed error of a failed one."""
    where: dict[str, Any] = {"route": route, "task_id": task_id, "page": page}
    if not isinstance(document, dict):
        raise ResponseError(
            f"HTTP {http_status}: expected a JSON object, got {type(document).__name__}", **where
        )
    ok = 200 <= http_status < 300
    if "status" in document:
        status = document["status"]
        if status == _api.STATUS_OK and "data" in document:
            if not ok:
                raise ResponseError(
                    f"HTTP {http_status} with a success envelope (status '1')", **where
                )
            return document["data"]
        if status == _api.STATUS_ERROR:
            raise api_error(document.get("error"), http_status=http_status, **where)
        raise ResponseError(
            f"HTTP {http_status}: unknown envelope status {status!r} "
            f"(keys: {', '.join(sorted(map(str, document)))[:200]})",
            **where,
        )
    if document.get("error") is not None:
        raise api_error(document["error"], http_status=http_status, **where)
    if "data" in document and ok:
        return document["data"]
    keys = ", ".join(sorted(map(str, document)))[:200]
    raise ResponseError(f"HTTP {http_status}: unknown envelope (keys: {keys})", **where)


def is_api_error_body(document: Any) -> bool:
    """True when ``document`` is a well-formed error envelope (then the body is final)."""
    if not isinstance(document, dict):
        return False
    error = document.get("error")
    return isinstance(error, dict) and isinstance(error.get("message"), str)


__all__ = ["api_error", "irp_details", "is_api_error_body", "unwrap"]
