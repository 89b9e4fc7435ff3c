"""The pytest plugin: opt-in (no entry point), cheap to import, and its fixtures work in a
user's project that enables it, under pytest-asyncio (strict and auto mode), anyio, or no
async plugin; a project that does not enable it never imports flynn-async.

Users' test files are run with ``pytester`` in-process (warnings are errors, markers strict;
hypothesis's plugin is left out: it would import all of hypothesis into every run).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async.testing import FlynnSimulator, RecordSettings, pytest_plugin
from flynn_async.testing._settings import FLAT_NAMES
from flynn_async.testing.pytest_plugin import FlynnTestClock

from .test_settings import OLD_VALUES

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = {mode}
asyncio_default_fixture_loop_scope = function
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest
    -p flynn_async.testing.pytest_plugin
xfail_strict = true
"""
PLAIN_INI = """
[pytest]
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:hypothesispytest
    -p flynn_async.testing.pytest_plugin
"""

# A user's tests: every fixture, the marker, faults and simulated time. ``{mark}`` is put
# before each async test (``@pytest.mark.asyncio`` in strict mode, nothing in auto mode).
USER_TESTS = """
import asyncio
import threading

import pytest

from flynn_async import FlynnClient, GstSession
from flynn_async.testing import (
    FaultSettings,
    FlynnSimulator,
    PagingSettings,
    RecordSettings,
    TaskSettings,
)
from flynn_async.testing.pytest_plugin import FlynnClientFactory, FlynnTestClock

pytestmark = pytest.mark.flynn_simulator(
    records=RecordSettings(per_section=5), paging=PagingSettings(size=10)
)


def test_a_sync_test_gets_a_running_simulator(flynn_simulator: FlynnSimulator) -> None:
    assert flynn_simulator.base_url.startswith("http://127.0.0.1:")
    assert flynn_simulator.config.records.per_section == 5

    async def org_id() -> str | None:
        simulator = flynn_simulator
        async with FlynnClient(
            simulator.credentials, base_url=simulator.base_url, login_url=simulator.login_url
        ) as client:
            return client.org_id

    assert asyncio.run(org_id()) == flynn_simulator.org_id


{mark}
@pytest.mark.flynn_simulator(paging=PagingSettings(size=2))
async def test_client_and_session_download_exactly(
    flynn_client: FlynnClient,
    flynn_gst_session: GstSession,
    flynn_simulator: FlynnSimulator,
) -> None:
    assert flynn_gst_session.gstin == flynn_simulator.gstin
    result = await flynn_client.ims.download(flynn_gst_session, section="B2B")
    expected = flynn_simulator.expected_records(flynn_simulator.gstin, "B2B")
    assert result.to_dict()["b2b"] == expected
    assert len(expected) == 5
    (task,) = flynn_simulator.tasks.values()
    assert task.pages == 3  # the closest marker's paging, the module's records


{mark}
@pytest.mark.flynn_simulator(tasks=TaskSettings(processing_seconds=600))
async def test_polling_waits_pass_on_the_shared_clock(
    flynn_client: FlynnClient,
    flynn_gst_session: GstSession,
    flynn_clock: FlynnTestClock,
) -> None:
    started = flynn_clock()
    result = await flynn_client.ims.download(flynn_gst_session, section="B2BA")
    assert len(result.b2ba) == 5
    assert flynn_clock() - started >= 600  # ten minutes of polling, not waited for
    assert sum(flynn_clock.sleeps) >= 600


{mark}
@pytest.mark.flynn_simulator(
    faults=FaultSettings(seed=3, error_rate=0.3), tasks=TaskSettings(failing_first=0)
)
async def test_faults_are_retried(
    flynn_make_client: FlynnClientFactory,
    flynn_simulator: FlynnSimulator,
) -> None:
    client = await flynn_make_client(max_concurrency=2)
    other = await flynn_make_client(start=False)
    assert other.org_id is None  # not started
    request = await client.gst.request_otp(
        gstin=flynn_simulator.gstin, username=flynn_simulator.gst_username
    )
    session = await client.gst.verify_otp(request, flynn_simulator.otp)
    result = await client.ims.download_all(session, sections=["B2B", "ECOM"])
    assert result.to_dict()["ecom"] == flynn_simulator.expected_records(
        flynn_simulator.gstin, "ECOM"
    )
    assert flynn_simulator.faults["error"] > 0
    assert client.stats.retries > 0


def test_simulator_threads_do_not_outlive_their_tests() -> None:
    names = [thread.name for thread in threading.enumerate()]
    assert "flynn-async simulator" not in names
"""


