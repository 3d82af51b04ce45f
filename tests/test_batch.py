"""ospack.batch and ospack.batch_run: a batch planned once, run through one session, shared tiles fetched once."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
import shapely
from batch_sites import squares, write_gpkg

import ospack
from ospack.cover import cover
from ospack.errors import LargeJobError, PremiumNotAllowedError, UsageError
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy, TileOutcome
from ospack.inspect import verify
from ospack.layers import get_layer
from ospack.types import Tile

LAYER = "Outdoor_27700"
ZOOMS = "0-9"
UNPACED = FetchSettings(rate=RatePolicy.unpaced(), workers=2)


# the sites' own tiles, which these tests count against cover(); test_a_batch_shares_its_context_tiles has the context
def plan_batch(*args, **options):
    return ospack.plan_batch(*args, **{"context": 0, **options})


def package_batch(*args, **options):
    return ospack.package_batch(*args, **{"context": 0, **options})


def union_of_covers(batch) -> int:
    """Distinct tiles over every site's cover: what a batch that fetches each shared tile once requests."""
    layer = get_layer(LAYER)
    keys = {(t.z, t.x, t.y) for s in batch.sites for t in cover(s.plan.area, layer, range(10))}
    return len(keys)


def run(batch_source, tmp_path, emulator, **options):
    return package_batch(
        batch_source,
        "name",
        str(tmp_path / "out" / "{name}.gpkg"),
        layers=LAYER,
        zooms=ZOOMS,
        settings=options.pop("settings", UNPACED),
        api=ApiAccess(url=emulator.url, key="demo"),
        **options,
    )


def test_the_plan_counts_each_site_and_the_requests_sharing_saves(tmp_path):
    batch = plan_batch(write_gpkg(tmp_path / "s.gpkg", squares(3, 2)), "name", "out/{name}.gpkg", LAYER, ZOOMS)
    assert [s.name for s in batch.sites] == ["s00", "s01", "s10", "s11", "s20", "s21"]
    assert str(batch.sites[0].output) == "out/s00.gpkg"
    assert batch.sites[0].plan.tiles() == sum(1 for _ in cover(batch.sites[0].plan.area, get_layer(LAYER), range(10)))
    assert batch.saved(0) == 0  # the first site shares with no earlier one
    assert batch.requests == union_of_covers(batch) < batch.tiles()
    assert batch.saved() == batch.tiles() - union_of_covers(batch)
    totals = batch.to_dict()["total"]
    assert totals["requests"] + totals["requests_saved"] == totals["tiles"] == batch.tiles()
    assert f"{batch.saved():,} requests saved by tiles shared between sites" in batch.to_text()


def test_the_output_must_name_the_field_and_a_site_outside_the_grid_is_skipped(tmp_path):
    features = [*squares(1, 1), ("far", shapely.box(-3e6, -3e6, -2.99e6, -2.99e6))]
    path = write_gpkg(tmp_path / "s.gpkg", features)
    with pytest.raises(UsageError, match=r"put \{name\} in -o"):
        plan_batch(path, "name", "out/site.gpkg", LAYER, ZOOMS)
    batch = plan_batch(path, "name", "{name}.gpkg", LAYER, ZOOMS)
    assert [s.name for s in batch.sites] == ["s00"]
    ((index, name),) = [(b.index, b.name) for b in batch.skipped]
    assert (index, name) == (1, "far")
    with pytest.raises(UsageError, match=r"no feature .* can be packaged"):
        plan_batch(write_gpkg(tmp_path / "f.gpkg", features[1:]), "name", "{name}.gpkg", LAYER, ZOOMS)


def test_shared_tiles_are_fetched_once_and_every_output_is_complete(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 2))
    batch = plan_batch(source, "name", str(tmp_path / "out" / "{name}.gpkg"), LAYER, ZOOMS)
    summary = run(source, tmp_path, fast_emulator)
    assert summary.complete and summary.to_dict()["complete"]
    assert fast_emulator.stats()["requests"] == union_of_covers(batch) == batch.requests
    # estimate == package: per site the plan's tiles, in all the plan's requests and savings
    for planned, done in zip(batch.sites, summary.sites, strict=True):
        assert done.summary is not None
        assert done.summary.tiles_planned == planned.plan.tiles() == done.summary.tiles_written
        assert verify(planned.output).ok
    totals = summary.totals()
    assert totals["requests"] == batch.requests and totals["requests_saved"] == batch.saved()
    assert [site.shared for site in summary.sites] == [batch.saved(i) for i in range(len(batch.sites))]


