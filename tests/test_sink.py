"""ospack.sink: what a layer's BatchingSink reports while it runs (per layer, per run, the rate)."""

from __future__ import annotations

import pytest

from ospack.fetch import Tally, TileOutcome
from ospack.layers import get_layer
from ospack.sink import BatchingSink
from ospack.summary import PackageSummary
from ospack.testing import FakeClock
from ospack.types import Tile

LAYERS = ("Outdoor_27700", "Road_27700")


class Recorder:
    """Takes what a sink commits (a writer's two write calls)."""

    def __init__(self):
        self.tiles, self.absent = [], []

    def write(self, layer, tiles):
        self.tiles += [(layer, t) for t, _ in tiles]

    def record_absent(self, layer, tiles):
        self.absent += [(layer, t) for t in tiles]


def feed(sink, tally, clock, layer, kinds, gap=0.5):
    """The fetch's side: count each outcome into the tally, then hand it to the sink, ``gap`` s apart."""
    for x, kind in enumerate(kinds):
        clock.advance(gap)
        outcome = TileOutcome(Tile(7, x, 0), kind, data=b"png" if kind == "ok" else None, reason="r")
        tally.record(outcome, layer)
        sink(outcome)


def test_a_second_layer_reports_itself_and_the_whole_run():
    clock, writer = FakeClock(100.0), Recorder()
    summary = PackageSummary("x.gpkg", "gpkg", LAYERS)
    tally = summary.tally
    tally.first_request_at = 100.0
    seen = []
    first = BatchingSink(writer, get_layer(LAYERS[0]), summary, 4, seen.append, clock=clock, position=(1, 2), later=6)
    feed(first, tally, clock, LAYERS[0], ["ok", "ok", "absent", "failed"])
    first.close()
    assert (seen[-1].done, seen[-1].total, seen[-1].run_done, seen[-1].run_total) == (4, 4, 4, 10)
    second = BatchingSink(writer, get_layer(LAYERS[1]), summary, 6, seen.append, clock=clock, position=(2, 2))
    feed(second, tally, clock, LAYERS[1], ["ok", "failed", "ok"])
    second.close()
    p = seen[-1]
    assert (p.layer, p.layer_number, p.layer_count) == ("Road_27700", 2, 2)
    assert (p.done, p.total, p.written, p.absent, p.failed) == (3, 6, 2, 0, 1)  # this layer's, not the run's
    assert (p.run_done, p.run_failed, p.run_total) == (7, 2, 10)
    # 5 tiles stored or absent (failed ones are no progress): the first 0.5 s after the first request, the last 3.5 s
    assert p.rate_per_min == pytest.approx((5 - 1) / 3.5 * 60)
    assert len(writer.tiles) == 4 and len(writer.absent) == 1


def test_the_snapshot_shows_the_pause_and_the_retries_the_fetch_waits_for():
    clock = FakeClock(10.0)
    summary = PackageSummary("x.gpkg", "gpkg", LAYERS[:1])
    tally: Tally = summary.tally
    tally.retry_waits = {1: (18.0, "HTTP 503"), 2: (12.0, "request timed out")}
    sink = BatchingSink(Recorder(), get_layer(LAYERS[0]), summary, 10, None, clock=clock)
    p = sink.snapshot()
    assert (p.retrying, p.retry_s, p.retry_reason) == (2, 8.0, "request timed out")  # the soonest says why
    assert (p.paused_s, p.pause_reason, p.rate_per_min) == (0.0, None, 0.0)
    sink.close()
