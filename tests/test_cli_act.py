"""``ims download --decisions``, ``ims act``, ``ims status``, ``ims counts`` and
``--skip-empty``, in process against a simulator over real sockets."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from flynn_async import FileSessionStore, FlynnClient
from flynn_async.cli import _act as _cli_act
from flynn_async.cli import _ims as _cli_ims
from flynn_async.cli import _main as _cli
from flynn_async.cli._common import EXIT_OK, EXIT_TASK_FAILED, EXIT_USAGE, Ui
from flynn_async.ims import ImsSection
from flynn_async.testing import FlynnSimulator
from tests.test_cli import written

FAST = ["--poll-interval", "0.02"]


async def stored_session(sim: FlynnSimulator, state: Path) -> None:
    store = FileSessionStore(state / "sessions")
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, session_store=store
    ) as client:
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        await client.gst.verify_otp(otp_request, sim.otp)


def sim_ui(sim: FlynnSimulator, state: Path, stdin: str = "") -> Ui:
    env = {
        "FLYNN_BASE_URL": sim.base_url,
        "FLYNN_LOGIN_URL": sim.login_url,
        "FLYNN_HANDLE": sim.credentials.handle,
        "FLYNN_PASSWORD": sim.credentials.password.reveal(),
        "FLYNN_GSTIN": sim.gstin,
        "FLYNN_ASYNC_STATE_DIR": str(state),
    }
    return Ui(io.StringIO(), io.StringIO(), io.StringIO(stdin), env)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def fill(rows: list[dict[str, str]], count: int) -> dict[tuple[str, str, str], str]:
    """Fill decisions a spreadsheet user would: reject with remarks, accept, pending."""
    chosen: dict[tuple[str, str, str], str] = {}
    for row in rows:
        if len(chosen) == count:
            break
        if row["specified"] or row["current_action"] != "N":
            continue
        action = ("R", "A", "P")[len(chosen) % 3]
        if action == "P" and row["pending_blocked"]:
            action = "R"
        row["decision"] = action
        if action == "R":
            row["remarks"] = "Goods not received"
        chosen[row["section"], row["supplier_gstin"], row["number"]] = action
    return chosen


async def download_decisions(sim: FlynnSimulator, state: Path, out: Path) -> list[dict[str, str]]:
    ui = sim_ui(sim, state)
    code = await _cli.run(["ims", "download", "--decisions", "--out", str(out), *FAST], ui)
    assert code == EXIT_OK, written(ui.err)
    return read(out)


async def test_the_round_trip_through_csv(sim: FlynnSimulator, tmp_path: Path) -> None:
    await stored_session(sim, tmp_path)
    out = tmp_path / "invoices.csv"
    rows = await download_decisions(sim, tmp_path, out)
    assert (tmp_path / "invoices.csv.download.json").is_file()
    assert {r["gstin"] for r in rows} == {sim.gstin}
    assert {r["download"] for r in rows} == {"invoices.csv.download.json"}
    assert all(r["decision"] == "" for r in rows)
    chosen = fill(rows, 12)
    # a spreadsheet rounds: the amounts in the file are never what is sent
    for row in rows:
        row["value"] = "1"
    write(out, rows)
    sim.reset_counters()

    ui = sim_ui(sim, tmp_path)
    code = await _cli.run(["ims", "act", str(out), "--yes", *FAST], ui)

    assert code == EXIT_OK, written(ui.err)
    summary = written(ui.out)
    assert "invalid 0" in summary
    assert "unchanged 0" in summary
    assert sim.calls["ims_save"] == 1
    results = read(tmp_path / "invoices.results.csv")
    outcomes = {(r["section"], r["supplier_gstin"], r["number"]): r["outcome"] for r in results}
    assert outcomes == dict.fromkeys(chosen, "saved")
    assert all(r["reference_id"] for r in results)
    # a fresh download shows the actions
    fresh = await download_decisions(sim, tmp_path, tmp_path / "again.csv")
    now = {(r["section"], r["supplier_gstin"], r["number"]): r["current_action"] for r in fresh}
    for key, action in chosen.items():
        assert now[key] == action


async def test_rows_a_spreadsheet_rewrote_still_match(sim: FlynnSimulator, tmp_path: Path) -> None:
    # Excel and LibreOffice read 082024 as the number 82024 and a date cell as a date,
    # and write them back so when the CSV is saved
    await stored_session(sim, tmp_path)
    out = tmp_path / "d.csv"
    rows = await download_decisions(sim, tmp_path, out)
    early = [r for r in rows if r["period"].startswith("0") and r["current_action"] == "N"]
    early = [r for r in early if not r["specified"]][:3]
    assert len(early) == 3
    for row, day in zip(early, ("{d}/{m}/{y}", "{y}-{m}-{d}", "{d}-{m}-{y}"), strict=True):
        row["decision"] = "R"
        row["remarks"] = "Goods not received"
        row["period"] = row["period"].lstrip("0")
        d, m, y = row["date"].split("-")
        row["date"] = day.format(d=d, m=m, y=y)
    write(out, rows)
    sim.reset_counters()
    ui = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "act", str(out), "--yes", *FAST], ui) == EXIT_OK, written(ui.err)
    assert "invalid 0" in written(ui.out)
    assert sim.calls["ims_save"] == 1
    fresh = await download_decisions(sim, tmp_path, tmp_path / "again.csv")
    now = {(r["section"], r["supplier_gstin"], r["number"]): r["current_action"] for r in fresh}
    for row in early:
        assert now[row["section"], row["supplier_gstin"], row["number"]] == "R"


async def test_a_csv_saved_in_another_encoding_is_a_clear_error(
    sim: FlynnSimulator, tmp_path: Path
) -> None:
    # Excel's "CSV (Comma delimited)" writes the Windows code page, not UTF-8
    await stored_session(sim, tmp_path)
    out = tmp_path / "d.csv"
    rows = await download_decisions(sim, tmp_path, out)
    fill(rows, 2)
    for row in rows:
        if row["remarks"]:
            row["remarks"] = "Goods not received \u2013 caf\u00e9"  # an en dash, an accent
    with out.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sim.reset_counters()
    ui = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "act", str(out), "--yes"], ui) == EXIT_USAGE
    err = written(ui.err)
    assert err.startswith("flynn-async: InvalidInput: ")
    assert "UTF-8" in err
    assert sum(sim.calls.values()) == 0


def test_a_rewritten_identity_matches_one_record_or_none() -> None:
    from flynn_async.cli._act import _loose_identity

    written_ = _loose_identity(("b2b", "24AAAPI3182M002", "000123", "05-01-2024", "012024"))
    for read_back in (
        ("B2B ", " 24aaapi3182m002", "123", "5/1/2024", "12024"),
        ("b2b", "24AAAPI3182M002", "000123", "2024-01-05", "012024"),
        ("b2b", "24AAAPI3182M002", "0123", "05.01.2024", "12024"),
    ):
        assert _loose_identity(read_back) == written_
    for other in (
        ("b2b", "24AAAPI3182M002", "1230", "05-01-2024", "012024"),  # another number
        ("b2b", "24AAAPI3182M002", "000123", "01-05-2024", "012024"),  # another day
        ("b2b", "24AAAPI3182M002", "000123", "05-01-2024", "122024"),  # another period
        ("b2ba", "24AAAPI3182M002", "000123", "05-01-2024", "012024"),  # another section
    ):
        assert _loose_identity(other) != written_


async def test_bad_rows_are_listed_and_nothing_is_sent(sim: FlynnSimulator, tmp_path: Path) -> None:
    await stored_session(sim, tmp_path)
    out = tmp_path / "d.csv"
    rows = await download_decisions(sim, tmp_path, out)
    first = next(r for r in rows if r["current_action"] == "N")
    first["decision"] = "A"
    first["remarks"] = "no remarks on accept"
    second = next(r for r in rows if r is not first)
    second["decision"] = "maybe"
    write(out, rows)
    sim.reset_counters()
    ui = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "act", str(out), "--yes"], ui) == EXIT_USAGE
    text = written(ui.out)
    assert "invalid 2" in text
    assert "rule 6" in text
    assert "decision must be A, R, P or N" in text
    assert sum(sim.calls.values()) == 0


async def test_without_a_terminal_and_without_yes_nothing_is_sent(
    sim: FlynnSimulator, tmp_path: Path
) -> None:
    await stored_session(sim, tmp_path)
    out = tmp_path / "d.csv"
    rows = await download_decisions(sim, tmp_path, out)
    fill(rows, 2)
    write(out, rows)
    sim.reset_counters()
    ui = sim_ui(sim, tmp_path, stdin="y\n")  # a StringIO is no terminal
    assert await _cli.run(["ims", "act", str(out)], ui) == EXIT_USAGE
    assert "--yes" in written(ui.err)
    assert sum(sim.calls.values()) == 0


async def test_an_interrupted_act_is_followed_up_with_ims_status(
    sim: FlynnSimulator, tmp_path: Path
) -> None:
    await stored_session(sim, tmp_path)
    out = tmp_path / "d.csv"
    rows = await download_decisions(sim, tmp_path, out)
    fill(rows, 3)
    write(out, rows)
    sim.ims_state.polls_in_progress = 10**9
    ui = sim_ui(sim, tmp_path)
    code = await _cli.run(["ims", "act", str(out), "--yes", "--timeout", "0.1", *FAST], ui)
    assert code == EXIT_TASK_FAILED
    err = written(ui.err)
    [ref] = list(sim.ims_state.requests)
    assert f"ims status {ref}" in err
    sim.ims_state.polls_in_progress = 0
    again = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "status", ref, *FAST], again) == EXIT_OK, written(again.err)
    assert f"save {ref}: P, 3 processed, 0 failed" in written(again.out)
    assert sim.calls["ims_save"] == 1


async def test_ims_counts(sim: FlynnSimulator, tmp_path: Path) -> None:
    await stored_session(sim, tmp_path)
    ui = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "counts", "--json"], ui) == EXIT_OK, written(ui.err)
    data = json.loads(written(ui.out))
    b2b = sim.expected_records(sim.gstin, "b2b")
    assert data["sections"]["b2b"]["total"] == len(b2b)
    assert data["sections"]["b2b"]["pending"] == sum(r["action"] == "P" for r in b2b)
    assert "snapshot" in written(ui.err)


async def test_skip_empty_starts_no_task_for_empty_sections(
    sim: FlynnSimulator, tmp_path: Path
) -> None:
    await stored_session(sim, tmp_path)
    # after rejecting every pending b2b record, a download of pending records skips b2b
    out = tmp_path / "p.json"
    ui = sim_ui(sim, tmp_path)
    pending = {
        key: sum(r["action"] == "P" for r in sim.expected_records(sim.gstin, key))
        for key in ("b2b", "b2ba", "ecom")
    }
    empty = [k for k, n in pending.items() if n == 0]
    args = ["ims", "download", "--section", "B2B,B2BA,ECOM", "--status", "P", "--skip-empty"]
    code = await _cli.run([*args, "--out", str(out), *FAST], ui)
    assert code == EXIT_OK, written(ui.err)
    assert sim.calls["ims_counts"] == 1
    assert sim.calls["ims_submit"] == 3 - len(empty)
    data = json.loads(out.read_text())
    for key in ("b2b", "b2ba", "ecom"):
        assert len(data.get(key, [])) == pending[key]


async def test_library_skip_empty(sim: FlynnSimulator, client: FlynnClient, session: Any) -> None:
    invoices = await client.ims.download_all(session, sections="B2B")
    pending = [r for r in invoices.b2b if r.action == "P"]
    decisions = [invoices.decide(r, "R") for r in pending]
    if decisions:
        await client.ims.save(session, decisions)
    sim.reset_counters()
    result = await client.ims.download_all(
        session, sections=("B2B", "B2BA"), status="P", skip_empty=True
    )
    assert result.b2b == ()
    assert "b2b" in result.present
    tasks = [t.section for t in sim.tasks.values() if t.status == "P"]
    assert "B2B" not in tasks
    assert sim.calls["ims_counts"] == 1


async def test_the_round_trip_through_excel(sim: FlynnSimulator, tmp_path: Path) -> None:
    import openpyxl

    await stored_session(sim, tmp_path)
    out = tmp_path / "invoices.xlsx"
    ui = sim_ui(sim, tmp_path)
    code = await _cli.run(["ims", "download", "--decisions", "--out", str(out), *FAST], ui)
    assert code == EXIT_OK, written(ui.err)
    # a person fills it in Excel (openpyxl saves shared strings, as Excel does)
    book = openpyxl.load_workbook(out)
    sheet = book.active
    assert sheet is not None
    names = [cell.value for cell in sheet[2]]
    at = {name: i for i, name in enumerate(names)}
    chosen: dict[tuple[str, str, str], str] = {}
    for row in sheet.iter_rows(min_row=3):
        if len(chosen) == 6:
            break
        if row[at["current_action"]].value != "N" or row[at["specified"]].value:
            continue
        action = "R" if len(chosen) % 2 else "A"
        row[at["decision"]].value = action
        row[at["value"]].value = 1.0  # what a spreadsheet does to amounts: never read back
        key = (
            row[at["section"]].value,
            row[at["supplier_gstin"]].value,
            row[at["number"]].value,
        )
        chosen[key] = action  # type: ignore[index]
    book.save(out)
    sim.reset_counters()

    act = sim_ui(sim, tmp_path)
    code = await _cli.run(["ims", "act", str(out), "--yes", *FAST], act)

    assert code == EXIT_OK, written(act.err)
    assert sim.calls["ims_save"] == 1
    results = openpyxl.load_workbook(tmp_path / "invoices.results.xlsx").active
    assert results is not None
    heads = [cell.value for cell in results[2]]
    outcome = heads.index("outcome")
    saved = [r for r in results.iter_rows(min_row=3, values_only=True) if r[outcome] == "saved"]
    assert len(saved) == len(chosen)
    fresh = await download_decisions(sim, tmp_path, tmp_path / "again.csv")
    now = {(r["section"], r["supplier_gstin"], r["number"]): r["current_action"] for r in fresh}
    for key, action in chosen.items():
        assert now[key] == action


async def test_download_many_skip_empty(
    sim: FlynnSimulator, client: FlynnClient, session: Any
) -> None:
    pending = {
        key: sum(r["action"] == "P" for r in sim.expected_records(sim.gstin, key))
        for key in ("b2b", "b2ba", "b2bcn", "ecom", "ecoma")
    }
    empty = {k for k, n in pending.items() if n == 0}
    assert empty  # six records a section: some have no pending one
    sim.reset_counters()
    batch = await client.ims.download_many(
        [session], sections=[k.upper() for k in pending], status="P", skip_empty=True
    )
    [job] = batch.completed
    assert sim.calls["ims_counts"] == 1
    assert sim.calls["ims_submit"] == len(pending) - len(empty)
    assert job.invoices is not None
    for key, count in pending.items():
        assert len(job.invoices.section(key)) == count


def test_decision_cells_are_guarded_and_read_back_exactly(tmp_path: Path) -> None:
    from flynn_async.cli._act import _guarded, _unguarded

    for text in ("=cmd|' /C calc'!A0", "+91", "-5", "@SUM(1)", "'quoted", "INV/1", ""):
        guarded = _guarded(text)
        assert not guarded.startswith(("=", "+", "-", "@"))
        assert _unguarded(guarded) == text


def test_the_resume_hint_names_only_real_tasks_and_keeps_the_filters() -> None:
    args = argparse.Namespace(
        section=["B2B,ECOM"],
        status="P",
        skip_empty=True,
        checkpoint_dir=None,
        format=None,
        csv_layout=None,
        out=Path("pending.json"),
    )
    # ECOM was counted empty: it has no task, so it is not named as one
    hint = _cli_ims._resume_hint(args, "24AAAPI3182M002", {ImsSection.B2B: "t-1"})
    assert hint.split() == [
        *("flynn-async", "ims", "download", "--gstin", "24AAAPI3182M002"),
        *("--section", "B2B,ECOM", "--status", "P", "--skip-empty"),
        *("--resume", "B2B=t-1", "--out", "pending.json"),
    ]


def test_the_resume_hint_keeps_the_decisions_file_and_where_the_tasks_live() -> None:
    parser = _cli.build_parser()
    args = parser.parse_args(
        [
            *("ims", "download", "--decisions", "--production", "--config", "my config.toml"),
            *("--handle", "me@example.com", "--allow-http", "--out", "d.csv"),
        ]
    )
    hint = _cli_ims._resume_hint(args, "24AAAPI3182M002", {ImsSection.B2B: "t-1"})
    resumed = parser.parse_args(shlex.split(hint)[1:])
    for name in ("decisions", "environment", "config", "handle", "allow_http", "out"):
        assert getattr(args, name) == getattr(resumed, name), name
    assert ["B2B=t-1"] == resumed.resume


class _Killed(BaseException):
    """What a kill part way through a write looks like to the file: it stops there."""


class _Exploding(list[str]):
    def __iter__(self) -> Any:
        raise _Killed


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
async def test_a_decisions_file_cut_off_mid_write_keeps_the_one_before(
    sim: FlynnSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    await stored_session(sim, tmp_path)
    out = tmp_path / f"d{suffix}"
    ui = sim_ui(sim, tmp_path)
    assert await _cli.run(["ims", "download", "--decisions", "--out", str(out), *FAST], ui) == 0
    before = out.read_bytes()
    rows_of = _cli_act._decision_rows
    monkeypatch.setattr(
        _cli_act, "_decision_rows", lambda *a: [*rows_of(*a)[:3], _Exploding(), *rows_of(*a)]
    )
    with pytest.raises(_Killed):
        await _cli.run(["ims", "download", "--decisions", "--out", str(out), *FAST], ui)
    assert before == out.read_bytes()  # the filled-in file of before is not torn
    json.loads((tmp_path / f"d{suffix}.download.json").read_bytes())  # whole
    assert [] == [p.name for p in os.scandir(tmp_path) if p.name.endswith(".tmp")]
