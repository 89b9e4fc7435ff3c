"""The command line in an 80-column terminal: every command's ``--help``, the settings and
exit-code pages, and the end-of-run summary fit, without a number broken across lines."""

from __future__ import annotations

import argparse
import asyncio
import io
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

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
