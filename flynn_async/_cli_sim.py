"""``flynn-async simulator serve``: the built-in simulator as a standalone server.

Other programs, in any language, can test against it: it prints one machine-readable ready
line on stdout (``KEY=value`` pairs, the same names as the command line's settings, so
``export $(...)`` or ``env`` can use them), serves until SIGINT or SIGTERM, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Final

from ._cli_common import EXIT_OK, Ui, add_verbosity, epilog

__all__ = ["ready_line", "register", "run_simulator_serve"]

#: The default port of ``simulator serve`` (0 picks a free one).
DEFAULT_PORT: Final = 8700


def ready_line(fields: dict[str, str]) -> str:
    """``KEY=value`` pairs on one line (values never hold spaces)."""
    return " ".join(f"{key}={value}" for key, value in fields.items())


async def run_simulator_serve(args: argparse.Namespace, ui: Ui) -> int:
    """Serve the simulator until SIGINT/SIGTERM; print the ready line once it listens."""
    from .testing import FlynnSimulator

    sim = FlynnSimulator(
        seed=args.seed,
        records_per_section=args.records,
        page_size=args.page_size,
        processing_seconds=args.processing,
        processing_polls=args.processing_polls,
        latency=args.latency,
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
        }
        print(ready_line(fields), file=ui.out, flush=True)
        ui.note(f"simulator serving at {sim.base_url}; stop it with Ctrl-C or SIGTERM")
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await sim.close()
    ui.note("simulator stopped")
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


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    formatter: type[argparse.HelpFormatter],
) -> None:
    """Add ``simulator serve`` to the top-level subcommands."""
    simulator = commands.add_parser(
        "simulator",
        help="run the built-in simulator of the API",
        description="The built-in simulator of the Flynn API, for tests and demos.",
        epilog=epilog("flynn-async simulator serve --port 8700", settings=False),
        formatter_class=formatter,
    )
    sim_commands = simulator.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")
    serve = sim_commands.add_parser(
        "serve",
        help="serve the simulator until stopped, for programs in any language",
        description=(
            "Serve the simulated Flynn API (login service included) on HOST:PORT until SIGINT "
            "or SIGTERM, then exit 0. Once listening it prints ONE line on stdout, flushed: "
            "KEY=value pairs with FLYNN_BASE_URL, FLYNN_LOGIN_URL, and the built-in user's "
            "FLYNN_HANDLE, FLYNN_PASSWORD, FLYNN_GSTIN, FLYNN_GST_USERNAME and FLYNN_SIM_OTP "
            "(fake, public constants). With those in the environment the other commands talk "
            "to the simulator. Data is generated from --seed: the same seed, the same records."
        ),
        epilog=epilog(
            "flynn-async simulator serve --port 0 --records 30 --page-size 10",
            "export $(flynn-async simulator serve --port 8700 | head -n 1) "
            "# in a script: read the line, then run the other commands",
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
    add_verbosity(serve)
    serve.set_defaults(handler=run_simulator_serve)
