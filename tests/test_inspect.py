"""ospack.inspect: info() describes files, verify() finds what is wrong with them."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from test_writers_support import (
    AREA_BOX,
    bbox_tiles,
    fill,
    finished_package,
    install_bbox_cover,
    make_job,
    query,
    render_tile,
    tamper,
    tile_edges_wgs84,
)

from ospack.errors import WriterError
from ospack.inspect import LayerInfo, PackageInfo, VerifyReport, info, verify
from ospack.types import Tile
from ospack.writers import open_writer

GPKG_LAYER, GPKG_ZOOMS = "Outdoor_27700", (6, 7)
MBT_LAYER, MBT_ZOOMS = "Road_3857", (12, 13)


@pytest.fixture
def bbox_cover(monkeypatch):
    """Stand in for the cover stage with the area's bounding-box tiles, to test the merge-join itself."""
    install_bbox_cover(monkeypatch)


@pytest.fixture
def gpkg(tmp_path):
    return finished_package(tmp_path / "area.gpkg", GPKG_LAYER, GPKG_ZOOMS)


@pytest.fixture
def mbtiles(tmp_path):
    return finished_package(tmp_path / "area.mbtiles", MBT_LAYER, MBT_ZOOMS)


def test_info_describes_a_geopackage(gpkg):
    report = info(gpkg)
    assert report.format == "gpkg" and report.complete is True
    assert report.size_bytes == gpkg.stat().st_size
    (layer,) = report.layers
    assert layer.name == GPKG_LAYER and layer.crs == "EPSG:27700" and layer.table == "outdoor_27700"
    assert layer.zooms == {z: len(bbox_tiles(GPKG_LAYER, z)) for z in GPKG_ZOOMS}
    assert layer.wgs84_bounds is not None
    west, south, east, north = layer.wgs84_bounds
    assert west <= AREA_BOX[0] and south <= AREA_BOX[1] and east >= AREA_BOX[2] and north >= AREA_BOX[3]
    assert report.attribution == "Contains OS data © Crown copyright and database rights 2026"
    assert report.provenance is not None and report.provenance["layers"] == [GPKG_LAYER]


def test_info_describes_an_mbtiles_file(mbtiles):
    report = info(mbtiles)
    assert report.format == "mbtiles" and report.complete is True
    (layer,) = report.layers
    assert layer.crs == "EPSG:3857" and layer.zooms == {z: len(bbox_tiles(MBT_LAYER, z)) for z in MBT_ZOOMS}
    # the bounds are the area's box snapped outwards to the deepest zoom's tile edges, as GDAL writes them
    assert layer.wgs84_bounds == pytest.approx(tile_edges_wgs84(MBT_LAYER, MBT_ZOOMS[-1]), abs=1e-6)


def test_info_shows_an_interrupted_file_as_incomplete(tmp_path):
    path = tmp_path / "half.gpkg"
    with open_writer(path, make_job(GPKG_LAYER, GPKG_ZOOMS)) as writer:
        fill(writer, GPKG_LAYER, GPKG_ZOOMS[:1])
        writer.record_absent(GPKG_LAYER, bbox_tiles(GPKG_LAYER, 7)[:2])
    report = info(path)
    assert report.complete is False
    assert report.layers[0].absent == {7: 2}


def test_info_refuses_what_is_not_a_package(tmp_path):
    with pytest.raises(WriterError, match="does not exist"):
        info(tmp_path / "missing.gpkg")
    other = tmp_path / "other.gpkg"
    tamper(other, "CREATE TABLE t (a)")
    with pytest.raises(WriterError, match="neither a GeoPackage nor an MBTiles"):
        info(other)


def test_verify_passes_a_good_package(gpkg, mbtiles, bbox_cover):
    for path in (gpkg, mbtiles):
        report = verify(path)
        assert report.ok, report.problems
        assert report.notes == []
        assert report.tiles_checked == sum(info(path).layers[0].zooms.values())
        assert report.to_dict()["ok"] is True


def test_verify_reports_missing_extra_and_absent_tiles(tmp_path, bbox_cover):
    path = tmp_path / "gaps.gpkg"
    tiles = bbox_tiles(GPKG_LAYER, 7)
    with open_writer(path, make_job(GPKG_LAYER, (7,))) as writer:
        writer.write(GPKG_LAYER, [(t, render_tile(t)) for t in tiles[2:]])
        writer.record_absent(GPKG_LAYER, tiles[1:2])  # absent at source: not missing
        outside = Tile(7, tiles[0].x - 3, tiles[0].y)
        writer.write(GPKG_LAYER, [(outside, render_tile(outside))])
        writer.mark_complete()
    report = verify(path)
    assert not report.ok
    assert report.problems == [
        f"{GPKG_LAYER} zoom 7: 1 tiles of the area's cover are missing (e.g. 7/{tiles[0].x}/{tiles[0].y})",
        f"{GPKG_LAYER} zoom 7: 1 stored tiles lie outside the area's cover (e.g. 7/{outside.x}/{outside.y})",
    ]


