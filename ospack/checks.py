"""The tile checks :func:`ospack.inspect.verify` runs on an open package, each adding one-line problems
to its report: every stored tile row (digest, address, image) and the stored tiles against the cover.

The format's own rules (tables, metadata, indexes) are checked by its
:meth:`~ospack.writers.files.PackageFile.structural_problems`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .writers import JobInfo, PackageFile, TileTable
from .writers.integrity import cover_diff, row_problem, stored_rows
from .writers.state import absent_keys

if TYPE_CHECKING:
    from .inspect import VerifyReport

#: individual bad tiles / missing tiles named per problem before the rest are summarised
EXAMPLES = 3
MAX_BAD_TILES_LISTED = 10


def check_images(package: PackageFile, table: TileTable, report: VerifyReport) -> None:
    """Every stored row: an address of integers at a job zoom inside the matrix, the bytes its digest
    names, an image that decodes. A damaged row is a problem named by its z/x/y, never a crash."""
    bad = undigested = 0
    checked = report.tiles_checked
    job, state = package.job, package.state
    matrix, zooms = package.matrix(table), frozenset(job.zooms) if job else None
    for row in stored_rows(package.conn, package.tile_source(table.table), table.layer):
        report.tiles_checked += 1
        undigested += row.digest is None
        reason = row_problem(row, tile_size=table.tile_size, matrix=matrix, zooms=zooms)
        if reason:
            bad += 1
            if bad <= MAX_BAD_TILES_LISTED:
                report.problems.append(f"tile {row.name} of {table.layer}: {reason}")
    if bad > MAX_BAD_TILES_LISTED:
        report.problems.append(f"{bad - MAX_BAD_TILES_LISTED} more tiles of {table.layer} are damaged")
    if undigested:
        total = report.tiles_checked - checked
        if state is None:
            why = "the file was not made by ospack"
        elif not state.has_digests:
            why = "the file predates ospack's tile digests"
        else:
            why = "stored before ospack kept digests, or added by another program"
        report.notes.append(
            f"{undigested} of {total} tiles of {table.layer} have no digest ({why}): they were checked by decoding "
            "only, which cannot tell a changed or swapped tile that still decodes"
            + ("; rerun the package command on the file to record their digests" if job is not None else "")
        )


def check_cover(package: PackageFile, table: TileTable, job: JobInfo, report: VerifyReport) -> None:
    """Merge-join the cover, the stored tiles and the recorded-absent tiles, zoom by zoom."""
    try:
        from .area import Area  # the cover stage; imported here so info() never needs it
        from .layers import get_layer
        from .plan import JobCover
    except ImportError as exc:
        report.notes.append(f"stored tiles not compared with the area's cover: {exc}")
        return
    # the very cover the run fetched and checked: the recorded area, and the recorded context around it
    job_cover = JobCover.of(Area.from_geojson(job.area_geojson), get_layer(table.layer), job.context)
    for z in job.zooms:
        cover_keys: Iterator[tuple[int, int]] = ((t.y, t.x) for t in job_cover.tiles(z))
        absent = absent_keys(package.conn, table.layer, z)
        found: dict[str, list[str]] = {"missing": [], "extra": []}
        counts = dict.fromkeys(found, 0)
        for kind, row, col in cover_diff(cover_keys, package.stored_keys(table.table, z), absent):
            if kind in found:
                counts[kind] += 1
                if len(found[kind]) < EXAMPLES:
                    found[kind].append(f"{z}/{col}/{row}")
        if counts["missing"]:
            report.problems.append(
                f"{table.layer} zoom {z}: {counts['missing']} tiles of the area's cover are missing "
                f"(e.g. {', '.join(found['missing'])})"
            )
        if counts["extra"]:
            report.problems.append(
                f"{table.layer} zoom {z}: {counts['extra']} stored tiles lie outside the area's cover "
                f"(e.g. {', '.join(found['extra'])})"
            )
