"""ospack.summary: the run's tile rate (RateMeter), a progress snapshot's ETA, and the summary's per-layer data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ospack.fetch import Tally, TileOutcome
from ospack.fetch.outcome import zoom_sum
from ospack.summary import RATE_WINDOW_S, PackageSummary, Progress, RateMeter
from ospack.types import Tile


def paced(meter, per_min, seconds, *, start=0.0, first_request_at=0.0, tiles=0, latency=lambda k: 0.05):
    """Tiles done by a stream paced at ``per_min``, each ``latency(k)`` after its request; the rates seen."""
    gap, rates, k = 60 / per_min, [], 0
    while (sent := start + k * gap) < start + seconds:
        tiles += 1
        rates.append(meter.update(sent + latency(k), tiles, first_request_at))
        k += 1
    return rates, tiles


def test_the_first_samples_never_exceed_the_pace():
    meter = RateMeter()
    # the first answer is slow (a new connection), the next ones quick: their spacing looks short
    rates, _ = paced(meter, 120, 30.0, latency=lambda k: 0.4 if k == 0 else 0.01)
    assert rates[0] == 0.0  # one tile 0.4 s after the first request is no measure (it once read 150/min, or 669)
    assert max(rates) <= 120
    assert rates[-1] == pytest.approx(120, rel=0.05)


def test_ticks_between_tiles_do_not_raise_the_rate():
    meter = RateMeter()
    _, tiles = paced(meter, 120, 10.0)
    assert all(meter.update(10.0 + dt / 10, tiles, 0.0) <= 120 for dt in range(1, 20))


def test_failed_tiles_are_no_progress():
    tally = Tally()
    for x in range(500):  # every premium request refused at once: outcomes, but no tile
        tally.record(TileOutcome(Tile(14, x, 0), "failed", reason="HTTP 401"), "Outdoor_27700")
    meter = RateMeter()
    assert meter.update(0.1, tally.tiles_ok + tally.tiles_absent, 0.0) == 0.0
    assert meter.update(2.0, tally.tiles_ok + tally.tiles_absent, 0.0) == 0.0


def test_a_pause_is_not_running_time():
    meter = RateMeter()
    _, tiles = paced(meter, 120, 30.0)
    for second in range(40):  # paused 40 s: only the fetch's ticks, with the pause counting down
        meter.update(30.0 + second, tiles, 0.0, paused_s=40.0 - second)
    rates, _ = paced(meter, 120, 5.0, start=70.0, tiles=tiles)
    assert rates[-1] == pytest.approx(120, rel=0.1)  # not 120 × 35 / 75, as if the pause were the pace


def test_the_rate_follows_the_last_minute():
    meter = RateMeter()
    _, tiles = paced(meter, 600, 120.0)
    rates, _ = paced(meter, 60, 120.0, start=120.0, tiles=tiles)
    assert rates[-1] == pytest.approx(60, rel=0.05)  # the run slowed down: the whole run's mean (330) is past
    assert RATE_WINDOW_S == 60


def progress(**changes):
    fields = dict(layer="L", done=10, total=100, written=10, absent=0, failed=0, requests=10, retries=0)
    return Progress(**{**fields, "rate_limited": 0, "elapsed_s": 5.0, "rate_per_min": 120.0, **changes})


def test_the_eta_adds_what_is_left_of_the_pause():
    assert progress().eta_s == pytest.approx(45)
    assert progress(paused_s=42.0).eta_s == pytest.approx(87)
    assert progress(rate_per_min=0.0).eta_s is None
    assert progress(done=100).eta_s == 0.0


def test_the_eta_waits_for_the_last_retries():
    assert progress(done=99, retrying=1, retry_s=8.0).eta_s == pytest.approx(8.0)


def test_the_eta_of_several_layers_is_the_runs():
    assert progress(run_done=110, run_total=300).eta_s == pytest.approx(95)


def test_the_summary_keeps_figures_per_layer():
    tally = Tally()
    tally.record(TileOutcome(Tile(7, 1, 1), "ok", data=b"png"), "Outdoor_27700")
    tally.record(TileOutcome(Tile(7, 2, 1), "absent"), "Road_27700")
    tally.record(TileOutcome(Tile(8, 2, 1), "failed", reason="HTTP 500"), "Road_27700")
    s = PackageSummary("x.gpkg", "gpkg", ("Outdoor_27700", "Road_27700", "Leisure_27700"), tally=tally)
    s.already_stored_by_layer["Road_27700"] = 4
    data = s.to_dict()
    assert data["zooms"] == {
        "7": {"written": 1, "absent": 1, "failed": 0},
        "8": {"written": 0, "absent": 0, "failed": 1},
    }
    assert list(data["per_layer"]) == ["Outdoor_27700", "Road_27700", "Leisure_27700"]
    assert data["per_layer"]["Road_27700"] == {
        "tiles_already_stored": 4,
        "tiles_written": 0,
        "tiles_absent": 1,
        "tiles_failed": 1,
        "zooms": {"7": {"written": 0, "absent": 1, "failed": 0}, "8": {"written": 0, "absent": 0, "failed": 1}},
    }
    assert data["per_layer"]["Leisure_27700"]["zooms"] == {}


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.integers(0, 3), st.sampled_from(["ok", "absent", "failed"]))))
def test_the_tallys_running_totals_are_the_sums_of_its_zooms(outcomes):
    tally = Tally()
    for i, (layer, z, kind) in enumerate(outcomes):
        tally.record(TileOutcome(Tile(z, i, 0), kind, data=b"x" if kind == "ok" else None, reason="r"), layer)
    assert tally.totals() == zoom_sum(tally.zooms) == tally.freeze(1.0, False).totals()
    for layer in ("A", "B", "C"):
        assert tally.layer_totals(layer) == zoom_sum(tally.layers.get(layer, {}))
    assert tally.outcomes == len(outcomes)
    tally.totals().ok += 1000  # a copy: what a reader does to it does not change the count
    assert tally.tiles_ok == zoom_sum(tally.zooms).ok
