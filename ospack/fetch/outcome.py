"""What a fetch reports: one outcome per tile and the run's statistics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
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


@dataclass
class ZoomCounts:
    """Tiles of one zoom by outcome."""

    ok: int = 0
    absent: int = 0
    failed: int = 0

    def copy(self) -> ZoomCounts:
        """The counts as they stand, apart from these (a tally alone counts into its own)."""
        return ZoomCounts(self.ok, self.absent, self.failed)

    def add(self, kind: OutcomeKind) -> None:
        """Count one outcome of ``kind``."""
        if kind == "ok":
            self.ok += 1
        elif kind == "absent":
            self.absent += 1
        else:
            self.failed += 1

    @property
    def written(self) -> int:
        """The tiles handed to the writer: the ok ones (the word a package summary uses)."""
        return self.ok

    def to_dict(self) -> dict[str, int]:
        """As a package summary's ``--json`` gives it."""
        return {"written": self.ok, "absent": self.absent, "failed": self.failed}


def zoom_sum(zooms: dict[int, ZoomCounts]) -> ZoomCounts:
    """The counts of every zoom added up."""
    return ZoomCounts(
        ok=sum(c.ok for c in zooms.values()),
        absent=sum(c.absent for c in zooms.values()),
        failed=sum(c.failed for c in zooms.values()),
    )


class _ZoomTotals(ABC):
    """Totals over every zoom: the same figures for a live tally and for its frozen figures."""

    @abstractmethod
    def totals(self) -> ZoomCounts:
        """The counts of every zoom added up."""

    @property
    def tiles_ok(self) -> int:
        """Tiles fetched as valid PNGs."""
        return self.totals().ok

    @property
    def tiles_absent(self) -> int:
        """Tiles the API does not have (400/404)."""
        return self.totals().absent

    @property
    def tiles_failed(self) -> int:
        """Tiles that could not be fetched."""
        return self.totals().failed

    @property
    def outcomes(self) -> int:
        """Tiles with an outcome, whatever it was."""
        totals = self.totals()
        return totals.ok + totals.absent + totals.failed


@dataclass(frozen=True)
class FetchStats(_ZoomTotals):
    """Figures of one fetch run: its tally as it stood at the end, and how long the run took.

    ``requests`` counts every request sent to the Maps API (retries and refused
    ones included, token requests not); ``rate_limited`` the 429s among them.
    A tally shared by several fetches (the layers of one package) gives their sum so far.
    """

    requests: int
    premium_requests: int
    retries: int
    rate_limited: int
    zooms: dict[int, ZoomCounts]
    elapsed_s: float
    stopped: bool = False
    failures: tuple[str, ...] = ()

    def totals(self) -> ZoomCounts:
        return zoom_sum(self.zooms)

    @property
    def achieved_rate_per_min(self) -> float:
        """Requests per minute over the run."""
        return self.requests / self.elapsed_s * 60.0 if self.elapsed_s > 0 else 0.0


class PauseSource(Protocol):
    def pause_status(self) -> tuple[float, str | None]: ...

    def found_rate(self) -> float | None: ...


class Tally(_ZoomTotals):
    """Every figure of a run, counted once, where it happens: the pool counts into it as requests
    go out and outcomes come back; progress lines read it live and a package summary holds it.

    ``failures`` names each failed tile (``"LAYER z/x/y: reason"``), all of them.
    """

    def __init__(self) -> None:
        #: the fetch's rate limiter, set by the pool: what the pool is waiting for, if anything
        self.limiter: PauseSource | None = None
        self.requests = 0
        self.premium_requests = 0
        self.retries = 0
        self.rate_limited = 0
        # counted only by record(): the totals are kept with the counts per zoom, since progress
        # reads them after every tile
        self._zooms: dict[int, ZoomCounts] = {}
        self._layers: dict[str, dict[int, ZoomCounts]] = {}
        self._total = ZoomCounts()
        self._layer_totals: dict[str, ZoomCounts] = {}
        self.failures: list[str] = []
        #: when the first request of the run went out (on the fetch's clock), None before it
        self.first_request_at: float | None = None
        #: tiles waiting out a retry back-off (a 5xx, a timeout): until when (fetch's clock) and why
        self.retry_waits: dict[int, tuple[float, str]] = {}

    def pause_status(self) -> tuple[float, str | None]:
        """Seconds the pool still waits and why, or ``(0.0, None)`` while it is not paused."""
        return (0.0, None) if self.limiter is None else self.limiter.pause_status()

    def retry_status(self, now: float) -> tuple[int, float, str | None]:
        """Tiles waiting to be retried, the seconds until the last of them is retried, and why the soonest waits."""
        if not self.retry_waits:
            return 0, 0.0, None
        waits = sorted(self.retry_waits.values())
        return len(waits), max(0.0, waits[-1][0] - now), waits[0][1]

    @property
    def zooms(self) -> dict[int, ZoomCounts]:
        """Counts per zoom, over every layer (read them; :meth:`record` alone counts)."""
        return self._zooms

    @property
    def layers(self) -> dict[str, dict[int, ZoomCounts]]:
        """The same counts per layer (``zooms`` is their sum), for a summary table per layer."""
        return self._layers

    def totals(self) -> ZoomCounts:
        return self._total.copy()

    def layer_totals(self, layer: str) -> ZoomCounts:
        """The counts of every zoom of ``layer`` added up (all zero before its first outcome)."""
        return self._layer_totals.get(layer, ZoomCounts()).copy()

    def record(self, outcome: TileOutcome, layer: str) -> None:
        """Count the outcome of one tile of ``layer``."""
        z = outcome.tile.z
        for counts in (
            self._zooms.setdefault(z, ZoomCounts()),
            self._layers.setdefault(layer, {}).setdefault(z, ZoomCounts()),
            self._total,
            self._layer_totals.setdefault(layer, ZoomCounts()),
        ):
            counts.add(outcome.kind)
        if outcome.kind == "failed":
            t = outcome.tile
            self.failures.append(f"{layer} {t.z}/{t.x}/{t.y}: {outcome.reason}")

    def freeze(self, elapsed_s: float, stopped: bool) -> FetchStats:
        """The figures as they stand, as a value that no longer changes."""
        return FetchStats(
            requests=self.requests,
            premium_requests=self.premium_requests,
            retries=self.retries,
            rate_limited=self.rate_limited,
            zooms={z: replace(c) for z, c in sorted(self.zooms.items())},
            elapsed_s=elapsed_s,
            stopped=stopped,
            failures=tuple(self.failures),
        )
