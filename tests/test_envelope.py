"""The response envelope: success data, typed errors, malformed answers (table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from flynn_async import (
    ApiError,
    AuthError,
    FlynnError,
    GstError,
    GstSessionExpired,
    NotFound,
    ResponseError,
    TooManyTokens,
)
from flynn_async._http._envelope import api_error, is_api_error_body, unwrap


def new(data: Any = None, error: Any = None, status: str | None = None) -> dict[str, Any]:
    return {
        "status": status if status is not None else ("0" if error is not None else "1"),
        "data": data,
        "error": error,
        "info": None,
        "additionalInfo": None,
        "alert": None,
    }


def err(message: str, type_: str | None = None, **args: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "args": args}
    if type_ is not None:
        error["type"] = type_
    return error


# ------------------------------------------------------------------------------------------
# Success
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "http_status", "expected"),
    [
        pytest.param(new({"task-id": "t-1"}), 200, {"task-id": "t-1"}, id="new"),
        pytest.param(new({"pages": 0}), 201, {"pages": 0}, id="new, other 2xx"),
        pytest.param(new(None), 200, None, id="new, null data"),
        pytest.param({"data": {"token": "x"}}, 200, {"token": "x"}, id="old"),
        pytest.param({"data": [1, 2], "error": None}, 200, [1, 2], id="old with null error"),
        pytest.param({"data": {}}, 200, {}, id="old, empty object"),
    ],
)
def test_success_answers_give_their_data(
    document: dict[str, Any], http_status: int, expected: Any
) -> None:
    assert expected == unwrap(document, http_status=http_status)


# ------------------------------------------------------------------------------------------
# API errors: the body decides, and codes map to types
# ------------------------------------------------------------------------------------------

ERRORS = [
    pytest.param(new(error=err("err-foo", "Runtime")), 200, ApiError, id="status 0 with HTTP 200"),
    pytest.param({"error": err("err-foo")}, 500, ApiError, id="old error"),
    pytest.param(
        new(error=err("err-expired-token", "Authorization")), 403, AuthError, id="expired"
    ),
    pytest.param(
        new(error=err("err-invalid-token", "Authorization")), 403, AuthError, id="invalid token"
    ),
    pytest.param(
        new(error=err("err-invalid-org", "Authorization")), 403, AuthError, id="invalid org"
    ),
    pytest.param(
        {"error": err("err-invalid-credentials", "Authorization")}, 401, AuthError, id="by type"
    ),
    pytest.param(
        new(error=err("err-active-tokens-limit-exceeded", "Authorization")),
        401,
        TooManyTokens,
        id="token limit",
    ),
    pytest.param(
        new(error=err("err-resource-not-found", "ResourceNotFound")), 404, NotFound, id="not found"
    ),
    pytest.param(new(error=err("err-resource-not-found")), 200, NotFound, id="not found in a 200"),
    pytest.param(
        new(error=err("err-gstn-returned-error", "Gstn", error_cd="AUTH4038")),
        400,
        GstSessionExpired,
        id="AUTH4038",
    ),
    pytest.param(
        new(error=err("err-gstn-returned-error", "Gstn", error_cd="AUTH4033")),
        400,
        GstSessionExpired,
        id="AUTH4033",
    ),
    pytest.param(
        new(error=err("err-gstn-returned-error", "Gstn", error_cd="AUTH4037")),
        400,
        GstError,
        id="AUTH4037",
    ),
    pytest.param(
        new(error=err("err-invalid-request-body", "ClientRequest")), 400, ApiError, id="bad body"
    ),
]


@pytest.mark.parametrize(("document", "http_status", "expected_type"), ERRORS)
def test_error_envelopes_raise_their_typed_error(
    document: dict[str, Any], http_status: int, expected_type: type[ApiError]
) -> None:
    with pytest.raises(ApiError) as info:
        unwrap(document, http_status=http_status, route="/r", task_id="t-1", page=2)
    error = info.value
    assert expected_type is type(error)
    assert http_status == error.http_status
    assert document["error"]["message"] == error.code
    assert document["error"].get("type") == error.type
    assert document["error"]["args"] == error.error_args
    assert ("/r", "t-1", 2) == (error.route, error.task_id, error.page)
    assert error.code is not None
    assert error.code in str(error)
    assert str(error).endswith("[route /r, task t-1, page 2]")


def test_gst_errors_carry_the_portal_code() -> None:
    document = new(error=err("err-gstn-returned-error", "Gstn", error_cd="AUTH4037"))
    with pytest.raises(GstError) as info:
        unwrap(document, http_status=400)
    assert "AUTH4037" == info.value.portal_code
    assert "AUTH4037" in str(info.value)


def test_token_limit_is_an_auth_error_with_advice() -> None:
    error = api_error(err("err-active-tokens-limit-exceeded"), http_status=401)
    assert isinstance(error, TooManyTokens)
    assert isinstance(error, AuthError)
    assert "maximum number of live login tokens" in str(error)


# ------------------------------------------------------------------------------------------
# Malformed answers
# ------------------------------------------------------------------------------------------

MALFORMED = [
    pytest.param([1, 2], 200, "expected a JSON object", id="list"),
    pytest.param("ok", 200, "expected a JSON object", id="string"),
    pytest.param(None, 200, "expected a JSON object", id="null"),
    pytest.param(
        new({"x": 1}, status="2"), 200, "unknown envelope status '2'", id="unknown status"
    ),
    pytest.param(
        new({"x": 1}, status=1),  # type: ignore[arg-type]  # a status that is not text
        200,
        "unknown envelope status 1",
        id="status not text",
    ),
    pytest.param({"status": "1"}, 200, "unknown envelope status", id="status 1 without data"),
    pytest.param(new({"x": 1}), 500, "success envelope", id="status 1 with HTTP 500"),
    pytest.param(
        new(error={"type": "Runtime"}), 200, "without an error message", id="error without message"
    ),
    pytest.param(new(status="0"), 400, "without an error message", id="status 0, null error"),
    pytest.param({"error": {}}, 400, "without an error message", id="old, empty error"),
    pytest.param({"error": "boom"}, 500, "without an error message", id="old, error is text"),
    pytest.param({"data": {"x": 1}}, 404, "unknown envelope", id="old data with HTTP 404"),
    pytest.param({"result": 1}, 200, "unknown envelope (keys: result)", id="no known keys"),
]


@pytest.mark.parametrize(("document", "http_status", "match"), MALFORMED)
def test_malformed_answers_are_response_errors(document: Any, http_status: int, match: str) -> None:
    with pytest.raises(ResponseError) as info:
        unwrap(document, http_status=http_status, route="/r")
    assert match in str(info.value)
    assert "/r" == info.value.route
    assert not isinstance(info.value, ApiError)
    assert isinstance(info.value, FlynnError)


# ------------------------------------------------------------------------------------------
# is_api_error_body
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"error": {"message": "err-x"}}, True),
        (new(error=err("err-x", "T")), True),
        ({"status": "0", "error": {"message": "err-x", "args": None}}, True),
        ({"error": None, "data": 1}, False),
        (new({"pages": 1}), False),
        ({"error": {"message": 5}}, False),
        ({"error": {"type": "Runtime"}}, False),
        ({"error": "err-x"}, False),
        ([{"error": {"message": "err-x"}}], False),
        ("err-x", False),
        (None, False),
    ],
)
def test_is_api_error_body(document: Any, expected: bool) -> None:
    assert expected is is_api_error_body(document)


# The GST portal's error, relayed in each shape of the facts (sections 4 and 13).
GSTN_SHAPES = [
    pytest.param(
        "err-gstn-returned-error", {"error_cd": "{code}", "message": "m"}, id="args.error_cd"
    ),
    pytest.param(
        "err-gstn-returned-error",
        {"gstn-err": {"status-code": 0, "error-code": "{code}", "message": "m"}},
        id="gstn-err.error-code",
    ),
    pytest.param(
        "err-gstn-returned",
        {"status-code": 0, "gstn-err": {"code": "{code}", "message": "m"}},
        id="older err-gstn-returned",
    ),
]


@pytest.mark.parametrize(("message", "args"), GSTN_SHAPES)
@pytest.mark.parametrize(
    ("code", "expired"), [("AUTH4033", True), ("AUTH4038", True), ("RET2B1023", False)]
)
def test_every_gstn_error_shape_gives_the_portal_code(
    message: str, args: dict[str, Any], code: str, expired: bool
) -> None:
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return code if value == "{code}" else value

    error = api_error(
        {"message": message, "type": "Gstn", "args": fill(args)}, http_status=502, route="/r"
    )
    assert type(error) is (GstSessionExpired if expired else GstError)
    assert isinstance(error, GstError)
    assert code == error.portal_code
    assert "/r" == error.route
    assert code in str(error)
