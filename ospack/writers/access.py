"""Who may read and write an output: SQLite needs the folder as well as the file, and a hot
journal must be rolled back (which takes write access) before the file can be read."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import WriterError
from .state import state_marks


def write_problem(path: Path) -> str | None:
    """Why SQLite could not write ``path`` (the file, or the journal and WAL beside it), or None."""
    folder = path.parent
    folder_writable = os.access(folder, os.W_OK | os.X_OK)
    if not path.exists():
        if folder_writable:
            return None
        return f"cannot create {path}: its folder {folder} is not writable; make it writable or choose another place"
    if not os.access(path, os.W_OK):
        return f"{path} is read-only; make it writable (chmod u+w) or choose another file name"
    if not folder_writable:
        return (
            f"{path} cannot be written where it is: its folder {folder} is not writable, and SQLite needs to "
            f"create {path.name}-wal and {path.name}-journal beside the file; make the folder writable, "
            "or copy the file to a folder that is"
        )
    return None


def side_file(path: Path, suffix: str) -> Path:
    """SQLite's ``-wal``/``-shm``/``-journal`` of ``path``: beside the file itself, a symlink followed."""
    real = Path(os.path.realpath(path))
    return real.with_name(real.name + suffix)


def read_only_uri(path: Path) -> str:
    """The SQLite URI that reads ``path`` without writing anything.

    In a folder this process cannot write, SQLite cannot create the ``-shm`` a WAL-mode file
    needs even to be read; with no ``-wal`` beside it there is nothing to lose by reading the
    file as immutable (no locks, no side files).
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    wal = side_file(path, "-wal")
    if not os.access(path.parent, os.W_OK | os.X_OK) and not (wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"
    return uri


def recover_hot_journal(path: Path) -> None:
    """Let SQLite roll back a journal left beside ``path`` by a killed writer, so read-only opens work.

    Raises
    ------
    WriterError
        When there is such a journal and ``path`` or its folder is not writable.
    """
    journal = side_file(path, "-journal")
    try:
        if journal.stat().st_size == 0:
            return
    except FileNotFoundError:
        return
    if write_problem(path):
        raise WriterError(
            f"{path} has an unfinished transaction in {journal.name} (a program was stopped while writing it); "
            "SQLite needs write access to the file and its folder to roll it back: make them writable and retry"
        )
    # opening read-write and reading is what makes SQLite roll a hot journal back; a journal
    # that is not hot (another program is mid-transaction) is left alone by the same read
    conn = sqlite3.connect(path)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise WriterError(f"{path} is not a readable SQLite file ({exc})") from None
    finally:
        conn.close()


def missing_wal_note(path: Path) -> str | None:
    """A warning when ``path`` was taken (copied) mid-job without its ``-wal``, else None.

    The signal: the header says WAL mode, no ``-wal`` (or an empty one) is beside the file, and
    the file itself records a writing session still open (a clean close records it closed, and
    a killed run leaves its ``-wal`` behind). Another program that opens a killed run's file and
    folds its ``-wal`` in gives the same signal, hence the conditional wording. Call it before
    any other connection opens the file: even a read-only one creates an empty ``-wal``.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(20)
        wal = side_file(path, "-wal")
        if len(header) < 20 or header[18] != 2 or (wal.exists() and wal.stat().st_size):  # 2: WAL mode
            return None
        # immutable: read the file as it is, creating no -wal or -shm beside it
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            state = state_marks(conn)
        finally:
            conn.close()
    except (OSError, sqlite3.DatabaseError):
        return None
    if state.get("session") != "open" or state.get("complete") == "1":
        return None
    return (
        f"{path} is in WAL mode mid-job with no {path.name}-wal beside it: if it was copied, copy its -wal "
        "with it, which holds the tiles stored last; either way the rerun fetches whatever is missing"
    )
