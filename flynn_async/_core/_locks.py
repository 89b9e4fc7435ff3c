"""Exclusive locks between processes on a lock file: the one implementation of the package.

Three ways, chosen once at import (nothing is imported that the platform lacks):

- ``flock`` where :mod:`fcntl` exists (Linux, macOS, the BSDs);
- ``msvcrt.locking`` on Windows;
- elsewhere, a *pid file* created exclusively (``O_CREAT | O_EXCL``) beside the lock file and
  naming the holder's process id.

The first two are released by the operating system when the holder dies, so a lock left by a
killed process is never stale. The pid file is checked instead: one naming a process that no
longer runs is removed and the lock taken (the stale lock of a killed process is recovered).
Every way is non-blocking; :func:`hold` polls with an injectable sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Final

__all__ = ["BACKEND", "FileLock", "hold"]


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_fcntl: Final = _optional("fcntl")
_msvcrt: Final = _optional("msvcrt")

#: Which way this process locks: ``"flock"``, ``"msvcrt"`` or ``"pidfile"``.
BACKEND: Final = "flock" if _fcntl is not None else "msvcrt" if _msvcrt is not None else "pidfile"

_BUSY: Final = (errno.EAGAIN, errno.EACCES, errno.EDEADLK)


def _alive(pid: int) -> bool:
    """Whether a process with this id runs (a permission error means it does)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - a platform without signal 0
        return True
    return True


class FileLock:
    """An exclusive, non-blocking lock on ``path`` shared by every process of the machine.

    :meth:`try_acquire` takes it or says it is held elsewhere; :meth:`release` lets it go. The
    lock file stays (an empty file, mode 0600); with the pid-file way, ``<path>.pid`` exists
    while the lock is held.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; ``False`` if another holder has it.

        Raises ``OSError`` when the lock file cannot be opened or created.
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this FileLock")
        if BACKEND == "pidfile":
            return self._try_pid_file()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if _fcntl is not None:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            else:  # pragma: no cover - Windows
                assert _msvcrt is not None
                _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _BUSY:
                return False
            raise
        self._fd = fd
        return True

    def _pid_path(self) -> Path:
        return self.path.with_name(self.path.name + ".pid")

    def _try_pid_file(self) -> bool:
        pid_path = self._pid_path()
        for _ in range(2):  # a second try after removing a stale pid file
            try:
                fd = os.open(pid_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                try:
                    holder = int(pid_path.read_text(encoding="ascii").strip() or "0")
                except (OSError, ValueError):
                    holder = 0  # unreadable or half-written: treated as its holder's death
                if holder and _alive(holder):
                    return False
                with contextlib.suppress(FileNotFoundError):
                    pid_path.unlink()  # the holder was killed: the lock is stale
                continue
            os.write(fd, str(os.getpid()).encode("ascii"))
            self._fd = fd
            return True
        return False

    def release(self) -> None:
        """Let the lock go (nothing happens if it is not held)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if BACKEND == "pidfile":
                with contextlib.suppress(FileNotFoundError):
                    self._pid_path().unlink()
            elif _fcntl is not None:
                _fcntl.flock(fd, _fcntl.LOCK_UN)
            else:  # pragma: no cover - Windows
                assert _msvcrt is not None
                with contextlib.suppress(OSError):
                    _msvcrt.locking(fd, _msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)


@contextlib.asynccontextmanager
async def hold(
    path: Path,
    *,
    poll: float = 0.05,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> AsyncIterator[None]:
    """Hold the lock on ``path`` for the ``async with`` block, polling every ``poll`` seconds."""
    lock = FileLock(path)
    while not lock.try_acquire():
        await sleep(poll)
    try:
        yield
    finally:
        lock.release()
