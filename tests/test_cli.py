"""The ``flynn-async`` command line: parsing, settings, exit codes, progress, and end to end.

The end-to-end tests start ``python -m flynn_async simulator serve --port 0`` in a second
process, read its ready line, and run ``login``, ``gst otp`` (OTP piped on stdin) and
``ims download`` to every format as subprocesses; the files are read back with ``json``,
``csv`` and ``openpyxl`` and compared with the merged result that the Python API
(``client.ims.download_all``) gets from the same server. Other tests call the command line in
process, against that server or against an in-process simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import os
import re
import select
import shlex
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

import attrs
import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import (
    AuthError,
    Credentials,
    FileSessionStore,
    FlynnClient,
    FlynnError,
    GstError,
    GstSessionExpired,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    PagesMissing,
    Progress,
    ResponseError,
    TaskFailed,
    TaskTimeout,
    TooManyTokens,
    TransportError,
    export,
)
from flynn_async._core import _errors as _cli_errors
from flynn_async._http import _api
from flynn_async.cli import _act as _cli_act
from flynn_async.cli import _common as _cli_common
from flynn_async.cli import _ims as _cli_ims
from flynn_async.cli import _main as _cli
from flynn_async.cli._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_LOGIN_REFUSED,
    EXIT_NO_SESSION,
    EXIT_OK,
    EXIT_TASK_FAILED,
    EXIT_USAGE,
    SETTINGS,
    CommandFailed,
    NoGstSession,
    Settings,
    Ui,
)
from flynn_async.cli._display import ProgressDisplay, format_summary
from flynn_async.ims import ImsInvoices, ImsSection
from flynn_async.testing import (
    SIM_OTP,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)
from tests.conftest import known_records

DOCS = Path(__file__).parent.parent / "docs" / "cli.md"
PAISE = Decimal("0.01")
AMOUNTS = (
    "value",
    "taxable_value",
    "igst",
    "cgst",
    "sgst",
    "cess",
    "declared_igst",
    "declared_cgst",
    "declared_sgst",
    "declared_cess",
)
#: The simulated data of the end-to-end tests: small, several pages per section.
SERVE = ["--records", "30", "--page-size", "10", "--processing-polls", "0", "--seed", "11"]
FAST = ["--poll-interval", "0.02"]
OTP_IN_OUTPUT = re.compile(rf"(?<!\d){SIM_OTP}(?!\d)")


# ----------------------------------------------------------------------------------------------
# Fixtures: a served simulator in a second process, and a clean environment
# ----------------------------------------------------------------------------------------------


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("FLYNN_", "XDG_STATE"))}


def start_server(*extra: str, log: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``simulator serve`` in a subprocess; its ready line's fields."""
    command = [sys.executable, "-m", "flynn_async", "simulator", "serve", "--port", "0", *extra]
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=_base_env()
        )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    line = proc.stdout.readline() if ready else ""
    if not line:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the simulator did not start: {log.read_text()}")
    fields = dict(word.split("=", 1) for word in line.split())
    return proc, fields


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The ready line's fields of a simulator served by a second process."""
    log = tmp_path_factory.mktemp("server") / "serve.log"
    proc, fields = start_server(*SERVE, log=log)
    try:
        yield fields
    finally:
        stop_server(proc)


def server_env(server: dict[str, str], state: Path) -> dict[str, str]:
    keys = ("FLYNN_BASE_URL", "FLYNN_LOGIN_URL", "FLYNN_HANDLE", "FLYNN_PASSWORD")
    return {
        **_base_env(),
        **{k: server[k] for k in keys},
        "FLYNN_ASYNC_STATE_DIR": str(state),
    }


def cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m flynn_async ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "flynn_async", *args],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class LoggedIn:
    """A state directory with a stored GST session, and what ``login`` and ``gst otp`` said."""

    def __init__(self, env: dict[str, str], outputs: list[subprocess.CompletedProcess[str]]):
        self.env = env
        self.outputs = outputs


