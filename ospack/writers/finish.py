"""Compaction after the job is complete: fold the write-ahead log into the file and VACUUM it.

Both need the file to themselves, and both are optional: the file is complete before they
start, so another program holding it open, a kill or a short disk only leaves it larger, in WAL
mode with its ``-wal``/``-shm`` beside it, and a later run compacts it. VACUUM runs in WAL mode,
so a kill during it leaves the file as it was (in rollback-journal mode it would leave a hot
journal that read-only readers cannot open).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from ..errors import WriterError

#: How long compaction waits for other programs to let go of the file before it leaves the
#: file complete but uncompacted (a GIS program that keeps it open never lets go).
COMPACT_WAIT_MS = 1000
#: SQLite's wait for a lock everywhere else (Python's default)
BUSY_WAIT_MS = 5000
#: VACUUM only when at least this share of the file is free pages: a freshly packed file has
#: next to none, and rewriting gigabytes to win nothing costs time and twice the disk space.
VACUUM_FREE_SHARE = 0.01


def compact(conn: sqlite3.Connection, path: Path) -> str | None:
    """Compact the complete file ``path`` open on ``conn``; a one-line note when it could not be, else None."""
    conn.execute(f"PRAGMA busy_timeout = {COMPACT_WAIT_MS}")
    try:
        if not _leave_wal(conn):
            return busy_note(path)
        pages, free, page_size = (
            conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size")
        )
        if free <= VACUUM_FREE_SHARE * pages:
            return None
        shortfall = _vacuum_shortfall(path, (pages - free) * page_size)
        if shortfall:
            return f"{path} is complete but was not compacted: {shortfall}"
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
            return busy_note(path)
        conn.execute("VACUUM")
        return None if _leave_wal(conn) else busy_note(path)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return busy_note(path)
        raise WriterError(f"compacting {path} failed ({exc}); the file is complete") from None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_MS}")


def _leave_wal(conn: sqlite3.Connection) -> bool:
    """Checkpoint and switch to the rollback journal; False while another connection has the file open."""
    if conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] != "delete":
        return False
    conn.execute("PRAGMA synchronous=FULL")
    return True


def busy_note(path: Path) -> str:
    """What it means that another program kept the file from being compacted, and what to do."""
    name = path.name
    return (
        f"{path} is complete, but another program has it open, so it stays in WAL mode with "
        f"{name}-wal and {name}-shm beside it (copy all three together); close that program and "
        "run the same command again to fold them into one file"
    )


def _sqlite_temp_dir() -> Path:
    """Where SQLite puts VACUUM's temporary copy (its unix VFS's search order)."""
    for candidate in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(candidate)
    return Path.cwd()


def _vacuum_shortfall(path: Path, data_bytes: int) -> str | None:
    """What is missing for VACUUM: a temporary copy of the data, and as much again in the WAL beside the file."""
    here, temp = path.parent, _sqlite_temp_dir()
    needs = {here: data_bytes}
    if os.stat(temp).st_dev == os.stat(here).st_dev:
        needs[here] += data_bytes
    else:
        needs[temp] = data_bytes
    for folder, need in needs.items():
        free = shutil.disk_usage(folder).free
        if free < need * 1.05:
            return (
                f"that needs {_megabytes(need)} free in {folder}, which has {_megabytes(free)}; "
                "free some space and run the same command again to compact it"
            )
    return None


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"
