"""Seeded, reproducible fault choice for tile requests.

Each tile request draws one number from a ``random.Random(seed)``; the faults'
probabilities are laid end to end in FAULT_NAMES order and the draw picks at
most one. The same seed and the same request order give the same faults.
``burst429`` answers 429 and starts a spell (handled by the app): for a while another
consumer of the key takes its whole budget, as in real use, where a 429 means the
project's window is spent.
"""

from __future__ import annotations

import random
from collections.abc import Mapping


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
        """Restart the random sequence from the seed."""
        self._random = random.Random(self._seed)

    def draw(self) -> str | None:
        """The fault for the next tile request, or None."""
        if not self._faults:
            return None
        roll = self._random.random()
        edge = 0.0
        for name, probability in self._faults:
            edge += probability
            if roll < edge:
                return name
        return None

    def corrupt(self, body: bytes) -> bytes:
        """``body`` with its second half replaced by random bytes (PNG signature kept)."""
        half = max(len(body) // 2, 16)
        return body[:half] + self._random.randbytes(max(len(body) - half, 64))