@pytest.fixture(scope="module")
def logged_in(server: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> LoggedIn:
    """``flynn-async login`` and ``gst otp`` (OTP piped on stdin) run as subprocesses."""
    env = server_env(server, tmp_path_factory.mktemp("state"))
    login = cli("login", env=env)
    assert 0 == login.returncode, login.stderr
    otp = cli(
        "gst",
        "otp",
        "--gstin",
        server["FLYNN_GSTIN"],
        "--username",
        server["FLYNN_GST_USERNAME"],
        env=env,
        stdin=server["FLYNN_SIM_OTP"] + "\n",
    )
    assert 0 == otp.returncode, otp.stderr
    return LoggedIn(env, [login, otp])


@pytest.fixture(scope="module")
def expected(server: dict[str, str]) -> ImsInvoices:
    """The merged result of every section, through the Python API, from the same server."""

    async def fetch() -> ImsInvoices:
        credentials = Credentials(server["FLYNN_HANDLE"], server["FLYNN_PASSWORD"])
        async with FlynnClient(
            credentials, base_url=server["FLYNN_BASE_URL"], login_url=server["FLYNN_LOGIN_URL"]
        ) as client:
            otp_request = await client.gst.request_otp(
                gstin=server["FLYNN_GSTIN"], username=server["FLYNN_GST_USERNAME"]
            )
            session = await client.gst.verify_otp(otp_request, server["FLYNN_SIM_OTP"])
            return await client.ims.download_all(session)

    return asyncio.run(fetch())


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FLYNN_* settings leak in; the default state directory is the test's own."""
    for name in list(os.environ):
        if name.startswith("FLYNN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


def in_process(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], *args: str, stdin: str = ""
) -> int:
    """``main(args)`` with ``env`` as the FLYNN_* environment and ``stdin`` piped."""
    for key, value in env.items():
        if key.startswith("FLYNN_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return _cli.main(list(args))


# ----------------------------------------------------------------------------------------------
# Reading the files back
# ----------------------------------------------------------------------------------------------


def check_row(row: dict[str, Any], section: str, record: Any, *, excel: bool) -> None:
    """One CSV row or Excel row against the typed record."""
    if "section" in row:
        assert section == row["section"]
    empty = None if excel else ""
    assert record.supplier_gstin == row["supplier_gstin"]
    assert record.number == row["number"]
    if excel:
        assert isinstance(row["date"], datetime)
        assert record.date == row["date"].date()
    else:
        assert record.date.isoformat() == row["date"]
    assert (record.action or empty) == row["action"]
    for name in AMOUNTS:
        amount = getattr(record, name)
        cell = row[name]
        if amount is None:
            assert empty == cell, name
        elif excel:
            assert isinstance(cell, int | float), name
            assert amount.quantize(PAISE, ROUND_HALF_UP) == Decimal(str(cell)), name
        else:
            assert format(amount, "f") == cell, name  # the exact digits, as text


def check_csv(path: Path, records: list[tuple[str, Any]]) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(records) == len(rows)
    for row, (section, record) in zip(rows, records, strict=True):
        check_row(row, section, record, excel=False)


def read_xlsx(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Section sheets by name (after the Summary), rows keyed by ``export.columns(section)``.

    Row 1 holds the readable titles, row 2 the wire names (docs/export.md).
    """
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames[0] == "Summary"
    sheets = {}
    for sheet in workbook.worksheets[1:]:
        rows = list(sheet.iter_rows(values_only=True))
        header = export.columns(sheet.title)
        sheets[sheet.title] = [dict(zip(header, row, strict=True)) for row in rows[2:]]
    return sheets


# ----------------------------------------------------------------------------------------------
# End to end: login, OTP, download every format, read back
# ----------------------------------------------------------------------------------------------


def test_login_and_otp_store_the_session(logged_in: LoggedIn, server: dict[str, str]) -> None:
    login, otp = logged_in.outputs
    assert "logged in as demo@example.com" in login.stdout
    assert [] == [line for line in login.stdout.splitlines() if len(line) > 80]
    assert "stored in" in otp.stdout
    for output in logged_in.outputs:
        text = output.stdout + output.stderr
        assert server["FLYNN_PASSWORD"] not in text
        assert not OTP_IN_OUTPUT.search(text)
        assert "Traceback" not in text
    sessions = Path(logged_in.env["FLYNN_ASYNC_STATE_DIR"]) / "sessions"
    stored = sessions / f"{server['FLYNN_GSTIN']}.json"
    assert 0o600 == stat.S_IMODE(stored.stat().st_mode)
    status = cli("gst", "status", env=logged_in.env)
    assert 0 == status.returncode
    assert server["FLYNN_GSTIN"] in status.stdout
    assert "valid until" in status.stdout
    args = ["gst", "otp", "--gstin", server["FLYNN_GSTIN"], "--username", "someone"]
    again = cli(*args, env=logged_in.env)
    assert 0 == again.returncode  # a live session is stored: no new OTP is asked for
    assert "nothing to do" in again.stdout


@pytest.mark.parametrize(
    ("fmt", "name", "extra"),
    [
        ("json", "ims.json", []),
        ("jsonl", "ims.jsonl", []),
        ("csv", "ims.csv", []),
        ("csv", "per-section", ["--csv-layout", "per-section"]),
        ("xlsx", "ims.xlsx", []),
    ],
)
def test_download_every_section_to_each_format(
    logged_in: LoggedIn,
    server: dict[str, str],
    expected: ImsInvoices,
    tmp_path: Path,
    fmt: str,
    name: str,
    extra: list[str],
) -> None:
    out = tmp_path / name
    done = cli(
        "ims",
        "download",
        "--gstin",
        server["FLYNN_GSTIN"],
        "--format",
        fmt,
        "--out",
        str(out),
        *extra,
        *FAST,
        env=logged_in.env,
    )
    assert 0 == done.returncode, done.stderr
    assert "Traceback" not in done.stderr
    # the summary: a row per section and the total
    assert 8 * 30 == len(expected)
    (total, *_) = [line.split() for line in done.stdout.splitlines() if line.startswith("total")]
    assert ["total", str(len(expected))] == total[:2]
    for section in ImsSection:
        assert re.search(rf"^{section.value}\s+30\s", done.stdout, re.M)
    # plain progress lines (stderr is a pipe): timestamped, one "done" per section
    assert 8 == len(
        re.findall(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \w+ done: 3 pages$", done.stderr, re.M)
    )
    # the export's progress: a first and a last line, records out of all of them
    shown = re.escape(str(out))
    assert re.search(rf"^\S+ \S+ writing {shown}: 0/240 records$", done.stderr, re.M)
    assert re.search(rf"^\S+ \S+ writing {shown}: 240/240 records$", done.stderr, re.M)
    records = list(known_records(expected))
    if fmt == "json":
        assert expected.to_dict() == json.loads(out.read_text(), parse_float=Decimal)
    elif fmt == "jsonl":
        lines = [json.loads(line, parse_float=Decimal) for line in out.read_text().splitlines()]
        assert [(s, r.to_dict()) for s, r in records] == [(d.pop("section"), d) for d in lines]
    elif fmt == "csv" and not extra:
        check_csv(out, records)
    elif fmt == "csv":
        assert sorted(f"{s.key}.csv" for s in ImsSection) == sorted(p.name for p in out.iterdir())
        for section in ImsSection:
            wanted = [(section.key, r) for r in expected.section(section)]
            check_csv(out / f"{section.key}.csv", wanted)
    else:
        sheets = read_xlsx(out)
        assert [s.key for s in ImsSection] == list(sheets)
        summary = openpyxl.load_workbook(out)["Summary"]
        details = [[c.value for c in row][:2] for row in summary.iter_rows(max_row=6)]
        assert ["GSTIN", server["FLYNN_GSTIN"]] in details
        assert ["Status", "all"] in details
        for section in ImsSection:
            rows = sheets[section.key]
            assert len(expected.section(section)) == len(rows)
            for row, record in zip(rows, expected.section(section), strict=True):
                check_row(row, section.key, record, excel=True)


def test_download_a_few_sections_with_a_status(
    logged_in: LoggedIn, server: dict[str, str], expected: ImsInvoices, tmp_path: Path
) -> None:
    out = tmp_path / "pending.jsonl"
    args = ["ims", "download", "--gstin", server["FLYNN_GSTIN"], "--out", str(out), *FAST]
    sections = ["--section", "b2b,B2BA", "--section", "ecom"]
    done = cli(*args, *sections, "--status", "p", "-q", env=logged_in.env)
    assert 0 == done.returncode, done.stderr
    assert "" == re.sub(r"wrote .*\n", "", done.stderr)  # -q: no progress lines
    lines = [json.loads(line, parse_float=Decimal) for line in out.read_text().splitlines()]
    wanted = [
        (name, record.to_dict())
        for name, record in known_records(expected)
        if name in ("b2b", "b2ba", "ecom") and record.action == "P"
    ]
    assert 10 < len(wanted)
    assert wanted == [(line.pop("section"), line) for line in lines]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_stops_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    proc, fields = start_server("--records", "1", log=tmp_path / "serve.log")
    try:
        assert fields["FLYNN_BASE_URL"].startswith("http://127.0.0.1:")
        assert fields["FLYNN_LOGIN_URL"] == fields["FLYNN_BASE_URL"] + "/theodore/apis/v1"
        assert {"FLYNN_HANDLE", "FLYNN_GSTIN", "FLYNN_GST_USERNAME", "FLYNN_SIM_OTP"} <= set(fields)
        proc.send_signal(sig)
        assert 0 == proc.wait(timeout=10)
    finally:
        stop_server(proc)
    assert "simulator stopped" in (tmp_path / "serve.log").read_text()


# ----------------------------------------------------------------------------------------------
# Exit codes, in process against the served simulator
# ----------------------------------------------------------------------------------------------


def test_a_wrong_password_is_exit_3(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {**server_env(server, tmp_path), "FLYNN_PASSWORD": "not-the-password"}
    assert EXIT_LOGIN_REFUSED == in_process(monkeypatch, env, "login")
    err = capsys.readouterr().err
    assert err.startswith("flynn-async: AuthError: ")
    assert 1 == len(err.strip().splitlines())
    assert "not-the-password" not in err
    # a sentence and what to do; the route and the server's code only with -v
    assert "The login was refused: check the handle and password" in err
    assert "FLYNN_PASSWORD" in err
    assert "route" not in err
    assert "err-invalid-credentials" not in err
    assert EXIT_LOGIN_REFUSED == in_process(monkeypatch, env, "login", "-v")
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "The login was refused" in err
    assert "[HTTP 401 err-invalid-credentials; route /authtokens]" in err
    assert "not-the-password" not in err


def test_a_wrong_otp_is_exit_3(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = server_env(server, tmp_path)
    args = ["gst", "otp", "--gstin", server["FLYNN_GSTIN"], "--username", "someone"]
    assert EXIT_LOGIN_REFUSED == in_process(monkeypatch, env, *args, stdin="123456\n")
    err = capsys.readouterr().err
    assert "flynn-async: GstError: the OTP was not accepted" in err
    assert "123456" not in err
    assert not (tmp_path / "sessions" / f"{server['FLYNN_GSTIN']}.json").exists()


def test_no_otp_on_stdin_is_exit_2(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = server_env(server, tmp_path)
    args = ["gst", "otp", "--gstin", server["FLYNN_GSTIN"], "--username", "someone"]
    assert EXIT_USAGE == in_process(monkeypatch, env, *args, stdin="")
    assert "InvalidInput: no OTP was given" in capsys.readouterr().err


def test_without_a_stored_session_download_is_exit_4(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = server_env(server, tmp_path)
    gstin = "27AAAPI3182M1ZX"
    args = ["ims", "download", "--gstin", gstin, "--out", str(tmp_path / "x.json")]
    assert EXIT_NO_SESSION == in_process(monkeypatch, env, *args)
    err = capsys.readouterr().err
    assert f"run `flynn-async gst otp --gstin {gstin}` first" in err
    assert err.startswith("flynn-async: NoGstSession: ")
    assert EXIT_NO_SESSION == in_process(monkeypatch, env, "gst", "status")
    assert "no GST sessions are stored" in capsys.readouterr().out
    assert EXIT_NO_SESSION == in_process(monkeypatch, env, "gst", "logout", "--gstin", gstin)


def test_otp_then_logout(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {**server_env(server, tmp_path), "FLYNN_GSTIN": "29AAAPI3182M1ZY"}
    env["FLYNN_GST_USERNAME"] = "someone"
    assert EXIT_OK == in_process(monkeypatch, env, "gst", "otp", stdin=f"  {SIM_OTP}  \n")
    assert "29AAAPI3182M1ZY" in capsys.readouterr().out
    assert EXIT_OK == in_process(monkeypatch, env, "gst", "status")
    assert EXIT_OK == in_process(monkeypatch, env, "gst", "logout")
    assert "logged out" in capsys.readouterr().out
    assert EXIT_NO_SESSION == in_process(monkeypatch, env, "gst", "status")
    assert "none (run `flynn-async gst otp --gstin 29AAAPI3182M1ZY`)" in capsys.readouterr().out


def test_verbose_logs_without_secrets(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = server_env(server, tmp_path)
    assert EXIT_OK == in_process(monkeypatch, env, "login", "-v")
    info = capsys.readouterr().err
    assert "INFO flynn_async.auth: logged in as demo@example.com" in info
    assert EXIT_OK == in_process(monkeypatch, env, "login", "-vv")
    debug = capsys.readouterr().err
    assert "DEBUG" in debug
    assert server["FLYNN_PASSWORD"] not in info + debug
    assert EXIT_OK == in_process(monkeypatch, env, "login")
    assert "" == capsys.readouterr().err  # the handler is gone again


def test_a_debug_download_shows_no_session_id(
    logged_in: LoggedIn,
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = Path(logged_in.env["FLYNN_ASYNC_STATE_DIR"])
    stored = json.loads((state / "sessions" / f"{server['FLYNN_GSTIN']}.json").read_text())
    args = ["ims", "download", "--section", "B2BCN", "--out", str(tmp_path / "x.json"), "-vv"]
    env = {**logged_in.env, "FLYNN_GSTIN": server["FLYNN_GSTIN"]}
    assert EXIT_OK == in_process(monkeypatch, env, *args, *FAST)
    captured = capsys.readouterr()
    assert "DEBUG flynn_async" in captured.err
    assert "B2BCN done: 3 pages" in captured.err
    for secret in (stored["session_id"], server["FLYNN_PASSWORD"]):
        assert secret not in captured.out + captured.err


def test_a_config_file(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "flynn.toml"
    config.write_text(
        f'handle = "{server["FLYNN_HANDLE"]}"\n'
        f'password = "{server["FLYNN_PASSWORD"]}"\n'
        f'base_url = "{server["FLYNN_BASE_URL"]}"\n'
        f'login_url = "{server["FLYNN_LOGIN_URL"]}"\n'
        'state_dir = "state"\n'
        "[gst]\n"
        f'gstin = "{server["FLYNN_GSTIN"]}"\n'
        'username = "someone"\n'
    )
    config.chmod(0o644)
    assert EXIT_OK == in_process(monkeypatch, {}, "login", "--config", str(config))
    captured = capsys.readouterr()
    assert "logged in as" in captured.out
    assert "can be read by others: chmod 600" in captured.err
    config.chmod(0o600)
    env = {"FLYNN_CONFIG": str(config)}
    assert EXIT_OK == in_process(monkeypatch, env, "gst", "otp", stdin=SIM_OTP)
    assert (tmp_path / "state" / "sessions" / f"{server['FLYNN_GSTIN']}.json").exists()
    assert "warning" not in capsys.readouterr().err
    config.write_text("pasword = 'x'\n" + config.read_text())
    assert EXIT_USAGE == in_process(monkeypatch, env, "login")
    assert "unknown keys: pasword" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Bad input: refused before any request (the API URL here answers nothing)
# ----------------------------------------------------------------------------------------------

NOWHERE = {
    "FLYNN_BASE_URL": "http://127.0.0.1:9",
    "FLYNN_LOGIN_URL": "http://127.0.0.1:9/login",
    "FLYNN_HANDLE": "me@example.com",
    "FLYNN_PASSWORD": "pw",
    "FLYNN_GSTIN": "24AAAPI3182M002",
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ims", "download", "--section", "B2C", "--out", "x.json"], "ImsSection must be one of"),
        (["ims", "download", "--section", "all,B2B", "--out", "x.json"], "cannot be combined"),
        (["ims", "download", "--gstin", "nope", "--out", "x.json"], "15 upper-case"),
        (["ims", "download", "--out", "x.txt"], "cannot tell the format"),
        (["ims", "download", "--out", "x.json", "--csv-layout", "single"], "--format csv only"),
        (["ims", "download", "--out", "missing/x.json"], "does not exist"),
        (["ims", "download", "--out", "x.json", "--resume", "B2B"], "SECTION=TASK_ID"),
        (
            ["ims", "download", "--section", "B2B", "--out", "x.json", "--resume", "ECOM=a"],
            "not being downloaded",
        ),
        (["ims", "download", "--out", "x.json", "--resume", "B2B=a b"], "not a valid task id"),
    ],
)
def test_bad_input_is_exit_2_before_any_request(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state" / "sessions").mkdir(parents=True)
    env = {**NOWHERE, "FLYNN_ASYNC_STATE_DIR": str(tmp_path / "state")}
    assert EXIT_USAGE == in_process(monkeypatch, env, *args)
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("flynn-async: InvalidInput: ")
    assert "Traceback" not in err


def test_unreachable_api_is_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert EXIT_ERROR == in_process(monkeypatch, NOWHERE, "login")
    assert capsys.readouterr().err.startswith("flynn-async: TransportError: ")


@pytest.mark.parametrize("missing", ["FLYNN_HANDLE", "FLYNN_PASSWORD"])
def test_missing_credentials_are_exit_2(
    missing: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {k: v for k, v in NOWHERE.items() if k != missing}
    assert EXIT_USAGE == in_process(monkeypatch, env, "login")
    assert missing in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["login", "--password", "x"],
        ["gst", "otp", "--otp", "575757"],
        ["gst", "otp", "--password", "x"],
        ["ims", "download", "--out", "x.json", "--password", "x"],
    ],
)
def test_no_password_or_otp_flag(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert EXIT_USAGE == in_process(monkeypatch, NOWHERE, *args)
    assert "unrecognized arguments" in capsys.readouterr().err


def test_production_is_chosen_by_flag_env_or_config(tmp_path: Path) -> None:
    parser = _cli.build_parser()
    config = tmp_path / "c.toml"
    config.write_text('environment = "production"\n')
    with_config = parser.parse_args(["login", "--config", str(config)])
    assert "production" == Settings(with_config, {}).environment()
    assert "sandbox" == Settings(with_config, {"FLYNN_ENVIRONMENT": "sandbox"}).environment()
    flag = parser.parse_args(["login", "--sandbox", "--config", str(config)])
    assert "sandbox" == Settings(flag, {"FLYNN_ENVIRONMENT": "production"}).environment()
    assert "sandbox" == Settings(parser.parse_args(["login"]), {}).environment()
    with pytest.raises(InvalidInput, match="sandbox or production"):
        Settings(parser.parse_args(["login"]), {"FLYNN_ENVIRONMENT": "live"}).environment()
    with pytest.raises(SystemExit):
        parser.parse_args(["login", "--sandbox", "--production"])


def test_settings_come_from_flag_then_env_then_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('handle = "config@x.in"\npassword = "c"\n[gst]\ngstin = "CONFIG"\n')
    parser = _cli.build_parser()
    plain = parser.parse_args(["gst", "status", "--config", str(config)])
    flagged = parser.parse_args(["gst", "status", "--config", str(config), "--gstin", "FLAG"])
    env = {"FLYNN_GSTIN": "ENV"}
    assert "CONFIG" == Settings(plain, {}).get("gst.gstin", "gstin")
    assert "ENV" == Settings(plain, env).get("gst.gstin", "gstin")
    assert "FLAG" == Settings(flagged, env).get("gst.gstin", "gstin")
    credentials = Settings(plain, {"FLYNN_HANDLE": "9876543210"}).credentials()
    assert ("9876543210", "mobile") == (credentials.handle, credentials.handle_type)
    assert "c" == credentials.password.reveal()
    assert (
        tmp_path / "state"
        == Settings(plain, {"FLYNN_ASYNC_STATE_DIR": str(tmp_path / "state")}).state_dir()
    )
    with pytest.raises(InvalidInput, match="FLYNN_BASE_URL and FLYNN_LOGIN_URL"):
        Settings(plain, {"FLYNN_BASE_URL": "http://127.0.0.1:1"}).urls()


# ----------------------------------------------------------------------------------------------
# Task failures and resuming, in process against an in-process simulator
# ----------------------------------------------------------------------------------------------


async def stored_session(sim: FlynnSimulator, state: Path) -> None:
    store = FileSessionStore(state / "sessions")
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, session_store=store
    ) as client:
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        await client.gst.verify_otp(otp_request, sim.otp)


def written(stream: TextIO) -> str:
    """What a test's in-memory stream holds."""
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def sim_ui(sim: FlynnSimulator, state: Path) -> Ui:
    env = {
        "FLYNN_BASE_URL": sim.base_url,
        "FLYNN_LOGIN_URL": sim.login_url,
        "FLYNN_HANDLE": sim.credentials.handle,
        "FLYNN_PASSWORD": sim.credentials.password.reveal(),
        "FLYNN_GSTIN": sim.gstin,
        "FLYNN_ASYNC_STATE_DIR": str(state),
    }
    return Ui(io.StringIO(), io.StringIO(), io.StringIO(), env)


async def test_a_failed_task_is_exit_5_with_its_task_ids(make_sim: Any, tmp_path: Path) -> None:
    sim = await make_sim(tasks=TaskSettings(terminal_status="failed", processing_polls=0))
    await stored_session(sim, tmp_path)
    ui = sim_ui(sim, tmp_path)
    args = ["ims", "download", "--section", "B2B,B2BA", "--out", str(tmp_path / "x.json"), *FAST]
    assert EXIT_TASK_FAILED == await _cli.run(args, ui)
    err = written(ui.err)
    assert re.search(r"^flynn-async: TaskFailed: the task ended with status 'failed'", err, re.M)
    for task_id in sim.tasks:
        assert task_id in err
    assert "--resume" in err
    assert not (tmp_path / "x.json").exists()


async def test_a_timeout_prints_a_resume_command_that_works(make_sim: Any, tmp_path: Path) -> None:
    sim = await make_sim(
        tasks=TaskSettings(processing_polls=10**6),
        records=RecordSettings(per_section=7),
        paging=PagingSettings(size=3),
    )
    await stored_session(sim, tmp_path)
    out = tmp_path / "b2b.csv"
    ui = sim_ui(sim, tmp_path)
    checkpoints = tmp_path / "pages"
    args = ["ims", "download", "--section", "B2B", "--out", str(out), "--timeout", "0.2", *FAST]
    assert EXIT_TASK_FAILED == await _cli.run([*args, "--checkpoint-dir", str(checkpoints)], ui)
    err = written(ui.err)
    assert "TaskTimeout" in err
    [task_id] = sim.tasks
    command = next(line.strip() for line in err.splitlines() if "--resume" in line)
    argv = shlex.split(command)
    assert ["flynn-async", "ims", "download"] == argv[:3]
    assert f"B2B={task_id}" in argv
    sim.config = sim.config.replace(tasks=attrs.evolve(sim.config.tasks, processing_polls=0))
    again = sim_ui(sim, tmp_path)
    assert EXIT_OK == await _cli.run([*argv[1:], *FAST], again), written(again.err)
    assert [task_id] == list(sim.tasks)  # no new task was started
    expected = sim.expected_records(sim.gstin, "B2B")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["inum"] for r in expected] == [row["number"] for row in rows]
    assert [Decimal(r["val"]) for r in expected] == [Decimal(row["value"]) for row in rows]


async def test_an_expired_gst_session_is_exit_4(make_sim: Any, tmp_path: Path) -> None:
    sim = await make_sim(tasks=TaskSettings(processing_polls=0))
    await stored_session(sim, tmp_path)
    sim._sessions.clear()  # the portal forgot it: the next IMS call says so
    ui = sim_ui(sim, tmp_path)
    args = ["ims", "download", "--section", "B2B", "--out", str(tmp_path / "x.json"), *FAST]
    assert EXIT_NO_SESSION == await _cli.run(args, ui)
    err = written(ui.err)
    assert "flynn-async: GstSessionExpired" in err
    assert f"gst otp --gstin {sim.gstin}" in err
    assert not (tmp_path / "sessions" / f"{sim.gstin}.json").exists()


# ----------------------------------------------------------------------------------------------
# Help, exit codes, the settings table
# ----------------------------------------------------------------------------------------------

COMMANDS = [
    [],
    ["login"],
    ["gst"],
    ["gst", "otp"],
    ["gst", "status"],
    ["gst", "logout"],
    ["ims"],
    ["ims", "download"],
    ["einvoice"],
    ["einvoice", "get"],
    ["simulator"],
    ["simulator", "serve"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "flynn-async")
def test_every_help_explains_with_an_example(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert EXIT_OK == in_process(monkeypatch, {}, *command, "--help")
    text = capsys.readouterr().out
    assert "Example" in text
    assert "flynn-async " + " ".join(command) in text
    assert "Exit codes:" in text


def test_the_api_commands_point_to_the_one_settings_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["login"], ["gst", "otp"], ["ims", "download"], ["einvoice", "get"], []):
        assert EXIT_OK == in_process(monkeypatch, {}, *command, "--help")
        assert "flynn-async help settings" in capsys.readouterr().out
    assert EXIT_OK == in_process(monkeypatch, {}, "help", "settings")
    text = capsys.readouterr().out
    for setting in SETTINGS:
        assert setting.env in text
        assert setting.flag is None or setting.flag in text


def test_the_docs_list_every_setting_and_exit_code() -> None:
    text = DOCS.read_text()
    for setting in SETTINGS:
        assert re.search(rf"\| `{setting.env}` \|", text), setting.env
        if setting.key != "-":
            assert f"`{setting.key}`" in text
    for code, _ in _cli_common.EXIT_CODES:
        assert re.search(rf"^\| {code} \|", text, re.M), code
    for command in COMMANDS[1:]:
        assert "flynn-async " + " ".join(command) in text


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidInput("x"), EXIT_USAGE),
        (AuthError("x", http_status=401, code="err-invalid-credentials"), EXIT_LOGIN_REFUSED),
        (TooManyTokens("x", http_status=401, code="err"), EXIT_LOGIN_REFUSED),
        (GstSessionExpired("x", http_status=403, code="err"), EXIT_NO_SESSION),
        (NoGstSession("x"), EXIT_NO_SESSION),
        (TaskFailed("x", status="failed"), EXIT_TASK_FAILED),
        (TaskTimeout("x"), EXIT_TASK_FAILED),
        (PagesMissing("x", missing=[1]), EXIT_TASK_FAILED),
        (GstError("x", http_status=400, code="err"), EXIT_ERROR),
        (TransportError("x"), EXIT_ERROR),
        (ResponseError("x"), EXIT_ERROR),
        (FlynnError("x"), EXIT_ERROR),
        (OSError("x"), EXIT_ERROR),
        (CommandFailed(EXIT_LOGIN_REFUSED, GstError("x", http_status=400, code="e")), 3),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
    ],
)
def test_exit_codes(error: BaseException, code: int) -> None:
    assert code == _cli_common.exit_code(error)


