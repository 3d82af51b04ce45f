"""What a packaging run reports: progress snapshots while it runs, and the summary at the end."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .fetch.outcome import Tally, ZoomCounts, zoom_sum
from .summary_text import summary_text


@dataclass(frozen=True)
class Progress:
    """A snapshot handed to the progress callback while a job runs.

    ``done``, ``total``, ``written``, ``absent`` and ``failed`` are the current layer's; ``requests``,
    ``retries``, ``rate_limited``, the rate and the ``run_*`` figures are the whole run's (every layer).
    A failed tile has an outcome (it is in ``done``) but is no progress: the rate counts tiles
    stored or absent only.
    """

    layer: str
    #: tiles of this layer with an outcome so far: stored, absent or failed
    done: int
    total: int
    written: int
    absent: int
    failed: int
    requests: int
    retries: int
    rate_limited: int
    elapsed_s: float
    #: tiles stored or absent per minute, measured from the run's first request (see :class:`RateMeter`);
    #: 0.0 while there is no measure yet
    rate_per_min: float
    #: seconds the whole fetch still waits before its next request (a 429, an unreachable API), and why
    paused_s: float = 0.0
    pause_reason: str | None = None
    #: tiles waiting out a retry back-off (a 5xx, a timeout), seconds until the last is retried, and why
    retrying: int = 0
    retry_s: float = 0.0
    retry_reason: str | None = None
    #: this layer's place among the run's layers, from 1
    layer_number: int = 1
    layer_count: int = 1
    #: every layer of the run: tiles with an outcome, failed among them, and tiles to fetch (None: this layer's)
    run_done: int | None = None
    run_failed: int | None = None
    run_total: int | None = None
    #: in a batch: the site, its place among the sites from 1, and tiles in place / planned over every site
    site: str | None = None
    site_number: int = 1
    site_count: int = 1
    batch_done: int | None = None
    batch_total: int | None = None

    @property
    def all_done(self) -> int:
        """Tiles of the run with an outcome (every layer)."""
        return self.done if self.run_done is None else self.run_done

    @property
    def all_failed(self) -> int:
        return self.failed if self.run_failed is None else self.run_failed

    @property
    def all_total(self) -> int:
        return self.total if self.run_total is None else self.run_total

    @property
    def eta_s(self) -> float | None:
        """Seconds left: the pause still to wait, then the run's tiles left at the current rate.

        None while there is no rate yet; a tile waiting for its retry keeps the run going at least that long.
        """
        left = max(0, self.all_total - self.all_done)
        if left == 0:
            return 0.0
        if self.rate_per_min <= 0:
            return None
        return self.paused_s + max(left / self.rate_per_min * 60, self.retry_s)


#: how far back the rate looks once a run is older than that
RATE_WINDOW_S = 60.0
#: below this much running time the rate is not yet a measure (a tile or two over a fraction of a second)
RATE_MIN_S = 1.0


class RateMeter:
    """Tiles per minute over the last minute of a run, from its first request, paused time left out.

    Counting from the first *request* and leaving out the first tile is what keeps the
    first samples honest: ``n`` tiles done means at least ``n`` requests went out, the
    ``n``-th no sooner than ``n - 1`` paces after the first, so ``(n - 1) / time`` never
    exceeds the pace the limiter keeps, however fast the first answers came. Time the whole
    pool was paused (a 429, an unreachable API) is not running time: the rate is what the
    run does while it runs, and the pause is added to the ETA on its own.
    """

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        #: (time, tiles, paused seconds so far): the oldest is the window's base once the run is older
        self._samples: deque[tuple[float, int, float]] = deque()
        self._paused_total = 0.0
        self._last_seen = -math.inf
        self._paused_until = -math.inf

    def update(self, now: float, tiles: int, first_request_at: float | None, paused_s: float = 0.0) -> float:
        """Record that ``tiles`` (stored or absent, the run's) are done at ``now``; the rate per minute.

        ``paused_s`` is what the pool still waits at ``now``: the part of it that passes
        before the next update is left out of the running time.
        """
        if self._last_seen > -math.inf:
            self._paused_total += max(0.0, min(now, self._paused_until) - self._last_seen)
        self._last_seen, self._paused_until = now, now + paused_s
        if first_request_at is None:
            return 0.0
        samples = self._samples
        if not samples or now - samples[-1][0] >= 0.5:
            samples.append((now, tiles, self._paused_total))
        while len(samples) > 1 and samples[1][0] <= now - self.window_s:
            samples.popleft()
        start, base, paused_before = samples[0]
        if start > now - self.window_s or start <= first_request_at:
            # still in the first window: from the first request, whose tile is the one left out
            start, base, paused_before = first_request_at, 1, 0.0
        running = now - start - (self._paused_total - paused_before)
        if running < RATE_MIN_S or tiles <= base:
            return 0.0
        return (tiles - base) / running * 60


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
    #: per layer: tiles the file already held (stored or known absent) when this run began
    already_stored_by_layer: dict[str, int] = field(default_factory=dict)
    #: per layer: tiles a batch copied into this output from another site's before fetching (in ``tally``
    #: as written, and not among the tiles already stored)
    copied_by_layer: dict[str, int] = field(default_factory=dict)
    #: the run's tile rate for progress lines: one meter over every layer, so a new layer starts no new count
    meter: RateMeter = field(default_factory=RateMeter, repr=False, compare=False)

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def tiles_copied(self) -> int:
        """Tiles copied from another output of the batch instead of fetched (see :mod:`ospack.batch_run`)."""
        return sum(self.copied_by_layer.values())

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
    def layer_zooms(self) -> dict[str, dict[int, ZoomCounts]]:
        """Per layer, per zoom: tiles written, absent and failed (every layer of the job, in order)."""
        counted = self.tally.layers
        return {name: counted.get(name, {}) for name in self.layers} | counted

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

    @property
    def discovered_rate_per_min(self) -> float | None:
        """``--rate auto``: the rate the run settled at (or reached, with no 429); None otherwise."""
        limiter = self.tally.limiter
        return None if limiter is None else limiter.found_rate()

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
            "discovered_rate_per_min": None if (found := self.discovered_rate_per_min) is None else round(found, 1),
            "zooms": {str(z): t.to_dict() for z, t in sorted(self.zooms.items())},
            "per_layer": {name: self._layer_dict(name, self.layer_zooms.get(name, {})) for name in self.layers},
            "failures": self.failures[:50],
            "notes": self.notes,
            "attribution": self.attribution,
        }

    def _layer_dict(self, name: str, zooms: dict[int, ZoomCounts]) -> dict[str, Any]:
        total = zoom_sum(zooms)
        return {
            "tiles_already_stored": self.already_stored_by_layer.get(name, 0),
            "tiles_written": total.ok,
            "tiles_absent": total.absent,
            "tiles_failed": total.failed,
            "zooms": {str(z): t.to_dict() for z, t in sorted(zooms.items())},
        }
