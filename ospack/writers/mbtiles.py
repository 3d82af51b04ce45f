"""MBTiles 1.3 tile writer: one Web Mercator layer, TMS rows, optional deduplicated layout.

The XYZ ↔ TMS row flip happens in :func:`flip_row` and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path

from pyproj import Transformer

from ..errors import InvalidTileError, OutputFormatError
from ..layers import get_layer
from ..resources import read_text
from ..types import ProjectedBounds, Tile
from .base import JobInfo, SqliteTileWriter, TileRow
from .files import Findings, PackageFile, TileTable, quote
from .integrity import MAX_ZOOM, TileSource
from .state import has_table, state_value

MBTILES_APPLICATION_ID = 0x4D504258
WEB_MERCATOR = "EPSG:3857"
MAX_LATITUDE = 85.0511287798066
_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
#: metadata keys the MBTiles 1.3 spec requires
_REQUIRED_METADATA = ("name", "format", "bounds", "minzoom", "maxzoom")


def flip_row(z: int, row: int) -> int:
    """XYZ row ↔ TMS row at zoom ``z`` (the flip is its own inverse)."""
    return (1 << z) - 1 - row


class MBTilesFile(PackageFile):
    """An MBTiles file as read back, either layout (plain ``tiles``, or ``map``/``images`` behind a
    ``tiles`` view), ospack's or another program's. Rows are stored TMS and read back XYZ."""

    format = "mbtiles"

    @cached_property
    def dedup(self) -> bool:
        """True when the file stores each distinct image once (map/images behind a tiles view)."""
        return has_table(self.conn, "map")

    @property
    def key_table(self) -> str:
        """The table holding one row per tile address: ``map`` when deduplicated, else ``tiles``."""
        return "map" if self.dedup else "tiles"

    def metadata(self) -> dict[str, str]:
        """The metadata table as a dict."""
        return dict(self.conn.execute("SELECT name, value FROM metadata").fetchall())

    def table_of(self, layer: str) -> str:
        return "tiles"

    def tile_tables(self) -> list[TileTable]:
        job = self.job
        name = job.layers[0] if job else self.metadata().get("name", "tiles")
        return [TileTable(name, "tiles", 3857, job.grid.tile_size if job else 256, self._mercator_bounds())]

    def _mercator_bounds(self) -> tuple[float, float, float, float] | None:
        try:
            west, south, east, north = (float(v) for v in self.metadata()["bounds"].split(","))
        except (KeyError, ValueError):
            return None
        return _TO_MERCATOR.transform_bounds(west, south, east, north)

    def plain_attribution(self) -> str | None:
        return self.metadata().get("attribution")

    def stored_keys(self, table: str, z: int) -> Iterator[tuple[int, int]]:
        # descending TMS rows are ascending XYZ rows
        rows = self.conn.execute(
            f"SELECT tile_row, tile_column FROM {self.key_table} WHERE zoom_level = ? AND typeof(tile_row) = 'integer' "
            "AND typeof(tile_column) = 'integer' ORDER BY tile_row DESC, tile_column",
            (z,),
        )
        return ((flip_row(z, tms_row), column) for tms_row, column in rows)

    def tile_counts(self, table: str) -> dict[int, int]:
        rows = self.conn.execute(
            f"SELECT zoom_level, count(*) FROM {self.key_table} GROUP BY zoom_level ORDER BY zoom_level"
        )
        return dict(rows.fetchall())

    def contains(self, table: str, tile: Tile) -> bool:
        z, x, y = tile
        row = self.conn.execute(
            f"SELECT 1 FROM {self.key_table} WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, flip_row(z, y)),
        ).fetchone()
        return row is not None

    def tile_source(self, table: str) -> TileSource:
        """``map`` rows with their images when deduplicated (a map row whose image is missing is a damaged
        tile, where the ``tiles`` view would hide it)."""
        dedup = self.dedup
        return TileSource(
            "map t LEFT JOIN images i ON i.tile_id = t.tile_id" if dedup else "tiles t",
            data="i.tile_data" if dedup else "t.tile_data",
            xyz_row="((1 << t.zoom_level) - 1 - t.tile_row)",
            to_xyz=flip_row,
        )

    def file_matrix(self, table: str) -> Callable[[int], tuple[int, int] | None]:
        return lambda z: (1 << z, 1 << z) if z <= MAX_ZOOM else (0, 0)

    def structural_problems(self, tables: list[TileTable]) -> Findings:
        """Metadata (required keys, bounds in degrees, zooms that match the tiles) and the unique index."""
        findings = Findings()
        metadata = self.metadata()
        missing = [key for key in _REQUIRED_METADATA if not metadata.get(key)]
        if missing:
            findings.problems.append(f"MBTiles metadata lacks {', '.join(missing)}")
        try:
            west, south, east, north = (float(v) for v in metadata.get("bounds", "").split(","))
            if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
                raise ValueError
        except ValueError:
            findings.problems.append(
                f"MBTiles bounds {metadata.get('bounds')!r} is not west,south,east,north in degrees"
            )
        keyed = self.key_table
        if not self._has_unique_index(keyed, ["zoom_level", "tile_column", "tile_row"]):
            findings.problems.append(
                f"MBTiles {keyed} table has no unique index on (zoom_level, tile_column, tile_row)"
            )
        zooms = [
            z
            for (z,) in self.conn.execute(
                "SELECT DISTINCT zoom_level FROM tiles WHERE typeof(zoom_level) = 'integer' ORDER BY zoom_level"
            )
        ]
        if zooms and (str(zooms[0]) != metadata.get("minzoom") or str(zooms[-1]) != metadata.get("maxzoom")):
            findings.problems.append(
                f"MBTiles minzoom/maxzoom ({metadata.get('minzoom')}/{metadata.get('maxzoom')}) "
                f"do not match the stored zooms {zooms[0]}-{zooms[-1]}"
            )
        return findings

    def _has_unique_index(self, table: str, columns: list[str]) -> bool:
        for _, name, unique, *_ in self.conn.execute(f"PRAGMA index_list({quote(table)})"):
            if unique and [row[2] for row in self.conn.execute(f"PRAGMA index_info({quote(name)})")] == columns:
                return True
        return False


def tile_edge_bounds(job: JobInfo, z: int) -> tuple[float, float, float, float]:
    """The area's lon/lat box snapped outwards to the Web Mercator tile edges at zoom ``z``.

    GDAL's MBTiles writer writes the bounds so, and its reader builds the raster grid from them: a
    box off the tile edges puts every pixel a fraction of a pixel off (0.57 × 0.45 px measured).
    """
    return _lonlat(job.tile_aligned_bounds(z))


def extent_bounds(job: JobInfo, z: int) -> tuple[float, float, float, float]:
    """The job's extent (the context region, else the area) in lon/lat, snapped as :func:`tile_edge_bounds`.

    Apps read an MBTiles file's tiles per zoom, but its bounds are what GDAL builds its raster
    from and what apps zoom to: they must hold the context the low zooms carry.
    """
    return _lonlat(job.extent(z))


def _lonlat(box: ProjectedBounds) -> tuple[float, float, float, float]:
    west, north = _TO_LONLAT.transform(box.left, box.top)
    east, south = _TO_LONLAT.transform(box.right, box.bottom)
    return west, max(south, -MAX_LATITUDE), east, min(north, MAX_LATITUDE)


class MBTilesWriter(SqliteTileWriter):
    """Writes one OS Web Mercator layer into an MBTiles file (``.mbtiles``)."""

    format = "mbtiles"
    application_id = MBTILES_APPLICATION_ID
    file_class = MBTilesFile
    file: MBTilesFile

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

    def __init__(self, path: Path, job: JobInfo, conn: sqlite3.Connection, *, new: bool, dedup: bool = False) -> None:
        super().__init__(path, job, conn, new=new, dedup=dedup)
        self._image_format = state_value(self._conn, "format")

    @property
    def dedup(self) -> bool:
        """True when the file stores each distinct image once (map/images behind a tiles view)."""
        return self.file.dedup

    def _schema_sql(self, dedup: bool) -> str:
        return read_text("mbtiles/dedup.sql" if dedup else "mbtiles/plain.sql")

    def _create_tables(self) -> None:
        self._write_metadata(self._metadata())

    def _metadata(self, zooms: tuple[int, ...] | None = None, image_format: str | None = None) -> dict[str, str]:
        job = self.job
        layer = get_layer(job.layers[0])
        zooms = zooms or job.zooms
        west, south, east, north = extent_bounds(job, max(zooms))
        area_west, area_south, area_east, area_north = tile_edge_bounds(job, max(zooms))
        return {
            "name": job.title(layer.name),
            "format": image_format or "png",
            # 10 decimals (~10 µm): GDAL builds its grid from these, so they must land on the tile edges
            "bounds": f"{west:.10f},{south:.10f},{east:.10f},{north:.10f}",
            # on the area, not the context: the site is what an app should open on
            "center": f"{(area_west + area_east) / 2:.6f},{(area_south + area_north) / 2:.6f},"
            f"{(min(zooms) + max(zooms)) // 2}",
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
        if self.dedup:
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

    def _stored_row(self, z: int, y: int) -> int:
        return flip_row(z, y)

    def _delete(self, layer: str, keys: list[tuple[object, object, object]], *, damaged: bool) -> None:
        where = "zoom_level IS ? AND tile_column IS ? AND tile_row IS ?"
        if self.dedup and damaged:
            # a bad image is shared by every position holding it: drop it, and the positions left without one
            self._conn.executemany(f"DELETE FROM images WHERE tile_id IN (SELECT tile_id FROM map WHERE {where})", keys)
        self._conn.executemany(f"DELETE FROM {self.file.key_table} WHERE {where}", keys)
        if self.dedup and damaged and keys:
            self._conn.execute("DELETE FROM map WHERE tile_id NOT IN (SELECT tile_id FROM images)")

    def _finish(self) -> None:
        if self.dedup:
            self._conn.execute("DELETE FROM images WHERE tile_id NOT IN (SELECT tile_id FROM map)")
        stored = tuple(self.tile_counts(self.job.layers[0])) or None
        self._write_metadata(self._metadata(zooms=stored, image_format=self._image_format))
