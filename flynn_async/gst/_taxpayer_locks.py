"""One lock per taxpayer GSTIN, for the calls that change the taxpayer's state on the portal.

The GST portal takes one save, reset or GSTR-2B regeneration in progress per taxpayer; a
second one sent meanwhile fails on the portal (and is billed). The client's own calls for one
taxpayer therefore wait for each other: each holds ``lock_for(gstin)`` while it runs.
"""

from __future__ import annotations

import asyncio

__all__ = ["TaxpayerLocks"]


class TaxpayerLocks:
    """A registry of :class:`asyncio.Lock` objects, one per GSTIN, made on first use."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def lock_for(self, gstin: str) -> asyncio.Lock:
        """The lock of ``gstin`` (the same object every time for one GSTIN)."""
        lock = self._locks.get(gstin)
        if lock is None:
            lock = self._locks[gstin] = asyncio.Lock()
        return lock

    def busy(self, gstin: str) -> bool:
        """Whether a call holds the lock of ``gstin`` right now."""
        lock = self._locks.get(gstin)
        return lock is not None and lock.locked()