def test_the_exit_codes_are_distinct_constants() -> None:
    codes = [c for c, _ in _cli_common.EXIT_CODES]
    assert [0, 1, 2, 3, 4, 5, 130, 143] == codes
    assert (EXIT_OK, EXIT_TASK_FAILED, EXIT_INTERRUPTED) == (
        _cli.EXIT_OK,
        _cli.EXIT_TASK_FAILED,
        _cli.EXIT_INTERRUPTED,
    )


def test_ctrl_c_is_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def interrupted(argv: Any, ui: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_cli, "run", interrupted)
    assert EXIT_INTERRUPTED == _cli.main(["login"])
    assert "flynn-async: interrupted\n" == capsys.readouterr().err


def test_usage_errors_are_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert EXIT_USAGE == in_process(monkeypatch, {}, "frobnicate")
    assert EXIT_USAGE == in_process(monkeypatch, {}, "ims", "download")  # --out is required
    assert "--out" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------------
# Parsing helpers
# ----------------------------------------------------------------------------------------------


def test_sections_and_formats() -> None:
    assert list(ImsSection) == _cli_ims.parse_sections(None)
    assert list(ImsSection) == _cli_ims.parse_sections(["ALL"])
    assert [ImsSection.B2B, ImsSection.ECOM] == _cli_ims.parse_sections(["b2b, ecom", "B2B"])
    assert "xlsx" == _cli_ims.choose_format(None, Path("a/B.XLSX"))
    assert "jsonl" == _cli_ims.choose_format(None, Path("b.ndjson"))
    assert "csv" == _cli_ims.choose_format("csv", Path("dir"))
    resumes = _cli_ims.parse_resume(["b2b=t-1", " ECOM = t-2 "], list(ImsSection))
    assert {ImsSection.B2B: "t-1", ImsSection.ECOM: "t-2"} == resumes
    with pytest.raises(InvalidInput, match="given twice"):
        _cli_ims.parse_resume(["B2B=a", "b2b=b"], list(ImsSection))


