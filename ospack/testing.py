"""Helpers for testing code built on ospack: a clock that moves only when told to.

``FakeClock`` satisfies :class:`ospack.clock.Clock`, so it drives the downloader's pacing
(``fetch_tiles(..., clock=FakeClock())``) and the emulator's quotas and tokens
(``Emulator(clock=FakeClock())``) alike, without real waiting.
"""

from __future__ import annotations

import asyncio

__all__ = ["FakeClock"]


class FakeClock:
    """A clock that only moves when someone sleeps on it or advances it.

    Each ``sleep`` advances time to the sleeper's wake-up point if that is later
    than now; concurrent sleepers therefore see time move in wake-up order.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._driver: asyncio.Task[None] | None = None

    #: event-loop turns to let other tasks run before time jumps to the next sleeper
    settle_steps = 8

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` without sleeping."""
        self._now += max(0.0, seconds)

    def advance_to(self, when: float) -> None:
        """Move time forward to ``when``; a clock never goes back, so an earlier ``when`` is a ValueError."""
        if when < self._now:
            raise ValueError(f"a clock never goes back: it reads {self._now}, asked for {when}")
        self._now = when

    async def sleep(self, seconds: float) -> None:
        wake_at = self._now + max(0.0, seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        self._waiters.append((wake_at, self._seq, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        await future

    async def _drive(self) -> None:
        # Time jumps to the next wake-up only once every runnable task has had its
        # turn and is waiting again, as if the event loop had nothing else to do.
        while True:
            for _ in range(self.settle_steps):
                await asyncio.sleep(0)
            self._waiters = [w for w in self._waiters if not w[2].done()]
            if not self._waiters:
                return
            self._waiters.sort(key=lambda w: (w[0], w[1]))
            wake_at, _, future = self._waiters.pop(0)
            self._now = max(self._now, wake_at)
            future.set_result(None)
