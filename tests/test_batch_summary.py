"""ospack.batch_summary: the per-site table, the totals and the --json of a batch run."""

from __future__ import annotations

from ospack.batch_source import BadFeature
from ospack.batch_summary import POLICY, BatchSummary, SiteResult
from ospack.fetch import TileOutcome
from ospack.summary import PackageSummary
from ospack.types import Tile


def done(name: str, written: int, requests: int, *, complete: bool = True) -> PackageSummary:
    summary = PackageSummary(output=f"out/{name}.gpkg", format="gpkg", layers=("Outdoor_27700",), complete=complete)
    for x in range(written):
        summary.tally.record(TileOutcome(Tile(9, x, 0), "ok"), "Outdoor_27700")
    summary.tally.requests = requests
    summary.tiles_planned = written
    return summary


def batch() -> BatchSummary:
    sites = [
        SiteResult(0, "a", "out/a.gpkg", done("a", 10, 10)),
        SiteResult(1, "b", "out/b.gpkg", done("b", 8, 3), shared=5),
        SiteResult(2, "c", "out/c.gpkg", error="out/c.gpkg is not a readable SQLite file"),
        SiteResult(4, "e", "out/e.gpkg"),
    ]
    return BatchSummary(sites, (BadFeature(3, "d/x", "the name holds a path separator"),), elapsed_s=2.0)


def test_statuses_and_totals():
    summary = batch()
    assert [site.status for site in summary.sites] == ["complete", "complete", "failed", "not started"]
    assert not summary.complete
    totals = summary.totals()
    assert totals["requests"] == 13 and totals["requests_saved"] == 5 and totals["tiles_written"] == 18
    assert (totals["complete"], totals["failed"], totals["not_started"], totals["skipped"]) == (2, 1, 1, 1)
    assert totals["achieved_rate_per_min"] == 390.0


def test_the_json_lists_each_output_with_its_summary_and_the_totals():
    data = batch().to_dict()
    assert [o["site"] for o in data["outputs"]] == ["a", "b", "c", "e"]
    assert data["outputs"][1]["tiles_shared"] == 5 and data["outputs"][1]["requests"] == 3
    assert data["outputs"][2] == {
        "index": 2,
        "site": "c",
        "status": "failed",
        "tiles_shared": 0,
        "output": "out/c.gpkg",
        "complete": False,
        "error": "out/c.gpkg is not a readable SQLite file",
    }
    assert data["skipped"] == [{"index": 3, "name": "d/x", "reason": "the name holds a path separator"}]
    assert data["policy"] == POLICY and data["complete"] is False


def test_the_text_is_a_table_of_the_sites_then_the_totals_and_the_skipped():
    text = batch().to_text().splitlines()
    assert text[0] == "batch of 4 sites: INCOMPLETE"
    assert text[2].split() == ["a", "complete", "10", "0", "0", "0", "10"]
    assert text[3].split() == ["b", "complete", "8", "0", "0", "5", "3"]
    assert "not a readable SQLite file" in text[5]
    assert "2 of 4 complete, 1 failed, 1 skipped; 13 requests, 5 saved by tiles shared between sites" in text[7]
    assert text[8] == "  skipped feature 3 'd/x': the name holds a path separator"
    assert POLICY in text[9]
