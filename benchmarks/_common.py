"""What the benchmarks share: result rows and the table, best-of-N, the simulator in a child
process, client processes for memory figures, and a description of the machine.

Every figure the benchmarks judge is a *ratio* measured side by side in one run (best of N), so
that a shared, noisy machine slows both sides alike. Absolute times are printed for reading,
never compared with a fixed number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiohttp
import attrs

import flynn_async
from flynn_async import Credentials, FlynnClient, GstSession
from flynn_async.testing import USER_HANDLE, USER_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
"""The repository root (the directory holding ``benchmarks/``)."""

#: A benchmark: ``run(quick)`` prints its details and returns its table rows.
Bench = Callable[[bool], Coroutine[Any, Any, list["Row"]]]


# ------------------------------------------------------------------------------------------
# Rows and the table
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the result table.

    ``met`` is ``True``/``False`` for a target, ``None`` for a figure shown for information.
    ``values`` holds the numbers behind ``measured`` (named, in the units their names say), for
    the charts of the docs (``python -m benchmarks --write-docs-data``).
    """

    target: str
    figure: str
    measured: str
    goal: str
    met: bool | None
    values: Mapping[str, float] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """``yes``, ``NO`` or ``-`` (information only)."""
        return "-" if self.met is None else "yes" if self.met else "NO"


def say(text: str = "") -> None:
    """Print a detail line at once (the suite's progress is visible while it runs)."""
    print(text, flush=True)


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned text table (Markdown-compatible)."""
    head = ("#", "figure", "measured", "target", "met")
    body = [(r.target, r.figure, r.measured, r.goal, r.verdict) for r in rows]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), rule, *(line(cells) for cells in body)])


def all_met(rows: Sequence[Row]) -> bool:
    """Whether every row that is a target is met (information rows do not count)."""
    return all(r.met is not False for r in rows)


# ------------------------------------------------------------------------------------------
# Measuring
# ------------------------------------------------------------------------------------------


async def best_of(runs: int, once: Callable[[], Awaitable[float]]) -> tuple[float, list[float]]:
    """Run ``once`` (which returns seconds) ``runs`` times: the best and every time."""
    times = [await once() for _ in range(runs)]
    return min(times), times


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for reading."""
    return f"{seconds * 1000:,.0f} ms"


def mb(size: float) -> str:
    """Bytes as MB (10^6), for reading."""
    return f"{size / 1e6:,.1f} MB"


