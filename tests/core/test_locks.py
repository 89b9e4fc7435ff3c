"""File locks between processes: one implementation, three ways, stale locks recovered.

The ``flock`` way runs here directly; the pid-file way (a platform with neither ``fcntl`` nor
``msvcrt``) runs in child interpreters where ``fcntl`` is hidden (``sys.modules['fcntl'] =
None``), which also shows that ``import flynn_async`` needs no ``fcntl``.

The children that take or try a lock load ``_locks.py`` by itself (it imports the standard
library only): the lock's behaviour between processes is the same, and each child starts in a
fraction of the time the whole package takes to import. One child imports the package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flynn_async._core import _locks
from flynn_async._core._locks import FileLock, hold

HIDE_FCNTL = "import sys\nsys.modules['fcntl'] = None\n"

#: the lock module alone, loaded from its file (the package's import is not what is tested)
LOAD_LOCKS = textwrap.dedent(
    f"""
    import importlib.util, sys
    spec = importlib.util.spec_from_file_location("_locks", {_locks.__file__!r})
    module = importlib.util.module_from_spec(spec)
    sys.modules["_locks"] = module
    spec.loader.exec_module(module)
    BACKEND, FileLock = module.BACKEND, module.FileLock
    """
)

#: a child that takes the lock, says so, then waits to be killed
HOLDER = LOAD_LOCKS + textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    lock = FileLock(Path(sys.argv[1]))
    assert lock.try_acquire()
    print(BACKEND, flush=True)
    time.sleep(600)
    """
)

#: a child that tries the lock once and prints what happened
TRY = LOAD_LOCKS + textwrap.dedent(
    """
    import sys
    from pathlib import Path
    lock = FileLock(Path(sys.argv[1]))
    print(BACKEND, lock.try_acquire(), flush=True)
    """
)


def _run(code: str, path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60
    )
    assert 0 == done.returncode, done.stderr
    return done.stdout.strip()


def _killed_holder(code: str, path: Path) -> str:
    """Start a child that takes the lock, wait until it holds it, kill it (SIGKILL)."""
    with subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            backend = child.stdout.readline().strip()  # the lock is held once this line comes
            assert backend
            if backend == "pidfile":
                assert (path.parent / (path.name + ".pid")).exists()
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
    return backend


def test_this_platform_locks_with_flock() -> None:
    assert "flock" == _locks.BACKEND


def test_a_held_lock_is_refused_then_free_after_release(tmp_path: Path) -> None:
    path = tmp_path / "a.lock"
    first = FileLock(path)
    assert first.try_acquire()
    assert first.held
    assert "flock False" == _run(TRY, path)
    first.release()
    assert not first.held
    assert "flock True" == _run(TRY, path)


def test_a_lock_of_a_killed_process_is_taken(tmp_path: Path) -> None:
    path = tmp_path / "a.lock"
    assert "flock" == _killed_holder(HOLDER, path)
    lock = FileLock(path)
    assert lock.try_acquire()
    lock.release()


def test_importing_the_package_needs_no_fcntl(tmp_path: Path) -> None:
    code = HIDE_FCNTL + textwrap.dedent(
        """
        import flynn_async, flynn_async.batch, flynn_async.gst._store, flynn_async.cli
        from flynn_async._core import _locks
        print(_locks.BACKEND, "fcntl" in sys.modules and sys.modules["fcntl"] is not None)
        """
    )
    assert "pidfile False" == _run(code, tmp_path)


def test_without_fcntl_the_pid_file_way_locks_between_processes(tmp_path: Path) -> None:
    path = tmp_path / "b.lock"
    code = HIDE_FCNTL + TRY + "input()\n"  # holds the lock until its stdin closes
    with subprocess.Popen(
        [sys.executable, "-c", code, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdin is not None
        try:
            assert "pidfile True" == child.stdout.readline().strip()
            assert "pidfile False" == _run(HIDE_FCNTL + TRY, path)  # held by the live child
        finally:
            child.stdin.close()
            child.wait(timeout=60)


def test_without_fcntl_a_stale_lock_of_a_killed_process_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "c.lock"
    assert "pidfile" == _killed_holder(HIDE_FCNTL + HOLDER, path)
    pid_file = tmp_path / "c.lock.pid"
    assert pid_file.exists()  # left behind by the killed holder
    assert "pidfile True" == _run(HIDE_FCNTL + TRY, path)


def test_a_pid_file_naming_no_process_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_locks, "BACKEND", "pidfile")
    path = tmp_path / "d.lock"
    (tmp_path / "d.lock.pid").write_text("0")  # no process has id 0 to hold it
    lock = FileLock(path)
    assert lock.try_acquire()
    assert str(os.getpid()) == (tmp_path / "d.lock.pid").read_text()
    assert not FileLock(path).try_acquire()  # held by this live process
    lock.release()
    assert not (tmp_path / "d.lock.pid").exists()


async def test_hold_waits_on_the_injected_sleep_until_the_lock_is_free(tmp_path: Path) -> None:
    path = tmp_path / "e.lock"
    other = FileLock(path)
    assert other.try_acquire()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            other.release()

    async with hold(path, poll=0.25, sleep=sleep):
        assert "flock False" == _run(TRY, path)
    assert [0.25, 0.25, 0.25] == sleeps
    assert "flock True" == _run(TRY, path)