@given(
    st.lists(st.sampled_from(list(ImsSection)), min_size=1),
    st.randoms(use_true_random=False),
)
def test_any_spelling_of_sections_gives_them_once_in_order(
    picked: list[ImsSection], rnd: Any
) -> None:
    words = [rnd.choice([s.value, s.value.lower(), s.name.title()]) for s in picked]
    values: list[str] = []
    while words:
        take = rnd.randint(1, len(words))
        values.append(" , ".join(words[:take]))
        words = words[take:]
    assert list(dict.fromkeys(picked)) == _cli_ims.parse_sections(values)


# ----------------------------------------------------------------------------------------------
# The display
# ----------------------------------------------------------------------------------------------


def reports(section: str, pages: int) -> list[Progress]:
    return [
        Progress("t-1", "submitted", section=section),
        Progress("t-1", "waiting", polls=1, section=section),
        Progress("t-1", "waiting", polls=2, section=section),
        *(Progress("t-1", "fetching", i, pages, 2, section) for i in range(pages + 1)),
        Progress("t-1", "done", pages, pages, 2, section),
    ]


def test_plain_progress_lines() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=False, clock=lambda: "T")
    with display:
        for report in reports("b2b", 25):
            display(report)
    lines = stream.getvalue().splitlines()
    assert "T B2B submitted, task t-1" == lines[0]
    assert "T B2B waiting for the server (status check 2)" == lines[2]
    assert "T B2B fetching pages: 0/25" == lines[3]
    assert "T B2B done: 25 pages" == lines[-1]
    fetching = [line.rsplit(" ", 1)[1] for line in lines if "fetching" in line]
    assert [f"{n}/25" for n in range(0, 25, 3)] == fetching  # about a tenth at a time
    assert 3 + len(fetching) + 1 == len(lines)


