"""MBTiles writer: TMS rows, metadata, dedup layout, utiles lint and GDAL (rasterio) as independent readers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import rasterio
from hypothesis import given
from hypothesis import strategies as st
from test_writers_support import (
    bbox_tiles,
    check_quadrant_pixels,
    finished_package,
    make_job,
    query,
    render_tile,
    tile_edges_wgs84,
)

from ospack.errors import InvalidTileError, WriterError
from ospack.layers import get_layer
from ospack.writers import OutputOptions, open_writer, read_job
from ospack.writers.mbtiles import flip_row

LAYER = "Road_3857"
ZOOMS = (11, 12, 13)
UTILES = Path(sys.executable).with_name("utiles")


@pytest.fixture(params=[False, True], ids=["plain", "dedup"])
def package(request, tmp_path):
    path = finished_package(tmp_path / "out.mbtiles", LAYER, ZOOMS, OutputOptions(dedup=request.param))
    return path, {z: bbox_tiles(LAYER, z) for z in ZOOMS}


@given(st.integers(0, 24), st.data())
def test_flip_row_is_an_involution_within_the_matrix(z, data):
    row = data.draw(st.integers(0, (1 << z) - 1))
    assert 0 <= flip_row(z, row) < 1 << z
    assert flip_row(z, flip_row(z, row)) == row


def test_spec_example_flip():
    assert flip_row(11, 791) == 1256  # mbtiles-spec: XYZ 11/327/791 is tile_row 1256


def test_rows_are_stored_tms_and_read_back_xyz(package, open_db):
    path, written = package
    conn = open_db(path)
    for z, tiles in written.items():
        for tile in tiles:
            (data,) = conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, tile.x, (1 << z) - 1 - tile.y),
            ).fetchone()
            assert data == render_tile(tile)
    with open_writer(path, make_job(LAYER, ZOOMS)) as writer:
        for z, tiles in written.items():
            assert list(writer.done(LAYER, z)) == tiles
            assert all(writer.contains(LAYER, t) for t in tiles)
        assert writer.tile_counts(LAYER) == {z: len(t) for z, t in written.items()}


def test_metadata_and_identity(package, open_db):
    path, _written = package
    conn = open_db(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x4D504258
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    meta = dict(conn.execute("SELECT name, value FROM metadata"))
    for key in (
        "name",
        "format",
        "bounds",
        "center",
        "minzoom",
        "maxzoom",
        "attribution",
        "description",
        "type",
        "version",
    ):
        assert meta[key], key
    assert meta["format"] == "png" and (meta["minzoom"], meta["maxzoom"]) == ("11", "13")
    west, south, east, north = map(float, meta["bounds"].split(","))
    # the area's box snapped outwards to the max zoom's tile edges (as GDAL writes them)
    assert (west, south, east, north) == pytest.approx(tile_edges_wgs84(LAYER, 13), abs=1e-9)
    lon, lat, zoom = meta["center"].split(",")
    assert float(lon) == pytest.approx((west + east) / 2, abs=1e-6) and zoom == "12"
    assert float(lat) == pytest.approx((south + north) / 2, abs=1e-6)
    assert meta["attribution"] == "Contains OS data © Crown copyright and database rights 2026"
    assert meta["ospack_source"] == "https://api.os.uk/maps/raster/v1/zxy" and meta["ospack_layer"] == LAYER
    assert read_job(path) == make_job(LAYER, ZOOMS)


def test_utiles_lint_finds_no_problems(package):
    path, _ = package
    result = subprocess.run([str(UTILES), "lint", str(path)], capture_output=True, text=True, timeout=60)
    assert "Found 0 problems" in result.stdout + result.stderr, result.stdout + result.stderr


def test_gdal_reads_crs_and_pixels(package):
    path, written = package
    grid = get_layer(LAYER).grid
    checked = 0
    with rasterio.open(path) as src:
        # GDAL's MBTiles driver lists lower zooms as overviews, but drops those under ~one tile across
        overviews = src.overviews(1)
    assert overviews and overviews == [2 ** (i + 1) for i in range(len(overviews))]
    for level, z in enumerate(list(reversed(ZOOMS))[: len(overviews) + 1]):
        kwargs = {} if level == 0 else {"overview_level": level - 1}
        with rasterio.open(path, **kwargs) as src:
            assert src.crs.to_epsg() == 3857
            if level == 0:
                assert src.res[0] == pytest.approx(grid.tile_span(z) / 256)
            checked += check_quadrant_pixels(src, grid, written[z])
    assert checked >= len(written[ZOOMS[-1]]) * 2


def test_dedup_stores_identical_images_once(tmp_path, open_db):
    path = tmp_path / "dedup.mbtiles"
    tiles = bbox_tiles(LAYER, 13)
    blank = render_tile(tiles[0])
    with open_writer(path, make_job(LAYER, (13,)), OutputOptions(dedup=True)) as writer:
        writer.write(LAYER, [(t, blank) for t in tiles])
        writer.write(LAYER, [(tiles[0], render_tile(tiles[1]))])  # replace one: the old image stays shared
        writer.mark_complete()
    conn = open_db(path)
    assert conn.execute("SELECT count(*) FROM tiles").fetchone()[0] == len(tiles)
    assert conn.execute("SELECT count(*) FROM images").fetchone()[0] == 2
    assert conn.execute("SELECT type FROM sqlite_master WHERE name='tiles'").fetchone() == ("view",)
    # a later open keeps the file's layout whatever is asked
    with open_writer(path, make_job(LAYER, (13,))) as writer:
        assert writer.dedup


def test_orphaned_images_are_dropped_on_completion(tmp_path):
    path = tmp_path / "orphans.mbtiles"
    tile = bbox_tiles(LAYER, 13)[0]
    with open_writer(path, make_job(LAYER, (13,)), OutputOptions(dedup=True)) as writer:
        writer.write(LAYER, [(tile, render_tile(tile))])
        writer.write(LAYER, [(tile, render_tile(bbox_tiles(LAYER, 13)[1]))])
        writer.mark_complete()
    assert query(path, "SELECT count(*) FROM images") == [(1,)]


def test_british_national_grid_layer_is_refused_with_a_pointer_to_gpkg(tmp_path):
    with pytest.raises(WriterError, match=r"write a \.gpkg file"):
        open_writer(tmp_path / "x.mbtiles", make_job("Outdoor_27700", (7,)))
    with pytest.raises(WriterError, match="one layer"):
        open_writer(tmp_path / "x.mbtiles", make_job(("Road_3857", "Outdoor_3857"), (12,)))
    assert not (tmp_path / "x.mbtiles").exists()


def test_one_image_format_per_file(tmp_path):
    tiles = bbox_tiles(LAYER, 13)
    with open_writer(tmp_path / "fmt.mbtiles", make_job(LAYER, (13,))) as writer:
        writer.write(LAYER, [(tiles[0], render_tile(tiles[0], fmt="JPEG"))])
        with pytest.raises(InvalidTileError, match="one image format"):
            writer.write(LAYER, [(tiles[1], render_tile(tiles[1]))])
        writer.mark_complete()
    meta = dict(query(tmp_path / "fmt.mbtiles", "SELECT name, value FROM metadata"))
    assert meta["format"] == "jpg"
