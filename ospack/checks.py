"""The checks :func:`ospack.inspect.verify` runs on an open file, each adding one-line problems to its report.

Format conformance (GeoPackage tables and matrices, GDAL's validate_gpkg.py; MBTiles metadata and
indexes), every stored tile row (digest, address, image) and the stored tiles against the cover.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import AreaOutsideGridError
from .writers import JobInfo
from .writers import gpkg as gpkg_format
from .writers import mbtiles as mbtiles_format
from .writers.gpkg import GPKG_APPLICATION_ID, quote
from .writers.integrity import MAX_ZOOM, TileSource, cover_diff, has_digests, row_problem, stored_rows

if TYPE_CHECKING:
    from .inspect import TileTable, VerifyReport

#: individual bad tiles / missing tiles named per problem before the rest are summarised
EXAMPLES = 3
MAX_BAD_TILES_LISTED = 10
_MBTILES_REQUIRED = ("name", "format", "bounds", "minzoom", "maxzoom")


def mbtiles_metadata(conn: sqlite3.Connection) -> dict[str, str]:
    """An MBTiles file's metadata table as a dict."""
    return dict(conn.execute("SELECT name, value FROM metadata").fetchall())


def check_gpkg(
    conn: sqlite3.Connection, path: Path, tables: list[TileTable], report: VerifyReport, foreign: list[str]
) -> None:
    """GeoPackage header, tile matrix sets and matrices, then GDAL's validate_gpkg.py when installed.

    The validator's findings about the user's own layers (``foreign``, in a shared file) are theirs.
    """
    if conn.execute("PRAGMA application_id").fetchone()[0] != GPKG_APPLICATION_ID:
        report.problems.append("GeoPackage application_id is not 'GPKG'")
    if conn.execute("PRAGMA user_version").fetchone()[0] < 10200:
        report.problems.append("GeoPackage user_version is older than 1.2")
    for table in tables:
        tms = conn.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_tile_matrix_set WHERE table_name = ?", (table.table,)
        ).fetchone()
        if tms is None:
            report.problems.append(f"GeoPackage table {table.table} has no tile matrix set")
            continue
        if not all(type(v) in (int, float) for v in tms):
            report.problems.append(f"GeoPackage table {table.table}: tile matrix set bounds are not numbers")
            continue
        width, height = tms[2] - tms[0], tms[3] - tms[1]
        matrices = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT zoom_level, matrix_width, matrix_height, tile_width, tile_height, pixel_x_size, pixel_y_size "
                "FROM gpkg_tile_matrix WHERE table_name = ?",
                (table.table,),
            )
        }
        for z, values in sorted(matrices.items(), key=lambda item: str(item[0])):
            if not all(type(v) in (int, float) for v in (z, *values)):
                report.problems.append(f"GeoPackage table {table.table} zoom {z}: tile matrix row holds non-numbers")
                continue
            mw, mh, tw, th, px, py = values
            if abs(mw * tw * px - width) > 1e-3 * width or abs(mh * th * py - height) > 1e-3 * height:
                report.problems.append(f"GeoPackage table {table.table} zoom {z}: matrix does not tile the set bounds")
        # tiles outside a matrix are named one by one in _check_images
        stored_zooms = conn.execute(
            f"SELECT DISTINCT zoom_level FROM {quote(table.table)} WHERE typeof(zoom_level) = 'integer'"
        )
        for (z,) in stored_zooms:
            if z not in matrices:
                report.problems.append(f"GeoPackage table {table.table} has tiles at zoom {z} but no tile matrix row")
    try:
        from osgeo_utils.samples.validate_gpkg import check  # GDAL's validator, when installed
    except ImportError:
        report.notes.append("GDAL's validate_gpkg.py is not installed; ran ospack's own GeoPackage checks only")
        return
    try:
        found = check(str(path), abort_at_first_error=False)
    except Exception as exc:  # the validator trips over damaged rows (struct.error on a short blob)
        report.problems.append(
            f"GDAL's validate_gpkg.py stopped ({type(exc).__name__}: {exc}), so the GeoPackage requirements "
            "were not all checked"
        )
        return
    for req, message in found:
        if not any(re.search(rf"\b{re.escape(name)}\b", message, re.IGNORECASE) for name in foreign):
            report.problems.append(f"GeoPackage requirement {req}: {message}")


def check_mbtiles(conn: sqlite3.Connection, report: VerifyReport) -> None:
    """MBTiles metadata (required keys, bounds in degrees, zooms that match the tiles) and the unique index."""
    metadata = mbtiles_metadata(conn)
    missing = [key for key in _MBTILES_REQUIRED if not metadata.get(key)]
    if missing:
        report.problems.append(f"MBTiles metadata lacks {', '.join(missing)}")
    try:
        west, south, east, north = (float(v) for v in metadata.get("bounds", "").split(","))
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError
    except ValueError:
        report.problems.append(f"MBTiles bounds {metadata.get('bounds')!r} is not west,south,east,north in degrees")
    keyed = _mbtiles_key_table(conn)
    if not _has_unique_index(conn, keyed, ["zoom_level", "tile_column", "tile_row"]):
        report.problems.append(f"MBTiles {keyed} table has no unique index on (zoom_level, tile_column, tile_row)")
    zooms = [
        z
        for (z,) in conn.execute(
            "SELECT DISTINCT zoom_level FROM tiles WHERE typeof(zoom_level) = 'integer' ORDER BY zoom_level"
        )
    ]
    if zooms and (str(zooms[0]) != metadata.get("minzoom") or str(zooms[-1]) != metadata.get("maxzoom")):
        report.problems.append(
            f"MBTiles minzoom/maxzoom ({metadata.get('minzoom')}/{metadata.get('maxzoom')}) "
            f"do not match the stored zooms {zooms[0]}-{zooms[-1]}"
        )


