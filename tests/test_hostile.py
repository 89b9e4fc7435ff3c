"""Answers that break the API's promises, each raising the expected typed error that names the
route, the task id and the page. A small scripted server on a loopback port plays the API: it
logs the client in normally, then answers the task routes with whatever a case says."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from flynn_async import (
    ApiError,
    Credentials,
    FlynnClient,
    FlynnError,
    NotFound,
    PagesMissing,
    ResponseError,
    RetryPolicy,
)
from flynn_async._http import _api

TASK = "task-1"
STATUS = _api.TASK_STATUS_ROUTE
RESULT = _api.TASK_RESULT_ROUTE
PAGE = _api.TASK_PAGE_ROUTE
GOOD_PAGE = b'{"status": "1", "data": {"b2b": []}}'

Answer = tuple[int, bytes, str]  # HTTP status, body, content type
JSON = "application/json"


def ok(data: str) -> Answer:
    return 200, f'{{"status": "1", "data": {data}}}'.encode(), JSON


class Script:
    """What the scripted server answers on each task route (pages by number)."""

    def __init__(self) -> None:
        self.status: Answer = ok('{"task": {"id": "task-1", "status": "completed"}}')
        self.result: Answer = ok('{"pages": 2}')
        self.pages: dict[int, Answer] = {0: (200, GOOD_PAGE, JSON), 1: (200, GOOD_PAGE, JSON)}
        self.hits: dict[str, int] = {}


def _reply(answer: Answer) -> web.Response:
    status, body, content_type = answer
    headers = {"Content-Type": content_type}
    if 300 <= status < 400:
        headers["Location"] = "/elsewhere"  # a client that followed it would be seen there
    return web.Response(status=status, body=body, headers=headers)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, str]]:
    script = Script()

    async def login(_: web.Request) -> web.Response:
        data = {
            "token": "TOKEN-MARKER",
            "expiry": 4_102_444_800_000,
            "associatedOrgs": [{"organisation": {"id": "org-1"}, "userAccessInfo": {}}],
        }
        return web.json_response({"data": data})

    async def logout(_: web.Request) -> web.Response:
        return web.json_response({"data": {}})

    def route(name: str, pick: Callable[[web.Request], Answer]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            script.hits[name] = script.hits.get(name, 0) + 1
            return _reply(pick(request))

        return handle

    app = web.Application()
    tasks = "/enriched/tasks/v1.0"
    app.add_routes(
        [
            web.post("/login/authtokens", login),
            web.post("/login/logout", logout),
            web.get(tasks + "/status/{id}", route("status", lambda _: script.status)),
            web.get(tasks + "/result/{id}", route("result", lambda _: script.result)),
            web.get(
                tasks + "/result/{id}/page/{n}",
                route("page", lambda r: script.pages[int(r.match_info["n"])]),
            ),
            web.get("/elsewhere", route("elsewhere", lambda _: ok("{}"))),
        ]
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield script, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def hostile_client(scripted: tuple[Script, str], clock: Any) -> AsyncIterator[FlynnClient]:
    _, base = scripted
    client = FlynnClient(
        Credentials("user@example.com", "PASSWORD-MARKER"),
        base_url=base,
        login_url=base + "/login",
        retry=RetryPolicy(max_tries=3),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(7),
    )
    async with client:
        yield client


def _set(**answers: Any) -> Callable[[Script], None]:
    def apply(script: Script) -> None:
        for name, value in answers.items():
            if name.startswith("page"):
                script.pages[int(name[4:])] = value
            else:
                setattr(script, name, value)

    return apply


HTML = (200, b"<html><body>Service temporarily unavailable</body></html>", "text/html")
REPEATED = ok('{"b2b": [{"stin": "S", "val": 1, "inum": "N", "idt": "01-01-2024"}]}')

CASES = [
    # (case id, script change, error type, text in message, route, page)
    ("status html", _set(status=HTML), ResponseError, "not JSON (text/html)", STATUS, None),
    (
        "status truncated",
        _set(status=(200, b'{"status": "1", "data": {"task": ', JSON)),
        ResponseError,
        "not JSON",
        STATUS,
        None,
    ),
    (
        "status wrong type",
        _set(status=ok('{"task": {"id": "task-1", "status": 5}}')),
        ResponseError,
        "no status text",
        STATUS,
        None,
    ),
    (
        "status for another task",
        _set(status=ok('{"task": {"id": "task-2", "status": "completed"}}')),
        ResponseError,
        "is for task 'task-2'",
        STATUS,
        None,
    ),
    (
        "status 0 with HTTP 200",
        _set(
            status=(
                200,
                b'{"status": "0", "data": null, "error": {"message": "err-x", "type": "T"}}',
                JSON,
            )
        ),
        ApiError,
        "HTTP 200 err-x",
        STATUS,
        None,
    ),
    (
        "unknown envelope",
        _set(status=(200, b'{"result": {"task": {}}}', JSON)),
        ResponseError,
        "unknown envelope",
        STATUS,
        None,
    ),
    (
        "unknown envelope status",
        _set(status=(200, b'{"status": "2", "data": {}}', JSON)),
        ResponseError,
        "unknown envelope status '2'",
        STATUS,
        None,
    ),
    (
        "empty body",
        _set(status=(200, b"", JSON)),
        ResponseError,
        "an empty body",
        STATUS,
        None,
    ),
    (
        "redirect",
        _set(status=(302, b"", "text/html")),
        ResponseError,
        "redirects are not followed",
        STATUS,
        None,
    ),
    (
        "persistent 503 page",
        _set(status=(503, b"<html>busy</html>", "text/html")),
        ResponseError,
        "HTTP 503",
        STATUS,
        None,
    ),
    (
        "negative page count",
        _set(result=ok('{"pages": -1}')),
        ResponseError,
        "impossible page count -1",
        RESULT,
        None,
    ),
    (
        "absurd page count",
        _set(result=ok('{"pages": 1000000000}')),
        ResponseError,
        "impossible page count",
        RESULT,
        None,
    ),
    (
        "page count as text",
        _set(result=ok('{"pages": "2"}')),
        ResponseError,
        "no whole-number 'pages'",
        RESULT,
        None,
    ),
    (
        "page count as bool",
        _set(result=ok('{"pages": true}')),
        ResponseError,
        "no whole-number 'pages'",
        RESULT,
        None,
    ),
    (
        "page wrong types",
        _set(page1=ok('{"b2b": [{"stin": "S", "val": "10", "inum": "1", "idt": "01-01-2024"}]}')),
        PagesMissing,
        "expected a JSON number, got str '10' @ $.b2b[0].val",
        PAGE,
        1,
    ),
    (
        "page not an object",
        _set(page1=ok("[1, 2]")),
        PagesMissing,
        "page data must be a JSON object",
        PAGE,
        1,
    ),
    (
        "page repeated",  # a server that ignores the page number: records counted twice
        _set(page0=REPEATED, page1=REPEATED),
        PagesMissing,
        "page 1 is page 0 again (the same length, the same first and last records)",
        PAGE,
        1,
    ),
    (
        "page html",
        _set(page0=HTML),
        PagesMissing,
        "not JSON (text/html)",
        PAGE,
        0,
    ),
]


@pytest.mark.parametrize(
    ("change", "error", "text", "route", "page"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
async def test_a_broken_answer_raises_a_typed_error_naming_where(
    scripted: tuple[Script, str],
    hostile_client: FlynnClient,
    change: Callable[[Script], None],
    error: type[FlynnError],
    text: str,
    route: str,
    page: int | None,
) -> None:
    script, _ = scripted
    change(script)
    with pytest.raises(error) as info:
        await hostile_client.ims.task(TASK).result()
    raised = info.value
    detail = raised.__cause__ if isinstance(raised, PagesMissing) else raised
    assert isinstance(detail, FlynnError)
    assert text in str(detail)
    assert route == detail.route
    assert TASK == detail.task_id
    assert page == detail.page
    if isinstance(raised, PagesMissing):
        assert TASK == raised.task_id
        assert page in raised.missing
    for marker in ("TOKEN-MARKER", "PASSWORD-MARKER"):
        assert marker not in str(raised)


async def test_a_page_that_stays_missing_is_reported_with_what_is_missing(
    scripted: tuple[Script, str], hostile_client: FlynnClient
) -> None:
    script, _ = scripted
    not_found = (
        b'{"status": "0", "data": null, "error": {"message": "err-resource-not-found", '
        b'"type": "ResourceNotFound", "args": {"task-id": "task-1", "page": 1}}}'
    )
    script.pages[1] = (404, not_found, JSON)
    with pytest.raises(PagesMissing) as info:
        await hostile_client.ims.task(TASK).result()
    assert (1,) == info.value.missing
    assert isinstance(info.value.__cause__, NotFound)
    assert 3 == script.hits["page"] - 1  # page 1 tried three times (max_tries), page 0 once


async def test_html_then_a_good_answer_is_retried_to_success(
    scripted: tuple[Script, str], hostile_client: FlynnClient
) -> None:
    script, _ = scripted
    answers = [HTML, ok('{"task": {"id": "task-1", "status": "completed"}}')]

    def next_status(_: Script) -> None:
        script.status = answers.pop(0)

    next_status(script)
    task = hostile_client.ims.task(TASK)
    with pytest.raises(ResponseError):
        await hostile_client.ims.task(TASK).status()  # uses all three tries on HTML
    assert 3 == script.hits["status"]
    next_status(script)
    assert "completed" == (await task.status()).status


async def test_the_client_does_not_follow_a_redirect_with_credentials(
    scripted: tuple[Script, str], hostile_client: FlynnClient
) -> None:
    script, _ = scripted
    script.status = (302, b"", "text/html")
    with pytest.raises(ResponseError, match="redirects"):
        await hostile_client.ims.task(TASK).status()
    assert "elsewhere" not in script.hits


async def test_plain_http_is_refused_for_other_hosts() -> None:
    with pytest.raises(ValueError, match="https"):
        FlynnClient(
            Credentials("a@b.c", "p"),
            base_url="http://example.com",
            login_url="http://example.com/login",
        )