def test_terminal_bars() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=True)
    assert display.console is not None
    with display:
        for report in reports("b2ba", 4):
            display(report)
    text = stream.getvalue()
    assert "B2BA" in text
    assert "4/4" in text
    assert "done" in text


def test_plain_export_progress_lines() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=False, clock=lambda: "T")
    with display.writing("ims.xlsx") as on_progress:
        for done in (0, 1000, 2000, 3000, 25_000, 50_000, 52_000, 100_000, 100_000):
            on_progress(done, 100_000)
    assert stream.getvalue().splitlines() == [
        "T writing ims.xlsx: 0/100000 records",
        "T writing ims.xlsx: 25000/100000 records",
        "T writing ims.xlsx: 50000/100000 records",
        "T writing ims.xlsx: 100000/100000 records",
        "T writing ims.xlsx: 100000/100000 records",
    ]


def test_terminal_export_bar() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=True)
    with display.writing("ims.xlsx") as on_progress:
        on_progress(0, 2500)
        on_progress(2500, 2500)
    text = stream.getvalue()
    assert "writing ims.xlsx" in text
    assert "2500/2500" in text


def test_quiet_export_shows_nothing() -> None:
    stream = io.StringIO()
    with ProgressDisplay(stream, enabled=False).writing("x.csv") as on_progress:
        on_progress(0, 10)
        on_progress(10, 10)
    assert "" == stream.getvalue()


