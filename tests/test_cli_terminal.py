"""The command line in an 80-column terminal: every command's ``--help``, the settings and
exit-code pages, and the end-of-run summary fit, without a number broken across lines."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import shlex
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from rich.console import Console

from flynn_async import FlynnClient, GstSession, Progress
from flynn_async.cli import _main as _cli
from flynn_async.cli._common import SETTINGS, Ui
from flynn_async.cli._display import ProgressDisplay, format_summary
from flynn_async.ims import ImsInvoices
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

WIDTH = 80


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", str(WIDTH))


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and subcommand's parser, with the words that name it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


ALL_COMMANDS = [path for path, _ in commands(_cli.build_parser())]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = asyncio.run(_cli.run(list(argv), Ui(out, err, io.StringIO(), {})))
    return code, out.getvalue(), err.getvalue()


def test_every_command_is_checked() -> None:
    names = {" ".join(path) for path in ALL_COMMANDS}
    for expected in ("", "login", "ims download", "simulator serve", "simulator key", "help"):
        assert expected in names
    assert len(names) >= 15


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "flynn-async")
def test_every_help_fits_80_columns(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.build_parser().parse_args([*path, "--help"])
    assert 0 == exited.value.code
    text = capsys.readouterr().out
    wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert [] == wide
    # the tables live in one place: `help settings`, `help exit-codes`
    assert "FLYNN_HANDLE_TYPE" not in text
    assert "interrupted (Ctrl-C)" not in text
    if path and path[-1] not in ("help",):
        assert "flynn-async help exit-codes" in text


@pytest.mark.parametrize("topic", ["settings", "exit-codes"])
def test_the_settings_and_exit_codes_are_one_help_page_each(topic: str) -> None:
    code, out, _ = run("help", topic)
    assert 0 == code
    assert [] == [line for line in out.splitlines() if len(line) > WIDTH]
    if topic == "settings":
        for setting in SETTINGS:
            assert setting.env in out
    else:
        assert re.search(r"^\s+130\s+interrupted", out, re.M)


def test_help_of_a_command_is_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run("help", "ims", "download")
    assert 0 == code
    assert "usage: flynn-async ims download" in capsys.readouterr().out
    assert 0 != run("help", "no-such-command")[0]


def test_quiet_and_verbose_only_where_they_do_something() -> None:
    parsers = dict(commands(_cli.build_parser()))
    with_quiet = {" ".join(p) for p, parser in parsers.items() if "--quiet" in parser.format_help()}
    assert {"ims download", "demo"} == with_quiet
    for path in (("gst", "status"), ("simulator", "stop"), ("simulator", "key"), ("help",)):
        assert "--verbose" not in parsers[path].format_help()
    for path in (("login",), ("ims", "download"), ("einvoice", "get"), ("gst", "otp")):
        assert "--verbose" in parsers[path].format_help()


@pytest.mark.sim(records=RecordSettings(per_section=300), paging=PagingSettings(size=100))
async def test_the_summary_of_a_large_download_fits_80_columns(
    sim: FlynnSimulator, client: FlynnClient, session: GstSession
) -> None:
    result: ImsInvoices = await client.ims.download_all(session)
    text = format_summary(result)
    lines = text.splitlines()
    assert [] == [line for line in lines if len(line) > WIDTH]
    wide = format_summary(result, width=1000)
    assert max(len(line) for line in wide.splitlines()) > WIDTH  # it had to be split
    # every amount is whole on its line, and every section has its row in each part
    for name, totals in result.totals().items():
        for amount in (totals.taxable_value, totals.igst, totals.cgst, totals.sgst, totals.cess):
            shown = f"{amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
            assert re.search(rf"^{name.upper()}\s.*\s{re.escape(shown)}(\s|$)", text, re.M)
    totals_rows = [line for line in lines if line.startswith("total")]
    assert 2 == len(totals_rows)
    assert str(len(result)) == totals_rows[0].split()[1]


@pytest.mark.parametrize(("count", "word"), [(1, "check"), (2, "checks")])
def test_the_bars_count_checks_in_good_english(count: int, word: str) -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=WIDTH)
    with ProgressDisplay(stream, terminal=True, console=console) as display:
        display(Progress("t-1", "submitted", section="b2b"))
        display(Progress("t-1", "waiting", polls=count, section="b2b"))
    assert f"waiting for the server ({count} {word})" in stream.getvalue()


@pytest.mark.parametrize(("pages", "text"), [(1, "done: 1 page"), (3, "done: 3 pages")])
def test_the_plain_lines_count_pages_in_good_english(pages: int, text: str) -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, terminal=False, clock=lambda: "T")
    display(Progress("t-1", "done", pages, pages, 0, "b2b"))
    assert f"T B2B {text}" == stream.getvalue().strip()


class _Terminal(io.StringIO):
    """A stream that says it is a terminal (COLUMNS gives its width)."""

    def isatty(self) -> bool:
        return True


def test_an_error_on_a_terminal_breaks_between_words() -> None:
    gstin = "27AAPFU0939F1ZV"
    args = ["ims", "download", "--gstin", gstin, "--section", "B2B", "--out", "x.csv"]
    plain, tty = io.StringIO(), _Terminal()
    for err in (plain, tty):
        ui = Ui(io.StringIO(), err, io.StringIO(), {"FLYNN_ASYNC_STATE_DIR": "/nonexistent"})
        assert 4 == asyncio.run(_cli.run(args, ui))
    [line] = plain.getvalue().splitlines()  # a pipe or a log: one line, as scripts expect
    assert len(line) > WIDTH
    lines = tty.getvalue().splitlines()
    assert len(lines) > 1
    assert [] == [shown for shown in lines if len(shown) >= WIDTH]
    assert line.split() == " ".join(lines).split()  # no word was cut


def test_the_resume_command_on_a_terminal_is_continued_with_backslashes() -> None:
    from flynn_async.cli import _ims as _cli_ims
    from flynn_async.ims import ImsSection

    ids = {section: f"{n:08d}-1983-4593-befe-baf200606629" for n, section in enumerate(ImsSection)}
    args = argparse.Namespace(
        section=["all"],
        status=None,
        skip_empty=False,
        checkpoint_dir=Path("pages"),
        format=None,
        csv_layout=None,
        out=Path("invoices.xlsx"),
    )
    plain, tty = io.StringIO(), _Terminal()
    for err in (plain, tty):
        ui = Ui(io.StringIO(), err, io.StringIO(), {})
        _cli_ims._report_tasks(ui, args, "24AAAPI3182M002", ids)
    command = plain.getvalue().splitlines()[-1].strip()  # one line off a terminal
    assert shlex.split(command)[:3] == ["flynn-async", "ims", "download"]
    shown = tty.getvalue().splitlines()
    assert [] == [line for line in shown if len(line) >= WIDTH]
    start = next(i for i, line in enumerate(shown) if line.strip().startswith("flynn-async "))
    typed = shown[start:]
    assert all(line.endswith(" \\") for line in typed[:-1])
    assert not typed[-1].endswith("\\")
    # pasted into a shell, the lines are the same command
    assert shlex.split(" ".join(line.removesuffix("\\") for line in typed)) == shlex.split(command)


def test_the_bars_are_in_section_order_whatever_order_the_tasks_start_in() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=WIDTH)
    with ProgressDisplay(stream, terminal=True, console=console) as display:
        for n, section in enumerate(("ecoma", "b2ba", "impg", "b2b", "b2bcn")):
            display(Progress(f"t-{n}", "submitted", section=section))
    last = stream.getvalue().rsplit("\x1b[2K", 1)[-1]  # the last drawing of the rows
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", last)
    names = [m.group(1) for m in re.finditer(r"^(\w+) +━", shown, re.M)]
    assert ["B2B", "B2BA", "B2BCN", "ECOMA", "IMPG"] == names


@pytest.mark.sim(records=RecordSettings(per_section=1))
async def test_gst_status_is_a_table_that_fits_80_columns(
    sim: FlynnSimulator, tmp_path: Path
) -> None:
    from flynn_async import FileSessionStore

    taxpayers = {"24AAAPI3182M002": "demo", "27AAPFU0939F1ZV": "accounts-payable-team-01"}
    store = FileSessionStore(tmp_path / "sessions")
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, session_store=store
    ) as client:
        for gstin, username in taxpayers.items():
            otp_request = await client.gst.request_otp(gstin=gstin, username=username)
            await client.gst.verify_otp(otp_request, sim.otp)
    out = io.StringIO()
    ui = Ui(out, io.StringIO(), io.StringIO(), {"FLYNN_ASYNC_STATE_DIR": str(tmp_path)})
    assert 0 == await _cli.run(["gst", "status"], ui)
    lines = out.getvalue().splitlines()
    assert [] == [line for line in lines if len(line) > WIDTH]
    rows = [line for line in lines if line[:15] in taxpayers]
    assert len(rows) == 2
    for gstin, username in taxpayers.items():
        [row] = [line for line in rows if line.startswith(gstin)]
        assert f" {username} " in row
    # the times start in one column
    assert len({re.search(r"\d{4}-\d\d-\d\d", row).start() for row in rows}) == 1  # type: ignore[union-attr]
