"""What a packaging run reports: progress snapshots while it runs, and the summary at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .summary_text import summary_text


@dataclass
class ZoomTally:
    """Tiles written, absent and failed at one zoom."""

    written: int = 0
    absent: int = 0
    failed: int = 0


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
    requests: int = 0
    premium_requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed_s: float = 0.0
    zooms: dict[int, ZoomTally] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tiles_written(self) -> int:
        return sum(t.written for t in self.zooms.values())

    @property
    def tiles_absent(self) -> int:
        return sum(t.absent for t in self.zooms.values())

    @property
    def tiles_failed(self) -> int:
        return sum(t.failed for t in self.zooms.values())

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
            "zooms": {str(z): vars(t).copy() for z, t in sorted(self.zooms.items())},
            "failures": self.failures[:50],
            "notes": self.notes,
        }
