"""Output formats: one module per format, owning its file in both directions — a writer behind one
interface (:class:`TileWriter`) and a reader (:class:`PackageFile`) that the writer shares.

>>> with open_writer("peaks.gpkg", job) as writer:          # doctest: +SKIP
...     writer.write("Outdoor_27700", [(Tile(7, 356, 595), png_bytes)])
...     writer.mark_complete()
>>> with open_package("peaks.gpkg") as package:             # doctest: +SKIP
...     package.tile_counts(package.table_of("Outdoor_27700"))
{7: 1}
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import IncompatibleOutputError, OutputFormatError, WriterError
from . import gpkg as gpkg_format
from .access import missing_wal_note, side_file, write_problem
from .base import JobInfo, SqliteTileWriter
from .files import PackageFile, TileTable, read_only
from .gpkg import GPKG_APPLICATION_ID, GeoPackageWriter
from .lock import OutputLock
from .mbtiles import MBTILES_APPLICATION_ID, MBTilesWriter, flip_row
from .options import OutputOptions
from .protocol import TileWriter
from .state import PackageState, read_state

__all__ = [
    "FORMATS",
    "JobInfo",
    "OutputOptions",
    "PackageFile",
    "PackageState",
    "TileTable",
    "TileWriter",
    "detect_format",
    "flip_row",
    "open_package",
    "open_writer",
    "package_file",
    "read_job",
    "read_only",
]

#: format name → writer class
FORMATS: dict[str, type[SqliteTileWriter]] = {"gpkg": GeoPackageWriter, "mbtiles": MBTilesWriter}
_APPLICATION_IDS = {GPKG_APPLICATION_ID: "gpkg", MBTILES_APPLICATION_ID: "mbtiles"}


def open_writer(
    path: str | os.PathLike[str],
    job: JobInfo,
    options: OutputOptions | None = None,
) -> TileWriter:
    """Create an output file for ``job``, or resume the compatible one already at ``path``.

    Parameters
    ----------
    path
        Output file, ``.gpkg`` or ``.mbtiles``.
    job
        What the package holds.
    options
        The format (default: from the extension), ``overwrite`` (replace what is at ``path``)
        and MBTiles ``dedup``: :class:`~ospack.writers.options.OutputOptions`.

    Returns
    -------
    TileWriter
        The open writer (also a context manager). A resumed file holds the union of the stored
        and asked zooms, and is marked incomplete when zooms were added.

    Raises
    ------
    WriterError
        When the format cannot hold the job (MBTiles: one Web Mercator layer).
    IncompatibleOutputError
        When ``path`` holds something else (another grid, layers, area, or not an ospack file)
        and ``overwrite`` is False.
    """
    path = Path(path)
    options = options or OutputOptions()
    fmt = options.format_of(path)
    cls = FORMATS[fmt]
    cls.check_job(job)
    if options.dedup and fmt != "mbtiles":
        raise OutputFormatError("deduplication is an MBTiles option; GeoPackage has no standard way to share tiles")
    if path.is_dir():
        raise WriterError(f"{path} is a folder; give a file name ending .{fmt}")
    if not path.parent.is_dir():
        raise WriterError(f"folder {path.parent} does not exist; create it first")
    lock = OutputLock(path)
    lock.acquire()  # before the file is looked at: two runs started together must not both create it
    try:
        writer = _open_locked(path, job, cls, fmt, overwrite=options.overwrite, dedup=options.dedup)
    except BaseException:
        lock.release()
        raise
    writer.lock = lock
    return writer


def _open_locked(
    path: Path, job: JobInfo, cls: type[SqliteTileWriter], fmt: str, *, overwrite: bool, dedup: bool
) -> SqliteTileWriter:
    if overwrite:
        _remove_for_overwrite(path, fmt)
    lost_wal = path.is_file() and missing_wal_note(path)  # before any connection creates an empty -wal
    new = not path.exists() or _is_empty_database(path)
    stored: JobInfo | None = None
    complete = False
    notes: list[str] = []
    if not new:
        stored, complete = _stored_job(path, fmt, job)
        notes = [lost_wal] if lost_wal else []
        new = stored is None  # a GeoPackage of the user's own: ospack's tables are added beside theirs
        differences = stored.differences(job) if stored else []
        if differences:
            raise IncompatibleOutputError(
                f"{path} already holds another package ({'; '.join(differences)}); "
                "pass --overwrite to replace it, or choose another file name"
            )
    # before the first request: a job that will write must be able to (a complete file asked
    # again is only read)
    problem = write_problem(path)
    if problem and not (stored is not None and complete and stored.resumed_by(job) == stored):
        raise WriterError(problem)
    conn = cls.connect(path, read_only=bool(problem))
    try:
        writer = cls(path, stored or job, conn, new=new, dedup=dedup)
        if stored is not None:
            writer.resume_with(job)
    except BaseException:
        conn.close()
        raise
    writer.notes.extend(notes)
    return writer


def read_job(path: str | os.PathLike[str]) -> JobInfo | None:
    """The job an ospack output records, or None when ``path`` is missing or not an ospack package.

    Raises
    ------
    WriterError
        When ``path`` exists but is not a readable SQLite database.
    """
    path = Path(path)
    if not path.is_file():
        return None
    with read_only(path) as conn:
        state = read_state(conn, path)
    return state.job if state else None


def detect_format(conn: sqlite3.Connection) -> str | None:
    """``"gpkg"``, ``"mbtiles"`` or None, from the application id, else the tables present."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id in _APPLICATION_IDS:
        return _APPLICATION_IDS[app_id]
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if "gpkg_contents" in names:
        return "gpkg"
    if {"metadata", "tiles"} <= names:
        return "mbtiles"
    return None