def run_user_tests(
    pytester: pytest.Pytester, source: str, *args: str, mode: str = "strict"
) -> pytest.RunResult:
    pytester.makeini(INI.format(mode=mode))
    pytester.makepyfile(test_user=textwrap.dedent(source))
    return pytester.runpytest(*args)


# -------------------------------------------------------------------------------------------
# Registration and import
# -------------------------------------------------------------------------------------------


def test_the_plugin_is_opt_in_and_enabled_here(pytestconfig: pytest.Config) -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert not [ep for ep in entry_points if ep.value.startswith("flynn_async")]
    # this project enables it like a user would (tests/conftest.py: pytest_plugins)
    assert pytestconfig.pluginmanager.get_plugin("flynn_async.testing.pytest_plugin") is (
        pytest_plugin
    )


def test_the_plugin_uses_no_private_pytest_asyncio_attributes() -> None:
    source = Path(pytest_plugin.__file__).read_text(encoding="utf-8")
    for private in ("_force_asyncio_fixture", '"_loop_scope"', "._loop_scope", "pytest_asyncio._"):
        assert private not in source


def test_a_project_without_the_plugin_never_imports_flynn_async(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import sys

    def test_nothing_of_flynn_async_is_loaded(request):
        assert not [name for name in sys.modules if name.startswith("flynn_async")]
        assert request.config.pluginmanager.get_plugin("flynn_async.testing.pytest_plugin") is None
    """
    pytester.makeini(INI.format(mode="auto").replace("-p flynn_async.testing.pytest_plugin", ""))
    pytester.makepyfile(test_user=textwrap.dedent(source))
    result = pytester.runpytest_subprocess()  # a fresh interpreter: sys.modules is its own
    result.assert_outcomes(passed=1)


def test_the_marker_is_registered(pytestconfig: pytest.Config) -> None:
    markers = pytestconfig.getini("markers")
    assert any(line.startswith("flynn_simulator(**settings):") for line in markers)


def test_importing_the_plugin_starts_nothing() -> None:
    # Everything the plugin module needs is loaded first (its parent packages, pytest and
    # pytest-asyncio, which pytest itself loads before it): the plugin then adds itself only.
    script = textwrap.dedent(
        """
        import sys, threading
        import pytest, pytest_asyncio, flynn_async.testing
        before = set(sys.modules)
        import flynn_async.testing.pytest_plugin
        print(sorted(set(sys.modules) - before))
        print(threading.active_count())
        import asyncio
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            print("no loop")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert ["['flynn_async.testing.pytest_plugin']", "1", "no loop"] == out


# -------------------------------------------------------------------------------------------
# A user's project
# -------------------------------------------------------------------------------------------


def test_every_fixture_works_in_strict_mode(pytester: pytest.Pytester) -> None:
    result = run_user_tests(
        pytester, USER_TESTS.format(mark="@pytest.mark.asyncio"), "-p", "no:anyio"
    )
    result.assert_outcomes(passed=5)


def test_every_fixture_works_in_auto_mode(pytester: pytest.Pytester) -> None:
    result = run_user_tests(pytester, USER_TESTS.format(mark=""), mode="auto")
    result.assert_outcomes(passed=5)


def test_the_client_lives_in_the_tests_loop_whatever_its_loop_scope(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import asyncio
    import pytest

    loops = []

    @pytest.mark.asyncio(loop_scope="module")
    async def test_one(flynn_client, flynn_gst_session):
        loops.append(asyncio.get_running_loop())
        assert len((await flynn_client.ims.download(flynn_gst_session, section="B2B")).b2b)

    @pytest.mark.asyncio(loop_scope="module")
    async def test_two(flynn_client, flynn_gst_session):
        loops.append(asyncio.get_running_loop())
        assert len((await flynn_client.ims.download(flynn_gst_session, section="B2B")).b2b)
        assert loops[0] is loops[1]  # both tests ran in the module's loop, clients too
    """
    # The default fixture loop scope is "function": the fixtures follow the test instead.
    run_user_tests(pytester, source).assert_outcomes(passed=2)


def test_anyio_tests_get_clients_in_anyios_loop(pytester: pytest.Pytester) -> None:
    source = """
    import pytest

    @pytest.fixture
    def anyio_backend():
        return "asyncio"

    @pytest.mark.anyio
    async def test_download(flynn_client, flynn_gst_session, flynn_simulator):
        result = await flynn_client.ims.download(flynn_gst_session, section="B2BCN")
        expected = flynn_simulator.expected_records(flynn_simulator.gstin, "B2BCN")
        assert result.to_dict()["b2bcn"] == expected
    """
    # beside pytest-asyncio in strict mode, and without it
    run_user_tests(pytester, source).assert_outcomes(passed=1)
    pytester.makeini(PLAIN_INI)
    pytester.runpytest("-p", "no:asyncio").assert_outcomes(passed=1)


def test_a_project_without_async_plugins_still_works(pytester: pytest.Pytester) -> None:
    source = """
    def test_unrelated():
        assert True

    def test_simulator(flynn_simulator):
        assert flynn_simulator.gstin
    """
    pytester.makeini(PLAIN_INI)
    pytester.makepyfile(test_user=textwrap.dedent(source))
    result = pytester.runpytest("-p", "no:asyncio", "-p", "no:anyio")
    result.assert_outcomes(passed=2)


def test_an_overridden_base_config_keeps_the_markers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest
        from flynn_async.testing import DelaySettings, RecordSettings, SimulatorConfig

        @pytest.fixture
        def flynn_simulator_config():
            return SimulatorConfig(
                records=RecordSettings(seed=42, per_section=3),
                delays=DelaySettings(request=0.001),
            )
        """
    )
    source = """
    import pytest
    from flynn_async.testing import PagingSettings, RecordSettings

    def test_base(flynn_simulator):
        records = flynn_simulator.config.records
        assert (42, 3) == (records.seed, records.per_section)

    @pytest.mark.flynn_simulator(records=RecordSettings(per_section=9))
    def test_a_marker_replaces_a_whole_group(flynn_simulator):
        config = flynn_simulator.config
        assert (0, 9) == (config.records.seed, config.records.per_section)
        assert 0.001 == config.delays.request  # the base's other groups stay

    @pytest.mark.flynn_simulator(records=RecordSettings(per_section=9))
    class TestClass:
        @pytest.mark.flynn_simulator(paging=PagingSettings(size=4))
        def test_closest_wins_group_by_group(self, flynn_simulator):
            assert 9 == flynn_simulator.config.records.per_section
            assert 4 == flynn_simulator.config.paging.size
    """
    run_user_tests(pytester, source).assert_outcomes(passed=3)


OLD_MARKERS = """
import pytest

@pytest.mark.flynn_simulator(records_per_section=9)
class TestOld:
    @pytest.mark.flynn_simulator(page_size=4)
    def test_old_names(self, flynn_simulator):
        config = flynn_simulator.config
        assert (9, 4) == (config.records.per_section, config.paging.size)
"""


def test_the_old_marker_settings_warn_and_still_work(pytester: pytest.Pytester) -> None:
    result = run_user_tests(pytester, OLD_MARKERS, "-W", "default::DeprecationWarning")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.flynn_simulator: the flat setting records_per_section= is deprecated"
            "*use records=RecordSettings(per_section=...)*",
        ]
    )
    result.stdout.fnmatch_lines(["*use paging=PagingSettings(size=...)*"])
    # with warnings as errors (the ini's "filterwarnings = error"), the test errors, saying so
    result = run_user_tests(pytester, OLD_MARKERS)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*DeprecationWarning*records_per_section=*deprecated*"])


