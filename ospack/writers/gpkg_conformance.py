"""GeoPackage conformance, for ``verify``: the header, tile matrix sets and matrices, then GDAL's
validate_gpkg.py when it is installed."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from .files import Findings, TileTable, quote
from .gpkg import GPKG_APPLICATION_ID


def conformance(conn: sqlite3.Connection, path: Path, tables: list[TileTable], foreign: list[str]) -> Findings:
    """GeoPackage header, tile matrix sets and matrices, then GDAL's validate_gpkg.py when installed.

    The validator's findings about the user's own layers (``foreign``, in a shared file) are theirs.
    """
    findings = Findings()
    if conn.execute("PRAGMA application_id").fetchone()[0] != GPKG_APPLICATION_ID:
        findings.problems.append("GeoPackage application_id is not 'GPKG'")
    if conn.execute("PRAGMA user_version").fetchone()[0] < 10200:
        findings.problems.append("GeoPackage user_version is older than 1.2")
    for table in tables:
        tms = conn.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_tile_matrix_set WHERE table_name = ?", (table.table,)
        ).fetchone()
        if tms is None:
            findings.problems.append(f"GeoPackage table {table.table} has no tile matrix set")
            continue
        if not all(type(v) in (int, float) for v in tms):
            findings.problems.append(f"GeoPackage table {table.table}: tile matrix set bounds are not numbers")
            continue
        width, height = tms[2] - tms[0], tms[3] - tms[1]
        matrices = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT zoom_level, matrix_width, matrix_height, tile_width, tile_height, pixel_x_size, pixel_y_size "
                "FROM gpkg_tile_matrix WHERE table_name = ?",
                (table.table,),
            )
        }
        for z, values in sorted(matrices.items(), key=lambda item: str(item[0])):
            if not all(type(v) in (int, float) for v in (z, *values)):
                findings.problems.append(f"GeoPackage table {table.table} zoom {z}: tile matrix row holds non-numbers")
                continue
            mw, mh, tw, th, px, py = values
            if abs(mw * tw * px - width) > 1e-3 * width or abs(mh * th * py - height) > 1e-3 * height:
                findings.problems.append(
                    f"GeoPackage table {table.table} zoom {z}: matrix does not tile the set bounds"
                )
        # tiles outside a matrix are named one by one in check_images
        stored_zooms = conn.execute(
            f"SELECT DISTINCT zoom_level FROM {quote(table.table)} WHERE typeof(zoom_level) = 'integer'"
        )
        for (z,) in stored_zooms:
            if z not in matrices:
                findings.problems.append(f"GeoPackage table {table.table} has tiles at zoom {z} but no tile matrix row")
    try:
        from osgeo_utils.samples.validate_gpkg import check  # GDAL's validator, when installed
    except ImportError:
        findings.notes.append("GDAL's validate_gpkg.py is not installed; ran ospack's own GeoPackage checks only")
        return findings
    try:
        found = check(str(path), abort_at_first_error=False)
    except Exception as exc:  # the validator trips over damaged rows (struct.error on a short blob)
        findings.problems.append(
            f"GDAL's validate_gpkg.py stopped ({type(exc).__name__}: {exc}), so the GeoPackage requirements "
            "were not all checked"
        )
        return findings
    for req, message in found:
        if not any(re.search(rf"\b{re.escape(name)}\b", message, re.IGNORECASE) for name in foreign):
            findings.problems.append(f"GeoPackage requirement {req}: {message}")
    return findings
