"""One rate limiter shared by every worker of a fetch.

The OS Maps API allows N transactions per minute per project and answers 429
beyond that; servers enforce it as a sliding window, a fixed window or a spike
arrest (the minute's allowance spread evenly, bursts refused). Pacing requests
evenly at slightly under N per window satisfies all three, and a guard over the
last N grants makes "never more than N in any window" hold even when pacing is
disturbed (pauses, slow-down changes).

A 429 means the window's allowance is spent, in real use mostly by another
consumer of the same key: the pool pauses (backing off from a short first pause)
but never past the end of the window that was spent, since by then the spent
requests have aged out; the first success restores the pace at once.
"""

from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .adaptive import AutoRate
from .clock import Clock, MonotonicClock
from .ledger import LocalSchedule, Schedule
from .settings import RatePolicy

#: share of the schedule's margin that two releases keep above 1/rate even when the first was late:
#: a spike-arrest server refuses any pair closer than 1/rate, and the time from release to the
#: server's reading of a request varies by a little; the rest of the margin lets lateness decay
_GAP_MARGIN_SHARE = 0.75
#: seconds added to every window boundary, so a server counting a closed window never sees N + 1
_EDGE = 1e-3


class RateLimiter:
    """Grant request slots: evenly paced, at most the policy's allowance in any window.

    Parameters
    ----------
    policy
        The allowance per window and the back-off (see :class:`~ospack.fetch.settings.RatePolicy`).
    clock
        Time source and sleeper; tests inject a fake one.
    rng
        Random source for jitter.
    schedule
        Where slots are booked: this limiter's own (default), or a
        :class:`~ospack.fetch.ledger.SharedLedger` that every run with the same key books on, so
        their sum keeps to the allowance. The limiter decides each slot's earliest time (pauses,
        the guard over its own last grants) and its gap (spacing, warm-up, slow-down); the
        schedule only places it after the last slot booked.
    """

    def __init__(
        self,
        policy: RatePolicy | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        policy = policy or RatePolicy()
        self.policy = policy
        self.clock = clock or MonotonicClock()
        self.schedule = schedule or LocalSchedule()
        #: the adaptive rate of ``--rate auto`` (None: the policy's rate holds)
        self.auto: AutoRate | None = None
        if policy.auto and policy.per_minute is not None:
            remembered = self.schedule.remembered_rate()
            self.auto = AutoRate(policy.per_minute, policy.window_s, start=remembered)
            self._pace(replace(policy, per_minute=round(self.auto.rate)))
        else:
            self._pace(policy)
        per = self.per
        self._last_release = -math.inf
        self._warmup = policy.warmup
        self.granted = 0
        self._base_backoff = per / 30 if policy.base_backoff_s is None else policy.base_backoff_s
        self._max_backoff = per / 4 if policy.max_backoff_s is None else policy.max_backoff_s
        self._max_slowdown = policy.max_slowdown
        self.max_retry_after = policy.max_retry_after_s
        self._rng = rng or random.Random()
        self._grants: deque[float] = deque()
        self._first_grant = math.inf
        self._paused_until = -math.inf
        self._pause_started = -math.inf
        self._slowdown = 1.0
        self._streak = 0
        self._streak_started = -math.inf
        self.pauses = 0
        self.pause_reason: str | None = None

    def __repr__(self) -> str:
        return f"RateLimiter(requests={self.requests}, per={self.per})"

    def _pace(self, policy: RatePolicy) -> None:
        """Space grants for ``policy``'s allowance (again, each time ``--rate auto`` moves the rate)."""
        self.requests, self.per = policy.allowance
        margin = policy.margin
        self._min_gap = 0.0 if self.requests is None else self.per / self.requests
        self._spacing = self._min_gap * (1.0 + margin)
        self._release_gap = self._min_gap * (1.0 + margin * _GAP_MARGIN_SHARE)
        self._warmup_spacing = self._min_gap * (1.0 + margin + policy.warmup_margin)

    def _follow(self, auto: AutoRate) -> None:
        self._pace(replace(self.policy, per_minute=round(auto.rate)))
        found = self.found_rate()
        if found is not None and (auto.peak is not None or auto.rate >= auto.ceiling):  # not mid slow start
            self.schedule.remember_rate(found)

    def found_rate(self) -> float | None:
        """``--rate auto``: the rate settled at after the last 429, else the highest reached (None: not auto)."""
        if self.auto is None:
            return None
        return self.auto.settled if self.auto.peak is not None and self.auto.settled else self.auto.rate

    # -- granting -------------------------------------------------------------------

    async def acquire(self) -> float:
        """Wait for a slot and return the time it was granted (on this limiter's clock)."""
        while True:
            now = self.clock.now()
            slot = self._reserve(now)
            if slot > now:
                await self.clock.sleep(slot - now)
            if slot >= self._paused_until:
                await self._keep_gap()
                return slot
            # a 429 paused the pool while we waited for a slot inside the pause: give it back
            if slot in self._grants:
                self._grants.remove(slot)

    async def _keep_gap(self) -> None:
        # Slots are planned ahead on an absolute schedule, but a waiter may wake
        # late (a busy event loop) and the next one on time: the two would leave
        # less than 1/rate apart, which a spike arrest refuses. Hold each release
        # a full 1/rate from the previous one; the schedule's margin absorbs the
        # lateness, so the average rate is kept unless wake-ups are late by more
        # than the margin at every step (at 6000/min the margin is only 0.15 ms).
        if self._min_gap <= 0:
            return
        while (wait := self._last_release + self._release_gap - self.clock.now()) > 0:
            await self.clock.sleep(wait)
        self._last_release = self.clock.now()

    def _reserve(self, now: float) -> float:
        slot = max(now, self._paused_until)
        if self.requests is not None:
            while self._grants and self._grants[0] < now - 2 * self.per:
                self._grants.popleft()
            if len(self._grants) >= self.requests:
                slot = max(slot, self._grants[-self.requests] + self.per + _EDGE)
            spacing = self._warmup_spacing if self.granted < self._warmup else self._spacing
            slot = self.schedule.book(slot, spacing * self._slowdown)
            self._grants.append(slot)
            self._first_grant = min(self._first_grant, slot)
        self.granted += 1
        return slot

    def slowdown(self) -> float:
        """Current spacing multiplier (1.0 = full rate): doubled by a 429, halved back by each success."""
        return self._slowdown

    # -- feedback from responses ----------------------------------------------------

    def rate_limited(self, granted_at: float, retry_after: float | None = None) -> float:
        """Record a 429 for a request granted at ``granted_at``; return the pool's pause in seconds.

        Requests granted before the current pause began belong to the same episode:
        they extend the pause to honour their ``Retry-After`` but do not back off further.
        """
        now = self.clock.now()
        if granted_at < self._pause_started:
            pause = 0.0 if retry_after is None else retry_after
        else:
            if self._streak == 0 or now >= self._streak_started + self.per:
                # a new streak, or a whole window of 429s: what was spent has aged out, start afresh
                self._streak, self._streak_started = 0, now
            self._streak += 1
            self.pauses += 1
            if retry_after is not None:
                pause = retry_after
            else:
                backoff = min(self._max_backoff, self._base_backoff * 2 ** (self._streak - 1))
                pause = min(backoff * self._rng.uniform(0.5, 1.0), self._streak_started + self.per - now)
            self._slowdown = min(self._max_slowdown, self._slowdown * 2.0)
            self._pause_started = now
            if self.auto is not None:
                # what the server let through lately: the grants of the last window (or of the run, if younger)
                span = min(self.per, now - self._first_grant)
                if self.auto.refused(now, sum(1 for t in self._grants if t > now - span), span):
                    self._follow(self.auto)
        if retry_after is not None:
            why = f"rate limited (HTTP 429), the API asked to wait {retry_after:.0f} s"
        else:
            why = "rate limited (HTTP 429): the key's allowance is spent, perhaps by another app using the same key"
        self.hold(pause, why)
        return max(0.0, self._paused_until - now)

    def succeeded(self) -> None:
        """Record a response that was not a 429: the back-off starts afresh and the pace comes back."""
        self._streak = 0
        self._slowdown = 1.0 + (self._slowdown - 1.0) / 2.0
        if self.auto is not None and self.auto.succeeded(self.clock.now()):
            self._follow(self.auto)

    def hold(self, seconds: float, reason: str) -> None:
        """Grant no slot for ``seconds`` from now, because of ``reason`` (shown while the pool waits)."""
        until = self.clock.now() + max(0.0, seconds)
        if until > self._paused_until:
            self._paused_until = until
            self.pause_reason = reason

    def pause_status(self) -> tuple[float, str | None]:
        """Seconds the pool still waits and why, or ``(0.0, None)`` when it is not paused."""
        left = self._paused_until - self.clock.now()
        return (left, self.pause_reason) if left > 0 else (0.0, None)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