def _has_unique_index(conn: sqlite3.Connection, table: str, columns: list[str]) -> bool:
    for _, name, unique, *_ in conn.execute(f"PRAGMA index_list({quote(table)})"):
        if unique and [row[2] for row in conn.execute(f"PRAGMA index_info({quote(name)})")] == columns:
            return True
    return False


def check_images(
    conn: sqlite3.Connection, fmt: str, table: TileTable, job: JobInfo | None, report: VerifyReport
) -> None:
    """Every stored row: an address of integers at a job zoom inside the matrix, the bytes its digest
    names, an image that decodes. A damaged row is a problem named by its z/x/y, never a crash."""
    bad = undigested = 0
    checked = report.tiles_checked
    matrix, zooms = _matrix(conn, fmt, table, job), frozenset(job.zooms) if job else None
    for row in stored_rows(conn, _tile_source(conn, fmt, table.table), table.layer):
        report.tiles_checked += 1
        undigested += row.digest is None
        reason = row_problem(row, tile_size=table.tile_size, matrix=matrix, zooms=zooms)
        if reason:
            bad += 1
            if bad <= MAX_BAD_TILES_LISTED:
                report.problems.append(f"tile {row.name} of {table.layer}: {reason}")
    if bad > MAX_BAD_TILES_LISTED:
        report.problems.append(f"{bad - MAX_BAD_TILES_LISTED} more tiles of {table.layer} are damaged")
    if undigested:
        total = report.tiles_checked - checked
        if job is None:
            why = "the file was not made by ospack"
        elif not has_digests(conn):
            why = "the file predates ospack's tile digests"
        else:
            why = "stored before ospack kept digests, or added by another program"
        report.notes.append(
            f"{undigested} of {total} tiles of {table.layer} have no digest ({why}): they were checked by decoding "
            "only, which cannot tell a changed or swapped tile that still decodes"
            + ("; rerun the package command on the file to record their digests" if job is not None else "")
        )


def _tile_source(conn: sqlite3.Connection, fmt: str, table: str) -> TileSource:
    if fmt == "gpkg":
        return gpkg_format.tile_source(table)
    return mbtiles_format.tile_source(dedup=_mbtiles_key_table(conn) == "map")


def _matrix(
    conn: sqlite3.Connection, fmt: str, table: TileTable, job: JobInfo | None
) -> Callable[[int], tuple[int, int] | None]:
    """Zoom → (columns, rows) of the tile matrix: the job's grid, else the file's own matrix."""
    if job is not None:
        return job.grid.pyramid_size
    if fmt == "mbtiles":
        return lambda z: (1 << z, 1 << z) if z <= MAX_ZOOM else (0, 0)
    rows = conn.execute(
        "SELECT zoom_level, matrix_width, matrix_height FROM gpkg_tile_matrix WHERE table_name = ? "
        "AND typeof(matrix_width) = 'integer' AND typeof(matrix_height) = 'integer'",
        (table.table,),
    )
    return {z: (width, height) for z, width, height in rows}.get


def check_cover(conn: sqlite3.Connection, fmt: str, table: TileTable, job: JobInfo, report: VerifyReport) -> None:
    """Merge-join the cover, the stored tiles and the recorded-absent tiles, zoom by zoom."""
    try:
        from .area import Area  # the cover stage; imported here so info() never needs it
        from .cover import cover
    except ImportError as exc:
        report.notes.append(f"stored tiles not compared with the area's cover: {exc}")
        return
    area = Area.from_geojson(job.area_geojson)
    for z in job.zooms:
        try:
            cover_keys: Iterator[tuple[int, int]] = ((t.y, t.x) for t in cover(area, table.layer, [z]))
        except AreaOutsideGridError:
            cover_keys = iter(())
        absent = conn.execute(
            "SELECT tile_row, tile_column FROM ospack_absent WHERE layer = ? AND zoom_level = ? "
            "AND typeof(tile_row) = 'integer' AND typeof(tile_column) = 'integer' ORDER BY tile_row, tile_column",
            (table.layer, z),
        )
        found: dict[str, list[str]] = {"missing": [], "extra": []}
        counts = dict.fromkeys(found, 0)
        for kind, row, col in cover_diff(cover_keys, _stored_keys(conn, fmt, table.table, z), absent):
            if kind in found:
                counts[kind] += 1
                if len(found[kind]) < EXAMPLES:
                    found[kind].append(f"{z}/{col}/{row}")
        if counts["missing"]:
            report.problems.append(
                f"{table.layer} zoom {z}: {counts['missing']} tiles of the area's cover are missing "
                f"(e.g. {', '.join(found['missing'])})"
            )
        if counts["extra"]:
            report.problems.append(
                f"{table.layer} zoom {z}: {counts['extra']} stored tiles lie outside the area's cover "
                f"(e.g. {', '.join(found['extra'])})"
            )


def _mbtiles_key_table(conn: sqlite3.Connection) -> str:
    return "map" if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'map'").fetchone() else "tiles"


def _stored_keys(conn: sqlite3.Connection, fmt: str, table: str, z: int) -> Iterator[tuple[int, int]]:
    if fmt == "gpkg":
        return gpkg_format.stored_keys(conn, table, z)
    return mbtiles_format.stored_keys(conn, _mbtiles_key_table(conn), z)
