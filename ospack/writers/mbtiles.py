"""MBTiles 1.3 tile writer: one Web Mercator layer, TMS rows, optional deduplicated layout.

The XYZ ↔ TMS row flip happens in :func:`flip_row` and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator

from pyproj import Transformer

from ..errors import InvalidTileError, OutputFormatError
from ..layers import get_layer
from ..resources import read_text
from ..types import Tile
from .base import JobInfo, SqliteTileWriter, TileRow
from .integrity import TileSource

MBTILES_APPLICATION_ID = 0x4D504258
WEB_MERCATOR = "EPSG:3857"
MAX_LATITUDE = 85.0511287798066
_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


def flip_row(z: int, row: int) -> int:
    """XYZ row ↔ TMS row at zoom ``z`` (the flip is its own inverse)."""
    return (1 << z) - 1 - row


def stored_keys(conn: sqlite3.Connection, table: str, z: int) -> Iterator[tuple[int, int]]:
    """``(row, column)`` of the tiles stored at zoom ``z``, XYZ rows, ascending.

    ``table`` is ``tiles`` (plain layout, or any layout through its view) or ``map`` (dedup layout).
    """
    # descending TMS rows are ascending XYZ rows; rows whose address is not integers (damage from
    # outside; verify reports them) address no tile and are left out
    rows = conn.execute(
        f"SELECT tile_row, tile_column FROM {table} WHERE zoom_level = ? AND typeof(tile_row) = 'integer' "
        "AND typeof(tile_column) = 'integer' ORDER BY tile_row DESC, tile_column",
        (z,),
    )
    return ((flip_row(z, tms_row), column) for tms_row, column in rows)


def tile_source(dedup: bool) -> TileSource:
    """Where the tiles are, for the digest and row checks: ``map`` rows with their images when deduplicated
    (a map row whose image is missing is a damaged tile, where the ``tiles`` view would hide it)."""
    return TileSource(
        "map t LEFT JOIN images i ON i.tile_id = t.tile_id" if dedup else "tiles t",
        data="i.tile_data" if dedup else "t.tile_data",
        xyz_row="((1 << t.zoom_level) - 1 - t.tile_row)",
        to_xyz=flip_row,
    )


def tile_edge_bounds(job: JobInfo, z: int) -> tuple[float, float, float, float]:
    """The area's lon/lat box snapped outwards to the Web Mercator tile edges at zoom ``z``.

    GDAL's MBTiles writer writes the bounds so, and its reader builds the raster grid from them: a
    box off the tile edges puts every pixel a fraction of a pixel off (0.57 × 0.45 px measured).
    """
    box = job.tile_aligned_bounds(z)
    west, north = _TO_LONLAT.transform(box.left, box.top)
    east, south = _TO_LONLAT.transform(box.right, box.bottom)
    return west, max(south, -MAX_LATITUDE), east, min(north, MAX_LATITUDE)


class MBTilesWriter(SqliteTileWriter):
    """Writes one OS Web Mercator layer into an MBTiles file (``.mbtiles``)."""

    format = "mbtiles"
    application_id = MBTILES_APPLICATION_ID

    @classmethod
    def check_job(cls, job: JobInfo) -> None:
        if job.grid.id != WEB_MERCATOR:
            raise OutputFormatError(
                f"MBTiles holds Web Mercator (EPSG:3857) tiles only, and {job.layers[0]} is on {job.grid.id}; "
                "write a .gpkg file instead, or pick a _3857 layer"
            )
        if len(job.layers) != 1:
            raise OutputFormatError(
                f"an MBTiles file holds one layer, {len(job.layers)} were asked ({', '.join(job.layers)}); "
                "write a .gpkg file, or one .mbtiles per layer"
            )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._dedup = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'map'").fetchone() is not None
        self._image_format = self._state("format")

    @property
    def dedup(self) -> bool:
        """True when the file stores each distinct image once (map/images behind a tiles view)."""
        return self._dedup

    def _schema_sql(self, dedup: bool) -> str:
        return read_text("mbtiles/dedup.sql" if dedup else "mbtiles/plain.sql")

    def _create_tables(self) -> None:
        self._write_metadata(self._metadata())

    def _metadata(self, zooms: tuple[int, ...] | None = None, image_format: str | None = None) -> dict[str, str]:
        job = self.job
        layer = get_layer(job.layers[0])
        zooms = zooms or job.zooms
        west, south, east, north = tile_edge_bounds(job, max(zooms))
        return {
            "name": job.title(layer.name),
            "format": image_format or "png",
            # 10 decimals (~10 µm): GDAL builds its grid from these, so they must land on the tile edges
            "bounds": f"{west:.10f},{south:.10f},{east:.10f},{north:.10f}",
            "center": f"{(west + east) / 2:.6f},{(south + north) / 2:.6f},{(min(zooms) + max(zooms)) // 2}",
            "minzoom": str(min(zooms)),
            "maxzoom": str(max(zooms)),
            "attribution": job.attribution,
            "description": job.description(layer.name),
            "type": "baselayer",
            "version": "1",
            "ospack_source": job.source,
            "ospack_created": job.created,
            "ospack_layer": layer.name,
            "ospack_zooms": ",".join(map(str, job.zooms)),
            "ospack_grid": job.grid.id,
            "ospack_demo": "true" if job.demo else "false",
            "ospack_version": job.version,
            "ospack_area": json.dumps(json.loads(job.area_geojson)),
        }

    def _write_metadata(self, metadata: dict[str, str]) -> None:
        self._conn.executemany("INSERT OR REPLACE INTO metadata (name, value) VALUES (?, ?)", metadata.items())

    def _zooms_grown(self) -> None:
        self._write_metadata(self._metadata(image_format=self._image_format))

    def _insert(self, layer: str, rows: list[TileRow], formats: set[str]) -> None:
        if len(formats) > 1 or (self._image_format and formats != {self._image_format}):
            held = self._image_format or "one image format"
            raise InvalidTileError(
                f"an MBTiles file holds one image format ({held}); this batch has {', '.join(sorted(formats))}"
            )
        if self._image_format is None:
            (self._image_format,) = formats
            self._set_state("format", self._image_format)
            self._write_metadata({"format": self._image_format})
        if self._dedup:
            keyed = [(z, x, flip_row(z, y), hashlib.md5(data).hexdigest(), data) for z, x, y, data in rows]
            self._conn.executemany(
                "INSERT OR IGNORE INTO images (tile_id, tile_data) VALUES (?, ?)", [(k[3], k[4]) for k in keyed]
            )
            self._conn.executemany(
                "INSERT OR REPLACE INTO map (zoom_level, tile_column, tile_row, tile_id) VALUES (?, ?, ?, ?)",
                [k[:4] for k in keyed],
            )
        else:
            self._conn.executemany(
                "INSERT OR REPLACE INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)",
                [(z, x, flip_row(z, y), data) for z, x, y, data in rows],
            )

    @property
    def _key_table(self) -> str:
        return "map" if self._dedup else "tiles"

    def _stored_keys(self, conn: sqlite3.Connection, layer: str, z: int) -> Iterator[tuple[int, int]]:
        return stored_keys(conn, self._key_table, z)

    def _tile_source(self, layer: str) -> TileSource:
        return tile_source(self._dedup)

    def _stored_row(self, z: int, y: int) -> int:
        return flip_row(z, y)

    def _delete(self, layer: str, keys: list[tuple[object, object, object]], *, damaged: bool) -> None:
        where = "zoom_level IS ? AND tile_column IS ? AND tile_row IS ?"
        if self._dedup and damaged:
            # a bad image is shared by every position holding it: drop it, and the positions left without one
            self._conn.executemany(f"DELETE FROM images WHERE tile_id IN (SELECT tile_id FROM map WHERE {where})", keys)
        self._conn.executemany(f"DELETE FROM {self._key_table} WHERE {where}", keys)
        if self._dedup and damaged and keys:
            self._conn.execute("DELETE FROM map WHERE tile_id NOT IN (SELECT tile_id FROM images)")

    def _contains(self, layer: str, tile: Tile) -> bool:
        z, x, y = tile
        row = self._conn.execute(
            f"SELECT 1 FROM {self._key_table} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, flip_row(z, y)),
        ).fetchone()
        return row is not None

    def _counts(self, conn: sqlite3.Connection, layer: str) -> dict[int, int]:
        rows = conn.execute(
            f"SELECT zoom_level, count(*) FROM {self._key_table} GROUP BY zoom_level ORDER BY zoom_level"
        )
        return dict(rows.fetchall())

    def _finish(self) -> None:
        if self._dedup:
            self._conn.execute("DELETE FROM images WHERE tile_id NOT IN (SELECT tile_id FROM map)")
        stored = tuple(self._counts(self._conn, self.job.layers[0])) or None
        self._write_metadata(self._metadata(zooms=stored, image_format=self._image_format))
