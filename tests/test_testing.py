"""ospack.testing.FakeClock: the one clock protocol, driven by hand or by sleepers, never backwards."""

from __future__ import annotations

import asyncio
import time

import pytest

from ospack.clock import MonotonicClock, WallClock
from ospack.fetch.clock import FakeClock as FetchFakeClock
from ospack.testing import FakeClock


def test_fake_clock_moves_only_when_told_and_never_back():
    clock = FakeClock(10.0)
    assert clock.now() == 10.0
    clock.advance(2.5)
    clock.advance(-1.0)  # nothing: a clock never goes back
    clock.advance_to(20.0)
    assert clock.now() == 20.0
    with pytest.raises(ValueError, match="never goes back"):
        clock.advance_to(19.0)


def test_fake_clock_sleepers_wake_in_order_without_real_waiting():
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("late", 300.0), sleeper("early", 60.0))

    started = time.monotonic()
    asyncio.run(main())
    assert woke == [("early", 60.0), ("late", 300.0)]
    assert time.monotonic() - started < 5


def test_real_clocks_and_the_old_import_path():
    assert FetchFakeClock is FakeClock
    assert abs(WallClock().now() - time.time()) < 1.0
    first = MonotonicClock().now()
    assert MonotonicClock().now() >= first