@pytest.mark.parametrize("fixture", ["gpkg", "mbtiles"])
def test_verify_reports_tiles_that_do_not_decode(request, fixture, bbox_cover):
    path = request.getfixturevalue(fixture)
    table = "outdoor_27700" if fixture == "gpkg" else "tiles"
    rows = query(path, f"SELECT zoom_level, tile_column, tile_row FROM {table} ORDER BY zoom_level DESC LIMIT 2")
    good = render_tile(Tile(0, 0, 0))
    update = f"UPDATE {table} SET tile_data = ? WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?"
    tamper(
        path,
        (update, (good[:60] + bytes(b ^ 0xFF for b in good[60:-12]) + good[-12:], *rows[0])),
        (update, (render_tile(Tile(0, 0, 0), size=128), *rows[1])),
    )
    problems = verify(path).problems
    assert len(problems) == 2
    assert "does not decode" in problems[0] or "does not decode" in problems[1]
    assert any("PNG is 128×128 pixels; the grid's tiles are 256×256" in p for p in problems)
    assert all("digest mismatch" in p for p in problems)
    z, x, row = rows[1]
    y = (1 << z) - 1 - row if fixture == "mbtiles" else row
    assert any(p.startswith(f"tile {z}/{x}/{y} of ") for p in problems)  # named by its XYZ address


def test_verify_reports_an_incomplete_package(tmp_path, bbox_cover):
    path = tmp_path / "half.mbtiles"
    with open_writer(path, make_job(MBT_LAYER, MBT_ZOOMS)) as writer:
        fill(writer, MBT_LAYER, MBT_ZOOMS)
    problems = verify(path).problems
    assert problems[0].startswith("incomplete: the run was interrupted")


def test_verify_reports_broken_structure(tmp_path, mbtiles, gpkg, bbox_cover):
    tamper(mbtiles, "DELETE FROM metadata WHERE name IN ('bounds', 'minzoom')", "DROP INDEX tile_index")
    problems = verify(mbtiles).problems
    assert "MBTiles metadata lacks bounds, minzoom" in problems
    assert "MBTiles tiles table has no unique index on (zoom_level, tile_column, tile_row)" in problems
    tamper(
        gpkg,
        "UPDATE gpkg_tile_matrix SET matrix_width = matrix_width + 1 WHERE zoom_level = 3",
        "PRAGMA user_version = 0",
    )
    problems = verify(gpkg).problems
    assert "GeoPackage table outdoor_27700 zoom 3: matrix does not tile the set bounds" in problems
    assert "GeoPackage user_version is older than 1.2" in problems
    assert any(p.startswith("GeoPackage requirement 45") for p in problems)  # from GDAL's validate_gpkg.py


def test_verify_reports_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.gpkg"
    junk.write_bytes(b"\x00" * 4096)
    assert verify(junk).problems and not verify(junk).ok
    assert verify(tmp_path / "nope.gpkg").problems == [f"{tmp_path / 'nope.gpkg'} does not exist"]


def test_a_geopackage_from_gdal_is_described_and_flagged_as_not_ospack(tmp_path):
    path = tmp_path / "gdal.gpkg"
    with rasterio.open(
        path,
        "w",
        driver="GPKG",
        width=512,
        height=512,
        count=3,
        dtype="uint8",
        crs="EPSG:27700",
        transform=Affine(10, 0, 300000, 0, -10, 400000),
    ) as dst:
        dst.write(np.full((3, 512, 512), 120, dtype="uint8"))
    report = info(path)
    assert report.complete is None and report.provenance is None
    assert report.layers[0].crs == "EPSG:27700" and sum(report.layers[0].zooms.values()) >= 1
    problems = verify(path).problems
    assert problems == ["no ospack job recorded, so the area cover cannot be checked (not made by ospack?)"]


def test_verify_against_the_real_cover(tmp_path):
    """The stored tiles are compared with ospack.cover's exact cover of the recorded area."""
    cover_module = pytest.importorskip("ospack.cover", reason="the cover stage is not merged yet")
    from ospack.area import Area

    job = make_job(GPKG_LAYER, GPKG_ZOOMS)
    tiles = list(cover_module.cover(Area.from_geojson(job.area_geojson), GPKG_LAYER, GPKG_ZOOMS))
    path = tmp_path / "real.gpkg"
    with open_writer(path, job) as writer:
        writer.write(GPKG_LAYER, [(t, render_tile(t)) for t in tiles])
        writer.mark_complete()
    report = verify(path)
    assert report.ok and report.notes == [], report.problems + report.notes
    last = tiles[-1]
    tamper(path, ("DELETE FROM outdoor_27700 WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", last))
    assert verify(path).problems == [
        f"{GPKG_LAYER} zoom {last.z}: 1 tiles of the area's cover are missing (e.g. {last.z}/{last.x}/{last.y})"
    ]


