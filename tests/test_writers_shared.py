"""A GeoPackage that holds the user's own layers: ospack adds its tile tables beside them and never
touches what it did not create, `--overwrite` included; an MBTiles file not ospack's stays refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from osgeo_utils.samples.validate_gpkg import check as validate_gpkg
from pyproj import CRS
from test_writers_support import fill, make_job, query

from ospack.cli import cli
from ospack.inspect import info, verify
from ospack.writers import open_writer

SNOWDON = str(Path(__file__).resolve().parent.parent / "sample_areas" / "yr-wyddfa.geojson")
OURS = ("outdoor_27700", "light_27700")


def make_project(path: Path, layer: str = "survey_points") -> None:
    """A field team's project GeoPackage, written by GDAL: a point layer with attributes, and a raster."""
    points = shapely.points([(260990.0, 354366.0), (261200.5, 354100.25), (260500.0, 354900.0)])
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(points),
        [np.array(["summit", "cairn", "stile"], dtype=object), np.array([1085.0, 1002.5, 760.0])],
        ["name", "height_m"],
        layer=layer,
        driver="GPKG",
        geometry_type="Point",
        crs=CRS(27700).to_wkt(),
    )
    profile = dict(
        driver="GPKG",
        width=256,
        height=256,
        count=3,
        dtype="uint8",
        crs="EPSG:27700",
        transform=Affine(4, 0, 260000, 0, -4, 355000),
    )
    with rasterio.open(path, "w", RASTER_TABLE="site_photo", APPEND_SUBDATASET="YES", **profile) as raster:
        raster.write(np.full((3, 256, 256), 90, dtype="uint8"))


def users_part(path: Path) -> dict[str, list]:
    """Everything in the file that ospack did not make, as rows: tables, schema, registry rows, header."""
    own = "(lower(table_name) IN ('outdoor_27700', 'light_27700') OR table_name LIKE 'ospack%')"
    conn = sqlite3.connect(path)
    try:
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'ospack%' "
            "AND lower(tbl_name) NOT IN ('outdoor_27700', 'light_27700') AND name NOT LIKE 'sqlite_%' "
            "AND name NOT IN ('gpkg_metadata', 'gpkg_metadata_reference') ORDER BY name"
        ).fetchall()
        part = {
            "schema": objects,
            "header": [
                conn.execute("PRAGMA application_id").fetchone(),
                conn.execute("PRAGMA user_version").fetchone(),
            ],
        }
        for registry in (
            "gpkg_contents",
            "gpkg_tile_matrix_set",
            "gpkg_tile_matrix",
            "gpkg_extensions",
            "gpkg_geometry_columns",
            "gpkg_ogr_contents",
        ):
            where = f"WHERE NOT {own}" if registry != "gpkg_geometry_columns" else ""
            if registry == "gpkg_extensions":  # ospack registers the metadata extension it adds
                where += " AND table_name NOT IN ('gpkg_metadata', 'gpkg_metadata_reference')"
            part[registry] = conn.execute(f"SELECT * FROM {registry} {where} ORDER BY 1, 2").fetchall()
        part["gpkg_spatial_ref_sys"] = conn.execute("SELECT * FROM gpkg_spatial_ref_sys ORDER BY srs_id").fetchall()
        for table in ("survey_points", "site_photo", "rtree_survey_points_geom"):
            part[table] = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
    finally:
        conn.close()
    return part


def read_points(path: Path):
    meta, _, geometry, fields = pyogrio.raw.read(str(path), layer="survey_points")
    return meta["crs"], list(geometry), [list(f) for f in fields]


def package(output: Path, *extra: str):
    args = [
        "package",
        SNOWDON,
        "-o",
        str(output),
        "--layer",
        "Outdoor_27700",
        "--zoom",
        "0-7",
        "--demo",
        "--context",
        "0",
        *extra,
    ]
    return CliRunner().invoke(cli, args)


