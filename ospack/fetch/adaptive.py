"""``--rate auto``: find the rate a key is really allowed, from the 429s, as TCP finds a path's capacity.

The OS documents 600 transactions a minute (50 in development) and does not say what a
transaction is; one public record of its 2020 plans page counts a Maps API transaction as a
map view of 15 tiles. Nobody can check that without a live key, so this mode measures instead:

* **slow start**: from the documented limit (or the rate a previous run with the key settled
  at, kept in the shared ledger), the rate grows ×``SLOW_START`` every ``step`` (a sixth of
  the window) without a 429;
* **cut**: at a 429 the rate drops to ``SETTLE`` × the lower of the rate then and the rate the
  limiter's own grants in the last window show (a sliding window refuses once the window's
  count is spent, which may be well after the rate passed the limit), and stays there for
  ``HOLD_WINDOWS`` windows;
* **probe**: then it grows again, ×``RECOVER`` a step while far below the rate of the last
  429, ×``PROBE`` a step near it, so a limit that rose is found and 429s stay rare (one
  episode every few minutes);
* never above ``CEILING`` × the documented limit.
"""

from __future__ import annotations

import math

#: never faster than this many times the documented limit (15: the tiles of one "map view")
CEILING = 15.0
#: growth a step before the first 429 (×1.25 a tenth of a minute: 4× the documented in ~1 min)
SLOW_START = 1.25
#: share of the rate found at a 429 to settle at
SETTLE = 0.97
#: windows to hold the settled rate before probing again
HOLD_WINDOWS = 2.0
#: growth a step while below RECOVER_BELOW × the rate of the last 429, and near it
RECOVER = 1.1
RECOVER_BELOW = 0.9
PROBE = 1.01
#: steps a window
STEPS = 6


class AutoRate:
    """The rate (requests a minute) an adaptive limiter keeps, moved by successes and 429s.

    Parameters
    ----------
    documented
        The documented limit: where the search starts without a remembered rate, and the
        measure of the ceiling.
    window_s
        The server's assumed accounting window (a minute for the OS API).
    start
        A rate a previous run settled at (from the shared ledger), if any.
    """

    def __init__(self, documented: float, window_s: float, *, start: float | None = None) -> None:
        self.documented = documented
        self.ceiling = documented * CEILING
        self.window_s = window_s
        self.step_s = window_s / STEPS
        self.rate = self._clamp(start or documented)
        #: the rate when the last 429 came (None: none yet, still in slow start)
        self.peak: float | None = None
        #: the rate settled at after the last 429 (what a next run starts from)
        self.settled: float | None = start
        self._step_started: float | None = None
        self._hold_until = -math.inf
        #: the highest rate delivered over a whole window at one rate without a 429: under the limit
        #: whatever the server's style (sliding, fixed or spike arrest)
        self.proven = 0.0
        self._period_start: float | None = None
        self._period_count = 0
        #: the rate before the last step up, which ran a whole step without a 429 (0: none since the last 429)
        self.held = 0.0

    def __repr__(self) -> str:
        return f"AutoRate(rate={self.rate:.0f}, peak={self.peak}, ceiling={self.ceiling:.0f})"

    def _clamp(self, rate: float) -> float:
        return min(self.ceiling, max(1.0, rate))

    def succeeded(self, now: float) -> bool:
        """A request was answered (not 429) at ``now``; True when the rate grew."""
        if self._period_start is None:
            self._period_start, self._period_count = now, 0
        self._period_count += 1
        if now >= self._period_start + self.window_s:
            self.proven = max(self.proven, self._period_count * 60.0 / (now - self._period_start))
        if self._step_started is None or now < self._hold_until:
            self._step_started = max(now, self._hold_until)
            return False
        if now < self._step_started + self.step_s or self.rate >= self.ceiling:
            return False
        self._step_started = now
        if self.peak is None:
            factor = SLOW_START
        else:
            factor = RECOVER if self.rate < RECOVER_BELOW * self.peak else PROBE
        self.held = self.rate
        self.rate = self._clamp(self.rate * factor)
        self._period_start = None
        return True

    def refused(self, now: float, granted: int, span_s: float) -> bool:
        """A 429 came at ``now``, after ``granted`` grants in the last ``span_s`` seconds (at most a window).

        True when the rate fell.
        """
        shown = min(self.rate, granted * 60.0 / span_s) if granted > 1 and span_s > 0 else self.rate
        # A sliding window refuses once its count is spent: the count shows the limit. A spike arrest
        # refuses the first request too close to the last, while the window still shows the slower
        # rates before it: there the rate of the last step, which held, shows the limit better.
        settle = self._clamp(max(SETTLE * shown, min(max(self.proven, self.held), self.rate)))
        self._period_start = None
        self.held = 0.0
        self._hold_until = now + HOLD_WINDOWS * self.window_s
        self._step_started = None
        if self.peak is None or settle < self.rate:
            self.peak = self.rate
        if settle >= self.rate:
            return False
        self.rate = self.settled = settle
        return True
