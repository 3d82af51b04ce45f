"""The server's quota: per key, per API request budgets with three enforcement styles, read off a Clock.

OS documents only "600 transactions per minute per API per project (50 in
development mode); over it, 429" (docs.os.uk/os-apis/core-concepts/rate-limiting-policy), not how the
gateway counts. So the style is selectable:

``sliding``
    at most ``allowance`` accepted requests in any ``window`` seconds;
``fixed``
    at most ``allowance`` accepted requests per calendar window (the clock's
    time divided into ``window``-second slots, i.e. calendar minutes by default);
``spike``
    Apigee-style spike arrest: the minute's allowance spread evenly, so two
    accepted requests must be at least ``60 / per_minute`` seconds apart
    (less a reading tolerance, 2 ms unless configured, at most a tenth of the interval).

Only accepted requests count: refused ones do not extend the penalty. ``spend``
stands for another consumer of the same key taking whatever the budget has left.
"""

from __future__ import annotations

import math
from collections import deque

from ..clock import Clock
from .config import QuotaPolicy


class _Sliding:
    __slots__ = ("accepted", "allowance", "total", "window")

    def __init__(self, policy: QuotaPolicy) -> None:
        self.allowance = policy.allowance
        self.window = policy.window
        # (time, how many accepted then): a spend takes the rest of the budget as one entry
        self.accepted: deque[tuple[float, int]] = deque()
        self.total = 0

    def _expire(self, now: float) -> None:
        accepted = self.accepted
        horizon = now - self.window
        while accepted and accepted[0][0] <= horizon:
            self.total -= accepted.popleft()[1]

    def admit(self, now: float) -> bool:
        self._expire(now)
        if self.total >= self.allowance:
            return False
        self.accepted.append((now, 1))
        self.total += 1
        return True

    def spend(self, now: float) -> None:
        self._expire(now)
        if self.total < self.allowance:
            self.accepted.append((now, self.allowance - self.total))
            self.total = self.allowance


class _Fixed:
    __slots__ = ("allowance", "count", "slot", "window")

    def __init__(self, policy: QuotaPolicy) -> None:
        self.allowance = policy.allowance
        self.window = policy.window
        self.slot = -1
        self.count = 0

    def admit(self, now: float) -> bool:
        slot = math.floor(now / self.window)
        if slot != self.slot:
            self.slot, self.count = slot, 0
        if self.count >= self.allowance:
            return False
        self.count += 1
        return True

    def spend(self, now: float) -> None:
        self.admit(now)
        self.count = self.allowance


class _Spike:
    __slots__ = ("interval", "last")

    def __init__(self, policy: QuotaPolicy) -> None:
        self.interval = policy.interval - min(policy.spike_tolerance, policy.interval / 10)
        self.last: float | None = None

    def admit(self, now: float) -> bool:
        # a hair more so a client pacing at exactly the rate is not refused by float error
        if self.last is not None and now - self.last < self.interval * (1 - 1e-9):
            return False
        self.last = now
        return True

    def spend(self, now: float) -> None:
        self.last = now


_Bucket = _Sliding | _Fixed | _Spike
_STYLES: dict[str, type[_Bucket]] = {"sliding": _Sliding, "fixed": _Fixed, "spike": _Spike}


class Quota:
    """Admit or refuse requests per (key, api) budget.

    Parameters
    ----------
    clock : Clock
        Read with ``now()``: :class:`~ospack.clock.WallClock` in service (``fixed`` aligns to
        calendar minutes), :class:`~ospack.testing.FakeClock` in tests.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def admit(self, key: str, api: str, policy: QuotaPolicy) -> bool:
        """Count one request of ``key`` to ``api``; False where it is over the limit."""
        return self._bucket(key, api, policy).admit(self._clock.now())

    def spend(self, key: str, api: str, policy: QuotaPolicy) -> None:
        """Another consumer of ``key`` takes everything ``api``'s budget has left right now."""
        self._bucket(key, api, policy).spend(self._clock.now())

    def _bucket(self, key: str, api: str, policy: QuotaPolicy) -> _Bucket:
        bucket = self._buckets.get((key, api))
        if bucket is None:
            bucket = self._buckets[(key, api)] = _STYLES[policy.enforce](policy)
        return bucket

    def reset(self) -> None:
        """Forget every request counted so far."""
        self._buckets.clear()
