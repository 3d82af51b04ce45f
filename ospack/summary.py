"""What a packaging run reports: progress snapshots while it runs, and the summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fetch.outcome import Tally, ZoomCounts
from .summary_text import summary_text


@dataclass
class Progress:
    """A snapshot handed to the progress callback while a job runs."""

    layer: str
    done: int
    total: int
    written: int
    absent: int
    failed: int
    requests: int
    retries: int
    rate_limited: int
    elapsed_s: float
    rate_per_min: float
    #: seconds the fetch still waits before its next request (a 429, an unreachable API), and why
    paused_s: float = 0.0
    pause_reason: str | None = None

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate, or None before there is a rate."""
        if self.rate_per_min <= 0:
            return None
        return (self.total - self.done) / self.rate_per_min * 60


@dataclass
class PackageSummary:
    """What a packaging run did; ``to_dict()`` is the ``--json`` output."""

    output: str
    format: str
    layers: tuple[str, ...]
    complete: bool = False
    already_complete: bool = False
    interrupted: bool = False
    demo: bool = False
    tiles_planned: int = 0
    tiles_already_stored: int = 0
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: the statement to show with any map made from the file's tiles (the file records it too)
    attribution: str | None = None
    #: the run's figures, counted once by the fetch as they happen (every layer into this one)
    tally: Tally = field(default_factory=Tally, repr=False)

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def premium_requests(self) -> int:
        return self.tally.premium_requests

    @property
    def retries(self) -> int:
        return self.tally.retries

    @property
    def rate_limited(self) -> int:
        return self.tally.rate_limited

    @property
    def zooms(self) -> dict[int, ZoomCounts]:
        """Per zoom: tiles written, absent and failed."""
        return self.tally.zooms

    @property
    def failures(self) -> list[str]:
        """Every failed tile, ``"LAYER z/x/y: reason"``."""
        return self.tally.failures

    @property
    def tiles_written(self) -> int:
        return self.tally.tiles_ok

    @property
    def tiles_absent(self) -> int:
        return self.tally.tiles_absent

    @property
    def tiles_failed(self) -> int:
        return self.tally.tiles_failed

    @property
    def achieved_rate_per_min(self) -> float:
        return self.requests / self.elapsed_s * 60 if self.elapsed_s > 0 else 0.0

    def to_text(self) -> str:
        """The human summary printed at the end of every run."""
        return summary_text(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``; scripts rely on these keys."""
        return {
            "output": self.output,
            "format": self.format,
            "layers": list(self.layers),
            "complete": self.complete,
            "already_complete": self.already_complete,
            "interrupted": self.interrupted,
            "demo": self.demo,
            "tiles_planned": self.tiles_planned,
            "tiles_already_stored": self.tiles_already_stored,
            "tiles_written": self.tiles_written,
            "tiles_absent": self.tiles_absent,
            "tiles_failed": self.tiles_failed,
            "requests": self.requests,
            "premium_requests": self.premium_requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "elapsed_s": round(self.elapsed_s, 3),
            "achieved_rate_per_min": round(self.achieved_rate_per_min, 1),
            "zooms": {str(z): t.to_dict() for z, t in sorted(self.zooms.items())},
            "failures": self.failures[:50],
            "notes": self.notes,
            "attribution": self.attribution,
        }