def test_quiet_shows_nothing() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, enabled=False, terminal=True)
    with display:
        for report in reports("b2b", 2):
            display(report)
    assert "" == stream.getvalue()


async def test_the_summary(sim: FlynnSimulator, client: FlynnClient, session: Any) -> None:
    result = await client.ims.download_all(session, sections=["B2B", "ECOM"])
    text = format_summary(result)
    totals = result.totals()
    igst = totals["b2b"].igst.quantize(PAISE, ROUND_HALF_UP)
    assert re.search(rf"^B2B\s+{len(result.b2b)}\s+.*{re.escape(f'{igst:,}')}", text, re.M)
    assert text.splitlines()[-1].split()[:2] == ["total", str(len(result))]
    assert "\n\n" not in text  # small amounts: one table


def test_sandbox_and_production_urls(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _cli.build_parser()
    ui = Ui(io.StringIO(), io.StringIO(), io.StringIO(), {})
    login = {"FLYNN_HANDLE": "me@example.com", "FLYNN_PASSWORD": "pw"}
    for flags, environment in (([], "sandbox"), (["--production"], "production")):
        settings = Settings(parser.parse_args(["login", *flags]), login)
        client = _cli_common.make_client(settings, ui)
        assert (client.base_url, client.login_url) == _api.ENVIRONMENTS[environment]
    assert "" == written(ui.err)
    env = server_env(server, tmp_path)
    assert EXIT_OK == in_process(monkeypatch, env, "login", "--production")
    captured = capsys.readouterr()
    assert server["FLYNN_BASE_URL"] in captured.out
    assert "FLYNN_BASE_URL/FLYNN_LOGIN_URL are set: --production is ignored" in captured.err


# ----------------------------------------------------------------------------------------------
# SIGTERM (timeout, systemd, Docker, Kubernetes) is handled like Ctrl-C
# ----------------------------------------------------------------------------------------------


def _read_until(stream: Any, needle: str, seen: list[str]) -> bool:
    """Read lines of ``stream`` into ``seen`` until one holds ``needle`` (False at its end)."""
    while True:
        ready, _, _ = select.select([stream], [], [], 60)
        line = stream.readline() if ready else ""
        if not line:
            return False
        seen.append(line)
        if needle in line:
            return True


def test_sigterm_mid_download_exits_143_with_a_resume_command_that_works(
    tmp_path: Path,
) -> None:
    # tasks take a moment to finish (by the server's clock): the download is cut while waiting
    serve = ["--records", "30", "--page-size", "10", "--processing", "1", "--seed", "11"]
    server_proc, fields = start_server(*serve, log=tmp_path / "serve.log")
    try:
        env = server_env(fields, tmp_path / "state")
        assert 0 == cli("login", env=env).returncode
        gst = ["gst", "otp", "--gstin", fields["FLYNN_GSTIN"]]
        otp = cli(
            *gst,
            "--username",
            fields["FLYNN_GST_USERNAME"],
            env=env,
            stdin=fields["FLYNN_SIM_OTP"] + "\n",
        )
        assert 0 == otp.returncode, otp.stderr
        out = tmp_path / "b2b.json"
        args = ["ims", "download", "--gstin", fields["FLYNN_GSTIN"], "--section", "B2B,ECOM"]
        args += ["--out", str(out), *FAST]
        proc = subprocess.Popen(
            [sys.executable, "-m", "flynn_async", *args, "-v"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen: list[str] = []
        try:
            assert proc.stderr is not None
            assert _read_until(proc.stderr, "started for", seen), "".join(seen)
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err = "".join(seen) + rest
        assert 143 == proc.returncode, err
        assert "terminated (SIGTERM)" in err
        started = set(re.findall(r"IMS \w+ task ([0-9a-f-]{36}) started", err))
        assert started
        command = next(line.strip() for line in err.splitlines() if "--resume" in line)
        argv = shlex.split(command)
        assert ["flynn-async", "ims", "download"] == argv[:3]
        for task_id in started:  # every task it paid for can be resumed
            assert any(task_id in word for word in argv)
        assert not out.exists()
        resumed = cli(*argv[1:], *FAST, "-v", env=env)
        assert 0 == resumed.returncode, resumed.stderr
        assert "started for" not in resumed.stderr  # no new task: the old ones re-attached
        assert out.is_file()
    finally:
        stop_server(server_proc)


#: A command whose cleanup never ends: SIGTERM must still end the process, after the grace.
STUCK_COMMAND = """
import asyncio, sys
from flynn_async.cli import _main as _cli

async def stuck(argv, ui):
    print("ready", flush=True)
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            print("cleaning up", flush=True)  # and never finishing

_cli.run = stuck
sys.exit(_cli.main(["login"]))
"""


def test_sigterm_ends_the_process_after_the_grace_even_if_cleanup_hangs(tmp_path: Path) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(STUCK_COMMAND)
    env = {**_base_env(), "FLYNN_TERM_GRACE": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        assert _read_until(proc.stdout, "ready", seen)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert 143 == proc.returncode
    assert "cleaning up" in out  # it was cancelled like Ctrl-C first
    assert "terminated (cleanup took too long)" in err


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            _cli_errors.IrpPasswordRequired(
                "HTTP 400 err-irp-empty-password", http_status=400, code="x", route="/r"
            ),
            "FLYNN_IRP_PASSWORD or irp.password",
        ),
        (
            TooManyTokens("HTTP 403 err-too-many", http_status=403, code="y", route="/r"),
            "wait for old ones to expire",
        ),
        (TransportError("connection refused", route="/r"), "HTTPS_PROXY, NO_PROXY"),
        (
            OutcomeUnknown("sent once, no answer: count before resending", route="/r"),
            "count before resending",
        ),
        (TaskTimeout("still processing", route="/r", task_id="t-1"), "still processing"),
        (
            NotFound(
                "HTTP 404 err-resource-not-found (ResourceNotFound); int_tran_id='x-9'",
                http_status=404,
                code="err-resource-not-found",
                route="/r",
            ),
            "x-9'; check the id: the server keeps results for 7 days",
        ),
    ],
)
def test_errors_are_a_sentence_with_what_to_do_and_the_route_with_v(
    error: FlynnError, says: str
) -> None:
    text = _cli.describe(error)
    assert says in text
    assert "/r" not in text
    assert "t-1" not in text
    verbose = _cli.describe(error, verbose=True)
    assert says in verbose
    assert "route /r" in verbose


# ----------------------------------------------------------------------------------------------
# Ctrl-C or SIGTERM while the output is written
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decisions", [False, True])
async def test_ctrl_c_while_the_file_is_written_prints_a_resume_command_that_works(
    make_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decisions: bool
) -> None:
    sim = await make_sim(tasks=TaskSettings(processing_polls=0))
    await stored_session(sim, tmp_path)
    out = tmp_path / "x.csv"
    module: Any = _cli_act if decisions else export
    name = "write_decisions" if decisions else "export"
    real = getattr(module, name)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # what Ctrl-C (asyncio.run) and SIGTERM do, as the write starts
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, interrupted)
    args = ["ims", "download", "--section", "B2B,ECOM", "--out", str(out), *FAST]
    args += ["--decisions"] if decisions else []
    ui = sim_ui(sim, tmp_path)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(_cli.run(args, ui))
    monkeypatch.setattr(module, name, real)
    err = written(ui.err)
    started = set(sim.tasks)
    assert len(started) == 2
    hints = [line.strip() for line in err.splitlines() if "--resume" in line]
    assert hints, err  # the task ids and the command that finishes the job
    command = hints[0]
    for task_id in started:
        assert task_id in command
    assert decisions == out.exists()  # a long export stops; a decisions file is written whole
    again = sim_ui(sim, tmp_path)
    assert EXIT_OK == await _cli.run([*shlex.split(command)[1:], *FAST], again), written(again.err)
    assert started == set(sim.tasks)  # nothing paid for twice
    assert decisions == (tmp_path / "x.csv.download.json").is_file()
    assert "section" in out.read_text().splitlines()[0]


