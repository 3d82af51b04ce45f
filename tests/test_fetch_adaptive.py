"""``--rate auto`` on a fake clock, against the emulator's own quota (sliding window, spike arrest) as the server.

The limiter is told the documented 600/min; the server's limit is hidden from it. The figures
are read after the first two minutes: the steady-state rate the server accepted, and its 429s.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import pytest

from ospack.emulator.config import QuotaPolicy
from ospack.emulator.quota import Quota
from ospack.fetch import RatePolicy
from ospack.fetch.adaptive import CEILING, SLOW_START, AutoRate
from ospack.fetch.ledger import LocalSchedule
from ospack.fetch.throttle import RateLimiter
from ospack.testing import FakeClock

DOCUMENTED = 600
START = 1000.0
#: the server answers this long after a request is released
RTT = 0.005


@dataclass
class Run:
    answers: list[tuple[float, bool]]  # (when the server read it, accepted)
    limiter: RateLimiter

    def steady(self, after: float = 120.0) -> tuple[float, float]:
        """(accepted per minute, 429s per 500 requests) from ``after`` seconds on."""
        steady = [(t, ok) for t, ok in self.answers if t >= START + after]
        accepted = sum(ok for _, ok in steady)
        span = steady[-1][0] - steady[0][0]
        return accepted / span * 60, (len(steady) - accepted) / len(steady) * 500

    def most_in_a_minute(self) -> int:
        times = sorted(t for t, ok in self.answers if ok)
        first, most = 0, 0
        for last, t in enumerate(times):
            while times[first] <= t - 60:
                first += 1
            most = max(most, last - first + 1)
        return most


def simulate(
    hidden: float,
    enforce: str,
    *,
    minutes: float = 8,
    auto: bool = True,
    schedule: LocalSchedule | None = None,
    seed: int = 0,
) -> Run:
    """8 workers fetching through one limiter from a server with ``hidden`` requests a minute."""
    clock = FakeClock(START)
    quota, policy = Quota(clock), QuotaPolicy(float(hidden), 60.0, enforce)
    rate = RatePolicy(DOCUMENTED, auto=auto, shared_budget=False)
    limiter = RateLimiter(rate, clock=clock, schedule=schedule, rng=random.Random(seed))
    answers: list[tuple[float, bool]] = []
    end = START + minutes * 60

    async def worker() -> None:
        while clock.now() < end:
            granted = await limiter.acquire()
            await clock.sleep(RTT / 2)
            accepted = quota.admit("key", "maps", policy)
            answers.append((clock.now(), accepted))
            await clock.sleep(RTT / 2)
            if accepted:
                limiter.succeeded()
            else:
                limiter.rate_limited(granted)

    async def pool() -> None:
        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(pool())
    return Run(answers, limiter)


@pytest.mark.parametrize("enforce", ["sliding", "spike"])
def test_a_hidden_limit_four_times_the_documented_is_found(enforce):
    run = simulate(4 * DOCUMENTED, enforce)
    rate, per_500 = run.steady()
    assert rate >= 0.9 * 4 * DOCUMENTED
    assert per_500 <= 1
    assert run.limiter.found_rate() == pytest.approx(4 * DOCUMENTED, rel=0.1)


@pytest.mark.parametrize("enforce", ["sliding", "spike"])
def test_a_hidden_limit_equal_to_the_documented_costs_little(enforce):
    rate, per_500 = simulate(DOCUMENTED, enforce).steady()
    assert rate >= 0.95 * DOCUMENTED
    assert per_500 <= 1


def test_the_rate_never_passes_the_ceiling():
    run = simulate(100 * DOCUMENTED, "sliding", minutes=3)
    assert run.most_in_a_minute() <= CEILING * DOCUMENTED
    assert run.limiter.found_rate() == CEILING * DOCUMENTED
    assert not any(ok is False for _, ok in run.answers)


def test_without_auto_the_documented_rate_holds():
    rate, per_500 = simulate(4 * DOCUMENTED, "sliding", minutes=4, auto=False).steady()
    assert 0.97 * DOCUMENTED <= rate <= DOCUMENTED and per_500 == 0
    assert simulate(DOCUMENTED, "sliding", minutes=1, auto=False).limiter.found_rate() is None


def test_the_rate_found_is_remembered_and_the_next_run_starts_there():
    schedule = LocalSchedule()
    simulate(4 * DOCUMENTED, "sliding", minutes=4, schedule=schedule)
    remembered = schedule.remembered_rate()
    assert remembered == pytest.approx(4 * DOCUMENTED, rel=0.1)
    again = simulate(4 * DOCUMENTED, "sliding", minutes=1, schedule=schedule)
    assert again.limiter.auto is not None and again.limiter.auto.rate >= 0.9 * remembered
    rate, _ = again.steady(after=5)
    assert rate >= 0.85 * 4 * DOCUMENTED  # at once, no slow start


def test_slow_start_grows_each_step_and_a_429_settles_below_what_the_window_shows():
    auto = AutoRate(600, 60.0)
    auto.succeeded(0.0)
    assert not auto.succeeded(5.0) and auto.rate == 600  # not yet a step (a sixth of the window)
    assert auto.succeeded(10.0) and auto.rate == 600 * SLOW_START
    assert auto.refused(12.0, granted=700, span_s=60.0)  # the window shows 700/min were let through
    assert auto.rate == pytest.approx(0.97 * 700) and auto.peak == 600 * SLOW_START
    assert not auto.succeeded(60.0) and auto.rate == pytest.approx(0.97 * 700)  # held for two windows