def test_a_rerun_of_a_complete_batch_makes_no_request(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(2, 1))
    run(source, tmp_path, fast_emulator)
    before = fast_emulator.stats()["requests"]
    again = run(source, tmp_path, fast_emulator)
    assert again.complete and fast_emulator.stats()["requests"] == before
    assert [site.status for site in again.sites] == ["already complete", "already complete"]


def test_a_half_done_batch_resumes_without_fetching_any_tile_twice(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 2))
    batch = plan_batch(source, "name", str(tmp_path / "out" / "{name}.gpkg"), LAYER, ZOOMS)
    stop = threading.Event()
    seen = []

    def stop_midway(p):
        seen.append(p)
        if p.batch_done >= batch.tiles() // 2:
            stop.set()

    first = run(
        source,
        tmp_path,
        fast_emulator,
        settings=FetchSettings(rate=RatePolicy.unpaced(), workers=1),
        progress=stop_midway,
        stop_event=stop,
    )
    assert first.interrupted and not first.complete
    statuses = [site.status for site in first.sites]
    assert "complete" in statuses and "interrupted" in statuses and "not started" in statuses
    assert {p.site_count for p in seen} == {6} and seen[-1].batch_total == batch.tiles()
    again = run(source, tmp_path, fast_emulator)
    assert again.complete
    assert fast_emulator.stats()["requests"] == union_of_covers(batch)  # no tile fetched twice, over both runs
    assert again.sites[0].status == "already complete"


def test_one_site_failing_does_not_stop_the_others(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 1))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "s10.gpkg").write_bytes(b"not a package at all")
    summary = run(source, tmp_path, fast_emulator)
    assert [site.status for site in summary.sites] == ["complete", "failed", "complete"]
    assert not summary.complete and "s10.gpkg" in (summary.sites[1].error or "")
    assert summary.to_dict()["totals"]["failed"] == 1


def test_premium_zooms_are_refused_for_the_whole_batch_before_any_request(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(2, 1))
    with pytest.raises(PremiumNotAllowedError):
        package_batch(
            source,
            "name",
            str(tmp_path / "{name}.gpkg"),
            layers=LAYER,
            zooms="9-10",
            settings=UNPACED,
            api=ApiAccess(url=fast_emulator.url, key="demo"),
        )
    assert fast_emulator.stats()["requests"] == 0
    assert not list(tmp_path.glob("s[0-9]*.gpkg"))


def test_donations_name_the_first_earlier_site_with_the_tile(tmp_path):
    batch = plan_batch(write_gpkg(tmp_path / "s.gpkg", squares(2, 1)), "name", "{name}.gpkg", LAYER, ZOOMS)
    layer = get_layer(LAYER)
    for (name, z), donated in batch.shared[1].items():
        width = layer.grid.pyramid_size(z)[0]
        first = {t.y * width + t.x for t in cover(batch.sites[0].plan.area, layer, [z])}
        second = {t.y * width + t.x for t in cover(batch.sites[1].plan.area, layer, [z])}
        assert name == LAYER and set(donated.keys.tolist()) == first & second
        assert np.all(donated.donors == 0)


def test_a_batch_huge_in_all_is_refused_before_any_request(tmp_path, fast_emulator, monkeypatch):
    estimate_module = sys.modules["ospack.estimate"]  # `ospack.estimate` is the function
    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 1))
    batch = plan_batch(source, "name", str(tmp_path / "{name}.gpkg"), LAYER, ZOOMS)
    # each site is under the limit, the batch's requests together are not
    monkeypatch.setattr(estimate_module, "CONSENT_TILES", batch.requests - 1)
    assert all(s.plan.tiles() < batch.requests - 1 for s in batch.sites)
    with pytest.raises(LargeJobError, match=f"{batch.requests:,} tiles to fetch"):
        run(source, tmp_path, fast_emulator)
    assert fast_emulator.stats()["requests"] == 0


def test_a_batch_into_mbtiles_shares_tiles_too(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(2, 1))
    template = str(tmp_path / "{name}.mbtiles")
    batch = plan_batch(source, "name", template, "Outdoor_3857", "7-13")
    summary = package_batch(source, "name", template, layers="Outdoor_3857", zooms="7-13", settings=UNPACED,
                            api=ApiAccess(url=fast_emulator.url, key="demo"))  # fmt: skip
    assert summary.complete and batch.saved() > 0
    assert fast_emulator.stats()["requests"] == batch.requests
    assert all(verify(s.output).ok for s in batch.sites)


