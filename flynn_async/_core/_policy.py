"""Policies and the pure arithmetic of waiting: poll delays, retry delays, Retry-After.

Polling and retrying are two loops with two policies. :class:`PollPolicy` says how often to ask
"is the task done yet?" and how long to keep asking; :class:`RetryPolicy` says how a single
request that *failed* is repeated. Both are immutable values with documented defaults;
:meth:`~PollPolicy.replace` derives a changed copy. Nothing here performs I/O: the delay
sequences are built on the ``backoff`` package's wait generators (imported when a first
sequence is made, not with the package) and take their randomness from an injected source, so
tests can assert exact sleeps.
"""

from __future__ import annotations

import email.utils
import enum
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Final, Protocol, Self

import attrs

from ._errors import InvalidInput

__all__ = ["PollPolicy", "RetryPolicy"]


class RandomSource(Protocol):
    """What the policies need of a random generator (``random.Random`` fits)."""

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


def _positive(name: str, *, allow_zero: bool = False, optional: bool = False) -> Any:
    def check(_: object, __: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"{name} must be a number, not {type(value).__name__}")
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            bound = "at least zero" if allow_zero else "above zero"
            raise InvalidInput(f"{name} must be finite and {bound}, got {value!r}")

    return check


class _Unset(enum.Enum):
    """The default of a ``replace`` parameter: the setting is kept (``None`` may be a value)."""

    UNSET = enum.auto()


_UNSET: Final = _Unset.UNSET


def _given(arguments: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a ``replace`` call that were given (``locals()`` of the call)."""
    return {k: v for k, v in arguments.items() if k != "self" and v is not _UNSET}


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How a task's status is polled until it is done.

    The n-th wait is ``initial_delay * multiplier**n``, capped at ``max_delay``, with a random
    spread of ``±jitter`` (a fraction: 0.1 is ±10 %), the cap applying after the spread. The
    whole wait is bounded by ``deadline`` seconds (``None``: wait for ever, only when asked
    for); the last sleep is clipped to the time left, one last status call is made at the
    deadline, and then :class:`~flynn_async.TaskTimeout` is raised. Cancelling a wait does not
    cancel the server's task.
    """

    #: Seconds before the second status call.
    initial_delay: float = attrs.field(default=1.0, validator=_positive("initial_delay"))
    #: Growth factor of the delay (at least 1).
    multiplier: float = attrs.field(default=1.25)
    #: Longest delay between two status calls.
    max_delay: float = attrs.field(default=60.0, validator=_positive("max_delay"))
    #: Random spread as a fraction of the delay, 0 to 1.
    jitter: float = attrs.field(default=0.1)
    #: Seconds the whole wait may take; ``None`` for no limit.
    deadline: float | None = attrs.field(
        default=30 * 60.0, validator=_positive("deadline", optional=True)
    )

    @multiplier.validator
    def _check_multiplier(self, _: attrs.Attribute[float], value: float) -> None:
        _positive("multiplier")(self, _, value)
        if value < 1:
            raise InvalidInput(f"multiplier must be at least 1, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _: attrs.Attribute[float], value: float) -> None:
        _positive("jitter", allow_zero=True)(self, _, value)
        if value > 1:
            raise InvalidInput(f"jitter must be between 0 and 1, got {value!r}")

    def replace(
        self,
        *,
        initial_delay: float | _Unset = _UNSET,
        multiplier: float | _Unset = _UNSET,
        max_delay: float | _Unset = _UNSET,
        jitter: float | _Unset = _UNSET,
        deadline: float | _Unset | None = _UNSET,
    ) -> Self:
        """A copy with the settings given changed (validated like the original).

        The parameters are the policy's fields, by keyword: a misspelt one is a ``TypeError``
        (and a mypy error), not a silent no-op.
        """
        return attrs.evolve(self, **_given(locals()))

    def delays(self, rng: RandomSource) -> Iterator[float]:
        """The endless sequence of waits between status calls, before deadline clipping."""
        import backoff  # on first use: it is not needed to import flynn_async

        # capped by the generator itself: an uncapped power overflows after ~3,000 waits
        base = backoff.expo(
            base=self.multiplier, factor=self.initial_delay, max_value=self.max_delay
        )
        next(base)  # the generator's priming value
        for raw in base:
            spread = 1.0 + self.jitter * (2.0 * rng.random() - 1.0) if self.jitter else 1.0
            yield min(self.max_delay, min(raw, self.max_delay) * spread)


#: HTTP statuses a repeatable call is retried on (unless the body is a final API error).
DEFAULT_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How one failed request is repeated.

    Only calls that are safe to repeat are retried (task status, result and pages, and the
    e-invoice lookup); a call that starts a task or refreshes a token never is. A request is
    retried on a connection error, on the per-request timeout, and on an HTTP status in
    ``statuses`` unless its body is a well-formed API error (the body decides). Waits grow
    exponentially (``initial_delay * multiplier**n``, capped at ``max_delay``) with *full*
    jitter (a uniform draw between zero and the wait). A ``Retry-After`` header is honoured as
    given, without jitter, up to ``max_retry_after`` seconds. ``max_tries`` counts the first
    try: 1 disables retries. Cancellation is never retried or swallowed.
    """

    #: Tries in all, the first included.
    max_tries: int = attrs.field(default=5)
    #: The first wait, before jitter.
    initial_delay: float = attrs.field(default=0.5, validator=_positive("initial_delay"))
    #: Growth factor of the wait.
    multiplier: float = attrs.field(default=2.0, validator=_positive("multiplier"))
    #: Longest wait, before jitter.
    max_delay: float = attrs.field(default=30.0, validator=_positive("max_delay"))
    #: Cap on a server's ``Retry-After``.
    max_retry_after: float = attrs.field(default=120.0, validator=_positive("max_retry_after"))
    #: HTTP statuses that are retried.
    statuses: frozenset[int] = attrs.field(default=DEFAULT_RETRY_STATUSES, converter=frozenset)

    @max_tries.validator
    def _check_tries(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"max_tries must be an int of at least 1, got {value!r}")

    def replace(
        self,
        *,
        max_tries: int | _Unset = _UNSET,
        initial_delay: float | _Unset = _UNSET,
        multiplier: float | _Unset = _UNSET,
        max_delay: float | _Unset = _UNSET,
        max_retry_after: float | _Unset = _UNSET,
        statuses: Iterable[int] | _Unset = _UNSET,
    ) -> Self:
        """A copy with the settings given changed (validated like the original).

        The parameters are the policy's fields, by keyword: a misspelt one is a ``TypeError``
        (and a mypy error), not a silent no-op.
        """
        return attrs.evolve(self, **_given(locals()))

    @classmethod
    def disabled(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_tries=1)

    def delays(self, rng: RandomSource) -> Iterator[float]:
        """The waits before the second, third, ... try (full jitter applied)."""
        import backoff  # on first use: it is not needed to import flynn_async

        base = backoff.expo(
            base=self.multiplier, factor=self.initial_delay, max_value=self.max_delay
        )
        next(base)
        for raw in base:
            yield min(raw, self.max_delay) * rng.random()

    def hinted_delay(self, retry_after: str | None, now: datetime | None = None) -> float | None:
        """The wait a ``Retry-After`` header asks for, capped; ``None`` if absent or unusable."""
        seconds = parse_retry_after(retry_after, now)
        return None if seconds is None else min(seconds, self.max_retry_after)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    Returns ``None`` for a missing or malformed value; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
