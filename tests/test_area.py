import json
import math
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import shapely
from convertbng.cutil import convert_bng

from ospack.area import Area, read_area
from ospack.cover import count
from ospack.errors import AreaError
from ospack.types import GeoBounds

SAMPLES = Path(__file__).resolve().parent.parent / "sample_areas"
SQUARE = [[-4.1, 53.05], [-4.05, 53.05], [-4.05, 53.09], [-4.1, 53.09], [-4.1, 53.05]]
SQUARE_GEOMETRY = {"type": "Polygon", "coordinates": [SQUARE]}


def write_json(tmp_path, data, name="area.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "document",
    [
        SQUARE_GEOMETRY,
        {"type": "Feature", "properties": {}, "geometry": SQUARE_GEOMETRY},
        {
            "type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE_GEOMETRY}],
        },
    ],
    ids=["geometry", "feature", "collection"],
)
def test_geojson_shapes_read_alike(tmp_path, document):
    area = read_area(write_json(tmp_path, document))
    assert area.crs == "EPSG:4326"
    assert area.bounds_wgs84() == GeoBounds(-4.1, 53.05, -4.05, 53.09)
    assert area.notes == ()


def test_text_inputs_wkt_bbox_geojson_and_shapely_agree():
    expected = shapely.box(-4.1, 53.05, -4.05, 53.09)
    for source in [
        "-4.1,53.05,-4.05,53.09",
        "POLYGON ((-4.1 53.05, -4.05 53.05, -4.05 53.09, -4.1 53.09, -4.1 53.05))",
        json.dumps(SQUARE_GEOMETRY),
        expected,
    ]:
        assert read_area(source).geometry.equals(expected), source


def test_legacy_crs_member_and_area_crs_override(tmp_path):
    area = read_area(SAMPLES / "ben-nevis-27700.geojson")
    assert area.crs == "EPSG:27700"
    lon, lat = area.geometry.centroid.coords[0]
    assert 216000 < lon < 218000 and 770000 < lat < 772000
    assert read_area("214500,769500,219300,773600", area_crs="EPSG:27700").crs == "EPSG:27700"


@pytest.mark.parametrize("driver, suffix", [("ESRI Shapefile", ".shp"), ("GPKG", ".gpkg"), ("KML", ".kml")])
def test_vector_files_read_through_gdal(tmp_path, driver, suffix):
    path = tmp_path / f"site{suffix}"
    box = shapely.box(260000, 350000, 262000, 352000)
    crs = "EPSG:4326" if driver == "KML" else "EPSG:27700"
    if driver == "KML":
        box = shapely.box(-4.1, 53.05, -4.05, 53.09)
    pyogrio.raw.write(
        path,
        np.array([shapely.to_wkb(box)], dtype=object),
        [],
        [],
        driver=driver,
        geometry_type="Polygon",
        crs=crs,
    )
    area = read_area(path)
    assert area.crs == crs
    assert area.geometry.equals_exact(box, 1e-9) or area.geometry.normalize().equals_exact(box.normalize(), 1e-9)


def test_gpx_track_needs_a_buffer_and_then_covers_the_corridor(tmp_path):
    path = tmp_path / "walk.gpx"
    path.write_text(
        '<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
        '<trk><trkseg><trkpt lat="53.05" lon="-4.10"/><trkpt lat="53.07" lon="-4.08"/></trkseg></trk></gpx>'
    )
    with pytest.raises(AreaError, match="--buffer"):
        read_area(path)
    area = read_area(path, buffer_m=100)
    corridor = area.in_crs("EPSG:27700")
    track = shapely.transform(shapely.LineString([(-4.10, 53.05), (-4.08, 53.07)]), _to_27700)
    assert corridor.area == pytest.approx(2 * 100 * track.length + math.pi * 100**2, rel=0.01)