class _Killed(BaseException):
    """The process dies here (SIGKILL): nothing after it runs, nothing is printed."""


async def test_a_killed_download_with_a_checkpoint_dir_is_finished_by_running_it_again(
    make_sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = await make_sim(tasks=TaskSettings(processing_polls=0))
    await stored_session(sim, tmp_path)
    out = tmp_path / "x.csv"
    args = ["ims", "download", "--section", "B2B,ECOM", "--out", str(out), *FAST]
    args += ["--checkpoint-dir", str(tmp_path / "pages")]
    real = export.export

    def killed(*_: Any, **__: Any) -> Any:
        raise _Killed  # every task started and every page fetched: killed as it writes

    monkeypatch.setattr(export, "export", killed)
    with pytest.raises(_Killed):
        await _cli.run(args, sim_ui(sim, tmp_path))
    monkeypatch.setattr(export, "export", real)
    started = set(sim.tasks)
    assert 2 == len(started)
    sim.reset_counters()

    again = sim_ui(sim, tmp_path)
    assert EXIT_OK == await _cli.run(args, again), written(again.err)  # the same command
    assert started == set(sim.tasks)  # re-attached: nothing paid for twice
    assert 0 == sim.calls["task_page"]  # every page read back from the checkpoint
    assert "re-attaching to the tasks recorded in" in written(again.err)
    expected = sim.expected_records(sim.gstin, "B2B") + sim.expected_records(sim.gstin, "ECOM")
    with out.open(newline="") as handle:
        assert [r["inum"] for r in expected] == [row["number"] for row in csv.DictReader(handle)]
    # once the file is written the record is gone: the next download starts new tasks
    assert [] == list((tmp_path / "pages").glob("ims-download-*.json"))
    assert EXIT_OK == await _cli.run(args, sim_ui(sim, tmp_path))
    assert 4 == len(sim.tasks)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_command_finished_keeps_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sig: signal.Signals
) -> None:
    async def finished_then_signalled(argv: Any, ui: Any) -> int:
        signal.raise_signal(sig)  # handled at once: the task is asked to cancel...
        return EXIT_TASK_FAILED  # ...but the command has already done all it does

    monkeypatch.setattr(_cli, "run", finished_then_signalled)
    assert EXIT_TASK_FAILED == _cli.main(["login"])
    assert "" == capsys.readouterr().err  # not "interrupted": the work was not cut short


