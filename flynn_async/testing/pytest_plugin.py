"""The pytest plugin of flynn-async: the simulator and ready clients as fixtures.

Opt-in: a project enables it with ``-p flynn_async.testing.pytest_plugin`` (on the command
line or in ``addopts``) or ``pytest_plugins = ["flynn_async.testing.pytest_plugin"]`` in its
top-level ``conftest.py``; projects that do not are never touched by it. Its needs are the
``testing`` extra (pytest and pytest-asyncio). Nothing runs until a test asks for a fixture:
importing this module builds no application, opens no socket and creates no event loop. It
uses public pytest and pytest-asyncio APIs only.

Fixtures (all function-scoped):

- ``flynn_simulator_config``: the base :class:`~flynn_async.testing.SimulatorConfig` (the
  defaults); override it in a ``conftest.py`` to change every test's simulator.
- ``flynn_clock``: a :class:`FlynnTestClock` shared by the simulator and the clients below:
  wall time that runs with real time and jumps ahead whenever a client sleeps on it.
- ``flynn_simulator``: a started :class:`~flynn_async.testing.FlynnSimulator`, served from a
  background thread with its own event loop (so it works from any test: sync, pytest-asyncio
  in either mode, anyio), configured by ``flynn_simulator_config`` and the
  ``@pytest.mark.flynn_simulator(**settings)`` marker (settings groups by keyword,
  ``paging=PagingSettings(size=4)``, as :class:`~flynn_async.testing.FlynnSimulator` takes
  them; the flat names of 0.1, ``page_size=4``, still work for one release, with a
  :class:`DeprecationWarning`).
- ``flynn_make_client`` (async): a factory of logged-in :class:`~flynn_async.FlynnClient`
  objects pointed at the simulator, sleeping on ``flynn_clock``; all closed at teardown.
- ``flynn_client`` (async): one such client.
- ``flynn_gst_session`` (async): a verified :class:`~flynn_async.GstSession` of
  ``flynn_client`` for the simulator's GSTIN.

The async fixtures run in the test's own event loop: with pytest-asyncio (strict or auto
mode) they follow the test's ``loop_scope``; in an anyio test (asyncio backend) anyio runs
them. See ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from typing import Any, Final, Literal, Protocol, TypeVar

import pytest

from flynn_async import Credentials, FlynnClient, FlynnError, GstSession
from flynn_async.testing import FlynnSimulator, SimulatorConfig
from flynn_async.testing._settings import GROUP_NAMES as _GROUPS

__all__ = [
    "FlynnClientFactory",
    "FlynnTestClock",
    "flynn_client",
    "flynn_clock",
    "flynn_gst_session",
    "flynn_make_client",
    "flynn_simulator",
    "flynn_simulator_config",
]

#: The marker that sets the simulator's configuration for a test, class or module.
MARKER: Final = "flynn_simulator"
#: How long the simulator's thread may take to start or to stop, in seconds.
_THREAD_TIMEOUT: Final = 30.0

_Scope = Literal["session", "package", "module", "class", "function"]
_SCOPES: Final[tuple[_Scope, ...]] = ("session", "package", "module", "class", "function")
_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

#: The plugin's async fixture functions: the setup hook places them in the test's loop.
_ASYNC_FIXTURES: list[Callable[..., Any]] = []


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``flynn_simulator`` marker (so ``--strict-markers`` accepts it)."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): the flynn_simulator fixture's settings groups by keyword "
        "(records=RecordSettings(...), paging=..., faults=...; flynn-async)",
    )


# -------------------------------------------------------------------------------------------
# Async fixtures in the test's own loop
# -------------------------------------------------------------------------------------------


def _async_fixture(func: _F) -> _F:
    """Declare one of the plugin's async fixtures.

    When pytest-asyncio is installed the function is marked as a pytest-asyncio fixture, so
    that strict mode runs it too; :func:`pytest_fixture_setup` then places it in the loop of
    the test that asks for it (or leaves it to anyio).
    """
    _ASYNC_FIXTURES.append(func)
    try:
        import pytest_asyncio
    except ImportError:  # anyio, or no async plugin at all
        return pytest.fixture(func)  # type: ignore[return-value]
    return pytest_asyncio.fixture(func)  # type: ignore[return-value]


def _unmarked(func: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of an async-generator fixture function without pytest-asyncio's mark."""

    async def fixture(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for value in func(*args, **kwargs):
            yield value

    # the names only: functools.wraps would copy pytest-asyncio's marks too
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(fixture, attribute, getattr(func, attribute))
    return fixture


def _in_loop_scope(func: Callable[..., Any], loop_scope: _Scope) -> Callable[..., Any] | None:
    """A copy of an async-generator fixture function that pytest-asyncio runs in the event
    loop of ``loop_scope``; ``None`` if this pytest-asyncio cannot say so."""
    import pytest_asyncio

    fixture = _unmarked(func)
    try:
        pytest_asyncio.fixture(fixture, loop_scope=loop_scope)  # marks ``fixture`` itself
    except TypeError:  # pytest-asyncio before 0.24 has no loop_scope
        return None
    return fixture


def _test_loop_scope(request: pytest.FixtureRequest) -> _Scope | None:
    """The loop scope pytest-asyncio runs the requesting test in, if it runs it."""
    node = request.node
    marker = node.get_closest_marker("asyncio") if isinstance(node, pytest.Function) else None
    if marker is None:
        return None
    scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if scope is None:
        try:
            scope = request.config.getini("asyncio_default_test_loop_scope")
        except ValueError:  # an older pytest-asyncio: it chooses
            return None
    for known in _SCOPES:
        if scope == known:
            return known
    return None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Run the plugin's async fixtures in the loop of the test that asks for them.

    In an anyio test they are left to anyio (pytest-asyncio's mark is taken off for the
    setup); in a pytest-asyncio test they are run in the test's ``loop_scope``, whatever the
    default fixture loop scope says. Other fixtures are not touched.
    """
    func = fixturedef.func
    if not any(func is ours for ours in _ASYNC_FIXTURES):  # by identity: any object may come
        return (yield)
    if "anyio_backend" in request.fixturenames:
        replacement = _unmarked(func)
    else:
        loop_scope = _test_loop_scope(request)
        if loop_scope is None or not request.config.pluginmanager.has_plugin("asyncio"):
            return (yield)
        in_scope = _in_loop_scope(func, loop_scope)
        if in_scope is None:
            return (yield)
        replacement = in_scope
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fixturedef, "func", replacement)
        return (yield)


# -------------------------------------------------------------------------------------------
# The clock
# -------------------------------------------------------------------------------------------


class FlynnTestClock:
    """Wall time for tests: it runs with real time and jumps ahead when something sleeps on it.

    Call it for the time in epoch seconds (``start``, by default the real time when it was
    made, plus the time since, plus every jump). :meth:`sleep` is an instant ``asyncio``
    sleep: it records the delay in :attr:`sleeps`, moves the clock on by it and yields once.
    The ``flynn_simulator`` and the clients of ``flynn_make_client`` share one, so a client's
    polling waits pass at once and the simulator sees them pass (``processing_seconds``,
    token and GST session expiry). :meth:`advance` moves it on by hand.
    """

    def __init__(self, start: float | None = None) -> None:
        self._start = time.time() if start is None else float(start)
        self._origin = time.monotonic()
        self._jumped = 0.0
        self.sleeps: list[float] = []
        """Every delay asked of :meth:`sleep`, in order."""

    def __call__(self) -> float:
        """The time now, in epoch seconds; it never goes back."""
        return self._start + (time.monotonic() - self._origin) + self._jumped

    def __repr__(self) -> str:
        return f"<FlynnTestClock {self():.3f}, {len(self.sleeps)} sleeps>"

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (at least 0)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go back: advance({seconds!r})")
        self._jumped += seconds

    async def sleep(self, delay: float) -> None:
        """Pretend to sleep ``delay`` seconds: move the clock on, yield once, return."""
        self.sleeps.append(delay)
        self.advance(max(0.0, delay))
        await asyncio.sleep(0)


@pytest.fixture
def flynn_clock() -> FlynnTestClock:
    """The clock the test's ``flynn_simulator`` and flynn-async clients share."""
    return FlynnTestClock()


# -------------------------------------------------------------------------------------------
# The simulator, in a thread of its own
# -------------------------------------------------------------------------------------------


class _SimulatorThread:
    """Serve a simulator from a daemon thread running its own event loop.

    The simulator then works for every test, whatever loop (if any) the test runs in. Its
    attributes may be read from the test; replacing ``config`` between requests is fine too.
    """

    def __init__(self, simulator: FlynnSimulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._serve, name="flynn-async simulator", daemon=True
        )

    def _serve(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, _T]) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(_THREAD_TIMEOUT)

    def start(self) -> None:
        self._thread.start()
        try:
            self._run(self.simulator.start())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        try:
            if self._thread.is_alive():
                self._run(self.simulator.close())
        finally:
            if self._thread.is_alive():
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(_THREAD_TIMEOUT)
            elif not self._loop.is_closed():
                self._loop.close()  # the thread never ran


