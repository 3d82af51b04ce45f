"""The shared rate limiter, driven by a fake clock: no test here sleeps for real."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ospack.fetch import RateLimiter, RatePolicy, parse_retry_after
from ospack.testing import FakeClock


def run_workers(limiter: RateLimiter, workers: int, grants: int, events=()) -> list[float]:
    """Let ``workers`` tasks take ``grants`` slots in all; ``events`` are (after_n_grants, callable)."""
    times: list[float] = []
    pending = sorted(events, key=lambda e: e[0])

    async def worker() -> None:
        while len(times) < grants:
            times.append(await limiter.acquire())
            while pending and len(times) >= pending[0][0]:
                pending.pop(0)[1]()

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(workers)))

    asyncio.run(main())
    return sorted(times)


def max_in_window(times: list[float], window: float) -> int:
    """Most grants in any closed window of ``window`` seconds."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_paces_evenly_at_just_under_the_limit():
    clock = FakeClock()
    times = run_workers(RateLimiter(RatePolicy(600), clock=clock), workers=8, grants=1500)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.1 * 1.01 - 1e-9
    assert max(gaps) <= 0.1 * 1.06 + 1e-9  # the first 8 grants warm up 5 % wider
    achieved = (len(times) - 1) / (times[-1] - times[0]) * 60
    assert 0.98 * 600 <= achieved <= 600
    assert max_in_window(times, 60.0) <= 600


def test_no_window_exceeds_the_limit_across_pauses_and_slowdowns():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(50), clock=clock, rng=random.Random(1))
    events = [(n, lambda: limiter.rate_limited(clock.now() - 0.5)) for n in (40, 45, 120)]
    times = run_workers(limiter, workers=16, grants=300, events=events)
    assert max_in_window(times, 60.0) <= 50


@settings(max_examples=30, deadline=None)
@given(
    rate=st.integers(1, 40),
    workers=st.integers(1, 12),
    margin=st.floats(0.0, 0.05),
    idles=st.lists(st.tuples(st.integers(1, 100), st.floats(0.0, 90.0)), max_size=4),
    penalties=st.lists(st.tuples(st.integers(1, 100), st.sampled_from([None, 0.0, 3.0, 30.0])), max_size=4),
)
def test_property_never_more_than_n_in_any_window(rate, workers, margin, idles, penalties):
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(rate, margin=margin), clock=clock, rng=random.Random(0))
    events = [(n, lambda d=d: clock.advance(d)) for n, d in idles]
    events += [(n, lambda ra=ra: limiter.rate_limited(clock.now(), ra)) for n, ra in penalties]
    times = run_workers(limiter, workers=workers, grants=120, events=events)
    assert max_in_window(times, 60.0) <= rate


def test_a_429_pauses_everyone_then_the_first_successes_restore_the_pace():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(600), clock=clock, rng=random.Random(3))
    state = {}

    def penalise():
        state["at"] = clock.now()
        state["pause"] = limiter.rate_limited(clock.now())

    def succeed():
        limiter.succeeded()

    events = [(100, penalise)] + [(n, succeed) for n in range(101, 400)]
    times = run_workers(limiter, workers=8, grants=400, events=events)
    at, pause = state["at"], state["pause"]
    # no backoff header: base 2 s (per/30) with jitter in [0.5, 1)
    assert 1.0 <= pause < 2.0
    assert not [t for t in times if at < t < at + pause]
    after = [t for t in times if t >= at + pause]
    gaps = [b - a for a, b in itertools.pairwise(after)]
    assert max(gaps) <= 2 * 0.101 + 1e-9  # at most twice the spacing right after the pause …
    assert max(gaps[20:]) < 0.102  # … and back to the full pace within a few successes
    assert limiter.slowdown() < 1.01


