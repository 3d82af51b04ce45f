"""Request counters served at ``GET /__emulator__/stats``."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    """Counts of what the emulator answered since start or the last reset.

    ``requests`` counts every request to the OS paths (not ``/__emulator__``);
    ``by_key`` only requests that authenticated as a configured key (via key or token).
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

    def record(self, status: int, key: str | None) -> None:
        """Count one answered request."""
        self.requests += 1
        self.by_status[status] += 1
        if key is not None:
            self.by_key[key] += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready data (status codes as strings)."""
        return {
            "requests": self.requests,
            "by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "by_key": dict(sorted(self.by_key.items())),
            "tiles": self.tiles,
            "tokens": self.tokens,
            "faults": dict(sorted(self.faults.items())),
        }
