"""Read an output file back: :func:`info` describes it, :func:`verify` checks it end to end.

Both read the file through a read-only connection and work on any GeoPackage tile table or
MBTiles file; the provenance, completeness and area checks need one made by ospack.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from heapq import merge
from pathlib import Path
from typing import Any

from PIL import Image
from pyproj import Transformer

from .errors import AreaOutsideGridError, OspackError, WriterError
from .writers import JobInfo, _job_from, _read_only, detect_format
from .writers import gpkg as gpkg_format
from .writers import mbtiles as mbtiles_format
from .writers.gpkg import GPKG_APPLICATION_ID, quote
from .writers.mbtiles import flip_row

#: individual bad tiles / missing tiles named per problem before the rest are summarised
EXAMPLES = 3
MAX_BAD_TILES_LISTED = 10
_MBTILES_REQUIRED = ("name", "format", "bounds", "minzoom", "maxzoom")


@dataclass(frozen=True)
class TileTable:
    """One layer's tiles inside a file."""

    layer: str
    table: str
    epsg: int
    tile_size: int
    bounds: tuple[float, float, float, float] | None  # in the layer's CRS


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``ok`` when ``problems`` is empty."""

    path: str
    format: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tiles_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "path": self.path,
            "format": self.format,
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "tiles_checked": self.tiles_checked,
        }


def info(path: str | Path) -> dict[str, Any]:
    """Describe a GeoPackage or MBTiles tile file.

    Returns
    -------
    dict
        ``path``, ``format``, ``size_bytes``, ``complete`` (None when not made by ospack),
        ``layers`` (each ``name``, ``table``, ``crs``, ``bounds`` in that CRS, ``wgs84_bounds``,
        ``zooms`` {zoom as str: tile count}, ``absent`` {zoom as str: count}), ``attribution``,
        ``provenance`` (the recorded job, or None) and ``failure`` (why the last run stopped,
        when a rerun alone could not fix it; else None).

    Raises
    ------
    WriterError
        When the file is missing, not SQLite, or not a tile package.
    """
    path = Path(path)
    if not path.is_file():
        raise WriterError(f"{path} does not exist")
    with _read_only(path) as conn:
        fmt = detect_format(conn)
        if fmt is None:
            raise WriterError(f"{path} is neither a GeoPackage nor an MBTiles file")
        job = _job_from(conn, path)
        provenance = _provenance(conn)
        layers = []
        for table in _tile_tables(conn, fmt, job):
            counts = conn.execute(
                f"SELECT zoom_level, count(*) FROM {quote(table.table)} GROUP BY zoom_level ORDER BY zoom_level"
            ).fetchall()
            layers.append(
                {
                    "name": table.layer,
                    "table": table.table,
                    "crs": f"EPSG:{table.epsg}",
                    "bounds": list(table.bounds) if table.bounds else None,
                    "wgs84_bounds": _wgs84(table.bounds, table.epsg),
                    "zooms": {str(z): n for z, n in counts},
                    "absent": _absent_counts(conn, table.layer) if provenance else {},
                }
            )
        attribution = provenance.get("attribution") if provenance else _plain_attribution(conn, fmt)
        complete = _state(conn, "complete") == "1" if provenance else None
        failure = _state(conn, "failure") if provenance and not complete else None
    return {
        "path": str(path),
        "format": fmt,
        "size_bytes": path.stat().st_size,
        "complete": complete,
        "layers": layers,
        "attribution": attribution,
        "provenance": provenance,
        "failure": failure,
    }


def verify(path: str | Path) -> VerifyReport:
    """Check a package: SQLite integrity, format conformance, every tile image, and the stored
    tiles against the recorded area's cover (missing and extra per zoom).

    Returns
    -------
    VerifyReport
        Never raises for a bad file: everything wrong becomes a one-line problem.
    """
    path = Path(path)
    report = VerifyReport(str(path))
    if not path.is_file():
        report.problems.append(f"{path} does not exist")
        return report
    try:
        with _read_only(path) as conn:
            _verify(conn, path, report)
    except (OspackError, sqlite3.DatabaseError) as exc:
        report.problems.append(str(exc).splitlines()[0])
    return report


def _verify(conn: sqlite3.Connection, path: Path, report: VerifyReport) -> None:
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        report.problems.extend(f"SQLite integrity: {line}" for line in integrity[:5])
        return
    fmt = report.format = detect_format(conn)
    if fmt is None:
        report.problems.append("neither a GeoPackage nor an MBTiles file")
        return
    if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
        report.problems.append("SQLite foreign key check fails")
    job = _job_from(conn, path)
    if job is None:
        report.problems.append("no ospack job recorded, so the area cover cannot be checked (not made by ospack?)")
    elif _state(conn, "complete") != "1":
        failure = _state(conn, "failure")
        report.problems.append(
            f"incomplete: the last run stopped: {failure}" if failure
            else "incomplete: the run was interrupted; rerun the same package command to resume"
        )
    tables = _tile_tables(conn, fmt, job)
    if fmt == "gpkg":
        _check_gpkg(conn, path, tables, report)
    else:
        _check_mbtiles(conn, report)
    for table in tables:
        _check_images(conn, fmt, table, report)
        if job is not None:
            _check_cover(conn, fmt, table, job, report)


# ---- file structure ----------------------------------------------------------------------------
def _tile_tables(conn: sqlite3.Connection, fmt: str, job: JobInfo | None) -> list[TileTable]:
    if fmt == "mbtiles":
        name = job.layers[0] if job else _metadata(conn).get("name", "tiles")
        return [TileTable(name, "tiles", 3857, job.grid.tile_size if job else 256, _mbtiles_bounds(conn))]
    by_table = {gpkg_format.table_name(layer): layer for layer in (job.layers if job else ())}
    rows = conn.execute(
        "SELECT c.table_name, c.srs_id, c.min_x, c.min_y, c.max_x, c.max_y, "
        "(SELECT tile_width FROM gpkg_tile_matrix m WHERE m.table_name = c.table_name LIMIT 1) "
        "FROM gpkg_contents c WHERE c.data_type = 'tiles' ORDER BY c.table_name"
    )
    return [
        TileTable(
            by_table.get(table, table), table, srs, size or 256, None if min_x is None else (min_x, min_y, max_x, max_y)
        )
        for table, srs, min_x, min_y, max_x, max_y, size in rows
    ]


def _metadata(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT name, value FROM metadata").fetchall())


def _mbtiles_bounds(conn: sqlite3.Connection) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in _metadata(conn)["bounds"].split(","))
    except (KeyError, ValueError):
        return None
    to_mercator = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    return to_mercator.transform_bounds(west, south, east, north)


def _wgs84(bounds: tuple[float, float, float, float] | None, epsg: int) -> list[float] | None:
    if bounds is None or epsg <= 0:
        return None
    box = Transformer.from_crs(f"EPSG:{epsg}", "EPSG:4326", always_xy=True).transform_bounds(*bounds, densify_pts=21)
    return [round(v, 7) for v in box]


def _state(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT value FROM ospack_state WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def _provenance(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ospack_state'").fetchone() is None:
        return None
    value = _state(conn, "job")
    return None if value is None else json.loads(value)


def _absent_counts(conn: sqlite3.Connection, layer: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT zoom_level, count(*) FROM ospack_absent WHERE layer = ? GROUP BY zoom_level ORDER BY zoom_level",
        (layer,),
    )
    return {str(z): n for z, n in rows}


def _plain_attribution(conn: sqlite3.Connection, fmt: str) -> str | None:
    if fmt == "mbtiles":
        return _metadata(conn).get("attribution")
    row = conn.execute("SELECT description FROM gpkg_contents WHERE data_type = 'tiles' LIMIT 1").fetchone()
    return row[0] if row else None


# ---- checks ------------------------------------------------------------------------------------
def _check_gpkg(conn: sqlite3.Connection, path: Path, tables: list[TileTable], report: VerifyReport) -> None:
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
        width, height = tms[2] - tms[0], tms[3] - tms[1]
        matrices = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT zoom_level, matrix_width, matrix_height, tile_width, tile_height, pixel_x_size, pixel_y_size "
                "FROM gpkg_tile_matrix WHERE table_name = ?",
                (table.table,),
            )
        }
        for z, (mw, mh, tw, th, px, py) in sorted(matrices.items()):
            if abs(mw * tw * px - width) > 1e-3 * width or abs(mh * th * py - height) > 1e-3 * height:
                report.problems.append(f"GeoPackage table {table.table} zoom {z}: matrix does not tile the set bounds")
        extents = conn.execute(
            f"SELECT zoom_level, max(tile_column), max(tile_row), min(tile_column), min(tile_row) "
            f"FROM {quote(table.table)} GROUP BY zoom_level"
        )
        for z, max_col, max_row, min_col, min_row in extents:
            if z not in matrices:
                report.problems.append(f"GeoPackage table {table.table} has tiles at zoom {z} but no tile matrix row")
            elif min(min_col, min_row) < 0 or max_col >= matrices[z][0] or max_row >= matrices[z][1]:
                report.problems.append(f"GeoPackage table {table.table} zoom {z}: tiles outside the tile matrix")
    try:
        from osgeo_utils.samples.validate_gpkg import check  # GDAL's validator, when installed
    except ImportError:
        report.notes.append("GDAL's validate_gpkg.py is not installed; ran ospack's own GeoPackage checks only")
        return
    for req, message in check(str(path), abort_at_first_error=False):
        report.problems.append(f"GeoPackage requirement {req}: {message}")


def _check_mbtiles(conn: sqlite3.Connection, report: VerifyReport) -> None:
    metadata = _metadata(conn)
    missing = [key for key in _MBTILES_REQUIRED if not metadata.get(key)]
    if missing:
        report.problems.append(f"MBTiles metadata lacks {', '.join(missing)}")
    try:
        west, south, east, north = (float(v) for v in metadata.get("bounds", "").split(","))
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError
    except ValueError:
        report.problems.append(f"MBTiles bounds {metadata.get('bounds')!r} is not west,south,east,north in degrees")
    keyed = "map" if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'map'").fetchone() else "tiles"
    if not _has_unique_index(conn, keyed, ["zoom_level", "tile_column", "tile_row"]):
        report.problems.append(f"MBTiles {keyed} table has no unique index on (zoom_level, tile_column, tile_row)")
    zooms = [z for (z,) in conn.execute("SELECT DISTINCT zoom_level FROM tiles ORDER BY zoom_level")]
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


def _check_images(conn: sqlite3.Connection, fmt: str, table: TileTable, report: VerifyReport) -> None:
    bad = 0
    rows = conn.execute(f"SELECT zoom_level, tile_column, tile_row, tile_data FROM {quote(table.table)}")
    for z, x, row, data in rows:
        report.tiles_checked += 1
        y = flip_row(z, row) if fmt == "mbtiles" else row
        reason = _decode_problem(data, table.tile_size)
        if reason:
            bad += 1
            if bad <= MAX_BAD_TILES_LISTED:
                report.problems.append(f"tile {z}/{x}/{y} of {table.layer}: {reason}")
    if bad > MAX_BAD_TILES_LISTED:
        report.problems.append(f"{bad - MAX_BAD_TILES_LISTED} more tiles of {table.layer} do not decode")


def _decode_problem(data: Any, size: int) -> str | None:
    if not isinstance(data, bytes):
        return f"tile_data is {type(data).__name__}, not an image"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format not in ("PNG", "JPEG"):
                return f"{image.format} image, not PNG or JPEG"
            if image.size != (size, size):
                return f"image is {image.size[0]}×{image.size[1]}, not {size}×{size}"
    except (OSError, SyntaxError, ValueError) as exc:
        return f"does not decode ({exc})"
    return None


def _check_cover(conn: sqlite3.Connection, fmt: str, table: TileTable, job: JobInfo, report: VerifyReport) -> None:
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
            cover_keys: Iterator[tuple[int, int, int]] = ((t.y, t.x, 0) for t in cover(area, table.layer, [z]))
        except AreaOutsideGridError:
            cover_keys = iter(())
        stored = ((*key, 1) for key in _stored_keys(conn, fmt, table.table, z))
        absent = (
            (row, col, 2)
            for row, col in conn.execute(
                "SELECT tile_row, tile_column FROM ospack_absent WHERE layer = ? AND zoom_level = ? "
                "ORDER BY tile_row, tile_column",
                (table.layer, z),
            )
        )
        missing: list[str] = []
        extra: list[str] = []
        n_missing = n_extra = 0
        for (row, col), group in itertools.groupby(merge(cover_keys, stored, absent), key=lambda k: k[:2]):
            sources = {k[2] for k in group}
            if 0 in sources and not sources & {1, 2}:
                n_missing += 1
                if len(missing) < EXAMPLES:
                    missing.append(f"{z}/{col}/{row}")
            elif 1 in sources and 0 not in sources:
                n_extra += 1
                if len(extra) < EXAMPLES:
                    extra.append(f"{z}/{col}/{row}")
        if n_missing:
            report.problems.append(
                f"{table.layer} zoom {z}: {n_missing} tiles of the area's cover are missing (e.g. {', '.join(missing)})"
            )
        if n_extra:
            report.problems.append(
                f"{table.layer} zoom {z}: {n_extra} stored tiles lie outside the area's cover (e.g. {', '.join(extra)})"
            )


def _stored_keys(conn: sqlite3.Connection, fmt: str, table: str, z: int) -> Iterator[tuple[int, int]]:
    if fmt == "gpkg":
        return gpkg_format.stored_keys(conn, table, z)
    keyed = "map" if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'map'").fetchone() else "tiles"
    return mbtiles_format.stored_keys(conn, keyed, z)
