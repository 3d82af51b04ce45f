"""The read side of a package: open it read-only (:class:`read_only`) and read it through its
format's :class:`PackageFile` (:func:`ospack.writers.open_package` picks the format).

Each format module defines its ``PackageFile`` beside its writer, so one module knows how its
tables are laid out in both directions; the writer reads back through the same class.
"""

from __future__ import annotations

import heapq
import os
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from ..errors import WriterError
from ..types import Tile, TileRange
from .access import read_only_uri, recover_hot_journal, side_file
from .integrity import TileSource
from .job import DEMO_ATTRIBUTION, JobInfo
from .state import PackageState, absent_counts, absent_keys, read_state


def quote(identifier: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + identifier.replace('"', '""') + '"'


class read_only:
    """A read-only connection as a context manager that always closes.

    A file left with a hot rollback journal (a program killed mid-transaction) cannot be read
    read-only: SQLite must roll the journal back first, which takes write access. So that is
    done first through a brief read-write connection, when the file and folder allow it.
    """

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> sqlite3.Connection:
        recover_hot_journal(self.path)
        self.conn = sqlite3.connect(read_only_uri(self.path), uri=True)
        try:
            self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            wal = side_file(self.path, "-wal")
            if wal.exists() and wal.stat().st_size and not os.access(self.path.parent, os.W_OK | os.X_OK):
                raise WriterError(
                    f"{self.path} cannot be read in place: it has a {self.path.name}-wal to read with it, and SQLite "
                    f"needs to create {self.path.name}-shm beside it, but the folder {self.path.parent} is not "
                    "writable; copy the file and its -wal to a folder that is"
                ) from None
            raise WriterError(f"{self.path} is not a readable SQLite file ({exc})") from None
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


@dataclass(frozen=True)
class TileTable:
    """One layer's tiles inside a file."""

    layer: str
    table: str
    epsg: int
    tile_size: int
    bounds: tuple[float, float, float, float] | None  # in the layer's CRS


@dataclass(frozen=True)
class Findings:
    """What a structural check found: problems make the file fail, notes only inform."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PackageFile(ABC):
    """One package read through its format's tables, on an open connection.

    What ``info`` and ``verify`` read, and what a writer reads back of its own file. The file's
    ospack record (:attr:`state`) is read once, on first use.
    """

    format: ClassVar[str]

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    @cached_property
    def state(self) -> PackageState | None:
        """ospack's record in the file, or None when ospack did not make it."""
        return read_state(self.conn, self.path)

    @property
    def job(self) -> JobInfo | None:
        """The job the file records, or None."""
        return self.state.job if self.state else None

    def held_keys(self, layer: str, z: int) -> Iterator[tuple[int, int]]:
        """``(row, column)`` of the tiles of ``layer`` at ``z`` stored or recorded absent, ascending, each once:
        what a resume need not fetch."""
        last = None
        for key in heapq.merge(self.stored_keys(self.table_of(layer), z), absent_keys(self.conn, layer, z)):
            if key != last:
                yield key
                last = key

    def tile_images(self, table: str, z: int, window: TileRange) -> Iterator[tuple[Tile, bytes]]:
        """The stored tiles of ``table`` at zoom ``z`` inside ``window`` (XYZ), with their image bytes, for a picture.

        Rows whose address is not integers, or whose data is not bytes, are damage ``verify`` reports: left out.
        """
        source = self.tile_source(table)
        rows = self.conn.execute(
            f"SELECT t.tile_column, t.tile_row, {source.data} FROM {source.from_clause} WHERE t.zoom_level = ? "
            "AND t.tile_column BETWEEN ? AND ? AND typeof(t.tile_row) = 'integer' "
            "AND typeof(t.tile_column) = 'integer'",
            (z, window.min_col, window.max_col),
        )
        flip = source.to_xyz
        for x, stored_row, data in rows:
            y = flip(z, stored_row) if flip else stored_row
            if window.min_row <= y <= window.max_row and isinstance(data, bytes):
                yield Tile(z, x, y), data

    def attribution(self) -> str | None:
        """The attribution ospack recorded, else the one the file's own metadata gives."""
        if self.state is None:
            return self.plain_attribution()
        # demo files made before they said so carry the OS statement; their tiles are test cards all the same
        provenance = self.state.provenance
        return DEMO_ATTRIBUTION if provenance.get("demo") else provenance.get("attribution")

    def absent_counts(self, layer: str) -> dict[int, int]:
        """Recorded-absent tiles of ``layer`` per zoom (none in a file ospack did not make)."""
        return absent_counts(self.conn, layer) if self.state else {}

    def user_content(self) -> list[str]:
        """Tables and layers beside ospack's that are the user's (a shared GeoPackage); judged by nobody here."""
        return []

    def foreign_key_violations(self) -> int:
        """Foreign-key violations in ospack's part of the file."""
        return len(self.conn.execute("PRAGMA foreign_key_check").fetchall())

    # ---- the format's layout -----------------------------------------------------------------
    @abstractmethod
    def table_of(self, layer: str) -> str:
        """The table holding ``layer``'s tiles."""

    @abstractmethod
    def tile_tables(self) -> list[TileTable]:
        """The tile tables ospack's job made (all of them in a file ospack did not make)."""

    @abstractmethod
    def plain_attribution(self) -> str | None:
        """The attribution the file's own metadata gives (a file ospack did not make)."""

    @abstractmethod
    def stored_keys(self, table: str, z: int) -> Iterator[tuple[int, int]]:
        """``(row, column)`` of the tiles stored at zoom ``z``, XYZ rows, ascending.

        Rows whose address is not integers (damage from outside; verify reports them) address no
        tile, and would not compare with the integer keys they are merged with, so they are left out.
        """

    @abstractmethod
    def tile_counts(self, table: str) -> dict[int, int]:
        """Stored tiles per zoom."""

    @abstractmethod
    def contains(self, table: str, tile: Tile) -> bool:
        """Whether ``tile`` (XYZ) is stored."""

    @abstractmethod
    def tile_source(self, table: str) -> TileSource:
        """Where the tiles are, for the digest and row checks."""

    @abstractmethod
    def file_matrix(self, table: str) -> Callable[[int], tuple[int, int] | None]:
        """Zoom → (columns, rows) of the tile matrix the file itself declares."""

    @abstractmethod
    def structural_problems(self, tables: list[TileTable]) -> Findings:
        """What breaks the format's own rules (tables, metadata, indexes), beside the tiles themselves."""

    def matrix(self, table: TileTable) -> Callable[[int], tuple[int, int] | None]:
        """Zoom → (columns, rows) of the tile matrix: the job's grid, else the file's own matrix."""
        job = self.job
        return job.grid.pyramid_size if job is not None else self.file_matrix(table.table)
