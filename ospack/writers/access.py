"""Who may read and write an output: SQLite needs the folder as well as the file, and a hot
journal must be rolled back (which takes write access) before the file can be read."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import WriterError


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


def read_only_uri(path: Path) -> str:
    """The SQLite URI that reads ``path`` without writing anything.

    In a folder this process cannot write, SQLite cannot create the ``-shm`` a WAL-mode file
    needs even to be read; with no ``-wal`` beside it there is nothing to lose by reading the
    file as immutable (no locks, no side files).
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    wal = path.with_name(path.name + "-wal")
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
    journal = path.with_name(path.name + "-journal")
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
