"""GeoPackage 1.3 tile writer: one tile pyramid table per layer, the whole grid as the matrix set.

The tile matrix set is the grid's zoom-0 pyramid (:meth:`ospack.grids.Grid.pyramid_bounds`), so a
stored ``tile_column``/``tile_row`` equals the API's x/y with no arithmetic (OGC GeoPackage 1.4,
``gpkg_tile_matrix_set`` and ``gpkg_tile_matrix``).
Provenance goes into the metadata extension twice: ospack's JSON for the whole package, and a GDAL
metadata document per table so GDAL-based readers (QGIS, QField) show the attribution.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from xml.sax.saxutils import escape, quoteattr

from ..resources import read_json, read_text
from ..types import ProjectedBounds, Tile
from .base import JobInfo, SqliteTileWriter, TileRow, utc_now_ms
from .files import Findings, PackageFile, TileTable, quote
from .integrity import TileSource
from .state import ABSENT_TABLE, DIGEST_TABLE, STATE_TABLE

GPKG_APPLICATION_ID = 0x47504B47
GPKG_USER_VERSION = 10300
#: md_standard_uri of ospack's provenance JSON in gpkg_metadata
PROVENANCE_URI = "urn:x-ospack:provenance:1"
GDAL_METADATA_URI = "http://gdal.org"
#: the GeoPackage's own tables, which ospack creates when missing and shares with the user's layers
CORE_TABLES = frozenset(
    {
        "gpkg_spatial_ref_sys",
        "gpkg_contents",
        "gpkg_tile_matrix_set",
        "gpkg_tile_matrix",
        "gpkg_extensions",
        "gpkg_metadata",
        "gpkg_metadata_reference",
    }
)
#: ospack's bookkeeping tables, registered as one vendor extension; named one by one, never by
#: their ospack_ prefix, which a user's own layer may share
BOOKKEEPING_TABLES = frozenset({STATE_TABLE, ABSENT_TABLE, DIGEST_TABLE})
BOOKKEEPING_EXTENSION = "ospack_bookkeeping"
BOOKKEEPING_DEFINITION = (
    "ospack's record of the job its tile tables hold and how far it got; readers may ignore it, "
    "writers that change the tile tables should drop it"
)
#: the GeoPackage rows that name a table, ospack's or the user's
_TABLE_ROWS = ("gpkg_tile_matrix", "gpkg_tile_matrix_set", "gpkg_extensions", "gpkg_contents")


def table_name(layer: str) -> str:
    """The tile table holding ``layer`` (lowercase, as the spec recommends)."""
    return layer.lower()


def own_tables(job: JobInfo | None) -> set[str]:
    """The tile tables of ``job`` (lowercase)."""
    return {table_name(layer) for layer in job.layers} if job else set()


def foreign_content(conn: sqlite3.Connection, job: JobInfo | None) -> list[str]:
    """Tables and layers in the file that ospack did not make (the user's), lowercase, sorted."""
    ours = own_tables(job)
    names = {name.lower() for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    if "gpkg_contents" in names:
        names |= {name.lower() for (name,) in conn.execute("SELECT table_name FROM gpkg_contents")}
    return sorted(name for name in names - ours - CORE_TABLES - BOOKKEEPING_TABLES if not name.startswith("sqlite_"))


def remove_own(conn: sqlite3.Connection, job: JobInfo) -> None:
    """Drop ospack's tables and its rows from a GeoPackage that also holds the user's layers (one transaction)."""
    ours = sorted(own_tables(job))
    bookkeeping = [
        name
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if name.lower() in BOOKKEEPING_TABLES
    ]
    conn.execute("BEGIN IMMEDIATE")
    try:
        delete_own_metadata(conn, ours)
        for table in (*ours, *bookkeeping):
            conn.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            for rows in _TABLE_ROWS:
                conn.execute(f"DELETE FROM {rows} WHERE lower(table_name) = lower(?)", (table,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def own_foreign_key_violations(conn: sqlite3.Connection, job: JobInfo | None) -> int:
    """Foreign-key violations in ospack's rows; in a file ospack has to itself, all of them.

    The user's layers are theirs to keep right: they must not stop ospack's job completing,
    nor make ``verify`` fail ospack's tiles.
    """
    rows = conn.execute("PRAGMA foreign_key_check").fetchall()
    if not rows or not foreign_content(conn, job):
        return len(rows)
    ours = own_tables(job)

    def own(table: str, rowid: int | None) -> bool:
        if table.lower() in ours or table.lower() in BOOKKEEPING_TABLES:
            return True
        if table in (*_TABLE_ROWS, "gpkg_metadata_reference") and rowid is not None:
            found = conn.execute(f"SELECT table_name FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
            return found is not None and (found[0] or "").lower() in ours
        return False

    return sum(own(table, rowid) for table, rowid, *_ in rows)


def delete_own_metadata(conn: sqlite3.Connection, tables: list[str]) -> None:
    """Delete ospack's metadata: its provenance document, and what references its tile tables."""
    marks = ",".join("?" * len(tables))
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT r.md_file_id FROM gpkg_metadata_reference r JOIN gpkg_metadata m ON m.id = r.md_file_id "
            f"WHERE (r.reference_scope = 'geopackage' AND m.md_standard_uri = ?) OR lower(r.table_name) IN ({marks})",
            (PROVENANCE_URI, *tables),
        )
    ]
    id_marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM gpkg_metadata_reference WHERE md_file_id IN ({id_marks})", ids)
    conn.execute(
        f"DELETE FROM gpkg_metadata WHERE id IN ({id_marks}) "
        "AND id NOT IN (SELECT md_file_id FROM gpkg_metadata_reference)",
        ids,
    )


class GeoPackageFile(PackageFile):
    """A GeoPackage's tile tables as read back: any GeoPackage, ospack's or another program's."""

    format = "gpkg"

    def table_of(self, layer: str) -> str:
        return table_name(layer)

    def tile_tables(self) -> list[TileTable]:
        job = self.job
        by_table = {table_name(layer): layer for layer in (job.layers if job else ())}
        rows = self.conn.execute(
            "SELECT c.table_name, c.srs_id, c.min_x, c.min_y, c.max_x, c.max_y, "
            "(SELECT tile_width FROM gpkg_tile_matrix m WHERE m.table_name = c.table_name LIMIT 1) "
            "FROM gpkg_contents c WHERE c.data_type = 'tiles' ORDER BY c.table_name"
        )
        return [
            TileTable(
                by_table.get(table, table),
                table,
                srs,
                size or 256,
                None if min_x is None else (min_x, min_y, max_x, max_y),
            )
            for table, srs, min_x, min_y, max_x, max_y, size in rows
            if job is None or table in by_table  # the user's own tile layers in a shared file are theirs
        ]

    def plain_attribution(self) -> str | None:
        row = self.conn.execute("SELECT description FROM gpkg_contents WHERE data_type = 'tiles' LIMIT 1").fetchone()
        return row[0] if row else None

    def user_content(self) -> list[str]:
        return foreign_content(self.conn, self.job) if self.job else []

    def foreign_key_violations(self) -> int:
        if self.job is None:
            return super().foreign_key_violations()
        return own_foreign_key_violations(self.conn, self.job)

    def stored_keys(self, table: str, z: int) -> Iterator[tuple[int, int]]:
        return self.conn.execute(
            f"SELECT tile_row, tile_column FROM {quote(table)} WHERE zoom_level = ? AND typeof(tile_row) = 'integer' "
            "AND typeof(tile_column) = 'integer' ORDER BY tile_row, tile_column",
            (z,),
        )

    def tile_counts(self, table: str) -> dict[int, int]:
        rows = self.conn.execute(
            f"SELECT zoom_level, count(*) FROM {quote(table)} GROUP BY zoom_level ORDER BY zoom_level"
        )
        return dict(rows.fetchall())

    def contains(self, table: str, tile: Tile) -> bool:
        row = self.conn.execute(
            f"SELECT 1 FROM {quote(table)} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?", tuple(tile)
        ).fetchone()
        return row is not None

    def tile_source(self, table: str) -> TileSource:
        return TileSource(f"{quote(table)} t")

    def file_matrix(self, table: str) -> Callable[[int], tuple[int, int] | None]:
        rows = self.conn.execute(
            "SELECT zoom_level, matrix_width, matrix_height FROM gpkg_tile_matrix WHERE table_name = ? "
            "AND typeof(matrix_width) = 'integer' AND typeof(matrix_height) = 'integer'",
            (table,),
        )
        return {z: (width, height) for z, width, height in rows}.get

    def structural_problems(self, tables: list[TileTable]) -> Findings:
        from .gpkg_conformance import conformance  # the GDAL validator and the matrix checks, for verify only

        return conformance(self.conn, self.path, tables, self.user_content())


class GeoPackageWriter(SqliteTileWriter):
    """Writes OS tiles into a GeoPackage (``.gpkg``), any grid, several layers per file."""

    format = "gpkg"
    application_id = GPKG_APPLICATION_ID
    file_class = GeoPackageFile

    def _schema_sql(self, dedup: bool) -> str:
        return read_text("gpkg/core.sql")

    def _create_tables(self) -> None:
        conn = self._conn
        if not conn.execute("PRAGMA user_version").fetchone()[0]:  # a user's GeoPackage keeps its version
            conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")
        wanted = {-1, 0, 4326, self.job.grid.epsg}
        conn.executemany(  # a user's GeoPackage may have them already, perhaps worded otherwise: keep those
            "INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, organization_coordsys_id, "
            "definition, description) VALUES (:srs_name, :srs_id, :organization, :organization_coordsys_id, "
            ":definition, :description)",
            [row for row in read_json("gpkg/spatial_ref_sys.json")["rows"] if row["srs_id"] in wanted],
        )
        grid = self.job.grid
        pyramid = grid.pyramid_bounds()
        extent = self._area_extent()
        for layer in self.job.layers:
            table = table_name(layer)
            conn.execute(read_text("gpkg/tile_table.sql").format(table=quote(table)))
            conn.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, "
                "min_x, min_y, max_x, max_y, srs_id) VALUES (?, 'tiles', ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    table,
                    self.job.title(layer),
                    self.job.description(layer),
                    utc_now_ms(),
                    *extent,
                    grid.epsg,
                ),
            )
            conn.execute(
                "INSERT INTO gpkg_tile_matrix_set (table_name, srs_id, min_x, min_y, max_x, max_y) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (table, grid.epsg, *pyramid),
            )
        self._zooms_grown()

    def _zooms_grown(self) -> None:
        grid = self.job.grid
        rows = []
        for layer in self.job.layers:
            for z in range(max(self.job.zooms) + 1):  # every zoom from 0, as GDAL writes (formats.md §1.5)
                width, height = grid.pyramid_size(z)
                res = grid.resolutions[z]
                rows.append((table_name(layer), z, width, height, grid.tile_size, grid.tile_size, res, res))
        self._conn.executemany("INSERT OR IGNORE INTO gpkg_tile_matrix VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._write_metadata()

    def _register_bookkeeping(self) -> None:
        """Declare the bookkeeping tables as a vendor extension (GeoPackage §2.3), once each."""
        names = sorted(BOOKKEEPING_TABLES)
        self._conn.execute(
            "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition, scope) "
            "SELECT name, NULL, ?, ?, 'write-only' FROM sqlite_master WHERE type = 'table' "
            f"AND name IN ({','.join('?' * len(names))}) "
            "AND name NOT IN (SELECT table_name FROM gpkg_extensions WHERE extension_name = ?)",
            (BOOKKEEPING_EXTENSION, BOOKKEEPING_DEFINITION, *names, BOOKKEEPING_EXTENSION),
        )

    def _write_metadata(self) -> None:
        conn = self._conn
        self._register_bookkeeping()
        delete_own_metadata(conn, sorted(own_tables(self.job)))
        provenance = {**self.job.to_dict(), "format": "GeoPackage"}
        cursor = conn.execute(
            "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
            "VALUES ('dataset', ?, 'application/json', ?)",
            (PROVENANCE_URI, json.dumps(provenance, ensure_ascii=False)),
        )
        conn.execute(
            "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, timestamp, md_file_id) "
            "VALUES ('geopackage', NULL, ?, ?)",
            (utc_now_ms(), cursor.lastrowid),
        )
        for layer in self.job.layers:
            cursor = conn.execute(
                "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                "VALUES ('dataset', ?, 'text/xml', ?)",
                (GDAL_METADATA_URI, self._gdal_metadata(layer)),
            )
            conn.execute(
                "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, timestamp, md_file_id) "
                "VALUES ('table', ?, ?, ?)",
                (table_name(layer), utc_now_ms(), cursor.lastrowid),
            )

    def _gdal_metadata(self, layer: str) -> str:
        items = {
            "ATTRIBUTION": self.job.attribution,
            "OS_LAYER": layer,
            "OSPACK_SOURCE": self.job.source,
            "OSPACK_CREATED": self.job.created,
            "OSPACK_ZOOMS": ",".join(map(str, self.job.zooms)),
            "OSPACK_VERSION": self.job.version,
            "OSPACK_DEMO": "YES" if self.job.demo else "NO",
        }
        body = "".join(f"<MDI key={quoteattr(k)}>{escape(v)}</MDI>" for k, v in items.items())
        return f"<GDALMultiDomainMetadata><Metadata>{body}</Metadata></GDALMultiDomainMetadata>"

    def _area_extent(self) -> ProjectedBounds:
        """The job's extent (the context region, else the area) snapped outwards to whole tiles at the deepest zoom.

        GDAL gives the table this one extent at every zoom, so it must hold the context region for
        the low zooms' map around the area to show at all.
        """
        return self.job.extent(max(self.job.zooms))

    def _insert(self, layer: str, rows: list[TileRow], formats: set[str]) -> None:
        self._conn.executemany(
            f"INSERT OR REPLACE INTO {quote(table_name(layer))} (zoom_level, tile_column, tile_row, tile_data) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )

    def _delete(self, layer: str, keys: list[tuple[object, object, object]], *, damaged: bool) -> None:
        self._conn.executemany(
            f"DELETE FROM {quote(table_name(layer))} WHERE zoom_level IS ? AND tile_column IS ? AND tile_row IS ?",
            keys,
        )

    def _foreign_key_violations(self) -> int:
        return own_foreign_key_violations(self._conn, self.job)

    def _finish(self) -> None:
        """Contents bounds = the stored tiles' extent at the deepest zoom holding tiles (GDAL's full resolution),
        grown to the context region when the job has one.

        GDAL shows a table only within this one extent, at every zoom, so the region must be in it
        for the context zooms' map to show; the coarser zooms' whole tiles (a zoom-0 tile is 229 km)
        must not be, or the top zoom would open on a sea of empty pixels. Both boxes lie on the
        deepest zoom's tile edges, so its pixels stay exact.
        """
        grid = self.job.grid
        context = self.job.context_bounds()
        for layer in self.job.layers:
            table = quote(table_name(layer))
            z = self._conn.execute(f"SELECT max(zoom_level) FROM {table}").fetchone()[0]
            extent: tuple[float, ...] = tuple(self._area_extent())
            if z is not None:
                x0, x1, y0, y1 = self._conn.execute(
                    f"SELECT min(tile_column), max(tile_column), min(tile_row), max(tile_row) FROM {table} "
                    "WHERE zoom_level = ?",
                    (z,),
                ).fetchone()
                top_left = grid.tile_bounds(Tile(z, x0, y0))
                bottom_right = grid.tile_bounds(Tile(z, x1, y1))
                extent = (top_left.left, bottom_right.bottom, bottom_right.right, top_left.top)
                if context is not None:
                    region = self.job.extent(z)
                    extent = (
                        min(extent[0], region.left),
                        min(extent[1], region.bottom),
                        max(extent[2], region.right),
                        max(extent[3], region.top),
                    )
            self._conn.execute(
                "UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ? "
                "WHERE table_name = ?",
                (utc_now_ms(), *extent, table_name(layer)),
            )
        self._write_metadata()
