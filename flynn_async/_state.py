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
torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Final

#: The environment variable that overrides the state directory.
STATE_DIR_ENV: Final = "FLYNN_ASYNC_STATE_DIR"


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


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` atomically with permissions ``mode``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
