"""Keeping GST sessions across processes: the :class:`SessionStore` protocol and a file store.

A batch job that runs every night should not need a new OTP every night: the taxpayer's GST
session can be refreshed for as long as the taxpayer allowed API access (up to 30 days). A
session store keeps the newest session per GSTIN; the client saves to it after every OTP
verification and refresh, and forgets a session the portal says has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from flynn_async._core import _validate
from flynn_async._core._errors import InvalidInput
from flynn_async._core._files import ensure_private_dir, state_dir, write_atomic
from flynn_async._core._locks import hold
from flynn_async._core._secrets import Secret

from ._session import GstSession

#: Version of the session file format.
_FORMAT: Final = 1
_LOCK_POLL: Final = 0.05


@runtime_checkable
class SessionStore(Protocol):
    """Where GST sessions are kept between processes. Implementations must be safe to share
    between processes for the same GSTIN (the file store locks per GSTIN)."""

    async def load(self, gstin: str) -> GstSession | None:
        """The stored session for ``gstin``, or ``None`` (none, or lapsed)."""
        ...

    async def save(self, session: GstSession) -> None:
        """Keep ``session`` as the newest for its GSTIN."""
        ...

    async def delete(self, gstin: str) -> None:
        """Forget the session of ``gstin`` (a no-op if there is none)."""
        ...


class FileSessionStore:
    """GST sessions as JSON files under the state directory, one per GSTIN.

    Files are written atomically with owner-only permissions (0600) in an owner-only directory
    (0700): a session id is a credential. Reads and writes for one GSTIN are serialised across
    processes by a lock file; :meth:`lock` holds that lock across a whole OTP flow so that two
    processes don't both ask the taxpayer for an OTP. A session older than its portal lifetime
    (about 6 hours since it was opened or refreshed) is treated as gone; ``wall_clock`` (epoch
    seconds, :func:`time.time` by default) tells the time. Files are read and written off the
    event loop.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(directory) if directory is not None else state_dir() / "sessions"
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"FileSessionStore({str(self.directory)!r})"

    def _path(self, gstin: str, suffix: str) -> Path:
        return self.directory / f"{_validate.gstin(gstin)}{suffix}"

    @contextlib.asynccontextmanager
    async def lock(self, gstin: str) -> AsyncIterator[None]:
        """Hold the GSTIN's lock (across processes) for the ``async with`` block."""
        path = self._path(gstin, ".lock")
        await asyncio.to_thread(ensure_private_dir, self.directory)
        async with hold(path, poll=_LOCK_POLL):
            yield

    async def load(self, gstin: str) -> GstSession | None:
        """The stored, unexpired session for ``gstin``, or ``None``."""
        path = self._path(gstin, ".json")
        try:
            # read and decoded in one expression, off the event loop: no local of this frame
            # holds the session id
            session = await asyncio.to_thread(lambda: _decode(path.read_bytes(), path))
        except FileNotFoundError:
            return None
        if session.gstin != gstin:
            raise InvalidInput(f"{path} holds a session for another GSTIN")
        if session.expires_at <= datetime.fromtimestamp(self._wall_clock(), UTC):
            return None
        return session

    async def save(self, session: GstSession) -> None:
        """Write ``session`` atomically, replacing the GSTIN's previous one."""
        if not isinstance(session, GstSession):
            raise InvalidInput("only a GstSession can be saved")
        path = self._path(session.gstin, ".json")
        # the bytes are made inside the write (off the event loop): no frame's local holds
        # the session id
        await asyncio.to_thread(_write_private, self.directory, path, lambda: _encode(session))

    async def delete(self, gstin: str) -> None:
        """Remove the GSTIN's session file."""
        await asyncio.to_thread(_unlink, self._path(gstin, ".json"))


def _encode(session: GstSession) -> bytes:
    document = {
        "format": _FORMAT,
        "gstin": session.gstin,
        "username": session.username,
        "session_id": session.session_id.reveal(),
        "created_at": session.created_at.isoformat(),
    }
    return json.dumps(document, indent=2).encode()


def _decode(raw: bytes, path: Path) -> GstSession:
    try:
        document: Any = json.loads(raw)
        if document.get("format") != _FORMAT:
            raise ValueError("unknown format")
        created = datetime.fromisoformat(document["created_at"])
        if created.tzinfo is None:
            raise ValueError("created_at has no time zone")
        return GstSession(
            _validate.gstin(document["gstin"]),
            _validate.text(document["username"], "username"),
            Secret(_validate.text(document["session_id"], "session id")),
            created,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # the message names the file, never its content (it holds a session id), and the
        # content leaves this frame's locals before the error is raised from it
        raw = b""
        document = None
        raise InvalidInput(f"{path} is not a valid session file ({type(exc).__name__})") from None


def _write_private(directory: Path, path: Path, data: Callable[[], bytes]) -> None:
    ensure_private_dir(directory)
    write_atomic(path, data)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
