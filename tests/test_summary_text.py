"""ospack.summary_text: the text of a run's summary (PackageSummary.to_text) and durations."""

from __future__ import annotations

import pytest

from ospack.fetch import Tally, ZoomCounts
from ospack.summary import PackageSummary
from ospack.summary_text import FAILURES_LISTED, duration_text, summary_text


@pytest.mark.parametrize("seconds, text", [(None, "--"), (0, "0m00s"), (245.9, "4m05s"), (7620, "2h07m")])
def test_durations(seconds, text):
    assert duration_text(seconds) == text


def summary(zooms=None, failures=(), **changes):
    tally = Tally()  # the run's figures, as the fetch counts them
    tally.requests, tally.premium_requests, tally.retries, tally.rate_limited = 20, 2, 1, 4
    tally.zooms = {8: ZoomCounts(ok=5, absent=1), 7: ZoomCounts(ok=10, failed=2)} if zooms is None else zooms
    tally.failures = list(failures)
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
        "  15 written, 1 absent, 2 failed (3 already stored); 20 requests (2 premium), 1 retries, 4 rate-limited",
        "  2m00s elapsed, 10 requests/min",
    ]
    assert summary_text(summary()) == summary().to_text()


def test_the_summary_of_an_unfinished_run_lists_its_first_failures():
    failures = [f"tile 7/{x}/1: HTTP 500" for x in range(FAILURES_LISTED + 2)]
    lines = summary(complete=False, demo=False, zooms={}, failures=failures).to_text().splitlines()
    assert lines[0] == "peaks.gpkg: INCOMPLETE"
    assert lines[3:-1] == [f"  failed: {f}" for f in failures[:FAILURES_LISTED]]
    assert lines[-1] == "  … and 2 more failures (see --json)"
    assert summary(complete=False, interrupted=True).to_text().startswith("peaks.gpkg: interrupted, rerun to resume")