def test_a_bad_marker_fails_the_test_clearly(pytester: pytest.Pytester) -> None:
    source = """
    import pytest
    from flynn_async.testing import SimulatorConfig

    @pytest.mark.flynn_simulator(no_such_setting=1)
    def test_unknown(flynn_simulator):
        pass

    @pytest.mark.flynn_simulator(paging={"size": 4})  # a group's fields, not the group
    def test_invalid(flynn_simulator):
        pass

    @pytest.mark.flynn_simulator(SimulatorConfig())
    def test_positional(flynn_simulator):
        pass
    """
    result = run_user_tests(pytester, source)
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.flynn_simulator:*no_such_setting*",
            "*@pytest.mark.flynn_simulator:*paging*PagingSettings*",
            "*takes settings groups by keyword only*",
        ]
    )


def test_each_old_marker_setting_warns_and_has_the_same_effect(pytester: pytest.Pytester) -> None:
    cases = {name: value for name, value in OLD_VALUES.items() if name != "einvoice_documents"}
    cases["einvoice_documents"] = ()  # not the default (None): the built-in samples
    source = f"""
    import pytest
    from flynn_async.testing._settings import FLAT_NAMES

    CASES = {cases!r}

    @pytest.mark.parametrize(
        "name",
        [pytest.param(n, marks=pytest.mark.flynn_simulator(**{{n: v}})) for n, v in CASES.items()],
    )
    def test_old_name(name, flynn_simulator):
        group, field = FLAT_NAMES[name]
        assert getattr(getattr(flynn_simulator.config, group), field) == CASES[name]
    """
    result = run_user_tests(pytester, source, "-W", "default::DeprecationWarning")
    result.assert_outcomes(passed=len(FLAT_NAMES))
    warned = re.findall(
        r"flynn_simulator: the flat setting (\w+)= is deprecated", result.stdout.str()
    )
    assert sorted(set(warned)) == sorted(FLAT_NAMES)


