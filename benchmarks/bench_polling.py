"""Target 4: polling that notices fast without hammering.

With the default ``PollPolicy``, a task that takes D seconds should be noticed soon after it
completes (the median delay at most 10 % of D, or 1 s, whichever is larger) and a 10-minute task
should cost at most 25 status calls.

Injected clock: an in-process simulator (``processing_polls=0, processing_seconds=D``) and the
client share one fake clock, which moves only when the client sleeps; so thirty durations from
1 s to 10 min (log-spaced), each with several jitter seeds, run in a moment. The delay is the
fake time from the task's completion (submission + D) to ``task.wait()`` returning; the status
calls are those the simulator answered for the task. The figure judged is the median, over
every (duration, seed), of delay / max(10 % of D, 1 s): at most 1.

For real: a few short tasks run at once against the in-process simulator on the real clock,
each client seeded like an injected-clock run of the same duration; the real delays must agree
with the injected-clock prediction (to within the time the status calls themselves take).

Run alone: ``python -m benchmarks.bench_polling [--quick]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections import defaultdict

import attrs

from benchmarks._common import Row, log_spaced, median, say, standalone
from flynn_async import FlynnClient, PollPolicy
from flynn_async.testing import FlynnSimulator, TaskSettings

DURATIONS = 30
SEEDS = 5
LONG_TASK = 600.0
MAX_CALLS = 25
REAL_DURATIONS = (1.3, 2.6, 4.5, 7.0)
REAL_TOLERANCE = 0.25


class FakeClock:
    """Seconds that pass only when something sleeps on them (for the client and simulator)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.now += delay
        await asyncio.sleep(0)


def allowed(duration: float) -> float:
    """The delay allowed for a task of ``duration`` seconds: 10 % of it, at least 1 s."""
    return max(0.1 * duration, 1.0)


async def injected(
    sim: FlynnSimulator, clock: FakeClock, duration: float, seed: int
) -> tuple[float, int]:
    """One task of ``duration`` fake seconds: (delay noticing completion, status calls)."""
    sim.config = sim.config.replace(
        tasks=attrs.evolve(sim.config.tasks, processing_polls=0, processing_seconds=duration)
    )
    async with FlynnClient(
        sim.credentials,
        base_url=sim.base_url,
        login_url=sim.login_url,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(seed),
    ) as client:
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        session = await client.gst.verify_otp(otp_request, sim.otp)
        submitted = clock()
        task = await client.ims.submit(session, section="B2B")
        await task.wait()
        noticed = clock()
    simulated = sim.tasks[task.id]
    if simulated.created_at != submitted:  # pragma: no cover - a fake clock does not move
        raise RuntimeError("the fake clock moved during submission")
    return noticed - (submitted + duration), simulated.status_calls


async def real(sim: FlynnSimulator, duration: float, seed: int) -> float:
    """One task of ``duration`` real seconds: the real delay noticing its completion."""
    async with FlynnClient(
        sim.credentials, base_url=sim.base_url, login_url=sim.login_url, rng=random.Random(seed)
    ) as client:
        otp_request = await client.gst.request_otp(gstin=sim.gstin, username=sim.gst_username)
        session = await client.gst.verify_otp(otp_request, sim.otp)
        task = await client.ims.submit(session, section="B2B")
        completes = sim.tasks[task.id].created_at + duration
        await task.wait()
        return time.time() - completes


async def run(quick: bool) -> list[Row]:
    """The injected-clock sweep, then the real check."""
    durations = log_spaced(1.0, LONG_TASK, DURATIONS)  # a second or two: quick runs it all too
    seeds = range(SEEDS)
    policy = PollPolicy()
    say(f"default {policy}")
    clock = FakeClock(time.time())
    scores: list[float] = []
    fractions: list[float] = []
    delays: dict[tuple[float, int], float] = {}
    calls: dict[float, list[int]] = defaultdict(list)
    async with FlynnSimulator(clock=clock, tasks=TaskSettings(processing_polls=0)) as sim:
        say(f"injected clock: {len(durations)} durations x {len(seeds)} jitter seeds")
        say("   duration | median delay | allowed | median/allowed | status calls")
        for duration in durations:
            here = []
            for seed in seeds:
                delay, count = await injected(sim, clock, duration, seed)
                if delay < 0:
                    raise RuntimeError(f"noticed {-delay:.3f} s before completion")
                delays[duration, seed] = delay
                here.append(delay)
                calls[duration].append(count)
                scores.append(delay / allowed(duration))
                fractions.append(delay / duration)
            say(
                f"   {duration:7.1f} s | {median(here):10.2f} s | {allowed(duration):5.1f} s |"
                f" {median(here) / allowed(duration):14.2f} | "
                f"{min(calls[duration])}-{max(calls[duration])}"
            )
        long_calls = calls[durations[-1]]
        extra = [(await injected(sim, clock, LONG_TASK, s))[1] for s in range(100, 120)]
        long_calls = long_calls + extra

    score = median(scores)
    say(
        f"median delay/allowed over all {len(scores)} runs: {score:.2f};"
        f" median delay/duration: {median(fractions):.1%};"
        f" durations whose median is over the allowance:"
        f" {sum(1 for d in durations if median([delays[d, s] for s in seeds]) > allowed(d))}"
        f" of {len(durations)}"
    )

    real_durations = REAL_DURATIONS[:2] if quick else REAL_DURATIONS
    say(f"real clock: tasks of {', '.join(f'{d:g} s' for d in real_durations)} at once")
    predicted_clock = FakeClock(time.time())
    async with FlynnSimulator(clock=predicted_clock, tasks=TaskSettings(processing_polls=0)) as sim:
        predicted = [await injected(sim, predicted_clock, d, 7) for d in real_durations]
    async with contextlib.AsyncExitStack() as stack:
        sims = [  # the setting is read when a status call is answered: one simulator a task
            await stack.enter_async_context(
                FlynnSimulator(tasks=TaskSettings(processing_polls=0, processing_seconds=duration))
            )
            for duration in real_durations
        ]
        real_delays = await asyncio.gather(
            *(real(s, d, 7) for s, d in zip(sims, real_durations, strict=True))
        )
    worst = 0.0
    for duration, (want, _), got in zip(real_durations, predicted, real_delays, strict=True):
        worst = max(worst, abs(got - want))
        say(f"   {duration:4.1f} s task: real delay {got:.3f} s, injected clock {want:.3f} s")

    return [
        Row(
            "4",
            "median delay to notice completion / max(10% of D, 1 s), D = 1 s-10 min",
            f"{score:.2f} (median {median(fractions):.1%} of D)",
            "<= 1.00",
            score <= 1.0,
            {"score": score, "median_fraction_of_duration": median(fractions)},
        ),
        Row(
            "4",
            f"status calls for a 10-minute task ({len(long_calls)} jitter seeds)",
            f"{max(long_calls)} (min {min(long_calls)})",
            f"<= {MAX_CALLS}",
            max(long_calls) <= MAX_CALLS,
            {"max_calls": max(long_calls), "min_calls": min(long_calls)},
        ),
        Row(
            "4",
            "real run over the simulator: largest gap, real vs injected-clock delay",
            f"{worst * 1000:.0f} ms (tasks of {', '.join(f'{d:g}' for d in real_durations)} s)",
            f"<= {REAL_TOLERANCE * 1000:.0f} ms",
            worst <= REAL_TOLERANCE and not math.isnan(worst),
            {"worst_gap_ms": worst * 1000},
        ),
    ]


if __name__ == "__main__":
    sys.exit(standalone("Target 4: polling", run))
