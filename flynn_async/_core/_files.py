"""Where on-disk state lives, and how files there are written.

All state the library keeps on disk sits under one directory::

    <state dir>/                     FLYNN_ASYNC_STATE_DIR, else $XDG_STATE_HOME/flynn-async,
    │                                else ~/.local/state/flynn-async   (mode 0700)
    ├── sessions/<GSTIN>.json        GST sessions (FileSessionStore), mode 0600
    ├── sessions/<GSTIN>.lock        the per-GSTIN lock file
    └── checkpoints/<task id>/       pages of a download, one file each (Checkpoint)
        ├── page-<n>.json            the page's body exactly as received
        └── manifest.json            page count and each page's SHA-256

Every file is written atomically: to a temporary file in the same directory, flushed and
synced, then renamed over the target, so a crash leaves the old file or the new one, never a
torn one. A process killed mid-write leaves its temporary file (``.<name>.<random>.tmp``)
behind: the first write of a process into a directory removes such files older than an hour
(:data:`STALE_TEMP_SECONDS`) there, so they do not pile up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

log: Final = logging.getLogger("flynn_async.state")

#: The environment variable that overrides the state directory.
STATE_DIR_ENV: Final = "FLYNN_ASYNC_STATE_DIR"
#: Temporary files of interrupted atomic writes older than this are removed.
STALE_TEMP_SECONDS: Final = 3600.0
_TEMP_NAME: Final = r"\..+\.[0-9a-f]{16}\.tmp"  # compiled by re on first use
_swept: set[Path] = set()  # directories this process has swept already
_swept_lock = threading.Lock()


def remove_stale_temporaries(
    directory: Path,
    *,
    max_age: float = STALE_TEMP_SECONDS,
    wall_clock: Callable[[], float] = time.time,
) -> list[Path]:
    """Remove the temporary files of interrupted atomic writes in ``directory`` that are older
    than ``max_age`` seconds (a write in progress is younger); returns the ones removed.

    Only names :func:`atomic_writer` makes (``.<name>.<16 hex digits>.tmp``) are touched;
    errors (a file gone meanwhile, no permission) are ignored.
    """
    removed: list[Path] = []
    cutoff = wall_clock() - max_age
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not re.fullmatch(_TEMP_NAME, entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    if removed:
        log.info("removed %d stale temporary files in %s", len(removed), directory)
    return removed


def _sweep_once(directory: Path) -> None:
    """Sweep ``directory`` the first time this process writes there (one listing, cheap)."""
    key = directory.absolute()
    with _swept_lock:
        if key in _swept:
            return
        _swept.add(key)
    remove_stale_temporaries(directory)


def state_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The state directory: ``override``, else ``$FLYNN_ASYNC_STATE_DIR``, else the XDG one."""
    if override is not None:
        return Path(override)
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "flynn-async"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with owner-only permissions for the leaf."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not the owner: leave it as it is
        path.chmod(0o700)
    return path


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int | None = 0o600) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` whole, or not at all.

    It is written under a random name in the same directory, flushed to disk, then renamed
    over ``path`` (and the rename made durable); if the ``with`` block fails, the temporary
    file is removed and ``path`` is left as it was. ``mode`` sets its permissions exactly;
    ``None`` creates it as ``open()`` would (``0o666`` less the umask).
    """
    _sweep_once(path.parent)
    tmp = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")  # = secrets.token_hex(8)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def write_atomic(path: Path, data: bytes | Callable[[], bytes], *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``.

    ``data`` may be a function making the bytes: for content holding a secret, so that no
    frame of a traceback (a full disk) holds it in a local.
    """
    with atomic_writer(path, mode=mode) as handle:
        handle.write(data if isinstance(data, bytes) else data())