def package_file(conn: sqlite3.Connection, path: Path) -> PackageFile | None:
    """The package open on ``conn`` read through its format, or None when it is neither format."""
    fmt = detect_format(conn)
    return None if fmt is None else FORMATS[fmt].file_class(conn, path)


@contextmanager
def open_package(path: str | os.PathLike[str]) -> Iterator[PackageFile]:
    """Read the package at ``path`` read-only, through its format's :class:`PackageFile`.

    Raises
    ------
    WriterError
        When ``path`` is missing, not SQLite, or neither a GeoPackage nor an MBTiles file.
    """
    path = Path(path)
    if not path.is_file():
        raise WriterError(f"{path} does not exist")
    with read_only(path) as conn:
        found = package_file(conn, path)
        if found is None:
            raise WriterError(f"{path} is neither a GeoPackage nor an MBTiles file")
        yield found


def remove_package(path: Path) -> None:
    """Delete a package and its SQLite side files (journal, WAL, shared memory)."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        candidate = side_file(path, suffix)  # through a symlink: the file itself, not the link
        if candidate.is_dir():
            raise WriterError(f"{candidate} is a folder; refusing to overwrite it")
        try:
            candidate.unlink(missing_ok=True)
        except OSError as exc:
            raise WriterError(f"cannot remove {candidate} to overwrite it: {exc.strerror}") from None


def _is_empty_database(path: Path) -> bool:
    if path.stat().st_size == 0:
        return True
    with read_only(path) as conn:
        return int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]) == 0


def _stored_job(path: Path, fmt: str, job: JobInfo) -> tuple[JobInfo | None, bool]:
    """The job ``path`` holds and whether it is complete; no job for a GeoPackage ospack did not
    make (its tables go in beside the user's)."""
    with read_only(path) as conn:
        found = detect_format(conn)
        state = read_state(conn, path)
        stored, complete = (state.job, state.complete) if state else (None, False)
        taken = sorted(gpkg_format.own_tables(job) & set(gpkg_format.foreign_content(conn, None)))
    if found != fmt:
        kind = {"gpkg": "a GeoPackage", "mbtiles": "an MBTiles file"}.get(found or "", "not a tile package")
        raise IncompatibleOutputError(f"{path} is {kind}, not {fmt}; pass --overwrite to replace it")
    if stored is None and fmt == "mbtiles":
        raise IncompatibleOutputError(
            f"{path} is an MBTiles file ospack did not make, and one MBTiles file holds one tileset; "
            "choose another file name, or pass --overwrite to replace it"
        )
    if stored is None and taken:
        raise IncompatibleOutputError(
            f"{path} already has a table named {taken[0]} that ospack did not make; "
            "choose another file name, or rename that table"
        )
    return stored, complete


def _remove_for_overwrite(path: Path, fmt: str) -> None:
    """Make way for a new job: the whole file, or only ospack's part of a GeoPackage holding the user's layers."""
    if fmt == "gpkg" and path.is_file():
        try:
            with read_only(path) as conn:
                is_gpkg = detect_format(conn) == "gpkg"
                state = read_state(conn, path) if is_gpkg else None
                stored = state.job if state else None
                shared = is_gpkg and gpkg_format.foreign_content(conn, stored)
        except IncompatibleOutputError:  # the user's table where ospack's would be: keep it all
            raise
        except WriterError:  # not SQLite at all: nothing of the user's to keep
            shared = False
        if shared:
            if stored is not None:
                conn = sqlite3.connect(path, isolation_level=None)
                try:
                    gpkg_format.remove_own(conn, stored)
                except sqlite3.Error as exc:
                    raise WriterError(f"cannot remove ospack's tables from {path}: {exc}") from None
                finally:
                    conn.close()
            return
    remove_package(path)
