"""Result pages on disk, so that a download that stopped part way fetches only what is missing.

A :class:`Checkpoint` holds the pages of one task under ``<directory>/<task id>/``. Each page
is stored as the exact body the server sent, in a file whose name carries the body's SHA-256
(``page-00042-<sha256>.json``); it is written atomically and checked against that digest when
read back, so a torn or altered file is never trusted: it is deleted and fetched again.
``manifest.json`` records the task id and its page count.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Final

from flynn_async._core import _validate
from flynn_async._core._errors import ResponseError
from flynn_async._core._files import ensure_private_dir, write_atomic

log: Final = logging.getLogger("flynn_async.checkpoint")

#: A page file's name (compiled by :mod:`re` on first use, not on import).
_PAGE_FILE: Final = r"page-(\d{6})-([0-9a-f]{64})\.json"
_MANIFEST: Final = "manifest.json"


async def _write_in_thread(write: Callable[[str, bytes], None], name: str, data: bytes) -> None:
    """Run a blocking write in a thread. A thread cannot be stopped, so if the caller is
    cancelled meanwhile, the write is waited for before the cancellation goes on: no work
    outlives the call that started it."""
    future = asyncio.get_running_loop().run_in_executor(None, write, name, data)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


class Checkpoint:
    """The pages of one task stored under ``directory/<task id>/``."""

    def __init__(self, directory: str | os.PathLike[str], task_id: str) -> None:
        self.task_id = _validate.task_id(task_id)
        self.path = Path(directory) / self.task_id
        self._index: dict[int, Path] | None = None  # the listing, taken once for reads

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r})"

    def _pages_on_disk(self) -> dict[int, Path]:
        found: dict[int, Path] = {}
        if not self.path.is_dir():
            return found
        for entry in self.path.iterdir():
            match = re.fullmatch(_PAGE_FILE, entry.name)
            if match:
                found[int(match.group(1))] = entry
        return found

    def stored_pages(self) -> list[int]:
        """Page indexes with a file on disk now (not yet checked)."""
        return sorted(self._pages_on_disk())

    def _stored(self) -> dict[int, Path]:
        """The page files found at the first read, kept up to date by this object's writes
        (one directory listing per task, not one per page)."""
        if self._index is None:
            self._index = self._pages_on_disk()
        return self._index

    def page_count(self) -> int | None:
        """The page count recorded for the task, if any."""
        try:
            document = json.loads((self.path / _MANIFEST).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        pages = document.get("pages") if isinstance(document, dict) else None
        return pages if isinstance(pages, int) and not isinstance(pages, bool) else None

    async def set_page_count(self, pages: int) -> None:
        """Record the page count; a different count than recorded before is an error."""
        known = self.page_count()
        if known is not None and known != pages:
            raise ResponseError(
                f"the server now says {pages} pages, the checkpoint recorded {known}",
                task_id=self.task_id,
            )
        if known is None:
            document = json.dumps({"task_id": self.task_id, "pages": pages}).encode()
            await _write_in_thread(self._write, _MANIFEST, document)

    def _write(self, name: str, data: bytes) -> None:
        ensure_private_dir(self.path)
        write_atomic(self.path / name, data)

    async def read(self, index: int) -> bytes | None:
        """The stored body of page ``index`` if present and intact, else ``None``."""
        path = self._stored().get(index)
        if path is None:
            return None
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:  # removed since the listing: fetch it
            self._stored().pop(index, None)
            return None
        match = re.fullmatch(_PAGE_FILE, path.name)
        assert match is not None
        if hashlib.sha256(body).hexdigest() != match.group(2):
            log.warning(
                "checkpoint page %d of task %s is damaged; fetching it again", index, self.task_id
            )
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            self._stored().pop(index, None)
            return None
        return body

    async def write(self, index: int, body: bytes) -> None:
        """Store the body of page ``index`` atomically."""
        digest = hashlib.sha256(body).hexdigest()
        name = f"page-{index:06d}-{digest}.json"
        await _write_in_thread(self._write, name, body)
        if self._index is not None:
            self._index[index] = self.path / name

    def remove(self) -> None:
        """Delete the task's checkpoint directory."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._index = None
