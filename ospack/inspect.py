"""Read an output file back: :func:`info` describes it, :func:`verify` checks it end to end.

Both read the file through a read-only connection and its format's
:class:`~ospack.writers.files.PackageFile`, and work on any GeoPackage tile table or MBTiles
file; the provenance, completeness and area checks need one made by ospack.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import check_cover, check_images
from .context import MIN_CONTEXT_TILE_M
from .errors import OspackError
from .projection import WGS84, transform_bounds
from .writers import PackageFile, TileTable, open_package, package_file, read_only
from .writers.access import missing_wal_note
from .writers.lock import writing_run

__all__ = ["LayerInfo", "PackageInfo", "TileTable", "VerifyReport", "info", "verify"]


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a package as :func:`info` found it."""

    name: str
    table: str
    crs: str  # "EPSG:27700"
    bounds: tuple[float, float, float, float] | None  # in the layer's CRS
    wgs84_bounds: tuple[float, float, float, float] | None
    zooms: Mapping[int, int]  # zoom → stored tiles
    absent: Mapping[int, int]  # zoom → tiles recorded absent at the source

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json`` (zooms as strings, as JSON keys are)."""
        return {
            "name": self.name,
            "table": self.table,
            "crs": self.crs,
            "bounds": list(self.bounds) if self.bounds else None,
            "wgs84_bounds": list(self.wgs84_bounds) if self.wgs84_bounds else None,
            "zooms": {str(z): n for z, n in self.zooms.items()},
            "absent": {str(z): n for z, n in self.absent.items()},
        }

    def to_text(self) -> str:
        """The layer's line and one line per zoom."""
        bounds = ", ".join(f"{v:.1f}" for v in self.bounds) if self.bounds else "unknown"
        lines = [f"layer {self.name} (table {self.table}, {self.crs}) bounds {bounds}"]
        for z, n in self.zooms.items():
            absent = self.absent.get(z)
            lines.append(f"  zoom {z!s:>2}: {n} tiles" + (f", {absent} absent at source" if absent else ""))
        return "\n".join(lines)


@dataclass(frozen=True)
class PackageInfo:
    """What :func:`info` found in a package; ``to_dict()`` is the ``--json`` output."""

    path: str
    format: str  # "gpkg" or "mbtiles"
    size_bytes: int
    #: None when the file was not made by ospack
    complete: bool | None
    layers: tuple[LayerInfo, ...]
    attribution: str | None
    #: the job ospack recorded (as stored), or None
    provenance: Mapping[str, Any] | None
    #: why the last run stopped, when a rerun alone could not fix it; else None
    failure: str | None
    #: which run is writing the (incomplete) file now, e.g. "being written by another ospack run (process 12)"
    running: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``; scripts rely on these keys."""
        return {
            "path": self.path,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "complete": self.complete,
            "layers": [layer.to_dict() for layer in self.layers],
            "attribution": self.attribution,
            "provenance": None if self.provenance is None else dict(self.provenance),
            "failure": self.failure,
            "running": self.running,
        }

    def to_text(self) -> str:
        """The text of ``ospack info``, one fact per line."""
        if self.complete is None:
            state = "unknown (not made by ospack)"
        elif self.complete:
            state = "complete"
        elif self.running:
            state = f"INCOMPLETE ({self.running}; wait for it to finish)"
        elif self.failure:
            state = f"INCOMPLETE (the last run stopped: {self.failure})"
        else:
            state = "INCOMPLETE (interrupted; rerun to resume)"
        lines = [f"{self.path}: {self.format}, {self.size_bytes / 1e6:.1f} MB, {state}"]
        lines += [layer.to_text() for layer in self.layers]
        if self.attribution:
            lines.append(f"attribution: {self.attribution}")
        job = self.provenance
        if job:
            lines.append(
                f"provenance: {job['source']}, created {job['created']}, ospack {job['ospack_version']}"
                + (", emulator tiles (--demo)" if job.get("demo") else "")
            )
            if job.get("context_m"):  # the low zooms reach beyond the area, so they hold more tiles than it
                lines.append(
                    f"context: {job['context_m'] / 1000:g} km around the area, at the zooms whose tiles span"
                    f" {MIN_CONTEXT_TILE_M / 1000:g} km or more"
                )
        return "\n".join(lines)


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``ok`` when ``problems`` is empty."""

    path: str
    format: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tiles_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "path": self.path,
            "format": self.format,
            "ok": self.ok,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "tiles_checked": self.tiles_checked,
        }

    def finding_lines(self) -> list[str]:
        """``note: …`` then ``problem: …``, one entry per finding (``ospack verify`` prints them on stderr)."""
        return [f"note: {note}" for note in self.notes] + [f"problem: {problem}" for problem in self.problems]

    def verdict(self) -> str | None:
        """The line saying the file is sound, or None when it is not."""
        return f"{self.path}: OK ({self.tiles_checked} tiles checked)" if self.ok else None

    def to_text(self) -> str:
        """Every finding, then the verdict when the file is sound."""
        verdict = self.verdict()
        return "\n".join(self.finding_lines() + ([verdict] if verdict else []))