def test_a_streak_of_429s_never_pauses_past_the_window_it_spent():
    # the burst: nine 429s without Retry-After gave pauses of 2.0 … 53.7 s, 216 s in all
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(600), clock=clock, rng=random.Random(0))
    pauses = []
    for _ in range(9):
        pauses.append(limiter.rate_limited(clock.now()))
        clock.advance(pauses[-1])
    assert max(pauses) <= 15.0  # per / 4
    assert sum(pauses[:6]) <= 60.0 + 1e-9  # never past the end of the window since the first 429
    assert clock.now() <= 75.0
    # a whole window of 429s: the spent requests have aged out, so the back-off starts afresh
    assert pauses[-1] < 4.0


def test_the_pause_says_why_and_for_how_long():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(600), clock=clock, rng=random.Random(0))
    assert limiter.pause_status() == (0.0, None)
    limiter.rate_limited(clock.now(), retry_after=30.0)
    left, why = limiter.pause_status()
    assert left == pytest.approx(30.0) and "429" in why and "30 s" in why
    clock.advance(31.0)
    assert limiter.pause_status() == (0.0, None)
    limiter.hold(4.0, "cannot connect to h:1 (connection refused); trying again")
    assert limiter.pause_status() == (pytest.approx(4.0), "cannot connect to h:1 (connection refused); trying again")


def test_429s_from_one_burst_count_as_one_episode():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(600), clock=clock, rng=random.Random(0))
    clock.advance(10.0)
    limiter.rate_limited(granted_at=9.9)
    slowdown = limiter.slowdown()
    limiter.rate_limited(granted_at=9.8)  # sent before the pause began: same burst
    assert limiter.slowdown() == slowdown
    assert limiter.pauses == 1


def test_waiters_inside_a_new_pause_give_their_slot_back():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy(60, margin=0.0), clock=clock)

    async def main():
        first = await limiter.acquire()
        waiting = asyncio.create_task(limiter.acquire())  # would get t=1
        await asyncio.sleep(0)
        limiter.rate_limited(first, retry_after=5.0)
        return first, await waiting

    first, second = asyncio.run(main())
    assert first == 0.0 and second >= 5.0


def test_unpaced_limiter_still_pauses_on_429():
    clock = FakeClock()
    limiter = RateLimiter(RatePolicy.unpaced(), clock=clock)
    times = run_workers(limiter, workers=4, grants=50, events=[(10, lambda: limiter.rate_limited(clock.now(), 3.0))])
    assert times[9] == 0.0 and times[10] == pytest.approx(3.0)


def test_rejects_nonsense_rates():
    with pytest.raises(ValueError):
        RatePolicy(0)
    with pytest.raises(ValueError):
        RatePolicy(10, window_s=0)


def test_parse_retry_after():
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == pytest.approx(30.0)
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None


def test_a_policy_counts_its_allowance_over_the_servers_window():
    assert RatePolicy(600).allowance == (600, 60.0)
    assert RatePolicy(600, window_s=2.0).allowance == (20, 2.0)  # what a server with a 2 s window counts
    assert RatePolicy(50, window_s=1.0).allowance == (50, 60.0)  # under one request a window: a minute
    assert RatePolicy.unpaced().allowance[0] is None
    limiter = RateLimiter(RatePolicy(600, window_s=2.0, max_retry_after_s=9.0))
    assert (limiter.requests, limiter.per, limiter.max_retry_after) == (20, 2.0, 9.0)


def test_fetch_settings_have_one_set_of_defaults_and_refuse_nonsense():
    from ospack.errors import UsageError
    from ospack.fetch import DEFAULT_MAX_RETRIES, FetchSettings

    settings = FetchSettings()
    assert settings.rate == RatePolicy() and settings.rate.per_minute == 600
    assert (settings.workers, settings.max_retries, settings.protocol) == (8, DEFAULT_MAX_RETRIES, "zxy")
    for bad in ({"workers": 0}, {"max_retries": -1}, {"protocol": "tms"}):
        with pytest.raises(UsageError):
            FetchSettings(**bad)
    with pytest.raises(AttributeError):
        settings.workers = 2  # frozen: one value is passed whole, never changed on the way