def _to_27700(xy):
    """OSTN15 by convertbng's own longitude/latitude entry, independent of ospack's route to it."""
    return np.column_stack(convert_bng(xy[:, 0], xy[:, 1]))


def test_buffer_is_measured_on_the_ground():
    area = read_area("POINT (-4.0763 53.0685)", buffer_m=1000)
    ground = area.in_crs("+proj=aeqd +lat_0=53.0685 +lon_0=-4.0763 +datum=WGS84")
    assert ground.area == pytest.approx(math.pi * 1000**2, rel=0.005)
    assert area.notes == ("grew the area by 1000 m",)


def test_reprojection_densifies_long_edges():
    # a 4° wide box: its bottom edge is a parallel, which sags southwards of the straight chord
    # between its corners in British National Grid
    area = read_area("-6,54,-2,56")
    projected = area.in_crs("EPSG:27700")
    mid_bottom = shapely.Point(_to_27700(np.array([[-4.0, 54.0 + 1e-6]]))[0])
    assert projected.contains(mid_bottom)
    straight = shapely.transform(shapely.box(-6, 54, -2, 56), _to_27700)
    assert not straight.contains(mid_bottom)  # what a straight-line shortcut would lose
    assert area.in_crs("EPSG:27700") is projected  # cached per CRS


def test_geojson_round_trip():
    area = read_area(SAMPLES / "bala-lake-shore.geojson")
    again = Area.from_geojson(area.to_geojson())
    assert again == area
    assert again.to_geojson() == area.to_geojson()
    assert len(again.geometry.interiors) == 1  # the hole survives
    assert shapely.from_wkt(area.to_wkt()).equals(area.geometry)


def test_round_trip_of_a_27700_area_is_exact():
    # northing 770000 is a zoom-13 tile edge: a trip through WGS84 alone would add a row of tiles
    area = read_area("216000,770000,218000,772000", area_crs="EPSG:27700", buffer_m=0)
    text = area.to_geojson()
    assert json.loads(text)["type"] == "Polygon"  # still a plain WGS84 GeoJSON geometry
    west, south, east, north = shapely.from_geojson(text).bounds
    assert -5.1 < west < east < -4.9 and 56.7 < south < north < 56.9
    again = Area.from_geojson(text)
    assert (again.crs, again.source, again.notes) == (area.crs, area.source, area.notes)
    assert shapely.equals_exact(again.geometry, area.geometry, tolerance=0)
    assert count(again, "Road_27700", 13) == count(area, "Road_27700", 13) == {13: 72 * 73}


def test_plain_geojson_of_a_27700_area_moves_edges_by_micrometres_only():
    area = read_area(SAMPLES / "ben-nevis-27700.geojson")
    plain = json.loads(area.to_geojson())
    del plain["ospack:area"]
    again = Area.from_geojson(json.dumps(plain))
    assert again.crs == "EPSG:4326"
    moved = again.in_crs("EPSG:27700").symmetric_difference(area.geometry).area
    assert moved / area.geometry.length < 0.02  # mean offset under 2 cm


def test_invalid_polygon_is_repaired_and_said_so():
    area = read_area("POLYGON ((0 50, 2 52, 2 50, 0 52, 0 50))")  # a bow tie
    assert area.geometry.geom_type == "MultiPolygon" and area.geometry.is_valid
    assert any("make_valid" in note for note in area.notes)


def test_ambiguous_repair_is_refused():
    with pytest.raises(AreaError, match="more than one way"):
        read_area("POLYGON ((0 50, 2 50, 2 52, 0 52, 0 50), (1 51, 3 51, 3 53, 1 53, 1 51))")


def test_lines_mixed_with_polygons_are_ignored_without_buffer_and_said_so():
    area = read_area("GEOMETRYCOLLECTION (POLYGON ((0 50, 1 50, 1 51, 0 50)), LINESTRING (0 50, 3 53))")
    assert area.geometry.geom_type == "Polygon"
    assert any("--buffer" in note for note in area.notes)


