"""The regional context: its value, which zooms get it, and the one job cover every stage reads."""

from __future__ import annotations

import pytest

from ospack.area import read_area
from ospack.context import DEFAULT_CONTEXT, MIN_CONTEXT_TILE_M, NO_CONTEXT, Context, ground_scale
from ospack.cover import count, cover
from ospack.errors import UsageError
from ospack.estimate import estimate
from ospack.layers import get_layer
from ospack.plan import JobCover, plan

SNOWDON = "-4.09,53.06,-4.06,53.08"
OUTDOOR = get_layer("Outdoor_27700")
MERCATOR = get_layer("Outdoor_3857")


@pytest.mark.parametrize(
    "text, metres",
    [("25km", 25_000), ("25 km", 25_000), ("2.5KM", 2_500), ("500m", 500), ("750", 750), ("0", 0), (1200, 1200)],
)
def test_a_context_is_read_from_a_distance(text, metres):
    assert Context.parse(text) == Context(metres)


@pytest.mark.parametrize("text", ["25 miles", "-3km", "km", "", "600km", "nan"])
def test_a_context_that_is_no_distance_or_out_of_range_is_refused(text):
    with pytest.raises(UsageError, match="context"):
        Context.parse(text)


def test_no_context_is_off_and_says_so():
    assert not NO_CONTEXT.enabled and str(NO_CONTEXT) == "no context"
    assert DEFAULT_CONTEXT.enabled and str(DEFAULT_CONTEXT) == "25 km" and str(Context(800)) == "800 m"


def test_the_context_zooms_are_those_whose_tiles_span_5_km_of_ground():
    assert Context().zooms(OUTDOOR.grid, OUTDOOR.zooms, 1.0) == (0, 1, 2, 3, 4, 5)  # z5 7.2 km, z6 3.6 km
    scale = ground_scale("EPSG:3857", -4.07, 53.07)
    assert scale == pytest.approx(1.664, abs=0.001)  # 1 / cos(53.07°)
    zooms = Context().zooms(MERCATOR.grid, MERCATOR.zooms, scale)
    assert zooms == (7, 8, 9, 10, 11, 12)
    assert all(MERCATOR.grid.tile_span(z) / scale >= MIN_CONTEXT_TILE_M for z in zooms)
    assert NO_CONTEXT.zooms(OUTDOOR.grid, OUTDOOR.zooms, 1.0) == ()


def test_the_region_reaches_the_radius_in_ground_metres_on_each_side_in_whole_metres():
    from ospack.types import ProjectedBounds

    region = Context(10_000).region(ProjectedBounds(100.4, 200.6, 300.2, 400.9), 1.5)
    assert region == (-14_900, -14_800, 15_301, 15_401)


def test_the_job_cover_is_the_area_s_above_the_context_zooms_and_the_region_s_at_them():
    area = read_area(SNOWDON)
    job = JobCover.of(area, OUTDOOR, Context())
    assert job.context_zooms == frozenset(range(6))
    for z in (6, 9):
        assert list(job.tiles(z)) == list(cover(area, OUTDOOR, [z]))
    for z in (3, 5):
        area_tiles, region_tiles = set(cover(area, OUTDOOR, [z])), list(job.tiles(z))
        assert area_tiles < set(region_tiles)  # the context holds the area's tiles, and more
        assert region_tiles == sorted(region_tiles, key=lambda t: (t.y, t.x))  # in the order the engine merges
    counts, added = job.counts(range(10))
    assert counts == {z: sum(1 for _ in job.tiles(z)) for z in range(10)}
    assert added == {z: counts[z] - count(area, OUTDOOR, [z])[z] for z in range(10)}
    assert added[5] > 0 and added[6] == 0


def test_a_wider_context_holds_every_tile_of_a_narrower_one():
    area = read_area(SNOWDON)
    narrow, wide = JobCover.of(area, OUTDOOR, Context(5_000)), JobCover.of(area, OUTDOOR, Context(60_000))
    for z in range(8):
        assert set(narrow.tiles(z)) <= set(wide.tiles(z))


def test_the_plan_counts_context_tiles_and_says_how_many():
    with_context, without = plan(SNOWDON, OUTDOOR, "0-9"), plan(SNOWDON, OUTDOOR, "0-9", context=0)
    assert with_context.context == DEFAULT_CONTEXT and without.context == NO_CONTEXT
    assert without.context_tiles() == 0 and without.counts == {OUTDOOR.name: count(read_area(SNOWDON), OUTDOOR, "0-9")}
    added = with_context.context_counts[OUTDOOR.name]
    assert 50 < with_context.context_tiles() == sum(added.values()) < 200  # context tiles are few
    assert with_context.tiles() == without.tiles() + with_context.context_tiles()
    assert plan(SNOWDON, OUTDOOR, "0-9", context="10km").context_tiles() < with_context.context_tiles()


def test_context_tiles_are_in_the_premium_split_at_the_layer_s_own_premium_zooms():
    leisure = get_layer("Leisure_27700")  # OpenData 0-5, Premium 6-9: the context zooms are all OpenData
    job = plan(SNOWDON, leisure, "4-7")
    assert job.context_counts[leisure.name][5] > 0
    assert set(job.premium[leisure.name]) == {6, 7}
    assert job.premium_tiles == job.counts[leisure.name][6] + job.counts[leisure.name][7]
    assert estimate(job).opendata_total == job.counts[leisure.name][4] + job.counts[leisure.name][5]


def test_the_estimate_costs_the_context_separately():
    job = estimate(plan(SNOWDON, OUTDOOR, "0-9"))
    data = job.to_dict()
    assert data["context"] == {"radius_m": 25_000.0, "tiles": job.context_total}
    assert data["zooms"]["5"]["context_tiles"] > 0 and data["zooms"]["9"]["context_tiles"] == 0
    assert job.context_total == sum(z.context_tiles for z in job.zooms) > 0
    text = job.to_text()
    assert f"of which {job.context_total:,} context tiles (25 km around the area" in text
    assert "context" not in estimate(plan(SNOWDON, OUTDOOR, "6-9")).to_text()  # no context zoom asked