async def test_every_task_of_a_download_is_in_its_record_however_the_submits_interleave(
    tmp_path: Path,
) -> None:
    sections = list(ImsSection)
    for attempt in range(5):
        record = _cli_ims._TaskRecord(tmp_path / str(attempt), "24AAAPI3182M002", None)
        ids = {s: f"00000000-0000-4000-8000-{i:012d}" for i, s in enumerate(sections)}
        # the submits of the sections answer together: each records its task at once
        await asyncio.gather(*(_record(record, s, t) for s, t in ids.items()))
        again = _cli_ims._TaskRecord(tmp_path / str(attempt), "24AAAPI3182M002", None)
        assert ids == again.load()


async def _record(record: Any, section: ImsSection, task_id: str) -> None:
    handed = record.record(section, task_id)
    if asyncio.iscoroutine(handed):
        await handed


def test_a_task_recorded_long_ago_is_not_re_attached(tmp_path: Path) -> None:
    record = _cli_ims._TaskRecord(tmp_path, "24AAAPI3182M002", None)
    record.record(ImsSection.B2B, "00000000-0000-4000-8000-000000000001")
    record.record(ImsSection.ECOM, "00000000-0000-4000-8000-000000000002")
    document = json.loads(record.path.read_bytes())
    earlier = datetime.now().astimezone() - timedelta(hours=_cli_ims.RECORD_HOURS, minutes=1)
    document["tasks"]["ECOM"]["submitted_at"] = earlier.isoformat()  # last night's run
    record.path.write_text(json.dumps(document))
    again = _cli_ims._TaskRecord(tmp_path, "24AAAPI3182M002", None)
    assert {ImsSection.B2B: "00000000-0000-4000-8000-000000000001"} == again.load()


class _SignalledStdin(io.StringIO):
    """A script's stdin: Ctrl-C (or SIGTERM) comes while the command waits for the OTP."""

    def __init__(self, sig: signal.Signals, otp: str) -> None:
        super().__init__(otp + "\n")
        self.sig = sig
        self.ignored = False

    def readline(self, size: int = -1, /) -> str:  # type: ignore[override]
        signal.raise_signal(self.sig)  # handled in the main thread, as a real one is
        self.ignored = True  # the read went on: a person would still be waiting here
        return super().readline(size)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_otp_is_read_stops_the_command_at_once(
    server: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sig: signal.Signals,
    code: int,
) -> None:
    # the read held the event loop: Ctrl-C was ignored until pressed twice, and SIGTERM
    # until a line came; the OTP typed meanwhile was then verified all the same
    state = tmp_path / "state"
    for key, value in server_env(server, state).items():
        if key.startswith("FLYNN_"):
            monkeypatch.setenv(key, value)
    stdin = _SignalledStdin(sig, server["FLYNN_SIM_OTP"])
    monkeypatch.setattr(sys, "stdin", stdin)
    gstin = server["FLYNN_GSTIN"]
    args = ["gst", "otp", "--gstin", gstin, "--username", server["FLYNN_GST_USERNAME"]]
    assert code == _cli.main(args)
    assert not stdin.ignored
    assert not (state / "sessions" / f"{gstin}.json").exists()  # the OTP went no further
    err = capsys.readouterr().err
    assert err.endswith("interrupted\n" if code == 130 else "terminated (SIGTERM)\n"), err


def test_output_piped_into_a_reader_that_stops_early_ends_quietly() -> None:
    # `flynn-async ... | head -1`: head exits, and the pipe breaks under the command's output
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        done = subprocess.run(
            [sys.executable, "-m", "flynn_async", "help", "settings"],
            stdout=closed,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert "BrokenPipe" not in done.stderr
    assert "Exception ignored" not in done.stderr
    assert "" == done.stderr
    assert EXIT_ERROR == done.returncode


def test_ctrl_c_at_the_otp_prompt_stops_at_once(server: dict[str, str], tmp_path: Path) -> None:
    # the prompt blocks the event loop: asyncio's own Ctrl-C handler would only cancel the
    # command's task, which nothing notices until Enter or a second Ctrl-C
    import pty

    env = server_env(server, tmp_path)
    args = ["gst", "otp", "--gstin", server["FLYNN_GSTIN"], "--username", "someone"]
    main_end, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flynn_async", *args],
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        shown = b""
        while b"OTP sent to the taxpayer" not in shown:
            chunk = os.read(main_end, 1024)
            assert chunk, shown
            shown += chunk
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert EXIT_INTERRUPTED == proc.wait(timeout=30)
        with contextlib.suppress(OSError):  # the terminal's end closes with the process
            while chunk := os.read(main_end, 1024):
                shown += chunk
        assert re.search(rb"\n\r?flynn-async: interrupted", shown), shown  # a line of its own
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main_end)


def test_no_command_at_all_prints_the_help() -> None:
    ui = Ui(io.StringIO(), io.StringIO(), io.StringIO(), {})
    assert EXIT_USAGE == asyncio.run(_cli.run([], ui))
    err = written(ui.err)
    assert err.startswith("usage: flynn-async")
    for command in ("ims", "gstr2b", "einvoice", "demo", "help"):
        assert f"\n    {command} " in err, command
    assert "" == written(ui.out)


def test_the_demo_writes_the_format_its_out_suffix_names(tmp_path: Path) -> None:
    out = tmp_path / "invoices.xlsx"
    ui = Ui(io.StringIO(), io.StringIO(), io.StringIO(), {})
    args = ["demo", "--records", "2", "--page-size", "2", "--processing", "0", "-q"]
    assert EXIT_OK == asyncio.run(_cli.run([*args, "--out", str(out)], ui)), written(ui.err)
    book = openpyxl.load_workbook(out, read_only=True)  # a workbook, not JSON named .xlsx
    assert ["Summary", *(s.key for s in ImsSection)] == book.sheetnames
    book.close()


@pytest.mark.parametrize("name", ["invoices.pdf", "missing/invoices.json"])
def test_the_demo_refuses_an_out_it_could_not_write_before_it_starts(
    tmp_path: Path, name: str
) -> None:
    ui = Ui(io.StringIO(), io.StringIO(), io.StringIO(), {})
    assert EXIT_USAGE == asyncio.run(_cli.run(["demo", "--out", str(tmp_path / name)], ui))
    err = written(ui.err)
    assert err.startswith("flynn-async: InvalidInput: ")
    assert "simulator listening" not in err


def test_an_unknown_outcome_gets_no_network_hint() -> None:
    # a billed call sent once whose answer was no answer (a proxy's page): not a network fault
    text = _cli.describe(OutcomeUnknown("the IMS B2B submit was sent but no usable answer came"))
    assert "HTTPS_PROXY" not in text