def _marker_overrides(node: pytest.Item | pytest.Collector) -> dict[str, Any]:
    """The ``flynn_simulator`` markers' keyword arguments, the closest marker winning (a
    whole settings group at a time)."""
    overrides: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.{MARKER} takes settings groups by keyword only "
                f"(records=RecordSettings(...), ...), got positional {marker.args!r}",
                pytrace=False,
            )
        overrides.update(marker.kwargs)
    return overrides


@pytest.fixture
def flynn_simulator_config() -> SimulatorConfig:
    """The simulator's base configuration (the defaults); override it to change them.

    The settings groups of ``@pytest.mark.flynn_simulator(...)`` markers replace its own.
    """
    return SimulatorConfig()


@pytest.fixture
def flynn_simulator(
    request: pytest.FixtureRequest,
    flynn_simulator_config: SimulatorConfig,
    flynn_clock: FlynnTestClock,
) -> Iterator[FlynnSimulator]:
    """A started simulator on a free loopback port, stopped after the test.

    Configured by ``flynn_simulator_config`` with the settings groups of the closest
    ``@pytest.mark.flynn_simulator(...)`` markers replacing its own, on the test's
    ``flynn_clock``. It
    is served from a thread of its own, so sync tests can use it as well as async ones.
    """
    overrides = _marker_overrides(request.node)
    given = {name: overrides.pop(name) for name in _GROUPS if name in overrides}
    try:
        config = flynn_simulator_config._replaced(
            given, overrides, where=f"@pytest.mark.{MARKER}", stacklevel=1
        )
    except (TypeError, ValueError) as exc:
        pytest.fail(f"@pytest.mark.{MARKER}: {exc}", pytrace=False)
    server = _SimulatorThread(FlynnSimulator(config, clock=flynn_clock))
    server.start()
    try:
        yield server.simulator
    finally:
        server.stop()


