"""Read an output file back: :func:`info` describes it, :func:`verify` checks it end to end.

Both read the file through a read-only connection and work on any GeoPackage tile table or
MBTiles file; the provenance, completeness and area checks need one made by ospack.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyproj import Transformer

from .errors import OspackError, WriterError
from .checks import check_cover, check_gpkg, check_images, check_mbtiles, mbtiles_metadata
from .writers import JobInfo, _job_from, _read_only, detect_format
from .writers import gpkg as gpkg_format
from .writers.access import missing_wal_note
from .writers.gpkg import quote
from .writers.job import DEMO_ATTRIBUTION
from .writers.lock import writing_run


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
        when a rerun alone could not fix it; else None) and ``running`` (which run is writing an
        incomplete file now; else None).

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
        attribution = _attribution(provenance) if provenance else _plain_attribution(conn, fmt)
        complete = _state(conn, "complete") == "1" if provenance else None
        failure = _state(conn, "failure") if provenance and not complete else None
        running = writing_run(path) if provenance and not complete else None
    return {
        "path": str(path),
        "format": fmt,
        "size_bytes": path.stat().st_size,
        "complete": complete,
        "layers": layers,
        "attribution": attribution,
        "provenance": provenance,
        "failure": failure,
        "running": running,
    }


def verify(path: str | Path) -> VerifyReport:
    """Check a package: SQLite integrity, format conformance, every tile (its bytes against the digest
    stored with it, its address against the job's zooms and the tile matrix, its image by decoding),
    and the stored tiles against the recorded area's cover (missing and extra per zoom).

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
    lost_wal = missing_wal_note(path)  # before our own connection creates an empty -wal
    if lost_wal:
        report.notes.append(lost_wal)
    try:
        with _read_only(path) as conn:
            _verify(conn, path, report)
    except (OspackError, sqlite3.DatabaseError) as exc:
        report.problems.append(str(exc).splitlines()[0])
    except Exception as exc:  # damage no check foresaw: still a report, never a traceback
        report.problems.append(f"verify stopped on damage it cannot read ({type(exc).__name__}: {exc})")
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
    job = _job_from(conn, path)
    # in a GeoPackage shared with the user's layers, only ospack's part is judged
    foreign = gpkg_format.foreign_content(conn, job) if fmt == "gpkg" and job else []
    if foreign:
        violations = gpkg_format.own_foreign_key_violations(conn, job)
    else:
        violations = len(conn.execute("PRAGMA foreign_key_check").fetchall())
    if violations:
        report.problems.append("SQLite foreign key check fails")
    if job is None:
        report.problems.append("no ospack job recorded, so the area cover cannot be checked (not made by ospack?)")
    elif _state(conn, "complete") != "1":
        failure, running = _state(conn, "failure"), writing_run(path)
        report.problems.append(
            f"incomplete: {running}; wait for it to finish" if running
            else f"incomplete: the last run stopped: {failure}" if failure
            else "incomplete: the run was interrupted; rerun the same package command to resume"
        )
    tables = _tile_tables(conn, fmt, job)
    if fmt == "gpkg":
        check_gpkg(conn, path, tables, report, foreign)
    else:
        check_mbtiles(conn, report)
    for table in tables:
        check_images(conn, fmt, table, job, report)
        if job is not None:
            check_cover(conn, fmt, table, job, report)


# ---- file structure ----------------------------------------------------------------------------
def _tile_tables(conn: sqlite3.Connection, fmt: str, job: JobInfo | None) -> list[TileTable]:
    if fmt == "mbtiles":
        name = job.layers[0] if job else mbtiles_metadata(conn).get("name", "tiles")
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
        if job is None or table in by_table  # the user's own tile layers in a shared file are theirs
    ]


def _mbtiles_bounds(conn: sqlite3.Connection) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(v) for v in mbtiles_metadata(conn)["bounds"].split(","))
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


def _attribution(provenance: dict[str, Any]) -> str | None:
    # demo files made before they said so carry the OS statement; their tiles are test cards all the same
    return DEMO_ATTRIBUTION if provenance.get("demo") else provenance.get("attribution")


def _plain_attribution(conn: sqlite3.Connection, fmt: str) -> str | None:
    if fmt == "mbtiles":
        return mbtiles_metadata(conn).get("attribution")
    row = conn.execute("SELECT description FROM gpkg_contents WHERE data_type = 'tiles' LIMIT 1").fetchone()
    return row[0] if row else None
