"""Poll and retry policies: defaults, validation, copies, delays, Retry-After."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flynn_async import InvalidInput, PollPolicy, RetryPolicy
from flynn_async._core._policy import DEFAULT_RETRY_STATUSES, parse_retry_after
from tests.lazy import modules_imported

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class FixedRandom:
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def first(delays: Any, n: int) -> list[float]:
    return list(itertools.islice(delays, n))


# ------------------------------------------------------------------------------------------
# PollPolicy
# ------------------------------------------------------------------------------------------


def test_poll_policy_defaults() -> None:
    policy = PollPolicy()
    assert (1.0, 1.25, 60.0, 0.1, 1800.0) == (
        policy.initial_delay,
        policy.multiplier,
        policy.max_delay,
        policy.jitter,
        policy.deadline,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"initial_delay": 0},
        {"initial_delay": -1},
        {"initial_delay": math.nan},
        {"initial_delay": math.inf},
        {"initial_delay": "1"},
        {"initial_delay": True},
        {"multiplier": 0.5},
        {"multiplier": 0},
        {"multiplier": None},
        {"max_delay": 0},
        {"max_delay": -5},
        {"jitter": -0.1},
        {"jitter": 1.5},
        {"jitter": math.nan},
        {"deadline": 0},
        {"deadline": -10},
        {"deadline": math.inf},
        {"deadline": "30"},
    ],
)
def test_poll_policy_validation(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as info:
        PollPolicy(**changes)
    assert isinstance(info.value, ValueError)
    assert next(iter(changes)) in str(info.value)


def test_poll_policy_accepts_edge_values() -> None:
    policy = PollPolicy(multiplier=1, jitter=0, deadline=None)
    assert (1, 0, None) == (policy.multiplier, policy.jitter, policy.deadline)
    assert 1 == PollPolicy(jitter=1).jitter


def test_poll_policy_replace_returns_a_changed_copy() -> None:
    policy = PollPolicy()
    changed = policy.replace(deadline=60, jitter=0)
    assert PollPolicy(deadline=60, jitter=0) == changed
    assert PollPolicy() == policy  # the original is unchanged
    assert changed is not policy
    with pytest.raises(InvalidInput):
        policy.replace(max_delay=-1)


def test_poll_policy_is_immutable() -> None:
    policy = PollPolicy()
    with pytest.raises(AttributeError):
        policy.deadline = 5  # type: ignore[misc]


def test_poll_delays_grow_and_are_capped() -> None:
    policy = PollPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0)
    assert [1, 2, 4, 5, 5, 5, 5] == first(policy.delays(random.Random(0)), 7)


def test_poll_delays_without_growth() -> None:
    policy = PollPolicy(initial_delay=3, multiplier=1, max_delay=60, jitter=0)
    assert [3, 3, 3, 3] == first(policy.delays(random.Random(0)), 4)


def test_poll_jitter_extremes() -> None:
    policy = PollPolicy(initial_delay=1, multiplier=2, max_delay=5, jitter=0.5)
    assert [0.5, 1, 2, 2.5, 2.5] == first(policy.delays(FixedRandom(0.0)), 5)
    assert [1, 2, 4, 5, 5] == first(policy.delays(FixedRandom(0.5)), 5)
    # the spread never pushes a delay above max_delay
    assert [1.5, 3, 5, 5, 5] == pytest.approx(first(policy.delays(FixedRandom(1.0)), 5))


@given(
    seed=st.integers(0, 2**32),
    jitter=st.floats(0.01, 1.0),
    initial=st.floats(0.1, 10),
    multiplier=st.floats(1, 3),
    max_delay=st.floats(1, 100),
)
def test_poll_jitter_bounds(
    seed: int, jitter: float, initial: float, multiplier: float, max_delay: float
) -> None:
    policy = PollPolicy(
        initial_delay=initial, multiplier=multiplier, max_delay=max_delay, jitter=jitter
    )
    delays = first(policy.delays(random.Random(seed)), 12)
    assert delays == first(policy.delays(random.Random(seed)), 12)  # seeded: reproducible
    for n, delay in enumerate(delays):
        nominal = min(initial * multiplier**n, max_delay)
        assert nominal * (1 - jitter) - 1e-9 <= delay <= min(max_delay, nominal * (1 + jitter))


def test_poll_jitter_spreads_the_delays() -> None:
    policy = PollPolicy(initial_delay=10, multiplier=1, max_delay=60, jitter=0.1)
    delays = first(policy.delays(random.Random(7)), 50)
    assert len(set(delays)) > 40
    assert all(9 <= d <= 11 for d in delays)


# ------------------------------------------------------------------------------------------
# RetryPolicy
# ------------------------------------------------------------------------------------------


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (5, 0.5, 2.0, 30.0, 120.0) == (
        policy.max_tries,
        policy.initial_delay,
        policy.multiplier,
        policy.max_delay,
        policy.max_retry_after,
    )
    assert frozenset({429, 500, 502, 503, 504}) == policy.statuses == DEFAULT_RETRY_STATUSES


def test_retry_policy_disabled() -> None:
    assert 1 == RetryPolicy.disabled().max_tries
    assert RetryPolicy(max_tries=1) == RetryPolicy.disabled()


@pytest.mark.parametrize(
    "changes",
    [
        {"max_tries": 0},
        {"max_tries": -1},
        {"max_tries": 1.5},
        {"max_tries": True},
        {"initial_delay": 0},
        {"multiplier": -2},
        {"max_delay": math.inf},
        {"max_retry_after": 0},
    ],
)
def test_retry_policy_validation(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match=next(iter(changes))):
        RetryPolicy(**changes)


def test_retry_policy_replace_and_statuses_as_frozenset() -> None:
    policy = RetryPolicy().replace(statuses=[503], max_tries=2)
    assert frozenset({503}) == policy.statuses
    assert 2 == policy.max_tries
    assert 5 == RetryPolicy().max_tries


def test_retry_delays_full_jitter_at_the_middle() -> None:
    policy = RetryPolicy()
    assert [0.25, 0.5, 1, 2, 4, 8, 15, 15] == first(policy.delays(FixedRandom(0.5)), 8)
    assert [0] * 5 == first(policy.delays(FixedRandom(0.0)), 5)


@given(seed=st.integers(0, 2**32))
def test_retry_delays_are_bounded_by_the_exponential_cap(seed: int) -> None:
    policy = RetryPolicy(initial_delay=0.5, multiplier=2, max_delay=30)
    delays = first(policy.delays(random.Random(seed)), 10)
    assert delays == first(policy.delays(random.Random(seed)), 10)
    for n, delay in enumerate(delays):
        assert 0 <= delay <= min(0.5 * 2**n, 30)


# ------------------------------------------------------------------------------------------
# Retry-After
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Wed, 01 May 2024 12:00:30 GMT", 30.0),
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),
        ("Wed, 01 May 2024 12:00:30", 30.0),  # no zone: read as UTC
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("٣", None),  # not an ASCII digit
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert expected == parse_retry_after(value, NOW)


def test_parse_retry_after_uses_the_current_time_by_default() -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    seconds = parse_retry_after(soon)
    assert seconds is not None
    assert 95 <= seconds <= 100


@pytest.mark.parametrize(
    ("value", "expected"),
    [("30", 30.0), ("1000", 120.0), (None, None), ("nonsense", None)],
)
def test_hinted_delay_is_capped(value: str | None, expected: float | None) -> None:
    assert expected == RetryPolicy().hinted_delay(value, NOW)


def test_hinted_delay_cap_is_a_setting() -> None:
    assert 10.0 == RetryPolicy(max_retry_after=10).hinted_delay("11", NOW)


@pytest.mark.parametrize("policy", [PollPolicy(), RetryPolicy()], ids=type)
def test_replace_refuses_a_misspelt_setting(policy: PollPolicy | RetryPolicy) -> None:
    with pytest.raises(TypeError, match="max_dely"):
        policy.replace(max_dely=3.0)  # type: ignore[call-arg]


def test_replace_keeps_what_is_not_given_and_takes_none_for_the_deadline() -> None:
    policy = PollPolicy(initial_delay=2.0, deadline=90.0)
    assert policy == policy.replace()
    endless = policy.replace(deadline=None)
    assert endless.deadline is None
    assert 2.0 == endless.initial_delay
    assert RetryPolicy(max_tries=3) == RetryPolicy().replace(max_tries=3)


def test_replace_takes_only_keywords() -> None:
    with pytest.raises(TypeError):
        RetryPolicy().replace(3)  # type: ignore[call-arg]


def test_backoff_is_imported_with_the_first_delays_not_with_the_package() -> None:
    first, after = modules_imported(
        "import random\nfrom flynn_async import RetryPolicy\n"
        "next(RetryPolicy().delays(random.Random(0)))"
    )
    assert "backoff" not in first
    assert "backoff" in after
