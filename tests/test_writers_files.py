"""The read side of each format (ospack.writers.files, GeoPackageFile, MBTilesFile) and the one reader of
ospack's own state (ospack.writers.state)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from test_writers_support import bbox_tiles, fill, finished_package, make_job, render_tile, tamper

from ospack.errors import WriterError
from ospack.types import Tile
from ospack.writers import OutputOptions, open_package, open_writer, package_file, read_only
from ospack.writers.files import TileTable
from ospack.writers.gpkg import GeoPackageFile
from ospack.writers.mbtiles import MBTilesFile, flip_row
from ospack.writers.state import absent_keys, read_state

GPKG_LAYER, GPKG_ZOOMS = "Outdoor_27700", (6, 7)
MBT_LAYER, MBT_ZOOMS = "Road_3857", (12, 13)


def keys(tiles):
    return sorted((t.y, t.x) for t in tiles)


@pytest.mark.parametrize(
    "name, layer, zooms, cls, options",
    [
        ("a.gpkg", GPKG_LAYER, GPKG_ZOOMS, GeoPackageFile, None),
        ("a.mbtiles", MBT_LAYER, MBT_ZOOMS, MBTilesFile, None),
        ("d.mbtiles", MBT_LAYER, MBT_ZOOMS, MBTilesFile, OutputOptions(dedup=True)),
    ],
)
def test_stored_keys_counts_and_contains_read_back_xyz(tmp_path, name, layer, zooms, cls, options):
    path = finished_package(tmp_path / name, layer, zooms, options)
    with open_package(path) as package:
        assert type(package) is cls and package.job == make_job(layer, zooms)
        table = package.table_of(layer)
        for z in zooms:
            assert list(package.stored_keys(table, z)) == keys(bbox_tiles(layer, z))  # ascending XYZ rows
        assert package.tile_counts(table) == {z: len(bbox_tiles(layer, z)) for z in zooms}
        inside = bbox_tiles(layer, zooms[0])[0]
        assert package.contains(table, inside)
        assert not package.contains(table, Tile(inside.z, inside.x, inside.y + 50))


def test_the_deduplicated_layout_is_read_through_its_map_table(tmp_path):
    plain = finished_package(tmp_path / "p.mbtiles", MBT_LAYER, MBT_ZOOMS)
    dedup = finished_package(tmp_path / "d.mbtiles", MBT_LAYER, MBT_ZOOMS, OutputOptions(dedup=True))
    with open_package(plain) as package:
        assert not package.dedup and package.key_table == "tiles"
        assert package.tile_source("tiles").from_clause == "tiles t"
    with open_package(dedup) as package:
        assert package.dedup and package.key_table == "map"
        assert package.tile_source("tiles").from_clause.startswith("map t LEFT JOIN images")


def test_mbtiles_rows_are_stored_tms_and_read_xyz(tmp_path):
    path = tmp_path / "one.mbtiles"
    tile = bbox_tiles(MBT_LAYER, 12)[0]
    with open_writer(path, make_job(MBT_LAYER, (12,))) as writer:
        writer.write(MBT_LAYER, [(tile, render_tile(tile))])
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT tile_row FROM tiles").fetchall() == [(flip_row(12, tile.y),)]
    conn.close()
    with open_package(path) as package:
        assert list(package.stored_keys("tiles", 12)) == [(tile.y, tile.x)]


def test_tile_tables_metadata_and_attribution(tmp_path):
    gpkg = finished_package(tmp_path / "a.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    mbtiles = finished_package(tmp_path / "a.mbtiles", MBT_LAYER, MBT_ZOOMS)
    with open_package(gpkg) as package:
        (table,) = package.tile_tables()
        assert (table.layer, table.table, table.epsg, table.tile_size) == (GPKG_LAYER, "outdoor_27700", 27700, 256)
        assert table.bounds is not None and table.bounds[0] < table.bounds[2]
        assert package.attribution() == package.job.attribution
        assert package.file_matrix("outdoor_27700")(7) == package.job.grid.pyramid_size(7)
    with open_package(mbtiles) as package:
        metadata = package.metadata()
        assert metadata["minzoom"] == "12" and metadata["maxzoom"] == "13" and metadata["ospack_layer"] == MBT_LAYER
        (table,) = package.tile_tables()
        assert isinstance(table, TileTable) and (table.layer, table.table, table.epsg) == (MBT_LAYER, "tiles", 3857)
        assert package.plain_attribution() == metadata["attribution"] == package.attribution()
        assert package.file_matrix("tiles")(3) == (8, 8)


def test_a_file_ospack_did_not_make_reads_its_own_metadata(tmp_path):
    path = finished_package(tmp_path / "a.mbtiles", MBT_LAYER, MBT_ZOOMS)
    tamper(path, "DROP TABLE ospack_state", "UPDATE metadata SET value = 'theirs' WHERE name = 'attribution'")
    with open_package(path) as package:
        assert package.state is None and package.job is None
        assert package.attribution() == "theirs"
        assert package.absent_counts(MBT_LAYER) == {}
        assert package.tile_tables()[0].layer == package.metadata()["name"]


@pytest.mark.parametrize(
    "name, layer, zooms", [("a.gpkg", GPKG_LAYER, GPKG_ZOOMS), ("a.mbtiles", MBT_LAYER, MBT_ZOOMS)]
)
def test_structural_problems_of_a_sound_file_are_none(tmp_path, name, layer, zooms):
    path = finished_package(tmp_path / name, layer, zooms)
    with open_package(path) as package:
        found = package.structural_problems(package.tile_tables())
    assert found.problems == []


def test_structural_problems_name_what_breaks_the_format(tmp_path):
    mbtiles = finished_package(tmp_path / "a.mbtiles", MBT_LAYER, MBT_ZOOMS)
    tamper(mbtiles, "UPDATE metadata SET value = '9' WHERE name = 'minzoom'")
    with open_package(mbtiles) as package:
        assert package.structural_problems(package.tile_tables()).problems == [
            "MBTiles minzoom/maxzoom (9/13) do not match the stored zooms 12-13"
        ]
    gpkg = finished_package(tmp_path / "a.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(gpkg, "DELETE FROM gpkg_tile_matrix_set")
    with open_package(gpkg) as package:
        problems = package.structural_problems(package.tile_tables()).problems
    assert "GeoPackage table outdoor_27700 has no tile matrix set" in problems


def test_open_package_refuses_what_is_not_a_package(tmp_path):
    with pytest.raises(WriterError, match="does not exist"):
        with open_package(tmp_path / "missing.gpkg"):
            pass
    other = tmp_path / "other.gpkg"
    tamper(other, "CREATE TABLE t (a)")
    with pytest.raises(WriterError, match="neither a GeoPackage nor an MBTiles"):
        with open_package(other):
            pass
    with read_only(other) as conn:
        assert package_file(conn, other) is None


def test_the_writer_reads_its_file_through_its_format(tmp_path):
    with open_writer(tmp_path / "a.gpkg", make_job(GPKG_LAYER, GPKG_ZOOMS)) as writer:
        assert isinstance(writer.file, GeoPackageFile)
    with open_writer(tmp_path / "a.mbtiles", make_job(MBT_LAYER, MBT_ZOOMS), OutputOptions(dedup=True)) as writer:
        assert isinstance(writer.file, MBTilesFile) and writer.dedup and writer.file.key_table == "map"


# ---- ospack's own state ------------------------------------------------------------------------
def state_of(path):
    with read_only(path) as conn:
        return read_state(conn, path)


def test_the_state_of_a_running_and_a_finished_package(tmp_path):
    path = tmp_path / "a.mbtiles"
    job = make_job(MBT_LAYER, MBT_ZOOMS)
    with open_writer(path, job) as writer:
        fill(writer, MBT_LAYER, MBT_ZOOMS[:1])
        writer.record_failure("the API refused the key")
        running = state_of(path)
        assert running.job == job and running.provenance == json.loads(json.dumps(job.to_dict()))
        assert (running.complete, running.failure, running.session) == (False, "the API refused the key", "open")
        assert running.image_format == "png" and running.has_digests
        writer.record_failure(None)
        writer.mark_complete()
    done = state_of(path)
    assert (done.complete, done.failure, done.session) == (True, None, "closed")


def test_a_failure_of_a_complete_file_is_not_reported(tmp_path):
    path = finished_package(tmp_path / "a.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(path, "INSERT INTO ospack_state (name, value) VALUES ('failure', 'stale')")
    assert state_of(path).failure is None


def test_no_state_means_not_made_by_ospack_and_a_bad_job_is_an_error(tmp_path):
    plain = tmp_path / "plain.gpkg"
    tamper(plain, "CREATE TABLE t (a)")
    assert state_of(plain) is None
    path = finished_package(tmp_path / "a.gpkg", GPKG_LAYER, GPKG_ZOOMS)
    tamper(path, "DROP TABLE ospack_digest")
    assert state_of(path).has_digests is False
    tamper(path, "UPDATE ospack_state SET value = '{not json' WHERE name = 'job'")
    with pytest.raises(WriterError, match="the recorded job is not valid JSON"):
        state_of(path)


def test_absent_keys_are_ascending_and_skip_damaged_rows(tmp_path):
    path = tmp_path / "a.gpkg"
    tiles = bbox_tiles(GPKG_LAYER, 7)
    with open_writer(path, make_job(GPKG_LAYER, (7,))) as writer:
        writer.record_absent(GPKG_LAYER, reversed(tiles))
    tamper(path, ("INSERT INTO ospack_absent VALUES (?, 7, 'x', 0)", (GPKG_LAYER,)))
    with read_only(path) as conn:
        assert list(absent_keys(conn, GPKG_LAYER, 7)) == keys(tiles)
    with open_package(path) as package:
        assert package.absent_counts(GPKG_LAYER) == {7: len(tiles) + 1}


def test_held_keys_merge_stored_and_absent_tiles_once_each(tmp_path):
    path = tmp_path / "a.mbtiles"
    tiles = bbox_tiles(MBT_LAYER, 12)
    with open_writer(path, make_job(MBT_LAYER, (12,))) as writer:
        writer.write(MBT_LAYER, [(t, render_tile(t)) for t in tiles[:3]])
        writer.record_absent(MBT_LAYER, tiles[2:5])  # one tile both stored and recorded absent
        assert list(writer.done(MBT_LAYER, 12)) == sorted(tiles[:5], key=lambda t: (t.y, t.x))
    with open_package(path) as package:
        assert list(package.held_keys(MBT_LAYER, 12)) == keys(tiles[:5])
