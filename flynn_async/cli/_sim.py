"""``flynn-async simulator``: the built-in simulator as a standalone server, for scripts.

``simulator serve`` prints one machine-readable ready line on stdout once it listens
(``KEY=value`` pairs, the same names as the command line's settings, so ``export`` or ``env``
can use them) and serves until SIGINT or SIGTERM, then exits 0. For scripts that must not
race it:

- ``--background`` starts the server in a process of its own and returns once it listens,
  printing the ready line (``ready=$(flynn-async simulator serve --background)``); its
  ``FLYNN_SIM_PID`` is what ``simulator stop`` stops;
- ``--ready-file F`` writes the ready line to ``F`` (atomically: the file appears whole) once
  the server listens.

``simulator key`` prints the served simulator's e-invoice signing certificate (PEM), so that
``einvoice get --key`` can verify signatures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import select
import signal
import sys
import time
from pathlib import Path
from typing import Final

import aiohttp

from flynn_async._core._errors import InvalidInput, TransportError
from flynn_async.testing import (
    DelaySettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)
from flynn_async.testing._simulator import SIM_CERTIFICATE_ROUTE

from ._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CommandFailed, Settings, Ui, epilog

__all__ = [
    "SIM_IRP_PASSWORD",
    "SIM_IRP_USERNAME",
    "ready_line",
    "register",
    "run_simulator_key",
    "run_simulator_serve",
    "run_simulator_stop",
]

#: The default port of ``simulator serve`` (0 picks a free one).
DEFAULT_PORT: Final = 8700
#: The IRP username and password the ready line gives (the simulator takes any: fake values).
SIM_IRP_USERNAME: Final = "demo-irp-user"
SIM_IRP_PASSWORD: Final = "demo-irp-password"
#: How long ``--background`` waits for the server's ready line, and ``stop`` for its exit.
_START_TIMEOUT: Final = 60.0
_STOP_TIMEOUT: Final = 30.0
_PID_ENV: Final = "FLYNN_SIM_PID"


def ready_line(fields: dict[str, str]) -> str:
    """``KEY=value`` pairs on one line (values never hold spaces)."""
    return " ".join(f"{key}={value}" for key, value in fields.items())


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _detach_output() -> None:
    """Point stdout and stderr at /dev/null: the process that started us has stopped
    reading them (``--background``)."""
    sys.stdout.flush()
    sys.stderr.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    finally:
        os.close(devnull)


async def run_simulator_serve(args: argparse.Namespace, ui: Ui) -> int:
    """Serve the simulator until SIGINT/SIGTERM; print the ready line once it listens."""
    if args.background:
        return await _serve_in_background(args, ui)
    sim = FlynnSimulator(
        records=RecordSettings(seed=args.seed, per_section=args.records),
        paging=PagingSettings(size=args.page_size),
        tasks=TaskSettings(
            processing_seconds=args.processing, processing_polls=args.processing_polls
        ),
        delays=DelaySettings(request=args.latency),
    )
    await sim.start(host=args.host, port=args.port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    try:
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        credentials = sim.credentials
        fields = {
            "FLYNN_BASE_URL": sim.base_url,
            "FLYNN_LOGIN_URL": sim.login_url,
            "FLYNN_HANDLE": credentials.handle,
            # the simulator's built-in user: fake, public constants (flynn_async.testing)
            "FLYNN_PASSWORD": credentials.password.reveal(),
            "FLYNN_GSTIN": sim.gstin,
            "FLYNN_GST_USERNAME": sim.gst_username,
            "FLYNN_SIM_OTP": sim.otp,
            # what `einvoice get` needs: the simulator opens an IRP session for any password
            "FLYNN_IRP_GSTIN": sim.gstin,
            "FLYNN_IRP_USERNAME": SIM_IRP_USERNAME,
            "FLYNN_IRP_PASSWORD": SIM_IRP_PASSWORD,
            _PID_ENV: str(os.getpid()),
        }
        line = ready_line(fields)
        if args.ready_file is not None:
            _write_atomically(args.ready_file, line + "\n")
        print(line, file=ui.out, flush=True)
        if args.detached:
            _detach_output()
        else:
            ui.note(f"simulator serving at {sim.base_url}; stop it with Ctrl-C or SIGTERM")
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await sim.close()
    if not args.detached:
        ui.note("simulator stopped")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# --background and stop
# ----------------------------------------------------------------------------------------------


def _serve_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "flynn_async", "simulator", "serve", "--detached"]
    argv += ["--host", args.host, "--port", str(args.port), "--seed", str(args.seed)]
    argv += ["--records", str(args.records), "--page-size", str(args.page_size)]
    argv += ["--processing", repr(args.processing)]
    argv += ["--processing-polls", str(args.processing_polls), "--latency", repr(args.latency)]
    if args.ready_file is not None:
        argv += ["--ready-file", str(args.ready_file)]
    return argv


def _read_until_ready(out_fd: int, err_fd: int, timeout: float) -> tuple[bytes, bytes]:
    """The first line the server prints on stdout (empty if it exited first), and what it
    printed on stderr until then (its error, when it failed to start)."""
    deadline = time.monotonic() + timeout
    line, errors = b"", b""
    open_fds = {out_fd, err_fd}
    while out_fd in open_fds and b"\n" not in line:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        readable, _, _ = select.select(list(open_fds), [], [], left)
        for fd in readable:
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.discard(fd)
            elif fd == out_fd:
                line += chunk
            else:
                errors += chunk
    return line.split(b"\n", 1)[0], errors


async def _serve_in_background(args: argparse.Namespace, ui: Ui) -> int:
    """Start ``serve`` in a new session of its own, wait for its ready line, print it."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        pid = os.posix_spawn(  # noqa: ASYNC221 - returns once the process exists
            sys.executable,
            _serve_argv(args),
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out_write, 1),
                (os.POSIX_SPAWN_DUP2, err_write, 2),
                (os.POSIX_SPAWN_CLOSE, out_read),
                (os.POSIX_SPAWN_CLOSE, err_read),
            ],
            setsid=True,
        )
    finally:
        os.close(out_write)
        os.close(err_write)
    try:
        line, errors = await asyncio.to_thread(
            _read_until_ready, out_read, err_read, _START_TIMEOUT
        )
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        raise CommandFailed(
            EXIT_ERROR, TimeoutError(f"the simulator did not start within {_START_TIMEOUT:.0f}s")
        ) from None
    finally:
        os.close(out_read)
        os.close(err_read)
    if not line:
        lines = errors.decode(errors="replace").strip().splitlines()
        reason = lines[-1] if lines else "it exited without a word"
        raise CommandFailed(EXIT_ERROR, RuntimeError(f"the simulator did not start: {reason}"))
    text = line.decode()
    print(text, file=ui.out, flush=True)
    fields = dict(word.split("=", 1) for word in text.split())
    ui.note(
        f"simulator serving at {fields.get('FLYNN_BASE_URL')} in the background (pid {pid}); "
        f"stop it with `flynn-async simulator stop` ({_PID_ENV} from the line above)"
    )
    return EXIT_OK


