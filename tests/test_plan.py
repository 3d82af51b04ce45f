"""One plan for estimate and package: zooms without tiles plan 0, an area with no tile at all is refused first."""

import pytest

from ospack.area import read_area
from ospack.cover import cover
from ospack.errors import AreaOutsideGridError
from ospack.estimate import estimate
from ospack.fetch import FetchSettings, RatePolicy
from ospack.layers import get_layer
from ospack.pipeline import package
from ospack.plan import Plan, plan, plan_counts

# East of x = 901,337 m, where the 27700 matrices from zoom 5 down stop short of zoom 0's edge (908,505 m)
EDGE = "902000,300000,906000,304000"
ROAD = get_layer("Road_27700")


def edge_area():
    return read_area(EDGE, area_crs="EPSG:27700")


def test_zooms_past_the_matrix_edge_plan_zero_tiles():
    job = plan(edge_area(), ROAD, "3-6")
    counts = job.counts[ROAD.name]
    assert counts[3] > 0 and counts[4] > 0
    assert counts[5] == counts[6] == 0
    assert job.zooms(ROAD.name) == (3, 4, 5, 6) and job.zooms_with_tiles(ROAD.name) == [3, 4]


def test_no_tile_at_any_zoom_is_outside_and_the_message_never_quotes_a_box_holding_the_area():
    with pytest.raises(AreaOutsideGridError) as info:
        plan_counts(edge_area(), [ROAD], "5-6")
    message = str(info.value)
    assert "E 902000…906000" in message  # the area in the grid's own metres …
    assert "E -238375…901337" in message  # … beside the tiles' extent at those zooms, which ends short of it


def test_an_area_of_another_crs_beyond_the_edge_is_quoted_in_grid_metres_too():
    lon_lat = edge_area().in_crs("EPSG:4326")
    with pytest.raises(AreaOutsideGridError, match=r"m in EPSG:27700\).*span E -238375…901337"):
        plan_counts(read_area(lon_lat), [ROAD], "5")


def test_an_area_far_away_is_quoted_in_longitude_latitude():
    with pytest.raises(AreaOutsideGridError, match=r"lon 10\.0000…10\.1000.*covers lon"):
        plan_counts(read_area("10.0,45.0,10.1,45.1"), [ROAD], "5")


def test_several_layers_are_outside_only_when_none_has_a_tile():
    leisure = get_layer("Leisure_27700")
    counts = plan_counts(edge_area(), [ROAD, leisure], "4")
    assert counts[ROAD.name][4] > 0 and set(counts[leisure.name]) == {4}


def test_estimate_and_package_agree_tile_for_tile_at_the_edge(tmp_path):
    zooms = "3-6"
    job = estimate(edge_area(), ROAD, zooms)
    assert job.total == sum(1 for _ in cover(edge_area(), ROAD, zooms)) > 0
    summary = package(edge_area(), tmp_path / "edge.gpkg", layers=ROAD.name, zooms=zooms, demo=True,
                      settings=FetchSettings(rate=RatePolicy.unpaced()))
    assert summary.complete
    assert summary.tiles_planned == job.total
    assert summary.tiles_written + summary.tiles_absent == job.total
    assert {z: t.written + t.absent for z, t in summary.zooms.items()} == {
        z.zoom: z.tiles for z in job.zooms if z.tiles
    }


def test_package_refuses_an_area_with_no_tile_before_creating_any_file(tmp_path):
    with pytest.raises(AreaOutsideGridError):
        package(edge_area(), tmp_path / "none.gpkg", layers=ROAD.name, zooms="5-6", demo=True, settings=FetchSettings(rate=RatePolicy.unpaced()))
    assert list(tmp_path.iterdir()) == []
