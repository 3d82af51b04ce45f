"""GeoPackage writer: round trips on both grids, GDAL's validator, GDAL (rasterio) as an independent reader."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
import rasterio
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from test_writers_support import bbox_tiles, check_quadrant_pixels, fill, make_job, query, render_tile, tamper

from ospack.errors import IncompatibleOutputError, InvalidTileError, WriterError
from ospack.layers import get_layer
from ospack.types import Tile
from ospack.writers import OutputOptions, open_writer, read_job

GRIDS = {"Outdoor_27700": (5, 6, 7), "Road_3857": (11, 12, 13)}


@pytest.fixture(params=sorted(GRIDS))
def package(request, tmp_path):
    """A finished single-layer GeoPackage: (path, layer, zooms, written tiles)."""
    layer = request.param
    zooms = GRIDS[layer]
    path = tmp_path / "out.gpkg"
    with open_writer(path, make_job(layer, zooms)) as writer:
        written = fill(writer, layer, zooms)
        assert not writer.complete
        writer.mark_complete()
        assert writer.complete
    return path, layer, zooms, written


def test_round_trip_returns_every_tile_byte_for_byte(package, open_db):
    path, layer, _zooms, written = package
    conn = open_db(path)
    for z, tiles in written.items():
        for tile in tiles:
            (data,) = conn.execute(
                f"SELECT tile_data FROM {layer.lower()} WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, tile.x, tile.y),
            ).fetchone()
            assert data == render_tile(tile)
    assert conn.execute(f"SELECT count(*) FROM {layer.lower()}").fetchone()[0] == sum(map(len, written.values()))


def test_reopened_writer_knows_what_is_stored(package):
    path, layer, zooms, written = package
    with open_writer(path, make_job(layer, zooms)) as writer:
        assert writer.complete  # same zooms: nothing to do, still complete
        assert writer.tile_counts(layer) == {z: len(t) for z, t in written.items()}
        for z in zooms:
            assert list(writer.done(layer, z)) == sorted(written[z], key=lambda t: (t.y, t.x))
        assert writer.contains(layer, written[zooms[-1]][0])
        assert not writer.contains(layer, Tile(zooms[-1], 0, 0))


def test_gdal_validator_reports_no_errors(package):
    path, *_ = package
    assert validate_gpkg(str(path), abort_at_first_error=False) == []


def test_spec_rows_pragmas_and_matrix(package, open_db):
    path, layer, zooms, _ = package
    grid = get_layer(layer).grid
    conn = open_db(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10300
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    srs = {row[0] for row in conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys")}
    assert srs == {-1, 0, 4326, grid.epsg}
    tms = conn.execute("SELECT srs_id, min_x, min_y, max_x, max_y FROM gpkg_tile_matrix_set").fetchone()
    expected = {27700: (-238375.0, -229376.0, 908505.0, 1376256.0)}.get(
        grid.epsg, (-20037508.342789244,) * 2 + (20037508.342789244,) * 2
    )
    assert tms[0] == grid.epsg and tms[1:] == pytest.approx(expected, abs=1e-6)
    matrix = conn.execute(
        "SELECT zoom_level, matrix_width, matrix_height, pixel_x_size FROM gpkg_tile_matrix ORDER BY zoom_level"
    ).fetchall()
    assert [m[0] for m in matrix] == list(range(max(zooms) + 1))
    for z, width, height, pixel in matrix:
        factor = (5, 7) if grid.epsg == 27700 else (1, 1)
        assert (width, height) == (factor[0] << z, factor[1] << z)
        assert pixel == pytest.approx((896.0 if grid.epsg == 27700 else 156543.03392804097) / 2**z)
    (last_change,) = conn.execute("SELECT last_change FROM gpkg_contents").fetchone()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", last_change)


def test_provenance_in_the_metadata_extension(package, open_db):
    path, layer, zooms, _ = package
    conn = open_db(path)
    extensions = conn.execute("SELECT table_name, extension_name, scope FROM gpkg_extensions").fetchall()
    assert ("gpkg_metadata", "gpkg_metadata", "read-write") in extensions
    assert ("gpkg_metadata_reference", "gpkg_metadata", "read-write") in extensions
    (text,) = conn.execute(
        "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON r.md_file_id = m.id "
        "WHERE r.reference_scope = 'geopackage' AND m.mime_type = 'application/json'"
    ).fetchone()
    provenance = json.loads(text)
    assert provenance["layers"] == [layer] and provenance["zooms"] == list(zooms)
    assert provenance["attribution"] == "Contains OS data © Crown copyright and database rights 2026"
    assert provenance["source"] == "https://api.os.uk/maps/raster/v1/zxy"
    assert provenance["area"]["type"] == "Polygon" and provenance["ospack_version"]
    assert read_job(path) == make_job(layer, zooms)


def test_gdal_reads_crs_extent_overviews_and_pixels(package):
    path, layer, zooms, written = package
    grid = get_layer(layer).grid
    top = max(zooms)
    tiles = written[top]
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == grid.epsg
        span = grid.tile_span(top)
        xs = [grid.tile_bounds(t) for t in tiles]
        assert src.bounds.left == pytest.approx(min(b.left for b in xs))
        assert src.bounds.top == pytest.approx(max(b.top for b in xs))
        assert src.res[0] == pytest.approx(span / 256)
        assert len(src.overviews(1)) == len(zooms) - 1
        assert src.tags()["ATTRIBUTION"].startswith("Contains OS data")
    # the pixel at the centre of each quadrant of each tile, at every zoom (overviews included)
    checked = 0
    for level, z in enumerate(reversed(zooms)):
        kwargs = {} if level == 0 else {"overview_level": level - 1}
        with rasterio.open(path, **kwargs) as src:
            checked += check_quadrant_pixels(src, grid, written[z])
    assert checked >= 2 * sum(map(len, written.values()))


def test_several_layers_share_one_file(tmp_path):
    path = tmp_path / "two.gpkg"
    layers = ("Outdoor_27700", "Light_27700")
    with open_writer(path, make_job(layers, (6, 7))) as writer:
        for layer in layers:
            fill(writer, layer, (6, 7))
        writer.mark_complete()
    assert validate_gpkg(str(path), abort_at_first_error=False) == []
    assert set(query(path, "SELECT table_name FROM gpkg_contents")) == {("outdoor_27700",), ("light_27700",)}
    for layer in layers:
        with rasterio.open(path, table=layer.lower()) as src:
            assert src.crs.to_epsg() == 27700 and src.width > 0


def test_bad_images_refuse_the_whole_batch(tmp_path):
    layer = "Outdoor_27700"
    with open_writer(tmp_path / "bad.gpkg", make_job(layer, (7,))) as writer:
        good = bbox_tiles(layer, 7)
        bad_cases = [
            render_tile(good[1], size=512),
            b"<html>error</html>",
            render_tile(good[1])[:-20],
            render_tile(good[1], fmt="GIF"),
        ]
        for bad in bad_cases:
            with pytest.raises(InvalidTileError, match="nothing of this batch was stored"):
                writer.write(layer, [(good[0], render_tile(good[0])), (good[1], bad)])
        assert writer.tile_counts(layer) == {}
        assert writer.write(layer, [(good[0], render_tile(good[0], fmt="JPEG"))]) == 1
        with pytest.raises(WriterError, match="outside grid"):
            writer.write(layer, [(Tile(7, 10**6, 0), render_tile(good[0]))])
        with pytest.raises(WriterError, match="not in the job's zooms"):
            writer.write(layer, [(Tile(6, 0, 0), render_tile(good[0]))])
        with pytest.raises(WriterError, match="not part of this package"):
            writer.write("Road_27700", [(good[0], render_tile(good[0]))])


def test_absent_tiles_merge_into_done_in_row_column_order(tmp_path):
    layer = "Outdoor_27700"
    with open_writer(tmp_path / "absent.gpkg", make_job(layer, (7,))) as writer:
        tiles = bbox_tiles(layer, 7)
        stored, absent = tiles[::2], tiles[1::2]
        writer.write(layer, [(t, render_tile(t)) for t in reversed(stored)])
        writer.record_absent(layer, absent)
        writer.record_absent(layer, absent[:1])  # recording twice is harmless
        assert list(writer.done(layer, 7)) == tiles
        assert writer.absent_counts(layer) == {7: len(absent)}
        assert writer.tile_counts(layer) == {7: len(stored)}
        done = writer.done(layer, 7)
        first = next(done)  # iterating while writing sees one snapshot
        writer.write(layer, [(absent[0], render_tile(absent[0]))])
        assert [first, *done] == tiles


def test_resume_grows_zooms_and_marks_incomplete(tmp_path):
    layer = "Outdoor_27700"
    path = tmp_path / "grow.gpkg"
    with open_writer(path, make_job(layer, (6,))) as writer:
        fill(writer, layer, (6,))
        writer.mark_complete()
    with open_writer(path, make_job(layer, (7,))) as writer:
        assert not writer.complete
        assert writer.job.zooms == (6, 7)
        assert writer.tile_counts(layer) == {6: len(bbox_tiles(layer, 6))}
        fill(writer, layer, (7,))
    assert read_job(path).zooms == (6, 7)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM ospack_state WHERE name='complete'").fetchone() == ("0",)
    assert conn.execute("SELECT max(zoom_level) FROM gpkg_tile_matrix").fetchone() == (7,)
    conn.close()
    with open_writer(path, make_job(layer, (6, 7))) as writer:
        writer.mark_complete()
    assert validate_gpkg(str(path), abort_at_first_error=False) == []


def test_writing_into_a_complete_file_marks_it_incomplete(package):
    path, layer, zooms, written = package
    with open_writer(path, make_job(layer, zooms)) as writer:
        tile = written[zooms[0]][0]
        writer.write(layer, [(tile, render_tile(tile))])
        assert not writer.complete
    assert query(path, "SELECT value FROM ospack_state WHERE name='complete'") == [("0",)]


@pytest.mark.parametrize(
    "other, says",
    [
        (make_job("Light_27700", (7,)), "layers Outdoor_27700 in the file"),
        (make_job("Outdoor_27700", (7,), box=(-3.0, 53.0, -2.9, 53.1)), "a different area"),
        (make_job("Outdoor_27700", (7,), demo=True), "emulator"),
        (make_job("Road_3857", (12,)), "grid EPSG:27700 in the file, EPSG:3857 asked"),
    ],
)
def test_incompatible_job_is_refused_unless_overwritten(tmp_path, other, says):
    path = tmp_path / "job.gpkg"
    open_writer(path, make_job("Outdoor_27700", (7,))).close()
    with pytest.raises(IncompatibleOutputError, match="--overwrite") as err:
        open_writer(path, other)
    assert says in str(err.value)
    with open_writer(path, other, OutputOptions(overwrite=True)) as writer:
        assert writer.job == other


def test_foreign_files_are_refused(tmp_path):
    path = tmp_path / "foreign.gpkg"
    tamper(path, "CREATE TABLE t (a)")
    with pytest.raises(IncompatibleOutputError, match="not a tile package"):
        open_writer(path, make_job("Outdoor_27700", (7,)))
    text = tmp_path / "notes.gpkg"
    text.write_text("not a database at all " * 100)
    with pytest.raises(WriterError, match="not a readable SQLite file"):
        open_writer(text, make_job("Outdoor_27700", (7,)))
    with pytest.raises(WriterError, match=r"name it .gpkg or .mbtiles"):
        open_writer(tmp_path / "out.tif", make_job("Outdoor_27700", (7,)))
    with pytest.raises(WriterError, match="MBTiles option"):
        open_writer(tmp_path / "d.gpkg", make_job("Outdoor_27700", (7,)), OutputOptions(dedup=True))


def test_empty_leftover_file_is_recreated(tmp_path):
    path = tmp_path / "empty.gpkg"
    path.touch()
    with open_writer(path, make_job("Outdoor_27700", (7,))) as writer:
        assert writer.tile_counts("Outdoor_27700") == {}
    assert read_job(path) is not None
    assert read_job(tmp_path / "missing.gpkg") is None


def test_a_second_writer_gets_a_clear_error_while_the_first_holds_a_batch(tmp_path):
    layer = "Outdoor_27700"
    path = tmp_path / "busy.gpkg"
    with open_writer(path, make_job(layer, (7,))) as first:
        tile = bbox_tiles(layer, 7)[0]
        blocker = sqlite3.connect(path, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")  # another process mid-batch
        first._conn.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(WriterError, match="is another ospack run writing it"):
            first.write(layer, [(tile, render_tile(tile))])
        blocker.rollback()
        blocker.close()
        assert first.write(layer, [(tile, render_tile(tile))]) == 1
