"""Seeded fault injection for the simulator: which fault, if any, a request gets.

The simulator asks :class:`FaultStream` once per request on a fault route, as the request
arrives; the stream draws from its own :class:`random.Random` (seeded from the faults' ``seed``
only, never from the data seed), always the same number of draws per request, so the same sequence
of requests meets the same faults. This module decides; the simulator (``_simulator.py``) acts
the faults out on the wire.
"""

from __future__ import annotations

import email.utils
import http
import math
import random
from collections.abc import Sequence
from typing import Any, Final, Literal

import attrs

__all__ = [
    "DEFAULT_FAULT_ROUTES",
    "FAULT_KINDS",
    "REQUEST_FAULTS",
    "RETRY_AFTER_DATE",
    "Fault",
    "FaultStream",
    "RequestFault",
    "check_rate",
    "check_retry_after",
    "check_statuses",
    "error_page",
    "page_misses_once",
    "proxy_page",
    "retry_after_value",
]

RequestFault = Literal["error", "rate_limit", "reset", "slow", "truncate", "malformed"]

#: The per-request faults, in the fixed order a draw is mapped to them. A field
#: ``<kind>_rate`` of ``FaultSettings`` gives each one's share of the requests on the fault routes.
REQUEST_FAULTS: Final[tuple[RequestFault, ...]] = (
    "error",
    "rate_limit",
    "reset",
    "slow",
    "truncate",
    "malformed",
)
#: Every kind :attr:`FlynnSimulator.faults` counts.
FAULT_KINDS: Final = (*REQUEST_FAULTS, "token_expiry", "task_failed", "page_not_found")
#: The routes faults apply to unless told otherwise: the read-only, safe-to-repeat ones.
#: ``ims_submit`` is left out on purpose: a client must never repeat a submit.
DEFAULT_FAULT_ROUTES: Final = frozenset({"task_status", "task_result", "task_page", "einvoice"})
#: The ``retry_after`` setting that means "an HTTP date 1 s ahead by the simulator's clock".
RETRY_AFTER_DATE: Final = "date"

_STREAM_VERSION: Final = "flynn-sim/1"


@attrs.frozen
class Fault:
    """One request's fault: its ``kind`` and, for ``error``, the HTTP ``status`` to answer."""

    kind: RequestFault
    status: int = 200


class FaultStream:
    """The faults' own random stream, seeded from ``FaultSettings.seed`` alone."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(f"{_STREAM_VERSION}|{seed}|faults")

    def draw(
        self, rates: Sequence[tuple[RequestFault, float]], statuses: Sequence[int]
    ) -> Fault | None:
        """The fault of the next request, or ``None``.

        Always two draws, whatever the rates: one picks the kind (the rates, in order, split
        ``[0, 1)`` into consecutive shares, and the rest means no fault), one picks the status
        of an ``error``. A rate of 1 therefore faults every request, 0 none.
        """
        pick, detail = self._rng.random(), self._rng.random()
        for kind, rate in rates:
            if pick < rate:
                if kind != "error":
                    return Fault(kind)
                return Fault(kind, statuses[min(int(detail * len(statuses)), len(statuses) - 1)])
            pick -= rate
        return None


def page_misses_once(seed: int, rate: float, task_id: str, index: int) -> bool:
    """Whether a page answers 404 the first time: fixed per (fault seed, task, page).

    The choice does not depend on the order pages are asked in, so concurrent page requests
    meet the same 404s whatever order they arrive in.
    """
    if rate <= 0:
        return False
    if rate >= 1:
        return True
    key = f"{_STREAM_VERSION}|{seed}|page|{task_id}|{index}"
    return random.Random(key).random() < rate


def _html(title: str, text: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{text}</p></body></html>"
    ).encode()


def error_page(status: int) -> bytes:
    """The HTML page a gateway answers with a 5xx or 429 (never an API error envelope)."""
    title = f"{status} {http.HTTPStatus(status).phrase}"
    return _html(title, "The server could not answer this request. Try again later.")


def proxy_page() -> bytes:
    """The HTML page a misbehaving proxy answers with status 200 in place of the JSON."""
    return _html("Gateway", "Your request is being processed. Please wait.")


def retry_after_value(setting: str, now: float) -> str:
    """The ``Retry-After`` header for the ``retry_after`` setting at ``now`` (epoch seconds).

    :data:`RETRY_AFTER_DATE` gives an HTTP date 1 s ahead (rounded up to a whole second, as
    HTTP dates have no fractions); any other setting (seconds, or an HTTP date) goes as is.
    """
    if setting == RETRY_AFTER_DATE:
        return email.utils.formatdate(math.ceil(now) + 1, usegmt=True)
    return setting


# --------------------------------------------------------------------------------------------
# Validators of the fault settings (attrs signature)
# --------------------------------------------------------------------------------------------


def check_rate(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    """A share of requests: from 0 to 1."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be from 0 to 1, got {value!r}")


def check_statuses(_: object, attribute: attrs.Attribute[Any], value: tuple[int, ...]) -> None:
    """At least one status, each a server error (5xx)."""
    if not value or any(type(s) is not int or not 500 <= s <= 599 for s in value):
        raise ValueError(f"{attribute.name} must be one or more 5xx statuses, got {value!r}")


def check_retry_after(_: object, attribute: attrs.Attribute[Any], value: str) -> None:
    """Whole seconds, :data:`RETRY_AFTER_DATE`, or an HTTP date."""
    if value == RETRY_AFTER_DATE or (value.isascii() and value.isdigit()):
        return
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{attribute.name} must be seconds, {RETRY_AFTER_DATE!r} or an HTTP date, got {value!r}"
        ) from None