def test_batch_progress_counts_the_batch_and_keeps_one_rate_across_sites(tmp_path):
    from ospack.batch_run import BatchProgress
    from ospack.batch_summary import SiteResult
    from ospack.summary import PackageSummary, Progress
    from ospack.testing import FakeClock

    batch = plan_batch(write_gpkg(tmp_path / "s.gpkg", squares(2, 1)), "name", "{name}.gpkg", LAYER, ZOOMS)
    first, second = (s.plan.tiles() for s in batch.sites)
    seen: list[Progress] = []
    clock = FakeClock()
    tracker = BatchProgress(seen.append, batch, clock=clock)

    def snapshot(done, total, elapsed):
        return Progress(LAYER, done, total, done, 0, 0, done, 0, 0, elapsed, 0.0)

    tracker.start(0, SiteResult(0, "s00", "s00.gpkg"))
    for second_ in range(1, first // 2 + 2):  # the first site: 2 tiles a second until done
        clock.advance(1.0)
        tracker(snapshot(min(2 * second_, first), first, float(second_)))
    done_first = PackageSummary(output="s00.gpkg", format="gpkg", layers=(LAYER,))
    for x in range(first):
        done_first.tally.record(TileOutcome(Tile(9, x, 0), "ok"), LAYER)
    tracker.finish(done_first)
    shared = SiteResult(1, "s10", "s10.gpkg", shared=batch.saved(1))
    tracker.start(1, shared)
    clock.advance(1.0)
    # the second site: its copies are outcomes of its tally, and none of them a request
    copies_and_two = batch.saved(1) + 2
    tracker(snapshot(copies_and_two, second, 1.0))
    last = seen[-1]
    assert (last.site, last.site_number, last.site_count) == ("s10", 2, 2)
    assert last.batch_total == first + second and last.batch_done == first + copies_and_two
    assert 100 < last.rate_per_min <= 130  # about 2 tiles a second, the batch's rate, not a new site's "--"


def test_a_refused_key_stops_the_batch_at_once(tmp_path, fast_emulator):
    from ospack.errors import AuthError

    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 1))
    with pytest.raises(AuthError):
        package_batch(source, "name", str(tmp_path / "{name}.gpkg"), layers=LAYER, zooms=ZOOMS, settings=UNPACED,
                      api=ApiAccess(url=fast_emulator.url, key="not-a-key"))  # fmt: skip
    assert fast_emulator.stats()["requests"] <= UNPACED.workers  # the first site's first requests, no more
    assert not list(tmp_path.glob("s[0-9]*.gpkg"))  # a file with nothing stored is removed, as for one output


def test_a_tile_the_first_site_lacks_comes_from_the_next_site_that_has_it(tmp_path, fast_emulator):
    source = write_gpkg(tmp_path / "s.gpkg", squares(3, 1))
    batch = plan_batch(source, "name", str(tmp_path / "out" / "{name}.gpkg"), LAYER, ZOOMS)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "s00.gpkg").write_bytes(b"not a package")  # the first donor of every shared tile fails
    summary = run(source, tmp_path, fast_emulator)
    assert [site.status for site in summary.sites] == ["failed", "complete", "complete"]
    layer = get_layer(LAYER)
    later = {(t.z, t.x, t.y) for s in batch.sites[1:] for t in cover(s.plan.area, layer, range(10))}
    assert fast_emulator.stats()["requests"] == len(later)  # s20 copied from s10 what s00 could not give


def test_a_batch_shares_its_context_tiles_and_estimate_and_package_agree(tmp_path, fast_emulator):
    # neighbouring sites' 25 km context regions overlap almost wholly: they are fetched once
    batch_source = write_gpkg(tmp_path / "s.gpkg", squares(2, 2))
    batch = ospack.plan_batch(batch_source, "name", str(tmp_path / "ctx" / "{name}.gpkg"), LAYER, ZOOMS)
    own = plan_batch(batch_source, "name", str(tmp_path / "own" / "{name}.gpkg"), LAYER, ZOOMS)
    assert batch.requests > own.requests and batch.saved() > own.saved()
    summary = ospack.package_batch(
        batch_source, "name", str(tmp_path / "ctx" / "{name}.gpkg"), layers=LAYER, zooms=ZOOMS, settings=UNPACED,
        api=ApiAccess(url=fast_emulator.url, key="demo"),
    )  # fmt: skip
    assert summary.complete and fast_emulator.stats()["tiles"] == batch.requests
    assert all(verify(site.output).ok for site in batch.sites)
