"""Seeded, reproducible fault choice for tile requests.

Each tile request draws one number from a ``random.Random(seed)``; the faults'
probabilities are laid end to end in FAULT_NAMES order and the draw picks at
most one. The same seed and the same request order give the same faults.
``burst429`` starts a burst: that request and the next few (3-10, drawn from the
same generator) are answered 429.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

BURST_LENGTH = (3, 10)


class FaultInjector:
    """Decide which fault, if any, hits the next tile request."""

    def __init__(self, faults: Mapping[str, float], seed: int) -> None:
        self._faults = tuple(faults.items())
        self._seed = seed
        self.reset()

    @property
    def active(self) -> bool:
        """True where any fault has a non-zero probability."""
        return bool(self._faults)

    def reset(self) -> None:
        """Restart the random sequence from the seed and end any burst."""
        self._random = random.Random(self._seed)
        self._burst_left = 0

    def draw(self) -> str | None:
        """The fault for the next tile request, or None."""
        if self._burst_left:
            self._burst_left -= 1
            return "burst429"
        if not self._faults:
            return None
        roll = self._random.random()
        edge = 0.0
        for name, probability in self._faults:
            edge += probability
            if roll < edge:
                if name == "burst429":
                    self._burst_left = self._random.randint(*BURST_LENGTH) - 1
                return name
        return None

    def corrupt(self, body: bytes) -> bytes:
        """``body`` with its second half replaced by random bytes (PNG signature kept)."""
        half = max(len(body) // 2, 16)
        return body[:half] + self._random.randbytes(max(len(body) - half, 64))
