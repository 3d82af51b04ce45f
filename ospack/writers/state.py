"""ospack's own record inside a package, read in one place: the job, the completion and session
marks, the failure of the last run, the recorded-absent tiles and whether tiles carry digests.

The writers, ``info``, ``verify`` and the checks before a run all read it through here; only the
writers change it (:class:`~ospack.writers.base.SqliteTileWriter`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IncompatibleOutputError, WriterError
from .job import JobInfo

STATE_TABLE = "ospack_state"
ABSENT_TABLE = "ospack_absent"
DIGEST_TABLE = "ospack_digest"


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    """True when the file has a table or view called ``name``."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)).fetchone() is not None


def state_marks(conn: sqlite3.Connection) -> dict[str, str]:
    """Every row of ``ospack_state`` (``job``, ``complete``, ``session``, ``failure``, ``format``).

    Raises sqlite3.OperationalError when the file has no state table.
    """
    return dict(conn.execute(f"SELECT name, value FROM {STATE_TABLE}").fetchall())


def state_value(conn: sqlite3.Connection, name: str) -> str | None:
    """One mark of ``ospack_state``, or None when it is not set."""
    row = conn.execute(f"SELECT value FROM {STATE_TABLE} WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


@dataclass(frozen=True)
class PackageState:
    """ospack's record in a package it made, as read at one moment."""

    job: JobInfo
    #: the job as stored (JSON), fields of older versions included
    provenance: dict[str, Any]
    complete: bool
    #: why the last run stopped when a rerun alone could not fix it, else None
    failure: str | None
    #: "open" while a run writes, "closed" once it let go (None in files made before the mark)
    session: str | None
    #: MBTiles: the one image format the file holds, once a tile is stored
    image_format: str | None
    #: whether the file has the tile digest table (files made before digests lack it)
    has_digests: bool


def read_state(conn: sqlite3.Connection, path: Path) -> PackageState | None:
    """ospack's record in the file open on ``conn``, or None when ospack did not make it.

    Raises
    ------
    IncompatibleOutputError
        When a table of ospack's name holds something else (the user's own table).
    WriterError
        When the recorded job is not valid JSON or not a job.
    """
    if not has_table(conn, STATE_TABLE):
        return None
    try:
        marks = state_marks(conn)
    except sqlite3.OperationalError:  # not ospack's columns: the user's own table of that name
        raise IncompatibleOutputError(
            f"{path} has a table named {STATE_TABLE} that ospack did not make; "
            "choose another file name, or rename that table"
        ) from None
    if "job" not in marks:
        return None
    try:
        provenance = json.loads(marks["job"])
    except json.JSONDecodeError:
        raise WriterError(f"{path}: the recorded job is not valid JSON") from None
    complete = marks.get("complete") == "1"
    return PackageState(
        job=JobInfo.from_dict(provenance),
        provenance=provenance,
        complete=complete,
        failure=None if complete else marks.get("failure"),
        session=marks.get("session"),
        image_format=marks.get("format"),
        has_digests=has_table(conn, DIGEST_TABLE),
    )


def record_absent(conn: sqlite3.Connection, rows: list[tuple[str, int, int, int]]) -> None:
    """Record ``(layer, zoom, XYZ row, column)`` of tiles the API says do not exist (inside a transaction)."""
    conn.executemany(
        f"INSERT OR IGNORE INTO {ABSENT_TABLE} (layer, zoom_level, tile_row, tile_column) VALUES (?, ?, ?, ?)", rows
    )


def absent_counts(conn: sqlite3.Connection, layer: str) -> dict[int, int]:
    """Recorded-absent tiles of ``layer`` per zoom."""
    rows = conn.execute(
        f"SELECT zoom_level, count(*) FROM {ABSENT_TABLE} WHERE layer = ? GROUP BY zoom_level ORDER BY zoom_level",
        (layer,),
    )
    return dict(rows.fetchall())


def absent_keys(conn: sqlite3.Connection, layer: str, z: int) -> Iterator[tuple[int, int]]:
    """``(row, column)`` of the recorded-absent tiles of ``layer`` at zoom ``z``, ascending (XYZ rows).

    Rows whose address is not integers (damage from outside) address no tile, and would not
    compare with the integer keys they are merged with, so they are left out.
    """
    return conn.execute(
        f"SELECT tile_row, tile_column FROM {ABSENT_TABLE} WHERE layer = ? AND zoom_level = ? "
        "AND typeof(tile_row) = 'integer' AND typeof(tile_column) = 'integer' ORDER BY tile_row, tile_column",
        (layer, z),
    )