# -------------------------------------------------------------------------------------------
# Clients and sessions
# -------------------------------------------------------------------------------------------


class FlynnClientFactory(Protocol):
    """What ``flynn_make_client`` gives: ``await make(**client_options)`` -> a client."""

    def __call__(
        self,
        *,
        credentials: Credentials | None = None,
        start: bool = True,
        **client_options: Any,
    ) -> Awaitable[FlynnClient]:
        """A client pointed at the simulator, logged in unless ``start=False``.

        ``credentials`` default to the simulator's user; ``client_options`` are keyword
        arguments of :class:`~flynn_async.FlynnClient` (``sleep``, ``clock``, ``wall_clock``
        and ``rng`` default to the test's ``flynn_clock`` and a seeded random source).
        """
        ...


@_async_fixture
async def flynn_make_client(
    flynn_simulator: FlynnSimulator, flynn_clock: FlynnTestClock
) -> AsyncIterator[FlynnClientFactory]:
    """A factory of clients pointed at ``flynn_simulator``, all closed after the test.

    ``await flynn_make_client(max_concurrency=2, ...)`` takes :class:`~flynn_async.FlynnClient`
    keyword arguments; by default a client sleeps on ``flynn_clock`` (no real waiting while
    polling or retrying) and draws its jitter from a seeded random source.
    """
    clients: list[FlynnClient] = []

    async def make(
        *,
        credentials: Credentials | None = None,
        start: bool = True,
        **client_options: Any,
    ) -> FlynnClient:
        client_options.setdefault("sleep", flynn_clock.sleep)
        client_options.setdefault("clock", flynn_clock)
        client_options.setdefault("wall_clock", flynn_clock)
        client_options.setdefault("rng", random.Random(0))
        client = FlynnClient(
            credentials if credentials is not None else flynn_simulator.credentials,
            base_url=flynn_simulator.base_url,
            login_url=flynn_simulator.login_url,
            **client_options,
        )
        clients.append(client)
        if start:
            await client.start()
        return client

    try:
        yield make
    finally:
        for client in reversed(clients):
            with contextlib.suppress(FlynnError):  # logging out of a simulator set to fail
                await client.aclose()


@_async_fixture
async def flynn_client(flynn_make_client: FlynnClientFactory) -> AsyncIterator[FlynnClient]:
    """A logged-in client pointed at ``flynn_simulator`` (instant sleeps on ``flynn_clock``)."""
    yield await flynn_make_client()


@_async_fixture
async def flynn_gst_session(
    flynn_client: FlynnClient, flynn_simulator: FlynnSimulator
) -> AsyncIterator[GstSession]:
    """A verified GST session of ``flynn_client`` for ``flynn_simulator.gstin``."""
    otp_request = await flynn_client.gst.request_otp(
        gstin=flynn_simulator.gstin, username=flynn_simulator.gst_username
    )
    yield await flynn_client.gst.verify_otp(otp_request, flynn_simulator.otp)