@pytest.mark.parametrize(
    "source, message",
    [
        ("missing/site.geojson", "does not exist"),
        ("nonsense", "give a file path, GeoJSON, WKT or a bbox"),
        ("POINT (-4 53)", "only points.*--buffer"),
        ("LINESTRING (-4 53, -3 54)", "only linestrings.*--buffer"),
        ("POLYGON EMPTY", "holds no geometry"),
        ('{"type": "FeatureCollection", "features": []}', "holds no geometry"),
        ("53.05,-4.1,53.09,-4.05", "latitude and longitude look swapped"),
        ("POLYGON ((53 -4, 54 -4, 54 -3, 53 -4))", "swapped"),
        ("260000,350000,270000,360000", "--area-crs EPSG:27700"),
        ("-4,53,-5,54", "empty or reversed"),
        ("POLYGON ((0 50, 1 50, 2 50, 0 50))", "zero area.*--buffer"),
        ("POLYGON ((0 0, 1 1", "WKT"),
        ('{"type": "Polygon", "coordinates": "x"}', "GeoJSON"),
        ('{"features": []}', "not GeoJSON"),
    ],
)
def test_bad_areas_raise_one_clear_line(source, message):
    with pytest.raises(AreaError, match=message) as info:
        read_area(source)
    assert "\n" not in str(info.value)


def test_bad_files_raise_area_errors(tmp_path):
    (tmp_path / "notes.geojson").write_text("this is not json")
    with pytest.raises(AreaError, match="not valid JSON"):
        read_area(tmp_path / "notes.geojson")
    (tmp_path / "photo.shp").write_bytes(b"\x89PNG not a shapefile")
    with pytest.raises(AreaError, match="GDAL does not recognise"):
        read_area(tmp_path / "photo.shp")
    for folder in (tmp_path, str(tmp_path)):
        with pytest.raises(AreaError, match="is a folder"):
            read_area(folder)
    (tmp_path / "latin1.geojson").write_bytes(b'{"type": "Point", "name": "\xe9"}')
    with pytest.raises(AreaError, match=r"cannot read area file .* as UTF-8"):
        read_area(tmp_path / "latin1.geojson")
    with pytest.raises(AreaError, match="unknown CRS"):
        read_area("0,0,1,1", area_crs="EPSG:999999")
    with pytest.raises(AreaError, match="0 metres or more"):
        read_area("-4,53,-3,54", buffer_m=-5)


@pytest.mark.parametrize(
    "source, message",
    [
        ("", "the area is empty"),
        ("   ", "the area is empty"),
        ("-4.1,53.0,-4.0", "has 3 values; a bbox is four finite numbers"),
        ("-4.1,53.0,-4.0,53.1,2", "has 5 values"),
        ("-4.1,NaN,-4.0,53.1", "has 'NaN'"),
        ("-4.1,53.0,Infinity,53.1", "has 'Infinity'"),
        ("-4.1,,-4.0,53.1", "has an empty value"),
        ("-4.1,53.0,-4.0,53.1x", "has '53.1x'"),
        ("-4,53,-3,95", "latitude 95 is out of range"),
        ("-200,53,-199,54", "longitude -200 and longitude -199 are out of range"),
        ("POLYGON ((-4 53, -3 54))", "ring does not close; a ring needs at least 4 positions"),
        ("POLYGON ((nan 53, -3 53, -3 54, nan 53))", "the value nan, which is not a number"),
        ("POLYGON ((-4 53, -3 53, -3 inf, -4 53))", "the value inf"),
        ('{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 54]]]}', "ring of 2 position"),
        ('{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 53], [-3, 54], [-4, 54]]]}', "does not close"),
        ('{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 53], [-3, NaN], [-4, 53]]]}', "value NaN"),
        ('{"type": "Polygon", "coordinates": [[[-4, 53], [-3, 53], [-3, Infinity], [-4, 53]]]}', "value Infinity"),
        ("POLYGON ((-4 53, -3 53, -2 53, -4 53))", "zero area.*--buffer"),
        ("POLYGON ((-4 53, -4 53, -4 53, -4 53))", "zero area.*--buffer"),
    ],
)
def test_malformed_areas_are_told_in_the_users_terms(source, message):
    with pytest.raises(AreaError, match=message) as info:
        read_area(source)
    text = str(info.value)
    assert "\n" not in text
    assert not any(word in text for word in ("Exception", "json.exception", "GEOS", "LinearRing", "does not exist"))