# ---- the report types ------------------------------------------------------------------------
def test_info_is_a_typed_package_info_whose_dict_is_the_json_shape(gpkg):
    report = info(gpkg)
    assert isinstance(report, PackageInfo) and (report.format, report.complete, report.failure) == ("gpkg", True, None)
    (layer,) = report.layers
    assert isinstance(layer, LayerInfo) and (layer.name, layer.crs) == (GPKG_LAYER, "EPSG:27700")
    assert layer.zooms == {z: len(bbox_tiles(GPKG_LAYER, z)) for z in GPKG_ZOOMS} and layer.absent == {}
    data = report.to_dict()
    assert list(data) == [
        "path",
        "format",
        "size_bytes",
        "complete",
        "layers",
        "attribution",
        "provenance",
        "failure",
        "running",
    ]
    assert list(data["layers"][0]) == ["name", "table", "crs", "bounds", "wgs84_bounds", "zooms", "absent"]
    assert data["layers"][0]["zooms"] == {str(z): n for z, n in layer.zooms.items()}
    assert json.loads(json.dumps(data)) == data  # plain data: lists, string keys
    assert data["provenance"] == json.loads(query(gpkg, "SELECT value FROM ospack_state WHERE name = 'job'")[0][0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.complete = False  # type: ignore[misc]


def layer_info(**changes):
    fields = dict(
        name="Outdoor_27700",
        table="outdoor_27700",
        crs="EPSG:27700",
        bounds=(1.0, 2.0, 3.04, 4.0),
        wgs84_bounds=None,
        zooms={6: 4, 7: 12},
        absent={7: 2},
    )
    return LayerInfo(**{**fields, **changes})


def package_info(**changes):
    provenance = {"source": "https://api.os.uk", "created": "2026-11-30", "ospack_version": "0.1.0", "demo": True}
    fields = dict(
        path="x.gpkg",
        format="gpkg",
        size_bytes=2_500_000,
        complete=False,
        layers=(layer_info(),),
        attribution="Contains OS data",
        provenance=provenance,
        failure="the API refused the key",
    )
    return PackageInfo(**{**fields, **changes})


def test_package_info_text():
    assert package_info().to_text().splitlines() == [
        "x.gpkg: gpkg, 2.5 MB, INCOMPLETE (the last run stopped: the API refused the key)",
        "layer Outdoor_27700 (table outdoor_27700, EPSG:27700) bounds 1.0, 2.0, 3.0, 4.0",
        "  zoom  6: 4 tiles",
        "  zoom  7: 12 tiles, 2 absent at source",
        "attribution: Contains OS data",
        "provenance: https://api.os.uk, created 2026-11-30, ospack 0.1.0, emulator tiles (--demo)",
    ]


@pytest.mark.parametrize(
    "changes, first_line",
    [
        ({"complete": True, "failure": None}, "x.gpkg: gpkg, 2.5 MB, complete"),
        ({"failure": None}, "x.gpkg: gpkg, 2.5 MB, INCOMPLETE (interrupted; rerun to resume)"),
        ({"complete": None, "failure": None, "provenance": None}, "x.gpkg: gpkg, 2.5 MB, unknown (not made by ospack)"),
        (
            {"running": "being written by another ospack run (process 7) now"},
            "x.gpkg: gpkg, 2.5 MB, INCOMPLETE"
            " (being written by another ospack run (process 7) now; wait for it to finish)",
        ),
    ],
)
def test_package_info_text_says_how_complete(changes, first_line):
    lines = package_info(**changes).to_text().splitlines()
    assert lines[0] == first_line
    assert any(line.startswith("provenance: ") for line in lines) == (changes.get("provenance", True) is not None)


def test_a_layer_of_unknown_bounds_says_so():
    assert layer_info(bounds=None, absent={}).to_text().splitlines() == [
        "layer Outdoor_27700 (table outdoor_27700, EPSG:27700) bounds unknown",
        "  zoom  6: 4 tiles",
        "  zoom  7: 12 tiles",
    ]


def test_verify_report_text():
    sound = VerifyReport("x.gpkg", "gpkg", notes=["GDAL is not installed"], tiles_checked=7)
    assert sound.to_text().splitlines() == ["note: GDAL is not installed", "x.gpkg: OK (7 tiles checked)"]
    broken = VerifyReport("x.gpkg", "gpkg", problems=["one", "two"], notes=["n"])
    assert broken.finding_lines() == ["note: n", "problem: one", "problem: two"]
    assert broken.verdict() is None and broken.to_text() == "note: n\nproblem: one\nproblem: two"