# -------------------------------------------------------------------------------------------
# Here, in this project: the fixtures themselves, and the clock
# -------------------------------------------------------------------------------------------


@pytest.mark.flynn_simulator(records=RecordSettings(per_section=2))
async def test_the_simulator_is_served_from_its_own_thread(
    flynn_simulator: FlynnSimulator, flynn_clock: FlynnTestClock
) -> None:
    import threading

    assert "flynn-async simulator" in [thread.name for thread in threading.enumerate()]
    assert flynn_simulator.config.records.per_section == 2
    # the simulator's clock is the test's: moving one moves the other
    flynn_clock.advance(7200)
    assert flynn_simulator._clock is flynn_clock


def test_the_clock_runs_and_jumps() -> None:
    clock = FlynnTestClock(start=1_000.0)
    first = clock()
    assert 1_000.0 <= first < 1_010.0
    clock.advance(60)
    assert clock() >= first + 60
    asyncio.run(clock.sleep(2.5))
    asyncio.run(clock.sleep(-1))  # recorded, but time never goes back
    assert [2.5, -1] == clock.sleeps
    assert clock() >= first + 62.5
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    assert "2 sleeps" in repr(clock)


@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(min_value=-10, max_value=1e6, allow_nan=False)),
        max_size=20,
    )
)
def test_the_clock_never_goes_back_and_moves_at_least_by_every_sleep(
    steps: list[tuple[bool, float]],
) -> None:
    clock = FlynnTestClock(start=0.0)
    moved = 0.0
    last = clock()

    async def walk() -> None:
        nonlocal moved, last
        for sleeps, seconds in steps:
            if sleeps:
                await clock.sleep(seconds)
            else:
                clock.advance(abs(seconds))
            moved += max(0.0, abs(seconds) if not sleeps else seconds)
            now = clock()
            assert now >= last
            last = now

    asyncio.run(walk())
    assert clock() >= moved
    assert [s for sleeps, s in steps if sleeps] == clock.sleeps