def info(path: str | os.PathLike[str]) -> PackageInfo:
    """Describe a GeoPackage or MBTiles tile file.

    Returns
    -------
    PackageInfo
        ``path``, ``format``, ``size_bytes``, ``complete`` (None when not made by ospack),
        ``layers`` (each ``name``, ``table``, ``crs``, ``bounds`` in that CRS, ``wgs84_bounds``,
        ``zooms`` {zoom: tile count}, ``absent`` {zoom: count}), ``attribution``,
        ``provenance`` (the recorded job, or None) and ``failure`` (why the last run stopped,
        when a rerun alone could not fix it; else None) and ``running`` (which run is writing an
        incomplete file now; else None). ``to_dict()`` gives plain data.

    Raises
    ------
    WriterError
        When the file is missing, not SQLite, or not a tile package.
    """
    path = Path(path)
    with open_package(path) as package:
        state = package.state  # first: a recorded job that cannot be read is an error
        layers = tuple(_layer_info(package, table) for table in package.tile_tables())
        attribution = package.attribution()
    return PackageInfo(
        path=str(path),
        format=package.format,
        size_bytes=path.stat().st_size,
        complete=None if state is None else state.complete,
        layers=layers,
        attribution=attribution,
        provenance=None if state is None else state.provenance,
        failure=None if state is None else state.failure,
        running=None if state is None or state.complete else writing_run(path),
    )


def _layer_info(package: PackageFile, table: TileTable) -> LayerInfo:
    return LayerInfo(
        name=table.layer,
        table=table.table,
        crs=f"EPSG:{table.epsg}",
        bounds=table.bounds,
        wgs84_bounds=_wgs84(table.bounds, table.epsg),
        zooms=package.tile_counts(table.table),
        absent=package.absent_counts(table.layer),
    )


def _wgs84(bounds: tuple[float, float, float, float] | None, epsg: int) -> tuple[float, float, float, float] | None:
    if bounds is None or epsg <= 0:
        return None
    box = transform_bounds(bounds, f"EPSG:{epsg}", WGS84)
    west, south, east, north = (round(v, 7) for v in box)
    return west, south, east, north


def verify(path: str | Path) -> VerifyReport:
    """Check a package: SQLite integrity, format conformance, every tile (its bytes against the digest
    stored with it, its address against the job's zooms and the tile matrix, its image by decoding),
    and the stored tiles against the recorded area's cover (missing and extra per zoom).

    Returns
    -------
    VerifyReport
        Never raises for a bad file: everything wrong becomes a one-line problem.
    """
    path = Path(path)
    report = VerifyReport(str(path))
    if not path.is_file():
        report.problems.append(f"{path} does not exist")
        return report
    lost_wal = missing_wal_note(path)  # before our own connection creates an empty -wal
    if lost_wal:
        report.notes.append(lost_wal)
    try:
        with read_only(path) as conn:
            _verify(conn, path, report)
    except (OspackError, sqlite3.DatabaseError) as exc:
        report.problems.append(str(exc).splitlines()[0])
    except Exception as exc:  # damage no check foresaw: still a report, never a traceback
        report.problems.append(f"verify stopped on damage it cannot read ({type(exc).__name__}: {exc})")
    return report


def _verify(conn: sqlite3.Connection, path: Path, report: VerifyReport) -> None:
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if integrity != ["ok"]:
        report.problems.extend(f"SQLite integrity: {line}" for line in integrity[:5])
        return
    package = package_file(conn, path)
    if package is None:
        report.problems.append("neither a GeoPackage nor an MBTiles file")
        return
    report.format = package.format
    state = package.state
    # in a GeoPackage shared with the user's layers, only ospack's part is judged
    if package.foreign_key_violations():
        report.problems.append("SQLite foreign key check fails")
    if state is None:
        report.problems.append("no ospack job recorded, so the area cover cannot be checked (not made by ospack?)")
    elif not state.complete:
        running = writing_run(path)
        report.problems.append(
            f"incomplete: {running}; wait for it to finish"
            if running
            else f"incomplete: the last run stopped: {state.failure}"
            if state.failure
            else "incomplete: the run was interrupted; rerun the same package command to resume"
        )
    tables = package.tile_tables()
    structure = package.structural_problems(tables)
    report.problems.extend(structure.problems)
    report.notes.extend(structure.notes)
    for table in tables:
        check_images(package, table, report)
        if state is not None:
            check_cover(package, table, state.job, report)