def _looks_like_a_simulator(pid: int) -> bool | None:
    """Whether ``pid`` runs ``simulator serve`` (``None``: cannot tell on this system)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False if Path("/proc/self").exists() else None
    except OSError:
        return None
    return b"simulator" in words and b"serve" in words


async def _wait_for_exit(pid: int, seconds: float) -> bool:
    """Whether ``pid`` exited within ``seconds``."""
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        try:
            readable, _, _ = await asyncio.to_thread(select.select, [fd], [], [], seconds)
            return bool(readable)
        finally:
            os.close(fd)
    deadline = time.monotonic() + seconds  # no pidfd: look now and then
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.05)
    return False


async def run_simulator_stop(args: argparse.Namespace, ui: Ui) -> int:
    """``simulator stop``: SIGTERM to the ``--background`` server, then wait until it exits."""
    given = args.pid if args.pid is not None else ui.environ.get(_PID_ENV)
    if not given:
        raise InvalidInput(f"which simulator? give --pid, or {_PID_ENV} from its ready line")
    try:
        pid = int(given)
    except ValueError:
        raise InvalidInput(f"{_PID_ENV} must be a process id, got {given!r}") from None
    if pid <= 1:
        raise InvalidInput(f"{_PID_ENV} must be a process id, got {given!r}")
    if _looks_like_a_simulator(pid) is False:
        ui.note(f"no simulator is running as pid {pid}; nothing to stop")
        return EXIT_OK
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        ui.note(f"no simulator is running as pid {pid}; nothing to stop")
        return EXIT_OK
    if not await _wait_for_exit(pid, _STOP_TIMEOUT):
        raise CommandFailed(
            EXIT_ERROR, TimeoutError(f"the simulator (pid {pid}) did not stop within 30s")
        )
    ui.note(f"simulator (pid {pid}) stopped")
    return EXIT_OK


# ----------------------------------------------------------------------------------------------
# key
# ----------------------------------------------------------------------------------------------


async def run_simulator_key(args: argparse.Namespace, ui: Ui) -> int:
    """``simulator key``: the served simulator's e-invoice signing certificate, PEM."""
    base_url = args.url or Settings(args, ui.environ).get("base_url")
    if not base_url:
        raise InvalidInput("which simulator? give --url, or FLYNN_BASE_URL from its ready line")
    if not base_url.startswith(("http://", "https://")):
        raise InvalidInput(f"--url must be an http:// or https:// URL, got {base_url!r}")
    url = base_url.rstrip("/") + SIM_CERTIFICATE_ROUTE
    timeout = aiohttp.ClientTimeout(total=30)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=True) as session,
            session.get(url, allow_redirects=False) as answer,
        ):
            text = await answer.text()
            status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise TransportError(f"cannot reach the simulator at {base_url}: {exc}") from None
    if status != 200 or "BEGIN CERTIFICATE" not in text:
        raise CommandFailed(
            EXIT_USAGE,
            InvalidInput(f"{base_url} is not a flynn-async simulator (HTTP {status})"),
        )
    ui.out.write(text if text.endswith("\n") else text + "\n")
    ui.out.flush()
    return EXIT_OK


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def _count(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError("must be at least 0")
    return value


def _pid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {text!r}") from None
    if value <= 1:
        raise argparse.ArgumentTypeError("not a process id")
    return value


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``simulator serve``, ``stop`` and ``key`` to the top-level subcommands."""
    simulator = commands.add_parser(
        "simulator",
        help="run the built-in simulator of the API (serve, stop, key)",
        description="The built-in simulator of the Flynn API, for tests, scripts and demos.",
        epilog=epilog(
            "ready=$(flynn-async simulator serve --background --port 0) && export $ready",
            "flynn-async simulator stop",
            settings=False,
        ),
        formatter_class=formatter,
    )
    sim_commands = simulator.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    serve = sim_commands.add_parser(
        "serve",
        help="serve the simulator until stopped, for programs in any language",
        description=(
            "Serve the simulated Flynn API (login service included) on HOST:PORT until "
            "SIGINT or SIGTERM, then exit 0. Data is generated from --seed: the same seed, "
            "the same records.\n\n"
            "Once listening it prints ONE line on stdout, flushed: KEY=value pairs with "
            "FLYNN_BASE_URL, FLYNN_LOGIN_URL, the built-in user's FLYNN_HANDLE, "
            "FLYNN_PASSWORD, FLYNN_GSTIN, FLYNN_GST_USERNAME and FLYNN_SIM_OTP, the IRP "
            "settings of `einvoice get` (FLYNN_IRP_GSTIN, FLYNN_IRP_USERNAME, "
            "FLYNN_IRP_PASSWORD) and the server's FLYNN_SIM_PID; all fake, public values. "
            "With those in the environment the other commands talk to the simulator.\n\n"
            "In a script, use --background: it returns once the server listens, after "
            "printing the line, and `simulator stop` ends the server. --ready-file writes "
            "the line to a file as well, once the server listens."
        ),
        epilog=epilog(
            "flynn-async simulator serve --port 0 --records 30 --page-size 10",
            "ready=$(flynn-async simulator serve --background --port 0) && export $ready",
            settings=False,
        ),
        formatter_class=formatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to bind; 0 picks a free one (default {DEFAULT_PORT})",
    )
    serve.add_argument(
        "--background",
        action="store_true",
        help="serve from a process of its own; return once it listens, printing the line",
    )
    serve.add_argument(
        "--ready-file",
        type=Path,
        metavar="FILE",
        help="also write the ready line to FILE once listening (the file appears whole)",
    )
    serve.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    serve.add_argument(
        "--records",
        type=lambda t: _count(t, 0),
        default=25,
        help="records per taxpayer and section (default 25)",
    )
    serve.add_argument(
        "--page-size",
        type=lambda t: _count(t, 1),
        default=100,
        help="records per result page (default 100)",
    )
    serve.add_argument(
        "--processing",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="each task stays 'processing' at least this long (default 0)",
    )
    serve.add_argument(
        "--processing-polls",
        type=lambda t: _count(t, 0),
        default=1,
        metavar="N",
        help="status checks answered 'processing' before a task completes (default 1)",
    )
    serve.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="seconds added to every API request (default 0)",
    )
    serve.set_defaults(handler=run_simulator_serve)

    stop = sim_commands.add_parser(
        "stop",
        help="stop a simulator started with serve --background",
        description=(
            "Send SIGTERM to the simulator started by `simulator serve --background` and "
            "wait until it has exited. The process is FLYNN_SIM_PID (from the ready line, "
            "once exported) or --pid. A simulator that is no longer running is not an error."
        ),
        epilog=epilog("flynn-async simulator stop", settings=False),
        formatter_class=formatter,
    )
    stop.add_argument("--pid", type=_pid, help="the server's process id (default: $FLYNN_SIM_PID)")
    stop.set_defaults(handler=run_simulator_stop)

    key = sim_commands.add_parser(
        "key",
        help="print the served simulator's e-invoice signing certificate (PEM)",
        description=(
            "Print the e-invoice signing certificate (PEM) of the simulator at FLYNN_BASE_URL "
            "(or --url), so that `einvoice get --key FILE` can verify the signatures of its "
            "e-invoices. Each simulator process makes its own key."
        ),
        epilog=epilog(
            "flynn-async simulator key > simulator.pem",
            "flynn-async einvoice get --irp ni1 --type CRN --number CRN/2024/0042 "
            "--date 15/05/2024 --key simulator.pem",
            settings=False,
        ),
        formatter_class=formatter,
    )
    key.add_argument("--url", help="the simulator's base URL (default: $FLYNN_BASE_URL)")
    key.set_defaults(handler=run_simulator_key)