def check_tiles_and_users_layers(path: Path, before: dict, points, table: str = "outdoor_27700") -> None:
    assert users_part(path) == before
    assert read_points(path) == points
    assert validate_gpkg(str(path), abort_at_first_error=False) == []
    with rasterio.open(f"GPKG:{path}:{table}") as tiles:
        assert tiles.crs.to_epsg() == 27700 and tiles.read(1).any()
    with rasterio.open(f"GPKG:{path}:site_photo") as photo:
        assert photo.read(1)[0, 0] == 90  # its tiles are compared byte for byte in users_part
    assert verify(path).ok, verify(path).problems
    assert [layer.table for layer in info(path).layers] == [table]


def test_ospack_adds_its_tiles_to_a_project_geopackage_and_leaves_the_users_layers_alone(runner, tmp_path):
    path = tmp_path / "project.gpkg"
    make_project(path)
    before, points = users_part(path), read_points(path)

    result = package(path)
    assert result.exit_code == 0, result.output
    check_tiles_and_users_layers(path, before, points)
    registered = query(
        path, "SELECT table_name, extension_name, scope FROM gpkg_extensions WHERE table_name LIKE 'ospack%'"
    )
    assert ("ospack_state", "ospack_bookkeeping", "write-only") in registered

    rerun = package(path)
    assert rerun.exit_code == 0 and "already complete" in rerun.output

    # --overwrite replaces ospack's job only: another area, then another layer
    result = package(path, "--overwrite", "--buffer", "500")
    assert result.exit_code == 0, result.output
    check_tiles_and_users_layers(path, before, points)
    result = runner.invoke(
        cli,
        [
            "package",
            SNOWDON,
            "-o",
            str(path),
            "--layer",
            "Light_27700",
            "--zoom",
            "5-6",
            "--demo",
            "--overwrite",
            "--context",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    check_tiles_and_users_layers(path, before, points, table="light_27700")
    assert query(path, "SELECT name FROM sqlite_master WHERE name = 'outdoor_27700'") == []
    assert query(path, "SELECT count(*) FROM gpkg_metadata_reference WHERE table_name = 'outdoor_27700'") == [(0,)]


def test_an_interrupted_job_in_a_shared_geopackage_resumes(tmp_path):
    path = tmp_path / "project.gpkg"
    make_project(path)
    before = users_part(path)
    job = make_job("Outdoor_27700", (6, 7))
    with open_writer(path, job) as writer:
        fill(writer, "Outdoor_27700", (6,))
    assert info(path).complete is False
    with open_writer(path, job) as writer:
        assert not writer.complete and writer.tile_counts("Outdoor_27700")
        fill(writer, "Outdoor_27700", (7,))
        writer.mark_complete()
    assert users_part(path) == before
    assert validate_gpkg(str(path), abort_at_first_error=False) == []


def test_a_user_table_with_ospacks_table_name_is_refused_even_with_overwrite(tmp_path):
    path = tmp_path / "project.gpkg"
    make_project(path, layer="outdoor_27700")
    before = path.read_bytes()
    for extra in ((), ("--overwrite",)):
        result = package(path, *extra)
        assert result.exit_code == 1
        assert "already has a table named outdoor_27700 that ospack did not make" in result.output
    assert path.read_bytes() == before


def test_an_mbtiles_file_ospack_did_not_make_is_refused(runner, tmp_path):
    path = tmp_path / "theirs.mbtiles"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE metadata (name text, value text); INSERT INTO metadata VALUES ('name', 'theirs');"
        "CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob);"
    )
    conn.close()
    before = path.read_bytes()
    result = runner.invoke(
        cli, ["package", SNOWDON, "-o", str(path), "--layer", "Outdoor_3857", "--zoom", "7", "--demo", "--context", "0"]
    )
    assert result.exit_code == 1
    assert "one MBTiles file holds one tileset" in result.output
    assert path.read_bytes() == before
