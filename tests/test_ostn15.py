"""OSTN15 onto and off the National Grid: the OS's own test points, the Helmert fallback and its growth.

The independent references are the OS's published test points and convertbng's own
longitude/latitude entry points (its transverse Mercator, not pyproj's); "Helmert" is what
pyproj alone gives between EPSG:4326 and EPSG:27700, which ospack used before OSTN15.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from convertbng.cutil import convert_bng, convert_lonlat
from pyproj import Transformer

from ospack import ostn15
from ospack.area import Area, read_area
from ospack.cover import count, cover
from ospack.estimate import estimate
from ospack.layers import get_layer
from ospack.projection import WGS84, legs, reproject_marked, transform, transform_bounds, transform_xy
from ospack.writers.job import JobInfo

BNG = "EPSG:27700"
POINTS = Path(__file__).resolve().parent / "data" / "ostn15_os_test_points.csv"
#: The OS test output is given to the millimetre; an exact implementation is within that rounding.
OS_TOLERANCE_M = 0.001 + 1e-9
PYPROJ_HELMERT = Transformer.from_crs(WGS84, BNG, always_xy=True)
GRS80_GRID = Transformer.from_pipeline(ostn15._ETRS89_GRID)
#: lon, lat of places the issue measured Helmert against OSTN15 at, with the figures it found (metres)
PLACES = {
    "Snowdon": ((-4.0763, 53.0685), 1.87),
    "Ben Nevis": ((-5.0035, 56.7969), 2.04),
    "Land's End": ((-5.7150, 50.0657), 4.27),
    "Norwich": ((1.2974, 52.6309), 3.16),
    "Stornoway": ((-6.3860, 58.2090), 3.43),
    "Lerwick": ((-1.1450, 60.1550), 1.14),
}


def _os_points() -> dict[str, np.ndarray]:
    with POINTS.open() as lines:
        rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    assert len(rows) == 40
    return {
        key: np.array([float(row[key]) for row in rows]) for key in ("latitude", "longitude", "easting", "northing")
    }


def test_the_os_test_points_come_out_as_the_os_publishes_them():
    points = _os_points()
    easting, northing, approximate = transform_xy(points["longitude"], points["latitude"], WGS84, BNG)
    assert not approximate.any()
    assert np.abs(easting - points["easting"]).max() <= OS_TOLERANCE_M
    assert np.abs(northing - points["northing"]).max() <= OS_TOLERANCE_M


def test_the_os_test_points_go_back_to_their_latitude_and_longitude():
    points = _os_points()
    lon, lat, approximate = transform_xy(points["easting"], points["northing"], BNG, "EPSG:4258")
    assert not approximate.any()
    metres_north = np.abs(lat - points["latitude"]) * 111_000
    metres_east = np.abs(lon - points["longitude"]) * 111_000 * np.cos(np.radians(lat))
    assert max(metres_north.max(), metres_east.max()) <= 0.002  # the forward output was rounded to 1 mm


def test_helmert_is_metres_from_ostn15_and_the_fallback_bound_holds_over_the_whole_grid():
    points = _os_points()
    helmert = np.column_stack(PYPROJ_HELMERT.transform(points["longitude"], points["latitude"]))
    exact = np.column_stack((points["easting"], points["northing"]))
    off = np.hypot(*(helmert - exact).T)
    assert 4.9 < off.max() < 5.0 and off.min() < 0.2  # 4.94 m at Hirta, St Kilda; 0.13 m on Fair Isle
    for name, ((lon, lat), metres) in PLACES.items():
        ours = np.array(transform_xy([lon], [lat], WGS84, BNG)[:2]).ravel()
        assert math.dist(ours, PYPROJ_HELMERT.transform(lon, lat)) == pytest.approx(metres, abs=0.015), name
    # every 10 km of OSTN15's grid: the fallback's own Helmert is never HELMERT_ERROR_M out
    x, y = (grid.ravel() for grid in np.meshgrid(np.arange(5, 700_000, 10_000.0), np.arange(5, 1_250_000, 10_000.0)))
    lon, lat = GRS80_GRID.transform(x, y, direction="INVERSE")
    easting, northing, approximate = transform_xy(lon, lat, WGS84, BNG)
    assert not approximate.any()
    fallback = ostn15._pipeline(ostn15._HELMERT).transform(lon, lat)
    worst = np.hypot(fallback[0] - easting, fallback[1] - northing).max()
    assert 7.0 < worst < ostn15.HELMERT_ERROR_M


def test_the_fallback_is_pyproj_s_helmert_within_great_britain():
    points = _os_points()
    ours = ostn15._pipeline(ostn15._HELMERT).transform(points["longitude"], points["latitude"])
    pyproj_s = PYPROJ_HELMERT.transform(points["longitude"], points["latitude"])
    assert np.abs(np.subtract(ours, pyproj_s)).max() < 1e-6


def test_a_coastal_point_of_scilly_gets_an_ostn15_answer():
    # convertbng's longitude/latitude entry refuses it; its grid entry, which ospack uses, answers
    lon, lat = -6.30, 49.92
    assert np.isnan(convert_bng(lon, lat)[0]).all()
    easting, northing, approximate = transform_xy([lon], [lat], WGS84, BNG)
    assert not approximate.any()
    # the OS shift there is the one at TP01 (St Mary's, 250 m away) to within a centimetre
    tp01 = _os_points()
    tp01_shift = np.subtract(
        (tp01["easting"][0], tp01["northing"][0]), GRS80_GRID.transform(-6.29977752014, 49.92226393730)
    )
    shift = np.subtract((easting[0], northing[0]), GRS80_GRID.transform(lon, lat))
    assert np.abs(shift - tp01_shift).max() < 0.01
    scilly = read_area(Path(__file__).resolve().parents[1] / "sample_areas" / "isles-of-scilly.geojson")
    scilly.in_crs(BNG)
    assert scilly.notes == ()  # all of it inside OSTN15's grid: nothing placed by Helmert, nothing grown


def test_other_crss_reach_the_grid_through_wgs84_and_osgb36_ones_go_straight():
    assert legs("EPSG:3857", BNG) == (("pyproj", "EPSG:3857", WGS84), ("to_grid", WGS84, BNG))
    assert legs(BNG, "EPSG:3857") == (("to_lonlat", BNG, WGS84), ("pyproj", WGS84, "EPSG:3857"))
    assert legs(BNG, "EPSG:4277") == (("pyproj", BNG, "EPSG:4277"),)
    lon, lat = PLACES["Snowdon"][0]
    x, y = Transformer.from_crs(WGS84, "EPSG:3857", always_xy=True).transform(lon, lat)
    via_mercator = np.ravel(transform_xy([x], [y], "EPSG:3857", BNG)[:2])
    assert via_mercator == pytest.approx(np.ravel(convert_bng(lon, lat)), abs=0.002)


def test_a_polygon_whose_cover_differs_between_helmert_and_ostn15_at_zooms_12_and_13():
    layer = get_layer("Outdoor_27700")
    grid = layer.grid
    (lon, lat), _ = PLACES["Snowdon"]
    exact = np.ravel(convert_bng(lon, lat))
    error = np.array(PYPROJ_HELMERT.transform(lon, lat)) - exact
    axis = int(np.argmax(np.abs(error)))  # Helmert's larger error here: 1.83 m north
    assert abs(error[axis]) > 1.0
    span, origin = grid.tile_span(12), (grid.origin_x, grid.origin_y)[axis]
    tile_edge = origin + round((exact[axis] - origin) / span) * span  # an edge at zoom 12, so at 13 too
    # one side lies half of Helmert's error short of a tile edge (in OSTN15): Helmert puts it across
    low, high = exact - 150, exact + 150
    high[axis] = tile_edge - error[axis] / 2
    low[axis] = high[axis] - 300
    corners = np.array([(low[0], low[1]), (high[0], low[1]), (high[0], high[1]), (low[0], high[1])])
    lonlat = np.column_stack(convert_lonlat(*corners.T))
    area = read_area(shapely.Polygon(lonlat))
    ostn15_grid = read_area(shapely.Polygon(np.column_stack(convert_bng(*lonlat.T))), area_crs=BNG)
    helmert_grid = read_area(shapely.Polygon(np.column_stack(PYPROJ_HELMERT.transform(*lonlat.T))), area_crs=BNG)
    for z in (12, 13):
        ours, independent, helmert = (set(cover(a, layer, z)) for a in (area, ostn15_grid, helmert_grid))
        assert ours == independent
        assert ours != helmert
        along = {(t.y, t.x)[axis] for t in ours}  # one row (or column) of tiles, all along that side
        assert len(ours ^ helmert) == len(along)


def test_where_ostn15_gives_no_answer_the_area_is_grown_by_the_helmert_bound_and_told():
    # off Lowestoft, across the grid's east edge (E 700 km) out at sea; convertbng's own lon/lat entry stops at 1.78° E
    area = read_area("POLYGON ((1.5 52.5, 2.6 52.5, 2.6 52.7, 1.5 52.7, 1.5 52.5))")
    projected = area.in_crs(BNG)
    assert area.notes == (ostn15.HELMERT_NOTE,)
    area.in_crs(BNG, within=shapely.box(1.8, 52.4, 2.7, 52.8))
    assert area.notes == (ostn15.HELMERT_NOTE,)  # told once
    densified = shapely.get_coordinates(shapely.segmentize(area.geometry, 0.01))
    easting, northing, approximate = transform_xy(densified[:, 0], densified[:, 1], WGS84, BNG)
    assert approximate.any() and not approximate.all()
    placed = shapely.points(easting[approximate], northing[approximate])
    reach = ostn15.HELMERT_ERROR_M - 0.01
    assert shapely.contains(projected, shapely.buffer(placed, reach)).all()  # grown round every fallback vertex
    exact = shapely.points(np.column_stack(convert_bng(densified[:, 0], densified[:, 1]))[densified[:, 0] < 1.75])
    assert shapely.distance(projected.boundary, exact).max() < 0.002  # and nowhere near OSTN15's own answers
    wholly_inside = read_area("POLYGON ((1.5 52.5, 1.7 52.5, 1.7 52.7, 1.5 52.7, 1.5 52.5))")
    wholly_inside.in_crs(BNG)
    assert wholly_inside.notes == ()


def test_off_the_grid_the_inverse_is_grown_too():
    beyond = shapely.box(690_000, 300_000, 710_000, 310_000)
    area = read_area(beyond, area_crs=BNG)
    lonlat = area.in_crs(WGS84)
    assert area.notes == (ostn15.HELMERT_NOTE,)
    east_side = shapely.get_coordinates(
        shapely.segmentize(shapely.LineString([(710_000, 300_000), (710_000, 310_000)]), 1000)
    )
    lon, lat = ostn15._pipeline(ostn15._HELMERT).transform(*east_side.T, direction="INVERSE")
    north_deg = 9.99 / 111_320
    east_deg = 9.99 / (111_320 * np.cos(np.radians(lat)))
    for dx, dy in ((east_deg, 0), (0, north_deg), (0, -north_deg)):
        assert shapely.contains(lonlat, shapely.points(lon + dx, lat + dy)).all()
    _, _, approximate = transform_xy([695_000.0], [305_000.0], BNG, WGS84)
    assert not approximate.any()


def test_vertex_moves_and_bounding_boxes_use_ostn15():
    (lon, lat), _ = PLACES["Norwich"]
    box = (lon - 0.05, lat - 0.03, lon + 0.05, lat + 0.03)
    outline = shapely.get_coordinates(shapely.segmentize(shapely.box(*box).exterior, 0.001))
    exact = np.column_stack(convert_bng(*outline.T))
    expected = (*exact.min(axis=0), *exact.max(axis=0))
    assert transform_bounds(box, WGS84, BNG) == pytest.approx(expected, abs=0.002)
    helmert = PYPROJ_HELMERT.transform_bounds(*box, densify_pts=21)
    assert max(abs(a - b) for a, b in zip(helmert, expected, strict=True)) > 2.0
    grid_outline = shapely.get_coordinates(shapely.segmentize(shapely.box(*expected).exterior, 50))
    lons, lats = convert_lonlat(*grid_outline.T)
    back = transform_bounds(expected, BNG, WGS84)
    assert back == pytest.approx((lons.min(), lats.min(), lons.max(), lats.max()), abs=1e-7)
    moved = transform(shapely.Point(lon, lat), WGS84, BNG)
    assert (moved.x, moved.y) == pytest.approx(np.ravel(convert_bng(lon, lat)), abs=0.002)
    geojson = shapely.to_geojson(shapely.box(*box))
    job = JobInfo(("Outdoor_27700",), (7,), geojson, "https://api.os.uk/maps/raster/v1/zxy", "2026-01-01T00:00:00Z")
    assert tuple(job.projected_bounds()) == pytest.approx(expected, abs=0.002)


def test_reprojecting_marks_only_what_helmert_placed():
    _, marked = reproject_marked(shapely.box(-4.1, 53.0, -4.0, 53.1), WGS84, BNG)
    assert not marked
    offshore, marked = reproject_marked(shapely.box(-12.0, 53.0, -11.0, 54.0), WGS84, BNG)
    assert marked and offshore.is_valid


def test_the_snowdon_sample_area_gains_tiles_at_zoom_13_by_ostn15():
    snowdon = read_area(Path(__file__).resolve().parents[1] / "sample_areas" / "yr-wyddfa.geojson")
    ours = count(snowdon, "Outdoor_27700", 13)[13]
    helmert_geometry = shapely.transform(
        shapely.segmentize(snowdon.geometry, 0.01), lambda xy: np.column_stack(PYPROJ_HELMERT.transform(*xy.T))
    )
    helmert = count(read_area(helmert_geometry, area_crs=BNG), "Outdoor_27700", 13)[13]
    assert ours != helmert and abs(ours - helmert) < 0.01 * ours


def test_the_note_reaches_the_estimate_and_the_job_s_record_of_the_area():
    assert estimate(read_area("1.5,52.5,2.6,52.7"), "Outdoor_27700", 9).area_notes == (ostn15.HELMERT_NOTE,)
    assert estimate(read_area("1.5,52.5,2.6,52.7"), "Outdoor_3857", 9).area_notes == ()  # no National Grid, no note
    beyond = read_area(shapely.box(690_000, 300_000, 710_000, 310_000), area_crs=BNG)
    record = beyond.to_geojson()
    assert json.loads(record)["ospack:area"]["notes"] == [ostn15.HELMERT_NOTE]
    assert Area.from_geojson(record).notes == (ostn15.HELMERT_NOTE,)


def test_growth_follows_every_ring_holes_and_parts_alike():
    shell = [(1.5, 52.5), (2.6, 52.5), (2.6, 52.7), (1.5, 52.7)]
    hole = [(2.3, 52.55), (2.3, 52.65), (2.5, 52.65), (2.5, 52.55)]  # wholly beyond the grid: it shrinks
    inland = shapely.box(-1.6, 52.0, -1.5, 52.1)
    area = read_area(shapely.MultiPolygon([shapely.Polygon(shell, [hole]), inland]))
    projected = area.in_crs(BNG)
    assert area.notes == (ostn15.HELMERT_NOTE,)
    rings = shapely.get_rings(shapely.get_parts(shapely.segmentize(area.geometry, 0.01)))
    for ring in rings:
        xy = shapely.get_coordinates(ring)
        easting, northing, approximate = transform_xy(xy[:, 0], xy[:, 1], WGS84, BNG)
        discs = shapely.buffer(shapely.points(easting[approximate], northing[approximate]), 9.99)
        assert shapely.contains(projected, discs).all()
    inland_corners = shapely.points(np.column_stack(convert_bng(*shapely.get_coordinates(inland).T)))
    assert shapely.distance(projected.boundary, inland_corners).max() < 0.002
