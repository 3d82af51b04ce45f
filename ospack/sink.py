"""The write end of a run: fetch outcomes batched into commits on one thread, and progress snapshots.

:func:`ospack.package` hands each layer's outcomes to a :class:`BatchingSink` as they complete.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .clock import Clock, MonotonicClock
from .fetch import TileOutcome
from .layers import Layer
from .summary import PackageSummary, Progress
from .types import Tile
from .writers import TileWriter

BATCH_TILES = 256  # tiles per write transaction: what a crash may lose at most
MAX_PENDING_COMMITS = 4  # batches queued for the disk at most: bounds memory when the disk is slower
BATCH_SECONDS = 1.0  # …or this long, so a paced job loses at most ~10 tiles (600/min) to a crash


class BatchingSink:
    """Takes fetch outcomes as they complete, commits them in batches, reports progress.

    It counts nothing itself: the fetch has counted each outcome into ``summary.tally``
    before handing it here, and progress is read from that tally.

    Commits run on one background thread: a batch write must not stall the event
    loop, or the requests released just after it would leave closer together than
    the rate allows and a spike-arrest server would refuse them.
    """

    def __init__(
        self,
        writer: TileWriter,
        layer: Layer,
        summary: PackageSummary,
        total: int,
        progress: Callable[[Progress], None] | None,
        *,
        clock: Clock | None = None,
        position: tuple[int, int] = (1, 1),
        later: int = 0,
    ) -> None:
        self.writer, self.layer, self.summary = writer, layer, summary
        self.total, self.progress = total, progress
        #: the fetch's clock: the rate is measured from the time it stamped the first request with
        self.clock = clock or MonotonicClock()
        #: (number of this layer from 1, layers in the run), and tiles the layers after this one still miss
        self.position, self.later = position, later
        self.tiles: list[tuple[Tile, bytes]] = []
        self.absent: list[Tile] = []
        self.started = self.clock.now()
        self.last_flush = time.monotonic()
        self._outcomes_before = summary.tally.outcomes  # the layers before this one
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ospack-commit")
        self._pending: deque[Future[None]] = deque()

    @property
    def done(self) -> int:
        """Tiles of this layer with an outcome so far."""
        return self.summary.tally.outcomes - self._outcomes_before

    def __call__(self, outcome: TileOutcome) -> None:
        if outcome.kind == "ok" and outcome.data is not None:
            self.tiles.append((outcome.tile, outcome.data))
        elif outcome.kind == "absent":
            self.absent.append(outcome.tile)
        if len(self.tiles) + len(self.absent) >= BATCH_TILES or time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush()
        if self.progress:
            self.progress(self.snapshot())

    def flush(self) -> None:
        """Hand what has arrived to the commit thread: one transaction, so a crash loses at most this batch.

        At most ``MAX_PENDING_COMMITS`` batches wait for the disk: when the writer falls behind
        the network (a self-hosted source, no rate limit) the loop waits here, so memory stays flat.
        """
        while self._pending and (self._pending[0].done() or len(self._pending) >= MAX_PENDING_COMMITS):
            self._pending.popleft().result()  # raises a failed commit's error, which stops the fetch
        if self.tiles or self.absent:
            self._pending.append(self._committer.submit(self._commit, self.tiles, self.absent))
            self.tiles, self.absent = [], []
        self.last_flush = time.monotonic()

    def close(self) -> None:
        """Commit the rest and wait for every commit; raise the first commit error."""
        try:
            self.flush()
        finally:
            self._committer.shutdown(wait=True)
        while self._pending:
            self._pending.popleft().result()

    def _commit(self, tiles: list[tuple[Tile, bytes]], absent: list[Tile]) -> None:
        if tiles:
            self.writer.write(self.layer.name, tiles)
        if absent:
            self.writer.record_absent(self.layer.name, absent)

    def snapshot(self) -> Progress:
        """The figures as they stand: this layer's, the run's, the rate and what the fetch waits for."""
        now, tally = self.clock.now(), self.summary.tally
        paused_s, pause_reason = tally.pause_status()
        retrying, retry_s, retry_reason = tally.retry_status(now)
        mine = tally.layer_totals(self.layer.name)
        fetched = tally.tiles_ok + tally.tiles_absent  # failed tiles are no progress
        rate = self.summary.meter.update(now, fetched, tally.first_request_at, paused_s)
        number, count = self.position
        return Progress(
            layer=self.layer.name,
            done=self.done,
            total=self.total,
            written=mine.ok,
            absent=mine.absent,
            failed=mine.failed,
            requests=tally.requests,
            retries=tally.retries,
            rate_limited=tally.rate_limited,
            elapsed_s=now - self.started,
            rate_per_min=rate,
            paused_s=paused_s,
            pause_reason=pause_reason,
            retrying=retrying,
            retry_s=retry_s,
            retry_reason=retry_reason,
            layer_number=number,
            layer_count=count,
            run_done=tally.outcomes,
            run_failed=tally.tiles_failed,
            run_total=self._outcomes_before + self.total + self.later,
        )
