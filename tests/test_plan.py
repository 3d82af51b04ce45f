"""One plan for estimate and package: zooms without tiles plan 0, an area with no tile at all is refused first."""

import pytest

from ospack.area import read_area
from ospack.context import Context
from ospack.cover import cover
from ospack.errors import AreaOutsideGridError
from ospack.estimate import estimate
from ospack.fetch import ApiAccess, FetchSettings, RatePolicy
from ospack.layers import get_layer
from ospack.pipeline import package
from ospack.plan import Plan, plan, plan_counts

# East of x = 901,337 m, where the 27700 matrices from zoom 5 down stop short of zoom 0's edge (908,505 m)
EDGE = "902000,300000,906000,304000"
ROAD = get_layer("Road_27700")


def edge_area():
    return read_area(EDGE, area_crs="EPSG:27700")


def test_zooms_past_the_matrix_edge_plan_zero_tiles():
    job = plan(edge_area(), ROAD, "3-6", context=0)  # a context would reach back west, inside the matrices
    counts = job.counts[ROAD.name]
    assert counts[3] > 0 and counts[4] > 0
    assert counts[5] == counts[6] == 0
    assert job.zooms(ROAD.name) == (3, 4, 5, 6) and job.zooms_with_tiles(ROAD.name) == [3, 4]


def test_no_tile_at_any_zoom_is_outside_and_the_message_never_quotes_a_box_holding_the_area():
    with pytest.raises(AreaOutsideGridError) as info:
        plan_counts(edge_area(), [ROAD], "5-6", Context())  # a context alone is no job
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
    counts, _ = plan_counts(edge_area(), [ROAD, leisure], "4")
    assert counts[ROAD.name][4] > 0 and set(counts[leisure.name]) == {4}


def test_estimate_and_package_agree_tile_for_tile_at_the_edge(tmp_path):
    zooms = "3-6"
    job = estimate(edge_area(), ROAD, zooms, context=0)  # the edge alone: tests/test_context_package.py has one
    assert job.total == sum(1 for _ in cover(edge_area(), ROAD, zooms)) > 0
    summary = package(
        edge_area(),
        tmp_path / "edge.gpkg",
        layers=ROAD.name,
        zooms=zooms,
        context=0,
        settings=FetchSettings(rate=RatePolicy.unpaced()),
        api=ApiAccess(demo=True),
    )
    assert summary.complete
    assert summary.tiles_planned == job.total
    assert summary.tiles_written + summary.tiles_absent == job.total
    assert {z: t.written + t.absent for z, t in summary.zooms.items()} == {
        z.zoom: z.tiles for z in job.zooms if z.tiles
    }


def test_package_refuses_an_area_with_no_tile_before_creating_any_file(tmp_path):
    with pytest.raises(AreaOutsideGridError):
        package(
            edge_area(),
            tmp_path / "none.gpkg",
            layers=ROAD.name,
            zooms="5-6",
            settings=FetchSettings(rate=RatePolicy.unpaced()),
            api=ApiAccess(demo=True),
        )
    assert list(tmp_path.iterdir()) == []


SNOWDON = "-4.09,53.06,-4.06,53.08"


def test_a_plan_is_one_immutable_value():
    job = plan(SNOWDON, ["Outdoor_27700", "Road_27700", "Outdoor_27700"], "7-8")
    assert isinstance(job, Plan) and [layer.name for layer in job.layers] == ["Outdoor_27700", "Road_27700"]
    assert job.all_zooms == (7, 8) and job.tiles() == job.tiles("Outdoor_27700") + job.tiles("Road_27700")
    with pytest.raises(AttributeError):
        job.layers = ()
    with pytest.raises(TypeError):
        job.counts["Road_27700"][7] = 0  # the counts cannot be changed behind the plan's back either


def test_the_plan_splits_premium_tiles_and_refuses_them_as_package_does():
    from ospack.errors import PremiumNotAllowedError

    job = plan(SNOWDON, "Outdoor_27700", "9-11")
    assert set(job.premium["Outdoor_27700"]) == {10, 11}
    assert job.premium_tiles == job.counts["Outdoor_27700"][10] + job.counts["Outdoor_27700"][11] > 0
    with pytest.raises(PremiumNotAllowedError, match=r"zooms 10-11 of Outdoor_27700 are Premium .* zooms 0-9 only"):
        job.refuse_premium()
    plan(SNOWDON, "Outdoor_27700", "8-9").refuse_premium()  # open zooms only: nothing to refuse


def test_layers_on_several_grids_plan_but_one_output_refuses_them(tmp_path):
    from ospack.errors import UsageError

    job = plan(SNOWDON, ["Outdoor_27700", "Road_3857"], "7")
    assert set(job.counts) == {"Outdoor_27700", "Road_3857"}  # estimate sizes both
    with pytest.raises(UsageError, match="different grids"):
        job.one_grid()
    with pytest.raises(UsageError, match="different grids"):
        package(
            SNOWDON, tmp_path / "x.gpkg", layers=["Outdoor_27700", "Road_3857"], zooms="7", api=ApiAccess(demo=True)
        )
    assert list(tmp_path.iterdir()) == []
    assert plan(SNOWDON, "Road_3857", "7").grid.id == get_layer("Road_3857").grid.id


def test_bad_layers_and_zooms_are_refused_once_by_the_plan():
    from ospack.errors import LayerError, ZoomError

    with pytest.raises(LayerError, match="no layer given"):
        plan(SNOWDON, [], "7")
    with pytest.raises(LayerError, match="unknown layer"):
        plan(SNOWDON, "Nope_27700", "7")
    with pytest.raises(ZoomError):
        plan(SNOWDON, "Road_3857", "3")  # 3857 layers start at zoom 7


def test_a_plan_reads_the_area_once_with_its_buffer_and_crs():
    bng = plan("260000,354000,261000,355000", "Outdoor_27700", "9", area_crs="EPSG:27700", buffer_m=500)
    assert bng.area.crs == "EPSG:27700"
    assert bng.tiles() > plan("260000,354000,261000,355000", "Outdoor_27700", "9", area_crs="EPSG:27700").tiles()
    assert plan(bng.area, "Outdoor_27700", "9").area is bng.area  # an Area is used as it is


def test_estimate_takes_a_plan_and_agrees_with_one_it_builds():
    from ospack.errors import UsageError
    from ospack.estimate import estimate_layers

    job = plan(SNOWDON, ["Outdoor_27700", "Road_27700"], "6-11")
    assert estimate_layers(job).to_dict() == estimate_layers(SNOWDON, ["Outdoor_27700", "Road_27700"], "6-11").to_dict()
    one = plan(SNOWDON, "Road_27700", "6-11")
    assert estimate(one).to_dict() == estimate(SNOWDON, "Road_27700", "6-11").to_dict()
    with pytest.raises(UsageError, match="give the plan alone"):
        estimate(one, "Road_27700", "6")


def test_a_plan_for_a_file_s_job_takes_its_zooms_and_context():
    job = plan(SNOWDON, "Outdoor_27700", "4-7", context=0)
    held = job.with_job((3, 4, 5, 6, 7), Context(10_000))
    assert held.context == Context(10_000) and held.all_zooms == (3, 4, 5, 6, 7)
    assert held.context_tiles() > 0 and held.counts["Outdoor_27700"][7] == job.counts["Outdoor_27700"][7]
    assert job.with_job((4, 5)).context == job.context  # the plan's own context unless told
