"""``flynn-async simulator``: scripts that cannot race the server.

The recipe of ``docs/cli.md`` ("Running against `simulator serve`") is extracted and run AS
WRITTEN with bash: it passes, and it stops at the first failing step with that step's exit
code (a ``flynn-async`` shim earlier on ``PATH`` makes ``login`` fail), the simulator being
stopped either way. The other tests run ``serve`` as a subprocess (``--ready-file``,
``--background``, one that cannot start); ``stop``, ``key`` and ``einvoice get``, which the
recipe runs as processes, run in this process against a served simulator.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flynn_async.cli import _main as _cli
from flynn_async.cli import _sim as _cli_sim
from flynn_async.cli._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, Ui
from flynn_async.testing import FlynnSimulator

DOCS = Path(__file__).parent.parent / "docs" / "cli.md"
BIN = Path(sys.executable).parent
NOT_HERE = pytest.mark.skipif(
    shutil.which("bash") is None or not (BIN / "flynn-async").exists(),
    reason="needs bash and the flynn-async script beside this Python",
)


def recipe() -> str:
    """The script of the "Running against `simulator serve`" section, as written."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Running against `simulator serve`") :]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found is not None, "the section has no bash block"
    return found.group(1)


def clean_env(**more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLYNN_", "XDG_STATE"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(more)
    return env


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flynn_async", *args],
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stopped_pid(stderr: str) -> int:
    found = re.search(r"simulator \(pid (\d+)\) stopped", stderr)
    assert found is not None, stderr
    return int(found.group(1))


def gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for init counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


# ----------------------------------------------------------------------------------------------
# The documented recipe, run as written
# ----------------------------------------------------------------------------------------------


def test_the_recipe_stops_at_the_first_failure_by_its_own_words() -> None:
    script = recipe()
    assert "set -euo pipefail" in script
    assert "--background" in script
    assert "trap 'flynn-async simulator stop' EXIT" in script
    assert "sleep" not in script


@NOT_HERE
def test_the_documented_recipe_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / "recipe.sh").write_text(recipe(), encoding="utf-8")
    done = subprocess.run(
        ["bash", "recipe.sh"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    assert (tmp_path / "invoices.xlsx").stat().st_size > 0
    assert "BEGIN CERTIFICATE" in (tmp_path / "simulator.pem").read_text()
    assert "the credentials work" in done.stdout
    assert re.search(r"^signatures\s+verified", done.stdout, re.M)
    assert re.search(r"^total\s+200\s", done.stdout, re.M)  # 8 sections of 25 records
    assert gone(stopped_pid(done.stderr))


@NOT_HERE
def test_the_documented_recipe_fails_at_the_first_failing_step(tmp_path: Path) -> None:
    # a shim earlier on PATH: `login` fails with exit code 3, the rest runs for real
    shims = tmp_path / "shims"
    shims.mkdir()
    calls = tmp_path / "calls.txt"
    shim = shims / "flynn-async"
    shim.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        'if [ "$1" = login ]; then echo "login refused (shim)" >&2; exit 3; fi\n'
        f'exec {BIN / "flynn-async"} "$@"\n',
        encoding="utf-8",
    )
    shim.chmod(0o755)
    (tmp_path / "recipe.sh").write_text(recipe(), encoding="utf-8")
    env = clean_env()
    env["PATH"] = f"{shims}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "recipe.sh"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert 3 == done.returncode, done.stderr
    commands = [line.split()[:2] for line in calls.read_text().splitlines()]
    assert [["simulator", "serve"], ["login"], ["simulator", "stop"]] == commands
    assert not (tmp_path / "invoices.xlsx").exists()
    assert gone(stopped_pid(done.stderr))


# ----------------------------------------------------------------------------------------------
# serve --ready-file, --background, stop, key
# ----------------------------------------------------------------------------------------------


def start_background(ready_file: Path) -> dict[str, str]:
    """``simulator serve --background --ready-file``: the ready line's fields."""
    started = cli(
        "simulator", "serve", "--background", "--port", "0", "--ready-file", str(ready_file)
    )
    assert 0 == started.returncode, started.stderr
    (line,) = started.stdout.splitlines()
    assert line + "\n" == ready_file.read_text()  # written whole, before the command returned
    return dict(word.split("=", 1) for word in line.split())


@pytest.fixture(scope="module")
def background(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One background simulator for the tests that do not stop it."""
    fields = start_background(tmp_path_factory.mktemp("sim") / "ready.env")
    try:
        yield fields
    finally:
        cli("simulator", "stop", env=clean_env(FLYNN_SIM_PID=fields["FLYNN_SIM_PID"]))


def test_the_ready_line_gives_every_setting_the_commands_need(background: dict[str, str]) -> None:
    for name in (
        "FLYNN_BASE_URL",
        "FLYNN_LOGIN_URL",
        "FLYNN_HANDLE",
        "FLYNN_PASSWORD",
        "FLYNN_GSTIN",
        "FLYNN_GST_USERNAME",
        "FLYNN_SIM_OTP",
        "FLYNN_IRP_GSTIN",
        "FLYNN_IRP_USERNAME",
        "FLYNN_IRP_PASSWORD",
        "FLYNN_SIM_PID",
    ):
        assert background[name], name
    assert _cli_sim.SIM_IRP_PASSWORD == background["FLYNN_IRP_PASSWORD"]
    assert not gone(int(background["FLYNN_SIM_PID"]))


def test_key_and_einvoice_get_verify_with_the_served_simulators_key(
    background: dict[str, str], tmp_path: Path
) -> None:
    # in this process, against the served simulator: the recipe runs both commands as processes
    env = {**background, "FLYNN_ASYNC_STATE_DIR": str(tmp_path / "state")}
    code, out, err = in_process_output("simulator", "key", environ=env)
    assert EXIT_OK == code, err
    assert out.startswith("-----BEGIN CERTIFICATE-----")
    pem = tmp_path / "sim.pem"
    pem.write_text(out)
    lookup = ["einvoice", "get", "--irp", "ni1", "--type", "CRN", "--number", "CRN/2024/0042"]
    code, out, err = in_process_output(
        *lookup, "--date", "15/05/2024", "--key", str(pem), environ=env
    )
    assert EXIT_OK == code, err
    assert re.search(r"^signatures\s+verified", out, re.M)


def test_stop_ends_the_background_server_and_is_idempotent(tmp_path: Path) -> None:
    pid = int(start_background(tmp_path / "ready.env")["FLYNN_SIM_PID"])
    assert not gone(pid)
    # `stop` in this process (the recipe runs it as one): a real server process is stopped
    code, err = in_process("simulator", "stop", environ={"FLYNN_SIM_PID": str(pid)})
    assert EXIT_OK == code, err
    assert pid == stopped_pid(err)
    assert gone(pid)
    code, err = in_process("simulator", "stop", "--pid", str(pid))
    assert EXIT_OK == code
    assert "nothing to stop" in err


def in_process_output(*args: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The command run in this process: its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(out, err, io.StringIO(), environ or {})
    code = asyncio.run(_cli.run(list(args), ui))
    return code, out.getvalue(), err.getvalue()


def in_process(*args: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    """The command run in this process: its exit code and stderr."""
    code, _, err = in_process_output(*args, environ=environ)
    return code, err


def test_stop_needs_a_pid_and_never_signals_another_program() -> None:
    code, err = in_process("simulator", "stop")
    assert EXIT_USAGE == code
    assert "FLYNN_SIM_PID" in err
    code, err = in_process("simulator", "stop", environ={"FLYNN_SIM_PID": "soon"})
    assert EXIT_USAGE == code
    other = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        code, err = in_process("simulator", "stop", "--pid", str(other.pid))
        assert EXIT_OK == code
        assert "nothing to stop" in err
        assert other.poll() is None  # still running: it is not a simulator
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=30)


def test_background_that_cannot_start_says_why(background: dict[str, str]) -> None:
    port = background["FLYNN_BASE_URL"].rsplit(":", 1)[1]  # already taken
    done = cli("simulator", "serve", "--background", "--port", port)
    assert 1 == done.returncode
    assert "the simulator did not start" in done.stderr
    assert "" == done.stdout


async def test_key_refuses_what_is_not_a_simulator(sim: FlynnSimulator) -> None:
    err = io.StringIO()
    assert EXIT_USAGE == await _cli.run(["simulator", "key"], Ui(err, err, err, {}))
    assert "FLYNN_BASE_URL" in err.getvalue()
    # a server that answers 404 there (the login prefix is no simulator's root)
    not_one = sim.login_url
    assert EXIT_USAGE == await _cli.run(
        ["simulator", "key", "--url", not_one], Ui(err, err, err, {})
    )
    assert "is not a flynn-async simulator (HTTP 404)" in err.getvalue()
    assert EXIT_ERROR == await _cli.run(
        ["simulator", "key", "--url", "http://127.0.0.1:9"], Ui(err, err, err, {})
    )
    assert "cannot reach the simulator" in err.getvalue()
    out = io.StringIO()
    environ = {"FLYNN_BASE_URL": sim.base_url}
    assert EXIT_OK == await _cli.run(["simulator", "key"], Ui(out, err, err, environ))
    assert sim.einvoice.certificate_pem.strip() == out.getvalue().strip()


def test_serve_in_the_foreground_writes_the_ready_file(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready.env"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flynn_async",
            "simulator",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None
        readable, _, _ = select.select([proc.stdout], [], [], 60)
        assert readable
        line = proc.stdout.readline()
        assert "FLYNN_BASE_URL=" in line
        assert line == ready_file.read_text()
        assert str(proc.pid) == dict(w.split("=", 1) for w in line.split())["FLYNN_SIM_PID"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert 0 == proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


async def test_a_missing_irp_password_names_the_clis_setting(sim: FlynnSimulator) -> None:
    environ = {
        "FLYNN_BASE_URL": sim.base_url,
        "FLYNN_LOGIN_URL": sim.login_url,
        "FLYNN_HANDLE": sim.credentials.handle,
        "FLYNN_PASSWORD": sim.credentials.password.reveal(),
        "FLYNN_IRP_GSTIN": sim.gstin,
        "FLYNN_IRP_USERNAME": _cli_sim.SIM_IRP_USERNAME,
    }
    lookup = ["einvoice", "get", "--irp", "ni1", "--type", "CRN", "--number", "CRN/2024/0042"]
    lookup += ["--date", "15/05/2024"]
    out, err = io.StringIO(), io.StringIO()
    assert EXIT_ERROR == await _cli.run(lookup, Ui(out, err, io.StringIO(), environ))
    text = err.getvalue()
    assert "IrpPasswordRequired" in text
    assert "FLYNN_IRP_PASSWORD or irp.password" in text
    assert "IrpCredentials" not in text  # the library's advice, not the command line's
    # with the password the ready line gives, the lookup works
    environ["FLYNN_IRP_PASSWORD"] = _cli_sim.SIM_IRP_PASSWORD
    assert EXIT_OK == await _cli.run(lookup, Ui(out, err, io.StringIO(), environ))
    assert "CRN/2024/0042" in out.getvalue()
