"""What a fetch reports: one outcome per tile and the run's statistics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from ..types import Tile

OutcomeKind = Literal["ok", "absent", "failed"]


@dataclass(frozen=True)
class TileOutcome:
    """The end of one tile's fetch.

    ``kind`` is ``"ok"`` with the PNG bytes in ``data``; ``"absent"`` when the API
    has no such tile (400/404); ``"failed"`` with ``reason`` when it could not be
    fetched (then ``data`` is None and the tile must not be written).
    """

    tile: Tile
    kind: OutcomeKind
    data: bytes | None = field(default=None, repr=False)
    reason: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class ZoomCounts:
    """Tiles of one zoom by outcome."""

    ok: int = 0
    absent: int = 0
    failed: int = 0


@dataclass(frozen=True)
class FetchStats:
    """Figures of one fetch run.

    ``requests`` counts every request sent to the Maps API (retries and refused
    ones included, token requests not); ``rate_limited`` the 429s among them.
    """

    requests: int
    premium_requests: int
    retries: int
    rate_limited: int
    zooms: dict[int, ZoomCounts]
    elapsed_s: float
    stopped: bool = False
    failures: tuple[TileOutcome, ...] = ()

    @property
    def tiles_ok(self) -> int:
        """Tiles fetched as valid PNGs."""
        return sum(c.ok for c in self.zooms.values())

    @property
    def tiles_absent(self) -> int:
        """Tiles the API does not have (400/404)."""
        return sum(c.absent for c in self.zooms.values())

    @property
    def tiles_failed(self) -> int:
        """Tiles that could not be fetched."""
        return sum(c.failed for c in self.zooms.values())

    @property
    def achieved_rate_per_min(self) -> float:
        """Requests per minute over the run."""
        return self.requests / self.elapsed_s * 60.0 if self.elapsed_s > 0 else 0.0


class PauseSource(Protocol):
    def pause_status(self) -> tuple[float, str | None]: ...


class StatsRecorder:
    """Mutable tally behind :class:`FetchStats`; keeps a bounded sample of failures."""

    max_failures_kept = 100

    def __init__(self) -> None:
        #: the fetch's rate limiter, set by the pool: what the pool is waiting for, if anything
        self.limiter: PauseSource | None = None
        self.requests = 0
        self.premium_requests = 0
        self.retries = 0
        self.rate_limited = 0
        self._zooms: dict[int, list[int]] = {}
        self._failures: list[TileOutcome] = []

    def pause_status(self) -> tuple[float, str | None]:
        """Seconds the pool still waits and why, or ``(0.0, None)`` while it is not paused."""
        return (0.0, None) if self.limiter is None else self.limiter.pause_status()

    @property
    def tiles_ok(self) -> int:
        """Tiles fetched so far."""
        return sum(c[0] for c in self._zooms.values())

    def record(self, outcome: TileOutcome) -> None:
        counts = self._zooms.setdefault(outcome.tile.z, [0, 0, 0])
        counts[("ok", "absent", "failed").index(outcome.kind)] += 1
        if outcome.kind == "failed" and len(self._failures) < self.max_failures_kept:
            self._failures.append(outcome)

    def freeze(self, elapsed_s: float, stopped: bool) -> FetchStats:
        return FetchStats(
            requests=self.requests,
            premium_requests=self.premium_requests,
            retries=self.retries,
            rate_limited=self.rate_limited,
            zooms={z: ZoomCounts(*c) for z, c in sorted(self._zooms.items())},
            elapsed_s=elapsed_s,
            stopped=stopped,
            failures=tuple(self._failures),
        )
