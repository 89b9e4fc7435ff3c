"""Shared fixtures: the simulator, clients pointed at it, GST sessions, and a fake clock.

Every HTTP exchange in the suite goes over real loopback sockets to
:class:`~flynn_async.testing.FlynnSimulator`. Time never passes for real while polling: clients
get a :class:`FakeClock` whose ``sleep`` records each requested delay and moves the clock on.

Configure the per-test simulator with a marker, ``@pytest.mark.sim(paging=PagingSettings(size=3),
...)`` (settings groups, as :class:`~flynn_async.testing.FlynnSimulator` takes them; a group given
replaces ``SMALL_SIM``'s), or make more with ``make_sim``.

Hypothesis runs the ``ci`` profile unless told otherwise (``--hypothesis-profile=slow`` tries
ten times Hypothesis's usual number of examples): no deadline and no "too slow" health check,
since the suite asserts nothing about time and shares its machine. A test that sets its own
``max_examples`` keeps it.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from flynn_async import Credentials, FlynnClient, GstSession
from flynn_async.ims import ImsInvoices, ImsRecord
from flynn_async.testing import FlynnSimulator, PagingSettings, RecordSettings

# the plugin is opt-in (no entry point): this project's own tests enable it like any user's
pytest_plugins = ["flynn_async.testing.pytest_plugin"]

#: Hypothesis's profiles: the default run's, and the ``slow`` one for a long search.
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "slow", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


#: Small data unless a test asks for more: 6 records per section, 2 pages of up to 4.
SMALL_SIM: dict[str, Any] = {
    "records": RecordSettings(per_section=6),
    "paging": PagingSettings(size=4),
}


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis's ``ci`` profile, unless ``--hypothesis-profile=NAME`` names another (this
    # conftest is read after Hypothesis's own plugin has loaded the profile named).
    settings.load_profile(config.getoption("hypothesis_profile", default=None) or "ci")
    config.addinivalue_line(
        "markers", "sim(**settings): settings groups for the `sim` fixture's simulator"
    )
    _cache_bytecode_of_child_processes(config)


def _cache_bytecode_of_child_processes(config: pytest.Config) -> None:
    """Let the suite's child interpreters cache bytecode outside the source tree.

    About 70 tests' processes start Python and import the package. Where bytecode writing is
    off (``PYTHONDONTWRITEBYTECODE``, as on some shared machines) each of them compiled every
    module again, about 0.3 s of CPU apiece. They now write it under a temporary
    ``PYTHONPYCACHEPREFIX`` that is removed at the end; the source tree stays clean, and where
    bytecode is written anyway this changes nothing.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    prefix = tempfile.mkdtemp(prefix="flynn-async-tests-pycache-")
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    saved = os.environ.pop("PYTHONDONTWRITEBYTECODE")

    def restore() -> None:
        os.environ.pop("PYTHONPYCACHEPREFIX", None)
        os.environ["PYTHONDONTWRITEBYTECODE"] = saved
        shutil.rmtree(prefix, ignore_errors=True)

    config.add_cleanup(restore)


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it.

    ``sleeps`` lists every delay asked of :meth:`sleep`, in order.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)  # yield like a real sleep, without waiting


class CoarseClock:
    """A clock that moves in whole milliseconds, as a real clock has a resolution: a sleep
    shorter than its tick leaves it where it was. Refuses more than ``most`` sleeps."""

    def __init__(self, most: int = 100) -> None:
        self.ticks = 1_000_000
        self.sleeps: list[float] = []
        self.most = most

    def __call__(self) -> float:
        return self.ticks / 1000

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        assert len(self.sleeps) <= self.most, "polled on and on at the deadline"
        self.ticks += int(delay * 1000)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    """The fake clock clients made by ``make_client`` use (``sleep`` and ``clock``)."""
    return FakeClock()


SimFactory = Callable[..., Awaitable[FlynnSimulator]]


@pytest.fixture
async def make_sim() -> AsyncIterator[SimFactory]:
    """Start a simulator with ``SMALL_SIM`` data and the given config overrides."""
    started: list[FlynnSimulator] = []

    async def make(**overrides: Any) -> FlynnSimulator:
        simulator = FlynnSimulator(**{**SMALL_SIM, **overrides})
        await simulator.start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        await simulator.close()


@pytest.fixture
async def sim(request: pytest.FixtureRequest, make_sim: SimFactory) -> FlynnSimulator:
    """A simulator started for this test (small data; see the ``sim`` marker)."""
    marker = request.node.get_closest_marker("sim")
    overrides = dict(marker.kwargs) if marker is not None else {}
    return await make_sim(**overrides)


ClientFactory = Callable[..., Awaitable[FlynnClient]]


@pytest.fixture
async def make_client(sim: FlynnSimulator, clock: FakeClock) -> AsyncIterator[ClientFactory]:
    """Make a client pointed at a simulator (the test's ``sim`` unless one is given).

    It uses the fake ``clock`` for sleeping and a seeded random source unless told otherwise,
    and is started (logged in) unless ``start=False``. Every client is closed at teardown.
    """
    clients: list[FlynnClient] = []

    async def make(
        simulator: FlynnSimulator | None = None,
        *,
        credentials: Credentials | None = None,
        start: bool = True,
        **kwargs: Any,
    ) -> FlynnClient:
        target = simulator if simulator is not None else sim
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("rng", random.Random(1234))
        client = FlynnClient(
            credentials if credentials is not None else target.credentials,
            base_url=target.base_url,
            login_url=target.login_url,
            **kwargs,
        )
        clients.append(client)
        if start:
            await client.start()
        return client

    yield make
    for client in clients:
        await client.aclose()


GstOpener = Callable[..., Awaitable[GstSession]]


@pytest.fixture
def open_gst() -> GstOpener:
    """Open a GST session on ``client`` for the simulator's taxpayer (request + verify OTP)."""

    async def open_session(
        client: FlynnClient,
        simulator: FlynnSimulator,
        *,
        gstin: str | None = None,
        username: str | None = None,
    ) -> GstSession:
        otp_request = await client.gst.request_otp(
            gstin=gstin or simulator.gstin, username=username or simulator.gst_username
        )
        return await client.gst.verify_otp(otp_request, simulator.otp)

    return open_session


@pytest.fixture
async def client(make_client: ClientFactory) -> FlynnClient:
    """A started client on the test's ``sim``."""
    return await make_client()


@pytest.fixture
async def session(client: FlynnClient, sim: FlynnSimulator, open_gst: GstOpener) -> GstSession:
    """A GST session of ``client`` for ``sim``'s taxpayer."""
    return await open_gst(client, sim)


R = TypeVar("R")


def known_records(invoices: ImsInvoices) -> list[tuple[str, ImsRecord]]:
    """Every record as ``(section, record)``, each a typed record (the test knows the sections)."""
    records = list(invoices.records())
    for name, record in records:
        assert isinstance(record, ImsRecord), name
    return [(name, record) for name, record in records if isinstance(record, ImsRecord)]


def known_section(invoices: ImsInvoices, name: str, kind: type[R]) -> list[R]:
    """The typed records of a known section (each checked to be a ``kind``)."""
    records = invoices.section(name)
    for record in records:
        assert isinstance(record, kind), name
    return [record for record in records if isinstance(record, kind)]
