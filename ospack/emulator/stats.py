"""Request counters served at ``GET /__emulator__/stats``."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

#: arrival times kept per key: enough to measure the rate of a test's run as the server saw it
ARRIVALS_KEPT = 2000


class Stats:
    """Counts of what the emulator answered since start or the last reset.

    ``requests`` counts every request to the OS paths (not ``/__emulator__``);
    ``by_key`` only requests that authenticated as a configured key (via key or token);
    ``arrivals`` when the quota judged each of the last ``ARRIVALS_KEPT`` Maps API requests per
    key, oldest first (emulator clock): the rate a run kept as the server saw it, free of the
    run's start-up and finish.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests = 0
        self.tiles = 0
        self.tokens = 0
        self.by_status: Counter[int] = Counter()
        self.by_key: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.arrivals: dict[str, deque[float]] = {}

    def record(self, status: int, key: str | None) -> None:
        """Count one answered request."""
        self.requests += 1
        self.by_status[status] += 1
        if key is not None:
            self.by_key[key] += 1

    def arrived(self, key: str, at: float) -> None:
        """Note when the quota judged a Maps API request of ``key`` (accepted or refused)."""
        self.arrivals.setdefault(key, deque(maxlen=ARRIVALS_KEPT)).append(at)

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready data (status codes as strings)."""
        return {
            "requests": self.requests,
            "by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "by_key": dict(sorted(self.by_key.items())),
            "tiles": self.tiles,
            "tokens": self.tokens,
            "faults": dict(sorted(self.faults.items())),
            "arrivals": {key: list(times) for key, times in sorted(self.arrivals.items())},
        }
