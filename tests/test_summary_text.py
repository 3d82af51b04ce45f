"""ospack.summary_text: the text of a run's summary (PackageSummary.to_text) and durations."""

from __future__ import annotations

import pytest

from ospack.fetch import Tally, TileOutcome, ZoomCounts
from ospack.summary import PackageSummary
from ospack.summary_text import ABSENT_MEANS, FAILURES_LISTED, counted, duration_text, summary_text
from ospack.types import Tile


@pytest.mark.parametrize("seconds, text", [(None, "--"), (0, "0m00s"), (245.9, "4m05s"), (7620, "2h07m")])
def test_durations(seconds, text):
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    "n, noun, text",
    [
        (1, "tile", "1 tile"),
        (2, "tile", "2 tiles"),
        (0, "tile", "0 tiles"),
        (1, "retry", "1 retry"),
        (3, "retry", "3 retries"),
        (1_234, "request", "1,234 requests"),
        (1, "more failure", "1 more failure"),
    ],
)
def test_counts_take_their_nouns_in_the_right_number(n, noun, text):
    assert counted(n, noun) == text


def summary(zooms=None, failures=(), **changes):
    tally = Tally()  # the run's figures, as the fetch counts them
    tally.requests, tally.premium_requests, tally.retries, tally.rate_limited = 20, 2, 1, 4
    zooms = {8: ZoomCounts(ok=5, absent=1), 7: ZoomCounts(ok=10, failed=2)} if zooms is None else zooms
    for z, counts in zooms.items():
        kinds = ["ok"] * counts.ok + ["absent"] * counts.absent + ["failed"] * counts.failed
        for x, kind in enumerate(kinds):
            tally.record(TileOutcome(Tile(z, x, 0), kind, data=b"png" if kind == "ok" else None), "Outdoor_27700")
    tally.failures = list(failures)  # the failures as given (recording named the failed tiles above)
    fields = dict(
        output="peaks.gpkg",
        format="gpkg",
        layers=("Outdoor_27700",),
        complete=True,
        demo=True,
        tiles_already_stored=3,
        elapsed_s=120.0,
        tally=tally,
    )
    return PackageSummary(**{**fields, **changes})


def test_the_summary_text():
    assert summary().to_text().splitlines() == [
        "peaks.gpkg: complete (demo data from the emulator)",
        "  zoom  written  absent  failed",
        "     7       10       0       2",
        "     8        5       1       0",
        "  15 written, 1 absent, 2 failed (3 already stored); 20 requests (2 premium), 1 retry, 4 rate-limited (429)",
        f"  {ABSENT_MEANS}",
        "  2m00s elapsed, 10 requests/min",
    ]
    assert ABSENT_MEANS.startswith("absent: tiles the API has no data for") and "coverage" in ABSENT_MEANS
    assert summary_text(summary()) == summary().to_text()


def test_the_summary_of_an_unfinished_run_lists_its_first_failures():
    failures = [f"tile 7/{x}/1: HTTP 500" for x in range(FAILURES_LISTED + 2)]
    lines = summary(complete=False, demo=False, zooms={}, failures=failures).to_text().splitlines()
    assert lines[0] == "peaks.gpkg: INCOMPLETE"
    assert lines[3:-1] == [f"  failed: {f}" for f in failures[:FAILURES_LISTED]]
    assert lines[-1] == "  … and 2 more failures (see --json)"
    one_more = summary(complete=False, zooms={}, failures=failures[: FAILURES_LISTED + 1]).to_text()
    assert one_more.endswith("  … and 1 more failure (see --json)")
    assert ABSENT_MEANS not in one_more  # said only when a tile was absent
    assert summary(complete=False, interrupted=True).to_text().startswith("peaks.gpkg: interrupted, rerun to resume")


def test_the_summary_of_several_layers_has_a_table_per_layer():
    tally = Tally()
    for layer, x, kind in [("Outdoor_27700", 1, "ok"), ("Outdoor_27700", 2, "ok"), ("Road_27700", 1, "absent")]:
        tally.record(TileOutcome(Tile(7, x, 0), kind, data=b"png" if kind == "ok" else None), layer)
    tally.record(TileOutcome(Tile(8, 1, 0), "failed", reason="HTTP 500"), "Road_27700")
    tally.requests = 1
    lines = summary(layers=("Outdoor_27700", "Road_27700"), tally=tally).to_text().splitlines()
    assert lines[1:7] == [
        "  layer          zoom  written  absent  failed",
        "  Outdoor_27700     7        2       0       0",
        "  Outdoor_27700   all        2       0       0",
        "  Road_27700        7        0       1       0",
        "  Road_27700        8        0       0       1",
        "  Road_27700      all        0       1       1",
    ]
    assert lines[7].startswith("  2 written, 1 absent, 1 failed (3 already stored); 1 request (0 premium), 0 retries")
