"""Time as a dependency: the downloader paces and waits, and the emulator counts quotas, through a Clock.

Tests pass :class:`ospack.testing.FakeClock`, whose ``sleep`` moves time forward at once, so
pacing, pauses, back-off, quotas and token expiry are checked without real waiting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Seconds that never go back, and a way to wait on them."""

    def now(self) -> float:
        """Seconds as a float, on a scale that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (non-positive: just yield to the event loop)."""
        ...


class MonotonicClock:
    """The downloader's clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class WallClock(MonotonicClock):
    """The emulator's clock: wall time, so ``fixed`` quota windows align with calendar minutes."""

    def now(self) -> float:
        return time.time()
