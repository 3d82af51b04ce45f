"""Areas far larger than a layer (continents, the world, huge buffers) give exactly the layer's tiles they overlap."""

import resource
import time

import pytest
from pyproj import Geod, Transformer

from ospack.area import read_area
from ospack.cover import count, cover
from ospack.errors import AreaOutsideGridError
from ospack.layers import get_layer
from ospack.types import Tile


def full_counts(layer_name, zooms):
    """Every tile the layer serves at each zoom: its matrix within its limits."""
    layer = get_layer(layer_name)
    return {z: (r.max_col - r.min_col + 1) * (r.max_row - r.min_row + 1) for z in zooms for r in [layer.tile_range(z)]}


@pytest.mark.parametrize("bbox", ["-180,-85,180,85", "-179,-80,179,80", "-180,-90,180,90", "-30,30,30,75"])
@pytest.mark.parametrize("layer, zooms", [("Outdoor_27700", [0, 5]), ("Leisure_27700", [0, 6]), ("Road_3857", [7, 9])])
def test_an_area_holding_the_layer_gets_every_tile(bbox, layer, zooms):
    assert count(read_area(bbox), layer, zooms) == full_counts(layer, zooms)


def test_the_27700_grid_at_z5_is_31005_tiles_for_a_world_bbox():
    assert count(read_area("-180,-85,180,85"), "Outdoor_27700", 5) == {5: 31005}


def test_a_continent_gets_the_overlap_only():
    # the western half of the grid: every tile west of the Greenwich meridian's column, none east of it
    area = read_area("-60,-80,-2,85")
    counted = count(area, "Road_27700", 3)[3]
    assert 0 < counted < full_counts("Road_27700", [3])[3]
    assert counted == len(list(cover(area, "Road_27700", 3)))


@pytest.mark.parametrize("buffer_m", [1e7, 2.5e7, 1e9, 1e12])
def test_huge_buffers_answer_at_once_with_every_tile(buffer_m):
    # CPU seconds, not wall time: a loaded machine stretches the second but not the work (was > 47 s)
    started = time.process_time()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    area = read_area("POINT (-2 54)", buffer_m=buffer_m)
    assert count(area, "Outdoor_27700", [0, 5]) == full_counts("Outdoor_27700", [0, 5])
    assert count(area, "Road_3857", 9) == full_counts("Road_3857", [9])
    assert time.process_time() - started < 1.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # kB: no runaway densifying


def test_a_buffer_reaching_round_the_earth_is_the_whole_world_and_says_so():
    area = read_area("POINT (-2 54)", buffer_m=1e9)
    assert tuple(area.bounds_wgs84()) == (-180, -90, 180, 90)
    assert "whole world" in area.notes[-1]


def test_a_huge_buffer_in_british_national_grid_stays_where_the_grid_means_places():
    started = time.process_time()
    area = read_area("POINT (400000 400000)", area_crs="EPSG:27700", buffer_m=1e9)
    assert count(area, "Road_27700", 5) == full_counts("Road_27700", [5])
    assert count(area, "Road_3857", 8) == full_counts("Road_3857", [8])
    assert any("cut the area to where EPSG:27700 is defined" in note for note in area.notes)
    assert time.process_time() - started < 1.5


@pytest.mark.parametrize(
    "lon, lat, radius_m",
    [(150, -30, 1.66e7), (100, 80, 4e6), (170, -50, 1.9e7), (-2, 54, 3e5), (-60, 10, 7e6)],
    ids=["from-australia", "over-the-pole", "from-near-the-antipode", "local", "across-the-atlantic"],
)
def test_big_buffers_are_geodesic_discs_round_poles_and_the_antimeridian(lon, lat, radius_m):
    """Each tile whose centre is clearly inside the disc is covered, each clearly outside is not."""
    layer = get_layer("Outdoor_27700")
    try:
        tiles = set(cover(read_area(f"POINT ({lon} {lat})", buffer_m=radius_m), layer, 3))
    except AreaOutsideGridError:
        tiles = set()
    geod, to_lonlat = Geod(ellps="WGS84"), Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    served, margin = layer.tile_range(3), 120_000  # a z3 tile's half-diagonal is about 80 km
    inside = outside = 0
    for y in range(served.min_row, served.max_row + 1):
        for x in range(served.min_col, served.max_col + 1):
            left, bottom, right, top = layer.grid.tile_bounds(Tile(3, x, y))
            distance = geod.inv(lon, lat, *to_lonlat.transform((left + right) / 2, (bottom + top) / 2))[2]
            if distance < radius_m - margin:
                inside += 1
                assert Tile(3, x, y) in tiles
            elif distance > radius_m + margin:
                outside += 1
                assert Tile(3, x, y) not in tiles
    assert inside + outside > 0


def test_an_area_far_from_the_layer_is_still_outside():
    with pytest.raises(AreaOutsideGridError, match="outside layer Outdoor_27700"):
        count(read_area("POINT (150 -30)", buffer_m=1e6), "Outdoor_27700", 5)


def test_a_world_sized_area_in_another_projected_crs_is_cut_before_reprojecting():
    mercator_world = read_area("-20000000,-20000000,20000000,20000000", area_crs="EPSG:3857")
    assert count(mercator_world, "Road_27700", [0, 3]) == full_counts("Road_27700", [0, 3])
    huge_bng = read_area("-1e9,-1e9,1e9,1e9", area_crs="EPSG:27700")
    assert count(huge_bng, "Road_3857", [7, 8]) == full_counts("Road_3857", [7, 8])


def test_a_layer_spanning_the_whole_mercator_square_gets_every_tile_of_the_world():
    from ospack.grids import get_grid
    from ospack.layers import Layer

    world = Layer(
        name="World_3857", style="Road", grid=get_grid("EPSG:3857"), min_zoom=0, max_zoom=6, premium_from=None
    )
    assert count(read_area("-180,-90,180,90"), world, "0-4") == {z: 4**z for z in range(5)}
