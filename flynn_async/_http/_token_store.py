"""Keeping the login token across processes: the :class:`TokenStore` protocol and a file store.

A user may hold at most 10 live login tokens. A process that ends without logging out (killed,
crashed, a notebook left open) keeps one of them until it expires. With a token store, each new
process reuses the live token the previous one left instead of logging in again, so killed runs
never add up to a lockout. The store keeps the token, the organisation and its timing, never
the password.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import attrs

from flynn_async._core._errors import InvalidInput
from flynn_async._core._files import ensure_private_dir, state_dir, write_atomic
from flynn_async._core._locks import hold
from flynn_async._core._secrets import Secret

__all__ = ["FileTokenStore", "StoredToken", "TokenStore"]

#: Version of the token file format.
_FORMAT: Final = 1
_LOCK_POLL: Final = 0.05


def token_key(login_url: str, handle: str, org_id: str | None) -> str:
    """The store key of a login: login service URL, handle and organisation (if chosen)."""
    return "\n".join((login_url, handle, org_id or ""))


@attrs.frozen
class StoredToken:
    """A login token as kept in a :class:`TokenStore`.

    ``token`` is the token itself (a :class:`~flynn_async.Secret`), ``org_id`` the organisation
    it acts for, ``duration`` its lifetime in seconds; ``received_at`` (when it was issued or
    last refreshed) and ``login_at`` (the login it descends from, for the 6 x hard limit) are
    epoch seconds on the local wall clock of the machine that saved it.
    """

    token: Secret
    org_id: str
    duration: float
    received_at: float
    login_at: float


@runtime_checkable
class TokenStore(Protocol):
    """Where login tokens are kept between processes, by key (login URL, handle, org).

    Implementations must be safe to share between processes; a token is a secret at rest.
    """

    async def load(self, key: str) -> StoredToken | None:
        """The stored token for ``key``, or ``None``."""
        ...

    async def save(self, key: str, token: StoredToken) -> None:
        """Keep ``token`` as the one for ``key``."""
        ...

    async def delete(self, key: str) -> None:
        """Forget the token of ``key`` (a no-op if there is none)."""
        ...


class FileTokenStore:
    """Login tokens as JSON files under the state directory (``<state dir>/tokens``).

    One file per key, named by the key's SHA-256 (the handle does not appear in file names),
    written atomically with owner-only permissions (0600) in an owner-only directory (0700).
    Writes for one key are serialised across processes by a lock file. The token is never
    logged and never shown in a ``repr``.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else state_dir() / "tokens"

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.directory)!r})"

    def _path(self, key: str, suffix: str) -> Path:
        if not isinstance(key, str) or not key:
            raise InvalidInput("a token store key must be a non-empty str")
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + suffix)

    @contextlib.asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """Hold the key's lock (across processes) for the ``async with`` block."""
        path = self._path(key, ".lock")
        await asyncio.to_thread(ensure_private_dir, self.directory)
        async with hold(path, poll=_LOCK_POLL):
            yield

    async def load(self, key: str) -> StoredToken | None:
        """The stored token for ``key``, or ``None``."""
        path = self._path(key, ".json")
        try:  # the bytes go straight to _decode (off the loop): no local here holds the token
            return await asyncio.to_thread(lambda: _decode(path.read_bytes(), path, key))
        except FileNotFoundError:
            return None

    async def save(self, key: str, token: StoredToken) -> None:
        """Write ``token`` atomically (mode 0600), replacing the key's previous one."""
        if not isinstance(token, StoredToken):
            raise InvalidInput("only a StoredToken can be saved")
        async with self.lock(key):
            path = self._path(key, ".json")
            await asyncio.to_thread(lambda: write_atomic(path, _encode(key, token)))

    async def delete(self, key: str) -> None:
        """Remove the key's token file."""
        async with self.lock(key):
            await asyncio.to_thread(_unlink, self._path(key, ".json"))


def _encode(key: str, token: StoredToken) -> bytes:
    document = {
        "format": _FORMAT,
        "key": key,
        "token": token.token.reveal(),
        "org_id": token.org_id,
        "duration": token.duration,
        "received_at": token.received_at,
        "login_at": token.login_at,
    }
    return json.dumps(document, indent=2).encode()


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


def _decode(raw: bytes, path: Path, key: str) -> StoredToken | None:
    document: Any = None
    try:
        document = json.loads(raw)
        if document.get("format") != _FORMAT:
            raise ValueError("unknown format")
        if document.get("key") != key:
            return None  # a hash collision of the file name: not this key's token
        if not isinstance(document["token"], str) or not document["token"]:
            raise TypeError("token")
        if not isinstance(document["org_id"], str):
            raise TypeError("org_id")
        return StoredToken(
            Secret(document["token"]),
            document["org_id"],
            _number(document["duration"]),
            _number(document["received_at"]),
            _number(document["login_at"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        kind = type(exc).__name__
        # Neither the message nor this frame's locals keep the file's content (a token).
        document = raw = exc = None  # type: ignore[assignment]
        raise InvalidInput(f"{path} is not a valid token file ({kind})") from None


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
