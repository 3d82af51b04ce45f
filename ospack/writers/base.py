"""The SQLite machinery every format writer shares (:class:`SqliteTileWriter`).

Session pragmas, batched transactions, tile checks, the absent-tile list, the merge-joinable
``done`` stream and the finishing sequence live here; each format module adds its tables, its row
addressing, and the :class:`~ospack.writers.files.PackageFile` that reads them back.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from ..errors import InvalidTileError, WriterError
from ..resources import read_text
from ..types import Tile
from . import finish
from .access import read_only_uri, write_problem
from .files import PackageFile
from .images import check_tile_image
from .integrity import StoredTileChecks, create_digest_table, store_digests, tile_digest
from .job import JobInfo
from .lock import OutputLock
from .state import absent_counts, record_absent, state_value

__all__ = ["JobInfo", "SqliteTileWriter", "TileRow", "utc_now_ms"]

#: A tile row as the format stores it: (zoom, column, row, data); ``row`` counted from the top (XYZ).
TileRow = tuple[int, int, int, bytes]


def utc_now_ms() -> str:
    """Now, as GeoPackage DATETIME text (UTC, milliseconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class SqliteTileWriter(StoredTileChecks, ABC):
    """A tile writer on one SQLite connection, in WAL mode while the job runs.

    Subclasses define the format's tables (:meth:`_create_tables`), how rows are inserted and
    deleted, and what is refreshed before completion (:meth:`_finish`); what is stored is read back
    through the format's :class:`~ospack.writers.files.PackageFile` (:attr:`file_class`).
    """

    format: ClassVar[str]
    application_id: ClassVar[int]
    #: how the format's tables are read back (the writer reads its own file through it too)
    file_class: ClassVar[type[PackageFile]]
    job: JobInfo
    file: PackageFile
    #: set once this session has made sure the digest table exists (files made before digests lack it)
    _digests_ready: bool = False
    _closed: bool = False

    def __init__(self, path: Path, job: JobInfo, conn: sqlite3.Connection, *, new: bool, dedup: bool = False) -> None:
        self.path = path
        self.job = job
        self._conn = conn
        #: this run's claim on the output (set by open_writer), given up on close
        self.lock: OutputLock | None = None
        #: one-line warnings about the file found on opening (e.g. a -wal file missing)
        self.notes: list[str] = []
        self._session_open = False
        self._tile_size = job.grid.tile_size
        self._zooms = frozenset(job.zooms)
        if new:
            self._create(dedup)
        self.file = self.file_class(conn, path)
        self._complete = state_value(conn, "complete") == "1"
        if not self._complete and not new:
            self._start_session()

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def check_job(cls, job: JobInfo) -> None:
        """Raise WriterError when the format cannot hold ``job`` (default: any job)."""

    @classmethod
    def connect(cls, path: Path, *, read_only: bool = False) -> sqlite3.Connection:
        """Open ``path``: autocommit (explicit batches); the session switches to WAL before writing.

        A complete file is not written on a rerun, so it is opened as it is (``read_only`` for a
        file that cannot be written).
        """
        target = read_only_uri(path) if read_only else f"{path.resolve().as_uri()}?mode=rwc"
        try:
            conn = sqlite3.connect(
                target, uri=True, isolation_level=None, check_same_thread=False, timeout=finish.BUSY_WAIT_MS / 1000
            )
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise WriterError(f"cannot open {path}: {exc}") from None
        # 16 MiB of page cache: tiles are appended, rarely re-read, so a bigger cache only adds
        # memory (64 MiB measured 157 MB RSS during a job and 222 MB at VACUUM; 16 MiB, 105/121 MB)
        conn.execute("PRAGMA cache_size=-16384")
        return conn

    def _start_session(self, *, mark: bool = True) -> None:
        """Switch to WAL for writing: a crash or kill -9 keeps every committed batch, power loss may
        drop the last ones, and neither corrupts the file (sqlite.org/wal.html).

        ``mark`` records a writing session as open in the file itself (checkpointed at once), so
        a copy of the file taken without its ``-wal`` can be told from one closed cleanly.
        """
        try:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise WriterError(f"cannot write to {self.path}: SQLite keeps it in {mode} journal mode")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            if mark:
                self._conn.execute("BEGIN IMMEDIATE")
                self._set_state("session", "open")
                self._conn.execute("COMMIT")
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._session_open = True
        except sqlite3.OperationalError as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise WriterError(f"cannot write to {self.path}: {exc} (is another program writing it?)") from None

    def _create(self, dedup: bool) -> None:
        self._start_session(mark=False)  # the creating transaction marks the session
        # one transaction: an interruption leaves an empty database, which the next run recreates
        bookkeeping = read_text("gpkg/ospack_state.sql") + read_text("gpkg/ospack_digest.sql")
        self._conn.executescript("BEGIN;\n" + self._schema_sql(dedup) + bookkeeping)
        try:
            if not self._conn.execute("PRAGMA application_id").fetchone()[0]:  # a user's GeoPackage keeps its own
                self._conn.execute(f"PRAGMA application_id = {self.application_id}")
            self._create_tables()
            self._set_state("job", json.dumps(self.job.to_dict()))
            self._set_state("complete", "0")
            self._set_state("session", "open")
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        # Copy the new schema and header (application_id) from the write-ahead log into the
        # file itself, so readers of the raw header (validate_gpkg.py, `file`) recognise an
        # interrupted package as what it is rather than as a blank SQLite file.
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._session_open = True

    def resume_with(self, job: JobInfo) -> None:
        """Grow a stored job by a resume's (:meth:`JobInfo.resumed_by`) and mark the file incomplete."""
        grown = self.job.resumed_by(job)
        if grown == self.job:
            return
        self.job = grown
        self._zooms = frozenset(grown.zooms)
        with self._transaction():
            self._set_state("job", json.dumps(grown.to_dict()))
            self._zooms_grown()

    # ---- state ---------------------------------------------------------------------------------
    def _set_state(self, name: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO ospack_state (name, value) VALUES (?, ?)", (name, value))

    @property
    def complete(self) -> bool:
        """True once :meth:`mark_complete` has run and nothing was written since."""
        return self._complete

    @property
    def failure(self) -> str | None:
        """Why the last run stopped, when a rerun alone could not fix it (a refused key, an unreachable API)."""
        return state_value(self._conn, "failure")

    def record_failure(self, reason: str | None) -> None:
        """Record why the run stopped, for ``info`` and ``verify`` to show; None clears it."""
        with self._transaction():
            if reason is None:
                self._conn.execute("DELETE FROM ospack_state WHERE name = 'failure'")
            else:
                self._set_state("failure", reason)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction that first marks the file incomplete (the job is running again)."""
        if self._complete:  # the job runs again: back to the session's journal
            self._start_session()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise WriterError(f"cannot write to {self.path}: {exc} (is another ospack run writing it?)") from None
        try:
            if self._complete:
                self._set_state("complete", "0")
            yield
            self._conn.execute("COMMIT")
        except BaseException as exc:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise WriterError(f"writing {self.path} failed ({exc}); that batch was not stored") from exc
            raise
        self._complete = False

    # ---- the TileWriter interface --------------------------------------------------------------
    def write(self, layer: str, tiles: Iterable[tuple[Tile, bytes]]) -> int:
        """Store a batch of tiles in one transaction; returns how many were stored.

        Every image is checked first (PNG/JPEG of the grid's tile size); on the first bad one
        InvalidTileError is raised and nothing of the batch is stored. A tile already stored is
        replaced.
        """
        name = self._layer(layer)
        rows: list[TileRow] = []
        formats: set[str] = set()
        for tile, data in tiles:
            z, x, y = self._check_tile(name, tile)
            try:
                formats.add(check_tile_image(data, self._tile_size))
            except InvalidTileError as exc:
                raise InvalidTileError(f"tile {z}/{x}/{y} of {name}: {exc}; nothing of this batch was stored") from None
            rows.append((z, x, y, data))
        if not rows:
            return 0
        with self._transaction():
            self._insert(name, rows, formats)
            if not self._digests_ready:
                create_digest_table(self._conn)
            store_digests(self._conn, [(name, z, x, y, tile_digest(data)) for z, x, y, data in rows])
        self._digests_ready = True  # only once committed: a rolled-back batch may have created the table
        return len(rows)

    def record_absent(self, layer: str, tiles: Iterable[Tile]) -> None:
        """Record tiles the API says do not exist, so a resume skips them."""
        name = self._layer(layer)
        rows = [(name, z, y, x) for z, x, y in (self._check_tile(name, t) for t in tiles)]
        if rows:
            with self._transaction():
                record_absent(self._conn, rows)

    def done(self, layer: str, z: int) -> Iterator[Tile]:
        """Stored or recorded-absent tiles at zoom ``z``, ordered by (row, column).

        Reads through its own read-only connection, so it sees one consistent snapshot and the
        caller may keep writing while iterating; memory stays flat (SQLite sorts on disk).
        """
        name = self._layer(layer)
        reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        try:
            reader.execute("BEGIN")
            for row, column in self.file_class(reader, self.path).held_keys(name, z):
                yield Tile(z, column, row)
        finally:
            reader.close()

    def contains(self, layer: str, tile: Tile) -> bool:
        """True when ``tile`` is stored as an image (recorded-absent tiles are not)."""
        return self.file.contains(self.file.table_of(self._layer(layer)), Tile(*tile))

    def tile_counts(self, layer: str) -> dict[int, int]:
        """Stored tiles per zoom."""
        return self.file.tile_counts(self.file.table_of(self._layer(layer)))

    def absent_counts(self, layer: str) -> dict[int, int]:
        """Recorded-absent tiles per zoom."""
        return absent_counts(self._conn, self._layer(layer))

    def mark_complete(self) -> str | None:
        """Finish the file: refresh extents and metadata, ANALYZE, check, mark complete, then compact.

        Everything up to the completion mark happens in WAL mode, so a kill at any instant leaves
        either an incomplete file the rerun finishes or a complete one; compaction (:meth:`compact`)
        follows and is best effort.

        Returns
        -------
        str or None
            One line when the file could not be compacted (another program has it open, or the
            disk is short of space for VACUUM); the file is complete either way.

        Raises
        ------
        WriterError
            When SQLite's integrity or foreign-key check fails (the file stays incomplete).
        """
        with self._transaction():
            self._finish()
        conn = self._conn
        try:
            conn.execute("ANALYZE")
            problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise WriterError(f"{self.path} failed SQLite's integrity check: {problems[0]}")
            if self._foreign_key_violations():
                raise WriterError(f"{self.path} failed SQLite's foreign key check")
            conn.execute("BEGIN IMMEDIATE")
            self._set_state("complete", "1")
            self._set_state("session", "closed")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise WriterError(f"cannot finish {self.path}: {exc}") from None
        self._complete = True
        self._session_open = False
        return self.compact()

    def compact(self) -> str | None:
        """Fold the write-ahead log into the file (one file to copy) and VACUUM it when worthwhile.

        Returns a line saying why not when another program holds the file open or space is
        short (see :func:`ospack.writers.finish.compact`). Does nothing on an incomplete or
        read-only file.
        """
        if not self._complete or write_problem(self.path):
            return None
        return finish.compact(self._conn, self.path)

    def close(self) -> None:
        """Close the file (SQLite folds what is left of the write-ahead log into it)."""
        if self._closed:
            return
        try:
            if self._session_open:  # best effort: a file whose close is not recorded only warns more
                try:
                    with self._transaction():
                        self._set_state("session", "closed")
                except WriterError:
                    pass
            self._conn.close()
        finally:
            self._closed = True
            if self.lock is not None:
                self.lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "complete" if self._complete else "incomplete"
        return f"<{type(self).__name__} {self.path} {','.join(self.job.layers)} {state}>"

    # ---- checks --------------------------------------------------------------------------------
    def _layer(self, layer: str) -> str:
        if self._closed:
            raise WriterError(f"{self.path} is closed")
        for name in self.job.layers:
            if name.lower() == layer.lower():
                return name
        raise WriterError(f"layer {layer!r} is not part of this package ({', '.join(self.job.layers)})")

    def _check_tile(self, layer: str, tile: Tile) -> tuple[int, int, int]:
        z, x, y = tile
        if z not in self._zooms:
            raise WriterError(f"tile {z}/{x}/{y} of {layer}: zoom {z} is not in the job's zooms {list(self.job.zooms)}")
        width, height = self.job.grid.pyramid_size(z)
        if not (0 <= x < width and 0 <= y < height):
            raise WriterError(f"tile {z}/{x}/{y} of {layer} lies outside grid {self.job.grid.id}")
        return z, x, y

    def _foreign_key_violations(self) -> int:
        """Rows of the format's tables whose foreign keys point nowhere."""
        return len(self._conn.execute("PRAGMA foreign_key_check").fetchall())

    # ---- format hooks --------------------------------------------------------------------------
    @abstractmethod
    def _schema_sql(self, dedup: bool) -> str:
        """The format's DDL script."""

    @abstractmethod
    def _create_tables(self) -> None:
        """Fill the format's own tables for a new file (inside the creating transaction)."""

    @abstractmethod
    def _zooms_grown(self) -> None:
        """Record new zooms in the format's tables (inside a transaction)."""

    @abstractmethod
    def _insert(self, layer: str, rows: list[TileRow], formats: set[str]) -> None:
        """Insert or replace checked tile rows (inside a transaction)."""

    @abstractmethod
    def _delete(self, layer: str, keys: list[tuple[object, object, object]], *, damaged: bool) -> None:
        """Delete tiles by ``(zoom_level, tile_column, tile_row)`` exactly as stored (inside a transaction);
        ``damaged``: their image bytes are bad, so a deduplicated image must go with them."""

    def _stored_row(self, z: int, y: int) -> int:
        """The stored tile_row of XYZ row ``y`` (a format counting rows from the bottom overrides this)."""
        return y

    @abstractmethod
    def _finish(self) -> None:
        """Refresh extents and metadata before completion (inside a transaction)."""
