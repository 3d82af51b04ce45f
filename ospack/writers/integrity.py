"""Tile integrity: the digest stored with every tile, and the row checks ``verify`` and a resumed ``package`` share.

Every tile is stored with the first 16 bytes of the SHA-256 of its exact bytes in ``ospack_digest``
(its own table: the tile tables keep their formats' exact DDL). A changed pixel, a changed byte that
no decoder reads (the PNG IEND CRC) or two swapped tiles all change a tile's digest. SHA-256 because
CPUs hash it in hardware (SHA-NI, ARMv8): ~11 µs for a 15 KB tile where BLAKE2b took ~25 µs, next to
milliseconds to download it; and anyone can check a tile with ``sha256sum``. Files made before
digests existed are checked by decoding their tiles instead.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from heapq import merge
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image

from ..errors import InvalidTileError
from ..resources import read_text
from ..types import Tile
from .images import check_tile_image
from .state import ABSENT_TABLE, DIGEST_TABLE, absent_keys, has_table

DIGEST_SIZE = 16
#: deeper than any tile grid goes (Web Mercator z30 is 4 cm a pixel); a row claiming more is damaged
MAX_ZOOM = 30


def tile_digest(data: bytes) -> bytes:
    """The digest stored for a tile: SHA-256 of its exact bytes, the first 16 bytes."""
    return hashlib.sha256(data).digest()[:DIGEST_SIZE]


def create_digest_table(conn: sqlite3.Connection) -> None:
    """Create ``ospack_digest`` unless it exists (files made before digests lack it)."""
    conn.execute(read_text("gpkg/ospack_digest.sql"))


def store_digests(conn: sqlite3.Connection, digests: list[tuple[str, int, int, int, bytes]]) -> None:
    """Record ``(layer, zoom, column, XYZ row, digest)`` of stored tiles (inside the batch's transaction)."""
    conn.executemany(
        f"INSERT OR REPLACE INTO {DIGEST_TABLE} (layer, zoom_level, tile_column, tile_row, digest) "
        "VALUES (?, ?, ?, ?, ?)",
        digests,
    )


def has_digests(conn: sqlite3.Connection) -> bool:
    """True when the file has the digest table."""
    return has_table(conn, DIGEST_TABLE)


@dataclass(frozen=True)
class TileSource:
    """Where one layer's tiles are, for the row queries: ``FROM`` clause (tiles aliased ``t``), the
    expression of the image bytes, the expression of the XYZ row, and the row flip for Python."""

    from_clause: str
    data: str = "t.tile_data"
    xyz_row: str = "t.tile_row"
    to_xyz: Callable[[int, int], int] | None = None  # (zoom, stored row) → XYZ row; None: stored as XYZ


class StoredRow(NamedTuple):
    """One stored tile row as read back, values as SQLite holds them (a damaged row may hold anything)."""

    zoom: Any
    column: Any
    row: Any  # XYZ row when zoom and row are integers
    data: Any
    digest: Any
    key: tuple[Any, Any, Any]  # (zoom_level, tile_column, tile_row) exactly as stored, to delete the row by

    @property
    def name(self) -> str:
        """The tile's z/x/y address."""
        return f"{self.zoom}/{self.column}/{self.row}"


def stored_rows(conn: sqlite3.Connection, source: TileSource, layer: str) -> Iterator[StoredRow]:
    """Every stored tile of ``layer`` with its digest (None when it has none), in storage order."""
    # a TEXT value is read as bytes and decoded here: sqlite3 raises on one that is not UTF-8 (bytes
    # joined with ||), and a damaged row must be reported, never a crash
    data = (
        f"typeof({source.data}) = 'text', "
        f"CASE typeof({source.data}) WHEN 'text' THEN CAST({source.data} AS BLOB) ELSE {source.data} END"
    )
    if has_digests(conn):
        rows = conn.execute(
            f"SELECT t.zoom_level, t.tile_column, t.tile_row, {data}, d.digest FROM {source.from_clause} "
            f"LEFT JOIN {DIGEST_TABLE} d ON d.layer = ? AND d.zoom_level = t.zoom_level "
            f"AND d.tile_row = {source.xyz_row} AND d.tile_column = t.tile_column",
            (layer,),
        )
    else:
        rows = conn.execute(f"SELECT t.zoom_level, t.tile_column, t.tile_row, {data}, NULL FROM {source.from_clause}")
    flip = source.to_xyz
    for z, x, row, is_text, data, digest in rows:
        data = data.decode("utf-8", "replace") if is_text else data
        y = flip(z, row) if flip and _is_int(z) and _is_int(row) and 0 <= z <= MAX_ZOOM else row
        yield StoredRow(z, x, y, data, digest, (z, x, row))


def undigested_count(conn: sqlite3.Connection, source: TileSource, layer: str) -> int:
    """How many stored tiles of ``layer`` have no digest (an index lookup a tile; no image is read)."""
    if not has_digests(conn):
        return int(conn.execute(f"SELECT count(*) FROM {source.from_clause}").fetchone()[0])
    return int(
        conn.execute(
            f"SELECT count(*) FROM {source.from_clause} WHERE NOT EXISTS (SELECT 1 FROM {DIGEST_TABLE} d "
            f"WHERE d.layer = ? AND d.zoom_level = t.zoom_level AND d.tile_row = {source.xyz_row} "
            "AND d.tile_column = t.tile_column)",
            (layer,),
        ).fetchone()[0]
    )


def row_problem(
    row: StoredRow,
    *,
    tile_size: int,
    matrix: Callable[[int], tuple[int, int] | None],
    zooms: Collection[int] | None = None,
    decode: bool = True,
) -> str | None:
    """What is wrong with one stored tile row, or None.

    Parameters
    ----------
    matrix
        Zoom → (columns, rows) of the tile matrix, or None when unknown.
    zooms
        The job's zooms; a tile at another zoom is a problem. None: any zoom.
    decode
        Decode the image even when its digest matches (``verify``); a resume trusts a matching
        digest, since the bytes are then those that passed the writer's image check.
    """
    z, x, y = row.zoom, row.column, row.row
    if not (_is_int(z) and _is_int(x) and _is_int(y)):
        return f"its zoom/column/row are {_sql_type(z)}/{_sql_type(x)}/{_sql_type(y)}, not integers"
    if zooms is not None and z not in zooms:
        return f"zoom {z} is not one of the job's zooms ({','.join(map(str, sorted(zooms)))})"
    size = matrix(z) if z >= 0 else (0, 0)
    if size is not None and not (0 <= x < size[0] and 0 <= y < size[1]):
        return f"lies outside the tile matrix (zoom {z} has {size[0]}×{size[1]} tiles)"
    if not isinstance(row.data, bytes):
        return f"tile_data is {_sql_type(row.data)}, not an image"
    changed = row.digest is not None and tile_digest(row.data) != row.digest
    problem = decode_problem(row.data, tile_size) if decode or row.digest is None else None
    if changed:  # whether it still decodes too tells a changed tile from a broken one
        mismatch = "its bytes differ from those stored (digest mismatch: changed or swapped)"
        return f"{mismatch}; {problem}" if problem else mismatch
    return problem


def decode_problem(data: bytes, size: int) -> str | None:
    """Why ``data`` is not a PNG/JPEG of ``size`` × ``size`` that decodes, or None."""
    if not data:
        return "tile_data is empty (0 bytes)"
    try:
        check_tile_image(data, size)  # format, size, truncation from the header, before Pillow allocates
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except InvalidTileError as exc:
        return str(exc)
    except Exception as exc:  # Pillow raises many types on hostile bytes (OSError, struct.error, IndexError…)
        return f"does not decode ({type(exc).__name__}: {exc})"
    return None


def cover_diff(
    cover: Iterable[tuple[int, int]], stored: Iterable[tuple[int, int]], absent: Iterable[tuple[int, int]]
) -> Iterator[tuple[str, int, int]]:
    """Merge-join ascending ``(row, column)`` streams of one zoom; yields ``(kind, row, column)``.

    Kinds: ``missing`` (in the cover, neither stored nor absent), ``extra`` (stored, outside the
    cover), ``extra_absent`` (recorded absent, outside the cover), ``stored_absent`` (stored and
    also recorded absent: a stale absent record).
    """
    tagged = merge(((*k, 0) for k in cover), ((*k, 1) for k in stored), ((*k, 2) for k in absent))
    for (row, col), group in itertools.groupby(tagged, key=lambda k: k[:2]):
        sources = {k[2] for k in group}
        if sources == {0}:
            yield "missing", row, col
        if 0 not in sources:
            if 1 in sources:
                yield "extra", row, col
            if 2 in sources:
                yield "extra_absent", row, col
        elif sources == {0, 1, 2}:
            yield "stored_absent", row, col


class StoredTileChecks:
    """What a resume deletes before fetching, and what must hold before a file is marked complete.

    A mixin of :class:`~ospack.writers.base.SqliteTileWriter`: it works through the writer's
    connection, job, the format's read side (``file``) and its write hooks (``_delete``, ``_stored_row``).
    """

    _conn: sqlite3.Connection
    _zooms: frozenset[int]
    _tile_size: int
    _digests_ready: bool
    job: Any
    file: Any  # the format's PackageFile on the writer's connection

    if TYPE_CHECKING:  # provided by SqliteTileWriter

        def _layer(self, layer: str) -> str: ...
        def _transaction(self) -> AbstractContextManager[None]: ...
        def _stored_row(self, z: int, y: int) -> int: ...
        def _delete(self, layer: str, keys: list[tuple[Any, Any, Any]], *, damaged: bool) -> None: ...
        def absent_counts(self, layer: str) -> dict[int, int]: ...

    def check_stored(self, layer: str, cover: Callable[[int], Iterable[Tile]]) -> list[str]:
        """Check every stored tile of ``layer`` before a run resumes, and delete what must be fetched again.

        Deleted: damaged tiles (bytes that differ from their digest; without a digest, an image that
        does not decode; an address that is not integers or lies outside the job's zooms or the grid)
        and tiles outside ``cover`` (zoom → the area's tiles), so the fetch stores the cover's tiles
        again; absent records outside the cover go too. Intact tiles stored before digests existed
        get their digest. The file is touched (and so marked incomplete) only when something was found.

        Returns
        -------
        list[str]
            One note per kind of finding, for the user.
        """
        name = self._layer(layer)
        damaged: list[tuple[Any, Any, Any]] = []
        examples: list[str] = []
        backfill: list[tuple[str, int, int, int, bytes]] = []
        table = self.file.table_of(name)
        for row in stored_rows(self._conn, self.file.tile_source(table), name):
            problem = row_problem(
                row, tile_size=self._tile_size, matrix=self.job.grid.pyramid_size, zooms=self._zooms, decode=False
            )
            if problem:
                damaged.append(row.key)
                if len(examples) < 3:
                    examples.append(f"{row.name}: {problem}")
            elif row.digest is None:
                backfill.append((name, row.zoom, row.column, row.row, tile_digest(row.data)))
        stray: list[tuple[int, int, int]] = []
        absent_dropped: list[tuple[str, int, int, int]] = []
        for z in self.job.zooms:
            stored = self.file.stored_keys(table, z)
            for kind, y, x in cover_diff(((t.y, t.x) for t in cover(z)), stored, absent_keys(self._conn, name, z)):
                if kind == "extra":
                    stray.append((z, x, y))
                elif kind != "missing":  # absent outside the cover, or a stale record of a stored tile
                    absent_dropped.append((name, z, y, x))
        if not (damaged or stray or absent_dropped or backfill):
            return []
        with self._transaction():
            create_digest_table(self._conn)  # first: a file made before digests has no such table
            store_digests(self._conn, backfill)
            self._delete(name, damaged, damaged=True)
            self._delete(name, [(z, x, self._stored_row(z, y)) for z, x, y in stray], damaged=False)
            self._conn.executemany(
                f"DELETE FROM {ABSENT_TABLE} WHERE layer = ? AND zoom_level = ? AND tile_row = ? AND tile_column = ?",
                absent_dropped,
            )
            self._conn.executemany(
                f"DELETE FROM {DIGEST_TABLE} WHERE layer = ? AND zoom_level = ? AND tile_column = ? AND tile_row = ?",
                [(name, *tile) for tile in stray],
            )
        self._digests_ready = True
        notes = []
        if damaged:
            notes.append(
                f"{len(damaged)} stored tiles of {name} were damaged; deleted, to be fetched again "
                f"(e.g. {'; '.join(examples)})"
            )
        if stray:
            notes.append(f"deleted {len(stray)} stored tiles of {name} that lie outside the job's area")
        if backfill:
            notes.append(f"recorded digests of {len(backfill)} tiles of {name} stored before ospack kept digests")
        return notes

    def unfinished(self, layer: str, cover_counts: Mapping[int, int]) -> list[str]:
        """Why ``layer`` is not complete, from counts (cheap: no image is read); empty when it is.

        ``cover_counts`` is the area's tile count per job zoom: every tile must be stored or recorded
        absent, none may lie at another zoom, and every stored tile must have its digest.
        """
        name = self._layer(layer)
        table = self.file.table_of(name)
        stored = self.file.tile_counts(table)
        absent = self.absent_counts(name)
        reasons = []
        foreign = sorted(set(stored) - self._zooms, key=str)
        if foreign:
            reasons.append(f"{name} holds tiles at zoom {', '.join(map(str, foreign))}, outside the job's zooms")
        for z, n in sorted(cover_counts.items()):
            held = stored.get(z, 0) + absent.get(z, 0)
            if held != n:
                reasons.append(f"{name} zoom {z}: {held} tiles stored or absent at source, the area's cover has {n}")
        undigested = undigested_count(self._conn, self.file.tile_source(table), name)
        if undigested:
            reasons.append(f"{undigested} stored tiles of {name} have no digest")
        return reasons


def _is_int(value: object) -> bool:
    return type(value) is int


def _sql_type(value: object) -> str:
    return {type(None): "NULL", int: "integer", float: "real", str: "text", bytes: "blob"}.get(type(value), "?")