def median(values: Sequence[float]) -> float:
    """The median (``statistics.median``, typed)."""
    return float(statistics.median(values))


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` values from ``low`` to ``high``, evenly spaced on a log scale."""
    step = (math.log(high) - math.log(low)) / (count - 1)
    return [math.exp(math.log(low) + i * step) for i in range(count)]


def peak_rss() -> int:
    """This process's peak resident set size, in bytes.

    Read from ``VmHWM`` in ``/proc/self/status`` where there is one: on Linux, ``ru_maxrss``
    carries over the parent's peak into a forked and exec'd child, ``VmHWM`` does not.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover
    return peak if sys.platform == "darwin" else peak * 1024  # pragma: no cover


def current_rss() -> int:
    """This process's resident set size now, in bytes (0 where ``/proc`` is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        return 0


# ------------------------------------------------------------------------------------------
# The simulator in a child process
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimInfo:
    """How to reach a simulator served by another process (JSON-friendly, for workers too)."""

    base_url: str
    login_url: str
    control_url: str
    gstin: str
    gst_username: str
    otp: str
    pid: int

    @property
    def credentials(self) -> Credentials:
        """The simulator's built-in user."""
        return Credentials(USER_HANDLE, USER_PASSWORD)

    def to_json(self) -> dict[str, Any]:
        """The fields as a JSON object."""
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimInfo:
        """Read :meth:`to_json`'s output (or the child's first line)."""
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _changed(group: Any) -> dict[str, Any]:
    """A settings group's fields that differ from their defaults, as JSON values (a set of
    names as a sorted list: the group's converters take it back)."""

    def plain(_: Any, __: Any, value: Any) -> Any:
        return sorted(value) if isinstance(value, frozenset) else value

    return attrs.asdict(
        group, filter=lambda field, value: value != field.default, value_serializer=plain
    )


class RemoteSimulator:
    """A :class:`~flynn_async.testing.FlynnSimulator` served by a child process.

    ``async with RemoteSimulator(paging=PagingSettings(size=100), ...) as sim:`` starts
    ``python -m benchmarks._simserver`` with those settings groups (plain values only: they
    go as JSON), waits for its address, and on leaving tells it to stop and waits for it to exit
    (killing it only if it hangs). :meth:`stats` reads its counters over its control port.

    A group may also be given as a mapping of its fields (``paging={"size": 100}``): the
    library-agnostic benchmarks do, as they also run on libraries without the group classes
    (see :mod:`benchmarks._baseline`). ``documented_only=True`` serves IMS records of the
    documented fields only (see :mod:`benchmarks._simserver`).
    """

    def __init__(self, **groups: Any) -> None:
        documented_only = bool(groups.pop("documented_only", False))
        self.config: dict[str, Any] = {
            name: dict(group) if isinstance(group, Mapping) else _changed(group)
            for name, group in groups.items()
        }
        if documented_only:
            self.config["documented_only"] = True
        self._proc: asyncio.subprocess.Process | None = None
        self._info: SimInfo | None = None

    @property
    def info(self) -> SimInfo:
        """Where the simulator listens (after entering)."""
        if self._info is None:
            raise RuntimeError("the simulator process is not running")
        return self._info

    async def __aenter__(self) -> Self:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks._simserver",
            json.dumps(self.config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=_child_env(),
        )
        self._proc = proc
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
            if not line:
                raise RuntimeError(f"the simulator process exited ({await proc.wait()})")
            self._info = SimInfo.from_json(json.loads(line))
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            assert proc.stdin is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), timeout=15)
            except TimeoutError:
                proc.kill()  # only our own child, by its handle
                await proc.wait()
        if proc.stdout is not None:
            await proc.stdout.read()

    async def stats(self) -> dict[str, Any]:
        """The simulator's counters: ``calls`` by route, pages in flight and their peak."""
        return await sim_stats(self.info)


async def sim_stats(
    info: SimInfo, session: aiohttp.ClientSession | None = None, *, reset: bool = False
) -> dict[str, Any]:
    """Ask a child simulator for its counters (``reset`` zeroes them after reading)."""
    async with contextlib.AsyncExitStack() as stack:
        if session is None:
            session = await stack.enter_async_context(aiohttp.ClientSession())
        method = "POST" if reset else "GET"
        url = info.control_url + ("/reset" if reset else "/stats")
        async with session.request(method, url) as answer:
            answer.raise_for_status()
            data: dict[str, Any] = await answer.json()
            return data


@contextlib.asynccontextmanager
async def connect(
    info: SimInfo, **client_options: Any
) -> AsyncIterator[tuple[FlynnClient, GstSession]]:
    """A started client on the simulator and an open GST session for its taxpayer."""
    async with FlynnClient(
        info.credentials, base_url=info.base_url, login_url=info.login_url, **client_options
    ) as client:
        otp_request = await client.gst.request_otp(gstin=info.gstin, username=info.gst_username)
        session = await client.gst.verify_otp(otp_request, info.otp)
        yield client, session


# ------------------------------------------------------------------------------------------
# Client processes (for figures that need a fresh process: peak memory, GC)
# ------------------------------------------------------------------------------------------

_RESULT = "RESULT "


async def run_worker(module: str, payload: dict[str, Any], *, limit: float = 180) -> Any:
    """Run ``python -m benchmarks.<module> --worker '<payload>'`` and return its result.

    The worker prints its result as one JSON line after ``RESULT``; anything else it prints
    goes to this process's output.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"benchmarks.{module}",
        "--worker",
        json.dumps(payload),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=_child_env(),
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=limit)
    except BaseException:
        if proc.returncode is None:
            proc.kill()  # only our own child, by its handle
            await proc.wait()
        raise
    result = None
    for line in out.decode().splitlines():
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
        else:
            say(line)
    if proc.returncode != 0 or result is None:
        raise RuntimeError(f"worker benchmarks.{module} failed (exit {proc.returncode})")
    return result


def worker_reply(result: Any) -> None:
    """Hand a worker's result back to :func:`run_worker`."""
    print(_RESULT + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------
# The machine, and running one benchmark alone
# ------------------------------------------------------------------------------------------


def machine() -> list[str]:
    """A short description of the machine and the software measured."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for text in info:
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as meminfo:
        memory = f", {int(meminfo.readline().split()[1]) / 2**20:.0f} GiB RAM"
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("aiohttp", "msgspec", "attrs", "cattrs")
    )
    return [
        f"machine: {cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}",
        f"python:  {platform.python_implementation()} {platform.python_version()}; "
        f"flynn-async {flynn_async.__version__}; {versions}",
    ]


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:  # pragma: no cover
        return "?"


def standalone(title: str, run: Bench, argv: Sequence[str] | None = None) -> int:
    """Run one benchmark as a program: details, then its table; exit 0 if its targets are met."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    for text in machine():
        say(text)
    started = time.perf_counter()
    say(f"\n== {title}{' (quick)' if args.quick else ''}")
    rows = asyncio.run(run(args.quick))
    say()
    say(table(rows))
    say(f"\n{time.perf_counter() - started:.1f} s")
    return 0 if all_met(rows) else 1