def test_non_finite_coordinates_are_refused_whatever_the_source(tmp_path):
    path = tmp_path / "nan.gpkg"
    with np.errstate(invalid="ignore"):
        ring = shapely.Polygon([(260000, 350000), (262000, 350000), (262000, float("nan")), (260000, 350000)])
    pyogrio.raw.write(
        path,
        np.array([shapely.to_wkb(ring)], dtype=object),
        [],
        [],
        driver="GPKG",
        geometry_type="Polygon",
        crs="EPSG:27700",
    )
    with pytest.raises(AreaError, match=r"not numbers .NaN or infinity."):
        read_area(path)
    with pytest.raises(AreaError, match="not numbers"):
        with np.errstate(invalid="ignore"):
            read_area(shapely.Polygon([(-4, 53), (-3, 53), (-3, math.inf), (-4, 53)]))
    (tmp_path / "nan.geojson").write_text('{"type": "Point", "coordinates": [NaN, 53]}')
    with pytest.raises(AreaError, match=r"nan.geojson has the value NaN"):
        read_area(tmp_path / "nan.geojson")


def test_a_flat_polygon_is_a_line_and_a_buffer_covers_it():
    area = read_area("POLYGON ((-4 53, -3 53, -2 53, -4 53))", buffer_m=100)
    ground = area.in_crs("EPSG:27700")
    assert 2 * 100 * 130_000 < ground.area < 2 * 100 * 140_000  # a corridor 200 m wide along a 134 km line


@pytest.mark.parametrize("source", ["-4.1,53.0,-4.0,53.1", "POLYGON ((-4 53, -3 53, -3 54, -4 53))"])
def test_degrees_read_as_metres_are_refused_with_a_hint(source):
    with pytest.raises(AreaError, match=r"look like longitude/latitude degrees, not metres of EPSG:27700.*drop --area"):
        read_area(source, area_crs="EPSG:27700")
    assert read_area(source).crs == "EPSG:4326"  # as plain longitude/latitude they are fine


def test_metres_read_as_degrees_point_to_area_crs():
    with pytest.raises(AreaError, match="give --area-crs EPSG:27700"):
        read_area("POLYGON ((260000 350000, 262000 350000, 262000 352000, 260000 350000))")


def test_swapped_coordinates_in_great_britain_are_still_called_swapped():
    with pytest.raises(AreaError, match="look swapped"):
        read_area("53.0,-4.1,53.1,-4.0")


def test_a_missing_file_with_commas_in_its_name_is_still_a_missing_file():
    with pytest.raises(AreaError, match=r"area file 2024,05.geojson does not exist"):
        read_area("2024,05.geojson")


def test_text_too_long_or_odd_for_a_file_name_is_read_as_what_it_is():
    # WKT past the file-name limit (4 KB on Linux) made Path.is_file raise "File name too long"
    ring = ", ".join(f"{-4.1 + i * 1e-5:.6f} {53.0 + (i % 2) * 1e-4:.6f}" for i in range(400))
    wkt = f"POLYGON (({ring}, -4.1 53.1, -4.1 53.0))"
    assert len(wkt) > 8000
    assert read_area(wkt).source == "WKT"
    with pytest.raises(AreaError, match="does not exist"):
        read_area("site\x00.geojson")
    with pytest.raises(AreaError, match="cannot read area"):
        read_area("x" * 5000)
